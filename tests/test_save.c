/* Unit tests of ref/src/save.c: the commit protocol of FORMAT.md section 9. The seed's six
 * tests for this API, round trips, stale files, the exact call sequence, single faults at the
 * commit-critical calls, and the sweep (SQLite crash9 style): for every call ordinal N of a save
 * over an existing pair, fail call N with each errno it can really return (and shorten it), and
 * separately crash after N-1 calls; after each, load must give exactly the prior pair or exactly
 * the new one (new only once the commit rename ran), and a clean save must then succeed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "faultio.h"

#define MIB (1u << 20)

/* A saved pair as the tests know it: what load must give back. */
struct expect {
    const uint8_t *memory;
    uint64_t ram_size;
    const struct snap_vm_state *state;
    uint8_t snapshot_id[16];
    uint64_t generation;
};

static struct snap_save_req full_req(const char *dir, const char *id, struct tfix_vm *vm,
                                     const uint8_t *mem, uint32_t page_size)
{
    struct snap_save_req r;

    memset(&r, 0, sizeof(r));
    r.dir = dir;
    r.id = id;
    r.kind = SNAP_KIND_FULL;
    r.state = &vm->st;
    r.memory = mem;
    r.ram_size = (uint64_t)vm->st.info.mem_size_mib * MIB;
    r.page_size = page_size;
    return r;
}

static struct snap_save_req diff_req(const char *dir, const char *id, struct tfix_vm *vm,
                                     const uint8_t *mem, uint32_t page_size, const uint8_t *dirty,
                                     const char *base)
{
    struct snap_save_req r = full_req(dir, id, vm, mem, page_size);

    r.kind = SNAP_KIND_DIFF;
    r.dirty = dirty;
    r.base_id = base;
    return r;
}

/* Save with the libc backend; the test fails on error. */
static void save_ok(const struct snap_save_req *r, struct snap_save_report *out)
{
    struct snap_diag d;
    int rc = snap_pair_save(out, &snap_io_posix, r, &d);

    if (rc != 0)
        fail_msg("save of %s failed: %s (%s)", r->id, snap_strerror(rc), d.msg);
}

/* Load id and compare with e. @return true when equal (asserts that load succeeds). */
static bool loads_as(const char *dir, const char *id, const struct expect *e)
{
    struct snap_image img;
    struct snap_diag d;
    bool same;
    int rc = snap_pair_load(&img, &snap_io_posix, dir, id, &d);

    if (rc != 0)
        fail_msg("load of %s failed: %s (%s)", id, snap_strerror(rc), d.msg);
    same = img.hdr.ram_size == e->ram_size &&
           memcmp(img.memory, e->memory, (size_t)e->ram_size) == 0 &&
           snap_state_equal(&img.state, e->state) && img.hdr.generation == e->generation &&
           memcmp(img.hdr.snapshot_id, e->snapshot_id, 16) == 0;
    snap_image_finish(&img);
    return same;
}

/* @return 0 when id loads as e, 1 when it loads as something else, else the load error. */
static int load_matches(const char *dir, const char *id, const struct expect *e)
{
    struct snap_image img;
    int rc = snap_pair_load(&img, &snap_io_posix, dir, id, NULL);
    bool same;

    if (rc != 0)
        return rc;
    same = img.hdr.ram_size == e->ram_size &&
           memcmp(img.memory, e->memory, (size_t)e->ram_size) == 0 &&
           snap_state_equal(&img.state, e->state) && img.hdr.generation == e->generation &&
           memcmp(img.hdr.snapshot_id, e->snapshot_id, 16) == 0;
    snap_image_finish(&img);
    return same ? 0 : 1;
}

static void expect_from(struct expect *e, const uint8_t *mem, uint64_t ram_size,
                        const struct snap_vm_state *st, const struct snap_save_report *rep)
{
    e->memory = mem;
    e->ram_size = ram_size;
    e->state = st;
    memcpy(e->snapshot_id, rep->snapshot_id, 16);
    e->generation = rep->generation;
}

static void save__writes_full_pair(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct expect e;
    char list[512];
    uint8_t *mem;
    size_t len = 0;
    uint8_t *file;

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    mem = tfix_memory(MIB, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 1);
    assert_int_equal(rep.pages_written, 256);
    assert_false(rep.cleanup_incomplete);
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "vm1.g1.mem vm1.snap");
    file = tfix_read(dir, "vm1.g1.mem", &len);
    assert_non_null(file);
    assert_int_equal(len, MIB + 64);
    assert_memory_equal(file, mem, MIB); /* pages first: mappable as guest RAM */
    assert_memory_equal(file + MIB, SNAP_MEM_MAGIC, 8);
    free(file);
    expect_from(&e, mem, MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "vm1", &e));
    assert_int_equal(snap_pair_verify(&snap_io_posix, dir, "vm1", NULL), 0);
    free(mem);
    tfix_rmdir(dir);
}

static void save__rejects_diff_without_bitmap(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_diag d;
    struct snap_save_report rep;
    char list[512];
    uint8_t *mem;

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    mem = tfix_memory(MIB, 1);
    struct snap_save_req r = full_req(dir, "base", &vm, mem, 4096);
    save_ok(&r, &rep);
    r = diff_req(dir, "vm1", &vm, mem, 4096, NULL, "base");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    assert_int_equal(d.code, SNAP_EINVAL);
    assert_non_null(strstr(d.msg, "dirty bitmap"));
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "base.g1.mem base.snap");
    free(mem);
    tfix_rmdir(dir);
}

static void save__rejects_diff_when_track_dirty_pages_false(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_diag d;
    struct snap_save_report rep;
    uint8_t dirty[32] = {1};
    char list[512];
    uint8_t *mem;

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    mem = tfix_memory(MIB, 1);
    struct snap_save_req r = full_req(dir, "base", &vm, mem, 4096);
    save_ok(&r, &rep);
    r = diff_req(dir, "vm1", &vm, mem, 4096, dirty, "base");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    assert_non_null(strstr(d.msg, "track_dirty_pages"));
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "base.g1.mem base.snap");
    free(mem);
    tfix_rmdir(dir);
}

static void save__diff_writes_only_dirty_pages(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    uint8_t dirty[32] = {0};
    uint8_t *base_mem;
    uint8_t *mem;
    uint8_t *file;
    size_t len = 0;
    const uint64_t pages[] = {1, 5, 6, 255};

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    base_mem = tfix_memory(MIB, 1);
    mem = tfix_memory(MIB, 2);
    struct snap_save_req r = full_req(dir, "base", &vm, base_mem, 4096);
    save_ok(&r, &rep);
    for (unsigned i = 0; i < 4; i++)
        snap_bitmap_set(dirty, pages[i]);
    r = diff_req(dir, "vm1", &vm, mem, 4096, dirty, "base");
    save_ok(&r, &rep);
    assert_int_equal(rep.pages_written, 4);
    file = tfix_read(dir, "vm1.g1.mem", &len);
    assert_non_null(file);
    assert_int_equal(len, 4 * 4096 + 64);
    for (unsigned i = 0; i < 4; i++)
        assert_memory_equal(file + i * 4096, mem + pages[i] * 4096, 4096);
    free(file);
    free(base_mem);
    free(mem);
    tfix_rmdir(dir);
}

