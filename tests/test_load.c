/* Unit tests of ref/src/load.c: snap_pair_load and snap_pair_verify against FORMAT.md 6.1:
 * missing pair, every way a memory file can fail to belong to its state file, a damaged page
 * reported with its guest index, diff chains (binding, missing base, depth limit), the decode
 * order for damaged and oversized state files, I/O failures, and incompatible states. */
#include <errno.h>
#include <fcntl.h>
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

#include "faultio.h"

#define MIB (1u << 20)

struct fixture {
    char *dir;
    struct tfix_vm vm;
    uint8_t *mem;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    fx->dir = tfix_mkdir();
    tfix_vm_init(&fx->vm, 1, true, 1);
    fx->mem = tfix_memory(MIB, 1);
    *state = fx;
    return fx->dir != NULL && fx->mem != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    tfix_rmdir(fx->dir);
    free(fx->mem);
    free(fx);
    return 0;
}

static struct snap_save_report save_full(struct fixture *fx, const char *id, const uint8_t *mem,
                                         uint32_t page_size)
{
    struct snap_save_report rep;
    struct snap_save_req r;
    struct snap_diag d;

    memset(&r, 0, sizeof(r));
    r.dir = fx->dir;
    r.id = id;
    r.kind = SNAP_KIND_FULL;
    r.state = &fx->vm.st;
    r.memory = mem;
    r.ram_size = MIB;
    r.page_size = page_size;
    if (snap_pair_save(&rep, &snap_io_posix, &r, &d) != 0)
        fail_msg("save %s: %s", id, d.msg);
    return rep;
}

static struct snap_save_report save_diff(struct fixture *fx, const char *id, const char *base,
                                         const uint8_t *mem, const uint8_t *dirty)
{
    struct snap_save_report rep;
    struct snap_save_req r;
    struct snap_diag d;

    memset(&r, 0, sizeof(r));
    r.dir = fx->dir;
    r.id = id;
    r.kind = SNAP_KIND_DIFF;
    r.state = &fx->vm.st;
    r.memory = mem;
    r.ram_size = MIB;
    r.page_size = 4096;
    r.dirty = dirty;
    r.base_id = base;
    if (snap_pair_save(&rep, &snap_io_posix, &r, &d) != 0)
        fail_msg("save %s: %s", id, d.msg);
    return rep;
}

/* Load and verify must agree; @return the load error, diag in *d. */
static int load_code(const char *dir, const char *id, struct snap_diag *d)
{
    struct snap_image img;
    struct snap_diag vd;
    int rc = snap_pair_load(&img, &snap_io_posix, dir, id, d);
    int vrc = snap_pair_verify(&snap_io_posix, dir, id, &vd);

    assert_int_equal(rc, vrc);
    assert_int_equal(d->page, vd.page);
    if (rc == 0)
        snap_image_finish(&img);
    else
        assert_null(img.memory);
    return rc;
}

static void flip_byte(const char *dir, const char *name, size_t off)
{
    size_t len = 0;
    uint8_t *buf = tfix_read(dir, name, &len);

    assert_non_null(buf);
    assert_true(off < len);
    buf[off] ^= 0x40;
    assert_int_equal(tfix_write(dir, name, buf, len), 0);
    free(buf);
}

static void resize(const char *dir, const char *name, long delta)
{
    size_t len = 0;
    uint8_t *buf = tfix_read(dir, name, &len);
    uint8_t *grown = realloc(buf, len + 1);

    assert_non_null(grown);
    grown[len] = 0;
    assert_int_equal(tfix_write(dir, name, grown, (size_t)((long)len + delta)), 0);
    free(grown);
}

static void load__missing_pair_is_enoent(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;

    assert_int_equal(load_code(fx->dir, "nothing", &d), SNAP_ENOENT);
    assert_non_null(strstr(d.path, "nothing.snap"));
}

static void load__full_pair_loads_image_and_state(void **state)
{
    struct fixture *fx = *state;
    struct snap_save_report rep = save_full(fx, "vm1", fx->mem, 4096);
    struct snap_image img;

    assert_int_equal(snap_pair_load(&img, &snap_io_posix, fx->dir, "vm1", NULL), 0);
    assert_memory_equal(img.memory, fx->mem, MIB);
    assert_true(snap_state_equal(&img.state, &fx->vm.st));
    assert_memory_equal(img.hdr.snapshot_id, rep.snapshot_id, 16);
    assert_int_equal(img.hdr.kind, SNAP_KIND_FULL);
    assert_int_equal(img.state_len, img.hdr.state_len);
    assert_non_null(img.state_bytes);
    snap_image_finish(&img);
    snap_image_finish(NULL);
}

