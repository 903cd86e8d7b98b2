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
#define R_VERSION 0x01          /* ro 0x0101 (1.1) */
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
#define R_POWER_LIMIT 0x0E      /* rw 0.1 W/LSB power cap, 0xFFFF none (since version 1.1) */
#define R_LAST R_POWER_LIMIT

/* internal slot (not addressable: the pointer cannot reach it) set while a
 * latched JOB_DONE low word is waiting to be read */
#define I_DONE_LATCHED 0x80

#define ID_VALUE 0x534B
#define VERSION_VALUE 0x0101

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

static void reset(sk_plant *p, sk_device *d)
{
    sk_dev_clear(d, R_ID);
    d->regs[R_ID] = ID_VALUE;
    d->regs[R_VERSION] = VERSION_VALUE;
    sk_dev_arm(p, d, 0);                            /* no conversions: sampled on read */
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
    case R_POWER_LIMIT:
        if (p->cfg.payload.present) p->s.payload_power_limit_w = v * POWER_LSB_W;
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

/* telemetry is sampled now; write-only JOB_CTRL reads 0 */
static uint16_t read_word(sk_plant *p, const sk_device *d)
{
    const sk_state *s = &p->s;
    switch (d->pointer) {
    case R_ID:
    case R_VERSION:
    case R_JOB_ID:
    case R_JOB_WORK_HI:
    case R_JOB_WORK_LO:
        return d->regs[d->pointer];
    case R_STATUS:
        return status_word(p);
    case R_MODE:
        return (uint16_t)sk_dev_quantize(s->payload_mode, 1.0, 0, 0xFFFF);
    case R_JOB_DONE_HI:
        return (uint16_t)(done_units(p) >> 16);
    case R_JOB_DONE_LO:
        if (d->regs[I_DONE_LATCHED]) return d->regs[R_JOB_DONE_LO];
        return (uint16_t)(done_units(p) & 0xFFFF);
    case R_POWER:
        return (uint16_t)sk_dev_quantize(
            s->payload_power_w + d->offset + sk_dev_gauss(p, sk_dev_sigma(d, d->cfg.noise)),
            POWER_LSB_W, 0, 0xFFFF);
    case R_DIE_TEMP:
        return (uint16_t)(int16_t)sk_dev_quantize(s->payload_die_c, TEMP_LSB_C, -32768, 32767);
    case R_THROTTLE:
        return permille(s->payload_throttle);
    case R_THROUGHPUT:
        return permille(s->payload_throughput);
    case R_POWER_LIMIT:
        return (uint16_t)sk_dev_quantize(s->payload_power_limit_w, POWER_LSB_W, 0, 0xFFFF);
    case R_JOB_CTRL:                                /* write-only */
    default:
        return 0;
    }
}

/* reading JOB_DONE_HI latches the low word of the same count for the next
 * JOB_DONE_LO read; reading JOB_DONE_LO releases the latch */
static void after_read(sk_plant *p, sk_device *d)
{
    if (d->pointer == R_JOB_DONE_HI) {
        d->regs[R_JOB_DONE_LO] = (uint16_t)(done_units(p) & 0xFFFF);
        d->regs[I_DONE_LATCHED] = 1;
    } else if (d->pointer == R_JOB_DONE_LO) {
        d->regs[I_DONE_LATCHED] = 0;
    }
}

/* no convert hook: telemetry is sampled on read */
const sk_chip sk_chip_payload = {.width = 2, .has_reg = has_reg, .reset = reset, .write_reg = write_reg,
                                 .read_word = read_word, .after_read = after_read};
