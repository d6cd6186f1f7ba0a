/* Unit tests of ref/src/state.c: the schema-1 codec of FORMAT.md section 4 (round trip, the
 * exact layout, every truncation, bad bools, NUL in strings, over-limit lengths and counts) and
 * each rule of snap_state_verify_compatible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "snap/envelope.h"
#include "snap/error.h"
#include "snap/state.h"

static uint8_t regs0[] = {1, 2, 3, 4, 5};
static uint8_t regs1[] = {9};
static uint8_t dev_state[] = {0xde, 0xad, 0xbe, 0xef};
static uint8_t gic[] = {7, 7, 7};
static uint8_t mmds[] = "{\"k\":1}";

/* A hand-built state: 2 vCPUs, 2 devices, optional initrd and mmds. Pointers are static. */
static void sample(struct snap_vm_state *st, struct snap_vcpu *v, struct snap_device *d,
                   bool with_initrd, bool with_mmds)
{
    memset(st, 0, sizeof(*st));
    st->info.mem_size_mib = 128;
    st->info.track_dirty_pages = true;
    st->info.cpu_template = "T2";
    st->info.kernel_image_path = "/k/vmlinux";
    st->info.initrd_path = with_initrd ? "/k/initrd" : NULL;
    st->info.boot_args = "console=ttyAMA0";
    v[0] = (struct snap_vcpu){.index = 0, .mpidr = 0x80000000, .regs = regs0, .regs_len = 5};
    v[1] = (struct snap_vcpu){.index = 1, .mpidr = 0x80000001, .regs = regs1, .regs_len = 1};
    st->vcpus = v;
    st->vcpu_count = 2;
    d[0] = (struct snap_device){.name = "virtio-blk", .state = dev_state, .state_len = 4};
    d[1] = (struct snap_device){.name = "serial", .state = NULL, .state_len = 0};
    st->devices = d;
    st->device_count = 2;
    st->gic = gic;
    st->gic_len = 3;
    st->has_mmds = with_mmds;
    st->mmds = with_mmds ? mmds : NULL;
    st->mmds_len = with_mmds ? (uint32_t)(sizeof(mmds) - 1) : 0;
}

static void encode_sample(uint8_t **buf, size_t *len, bool with_initrd, bool with_mmds)
{
    struct snap_vm_state st;
    struct snap_vcpu v[2];
    struct snap_device d[2];

    sample(&st, v, d, with_initrd, with_mmds);
    assert_int_equal(snap_state_encode_alloc(buf, len, &st), 0);
    assert_int_equal(*len, snap_state_encoded_len(&st));
}

static void state__round_trip_is_byte_identical(void **unused)
{
    (void)unused;
    for (int k = 0; k < 4; k++) {
        struct snap_vm_state st, back;
        struct snap_vcpu v[2];
        struct snap_device d[2];
        uint8_t *buf, *again;
        size_t len, again_len;

        sample(&st, v, d, k & 1, k & 2);
        assert_int_equal(snap_state_encode_alloc(&buf, &len, &st), 0);
        assert_int_equal(snap_state_decode(&back, buf, len), 0);
        assert_true(snap_state_equal(&st, &back));
        assert_true(snap_state_equal(&back, &st));
        assert_int_equal(back.has_mmds, (k & 2) != 0);
        if (k & 1)
            assert_string_equal(back.info.initrd_path, "/k/initrd");
        else
            assert_null(back.info.initrd_path);
        assert_string_equal(back.devices[0].name, "virtio-blk");
        assert_null(back.devices[1].state);
        assert_int_equal(snap_state_encode_alloc(&again, &again_len, &back), 0);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, buf, len);
        free(again);
        free(buf);
        snap_state_finish(&back);
        assert_null(back.vcpus);
    }
}