static void load__memory_file_of_another_snapshot_is_epair(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;
    size_t len = 0;
    uint8_t *other;

    save_full(fx, "vm1", fx->mem, 4096);
    save_full(fx, "vm2", fx->mem, 4096); /* same bytes, other snapshot_id */
    other = tfix_read(fx->dir, "vm2.g1.mem", &len);
    assert_int_equal(tfix_write(fx->dir, "vm1.g1.mem", other, len), 0);
    free(other);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "another snapshot"));
}

static void load__missing_memory_file_is_epair(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;
    char path[4200];

    save_full(fx, "vm1", fx->mem, 4096);
    snprintf(path, sizeof(path), "%s/vm1.g1.mem", fx->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EPAIR);
    assert_int_equal(d.sys_errno, ENOENT);
}

static void load__short_memory_file_is_epair(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;

    save_full(fx, "vm1", fx->mem, 4096);
    resize(fx->dir, "vm1.g1.mem", -1);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "short"));
}

static void load__long_memory_file_is_epair(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;

    save_full(fx, "vm1", fx->mem, 4096);
    resize(fx->dir, "vm1.g1.mem", 1);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "long"));
}

static void load__damaged_memory_trailer_is_epair(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;

    save_full(fx, "vm1", fx->mem, 4096);
    flip_byte(fx->dir, "vm1.g1.mem", MIB + 30); /* trailer generation: its CRC breaks */
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "trailer"));
}

static void load__flipped_byte_in_page_k_is_epage(void **state)
{
    struct fixture *fx = *state;
    const uint64_t pages[] = {0, 5, 63};

    for (unsigned i = 0; i < 3; i++) {
        struct snap_diag d;

        save_full(fx, "vm1", fx->mem, 16384);
        flip_byte(fx->dir, "vm1.g1.mem", (size_t)(pages[i] * 16384 + 100 + i));
        assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EPAGE);
        assert_int_equal(d.page, pages[i]);
        tfix_rmdir(fx->dir);
        fx->dir = tfix_mkdir();
    }
}

static void load__flipped_byte_in_diff_page_reports_guest_index(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {0};
    struct snap_diag d;

    save_full(fx, "base", fx->mem, 4096);
    snap_bitmap_set(dirty, 10);
    snap_bitmap_set(dirty, 200);
    save_diff(fx, "d1", "base", fx->mem, dirty);
    flip_byte(fx->dir, "d1.g1.mem", 4096 + 7); /* stored page 1 = guest page 200 */
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAGE);
    assert_int_equal(d.page, 200);
    /* The diff's own damage is reported before a missing base (6.1 order). */
    char path[4200];
    snprintf(path, sizeof(path), "%s/base.snap", fx->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAGE);
}

static void load__diff_chain_applies_each_layer(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty1[32] = {0};
    uint8_t dirty2[32] = {0};
    uint8_t *m1 = malloc(MIB);
    uint8_t *m2 = malloc(MIB);
    uint8_t *other = tfix_memory(MIB, 7);
    struct snap_image img;

    memcpy(m1, fx->mem, MIB);
    save_full(fx, "base", fx->mem, 4096);
    snap_bitmap_set(dirty1, 1);
    snap_bitmap_set(dirty1, 2);
    memcpy(m1 + 4096, other + 4096, 2 * 4096);
    save_diff(fx, "d1", "base", m1, dirty1);
    memcpy(m2, m1, MIB);
    snap_bitmap_set(dirty2, 2);
    snap_bitmap_set(dirty2, 3);
    memset(m2 + 2 * 4096, 0xab, 2 * 4096);
    save_diff(fx, "d2", "d1", m2, dirty2);
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, fx->dir, "d2", NULL), 0);
    assert_memory_equal(img.memory, m2, MIB);
    assert_int_equal(img.hdr.kind, SNAP_KIND_DIFF);
    snap_image_finish(&img);
    assert_int_equal(snap_pair_verify(&snap_io_posix, fx->dir, "d2", NULL), 0);
    free(m1);
    free(m2);
    free(other);
}

static void load__replaced_or_missing_base_is_epair(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {1};
    struct snap_diag d;
    char path[4200];

    save_full(fx, "base", fx->mem, 4096);
    save_diff(fx, "d1", "base", fx->mem, dirty);
    save_full(fx, "base", fx->mem, 4096); /* new snapshot_id and generation */
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "base mismatch"));
    snprintf(path, sizeof(path), "%s/base.snap", fx->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "missing"));
}

