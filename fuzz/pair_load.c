/* Fuzz target pair_load: one input is split into the files of a snapshot directory (a state
 * file, a memory file and optionally a base chain) held in memory (memio.c), then loaded by the
 * real snap_pair_load. Property: every input ends in a documented error with a diagnostic and
 * a zeroed image, or in an image that matches the committed state file: same header and state
 * bytes, every stored page has the CRC of the page map; snap_pair_verify reaches the same
 * verdict; when steps 1-4 of FORMAT.md 6.1 fail for the top pair, the error is the one they
 * prescribe (spec_top_error, an independent reading). When the input makes an I/O call fail,
 * the error is SNAP_EIO naming that call with its errno, never a loaded pair; EINTR, a short
 * read and a failed close of a read-only file change nothing. No descriptor or heap leak, no UB.
 *
 * Input format (all integers little-endian):
 *   u8 flags         bit 0: repair the checksums of every state file (trailer and page map)
 *                    and memory trailer (fuzzing builds only, fuzz-common.h), so mutations
 *                    reach the later checks; bit 1: pad memory files (see below); bit 2: an
 *                    I/O fault follows
 *   [u8 fault[4]]    with bit 2: call (% 4: open, pread, fstat, close), which one of them
 *                    (& 31, from 0), how (bits 0-1: fail with an errno, short read, EINTR,
 *                    end of file; bits 2-7: which errno of that call), short read fraction
 *                    (memio.h, memio_fault_arm)
 *   then sections    u32 length + that many bytes; 0xFFFFFFFF: the file is absent; a length
 *                    past the end takes the rest of the input; the input may end at any point
 *   sections 2k, 2k+1 are the state and memory files of chain level k (k < MEMIO_MAX_LEVELS).
 * Level 0 is stored as "vm.snap". Level k+1's id is the base_name field of level k's state file
 * when it is a valid id, else "base<k+1>". A memory file is stored under the mem_name field of
 * its state file when that is a plausible name, else "<id>.g1.mem". The first file added under
 * a name wins, so cycles (a base naming itself) are expressible. With flags bit 1 a memory
 * section is its leading page bytes plus the 64-byte trailer, zero-filled to the mem_file_len of
 * its state file: a loadable 1 MiB pair fits in a seed of a few kilobytes. */
#include <errno.h>

#include "fuzz-decode.h"
#include "memio.h"

/* Loading allocates ram_size bytes by design (the image); inputs declaring more are skipped so
 * that an exec stays fast and within the fuzzer's memory limit. */
#define FUZZ_MAX_RAM (16u << 20)

/* FUZZ_MAX_RAM, or the environment's FUZZ_MAX_RAM (bytes; 0 lifts the cap) to replay an input
 * that the cap would skip. Read once. */
static uint64_t max_ram(void)
{
    static uint64_t cap;
    static bool init;
    if (!init) {
        const char *env = getenv("FUZZ_MAX_RAM");
        cap = env ? strtoull(env, NULL, 0) : FUZZ_MAX_RAM;
        if (cap == 0)
            cap = UINT64_MAX - SNAP_MEM_TRAILER_LEN;
        init = true;
    }
    return cap;
}

/* The loaded image agrees with the committed state file src (level 0) and its memory file.
 * Called only when spec_top_error found steps 1-4 passed: every stored page of the memory file
 * has the CRC of the page map, so each stored page of the image is compared with the bytes of
 * the memory file (equal bytes, hence the map's CRC) instead of checksumming the image again. */
