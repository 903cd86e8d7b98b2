/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no final XOR),
 * the CCSDS frame error control field, by slicing-by-8: eight table lookups
 * per eight octets instead of one dependent lookup per octet. */
#include "sklink.h"

static uint16_t T[8][256];
static int tables_ready = 0;

static void make_tables(void)
{
    for (int i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++) c = (uint16_t)((c & 0x8000) ? (c << 1) ^ 0x1021 : c << 1);
        T[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            T[k][i] = (uint16_t)((T[k - 1][i] << 8) ^ T[0][T[k - 1][i] >> 8]);
    tables_ready = 1;
}

uint16_t skl_crc16(const uint8_t *p, size_t len, uint16_t crc)
{
    if (!tables_ready) make_tables();
    while (len >= 8) {
        crc = (uint16_t)(T[7][p[0] ^ (crc >> 8)] ^ T[6][p[1] ^ (crc & 0xFF)] ^ T[5][p[2]] ^ T[4][p[3]] ^
                         T[3][p[4]] ^ T[2][p[5]] ^ T[1][p[6]] ^ T[0][p[7]]);
        p += 8;
        len -= 8;
    }
    while (len--) crc = (uint16_t)((crc << 8) ^ T[0][(crc >> 8) ^ *p++]);
    return crc;
}

void skl_crc16_rows(const uint8_t *base, size_t n, size_t stride, size_t len, uint16_t init, uint16_t *out)
{
    for (size_t k = 0; k < n; k++) out[k] = skl_crc16(base + k * stride, len, init);
}