static void load__damaged_base_reports_its_own_error(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {1};
    struct snap_diag d;

    save_full(fx, "base", fx->mem, 4096);
    save_diff(fx, "d1", "base", fx->mem, dirty);
    flip_byte(fx->dir, "base.g1.mem", 3 * 4096);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAGE);
    assert_int_equal(d.page, 3);
    assert_non_null(strstr(d.path, "base.g1.mem"));
    flip_byte(fx->dir, "base.snap", 300);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_ECRC);
    assert_non_null(strstr(d.path, "base.snap"));
}

static void reencode(const char *dir, const char *id, const struct snap_header *hdr,
                     const uint8_t *st, const uint8_t *bitmap, const uint64_t *crcs);

static void load__chain_deeper_than_limit_is_elimit(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {2};
    struct snap_diag d;
    char id[16];
    char base[16] = "d0";

    struct snap_envelope env, env8;
    size_t len = 0, len8 = 0;
    uint8_t *raw, *raw8;
    uint64_t crc;

    save_full(fx, "d0", fx->mem, 4096);
    for (unsigned i = 1; i <= SNAP_MAX_CHAIN; i++) {
        snprintf(id, sizeof(id), "d%u", i);
        save_diff(fx, id, base, fx->mem, dirty);
        memcpy(base, id, sizeof(base));
    }
    assert_int_equal(load_code(fx->dir, "d8", &d), 0); /* 8 diffs deep: allowed */
    /* Save refuses a 9th diff, so forge one: d9 saved on d0, then rebound to d8. */
    save_diff(fx, "d9", "d0", fx->mem, dirty);
    raw = tfix_read(fx->dir, "d9.snap", &len);
    raw8 = tfix_read(fx->dir, "d8.snap", &len8);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    assert_int_equal(snap_envelope_decode(&env8, raw8, len8, NULL), 0);
    memcpy(env.hdr.base_name, "d8", 3);
    memcpy(env.hdr.base_id, env8.hdr.snapshot_id, 16);
    env.hdr.base_generation = env8.hdr.generation;
    crc = snap_get_le64(env.page_crcs);
    reencode(fx->dir, "d9", &env.hdr, env.state, env.bitmap, &crc);
    assert_int_equal(load_code(fx->dir, "d9", &d), SNAP_ELIMIT);
    free(raw);
    free(raw8);
}

/* Rebind diff <id> to the pair <base> (its name, snapshot_id and generation), CRC kept valid. */
static void rebind(const char *dir, const char *id, const char *base)
{
    char name[64];
    struct snap_envelope env, benv;
    size_t len = 0, blen = 0;
    uint8_t *raw, *braw;
    uint64_t *crcs;

    snprintf(name, sizeof(name), "%s.snap", id);
    raw = tfix_read(dir, name, &len);
    snprintf(name, sizeof(name), "%s.snap", base);
    braw = tfix_read(dir, name, &blen);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    assert_int_equal(snap_envelope_decode(&benv, braw, blen, NULL), 0);
    memset(env.hdr.base_name, 0, sizeof(env.hdr.base_name));
    memcpy(env.hdr.base_name, base, strlen(base));
    memcpy(env.hdr.base_id, benv.hdr.snapshot_id, 16);
    env.hdr.base_generation = benv.hdr.generation;
    crcs = malloc(8 * (env.hdr.mem_pages + 1));
    for (uint64_t i = 0; i < env.hdr.mem_pages; i++)
        crcs[i] = snap_get_le64(env.page_crcs + 8 * i);
    reencode(dir, id, &env.hdr, env.state, env.bitmap, crcs);
    free(crcs);
    free(raw);
    free(braw);
}

/* A diff whose base is itself, or a pair below it, is refused at once as a loop (it was walked
 * SNAP_MAX_CHAIN + 1 times, every level holding its buffers, until the depth limit). */
static void load__loop_in_the_diff_chain_is_epair(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {3};
    struct snap_diag d;

    save_full(fx, "full", fx->mem, 4096);
    save_diff(fx, "a", "full", fx->mem, dirty);
    rebind(fx->dir, "a", "a");
    assert_int_equal(load_code(fx->dir, "a", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "loop in the diff chain at"));
    assert_non_null(strstr(d.path, "a.snap"));
    save_diff(fx, "b", "full", fx->mem, dirty);
    save_diff(fx, "a", "b", fx->mem, dirty);
    rebind(fx->dir, "b", "a");
    assert_int_equal(load_code(fx->dir, "a", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "loop in the diff chain at"));
    assert_non_null(strstr(d.path, "b.snap"));
    assert_int_equal(load_code(fx->dir, "b", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "loop in the diff chain at"));
    assert_non_null(strstr(d.path, "a.snap"));
}

/* A FIFO (or any file that is not regular) named like a file of the pair is refused at once;
 * it used to block load and verify forever in open(). The alarm turns a hang into a failure. */
