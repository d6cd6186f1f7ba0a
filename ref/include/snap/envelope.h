/* The state file container: 256-byte header, encoded state, page map, CRC64 trailer.
 * Zero-copy decoder and the matching encoder. docs/FORMAT.md section 3 and 5. */
#ifndef SNAP_ENVELOPE_H
#define SNAP_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "\x89SNAP\r\n\x1a"     /* magic: 8 bytes */
#define SNAP_MEM_MAGIC "\x89SMEM\r\n\x1a" /* memory file trailer magic: 8 bytes */
#define SNAP_VERSION_MAJOR 1u
#define SNAP_VERSION_MINOR 0u
#define SNAP_HEADER_LEN 256u
#define SNAP_TRAILER_LEN 8u
#define SNAP_MEM_TRAILER_LEN 64u
#define SNAP_NAME_FIELD_LEN 64u
#define SNAP_ID_MAX_LEN 40u
#define SNAP_MAX_PAGES (1ull << 24)
#define SNAP_MAX_PAYLOAD ((uint64_t)(64u << 20) + (1u << 21) + 8ull * SNAP_MAX_PAGES)
#define SNAP_FLAGS_INCOMPAT_MASK 0x0000ffffu

enum snap_kind { SNAP_KIND_FULL = 1, SNAP_KIND_DIFF = 2 };

/* Decoded header, field for field (FORMAT.md 3.1). Names are NUL-terminated. */
struct snap_header {
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t header_len;
    uint64_t payload_len;
    uint32_t schema_version;
    uint32_t flags;
    uint32_t kind; /* enum snap_kind */
    uint32_t page_size;
    uint64_t ram_size;
    uint8_t snapshot_id[16];
    uint64_t generation;
    uint8_t base_id[16];
    uint64_t base_generation;
    uint64_t state_len;
    uint64_t mem_pages;
    uint64_t mem_file_len;
    char mem_name[SNAP_NAME_FIELD_LEN];
    char base_name[SNAP_NAME_FIELD_LEN];
};

/* A decoded state file: the header plus views into the caller's buffer (valid while it is). */
struct snap_envelope {
    struct snap_header hdr;
    const uint8_t *state;     /* hdr.state_len bytes of encoded VM state */
    const uint8_t *bitmap;    /* diff: ceil(page_count/8) bytes; full: NULL */
    const uint8_t *page_crcs; /* hdr.mem_pages little-endian u64 */
};

/* Decode and validate a whole state file in the order of FORMAT.md 3.2 (magic, version,
 * header_len, lengths, CRC, schema/flags, header rules, page map). The state bytes are not
 * decoded here (snap_state_decode does that).
 * @return 0, SNAP_EMAGIC, SNAP_EVERSION, SNAP_ETRUNC, SNAP_ECRC, SNAP_ECORRUPT, SNAP_ELIMIT;
 *         diag (may be NULL) names the field. out is zeroed on failure. */
struct snap_diag;
int snap_envelope_decode(struct snap_envelope *out, const uint8_t *src, size_t src_len,
                         struct snap_diag *diag);

/* Decode only the 256-byte header, steps 1-3 of 3.2 and the field rules, without the CRC
 * (describe of a damaged file, generation scan). @return as above minus SNAP_ECRC. */
int snap_header_decode(struct snap_header *out, const uint8_t *src, size_t src_len,
                       struct snap_diag *diag);

/* Length of the page map for hdr (0 if hdr is inconsistent). */
uint64_t snap_page_map_len(const struct snap_header *hdr);

/* Length of the whole state file for hdr: 256 + payload_len + 8. */
uint64_t snap_envelope_len(const struct snap_header *hdr);

/* Encode a state file. hdr must be complete and consistent (payload_len, state_len, mem_pages,
 * mem_file_len, names); bitmap NULL for full; page_crcs hdr->mem_pages values (host order).
 * @return 0, SNAP_EINVAL (inconsistent hdr, dst_cap too small). */
int snap_envelope_encode(uint8_t *dst, size_t dst_cap, size_t *out_len,
                         const struct snap_header *hdr, const uint8_t *state,
                         const uint8_t *bitmap, const uint64_t *page_crcs);

/* Memory file trailer (FORMAT.md 6). */
struct snap_mem_trailer {
    uint8_t snapshot_id[16];
    uint64_t generation;
    uint64_t mem_pages;
    uint32_t page_size;
    uint32_t kind;
};
void snap_mem_trailer_encode(uint8_t dst[SNAP_MEM_TRAILER_LEN], const struct snap_mem_trailer *t);
/* @return 0, SNAP_EMAGIC, SNAP_ECRC, SNAP_ECORRUPT (reserved not zero). */
int snap_mem_trailer_decode(struct snap_mem_trailer *out, const uint8_t src[SNAP_MEM_TRAILER_LEN]);

/* Dirty bitmap helpers: bit i of byte j is page 8j+i. */
static inline bool snap_bitmap_test(const uint8_t *bm, uint64_t page)
{
    return (bm[page >> 3] >> (page & 7)) & 1u;
}
static inline void snap_bitmap_set(uint8_t *bm, uint64_t page)
{
    bm[page >> 3] = (uint8_t)(bm[page >> 3] | (1u << (page & 7)));
}
uint64_t snap_bitmap_count(const uint8_t *bm, uint64_t page_count);
static inline uint64_t snap_bitmap_len(uint64_t page_count)
{
    return (page_count + 7) / 8;
}

/* True if s is a valid <id>: 1..40 bytes of [A-Za-z0-9_-]. */
bool snap_id_valid(const char *s);

/* Little-endian helpers shared by the codecs. */
static inline uint16_t snap_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t snap_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t snap_get_le64(const uint8_t *p)
{
    return (uint64_t)snap_get_le32(p) | ((uint64_t)snap_get_le32(p + 4) << 32);
}
static inline void snap_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void snap_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void snap_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif
