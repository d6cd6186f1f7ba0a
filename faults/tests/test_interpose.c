/* End-to-end tests of libsnapfault.so: runs the iut program (and a Python script) under the
 * interposer with each SNAPFAULT_* setting and checks the trace, what the program observed, the
 * exit status and the files left behind. The driver itself runs with LD_PRELOAD set but without
 * SNAPFAULT_DIR, so its own file calls pass through uncounted.
 * Environment (set by meson): SNAPFAULT_TEST_IUT, SNAPFAULT_TEST_LIB, SNAPFAULT_TEST_PY. */
#define _XOPEN_SOURCE 700 /* nftw */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_LINES 128
#define MAX_FIELDS 12

/* One parsed trace line. */
struct tline {
    int nf;
    char *f[MAX_FIELDS]; /* ordinal call path path2 fd offset length result errno injected... */
};

struct run {
    int status;
    int n;
    struct tline l[MAX_LINES];
    char *trace_text;
    char out[16384]; /* the program's stdout */
};

static char root[PATH_MAX]; /* temp dir: d/ (SNAPFAULT_DIR), o/ (outside), trace, out */
static char dir_d[PATH_MAX], dir_o[PATH_MAX], trace_path[PATH_MAX], out_path[PATH_MAX];
static char data_path[PATH_MAX];

/* snprintf that fails the test instead of truncating. */
#define FMT(dst, ...) assert_true(fmt_fits(snprintf(dst, sizeof(dst), __VA_ARGS__), sizeof(dst)))

static bool fmt_fits(int n, size_t cap)
{
    return n >= 0 && (size_t)n < cap;
}

static const char *env_or_skip(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        fprintf(stderr, "%s not set: run through meson test\n", name);
        exit(77);
    }
    return v;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0;

    if (f != NULL) {
        for (;;) {
            if (len + 4096 + 1 > cap) {
                cap = cap * 2 + 8192;
                buf = realloc(buf, cap);
                assert_non_null(buf);
            }
            size_t n = fread(buf + len, 1, 4096, f);
            len += n;
            if (n == 0)
                break;
        }
        fclose(f);
    }
    if (buf == NULL) {
        buf = malloc(1);
        assert_non_null(buf);
    }
    buf[len] = '\0';
    if (out_len != NULL)
        *out_len = len;
    return buf;
}

static void reset_dirs(void)
{
    rm_rf(dir_d);
    rm_rf(dir_o);
    unlink(trace_path);
    unlink(out_path);
    unlink(data_path);
    assert_int_equal(mkdir(dir_d, 0755), 0);
    assert_int_equal(mkdir(dir_o, 0755), 0);
}

/* Run argv with env entries "NAME=value" (NULL-terminated, a value of NULL unsets), stdout to
 * out_path; parse the trace into r. */
static void run_prog(struct run *r, char *const argv[], const char *const env[])
{
    pid_t pid;

    reset_dirs();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(98);
        setenv("SNAPFAULT_DIR", dir_d, 1);
        setenv("SNAPFAULT_TRACE", trace_path, 1);
        unsetenv("SNAPFAULT_CASE");
        unsetenv("SNAPFAULT_CRASH_AT");
        unsetenv("SNAPFAULT_TRACE_DATA");
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)(uintptr_t)env[i]);
        execv(argv[0], argv);
        _exit(97);
    }
    assert_int_equal(waitpid(pid, &r->status, 0), pid);

    char *o = slurp(out_path, NULL);
    snprintf(r->out, sizeof(r->out), "%s", o);
    free(o);
    r->trace_text = slurp(trace_path, NULL);
    r->n = 0;
    for (char *save = NULL, *line = strtok_r(r->trace_text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        assert_true(r->n < MAX_LINES);
        struct tline *t = &r->l[r->n++];
        t->nf = 0;
        for (char *p = line;;) {
            assert_true(t->nf < MAX_FIELDS);
            t->f[t->nf++] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL)
                break;
            *tab = '\0';
            p = tab + 1;
        }
    }
}

static void run_free(struct run *r)
{
    free(r->trace_text);
    r->trace_text = NULL;
}

static void run_iut(struct run *r, const char *mode, const char *const env[])
{
    char *argv[] = {(char *)(uintptr_t)env_or_skip("SNAPFAULT_TEST_IUT"), dir_d, dir_o,
                    (char *)(uintptr_t)mode, NULL};
    run_prog(r, argv, env);
}

