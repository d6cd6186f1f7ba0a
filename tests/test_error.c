/* Unit tests of ref/src/error.c: error names, diag clear/set, first failure wins, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "snap/error.h"

static void error__strerror_names_every_code(void **unused)
{
    static const char *const names[] = {
        "SNAP_OK",       "SNAP_EINVAL", "SNAP_EIO",    "SNAP_ENOMEM",    "SNAP_EMAGIC",
        "SNAP_EVERSION", "SNAP_ETRUNC", "SNAP_ECRC",   "SNAP_ECORRUPT",  "SNAP_ELIMIT",
        "SNAP_EPAIR",    "SNAP_EPAGE",  "SNAP_ENOENT", "SNAP_EINCOMPAT",
    };

    (void)unused;
    for (int code = 0; code >= SNAP_ERR_MIN; code--) {
        const char *s = snap_strerror(code);
        size_t n = strlen(names[-code]);

        assert_non_null(s);
        assert_memory_equal(s, names[-code], n);
        assert_int_equal(s[n], ':'); /* "SNAP_ECRC: ..." and not "SNAP_ECRCX" */
        for (int other = 0; other > code; other--)
            assert_string_not_equal(s, snap_strerror(other));
    }
    assert_non_null(strstr(snap_strerror(SNAP_ECRC), "checksum"));
    assert_non_null(strstr(snap_strerror(1), "unknown"));
    assert_non_null(strstr(snap_strerror(SNAP_ERR_MIN - 1), "unknown"));
}

static void error__clear_resets_everything(void **unused)
{
    struct snap_diag d;

    (void)unused;
    memset(&d, 0x55, sizeof(d));
    snap_diag_clear(&d);
    assert_int_equal(d.code, 0);
    assert_int_equal(d.sys_errno, 0);
    assert_null(d.op);
    assert_int_equal(d.page, SNAP_NO_PAGE);
    assert_string_equal(d.path, "");
    assert_string_equal(d.msg, "");
    snap_diag_clear(NULL);
}

static void error__set_records_and_returns_code(void **unused)
{
    struct snap_diag d;

    (void)unused;
    snap_diag_clear(&d);
    assert_int_equal(
        snap_diag_set(&d, SNAP_EIO, 5, "fsync", "dir/vm1.snap", "fsync of %s failed", "vm1.snap"),
        SNAP_EIO);
    assert_int_equal(d.code, SNAP_EIO);
    assert_int_equal(d.sys_errno, 5);
    assert_string_equal(d.op, "fsync");
    assert_string_equal(d.path, "dir/vm1.snap");
    assert_string_equal(d.msg, "fsync of vm1.snap failed");
    assert_int_equal(snap_diag_set(NULL, SNAP_ECRC, 0, NULL, NULL, "x"), SNAP_ECRC);
}

static void error__first_failure_wins(void **unused)
{
    struct snap_diag d;

    (void)unused;
    snap_diag_clear(&d);
    assert_int_equal(snap_diag_set(&d, SNAP_ECRC, 0, "decode", NULL, "low"), SNAP_ECRC);
    assert_int_equal(snap_diag_set(&d, SNAP_EPAIR, 0, "load", "p", "high"), SNAP_EPAIR);
    assert_int_equal(d.code, SNAP_ECRC);
    assert_string_equal(d.msg, "low");
    assert_string_equal(d.path, "");
    /* Code 0 records nothing. */
    snap_diag_clear(&d);
    assert_int_equal(snap_diag_set(&d, 0, 0, "x", "y", "z"), 0);
    assert_int_equal(d.code, 0);
    assert_string_equal(d.msg, "");
}

static void error__long_strings_are_truncated_safely(void **unused)
{
    struct snap_diag d;
    char big[2000];

    (void)unused;
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snap_diag_clear(&d);
    snap_diag_set(&d, SNAP_EINVAL, 0, "op", big, "%s%s", big, "tail");
    assert_int_equal(strlen(d.path), sizeof(d.path) - 1);
    assert_int_equal(strlen(d.msg), sizeof(d.msg) - 1);
    assert_int_equal(d.msg[0], 'p');
    snap_diag_clear(&d);
    snap_diag_set(&d, SNAP_EINVAL, 0, NULL, NULL, NULL);
    assert_int_equal(d.code, SNAP_EINVAL);
    assert_string_equal(d.msg, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error__strerror_names_every_code),
        cmocka_unit_test(error__clear_resets_everything),
        cmocka_unit_test(error__set_records_and_returns_code),
        cmocka_unit_test(error__first_failure_wins),
        cmocka_unit_test(error__long_strings_are_truncated_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