static void save__rejects_incompatible_state_before_staging(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    struct faultio f;
    char before[512];
    char after[512];
    uint8_t *mem;

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    mem = tfix_memory(MIB, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    assert_int_equal(tfix_listing(dir, before, sizeof(before)), 0);
    for (int rule = 0; rule < 3; rule++) {
        tfix_vm_init(&vm, 1, false, 2);
        if (rule == 0)
            vm.st.info.smt = true;
        else if (rule == 1)
            vm.vcpus[1].index = 7;
        else
            vm.st.info.mem_size_mib = 2; /* ram_size says 1 MiB */
        faultio_init(&f, NULL, dir);
        assert_int_equal(snap_pair_save(&rep, &f.io, &r, &d), SNAP_EINCOMPAT);
        assert_int_equal(f.calls, 0); /* not even a directory listing */
        assert_int_equal(tfix_listing(dir, after, sizeof(after)), 0);
        assert_string_equal(after, before);
    }
    free(mem);
    tfix_rmdir(dir);
}

static void save__keeps_existing_pair_when_validation_fails(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct tfix_vm bad;
    struct snap_save_report rep;
    uint8_t *mem;
    uint8_t *mem2;
    uint8_t *snap_before;
    uint8_t *mem_before;
    uint8_t *snap_after;
    uint8_t *mem_after;
    size_t sl = 0, ml = 0, sl2 = 0, ml2 = 0;
    struct expect e;

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    mem = tfix_memory(MIB, 1);
    mem2 = tfix_memory(MIB, 2);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    expect_from(&e, mem, MIB, &vm.st, &rep);
    snap_before = tfix_read(dir, "vm1.snap", &sl);
    mem_before = tfix_read(dir, "vm1.g1.mem", &ml);
    tfix_vm_init(&bad, 1, false, 2);
    bad.vcpus[0].index = 1;
    r = full_req(dir, "vm1", &bad, mem2, 4096);
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, NULL), SNAP_EINCOMPAT);
    snap_after = tfix_read(dir, "vm1.snap", &sl2);
    mem_after = tfix_read(dir, "vm1.g1.mem", &ml2);
    assert_non_null(snap_after);
    assert_non_null(mem_after);
    assert_int_equal(sl, sl2);
    assert_int_equal(ml, ml2);
    assert_memory_equal(snap_before, snap_after, sl);
    assert_memory_equal(mem_before, mem_after, ml);
    assert_true(loads_as(dir, "vm1", &e));
    free(snap_before);
    free(mem_before);
    free(snap_after);
    free(mem_after);
    free(mem);
    free(mem2);
    tfix_rmdir(dir);
}

static void round_trip(uint32_t page_size)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct expect e;
    uint8_t *mem;

    tfix_vm_init(&vm, 2, false, 3);
    mem = tfix_memory(2 * MIB, page_size);
    struct snap_save_req r = full_req(dir, "rt", &vm, mem, page_size);
    save_ok(&r, &rep);
    assert_int_equal(rep.pages_written, 2 * MIB / page_size);
    expect_from(&e, mem, 2 * MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "rt", &e));
    /* A second save gets the next generation and removes the first memory file. */
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 2);
    assert_false(tfix_exists(dir, "rt.g1.mem"));
    assert_true(tfix_exists(dir, "rt.g2.mem"));
    expect_from(&e, mem, 2 * MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "rt", &e));
    free(mem);
    tfix_rmdir(dir);
}

static void save__round_trips_4k_pages(void **unused)
{
    (void)unused;
    round_trip(4096);
}

static void save__round_trips_16k_pages(void **unused)
{
    (void)unused;
    round_trip(16384);
}

static void save__round_trips_64k_pages(void **unused)
{
    (void)unused;
    round_trip(65536);
}

static void save__diff_load_equals_full_image(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct tfix_vm vm2;
    struct snap_save_report rep;
    struct expect e;
    uint8_t dirty[16] = {0};
    uint8_t *base_mem = tfix_memory(MIB, 1);
    uint8_t *now = tfix_memory(MIB, 1);
    uint8_t *other = tfix_memory(MIB, 9);

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    tfix_vm_init(&vm2, 1, true, 2);
    struct snap_save_req r = full_req(dir, "base", &vm, base_mem, 16384);
    save_ok(&r, &rep);
    /* The guest changes pages 0, 3, 4 and 63 (of 64). */
    const unsigned changed[] = {0, 3, 4, 63};
    for (unsigned i = 0; i < 4; i++) {
        memcpy(now + changed[i] * 16384, other + changed[i] * 16384, 16384);
        snap_bitmap_set(dirty, changed[i]);
    }
    r = diff_req(dir, "d1", &vm2, now, 16384, dirty, "base");
    save_ok(&r, &rep);
    expect_from(&e, now, MIB, &vm2.st, &rep);
    assert_true(loads_as(dir, "d1", &e));
    assert_int_equal(snap_pair_verify(&snap_io_posix, dir, "d1", NULL), 0);
    free(base_mem);
    free(now);
    free(other);
    tfix_rmdir(dir);
}

/* A diff more than SNAP_MAX_CHAIN diffs above its full pair could never be loaded (6.1 step 5):
 * save refuses it before creating a file, rather than committing a pair that load refuses. */
static void save__refuses_diff_beyond_chain_limit(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    uint8_t dirty[32] = {2};
    uint8_t *mem = tfix_memory(MIB, 3);
    char before[2048];
    char after[2048];
    char id[16];
    char base[16] = "d0";

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    struct snap_save_req r = full_req(dir, "d0", &vm, mem, 4096);
    save_ok(&r, &rep);
    for (unsigned i = 1; i <= SNAP_MAX_CHAIN; i++) {
        snprintf(id, sizeof(id), "d%u", i);
        r = diff_req(dir, id, &vm, mem, 4096, dirty, base);
        save_ok(&r, &rep);
        memcpy(base, id, sizeof(base));
    }
    assert_int_equal(snap_pair_verify(&snap_io_posix, dir, "d8", NULL), 0);
    assert_int_equal(tfix_listing(dir, before, sizeof(before)), 0);
    r = diff_req(dir, "d9", &vm, mem, 4096, dirty, "d8");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_ELIMIT);
    assert_non_null(strstr(d.msg, "diffs above a full snapshot"));
    assert_int_equal(tfix_listing(dir, after, sizeof(after)), 0);
    assert_string_equal(before, after);
    /* A broken chain below the base is refused too (its base is missing). */
    snprintf(before, sizeof(before), "%s/d3.snap", dir);
    assert_int_equal(unlink(before), 0);
    r = diff_req(dir, "dx", &vm, mem, 4096, dirty, "d5");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_ENOENT);
    free(mem);
    tfix_rmdir(dir);
}

