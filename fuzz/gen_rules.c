/* Rule seeds: one input per rule of the decoders and the loader, so that replaying the committed
 * corpora (coverage/gate --fuzz) reaches every check a file can fail. Codec seeds are written by
 * hand, byte by byte, following FORMAT.md 3-5 (a header and a state with every optional field),
 * then one field is broken and the CRC recomputed, so each seed fails exactly one rule past the
 * checksum. pair_load seeds are edits of the committed padded seeds (memory trailer, base
 * binding, state at load, large image, I/O faults) and oversized state files.
 * usage: gen_rules CORPUS_DIR REGRESSIONS_DIR -- reads CORPUS_DIR/pair_load/padded-*, writes
 * CORPUS_DIR/<target>/rule-* and REGRESSIONS_DIR/pair_load/oversized-* (replayed with the RAM
 * cap lifted). Deterministic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snap/snap.h"

static const char *corpus, *regressions;

static _Noreturn void die(const char *what)
{
    fprintf(stderr, "gen_rules: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_to(const char *root, const char *target, const char *name, const uint8_t *src,
                     size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/rule-%s", root, target, name);
    if (root == regressions)
        snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(src, 1, len, f) != len) || fclose(f) != 0)
        die(path);
}

static void codec_seed(const char *name, const uint8_t *src, size_t len)
{
    write_to(corpus, "state_decode", name, src, len);
    write_to(corpus, "state_decode_crcfix", name, src, len);
    write_to(corpus, "state_roundtrip", name, src, len);
}

/* ---- a growing byte buffer ---- */

struct buf {
    uint8_t p[1 << 16];
    size_t len;
};

static size_t put(struct buf *b, const void *src, size_t n)
{
    size_t at = b->len;
    if (b->len + n > sizeof b->p) {
        errno = ENOBUFS;
        die("buffer");
    }
    if (src)
        memcpy(b->p + b->len, src, n);
    else
        memset(b->p + b->len, 0, n);
    b->len += n;
    return at;
}

static size_t put8(struct buf *b, uint8_t v)
{
    return put(b, &v, 1);
}

static size_t put32(struct buf *b, uint32_t v)
{
    uint8_t x[4];
    snap_put_le32(x, v);
    return put(b, x, 4);
}

static size_t put64(struct buf *b, uint64_t v)
{
    uint8_t x[8];
    snap_put_le64(x, v);
    return put(b, x, 8);
}

/* ---- the VM state (FORMAT.md 4), with one rule broken ---- */

enum state_break {
    S_OK,
    S_BOOL_SMT, S_BOOL_TDP, S_BOOL_INITRD, S_BOOL_MMDS, S_RESERVED,
    S_LIMIT_TEMPLATE, S_LIMIT_KERNEL, S_LIMIT_INITRD, S_LIMIT_BOOT, S_LIMIT_REGS,
    S_LIMIT_DEVNAME, S_LIMIT_DEVSTATE, S_LIMIT_GIC, S_LIMIT_MMDS,
    S_TRUNC_KERNEL, S_TRUNC_INITRD, S_TRUNC_BOOT, S_TRUNC_REGS, S_TRUNC_DEVSTATE, S_TRUNC_GIC,
    S_TRUNC_MMDS,
    S_NUL_TEMPLATE, S_NUL_KERNEL, S_NUL_INITRD, S_NUL_BOOT, S_NUL_DEVNAME, S_EMPTY_DEVNAME,
    S_VCPUS_LIMIT, S_VCPUS_TRUNC, S_DEVS_LIMIT, S_DEVS_TRUNC, S_TRAILING,
    S_NO_INITRD_NO_MMDS, S_NO_VCPU, S_VCPU_INDEX, S_SMT_ON, S_MEM_MIB,
    S_COUNT
};

static const char *const state_names[S_COUNT] = {
    "ok", "bool-smt", "bool-tdp", "bool-initrd", "bool-mmds", "reserved-byte",
    "limit-template", "limit-kernel", "limit-initrd", "limit-boot", "limit-regs",
    "limit-devname", "limit-devstate", "limit-gic", "limit-mmds",
    "trunc-kernel", "trunc-initrd", "trunc-boot", "trunc-regs", "trunc-devstate", "trunc-gic",
    "trunc-mmds",
    "nul-template", "nul-kernel", "nul-initrd", "nul-boot", "nul-devname", "empty-devname",
    "vcpus-limit", "vcpus-trunc", "devs-limit", "devs-trunc", "trailing",
    "no-initrd-no-mmds", "no-vcpu", "vcpu-index", "smt-on", "mem-mib",
};

