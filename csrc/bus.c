/* The I2C buses: device lookup, argument checks, dispatch to the chips,
 * injected device faults, and the helpers the chips share (dev_common.h). */
#include <math.h>
#include <string.h>
#include "plant_internal.h"
#include "dev_common.h"

/* ---------------------------------------------------------------- helpers */

int64_t sk_dev_quantize(double value, double lsb, int64_t lo, int64_t hi)
{
    double x;
    if (!(lsb > 0.0)) return lo > 0 ? lo : (hi < 0 ? hi : 0);
    x = value / lsb;
    if (x != x) x = 0.0;                        /* NaN */
    x = floor(x + 0.5);                         /* round to nearest */
    if (x < (double)lo) return lo;              /* clamp in double: no overflow */
    if (x > (double)hi) return hi;
    return (int64_t)x;
}

uint16_t sk_dev_be16(const uint8_t *b)
{
    return (uint16_t)(((unsigned)b[0] << 8) | b[1]);
}

void sk_dev_reply(const sk_device *d, uint8_t *r, int rlen, uint16_t word, int width)
{
    if (d->stuck && d->stuck_reg == (int)d->pointer) word = d->stuck_raw;
    if (d->flip_reg == (int)d->pointer) word ^= d->flip_mask;
    if (rlen <= 0 || r == NULL) return;
    if (width == 1) {
        r[0] = (uint8_t)(word & 0xFF);
        return;
    }
    r[0] = (uint8_t)(word >> 8);
    if (rlen > 1) r[1] = (uint8_t)(word & 0xFF);
}

int sk_dev_check_wlen(int wlen, int width)
{
    if (wlen < 0) return SK_ERR_ARG;
    if (width == 1) return wlen <= 2 ? SK_OK : SK_ERR_ARG;
    return (wlen == 2 || wlen > 3) ? SK_ERR_ARG : SK_OK;
}

int sk_dev_check_rlen(int rlen, int width)
{
    if (rlen < 0) return SK_ERR_ARG;
    return rlen > width ? SK_ERR_READ_LEN : SK_OK;
}

double sk_dev_sigma(const sk_device *d, double base)
{
    double a = base > 0.0 ? base : 0.0;
    double b = d->extra_noise > 0.0 ? d->extra_noise : 0.0;
    return sqrt(a * a + b * b);
}

double sk_dev_gauss(sk_plant *p, double sigma)
{
    if (!(sigma > 0.0)) return 0.0;
    return sigma * sk_rng_normal(p);
}

int sk_dev_conversion_due(sk_plant *p, sk_device *d)
{
    int64_t t = p->s.t_ns;
    if (d->next_conv_ns == SK_DEV_IDLE || t < d->next_conv_ns) return 0;
    if (d->conv_period_ns > 0) {
        int64_t k = (t - d->next_conv_ns) / d->conv_period_ns + 1;
        d->next_conv_ns += k * d->conv_period_ns;      /* first edge after t */
    } else {
        d->next_conv_ns = SK_DEV_IDLE;
    }
    return 1;
}

void sk_dev_arm(sk_plant *p, sk_device *d, int64_t period_ns)
{
    if (period_ns <= 0) {
        d->conv_period_ns = 0;
        d->next_conv_ns = SK_DEV_IDLE;
        return;
    }
    d->conv_period_ns = period_ns;
    d->next_conv_ns = p->s.t_ns + period_ns;
}

/* ------------------------------------------------------------------ lookup */

static int n_devices(const sk_plant *p)
{
    int n = p->cfg.n_devices;
    if (n < 0) n = 0;
    if (n > SK_MAX_DEVICES) n = SK_MAX_DEVICES;
    return n;
}

static sk_device *find_device(sk_plant *p, int bus, int addr)
{
    int n = n_devices(p);
    for (int i = 0; i < n; i++) {
        sk_device *d = &p->dev[i];
        if (d->cfg.kind != SK_DEV_NONE && d->cfg.bus == bus && d->cfg.addr == addr) return d;
    }
    return NULL;
}

/* register width in bytes of a device kind, 0 if unknown */
static int reg_width(int kind)
{
    switch (kind) {
    case SK_DEV_INA226:
    case SK_DEV_TMP117:
    case SK_DEV_MAX17048:
    case SK_DEV_PAYLOAD: return 2;
    case SK_DEV_TCA9534: return 1;
    default: return 0;
    }
}

static void clear_faults(sk_device *d)
{
    d->nack = 0;
    d->stuck = 0;
    d->stuck_reg = -1;
    d->stuck_raw = 0;
    d->offset = 0.0;
    d->extra_noise = 0.0;
    d->flip_reg = -1;
    d->flip_mask = 0;
}

/* ------------------------------------------------------------------ public */

