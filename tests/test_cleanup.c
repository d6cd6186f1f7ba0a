/* Unit tests of ref/src/cleanup.c: snap_pair_cleanup removes memory files of other
 * generations and temporary state files of one <id>, never the committed pair, never a file
 * that is not the library's, and reports (without stopping) the removals that fail. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "faultio.h"

#define MIB (1u << 20)

static char *dir_with_pair(struct tfix_vm *vm, uint8_t **mem)
{
    char *dir = tfix_mkdir();
    struct snap_save_req r;

    tfix_vm_init(vm, 1, false, 1);
    *mem = tfix_memory(MIB, 1);
    memset(&r, 0, sizeof(r));
    r.dir = dir;
    r.id = "vm1";
    r.kind = SNAP_KIND_FULL;
    r.state = &vm->st;
    r.memory = *mem;
    r.ram_size = MIB;
    r.page_size = 4096;
    assert_int_equal(snap_pair_save(NULL, &snap_io_posix, &r, NULL), 0);
    assert_int_equal(snap_pair_save(NULL, &snap_io_posix, &r, NULL), 0); /* generation 2 */
    return dir;
}

static void add_stale(const char *dir)
{
    const char *names[] = {"vm1.g1.mem", "vm1.g5.mem", "vm1.g3.snap.tmp", "vm1.g01.mem",
                           "vm1.snap.tmp", "vm10.g1.mem", "other.g1.mem", "vm1.g4.mem~"};

    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(tfix_write(dir, names[i], "x", 1), 0);
}

static void cleanup__removes_stale_files_of_the_id_only(void **unused)
{
    struct tfix_vm vm;
    uint8_t *mem;
    char *dir = dir_with_pair(&vm, &mem);
    char list[1024];
    unsigned removed = 99;
    struct snap_image img;

    (void)unused;
    add_stale(dir);
    assert_int_equal(snap_pair_cleanup(&removed, &snap_io_posix, dir, "vm1", NULL), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "other.g1.mem vm1.g01.mem vm1.g2.mem vm1.g4.mem~ vm1.snap "
                              "vm1.snap.tmp vm10.g1.mem");
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, dir, "vm1", NULL), 0);
    snap_image_finish(&img);
    /* Nothing left to do: no removal, no directory fsync. */
    struct faultio f;
    faultio_init(&f, NULL, dir);
    assert_int_equal(snap_pair_cleanup(&removed, &f.io, dir, "vm1", NULL), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(f.count[FIO_FSYNC], 0);
    free(mem);
    tfix_rmdir(dir);
}

static void cleanup__without_state_file_removes_every_memory_file(void **unused)
{
    char *dir = tfix_mkdir();
    char list[1024];
    unsigned removed = 0;

    (void)unused;
    add_stale(dir);
    assert_int_equal(snap_pair_cleanup(&removed, &snap_io_posix, dir, "vm1", NULL), 0);
    assert_int_equal(removed, 3);
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "other.g1.mem vm1.g01.mem vm1.g4.mem~ vm1.snap.tmp vm10.g1.mem");
    tfix_rmdir(dir);
}

static void cleanup__keeps_memory_files_when_state_header_is_damaged(void **unused)
{
    struct tfix_vm vm;
    uint8_t *mem;
    char *dir = dir_with_pair(&vm, &mem);
    char list[1024];
    unsigned removed = 0;

    (void)unused;
    add_stale(dir);
    assert_int_equal(tfix_write(dir, "vm1.snap", "not a state file", 16), 0);
    assert_int_equal(snap_pair_cleanup(&removed, &snap_io_posix, dir, "vm1", NULL), 0);
    assert_int_equal(removed, 1); /* only the temporary state file */
    assert_false(tfix_exists(dir, "vm1.g3.snap.tmp"));
    assert_true(tfix_exists(dir, "vm1.g1.mem"));
    assert_true(tfix_exists(dir, "vm1.g2.mem"));
    assert_true(tfix_exists(dir, "vm1.g5.mem"));
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    free(mem);
    tfix_rmdir(dir);
}

