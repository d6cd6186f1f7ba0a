/* Unit tests of the persistence models (faults/persist.c): hand-written traces with data, the
 * states each model allows at a cut, errseq after a failed fsync, writing a state and
 * comparing it with a real directory. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "persist.h"

struct fx {
    char root[256], dir[300], tpl[300], trace[300], data[300], store[300];
    FILE *tf, *df;
    long data_off;
    unsigned ord;
};

static void put_file(const char *dir, const char *name, const char *bytes)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(bytes, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/test_persist.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->dir, sizeof f->dir, "%s/D", f->root);
    snprintf(f->tpl, sizeof f->tpl, "%s/tpl", f->root);
    snprintf(f->trace, sizeof f->trace, "%s/trace", f->root);
    snprintf(f->data, sizeof f->data, "%s/data", f->root);
    snprintf(f->store, sizeof f->store, "%s/store", f->root);
    mkdir(f->tpl, 0755);
    mkdir(f->store, 0755);
    /* the committed pair: vm.snap names vm.g1.mem */
    put_file(f->tpl, "vm.snap", "OLDSNAP:g1");
    put_file(f->tpl, "vm.g1.mem", "OLDMEM");
    f->tf = fopen(f->trace, "w");
    f->df = fopen(f->data, "wb");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* One trace line (12 fields); returns its ordinal. */
static unsigned line(struct fx *f, const char *call, const char *name, const char *name2, int fd,
                     long off, const char *bytes, long result, const char *extra)
{
    unsigned o = ++f->ord;
    char path[400], path2[400], doff[32] = "-";
    if (name && *name)
        snprintf(path, sizeof path, "%s/%s", f->dir, name);
    else
        snprintf(path, sizeof path, "%s", f->dir);
    snprintf(path2, sizeof path2, name2 ? "%s/%s" : "-", f->dir, name2);
    long len = bytes ? (long)strlen(bytes) : -1;
    if (bytes && result > 0) {
        snprintf(doff, sizeof doff, "%ld", f->data_off);
        fwrite(bytes, 1, (size_t)result, f->df);
        f->data_off += result;
    }
    char sfd[16] = "-", soff[32] = "-", slen[32] = "-";
    if (fd >= 0)
        snprintf(sfd, sizeof sfd, "%d", fd);
    if (off >= 0)
        snprintf(soff, sizeof soff, "%ld", off);
    if (len >= 0)
        snprintf(slen, sizeof slen, "%ld", len);
    fprintf(f->tf, "%u\t%s\t%s\t%s\t%s\t%s\t%s\t%ld\t%s\t-\t%s\t%s\n", o, call, path,
            name2 ? path2 : "-", sfd, soff, slen, result, result < 0 ? "EIO" : "-", doff,
            extra ? extra : "-");
    return o;
}

