/* Skyrack plant and I2C bus: the one public C header.
 *
 * The build script feeds this file to cffi's cdef after dropping preprocessor
 * lines other than integer #defines, so keep it plain C declarations only.
 * Units and frames are in the names. Time is int64 nanoseconds since the
 * scenario epoch. Every exported symbol carries the sk_ prefix.
 */
#ifndef SKYRACK_H
#define SKYRACK_H
#include <stdint.h>

#define SK_MAX_PANELS 16
#define SK_MAX_NODES 16
#define SK_MAX_CONDUCTORS 64
#define SK_MAX_RADLINKS 32
#define SK_MAX_SURFACES 32
#define SK_MAX_STATIONS 16
#define SK_MAX_LOADS 16
#define SK_MAX_MODES 8
#define SK_MAX_TABLE 32
#define SK_MAX_DEVICES 32
#define SK_MAX_BUSES 4
#define SK_MAX_LOG_VARS 64

/* return codes */
#define SK_OK 0
#define SK_ERR_NACK -1
#define SK_ERR_READ_LEN -2
#define SK_ERR_ARG -3
#define SK_ERR_CONFIG -4
#define SK_ERR_RANGE -5
#define SK_ERR_LOG_FULL -6

/* orbit kinds */
#define SK_ORBIT_KEPLER 0
#define SK_ORBIT_TABLE 1

/* attitude modes */
#define SK_ATT_SUN 0
#define SK_ATT_NADIR 1
#define SK_ATT_INERTIAL 2

/* load kinds */
#define SK_LOAD_FIXED 0
#define SK_LOAD_RADIO 1
#define SK_LOAD_HEATER 2
#define SK_LOAD_PAYLOAD 3

/* device kinds */
#define SK_DEV_NONE 0
#define SK_DEV_INA226 1
#define SK_DEV_TMP117 2
#define SK_DEV_MAX17048 3
#define SK_DEV_TCA9534 4
#define SK_DEV_PAYLOAD 5

/* what an INA226 measures */
#define SK_SRC_LOAD 0
#define SK_SRC_ARRAY 1
#define SK_SRC_BATTERY 2

/* payload controller status bits (register 0x02) */
#define SK_PL_ST_RUNNING 1
#define SK_PL_ST_DONE 2
#define SK_PL_ST_THROTTLED 4
#define SK_PL_ST_SHUTDOWN 8
#define SK_PL_ST_UNPOWERED 16
#define SK_PL_NO_LIMIT_W 6553.5   /* POWER_LIMIT 0xFFFF: no power cap */

typedef struct {
    double solar_flux_w_m2;     /* at 1 AU */
    double albedo;
    double earth_ir_w_m2;
    double t_space_k;
} sk_env_cfg;

typedef struct {
    int kind;                   /* SK_ORBIT_* */
    double a_km, e, i_rad, raan_rad, argp_rad, m0_rad;
    int j2;                     /* apply J2 secular drift */
    double epoch_jd_utc;        /* Julian date (UTC) of t_ns = 0 */
} sk_orbit_cfg;

typedef struct {
    int mode;                   /* SK_ATT_* */
    double q_body_to_eci[4];    /* w, x, y, z for SK_ATT_INERTIAL */
} sk_attitude_cfg;

typedef struct {
    double lat_rad, lon_rad, alt_km, min_elevation_rad;
    double downlink_bps, uplink_bps;
} sk_station_cfg;

typedef struct {
    double normal_b[3];         /* unit normal in the body frame */
    double area_m2, efficiency, packing, mppt_efficiency, degradation;
    int strings;
    int node;                   /* thermal node that loses the electric power, -1 none */
} sk_panel_cfg;

typedef struct {
    int series, parallel;
    double cell_capacity_ah;
    int n_ocv;
    double ocv_soc[SK_MAX_TABLE];   /* 0..1, increasing */
    double ocv_cell_v[SK_MAX_TABLE];
    int n_r0;
    double r0_temp_c[SK_MAX_TABLE]; /* increasing */
    double r0_cell_ohm[SK_MAX_TABLE];
    double coulombic_efficiency;
    double max_charge_a, max_discharge_a;
    double capacity_fade;       /* 0..1 lost */
    double initial_soc;
    int node;                   /* thermal node receiving I^2 R heat, -1 none */
} sk_battery_cfg;

typedef struct {
    double undervoltage_v, undervoltage_reset_v;
    double undervoltage_hold_s; /* the cut-off stays open at least this long */
} sk_bus_cfg;

