/* Orbit: Keplerian elements with J2 secular drift, or a precomputed
 * position/velocity table (from SGP4 in Python) with cubic Hermite
 * interpolation. Slowly varying angles (RAAN, argument of perigee) are
 * refreshed every slow period and carried between refreshes by small-angle
 * rotations, so a substep costs one sin/cos pair. */
#include <math.h>
#include <stdlib.h>
#include "plant_internal.h"

/* rotate (c, s) = (cos x, sin x) by a small angle d: cos/sin of x + d from
 * Taylor series to d^9, accurate to 1e-16 for |d| < 0.1 rad */
static inline void rot_small(double c, double s, double d, double *c2, double *s2)
{
    double d2 = d * d;
    double cd = 1.0 - d2 * (1.0 / 2 - d2 * (1.0 / 24 - d2 * (1.0 / 720 - d2 * (1.0 / 40320))));
    double sd = d * (1.0 - d2 * (1.0 / 6 - d2 * (1.0 / 120 - d2 * (1.0 / 5040 - d2 * (1.0 / 362880)))));
    *c2 = c * cd - s * sd;
    *s2 = s * cd + c * sd;
}

void sk_orbit_init(sk_plant *p)
{
    const sk_orbit_cfg *o = &p->cfg.orbit;
    double a = o->a_km, e = o->e;
    double n0 = sqrt(SK_MU_KM3_S2 / (a * a * a));
    p->p_km = a * (1.0 - e * e);
    p->cos_i = cos(o->i_rad);
    p->sin_i = sin(o->i_rad);
    p->sqrt_1me2 = sqrt(1.0 - e * e);
    p->n_rad_s = n0;
    p->raan_dot = 0.0;
    p->argp_dot = 0.0;
    p->v_scale = sqrt(SK_MU_KM3_S2 / p->p_km);
    if (o->j2) {
        double k = 1.5 * SK_J2 * (SK_RE_KM / p->p_km) * (SK_RE_KM / p->p_km);
        double ci = cos(o->i_rad), si2 = sin(o->i_rad) * sin(o->i_rad);
        p->raan_dot = -k * n0 * ci;
        p->argp_dot = k * n0 * (2.0 - 2.5 * si2);
        p->n_rad_s = n0 * (1.0 + k * p->sqrt_1me2 * (1.0 - 1.5 * si2));
    }
}

/* refresh the RAAN basis and argument of perigee at the current time */
void sk_orbit_slow(sk_plant *p)
{
    const sk_orbit_cfg *o = &p->cfg.orbit;
    double t = (double)p->s.t_ns * 1e-9;
    double raan = o->raan_rad + p->raan_dot * t;
    double argp = o->argp_rad + p->argp_dot * t;
    double cO = cos(raan), sO = sin(raan), ci = p->cos_i, si = p->sin_i;
    p->node_P[0] = cO;
    p->node_P[1] = sO;
    p->node_P[2] = 0.0;
    p->node_Q[0] = -sO * ci;
    p->node_Q[1] = cO * ci;
    p->node_Q[2] = si;
    p->cos_argp = cos(argp);
    p->sin_argp = sin(argp);
    double u = argp + o->m0_rad + p->n_rad_s * t;  /* argument of latitude when e = 0 */
    p->cos_u = cos(u);
    p->sin_u = sin(u);
}

static int table_position(sk_plant *p, int64_t t_ns, double r[3], double v[3])
{
    if (!p->table || p->table_n < 2) return SK_ERR_RANGE;
    int64_t rel = t_ns - p->table_t0_ns;
    if (rel < 0) return SK_ERR_RANGE;
    int64_t k = rel / p->table_step_ns;
    if (k >= p->table_n - 1) {
        if (k == p->table_n - 1 && rel == k * p->table_step_ns) k = p->table_n - 2;
        else return SK_ERR_RANGE;
    }
    double h = (double)p->table_step_ns * 1e-9;
    double tau = (double)(rel - k * p->table_step_ns) / (double)p->table_step_ns;
    const double *a = p->table + 6 * k, *b = a + 6;
    double t2 = tau * tau, t3 = t2 * tau;
    double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + tau, h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
    double d00 = (6 * t2 - 6 * tau) / h, d10 = 3 * t2 - 4 * tau + 1, d01 = (-6 * t2 + 6 * tau) / h,
           d11 = 3 * t2 - 2 * tau;
    for (int j = 0; j < 3; j++) {
        r[j] = h00 * a[j] + h10 * h * a[3 + j] + h01 * b[j] + h11 * h * b[3 + j];
        v[j] = d00 * a[j] + d10 * a[3 + j] + d01 * b[j] + d11 * b[3 + j];
    }
    p->r_mag_km = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    return SK_OK;
}

