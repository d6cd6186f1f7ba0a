/* The state file container (docs/FORMAT.md sections 3 and 5): a zero-copy decoder laid out in
 * the order of 3.2, and the encoder. The encoder serialises the header and then runs the very
 * same rules as the decoder on the bytes it wrote, so it can only emit what decode accepts, and
 * because every field has one encoding, decode then encode gives back the same bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "snap/crc64.h"
#include "snap/envelope.h"
#include "snap/error.h"
#include "snap/state.h"

/* Header field offsets, FORMAT.md 3.1. */
#define OFF_MAGIC 0u            /* 8 bytes */
#define OFF_VERSION_MAJOR 8u    /* u16 */
#define OFF_VERSION_MINOR 10u   /* u16 */
#define OFF_HEADER_LEN 12u      /* u32 */
#define OFF_PAYLOAD_LEN 16u     /* u64 */
#define OFF_SCHEMA_VERSION 24u  /* u32 */
#define OFF_FLAGS 28u           /* u32 */
#define OFF_KIND 32u            /* u32 */
#define OFF_PAGE_SIZE 36u       /* u32 */
#define OFF_RAM_SIZE 40u        /* u64 */
#define OFF_SNAPSHOT_ID 48u     /* 16 bytes */
#define OFF_GENERATION 64u      /* u64 */
#define OFF_BASE_ID 72u         /* 16 bytes */
#define OFF_BASE_GENERATION 88u /* u64 */
#define OFF_STATE_LEN 96u       /* u64 */
#define OFF_MEM_PAGES 104u      /* u64 */
#define OFF_MEM_FILE_LEN 112u   /* u64 */
#define OFF_RESERVED 120u       /* u64 */
#define OFF_MEM_NAME 128u       /* 64 bytes */
#define OFF_BASE_NAME 192u      /* 64 bytes */

/* Memory file trailer offsets, FORMAT.md 6. */
#define MT_OFF_MAGIC 0u
#define MT_OFF_SNAPSHOT_ID 8u
#define MT_OFF_GENERATION 24u
#define MT_OFF_MEM_PAGES 32u
#define MT_OFF_PAGE_SIZE 40u
#define MT_OFF_KIND 44u
#define MT_OFF_RESERVED 48u
#define MT_OFF_CRC 56u

#define MAGIC_LEN 8u
#define GENERATION_LIMIT (1ull << 63) /* generations are < 2^63 */

static int fail(struct snap_diag *diag, int code, const char *fmt, const char *what)
{
    return snap_diag_set(diag, code, 0, "decode", NULL, fmt, what);
}

static bool id_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

bool snap_id_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    while (s[n] != '\0') {
        if (n >= SNAP_ID_MAX_LEN || !id_char((uint8_t)s[n]))
            return false;
        n++;
    }
    return n > 0;
}

uint64_t snap_bitmap_count(const uint8_t *bm, uint64_t page_count)
{
    uint64_t n = 0;
    uint64_t full_bytes = page_count / 8;

    for (uint64_t j = 0; j < full_bytes; j++)
        n += (uint64_t)__builtin_popcount(bm[j]);
    if (page_count % 8 != 0) {
        unsigned mask = (1u << (page_count % 8)) - 1u;

        n += (uint64_t)__builtin_popcount(bm[full_bytes] & mask);
    }
    return n;
}

static bool page_size_valid(uint32_t page_size)
{
    return page_size == 4096u || page_size == 16384u || page_size == 65536u;
}

uint64_t snap_page_map_len(const struct snap_header *hdr)
{
    uint64_t pages;

    if (hdr == NULL || !page_size_valid(hdr->page_size) || hdr->ram_size % hdr->page_size != 0)
        return 0;
    pages = hdr->ram_size / hdr->page_size;
    if (pages == 0 || pages > SNAP_MAX_PAGES)
        return 0;
    if (hdr->kind == SNAP_KIND_FULL && hdr->mem_pages == pages)
        return 8 * pages;
    if (hdr->kind == SNAP_KIND_DIFF && hdr->mem_pages <= pages)
        return snap_bitmap_len(pages) + 8 * hdr->mem_pages;
    return 0;
}

uint64_t snap_envelope_len(const struct snap_header *hdr)
{
    if (hdr == NULL || hdr->payload_len > SNAP_MAX_PAYLOAD)
        return 0;
    return SNAP_HEADER_LEN + hdr->payload_len + SNAP_TRAILER_LEN;
}