typedef struct {
    int kind;                   /* SK_LOAD_* */
    double power_w;             /* when on (radio: receive / standby) */
    double tx_power_w;          /* radio only: extra while transmitting */
    int node;                   /* thermal node receiving the heat, -1 none */
    int gpio_bus, gpio_addr, gpio_pin; /* switch on a TCA9534 pin; gpio_pin -1: hard-wired on */
    int initially_on;
} sk_load_cfg;

typedef struct {
    int n_nodes;
    double capacitance_j_k[SK_MAX_NODES];
    double initial_k[SK_MAX_NODES];
    int n_conductors;
    int cond_a[SK_MAX_CONDUCTORS], cond_b[SK_MAX_CONDUCTORS];
    double cond_w_k[SK_MAX_CONDUCTORS];
    int n_radlinks;
    int rad_a[SK_MAX_RADLINKS], rad_b[SK_MAX_RADLINKS];
    double rad_m2[SK_MAX_RADLINKS];        /* effective emissivity x area x view factor */
    int n_surfaces;
    int surf_node[SK_MAX_SURFACES];
    double surf_normal_b[SK_MAX_SURFACES][3];
    double surf_area_m2[SK_MAX_SURFACES];
    double surf_absorptivity[SK_MAX_SURFACES];
    double surf_emissivity[SK_MAX_SURFACES];
} sk_thermal_cfg;

typedef struct {
    int present;
    int load;                   /* index of its SK_LOAD_PAYLOAD load */
    int node;                   /* thermal node of the accelerator */
    int n_modes;                /* mode 0 is off (0 W) and is not listed */
    double mode_power_w[SK_MAX_MODES];     /* modes 1..n_modes, increasing */
    double mode_throughput[SK_MAX_MODES];  /* 0..1 of full throughput */
    double junction_k_per_w;    /* die above node temperature per watt */
    double throttle_c, shutdown_c, recover_c;
} sk_payload_cfg;

typedef struct {
    int kind;                   /* SK_DEV_* */
    int bus, addr;
    int source, index;          /* INA226: SK_SRC_* and load index; TMP117: node */
    double shunt_ohm;           /* INA226 */
    double noise;               /* 1-sigma in engineering units per conversion */
} sk_device_cfg;

typedef struct {
    sk_env_cfg env;
    sk_orbit_cfg orbit;
    sk_attitude_cfg attitude;
    int n_stations;
    sk_station_cfg stations[SK_MAX_STATIONS];
    int n_panels;
    sk_panel_cfg panels[SK_MAX_PANELS];
    sk_battery_cfg battery;
    sk_bus_cfg bus;
    int n_loads;
    sk_load_cfg loads[SK_MAX_LOADS];
    sk_thermal_cfg thermal;
    sk_payload_cfg payload;
    int n_devices;
    sk_device_cfg devices[SK_MAX_DEVICES];
    uint64_t seed;
    int64_t slow_period_ns;     /* period of slowly varying terms (sun, RAAN) */
} sk_config;

/* The plant state: every field a double after t_ns, so that a log variable
 * is an index into the state seen as an array of doubles. */
typedef struct {
    int64_t t_ns;
    double r_eci_km[3];
    double v_eci_km_s[3];
    double sun_eci[3];          /* unit vector */
    double sun_dist_km;
    double illumination;        /* 0 umbra .. 1 full sun */
    double beta_rad;
    double station_up_km[SK_MAX_STATIONS];     /* line of sight projected on the local vertical: elevation = asin(up / range) */
    double station_range_km[SK_MAX_STATIONS];
    double station_visible[SK_MAX_STATIONS];
    double contact_station;     /* index of the best visible station, -1 none */
    double downlink_bps, uplink_bps;
    double panel_power_w[SK_MAX_PANELS];
    double array_available_w;   /* at the maximum power point */
    double array_used_w;        /* what the bus took */
    double battery_soc;
    double battery_ocv_v, battery_v, battery_i_a;    /* i > 0 discharging */
    double battery_r0_ohm;
    double battery_capacity_ah;
    double battery_cells_parallel;  /* working parallel strings (cell failures lower it) */
    double bus_v;
    double uv_tripped;
    double load_cmd[SK_MAX_LOADS];      /* switch commanded on */
    double load_on[SK_MAX_LOADS];       /* actually powered */
    double load_power_w[SK_MAX_LOADS];
    double load_total_w;
    double radio_tx;            /* transmitter keyed */
    double node_temp_k[SK_MAX_NODES];
    double payload_mode;        /* commanded mode index, 0 off */
    double payload_power_limit_w;   /* power cap written to POWER_LIMIT (6553.5 W at power-on: none) */
    double payload_power_w;
    double payload_die_c;
    double payload_throttle;    /* 1 = no throttling */
    double payload_throughput;  /* effective, 0..1 */
    double payload_shutdown;
    double job_active, job_id, job_work_s, job_done_s;
    double e_array_available_j, e_array_used_j, e_load_j;
    double e_batt_in_j, e_batt_out_j, e_batt_loss_j, e_batt_chem_j;
    double e_heater_j, e_payload_j;
    double downlink_bits;       /* link capacity accumulated while in contact */
    double uplink_bits;
    double contact_s;
    double work_total_s;        /* accelerator-seconds done at full throughput */
    /* injected plant faults */
    double fault_strings_lost[SK_MAX_PANELS];
    double fault_heater_stuck[SK_MAX_LOADS];
    double fault_payload_stuck_max;
} sk_state;

