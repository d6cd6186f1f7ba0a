/* CRC-64/XZ (init and xorout all ones, reflected, poly 0x42F0E1EBA9EA3693): the checksum of
 * state files, memory trailers and pages. docs/FORMAT.md section 2. */
#ifndef SNAP_CRC64_H
#define SNAP_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0 for a new buffer; snap_crc64(snap_crc64(0, a), b) equals the
 * CRC of a followed by b. Check value: snap_crc64(0, "123456789", 9) == 0x995DC9BBDF1939FA.
 * Uses ISA-L's crc64_ecma_refl when built with it (meson feature isal), else portable
 * slicing-by-8. */
uint64_t snap_crc64(uint64_t crc, const void *src, size_t src_len);

/* The portable implementation, always compiled: the ISA-L path is tested against it. */
uint64_t snap_crc64_portable(uint64_t crc, const void *src, size_t src_len);

/* "isa-l" or "portable": which implementation snap_crc64 uses. */
const char *snap_crc64_impl(void);

#endif
