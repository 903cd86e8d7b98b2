/* The plant: configuration checks, the substep loop and logging. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "plant_internal.h"

sk_plant *sk_plant_new(void)
{
    sk_plant *p = (sk_plant *)calloc(1, sizeof(sk_plant));
    return p;
}

void sk_plant_free(sk_plant *p)
{
    if (!p) return;
    free(p->table);
    free(p);
}

sk_state *sk_plant_state(sk_plant *p) { return &p->s; }
const sk_config *sk_plant_config(const sk_plant *p) { return &p->cfg; }

static int in_range(int v, int lo, int hi) { return v >= lo && v < hi; }

static int check_config(const sk_config *c)
{
    if (!(c->env.solar_flux_w_m2 > 0) || c->env.albedo < 0 || c->env.albedo > 1 || c->env.earth_ir_w_m2 < 0 ||
        c->env.t_space_k < 0)
        return SK_ERR_CONFIG;
    if (c->orbit.kind == SK_ORBIT_KEPLER) {
        if (!(c->orbit.a_km > SK_RE_KM) || !(c->orbit.e >= 0 && c->orbit.e < 1)) return SK_ERR_CONFIG;
        if (c->orbit.a_km * (1 - c->orbit.e) <= SK_RE_KM) return SK_ERR_CONFIG;
    } else if (c->orbit.kind != SK_ORBIT_TABLE) {
        return SK_ERR_CONFIG;
    }
    if (!in_range(c->attitude.mode, 0, 3)) return SK_ERR_CONFIG;
    if (!in_range(c->n_stations, 0, SK_MAX_STATIONS + 1) || !in_range(c->n_panels, 0, SK_MAX_PANELS + 1) ||
        !in_range(c->n_loads, 0, SK_MAX_LOADS + 1) || !in_range(c->n_devices, 0, SK_MAX_DEVICES + 1))
        return SK_ERR_CONFIG;
    const sk_thermal_cfg *th = &c->thermal;
    if (!in_range(th->n_nodes, 1, SK_MAX_NODES + 1) || !in_range(th->n_conductors, 0, SK_MAX_CONDUCTORS + 1) ||
        !in_range(th->n_radlinks, 0, SK_MAX_RADLINKS + 1) || !in_range(th->n_surfaces, 0, SK_MAX_SURFACES + 1))
        return SK_ERR_CONFIG;
    int n = th->n_nodes;
    for (int i = 0; i < n; i++)
        if (!(th->capacitance_j_k[i] > 0) || !(th->initial_k[i] > 0)) return SK_ERR_CONFIG;
    for (int k = 0; k < th->n_conductors; k++)
        if (!in_range(th->cond_a[k], 0, n) || !in_range(th->cond_b[k], 0, n) || th->cond_w_k[k] < 0)
            return SK_ERR_CONFIG;
    for (int k = 0; k < th->n_radlinks; k++)
        if (!in_range(th->rad_a[k], 0, n) || !in_range(th->rad_b[k], 0, n) || th->rad_m2[k] < 0)
            return SK_ERR_CONFIG;
    for (int k = 0; k < th->n_surfaces; k++)
        if (!in_range(th->surf_node[k], 0, n) || th->surf_area_m2[k] < 0) return SK_ERR_CONFIG;
    for (int k = 0; k < c->n_panels; k++) {
        const sk_panel_cfg *pa = &c->panels[k];
        if (pa->strings < 1 || pa->area_m2 < 0 || !in_range(pa->node, -1, n)) return SK_ERR_CONFIG;
    }
    const sk_battery_cfg *b = &c->battery;
    if (b->series < 1 || b->parallel < 1 || !(b->cell_capacity_ah > 0) || !in_range(b->n_ocv, 2, SK_MAX_TABLE + 1) ||
        !in_range(b->n_r0, 1, SK_MAX_TABLE + 1) || !in_range(b->node, -1, n) || b->capacity_fade < 0 ||
        b->capacity_fade >= 1 || b->initial_soc < 0 || b->initial_soc > 1 || !(b->coulombic_efficiency > 0) ||
        b->coulombic_efficiency > 1)
        return SK_ERR_CONFIG;
    for (int k = 1; k < b->n_ocv; k++)
        if (!(b->ocv_soc[k] > b->ocv_soc[k - 1])) return SK_ERR_CONFIG;
    for (int k = 0; k < b->n_r0; k++)
        if (!(b->r0_cell_ohm[k] > 0) || (k > 0 && !(b->r0_temp_c[k] > b->r0_temp_c[k - 1]))) return SK_ERR_CONFIG;
    for (int k = 0; k < c->n_loads; k++) {
        const sk_load_cfg *l = &c->loads[k];
        if (!in_range(l->kind, 0, 4) || !in_range(l->node, -1, n) || l->power_w < 0) return SK_ERR_CONFIG;
    }
    const sk_payload_cfg *pc = &c->payload;
    if (pc->present) {
        if (!in_range(pc->load, 0, c->n_loads) || c->loads[pc->load].kind != SK_LOAD_PAYLOAD ||
            !in_range(pc->node, 0, n) || !in_range(pc->n_modes, 1, SK_MAX_MODES + 1) ||
            !(pc->shutdown_c > pc->throttle_c))
            return SK_ERR_CONFIG;
        for (int k = 0; k < pc->n_modes; k++)
            if (!(pc->mode_power_w[k] > 0) || (k > 0 && !(pc->mode_power_w[k] > pc->mode_power_w[k - 1])))
                return SK_ERR_CONFIG;
    }
    for (int k = 0; k < c->n_devices; k++) {
        const sk_device_cfg *d = &c->devices[k];
        if (!in_range(d->kind, 1, 6) || !in_range(d->bus, 0, SK_MAX_BUSES) || !in_range(d->addr, 0, 128))
            return SK_ERR_CONFIG;
        for (int j = 0; j < k; j++)
            if (c->devices[j].bus == d->bus && c->devices[j].addr == d->addr) return SK_ERR_CONFIG;
    }
    /* the small-angle carries in orbit.c and environment() assume refreshes at most 300 s apart */
    if (c->slow_period_ns <= 0 || c->slow_period_ns > 300000000000LL) return SK_ERR_CONFIG;
    return SK_OK;
}

