/* Unit tests of ref/src/names.c: the file names of FORMAT.md section 1 as built by
 * snap_name_state and snap_name_mem (the parsing side is tested through save and cleanup, which
 * must leave every name that is not the library's alone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "snap/snap.h"

static void names__state_name_is_id_dot_snap(void **unused)
{
    char buf[64];

    (void)unused;
    assert_int_equal(snap_name_state(buf, sizeof(buf), "vm-1_A"), 0);
    assert_string_equal(buf, "vm-1_A.snap");
}

static void names__mem_name_is_id_dot_g_gen_dot_mem(void **unused)
{
    char buf[80];

    (void)unused;
    assert_int_equal(snap_name_mem(buf, sizeof(buf), "vm1", 7), 0);
    assert_string_equal(buf, "vm1.g7.mem");
    assert_int_equal(snap_name_mem(buf, sizeof(buf), "vm1", 9223372036854775807ull), 0);
    assert_string_equal(buf, "vm1.g9223372036854775807.mem");
}

static void names__rejects_invalid_id_and_generation(void **unused)
{
    char buf[80];
    const char *bad[] = {"", "a.b", "a/b", "a b", "0123456789012345678901234567890123456789x"};

    (void)unused;
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(snap_name_state(buf, sizeof(buf), bad[i]), SNAP_EINVAL);
        assert_int_equal(snap_name_mem(buf, sizeof(buf), bad[i], 1), SNAP_EINVAL);
    }
    assert_int_equal(snap_name_mem(buf, sizeof(buf), "vm1", 0), SNAP_EINVAL);
    assert_int_equal(snap_name_mem(buf, sizeof(buf), "vm1", 1ull << 63), SNAP_EINVAL);
    assert_int_equal(snap_name_state(NULL, 8, "vm1"), SNAP_EINVAL);
    assert_int_equal(snap_name_state(buf, sizeof(buf), NULL), SNAP_EINVAL);
    assert_int_equal(snap_name_mem(NULL, 8, "vm1", 1), SNAP_EINVAL);
    assert_int_equal(snap_name_mem(buf, sizeof(buf), NULL, 1), SNAP_EINVAL);
}

static void names__reports_too_small_buffer(void **unused)
{
    char buf[16];

    (void)unused;
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(snap_name_state(buf, 8, "vm1234"), SNAP_EINVAL); /* needs 12 */
    assert_string_equal(buf, "");
    assert_int_equal(snap_name_state(buf, 12, "vm1234"), 0);
    assert_int_equal(snap_name_mem(buf, 10, "vm1", 1), SNAP_EINVAL); /* needs 11 */
    assert_int_equal(snap_name_mem(buf, 11, "vm1", 1), 0);
    assert_int_equal(snap_name_state(buf, 0, "vm1"), SNAP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names__state_name_is_id_dot_snap),
        cmocka_unit_test(names__mem_name_is_id_dot_g_gen_dot_mem),
        cmocka_unit_test(names__rejects_invalid_id_and_generation),
        cmocka_unit_test(names__reports_too_small_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