/* A str or blob: u32 length then bytes. lim: the field's limit; trunc: claim the limit (more
 * than the state holds); over: claim limit + 1; nul: a NUL among the bytes. */
static void put_field(struct buf *b, const char *s, size_t n, uint32_t lim, bool over, bool trunc,
                      bool nul)
{
    put32(b, over ? lim + 1 : trunc ? lim : (uint32_t)n);
    size_t at = put(b, s, n);
    if (nul && n > 1)
        b->p[at + 1] = 0;
}

/* Field starts, recorded for the truncation seeds. */
static size_t marks[128];
static unsigned nmarks;

static void mark(const struct buf *b)
{
    if (nmarks < sizeof marks / sizeof *marks)
        marks[nmarks++] = b->len;
}

static void state_bytes(struct buf *b, enum state_break x, uint32_t mem_mib)
{
    bool initrd = x != S_NO_INITRD_NO_MMDS, mmds = x != S_NO_INITRD_NO_MMDS;
    static const char regs[64] = "regs-of-a-vcpu";
    static const char dstate[24] = "device-state";
    static const char gic[48] = "gic-state";
    static const char mmdsb[40] = "{\"latest\":{}}";
    size_t start = b->len;
    nmarks = 0;
    mark(b);
    put32(b, x == S_MEM_MIB ? mem_mib + 1 : mem_mib);
    mark(b);
    put8(b, x == S_BOOL_SMT ? 2 : x == S_SMT_ON);
    put8(b, x == S_BOOL_TDP ? 2 : 1);
    put8(b, x == S_BOOL_INITRD ? 2 : initrd);
    put8(b, x == S_RESERVED);
    mark(b);
    put_field(b, "T2CL", 4, SNAP_MAX_TEMPLATE_LEN, x == S_LIMIT_TEMPLATE, false,
              x == S_NUL_TEMPLATE);
    mark(b);
    put_field(b, "/boot/vmlinux", 13, SNAP_MAX_PATH_LEN, x == S_LIMIT_KERNEL,
              x == S_TRUNC_KERNEL, x == S_NUL_KERNEL);
    mark(b);
    if (initrd)
        put_field(b, "/boot/initrd.img", 16, SNAP_MAX_PATH_LEN, x == S_LIMIT_INITRD,
                  x == S_TRUNC_INITRD, x == S_NUL_INITRD);
    mark(b);
    put_field(b, "console=ttyAMA0", 15, SNAP_MAX_PATH_LEN, x == S_LIMIT_BOOT, x == S_TRUNC_BOOT,
              x == S_NUL_BOOT);
    mark(b);
    uint32_t vcpus = x == S_NO_VCPU ? 0 : 2;
    put32(b, x == S_VCPUS_LIMIT ? SNAP_MAX_VCPUS + 1 : x == S_VCPUS_TRUNC ? SNAP_MAX_VCPUS : vcpus);
    for (uint32_t i = 0; i < vcpus; i++) {
        mark(b);
        put32(b, x == S_VCPU_INDEX && i == 1 ? 5 : i);
        mark(b);
        put64(b, 0x80000000ull | i);
        mark(b);
        put_field(b, regs, sizeof regs, SNAP_MAX_REGS_LEN, x == S_LIMIT_REGS && i == 1,
                  x == S_TRUNC_REGS && i == 1, false);
    }
    mark(b);
    put32(b, x == S_DEVS_LIMIT ? SNAP_MAX_DEVICES + 1 : x == S_DEVS_TRUNC ? SNAP_MAX_DEVICES : 2);
    for (uint32_t i = 0; i < 2; i++) {
        mark(b);
        if (x == S_EMPTY_DEVNAME && i == 1)
            put_field(b, "", 0, SNAP_MAX_DEVICE_NAME_LEN, false, false, false);
        else
            put_field(b, i ? "virtio-block" : "virtio-net", i ? 12 : 10,
                      SNAP_MAX_DEVICE_NAME_LEN, x == S_LIMIT_DEVNAME && i == 1, false,
                      x == S_NUL_DEVNAME && i == 1);
        mark(b);
        put_field(b, dstate, sizeof dstate, SNAP_MAX_DEVICE_STATE_LEN,
                  x == S_LIMIT_DEVSTATE && i == 1, x == S_TRUNC_DEVSTATE && i == 1, false);
    }
    mark(b);
    put_field(b, gic, sizeof gic, SNAP_MAX_GIC_LEN, x == S_LIMIT_GIC, x == S_TRUNC_GIC, false);
    mark(b);
    put8(b, x == S_BOOL_MMDS ? 2 : mmds);
    mark(b);
    if (mmds)
        put_field(b, mmdsb, sizeof mmdsb, SNAP_MAX_MMDS_LEN, x == S_LIMIT_MMDS, x == S_TRUNC_MMDS,
                  false);
    if (x == S_TRAILING)
        put8(b, 0);
    for (unsigned i = 0; i < nmarks; i++)
        marks[i] -= start;
}

