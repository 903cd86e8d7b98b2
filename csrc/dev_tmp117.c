/* TI TMP117 digital temperature sensor (datasheet SNOSD82D).
 *
 * Measures the temperature of thermal node cfg.index. Registers are 16 bits,
 * big-endian, selected by the pointer byte. */
#include <math.h>
#include "plant_internal.h"
#include "dev_common.h"

#define R_TEMP 0x00
#define R_CONFIG 0x01
#define R_THIGH 0x02
#define R_TLOW 0x03
#define R_EE_UNLOCK 0x04
#define R_EEPROM1 0x05
#define R_EEPROM2 0x06
#define R_OFFSET 0x07
#define R_EEPROM3 0x08
#define R_DEVICE_ID 0x0F

#define TEMP_POR 0x8000         /* -256 degC until the first conversion */
#define CONFIG_POR 0x0220       /* continuous, CONV 100 (1 s), AVG 01 (8) */
#define THIGH_POR 0x6000        /* 192 degC */
#define TLOW_POR 0x8000         /* -256 degC */
#define DEVICE_ID 0x0117

/* Configuration register bits */
#define CF_HIGH_ALERT 0x8000
#define CF_LOW_ALERT 0x4000
#define CF_DATA_READY 0x2000
#define CF_EEPROM_BUSY 0x1000
#define CF_FLAGS 0xF000         /* read-only status bits 15:12 */
#define CF_WRITABLE 0x0FFC      /* MOD, CONV, AVG, T/nA, POL, DR/Alert */
#define CF_TIMING 0x0FE0        /* MOD 11:10, CONV 9:7, AVG 6:5 */
#define CF_THERM 0x0010         /* T/nA: 1 therm mode, 0 alert mode */
#define CF_SOFT_RESET 0x0002

#define MOD_SHUTDOWN 1
#define MOD_ONESHOT 3

#define TEMP_LSB_C 0.0078125    /* 7.8125 m degC */

/* AVG[1:0]: number of averaged conversions */
static const int avg_count[4] = {1, 8, 32, 64};
/* Conversion cycle time in microseconds, [CONV][AVG] (datasheet table 7-7) */
static const int64_t cycle_us[8][4] = {
    {15500, 125000, 500000, 1000000},
    {125000, 125000, 500000, 1000000},
    {250000, 250000, 500000, 1000000},
    {500000, 500000, 500000, 1000000},
    {1000000, 1000000, 1000000, 1000000},
    {4000000, 4000000, 4000000, 4000000},
    {8000000, 8000000, 8000000, 8000000},
    {16000000, 16000000, 16000000, 16000000},
};
/* One active conversion takes 15.5 ms; a one-shot cycle is the active time
 * only (15.5 ms x averages), independent of CONV. */
#define ACTIVE_US 15500

static int has_reg(int reg)
{
    return (reg >= R_TEMP && reg <= R_EEPROM3) || reg == R_DEVICE_ID;
}

static int mod_of(const sk_device *d) { return (d->regs[R_CONFIG] >> 10) & 3; }
static int avg_of(const sk_device *d) { return (d->regs[R_CONFIG] >> 5) & 3; }
static int conv_of(const sk_device *d) { return (d->regs[R_CONFIG] >> 7) & 7; }

/* MOD 00 / 10 continuous, 01 shutdown, 11 one-shot */
static void arm(sk_plant *p, sk_device *d)
{
    int mod = mod_of(d);
    if (mod == MOD_SHUTDOWN) sk_dev_arm(p, d, 0);
    else if (mod == MOD_ONESHOT) sk_dev_arm(p, d, (int64_t)ACTIVE_US * avg_count[avg_of(d)] * 1000);
    else sk_dev_arm(p, d, cycle_us[conv_of(d)][avg_of(d)] * 1000);
}

static double true_temp_c(const sk_plant *p, const sk_device *d)
{
    int k = d->cfg.index;
    if (k < 0 || k >= SK_MAX_NODES) return 0.0;
    return p->s.node_temp_k[k] - 273.15;
}

