/* TI INA226 current / bus-voltage / power monitor (datasheet SBOS547).
 *
 * Measures a current chosen by cfg.source (a load, the solar array, or the
 * battery with charge positive) through a shunt of cfg.shunt_ohm, and the bus
 * voltage. Registers are 16 bits, big-endian, selected by the pointer byte. */
#include <math.h>
#include "plant_internal.h"
#include "dev_common.h"

#define R_CONFIG 0x00
#define R_SHUNT 0x01
#define R_BUS 0x02
#define R_POWER 0x03
#define R_CURRENT 0x04
#define R_CAL 0x05
#define R_MASK 0x06
#define R_LIMIT 0x07
#define R_MFR_ID 0xFE
#define R_DIE_ID 0xFF

#define CONFIG_POR 0x4127       /* AVG 1, VBUSCT 1.1 ms, VSHCT 1.1 ms, MODE 7 */
#define CONFIG_RST 0x8000       /* bit 15: reset all registers, self-clearing */
#define CONFIG_FIXED 0x4000     /* bits 14:12 read 100b */
#define MFR_ID 0x5449           /* "TI" */
#define DIE_ID 0x2260

/* Mask/Enable (0x06) bits */
#define ME_SOL 0x8000           /* shunt over limit */
#define ME_SUL 0x4000           /* shunt under limit */
#define ME_BOL 0x2000           /* bus over limit */
#define ME_BUL 0x1000           /* bus under limit */
#define ME_POL 0x0800           /* power over limit */
#define ME_CNVR 0x0400          /* alert on conversion ready */
#define ME_AFF 0x0010           /* alert function flag (ro) */
#define ME_CVRF 0x0008          /* conversion ready flag (ro) */
#define ME_OVF 0x0004           /* math overflow flag (ro) */
#define ME_APOL 0x0002
#define ME_LEN 0x0001           /* latch enable */
#define ME_WRITABLE 0xFC03
#define ME_FLAGS 0x001C

#define SHUNT_LSB_V 2.5e-6      /* shunt voltage register LSB */
#define BUS_LSB_V 1.25e-3       /* bus voltage register LSB */
#define BUS_NOISE_V 0.5e-3      /* fixed bus-voltage noise, 1 sigma per conversion */

/* AVG (bits 11:9): number of averages */
static const int avg_count[8] = {1, 4, 16, 64, 128, 256, 512, 1024};
/* VBUSCT (8:6) and VSHCT (5:3): conversion times in microseconds */
static const int64_t conv_us[8] = {140, 204, 332, 588, 1100, 2116, 4156, 8244};

static int has_reg(int reg)
{
    return (reg >= R_CONFIG && reg <= R_LIMIT) || reg == R_MFR_ID || reg == R_DIE_ID;
}

/* MODE (2:0): bit 0 shunt, bit 1 bus, bit 2 continuous; 0 and 4 power-down */
static int mode_of(const sk_device *d) { return d->regs[R_CONFIG] & 7; }

static int averages(const sk_device *d) { return avg_count[(d->regs[R_CONFIG] >> 9) & 7]; }

/* Conversion period: (t_bus + t_shunt) x averages for the channels the mode
 * converts; 0 in power-down. */
static int64_t period_ns(const sk_device *d)
{
    uint16_t c = d->regs[R_CONFIG];
    int mode = c & 7;
    int64_t us = 0;
    if (mode & 1) us += conv_us[(c >> 3) & 7];
    if (mode & 2) us += conv_us[(c >> 6) & 7];
    return us * averages(d) * 1000;
}

/* true current through the shunt in amperes */
static double true_current(const sk_plant *p, const sk_device *d)
{
    double v = p->s.bus_v;
    int k = d->cfg.index;
    switch (d->cfg.source) {
    case SK_SRC_LOAD:
        if (k < 0 || k >= SK_MAX_LOADS || !(v > 1e-9)) return 0.0;
        return p->s.load_power_w[k] / v;
    case SK_SRC_ARRAY:
        if (!(v > 1e-9)) return 0.0;
        return p->s.array_used_w / v;
    case SK_SRC_BATTERY:
        return -p->s.battery_i_a;              /* positive = charging */
    default:
        return 0.0;
    }
}

/* Current = shunt x CAL / 2048 and Power = current x bus / 20000 (datasheet
 * equations 3 and 4, integer arithmetic); 0 while CAL is 0. */
