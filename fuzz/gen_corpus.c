/* Seed corpus generator for the fuzz targets, built on the public encoder API only
 * (snap_state_encode_alloc, snap_envelope_encode, snap_mem_trailer_encode).
 * Usage: gen_corpus OUTDIR -- writes OUTDIR/<target>/<seed> for every target:
 *   state files of three VM shapes, full and diff, each page size, plus truncations, a flipped
 *   trailer, version and flag variants (state_decode, state_decode_crcfix, state_roundtrip);
 *   snapshot directories in the split format of pair_load.c (pair_load).
 * Output is deterministic: the same library gives the same bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snap/snap.h"

static const char *out_root;

static _Noreturn void die(const char *what, int code)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, code ? snap_strerror(code) : strerror(errno));
    exit(1);
}

static void write_file(const char *target, const char *name, const uint8_t *src, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path, 0);
    snprintf(path, sizeof path, "%s/%s/%s", out_root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(src, 1, len, f) != len) || fclose(f) != 0)
        die(path, 0);
}

static void write_codec_seed(const char *name, const uint8_t *src, size_t len)
{
    write_file("state_decode", name, src, len);
    write_file("state_decode_crcfix", name, src, len);
    write_file("state_roundtrip", name, src, len);
}

/* VM shapes: from the smallest valid state to one with every optional field. */
struct shape {
    const char *name;
    uint32_t vcpus;
    uint32_t devices;
    bool initrd;
    bool mmds;
    const char *cpu_template;
};

static const struct shape shapes[] = {
    {"tiny", 1, 0, false, false, ""},
    {"virtio", 2, 2, true, false, "V1N1"},
    {"full", 4, 4, true, true, "T2CL"},
};

static uint8_t filler[4096];

static uint8_t *encode_state(size_t *out_len, const struct shape *s, uint32_t mem_mib)
{
    static const char *dev_names[] = {"virtio-net", "virtio-block", "virtio-vsock", "ttyAMA0"};
    struct snap_vcpu vcpus[8];
    struct snap_device devs[4];
    for (uint32_t i = 0; i < s->vcpus; i++)
        vcpus[i] = (struct snap_vcpu){i, 0x80000000ull | i, filler, 64 + 8 * i};
    for (uint32_t i = 0; i < s->devices; i++)
        devs[i] = (struct snap_device){(char *)dev_names[i], filler + 100, 24 + i};
    struct snap_vm_state st = {
        .info = {mem_mib, false, true, (char *)s->cpu_template, (char *)"/boot/vmlinux",
                 s->initrd ? (char *)"/boot/initrd.img" : NULL,
                 (char *)"console=ttyAMA0 reboot=k panic=1"},
        .vcpus = vcpus,
        .vcpu_count = s->vcpus,
        .devices = s->devices ? devs : NULL,
        .device_count = s->devices,
        .gic = filler + 200,
        .gic_len = 48,
        .has_mmds = s->mmds,
        .mmds = s->mmds ? filler + 300 : NULL,
        .mmds_len = s->mmds ? 40 : 0,
    };
    uint8_t *out;
    int rc = snap_state_encode_alloc(&out, out_len, &st);
    if (rc != 0)
        die("encode state", rc);
    return out;
}

/* One pair: its state file and memory file in heap buffers. */
struct pair {
    uint8_t *state_file;
    size_t state_file_len;
    uint8_t *mem_file;
    size_t mem_file_len;
    struct snap_header hdr;
};

struct pair_spec {
    const char *id;
    uint64_t generation;
    enum snap_kind kind;
    uint32_t page_size;
    uint64_t ram_size;
    uint32_t mem_mib; /* mem_size_mib of the state: ram_size >> 20 for a loadable pair */
    const struct shape *shape;
    const uint8_t *memory; /* ram_size bytes */
    const uint8_t *dirty;  /* diff */
    const struct pair *base;
    const char *base_id;
};