static void check_image(const struct snap_image *img, const struct memio *m, const uint8_t *src,
                        size_t src_len)
{
    struct snap_envelope env;
    FUZZ_ASSERT(snap_envelope_decode(&env, src, src_len, NULL) == 0);
    const struct snap_header *h = &env.hdr;
    FUZZ_ASSERT(fuzz_header_equal(&img->hdr, h));

    char want[SNAP_NAME_FIELD_LEN];
    snprintf(want, sizeof want, "vm.g%llu.mem", (unsigned long long)h->generation);
    FUZZ_ASSERT(strcmp(h->mem_name, want) == 0); /* 6.1 step 2 */

    FUZZ_ASSERT(img->state_len == h->state_len);
    FUZZ_ASSERT(img->state_len == 0 || memcmp(img->state_bytes, env.state, img->state_len) == 0);
    FUZZ_ASSERT(snap_state_verify_compatible(&img->state, h->ram_size, NULL) == 0);
    fuzz_check_state(&img->state);
    uint8_t *again; /* the decoded state is the stored one */
    size_t again_len;
    FUZZ_ASSERT(snap_state_encode_alloc(&again, &again_len, &img->state) == 0);
    FUZZ_ASSERT(again_len == img->state_len &&
                (again_len == 0 || memcmp(again, img->state_bytes, again_len) == 0));
    free(again);

    FUZZ_ASSERT(img->memory != NULL);
    const struct memio_file *f = memio_find(m, h->mem_name);
    FUZZ_ASSERT(f != NULL && memio_file_len(f) == h->mem_file_len);
    uint64_t pages = h->ram_size / h->page_size, k = 0;
    for (uint64_t i = 0; i < pages; i++) {
        if (h->kind == SNAP_KIND_DIFF && !snap_bitmap_test(env.bitmap, i))
            continue;
        FUZZ_ASSERT(memio_file_equal(f, k * h->page_size, img->memory + i * h->page_size,
                                     h->page_size));
        k++;
    }
    FUZZ_ASSERT(k == h->mem_pages);

    /* the accepted memory trailer is the one the encoder writes for this header */
    struct snap_mem_trailer t = {{0}, h->generation, h->mem_pages, h->page_size, h->kind};
    memcpy(t.snapshot_id, h->snapshot_id, sizeof t.snapshot_id);
    uint8_t raw[SNAP_MEM_TRAILER_LEN];
    snap_mem_trailer_encode(raw, &t);
    FUZZ_ASSERT(memio_file_equal(f, h->mem_file_len - SNAP_MEM_TRAILER_LEN, raw, sizeof raw));
}

/* FORMAT.md 6.1 steps 1-4 for the top pair, read from the spec: the error snap_pair_load must
 * return if they fail, or 0 when they pass (step 1 includes the VM state; the base chain comes
 * after and is not modelled). top: vm.snap as stored, or NULL; oversized: vm.snap is longer than
 * any valid state file and top holds its first 256 bytes. The step 1 decode is the library's (the decode
 * targets check it); the rest is independent. *page: the guest page of a SNAP_EPAGE. */
/* Step 1 of 6.1 alone for the top state file (as spec_top_error's arguments): its error, or 0
 * with *env decoded. */
static int spec_step1_error(struct snap_envelope *env, const uint8_t *top, size_t top_len,
                            bool oversized)
{
    if (!top)
        return SNAP_ENOENT;
    int rc = snap_envelope_decode(env, top, top_len, NULL);
    if (oversized) /* top is its header: the first of steps 1-4 it fails, else trailing bytes */
        return rc == SNAP_ETRUNC ? SNAP_ECORRUPT : rc;
    if (rc != 0)
        return rc;
    struct snap_vm_state st; /* the VM state and its compatibility are part of step 1 */
    rc = snap_state_decode(&st, env->state, (size_t)env->hdr.state_len);
    if (rc != 0)
        return rc;
    rc = snap_state_verify_compatible(&st, env->hdr.ram_size, NULL);
    snap_state_finish(&st);
    return rc;
}

static int spec_top_error(const struct memio *m, const uint8_t *top, size_t top_len,
                          bool oversized, uint64_t *page)
{
    struct snap_envelope env;
    int rc = spec_step1_error(&env, top, top_len, oversized); /* 1 */
    if (rc != 0)
        return rc;
    const struct snap_header *h = &env.hdr;
    if (strncmp(h->mem_name, "vm.", 3) != 0) /* 2 */
        return SNAP_ECORRUPT;

    const struct memio_file *f = memio_find(m, h->mem_name); /* 3 */
    if (!f || memio_file_len(f) != h->mem_file_len)
        return SNAP_EPAIR;
    uint8_t t[SNAP_MEM_TRAILER_LEN];
    FUZZ_ASSERT(memio_file_read(f, t, sizeof t, h->mem_file_len - sizeof t) == sizeof t);
    if (memcmp(t, SNAP_MEM_MAGIC, 8) != 0 || snap_get_le64(t + 56) != snap_crc64(0, t, 56) ||
        memcmp(t + 8, h->snapshot_id, 16) != 0 || snap_get_le64(t + 24) != h->generation ||
        snap_get_le64(t + 32) != h->mem_pages || snap_get_le32(t + 40) != h->page_size ||
        snap_get_le32(t + 44) != h->kind || snap_get_le64(t + 48) != 0)
        return SNAP_EPAIR;

    uint64_t pages = h->ram_size / h->page_size, k = 0; /* 4 */
    for (uint64_t i = 0; i < pages && k < h->mem_pages; i++) {
        if (h->kind == SNAP_KIND_DIFF && !snap_bitmap_test(env.bitmap, i))
            continue;
        if (memio_file_crc(f, k * h->page_size, h->page_size) !=
            snap_get_le64(env.page_crcs + 8 * k)) {
            *page = i;
            return SNAP_EPAGE;
        }
        k++;
    }
    return 0;
}