static void convert(sk_plant *p, sk_device *d)
{
    double t = true_temp_c(p, d) + d->offset;
    int16_t res, hi, lo;
    uint16_t cf;

    t += sk_dev_gauss(p, sk_dev_sigma(d, d->cfg.noise) / sqrt((double)avg_count[avg_of(d)]));
    t += (int16_t)d->regs[R_OFFSET] * TEMP_LSB_C;   /* temperature offset register */
    res = (int16_t)sk_dev_quantize(t, TEMP_LSB_C, -32768, 32767);
    d->regs[R_TEMP] = (uint16_t)res;

    cf = d->regs[R_CONFIG] | CF_DATA_READY;
    hi = (int16_t)d->regs[R_THIGH];
    lo = (int16_t)d->regs[R_TLOW];
    if (cf & CF_THERM) {
        /* therm mode: HIGH_Alert set above THigh, cleared below TLow */
        if (res > hi) cf |= CF_HIGH_ALERT;
        else if (res < lo) cf &= (uint16_t)~CF_HIGH_ALERT;
        cf &= (uint16_t)~CF_LOW_ALERT;
    } else {
        /* alert mode: flags latch until the configuration register is read */
        if (res > hi) cf |= CF_HIGH_ALERT;
        if (res < lo) cf |= CF_LOW_ALERT;
    }
    d->regs[R_CONFIG] = cf;
    if (mod_of(d) == MOD_ONESHOT) d->next_conv_ns = SK_DEV_IDLE;   /* then shutdown */
}

static void reset(sk_plant *p, sk_device *d)
{
    sk_dev_clear(d, R_TEMP);
    d->regs[R_TEMP] = TEMP_POR;
    d->regs[R_CONFIG] = CONFIG_POR;
    d->regs[R_THIGH] = THIGH_POR;
    d->regs[R_TLOW] = TLOW_POR;
    d->regs[R_DEVICE_ID] = DEVICE_ID;
    arm(p, d);
}

static void write_reg(sk_plant *p, sk_device *d, int reg, uint16_t v)
{
    uint16_t old;
    switch (reg) {
    case R_CONFIG:
        if (v & CF_SOFT_RESET) {
            /* soft reset reloads the power-on values; the general-purpose
             * EEPROM words keep their contents */
            uint16_t e1 = d->regs[R_EEPROM1], e2 = d->regs[R_EEPROM2], e3 = d->regs[R_EEPROM3];
            reset(p, d);
            d->regs[R_EEPROM1] = e1;
            d->regs[R_EEPROM2] = e2;
            d->regs[R_EEPROM3] = e3;
            d->pointer = R_CONFIG;
            return;
        }
        old = d->regs[R_CONFIG];
        d->regs[R_CONFIG] = (uint16_t)((old & CF_FLAGS) | (v & CF_WRITABLE));
        /* a new mode or timing restarts the cycle; writing one-shot mode
         * starts one conversion */
        if (((old ^ d->regs[R_CONFIG]) & CF_TIMING) || mod_of(d) == MOD_ONESHOT) arm(p, d);
        break;
    case R_THIGH:
    case R_TLOW:
    case R_EEPROM1:
    case R_EEPROM2:
    case R_EEPROM3:
    case R_OFFSET:
        d->regs[reg] = v;
        break;
    case R_EE_UNLOCK:
        d->regs[R_EE_UNLOCK] = v & 0x8000;          /* EUN; busy bit 14 reads 0 */
        break;
    default:
        break;                                      /* read-only: ignored, ACK */
    }
}

/* reading the result clears Data_Ready; reading the configuration clears
 * Data_Ready and, in alert mode, the alert flags */
static void after_read(sk_plant *p, sk_device *d)
{
    (void)p;
    if (d->pointer == R_TEMP) {
        d->regs[R_CONFIG] &= (uint16_t)~CF_DATA_READY;
    } else if (d->pointer == R_CONFIG) {
        uint16_t clr = CF_DATA_READY;
        if (!(d->regs[R_CONFIG] & CF_THERM)) clr |= CF_HIGH_ALERT | CF_LOW_ALERT;
        d->regs[R_CONFIG] &= (uint16_t)~clr;
    }
}

const sk_chip sk_chip_tmp117 = {.width = 2, .has_reg = has_reg, .reset = reset, .convert = convert,
                                 .write_reg = write_reg, .after_read = after_read};