static struct pair make_pair(const struct pair_spec *ps)
{
    struct pair p = {0};
    struct snap_header *h = &p.hdr;
    uint64_t pages = ps->ram_size / ps->page_size;
    size_t state_len;
    uint8_t *state = encode_state(&state_len, ps->shape, ps->mem_mib);

    h->version_major = SNAP_VERSION_MAJOR;
    h->version_minor = SNAP_VERSION_MINOR;
    h->header_len = SNAP_HEADER_LEN;
    h->schema_version = SNAP_SCHEMA_VERSION;
    h->kind = ps->kind;
    h->page_size = ps->page_size;
    h->ram_size = ps->ram_size;
    for (int i = 0; i < 16; i++)
        h->snapshot_id[i] = (uint8_t)(0x11 * (i + 1) + ps->generation + ps->id[0]);
    h->generation = ps->generation;
    h->state_len = state_len;
    h->mem_pages = ps->kind == SNAP_KIND_FULL ? pages : snap_bitmap_count(ps->dirty, pages);
    h->mem_file_len = h->mem_pages * ps->page_size + SNAP_MEM_TRAILER_LEN;
    snap_name_mem(h->mem_name, sizeof h->mem_name, ps->id, ps->generation);
    if (ps->kind == SNAP_KIND_DIFF) {
        memcpy(h->base_id, ps->base->hdr.snapshot_id, 16);
        h->base_generation = ps->base->hdr.generation;
        snprintf(h->base_name, sizeof h->base_name, "%s", ps->base_id);
    }
    h->payload_len = state_len + snap_page_map_len(h);

    /* Memory file: the stored pages, then the trailer; the page map holds their CRCs. */
    p.mem_file_len = (size_t)h->mem_file_len;
    p.mem_file = malloc(p.mem_file_len);
    uint64_t *crcs = malloc((size_t)(h->mem_pages ? h->mem_pages : 1) * sizeof *crcs);
    if (!p.mem_file || !crcs)
        die("memory", SNAP_ENOMEM);
    uint64_t k = 0;
    for (uint64_t i = 0; i < pages; i++) {
        if (ps->kind == SNAP_KIND_DIFF && !snap_bitmap_test(ps->dirty, i))
            continue;
        const uint8_t *page = ps->memory + i * ps->page_size;
        memcpy(p.mem_file + k * ps->page_size, page, ps->page_size);
        crcs[k++] = snap_crc64(0, page, ps->page_size);
    }
    struct snap_mem_trailer t = {{0}, h->generation, h->mem_pages, h->page_size, h->kind};
    memcpy(t.snapshot_id, h->snapshot_id, 16);
    snap_mem_trailer_encode(p.mem_file + k * ps->page_size, &t);

    p.state_file_len = (size_t)snap_envelope_len(h);
    p.state_file = malloc(p.state_file_len);
    if (!p.state_file)
        die("memory", SNAP_ENOMEM);
    size_t len;
    int rc = snap_envelope_encode(p.state_file, p.state_file_len, &len, h, state,
                                  ps->kind == SNAP_KIND_DIFF ? ps->dirty : NULL, crcs);
    if (rc != 0 || len != p.state_file_len)
        die("encode envelope", rc ? rc : SNAP_EINVAL);
    free(crcs);
    free(state);
    return p;
}

static void free_pair(struct pair *p)
{
    free(p->state_file);
    free(p->mem_file);
}

static void fill_memory(uint8_t *dst, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        dst[i] = (uint8_t)x;
    }
}

/* ---- codec seeds ---- */

static void refresh_trailer(uint8_t *buf, size_t len)
{
    snap_put_le64(buf + len - 8, snap_crc64(0, buf, len - 8));
}

