/* Unit tests of ref/src/envelope.c: round trips, the decoding order of FORMAT.md 3.2 (every
 * truncation, every single-bit flip with its expected error class), each header rule of 3.1,
 * the page map rules of 5, the memory trailer and the small helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "snap/crc64.h"
#include "snap/envelope.h"
#include "snap/error.h"

#define CAP (1u << 20)

struct fixture {
    struct snap_header hdr;
    uint8_t state[40];
    uint8_t bitmap[64];
    uint64_t crcs[512];
    uint8_t *file;
    size_t len;
};

/* A valid header: kind, page_size, pages of guest RAM; a diff stores the pages i with i % 3 == 0.
 */
static void make(struct fixture *f, uint32_t kind, uint32_t page_size, uint64_t pages)
{
    uint64_t stored = 0;

    memset(f, 0, sizeof(*f));
    f->hdr.version_major = 1;
    f->hdr.header_len = SNAP_HEADER_LEN;
    f->hdr.schema_version = 1;
    f->hdr.kind = kind;
    f->hdr.page_size = page_size;
    f->hdr.ram_size = pages * page_size;
    for (int i = 0; i < 16; i++)
        f->hdr.snapshot_id[i] = (uint8_t)(0xA0 + i);
    f->hdr.generation = 7;
    for (size_t i = 0; i < sizeof(f->state); i++)
        f->state[i] = (uint8_t)(i * 5 + 1);
    f->hdr.state_len = sizeof(f->state);
    if (kind == SNAP_KIND_DIFF) {
        for (int i = 0; i < 16; i++)
            f->hdr.base_id[i] = (uint8_t)(0x10 + i);
        f->hdr.base_generation = 6;
        for (uint64_t p = 0; p < pages; p += 3) {
            snap_bitmap_set(f->bitmap, p);
            stored++;
        }
        snprintf(f->hdr.base_name, sizeof(f->hdr.base_name), "%s", "vm-base_1");
    } else {
        stored = pages;
    }
    f->hdr.mem_pages = stored;
    for (uint64_t i = 0; i < stored; i++)
        f->crcs[i] = 0x0102030405060708ull * (i + 1);
    f->hdr.mem_file_len = stored * page_size + SNAP_MEM_TRAILER_LEN;
    snprintf(f->hdr.mem_name, sizeof(f->hdr.mem_name), "vm1.g%u.mem", 7u);
    f->hdr.payload_len = f->hdr.state_len + snap_page_map_len(&f->hdr);
    f->file = malloc(CAP);
    assert_non_null(f->file);
    assert_int_equal(snap_envelope_encode(f->file, CAP, &f->len, &f->hdr, f->state,
                                          kind == SNAP_KIND_DIFF ? f->bitmap : NULL, f->crcs),
                     0);
}

static void drop(struct fixture *f)
{
    free(f->file);
}

static int decode(const uint8_t *src, size_t len)
{
    struct snap_envelope env;
    struct snap_diag diag;
    int rc;

    snap_diag_clear(&diag);
    rc = snap_envelope_decode(&env, src, len, &diag);
    assert_int_equal(diag.code, rc);
    if (rc != 0) {
        assert_true(diag.msg[0] != '\0');
        assert_null(env.state);
        assert_int_equal(env.hdr.kind, 0);
    }
    return rc;
}

/* Recompute the trailer so that a header edit reaches the rules after the CRC. */
static void resign(uint8_t *file, size_t len)
{
    snap_put_le64(file + len - 8, snap_crc64(0, file, len - 8));
}

