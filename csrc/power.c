/* Solar array, battery and the power bus.
 *
 * The bus is battery-regulated (direct energy transfer): the bus voltage is
 * the battery terminal voltage. Each substep the array (at its maximum power
 * point) feeds the loads first; the battery covers a deficit at constant
 * power or takes a surplus within its charge current and voltage limits, and
 * whatever it cannot take is left on the array (MPPT backs off). */
#include <math.h>
#include "plant_internal.h"

/* piecewise-linear table lookup, clamped at the ends, with the segment
 * slopes precomputed; *seg caches the segment of the last call, which a
 * slowly varying input almost always hits */
double sk_interp(int n, const double *x, const double *y, const double *slope, double v, int *seg)
{
    if (v <= x[0]) return y[0];
    if (v >= x[n - 1]) return y[n - 1];
    int lo = *seg;
    if (lo < 0 || lo >= n - 1 || v < x[lo] || v > x[lo + 1]) {
        int hi = n - 1;
        lo = 0;
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (x[mid] <= v) lo = mid;
            else hi = mid;
        }
        *seg = lo;
    }
    return y[lo] + (v - x[lo]) * slope[lo];
}

static void slopes(int n, const double *x, const double *y, double *out)
{
    for (int k = 0; k + 1 < n; k++) out[k] = (y[k + 1] - y[k]) / (x[k + 1] - x[k]);
}

/* terms that scale with the working parallel strings: an open-circuit cell
 * failure removes its string's capacity, conductance and current capability */
static void battery_strings(sk_plant *p)
{
    const sk_battery_cfg *b = &p->cfg.battery;
    double np = p->s.battery_cells_parallel;
    p->s.battery_capacity_ah = b->cell_capacity_ah * np * (1.0 - b->capacity_fade);
    p->inv_capacity_c = 1.0 / (p->s.battery_capacity_ah * 3600.0);
    p->cells_parallel = np;
    p->r0_scale = (double)b->series / np;
    p->i_max_discharge = b->max_discharge_a * np;
    p->i_max_charge = b->max_charge_a * np;
}

void sk_power_init(sk_plant *p)
{
    const sk_battery_cfg *b = &p->cfg.battery;
    p->s.battery_cells_parallel = b->parallel;
    p->s.battery_soc = b->initial_soc;
    slopes(b->n_ocv, b->ocv_soc, b->ocv_cell_v, p->ocv_slope);
    slopes(b->n_r0, b->r0_temp_c, b->r0_cell_ohm, p->r0_slope);
    p->s.battery_ocv_v =
        b->series * sk_interp(b->n_ocv, b->ocv_soc, b->ocv_cell_v, p->ocv_slope, b->initial_soc, &p->ocv_seg);
    p->s.battery_v = p->s.battery_ocv_v;
    p->s.bus_v = p->s.battery_v;
    for (int k = 0; k < p->cfg.n_loads; k++) p->s.load_cmd[k] = p->cfg.loads[k].initially_on ? 1.0 : 0.0;
    battery_strings(p);
    p->v_max = b->series * b->ocv_cell_v[b->n_ocv - 1];
    for (int k = 0; k < p->cfg.n_panels; k++) {
        const sk_panel_cfg *pa = &p->cfg.panels[k];
        p->panel_k[k] = pa->efficiency * pa->area_m2 * pa->packing * pa->mppt_efficiency * (1.0 - pa->degradation);
        p->panel_inv_strings[k] = 1.0 / pa->strings;
    }
}

/* powered loads and their demand at the present switch states */
static double load_demand(sk_plant *p, double *heater_w, double *payload_w)
{
    double total = 0.0;
    *heater_w = 0.0;
    *payload_w = 0.0;
    sk_state *s = &p->s;
    for (int k = 0; k < p->cfg.n_loads; k++) {
        const sk_load_cfg *l = &p->cfg.loads[k];
        int hard = l->gpio_pin < 0;
        int on = hard || (s->load_cmd[k] != 0.0 && s->uv_tripped == 0.0);
        if (s->fault_heater_stuck[k] != 0.0) on = 1;
        double w = 0.0;
        if (on) {
            switch (l->kind) {
            case SK_LOAD_RADIO:   /* the transmitter keys up when it has frames and a station sees it */
                w = l->power_w + (s->radio_tx != 0.0 && s->contact_station >= 0.0 ? l->tx_power_w : 0.0);
                break;
            case SK_LOAD_PAYLOAD: w = sk_payload_demand_w(p); *payload_w += w; break;
            case SK_LOAD_HEATER: w = l->power_w; *heater_w += w; break;
            default: w = l->power_w; break;
            }
        }
        s->load_on[k] = on ? 1.0 : 0.0;
        s->load_power_w[k] = w;
        total += w;
    }
    return total;
}