static void load__fifo_named_like_a_pair_file_is_refused(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;
    char path[4200];

    alarm(20);
    save_full(fx, "vm1", fx->mem, 4096);
    snprintf(path, sizeof(path), "%s/vm1.g1.mem", fx->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EIO);
    assert_non_null(strstr(d.msg, "not a regular file"));
    assert_non_null(strstr(d.path, "vm1.g1.mem"));
    snprintf(path, sizeof(path), "%s/vm2.snap", fx->dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(load_code(fx->dir, "vm2", &d), SNAP_EIO);
    assert_non_null(strstr(d.msg, "not a regular file"));
    snprintf(path, sizeof(path), "%s/vm3.snap", fx->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(load_code(fx->dir, "vm3", &d), SNAP_EIO);
    assert_non_null(strstr(d.msg, "a directory"));
    alarm(0);
}

/* Symbolic links in the snapshot directory are not followed (FORMAT.md 6.2): a state file or a
 * memory file that is a link to a valid file elsewhere is refused. */
static void load__symlinks_in_the_directory_are_refused(void **state)
{
    struct fixture *fx = *state;
    char *other = tfix_mkdir();
    struct snap_diag d;
    char from[4200], to[4200];

    save_full(fx, "vm1", fx->mem, 4096);
    assert_int_equal(load_code(fx->dir, "vm1", &d), 0);
    /* The memory file moved out, a link left in its place. */
    snprintf(from, sizeof(from), "%s/vm1.g1.mem", fx->dir);
    snprintf(to, sizeof(to), "%s/vm1.g1.mem", other);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(symlink(to, from), 0);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EIO);
    assert_int_equal(d.sys_errno, ELOOP);
    assert_non_null(strstr(d.msg, "symbolic link"));
    assert_int_equal(unlink(from), 0);
    assert_int_equal(rename(to, from), 0);
    /* The state file moved out, a link left in its place. */
    snprintf(from, sizeof(from), "%s/vm1.snap", fx->dir);
    snprintf(to, sizeof(to), "%s/vm1.snap", other);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(symlink(to, from), 0);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EIO);
    assert_non_null(strstr(d.msg, "symbolic link"));
    assert_non_null(strstr(d.path, "vm1.snap"));
    tfix_rmdir(other);
}

/* Rewrite <id>.snap from a decoded copy with hdr and state changed by the caller. */
static void reencode(const char *dir, const char *id, const struct snap_header *hdr,
                     const uint8_t *st, const uint8_t *bitmap, const uint64_t *crcs)
{
    char name[64];
    uint64_t len = snap_envelope_len(hdr);
    uint8_t *buf = malloc((size_t)len);
    size_t out_len = 0;

    assert_int_equal(snap_envelope_encode(buf, (size_t)len, &out_len, hdr, st, bitmap, crcs), 0);
    snprintf(name, sizeof(name), "%s.snap", id);
    assert_int_equal(tfix_write(dir, name, buf, out_len), 0);
    free(buf);
}

/* FORMAT.md 6.1 step 5: the binding of a base is checked right after its step 1, before its
 * step 2: a base that is another pair and whose mem_name names another <id> is "base mismatch". */
/* An I/O table that changes a file under the loader: before the nth read of more than 64 bytes
 * (a page read, not a trailer) of the file named target, one byte of that file is flipped. */
struct mutating_io {
    struct snap_io io;
    const char *target; /* basename */
    unsigned nth;
    unsigned reads;
    int fd;
    char path[4200];
};

static int mut_open(void *ctx, const char *path, int flags, unsigned mode)
{
    struct mutating_io *m = ctx;
    const char *base = strrchr(path, '/');
    int fd = snap_io_posix.open(snap_io_posix.ctx, path, flags, mode);

    if (fd >= 0 && strcmp(base != NULL ? base + 1 : path, m->target) == 0) {
        m->fd = fd;
        snprintf(m->path, sizeof(m->path), "%s", path);
    }
    return fd;
}

static ssize_t mut_pread(void *ctx, int fd, void *dst, size_t len, uint64_t off)
{
    struct mutating_io *m = ctx;

    if (fd == m->fd && len > 64 && ++m->reads == m->nth) {
        int wfd = open(m->path, O_RDWR);
        uint8_t b = 0;

        assert_true(wfd >= 0);
        assert_int_equal(pread(wfd, &b, 1, (off_t)off), 1);
        b ^= 0x10;
        assert_int_equal(pwrite(wfd, &b, 1, (off_t)off), 1);
        close(wfd);
    }
    return snap_io_posix.pread(snap_io_posix.ctx, fd, dst, len, off);
}