/* ---- the state file (FORMAT.md 3, 5), with one header rule broken ---- */

struct hdr {
    uint32_t kind, page_size, flags, schema;
    uint64_t ram, generation, base_generation, mem_pages, mem_file_len, reserved;
    uint8_t id[16], base_id[16];
    char mem_name[64], base_name[64];
    bool raw_mem_name, raw_base_name; /* the 64 bytes as given (no NUL padding) */
    uint64_t payload_extra;           /* bytes added to the page map and to payload_len */
    uint64_t state_len_claim;         /* state_len written, if not 0 */
    uint8_t bitmap[2];
};

/* A diff of 12 pages of 4 KiB with pages 0 and 2 dirty, or a full of 4 pages. */
static struct hdr good_header(bool diff)
{
    struct hdr h = {0};
    h.kind = diff ? SNAP_KIND_DIFF : SNAP_KIND_FULL;
    h.page_size = 4096;
    h.schema = SNAP_SCHEMA_VERSION;
    h.ram = (diff ? 12 : 4) * 4096ull;
    h.generation = diff ? 2 : 1;
    for (int i = 0; i < 16; i++)
        h.id[i] = (uint8_t)(0x21 + i);
    h.mem_pages = diff ? 2 : 4;
    h.mem_file_len = h.mem_pages * 4096 + SNAP_MEM_TRAILER_LEN;
    snprintf(h.mem_name, sizeof h.mem_name, "vm.g%llu.mem", (unsigned long long)h.generation);
    if (diff) {
        for (int i = 0; i < 16; i++)
            h.base_id[i] = (uint8_t)(0x41 + i);
        h.base_generation = 1;
        snprintf(h.base_name, sizeof h.base_name, "base");
        h.bitmap[0] = 0x05;
    }
    return h;
}

static size_t state_file(uint8_t *dst, const struct hdr *h, const uint8_t *state,
                         size_t state_len)
{
    struct buf *b = malloc(sizeof *b);
    if (!b)
        die("memory");
    b->len = 0;
    size_t bm = h->kind == SNAP_KIND_DIFF ? sizeof h->bitmap : 0;
    uint64_t crcs = 8 * (h->mem_pages <= 16 ? h->mem_pages : 4);
    put(b, SNAP_MAGIC, 8);
    put8(b, 1); /* version_major 1 */
    put8(b, 0);
    put8(b, 0); /* version_minor 0 */
    put8(b, 0);
    put32(b, SNAP_HEADER_LEN);
    put64(b, state_len + bm + crcs + h->payload_extra);
    put32(b, h->schema);
    put32(b, h->flags);
    put32(b, h->kind);
    put32(b, h->page_size);
    put64(b, h->ram);
    put(b, h->id, 16);
    put64(b, h->generation);
    put(b, h->base_id, 16);
    put64(b, h->base_generation);
    put64(b, h->state_len_claim ? h->state_len_claim : state_len);
    put64(b, h->mem_pages);
    put64(b, h->mem_file_len);
    put64(b, h->reserved);
    size_t at = put(b, NULL, 64);
    memcpy(b->p + at, h->mem_name, h->raw_mem_name ? 64 : strnlen(h->mem_name, 64));
    at = put(b, NULL, 64);
    memcpy(b->p + at, h->base_name, h->raw_base_name ? 64 : strnlen(h->base_name, 64));
    put(b, state, state_len);
    put(b, h->bitmap, bm);
    for (uint64_t i = 0; i < crcs; i += 8)
        put64(b, 0x1234567890abcdefull + i);
    put(b, NULL, (size_t)h->payload_extra);
    put64(b, snap_crc64(0, b->p, b->len));
    size_t len = b->len;
    memcpy(dst, b->p, len);
    free(b);
    return len;
}