static void cleanup__reports_failed_removal_and_goes_on(void **unused)
{
    struct tfix_vm vm;
    uint8_t *mem;
    char *dir = dir_with_pair(&vm, &mem);
    struct snap_diag d;
    struct faultio f;
    unsigned removed = 0;

    (void)unused;
    add_stale(dir);
    faultio_init(&f, NULL, dir);
    f.fail_kind = FIO_UNLINK;
    f.fail_nth = 1;
    f.fail_errno = EACCES;
    assert_int_equal(snap_pair_cleanup(&removed, &f.io, dir, "vm1", &d), SNAP_EIO);
    assert_int_equal(d.sys_errno, EACCES);
    assert_string_equal(d.op, "unlink");
    assert_int_equal(f.count[FIO_UNLINK], 3);
    assert_int_equal(removed, 2);
    assert_int_equal(f.count[FIO_FSYNC], 1);
    /* Same without a diag: the code still says it. */
    add_stale(dir);
    faultio_init(&f, NULL, dir);
    f.fail_kind = FIO_UNLINK;
    f.fail_nth = 2;
    f.fail_errno = EIO;
    assert_int_equal(snap_pair_cleanup(&removed, &f.io, dir, "vm1", NULL), SNAP_EIO);
    free(mem);
    tfix_rmdir(dir);
}

static void cleanup__reports_list_open_read_and_sync_failures(void **unused)
{
    struct tfix_vm vm;
    uint8_t *mem;
    char *dir = dir_with_pair(&vm, &mem);
    const enum fio_call kinds[] = {FIO_OPEN, FIO_PREAD, FIO_LIST, FIO_FSYNC};
    const char *ops[] = {"open", "pread", "list", "fsync-dir"};

    (void)unused;
    for (unsigned i = 0; i < 4; i++) {
        struct snap_diag d;
        struct faultio f;

        add_stale(dir);
        faultio_init(&f, NULL, dir);
        f.fail_kind = kinds[i];
        f.fail_nth = 1;
        f.fail_errno = EIO;
        assert_int_equal(snap_pair_cleanup(NULL, &f.io, dir, "vm1", &d), SNAP_EIO);
        assert_string_equal(d.op, ops[i]);
        assert_true(tfix_exists(dir, "vm1.g2.mem"));
    }
    free(mem);
    tfix_rmdir(dir);
}

static void cleanup__rejects_bad_arguments(void **unused)
{
    struct snap_diag d;
    unsigned removed = 5;

    (void)unused;
    assert_int_equal(snap_pair_cleanup(&removed, &snap_io_posix, "/tmp", "a.b", &d), SNAP_EINVAL);
    assert_int_equal(removed, 0);
    assert_int_equal(snap_pair_cleanup(NULL, NULL, "/tmp", "vm1", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_cleanup(NULL, &snap_io_posix, NULL, "vm1", &d), SNAP_EINVAL);
}


static void cleanup__handles_many_names_races_and_odd_headers(void **unused)
{
    struct tfix_vm vm;
    uint8_t *mem;
    char *dir = dir_with_pair(&vm, &mem);
    char *long_dir = malloc(4100);
    char name[64];
    uint8_t junk[300];
    unsigned removed = 0;
    struct faultio f;

    (void)unused;
    for (unsigned g = 3; g < 23; g++) {
        snprintf(name, sizeof(name), "vm1.g%u.mem", g);
        assert_int_equal(tfix_write(dir, name, "x", 1), 0);
    }
    /* One of them vanishes before its unlink: not a failure. */
    faultio_init(&f, NULL, dir);
    f.fail_kind = FIO_UNLINK;
    f.fail_nth = 5;
    f.fail_errno = ENOENT;
    assert_int_equal(snap_pair_cleanup(&removed, &f.io, dir, "vm1", NULL), 0);
    assert_int_equal(removed, 19);
    /* A 300-byte state file whose header does not decode keeps every memory file. */
    memset(junk, 0x22, sizeof(junk));
    assert_int_equal(tfix_write(dir, "vm1.snap", junk, sizeof(junk)), 0);
    assert_int_equal(tfix_write(dir, "vm1.g9.mem", "x", 1), 0);
    assert_int_equal(snap_pair_cleanup(&removed, &snap_io_posix, dir, "vm1", NULL), 0);
    assert_int_equal(removed, 0);
    assert_true(tfix_exists(dir, "vm1.g9.mem"));
    memset(long_dir, 'd', 4099);
    long_dir[0] = '/';
    long_dir[4099] = '\0';
    assert_int_equal(snap_pair_cleanup(NULL, &snap_io_posix, long_dir, "vm1", NULL), SNAP_EINVAL);
    free(long_dir);
    free(mem);
    tfix_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cleanup__removes_stale_files_of_the_id_only),
        cmocka_unit_test(cleanup__without_state_file_removes_every_memory_file),
        cmocka_unit_test(cleanup__keeps_memory_files_when_state_header_is_damaged),
        cmocka_unit_test(cleanup__reports_failed_removal_and_goes_on),
        cmocka_unit_test(cleanup__reports_list_open_read_and_sync_failures),
        cmocka_unit_test(cleanup__rejects_bad_arguments),
        cmocka_unit_test(cleanup__handles_many_names_races_and_odd_headers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