static void codec_variants(const struct pair *p)
{
    const uint8_t *src = p->state_file;
    size_t len = p->state_file_len;
    char name[64];
    const size_t cuts[] = {0, 5, 8, 11, 12, 100, 255, 256, 263};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        snprintf(name, sizeof name, "trunc-%zu", cuts[i]);
        write_codec_seed(name, src, cuts[i]);
    }
    write_codec_seed("trunc-in-trailer", src, len - 1);
    write_codec_seed("trunc-in-page-map", src, len - 9);
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        die("memory", SNAP_ENOMEM);

    memcpy(buf, src, len);
    buf[len - 1] ^= 0x80;
    write_codec_seed("trailer-flip", buf, len);

    memcpy(buf, src, len);
    buf[len] = 0;
    write_codec_seed("trailing-byte", buf, len + 1);

    struct {
        const char *name;
        size_t off;
        uint8_t value;
    } edits[] = {
        {"minor-1", 10, 1},         /* accepted: any minor of major 1 */
        {"major-2", 8, 2},          /* SNAP_EVERSION */
        {"schema-2", 24, 2},        /* SNAP_EVERSION */
        {"flag-incompat", 28, 1},   /* SNAP_EVERSION */
        {"flag-compat", 30, 1},     /* accepted: bit 16 */
        {"kind-3", 32, 3},          /* SNAP_ECORRUPT */
        {"header-len", 13, 2},      /* SNAP_ECORRUPT */
        {"reserved", 120, 1},       /* SNAP_ECORRUPT */
        {"state-bool", 256 + 4, 2}, /* smt = 2: state SNAP_ECORRUPT */
        {"state-smt", 256 + 4, 1},  /* decodes, SNAP_EINCOMPAT */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(buf, src, len);
        buf[edits[i].off] = edits[i].value;
        refresh_trailer(buf, len);
        write_codec_seed(edits[i].name, buf, len);
    }
    free(buf);
}

static void codec_seeds(void)
{
    static const uint32_t page_sizes[] = {4096, 16384, 65536};
    const uint64_t ram = 1u << 20;
    uint8_t *memory = malloc(ram);
    if (!memory)
        die("memory", SNAP_ENOMEM);
    fill_memory(memory, ram, 1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (size_t i = 0; i < 3; i++) {
            uint32_t ps = page_sizes[i];
            uint64_t pages = ram / ps;
            uint8_t dirty[32] = {0};
            for (uint64_t pg = 0; pg < pages; pg += 3)
                snap_bitmap_set(dirty, pg);
            struct pair_spec base_spec = {"base",     1,      SNAP_KIND_FULL, ps,   ram, 1,
                                          &shapes[s], memory, NULL,           NULL, NULL};
            struct pair base = make_pair(&base_spec);
            struct pair_spec diff_spec = {"vm",       2,      SNAP_KIND_DIFF, ps,    ram,   1,
                                          &shapes[s], memory, dirty,          &base, "base"};
            struct pair diff = make_pair(&diff_spec);
            char name[64];
            snprintf(name, sizeof name, "%s-%u-full", shapes[s].name, (unsigned)ps);
            write_codec_seed(name, base.state_file, base.state_file_len);
            snprintf(name, sizeof name, "%s-%u-diff", shapes[s].name, (unsigned)ps);
            write_codec_seed(name, diff.state_file, diff.state_file_len);
            if (s == 0 && i == 0)
                codec_variants(&base);
            free_pair(&diff);
            free_pair(&base);
        }
    }
    free(memory);
}

/* ---- pair_load seeds: the split format of pair_load.c ---- */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *src, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            die("memory", SNAP_ENOMEM);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, len);
    b->len += len;
}

static void buf_section(struct buf *b, const uint8_t *src, size_t len)
{
    uint8_t n[4];
    snap_put_le32(n, src ? (uint32_t)len : 0xffffffffu);
    buf_put(b, n, 4);
    if (src)
        buf_put(b, src, len);
}

