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

int sk_thermal_init(sk_plant *p)
{
    const sk_thermal_cfg *th = &p->cfg.thermal;
    double k_tot[SK_MAX_NODES] = {0};
    for (int i = 0; i < th->n_nodes; i++) {
        p->rad_space_m2[i] = 0.0;
        p->s.node_temp_k[i] = th->initial_k[i];
    }
    for (int k = 0; k < th->n_surfaces; k++) {
        p->surf_aA[k] = th->surf_absorptivity[k] * th->surf_area_m2[k];
        p->surf_eA[k] = th->surf_emissivity[k] * th->surf_area_m2[k];
        p->rad_space_m2[th->surf_node[k]] += p->surf_eA[k];
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

    /* dense operators: flow_i = q_i + space_i - sum_j (L_ij T_j + M_ij T_j^4) */
    for (int i = 0; i < th->n_nodes; i++) {
        for (int j = 0; j < th->n_nodes; j++) {
            p->th_L[i][j] = 0.0;
            p->th_M[i][j] = 0.0;
        }
        p->th_M[i][i] = SK_SIGMA * p->rad_space_m2[i];
        p->th_inv_c[i] = 1.0 / th->capacitance_j_k[i];
    }
    for (int k = 0; k < th->n_conductors; k++) {
        int a = th->cond_a[k], b = th->cond_b[k];
        double g = th->cond_w_k[k];
        p->th_L[a][a] += g;
        p->th_L[b][b] += g;
        p->th_L[a][b] -= g;
        p->th_L[b][a] -= g;
    }
    for (int k = 0; k < th->n_radlinks; k++) {
        int a = th->rad_a[k], b = th->rad_b[k];
        double r = SK_SIGMA * th->rad_m2[k];
        p->th_M[a][a] += r;
        p->th_M[b][b] += r;
        p->th_M[a][b] -= r;
        p->th_M[b][a] -= r;
    }
    return SK_OK;
}

static inline double t4(double t)
{
    double t2 = t * t;
    return t2 * t2;
}

void sk_thermal_step(sk_plant *p, double dt, const double sun_b[3], const double nadir_b[3],
                     double albedo_factor)
{
    const sk_thermal_cfg *th = &p->cfg.thermal;
    const sk_config *c = &p->cfg;
    sk_state *s = &p->s;
    int n = th->n_nodes;
    double q[SK_MAX_NODES];
    for (int i = 0; i < n; i++) q[i] = 0.0;

    /* environment, held over the substep */
    double rmag2 = s->r_eci_km[0] * s->r_eci_km[0] + s->r_eci_km[1] * s->r_eci_km[1] +
                   s->r_eci_km[2] * s->r_eci_km[2];
    double f_earth = SK_RE_KM * SK_RE_KM / rmag2;
    double solar = c->env.solar_flux_w_m2 * (SK_AU_KM / s->sun_dist_km) * (SK_AU_KM / s->sun_dist_km);
    double direct = solar * s->illumination;
    double albedo = solar * c->env.albedo * f_earth * albedo_factor;
    double ir = c->env.earth_ir_w_m2 * f_earth;
    for (int k = 0; k < th->n_surfaces; k++) {
        const double *nb = th->surf_normal_b[k];
        double cs = nb[0] * sun_b[0] + nb[1] * sun_b[1] + nb[2] * sun_b[2];
        double ce = nb[0] * nadir_b[0] + nb[1] * nadir_b[1] + nb[2] * nadir_b[2];
        cs = cs > 0.0 ? cs : 0.0;
        ce = ce > 0.0 ? ce : 0.0;
        q[th->surf_node[k]] += p->surf_aA[k] * (direct * cs + albedo * ce) + p->surf_eA[k] * ir * ce;
    }
    /* dissipation: loads, battery losses, minus electric power leaving the panels */
    for (int k = 0; k < c->n_loads; k++)
        if (c->loads[k].node >= 0) q[c->loads[k].node] += s->load_power_w[k];
    if (c->battery.node >= 0) q[c->battery.node] += p->battery_heat_w;
    for (int k = 0; k < c->n_panels; k++)
        if (c->panels[k].node >= 0) q[c->panels[k].node] -= s->panel_power_w[k];

    int steps = (int)ceil(dt / p->thermal_dt_max_s);
    if (steps < 1) steps = 1;
    double h = dt / steps;
    double tsp4 = t4(c->env.t_space_k);
    for (int i = 0; i < n; i++) q[i] += SK_SIGMA * p->rad_space_m2[i] * tsp4;
    double *T = s->node_temp_k;
    double T4[SK_MAX_NODES], Tn[SK_MAX_NODES];
    for (int it = 0; it < steps; it++) {
        /* the operators are symmetric: row j is column j, so the sums run
         * over independent accumulators */
        for (int i = 0; i < n; i++) {
            T4[i] = t4(T[i]);
            Tn[i] = q[i];
        }
        for (int j = 0; j < n; j++) {
            const double *L = p->th_L[j], *M = p->th_M[j];
            double tj = T[j], t4j = T4[j];
            for (int i = 0; i < n; i++) Tn[i] -= L[i] * tj + M[i] * t4j;
        }
        for (int i = 0; i < n; i++) T[i] += h * Tn[i] * p->th_inv_c[i];
    }
}
