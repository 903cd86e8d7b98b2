/* Lumped-parameter thermal network:
 *   C_i dT_i/dt = Q_ext,i + Q_gen,i + sum_j G_ij (T_j - T_i)
 *               + sum_j sigma R_ij (T_j^4 - T_i^4) - sigma (sum eps A)_i (T_i^4 - T_space^4)
 * External loads per surface: direct sun, albedo and Earth IR with the view
 * factor (R/(R+h))^2 of a nadir-facing plate scaled by the cosine to nadir.
 * Integrated by forward Euler in internal steps no longer than the network's
 * stability bound (computed at configure time for nodes up to 450 K), so any
 * substep length is stable. */
#include <math.h>
#include "plant_internal.h"

#define T_BOUND_K 450.0

static inline double t4(double t)
{
    double t2 = t * t;
    return t2 * t2;
}

int sk_thermal_init(sk_plant *p)
{
    const sk_thermal_cfg *th = &p->cfg.thermal;
    double k_tot[SK_MAX_NODES] = {0};
    for (int i = 0; i < th->n_nodes; i++) {
        p->rad_space_m2[i] = 0.0;
        p->s.node_temp_k[i] = th->initial_k[i];
    }
    /* surfaces regrouped node by node, so a node's external load sums in a register */
    int m = 0;
    for (int i = 0; i < th->n_nodes; i++) {
        for (int k = 0; k < th->n_surfaces; k++) {
            if (th->surf_node[k] != i) continue;
            for (int j = 0; j < 3; j++) p->surf_n[m][j] = th->surf_normal_b[k][j];
            p->surf_aA[m] = th->surf_absorptivity[k] * th->surf_area_m2[k];
            p->surf_eA[m] = th->surf_emissivity[k] * th->surf_area_m2[k];
            p->rad_space_m2[i] += p->surf_eA[m];
            m++;
        }
        p->node_surf_end[i] = m;
    }
    double t3 = 4.0 * SK_SIGMA * T_BOUND_K * T_BOUND_K * T_BOUND_K;
    for (int k = 0; k < th->n_conductors; k++) {
        k_tot[th->cond_a[k]] += th->cond_w_k[k];
        k_tot[th->cond_b[k]] += th->cond_w_k[k];
    }
    for (int k = 0; k < th->n_radlinks; k++) {
        k_tot[th->rad_a[k]] += t3 * th->rad_m2[k];
        k_tot[th->rad_b[k]] += t3 * th->rad_m2[k];
    }
    double dt_max = 1e9;
    for (int i = 0; i < th->n_nodes; i++) {
        k_tot[i] += t3 * p->rad_space_m2[i];
        if (k_tot[i] > 0.0) {
            double b = 0.9 * th->capacitance_j_k[i] / k_tot[i];
            if (b < dt_max) dt_max = b;
        }
    }
    p->thermal_dt_max_s = dt_max;

    /* conduction as a dense Laplacian (symmetric), radiation to space on the
     * diagonal, node-to-node radiation as a list of links */
    for (int i = 0; i < th->n_nodes; i++) {
        for (int j = 0; j < th->n_nodes; j++) p->th_L[i][j] = 0.0;
        p->th_inv_c[i] = 1.0 / th->capacitance_j_k[i];
        p->th_space_k4[i] = SK_SIGMA * p->rad_space_m2[i];
        p->th_q_space[i] = p->th_space_k4[i] * t4(p->cfg.env.t_space_k);
    }
    for (int k = 0; k < th->n_conductors; k++) {
        int a = th->cond_a[k], b = th->cond_b[k];
        double g = th->cond_w_k[k];
        p->th_L[a][a] += g;
        p->th_L[b][b] += g;
        p->th_L[a][b] -= g;
        p->th_L[b][a] -= g;
    }
    for (int k = 0; k < th->n_radlinks; k++) p->th_rad_k4[k] = SK_SIGMA * th->rad_m2[k];
    p->th_last_dt = -1.0;
    for (int j = 0; j < 3; j++) p->th_sun_b[j] = p->th_nadir_b[j] = 2.0;  /* not a unit vector: recompute */
    return SK_OK;
}