void sk_power_step(sk_plant *p, double dt, const double sun_b[3], int sunlit)
{
    sk_state *s = &p->s;
    const sk_battery_cfg *b = &p->cfg.battery;
    const sk_config *c = &p->cfg;

    /* array at the maximum power point */
    double avail = 0.0;
    if (sunlit) {
        double flux = p->solar_w_m2 * s->illumination;
        for (int k = 0; k < c->n_panels; k++) {
            const sk_panel_cfg *pa = &c->panels[k];
            double cosang = pa->normal_b[0] * sun_b[0] + pa->normal_b[1] * sun_b[1] + pa->normal_b[2] * sun_b[2];
            double w = 0.0;
            if (cosang > 0.0) {
                double good = 1.0 - s->fault_strings_lost[k] * p->panel_inv_strings[k];
                w = flux * p->panel_k[k] * cosang * good;
            }
            s->panel_power_w[k] = w;
            avail += w;
        }
    } else {
        for (int k = 0; k < c->n_panels; k++) s->panel_power_w[k] = 0.0;
    }
    s->array_available_w = avail;

    if (s->battery_cells_parallel != p->cells_parallel) battery_strings(p);
    double temp_c = b->node >= 0 ? s->node_temp_k[b->node] - 273.15 : 20.0;
    double ocv =
        b->series * sk_interp(b->n_ocv, b->ocv_soc, b->ocv_cell_v, p->ocv_slope, s->battery_soc, &p->ocv_seg);
    double r0 = p->r0_scale * sk_interp(b->n_r0, b->r0_temp_c, b->r0_cell_ohm, p->r0_slope, temp_c, &p->r0_seg);
    double vmax = p->v_max, imax_d = p->i_max_discharge, imax_c = p->i_max_charge;
    s->battery_ocv_v = ocv;
    s->battery_r0_ohm = r0;

    /* the undervoltage protection recloses once the battery has recovered
     * and the hold time is over (a load that still collapses the bus trips
     * it again: the retry "hiccup" of a latching current limiter) */
    if (s->uv_tripped != 0.0 && ocv >= c->bus.undervoltage_reset_v &&
        (double)(s->t_ns - p->uv_trip_ns) * 1e-9 >= c->bus.undervoltage_hold_s)
        s->uv_tripped = 0.0;
    double heater_w, payload_w;
    double load = load_demand(p, &heater_w, &payload_w);
    double net = load - avail;      /* > 0: battery discharges */
    double i = 0.0, v = ocv;
    if (net > 0.0) {
        double disc = ocv * ocv - 4.0 * r0 * net;
        int collapse = disc <= 0.0;
        if (!collapse) {
            i = (ocv - sqrt(disc)) / (2.0 * r0);
            collapse = i > imax_d || ocv - i * r0 < c->bus.undervoltage_v || s->battery_soc <= 0.0;
        }
        if (collapse && s->uv_tripped == 0.0) {
            /* the undervoltage protection opens every switched load */
            s->uv_tripped = 1.0;
            p->uv_trip_ns = s->t_ns;
            load = load_demand(p, &heater_w, &payload_w);
            net = load - avail;
            if (net > 0.0) {
                disc = ocv * ocv - 4.0 * r0 * net;
                i = disc > 0.0 ? (ocv - sqrt(disc)) / (2.0 * r0) : ocv / (2.0 * r0);
            } else {
                i = 0.0;
            }
        } else if (collapse) {
            i = disc > 0.0 ? (ocv - sqrt(disc)) / (2.0 * r0) : ocv / (2.0 * r0);
        }
        if (i > imax_d) i = imax_d;
        if (s->battery_soc <= 0.0) i = 0.0;
        v = ocv - i * r0;
    }
    double used;
    if (net > 0.0) {
        used = avail;
        double supplied = avail + v * i;
        if (supplied < load - 1e-6 * (1.0 + load)) {
            /* brown-out (beyond rounding): the loads get what exists, in proportion */
            double f = load > 0.0 ? supplied / load : 0.0;
            for (int k = 0; k < c->n_loads; k++) s->load_power_w[k] *= f;
            heater_w *= f;
            payload_w *= f;
            load = supplied;
        }
    } else {
        /* surplus: charge at constant power within current and voltage limits */
        double surplus = -net, ic = 0.0;
        if (s->battery_soc < 1.0 && surplus > 0.0) {
            ic = (-ocv + sqrt(ocv * ocv + 4.0 * r0 * surplus)) / (2.0 * r0);
            if (ic > imax_c) ic = imax_c;
            if (ocv + ic * r0 > vmax) ic = vmax > ocv ? (vmax - ocv) / r0 : 0.0;
        }
        i = -ic;
        v = ocv + ic * r0;
        used = load + v * ic;
    }

    /* state of charge, coulombic efficiency on charge */
    double dq = i > 0.0 ? -i * dt : -i * dt * b->coulombic_efficiency;
    double capacity_c = s->battery_capacity_ah * 3600.0;
    double soc = s->battery_soc + dq * p->inv_capacity_c;
    if (soc > 1.0) soc = 1.0;
    if (soc < 0.0) soc = 0.0;
    double dq_real = (soc - s->battery_soc) * capacity_c;
    s->battery_soc = soc;

    double loss = i * i * r0 + (i < 0.0 ? -i * ocv * (1.0 - b->coulombic_efficiency) : 0.0);
    s->battery_i_a = i;
    s->battery_v = v;
    s->bus_v = v;
    s->array_used_w = used;
    s->load_total_w = load;
    s->e_array_available_j += avail * dt;
    s->e_array_used_j += used * dt;
    s->e_load_j += load * dt;
    if (i > 0.0) s->e_batt_out_j += v * i * dt;
    else s->e_batt_in_j += -v * i * dt;
    s->e_batt_loss_j += loss * dt;
    s->e_batt_chem_j += ocv * dq_real;
    s->e_heater_j += heater_w * dt;
    s->e_payload_j += payload_w * dt;
    p->battery_heat_w = loss;

}