/* Save's chain check (FORMAT.md 9 step 1) reads the base chain of a new diff as load does. A
 * diff of 1 MiB in 4 KiB pages is saved as "zz9new" over "vm" (no I/O fault: the in-memory
 * files are read-only, so a save that passes its checks fails writing with EROFS): if step 1
 * of 6.1 fails for vm.snap, the save is refused with that error; if vm loaded with this
 * geometry, the save gets past every check (but the depth limit) and fails only at the write. */
static void check_save_over_top(struct memio *m, const uint8_t *top, size_t top_len,
                                bool oversized, int load_rc, const struct snap_header *loaded)
{
    static uint8_t memory[1u << 20], dirty[32], regs[8];
    static char empty[] = "";
    struct snap_vcpu vcpu = {0, 0, regs, sizeof regs};
    struct snap_vm_state st = {
        .info = {1, false, true, empty, empty, NULL, empty}, .vcpus = &vcpu, .vcpu_count = 1};
    struct snap_save_req req = {"/fuzz", "zz9new", SNAP_KIND_DIFF, &st, memory, sizeof memory,
                                4096, dirty, "vm"};
    struct snap_diag diag;
    bool armed = m->fault.armed;
    m->fault.armed = false;
    int rc = snap_pair_save(NULL, &m->io, &req, &diag);
    m->fault.armed = armed;
    FUZZ_LOG("  save over vm: %s\n", rc ? snap_strerror(rc) : "saved");
    FUZZ_ASSERT(rc != 0); /* nothing can be written */
    fuzz_check_diag(&diag);
    FUZZ_ASSERT(memio_open_count(m) == 0);
    struct snap_envelope env;
    int step1 = spec_step1_error(&env, top, top_len, oversized);
    if (step1 != 0 && step1 != SNAP_ENOMEM)
        FUZZ_ASSERT(rc == step1);
    /* a vm that loads passes the chain check, unless it is a diff at the depth limit (the new
     * diff would be the 9th) */
    if (load_rc == 0 && loaded->page_size == 4096 && loaded->ram_size == sizeof memory)
        FUZZ_ASSERT((rc == SNAP_EIO && diag.sys_errno == EROFS) ||
                    (rc == SNAP_ELIMIT && loaded->kind == SNAP_KIND_DIFF));
}

/* The input's I/O fault, after a load or verify that ended in rc: true if it fired and must
 * decide the outcome, which is then checked here: SNAP_EIO naming the failed call with its
 * errno (an early end of file: SNAP_ETRUNC or SNAP_EIO naming pread), never a pair. False if
 * it did not fire or changes nothing (EINTR on open and pread is retried, a short read is
 * continued, a failed close of a file only read is of no consequence): then the outcome must
 * be the one without a fault, which the ordinary oracles check. */