/* The exact bytes of a small state, written out from section 4 by hand. */
static void state__layout_matches_format_md(void **unused)
{
    static const uint8_t want[] = {
        0x00, 0x04, 0x00, 0x00,            /* mem_size_mib 1024 */
        0,    1,    1,    0,               /* smt, track_dirty_pages, has_initrd, reserved */
        1,    0,    0,    0,    'T',       /* cpu_template "T" */
        0,    0,    0,    0,               /* kernel_image_path "" */
        2,    0,    0,    0,    'i',  'r', /* initrd_path "ir" */
        1,    0,    0,    0,    'b',       /* boot_args "b" */
        1,    0,    0,    0,               /* vcpu_count */
        0,    0,    0,    0,    0x11, 0x22, 0, 0, 0,   0, 0, 0x80, 1, 0, 0, 0, 0xAA, /* vcpu 0 */
        1,    0,    0,    0,    1,    0,    0, 0, 'd', 0, 0, 0,    0, /* device "d", empty state */
        2,    0,    0,    0,    0x47, 0x48,                           /* gic */
        1,    0,    0,    0,    0,                                    /* has_mmds, empty mmds */
    };
    uint8_t regs = 0xAA, g[2] = {0x47, 0x48};
    struct snap_vcpu v = {.index = 0, .mpidr = 0x8000000000002211ull, .regs = &regs, .regs_len = 1};
    struct snap_device d = {.name = "d"};
    struct snap_vm_state st = {.info = {.mem_size_mib = 1024,
                                        .track_dirty_pages = true,
                                        .cpu_template = "T",
                                        .kernel_image_path = "",
                                        .initrd_path = "ir",
                                        .boot_args = "b"},
                               .vcpus = &v,
                               .vcpu_count = 1,
                               .devices = &d,
                               .device_count = 1,
                               .gic = g,
                               .gic_len = 2,
                               .has_mmds = true};
    uint8_t buf[128];
    size_t len;
    struct snap_vm_state back;

    (void)unused;
    assert_int_equal(snap_state_encode(buf, sizeof(buf), &len, &st), 0);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(snap_state_decode(&back, want, sizeof(want)), 0);
    assert_true(back.has_mmds);
    assert_null(back.mmds);
    assert_int_equal(back.vcpus[0].mpidr, 0x8000000000002211ull);
    snap_state_finish(&back);
    assert_int_equal(snap_state_encode(buf, sizeof(want) - 1, &len, &st), SNAP_EINVAL);
    assert_int_equal(len, 0);
}

static void state__every_truncation_is_etrunc(void **unused)
{
    (void)unused;
    for (int k = 0; k < 4; k++) {
        uint8_t *buf;
        size_t len;

        encode_sample(&buf, &len, k & 1, k & 2);
        for (size_t n = 0; n < len; n++) {
            struct snap_vm_state back;
            /* A copy of exactly n bytes, so ASan sees any read past the end. */
            uint8_t *cut = malloc(n ? n : 1);

            memcpy(cut, buf, n);
            if (snap_state_decode(&back, cut, n) != SNAP_ETRUNC)
                fail_msg("prefix of %zu of %zu bytes is not SNAP_ETRUNC", n, len);
            assert_null(back.vcpus);
            assert_null(back.info.cpu_template);
            free(cut);
        }
        free(buf);
    }
}

static void state__rejects_trailing_bytes(void **unused)
{
    uint8_t *buf, *big;
    size_t len;
    struct snap_vm_state back;

    (void)unused;
    encode_sample(&buf, &len, true, true);
    big = calloc(1, len + 1);
    memcpy(big, buf, len);
    assert_int_equal(snap_state_decode(&back, big, len + 1), SNAP_ECORRUPT);
    free(big);
    free(buf);
}

static int decode_patched(const uint8_t *buf, size_t len, size_t off, uint8_t val)
{
    struct snap_vm_state back;
    uint8_t *copy = malloc(len);
    int rc;

    memcpy(copy, buf, len);
    copy[off] = val;
    rc = snap_state_decode(&back, copy, len);
    snap_state_finish(&back);
    free(copy);
    return rc;
}

static void state__rejects_bad_bools_and_reserved(void **unused)
{
    uint8_t *buf;
    size_t len;

    (void)unused;
    encode_sample(&buf, &len, false, false);
    for (size_t off = 4; off < 7; off++) {
        assert_int_equal(decode_patched(buf, len, off, 2), SNAP_ECORRUPT);
        assert_int_equal(decode_patched(buf, len, off, 0xff), SNAP_ECORRUPT);
    }
    assert_int_equal(decode_patched(buf, len, 7, 1), SNAP_ECORRUPT);       /* reserved */
    assert_int_equal(decode_patched(buf, len, len - 1, 2), SNAP_ECORRUPT); /* has_mmds */
    /* has_initrd = 1 without the field: the rest no longer parses. */
    assert_int_not_equal(decode_patched(buf, len, 6, 1), 0);
    /* smt = 1 decodes (it is a compatibility rule, not a format one). */
    assert_int_equal(decode_patched(buf, len, 4, 1), 0);
    free(buf);
}

static uint8_t *find(uint8_t *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    }
    return NULL;
}