/* Steps 1-3 of FORMAT.md 3.2: magic, version_major, header_len. */
static int check_prefix(const uint8_t *src, size_t src_len, struct snap_diag *diag)
{
    if (src_len < MAGIC_LEN) {
        if (src_len == 0 || memcmp(src, SNAP_MAGIC, src_len) == 0)
            return fail(diag, SNAP_ETRUNC, "%s: file ends inside the magic", "state file");
        return fail(diag, SNAP_EMAGIC, "%s: not a snapshot state file (magic)", "state file");
    }
    if (memcmp(src + OFF_MAGIC, SNAP_MAGIC, MAGIC_LEN) != 0)
        return fail(diag, SNAP_EMAGIC, "%s: not a snapshot state file (magic)", "state file");
    if (src_len < OFF_HEADER_LEN)
        return fail(diag, SNAP_ETRUNC, "%s: file ends inside the version", "state file");
    if (snap_get_le16(src + OFF_VERSION_MAJOR) != SNAP_VERSION_MAJOR)
        return snap_diag_set(diag, SNAP_EVERSION, 0, "decode", NULL,
                             "state file: unsupported version %u.%u (this reader knows 1.x)",
                             (unsigned)snap_get_le16(src + OFF_VERSION_MAJOR),
                             (unsigned)snap_get_le16(src + OFF_VERSION_MINOR));
    if (src_len < SNAP_HEADER_LEN)
        return fail(diag, SNAP_ETRUNC, "%s: file ends inside the 256-byte header", "state file");
    if (snap_get_le32(src + OFF_HEADER_LEN) != SNAP_HEADER_LEN)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: header_len is %" PRIu32 ", must be 256",
                             snap_get_le32(src + OFF_HEADER_LEN));
    return 0;
}

/* Step 6: schema_version and incompatible feature flags. */
static int check_features(const struct snap_header *h, struct snap_diag *diag)
{
    if (h->schema_version != SNAP_SCHEMA_VERSION)
        return snap_diag_set(diag, SNAP_EVERSION, 0, "decode", NULL,
                             "state file: unsupported schema_version %" PRIu32, h->schema_version);
    if ((h->flags & SNAP_FLAGS_INCOMPAT_MASK) != 0)
        return snap_diag_set(diag, SNAP_EVERSION, 0, "decode", NULL,
                             "state file: unsupported incompatible feature flags 0x%04" PRIx32,
                             h->flags & SNAP_FLAGS_INCOMPAT_MASK);
    return 0;
}

static void parse_header(struct snap_header *h, const uint8_t *src)
{
    memset(h, 0, sizeof(*h));
    h->version_major = snap_get_le16(src + OFF_VERSION_MAJOR);
    h->version_minor = snap_get_le16(src + OFF_VERSION_MINOR);
    h->header_len = snap_get_le32(src + OFF_HEADER_LEN);
    h->payload_len = snap_get_le64(src + OFF_PAYLOAD_LEN);
    h->schema_version = snap_get_le32(src + OFF_SCHEMA_VERSION);
    h->flags = snap_get_le32(src + OFF_FLAGS);
    h->kind = snap_get_le32(src + OFF_KIND);
    h->page_size = snap_get_le32(src + OFF_PAGE_SIZE);
    h->ram_size = snap_get_le64(src + OFF_RAM_SIZE);
    memcpy(h->snapshot_id, src + OFF_SNAPSHOT_ID, 16);
    h->generation = snap_get_le64(src + OFF_GENERATION);
    memcpy(h->base_id, src + OFF_BASE_ID, 16);
    h->base_generation = snap_get_le64(src + OFF_BASE_GENERATION);
    h->state_len = snap_get_le64(src + OFF_STATE_LEN);
    h->mem_pages = snap_get_le64(src + OFF_MEM_PAGES);
    h->mem_file_len = snap_get_le64(src + OFF_MEM_FILE_LEN);
    /* The name fields end in at least one NUL once check_mem_name/check_base_name passed;
     * copying all 64 bytes keeps them terminated. Callers see them only after those checks. */
    memcpy(h->mem_name, src + OFF_MEM_NAME, SNAP_NAME_FIELD_LEN);
    memcpy(h->base_name, src + OFF_BASE_NAME, SNAP_NAME_FIELD_LEN);
    h->mem_name[SNAP_NAME_FIELD_LEN - 1] = '\0';
    h->base_name[SNAP_NAME_FIELD_LEN - 1] = '\0';
}