static void save__all_zero_dirty_page_round_trips(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct expect e;
    uint8_t dirty[32] = {0};
    uint8_t *base_mem = tfix_memory(MIB, 1);
    uint8_t *now = tfix_memory(MIB, 1);

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    struct snap_save_req r = full_req(dir, "base", &vm, base_mem, 4096);
    save_ok(&r, &rep);
    memset(now + 7 * 4096, 0, 4096);
    snap_bitmap_set(dirty, 7);
    r = diff_req(dir, "d1", &vm, now, 4096, dirty, "base");
    save_ok(&r, &rep);
    assert_int_equal(rep.pages_written, 1);
    expect_from(&e, now, MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "d1", &e));
    free(base_mem);
    free(now);
    tfix_rmdir(dir);
}

static void save__diff_with_no_dirty_page_round_trips(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct expect e;
    uint8_t dirty[32] = {0};
    uint8_t *mem = tfix_memory(MIB, 1);
    size_t len = 0;
    uint8_t *file;

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    struct snap_save_req r = full_req(dir, "base", &vm, mem, 4096);
    save_ok(&r, &rep);
    r = diff_req(dir, "d1", &vm, mem, 4096, dirty, "base");
    save_ok(&r, &rep);
    assert_int_equal(rep.pages_written, 0);
    file = tfix_read(dir, "d1.g1.mem", &len);
    assert_int_equal(len, 64);
    free(file);
    expect_from(&e, mem, MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "d1", &e));
    free(mem);
    tfix_rmdir(dir);
}

static void save__removes_stale_files_and_skips_their_generations(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct expect e;
    char list[512];
    uint8_t *mem = tfix_memory(MIB, 1);

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    assert_int_equal(tfix_write(dir, "vm1.g7.mem", "junk", 4), 0);
    assert_int_equal(tfix_write(dir, "vm1.g8.snap.tmp", "junk", 4), 0);
    /* Not the library's: other ids, leading zero, no digits, other suffixes. */
    const char *foreign[] = {"vm10.g99.mem", "vm1.g09.mem", "vm1.g.mem", "vm1.g5.mem.bak",
                             "vm1.snap.tmp", "notes.txt", "vm1.g99999999999999999999.mem"};
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(tfix_write(dir, foreign[i], "x", 1), 0);
    expect_from(&e, mem, MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "vm1", &e)); /* stale files are ignored by load */
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 9);
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "notes.txt vm1.g.mem vm1.g09.mem vm1.g5.mem.bak vm1.g9.mem "
                              "vm1.g99999999999999999999.mem vm1.snap vm1.snap.tmp vm10.g99.mem");
    expect_from(&e, mem, MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "vm1", &e));
    free(mem);
    tfix_rmdir(dir);
}

static void save__generation_follows_committed_state_file(void **unused)
{
    char *dir = tfix_mkdir();
    char path[4200];
    struct tfix_vm vm;
    struct snap_save_report rep;
    uint8_t *mem = tfix_memory(MIB, 1);

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    save_ok(&r, &rep);
    save_ok(&r, &rep);
    /* Only the state file knows generation 3 once its memory file is gone. */
    snprintf(path, sizeof(path), "%s/vm1.g3.mem", dir);
    assert_int_equal(unlink(path), 0);
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 4);
    free(mem);
    tfix_rmdir(dir);
}

static void save__recovery_save_smaller_than_crashed_one(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm big;
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct faultio f;
    struct expect e;
    char list[512];
    uint8_t dirty[32] = {0};
    uint8_t *big_mem = tfix_memory(4 * MIB, 4);
    uint8_t *mem = tfix_memory(MIB, 1);
    uint8_t *file;
    size_t len = 0;

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    struct snap_save_req r = full_req(dir, "base", &vm, mem, 4096);
    save_ok(&r, &rep);
    /* A 4 MiB save of vm1 dies right after its memory file is written and closed. */
    tfix_vm_init(&big, 4, false, 4);
    r = full_req(dir, "vm1", &big, big_mem, 4096);
    faultio_init(&f, NULL, dir);
    f.crash_after = 1 + 4 + 1 + 1 + 1; /* list, open, 4 x 1 MiB, trailer, fsync, close */
    assert_int_equal(snap_pair_save(&rep, &f.io, &r, NULL), SNAP_EIO);
    assert_true(f.crashed);
    file = tfix_read(dir, "vm1.g1.mem", &len);
    assert_int_equal(len, 4 * MIB + 64);
    free(file);
    /* The recovery is a diff of two pages over base. */
    snap_bitmap_set(dirty, 3);
    snap_bitmap_set(dirty, 4);
    r = diff_req(dir, "vm1", &vm, mem, 4096, dirty, "base");
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 2);
    file = tfix_read(dir, "vm1.g2.mem", &len);
    assert_int_equal(len, 2 * 4096 + 64);
    free(file);
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "base.g1.mem base.snap vm1.g2.mem vm1.snap");
    expect_from(&e, mem, MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "vm1", &e));
    free(big_mem);
    free(mem);
    tfix_rmdir(dir);
}

/* The protocol of FORMAT.md 9, call by call, for a full save over an existing pair. */
static void save__call_sequence_follows_commit_protocol(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct faultio f;
    char trace[4096];
    uint8_t *mem = tfix_memory(2 * MIB, 1);

    (void)unused;
    tfix_vm_init(&vm, 2, false, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 65536);
    save_ok(&r, &rep);
    faultio_init(&f, NULL, dir);
    assert_int_equal(snap_pair_save(&rep, &f.io, &r, NULL), 0);
    assert_int_equal(faultio_trace(&f, trace, sizeof(trace)), 0);
    assert_string_equal(trace, "list .\n"
                               "open vm1.snap\n"
                               "fsize vm1.snap\n"
                               "pread vm1.snap\n"
                               "close vm1.snap\n"
                               "open vm1.g2.mem\n"
                               "pwrite vm1.g2.mem\n"
                               "pwrite vm1.g2.mem\n"
                               "pwrite vm1.g2.mem\n"
                               "fsync vm1.g2.mem\n"
                               "close vm1.g2.mem\n"
                               "open vm1.g2.snap.tmp\n"
                               "pwrite vm1.g2.snap.tmp\n"
                               "fsync vm1.g2.snap.tmp\n"
                               "close vm1.g2.snap.tmp\n"
                               "open .\n"
                               "fsync .\n"
                               "close .\n"
                               "rename vm1.g2.snap.tmp>vm1.snap\n"
                               "open .\n"
                               "fsync .\n"
                               "close .\n"
                               "list .\n"
                               "unlink vm1.g1.mem\n"
                               "open .\n"
                               "fsync .\n"
                               "close .");
    if (getenv("SNAP_TRACE") != NULL)
        printf("%s\n", trace);
    free(mem);
    tfix_rmdir(dir);
}

/* One planned fault on a save over an existing pair: the outcome the test checks. */
struct one_fault {
    enum fio_call kind;
    unsigned nth;
    int err;
};