static void envelope__round_trip_full_and_diff_each_page_size(void **unused)
{
    static const uint32_t sizes[] = {4096, 16384, 65536};

    (void)unused;
    for (int k = 1; k <= 2; k++) {
        for (int s = 0; s < 3; s++) {
            struct fixture f;
            struct snap_envelope env;
            uint8_t *again = malloc(CAP);
            size_t again_len = 0;
            uint64_t crcs[512];

            make(&f, (uint32_t)k, sizes[s], 37);
            assert_non_null(again);
            assert_int_equal(f.len, snap_envelope_len(&f.hdr));
            assert_int_equal(snap_envelope_decode(&env, f.file, f.len, NULL), 0);
            assert_int_equal(env.hdr.kind, (uint32_t)k);
            assert_int_equal(env.hdr.page_size, sizes[s]);
            assert_int_equal(env.hdr.mem_pages, k == 1 ? 37 : 13);
            assert_string_equal(env.hdr.mem_name, "vm1.g7.mem");
            assert_string_equal(env.hdr.base_name, k == 1 ? "" : "vm-base_1");
            assert_memory_equal(env.state, f.state, sizeof(f.state));
            assert_true(env.state == f.file + SNAP_HEADER_LEN); /* zero-copy */
            if (k == 2)
                assert_memory_equal(env.bitmap, f.bitmap, snap_bitmap_len(37));
            else
                assert_null(env.bitmap);
            for (uint64_t i = 0; i < env.hdr.mem_pages; i++) {
                crcs[i] = snap_get_le64(env.page_crcs + 8 * i);
                assert_int_equal(crcs[i], f.crcs[i]);
            }
            /* decode -> encode gives the same bytes. */
            assert_int_equal(
                snap_envelope_encode(again, CAP, &again_len, &env.hdr, env.state, env.bitmap, crcs),
                0);
            assert_int_equal(again_len, f.len);
            assert_memory_equal(again, f.file, f.len);
            free(again);
            drop(&f);
        }
    }
}

static void envelope__diff_with_no_dirty_page_round_trips(void **unused)
{
    struct fixture f;
    struct snap_envelope env;
    uint8_t bm[1] = {0};

    (void)unused;
    make(&f, SNAP_KIND_DIFF, 4096, 5);
    f.hdr.mem_pages = 0;
    f.hdr.mem_file_len = SNAP_MEM_TRAILER_LEN;
    f.hdr.payload_len = f.hdr.state_len + 1;
    assert_int_equal(snap_envelope_encode(f.file, CAP, &f.len, &f.hdr, f.state, bm, NULL), 0);
    assert_int_equal(snap_envelope_decode(&env, f.file, f.len, NULL), 0);
    assert_int_equal(env.hdr.mem_pages, 0);
    drop(&f);
}

static void envelope__rejects_empty_and_all_zero_files(void **unused)
{
    uint8_t zeros[4096] = {0};

    (void)unused;
    assert_int_equal(decode(zeros, 0), SNAP_ETRUNC);
    assert_int_equal(decode(NULL, 0), SNAP_ETRUNC);
    for (size_t n = 1; n <= sizeof(zeros); n *= 2)
        assert_int_equal(decode(zeros, n), SNAP_EMAGIC);
}

static void envelope__rejects_bad_magic(void **unused)
{
    struct fixture f;

    (void)unused;
    make(&f, SNAP_KIND_FULL, 4096, 4);
    f.file[3] = 'X';
    resign(f.file, f.len);
    assert_int_equal(decode(f.file, f.len), SNAP_EMAGIC);
    assert_int_equal(decode(f.file, 5), SNAP_EMAGIC); /* short and not a magic prefix */
    assert_int_equal(decode(f.file, 3), SNAP_ETRUNC); /* short prefix of the magic */
    drop(&f);
}

static void envelope__truncation_at_every_byte_is_etrunc(void **unused)
{
    (void)unused;
    for (int k = 1; k <= 2; k++) {
        struct fixture f;

        make(&f, (uint32_t)k, 4096, 9);
        for (size_t n = 0; n < f.len; n++) {
            if (decode(f.file, n) != SNAP_ETRUNC)
                fail_msg("kind %d: prefix of %zu bytes is not SNAP_ETRUNC", k, n);
        }
        assert_int_equal(decode(f.file, f.len), 0);
        drop(&f);
    }
}

/* The error a flip of bit b must give, from the order of 3.2 (the CRC sees everything else). */
static int expected_for_flip(const struct fixture *f, size_t bit)
{
    size_t byte = bit / 8;

    if (byte < 8)
        return SNAP_EMAGIC;
    if (byte < 10)
        return SNAP_EVERSION;
    if (byte >= 12 && byte < 16)
        return SNAP_ECORRUPT;
    if (byte >= 16 && byte < 24) {
        uint64_t pl = f->hdr.payload_len ^ (1ull << (bit - 16 * 8));

        if (pl > SNAP_MAX_PAYLOAD)
            return SNAP_ELIMIT;
        return pl > f->hdr.payload_len ? SNAP_ETRUNC : SNAP_ECORRUPT;
    }
    return SNAP_ECRC;
}

