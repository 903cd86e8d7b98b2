/* The I2C buses: device lookup, argument checks, the transfer path every
 * chip shares (driven by its sk_chip description, dev_common.h), injected
 * device faults, and the helpers the chips share. */
#include <math.h>
#include <string.h>
#include "plant_internal.h"
#include "dev_common.h"

/* ---------------------------------------------------------------- helpers */

void sk_dev_clear(sk_device *d, int reg)
{
    for (int i = 0; i < 256; i++) d->regs[i] = 0;
    d->pointer = (uint8_t)reg;
}

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

/* ---------------------------------------------------------------- transfer */

/* big-endian 16-bit word from two bytes */
static uint16_t be16(const uint8_t *b)
{
    return (uint16_t)(((unsigned)b[0] << 8) | b[1]);
}

/* Length rules (wlen, rlen >= 0): width 2 chips take wlen 0 (probe), 1
 * (pointer) or 3 (pointer + word) and rlen 0..2; width 1 chips wlen 0..2 and
 * rlen 0..1. Return SK_OK, SK_ERR_ARG (write) or SK_ERR_READ_LEN (read). */
static int check_lengths(int wlen, int rlen, int width)
{
    if (width == 1 ? wlen > 2 : (wlen == 2 || wlen > 3)) return SK_ERR_ARG;
    return rlen > width ? SK_ERR_READ_LEN : SK_OK;
}

/* Lazy conversion: when p->s.t_ns >= d->next_conv_ns, move next_conv_ns
 * forward by whole conv_period_ns steps past t_ns and let the chip sample
 * the plant now. An idle chip (SK_DEV_IDLE) never converts. */
static void update(sk_plant *p, sk_device *d, const sk_chip *c)
{
    int64_t t = p->s.t_ns;
    if (c->convert == NULL) return;
    if (d->next_conv_ns == SK_DEV_IDLE || t < d->next_conv_ns) return;
    if (d->conv_period_ns > 0) {
        int64_t k = (t - d->next_conv_ns) / d->conv_period_ns + 1;
        d->next_conv_ns += k * d->conv_period_ns;      /* first edge after t */
    } else {
        d->next_conv_ns = SK_DEV_IDLE;
    }
    c->convert(p, d);
}

/* Put the word of the pointed register on the wire (rlen >= 1) after the
 * read-path faults: STUCK (d->stuck and pointer == stuck_reg: word =
 * stuck_raw), then BITFLIP (pointer == flip_reg: word ^= flip_mask). width 2:
 * MSB first, rlen 1 gives the MSB only; width 1: the low byte. */
static void reply(const sk_device *d, uint8_t *r, int rlen, uint16_t word, int width)
{
    if (d->stuck && d->stuck_reg == (int)d->pointer) word = d->stuck_raw;
    if (d->flip_reg == (int)d->pointer) word ^= d->flip_mask;
    if (width == 1) {
        r[0] = (uint8_t)(word & 0xFF);
        return;
    }
    r[0] = (uint8_t)(word >> 8);
    if (rlen > 1) r[1] = (uint8_t)(word & 0xFF);
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

/* the description of a device kind, NULL if unknown */
static const sk_chip *chip_of(int kind)
{
    static const sk_chip *const chips[] = {
        [SK_DEV_INA226] = &sk_chip_ina226,
        [SK_DEV_TMP117] = &sk_chip_tmp117,
        [SK_DEV_MAX17048] = &sk_chip_max17048,
        [SK_DEV_TCA9534] = &sk_chip_tca9534,
        [SK_DEV_PAYLOAD] = &sk_chip_payload,
    };
    if (kind < 0 || kind >= (int)(sizeof chips / sizeof chips[0])) return NULL;
    return chips[kind];
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
    const sk_chip *c;
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
        c = chip_of(d->cfg.kind);
        if (c == NULL) d->cfg.kind = SK_DEV_NONE;
        else c->reset(p, d);
    }
}

int sk_bus_transfer(sk_plant *p, int bus, int addr, const uint8_t *w, int wlen, uint8_t *r, int rlen)
{
    const sk_chip *c;
    sk_device *d;
    int rc;

    if (p == NULL) return SK_ERR_ARG;
    if (bus < 0 || bus >= SK_MAX_BUSES) return SK_ERR_ARG;
    if (wlen < 0 || rlen < 0) return SK_ERR_ARG;
    if ((wlen > 0 && w == NULL) || (rlen > 0 && r == NULL)) return SK_ERR_ARG;

    d = find_device(p, bus, addr);                     /* any other address: nobody ACKs */
    if (d == NULL || d->nack) return SK_ERR_NACK;

    /* Check both lengths before touching the chip, so a rejected transfer
     * changes nothing (no pointer move, no conversion, no RNG draw). */
    c = chip_of(d->cfg.kind);
    if (c == NULL) return SK_ERR_NACK;
    rc = check_lengths(wlen, rlen, c->width);
    if (rc != SK_OK) return rc;

    if (wlen > 0) {                                    /* wlen 0 and rlen 0: address probe */
        if (!c->has_reg(w[0])) return SK_ERR_NACK;     /* pointer unchanged */
        update(p, d, c);
        d->pointer = w[0];
        if (wlen > 1) c->write_reg(p, d, w[0], c->width == 2 ? be16(w + 1) : w[1]);
    }
    if (rlen > 0) {
        update(p, d, c);
        reply(d, r, rlen, c->read_word != NULL ? c->read_word(p, d) : d->regs[d->pointer], c->width);
        if (c->after_read != NULL) c->after_read(p, d);
    }
    return SK_OK;
}

int sk_bus_read_many(sk_plant *p, int n, const int *bus, const int *addr, const int *reg, const int *len,
                     uint16_t *out, int *rc)
{
    int failed = 0;

    if (p == NULL || n < 0) return SK_ERR_ARG;
    if (n > 0 && (bus == NULL || addr == NULL || reg == NULL || len == NULL || out == NULL || rc == NULL))
        return SK_ERR_ARG;
    for (int i = 0; i < n; i++) {
        uint8_t w, r[2] = {0, 0};
        int k;
        if (reg[i] < 0 || reg[i] > 0xFF || (len[i] != 1 && len[i] != 2)) {
            k = SK_ERR_ARG;
        } else {
            w = (uint8_t)reg[i];
            k = sk_bus_transfer(p, bus[i], addr[i], &w, 1, r, len[i]);   /* the one transfer path */
        }
        rc[i] = k;
        if (k != SK_OK) {
            out[i] = 0;
            failed++;
        } else {
            out[i] = len[i] == 2 ? be16(r) : r[0];
        }
    }
    return failed;
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