void sk_thermal_step(sk_plant *p, double dt, const double sun_b[3], const double nadir_b[3],
                     double albedo_factor, double f_earth)
{
    const sk_thermal_cfg *th = &p->cfg.thermal;
    const sk_config *c = &p->cfg;
    sk_state *s = &p->s;
    int n = th->n_nodes;
    double q[SK_MAX_NODES];
    for (int i = 0; i < n; i++) q[i] = p->th_q_space[i];

    /* environment, held over the substep */
    double direct = p->solar_w_m2 * s->illumination;
    double albedo = p->solar_w_m2 * c->env.albedo * f_earth * albedo_factor;
    double ir = c->env.earth_ir_w_m2 * f_earth;
    /* per-node view coefficients, recomputed only when the Sun or nadir
     * direction moves in the body frame (one of them is fixed in the sun-
     * and nadir-pointing modes) */
    if (sun_b[0] != p->th_sun_b[0] || sun_b[1] != p->th_sun_b[1] || sun_b[2] != p->th_sun_b[2]) {
        for (int i = 0, k = 0; i < n; i++) {
            double d = 0.0;
            for (; k < p->node_surf_end[i]; k++) {
                const double *nb = p->surf_n[k];
                double cs = nb[0] * sun_b[0] + nb[1] * sun_b[1] + nb[2] * sun_b[2];
                if (cs > 0.0) d += p->surf_aA[k] * cs;
            }
            p->th_sun_coef[i] = d;
        }
        for (int j = 0; j < 3; j++) p->th_sun_b[j] = sun_b[j];
    }
    if (nadir_b[0] != p->th_nadir_b[0] || nadir_b[1] != p->th_nadir_b[1] || nadir_b[2] != p->th_nadir_b[2]) {
        for (int i = 0, k = 0; i < n; i++) {
            double a = 0.0, e = 0.0;
            for (; k < p->node_surf_end[i]; k++) {
                const double *nb = p->surf_n[k];
                double ce = nb[0] * nadir_b[0] + nb[1] * nadir_b[1] + nb[2] * nadir_b[2];
                if (ce > 0.0) {
                    a += p->surf_aA[k] * ce;
                    e += p->surf_eA[k] * ce;
                }
            }
            p->th_albedo_coef[i] = a;
            p->th_ir_coef[i] = e;
        }
        for (int j = 0; j < 3; j++) p->th_nadir_b[j] = nadir_b[j];
    }
    for (int i = 0; i < n; i++) q[i] += direct * p->th_sun_coef[i] + albedo * p->th_albedo_coef[i] + ir * p->th_ir_coef[i];
    /* dissipation: loads, battery losses, minus electric power leaving the panels */
    for (int k = 0; k < c->n_loads; k++)
        if (c->loads[k].node >= 0) q[c->loads[k].node] += s->load_power_w[k];
    if (c->battery.node >= 0) q[c->battery.node] += p->battery_heat_w;
    /* the electric power the bus takes leaves the panels; what MPPT leaves on the array
     * (a full or charge-limited battery) stays in it as heat */
    double harvest = s->array_available_w > 0.0 ? s->array_used_w / s->array_available_w : 0.0;
    for (int k = 0; k < c->n_panels; k++)
        if (c->panels[k].node >= 0) q[c->panels[k].node] -= s->panel_power_w[k] * harvest;

    if (dt != p->th_last_dt) {
        double want = ceil(dt / p->thermal_dt_max_s);
        int steps = want < 1e6 ? (int)want : 1000000;
        p->th_steps = steps < 1 ? 1 : steps;
        p->th_last_dt = dt;
        p->th_h = dt / p->th_steps;
    }
    int steps = p->th_steps;
    double h = p->th_h;
    double *T = s->node_temp_k;
    double T4[SK_MAX_NODES], Tn[SK_MAX_NODES];
    for (int it = 0; it < steps; it++) {
        for (int i = 0; i < n; i++) T4[i] = t4(T[i]);
        for (int i = 0; i < n; i++) {
            const double *L = p->th_L[i];
            double f = q[i] - p->th_space_k4[i] * T4[i];
            for (int j = 0; j < n; j++) f -= L[j] * T[j];
            Tn[i] = f;
        }
        for (int k = 0; k < th->n_radlinks; k++) {
            int a = th->rad_a[k], b = th->rad_b[k];
            double f = p->th_rad_k4[k] * (T4[b] - T4[a]);
            Tn[a] += f;
            Tn[b] -= f;
        }
        for (int i = 0; i < n; i++) T[i] += h * Tn[i] * p->th_inv_c[i];
    }
}