static void envelope__every_single_bit_flip_is_rejected_with_its_class(void **unused)
{
    (void)unused;
    for (int k = 1; k <= 2; k++) {
        struct fixture f;

        make(&f, (uint32_t)k, 4096, 3);
        for (size_t bit = 0; bit < f.len * 8; bit++) {
            int rc;

            f.file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            rc = decode(f.file, f.len);
            if (rc != expected_for_flip(&f, bit))
                fail_msg("kind %d bit %zu (byte %zu): got %s, want %s", k, bit, bit / 8,
                         snap_strerror(rc), snap_strerror(expected_for_flip(&f, bit)));
            f.file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        assert_int_equal(decode(f.file, f.len), 0);
        drop(&f);
    }
}

static void envelope__rejects_flipped_crc(void **unused)
{
    struct fixture f;

    (void)unused;
    make(&f, SNAP_KIND_FULL, 4096, 2);
    f.file[f.len - 1] ^= 0x80;
    assert_int_equal(decode(f.file, f.len), SNAP_ECRC);
    drop(&f);
}

static void envelope__rejects_trailing_bytes(void **unused)
{
    struct fixture f;

    (void)unused;
    make(&f, SNAP_KIND_FULL, 4096, 2);
    f.file[f.len] = 0;
    assert_int_equal(decode(f.file, f.len + 1), SNAP_ECORRUPT);
    assert_int_equal(decode(f.file, f.len + 4096), SNAP_ECORRUPT);
    drop(&f);
}

static void envelope__version_schema_and_flags(void **unused)
{
    struct fixture f;
    struct snap_envelope env;

    (void)unused;
    make(&f, SNAP_KIND_FULL, 4096, 2);
    /* Unknown major: refused as a version, before length or CRC are looked at. */
    snap_put_le16(f.file + 8, 2);
    assert_int_equal(decode(f.file, f.len), SNAP_EVERSION);
    assert_int_equal(decode(f.file, 12), SNAP_EVERSION);
    assert_int_equal(decode(f.file, 11), SNAP_ETRUNC);
    snap_put_le16(f.file + 8, 0);
    assert_int_equal(decode(f.file, f.len), SNAP_EVERSION);
    snap_put_le16(f.file + 8, 1);
    /* Any minor of major 1 is accepted and kept. */
    snap_put_le16(f.file + 10, 9);
    resign(f.file, f.len);
    assert_int_equal(snap_envelope_decode(&env, f.file, f.len, NULL), 0);
    assert_int_equal(env.hdr.version_minor, 9);
    /* Unknown schema. */
    snap_put_le32(f.file + 24, 2);
    resign(f.file, f.len);
    assert_int_equal(decode(f.file, f.len), SNAP_EVERSION);
    snap_put_le32(f.file + 24, 1);
    /* Each incompatible flag bit; compatible bits are ignored (and kept by encode). */
    for (int b = 0; b < 32; b++) {
        snap_put_le32(f.file + 28, 1u << b);
        resign(f.file, f.len);
        assert_int_equal(decode(f.file, f.len), b < 16 ? SNAP_EVERSION : 0);
    }
    drop(&f);
}

/* Edit a header field, resign, expect rc. */
static void expect_u32(struct fixture *f, size_t off, uint32_t v, int rc)
{
    uint32_t old = snap_get_le32(f->file + off);

    snap_put_le32(f->file + off, v);
    resign(f->file, f->len);
    if (decode(f->file, f->len) != rc)
        fail_msg("u32 at %zu = %u: want %s", off, v, snap_strerror(rc));
    snap_put_le32(f->file + off, old);
    resign(f->file, f->len);
}

static void expect_u64(struct fixture *f, size_t off, uint64_t v, int rc)
{
    uint64_t old = snap_get_le64(f->file + off);

    snap_put_le64(f->file + off, v);
    resign(f->file, f->len);
    if (decode(f->file, f->len) != rc)
        fail_msg("u64 at %zu = %llu: want %s", off, (unsigned long long)v, snap_strerror(rc));
    snap_put_le64(f->file + off, old);
    resign(f->file, f->len);
}

static void expect_name(struct fixture *f, size_t off, const char *name, size_t name_len, int rc)
{
    uint8_t old[64];

    memcpy(old, f->file + off, 64);
    memset(f->file + off, 0, 64);
    memcpy(f->file + off, name, name_len);
    resign(f->file, f->len);
    if (decode(f->file, f->len) != rc)
        fail_msg("name at %zu = '%.*s': want %s", off, (int)name_len, name, snap_strerror(rc));
    memcpy(f->file + off, old, 64);
    resign(f->file, f->len);
}

static void envelope__rejects_each_header_rule(void **unused)
{
    struct fixture f;

    (void)unused;
    make(&f, SNAP_KIND_FULL, 4096, 2);
    expect_u32(&f, 12, 255, SNAP_ECORRUPT); /* header_len */
    expect_u32(&f, 32, 0, SNAP_ECORRUPT);   /* kind */
    expect_u32(&f, 32, 3, SNAP_ECORRUPT);
    expect_u32(&f, 36, 8192, SNAP_ECORRUPT); /* page_size */
    expect_u32(&f, 36, 0, SNAP_ECORRUPT);
    expect_u64(&f, 40, 8192 + 1, SNAP_ECORRUPT); /* ram_size not a multiple */
    expect_u64(&f, 40, 0, SNAP_ECORRUPT);
    expect_u64(&f, 40, (SNAP_MAX_PAGES + 1) * 4096, SNAP_ELIMIT);
    expect_u64(&f, 40, UINT64_MAX - 4095, SNAP_ELIMIT);
    expect_u64(&f, 48, 0, 0); /* snapshot_id half zero is fine ... */
    assert_int_equal(decode(f.file, f.len), 0);
    {
        uint8_t id[16];

        memcpy(id, f.file + 48, 16);
        memset(f.file + 48, 0, 16);
        resign(f.file, f.len);
        assert_int_equal(decode(f.file, f.len), SNAP_ECORRUPT); /* ... all zero is not */
        memcpy(f.file + 48, id, 16);
        resign(f.file, f.len);
    }
    expect_u64(&f, 64, 0, SNAP_ECORRUPT); /* generation */
    expect_u64(&f, 64, 1ull << 63, SNAP_ECORRUPT);
    expect_u64(&f, 72, 1, SNAP_ECORRUPT);                     /* base_id set in a full */
    expect_u64(&f, 88, 1, SNAP_ECORRUPT);                     /* base_generation in a full */
    expect_u64(&f, 96, (64u << 20) + 1, SNAP_ELIMIT);         /* state_len over the limit */
    expect_u64(&f, 96, 41, SNAP_ECORRUPT);                    /* payload_len mismatch */
    expect_u64(&f, 104, 1, SNAP_ECORRUPT);                    /* mem_pages of a full */
    expect_u64(&f, 112, 2 * 4096, SNAP_ECORRUPT);             /* mem_file_len */
    expect_u64(&f, 120, 1, SNAP_ECORRUPT);                    /* reserved */
    expect_u64(&f, 16, f.hdr.payload_len - 8, SNAP_ECORRUPT); /* shorter payload: trailing */
    expect_name(&f, 128, "vm1.g7.mem", 10, 0);
    expect_name(&f, 128, "", 0, SNAP_ECORRUPT);
    expect_name(&f, 128, "vm1.g8.mem", 10, SNAP_ECORRUPT);  /* other generation */
    expect_name(&f, 128, "vm1.g07.mem", 11, SNAP_ECORRUPT); /* leading zero */
    expect_name(&f, 128, "vm1.g7.me", 9, SNAP_ECORRUPT);
    expect_name(&f, 128, "vm1.g7.memx", 11, SNAP_ECORRUPT);
    expect_name(&f, 128, ".g7.mem", 7, SNAP_ECORRUPT);        /* empty <id> */
    expect_name(&f, 128, "vm/1.g7.mem", 11, SNAP_ECORRUPT);   /* bad character */
    expect_name(&f, 128, "vm1.g7.mem\0x", 12, SNAP_ECORRUPT); /* byte after the NUL */
    expect_name(&f, 128, "vm1", 3, SNAP_ECORRUPT);
    expect_name(&f, 128, "a.b.g7.mem", 10, SNAP_ECORRUPT);
    expect_name(&f, 128, "0123456789012345678901234567890123456789.g7.mem", 47, 0); /* 40 */
    expect_name(&f, 128, "0123456789012345678901234567890123456789x.g7.mem", 48,
                SNAP_ECORRUPT); /* 41-byte <id> */
    expect_name(&f, 128, "vm1.g7.memxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 64,
                SNAP_ECORRUPT);                     /* no NUL at all */
    expect_name(&f, 192, "base", 4, SNAP_ECORRUPT); /* base_name in a full */
    drop(&f);

    make(&f, SNAP_KIND_DIFF, 4096, 9);
    expect_u64(&f, 72, 0, 0); /* half of base_id zero is fine */
    expect_u64(&f, 80, 0, 0);
    {
        uint8_t id[16];

        memcpy(id, f.file + 72, 16);
        memset(f.file + 72, 0, 16);
        resign(f.file, f.len);
        assert_int_equal(decode(f.file, f.len), SNAP_ECORRUPT); /* diff without base_id */
        memcpy(f.file + 72, id, 16);
        resign(f.file, f.len);
    }
    expect_u64(&f, 88, 0, SNAP_ECORRUPT); /* base_generation */
    expect_u64(&f, 88, 1ull << 63, SNAP_ECORRUPT);
    expect_u64(&f, 104, 10, SNAP_ECORRUPT);     /* more than the pages */
    expect_name(&f, 192, "", 0, SNAP_ECORRUPT); /* diff without base_name */
    expect_name(&f, 192, "a.b", 3, SNAP_ECORRUPT);
    expect_name(&f, 192, "01234567890123456789012345678901234567891", 41, SNAP_ECORRUPT);
    expect_name(&f, 192, "base\0\1", 6, SNAP_ECORRUPT);
    expect_name(&f, 192, "b", 1, 0);
    drop(&f);
}

static void envelope__rejects_oversized_payload_len(void **unused)
{
    struct fixture f;

    (void)unused;
    make(&f, SNAP_KIND_FULL, 4096, 2);
    snap_put_le64(f.file + 16, SNAP_MAX_PAYLOAD + 1);
    assert_int_equal(decode(f.file, f.len), SNAP_ELIMIT);
    assert_int_equal(decode(f.file, 256), SNAP_ELIMIT);
    snap_put_le64(f.file + 16, UINT64_MAX);
    assert_int_equal(decode(f.file, f.len), SNAP_ELIMIT);
    snap_put_le64(f.file + 16, UINT64_MAX - 263);
    assert_int_equal(decode(f.file, f.len), SNAP_ELIMIT);
    snap_put_le64(f.file + 16, SNAP_MAX_PAYLOAD);
    assert_int_equal(decode(f.file, f.len), SNAP_ETRUNC);
    drop(&f);
}

static void envelope__rejects_bad_bitmap(void **unused)
{
    struct fixture f;
    size_t bm_off;

    (void)unused;
    make(&f, SNAP_KIND_DIFF, 4096, 9); /* 2 bitmap bytes, pages 0,3,6 */
    bm_off = SNAP_HEADER_LEN + sizeof(f.state);
    assert_int_equal(f.file[bm_off], 0x49);
    f.file[bm_off + 1] = 0x02; /* page 9: past page_count */
    resign(f.file, f.len);
    assert_int_equal(decode(f.file, f.len), SNAP_ECORRUPT);
    f.file[bm_off + 1] = 0x00;
    f.file[bm_off] = 0x4b; /* 4 set bits, mem_pages 3 */
    resign(f.file, f.len);
    assert_int_equal(decode(f.file, f.len), SNAP_ECORRUPT);
    f.file[bm_off] = 0x49;
    resign(f.file, f.len);
    assert_int_equal(decode(f.file, f.len), 0);
    drop(&f);
}

static void envelope__header_decode_ignores_crc_but_checks_rules(void **unused)
{
    struct fixture f;
    struct snap_header h;
    struct snap_diag diag;

    (void)unused;
    make(&f, SNAP_KIND_DIFF, 16384, 20);
    f.file[f.len - 1] ^= 1;
    assert_int_equal(snap_header_decode(&h, f.file, f.len, NULL), 0);
    assert_int_equal(h.generation, 7);
    assert_string_equal(h.base_name, "vm-base_1");
    assert_int_equal(snap_header_decode(&h, f.file, 256, NULL), 0);
    assert_int_equal(snap_header_decode(&h, f.file, 255, NULL), SNAP_ETRUNC);
    snap_put_le32(f.file + 24, 3);
    assert_int_equal(snap_header_decode(&h, f.file, 256, NULL), SNAP_EVERSION);
    snap_put_le32(f.file + 24, 1);
    snap_put_le64(f.file + 16, ~0ull);
    assert_int_equal(snap_header_decode(&h, f.file, 256, NULL), SNAP_ELIMIT);
    snap_put_le64(f.file + 16, f.hdr.payload_len);
    snap_put_le32(f.file + 36, 4097);
    snap_diag_clear(&diag);
    assert_int_equal(snap_header_decode(&h, f.file, 256, &diag), SNAP_ECORRUPT);
    assert_non_null(strstr(diag.msg, "page_size"));
    assert_int_equal(h.page_size, 0); /* zeroed on failure */
    assert_int_equal(snap_header_decode(NULL, f.file, 256, NULL), SNAP_EINVAL);
    drop(&f);
}

static void envelope__decode_diag_names_the_field(void **unused)
{
    struct fixture f;
    struct snap_envelope env;
    struct snap_diag diag;

    (void)unused;
    make(&f, SNAP_KIND_FULL, 4096, 2);
    snap_put_le64(f.file + 112, 5);
    resign(f.file, f.len);
    snap_diag_clear(&diag);
    assert_int_equal(snap_envelope_decode(&env, f.file, f.len, &diag), SNAP_ECORRUPT);
    assert_int_equal(diag.code, SNAP_ECORRUPT);
    assert_string_equal(diag.op, "decode");
    assert_non_null(strstr(diag.msg, "mem_file_len"));
    assert_int_equal(snap_envelope_decode(NULL, f.file, f.len, NULL), SNAP_EINVAL);
    assert_int_equal(snap_envelope_decode(&env, NULL, 5, NULL), SNAP_EINVAL);
    drop(&f);
}

static void envelope__encode_refuses_inconsistent_headers(void **unused)
{
    struct fixture f;
    struct snap_header h;
    uint8_t small[300];
    size_t n = 99;

    (void)unused;
    make(&f, SNAP_KIND_DIFF, 4096, 9);
    h = f.hdr;
    assert_int_equal(snap_envelope_encode(small, sizeof(small), &n, &h, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL); /* dst_cap too small */
    assert_int_equal(n, 0);
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, NULL, f.crcs),
                     SNAP_EINVAL); /* diff without bitmap */
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, NULL, f.bitmap, f.crcs),
                     SNAP_EINVAL);
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, f.bitmap, NULL),
                     SNAP_EINVAL);
    assert_int_equal(snap_envelope_encode(NULL, CAP, &n, &h, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL);
    f.bitmap[0] ^= 0x02;
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL); /* popcount != mem_pages */
    f.bitmap[0] ^= 0x02;
    h.payload_len++;
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL);
    h = f.hdr;
    h.version_major = 0;
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL);
    h = f.hdr;
    h.flags = 1;
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL);
    h = f.hdr;
    memset(h.mem_name, 'a', sizeof(h.mem_name)); /* not terminated */
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL);
    h = f.hdr;
    h.mem_name[sizeof(h.mem_name) - 1] = 'z'; /* garbage after the NUL is not written */
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &h, f.state, f.bitmap, f.crcs), 0);
    assert_int_equal(decode(f.file, n), 0);
    drop(&f);

    make(&f, SNAP_KIND_FULL, 4096, 9);
    assert_int_equal(snap_envelope_encode(f.file, CAP, &n, &f.hdr, f.state, f.bitmap, f.crcs),
                     SNAP_EINVAL); /* full with a bitmap */
    drop(&f);
}