static const char *const header_rules[] = {
    "full-ok", "diff-ok", "kind-0", "kind-3", "page-size-0", "page-size-8192", "ram-0",
    "ram-not-multiple", "ram-over-limit", "snapshot-id-zero", "generation-0", "generation-2-63",
    "full-base-id", "full-base-generation", "diff-base-id-zero", "diff-base-generation-0",
    "diff-base-generation-2-63", "state-len-over-limit", "full-mem-pages", "diff-mem-pages",
    "mem-file-len", "reserved", "mem-name-empty", "mem-name-junk-after-nul", "mem-name-bad-id",
    "mem-name-long-id", "mem-name-other-generation", "mem-name-leading-zero", "mem-name-no-dot",
    "mem-name-no-nul", "full-base-name", "diff-base-name-empty", "diff-base-name-long",
    "diff-base-name-bad-char", "diff-base-name-junk", "diff-base-name-no-nul", "payload-len",
    "bitmap-tail-bit", "bitmap-count", "schema-0", "flags-incompat-bit-15", "flags-compat-31",
    "diff-no-dirty-page",
};

static struct hdr header_rule(unsigned r)
{
    const char *n = header_rules[r];
    bool diff = strncmp(n, "diff", 4) == 0 || strncmp(n, "bitmap", 6) == 0;
    struct hdr h = good_header(diff);
    const char *long_id = "0123456789012345678901234567890123456789x";
    switch (r) {
    case 2: h.kind = 0; break;
    case 3: h.kind = 3; break;
    case 4: h.page_size = 0; break;
    case 5: h.page_size = 8192; break;
    case 6: h.ram = 0; break;
    case 7: h.ram += 1; break;
    case 8: h.ram = (SNAP_MAX_PAGES + 1) * 4096; break;
    case 9: memset(h.id, 0, 16); break;
    case 10: h.generation = 0; break;
    case 11: h.generation = 1ull << 63; break;
    case 12: h.base_id[3] = 1; break;
    case 13: h.base_generation = 1; break;
    case 14: memset(h.base_id, 0, 16); break;
    case 15: h.base_generation = 0; break;
    case 16: h.base_generation = 1ull << 63; break;
    case 17: h.state_len_claim = SNAP_MAX_STATE_LEN + 1ull; break;
    case 18: h.mem_pages = 3; break;
    case 19: h.mem_pages = 13; break;
    case 20: h.mem_file_len += 1; break;
    case 21: h.reserved = 1; break;
    case 22: memset(h.mem_name, 0, 64); break;
    case 23: h.mem_name[63] = 'x'; h.raw_mem_name = true; break;
    case 24: snprintf(h.mem_name, 64, "v!.g1.mem"); break;
    case 25: snprintf(h.mem_name, 64, "%s.g1.mem", long_id); break;
    case 26: snprintf(h.mem_name, 64, "vm.g9.mem"); break;
    case 27: snprintf(h.mem_name, 64, "vm.g01.mem"); break;
    case 28: snprintf(h.mem_name, 64, "vm"); break;
    case 29: memset(h.mem_name, 'a', 64); h.raw_mem_name = true; break;
    case 30: snprintf(h.base_name, 64, "base"); break;
    case 31: memset(h.base_name, 0, 64); break;
    case 32: snprintf(h.base_name, 64, "%s", long_id); break;
    case 33: snprintf(h.base_name, 64, "ba.se"); break;
    case 34: h.base_name[63] = 'x'; h.raw_base_name = true; break;
    case 35: memset(h.base_name, 'b', 64); h.raw_base_name = true; break;
    case 36: h.payload_extra = 8; break;
    case 37: h.bitmap[1] = 0x10; break; /* page 12 of 12 */
    case 38: h.bitmap[0] = 0x07; break;
    case 39: h.schema = 0; break;
    case 40: h.flags = 1u << 15; break;
    case 41: h.flags = 1u << 31; break;
    case 42: h.bitmap[0] = 0; h.mem_pages = 0; h.mem_file_len = SNAP_MEM_TRAILER_LEN; break;
    default: break;
    }
    return h;
}