/* Length of the name in a 64-byte field: 1..63 bytes before the first NUL and only NUL bytes
 * after it. @return the length, or 0 if the field breaks that rule. */
static size_t name_field_len(const uint8_t *f)
{
    size_t n = 0;

    while (n < SNAP_NAME_FIELD_LEN && f[n] != 0)
        n++;
    if (n == 0 || n == SNAP_NAME_FIELD_LEN)
        return 0;
    if (!all_zero(f + n, SNAP_NAME_FIELD_LEN - n))
        return 0;
    return n;
}

/* mem_name: "<id>.g<generation>.mem", NUL-padded. <id> holds no '.', so the first '.' ends it. */
static int check_mem_name(const uint8_t *f, uint64_t generation, struct snap_diag *diag)
{
    char want[32];
    size_t n = name_field_len(f);
    size_t id_len = 0;
    int w;

    if (n == 0)
        return fail(diag, SNAP_ECORRUPT, "state file: %s is empty or not NUL-padded", "mem_name");
    while (id_len < n && id_char(f[id_len]))
        id_len++;
    if (id_len == 0 || id_len > SNAP_ID_MAX_LEN || id_len == n || f[id_len] != '.')
        return fail(diag, SNAP_ECORRUPT, "state file: %s does not start with a valid <id>.",
                    "mem_name");
    w = snprintf(want, sizeof(want), ".g%" PRIu64 ".mem", generation);
    if (w < 0 || (size_t)w != n - id_len || memcmp(f + id_len, want, (size_t)w) != 0)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: mem_name is not <id>.g%" PRIu64 ".mem", generation);
    return 0;
}

static int check_base_name(const uint8_t *f, uint32_t kind, struct snap_diag *diag)
{
    size_t n;

    if (kind == SNAP_KIND_FULL) {
        if (!all_zero(f, SNAP_NAME_FIELD_LEN))
            return fail(diag, SNAP_ECORRUPT, "state file: %s must be all zero in a full snapshot",
                        "base_name");
        return 0;
    }
    n = name_field_len(f);
    if (n == 0 || n > SNAP_ID_MAX_LEN)
        return fail(diag, SNAP_ECORRUPT, "state file: %s is not a NUL-padded <id>", "base_name");
    for (size_t i = 0; i < n; i++) {
        if (!id_char(f[i]))
            return fail(diag, SNAP_ECORRUPT, "state file: %s is not a valid <id>", "base_name");
    }
    return 0;
}

/* Step 7, header part: the rules of 3.1 in table order, payload_len last (it depends on the
 * others). raw is the 256-byte header h was parsed from (for the name fields). */