static void envelope__page_map_and_file_lengths(void **unused)
{
    struct fixture f;
    struct snap_header h;

    (void)unused;
    make(&f, SNAP_KIND_DIFF, 4096, 9);
    assert_int_equal(snap_page_map_len(&f.hdr), 2 + 8 * 3);
    assert_int_equal(snap_envelope_len(&f.hdr), 256 + 40 + 26 + 8);
    h = f.hdr;
    h.mem_pages = 10;
    assert_int_equal(snap_page_map_len(&h), 0);
    h = f.hdr;
    h.page_size = 1000;
    assert_int_equal(snap_page_map_len(&h), 0);
    h = f.hdr;
    h.ram_size = 4095;
    assert_int_equal(snap_page_map_len(&h), 0);
    h.ram_size = 0;
    assert_int_equal(snap_page_map_len(&h), 0);
    h.ram_size = (SNAP_MAX_PAGES + 1) * 4096;
    assert_int_equal(snap_page_map_len(&h), 0);
    h = f.hdr;
    h.kind = 5;
    assert_int_equal(snap_page_map_len(&h), 0);
    h.payload_len = SNAP_MAX_PAYLOAD + 1;
    assert_int_equal(snap_envelope_len(&h), 0);
    assert_int_equal(snap_page_map_len(NULL), 0);
    assert_int_equal(snap_envelope_len(NULL), 0);
    drop(&f);
    make(&f, SNAP_KIND_FULL, 65536, 9);
    assert_int_equal(snap_page_map_len(&f.hdr), 8 * 9);
    h = f.hdr;
    h.mem_pages = 8;
    assert_int_equal(snap_page_map_len(&h), 0);
    drop(&f);
}