static void codec_rules(void)
{
    static uint8_t out[1 << 16];
    struct buf *st = malloc(sizeof *st);
    if (!st)
        die("memory");
    char name[96];

    /* the state: every rule of section 4, in a full state file */
    for (int x = 0; x < S_COUNT; x++) {
        st->len = 0;
        state_bytes(st, (enum state_break)x, 1);
        struct hdr h = good_header(false);
        snprintf(name, sizeof name, "state-%s", state_names[x]);
        codec_seed(name, out, state_file(out, &h, st->p, st->len));
    }
    /* cut inside each field of the valid state (state_len follows the cut) */
    st->len = 0;
    state_bytes(st, S_OK, 1);
    size_t ok_len = st->len, cuts[128];
    unsigned ncuts = nmarks;
    memcpy(cuts, marks, sizeof cuts);
    for (unsigned i = 0; i < ncuts; i++) {
        struct hdr h = good_header(false);
        size_t cut = cuts[i] + 1 < ok_len ? cuts[i] + 1 : cuts[i];
        snprintf(name, sizeof name, "state-cut-%zu", cut);
        codec_seed(name, out, state_file(out, &h, st->p, cut));
    }
    struct hdr h0 = good_header(false);
    codec_seed("state-empty", out, state_file(out, &h0, st->p, 0));

    /* the header: every rule of 3.1 in the order of 3.2 step 7, on a full or a diff */
    for (unsigned r = 0; r < sizeof header_rules / sizeof *header_rules; r++) {
        struct hdr h = header_rule(r);
        snprintf(name, sizeof name, "header-%s", header_rules[r]);
        codec_seed(name, out, state_file(out, &h, st->p, ok_len));
    }
    /* the same header rules met by the loader: each state file alone as vm.snap */
    for (unsigned r = 0; r < sizeof header_rules / sizeof *header_rules; r++) {
        static uint8_t pin[1 << 16];
        struct hdr h = header_rule(r);
        size_t len = state_file(pin + 5, &h, st->p, ok_len);
        pin[0] = 0;
        snap_put_le32(pin + 1, (uint32_t)len);
        snprintf(name, sizeof name, "header-%s", header_rules[r]);
        write_to(corpus, "pair_load", name, pin, 5 + len);
    }
    /* a file shorter than the magic that does not begin like it */
    codec_seed("short-not-magic", (const uint8_t *)"\x89SNXP", 5);
    /* steps 1-4 of 3.2 on a valid file: payload_len over the limit, a cut trailer */
    struct hdr h = good_header(true);
    size_t len = state_file(out, &h, st->p, ok_len);
    codec_seed("header-cut-in-trailer", out, len - 3);
    snap_put_le64(out + 16, SNAP_MAX_PAYLOAD + 1);
    codec_seed("header-payload-over-limit", out, len);
    free(st);
}
/* ---- pair_load seeds: edits of the committed padded seeds ---- */

struct pin {
    uint8_t flags;
    bool faulty;
    uint8_t fault[4];
    unsigned count;
    bool present[20];
    uint8_t *p[20];
    size_t len[20];
};

static void pin_read(struct pin *in, const char *seed)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pair_load/%s", corpus, seed);
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    static uint8_t d[1 << 20];
    size_t n = fread(d, 1, sizeof d, f), at = 1;
    fclose(f);
    memset(in, 0, sizeof *in);
    in->flags = d[0];
    while (at + 4 <= n && in->count < 20) {
        uint32_t len = snap_get_le32(d + at);
        unsigned i = in->count++;
        at += 4;
        if (len == 0xffffffffu)
            continue;
        in->present[i] = true;
        in->len[i] = len;
        in->p[i] = malloc(len + 1);
        if (!in->p[i])
            die("memory");
        memcpy(in->p[i], d + at, len);
        at += len;
    }
}