/* Earth-fixed position and geodetic up vector of each station (WGS84) */
static void stations_init(sk_plant *p)
{
    const double e2 = SK_WGS84_F * (2.0 - SK_WGS84_F);
    for (int k = 0; k < p->cfg.n_stations; k++) {
        const sk_station_cfg *st = &p->cfg.stations[k];
        double sl = sin(st->lat_rad), cl = cos(st->lat_rad);
        double N = SK_RE_KM / sqrt(1.0 - e2 * sl * sl);
        p->station_ecef_km[k][0] = (N + st->alt_km) * cl * cos(st->lon_rad);
        p->station_ecef_km[k][1] = (N + st->alt_km) * cl * sin(st->lon_rad);
        p->station_ecef_km[k][2] = (N * (1.0 - e2) + st->alt_km) * sl;
        p->station_up_ecef[k][0] = cl * cos(st->lon_rad);
        p->station_up_ecef[k][1] = cl * sin(st->lon_rad);
        p->station_up_ecef[k][2] = sl;
        p->sin_min_el[k] = sin(st->min_elevation_rad);
    }
}

static double jd_at(const sk_plant *p, int64_t t_ns)
{
    return p->cfg.orbit.epoch_jd_utc + (double)t_ns * 1e-9 / 86400.0;
}

static void slow_refresh(sk_plant *p)
{
    double jd = jd_at(p, p->s.t_ns);
    sk_sun_eci(jd, p->s.sun_eci, &p->s.sun_dist_km);
    p->solar_w_m2 = p->cfg.env.solar_flux_w_m2 * (SK_AU_KM / p->s.sun_dist_km) * (SK_AU_KM / p->s.sun_dist_km);
    p->pen_slope = (SK_RSUN_KM + SK_RE_KM) / p->s.sun_dist_km;
    p->umb_slope = (SK_RSUN_KM - SK_RE_KM) / p->s.sun_dist_km;
    double g = sk_gmst_rad(jd);
    p->gmst_cos = cos(g);
    p->gmst_sin = sin(g);
    if (p->cfg.orbit.kind == SK_ORBIT_KEPLER) {
        sk_orbit_slow(p);
        /* beta: Sun elevation above the orbit plane */
        double h[3] = {p->node_P[1] * p->node_Q[2] - p->node_P[2] * p->node_Q[1],
                       p->node_P[2] * p->node_Q[0] - p->node_P[0] * p->node_Q[2],
                       p->node_P[0] * p->node_Q[1] - p->node_P[1] * p->node_Q[0]};
        p->s.beta_rad = asin(h[0] * p->s.sun_eci[0] + h[1] * p->s.sun_eci[1] + h[2] * p->s.sun_eci[2]);
    }
    p->slow_t_ns = p->s.t_ns;
    p->slow_next_ns = p->s.t_ns + p->cfg.slow_period_ns;
}