/* The pages of a diff are checked when the walk goes down and again when they are applied on
 * the way back up: a memory file changed in between is SNAP_EPAGE, never a wrong image. */
static void load__diff_page_changed_between_passes_is_epage(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {0};
    struct mutating_io m;
    struct snap_image img;
    struct snap_diag d;

    save_full(fx, "base", fx->mem, 4096);
    snap_bitmap_set(dirty, 7);
    save_diff(fx, "d1", "base", fx->mem, dirty);
    memset(&m, 0, sizeof(m));
    m.io = snap_io_posix;
    m.io.ctx = &m;
    m.io.open = mut_open;
    m.io.pread = mut_pread;
    m.target = "d1.g1.mem";
    m.fd = -1;
    m.nth = 2; /* the first read checks the page, the second applies it */
    assert_int_equal(snap_pair_load(&img, &m.io, fx->dir, "d1", &d), SNAP_EPAGE);
    assert_int_equal(d.page, 7);
    assert_null(img.memory);
    assert_int_equal(m.reads, 2);
}

/* A small state file whose (compatible) state and header declare 64 GiB of RAM, and no memory
 * file: SNAP_EPAIR from step 3, before anything is sized from the header (an image allocated
 * first made the error depend on the machine, SNAP_ENOMEM or an out-of-memory abort). Since the
 * state is decoded in step 1, only a compatible state reaches step 3. */
static void load__huge_ram_size_without_memory_file_is_epair(void **state)
{
    struct fixture *fx = *state;
    const uint64_t ram = (uint64_t)64 << 30;
    const uint64_t pages = ram / 65536;
    struct snap_envelope env;
    struct snap_header h;
    struct snap_diag d;
    uint64_t *crcs = calloc(pages, sizeof(uint64_t));
    uint8_t *st = NULL;
    size_t st_len = 0, len = 0;
    uint8_t *raw;
    char path[4200];

    save_full(fx, "vm1", fx->mem, 65536);
    raw = tfix_read(fx->dir, "vm1.snap", &len);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    fx->vm.st.info.mem_size_mib = (uint32_t)(ram >> 20);
    assert_int_equal(snap_state_encode_alloc(&st, &st_len, &fx->vm.st), 0);
    assert_int_equal(st_len, env.hdr.state_len);
    h = env.hdr;
    h.ram_size = ram;
    h.mem_pages = pages;
    h.mem_file_len = pages * 65536 + 64;
    h.payload_len = h.state_len + 8 * pages;
    reencode(fx->dir, "vm1", &h, st, NULL, crcs);
    snprintf(path, sizeof(path), "%s/vm1.g1.mem", fx->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "missing"));
    free(st);
    free(raw);
    free(crcs);
}

static void load__base_mismatch_comes_before_the_base_mem_name(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {1};
    struct snap_diag d;
    size_t len = 0;
    uint8_t *raw;

    save_full(fx, "base", fx->mem, 4096);
    save_diff(fx, "d1", "base", fx->mem, dirty);
    save_full(fx, "other", fx->mem, 4096);
    raw = tfix_read(fx->dir, "other.snap", &len);
    assert_int_equal(tfix_write(fx->dir, "base.snap", raw, len), 0);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "base mismatch"));
    assert_non_null(strstr(d.path, "base.snap"));
    free(raw);
}

static void load__base_with_other_geometry_is_epair(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {1};
    struct snap_envelope env;
    struct snap_header h;
    struct snap_diag d;
    size_t len = 0;
    uint8_t *raw;
    uint64_t *crcs = calloc(512, sizeof(uint64_t));

    uint8_t *st = NULL;
    size_t st_len = 0;

    save_full(fx, "base", fx->mem, 4096);
    save_diff(fx, "d1", "base", fx->mem, dirty);
    /* Same snapshot_id and generation, but 2 MiB of RAM (and a state that says so, so that the
     * base's own step 1 passes and the binding is what fails). */
    raw = tfix_read(fx->dir, "base.snap", &len);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    fx->vm.st.info.mem_size_mib = 2;
    assert_int_equal(snap_state_encode_alloc(&st, &st_len, &fx->vm.st), 0);
    assert_int_equal(st_len, env.hdr.state_len);
    h = env.hdr;
    h.ram_size = 2 * MIB;
    h.mem_pages = 512;
    h.mem_file_len = 512 * 4096 + 64;
    h.payload_len = h.state_len + 8 * 512;
    reencode(fx->dir, "base", &h, st, NULL, crcs);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "ram_size"));
    free(st);
    free(raw);
    free(crcs);
}

