/* Unit tests of the fault model table and the action parser (faults/model.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model.h"

static void model__table_is_well_formed(void **state)
{
    (void)state;
    unsigned n;
    const struct sf_call *c = sf_calls(&n);
    char point[64];

    assert_true(n >= 21);
    for (unsigned i = 0; i < n; i++) {
        snprintf(point, sizeof(point), "snapcheck/io/%s", c[i].name);
        assert_string_equal(c[i].point, point);
        assert_true(c[i].n_errnos >= 1);
        assert_ptr_equal(sf_call_find(c[i].name), &c[i]);
        for (unsigned j = 0; j < c[i].n_errnos; j++) {
            assert_true(c[i].errnos[j] > 0);
            assert_non_null(sf_errno_name(c[i].errnos[j]));
            for (unsigned k = 0; k < j; k++)
                assert_int_not_equal(c[i].errnos[j], c[i].errnos[k]);
        }
        bool writer = strcmp(c[i].name, "write") == 0 || strcmp(c[i].name, "pwrite") == 0 ||
                      strcmp(c[i].name, "pwrite64") == 0 || strcmp(c[i].name, "writev") == 0;
        assert_int_equal(c[i].can_short, writer);
    }
}

static void model__finds_calls_and_aliases(void **state)
{
    (void)state;
    assert_string_equal(sf_call_find("__open_2")->name, "open");
    assert_string_equal(sf_call_find("__open64_2")->name, "open64");
    assert_string_equal(sf_call_find("ftruncate64")->name, "ftruncate");
    assert_string_equal(sf_call_find("fsync")->point, "snapcheck/io/fsync");
    assert_null(sf_call_find("read"));
    assert_null(sf_call_find(""));
    assert_null(sf_call_find(NULL));
}

static void model__errno_sets_follow_linux(void **state)
{
    (void)state;
    const struct sf_call *fs = sf_call_find("fsync");
    assert_true(sf_call_has_errno(fs, EIO));
    assert_false(sf_call_has_errno(fs, EINTR)); /* decided: see docs/FAULTS.md */
    assert_int_equal(fs->errnos[0], EIO);
    assert_true(sf_call_has_errno(sf_call_find("write"), EFBIG));
    assert_true(sf_call_has_errno(sf_call_find("rename"), EXDEV));
    assert_false(sf_call_has_errno(sf_call_find("unlink"), ENOSPC));
    assert_true(sf_call_has_errno(sf_call_find("open"), EMFILE));
}

static void model__errno_names_round_trip(void **state)
{
    (void)state;
    assert_string_equal(sf_errno_name(EIO), "EIO");
    assert_int_equal(sf_errno_from_name("ENOSPC"), ENOSPC);
    assert_int_equal(sf_errno_from_name("EDQUOT"), EDQUOT);
    assert_int_equal(sf_errno_from_name("eio"), 0);
    assert_int_equal(sf_errno_from_name("EWHAT"), 0);
    assert_int_equal(sf_errno_from_name(NULL), 0);
    assert_null(sf_errno_name(0));
    assert_null(sf_errno_name(-5));
}

static void model__parses_every_action(void **state)
{
    (void)state;
    static const char *const good[] = {"errno=EIO",     "errno=EDQUOT", "short=1",
                                       "short=half",    "short=allbut1", "crash-before",
                                       "crash-after",   "errno=EIO,dirsync-shutdown"};
    struct sf_action a;
    char buf[40];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(sf_action_parse(&a, good[i]), 0);
        assert_int_equal(sf_action_format(buf, sizeof(buf), &a), (int)strlen(good[i]));
        assert_string_equal(buf, good[i]);
    }
    assert_int_equal(sf_action_parse(&a, "errno=ENOSPC"), 0);
    assert_int_equal(a.kind, SF_ERRNO);
    assert_int_equal(a.err, ENOSPC);
    assert_false(a.dirsync_shutdown);
    assert_int_equal(sf_action_parse(&a, "errno=EIO,dirsync-shutdown"), 0);
    assert_int_equal(a.err, EIO);
    assert_true(a.dirsync_shutdown);
    assert_int_equal(sf_action_parse(&a, "short=half"), 0);
    assert_int_equal(a.kind, SF_SHORT);
    assert_int_equal(a.shortlen, SF_SHORT_HALF);
    assert_int_equal(sf_action_format(buf, 5, &a), -1); /* too small */
}

static void model__rejects_bad_actions(void **state)
{
    (void)state;
    static const char *const bad[] = {"",          "errno=",       "errno=EWHAT", "errno=5",
                                      "short=",    "short=2",      "short=HALF",  "crash",
                                      "crash-now", "crash-before ", "3:errno=EIO", "errno=EIO,",
                                      "errno=,dirsync-shutdown", "short=1,dirsync-shutdown",
                                      NULL};
    struct sf_action a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sf_action_parse(&a, bad[i]), -1);
}

static void model__parses_cases(void **state)
{
    (void)state;
    unsigned long long ord = 0;
    struct sf_action a;

    assert_int_equal(sf_case_parse(&ord, &a, "7:crash-after"), 0);
    assert_int_equal(ord, 7);
    assert_int_equal(a.kind, SF_CRASH_AFTER);
    assert_int_equal(sf_case_parse(&ord, &a, "18446744073709551615:errno=EIO"), 0);
    assert_true(ord == 18446744073709551615ULL);
    assert_int_equal(sf_case_parse(&ord, &a, "18446744073709551616:errno=EIO"), -1);
    assert_int_equal(sf_case_parse(&ord, &a, "0:errno=EIO"), -1);
    assert_int_equal(sf_case_parse(&ord, &a, "-1:errno=EIO"), -1);
    assert_int_equal(sf_case_parse(&ord, &a, ":errno=EIO"), -1);
    assert_int_equal(sf_case_parse(&ord, &a, "3"), -1);
    assert_int_equal(sf_case_parse(&ord, &a, "3:"), -1);
    assert_int_equal(sf_case_parse(&ord, &a, "3x:errno=EIO"), -1);
    assert_int_equal(sf_case_parse(&ord, &a, NULL), -1);
}

static void model__short_lengths(void **state)
{
    (void)state;
    assert_int_equal(sf_short_bytes(SF_SHORT_ONE, 10), 1);
    assert_int_equal(sf_short_bytes(SF_SHORT_HALF, 10), 5);
    assert_int_equal(sf_short_bytes(SF_SHORT_HALF, 3), 1);
    assert_int_equal(sf_short_bytes(SF_SHORT_ALLBUT1, 10), 9);
    assert_int_equal(sf_short_bytes(SF_SHORT_ALLBUT1, 2), 1);
    assert_int_equal(sf_short_bytes(SF_SHORT_HALF, 1), 1);
    assert_int_equal(sf_short_bytes(SF_SHORT_ONE, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model__table_is_well_formed),
        cmocka_unit_test(model__finds_calls_and_aliases),
        cmocka_unit_test(model__errno_sets_follow_linux),
        cmocka_unit_test(model__errno_names_round_trip),
        cmocka_unit_test(model__parses_every_action),
        cmocka_unit_test(model__rejects_bad_actions),
        cmocka_unit_test(model__parses_cases),
        cmocka_unit_test(model__short_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