/* The calls iut makes inside DIR, in order: call name, path under DIR, rename target. */
static const struct {
    const char *call, *path, *path2;
} expected[] = {
    {"open", "a.tmp", NULL},        {"write", "a.tmp", NULL},
    {"pwrite", "a.tmp", NULL},      {"writev", "a.tmp", NULL},
    {"pwrite64", "a.tmp", NULL},    {"ftruncate", "a.tmp", NULL},
    {"fallocate", "a.tmp", NULL},   {"sync_file_range", "a.tmp", NULL},
    {"fdatasync", "a.tmp", NULL},   {"fsync", "a.tmp", NULL},
    {"close", "a.tmp", NULL},       {"rename", "a.tmp", "a"},
    {"open64", "", NULL},           {"openat", "b", NULL},
    {"write", "b", NULL},           {"close", "b", NULL},
    {"renameat", "b", "c"},         {"renameat2", "c", "c2"},
    {"mkdirat", "sub", NULL},       {"mkdir", "sub2", NULL},
    {"unlinkat", "sub", NULL},      {"openat64", "e", NULL},
    {"close", "e", NULL},           {"creat", "f", NULL},
    {"close", "f", NULL},           {"open", "f", NULL}, /* __open_2 counts as open */
    {"close", "f", NULL},           {"unlink", "f", NULL},
    {"unlinkat", "e", NULL},        {"open", "rel", NULL}, /* relative to the cwd */
    {"write", "rel", NULL},         {"close", "rel", NULL},
    {"unlink", "rel", NULL},        {"fsync", "", NULL},
    {"close", "", NULL},
};
#define N_EXPECTED ((int)(sizeof(expected) / sizeof(expected[0])))
#define ORD_RENAME 12

static void expect_path(const char *got, const char *rel)
{
    char want[PATH_MAX];
    if (rel[0] == '\0')
        FMT(want, "%s", dir_d);
    else
        FMT(want, "%s/%s", dir_d, rel);
    assert_string_equal(got, want);
}

static bool exists(const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    FMT(p, "%s/%s", dir_d, rel);
    return stat(p, &st) == 0;
}

static void interpose__traces_counted_calls_in_order(void **state)
{
    (void)state;
    struct run r;

    run_iut(&r, "plain", NULL);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_int_equal(r.n, N_EXPECTED);
    for (int i = 0; i < r.n; i++) {
        struct tline *t = &r.l[i];
        char ord[16];
        assert_int_equal(t->nf, 10);
        FMT(ord, "%d", i + 1);
        assert_string_equal(t->f[0], ord);
        assert_string_equal(t->f[1], expected[i].call);
        expect_path(t->f[2], expected[i].path);
        if (expected[i].path2 != NULL)
            expect_path(t->f[3], expected[i].path2);
        else
            assert_string_equal(t->f[3], "-");
        assert_string_not_equal(t->f[7], "-1"); /* nothing failed */
        assert_string_equal(t->f[8], "-");
        assert_string_equal(t->f[9], "-");
    }
    /* Lengths and offsets of the writes: write 10 @0, pwrite 2 @10, writev 3 @10. */
    assert_string_equal(r.l[1].f[5], "0");
    assert_string_equal(r.l[1].f[6], "10");
    assert_string_equal(r.l[2].f[5], "10");
    assert_string_equal(r.l[3].f[6], "3");
    assert_string_equal(r.l[3].f[7], "3");
    /* Nothing from the outside directory is in the trace. */
    assert_null(strstr(r.out, " -1 "));
    for (int i = 0; i < r.n; i++)
        assert_null(strstr(r.l[i].f[2], dir_o));
    run_free(&r);
}

/* errno=E at each ordinal k: exactly call k fails with E (as the program saw it), everything
 * before k is as in the clean run, and no other call is marked injected. */