static int run_with_fault(const char *dir, struct tfix_vm *vm, const uint8_t *mem,
                          const struct one_fault *fault, struct faultio *f,
                          struct snap_save_report *rep, struct snap_diag *d)
{
    struct snap_save_req r = full_req(dir, "vm1", vm, mem, 4096);

    faultio_init(f, NULL, dir);
    f->fail_kind = fault->kind;
    f->fail_nth = fault->nth;
    f->fail_errno = fault->err;
    return snap_pair_save(rep, &f->io, &r, d);
}

static void save__keeps_prior_pair_when_fsync_fails(void **unused)
{
    const struct one_fault faults[] = {
        {FIO_FSYNC, 1, EIO},    /* memory file */
        {FIO_FSYNC, 2, ENOSPC}, /* state tmp */
        {FIO_FSYNC, 3, EIO},    /* directory, before the commit */
        {FIO_RENAME, 1, EIO},   /* the commit itself */
        {FIO_PWRITE, 1, ENOSPC},
        {FIO_CLOSE, 2, EIO}, /* close of the memory file after its fsync */
    };
    const char *ops[] = {"fsync", "fsync", "fsync-dir", "rename", "pwrite", "close"};

    (void)unused;
    for (unsigned i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        char *dir = tfix_mkdir();
        struct tfix_vm vm;
        struct tfix_vm vm2;
        struct snap_save_report rep;
        struct snap_diag d;
        struct faultio f;
        struct expect e;
        char before[512];
        char after[512];
        uint8_t *mem = tfix_memory(MIB, 1);
        uint8_t *mem2 = tfix_memory(MIB, 2);

        tfix_vm_init(&vm, 1, false, 1);
        tfix_vm_init(&vm2, 1, false, 2);
        struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
        save_ok(&r, &rep);
        expect_from(&e, mem, MIB, &vm.st, &rep);
        assert_int_equal(tfix_listing(dir, before, sizeof(before)), 0);
        assert_int_equal(run_with_fault(dir, &vm2, mem2, &faults[i], &f, &rep, &d), SNAP_EIO);
        assert_int_equal(f.faults, 1);
        assert_string_equal(d.op, ops[i]);
        assert_int_equal(d.sys_errno, faults[i].err);
        assert_true(loads_as(dir, "vm1", &e));
        assert_int_equal(tfix_listing(dir, after, sizeof(after)), 0);
        assert_string_equal(after, before); /* what the failed save made is gone */
        free(mem);
        free(mem2);
        tfix_rmdir(dir);
    }
}

static void save__reports_ambiguous_commit_when_dir_fsync_fails(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct tfix_vm vm2;
    struct snap_save_report rep;
    struct snap_diag d;
    struct faultio f;
    struct expect e;
    uint8_t *mem = tfix_memory(MIB, 1);
    uint8_t *mem2 = tfix_memory(MIB, 2);
    const struct one_fault fault = {FIO_FSYNC, 4, EIO};

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    tfix_vm_init(&vm2, 1, false, 2);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    assert_int_equal(run_with_fault(dir, &vm2, mem2, &fault, &f, &rep, &d), SNAP_EIO);
    assert_string_equal(d.op, "fsync-dir-commit");
    assert_int_equal(rep.generation, 2); /* the report names the pair that may be durable */
    assert_int_equal(f.count[FIO_UNLINK], 0);
    assert_true(tfix_exists(dir, "vm1.g2.mem"));
    expect_from(&e, mem2, MIB, &vm2.st, &rep);
    assert_true(loads_as(dir, "vm1", &e));
    free(mem);
    free(mem2);
    tfix_rmdir(dir);
}

static void save__succeeds_with_cleanup_incomplete_when_unlink_fails(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    struct faultio f;
    struct expect e;
    char list[512];
    uint8_t *mem = tfix_memory(MIB, 1);
    const struct one_fault fault = {FIO_UNLINK, 1, EACCES};

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    assert_int_equal(run_with_fault(dir, &vm, mem, &fault, &f, &rep, &d), 0);
    assert_true(rep.cleanup_incomplete);
    assert_int_equal(d.code, 0);
    expect_from(&e, mem, MIB, &vm.st, &rep);
    assert_true(loads_as(dir, "vm1", &e));
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "vm1.g1.mem vm1.g2.mem vm1.snap");
    save_ok(&r, &rep);
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "vm1.g3.mem vm1.snap");
    free(mem);
    tfix_rmdir(dir);
}

static void save__retries_eintr_and_continues_short_writes(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct faultio f;
    struct expect e;
    uint8_t *mem = tfix_memory(MIB, 1);

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    for (unsigned n = 1; n <= 3; n++) {
        faultio_init(&f, NULL, dir);
        f.fail_kind = n == 1 ? FIO_OPEN : FIO_PWRITE;
        f.fail_nth = n == 3 ? 2 : 1;
        f.fail_errno = EINTR;
        f.short_at = 4; /* the first pwrite of the memory file */
        assert_int_equal(snap_pair_save(&rep, &f.io, &r, NULL), 0);
        assert_int_equal(f.faults, 1);
        expect_from(&e, mem, MIB, &vm.st, &rep);
        assert_true(loads_as(dir, "vm1", &e));
    }
    free(mem);
    tfix_rmdir(dir);
}

static void save__refuses_bad_requests_before_creating_files(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    struct faultio f;
    uint8_t dirty[32] = {0};
    uint8_t odd_dirty[2] = {0, 0x10}; /* bit 12 of a 12-page guest */
    uint8_t *mem = tfix_memory(MIB, 1);
    char list[512];

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    struct snap_save_req good = full_req(dir, "base", &vm, mem, 4096);
    save_ok(&good, &rep);
    struct {
        struct snap_save_req r;
        int want;
    } cases[12];
    for (unsigned i = 0; i < 12; i++) {
        cases[i].r = diff_req(dir, "vm1", &vm, mem, 4096, dirty, "base");
        cases[i].want = SNAP_EINVAL;
    }
    cases[0].r.id = "bad.id";
    cases[1].r.kind = (enum snap_kind)3;
    cases[2].r.page_size = 8192;
    cases[3].r.ram_size = MIB + 1;
    cases[4].r.base_id = "vm1";
    cases[5].r.base_id = NULL;
    cases[6].r.memory = NULL;
    cases[7].r.ram_size = 12 * 4096;
    cases[7].r.dirty = odd_dirty;
    cases[8].r.base_id = "nobase";
    cases[8].want = SNAP_ENOENT;
    cases[9].r.ram_size = 0;
    cases[10].r.page_size = 65536; /* base has 4096 */
    cases[10].want = SNAP_EPAIR;
    cases[11].r.id = "";
    for (unsigned i = 0; i < 12; i++) {
        faultio_init(&f, NULL, dir);
        snap_diag_clear(&d);
        assert_int_equal(snap_pair_save(&rep, &f.io, &cases[i].r, &d), cases[i].want);
        assert_int_equal(d.code, cases[i].want);
        assert_int_equal(f.count[FIO_PWRITE], 0);
        assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
        assert_string_equal(list, "base.g1.mem base.snap");
    }
    assert_int_equal(snap_pair_save(&rep, NULL, &good, &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, NULL, &d), SNAP_EINVAL);
    free(mem);
    tfix_rmdir(dir);
}