static inline double dot3(const double a[3], const double b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

/* Sun and nadir directions in the body frame for the attitude mode */
static void attitude(const sk_plant *p, const double nadir[3], double sun_b[3], double nadir_b[3])
{
    const double *s = p->s.sun_eci;
    switch (p->cfg.attitude.mode) {
    case SK_ATT_SUN: {
        /* +Z at the Sun, +X towards nadir as far as the Sun allows */
        double c = dot3(nadir, s);
        double x = 1.0 - c * c;
        sun_b[0] = 0.0; sun_b[1] = 0.0; sun_b[2] = 1.0;
        nadir_b[0] = x > 0.0 ? sqrt(x) : 0.0; nadir_b[1] = 0.0; nadir_b[2] = c;
        break;
    }
    case SK_ATT_NADIR: {
        /* +Z nadir, +X along the velocity (orbit-normal on -Y) */
        const double *v = p->s.v_eci_km_s;
        double vr = dot3(v, nadir);
        double x[3] = {v[0] - vr * nadir[0], v[1] - vr * nadir[1], v[2] - vr * nadir[2]};
        double xn = sqrt(dot3(x, x));
        if (xn > 0) { x[0] /= xn; x[1] /= xn; x[2] /= xn; }
        double y[3] = {nadir[1] * x[2] - nadir[2] * x[1], nadir[2] * x[0] - nadir[0] * x[2],
                       nadir[0] * x[1] - nadir[1] * x[0]};
        sun_b[0] = dot3(s, x); sun_b[1] = dot3(s, y); sun_b[2] = dot3(s, nadir);
        nadir_b[0] = 0.0; nadir_b[1] = 0.0; nadir_b[2] = 1.0;
        break;
    }
    default: {
        /* fixed inertial attitude: rotate ECI vectors into the body frame */
        const double *q = p->cfg.attitude.q_body_to_eci;
        double w = q[0], qx = q[1], qy = q[2], qz = q[3];
        double R[3][3] = {{1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * w), 2 * (qx * qz + qy * w)},
                          {2 * (qx * qy + qz * w), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * w)},
                          {2 * (qx * qz - qy * w), 2 * (qy * qz + qx * w), 1 - 2 * (qx * qx + qy * qy)}};
        for (int j = 0; j < 3; j++) {
            sun_b[j] = R[0][j] * s[0] + R[1][j] * s[1] + R[2][j] * s[2];
            nadir_b[j] = R[0][j] * nadir[0] + R[1][j] * nadir[1] + R[2][j] * nadir[2];
        }
        break;
    }
    }
}

/* environment at the current time: orbit, shadow, stations */
static int environment(sk_plant *p)
{
    sk_state *s = &p->s;
    if (s->t_ns >= p->slow_next_ns) slow_refresh(p);
    int rc = sk_orbit_position(p, s->t_ns, s->r_eci_km, s->v_eci_km_s);
    if (rc != SK_OK) return rc;
    s->illumination = sk_illumination_cones(s->r_eci_km, s->sun_eci, s->sun_dist_km, p->pen_slope, p->umb_slope);

    /* satellite in the Earth-fixed frame: rotate by -GMST, carried from the refresh */
    double d = SK_OMEGA_EARTH * (double)(s->t_ns - p->slow_t_ns) * 1e-9;
    double d2 = d * d;
    double cd = 1.0 - d2 * (0.5 - d2 / 24.0), sd = d * (1.0 - d2 * (1.0 / 6.0 - d2 / 120.0));
    double cg = p->gmst_cos * cd - p->gmst_sin * sd, sg = p->gmst_sin * cd + p->gmst_cos * sd;
    double re[3] = {cg * s->r_eci_km[0] + sg * s->r_eci_km[1], -sg * s->r_eci_km[0] + cg * s->r_eci_km[1],
                    s->r_eci_km[2]};
    int best = -1;
    double best_el = -10.0;
    int ns = p->cfg.n_stations;
    for (int k = 0; k < ns; k++) {
        double rho[3] = {re[0] - p->station_ecef_km[k][0], re[1] - p->station_ecef_km[k][1],
                         re[2] - p->station_ecef_km[k][2]};
        double range = sqrt(dot3(rho, rho));
        double up = dot3(rho, p->station_up_ecef[k]);  /* height above the station's horizon plane */
        s->station_range_km[k] = range;
        s->station_up_km[k] = up;
        int vis = up >= p->sin_min_el[k] * range;  /* sin(elevation) = up / range */
        s->station_visible[k] = vis ? 1.0 : 0.0;
        if (vis) {
            double sin_el = up / range;
            if (sin_el > best_el) {
                best_el = sin_el;
                best = k;
            }
        }
    }
    s->contact_station = best;
    s->downlink_bps = best >= 0 ? p->cfg.stations[best].downlink_bps : 0.0;
    s->uplink_bps = best >= 0 ? p->cfg.stations[best].uplink_bps : 0.0;
    return SK_OK;
}

static void substep(sk_plant *p, double dt);