static struct pt_trace *load(struct fx *f)
{
    fclose(f->tf);
    fclose(f->df);
    f->tf = f->df = NULL;
    struct pt_trace *t = NULL;
    char err[300] = "";
    int rc = pt_trace_load(&t, f->trace, f->data, f->dir, f->tpl, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    return t;
}

#define CREAT_EXCL "flags=0xc1,mode=0644"

/* The commit protocol of FORMAT.md 9; with dir_fsync false the directory is never fsynced. */
static void reference_save(struct fx *f, bool file_fsync, bool dir_fsync)
{
    line(f, "open64", "vm.g2.mem", NULL, -1, -1, NULL, 4, CREAT_EXCL);
    line(f, "pwrite64", "vm.g2.mem", NULL, 4, 0, "NEWMEM-0123456789", 17, NULL);
    if (file_fsync)
        line(f, "fsync", "vm.g2.mem", NULL, 4, -1, NULL, 0, NULL);
    line(f, "close", "vm.g2.mem", NULL, 4, -1, NULL, 0, NULL);
    line(f, "open64", "vm.g2.snap.tmp", NULL, -1, -1, NULL, 4, CREAT_EXCL);
    line(f, "pwrite64", "vm.g2.snap.tmp", NULL, 4, 0, "NEWSNAP:g2", 10, NULL);
    if (file_fsync)
        line(f, "fsync", "vm.g2.snap.tmp", NULL, 4, -1, NULL, 0, NULL);
    line(f, "close", "vm.g2.snap.tmp", NULL, 4, -1, NULL, 0, NULL);
    if (dir_fsync) {
        line(f, "open64", "", NULL, -1, -1, NULL, 5, "flags=0x10000,mode=0");
        line(f, "fsync", "", NULL, 5, -1, NULL, 0, NULL);
        line(f, "close", "", NULL, 5, -1, NULL, 0, NULL);
    }
    line(f, "rename", "vm.g2.snap.tmp", "vm.snap", -1, -1, NULL, 0, NULL);
    if (dir_fsync) {
        line(f, "open64", "", NULL, -1, -1, NULL, 5, "flags=0x10000,mode=0");
        line(f, "fsync", "", NULL, 5, -1, NULL, 0, NULL);
        line(f, "close", "", NULL, 5, -1, NULL, 0, NULL);
    }
    line(f, "unlink", "vm.g1.mem", NULL, -1, -1, NULL, 0, NULL);
    if (dir_fsync) {
        line(f, "open64", "", NULL, -1, -1, NULL, 5, "flags=0x10000,mode=0");
        line(f, "fsync", "", NULL, 5, -1, NULL, 0, NULL);
        line(f, "close", "", NULL, 5, -1, NULL, 0, NULL);
    }
}

/* What a loader would say of the state: 'P' prior pair, 'N' new pair, 'X' neither. */
struct judge {
    const struct pt_trace *t;
    enum pt_model m;
    unsigned cut;
    unsigned states, prior, fresh, broken;
    uint64_t seen[4096];
    unsigned n_seen;
    struct fx *f;
};

static char classify(struct fx *f, struct pt_state *s)
{
    char d[400], p[500], buf[64];
    static unsigned k;
    snprintf(d, sizeof d, "%s/s%u", f->root, k++);
    char err[300];
    assert_int_equal(pt_state_write(s, d, f->store, err, sizeof err), 0);
    char res = 'X';
    snprintf(p, sizeof p, "%s/vm.snap", d);
    FILE *sf = fopen(p, "rb");
    if (sf) {
        size_t n = fread(buf, 1, sizeof buf - 1, sf);
        buf[n] = 0;
        fclose(sf);
        const char *want_mem = NULL;
        if (!strcmp(buf, "OLDSNAP:g1"))
            want_mem = "vm.g1.mem", res = 'P';
        else if (!strcmp(buf, "NEWSNAP:g2"))
            want_mem = "vm.g2.mem", res = 'N';
        if (want_mem) {
            snprintf(p, sizeof p, "%s/%s", d, want_mem);
            FILE *mf = fopen(p, "rb");
            n = mf ? fread(buf, 1, sizeof buf - 1, mf) : 0;
            buf[n] = 0;
            if (mf)
                fclose(mf);
            if (strcmp(buf, res == 'P' ? "OLDMEM" : "NEWMEM-0123456789"))
                res = 'X';
        }
    }
    snprintf(p, sizeof p, "rm -rf '%s'", d);
    assert_int_equal(system(p), 0);
    return res;
}

static int judge_cb(void *arg, const unsigned *lost, unsigned n_lost, unsigned torn)
{
    struct judge *j = arg;
    struct pt_state *s = pt_state_build(j->t, j->m, j->cut, lost, n_lost, torn);
    assert_non_null(s);
    uint64_t d = pt_state_digest(s);
    for (unsigned i = 0; i < j->n_seen; i++)
        if (j->seen[i] == d) {
            pt_state_destroy(s);
            return 0;
        }
    assert_true(j->n_seen < 4096);
    j->seen[j->n_seen++] = d;
    j->states++;
    char c = classify(j->f, s);
    j->prior += c == 'P';
    j->fresh += c == 'N';
    j->broken += c == 'X';
    pt_state_destroy(s);
    return 0;
}

/* Every state of every cut under m: counts of prior, new, broken; and at the last cut alone. */
static void sweep(struct fx *f, struct pt_trace *t, enum pt_model m, struct judge *all,
                  struct judge *last)
{
    memset(all, 0, sizeof *all);
    for (unsigned cut = 1; cut <= pt_trace_last(t); cut++) {
        struct judge j = {.t = t, .m = m, .cut = cut, .f = f};
        assert_int_equal(pt_enumerate(t, m, cut, 10, 64, 1, judge_cb, &j), 0);
        all->states += j.states;
        all->prior += j.prior;
        all->fresh += j.fresh;
        all->broken += j.broken;
        if (cut == pt_trace_last(t))
            *last = j;
    }
}

static void persist__reference_protocol_never_breaks(void **state)
{
    struct fx *f = *state;
    reference_save(f, true, true);
    struct pt_trace *t = load(f);
    for (int m = 0; m < PT_MODEL_COUNT; m++) {
        struct judge all, last;
        sweep(f, t, (enum pt_model)m, &all, &last);
        assert_int_equal(all.broken, 0);
        assert_true(all.prior > 0);
        assert_true(all.fresh > 0);
        /* after the last directory fsync the new pair is durable: no state loses it */
        assert_int_equal(last.prior, 0);
        assert_int_equal(last.broken, 0);
    }
    pt_trace_destroy(t);
}

static void persist__no_dir_fsync_may_lose_the_commit(void **state)
{
    struct fx *f = *state;
    reference_save(f, true, false);
    struct pt_trace *t = load(f);
    struct judge all, last;
    sweep(f, t, PT_POSIX, &all, &last);
    assert_true(last.prior > 0 || last.broken > 0); /* the rename may be lost after exit */
    /* the prefix model (process crash without page cache) never loses it */
    sweep(f, t, PT_PREFIX, &all, &last);
    assert_int_equal(last.prior + last.broken, 0);
    pt_trace_destroy(t);
}

static void persist__no_fsync_may_lose_the_data(void **state)
{
    struct fx *f = *state;
    reference_save(f, false, true);
    struct pt_trace *t = load(f);
    struct judge all, last;
    sweep(f, t, PT_POSIX, &all, &last);
    assert_true(last.broken > 0); /* rename durable, data not */
    pt_trace_destroy(t);
}

/* An in-place write through a descriptor opened with O_DSYNC (as LMDB writes its meta page):
 * durable when it returns, under every model; the same write without O_DSYNC may be lost. */
static unsigned unsynced_after_in_place_write(struct fx *f, const char *open_extra, bool fail_fsync)
{
    line(f, "open64", "vm.snap", NULL, -1, -1, NULL, 4, open_extra);
    unsigned w = line(f, "pwrite64", "vm.snap", NULL, 4, 0, "NEWSNAP:g1", 10, NULL);
    if (fail_fsync)
        line(f, "fsync", "vm.snap", NULL, 4, -1, NULL, -1, NULL);
    line(f, "close", "vm.snap", NULL, 4, -1, NULL, 0, NULL);
    struct pt_trace *t = load(f);
    unsigned found = 0;
    for (int m = PT_POSIX; m <= PT_EXT4_ORDERED; m++) {
        unsigned *u = NULL;
        unsigned n = pt_unsynced(&u, t, (enum pt_model)m, pt_trace_last(t));
        for (unsigned i = 0; i < n; i++)
            found += u[i] == w;
        free(u);
    }
    pt_trace_destroy(t);
    return found;
}

/* Linux errseq: the first fsync after a write decides. A write made durable by a successful
 * fsync stays durable when a later fsync of the same file fails (that failure concerns the
 * later pages only). */
static void persist__later_failed_fsync_keeps_synced_data(void **state)
{
    struct fx *f = *state;
    line(f, "open64", "vm.snap", NULL, -1, -1, NULL, 4, "flags=0x1,mode=0");
    unsigned w1 = line(f, "pwrite64", "vm.snap", NULL, 4, 0, "NEWSNAP:g1", 10, NULL);
    line(f, "fsync", "vm.snap", NULL, 4, -1, NULL, 0, NULL);
    unsigned w2 = line(f, "pwrite64", "vm.snap", NULL, 4, 0, "LATER", 5, NULL);
    unsigned bad = line(f, "fsync", "vm.snap", NULL, 4, -1, NULL, -1, NULL);
    line(f, "close", "vm.snap", NULL, 4, -1, NULL, 0, NULL);
    struct pt_trace *t = load(f);
    unsigned *lost = NULL;
    unsigned n = pt_forced_lost(&lost, t, pt_trace_last(t));
    bool has1 = false, has2 = false;
    for (unsigned i = 0; i < n; i++) {
        has1 |= lost[i] == w1;
        has2 |= lost[i] == w2;
    }
    free(lost);
    (void)bad;
    assert_false(has1);
    assert_true(has2);
    pt_trace_destroy(t);
}

static void persist__dsync_write_is_durable_on_return(void **state)
{
    /* 0x1001: O_WRONLY | O_DSYNC; 0x101001: O_WRONLY | O_SYNC */
    assert_int_equal(unsynced_after_in_place_write(*state, "flags=0x1001,mode=0", false), 0);
}

static void persist__sync_write_survives_a_later_failed_fsync(void **state)
{
    assert_int_equal(unsynced_after_in_place_write(*state, "flags=0x101001,mode=0", true), 0);
}

static void persist__plain_write_is_not_durable_on_return(void **state)
{
    assert_int_equal(unsynced_after_in_place_write(*state, "flags=0x1,mode=0", false), 2);
}

static void persist__failed_fsync_loses_the_data_for_good(void **state)
{
    struct fx *f = *state;
    line(f, "open64", "a", NULL, -1, -1, NULL, 4, CREAT_EXCL);
    unsigned w = line(f, "pwrite64", "a", NULL, 4, 0, "first", 5, NULL);
    line(f, "fsync", "a", NULL, 4, -1, NULL, -1, NULL);
    unsigned w2 = line(f, "pwrite64", "a", NULL, 4, 5, "second", 6, NULL);
    line(f, "fsync", "a", NULL, 4, -1, NULL, 0, NULL);
    line(f, "open64", "", NULL, -1, -1, NULL, 5, "flags=0x10000,mode=0");
    line(f, "fsync", "", NULL, 5, -1, NULL, 0, NULL);
    struct pt_trace *t = load(f);
    unsigned *u = NULL;
    unsigned last = pt_trace_last(t);
    /* before the failed fsync the first write is merely unsynced */
    assert_int_equal(pt_unsynced(&u, t, PT_POSIX, w), 2);
    free(u);
    /* at the end nothing is unsynced, yet the first write is gone, the second kept */
    assert_int_equal(pt_unsynced(&u, t, PT_POSIX, last), 0);
    free(u);
    struct pt_state *s = pt_state_build(t, PT_POSIX, last, NULL, 0, 0);
    assert_non_null(s);
    assert_int_equal(pt_state_files(s), 3);
    char d[400], p[450], buf[32] = "";
    snprintf(d, sizeof d, "%s/s", f->root);
    char err[200];
    assert_int_equal(pt_state_write(s, d, f->store, err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/a", d);
    FILE *a = fopen(p, "rb");
    assert_non_null(a);
    assert_int_equal(fread(buf, 1, sizeof buf, a), 11);
    fclose(a);
    assert_memory_equal(buf, "\0\0\0\0\0second", 11);
    (void)w2;
    pt_state_destroy(s);
    pt_trace_destroy(t);
}

static void persist__torn_write_keeps_whole_sectors(void **state)
{
    struct fx *f = *state;
    static char big[2049];
    memset(big, 'x', 2048);
    line(f, "open64", "b", NULL, -1, -1, NULL, 4, CREAT_EXCL);
    unsigned w = line(f, "pwrite64", "b", NULL, 4, 0, big, 2048, NULL);
    struct pt_trace *t = load(f);
    assert_true(pt_tearable(t, w));
    struct pt_state *s = pt_state_build(t, PT_POSIX, w, NULL, 0, w);
    const char *name;
    uint64_t size, dg;
    bool un;
    assert_int_equal(pt_state_files(s), 3);
    pt_state_file(s, 0, &name, &size, &dg, &un);
    assert_string_equal(name, "b");
    assert_int_equal(size, 2048);
    char d[400], p[450];
    static char buf[4096];
    snprintf(d, sizeof d, "%s/t", f->root);
    char err[200];
    assert_int_equal(pt_state_write(s, d, f->store, err, sizeof err), 0);
    snprintf(p, sizeof p, "%s/b", d);
    FILE *b = fopen(p, "rb");
    assert_int_equal(fread(buf, 1, sizeof buf, b), 2048);
    fclose(b);
    assert_int_equal(buf[1023], 'x');
    assert_int_equal(buf[1024], 0); /* the torn-away sectors read as zeros */
    struct pt_state *whole = pt_state_build(t, PT_POSIX, w, NULL, 0, 0);
    assert_true(pt_state_digest(whole) != pt_state_digest(s));
    pt_state_destroy(whole);
    pt_state_destroy(s);
    pt_trace_destroy(t);
}

static void persist__compare_finds_writes_the_trace_missed(void **state)
{
    struct fx *f = *state;
    reference_save(f, true, true);
    struct pt_trace *t = load(f);
    struct pt_state *s = pt_state_build(t, PT_PREFIX, pt_trace_last(t), NULL, 0, 0);
    char d[400], diff[300];
    snprintf(d, sizeof d, "%s/real", f->root);
    char err[200];
    assert_int_equal(pt_state_write(s, d, f->store, err, sizeof err), 0);
    assert_int_equal(pt_state_compare(s, d, diff, sizeof diff), 0);
    char p[450];
    snprintf(p, sizeof p, "%s/vm.g2.mem", d);
    unlink(p); /* break the hard link, then write other bytes */
    put_file(d, "vm.g2.mem", "NEWMEM-0123456788");
    put_file(d, "stray", "x");
    assert_int_equal(pt_state_compare(s, d, diff, sizeof diff), 2);
    assert_non_null(strstr(diff, "vm.g2.mem (bytes differ"));
    assert_non_null(strstr(diff, "stray (not in the trace)"));
    pt_state_destroy(s);
    pt_trace_destroy(t);
}

static void persist__ext4_keeps_namespace_order(void **state)
{
    struct fx *f = *state;
    unsigned c = line(f, "open64", "x", NULL, -1, -1, NULL, 4, CREAT_EXCL);
    unsigned r = line(f, "rename", "x", "y", -1, -1, NULL, 0, NULL);
    struct pt_trace *t = load(f);
    unsigned lost_first[1] = {c}, lost_second[1] = {r};
    assert_false(pt_choice_allowed(t, PT_EXT4_ORDERED, r, lost_first, 1));
    assert_true(pt_choice_allowed(t, PT_EXT4_ORDERED, r, lost_second, 1));
    assert_true(pt_choice_allowed(t, PT_POSIX, r, lost_first, 1));
    char desc[100];
    pt_op_describe(desc, sizeof desc, t, r);
    assert_string_equal(desc, "rename #2 x -> y");
    pt_trace_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(persist__reference_protocol_never_breaks, setup, teardown),
        cmocka_unit_test_setup_teardown(persist__no_dir_fsync_may_lose_the_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(persist__no_fsync_may_lose_the_data, setup, teardown),
        cmocka_unit_test_setup_teardown(persist__failed_fsync_loses_the_data_for_good, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(persist__torn_write_keeps_whole_sectors, setup, teardown),
        cmocka_unit_test_setup_teardown(persist__compare_finds_writes_the_trace_missed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(persist__ext4_keeps_namespace_order, setup, teardown),
        cmocka_unit_test_setup_teardown(persist__dsync_write_is_durable_on_return, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(persist__later_failed_fsync_keeps_synced_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(persist__sync_write_survives_a_later_failed_fsync, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(persist__plain_write_is_not_durable_on_return, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