static void save__refuses_damaged_base(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    uint8_t dirty[32] = {1};
    uint8_t *mem = tfix_memory(MIB, 1);
    uint8_t *file;
    size_t len = 0;
    char list[512];

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    struct snap_save_req r = full_req(dir, "base", &vm, mem, 4096);
    save_ok(&r, &rep);
    file = tfix_read(dir, "base.snap", &len);
    file[len - 1] ^= 1;
    assert_int_equal(tfix_write(dir, "base.snap", file, len), 0);
    r = diff_req(dir, "vm1", &vm, mem, 4096, dirty, "base");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_ECRC);
    assert_non_null(strstr(d.path, "base.snap"));
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_string_equal(list, "base.g1.mem base.snap");
    free(file);
    free(mem);
    tfix_rmdir(dir);
}


/* Rewrite <id>.snap with its VM state replaced by st (same length), CRCs kept valid: a state file
 * whose envelope decodes and whose state does not (or is incompatible). */
static void replace_state(const char *dir, const char *id, const uint8_t *st)
{
    char name[64];
    struct snap_envelope env;
    size_t len = 0, out_len = 0;
    uint8_t *raw, *buf;
    uint64_t *crcs;

    snprintf(name, sizeof(name), "%s.snap", id);
    raw = tfix_read(dir, name, &len);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    crcs = malloc(8 * (env.hdr.mem_pages + 1));
    for (uint64_t i = 0; i < env.hdr.mem_pages; i++)
        crcs[i] = snap_get_le64(env.page_crcs + 8 * i);
    buf = malloc(len);
    assert_int_equal(snap_envelope_encode(buf, len, &out_len, &env.hdr, st, env.bitmap, crcs), 0);
    assert_int_equal(out_len, len);
    assert_int_equal(tfix_write(dir, name, buf, len), 0);
    free(buf);
    free(crcs);
    free(raw);
}

/* FORMAT.md 9 step 1: a diff is refused when its base's state does not decode, or a pair of the
 * chain below does not decode or loops; nothing is created. Save used to read the base's
 * envelope only and committed a diff that no load accepts. */
static void save__refuses_diff_over_base_whose_state_does_not_load(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    uint8_t dirty[32] = {1};
    uint8_t *mem = tfix_memory(MIB, 1);
    uint8_t *st = NULL;
    size_t st_len = 0;
    char before[512], after[512];

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    struct snap_save_req r = full_req(dir, "base", &vm, mem, 4096);
    save_ok(&r, &rep);
    r = diff_req(dir, "d1", &vm, mem, 4096, dirty, "base");
    save_ok(&r, &rep);
    assert_int_equal(snap_state_encode_alloc(&st, &st_len, &vm.st), 0);
    /* The base's state: a bool of 2 (smt), CRCs valid. */
    st[4] = 2;
    replace_state(dir, "base", st);
    assert_int_equal(tfix_listing(dir, before, sizeof(before)), 0);
    r = diff_req(dir, "d2", &vm, mem, 4096, dirty, "base");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_ECORRUPT);
    assert_non_null(strstr(d.path, "base.snap"));
    /* A pair further down the chain: d2 over d1 over the damaged base. */
    r = diff_req(dir, "d2", &vm, mem, 4096, dirty, "d1");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_ECORRUPT);
    assert_non_null(strstr(d.path, "base.snap"));
    assert_int_equal(tfix_listing(dir, after, sizeof(after)), 0);
    assert_string_equal(before, after);
    /* An incompatible state (smt true) is refused the same way. */
    st[4] = 1;
    replace_state(dir, "base", st);
    r = diff_req(dir, "d2", &vm, mem, 4096, dirty, "d1");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINCOMPAT);
    assert_non_null(strstr(d.path, "base.snap"));
    /* A diff over d1 saved under the id of d1's base: the chain would loop. */
    st[4] = 0;
    replace_state(dir, "base", st);
    r = diff_req(dir, "base", &vm, mem, 4096, dirty, "d1");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "loop in the diff chain"));
    assert_int_equal(tfix_listing(dir, after, sizeof(after)), 0);
    assert_string_equal(before, after);
    free(st);
    free(mem);
    tfix_rmdir(dir);
}

/* A FIFO named like a file of the pair never blocks a save (13): as the committed state file it
 * adds nothing and is replaced by the commit; as a base it is refused. */
static void save__fifo_named_like_a_pair_file_does_not_block(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    uint8_t dirty[32] = {1};
    uint8_t *mem = tfix_memory(MIB, 1);
    char path[4200];

    (void)unused;
    alarm(20);
    tfix_vm_init(&vm, 1, true, 1);
    snprintf(path, sizeof(path), "%s/vm1.snap", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 1);
    assert_int_equal(snap_pair_verify(&snap_io_posix, dir, "vm1", NULL), 0);
    snprintf(path, sizeof(path), "%s/fifo.snap", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    r = diff_req(dir, "vm2", &vm, mem, 4096, dirty, "fifo");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EIO);
    assert_non_null(strstr(d.msg, "not a regular file"));
    alarm(0);
    free(mem);
    tfix_rmdir(dir);
}

static void save__refuses_more_bad_requests(void **unused)
{
    char *dir = tfix_mkdir();
    char *long_dir = malloc(4100);
    struct tfix_vm vm;
    struct tfix_vm big;
    struct snap_save_report rep;
    struct snap_diag d;
    uint8_t dirty[32] = {0};
    uint8_t *mem = tfix_memory(2 * MIB, 1);

    (void)unused;
    tfix_vm_init(&vm, 1, true, 1);
    tfix_vm_init(&big, 2, true, 1);
    struct snap_save_req good = full_req(dir, "base", &big, mem, 4096);
    save_ok(&good, &rep); /* a 2 MiB base */
    struct snap_save_req r = diff_req(dir, "vm1", &vm, mem, 4096, dirty, "base");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EPAIR); /* ram_size */
    assert_non_null(strstr(d.msg, "ram_size"));
    assert_non_null(strstr(d.msg, "the new diff"));
    r.base_id = "bad.base";
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    r = full_req(NULL, "vm1", &vm, mem, 4096);
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    r = full_req(dir, "vm1", &vm, mem, 4096);
    r.state = NULL;
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    r = full_req(dir, "vm1", &vm, mem, 4096);
    r.id = NULL;
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    r.id = "vm1";
    r.ram_size = (SNAP_MAX_PAGES + 1) * 4096; /* never read: refused first */
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    /* A state that is compatible but cannot be encoded. */
    r = full_req(dir, "vm1", &vm, mem, 4096);
    vm.st.info.boot_args = NULL;
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    assert_string_equal(d.op, "encode");
    tfix_vm_init(&vm, 1, true, 1);
    /* Paths that do not fit. */
    memset(long_dir, 'd', 4099);
    long_dir[0] = '/';
    long_dir[4099] = '\0';
    r = full_req(long_dir, "vm1", &vm, mem, 4096);
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    r = diff_req(long_dir, "vm1", &vm, mem, 4096, dirty, "base");
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL);
    assert_false(tfix_exists(dir, "vm1.snap"));
    free(long_dir);
    free(mem);
    tfix_rmdir(dir);
}