static void state__rejects_nul_in_strings(void **unused)
{
    uint8_t *buf;
    size_t len;

    (void)unused;
    encode_sample(&buf, &len, true, false);
    /* cpu_template "T2" at offset 12, kernel path at 18 + 4, device name "virtio-blk". */
    assert_int_equal(buf[12], 'T');
    assert_int_equal(decode_patched(buf, len, 12, 0), SNAP_ECORRUPT);
    assert_int_equal(decode_patched(buf, len, 13, 0), SNAP_ECORRUPT);
    assert_int_equal(buf[18], '/');
    assert_int_equal(decode_patched(buf, len, 18 + 9, 0), SNAP_ECORRUPT);
    {
        uint8_t *p = find(buf, len, "virtio-blk");
        uint8_t *q = find(buf, len, "console");
        uint8_t *r = find(buf, len, "/k/initrd");

        assert_non_null(p);
        assert_non_null(q);
        assert_non_null(r);
        assert_int_equal(decode_patched(buf, len, (size_t)(p - buf) + 3, 0), SNAP_ECORRUPT);
        assert_int_equal(decode_patched(buf, len, (size_t)(q - buf), 0), SNAP_ECORRUPT);
        assert_int_equal(decode_patched(buf, len, (size_t)(r - buf) + 8, 0), SNAP_ECORRUPT);
        /* A NUL inside a blob is data. */
        assert_int_equal(decode_patched(buf, len, (size_t)(p - buf) + 14, 0), 0);
    }
    free(buf);
}

/* A minimal stream with a chosen vcpu_count / device_count / lengths, built field by field. */
struct builder {
    uint8_t buf[4096];
    size_t len;
};

static void b_u8(struct builder *b, uint8_t v)
{
    b->buf[b->len++] = v;
}

static void b_u32(struct builder *b, uint32_t v)
{
    snap_put_le32(b->buf + b->len, v);
    b->len += 4;
}

static void b_info(struct builder *b)
{
    b->len = 0;
    b_u32(b, 1);
    b_u8(b, 0);
    b_u8(b, 0);
    b_u8(b, 0);
    b_u8(b, 0);
    b_u32(b, 0);
    b_u32(b, 0);
    b_u32(b, 0);
}

static int b_decode(struct builder *b)
{
    struct snap_vm_state st;
    int rc = snap_state_decode(&st, b->buf, b->len);

    snap_state_finish(&st);
    return rc;
}

static void state__rejects_over_limit_counts_and_lengths(void **unused)
{
    struct builder b;

    (void)unused;
    b_info(&b);
    b_u32(&b, 257); /* vcpu_count over 256 */
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b_info(&b);
    b_u32(&b, 256); /* allowed, but 256 entries cannot fit in the bytes left */
    memset(b.buf + b.len, 0, 100);
    b.len += 100;
    assert_int_equal(b_decode(&b), SNAP_ETRUNC);
    b_info(&b);
    b_u32(&b, 0xffffffffu);
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b_info(&b);
    b_u32(&b, 0);
    b_u32(&b, 65); /* device_count over 64 */
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b_info(&b);
    b_u32(&b, 1);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u32(&b, 65537); /* regs over 64 KiB */
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b_info(&b);
    b_u32(&b, 0);
    b_u32(&b, 1);
    b_u32(&b, 65);                               /* device name over 64 */
    assert_int_equal(b_decode(&b), SNAP_ETRUNC); /* 1 device needs at least 9 bytes */
    memset(b.buf + b.len, 'n', 70);
    b.len += 70;
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b_info(&b);
    b_u32(&b, 0);
    b_u32(&b, 1);
    b_u32(&b, 0); /* empty device name */
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u8(&b, 0);
    assert_int_equal(b_decode(&b), SNAP_ECORRUPT);
    b_info(&b);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u32(&b, (1u << 20) + 1); /* gic over 1 MiB */
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b_info(&b);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u8(&b, 1);
    b_u32(&b, (16u << 20) + 1); /* mmds over 16 MiB */
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b_info(&b);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u8(&b, 1);
    b_u32(&b, 16u << 20); /* within the limit, not in the input */
    assert_int_equal(b_decode(&b), SNAP_ETRUNC);
    b_info(&b);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u32(&b, 0);
    b_u8(&b, 0); /* the smallest valid state: no vCPU (decodes, but is not compatible) */
    assert_int_equal(b_decode(&b), 0);
    /* cpu_template of 65 bytes, kernel path of 4097. */
    b.len = 8;
    b_u32(&b, 65);
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    b.len = 8;
    b_u32(&b, 0);
    b_u32(&b, 4097);
    assert_int_equal(b_decode(&b), SNAP_ELIMIT);
    {
        struct snap_vm_state st;
        static uint8_t dummy;

        assert_int_equal(snap_state_decode(&st, &dummy, (64u << 20) + 1), SNAP_ELIMIT);
        assert_int_equal(snap_state_decode(NULL, &dummy, 1), SNAP_EINVAL);
        assert_int_equal(snap_state_decode(&st, NULL, 1), SNAP_EINVAL);
    }
}

