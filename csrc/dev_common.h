/* Helpers shared by the emulated I2C chips (defined in bus.c).
 * Internal to the C sources; not seen by cffi. */
#ifndef SKYRACK_DEV_COMMON_H
#define SKYRACK_DEV_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include "plant_internal.h"

/* next_conv_ns value of a chip that is not converting (power-down, shutdown,
 * or a one-shot / triggered conversion already delivered) */
#define SK_DEV_IDLE INT64_MAX

/* Round value / lsb to the nearest integer (half rounds up) and clamp it to
 * [lo, hi]. NaN gives 0 (clamped into range). */
int64_t sk_dev_quantize(double value, double lsb, int64_t lo, int64_t hi);

/* big-endian 16-bit word from two bytes */
uint16_t sk_dev_be16(const uint8_t *b);

/* Put the word of the pointed register on the wire after the read-path
 * faults: STUCK (d->stuck and pointer == stuck_reg: word = stuck_raw), then
 * BITFLIP (pointer == flip_reg: word ^= flip_mask). width 2: MSB first, rlen 1
 * gives the MSB only; width 1: the low byte. */
void sk_dev_reply(const sk_device *d, uint8_t *r, int rlen, uint16_t word, int width);

/* Length rules: width 2 chips take wlen 0 (probe), 1 (pointer) or 3 (pointer +
 * word) and rlen 0..2; width 1 chips wlen 0..2 and rlen 0..1.
 * Return SK_OK, SK_ERR_ARG (write) or SK_ERR_READ_LEN (read). */
int sk_dev_check_wlen(int wlen, int width);
int sk_dev_check_rlen(int rlen, int width);

/* 1-sigma of a conversion: base (configured) and the NOISE fault's extra
 * noise added in quadrature. */
double sk_dev_sigma(const sk_device *d, double base);
/* one normal deviate times sigma; draws nothing and returns 0 when sigma <= 0 */
double sk_dev_gauss(sk_plant *p, double sigma);

/* Lazy conversion check: when p->s.t_ns >= d->next_conv_ns, move
 * next_conv_ns forward by whole conv_period_ns steps past t_ns and return 1
 * (the caller samples the plant now); else return 0. An idle chip
 * (SK_DEV_IDLE) never converts. */
int sk_dev_conversion_due(sk_plant *p, sk_device *d);

/* Start converting with the given period: the next result is due one period
 * from now. period_ns <= 0 makes the chip idle. */
void sk_dev_arm(sk_plant *p, sk_device *d, int64_t period_ns);

#endif