static void save__refuses_when_generations_run_out(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct snap_diag d;
    char list[512];
    uint8_t *mem = tfix_memory(MIB, 1);
    const char *id40 = "abcdefghijabcdefghijabcdefghijabcdefghij";
    char name[128];

    (void)unused;
    tfix_vm_init(&vm, 1, false, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    assert_int_equal(tfix_write(dir, "vm1.g9223372036854775807.mem", "x", 1), 0);
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_ELIMIT);
    assert_non_null(strstr(d.msg, "no generation"));
    /* <id> of 40 bytes: generation 10^17 + 1 would make a 64-byte memory file name. */
    snprintf(name, sizeof(name), "%s.g100000000000000000.mem", id40);
    assert_int_equal(tfix_write(dir, name, "x", 1), 0);
    r.id = id40;
    assert_int_equal(snap_pair_save(&rep, &snap_io_posix, &r, &d), SNAP_EINVAL); /* 3.1 */
    assert_non_null(strstr(d.msg, "63 bytes"));
    assert_int_equal(tfix_listing(dir, list, sizeof(list)), 0);
    assert_null(strstr(list, ".snap"));
    free(mem);
    tfix_rmdir(dir);
}

static void save__scan_survives_damaged_or_vanishing_state_file(void **unused)
{
    char *dir = tfix_mkdir();
    struct tfix_vm vm;
    struct snap_save_report rep;
    struct faultio f;
    uint8_t junk[300];
    uint8_t *mem = tfix_memory(MIB, 1);

    (void)unused;
    memset(junk, 0x11, sizeof(junk));
    tfix_vm_init(&vm, 1, false, 1);
    struct snap_save_req r = full_req(dir, "vm1", &vm, mem, 4096);
    assert_int_equal(tfix_write(dir, "vm1.snap", junk, sizeof(junk)), 0); /* no header */
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 1);
    assert_int_equal(tfix_write(dir, "vm1.snap", junk, 10), 0); /* shorter than a header */
    save_ok(&r, &rep);
    assert_int_equal(rep.generation, 2); /* above vm1.g1.mem, seen by name */
    /* The state file disappears between the listing and its open. */
    faultio_init(&f, NULL, dir);
    f.fail_kind = FIO_OPEN;
    f.fail_nth = 1;
    f.fail_errno = ENOENT;
    assert_int_equal(snap_pair_save(&rep, &f.io, &r, NULL), 0);
    assert_int_equal(rep.generation, 3);
    free(mem);
    tfix_rmdir(dir);
}

/* The sweep. */

enum sweep_variant {
    SWEEP_ERRNO,
    SWEEP_SHORT,
    SWEEP_CRASH,
    SWEEP_TORN,
    SWEEP_POWER,
    SWEEP_POWER_RENAMES,
};

struct sweep {
    bool diff;
    char *proto;           /* directory holding the prior state, copied for each run */
    struct tfix_vm vm_old; /* prior pair vm1 */
    struct tfix_vm vm_new; /* the save under test */
    struct tfix_vm vm_next;
    uint8_t *mem_old;
    uint8_t *mem_new; /* full image the new pair loads as */
    uint8_t *mem_next;
    uint8_t dirty[2];
    struct expect prior;
    char prior_list[512];
    unsigned total_calls;
    enum fio_call kinds[FIO_LOG_MAX];
    unsigned runs;
    const struct snap_io *backend; /* under faultio; NULL: libc */
    bool lying_fsync;              /* every fsync is a no-op (checker self-test) */
    bool crashes_only;             /* skip the errno and short variants */
    unsigned lie_at;               /* one fsync that does nothing (checker self-test) */
    unsigned bad_runs;             /* outcomes judged wrong (only a broken backend may have) */
};

static struct snap_save_req sweep_req(struct sweep *s, const char *dir)
{
    if (s->diff)
        return diff_req(dir, "vm1", &s->vm_new, s->mem_new, 65536, s->dirty, "base");
    return full_req(dir, "vm1", &s->vm_new, s->mem_new, 65536);
}

static void sweep_setup(struct sweep *s, bool diff)
{
    struct snap_save_report rep;
    struct snap_save_req r;
    struct faultio f;
    uint8_t *base_mem;
    char *dir;

    memset(s, 0, sizeof(*s));
    s->diff = diff;
    s->proto = tfix_mkdir();
    tfix_vm_init(&s->vm_old, 1, true, 1);
    tfix_vm_init(&s->vm_new, 1, true, 2);
    tfix_vm_init(&s->vm_next, 1, true, 3);
    s->mem_old = tfix_memory(MIB, 1);
    s->mem_next = tfix_memory(MIB, 3);
    base_mem = tfix_memory(MIB, 5);
    r = full_req(s->proto, "base", &s->vm_old, base_mem, 65536);
    save_ok(&r, &rep);
    r = full_req(s->proto, "vm1", &s->vm_old, s->mem_old, 65536);
    save_ok(&r, &rep);
    save_ok(&r, &rep); /* generation 2, so the scan sees a committed generation above 1 */
    expect_from(&s->prior, s->mem_old, MIB, &s->vm_old.st, &rep);
    assert_int_equal(tfix_listing(s->proto, s->prior_list, sizeof(s->prior_list)), 0);
    /* The new image: a diff over base changes pages 2, 3 and 9 of 16; a full is all new. */
    if (diff) {
        uint8_t *other = tfix_memory(MIB, 2);
        s->mem_new = base_mem;
        base_mem = NULL;
        s->dirty[0] = 0x0c;
        s->dirty[1] = 0x02;
        for (unsigned p = 0; p < 16; p++) {
            if (snap_bitmap_test(s->dirty, p))
                memcpy(s->mem_new + p * 65536, other + p * 65536, 65536);
        }
        free(other);
    } else {
        s->mem_new = tfix_memory(MIB, 2);
    }
    free(base_mem);
    /* A clean run numbers the calls. */
    dir = tfix_mkdir();
    assert_int_equal(tfix_copy_dir(dir, s->proto), 0);
    faultio_init(&f, NULL, dir);
    r = sweep_req(s, dir);
    assert_int_equal(snap_pair_save(&rep, &f.io, &r, NULL), 0);
    assert_true(f.log_len < FIO_LOG_MAX);
    s->total_calls = f.calls;
    for (unsigned i = 0; i < f.log_len; i++)
        s->kinds[i] = f.log[i].call;
    tfix_rmdir(dir);
}

