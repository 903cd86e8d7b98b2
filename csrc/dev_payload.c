/* The payload controller: our accelerator's management controller.
 *
 * 16-bit big-endian registers selected by the pointer byte. Telemetry is
 * sampled from the plant on each read (no conversion delay); the POWER
 * register draws fresh noise on each read. Jobs are counted in units of
 * 10 ms of full-throughput accelerator time. */
#include <math.h>
#include "plant_internal.h"
#include "dev_common.h"

#define R_ID 0x00               /* ro 0x534B ("SK") */
#define R_VERSION 0x01          /* ro 0x0100 (1.0) */
#define R_STATUS 0x02           /* ro SK_PL_ST_* */
#define R_MODE 0x03             /* rw 0..n_modes */
#define R_JOB_CTRL 0x04         /* wo, reads 0 */
#define R_JOB_ID 0x05           /* rw */
#define R_JOB_WORK_HI 0x06      /* rw */
#define R_JOB_WORK_LO 0x07      /* rw */
#define R_JOB_DONE_HI 0x08      /* ro, reading latches the 32-bit value */
#define R_JOB_DONE_LO 0x09      /* ro */
#define R_POWER 0x0A            /* ro 0.1 W/LSB */
#define R_DIE_TEMP 0x0B         /* ro signed 7.8125 m degC/LSB */
#define R_THROTTLE 0x0C         /* ro permille */
#define R_THROUGHPUT 0x0D       /* ro permille */
#define R_LAST R_THROUGHPUT

/* internal slot (not addressable: the pointer cannot reach it) set while a
 * latched JOB_DONE low word is waiting to be read */
#define I_DONE_LATCHED 0x80

#define ID_VALUE 0x534B
#define VERSION_VALUE 0x0100

#define JOB_START 1
#define JOB_PAUSE 2
#define JOB_RESUME 3
#define JOB_ABORT 4

#define WORK_UNIT_S 0.01
#define POWER_LSB_W 0.1
#define TEMP_LSB_C 0.0078125

static int has_reg(int reg) { return reg >= R_ID && reg <= R_LAST; }

static int payload_powered(const sk_plant *p)
{
    int k = p->cfg.payload.load;
    if (k < 0 || k >= SK_MAX_LOADS) return 0;
    return p->s.load_on[k] != 0.0;
}

static uint16_t status_word(const sk_plant *p)
{
    const sk_state *s = &p->s;
    uint16_t st = 0;
    if (s->job_active == 1.0) st |= SK_PL_ST_RUNNING;
    if (s->job_work_s > 0.0 && s->job_done_s >= s->job_work_s) st |= SK_PL_ST_DONE;
    if (s->payload_throttle < 1.0) st |= SK_PL_ST_THROTTLED;
    if (s->payload_shutdown != 0.0) st |= SK_PL_ST_SHUTDOWN;
    if (!payload_powered(p)) st |= SK_PL_ST_UNPOWERED;
    return st;
}

/* work done in 10 ms units; floor with a small guard so a finished job
 * reads exactly its JOB_WORK */
static uint32_t done_units(const sk_plant *p)
{
    double u = floor(p->s.job_done_s / WORK_UNIT_S + 1e-6);
    if (!(u > 0.0)) return 0;
    if (u > 4294967295.0) return 0xFFFFFFFFu;
    return (uint32_t)u;
}

static uint16_t permille(double x)
{
    return (uint16_t)sk_dev_quantize(x, 0.001, 0, 0xFFFF);
}

static void job_control(sk_plant *p, sk_device *d, uint16_t cmd)
{
    sk_state *s = &p->s;
    uint32_t work;
    switch (cmd) {
    case JOB_START:
        work = ((uint32_t)d->regs[R_JOB_WORK_HI] << 16) | d->regs[R_JOB_WORK_LO];
        if (work == 0) break;                       /* nothing to do: ignored */
        s->job_id = d->regs[R_JOB_ID];
        s->job_work_s = work * WORK_UNIT_S;
        s->job_done_s = 0.0;
        s->job_active = 1.0;
        break;
    case JOB_PAUSE:
        if (s->job_active == 1.0) s->job_active = 2.0;
        break;
    case JOB_RESUME:
        if (s->job_active == 2.0) s->job_active = 1.0;
        break;
    case JOB_ABORT:
        s->job_active = 0.0;
        s->job_work_s = 0.0;
        s->job_done_s = 0.0;
        break;
    default:
        break;                                      /* unknown command: ignored */
    }
}

