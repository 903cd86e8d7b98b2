/* Compute payload: an accelerator with power modes, a job whose work
 * advances with throughput, and thermal protection like a real part: above
 * the throttle point the clocks (and power) are cut in proportion to the
 * excess, at the shutdown point it turns itself off and stays off until it
 * has cooled to the recovery point and a mode is commanded again. */
#include "plant_internal.h"

static double mode_power(const sk_payload_cfg *pc, int mode)
{
    if (mode <= 0) return 0.0;
    if (mode > pc->n_modes) mode = pc->n_modes;
    return pc->mode_power_w[mode - 1];
}

/* throughput at a given power, interpolated on the mode curve (DVFS) */
static double throughput_at(const sk_payload_cfg *pc, double w)
{
    if (pc->n_modes <= 0 || w <= 0.0) return 0.0;
    if (w <= pc->mode_power_w[0]) return pc->mode_throughput[0] * w / pc->mode_power_w[0];
    for (int k = 1; k < pc->n_modes; k++) {
        if (w <= pc->mode_power_w[k]) {
            double f = (w - pc->mode_power_w[k - 1]) / (pc->mode_power_w[k] - pc->mode_power_w[k - 1]);
            return pc->mode_throughput[k - 1] + f * (pc->mode_throughput[k] - pc->mode_throughput[k - 1]);
        }
    }
    return pc->mode_throughput[pc->n_modes - 1];
}

void sk_payload_set_mode(sk_plant *p, int mode)
{
    const sk_payload_cfg *pc = &p->cfg.payload;
    if (!pc->present || mode < 0 || mode > pc->n_modes) return;
    p->s.payload_mode = mode;
    if (p->payload_latched_off && p->s.payload_die_c <= pc->recover_c) {
        p->payload_latched_off = 0;
        p->s.payload_shutdown = 0.0;
    }
}

/* electrical demand at the present mode, job and thermal state. Throttling
 * acts within microseconds on a real part, so the throttled power is the
 * self-consistent solution of
 *   P = P_cmd (1 - (T_node + R_j P - T_throttle) / (T_shutdown - T_throttle))
 * rather than a lagged feedback (which oscillates when R_j P_cmd exceeds the span) */
static double model_demand_w(sk_plant *p)
{
    const sk_payload_cfg *pc = &p->cfg.payload;
    sk_state *s = &p->s;
    p->payload_cmd_w = 0.0;
    if (!pc->present) return 0.0;
    if (s->fault_payload_stuck_max != 0.0) return pc->mode_power_w[pc->n_modes - 1];
    if (p->payload_latched_off) return 0.0;
    int mode = (int)s->payload_mode;
    if (mode <= 0) return 0.0;
    /* without a running job the part sits at its lowest mode's power */
    double w = s->job_active == 1.0 ? mode_power(pc, mode) : mode_power(pc, 1);
    /* the power cap (as a GPU's power limit): clocks lowered until the draw is at the cap, never below
     * the lowest mode's power */
    double cap = s->payload_power_limit_w > mode_power(pc, 1) ? s->payload_power_limit_w : mode_power(pc, 1);
    if (w > cap) w = cap;
    p->payload_cmd_w = w;
    double node_c = s->node_temp_k[pc->node] - 273.15;
    if (node_c + pc->junction_k_per_w * w <= pc->throttle_c) return w;
    double span = pc->shutdown_c - pc->throttle_c;
    double capped = w * (1.0 - (node_c - pc->throttle_c) / span) / (1.0 + w * pc->junction_k_per_w / span);
    double floor = mode_power(pc, 1);
    if (capped < floor) capped = floor < w ? floor : w;   /* the lowest clocks still draw idle power */
    return capped;
}

/* the demand the plant draws: the model's, or, while an override is set, the
 * power measured on a real payload (the model still runs, for the job's work) */
double sk_payload_demand_w(sk_plant *p)
{
    double w = model_demand_w(p);
    p->payload_model_w = w;
    if (p->payload_override_on && p->cfg.payload.present) return p->payload_override_w;
    return w;
}

int sk_payload_power_override(sk_plant *p, int on, double w)
{
    if (!p) return SK_ERR_ARG;
    if (on && !(w >= 0.0 && w <= 1e6)) return SK_ERR_ARG;   /* also rejects NaN */
    p->payload_override_on = on ? 1 : 0;
    p->payload_override_w = on ? w : 0.0;
    return SK_OK;
}

void sk_payload_step(sk_plant *p, double dt)
{
    const sk_payload_cfg *pc = &p->cfg.payload;
    sk_state *s = &p->s;
    if (!pc->present) return;
    double w = s->load_power_w[pc->load];
    s->payload_power_w = w;
    s->payload_die_c = s->node_temp_k[pc->node] - 273.15 + pc->junction_k_per_w * w;
    /* with the power overridden, the job's work and the throttle follow the model's power: the heat and
     * the bus load are the measured ones */
    if (p->payload_override_on) w = s->load_on[pc->load] != 0.0 ? p->payload_model_w : 0.0;
    int stuck = s->fault_payload_stuck_max != 0.0;
    /* throttled: drawing measurably less than the mode asks (not a rounding difference) */
    s->payload_throttle = !stuck && p->payload_cmd_w > 0.0 && w < p->payload_cmd_w * (1.0 - 1e-9)
                              ? w / p->payload_cmd_w : 1.0;
    if (!stuck && s->payload_die_c >= pc->shutdown_c) {
        p->payload_latched_off = 1;
        s->payload_shutdown = 1.0;
    }

    double thr = 0.0;
    if (s->job_active == 1.0 && w > 0.0 && s->load_on[pc->load] != 0.0) thr = throughput_at(pc, w);
    s->payload_throughput = thr;
    if (thr > 0.0) {
        double work = thr * dt;
        if (s->job_done_s + work >= s->job_work_s) {
            work = s->job_work_s - s->job_done_s;
            s->job_done_s = s->job_work_s;
            s->job_active = 0.0;
        } else {
            s->job_done_s += work;
        }
        s->work_total_s += work;
    }
}