static void state__encode_refuses_what_it_cannot_carry(void **unused)
{
    struct snap_vm_state st;
    struct snap_vcpu v[2];
    struct snap_device d[2];
    uint8_t buf[4096];
    size_t len;
    char long_name[66];
    uint8_t *heap;

    (void)unused;
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[65] = '\0';
#define EXPECT(rc)                                                                                 \
    do {                                                                                           \
        assert_int_equal(snap_state_encode(buf, sizeof(buf), &len, &st), rc);                      \
        assert_int_equal(snap_state_encoded_len(&st), 0);                                          \
        assert_int_equal(snap_state_encode_alloc(&heap, &len, &st), rc);                           \
        assert_null(heap);                                                                         \
        sample(&st, v, d, true, true);                                                             \
    } while (0)
    sample(&st, v, d, true, true);
    st.info.cpu_template = NULL;
    EXPECT(SNAP_EINVAL);
    st.info.boot_args = NULL;
    EXPECT(SNAP_EINVAL);
    st.info.kernel_image_path = NULL;
    EXPECT(SNAP_EINVAL);
    st.info.cpu_template = long_name;
    EXPECT(SNAP_ELIMIT);
    d[1].name = long_name;
    EXPECT(SNAP_ELIMIT);
    d[1].name = "";
    EXPECT(SNAP_ELIMIT);
    d[1].name = NULL;
    EXPECT(SNAP_EINVAL);
    d[0].state = NULL;
    EXPECT(SNAP_EINVAL);
    v[1].regs_len = SNAP_MAX_REGS_LEN + 1;
    EXPECT(SNAP_ELIMIT);
    st.vcpu_count = SNAP_MAX_VCPUS + 1;
    EXPECT(SNAP_ELIMIT);
    st.vcpus = NULL;
    EXPECT(SNAP_EINVAL);
    st.device_count = SNAP_MAX_DEVICES + 1;
    EXPECT(SNAP_ELIMIT);
    st.devices = NULL;
    EXPECT(SNAP_EINVAL);
    st.gic_len = SNAP_MAX_GIC_LEN + 1;
    EXPECT(SNAP_ELIMIT);
    st.gic = NULL;
    EXPECT(SNAP_EINVAL);
    st.mmds_len = SNAP_MAX_MMDS_LEN + 1;
    EXPECT(SNAP_ELIMIT);
    st.has_mmds = false; /* mmds bytes the encoding would drop */
    EXPECT(SNAP_EINVAL);
    assert_int_equal(snap_state_encode(buf, sizeof(buf), &len, NULL), SNAP_EINVAL);
    assert_int_equal(snap_state_encode(NULL, sizeof(buf), &len, &st), SNAP_EINVAL);
    assert_int_equal(snap_state_encode(buf, sizeof(buf), NULL, &st), SNAP_EINVAL);
    assert_int_equal(snap_state_encode_alloc(NULL, &len, &st), SNAP_EINVAL);
    assert_int_equal(snap_state_encoded_len(NULL), 0);
#undef EXPECT
}

static void state__encode_refuses_a_state_over_64_mib(void **unused)
{
    struct snap_vm_state st;
    struct snap_vcpu v[2];
    struct snap_device d[64];
    uint8_t *big = calloc(1, SNAP_MAX_DEVICE_STATE_LEN);

    (void)unused;
    assert_non_null(big);
    sample(&st, v, d, true, true);
    for (int i = 0; i < 64; i++)
        d[i] =
            (struct snap_device){.name = "x", .state = big, .state_len = SNAP_MAX_DEVICE_STATE_LEN};
    st.device_count = 64; /* 64 MiB of device state alone, plus the rest */
    st.mmds = big;
    st.mmds_len = SNAP_MAX_DEVICE_STATE_LEN;
    assert_int_equal(snap_state_encoded_len(&st), 0);
    st.device_count = 62; /* now it fits */
    assert_true(snap_state_encoded_len(&st) > 63u * SNAP_MAX_DEVICE_STATE_LEN);
    assert_true(snap_state_encoded_len(&st) <= SNAP_MAX_STATE_LEN);
    st.device_count = 63; /* 63 MiB + 1 MiB of mmds + the headers: just over */
    assert_int_equal(snap_state_encoded_len(&st), 0);
    free(big);
}

