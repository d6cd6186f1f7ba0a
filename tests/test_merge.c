/* Unit tests of ref/src/merge.c: a merged diff is a full pair with the same image and state,
 * the bases are only read (byte-identical after), a full pair is left as is, and the sweep:
 * for every call of a merge, a failure or a crash there leaves either the diff or the merged
 * full pair loadable, with the same image, and a following merge succeeds. */
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

struct chain {
    char *dir;
    struct tfix_vm vm_base;
    struct tfix_vm vm_diff;
    uint8_t *base_mem;
    uint8_t *image; /* what d2 loads as */
    uint8_t dirty1[32];
    uint8_t dirty2[32];
};

static void save(const char *dir, const char *id, struct tfix_vm *vm, const uint8_t *mem,
                 const uint8_t *dirty, const char *base)
{
    struct snap_save_req r;
    struct snap_diag d;

    memset(&r, 0, sizeof(r));
    r.dir = dir;
    r.id = id;
    r.kind = dirty != NULL ? SNAP_KIND_DIFF : SNAP_KIND_FULL;
    r.state = &vm->st;
    r.memory = mem;
    r.ram_size = MIB;
    r.page_size = 4096;
    r.dirty = dirty;
    r.base_id = base;
    if (snap_pair_save(NULL, &snap_io_posix, &r, &d) != 0)
        fail_msg("save %s: %s", id, d.msg);
}

/* base (full) <- d1 <- d2. */
static void chain_init(struct chain *c, const char *dir)
{
    uint8_t *other = tfix_memory(MIB, 8);

    memset(c, 0, sizeof(*c));
    c->dir = dir != NULL ? strdup(dir) : tfix_mkdir();
    tfix_vm_init(&c->vm_base, 1, true, 1);
    tfix_vm_init(&c->vm_diff, 1, true, 2);
    c->base_mem = tfix_memory(MIB, 1);
    c->image = malloc(MIB);
    memcpy(c->image, c->base_mem, MIB);
    save(c->dir, "base", &c->vm_base, c->base_mem, NULL, NULL);
    snap_bitmap_set(c->dirty1, 4);
    snap_bitmap_set(c->dirty1, 100);
    memcpy(c->image + 4 * 4096, other + 4 * 4096, 4096);
    memcpy(c->image + 100 * 4096, other + 100 * 4096, 4096);
    save(c->dir, "d1", &c->vm_diff, c->image, c->dirty1, "base");
    snap_bitmap_set(c->dirty2, 100);
    snap_bitmap_set(c->dirty2, 255);
    memset(c->image + 100 * 4096, 0, 4096);
    memset(c->image + 255 * 4096, 0x5a, 4096);
    save(c->dir, "d2", &c->vm_diff, c->image, c->dirty2, "d1");
    free(other);
}

static void chain_finish(struct chain *c)
{
    tfix_rmdir(c->dir);
    free(c->base_mem);
    free(c->image);
}

/* The bytes of every file of ids base and d1, concatenated with their names. */
static char *snapshot_files(const char *dir, size_t *out_len)
{
    const char *names[] = {"base.snap", "base.g1.mem", "d1.snap", "d1.g1.mem"};
    size_t total = 0;
    char *all = NULL;

    for (unsigned i = 0; i < 4; i++) {
        size_t len = 0;
        uint8_t *b = tfix_read(dir, names[i], &len);
        char *grown = realloc(all, total + len + 64);

        assert_non_null(b);
        assert_non_null(grown);
        all = grown;
        total += (size_t)sprintf(all + total, "%s:%zu:", names[i], len);
        memcpy(all + total, b, len);
        total += len;
        free(b);
    }
    *out_len = total;
    return all;
}

static void merge__result_equals_full_image_and_bases_stay_identical(void **unused)
{
    struct chain c;
    struct snap_save_report rep;
    struct snap_image img;
    char list[512];
    char *before;
    char *after;
    size_t before_len = 0;
    size_t after_len = 0;

    (void)unused;
    chain_init(&c, NULL);
    before = snapshot_files(c.dir, &before_len);
    assert_int_equal(snap_pair_merge(&rep, &snap_io_posix, c.dir, "d2", NULL), 0);
    assert_false(rep.already_full);
    assert_int_equal(rep.generation, 2);
    assert_int_equal(rep.pages_written, 256);
    after = snapshot_files(c.dir, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, c.dir, "d2", NULL), 0);
    assert_int_equal(img.hdr.kind, SNAP_KIND_FULL);
    assert_memory_equal(img.memory, c.image, MIB);
    assert_true(snap_state_equal(&img.state, &c.vm_diff.st));
    snap_image_finish(&img);
    /* Self-contained: the chain below it can go. */
    char path[4200];
    snprintf(path, sizeof(path), "%s/d1.snap", c.dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(snap_pair_verify(&snap_io_posix, c.dir, "d2", NULL), 0);
    assert_int_equal(tfix_listing(c.dir, list, sizeof(list)), 0);
    assert_string_equal(list, "base.g1.mem base.snap d1.g1.mem d2.g2.mem d2.snap");
    free(before);
    free(after);
    chain_finish(&c);
}