void sk_dev_payload_reset(sk_plant *p, sk_device *d)
{
    (void)p;
    for (int i = 0; i < 256; i++) d->regs[i] = 0;
    d->pointer = R_ID;
    d->regs[R_ID] = ID_VALUE;
    d->regs[R_VERSION] = VERSION_VALUE;
    d->conv_period_ns = 0;
    d->next_conv_ns = SK_DEV_IDLE;                  /* sampled on read */
}

static void write_reg(sk_plant *p, sk_device *d, int reg, uint16_t v)
{
    switch (reg) {
    case R_MODE:
        if (v <= (p->cfg.payload.n_modes > 0 ? p->cfg.payload.n_modes : 0))
            sk_payload_set_mode(p, (int)v);         /* larger values ignored */
        break;
    case R_JOB_CTRL:
        job_control(p, d, v);
        break;
    case R_JOB_ID:
    case R_JOB_WORK_HI:
    case R_JOB_WORK_LO:
        d->regs[reg] = v;
        break;
    default:
        break;                                      /* read-only: ignored, ACK */
    }
}

int sk_dev_payload_write(sk_plant *p, sk_device *d, const uint8_t *w, int wlen)
{
    int rc = sk_dev_check_wlen(wlen, 2);
    if (rc != SK_OK) return rc;
    if (wlen == 0) return SK_OK;                    /* address probe */
    if (w == NULL) return SK_ERR_ARG;
    if (!has_reg(w[0])) return SK_ERR_NACK;         /* pointer unchanged */
    d->pointer = w[0];
    if (wlen == 3) write_reg(p, d, w[0], sk_dev_be16(w + 1));
    return SK_OK;
}

int sk_dev_payload_read(sk_plant *p, sk_device *d, uint8_t *r, int rlen)
{
    const sk_state *s = &p->s;
    uint16_t word = 0;
    uint32_t done;
    int rc = sk_dev_check_rlen(rlen, 2);
    if (rc != SK_OK) return rc;
    if (rlen == 0) return SK_OK;
    if (r == NULL) return SK_ERR_ARG;

    switch (d->pointer) {
    case R_ID:
    case R_VERSION:
    case R_JOB_ID:
    case R_JOB_WORK_HI:
    case R_JOB_WORK_LO:
        word = d->regs[d->pointer];
        break;
    case R_STATUS:
        word = status_word(p);
        break;
    case R_MODE:
        word = (uint16_t)sk_dev_quantize(s->payload_mode, 1.0, 0, 0xFFFF);
        break;
    case R_JOB_CTRL:
        word = 0;                                   /* write-only */
        break;
    case R_JOB_DONE_HI:
        done = done_units(p);
        word = (uint16_t)(done >> 16);
        d->regs[R_JOB_DONE_LO] = (uint16_t)(done & 0xFFFF);
        d->regs[I_DONE_LATCHED] = 1;
        break;
    case R_JOB_DONE_LO:
        if (d->regs[I_DONE_LATCHED]) word = d->regs[R_JOB_DONE_LO];
        else word = (uint16_t)(done_units(p) & 0xFFFF);
        d->regs[I_DONE_LATCHED] = 0;
        break;
    case R_POWER:
        word = (uint16_t)sk_dev_quantize(
            s->payload_power_w + d->offset + sk_dev_gauss(p, sk_dev_sigma(d, d->cfg.noise)),
            POWER_LSB_W, 0, 0xFFFF);
        break;
    case R_DIE_TEMP:
        word = (uint16_t)(int16_t)sk_dev_quantize(s->payload_die_c, TEMP_LSB_C, -32768, 32767);
        break;
    case R_THROTTLE:
        word = permille(s->payload_throttle);
        break;
    case R_THROUGHPUT:
        word = permille(s->payload_throughput);
        break;
    default:
        word = 0;
        break;
    }
    sk_dev_reply(d, r, rlen, word, 2);
    return SK_OK;
}
