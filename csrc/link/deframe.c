/* Streaming deframer: a byte stream of CADUs (or bare frames, or bare space
 * packets) in, complete space packets out, per virtual channel.
 *
 * Sync: the attached sync marker 1ACFFC1D is searched octet by octet; once a
 * frame is accepted the next marker is expected right after it. A frame is
 * accepted when its FECF matches (after de-randomization), its version is 0
 * and its spacecraft ID matches. A marker whose frame fails the CRC is counted
 * as a CRC error; the frame is skipped as a whole when the next marker follows
 * it at the frame length, otherwise the search resumes one octet later and
 * the octets it passes count as skipped.
 *
 * Packets: the first header pointer says where the first packet starts in a
 * frame; a packet left unfinished at the end of a frame continues in the next
 * frame of its VC. A break in the VC frame count abandons the unfinished
 * packet. Decisions depend only on the bytes, never on how they were chunked:
 * a stream fed one octet at a time gives the same packets and counters. */
#include <stdlib.h>
#include <string.h>
#include "sklink.h"

#define ASM0 0x1A
#define ASM1 0xCF
#define ASM2 0xFC
#define ASM3 0x1D
#define MAX_PACKET 65542
#define FHP_NONE 0x7FF
#define FHP_IDLE 0x7FE

typedef struct {
    int seen;
    int last_count;
    uint8_t *buf;           /* unfinished packet */
    size_t len;
    int active;
} vc_state;

struct skl_deframer {
    skl_config cfg;
    size_t unit;            /* octets per CADU (or per frame) */
    uint8_t *in;            /* octets not yet consumed */
    size_t in_len, in_cap;
    uint8_t *work;          /* de-randomized copy of one frame */
    uint8_t pn[255];
    vc_state vc[SKL_MAX_VC];
    uint8_t *out;
    size_t out_len, out_cap;
    uint32_t *offs;
    uint8_t *vcids;
    size_t n_out, rec_cap, vcid_cap;
    skl_stats st;
    int rejected;           /* the last continue_partial dropped a header that was not a packet's */
};

static void make_pn(uint8_t pn[255])
{
    /* h(x) = x^8 + x^7 + x^5 + x^3 + 1, all-ones seed (CCSDS 131.0-B) */
    uint8_t reg = 0xFF;
    for (int i = 0; i < 255; i++) {
        uint8_t byte = 0;
        for (int b = 0; b < 8; b++) {
            int out = reg & 1;
            byte = (uint8_t)((byte << 1) | out);
            int fb = ((reg >> 0) ^ (reg >> 3) ^ (reg >> 5) ^ (reg >> 7)) & 1;
            reg = (uint8_t)((reg >> 1) | (fb << 7));
        }
        pn[i] = byte;
    }
}