static void state__equal_sees_each_difference(void **unused)
{
    struct snap_vm_state a, b;
    struct snap_vcpu va[2], vb[2];
    struct snap_device da[2], db[2];
    uint8_t other_regs[5] = {1, 2, 3, 4, 6};

    (void)unused;
    sample(&a, va, da, true, true);
#define DIFFERS(stmt)                                                                              \
    do {                                                                                           \
        sample(&b, vb, db, true, true);                                                            \
        assert_true(snap_state_equal(&a, &b));                                                     \
        stmt;                                                                                      \
        assert_false(snap_state_equal(&a, &b));                                                    \
    } while (0)
    DIFFERS(b.info.mem_size_mib++);
    DIFFERS(b.info.smt = true);
    DIFFERS(b.info.track_dirty_pages = false);
    DIFFERS(b.info.cpu_template = "T3");
    DIFFERS(b.info.kernel_image_path = "/x");
    DIFFERS(b.info.initrd_path = NULL);
    DIFFERS(b.info.boot_args = "");
    DIFFERS(b.vcpu_count = 1);
    DIFFERS(vb[1].index = 5);
    DIFFERS(vb[1].mpidr = 5);
    DIFFERS(vb[0].regs = other_regs);
    DIFFERS(vb[0].regs_len = 4);
    DIFFERS(b.device_count = 1);
    DIFFERS(db[0].name = "virtio-net");
    DIFFERS(db[0].state_len = 3);
    DIFFERS(b.gic_len = 2);
    DIFFERS(b.has_mmds = false);
    DIFFERS(b.mmds_len = 1);
#undef DIFFERS
    assert_true(snap_state_equal(NULL, NULL));
    assert_false(snap_state_equal(&a, NULL));
    snap_state_finish(NULL);
}

static void state__verify_compatible_each_rule(void **unused)
{
    struct snap_vm_state st;
    struct snap_vcpu v[2];
    struct snap_device d[2];
    struct snap_diag diag;
    const uint64_t ram = 128ull << 20;

    (void)unused;
    sample(&st, v, d, false, false);
    assert_int_equal(snap_state_verify_compatible(&st, ram, NULL), 0);
    st.vcpu_count = 0;
    snap_diag_clear(&diag);
    assert_int_equal(snap_state_verify_compatible(&st, ram, &diag), SNAP_EINCOMPAT);
    assert_non_null(strstr(diag.msg, "no vCPU"));
    sample(&st, v, d, false, false);
    v[0].index = 1;
    v[1].index = 0;
    snap_diag_clear(&diag);
    assert_int_equal(snap_state_verify_compatible(&st, ram, &diag), SNAP_EINCOMPAT);
    assert_non_null(strstr(diag.msg, "index"));
    sample(&st, v, d, false, false);
    v[1].index = 2; /* a gap */
    assert_int_equal(snap_state_verify_compatible(&st, ram, NULL), SNAP_EINCOMPAT);
    sample(&st, v, d, false, false);
    st.info.smt = true;
    snap_diag_clear(&diag);
    assert_int_equal(snap_state_verify_compatible(&st, ram, &diag), SNAP_EINCOMPAT);
    assert_non_null(strstr(diag.msg, "SMT"));
    sample(&st, v, d, false, false);
    snap_diag_clear(&diag);
    assert_int_equal(snap_state_verify_compatible(&st, ram + 4096, &diag), SNAP_EINCOMPAT);
    assert_non_null(strstr(diag.msg, "mem_size_mib"));
    assert_int_equal(snap_state_verify_compatible(&st, ram >> 1, NULL), SNAP_EINCOMPAT);
    st.info.mem_size_mib = 0xffffffffu; /* no overflow in the product */
    assert_int_equal(snap_state_verify_compatible(&st, 0xffffffffull << 20, NULL), 0);
    assert_int_equal(snap_state_verify_compatible(NULL, ram, NULL), SNAP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state__round_trip_is_byte_identical),
        cmocka_unit_test(state__layout_matches_format_md),
        cmocka_unit_test(state__every_truncation_is_etrunc),
        cmocka_unit_test(state__rejects_trailing_bytes),
        cmocka_unit_test(state__rejects_bad_bools_and_reserved),
        cmocka_unit_test(state__rejects_nul_in_strings),
        cmocka_unit_test(state__rejects_over_limit_counts_and_lengths),
        cmocka_unit_test(state__encode_refuses_what_it_cannot_carry),
        cmocka_unit_test(state__encode_refuses_a_state_over_64_mib),
        cmocka_unit_test(state__equal_sees_each_difference),
        cmocka_unit_test(state__verify_compatible_each_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
