/* Skyrack link layer hot paths: CRC-16/CCITT-FALSE (slicing-by-8) and a
 * streaming CADU / TM frame deframer with packet reassembly per virtual
 * channel. Plain C declarations only (fed to cffi's cdef). */
#ifndef SKLINK_H
#define SKLINK_H
#include <stddef.h>
#include <stdint.h>

#define SKL_MAX_VC 8
#define SKL_OK 0
#define SKL_ERR_ARG -3
#define SKL_ERR_NOMEM -7

/* input formats */
#define SKL_FMT_CADU 0
#define SKL_FMT_FRAMES 1
#define SKL_FMT_PACKETS 2

uint16_t skl_crc16(const uint8_t *data, size_t len, uint16_t init);
/* CRC of each of n rows (row k starts at base + k * stride, len octets) */
void skl_crc16_rows(const uint8_t *base, size_t n, size_t stride, size_t len, uint16_t init, uint16_t *out);
void skl_derandomize(uint8_t *frame, size_t len);

typedef struct {
    int format;             /* SKL_FMT_* */
    int frame_len;          /* transfer frame octets, without the sync marker */
    int randomized;
    int has_ocf;
    int has_fecf;
    int scid;               /* -1: accept any spacecraft */
} skl_config;

typedef struct {
    uint64_t frames;            /* frames accepted (CRC good, right length and version) */
    uint64_t crc_errors;        /* frames whose FECF did not match */
    uint64_t bad_frames;        /* wrong version or spacecraft */
    uint64_t bytes_skipped;     /* octets outside any sync-marked frame */
    uint64_t frame_gaps;        /* breaks in a VC frame count */
    uint64_t frames_missing;    /* frames those breaks skipped */
    uint64_t idle_frames;
    uint64_t packets;           /* complete packets delivered (idle packets excluded) */
    uint64_t idle_packets;
    uint64_t packets_dropped;   /* partial packets abandoned at a gap or inconsistency */
    uint64_t bad_packets;       /* headers that cannot be a space packet (version != 0) */
    uint64_t vc_frames[SKL_MAX_VC];
    uint64_t vc_gaps[SKL_MAX_VC];
    uint64_t vc_missing[SKL_MAX_VC];
} skl_stats;

typedef struct skl_deframer skl_deframer;

skl_deframer *skl_deframer_new(const skl_config *cfg);
void skl_deframer_free(skl_deframer *d);
/* feed a chunk; complete packets go to the output arena (valid until the next feed) */
int skl_deframer_feed(skl_deframer *d, const uint8_t *data, size_t len);
/* end of stream: what is pending is counted as skipped or dropped */
void skl_deframer_finish(skl_deframer *d);
const skl_stats *skl_deframer_stats(const skl_deframer *d);
size_t skl_out_count(const skl_deframer *d);
const uint8_t *skl_out_data(const skl_deframer *d);
const uint32_t *skl_out_offsets(const skl_deframer *d);  /* count + 1 offsets into data */
const uint8_t *skl_out_vcids(const skl_deframer *d);
#endif