static void pin_write(const struct pin *in, const char *root, const char *name)
{
    static uint8_t d[1 << 20];
    size_t at = 0;
    d[at++] = (uint8_t)(in->flags | (in->faulty ? 4 : 0));
    if (in->faulty) {
        memcpy(d + at, in->fault, 4);
        at += 4;
    }
    for (unsigned i = 0; i < in->count; i++) {
        snap_put_le32(d + at, in->present[i] ? (uint32_t)in->len[i] : 0xffffffffu);
        at += 4;
        if (in->present[i]) {
            memcpy(d + at, in->p[i], in->len[i]);
            at += in->len[i];
        }
    }
    write_to(root, "pair_load", name, d, at);
}

static void pin_free(struct pin *in)
{
    for (unsigned i = 0; i < 20; i++)
        free(in->p[i]);
}

static void fix_state_crc(struct pin *in, unsigned i)
{
    size_t n = in->len[i];
    snap_put_le64(in->p[i] + n - 8, snap_crc64(0, in->p[i], n - 8));
}

static void fix_mem_crc(struct pin *in, unsigned i)
{
    uint8_t *t = in->p[i] + in->len[i] - SNAP_MEM_TRAILER_LEN;
    snap_put_le64(t + 56, snap_crc64(0, t, 56));
}

/* Make level `level` of in a full pair of mib MiB: ram_size, mem_pages, mem_file_len,
 * payload_len, mem_size_mib and the memory trailer's mem_pages follow, the page map grows by
 * zero entries, and flags bit 0 (repair) has pair_load recompute the CRCs. */
static void resize_full(struct pin *in, unsigned level, unsigned mib)
{
    unsigned si = 2 * level, mi = 2 * level + 1;
    uint64_t pages = (uint64_t)mib << 8, old = snap_get_le64(in->p[si] + 104);
    size_t add = (size_t)(pages - old) * 8, n = in->len[si] + add;
    uint8_t *p = malloc(n);
    if (!p)
        die("memory");
    memcpy(p, in->p[si], in->len[si] - 8);
    memset(p + in->len[si] - 8, 0, add + 8);
    snap_put_le64(p + 16, snap_get_le64(p + 16) + add);
    snap_put_le64(p + 40, (uint64_t)mib << 20);
    snap_put_le64(p + 104, pages);
    snap_put_le64(p + 112, pages * 4096 + SNAP_MEM_TRAILER_LEN);
    snap_put_le32(p + 256, mib); /* mem_size_mib */
    free(in->p[si]);
    in->p[si] = p;
    in->len[si] = n;
    snap_put_le64(in->p[mi] + in->len[mi] - SNAP_MEM_TRAILER_LEN + 32, pages);
    in->flags |= 1;
}