/* Write a pair_load seed: flags, then (state, memory) of each level; NULL state = absent. */
static void pair_seed(const char *name, uint8_t flags, const struct pair *const *levels,
                      size_t count)
{
    struct buf b = {0};
    buf_put(&b, &flags, 1);
    for (size_t i = 0; i < count; i++) {
        const struct pair *p = levels[i];
        buf_section(&b, p ? p->state_file : NULL, p ? p->state_file_len : 0);
        buf_section(&b, p ? p->mem_file : NULL, p ? p->mem_file_len : 0);
    }
    write_file("pair_load", name, b.p, b.len);
    free(b.p);
}

/* As pair_seed, for flags bit 1 (padding): each memory section is only the first keep bytes of
 * the memory file plus its trailer; pair_load zero-fills the rest. The pages past keep must be
 * zero in the pair for its page map to hold. */
static void pair_seed_padded(const char *name, uint8_t flags, const struct pair *const *levels,
                             size_t count, size_t keep)
{
    struct buf b = {0};
    buf_put(&b, &flags, 1);
    for (size_t i = 0; i < count; i++) {
        const struct pair *p = levels[i];
        size_t pages = p->mem_file_len - SNAP_MEM_TRAILER_LEN, head = keep < pages ? keep : pages;
        uint8_t n[4];
        buf_section(&b, p->state_file, p->state_file_len);
        snap_put_le32(n, (uint32_t)(head + SNAP_MEM_TRAILER_LEN));
        buf_put(&b, n, 4);
        buf_put(&b, p->mem_file, head);
        buf_put(&b, p->mem_file + pages, SNAP_MEM_TRAILER_LEN);
    }
    write_file("pair_load", name, b.p, b.len);
    free(b.p);
}

/* Loadable pairs in a few kilobytes (padding): 1 MiB of guest RAM (mem_size_mib 1), zero but
 * for its first page, for each page size; a full and a diff over it; a chain of three. */