static int check_fields(const struct snap_header *h, const uint8_t *raw, struct snap_diag *diag)
{
    uint64_t pages;
    uint64_t map_len;
    int rc;

    if (h->kind != SNAP_KIND_FULL && h->kind != SNAP_KIND_DIFF)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: kind %" PRIu32 " is neither 1 (full) nor 2 (diff)",
                             h->kind);
    if (!page_size_valid(h->page_size))
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: page_size %" PRIu32 " is not 4096, 16384 or 65536",
                             h->page_size);
    if (h->ram_size % h->page_size != 0 || h->ram_size == 0)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: ram_size %" PRIu64
                             " is not a non-zero multiple of page_size",
                             h->ram_size);
    pages = h->ram_size / h->page_size;
    if (pages > SNAP_MAX_PAGES)
        return snap_diag_set(diag, SNAP_ELIMIT, 0, "decode", NULL,
                             "state file: %" PRIu64 " guest pages, over the limit of 2^24", pages);
    if (all_zero(h->snapshot_id, 16))
        return fail(diag, SNAP_ECORRUPT, "state file: %s is all zero", "snapshot_id");
    if (h->generation == 0 || h->generation >= GENERATION_LIMIT)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: generation %" PRIu64 " is not in [1, 2^63)",
                             h->generation);
    if (h->kind == SNAP_KIND_FULL) {
        if (!all_zero(h->base_id, 16))
            return fail(diag, SNAP_ECORRUPT, "state file: %s must be zero in a full snapshot",
                        "base_id");
        if (h->base_generation != 0)
            return fail(diag, SNAP_ECORRUPT, "state file: %s must be zero in a full snapshot",
                        "base_generation");
    } else {
        if (all_zero(h->base_id, 16))
            return fail(diag, SNAP_ECORRUPT, "state file: %s is all zero in a diff snapshot",
                        "base_id");
        if (h->base_generation == 0 || h->base_generation >= GENERATION_LIMIT)
            return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                                 "state file: base_generation %" PRIu64 " is not in [1, 2^63)",
                                 h->base_generation);
    }
    if (h->state_len > SNAP_MAX_STATE_LEN)
        return snap_diag_set(diag, SNAP_ELIMIT, 0, "decode", NULL,
                             "state file: state_len %" PRIu64 " is over the limit of 64 MiB",
                             h->state_len);
    if (h->kind == SNAP_KIND_FULL && h->mem_pages != pages)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: mem_pages %" PRIu64 " of a full snapshot is not %" PRIu64
                             " (ram_size / page_size)",
                             h->mem_pages, pages);
    if (h->kind == SNAP_KIND_DIFF && h->mem_pages > pages)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: mem_pages %" PRIu64 " is more than the %" PRIu64
                             " guest pages",
                             h->mem_pages, pages);
    /* No overflow: mem_pages <= 2^24 and page_size <= 2^16. */
    if (h->mem_file_len != h->mem_pages * h->page_size + SNAP_MEM_TRAILER_LEN)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: mem_file_len %" PRIu64
                             " is not mem_pages * page_size + 64",
                             h->mem_file_len);
    if (!all_zero(raw + OFF_RESERVED, 8))
        return fail(diag, SNAP_ECORRUPT, "state file: %s field is not zero", "reserved");
    rc = check_mem_name(raw + OFF_MEM_NAME, h->generation, diag);
    if (rc != 0)
        return rc;
    rc = check_base_name(raw + OFF_BASE_NAME, h->kind, diag);
    if (rc != 0)
        return rc;
    map_len = snap_page_map_len(h);
    if (h->payload_len != h->state_len + map_len)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: payload_len %" PRIu64
                             " is not state_len + page map (%" PRIu64 ")",
                             h->payload_len, h->state_len + map_len);
    return 0;
}

/* Page map rules of section 5 for a diff: tail bits zero, popcount == mem_pages. */
static int check_bitmap(const struct snap_header *h, const uint8_t *bitmap, struct snap_diag *diag)
{
    uint64_t pages = h->ram_size / h->page_size;
    uint64_t bm_len = snap_bitmap_len(pages);
    uint64_t count;

    if (pages % 8 != 0 && (bitmap[bm_len - 1] >> (pages % 8)) != 0)
        return fail(diag, SNAP_ECORRUPT, "state file: %s has bits set past the last page",
                    "dirty bitmap");
    count = snap_bitmap_count(bitmap, pages);
    if (count != h->mem_pages)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: dirty bitmap has %" PRIu64
                             " pages set but mem_pages is %" PRIu64,
                             count, h->mem_pages);
    return 0;
}

int snap_header_decode(struct snap_header *out, const uint8_t *src, size_t src_len,
                       struct snap_diag *diag)
{
    struct snap_header h;
    int rc;

    if (out == NULL || (src == NULL && src_len != 0))
        return snap_diag_set(diag, SNAP_EINVAL, 0, "decode", NULL, "header decode: NULL argument");
    memset(out, 0, sizeof(*out));
    rc = check_prefix(src, src_len, diag);
    if (rc != 0)
        return rc;
    parse_header(&h, src);
    if (h.payload_len > SNAP_MAX_PAYLOAD)
        return snap_diag_set(diag, SNAP_ELIMIT, 0, "decode", NULL,
                             "state file: payload_len %" PRIu64 " is over the limit",
                             h.payload_len);
    rc = check_features(&h, diag);
    if (rc == 0)
        rc = check_fields(&h, src, diag);
    if (rc != 0)
        return rc;
    *out = h;
    return 0;
}

int snap_envelope_decode(struct snap_envelope *out, const uint8_t *src, size_t src_len,
                         struct snap_diag *diag)
{
    struct snap_header h;
    uint64_t body_len;
    uint64_t crc;
    const uint8_t *map;
    int rc;