int sk_orbit_position(sk_plant *p, int64_t t_ns, double r[3], double v[3])
{
    const sk_orbit_cfg *o = &p->cfg.orbit;
    if (o->kind == SK_ORBIT_TABLE) return table_position(p, t_ns, r, v);

    double dt_slow = (double)(t_ns - p->slow_t_ns) * 1e-9;
    double e = o->e;
    double rad, cu, su, cw = 0.0, sw = 0.0;
    double du = (p->argp_dot + p->n_rad_s) * dt_slow;
    if (e == 0.0 && du < 0.1 && du > -0.1) {
        /* circular: the argument of latitude is carried from the last refresh */
        rot_small(p->cos_u, p->sin_u, du, &cu, &su);
        rad = o->a_km;
    } else {
        double t = (double)t_ns * 1e-9;
        double M = o->m0_rad + p->n_rad_s * t;
        double cnu, snu;
        if (e == 0.0) {
            cnu = cos(M);
            snu = sin(M);
            rad = o->a_km;
        } else {
            double E = sk_kepler_E(M, e);
            double cE = cos(E), sE = sin(E);
            double den = 1.0 - e * cE;
            cnu = (cE - e) / den;
            snu = p->sqrt_1me2 * sE / den;
            rad = o->a_km * den;
        }
        /* argument of latitude u = argp + nu, argp carried from the last refresh */
        rot_small(p->cos_argp, p->sin_argp, p->argp_dot * dt_slow, &cw, &sw);
        cu = cw * cnu - sw * snu;
        su = sw * cnu + cw * snu;
    }
    /* RAAN basis carried from the last refresh (the drift over a refresh
     * period is below 1e-3 rad: a third-order rotation is exact to 1e-14) */
    double d = p->raan_dot * dt_slow;
    double cd = 1.0 - 0.5 * d * d, sd = d * (1.0 - d * d / 6.0);
    double cO = p->node_P[0] * cd - p->node_P[1] * sd, sO = p->node_P[1] * cd + p->node_P[0] * sd;
    double P[3] = {cO, sO, 0.0};
    double Q[3] = {-sO * p->cos_i, cO * p->cos_i, p->sin_i};
    p->r_mag_km = rad;
    r[0] = rad * (cu * P[0] + su * Q[0]);
    r[1] = rad * (cu * P[1] + su * Q[1]);
    r[2] = rad * (su * Q[2]);
    double vk = p->v_scale;
    double fu = -(su + e * sw), gu = cu + e * cw;
    v[0] = vk * (fu * P[0] + gu * Q[0]);
    v[1] = vk * (fu * P[1] + gu * Q[1]);
    v[2] = vk * (gu * Q[2]);
    return SK_OK;
}

int sk_plant_set_orbit_table(sk_plant *p, int64_t t0_ns, int64_t step_ns, int n, const double *pv)
{
    if (!p || n < 2 || step_ns <= 0 || !pv) return SK_ERR_ARG;
    double *copy = (double *)realloc(p->table, sizeof(double) * 6 * (size_t)n);
    if (!copy) return SK_ERR_ARG;
    p->table = copy;
    for (long i = 0; i < 6L * n; i++) copy[i] = pv[i];
    p->table_n = n;
    p->table_t0_ns = t0_ns;
    p->table_step_ns = step_ns;
    return SK_OK;
}