static void padded_seeds(void)
{
    static const uint32_t page_sizes[] = {4096, 16384, 65536};
    const uint64_t ram = 1u << 20;
    uint8_t *memory = calloc(ram, 1);
    uint8_t *memory2 = calloc(ram, 1);
    if (!memory || !memory2)
        die("memory", SNAP_ENOMEM);
    fill_memory(memory, 4096, 4);
    fill_memory(memory2, 4096, 5);
    char name[64];
    for (size_t i = 0; i < 3; i++) {
        uint32_t ps = page_sizes[i];
        uint8_t dirty[32] = {0x01};
        struct pair_spec bs = {"base",     1,      SNAP_KIND_FULL, ps,   ram, 1,
                               &shapes[0], memory, NULL,           NULL, NULL};
        struct pair base = make_pair(&bs);
        struct pair_spec ds = {"vm",       2,       SNAP_KIND_DIFF, ps,    ram,   1,
                               &shapes[1], memory2, dirty,          &base, "base"};
        struct pair diff = make_pair(&ds);
        struct pair_spec fs = {"vm",       7,       SNAP_KIND_FULL, ps,   ram, 1,
                               &shapes[2], memory2, NULL,           NULL, NULL};
        struct pair full = make_pair(&fs);
        const struct pair *one[] = {&full};
        const struct pair *two[] = {&diff, &base};
        snprintf(name, sizeof name, "padded-full-%u", (unsigned)ps);
        pair_seed_padded(name, 2, one, 1, 4096);
        if (ps == 4096) {
            /* level 0 is stored as "vm": the base pair's mem_name says base.g1.mem, which the
             * loader must refuse (6.1 step 2) */
            const struct pair *wrong[] = {&base};
            pair_seed_padded("padded-wrong-id", 2, wrong, 1, 4096);
        }
        snprintf(name, sizeof name, "padded-diff-%u", (unsigned)ps);
        pair_seed_padded(name, 2, two, 2, 4096);
        if (ps == 4096) {
            pair_seed_padded("padded-repair-diff-4096", 3, two, 2, 4096);
            uint8_t dirty2[32] = {0x06};
            struct pair_spec ms = {"mid",      3,      SNAP_KIND_DIFF, ps,    ram,   1,
                                   &shapes[2], memory, dirty2,         &base, "base"};
            struct pair mid = make_pair(&ms);
            struct pair_spec ts = {"vm",       4,       SNAP_KIND_DIFF, ps,   ram,  1,
                                   &shapes[1], memory2, dirty,          &mid, "mid"};
            struct pair top = make_pair(&ts);
            const struct pair *chain[] = {&top, &mid, &base};
            pair_seed_padded("padded-chain-3", 2, chain, 3, 4096);

            /* Chains at and over SNAP_MAX_CHAIN diffs: vm -> d1 -> ... -> dN -> base. */
            for (unsigned diffs = SNAP_MAX_CHAIN; diffs <= SNAP_MAX_CHAIN + 1; diffs++) {
                struct pair links[SNAP_MAX_CHAIN + 2];
                char ids[SNAP_MAX_CHAIN + 2][16];
                const struct pair *lv[SNAP_MAX_CHAIN + 2];
                links[diffs] = base;
                for (unsigned k = diffs; k-- > 0;) {
                    if (k == 0)
                        snprintf(ids[k], sizeof ids[k], "vm");
                    else
                        snprintf(ids[k], sizeof ids[k], "d%u", k % 100u);
                    if (k + 1 < diffs)
                        snprintf(ids[k + 1], sizeof ids[k + 1], "d%u", (k + 1) % 100u);
                    else
                        snprintf(ids[k + 1], sizeof ids[k + 1], "base");
                    struct pair_spec ls = {
                        ids[k],  10 + k, SNAP_KIND_DIFF, ps,        ram, 1, &shapes[0],
                        memory2, dirty,  &links[k + 1],  ids[k + 1]};
                    links[k] = make_pair(&ls);
                }
                for (unsigned k = 0; k <= diffs; k++)
                    lv[k] = &links[k];
                snprintf(name, sizeof name, "padded-chain-%u-diffs", diffs);
                pair_seed_padded(name, 2, lv, diffs + 1, 4096); /* 8 loads, 9 is refused */
                for (unsigned k = 0; k < diffs; k++)
                    free_pair(&links[k]);
            }

            /* A diff that names itself as its base: "vm" (generation 2) over a full pair with
             * the same snapshot_id and generation; the loader finds vm.snap again and must
             * stop at the chain limit rather than recurse for ever. */
            struct pair_spec cs = {"vm",       2,      SNAP_KIND_FULL, ps,   ram, 1,
                                   &shapes[0], memory, NULL,           NULL, NULL};
            struct pair self = make_pair(&cs);
            struct pair_spec sds = {"vm",       2,       SNAP_KIND_DIFF, ps,    ram, 1,
                                    &shapes[0], memory2, dirty,          &self, "vm"};
            struct pair cyc = make_pair(&sds);
            const struct pair *cycle[] = {&cyc, &self};
            pair_seed_padded("padded-self-base", 2, cycle, 2, 4096);
            free_pair(&cyc);
            free_pair(&self);
            free_pair(&top);
            free_pair(&mid);
        }
        free_pair(&full);
        free_pair(&diff);
        free_pair(&base);
    }
    free(memory2);
    free(memory);
}