void sk_devices_reset(sk_plant *p)
{
    int n = n_devices(p);
    for (int i = 0; i < SK_MAX_DEVICES; i++) {
        sk_device *d = &p->dev[i];
        memset(d, 0, sizeof *d);
        clear_faults(d);
        d->next_conv_ns = SK_DEV_IDLE;
        if (i >= n) {
            d->cfg.kind = SK_DEV_NONE;
            continue;
        }
        d->cfg = p->cfg.devices[i];
        switch (d->cfg.kind) {
        case SK_DEV_INA226: sk_dev_ina226_reset(p, d); break;
        case SK_DEV_TMP117: sk_dev_tmp117_reset(p, d); break;
        case SK_DEV_MAX17048: sk_dev_max17048_reset(p, d); break;
        case SK_DEV_TCA9534: sk_dev_tca9534_reset(p, d); break;
        case SK_DEV_PAYLOAD: sk_dev_payload_reset(p, d); break;
        default: d->cfg.kind = SK_DEV_NONE; break;
        }
    }
}

int sk_bus_transfer(sk_plant *p, int bus, int addr, const uint8_t *w, int wlen, uint8_t *r, int rlen)
{
    sk_device *d;
    int width, rc;

    if (p == NULL) return SK_ERR_ARG;
    if (bus < 0 || bus >= SK_MAX_BUSES) return SK_ERR_ARG;
    if (wlen < 0 || rlen < 0) return SK_ERR_ARG;
    if ((wlen > 0 && w == NULL) || (rlen > 0 && r == NULL)) return SK_ERR_ARG;

    d = find_device(p, bus, addr);                     /* any other address: nobody ACKs */
    if (d == NULL || d->nack) return SK_ERR_NACK;

    /* Check both lengths before touching the chip, so a rejected transfer
     * changes nothing (no pointer move, no conversion, no RNG draw). */
    width = reg_width(d->cfg.kind);
    if (width == 0) return SK_ERR_NACK;
    rc = sk_dev_check_wlen(wlen, width);
    if (rc != SK_OK) return rc;
    rc = sk_dev_check_rlen(rlen, width);
    if (rc != SK_OK) return rc;

    if (wlen > 0) {
        switch (d->cfg.kind) {
        case SK_DEV_INA226: rc = sk_dev_ina226_write(p, d, w, wlen); break;
        case SK_DEV_TMP117: rc = sk_dev_tmp117_write(p, d, w, wlen); break;
        case SK_DEV_MAX17048: rc = sk_dev_max17048_write(p, d, w, wlen); break;
        case SK_DEV_TCA9534: rc = sk_dev_tca9534_write(p, d, w, wlen); break;
        case SK_DEV_PAYLOAD: rc = sk_dev_payload_write(p, d, w, wlen); break;
        default: rc = SK_ERR_NACK; break;
        }
        if (rc != SK_OK) return rc;
    }
    if (rlen > 0) {
        switch (d->cfg.kind) {
        case SK_DEV_INA226: rc = sk_dev_ina226_read(p, d, r, rlen); break;
        case SK_DEV_TMP117: rc = sk_dev_tmp117_read(p, d, r, rlen); break;
        case SK_DEV_MAX17048: rc = sk_dev_max17048_read(p, d, r, rlen); break;
        case SK_DEV_TCA9534: rc = sk_dev_tca9534_read(p, d, r, rlen); break;
        case SK_DEV_PAYLOAD: rc = sk_dev_payload_read(p, d, r, rlen); break;
        default: rc = SK_ERR_NACK; break;
        }
    }
    return rc;
}

int sk_device_fault(sk_plant *p, int bus, int addr, int kind, int reg, double value)
{
    sk_device *d;

    if (p == NULL) return SK_ERR_ARG;
    if (bus < 0 || bus >= SK_MAX_BUSES) return SK_ERR_ARG;
    if (kind < SK_FAULT_CLEAR || kind > SK_FAULT_BITFLIP) return SK_ERR_ARG;
    if (!isfinite(value)) return SK_ERR_ARG;
    if ((kind == SK_FAULT_STUCK || kind == SK_FAULT_BITFLIP) && (reg < 0 || reg > 0xFF))
        return SK_ERR_ARG;
    if ((kind == SK_FAULT_STUCK || kind == SK_FAULT_BITFLIP) && (value < -65536.0 || value > 65535.0))
        return SK_ERR_ARG;
    if (kind == SK_FAULT_NOISE && value < 0.0) return SK_ERR_ARG;

    d = find_device(p, bus, addr);
    if (d == NULL) return SK_ERR_NACK;

    switch (kind) {
    case SK_FAULT_CLEAR: clear_faults(d); break;
    case SK_FAULT_NACK: d->nack = value != 0.0; break;
    case SK_FAULT_STUCK:
        d->stuck = 1;
        d->stuck_reg = reg;
        d->stuck_raw = (uint16_t)(int64_t)value;     /* two's complement wrap */
        break;
    case SK_FAULT_OFFSET: d->offset = value; break;
    case SK_FAULT_NOISE: d->extra_noise = value; break;
    case SK_FAULT_BITFLIP:
        d->flip_reg = reg;
        d->flip_mask = (uint16_t)(int64_t)value;
        break;
    default: return SK_ERR_ARG;
    }
    return SK_OK;
}