typedef struct {
    int n_vars;
    int var_index[SK_MAX_LOG_VARS];  /* index into the state as doubles (t_ns is slot 0) */
    int64_t interval_ns;
    int64_t next_ns;
    double *buf;                     /* rows of (1 + n_vars) doubles: t_s, vars... */
    int64_t capacity_rows;
    int64_t rows;
} sk_log;

/* device fault fields, set through sk_device_fault */
#define SK_FAULT_CLEAR 0
#define SK_FAULT_NACK 1
#define SK_FAULT_STUCK 2
#define SK_FAULT_OFFSET 3
#define SK_FAULT_NOISE 4
#define SK_FAULT_BITFLIP 5

typedef struct sk_plant sk_plant;

sk_plant *sk_plant_new(void);
void sk_plant_free(sk_plant *p);
/* validate and load a configuration, then reset the state to t_ns = 0 */
int sk_plant_configure(sk_plant *p, const sk_config *cfg);
/* precomputed ephemeris for SK_ORBIT_TABLE: n rows of x y z vx vy vz (km, km/s, ECI) */
int sk_plant_set_orbit_table(sk_plant *p, int64_t t0_ns, int64_t step_ns, int n, const double *pv);
/* advance by dt_ns in substeps of at most substep_ns; log may be NULL */
int sk_plant_advance(sk_plant *p, int64_t dt_ns, int64_t substep_ns, sk_log *log);
sk_state *sk_plant_state(sk_plant *p);
const sk_config *sk_plant_config(const sk_plant *p);

/* I2C: write wlen bytes then read rlen bytes from the device at addr */
int sk_bus_transfer(sk_plant *p, int bus, int addr, const uint8_t *w, int wlen, uint8_t *r, int rlen);
/* n register reads in order, entry i exactly sk_bus_transfer(p, bus[i], addr[i], {reg[i]}, 1, r, len[i])
 * (same side effects and random draws as those calls one after another): len[i] 1 or 2 octets, out[i] the
 * reply MSB first (len 1: the one octet), rc[i] its return code (reg outside 0..255 or len not 1 or 2:
 * SK_ERR_ARG, nothing done); out[i] is 0 where rc[i] != SK_OK. Returns the number of entries that failed,
 * or SK_ERR_ARG (nothing done) for a NULL plant, n < 0 or a NULL array with n > 0. */
int sk_bus_read_many(sk_plant *p, int n, const int *bus, const int *addr, const int *reg, const int *len,
                     uint16_t *out, int *rc);
/* device faults: kind SK_FAULT_*; value: stuck raw word, offset or noise in
 * engineering units, or bit mask; reg: register for stuck and bit flips */
int sk_device_fault(sk_plant *p, int bus, int addr, int kind, int reg, double value);

/* replace the payload's electrical demand (while its load is switched on) by w watts, for example the
 * power measured on a real payload; on = 0 returns to the model. The model keeps running for the job's
 * work and the throttle; the bus load, the energy counters and the payload node's heating use w.
 * SK_ERR_ARG for a NULL plant or w not in 0 .. 1e6. Off after sk_plant_configure. */
int sk_payload_power_override(sk_plant *p, int on, double w);

/* pure helpers, exported for the oracle tests */
void sk_sun_eci(double jd_utc, double out_unit[3], double *dist_km);
double sk_illumination(const double r_km[3], const double sun_unit[3], double sun_dist_km);
double sk_gmst_rad(double jd_utc);
double sk_kepler_E(double m_rad, double e);

#endif
