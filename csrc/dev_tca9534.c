/* TI TCA9534 8-bit I/O expander (datasheet SCPS197), driving load switches.
 *
 * Registers are 8 bits, selected by the command (pointer) byte. A pin drives
 * its load on iff it is an output (configuration bit 0) and its output bit
 * is 1. Loads are mapped by cfg.loads[k].gpio_bus / gpio_addr / gpio_pin. */
#include "plant_internal.h"
#include "dev_common.h"

#define R_INPUT 0x00            /* read-only */
#define R_OUTPUT 0x01           /* POR 0xFF */
#define R_POLARITY 0x02         /* POR 0x00, 1 inverts the input port bit */
#define R_CONFIG 0x03           /* POR 0xFF, 1 = input (high impedance) */

static int has_reg(int reg) { return reg >= R_INPUT && reg <= R_CONFIG; }

/* load k is switched by a pin of this expander */
static int maps_load(const sk_plant *p, const sk_device *d, int k)
{
    const sk_load_cfg *l = &p->cfg.loads[k];
    return l->gpio_pin >= 0 && l->gpio_pin < 8 && l->gpio_bus == d->cfg.bus
        && l->gpio_addr == d->cfg.addr;
}

static int n_loads(const sk_plant *p)
{
    int n = p->cfg.n_loads;
    if (n < 0) n = 0;
    if (n > SK_MAX_LOADS) n = SK_MAX_LOADS;
    return n;
}

/* Input port: an output pin reads back its output bit, an input pin floats
 * high through the pull-up; then the polarity inversion is applied. */
static uint8_t input_port(const sk_device *d)
{
    uint8_t cfg = (uint8_t)d->regs[R_CONFIG];
    uint8_t out = (uint8_t)d->regs[R_OUTPUT];
    uint8_t pol = (uint8_t)d->regs[R_POLARITY];
    return (uint8_t)(((out & ~cfg) | cfg) ^ pol);
}

/* tell the plant the switch state of every load on this expander */
static void drive_loads(sk_plant *p, const sk_device *d)
{
    int n = n_loads(p);
    for (int k = 0; k < n; k++) {
        int pin;
        if (!maps_load(p, d, k)) continue;
        pin = p->cfg.loads[k].gpio_pin;
        sk_load_command(p, k, !((d->regs[R_CONFIG] >> pin) & 1) && ((d->regs[R_OUTPUT] >> pin) & 1));
    }
}

static void reset(sk_plant *p, sk_device *d)
{
    int n = n_loads(p);
    sk_dev_clear(d, R_INPUT);
    d->regs[R_OUTPUT] = 0xFF;
    d->regs[R_POLARITY] = 0x00;
    d->regs[R_CONFIG] = 0xFF;
    sk_dev_arm(p, d, 0);                        /* nothing to convert */
    /* boot state: every mapped pin an output at the load's initial state */
    for (int k = 0; k < n; k++) {
        uint16_t bit;
        if (!maps_load(p, d, k)) continue;
        bit = (uint16_t)(1u << p->cfg.loads[k].gpio_pin);
        d->regs[R_CONFIG] &= (uint16_t)~bit;
        if (p->cfg.loads[k].initially_on) d->regs[R_OUTPUT] |= bit;
        else d->regs[R_OUTPUT] &= (uint16_t)~bit;
    }
    d->regs[R_INPUT] = input_port(d);
    drive_loads(p, d);
}

/* The input port is recomputed after every register write, so every
 * register, the input port included, reads as stored. */
static void write_reg(sk_plant *p, sk_device *d, int reg, uint16_t v)
{
    if (reg == R_INPUT) return;                     /* read-only: ignored, ACK */
    d->regs[reg] = v;
    d->regs[R_INPUT] = input_port(d);
    if (reg == R_OUTPUT || reg == R_CONFIG) drive_loads(p, d);
}

const sk_chip sk_chip_tca9534 = {.width = 1, .has_reg = has_reg, .reset = reset, .write_reg = write_reg};
