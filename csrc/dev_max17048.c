/* Maxim MAX17048 single-cell fuel gauge (datasheet 19-6171).
 *
 * Reports the battery's average cell voltage (pack voltage / series cells),
 * state of charge and charge rate. Registers are 16 bits at even addresses,
 * big-endian (MSB first), selected by the pointer byte. */
#include <math.h>
#include "plant_internal.h"
#include "dev_common.h"

#define R_VCELL 0x02
#define R_SOC 0x04
#define R_MODE 0x06
#define R_VERSION 0x08
#define R_HIBRT 0x0A
#define R_CONFIG 0x0C
#define R_VALRT 0x14
#define R_CRATE 0x16
#define R_VRESET_ID 0x18
#define R_STATUS 0x1A
#define R_CMD 0xFE

#define VERSION_POR 0x0012
#define HIBRT_POR 0x8030
#define CONFIG_POR 0x971C       /* RCOMP 0x97, ATHD 0x1C (4 %) */
#define VALRT_POR 0x00FF        /* MIN 0 V, MAX 5.1 V */
#define VRESET_ID_POR 0x9600
#define STATUS_POR 0x0100       /* RI: reset indicator */
#define CMD_POR_RESET 0x5400    /* written to CMD: power-on reset */

/* CONFIG bits */
#define CF_ALSC 0x0040          /* SOC change alert enable */
#define CF_ALRT 0x0020          /* alert status */
#define CF_ATHD 0x001F          /* empty alert threshold: 32 - ATHD percent */

/* STATUS bits (high byte) */
#define ST_RI 0x0100
#define ST_VH 0x0200            /* VCELL above VALRT.MAX */
#define ST_VL 0x0400            /* VCELL below VALRT.MIN */
#define ST_VR 0x0800
#define ST_HD 0x1000            /* SOC crossed below the ATHD threshold */
#define ST_SC 0x2000            /* SOC changed by 1 % */
#define ST_ENVR 0x4000
#define ST_WRITABLE 0x7F00

#define VCELL_LSB_V 78.125e-6
#define SOC_LSB_PCT (1.0 / 256.0)
#define CRATE_LSB_PCT_H 0.208
#define VALRT_LSB_V 0.020
#define VCELL_NOISE_V 1e-3      /* fixed VCELL noise, 1 sigma */
#define CONV_PERIOD_NS 1000000000LL   /* ADC / model update every second */

static int has_reg(int reg)
{
    switch (reg) {
    case R_VCELL: case R_SOC: case R_MODE: case R_VERSION: case R_HIBRT:
    case R_CONFIG: case R_VALRT: case R_CRATE: case R_VRESET_ID: case R_STATUS:
    case R_CMD:
        return 1;
    default:
        return 0;
    }
}

static void convert(sk_plant *p, sk_device *d)
{
    int series = p->cfg.battery.series > 0 ? p->cfg.battery.series : 1;
    int first = d->regs[R_VCELL] == 0 && d->regs[R_SOC] == 0;   /* still POR */
    uint16_t old_soc = d->regs[R_SOC];
    uint16_t st = d->regs[R_STATUS], cf = d->regs[R_CONFIG];
    uint16_t new_st;
    double vcell, soc, crate, cap = p->s.battery_capacity_ah;
    double vmin, vmax, vreg;
    int thr;

    vcell = p->s.battery_v / series + sk_dev_gauss(p, VCELL_NOISE_V);
    d->regs[R_VCELL] = (uint16_t)sk_dev_quantize(vcell, VCELL_LSB_V, 0, 0xFFFF);

    soc = p->s.battery_soc * 100.0 + d->offset + sk_dev_gauss(p, sk_dev_sigma(d, d->cfg.noise));
    d->regs[R_SOC] = (uint16_t)sk_dev_quantize(soc, SOC_LSB_PCT, 0, 0xFFFF);

    /* CRATE: charge rate in %/h, positive while charging (battery_i_a < 0) */
    crate = cap > 0.0 ? -p->s.battery_i_a / cap * 100.0 : 0.0;
    d->regs[R_CRATE] = (uint16_t)(int16_t)sk_dev_quantize(crate, CRATE_LSB_PCT_H, -32768, 32767);

    /* alerts: VALRT window (20 mV/LSB, MIN high byte, MAX low byte), empty
     * threshold crossing, 1 % SOC change when ALSC is set */
    new_st = 0;
    vreg = d->regs[R_VCELL] * VCELL_LSB_V;
    vmin = (d->regs[R_VALRT] >> 8) * VALRT_LSB_V;
    vmax = (d->regs[R_VALRT] & 0xFF) * VALRT_LSB_V;
    if (vreg < vmin) new_st |= ST_VL;
    if (vreg > vmax) new_st |= ST_VH;
    thr = (32 - (cf & CF_ATHD)) * 256;
    if (d->regs[R_SOC] < thr && (first || old_soc >= thr)) new_st |= ST_HD;
    if ((cf & CF_ALSC) && !first && (old_soc >> 8) != (d->regs[R_SOC] >> 8)) new_st |= ST_SC;
    if (new_st) {
        d->regs[R_STATUS] = st | new_st;
        d->regs[R_CONFIG] = cf | CF_ALRT;
    }
}

static void reset(sk_plant *p, sk_device *d)
{
    sk_dev_clear(d, R_VCELL);                       /* the chip has no register 0x00 */
    d->regs[R_VERSION] = VERSION_POR;
    d->regs[R_HIBRT] = HIBRT_POR;
    d->regs[R_CONFIG] = CONFIG_POR;
    d->regs[R_VALRT] = VALRT_POR;
    d->regs[R_VRESET_ID] = VRESET_ID_POR;
    d->regs[R_STATUS] = STATUS_POR;
    sk_dev_arm(p, d, CONV_PERIOD_NS);
}

static void write_reg(sk_plant *p, sk_device *d, int reg, uint16_t v)
{
    switch (reg) {
    case R_HIBRT:
    case R_CONFIG:
    case R_VALRT:
        d->regs[reg] = v;
        break;
    case R_VRESET_ID:
        d->regs[reg] = (uint16_t)((v & 0xFF00) | (d->regs[reg] & 0x00FF));  /* ID byte ro */
        break;
    case R_STATUS:
        d->regs[reg] = v & ST_WRITABLE;             /* flags cleared by writing 0 */
        break;
    case R_CMD:
        if (v == CMD_POR_RESET) reset(p, d);
        break;
    case R_MODE:                                    /* write-only, not modelled */
    default:
        break;                                      /* read-only: ignored, ACK */
    }
}

/* MODE and CMD are write-only and read 0 */
static uint16_t read_word(sk_plant *p, const sk_device *d)
{
    (void)p;
    return (d->pointer == R_MODE || d->pointer == R_CMD) ? 0 : d->regs[d->pointer];
}

const sk_chip sk_chip_max17048 = {.width = 2, .has_reg = has_reg, .reset = reset, .convert = convert,
                                   .write_reg = write_reg, .read_word = read_word};
