/* CRC-64/XZ (docs/FORMAT.md section 2): reflected poly 0x42F0E1EBA9EA3693, init and xorout all
 * ones. A portable slicing-by-8 implementation that is always built, and ISA-L's
 * crc64_ecma_refl as the fast path when the library is built with SNAP_HAVE_ISAL.
 * The tables are computed once on first use under pthread_once, so concurrent first calls are safe.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "snap/crc64.h"

#ifdef SNAP_HAVE_ISAL
#include <isa-l/crc64.h>
#endif

/* 0x42F0E1EBA9EA3693 bit-reversed, for the reflected (LSB-first) algorithm. */
#define CRC64_XZ_POLY_REFLECTED 0xC96C5795D7870F42ull

static uint64_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;

        for (int bit = 0; bit < 8; bit++)
            c = (c & 1u) ? (c >> 1) ^ CRC64_XZ_POLY_REFLECTED : c >> 1;
        crc_table[0][i] = c;
    }
    /* crc_table[k][i]: the CRC contribution of byte i followed by k zero bytes. */
    for (unsigned i = 0; i < 256; i++) {
        for (int k = 1; k < 8; k++) {
            uint64_t prev = crc_table[k - 1][i];

            crc_table[k][i] = (prev >> 8) ^ crc_table[0][prev & 0xffu];
        }
    }
}

static uint64_t load_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;

    memcpy(&v, p, sizeof(v)); /* one unaligned load */
    return v;
#else
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
#endif
}

uint64_t snap_crc64_portable(uint64_t crc, const void *src, size_t src_len)
{
    const uint8_t *p = src;

    if (src_len == 0)
        return crc;
    pthread_once(&crc_table_once, crc_table_init);
    crc = ~crc;
    while (src_len >= 8) {
        crc ^= load_le64(p);
        crc = crc_table[7][crc & 0xffu] ^ crc_table[6][(crc >> 8) & 0xffu] ^
              crc_table[5][(crc >> 16) & 0xffu] ^ crc_table[4][(crc >> 24) & 0xffu] ^
              crc_table[3][(crc >> 32) & 0xffu] ^ crc_table[2][(crc >> 40) & 0xffu] ^
              crc_table[1][(crc >> 48) & 0xffu] ^ crc_table[0][crc >> 56];
        p += 8;
        src_len -= 8;
    }
    while (src_len > 0) {
        crc = crc_table[0][(crc ^ *p) & 0xffu] ^ (crc >> 8);
        p++;
        src_len--;
    }
    return ~crc;
}

uint64_t snap_crc64(uint64_t crc, const void *src, size_t src_len)
{
#ifdef SNAP_HAVE_ISAL
    if (src_len == 0)
        return crc;
    return crc64_ecma_refl(crc, src, (uint64_t)src_len);
#else
    return snap_crc64_portable(crc, src, src_len);
#endif
}

const char *snap_crc64_impl(void)
{
#ifdef SNAP_HAVE_ISAL
    return "isa-l";
#else
    return "portable";
#endif
}