static void load__incompatible_state_is_eincompat(void **state)
{
    struct fixture *fx = *state;
    struct snap_envelope env;
    struct snap_diag d;
    uint8_t *st = NULL;
    size_t st_len = 0;
    size_t len = 0;
    uint8_t *raw;
    uint64_t *crcs = malloc(256 * sizeof(uint64_t));

    save_full(fx, "vm1", fx->mem, 4096);
    raw = tfix_read(fx->dir, "vm1.snap", &len);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    for (unsigned i = 0; i < 256; i++)
        crcs[i] = snap_get_le64(env.page_crcs + 8 * i);
    fx->vm.st.info.smt = true;
    assert_int_equal(snap_state_encode_alloc(&st, &st_len, &fx->vm.st), 0);
    assert_int_equal(st_len, env.hdr.state_len);
    reencode(fx->dir, "vm1", &env.hdr, st, NULL, crcs);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EINCOMPAT);
    assert_non_null(strstr(d.path, "vm1.snap"));
    /* And a state that does not decode at all. */
    memset(st, 0xff, st_len);
    reencode(fx->dir, "vm1", &env.hdr, st, NULL, crcs);
    assert_true(load_code(fx->dir, "vm1", &d) < 0);
    assert_int_not_equal(d.code, SNAP_EINCOMPAT);
    free(st);
    free(raw);
    free(crcs);
}

static void load__state_file_of_other_id_is_ecorrupt(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;
    size_t len = 0;
    uint8_t *raw;

    save_full(fx, "vm1", fx->mem, 4096);
    raw = tfix_read(fx->dir, "vm1.snap", &len);
    assert_int_equal(tfix_write(fx->dir, "vm2.snap", raw, len), 0);
    assert_int_equal(load_code(fx->dir, "vm2", &d), SNAP_ECORRUPT);
    assert_non_null(strstr(d.msg, "mem_name"));
    /* A prefix of the id is not the id. */
    assert_int_equal(tfix_write(fx->dir, "vm.snap", raw, len), 0);
    assert_int_equal(load_code(fx->dir, "vm", &d), SNAP_ECORRUPT);
    free(raw);
}

static void load__damaged_state_file_follows_decode_order(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;

    save_full(fx, "vm1", fx->mem, 4096);
    resize(fx->dir, "vm1.snap", -1);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_ETRUNC);
    assert_non_null(strstr(d.path, "vm1.snap"));
    assert_int_equal(tfix_write(fx->dir, "vm1.snap", "", 0), 0);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_ETRUNC);
    assert_int_equal(tfix_write(fx->dir, "vm1.snap", "hello", 5), 0);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EMAGIC);
}

/* A state file longer than any valid one is judged from its header, as 3.2 orders. */
static void load__oversized_state_file_is_judged_by_header(void **state)
{
    struct fixture *fx = *state;
    struct snap_diag d;
    char path[4200];
    size_t len = 0;
    uint8_t *raw;
    int fd;

    save_full(fx, "vm1", fx->mem, 4096);
    raw = tfix_read(fx->dir, "vm1.snap", &len);
    snprintf(path, sizeof(path), "%s/vm1.snap", fx->dir);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(SNAP_HEADER_LEN + SNAP_MAX_PAYLOAD + 9)), 0);
    close(fd);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_ECORRUPT);
    assert_non_null(strstr(d.msg, "trailing"));
    /* Same size, magic broken: the magic is reported. */
    fd = open(path, O_WRONLY);
    assert_int_equal(pwrite(fd, "XX", 2, 0), 2);
    close(fd);
    assert_int_equal(load_code(fx->dir, "vm1", &d), SNAP_EMAGIC);
    free(raw);
}

static void load__io_failures_are_eio(void **state)
{
    struct fixture *fx = *state;
    const enum fio_call kinds[] = {FIO_OPEN, FIO_PREAD, FIO_FSIZE, FIO_OPEN, FIO_FSIZE,
                                   FIO_PREAD, FIO_PREAD};
    const unsigned nth[] = {1, 1, 1, 2, 2, 2, 3};
    const char *ops[] = {"open", "pread", "fstat", "open", "fstat", "pread", "pread"};

    save_full(fx, "vm1", fx->mem, 4096);
    for (unsigned i = 0; i < 7; i++) {
        for (int verify = 0; verify < 2; verify++) {
            struct snap_image img;
            struct snap_diag d;
            struct faultio f;
            int rc;

            faultio_init(&f, NULL, fx->dir);
            f.fail_kind = kinds[i];
            f.fail_nth = nth[i];
            f.fail_errno = EIO;
            rc = verify ? snap_pair_verify(&f.io, fx->dir, "vm1", &d)
                        : snap_pair_load(&img, &f.io, fx->dir, "vm1", &d);
            assert_int_equal(rc, SNAP_EIO);
            assert_int_equal(f.faults, 1);
            assert_string_equal(d.op, ops[i]);
            assert_int_equal(d.sys_errno, EIO);
            assert_int_equal(f.count[FIO_OPEN], f.count[FIO_CLOSE] + (kinds[i] == FIO_OPEN));
        }
    }
}

