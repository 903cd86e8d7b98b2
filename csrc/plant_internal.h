/* Internal layout of the plant, shared by the C sources (not seen by cffi). */
#ifndef SKYRACK_PLANT_INTERNAL_H
#define SKYRACK_PLANT_INTERNAL_H
#include "skyrack.h"

#define SK_PI 3.14159265358979323846
#define SK_TWO_PI 6.28318530717958647692
#define SK_MU_KM3_S2 398600.4418
#define SK_RE_KM 6378.137
#define SK_J2 1.08263e-3
#define SK_RSUN_KM 695700.0
#define SK_AU_KM 149597870.7
#define SK_SIGMA 5.670374e-8
#define SK_OMEGA_EARTH 7.292115146706979e-5 /* rad/s */
#define SK_WGS84_F (1.0 / 298.257223563)

/* One emulated chip. Registers are kept as 16-bit words indexed by pointer
 * value; 8-bit chips use the low byte. */
typedef struct {
    sk_device_cfg cfg;
    uint8_t pointer;
    uint16_t regs[256];
    int64_t next_conv_ns;       /* next conversion completes at this time */
    int64_t conv_period_ns;
    /* faults */
    int nack;
    int stuck;
    int stuck_reg;
    uint16_t stuck_raw;
    double offset;
    double extra_noise;
    int flip_reg;
    uint16_t flip_mask;
} sk_device;

struct sk_plant {
    sk_config cfg;
    sk_state s;
    int configured;
    sk_device dev[SK_MAX_DEVICES];
    uint64_t rng[4];            /* xoshiro256** state */

    /* orbit, derived at configure time */
    double n_rad_s;             /* mean motion including J2 secular term */
    double raan_dot, argp_dot;  /* rad/s */
    double p_km;                /* semi-latus rectum */
    double sqrt_1me2;
    double cos_i, sin_i;
    double r_mag_km;            /* |r| of the last orbit evaluation */

    /* orbit table */
    double *table;
    int table_n;
    int64_t table_t0_ns, table_step_ns;

    /* slowly varying terms, refreshed every cfg.slow_period_ns */
    int64_t slow_next_ns;
    int64_t slow_t_ns;          /* time of the last refresh */
    double node_P[3], node_Q[3];    /* RAAN basis: line of nodes and in-plane normal */
    double cos_argp, sin_argp;
    double cos_u, sin_u;            /* argp + mean anomaly at the last refresh (circular orbits) */
    double v_scale;                 /* sqrt(mu / p) */
    double gmst_cos, gmst_sin;      /* Earth rotation angle at the last refresh */
    double solar_w_m2;              /* solar flux at the Sun's present distance */
    double pen_slope, umb_slope;    /* shadow cone slopes at that distance */
    double station_ecef_km[SK_MAX_STATIONS][3];
    double station_up_ecef[SK_MAX_STATIONS][3];
    double sin_min_el[SK_MAX_STATIONS];

    /* battery derived */
    double battery_heat_w;      /* losses of the last substep */
    int ocv_seg, r0_seg;        /* table segments of the last lookup */
    double ocv_slope[SK_MAX_TABLE], r0_slope[SK_MAX_TABLE];
    double r0_scale;            /* series / parallel */
    double inv_capacity_c;      /* 1 / pack capacity in coulombs */
    double v_max;               /* charge voltage limit (top of the OCV table) */
    double i_max_discharge, i_max_charge;  /* pack current limits */

    /* thermal derived */
    double thermal_dt_max_s;    /* explicit stability bound */
    double rad_space_m2[SK_MAX_NODES];  /* sum of emissivity x area over node surfaces */
    double th_L[SK_MAX_NODES][SK_MAX_NODES];  /* conductive Laplacian, W/K */
    double th_space_k4[SK_MAX_NODES];         /* sigma x sum(eps A), W/K^4 */
    double th_rad_k4[SK_MAX_RADLINKS];        /* sigma x R_ij, W/K^4 */
    double th_inv_c[SK_MAX_NODES];
    double th_q_space[SK_MAX_NODES];    /* what space radiates back, W */
    double th_last_dt;                  /* substep of the cached internal step count */
    int th_steps;
    double th_h;                        /* internal step for th_last_dt */
    double surf_n[SK_MAX_SURFACES][3];  /* surfaces grouped by node */
    double surf_aA[SK_MAX_SURFACES], surf_eA[SK_MAX_SURFACES];  /* absorptivity, emissivity x area */
    int node_surf_end[SK_MAX_NODES];
    double th_sun_b[3], th_nadir_b[3];  /* directions the coefficients below were made for */
    double th_sun_coef[SK_MAX_NODES];   /* sum of absorptivity x area x cos to the Sun */
    double th_albedo_coef[SK_MAX_NODES], th_ir_coef[SK_MAX_NODES];  /* ... and to nadir */
    double panel_k[SK_MAX_PANELS];  /* eta x A x packing x MPPT x (1 - degradation) */
    double panel_inv_strings[SK_MAX_PANELS];

    /* payload internal */
    int payload_latched_off;
    double payload_cmd_w;       /* power the commanded mode asks for, before throttling */
    double payload_model_w;     /* the model's demand at the last substep (with or without an override) */
    int payload_override_on;    /* sk_payload_power_override: the demand is payload_override_w */
    double payload_override_w;
    int64_t uv_trip_ns;         /* when the undervoltage protection last tripped */
    double cells_parallel;      /* the parallel count the derived battery terms were made for */
};

/* astro.c */
double sk_illumination_cones(const double r[3], const double s[3], double sun_dist_km, double pen_slope,
                             double umb_slope);

/* rng.c */
void sk_rng_seed(sk_plant *p, uint64_t seed);
uint64_t sk_rng_next(sk_plant *p);
double sk_rng_normal(sk_plant *p);

/* orbit.c */
void sk_orbit_init(sk_plant *p);
void sk_orbit_slow(sk_plant *p);
int sk_orbit_position(sk_plant *p, int64_t t_ns, double r[3], double v[3]);

/* power.c */
void sk_power_init(sk_plant *p);
double sk_interp(int n, const double *x, const double *y, const double *slope, double v, int *seg);
void sk_power_step(sk_plant *p, double dt_s, const double sun_b[3], int sunlit);

/* thermal.c */
int sk_thermal_init(sk_plant *p);
void sk_thermal_step(sk_plant *p, double dt_s, const double sun_b[3], const double nadir_b[3],
                     double albedo_factor, double f_earth);

/* payload.c */
void sk_payload_step(sk_plant *p, double dt_s);
void sk_payload_set_mode(sk_plant *p, int mode);
double sk_payload_demand_w(sk_plant *p);

/* loads: set a commanded switch (from the GPIO expander) */
void sk_load_command(sk_plant *p, int load, int on);

/* bus.c (the chips in dev_*.c are reached through bus.c, see dev_common.h) */
void sk_devices_reset(sk_plant *p);

#endif