    if (out == NULL || (src == NULL && src_len != 0))
        return snap_diag_set(diag, SNAP_EINVAL, 0, "decode", NULL,
                             "envelope decode: NULL argument");
    memset(out, 0, sizeof(*out));
    /* Steps 1-3. */
    rc = check_prefix(src, src_len, diag);
    if (rc != 0)
        return rc;
    parse_header(&h, src);
    /* Step 4: payload_len is bounded before any arithmetic on it. */
    if (h.payload_len > SNAP_MAX_PAYLOAD)
        return snap_diag_set(diag, SNAP_ELIMIT, 0, "decode", NULL,
                             "state file: payload_len %" PRIu64 " is over the limit",
                             h.payload_len);
    body_len = SNAP_HEADER_LEN + h.payload_len;
    if ((uint64_t)src_len < body_len + SNAP_TRAILER_LEN)
        return snap_diag_set(diag, SNAP_ETRUNC, 0, "decode", NULL,
                             "state file: %zu bytes, payload_len needs %" PRIu64, src_len,
                             body_len + SNAP_TRAILER_LEN);
    if ((uint64_t)src_len > body_len + SNAP_TRAILER_LEN)
        return snap_diag_set(diag, SNAP_ECORRUPT, 0, "decode", NULL,
                             "state file: %" PRIu64 " trailing bytes after the CRC trailer",
                             (uint64_t)src_len - body_len - SNAP_TRAILER_LEN);
    /* Step 5. */
    crc = snap_crc64(0, src, (size_t)body_len);
    if (crc != snap_get_le64(src + body_len))
        return snap_diag_set(diag, SNAP_ECRC, 0, "decode", NULL,
                             "state file: CRC mismatch (stored %016" PRIx64 ", computed %016" PRIx64
                             ")",
                             snap_get_le64(src + body_len), crc);
    /* Steps 6-7. */
    rc = check_features(&h, diag);
    if (rc == 0)
        rc = check_fields(&h, src, diag);
    if (rc != 0)
        return rc;
    /* payload_len == state_len + page map length was checked, so every view lies in src. */
    map = src + SNAP_HEADER_LEN + h.state_len;
    if (h.kind == SNAP_KIND_DIFF) {
        rc = check_bitmap(&h, map, diag);
        if (rc != 0)
            return rc;
        out->bitmap = map;
        map += snap_bitmap_len(h.ram_size / h.page_size);
    }
    out->hdr = h;
    out->state = src + SNAP_HEADER_LEN;
    out->page_crcs = map;
    return 0;
}

static void write_header(uint8_t *dst, const struct snap_header *h)
{
    size_t n;

    memset(dst, 0, SNAP_HEADER_LEN);
    memcpy(dst + OFF_MAGIC, SNAP_MAGIC, MAGIC_LEN);
    snap_put_le16(dst + OFF_VERSION_MAJOR, h->version_major);
    snap_put_le16(dst + OFF_VERSION_MINOR, h->version_minor);
    snap_put_le32(dst + OFF_HEADER_LEN, h->header_len);
    snap_put_le64(dst + OFF_PAYLOAD_LEN, h->payload_len);
    snap_put_le32(dst + OFF_SCHEMA_VERSION, h->schema_version);
    snap_put_le32(dst + OFF_FLAGS, h->flags);
    snap_put_le32(dst + OFF_KIND, h->kind);
    snap_put_le32(dst + OFF_PAGE_SIZE, h->page_size);
    snap_put_le64(dst + OFF_RAM_SIZE, h->ram_size);
    memcpy(dst + OFF_SNAPSHOT_ID, h->snapshot_id, 16);
    snap_put_le64(dst + OFF_GENERATION, h->generation);
    memcpy(dst + OFF_BASE_ID, h->base_id, 16);
    snap_put_le64(dst + OFF_BASE_GENERATION, h->base_generation);
    snap_put_le64(dst + OFF_STATE_LEN, h->state_len);
    snap_put_le64(dst + OFF_MEM_PAGES, h->mem_pages);
    snap_put_le64(dst + OFF_MEM_FILE_LEN, h->mem_file_len);
    /* reserved stays 0. A name longer than 63 bytes is written unterminated so the rules
     * below reject it. */
    n = strnlen(h->mem_name, SNAP_NAME_FIELD_LEN);
    memcpy(dst + OFF_MEM_NAME, h->mem_name, n);
    n = strnlen(h->base_name, SNAP_NAME_FIELD_LEN);
    memcpy(dst + OFF_BASE_NAME, h->base_name, n);
}