static void load__rejects_bad_arguments(void **state)
{
    struct fixture *fx = *state;
    struct snap_image img;
    struct snap_diag d;

    assert_int_equal(snap_pair_load(NULL, &snap_io_posix, fx->dir, "vm1", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_load(&img, NULL, fx->dir, "vm1", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, NULL, "vm1", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, fx->dir, "a/b", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_verify(&snap_io_posix, fx->dir, NULL, &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_verify(NULL, fx->dir, "vm1", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_verify(&snap_io_posix, NULL, "vm1", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_verify(&snap_io_posix, fx->dir, "a.b", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, fx->dir, NULL, &d), SNAP_EINVAL);
}

static void load__ignores_stale_and_foreign_files(void **state)
{
    struct fixture *fx = *state;
    struct snap_image img;
    size_t len = 0;
    uint8_t *raw;

    save_full(fx, "vm1", fx->mem, 4096);
    /* A crashed save's leftovers: a newer memory file and a temporary state file. */
    raw = tfix_read(fx->dir, "vm1.snap", &len);
    assert_int_equal(tfix_write(fx->dir, "vm1.g2.snap.tmp", raw, len), 0);
    assert_int_equal(tfix_write(fx->dir, "vm1.g2.mem", "garbage", 7), 0);
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, fx->dir, "vm1", NULL), 0);
    assert_int_equal(img.hdr.generation, 1);
    assert_memory_equal(img.memory, fx->mem, MIB);
    snap_image_finish(&img);
    free(raw);
}


/* A trailer with a valid CRC but one field that differs from the state file. */
static void load__each_trailer_field_must_match(void **state)
{
    struct fixture *fx = *state;
    struct snap_envelope env;
    size_t len = 0;
    uint8_t *raw;

    save_full(fx, "vm1", fx->mem, 4096);
    raw = tfix_read(fx->dir, "vm1.snap", &len);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    for (unsigned field = 0; field < 5; field++) {
        struct snap_mem_trailer t;
        struct snap_diag d;
        uint8_t tr[SNAP_MEM_TRAILER_LEN];
        char path[4200];
        int fd;

        memcpy(t.snapshot_id, env.hdr.snapshot_id, 16);
        t.generation = env.hdr.generation + (field == 1);
        t.mem_pages = env.hdr.mem_pages + (field == 2);
        t.page_size = field == 3 ? 16384 : env.hdr.page_size;
        t.kind = field == 4 ? SNAP_KIND_DIFF : env.hdr.kind;
        snap_mem_trailer_encode(tr, &t);
        snprintf(path, sizeof(path), "%s/vm1.g1.mem", fx->dir);
        fd = open(path, O_WRONLY);
        assert_int_equal(pwrite(fd, tr, sizeof(tr), MIB), (ssize_t)sizeof(tr));
        close(fd);
        assert_int_equal(load_code(fx->dir, "vm1", &d), field == 0 ? 0 : SNAP_EPAIR);
    }
    free(raw);
}

static void load__base_with_other_generation_or_page_size_is_epair(void **state)
{
    struct fixture *fx = *state;
    uint8_t dirty[32] = {1};
    struct snap_envelope env;
    struct snap_header h;
    struct snap_diag d;
    size_t len = 0;
    uint8_t *raw;
    uint64_t *crcs = calloc(256, sizeof(uint64_t));

    save_full(fx, "base", fx->mem, 4096);
    save_diff(fx, "d1", "base", fx->mem, dirty);
    raw = tfix_read(fx->dir, "base.snap", &len);
    assert_int_equal(snap_envelope_decode(&env, raw, len, NULL), 0);
    h = env.hdr;
    h.generation = 2;
    snprintf(h.mem_name, sizeof(h.mem_name), "base.g2.mem");
    reencode(fx->dir, "base", &h, env.state, NULL, crcs);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "not the pair"));
    h = env.hdr;
    h.page_size = 16384;
    h.mem_pages = 64;
    h.mem_file_len = 64 * 16384 + 64;
    h.payload_len = h.state_len + 8 * 64;
    reencode(fx->dir, "base", &h, env.state, NULL, crcs);
    assert_int_equal(load_code(fx->dir, "d1", &d), SNAP_EPAIR);
    assert_non_null(strstr(d.msg, "page_size"));
    free(raw);
    free(crcs);
}

/* snap_image_alloc: an image of a huge page or more starts on a huge page boundary (so that the
 * whole of it can be huge pages), a smaller one is plain memory; both are usable to the last
 * byte and freed with free. */
static void image_alloc__large_images_are_huge_page_aligned(void **state)
{
    (void)state;
    const size_t huge = (size_t)2 << 20;
    const size_t lens[] = {0, 1, 4096, huge - 1, huge, huge + 1, 3 * huge + 4096};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *p = snap_image_alloc(lens[i]);
        assert_non_null(p);
        if (lens[i] >= huge)
            assert_int_equal((uintptr_t)p % huge, 0);
        if (lens[i] > 0) {
            memset(p, 0xa5, lens[i]);
            assert_int_equal(p[lens[i] - 1], 0xa5);
        }
        free(p);
    }
}