static bool check_fault_outcome(const struct memio_fault *f, int rc, const struct snap_diag *diag)
{
    if (!f->fired || f->mode == MEMIO_SHORT || f->mode == MEMIO_EINTR || f->call == MEMIO_CLOSE)
        return false;
    FUZZ_LOG("  io fault: %s #%u %s\n", memio_call_op(f->call), f->nth,
             f->mode == MEMIO_EOF ? "ends early" : strerror(f->err));
    FUZZ_ASSERT(rc != 0);
    /* a file that is not regular (fsize's EISDIR, ESPIPE) is refused as part of the open */
    const char *op = f->call == MEMIO_FSIZE && (f->err == EISDIR || f->err == ESPIPE)
                         ? "open"
                         : memio_call_op(f->call);
    FUZZ_ASSERT(diag->op != NULL && strcmp(diag->op, op) == 0);
    if (f->mode == MEMIO_EOF) {
        FUZZ_ASSERT(rc == SNAP_ETRUNC || rc == SNAP_EIO);
    } else {
        FUZZ_ASSERT(rc == SNAP_EIO);
        FUZZ_ASSERT(diag->sys_errno == f->err);
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct memio m;
    if (!memio_parse_split(&m, data, size, max_ram())) {
        memio_release(&m);
        return 0;
    }
    const uint8_t *top = NULL; /* level 0 state file as stored */
    size_t top_len = 0;
    /* The top state file is whatever is stored as vm.snap: a level's memory file may have
     * taken that name first (its mem_name field said so). */
    const struct memio_file *vm = memio_find(&m, "vm.snap");
    bool top_oversized = false;
    if (vm && vm->zeros == 0 && vm->tail_len == 0) {
        top = vm->head;
        top_len = vm->head_len;
    } else if (vm) {
        /* past the longest valid state file only the header matters (6.1 step 1) */
        size_t len = memio_file_len(vm);
        top_oversized = len > SNAP_HEADER_LEN + SNAP_MAX_PAYLOAD + SNAP_TRAILER_LEN;
        if (top_oversized)
            len = SNAP_HEADER_LEN;
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy || !memio_keep(&m, copy))
            goto out;
        top_len = memio_file_read(vm, copy, len, 0);
        top = copy;
    }

    struct snap_image img;
    struct snap_diag diag;
    snap_diag_clear(&diag);
    int rc = snap_pair_load(&img, &m.io, "/fuzz", "vm", &diag);
    FUZZ_LOG("  pair_load: %s%s%s\n", rc ? snap_strerror(rc) : "loaded", rc ? ": " : "",
             rc ? diag.msg : "");
    FUZZ_ASSERT(memio_open_count(&m) == 0);
    bool io_failed = check_fault_outcome(&m.fault, rc, &diag);
    if (!io_failed) {
        /* memio fails only by the input's fault (handled above), with ENOENT (missing file)
         * and EROFS/EBADF (which a loader never earns), so SNAP_EIO is no outcome here. */
        FUZZ_ASSERT(rc == 0 || fuzz_is_envelope_err(rc) || rc == SNAP_ENOENT ||
                    rc == SNAP_EPAIR || rc == SNAP_EPAGE || rc == SNAP_EINCOMPAT ||
                    rc == SNAP_ENOMEM);
        /* Steps 1-4 of the top pair decide the error when they fail. Steps 1-3 need no memory
         * beyond the state file (the input), so SNAP_ENOMEM is no excuse before step 4. */
        uint64_t want_page = SNAP_NO_PAGE;
        int want = spec_top_error(&m, top, top_len, top_oversized, &want_page);
        if (want != 0 && (rc != SNAP_ENOMEM || want != SNAP_EPAGE)) {
            FUZZ_ASSERT(rc == want);
            if (want == SNAP_EPAGE)
                FUZZ_ASSERT(diag.page == want_page);
        }
    }
    if (rc == 0) {
        FUZZ_ASSERT(top != NULL && !io_failed);
#ifdef FUZZ_SELFTEST_BROKEN_LOADER
        img.memory[0] ^= 1; /* the self-test: a loader that gets a page wrong */
#endif
        check_image(&img, &m, top, top_len);
    } else {
        fuzz_check_diag(&diag);
        FUZZ_ASSERT(img.memory == NULL && img.state_bytes == NULL && img.state_len == 0);
        fuzz_check_state_zeroed(&img.state);
        if (rc == SNAP_EPAGE)
            FUZZ_ASSERT(diag.page != SNAP_NO_PAGE);
        if (rc == SNAP_ENOENT)
            FUZZ_ASSERT(top == NULL); /* only a missing vm.snap is "no snapshot" */
    }
    check_save_over_top(&m, top, top_len, top_oversized, rc, &img.hdr);
    snap_image_finish(&img);

    /* snap_pair_verify makes the same checks in constant memory: it must reach the same
     * verdict, and for SNAP_EPAGE name the same page. It meets the same fault, counted anew
     * (its calls may differ from load's, so with a fault each verdict is judged on its own). */
    struct snap_diag vdiag;
    snap_diag_clear(&vdiag);
    memio_fault_rearm(&m);
    int vrc = snap_pair_verify(&m.io, "/fuzz", "vm", &vdiag);
    FUZZ_LOG("  pair_verify: %s\n", vrc ? snap_strerror(vrc) : "ok");
    FUZZ_ASSERT(memio_open_count(&m) == 0);
    bool v_io_failed = check_fault_outcome(&m.fault, vrc, &vdiag);
    if (!io_failed && !v_io_failed && rc != SNAP_ENOMEM && vrc != SNAP_ENOMEM) {
        FUZZ_ASSERT(vrc == rc);
        if (rc == SNAP_EPAGE)
            FUZZ_ASSERT(vdiag.page == diag.page);
    }
    if (vrc != 0)
        fuzz_check_diag(&vdiag);

out:
    memio_release(&m);
    return 0;
}
