/* The emulated I2C chips: the description each chip gives the bus, and the
 * helpers the chips share (defined in bus.c).
 * Internal to the C sources; not seen by cffi. */
#ifndef SKYRACK_DEV_COMMON_H
#define SKYRACK_DEV_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include "plant_internal.h"

/* next_conv_ns value of a chip that is not converting (power-down, shutdown,
 * or a one-shot / triggered conversion already delivered) */
#define SK_DEV_IDLE INT64_MAX

/* What is specific to one chip kind. bus.c does everything else: the length
 * and argument checks, the address probe, the NACK of an unknown pointer
 * (pointer unchanged), moving the pointer, decoding the data word (width 2:
 * big-endian) and putting the reply on the wire with the STUCK / BITFLIP
 * faults. Hooks marked optional may be NULL.
 *
 * A write with wlen > 0 runs: convert if due, pointer = w[0], then write_reg
 * when a data word follows. A read with rlen > 0 runs: convert if due,
 * read_word, the reply, then after_read. */
typedef struct {
    int width;                                          /* register width in bytes: 2 or 1 */
    int (*has_reg)(int reg);                            /* registers the pointer may select */
    void (*reset)(sk_plant *p, sk_device *d);           /* power-on reset */
    /* optional: the lazy conversion, run on an access when a result is
     * due (see sk_dev_arm) */
    void (*convert)(sk_plant *p, sk_device *d);
    /* a data word written to reg (width 1: the data byte); read-only
     * registers ignore it */
    void (*write_reg)(sk_plant *p, sk_device *d, int reg, uint16_t v);
    /* optional: the word read from the pointed register (write-only
     * registers: 0); NULL reads d->regs[d->pointer] */
    uint16_t (*read_word)(sk_plant *p, const sk_device *d);
    /* optional: side effects of having read the pointed register */
    void (*after_read)(sk_plant *p, sk_device *d);
} sk_chip;

extern const sk_chip sk_chip_ina226;
extern const sk_chip sk_chip_tmp117;
extern const sk_chip sk_chip_max17048;
extern const sk_chip sk_chip_tca9534;
extern const sk_chip sk_chip_payload;

/* Start of a power-on reset: every register 0, the pointer at reg. */
void sk_dev_clear(sk_device *d, int reg);

/* Round value / lsb to the nearest integer (half rounds up) and clamp it to
 * [lo, hi]. NaN gives 0 (clamped into range). */
int64_t sk_dev_quantize(double value, double lsb, int64_t lo, int64_t hi);

/* 1-sigma of a conversion: base (configured) and the NOISE fault's extra
 * noise added in quadrature. */
double sk_dev_sigma(const sk_device *d, double base);
/* one normal deviate times sigma; draws nothing and returns 0 when sigma <= 0 */
double sk_dev_gauss(sk_plant *p, double sigma);

/* Start converting with the given period: the next result is due one period
 * from now. period_ns <= 0 makes the chip idle (SK_DEV_IDLE). On an access at
 * p->s.t_ns >= next_conv_ns, bus.c moves next_conv_ns forward by whole
 * periods past t_ns and runs the chip's convert hook once. */
void sk_dev_arm(sk_plant *p, sk_device *d, int64_t period_ns);

#endif