static void load__rejects_paths_that_do_not_fit(void **state)
{
    struct fixture *fx = *state;
    struct snap_image img;
    struct snap_diag d;
    char *long_dir = malloc(4100);

    (void)fx;
    memset(long_dir, 'd', 4099);
    long_dir[0] = '/';
    long_dir[4099] = '\0';
    assert_int_equal(snap_pair_load(&img, &snap_io_posix, long_dir, "vm1", &d), SNAP_EINVAL);
    assert_int_equal(snap_pair_verify(&snap_io_posix, long_dir, "vm1", &d), SNAP_EINVAL);
    free(long_dir);
}

static void load__oversized_state_file_read_failure_is_eio(void **state)
{
    struct fixture *fx = *state;
    const enum fio_call kinds[] = {FIO_OPEN, FIO_PREAD};
    char path[4200];
    int fd;

    save_full(fx, "vm1", fx->mem, 4096);
    snprintf(path, sizeof(path), "%s/vm1.snap", fx->dir);
    fd = open(path, O_WRONLY);
    assert_int_equal(ftruncate(fd, (off_t)(SNAP_HEADER_LEN + SNAP_MAX_PAYLOAD + 9)), 0);
    close(fd);
    for (unsigned i = 0; i < 2; i++) {
        struct snap_diag d;
        struct faultio f;

        faultio_init(&f, NULL, fx->dir);
        f.fail_kind = kinds[i];
        f.fail_nth = i == 0 ? 2 : 1; /* the second open, the first read */
        f.fail_errno = EIO;
        assert_int_equal(snap_pair_verify(&f.io, fx->dir, "vm1", &d), SNAP_EIO);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(load__missing_pair_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(load__full_pair_loads_image_and_state, setup, teardown),
        cmocka_unit_test_setup_teardown(load__memory_file_of_another_snapshot_is_epair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__missing_memory_file_is_epair, setup, teardown),
        cmocka_unit_test_setup_teardown(load__short_memory_file_is_epair, setup, teardown),
        cmocka_unit_test_setup_teardown(load__long_memory_file_is_epair, setup, teardown),
        cmocka_unit_test_setup_teardown(load__damaged_memory_trailer_is_epair, setup, teardown),
        cmocka_unit_test_setup_teardown(load__flipped_byte_in_page_k_is_epage, setup, teardown),
        cmocka_unit_test_setup_teardown(load__flipped_byte_in_diff_page_reports_guest_index,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(load__diff_chain_applies_each_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(load__replaced_or_missing_base_is_epair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__damaged_base_reports_its_own_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__chain_deeper_than_limit_is_elimit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__loop_in_the_diff_chain_is_epair, setup, teardown),
        cmocka_unit_test_setup_teardown(load__fifo_named_like_a_pair_file_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__symlinks_in_the_directory_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__diff_page_changed_between_passes_is_epage, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__huge_ram_size_without_memory_file_is_epair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__base_mismatch_comes_before_the_base_mem_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__base_with_other_geometry_is_epair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__incompatible_state_is_eincompat, setup, teardown),
        cmocka_unit_test_setup_teardown(load__state_file_of_other_id_is_ecorrupt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__damaged_state_file_follows_decode_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__oversized_state_file_is_judged_by_header, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(load__io_failures_are_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(load__rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(load__ignores_stale_and_foreign_files, setup, teardown),
        cmocka_unit_test_setup_teardown(load__each_trailer_field_must_match, setup, teardown),
        cmocka_unit_test_setup_teardown(load__base_with_other_generation_or_page_size_is_epair,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(load__rejects_paths_that_do_not_fit, setup, teardown),
        cmocka_unit_test(image_alloc__large_images_are_huge_page_aligned),
        cmocka_unit_test_setup_teardown(load__oversized_state_file_read_failure_is_eio, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
