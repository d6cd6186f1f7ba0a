/* Unit tests of ref/src/io.c: the libc backend (each method against real files), and the
 * helpers: EINTR retried, short transfers continued, zero progress an error, a file that ends
 * early ETRUNC, read_file limits, directory fsync. */
#include <errno.h>
#include <fcntl.h>
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

static const struct snap_io *P = &snap_io_posix;

static int open_in(const char *dir, const char *name, int flags)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return P->open(P->ctx, path, flags, 0644);
}

static void io__posix_methods_reach_the_file_system(void **unused)
{
    char *dir = tfix_mkdir();
    char a[4200];
    char b[4200];
    char buf[8];
    uint64_t size = 0;
    int fd;

    (void)unused;
    fd = open_in(dir, "a", O_CREAT | O_EXCL | O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(P->pwrite(P->ctx, fd, "hello", 5, 3), 5);
    assert_int_equal(P->fsync(P->ctx, fd), 0);
    assert_int_equal(P->fsize(P->ctx, fd, &size), 0);
    assert_int_equal(size, 8);
    assert_int_equal(P->pread(P->ctx, fd, buf, 5, 3), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(P->pread(P->ctx, fd, buf, 1, 1ull << 63), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(P->pwrite(P->ctx, fd, buf, 1, 1ull << 63), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(P->close(P->ctx, fd), 0);
    assert_int_equal(P->close(P->ctx, fd), -1);
    assert_int_equal(P->fsize(P->ctx, fd, &size), -1);
    assert_true(open_in(dir, "a", O_CREAT | O_EXCL | O_RDWR) < 0);
    assert_int_equal(errno, EEXIST);
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    assert_int_equal(P->rename(P->ctx, a, b), 0);
    assert_false(tfix_exists(dir, "a"));
    assert_int_equal(P->unlink(P->ctx, b), 0);
    assert_int_equal(P->unlink(P->ctx, b), -1);
    assert_int_equal(errno, ENOENT);
    tfix_rmdir(dir);
}

static int count_names(void *arg, const char *name)
{
    unsigned *n = arg;

    assert_string_not_equal(name, ".");
    assert_string_not_equal(name, "..");
    (*n)++;
    return 0;
}

static int stop_at_first(void *arg, const char *name)
{
    (void)arg;
    (void)name;
    return 42;
}

static void io__list_walks_entries_and_stops_on_request(void **unused)
{
    char *dir = tfix_mkdir();
    char missing[4200];
    unsigned n = 0;

    (void)unused;
    assert_int_equal(P->list(P->ctx, dir, count_names, &n), 0);
    assert_int_equal(n, 0);
    tfix_write(dir, "x", "1", 1);
    tfix_write(dir, "y", "1", 1);
    tfix_write(dir, "z", "1", 1);
    assert_int_equal(P->list(P->ctx, dir, count_names, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(P->list(P->ctx, dir, stop_at_first, NULL), 42);
    snprintf(missing, sizeof(missing), "%s/none", dir);
    assert_int_equal(P->list(P->ctx, missing, count_names, &n), -1);
    assert_int_equal(errno, ENOENT);
    tfix_rmdir(dir);
}

static void io__write_all_continues_short_writes_and_retries_eintr(void **unused)
{
    char *dir = tfix_mkdir();
    struct faultio f;
    struct snap_diag d;
    uint8_t *data = tfix_memory(10000, 1);
    uint8_t *back;
    size_t len = 0;
    int fd = open_in(dir, "w", O_CREAT | O_WRONLY);

    (void)unused;
    faultio_init(&f, NULL, dir);
    snap_diag_clear(&d);
    f.short_at = 1;
    f.fail_kind = FIO_PWRITE;
    f.fail_nth = 2;
    f.fail_errno = EINTR;
    assert_int_equal(snap_io_write_all(&f.io, fd, data, 10000, 0, "w", &d), 0);
    assert_int_equal(f.count[FIO_PWRITE], 3); /* half, EINTR, the rest */
    close(fd);
    back = tfix_read(dir, "w", &len);
    assert_int_equal(len, 10000);
    assert_memory_equal(back, data, 10000);
    free(back);
    free(data);
    tfix_rmdir(dir);
}

static void io__write_all_reports_errno_and_path(void **unused)
{
    char *dir = tfix_mkdir();
    struct faultio f;
    struct snap_diag d;
    int fd = open_in(dir, "w", O_CREAT | O_WRONLY);

    (void)unused;
    faultio_init(&f, NULL, dir);
    f.fail_at = 1;
    f.fail_errno = ENOSPC;
    snap_diag_clear(&d);
    assert_int_equal(snap_io_write_all(&f.io, fd, "abc", 3, 0, "the/file", &d), SNAP_EIO);
    assert_int_equal(d.sys_errno, ENOSPC);
    assert_string_equal(d.op, "pwrite");
    assert_string_equal(d.path, "the/file");
    assert_non_null(strstr(d.msg, "the/file"));
    close(fd);
    tfix_rmdir(dir);
}

/* A backend whose transfers make no progress (or claim too much): never trusted. */
static ssize_t zero_pwrite(void *ctx, int fd, const void *src, size_t len, uint64_t off)
{
    (void)ctx, (void)fd, (void)src, (void)off;
    return len > 100 ? (ssize_t)len + 1 : 0;
}

static ssize_t greedy_pread(void *ctx, int fd, void *dst, size_t len, uint64_t off)
{
    (void)ctx, (void)fd, (void)dst, (void)off;
    return (ssize_t)len + 1;
}

static void io__zero_or_excess_progress_is_eio(void **unused)
{
    struct snap_io io = snap_io_posix;
    struct snap_diag d;
    uint8_t buf[200] = {0};

    (void)unused;
    io.pwrite = zero_pwrite;
    io.pread = greedy_pread;
    snap_diag_clear(&d);
    assert_int_equal(snap_io_write_all(&io, 0, buf, 10, 0, "z", &d), SNAP_EIO);
    assert_int_equal(d.sys_errno, EIO);
    assert_int_equal(snap_io_write_all(&io, 0, buf, 200, 0, "z", NULL), SNAP_EIO);
    assert_int_equal(snap_io_read_all(&io, 0, buf, 10, 0, "z", NULL), SNAP_EIO);
    assert_int_equal(snap_io_write_all(&io, 0, buf, 0, 0, "z", NULL), 0);
}

static void io__read_all_reports_early_end_as_etrunc(void **unused)
{
    char *dir = tfix_mkdir();
    struct faultio f;
    struct snap_diag d;
    uint8_t buf[16];
    int fd;

    (void)unused;
    tfix_write(dir, "r", "0123456789", 10);
    fd = open_in(dir, "r", O_RDONLY);
    faultio_init(&f, NULL, dir);
    f.short_at = 1;
    f.fail_kind = FIO_PREAD;
    f.fail_nth = 2;
    f.fail_errno = EINTR;
    assert_int_equal(snap_io_read_all(&f.io, fd, buf, 8, 2, "r", NULL), 0);
    assert_memory_equal(buf, "23456789", 8);
    snap_diag_clear(&d);
    assert_int_equal(snap_io_read_all(P, fd, buf, 16, 0, "r", &d), SNAP_ETRUNC);
    assert_string_equal(d.op, "pread");
    faultio_init(&f, NULL, dir);
    f.fail_at = 1;
    f.fail_errno = EIO;
    assert_int_equal(snap_io_read_all(&f.io, fd, buf, 4, 0, "r", NULL), SNAP_EIO);
    close(fd);
    tfix_rmdir(dir);
}

static void io__read_file_reads_whole_files_within_limit(void **unused)
{
    char *dir = tfix_mkdir();
    char path[4200];
    struct faultio f;
    struct snap_diag d;
    uint8_t *buf;
    size_t len;

    (void)unused;
    tfix_write(dir, "f", "contents", 8);
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_int_equal(snap_io_read_file(&buf, &len, P, path, 8, NULL), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(buf, "contents", 8);
    free(buf);
    snap_diag_clear(&d);
    assert_int_equal(snap_io_read_file(&buf, &len, P, path, 7, &d), SNAP_ELIMIT);
    assert_int_equal(d.code, SNAP_ELIMIT);
    assert_null(buf);
    tfix_write(dir, "f", "", 0);
    assert_int_equal(snap_io_read_file(&buf, &len, P, path, 7, NULL), 0);
    assert_int_equal(len, 0);
    free(buf);
    snprintf(path, sizeof(path), "%s/none", dir);
    snap_diag_clear(&d);
    assert_int_equal(snap_io_read_file(&buf, &len, P, path, 7, &d), SNAP_ENOENT);
    assert_int_equal(d.code, SNAP_ENOENT);
    snprintf(path, sizeof(path), "%s/f", dir);
    for (unsigned i = 0; i < 3; i++) {
        const enum fio_call kinds[] = {FIO_OPEN, FIO_FSIZE, FIO_PREAD};
        faultio_init(&f, NULL, dir);
        tfix_write(dir, "f", "x", 1);
        f.fail_kind = kinds[i];
        f.fail_nth = 1;
        f.fail_errno = EACCES;
        assert_int_equal(snap_io_read_file(&buf, &len, &f.io, path, 7, NULL), SNAP_EIO);
        assert_null(buf);
        assert_int_equal(f.count[FIO_CLOSE], i == 0 ? 0 : 1);
    }
    tfix_rmdir(dir);
}

static void io__fsync_dir_syncs_and_reports_failures(void **unused)
{
    char *dir = tfix_mkdir();
    char path[4200];
    struct faultio f;
    struct snap_diag d;

    (void)unused;
    assert_int_equal(snap_io_fsync_dir(P, dir, NULL), 0);
    tfix_write(dir, "file", "x", 1);
    snprintf(path, sizeof(path), "%s/file", dir);
    snap_diag_clear(&d);
    assert_int_equal(snap_io_fsync_dir(P, path, &d), SNAP_EIO); /* not a directory */
    assert_int_equal(d.sys_errno, ENOTDIR);
    assert_string_equal(d.op, "fsync-dir");
    faultio_init(&f, NULL, dir);
    f.fail_kind = FIO_FSYNC;
    f.fail_nth = 1;
    f.fail_errno = EIO;
    assert_int_equal(snap_io_fsync_dir(&f.io, dir, NULL), SNAP_EIO);
    assert_int_equal(f.count[FIO_FSYNC], 1); /* never retried */
    assert_int_equal(f.count[FIO_CLOSE], 1);
    faultio_init(&f, NULL, dir);
    f.fail_kind = FIO_CLOSE;
    f.fail_nth = 1;
    f.fail_errno = EIO;
    assert_int_equal(snap_io_fsync_dir(&f.io, dir, NULL), 0); /* a directory close is moot */
    tfix_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(io__posix_methods_reach_the_file_system),
        cmocka_unit_test(io__list_walks_entries_and_stops_on_request),
        cmocka_unit_test(io__write_all_continues_short_writes_and_retries_eintr),
        cmocka_unit_test(io__write_all_reports_errno_and_path),
        cmocka_unit_test(io__zero_or_excess_progress_is_eio),
        cmocka_unit_test(io__read_all_reports_early_end_as_etrunc),
        cmocka_unit_test(io__read_file_reads_whole_files_within_limit),
        cmocka_unit_test(io__fsync_dir_syncs_and_reports_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