static void pair_rules(void)
{
    struct pin in;
    /* memory trailer: each rule of 6.1 step 3 (CRC recomputed but for the CRC rule) */
    static const struct {
        const char *name;
        unsigned off, size;
        bool fix;
    } trailer[] = {
        {"mem-trailer-magic", 1, 1, true},     {"mem-trailer-crc", 56, 1, false},
        {"mem-trailer-reserved", 48, 1, true}, {"mem-trailer-snapshot-id", 8, 1, true},
        {"mem-trailer-generation", 24, 1, true}, {"mem-trailer-mem-pages", 32, 1, true},
        {"mem-trailer-page-size", 40, 2, true}, {"mem-trailer-kind", 44, 1, true},
    };
    for (size_t i = 0; i < sizeof trailer / sizeof *trailer; i++) {
        pin_read(&in, "padded-full-4096");
        uint8_t *t = in.p[1] + in.len[1] - SNAP_MEM_TRAILER_LEN;
        t[trailer[i].off] ^= (uint8_t)trailer[i].size;
        if (trailer[i].fix)
            fix_mem_crc(&in, 1);
        pin_write(&in, corpus, trailer[i].name);
        pin_free(&in);
    }
    /* base binding (6.1 step 5): snapshot_id, generation; then page_size, from a base of
     * another page size with the same id and generation */
    pin_read(&in, "padded-diff-4096");
    in.p[0][72] ^= 1; /* base_id */
    fix_state_crc(&in, 0);
    pin_write(&in, corpus, "base-mismatch-id");
    in.p[0][72] ^= 1;
    in.p[0][88] += 1; /* base_generation */
    fix_state_crc(&in, 0);
    pin_write(&in, corpus, "base-mismatch-generation");
    in.p[0][88] -= 1;
    fix_state_crc(&in, 0);
    struct pin other;
    pin_read(&other, "padded-diff-16384");
    free(in.p[2]);
    free(in.p[3]);
    in.p[2] = other.p[2];
    in.len[2] = other.len[2];
    in.p[3] = other.p[3];
    in.len[3] = other.len[3];
    other.p[2] = other.p[3] = NULL;
    pin_write(&in, corpus, "base-mismatch-page-size");
    pin_free(&other);
    pin_free(&in);

    /* memory file length (6.1 step 3) and pages (step 4) of compatible pairs: unpadded (short),
     * a byte before the trailer (long), a page byte of a full and of a diff; a missing base */
    pin_read(&in, "padded-full-4096");
    in.flags &= (uint8_t)~2u;
    pin_write(&in, corpus, "mem-len-short");
    in.flags |= 2;
    in.p[1][5] ^= 0x20;
    pin_write(&in, corpus, "page-flip-full");
    pin_free(&in);
    pin_read(&in, "padded-diff-4096");
    in.p[1][7] ^= 0x20;
    pin_write(&in, corpus, "page-flip-diff");
    in.p[1][7] ^= 0x20;
    {
        uint8_t *p = realloc(in.p[1], in.len[1] + 1);
        if (!p)
            die("memory");
        size_t t = in.len[1] - SNAP_MEM_TRAILER_LEN;
        memmove(p + t + 1, p + t, SNAP_MEM_TRAILER_LEN);
        p[t] = 0;
        in.p[1] = p;
        in.len[1] += 1;
        pin_write(&in, corpus, "mem-len-long");
    }
    pin_free(&in);
    pin_read(&in, "padded-diff-4096");
    in.present[2] = false;
    pin_write(&in, corpus, "base-state-missing");
    pin_free(&in);

    /* the state at load (6.1 step 1): undecodable, and incompatible (SMT) */
    pin_read(&in, "padded-full-4096");
    in.p[0][256 + 4] = 2;
    fix_state_crc(&in, 0);
    pin_write(&in, corpus, "load-state-corrupt");
    in.p[0][256 + 4] = 1;
    fix_state_crc(&in, 0);
    pin_write(&in, corpus, "load-state-smt");
    pin_free(&in);

    /* a 4 MiB image (the loader asks for huge pages from 4 MiB on); flags bit 0 lets pair_load
     * recompute the page CRCs and trailers */
    pin_read(&in, "padded-full-4096");
    resize_full(&in, 0, 4);
    pin_write(&in, corpus, "image-4mib");
    pin_free(&in);
    /* a base of the right id, generation and page size but another ram_size (6.1 step 5) */
    pin_read(&in, "padded-diff-4096");
    resize_full(&in, 1, 2);
    pin_write(&in, corpus, "base-mismatch-ram-size");
    pin_free(&in);
    /* a diff with no dirty page over its base: loads (the image is the base's) */
    pin_read(&in, "padded-diff-4096");
    {
        uint8_t *st = in.p[0];
        size_t bm = SNAP_HEADER_LEN + (size_t)snap_get_le64(st + 96);
        memset(st + bm, 0, 32);
        memmove(st + bm + 32, st + bm + 40, in.len[0] - (bm + 40));
        in.len[0] -= 8;
        snap_put_le64(st + 16, snap_get_le64(st + 16) - 8);
        snap_put_le64(st + 104, 0);
        snap_put_le64(st + 112, SNAP_MEM_TRAILER_LEN);
        memmove(in.p[1], in.p[1] + in.len[1] - SNAP_MEM_TRAILER_LEN, SNAP_MEM_TRAILER_LEN);
        in.len[1] = SNAP_MEM_TRAILER_LEN;
        snap_put_le64(in.p[1] + 32, 0);
        in.flags |= 1;
        pin_write(&in, corpus, "diff-no-dirty-page");
    }
    pin_free(&in);
    /* mem_name begins with the id but not "<id>." (6.1 step 2) */
    pin_read(&in, "padded-full-4096");
    memset(in.p[0] + 128, 0, 64);
    memcpy(in.p[0] + 128, "vmx.g7.mem", 10);
    fix_state_crc(&in, 0);
    pin_write(&in, corpus, "mem-name-other-id");
    pin_free(&in);

    /* I/O faults (memio.h): call, which one, how (bits 0-1 mode, 2-7 errno index) */
    static const struct {
        const char *name;
        uint8_t fault[4];
    } faults[] = {
        {"io-open0-eacces", {0, 0, 0, 0}},   {"io-open1-eio", {0, 1, 1 << 2, 0}},
        {"io-open2-emfile", {0, 2, 2 << 2, 0}}, {"io-open0-eintr", {0, 0, 2, 0}},
        {"io-pread0-eio", {1, 0, 0, 0}},     {"io-pread1-eisdir", {1, 1, 1 << 2, 0}},
        {"io-pread2-eio", {1, 2, 0, 0}},     {"io-pread0-short", {1, 0, 1, 100}},
        {"io-pread2-short", {1, 2, 1, 7}},   {"io-pread1-eintr", {1, 1, 2, 0}},
        {"io-pread0-eof", {1, 0, 3, 0}},     {"io-pread1-eof", {1, 1, 3, 0}},
        {"io-fstat0-enomem", {2, 0, 1 << 2, 0}}, {"io-fstat1-eio", {2, 1, 0, 0}},
        {"io-close0-eio", {3, 0, 0, 0}},     {"io-pread4-eio", {1, 4, 0, 0}},
        {"io-pread5-eio", {1, 5, 0, 0}},     {"io-pread6-eio", {1, 6, 0, 0}},
        {"io-pread7-eio", {1, 7, 0, 0}},     {"io-fstat1-eisdir", {2, 1, 3 << 2, 0}},
        {"io-fstat0-espipe", {2, 0, 4 << 2, 0}},
    };
    for (size_t i = 0; i < sizeof faults / sizeof *faults; i++) {
        pin_read(&in, "padded-diff-4096");
        in.faulty = true;
        memcpy(in.fault, faults[i].fault, 4);
        pin_write(&in, corpus, faults[i].name);
        pin_free(&in);
    }

    /* A state file longer than any valid one (6.1 step 1: judged by its header): a memory file
     * stored under the name vm.snap, zero-filled to 200 MiB, whose first bytes are a header
     * (valid; with a bad magic; with payload_len over the limit). Needs the RAM cap lifted. */
    pin_read(&in, "padded-full-4096");
    {
        struct pin big = {0};
        big.flags = 2;
        big.count = 4; /* level 0 absent: level 1 names its memory file vm.snap */
        big.present[2] = big.present[3] = true;
        big.len[2] = in.len[0];
        big.p[2] = malloc(big.len[2]);
        big.len[3] = SNAP_HEADER_LEN + SNAP_MEM_TRAILER_LEN;
        big.p[3] = malloc(big.len[3]);
        if (!big.p[2] || !big.p[3])
            die("memory");
        memcpy(big.p[2], in.p[0], in.len[0]);
        memset(big.p[2] + 128, 0, 64);
        memcpy(big.p[2] + 128, "vm.snap", 7);
        snap_put_le64(big.p[2] + 112, 200u << 20);
        memcpy(big.p[3], in.p[0], SNAP_HEADER_LEN);
        memcpy(big.p[3] + SNAP_HEADER_LEN, in.p[1] + in.len[1] - SNAP_MEM_TRAILER_LEN,
               SNAP_MEM_TRAILER_LEN);
        pin_write(&big, regressions, "oversized-state-file");
        big.p[3][0] ^= 1;
        pin_write(&big, regressions, "oversized-state-file-magic");
        big.p[3][0] ^= 1;
        snap_put_le64(big.p[3] + 16, SNAP_MAX_PAYLOAD + 1);
        pin_write(&big, regressions, "oversized-state-file-payload");
        snap_put_le64(big.p[3] + 16, snap_get_le64(in.p[0] + 16));
        big.faulty = true; /* the second open (of the header), then its read, fail */
        memcpy(big.fault, (const uint8_t[]){0, 1, 0, 0}, 4);
        pin_write(&big, regressions, "oversized-state-file-open-fails");
        memcpy(big.fault, (const uint8_t[]){1, 0, 0, 0}, 4);
        pin_write(&big, regressions, "oversized-state-file-read-fails");
        pin_free(&big);
    }
    pin_free(&in);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR REGRESSIONS_DIR\n", argv[0]);
        return 2;
    }
    corpus = argv[1];
    regressions = argv[2];
    codec_rules();
    pair_rules();
    return 0;
}