static void sweep_teardown(struct sweep *s)
{
    free(s->mem_old);
    free(s->mem_new);
    free(s->mem_next);
    tfix_rmdir(s->proto);
}

/* Judge one faulted or crashed run, then recover with a clean save.
 * @return NULL when the outcome is allowed, else what is wrong. */
static const char *sweep_judge(struct sweep *s, const char *dir, const struct faultio *f, int rc,
                               const struct snap_diag *d, const struct snap_save_report *rep)
{
    static char why[768];
    struct expect now;
    struct snap_save_report next;
    struct snap_save_req r;
    char list[512];
    char want[128];

    /* The new pair is possible only once the rename ran; it is due when save said so, or when
     * the rename ran and no power cut could take it back. */
    bool may_be_new = f->renames > 0;
    bool must_be_new = rc == 0 || (may_be_new && !f->power_loss);
    int as_prior;
    int as_new = 1;

    s->runs++;
    if (rc == 0 && !may_be_new)
        return "save succeeded without its commit rename";
    if (rc != 0 && may_be_new && !f->crashed && strcmp(d->op, "fsync-dir-commit") != 0) {
        snprintf(why, sizeof(why), "failure after the commit reported as %s", d->op);
        return why;
    }
    if (may_be_new) {
        if (rep->generation != 3)
            return "the report does not name the committed generation";
        expect_from(&now, s->mem_new, MIB, &s->vm_new.st, rep);
        as_new = load_matches(dir, "vm1", &now);
    }
    if (must_be_new && as_new != 0)
        return "the committed pair does not load as the new one";
    as_prior = load_matches(dir, "vm1", &s->prior);
    if (as_prior != 0 && as_new != 0)
        return may_be_new ? "vm1 loads as neither the prior nor the new pair"
                          : "the prior pair is lost although the commit did not happen";
    if (!may_be_new && !f->crashed) {
        if (tfix_listing(dir, list, sizeof(list)) != 0)
            return "cannot list the directory";
        if (strcmp(list, s->prior_list) != 0) {
            snprintf(why, sizeof(why), "the failed save left files: %s", list);
            return why;
        }
    }
    /* Recovery: a clean save succeeds, loads, and leaves no stale file of vm1. */
    r = full_req(dir, "vm1", &s->vm_next, s->mem_next, 65536);
    if (snap_pair_save(&next, &snap_io_posix, &r, NULL) != 0)
        return "the recovery save fails";
    expect_from(&now, s->mem_next, MIB, &s->vm_next.st, &next);
    if (load_matches(dir, "vm1", &now) != 0)
        return "the recovery save does not load";
    if (tfix_listing(dir, list, sizeof(list)) != 0)
        return "cannot list the directory";
    snprintf(want, sizeof(want), "base.g1.mem base.snap vm1.g%llu.mem vm1.snap",
             (unsigned long long)next.generation);
    if (strcmp(list, want) != 0) {
        snprintf(why, sizeof(why), "after recovery the directory holds %s", list);
        return why;
    }
    return NULL;
}

static const int *errnos_for(enum fio_call kind, unsigned *n)
{
    static const int open_e[] = {EACCES, ENOSPC, EIO, EMFILE, EEXIST, EINTR};
    static const int close_e[] = {EIO, EINTR};
    static const int rw_e[] = {EIO, ENOSPC, EDQUOT, EFBIG, EINTR};
    static const int fsync_e[] = {EIO, ENOSPC, EINTR};
    static const int fsize_e[] = {EIO, EOVERFLOW};
    static const int rename_e[] = {EIO, ENOSPC, EACCES, EXDEV};
    static const int unlink_e[] = {EIO, EACCES, EBUSY};
    static const int list_e[] = {EIO, EMFILE, ENOMEM};

#define PICK(a)                                                                                   \
    do {                                                                                          \
        *n = sizeof(a) / sizeof(a[0]);                                                            \
        return a;                                                                                 \
    } while (0)
    switch (kind) {
    case FIO_OPEN:
        PICK(open_e);
    case FIO_CLOSE:
        PICK(close_e);
    case FIO_PREAD:
    case FIO_PWRITE:
        PICK(rw_e);
    case FIO_FSYNC:
        PICK(fsync_e);
    case FIO_FSIZE:
        PICK(fsize_e);
    case FIO_RENAME:
        PICK(rename_e);
    case FIO_UNLINK:
        PICK(unlink_e);
    default:
        PICK(list_e);
    }
#undef PICK
}

static void sweep_one(struct sweep *s, unsigned n, enum fio_call kind, int variant, int err)
{
    struct snap_save_report rep;
    struct snap_save_req r;
    struct snap_diag d;
    struct faultio f;
    char what[160];
    const char *problem;
    char *dir = tfix_mkdir();
    const char *sweep = s->diff ? "diff" : "full";
    const char *call = n <= s->total_calls ? faultio_call_name(kind) : "none: after success";
    int rc;

    assert_int_equal(tfix_copy_dir(dir, s->proto), 0);
    faultio_init(&f, s->backend, dir);
    f.fsync_lies = s->lying_fsync;
    f.lie_at = s->lie_at;
    switch (variant) {
    case SWEEP_ERRNO:
        f.fail_at = n;
        f.fail_errno = err;
        snprintf(what, sizeof(what), "%s sweep: call %u (%s) fails with errno %d", sweep, n,
                 call, err);
        break;
    case SWEEP_SHORT:
        f.short_at = n;
        snprintf(what, sizeof(what), "%s sweep: call %u (%s) is short", sweep, n, call);
        break;
    default:
        f.crash_after = (long)n - 1;
        f.torn = variant == SWEEP_TORN;
        f.power_loss = variant == SWEEP_POWER || variant == SWEEP_POWER_RENAMES;
        f.keep_renames = variant == SWEEP_POWER_RENAMES;
        snprintf(what, sizeof(what), "%s sweep: %s before call %u (%s)", sweep,
                 variant == SWEEP_CRASH           ? "crash"
                 : variant == SWEEP_TORN          ? "crash with a torn write"
                 : variant == SWEEP_POWER         ? "power cut"
                                                  : "power cut keeping renames",
                 n, call);
        break;
    }
    r = sweep_req(s, dir);
    rc = snap_pair_save(&rep, &f.io, &r, &d);
    if (n > s->total_calls && f.power_loss)
        faultio_power_off(&f); /* the cut comes after save returned */
    if (s->backend == NULL && !s->lying_fsync && s->lie_at == 0 &&
        ((variant == SWEEP_ERRNO && err == EINTR && kind != FIO_FSYNC && kind != FIO_CLOSE) ||
         variant == SWEEP_SHORT) &&
        rc != 0)
        fail_msg("%s: save failed although the call is retried or continued: %s", what, d.msg);
    problem = sweep_judge(s, dir, &f, rc, &d, &rep);
    if (problem != NULL && s->backend == NULL && !s->lying_fsync && s->lie_at == 0)
        fail_msg("%s: %s", what, problem);
    s->bad_runs += problem != NULL;
    faultio_finish(&f);
    tfix_rmdir(dir);
}