int snap_envelope_encode(uint8_t *dst, size_t dst_cap, size_t *out_len,
                         const struct snap_header *hdr, const uint8_t *state, const uint8_t *bitmap,
                         const uint64_t *page_crcs)
{
    uint8_t raw[SNAP_HEADER_LEN];
    struct snap_header check;
    uint64_t total;
    uint64_t pages;
    uint8_t *p;

    if (out_len != NULL)
        *out_len = 0;
    if (dst == NULL || out_len == NULL || hdr == NULL)
        return SNAP_EINVAL;
    if (hdr->version_major != SNAP_VERSION_MAJOR || hdr->header_len != SNAP_HEADER_LEN)
        return SNAP_EINVAL;
    write_header(raw, hdr);
    /* Exactly the decoder's rules, on the bytes about to be written. */
    if (snap_header_decode(&check, raw, sizeof(raw), NULL) != 0)
        return SNAP_EINVAL;
    if ((hdr->state_len != 0 && state == NULL) || (hdr->mem_pages != 0 && page_crcs == NULL))
        return SNAP_EINVAL;
    pages = hdr->ram_size / hdr->page_size;
    if (hdr->kind == SNAP_KIND_DIFF) {
        if (bitmap == NULL || check_bitmap(hdr, bitmap, NULL) != 0)
            return SNAP_EINVAL;
    } else if (bitmap != NULL) {
        return SNAP_EINVAL;
    }
    total = snap_envelope_len(hdr);
    if (total > (uint64_t)dst_cap)
        return SNAP_EINVAL;
    memcpy(dst, raw, SNAP_HEADER_LEN);
    p = dst + SNAP_HEADER_LEN;
    if (hdr->state_len != 0)
        memcpy(p, state, (size_t)hdr->state_len);
    p += hdr->state_len;
    if (hdr->kind == SNAP_KIND_DIFF) {
        memcpy(p, bitmap, (size_t)snap_bitmap_len(pages));
        p += snap_bitmap_len(pages);
    }
    for (uint64_t i = 0; i < hdr->mem_pages; i++) {
        snap_put_le64(p, page_crcs[i]);
        p += 8;
    }
    snap_put_le64(p, snap_crc64(0, dst, (size_t)(total - SNAP_TRAILER_LEN)));
    *out_len = (size_t)total;
    return 0;
}

void snap_mem_trailer_encode(uint8_t dst[SNAP_MEM_TRAILER_LEN], const struct snap_mem_trailer *t)
{
    memset(dst, 0, SNAP_MEM_TRAILER_LEN);
    memcpy(dst + MT_OFF_MAGIC, SNAP_MEM_MAGIC, MAGIC_LEN);
    memcpy(dst + MT_OFF_SNAPSHOT_ID, t->snapshot_id, 16);
    snap_put_le64(dst + MT_OFF_GENERATION, t->generation);
    snap_put_le64(dst + MT_OFF_MEM_PAGES, t->mem_pages);
    snap_put_le32(dst + MT_OFF_PAGE_SIZE, t->page_size);
    snap_put_le32(dst + MT_OFF_KIND, t->kind);
    snap_put_le64(dst + MT_OFF_CRC, snap_crc64(0, dst, MT_OFF_CRC));
}

int snap_mem_trailer_decode(struct snap_mem_trailer *out, const uint8_t src[SNAP_MEM_TRAILER_LEN])
{
    memset(out, 0, sizeof(*out));
    if (memcmp(src + MT_OFF_MAGIC, SNAP_MEM_MAGIC, MAGIC_LEN) != 0)
        return SNAP_EMAGIC;
    if (snap_crc64(0, src, MT_OFF_CRC) != snap_get_le64(src + MT_OFF_CRC))
        return SNAP_ECRC;
    if (!all_zero(src + MT_OFF_RESERVED, 8))
        return SNAP_ECORRUPT;
    memcpy(out->snapshot_id, src + MT_OFF_SNAPSHOT_ID, 16);
    out->generation = snap_get_le64(src + MT_OFF_GENERATION);
    out->mem_pages = snap_get_le64(src + MT_OFF_MEM_PAGES);
    out->page_size = snap_get_le32(src + MT_OFF_PAGE_SIZE);
    out->kind = snap_get_le32(src + MT_OFF_KIND);
    return 0;
}