static void envelope__mem_trailer_round_trip_and_rejects(void **unused)
{
    struct snap_mem_trailer t = {.generation = 9, .mem_pages = 3, .page_size = 16384, .kind = 2};
    struct snap_mem_trailer back;
    uint8_t raw[SNAP_MEM_TRAILER_LEN];

    (void)unused;
    memset(t.snapshot_id, 0x5a, sizeof(t.snapshot_id));
    snap_mem_trailer_encode(raw, &t);
    assert_memory_equal(raw, SNAP_MEM_MAGIC, 8);
    assert_int_equal(snap_mem_trailer_decode(&back, raw), 0);
    assert_memory_equal(&back, &t, sizeof(t));
    for (size_t bit = 0; bit < sizeof(raw) * 8; bit++) {
        int want = bit < 64 ? SNAP_EMAGIC : SNAP_ECRC;

        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(snap_mem_trailer_decode(&back, raw), want);
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    raw[50] = 1;
    snap_put_le64(raw + 56, snap_crc64(0, raw, 56));
    assert_int_equal(snap_mem_trailer_decode(&back, raw), SNAP_ECORRUPT);
    assert_int_equal(back.generation, 0);
}

static void envelope__bitmap_count_and_id_valid(void **unused)
{
    uint8_t bm[3] = {0xff, 0x81, 0xff};

    (void)unused;
    assert_int_equal(snap_bitmap_count(bm, 0), 0);
    assert_int_equal(snap_bitmap_count(bm, 3), 3);
    assert_int_equal(snap_bitmap_count(bm, 8), 8);
    assert_int_equal(snap_bitmap_count(bm, 9), 9);
    assert_int_equal(snap_bitmap_count(bm, 16), 10);
    assert_int_equal(snap_bitmap_count(bm, 20), 14);
    assert_true(snap_bitmap_test(bm, 15));
    assert_false(snap_bitmap_test(bm, 14));
    assert_true(snap_id_valid("a"));
    assert_true(snap_id_valid("Az09_-"));
    assert_true(snap_id_valid("0123456789012345678901234567890123456789"));
    assert_false(snap_id_valid("01234567890123456789012345678901234567890"));
    assert_false(snap_id_valid(""));
    assert_false(snap_id_valid(NULL));
    assert_false(snap_id_valid("a.b"));
    assert_false(snap_id_valid("a b"));
    assert_false(snap_id_valid("a/b"));
    assert_false(snap_id_valid("\xc3\xa9"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope__round_trip_full_and_diff_each_page_size),
        cmocka_unit_test(envelope__diff_with_no_dirty_page_round_trips),
        cmocka_unit_test(envelope__rejects_empty_and_all_zero_files),
        cmocka_unit_test(envelope__rejects_bad_magic),
        cmocka_unit_test(envelope__truncation_at_every_byte_is_etrunc),
        cmocka_unit_test(envelope__every_single_bit_flip_is_rejected_with_its_class),
        cmocka_unit_test(envelope__rejects_flipped_crc),
        cmocka_unit_test(envelope__rejects_trailing_bytes),
        cmocka_unit_test(envelope__version_schema_and_flags),
        cmocka_unit_test(envelope__rejects_each_header_rule),
        cmocka_unit_test(envelope__rejects_oversized_payload_len),
        cmocka_unit_test(envelope__rejects_bad_bitmap),
        cmocka_unit_test(envelope__header_decode_ignores_crc_but_checks_rules),
        cmocka_unit_test(envelope__decode_diag_names_the_field),
        cmocka_unit_test(envelope__encode_refuses_inconsistent_headers),
        cmocka_unit_test(envelope__page_map_and_file_lengths),
        cmocka_unit_test(envelope__mem_trailer_round_trip_and_rejects),
        cmocka_unit_test(envelope__bitmap_count_and_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