int sk_plant_configure(sk_plant *p, const sk_config *cfg)
{
    if (!p || !cfg) return SK_ERR_ARG;
    int rc = check_config(cfg);
    if (rc != SK_OK) return rc;
    double *table = p->table;
    int table_n = p->table_n;
    int64_t t0 = p->table_t0_ns, step = p->table_step_ns;
    memset(p, 0, sizeof(*p));
    p->table = table;
    p->table_n = table_n;
    p->table_t0_ns = t0;
    p->table_step_ns = step;
    p->cfg = *cfg;
    sk_rng_seed(p, cfg->seed);
    p->s.contact_station = -1.0;
    p->s.payload_throttle = 1.0;
    p->s.payload_power_limit_w = SK_PL_NO_LIMIT_W;
    sk_orbit_init(p);
    sk_power_init(p);
    sk_thermal_init(p);
    stations_init(p);
    sk_devices_reset(p);
    p->configured = 1;
    slow_refresh(p);
    if (cfg->orbit.kind == SK_ORBIT_KEPLER) {
        rc = environment(p);
        if (rc != SK_OK) return rc;
        substep(p, 0.0); /* derived outputs (loads, array, die temperature) at t = 0 */
    }
    return SK_OK;
}

void sk_load_command(sk_plant *p, int load, int on)
{
    if (load < 0 || load >= p->cfg.n_loads) return;
    p->s.load_cmd[load] = on ? 1.0 : 0.0;
}

static int log_row(sk_log *log, const sk_state *s)
{
    if (log->rows >= log->capacity_rows) return SK_ERR_LOG_FULL;
    const double *v = (const double *)s;
    double *row = log->buf + log->rows * (1 + log->n_vars);
    row[0] = (double)s->t_ns / 1e9;
    for (int k = 0; k < log->n_vars; k++) row[1 + k] = v[log->var_index[k]];
    log->rows++;
    return SK_OK;
}

static void substep(sk_plant *p, double dt)
{
    sk_state *s = &p->s;
    double inv_r = 1.0 / p->r_mag_km;
    double nadir[3] = {-s->r_eci_km[0] * inv_r, -s->r_eci_km[1] * inv_r, -s->r_eci_km[2] * inv_r};
    double sun_b[3], nadir_b[3];
    attitude(p, nadir, sun_b, nadir_b);
    double albedo_factor = -dot3(nadir, s->sun_eci);
    if (albedo_factor < 0.0) albedo_factor = 0.0;

    sk_power_step(p, dt, sun_b, s->illumination > 0.0);
    sk_payload_step(p, dt);
    sk_thermal_step(p, dt, sun_b, nadir_b, albedo_factor, SK_RE_KM * SK_RE_KM * inv_r * inv_r);
    if (s->contact_station >= 0.0) {
        s->downlink_bits += s->downlink_bps * dt;
        s->uplink_bits += s->uplink_bps * dt;
        s->contact_s += dt;
    }
}

int sk_plant_advance(sk_plant *p, int64_t dt_ns, int64_t substep_ns, sk_log *log)
{
    if (!p || !p->configured) return SK_ERR_ARG;
    if (dt_ns < 0 || substep_ns <= 0) return SK_ERR_ARG;
    if (log && (log->n_vars < 0 || log->n_vars > SK_MAX_LOG_VARS || log->interval_ns <= 0 || !log->buf))
        return SK_ERR_ARG;
    if (log) {
        int nslots = (int)(sizeof(sk_state) / sizeof(double));
        for (int k = 0; k < log->n_vars; k++)
            if (log->var_index[k] < 1 || log->var_index[k] >= nslots) return SK_ERR_ARG;
    }
    sk_state *s = &p->s;
    int64_t t_end = s->t_ns + dt_ns;
    int rc = SK_OK;
    if (p->cfg.orbit.kind == SK_ORBIT_TABLE) {
        /* table orbits are checked before anything moves */
        double r[3], v[3];
        if (sk_orbit_position(p, s->t_ns, r, v) != SK_OK || sk_orbit_position(p, t_end, r, v) != SK_OK)
            return SK_ERR_RANGE;
        rc = environment(p);
        if (rc != SK_OK) return rc;
    }
    while (s->t_ns < t_end) {
        int64_t h = t_end - s->t_ns;
        if (h > substep_ns) h = substep_ns;
        substep(p, (double)h * 1e-9);
        s->t_ns += h;
        rc = environment(p);
        if (rc != SK_OK) return rc;
        if (log && s->t_ns >= log->next_ns) {
            rc = log_row(log, s);
            if (rc != SK_OK) return rc;
            while (log->next_ns <= s->t_ns) log->next_ns += log->interval_ns;
        }
    }
    return SK_OK;
}