static void merge__leaves_a_full_pair_as_is(void **unused)
{
    struct chain c;
    struct snap_save_report rep;
    struct faultio f;

    (void)unused;
    chain_init(&c, NULL);
    faultio_init(&f, NULL, c.dir);
    assert_int_equal(snap_pair_merge(&rep, &f.io, c.dir, "base", NULL), 0);
    assert_int_equal(rep.generation, 1);
    assert_true(rep.already_full);
    assert_int_equal(rep.pages_written, 0);
    assert_int_equal(f.count[FIO_PWRITE] + f.count[FIO_RENAME] + f.count[FIO_UNLINK], 0);
    chain_finish(&c);
}

static void merge__reports_load_errors(void **unused)
{
    struct chain c;
    struct snap_diag d;
    char path[4200];

    (void)unused;
    chain_init(&c, NULL);
    assert_int_equal(snap_pair_merge(NULL, &snap_io_posix, c.dir, "none", &d), SNAP_ENOENT);
    snprintf(path, sizeof(path), "%s/base.g1.mem", c.dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(snap_pair_merge(NULL, &snap_io_posix, c.dir, "d2", &d), SNAP_EPAIR);
    assert_true(tfix_exists(c.dir, "d2.g1.mem"));
    chain_finish(&c);
}

static const uint8_t *expected_image;

/* Judge a directory after a faulted merge of d2: d2 loads as the image either way. */
static void judge(const char *dir, const struct faultio *f, int rc, const char *what)
{
    struct snap_image img;
    struct snap_diag d;
    int lrc = snap_pair_load(&img, &snap_io_posix, dir, "d2", &d);

    if (lrc != 0)
        fail_msg("%s: d2 does not load: %s", what, d.msg);
    if (f->renames == 0 && (img.hdr.kind != SNAP_KIND_DIFF || rc == 0))
        fail_msg("%s: not the diff before the commit", what);
    /* After the rename the merged pair is due, unless a power cut may have taken the rename back
     * before the directory fsync; after a merge that succeeded it is due in every case. */
    if (f->renames != 0 && (!f->power_loss || rc == 0) && img.hdr.kind != SNAP_KIND_FULL)
        fail_msg("%s: not the full pair after the commit", what);
    if (memcmp(img.memory, expected_image, MIB) != 0)
        fail_msg("%s: d2 does not load as its image", what);
    snap_image_finish(&img);
}

static void merge__sweep_faults_and_crashes(void **unused)
{
    struct chain proto;
    struct faultio f;
    char *before;
    size_t before_len = 0;
    unsigned total;
    unsigned runs = 0;
    char what[128];
    enum fio_call kinds[FIO_LOG_MAX];

    (void)unused;
    chain_init(&proto, NULL);
    before = snapshot_files(proto.dir, &before_len);
    /* A clean merge on a copy numbers the calls. */
    {
        char *dir = tfix_mkdir();
        assert_int_equal(tfix_copy_dir(dir, proto.dir), 0);
        faultio_init(&f, NULL, dir);
        assert_int_equal(snap_pair_merge(NULL, &f.io, dir, "d2", NULL), 0);
        total = f.calls;
        for (unsigned i = 0; i < f.log_len; i++)
            kinds[i] = f.log[i].call;
        tfix_rmdir(dir);
    }
    expected_image = proto.image;
    for (unsigned n = 1; n <= total + 1; n++) {
        for (unsigned v = 0; v < 5; v++) {
            char *dir = tfix_mkdir();
            char *after;
            size_t after_len = 0;
            int rc;

            assert_int_equal(tfix_copy_dir(dir, proto.dir), 0);
            faultio_init(&f, NULL, dir);
            if (n > total && v < 3) { /* after the last call only a power cut is left */
                tfix_rmdir(dir);
                continue;
            }
            if (v == 0) {
                f.fail_at = n;
                f.fail_errno = kinds[n - 1] == FIO_PWRITE ? ENOSPC : EIO;
            } else {
                f.crash_after = (long)n - 1;
                f.torn = v == 2;
                f.power_loss = v >= 3;
                f.keep_renames = v == 4;
            }
            snprintf(what, sizeof(what), "merge call %u (%s): %s", n,
                     n <= total ? faultio_call_name(kinds[n - 1]) : "after success",
                     v == 0 ? "fails" : v < 3 ? "crash" : "power cut");
            rc = snap_pair_merge(NULL, &f.io, dir, "d2", NULL);
            if (n > total)
                faultio_power_off(&f);
            judge(dir, &f, rc, what);
            faultio_finish(&f);
            after = snapshot_files(dir, &after_len);
            if (after_len != before_len || memcmp(before, after, before_len) != 0)
                fail_msg("%s: a base changed", what);
            free(after);
            assert_int_equal(snap_pair_merge(NULL, &snap_io_posix, dir, "d2", NULL), 0);
            faultio_init(&f, NULL, dir);
            f.renames = 1;
            judge(dir, &f, 0, what);
            tfix_rmdir(dir);
            runs++;
        }
    }
    print_message("merge sweep: %u calls, %u runs\n", total, runs);
    free(before);
    chain_finish(&proto);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge__result_equals_full_image_and_bases_stay_identical),
        cmocka_unit_test(merge__leaves_a_full_pair_as_is),
        cmocka_unit_test(merge__reports_load_errors),
        cmocka_unit_test(merge__sweep_faults_and_crashes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