static void interpose__errno_at_each_ordinal_fails_only_that_call(void **state)
{
    (void)state;
    struct run base, r;

    run_iut(&base, "plain", NULL);
    assert_int_equal(base.n, N_EXPECTED);
    for (int k = 1; k <= N_EXPECTED; k++) {
        char spec[64];
        const char *name = expected[k - 1].call;
        const char *err = strcmp(name, "fsync") == 0 ? "EDQUOT" : "EIO";
        FMT(spec, "SNAPFAULT_CASE=%d:errno=%s", k, err);
        const char *env[] = {spec, NULL};
        run_iut(&r, "plain", env);
        assert_true(WIFEXITED(r.status));
        assert_true(r.n >= k);
        for (int i = 0; i < k - 1; i++) {
            assert_string_equal(r.l[i].f[1], base.l[i].f[1]);
            assert_string_equal(r.l[i].f[2], base.l[i].f[2]);
            assert_string_equal(r.l[i].f[7], base.l[i].f[7]);
        }
        struct tline *t = &r.l[k - 1];
        assert_string_equal(t->f[1], name);
        assert_string_equal(t->f[7], "-1");
        assert_string_equal(t->f[8], err);
        char inj[32];
        FMT(inj, "errno=%s", err);
        assert_string_equal(t->f[9], inj);
        for (int i = 0; i < r.n; i++)
            if (i != k - 1)
                assert_string_equal(r.l[i].f[9], "-");
        /* The program observed exactly one failure with that errno... */
        char seen[64];
        FMT(seen, " -1 %s\n", err);
        const char *hit = strstr(r.out, seen);
        assert_non_null(hit);
        /* ...and when the failed call creates nothing, every other call still succeeded. */
        bool creates = strstr("open open64 openat openat64 creat rename renameat renameat2 "
                              "mkdir mkdirat",
                              name) != NULL;
        if (!creates && strcmp(name, "unlinkat") != 0 && strcmp(name, "unlink") != 0) {
            assert_null(strstr(hit + 1, " -1 "));
            assert_int_equal(r.n, N_EXPECTED);
        }
        run_free(&r);
    }
    run_free(&base);
}

static void interpose__short_writes_write_the_fraction(void **state)
{
    (void)state;
    static const struct {
        int ord;
        const char *how, *len, *result;
    } cases[] = {
        {2, "half", "10", "5"},   {2, "1", "10", "1"},    {2, "allbut1", "10", "9"},
        {3, "allbut1", "2", "1"}, {4, "half", "3", "1"},  {4, "allbut1", "3", "2"},
        {5, "half", "1", "1"}, /* a 1-byte write cannot be shortened */
    };
    struct run r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char spec[64];
        FMT(spec, "SNAPFAULT_CASE=%d:short=%s", cases[i].ord, cases[i].how);
        const char *env[] = {spec, NULL};
        run_iut(&r, "plain", env);
        struct tline *t = &r.l[cases[i].ord - 1];
        assert_string_equal(t->f[6], cases[i].len);
        assert_string_equal(t->f[7], cases[i].result);
        if (strcmp(cases[i].len, "1") == 0)
            assert_string_equal(t->f[9], "-");
        else
            assert_string_equal(t->f[9], spec + strlen("SNAPFAULT_CASE=2:"));
        run_free(&r);
    }
    /* short on a call that cannot be short is not applied */
    const char *env[] = {"SNAPFAULT_CASE=10:short=half", NULL};
    run_iut(&r, "plain", env);
    assert_string_equal(r.l[9].f[1], "fsync");
    assert_string_equal(r.l[9].f[9], "-");
    run_free(&r);
}

static void interpose__crash_before_rename_leaves_temp_file(void **state)
{
    (void)state;
    struct run r;
    const char *env[] = {"SNAPFAULT_CASE=12:crash-before", NULL};

    run_iut(&r, "plain", env);
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGKILL);
    assert_int_equal(r.n, ORD_RENAME);
    struct tline *t = &r.l[ORD_RENAME - 1];
    assert_string_equal(t->f[1], "rename");
    assert_string_equal(t->f[7], "-");
    assert_string_equal(t->f[9], "crash-before");
    assert_true(exists("a.tmp"));
    assert_false(exists("a"));
    assert_null(strstr(r.out, "rename"));
    run_free(&r);
}

static void interpose__crash_after_rename_leaves_renamed_file(void **state)
{
    (void)state;
    struct run r;
    const char *env[] = {"SNAPFAULT_CASE=12:crash-after", NULL};
    char p[PATH_MAX];

    run_iut(&r, "plain", env);
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGKILL);
    assert_int_equal(r.n, ORD_RENAME);
    assert_string_equal(r.l[ORD_RENAME - 1].f[7], "0");
    assert_string_equal(r.l[ORD_RENAME - 1].f[9], "crash-after");
    assert_false(exists("a.tmp"));
    FMT(p, "%s/a", dir_d);
    size_t len;
    char *content = slurp(p, &len);
    assert_int_equal(len, 14);
    assert_memory_equal(content, "0123456789xyzQ", 14);
    free(content);
    run_free(&r);

    /* SNAPFAULT_CRASH_AT is crash-before */
    const char *env2[] = {"SNAPFAULT_CRASH_AT=1", NULL};
    run_iut(&r, "plain", env2);
    assert_true(WIFSIGNALED(r.status));
    assert_int_equal(WTERMSIG(r.status), SIGKILL);
    assert_int_equal(r.n, 1);
    assert_false(exists("a.tmp"));
    run_free(&r);
}