static void compute_current_power(sk_device *d)
{
    int64_t cal = d->regs[R_CAL] & 0x7FFF;
    int64_t shunt = (int16_t)d->regs[R_SHUNT];
    int64_t bus = d->regs[R_BUS];
    int64_t cur, pwr;
    int ovf = 0;

    cur = shunt * cal / 2048;
    if (cur > 32767) { cur = 32767; ovf = 1; }
    if (cur < -32768) { cur = -32768; ovf = 1; }
    pwr = (cur < 0 ? -cur : cur) * bus / 20000;  /* unsigned register: magnitude */
    if (pwr > 0xFFFF) { pwr = 0xFFFF; ovf = 1; }
    d->regs[R_CURRENT] = (uint16_t)(int16_t)cur;
    d->regs[R_POWER] = (uint16_t)pwr;
    if (ovf) d->regs[R_MASK] |= ME_OVF;
    else d->regs[R_MASK] &= (uint16_t)~ME_OVF;
}

/* Alert function: only the most significant enabled function is used; AFF
 * latches when LEN = 1, else follows each conversion. */
static void update_alert(sk_device *d)
{
    uint16_t me = d->regs[R_MASK];
    uint16_t lim = d->regs[R_LIMIT];
    int alert = 0;
    if (me & ME_SOL) alert = (int16_t)d->regs[R_SHUNT] > (int16_t)lim;
    else if (me & ME_SUL) alert = (int16_t)d->regs[R_SHUNT] < (int16_t)lim;
    else if (me & ME_BOL) alert = d->regs[R_BUS] > lim;
    else if (me & ME_BUL) alert = d->regs[R_BUS] < lim;
    else if (me & ME_POL) alert = d->regs[R_POWER] > lim;
    else if (me & ME_CNVR) alert = 1;
    if (alert) me |= ME_AFF;
    else if (!(me & ME_LEN)) me &= (uint16_t)~ME_AFF;
    d->regs[R_MASK] = me;
}

static void convert(sk_plant *p, sk_device *d)
{
    int mode = mode_of(d);
    double root_n = sqrt((double)averages(d));

    if (mode & 1) {
        double i = true_current(p, d) + d->offset;
        double rs = d->cfg.shunt_ohm > 0.0 ? d->cfg.shunt_ohm : 0.0;
        i += sk_dev_gauss(p, sk_dev_sigma(d, d->cfg.noise) / root_n);
        d->regs[R_SHUNT] = (uint16_t)(int16_t)sk_dev_quantize(i * rs, SHUNT_LSB_V, -32768, 32767);
    }
    if (mode & 2) {
        double v = p->s.bus_v + sk_dev_gauss(p, BUS_NOISE_V / root_n);
        d->regs[R_BUS] = (uint16_t)sk_dev_quantize(v, BUS_LSB_V, 0, 0x7FFF);   /* 15 bits */
    }
    compute_current_power(d);
    d->regs[R_MASK] |= ME_CVRF;
    update_alert(d);
    if (!(mode & 4)) d->next_conv_ns = SK_DEV_IDLE;   /* triggered: one conversion */
}

/* (re)start conversions for the mode in the configuration register */
static void arm(sk_plant *p, sk_device *d)
{
    sk_dev_arm(p, d, period_ns(d));
}

static void reset(sk_plant *p, sk_device *d)
{
    sk_dev_clear(d, R_CONFIG);
    d->regs[R_CONFIG] = CONFIG_POR;
    d->regs[R_MFR_ID] = MFR_ID;
    d->regs[R_DIE_ID] = DIE_ID;
    arm(p, d);
}

static void write_reg(sk_plant *p, sk_device *d, int reg, uint16_t v)
{
    switch (reg) {
    case R_CONFIG:
        if (v & CONFIG_RST) {
            reset(p, d);
            return;
        }
        d->regs[R_CONFIG] = (uint16_t)(CONFIG_FIXED | (v & 0x0FFF));
        d->regs[R_MASK] &= (uint16_t)~ME_CVRF;     /* cleared by a config write */
        arm(p, d);                                  /* triggered modes: one shot */
        break;
    case R_CAL:
        d->regs[R_CAL] = v & 0x7FFF;                /* bit 15 unused */
        break;
    case R_MASK:
        d->regs[R_MASK] = (uint16_t)((v & ME_WRITABLE) | (d->regs[R_MASK] & ME_FLAGS));
        break;
    case R_LIMIT:
        d->regs[R_LIMIT] = v;
        break;
    default:
        break;                                      /* read-only: ignored, ACK */
    }
}

/* reading Mask/Enable clears CVRF, and AFF in latch mode */
static void after_read(sk_plant *p, sk_device *d)
{
    (void)p;
    if (d->pointer != R_MASK) return;
    d->regs[R_MASK] &= (uint16_t)~ME_CVRF;
    if (d->regs[R_MASK] & ME_LEN) d->regs[R_MASK] &= (uint16_t)~ME_AFF;
}

const sk_chip sk_chip_ina226 = {.width = 2, .has_reg = has_reg, .reset = reset, .convert = convert,
                                 .write_reg = write_reg, .after_read = after_read};