/* For each call N: every errno, a short transfer (reads and writes), and the four crash kinds
 * before it; then the power cuts after a successful save. */
static void sweep_run(struct sweep *s)
{
    for (unsigned n = 1; n <= s->total_calls; n++) {
        enum fio_call kind = s->kinds[n - 1];
        unsigned ne;
        const int *errs = errnos_for(kind, &ne);

        for (unsigned e = 0; e < ne && !s->crashes_only; e++)
            sweep_one(s, n, kind, SWEEP_ERRNO, errs[e]);
        if ((kind == FIO_PWRITE || kind == FIO_PREAD) && !s->crashes_only)
            sweep_one(s, n, kind, SWEEP_SHORT, 0);
        for (int v = SWEEP_CRASH; v <= SWEEP_POWER_RENAMES; v++)
            sweep_one(s, n, kind, v, 0);
    }
    sweep_one(s, s->total_calls + 1, FIO_NKINDS, SWEEP_POWER, 0);
    sweep_one(s, s->total_calls + 1, FIO_NKINDS, SWEEP_POWER_RENAMES, 0);
    assert_true(s->runs >= 4 * s->total_calls + 2);
}

static void save__sweep_faults_and_crashes_full(void **unused)
{
    struct sweep s;

    (void)unused;
    sweep_setup(&s, false);
    sweep_run(&s);
    print_message("full sweep: %u calls, %u runs\n", s.total_calls, s.runs);
    sweep_teardown(&s);
}

static void save__sweep_faults_and_crashes_diff(void **unused)
{
    struct sweep s;

    (void)unused;
    sweep_setup(&s, true);
    sweep_run(&s);
    print_message("diff sweep: %u calls, %u runs\n", s.total_calls, s.runs);
    sweep_teardown(&s);
}

/* A backend that makes the library write the new memory file over the committed one (the
 * in-place protocol the format exists to avoid): the sweep must find it. */
struct in_place {
    struct snap_io io;
};

static int in_place_open(void *ctx, const char *path, int flags, unsigned mode)
{
    const char *slash = strrchr(path, '/');
    size_t n = strlen(path);
    char target[4200];

    (void)ctx;
    if ((flags & O_EXCL) != 0 && n > 4 && strcmp(path + n - 4, ".mem") == 0 && slash != NULL) {
        snprintf(target, sizeof(target), "%.*s/vm1.g2.mem", (int)(slash - path), path);
        return open(target, O_WRONLY | O_CLOEXEC);
    }
    return open(path, flags, (mode_t)mode);
}

static void save__sweep_catches_fsync_that_does_nothing(void **unused)
{
    struct sweep s;

    (void)unused;
    sweep_setup(&s, false);
    s.lying_fsync = true;
    s.crashes_only = true;
    sweep_run(&s);
    print_message("lying fsync: %u of %u runs judged wrong\n", s.bad_runs, s.runs);
    assert_true(s.bad_runs > 0);
    sweep_teardown(&s);
}

/* Without the directory fsync before the commit (9 step 5), a power cut that keeps the rename
 * but loses the memory file's entry leaves a state file naming a missing memory file. */
static void save__sweep_catches_missing_dir_fsync_before_commit(void **unused)
{
    struct sweep s;
    unsigned rename_at = 0;

    (void)unused;
    sweep_setup(&s, false);
    for (unsigned i = 0; i < s.total_calls; i++) {
        if (s.kinds[i] == FIO_RENAME)
            rename_at = i + 1;
    }
    assert_true(rename_at > 3);
    assert_int_equal(s.kinds[rename_at - 3], FIO_FSYNC); /* open D, fsync D, close D, rename */
    s.lie_at = rename_at - 2;
    s.crashes_only = true;
    sweep_run(&s);
    print_message("no dir fsync before the commit: %u of %u runs judged wrong\n", s.bad_runs,
                  s.runs);
    assert_true(s.bad_runs > 0);
    sweep_teardown(&s);
}

static void save__sweep_catches_in_place_overwrite(void **unused)
{
    struct in_place broken;
    struct sweep s;

    (void)unused;
    broken.io = snap_io_posix;
    broken.io.open = in_place_open;
    sweep_setup(&s, false);
    s.backend = &broken.io;
    sweep_run(&s);
    print_message("broken backend: %u of %u runs judged wrong\n", s.bad_runs, s.runs);
    assert_true(s.bad_runs > 0);
    sweep_teardown(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(save__writes_full_pair),
        cmocka_unit_test(save__rejects_diff_without_bitmap),
        cmocka_unit_test(save__rejects_diff_when_track_dirty_pages_false),
        cmocka_unit_test(save__diff_writes_only_dirty_pages),
        cmocka_unit_test(save__rejects_incompatible_state_before_staging),
        cmocka_unit_test(save__keeps_existing_pair_when_validation_fails),
        cmocka_unit_test(save__round_trips_4k_pages),
        cmocka_unit_test(save__round_trips_16k_pages),
        cmocka_unit_test(save__round_trips_64k_pages),
        cmocka_unit_test(save__diff_load_equals_full_image),
        cmocka_unit_test(save__refuses_diff_beyond_chain_limit),
        cmocka_unit_test(save__all_zero_dirty_page_round_trips),
        cmocka_unit_test(save__diff_with_no_dirty_page_round_trips),
        cmocka_unit_test(save__removes_stale_files_and_skips_their_generations),
        cmocka_unit_test(save__generation_follows_committed_state_file),
        cmocka_unit_test(save__recovery_save_smaller_than_crashed_one),
        cmocka_unit_test(save__call_sequence_follows_commit_protocol),
        cmocka_unit_test(save__keeps_prior_pair_when_fsync_fails),
        cmocka_unit_test(save__reports_ambiguous_commit_when_dir_fsync_fails),
        cmocka_unit_test(save__succeeds_with_cleanup_incomplete_when_unlink_fails),
        cmocka_unit_test(save__retries_eintr_and_continues_short_writes),
        cmocka_unit_test(save__refuses_bad_requests_before_creating_files),
        cmocka_unit_test(save__refuses_damaged_base),
        cmocka_unit_test(save__refuses_more_bad_requests),
        cmocka_unit_test(save__refuses_when_generations_run_out),
        cmocka_unit_test(save__scan_survives_damaged_or_vanishing_state_file),
        cmocka_unit_test(save__refuses_diff_over_base_whose_state_does_not_load),
        cmocka_unit_test(save__fifo_named_like_a_pair_file_does_not_block),
        cmocka_unit_test(save__sweep_faults_and_crashes_full),
        cmocka_unit_test(save__sweep_faults_and_crashes_diff),
        cmocka_unit_test(save__sweep_catches_in_place_overwrite),
        cmocka_unit_test(save__sweep_catches_fsync_that_does_nothing),
        cmocka_unit_test(save__sweep_catches_missing_dir_fsync_before_commit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