void skl_derandomize(uint8_t *frame, size_t len)
{
    uint8_t pn[255];
    make_pn(pn);
    for (size_t i = 0; i < len; i++) frame[i] ^= pn[i % 255];
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

skl_deframer *skl_deframer_new(const skl_config *cfg)
{
    if (!cfg || cfg->format < SKL_FMT_CADU || cfg->format > SKL_FMT_PACKETS) return NULL;
    if (cfg->format != SKL_FMT_PACKETS && (cfg->frame_len < 7 + 6 || cfg->frame_len > 65536)) return NULL;
    skl_deframer *d = (skl_deframer *)calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->cfg = *cfg;
    d->unit = cfg->format == SKL_FMT_CADU ? (size_t)cfg->frame_len + 4 : (size_t)cfg->frame_len;
    make_pn(d->pn);
    d->work = (uint8_t *)malloc(cfg->frame_len > 0 ? (size_t)cfg->frame_len : 1);
    int ok = d->work != NULL;
    for (int v = 0; v < SKL_MAX_VC && ok; v++) {
        d->vc[v].buf = (uint8_t *)malloc(MAX_PACKET);
        ok = d->vc[v].buf != NULL;
    }
    if (!ok) {
        skl_deframer_free(d);
        return NULL;
    }
    (void)skl_crc16((const uint8_t *)"", 0, 0xFFFF);  /* build the CRC tables now */
    return d;
}

void skl_deframer_free(skl_deframer *d)
{
    if (!d) return;
    for (int v = 0; v < SKL_MAX_VC; v++) free(d->vc[v].buf);
    free(d->in);
    free(d->work);
    free(d->out);
    free(d->offs);
    free(d->vcids);
    free(d);
}

const skl_stats *skl_deframer_stats(const skl_deframer *d) { return &d->st; }
size_t skl_out_count(const skl_deframer *d) { return d->n_out; }
const uint8_t *skl_out_data(const skl_deframer *d) { return d->out; }
const uint32_t *skl_out_offsets(const skl_deframer *d) { return d->offs; }
const uint8_t *skl_out_vcids(const skl_deframer *d) { return d->vcids; }

static int deliver(skl_deframer *d, int vcid, const uint8_t *pkt, size_t len)
{
    if (len >= 2 && ((((size_t)pkt[0] & 0x07) << 8) | pkt[1]) == 0x7FF) {
        d->st.idle_packets++;
        return SKL_OK;
    }
    if (!grow((void **)&d->out, &d->out_cap, d->out_len + len, 1)) return SKL_ERR_NOMEM;
    if (!grow((void **)&d->offs, &d->rec_cap, d->n_out + 2, sizeof(uint32_t))) return SKL_ERR_NOMEM;
    if (!grow((void **)&d->vcids, &d->vcid_cap, d->n_out + 2, 1)) return SKL_ERR_NOMEM;
    memcpy(d->out + d->out_len, pkt, len);
    d->offs[d->n_out] = (uint32_t)d->out_len;
    d->vcids[d->n_out] = (uint8_t)vcid;
    d->out_len += len;
    d->n_out++;
    d->offs[d->n_out] = (uint32_t)d->out_len;
    d->st.packets++;
    return SKL_OK;
}

static void drop_partial(skl_deframer *d, vc_state *s)
{
    if (s->active) d->st.packets_dropped++;
    s->active = 0;
    s->len = 0;
}

static size_t packet_total(const uint8_t *h) { return (((size_t)h[4] << 8) | h[5]) + 7; }

/* append to an unfinished packet; returns octets used from src, completes
 * and delivers the packet when it is whole */
static size_t continue_partial(skl_deframer *d, int vcid, const uint8_t *src, size_t n, int *rc)
{
    vc_state *s = &d->vc[vcid];
    size_t used = 0;
    *rc = SKL_OK;
    d->rejected = 0;
    if (s->len < 6) {
        size_t take = 6 - s->len < n ? 6 - s->len : n;
        memcpy(s->buf + s->len, src, take);
        s->len += take;
        used = take;
        if (s->len < 6) return used;
        if ((s->buf[0] >> 5) != 0) {
            d->st.bad_packets++;   /* not a packet header */
            s->active = 0;
            s->len = 0;
            d->rejected = 1;
            return used;
        }
    }
    size_t total = packet_total(s->buf);
    size_t want = total - s->len;
    size_t take = want < n - used ? want : n - used;
    memcpy(s->buf + s->len, src + used, take);
    s->len += take;
    used += take;
    if (s->len == total) {
        *rc = deliver(d, vcid, s->buf, total);
        s->active = 0;
        s->len = 0;
    }
    return used;
}

/* packets from a frame's data field; fhp as in the header */
static int packets_from_field(skl_deframer *d, int vcid, const uint8_t *f, size_t n, int fhp)
{
    vc_state *s = &d->vc[vcid];
    int rc = SKL_OK;
    if (fhp == FHP_IDLE) {
        d->st.idle_frames++;
        drop_partial(d, s);
        return SKL_OK;
    }
    size_t lead = fhp == FHP_NONE ? n : (size_t)fhp;
    if (fhp != FHP_NONE && (size_t)fhp > n) {
        d->st.bad_frames++;
        drop_partial(d, s);
        return SKL_OK;
    }
    if (s->active) {
        size_t used = continue_partial(d, vcid, f, lead, &rc);
        if (rc != SKL_OK) return rc;
        if (s->active && fhp != FHP_NONE) {
            /* a new packet starts before the unfinished one is whole */
            d->st.bad_packets++;
            drop_partial(d, s);
        } else if (!s->active && used < lead && !d->rejected) {
            /* the unfinished packet ended before the first header pointer */
            d->st.bad_packets++;
        }
    }
    if (fhp == FHP_NONE) return SKL_OK;
    size_t p = (size_t)fhp;
    while (p < n) {
        if (n - p < 6) {
            s->active = 1;
            s->len = 0;
            continue_partial(d, vcid, f + p, n - p, &rc);
            return rc;
        }
        if ((f[p] >> 5) != 0) {
            d->st.bad_packets++;   /* not a packet header: wait for the next first header pointer */
            return SKL_OK;
        }
        size_t total = packet_total(f + p);
        if (p + total <= n) {
            rc = deliver(d, vcid, f + p, total);
            if (rc != SKL_OK) return rc;
            p += total;
        } else {
            s->active = 1;
            s->len = 0;
            continue_partial(d, vcid, f + p, n - p, &rc);
            return rc;
        }
    }
    return SKL_OK;
}

#define FRAME_OK 0
#define FRAME_CRC 1
#define FRAME_BAD 2

/* verdict on one frame, without side effects on the counters; leaves the
 * (de-randomized) frame in *out */
static int check_frame(skl_deframer *d, const uint8_t *raw, const uint8_t **out)
{
    size_t fl = (size_t)d->cfg.frame_len;
    const uint8_t *f = raw;
    if (d->cfg.randomized) {
        for (size_t i = 0; i < fl; i++) d->work[i] = raw[i] ^ d->pn[i % 255];
        f = d->work;
    }
    *out = f;
    if (d->cfg.has_fecf && skl_crc16(f, fl - 2, 0xFFFF) != (uint16_t)((f[fl - 2] << 8) | f[fl - 1]))
        return FRAME_CRC;
    int scid = ((f[0] & 0x3F) << 4) | (f[1] >> 4);
    if ((f[0] >> 6) != 0 || (d->cfg.scid >= 0 && scid != d->cfg.scid)) return FRAME_BAD;
    return FRAME_OK;
}

static void count_rejected(skl_deframer *d, int verdict)
{
    if (verdict == FRAME_CRC) d->st.crc_errors++;
    else d->st.bad_frames++;
}

/* take an accepted frame: counters, VC continuity, packets */
static int accept_frame(skl_deframer *d, const uint8_t *f)
{
    size_t fl = (size_t)d->cfg.frame_len;
    int vcid = (f[1] >> 1) & 0x7;
    int ocf = f[1] & 1;
    int count = f[3];
    int dfs = (f[4] << 8) | f[5];
    d->st.frames++;
    d->st.vc_frames[vcid]++;
    vc_state *s = &d->vc[vcid];
    if (s->seen) {
        int expect = (s->last_count + 1) & 0xFF;
        if (count != expect) {
            int missing = (count - expect) & 0xFF;
            d->st.frame_gaps++;
            d->st.frames_missing += (uint64_t)missing;
            d->st.vc_gaps[vcid]++;
            d->st.vc_missing[vcid] += (uint64_t)missing;
            drop_partial(d, s);
        }
    }
    s->seen = 1;
    s->last_count = count;
    size_t start = 6, end = fl - (ocf ? 4 : 0) - (d->cfg.has_fecf ? 2 : 0);
    if (dfs & 0x8000) start += 1 + (size_t)(f[6] & 0x3F);   /* secondary header: ID octet + length - 1 */
    if ((dfs & 0x4000) || start >= end) {
        d->st.bad_frames++;   /* sync flag set (not packet data) or no data field */
        drop_partial(d, s);
        return SKL_OK;
    }
    return packets_from_field(d, vcid, f + start, end - start, dfs & 0x7FF);
}

static int is_asm(const uint8_t *p) { return p[0] == ASM0 && p[1] == ASM1 && p[2] == ASM2 && p[3] == ASM3; }

/* bare space packets back to back */
static int feed_packets(skl_deframer *d, size_t *pos_io)
{
    size_t pos = *pos_io;
    int rc = SKL_OK;
    while (d->in_len - pos >= 6) {
        const uint8_t *h = d->in + pos;
        if ((h[0] >> 5) != 0) {
            d->st.bytes_skipped++;
            pos++;
            continue;
        }
        size_t total = packet_total(h);
        if (d->in_len - pos < total) break;
        rc = deliver(d, 0, h, total);
        if (rc != SKL_OK) break;
        pos += total;
    }
    *pos_io = pos;
    return rc;
}

static int feed_frames(skl_deframer *d, size_t *pos_io, int final)
{
    size_t pos = *pos_io, unit = d->unit;
    int cadu = d->cfg.format == SKL_FMT_CADU;
    const uint8_t *f;
    while (d->in_len - pos >= unit) {
        if (!cadu) {
            int v = check_frame(d, d->in + pos, &f);
            if (v == FRAME_OK) {
                int rc = accept_frame(d, f);
                if (rc != SKL_OK) return rc;
            } else {
                count_rejected(d, v);
            }
            pos += unit;
            continue;
        }
        if (is_asm(d->in + pos)) {
            int v = check_frame(d, d->in + pos + 4, &f);
            if (v == FRAME_OK) {
                int rc = accept_frame(d, f);
                if (rc != SKL_OK) return rc;
                pos += unit;
                continue;
            }
            /* rejected (a marker in random data is a 1 in 2^32 event, so it is
             * counted as a damaged frame): skip it whole when the next marker
             * follows at the frame length, else search again from the next octet */
            if (d->in_len - pos < unit + 4 && !final) break;   /* decide when the next marker is here */
            count_rejected(d, v);
            if ((d->in_len - pos >= unit + 4 && is_asm(d->in + pos + unit)) || (final && d->in_len - pos == unit)) {
                pos += unit;   /* the next marker (or the end of the stream) is where this frame ends */
                continue;
            }
            d->st.bytes_skipped++;
            pos++;
            continue;
        }
        /* search for the next marker */
        const uint8_t *base = d->in;
        size_t i = pos + 1, lim = d->in_len - 3;
        while (i < lim) {
            const uint8_t *q = (const uint8_t *)memchr(base + i, ASM0, lim - i);
            if (!q) {
                i = lim;
                break;
            }
            i = (size_t)(q - base);
            if (is_asm(q)) break;
            i++;
        }
        d->st.bytes_skipped += i - pos;
        pos = i;
    }
    *pos_io = pos;
    return SKL_OK;
}

static int run(skl_deframer *d, int final)
{
    size_t pos = 0;
    int rc = d->cfg.format == SKL_FMT_PACKETS ? feed_packets(d, &pos) : feed_frames(d, &pos, final);
    if (pos > 0) {
        memmove(d->in, d->in + pos, d->in_len - pos);
        d->in_len -= pos;
    }
    return rc;
}

int skl_deframer_feed(skl_deframer *d, const uint8_t *data, size_t len)
{
    if (!d || (!data && len)) return SKL_ERR_ARG;
    d->out_len = 0;
    d->n_out = 0;
    if (!grow((void **)&d->in, &d->in_cap, d->in_len + len, 1)) return SKL_ERR_NOMEM;
    if (len) memcpy(d->in + d->in_len, data, len);
    d->in_len += len;
    return run(d, 0);
}

void skl_deframer_finish(skl_deframer *d)
{
    if (!d) return;
    d->out_len = 0;
    d->n_out = 0;
    run(d, 1);
    d->st.bytes_skipped += d->in_len;
    d->in_len = 0;
    for (int v = 0; v < SKL_MAX_VC; v++) drop_partial(d, &d->vc[v]);
}