/* errno=EIO,dirsync-shutdown on the directory fsync (#4): every later modifying call fails
 * with EIO and is not performed (write #5, rename #8); a read-only open and the closes work. */
static void interpose__failed_dir_fsync_shuts_the_file_system_down(void **state)
{
    (void)state;
    struct run r;
    const char *env[] = {"SNAPFAULT_CASE=4:errno=EIO,dirsync-shutdown", NULL};

    run_iut(&r, "dirsync", env);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(r.n, 10);
    assert_string_equal(r.l[3].f[9], "errno=EIO");
    assert_string_equal(r.l[4].f[1], "write");
    assert_string_equal(r.l[4].f[7], "-1");
    assert_string_equal(r.l[4].f[9], "errno=EIO");
    assert_string_equal(r.l[5].f[9], "-"); /* the read-only open */
    assert_string_equal(r.l[6].f[9], "-");
    assert_string_equal(r.l[7].f[1], "rename");
    assert_string_equal(r.l[7].f[9], "errno=EIO");
    assert_string_equal(r.l[8].f[9], "-");
    assert_non_null(strstr(r.out, "write -1 EIO"));
    assert_non_null(strstr(r.out, "rename -1 EIO"));
    assert_true(exists("h"));
    assert_false(exists("h2"));
    run_free(&r);
}

/* The same action on a file's fsync (#2) fails that call only: no shutdown. */
static void interpose__failed_file_fsync_does_not_shut_down(void **state)
{
    (void)state;
    struct run r;
    const char *env[] = {"SNAPFAULT_CASE=2:errno=EIO,dirsync-shutdown", NULL};

    run_iut(&r, "dirsync", env);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(r.n, 10);
    assert_string_equal(r.l[1].f[9], "errno=EIO");
    for (int i = 2; i < 10; i++)
        assert_string_equal(r.l[i].f[9], "-");
    assert_true(exists("h2"));
    run_free(&r);
}

/* The program enables snapcheck/io/fsync itself through libfiu's control API. */
static void interpose__fiu_enable_in_program_fails_point(void **state)
{
    (void)state;
    struct run r;
    int fsyncs = 0;

    run_iut(&r, "fiu", NULL);
    assert_int_equal(r.n, N_EXPECTED);
    for (int i = 0; i < r.n; i++) {
        if (strcmp(r.l[i].f[1], "fsync") == 0) {
            fsyncs++;
            assert_string_equal(r.l[i].f[7], "-1");
            assert_string_equal(r.l[i].f[8], "ENOSPC");
            assert_string_equal(r.l[i].f[9], "errno=ENOSPC");
        } else {
            assert_string_equal(r.l[i].f[9], "-");
        }
    }
    assert_int_equal(fsyncs, 2);
    /* the fsync outside the directory is not a point: it succeeded */
    assert_non_null(strstr(r.out, "fsync 0 -\n"));
    run_free(&r);
}

/* fiu-run's preload library, driven by FIU_ENABLE, controls the same points. */
static void interpose__fiu_run_preload_controls_points(void **state)
{
    (void)state;
    struct run r;
    static char preload[2 * PATH_MAX];
    const char *runlib = "/usr/lib/fiu/fiu_run_preload.so";

    if (access(runlib, R_OK) != 0)
        skip();
    FMT(preload, "LD_PRELOAD=%s %s", env_or_skip("SNAPFAULT_TEST_LIB"),
             runlib);
    /* failinfo is the errno (122 = EDQUOT); only the fdatasync point is enabled */
    const char *env[] = {preload, "FIU_ENABLE=enable name=snapcheck/io/fdatasync,failinfo=122",
                         "FIU_CTRL_FIFO=", NULL};
    run_iut(&r, "plain", env);
    assert_int_equal(r.n, N_EXPECTED);
    assert_string_equal(r.l[8].f[1], "fdatasync");
    assert_string_equal(r.l[8].f[8], "EDQUOT");
    assert_string_equal(r.l[8].f[9], "errno=EDQUOT");
    assert_string_equal(r.l[9].f[9], "-");
    run_free(&r);

    const char *env2[] = {preload, "FIU_ENABLE=enable name=snapcheck/io/*", "FIU_CTRL_FIFO=",
                          NULL};
    run_iut(&r, "plain", env2);
    assert_int_equal(r.l[0].nf, 10);
    assert_string_equal(r.l[0].f[1], "open");
    assert_string_equal(r.l[0].f[8], "EIO");
    for (int i = 0; i < r.n; i++)
        assert_string_equal(r.l[i].f[7], "-1");
    run_free(&r);
}