static void pair_seeds(void)
{
    static const uint32_t page_sizes[] = {4096, 16384, 65536};
    static const uint64_t small_pages[] = {4, 2, 1};
    char name[64];
    uint8_t *memory = malloc(1u << 20);
    uint8_t *memory2 = malloc(1u << 20);
    if (!memory || !memory2)
        die("memory", SNAP_ENOMEM);
    fill_memory(memory, 1u << 20, 2);
    fill_memory(memory2, 1u << 20, 3);
    memset(memory, 0, 4096); /* a zero page is data like any other */

    /* Small pairs: ram_size of a few pages, so the state (mem_size_mib 1) is SNAP_EINCOMPAT at
     * the very end of the load, after every file and page check has run. */
    for (size_t i = 0; i < 3; i++) {
        uint32_t ps = page_sizes[i];
        uint64_t ram = small_pages[i] * ps;
        uint8_t dirty[1] = {0x01};
        struct pair_spec bs = {"base",     1,      SNAP_KIND_FULL, ps,   ram, 1,
                               &shapes[0], memory, NULL,           NULL, NULL};
        struct pair base = make_pair(&bs);
        struct pair_spec fs = {"vm",       5,       SNAP_KIND_FULL, ps,   ram, 1,
                               &shapes[1], memory2, NULL,           NULL, NULL};
        struct pair full = make_pair(&fs);
        struct pair_spec ds = {"vm",       2,       SNAP_KIND_DIFF, ps,    ram,   1,
                               &shapes[2], memory2, dirty,          &base, "base"};
        struct pair diff = make_pair(&ds);

        const struct pair *one[] = {&full};
        snprintf(name, sizeof name, "full-%u", (unsigned)ps);
        pair_seed(name, 0, one, 1);
        const struct pair *two[] = {&diff, &base};
        if (ps != 65536) { /* padded-diff-65536 stands for it in 10 KB instead of 130 KB */
            snprintf(name, sizeof name, "diff-%u", (unsigned)ps);
            pair_seed(name, 0, two, 2);
        }

        if (ps == 4096) {
            pair_seed("crc-repair-full", 1, one, 1);
            pair_seed("crc-repair-diff", 1, two, 2);
            const struct pair *no_base[] = {&diff, NULL};
            pair_seed("base-missing", 0, no_base, 2);
            pair_seed("empty-dir", 0, NULL, 0);

            struct pair bad = full;
            uint8_t *mem = malloc(full.mem_file_len);
            if (!mem)
                die("memory", SNAP_ENOMEM);
            memcpy(mem, full.mem_file, full.mem_file_len);
            mem[2 * ps + 7] ^= 0x40;
            bad.mem_file = mem;
            const struct pair *page[] = {&bad};
            pair_seed("page-flip", 0, page, 1); /* SNAP_EPAGE, page 2 */
            bad.mem_file_len = full.mem_file_len - 1;
            pair_seed("mem-short", 0, page, 1); /* SNAP_EPAIR */
            free(mem);

            struct buf b = {0};
            uint8_t flags = 0;
            buf_put(&b, &flags, 1);
            buf_section(&b, full.state_file, full.state_file_len);
            buf_section(&b, NULL, 0);
            write_file("pair_load", "mem-missing", b.p, b.len);
            free(b.p);

            /* A chain of three: vm (diff) -> mid (diff) -> base (full). */
            uint8_t dirty2[1] = {0x06};
            struct pair_spec ms = {"mid",      3,       SNAP_KIND_DIFF, ps,    ram,   1,
                                   &shapes[0], memory2, dirty2,         &base, "base"};
            struct pair mid = make_pair(&ms);
            struct pair_spec ts = {"vm",       4,      SNAP_KIND_DIFF, ps,   ram,  1,
                                   &shapes[1], memory, dirty,          &mid, "mid"};
            struct pair top = make_pair(&ts);
            const struct pair *chain[] = {&top, &mid, &base};
            pair_seed("chain-3", 0, chain, 3);
            free_pair(&top);
            free_pair(&mid);
        }
        free_pair(&diff);
        free_pair(&full);
        free_pair(&base);
    }

    free(memory2);
    free(memory);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr,
                "usage: %s OUTDIR\nWrite the seed corpus of every fuzz target to "
                "OUTDIR/<target>/.\n",
                argv[0]);
        return 2;
    }
    out_root = argv[1];
    if (mkdir(out_root, 0755) != 0 && errno != EEXIST)
        die(out_root, 0);
    fill_memory(filler, sizeof filler, 7);
    codec_seeds();
    pair_seeds();
    padded_seeds();
    return 0;
}
