/* A tiny implementation under test for the interposer tests: a fixed sequence of every wrapped
 * call (plain, *64, *at, fortified, relative path) on files in DIR, then the same kind of calls
 * in OUTSIDE, which must not be counted. It carries on after a failure and prints one line per
 * call: "<label> <result> <errno name or ->", so a test can see what the program observed.
 * Usage: iut DIR OUTSIDE [fiu]   ("fiu": first enable snapcheck/io/fsync with ENOSPC itself).
 *        iut DIR OUTSIDE dirsync  (instead: fsync of a file, then of DIR, then a create, a write,
 *        a rename, a read-only open and closes: the file system shutdown of
 *        errno=EIO,dirsync-shutdown). */
#undef _FILE_OFFSET_BITS /* call open, pwrite, ftruncate... by their plain names */
#undef _FORTIFY_SOURCE
#define _GNU_SOURCE 1

#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>

int __open_2(const char *path, int flags);

static void report(const char *label, long long r)
{
    const char *e = sf_errno_name(errno);
    printf("%s %lld %s\n", label, r, r == -1 ? (e != NULL ? e : "?") : "-");
    fflush(stdout);
}

#define DO(label, expr)                                                                        \
    do {                                                                                       \
        errno = 0;                                                                             \
        long long r_ = (long long)(expr);                                                      \
        report(label, r_);                                                                     \
    } while (0)

static char *join(const char *dir, const char *name)
{
    static char bufs[8][PATH_MAX];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, PATH_MAX, "%s/%s", dir, name);
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: iut DIR OUTSIDE [fiu]\n");
        return 2;
    }
    const char *d = argv[1];
    const char *o = argv[2];
    char cwd[PATH_MAX];
    int a, dfd, b, e, f, g, r, x;

    if (argc > 3 && strcmp(argv[3], "dirsync") == 0) {
        int h, k, ro;
        DO("open", h = open(join(d, "h"), O_CREAT | O_WRONLY | O_TRUNC, 0644)); /* 1 */
        DO("fsync", fsync(h));                                                 /* 2 */
        DO("open", k = open(d, O_RDONLY | O_DIRECTORY));                       /* 3 */
        DO("fsync", fsync(k));                                                 /* 4 */
        DO("write", write(h, "after", 5));                                     /* 5 */
        DO("open", ro = open(join(d, "h"), O_RDONLY));                         /* 6 */
        DO("close", close(ro));                                                /* 7 */
        DO("rename", rename(join(d, "h"), join(d, "h2")));                     /* 8 */
        DO("close", close(h));                                                 /* 9 */
        DO("close", close(k));                                                 /* 10 */
        return 0;
    }
    if (argc > 3 && strcmp(argv[3], "fiu") == 0) {
        fiu_init(0);
        if (fiu_enable("snapcheck/io/fsync", 1, (void *)(intptr_t)ENOSPC, 0) != 0) {
            fprintf(stderr, "iut: fiu_enable failed\n");
            return 99;
        }
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return 99;

    DO("open", a = open(join(d, "a.tmp"), O_CREAT | O_WRONLY | O_TRUNC, 0644));
    DO("write", write(a, "0123456789", 10));
    DO("pwrite", pwrite(a, "AB", 2, 10));
    struct iovec iov[2] = {{(void *)(uintptr_t) "xy", 2}, {(void *)(uintptr_t) "z", 1}};
    DO("writev", writev(a, iov, 2));
    DO("pwrite64", pwrite64(a, "Q", 1, 13));
    DO("ftruncate", ftruncate(a, 14));
    DO("fallocate", fallocate(a, 0, 0, 14));
    DO("sync_file_range", sync_file_range(a, 0, 14, SYNC_FILE_RANGE_WRITE));
    DO("fdatasync", fdatasync(a));
    DO("fsync", fsync(a));
    DO("close", close(a));
    DO("rename", rename(join(d, "a.tmp"), join(d, "a")));
    DO("open64", dfd = open64(d, O_RDONLY | O_DIRECTORY));
    DO("openat", b = openat(dfd, "b", O_CREAT | O_WRONLY | O_TRUNC, 0644));
    DO("write", write(b, "bee", 3));
    DO("close", close(b));
    DO("renameat", renameat(dfd, "b", dfd, "c"));
    DO("renameat2", renameat2(dfd, "c", dfd, "c2", 0));
    DO("mkdirat", mkdirat(dfd, "sub", 0755));
    DO("mkdir", mkdir(join(d, "sub2"), 0755));
    DO("unlinkat", unlinkat(dfd, "sub", AT_REMOVEDIR));
    DO("openat64", e = openat64(dfd, "e", O_CREAT | O_WRONLY, 0644));
    DO("close", close(e));
    DO("creat", f = creat(join(d, "f"), 0644));
    DO("close", close(f));
    DO("__open_2", g = __open_2(join(d, "f"), O_RDONLY));
    DO("close", close(g));
    DO("unlink", unlink(join(d, "f")));
    DO("unlinkat", unlinkat(dfd, "e", 0));
    if (chdir(d) != 0)
        return 99;
    DO("open", r = open("rel", O_CREAT | O_WRONLY, 0644));
    DO("write", write(r, "r", 1));
    DO("close", close(r));
    DO("unlink", unlink("./sub2/../rel"));
    if (chdir(cwd) != 0)
        return 99;
    DO("fsync", fsync(dfd));
    DO("close", close(dfd));

    /* Outside the directory: none of these may be counted. */
    DO("open", x = open(join(o, "x"), O_CREAT | O_WRONLY | O_TRUNC, 0644));
    DO("write", write(x, "outside", 7));
    DO("fsync", fsync(x));
    DO("close", close(x));
    DO("rename", rename(join(o, "x"), join(o, "y")));
    DO("mkdir", mkdir(join(o, "m"), 0755));
    DO("unlink", unlink(join(o, "y")));
    return 0;
}