static void interpose__trace_data_records_written_bytes(void **state)
{
    (void)state;
    struct run r;
    static char envdata[PATH_MAX + 32];
    size_t len;

    FMT(envdata, "SNAPFAULT_TRACE_DATA=%s", data_path);
    const char *env[] = {envdata, NULL};
    run_iut(&r, "plain", env);
    char *data = slurp(data_path, &len);
    /* 10 + 2 + 3 + 1 + 3 + 1 bytes, in call order */
    assert_int_equal(len, 20);
    assert_memory_equal(data, "0123456789ABxyzQbeer", 20);
    assert_int_equal(r.l[0].nf, 12);
    assert_string_equal(r.l[0].f[10], "-");
    assert_string_equal(r.l[0].f[11], "flags=0x241,mode=0644");
    assert_string_equal(r.l[1].f[10], "0");
    assert_string_equal(r.l[2].f[10], "10");
    assert_string_equal(r.l[3].f[10], "12");
    assert_string_equal(r.l[14].f[10], "16");
    free(data);
    run_free(&r);
}

static void interpose__python_io_is_counted(void **state)
{
    (void)state;
    static const char *const py_calls[] = {
        "open64", "write", "fsync", "close", "rename", "open64", "fsync", "close", "open64",
        "openat64", "write", "close", "renameat", "mkdirat", "unlinkat", "unlinkat", "close"};
    const int n = (int)(sizeof(py_calls) / sizeof(py_calls[0]));
    const char *py = "/usr/bin/python3";
    struct run r;

    if (access(py, X_OK) != 0)
        skip();
    char *argv[] = {(char *)(uintptr_t)py, (char *)(uintptr_t)env_or_skip("SNAPFAULT_TEST_PY"),
                    dir_d, NULL};
    run_prog(&r, argv, NULL);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_string_equal(r.out, "save ok\nreplace ok\ndirsync ok\nat ok\n");
    assert_int_equal(r.n, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(r.l[i].f[1], py_calls[i]);
    expect_path(r.l[4].f[3], "state");
    run_free(&r);

    /* the failure reaches Python as OSError with the injected errno */
    const char *env[] = {"SNAPFAULT_CASE=3:errno=EIO", NULL};
    run_prog(&r, argv, env);
    assert_string_equal(r.out, "save EIO\nreplace ok\ndirsync ok\nat ok\n");
    run_free(&r);
}

static void interpose__bad_case_is_a_setup_error(void **state)
{
    (void)state;
    struct run r;
    const char *env[] = {"SNAPFAULT_CASE=3:errno=EWHAT", NULL};

    run_iut(&r, "plain", env);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 99);
    assert_int_equal(r.n, 0);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interpose__traces_counted_calls_in_order),
        cmocka_unit_test(interpose__errno_at_each_ordinal_fails_only_that_call),
        cmocka_unit_test(interpose__short_writes_write_the_fraction),
        cmocka_unit_test(interpose__failed_dir_fsync_shuts_the_file_system_down),
        cmocka_unit_test(interpose__failed_file_fsync_does_not_shut_down),
        cmocka_unit_test(interpose__crash_before_rename_leaves_temp_file),
        cmocka_unit_test(interpose__crash_after_rename_leaves_renamed_file),
        cmocka_unit_test(interpose__fiu_enable_in_program_fails_point),
        cmocka_unit_test(interpose__fiu_run_preload_controls_points),
        cmocka_unit_test(interpose__trace_data_records_written_bytes),
        cmocka_unit_test(interpose__python_io_is_counted),
        cmocka_unit_test(interpose__bad_case_is_a_setup_error),
    };
    const char *tmp = getenv("TMPDIR");
    int rc;

    env_or_skip("SNAPFAULT_TEST_IUT");
    FMT(root, "%s/snapfault-test-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 99;
    }
    FMT(dir_d, "%s/d", root);
    FMT(dir_o, "%s/o", root);
    FMT(trace_path, "%s/trace", root);
    FMT(out_path, "%s/out", root);
    FMT(data_path, "%s/data", root);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_rf(root);
    return rc;
}
