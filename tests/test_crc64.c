/* Unit tests of ref/src/crc64.c: CRC-64/XZ check value, chaining, and the ISA-L path against
 * the portable one and against a bit-at-a-time reference written here from FORMAT.md 2. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "snap/crc64.h"

#define CHECK_VALUE 0x995DC9BBDF1939FAull

/* Bitwise CRC-64/XZ straight from the parameters: independent of the table code. */
static uint64_t crc_bitwise(const uint8_t *p, size_t n)
{
    uint64_t crc = ~0ull;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0xC96C5795D7870F42ull : crc >> 1;
    }
    return ~crc;
}

/* xorshift64: deterministic test data. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void *crc_in_thread(void *arg)
{
    uint64_t *out = arg;

    *out = snap_crc64_portable(0, "123456789", 9);
    return NULL;
}

/* Runs first: the portable tables are built on first use, here by several threads at once. */
static void crc64__first_use_from_many_threads(void **unused)
{
    pthread_t t[8];
    uint64_t got[8];

    (void)unused;
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, crc_in_thread, &got[i]), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(got[i], CHECK_VALUE);
    }
}

static void crc64__check_value(void **unused)
{
    (void)unused;
    assert_int_equal(snap_crc64(0, "123456789", 9), CHECK_VALUE);
    assert_int_equal(snap_crc64_portable(0, "123456789", 9), CHECK_VALUE);
    assert_int_equal(crc_bitwise((const uint8_t *)"123456789", 9), CHECK_VALUE);
}

static void crc64__empty_is_zero(void **unused)
{
    (void)unused;
    assert_int_equal(snap_crc64(0, NULL, 0), 0);
    assert_int_equal(snap_crc64_portable(0, NULL, 0), 0);
    assert_int_equal(snap_crc64(0, "", 0), 0);
    /* An empty continuation leaves any CRC unchanged. */
    assert_int_equal(snap_crc64(CHECK_VALUE, "x", 0), CHECK_VALUE);
    assert_int_equal(snap_crc64_portable(CHECK_VALUE, "x", 0), CHECK_VALUE);
}

static void crc64__zeros_do_not_crc_to_zero(void **unused)
{
    uint8_t zeros[4096] = {0};

    (void)unused;
    for (size_t n = 1; n <= sizeof(zeros); n *= 2) {
        assert_int_not_equal(snap_crc64(0, zeros, n), 0);
        assert_int_equal(snap_crc64(0, zeros, n), crc_bitwise(zeros, n));
    }
}

static void crc64__incremental_equals_one_shot(void **unused)
{
    uint8_t buf[1000];

    (void)unused;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rnd();
    uint64_t whole = snap_crc64(0, buf, sizeof(buf));
    uint64_t whole_p = snap_crc64_portable(0, buf, sizeof(buf));
    assert_int_equal(whole, whole_p);
    for (size_t cut = 0; cut <= sizeof(buf); cut += 7) {
        assert_int_equal(snap_crc64(snap_crc64(0, buf, cut), buf + cut, sizeof(buf) - cut), whole);
        assert_int_equal(
            snap_crc64_portable(snap_crc64_portable(0, buf, cut), buf + cut, sizeof(buf) - cut),
            whole);
    }
    /* Three pieces, mixing the implementations. */
    uint64_t c = snap_crc64_portable(0, buf, 13);
    c = snap_crc64(c, buf + 13, 500);
    c = snap_crc64_portable(c, buf + 513, sizeof(buf) - 513);
    assert_int_equal(c, whole);
}

static void crc64__portable_matches_fast_and_reference(void **unused)
{
    enum { CAP = 70000 };
    uint8_t *buf = malloc(CAP + 16);

    (void)unused;
    assert_non_null(buf);
    for (size_t i = 0; i < CAP + 16; i++)
        buf[i] = (uint8_t)rnd();
    for (int round = 0; round < 300; round++) {
        size_t align = (size_t)(rnd() % 16);
        size_t len = round < 64 ? (size_t)round : (size_t)(rnd() % CAP);
        uint64_t seed = round % 3 == 0 ? 0 : rnd();
        uint64_t p = snap_crc64_portable(seed, buf + align, len);

        assert_int_equal(snap_crc64(seed, buf + align, len), p);
        if (seed == 0 && len < 5000)
            assert_int_equal(crc_bitwise(buf + align, len), p);
    }
    free(buf);
}

/* One non-zero byte in an 8-byte block reaches every entry of every slicing table once the value
 * and position run through all 256 x 8 cases; 9..15-byte messages add the byte-wise tail. */
static void crc64__every_table_entry_matches_reference(void **unused)
{
    uint8_t msg[15];

    (void)unused;
    for (size_t len = 8; len <= sizeof(msg); len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (unsigned v = 0; v < 256; v++) {
                memset(msg, 0, sizeof(msg));
                msg[pos] = (uint8_t)v;
                if (snap_crc64_portable(0, msg, len) != crc_bitwise(msg, len))
                    fail_msg("len %zu byte %zu value %u", len, pos, v);
            }
        }
    }
}

static void crc64__detects_any_single_bit_flip(void **unused)
{
    uint8_t buf[64];

    (void)unused;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;
    uint64_t good = snap_crc64(0, buf, sizeof(buf));
    for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(snap_crc64(0, buf, sizeof(buf)), good);
        assert_int_not_equal(snap_crc64_portable(0, buf, sizeof(buf)), good);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

static void crc64__impl_name(void **unused)
{
    (void)unused;
    const char *impl = snap_crc64_impl();
    assert_true(strcmp(impl, "isa-l") == 0 || strcmp(impl, "portable") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc64__first_use_from_many_threads),
        cmocka_unit_test(crc64__check_value),
        cmocka_unit_test(crc64__empty_is_zero),
        cmocka_unit_test(crc64__zeros_do_not_crc_to_zero),
        cmocka_unit_test(crc64__incremental_equals_one_shot),
        cmocka_unit_test(crc64__portable_matches_fast_and_reference),
        cmocka_unit_test(crc64__every_table_entry_matches_reference),
        cmocka_unit_test(crc64__detects_any_single_bit_flip),
        cmocka_unit_test(crc64__impl_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
