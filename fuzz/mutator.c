/* The structure-aware mutator (mutator.h). One source, three front ends at the bottom of this
 * file: LLVMFuzzerCustomMutator (libFuzzer, with -DFUZZ_MUTATOR_LIBFUZZER), the AFL++ custom
 * mutator API (with -DFUZZ_MUTATOR_AFL, built as a shared library for
 * AFL_CUSTOM_MUTATOR_LIBRARY), and fuzz_mutate for the mutator's test.
 *
 * Method: the input is parsed into its files (pair_load.c's split format: flags, optional I/O
 * fault, then state and memory file of each chain level; or one state file), one to three
 * operations change the format's fields (header fields, lengths, counts, names, page-map bits,
 * memory pages, memory trailer fields, the levels themselves, or plain bytes), some of them
 * keeping the file consistent (a string grown by n bytes grows state_len and payload_len by n;
 * a dirty bit set adds a page CRC, a page and mem_pages), then every checksum is recomputed:
 * page CRCs from the memory file as pair_load will see it (padding included), the memory
 * trailer CRC, the state trailer. FUZZ_MUT_UNREPAIRED_PCT of mutants are left unrepaired. */
#include "mutator.h"

#include "fuzz-common.h"
#include "memio.h"

#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#error "the mutator repairs checksums: build it with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
#endif

#define MAX_LEVELS (SNAP_MAX_CHAIN + 2) /* as pair_load.c */
#define MAX_SECTIONS (2 * MAX_LEVELS)
#define ABSENT 0xffffffffu
#define PAD_MAX_RAM (16u << 20) /* pair_load.c's FUZZ_MAX_RAM: padding stops there */
#define MAX_GROW 4096u          /* bytes one operation may add */
#define MAX_FIELDS 64u

/* ---- randomness: splitmix64, seeded per mutation ---- */

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
    return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned pct)
{
    return below(r, 100) < pct;
}

/* ---- the input as files ---- */

struct section {
    bool present;
    uint8_t *p;
    size_t len, cap;
};

struct work {
    struct rng r;
    enum fuzz_mut_input kind;
    uint8_t flags;
    bool faulty;
    uint8_t fault[4];
    unsigned count; /* sections in use */
    struct section sec[MAX_SECTIONS];
    bool flags_touched;
    bool length_touched; /* a file length or payload_len was the mutation: keep it */
};

static bool sec_reserve(struct section *s, size_t len)
{
    if (len <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < len)
        cap *= 2;
    uint8_t *p = realloc(s->p, cap);
    if (!p)
        return false;
    s->p = p;
    s->cap = cap;
    return true;
}

static bool sec_set(struct section *s, const uint8_t *src, size_t len)
{
    if (!sec_reserve(s, len ? len : 1))
        return false;
    if (len)
        memcpy(s->p, src, len);
    s->len = len;
    s->present = true;
    return true;
}

/* Insert n bytes (copied from src, or zero) at off <= len. */
static bool sec_insert(struct section *s, size_t off, const uint8_t *src, size_t n)
{
    if (off > s->len || !sec_reserve(s, s->len + n))
        return false;
    memmove(s->p + off + n, s->p + off, s->len - off);
    if (src)
        memcpy(s->p + off, src, n);
    else
        memset(s->p + off, 0, n);
    s->len += n;
    return true;
}

static void sec_remove(struct section *s, size_t off, size_t n)
{
    if (off > s->len)
        return;
    if (n > s->len - off)
        n = s->len - off;
    memmove(s->p + off, s->p + off + n, s->len - off - n);
    s->len -= n;
}

static uint64_t get_n(const struct section *s, size_t off, unsigned size)
{
    if (off + size > s->len)
        return 0;
    switch (size) {
    case 1:
        return s->p[off];
    case 2:
        return snap_get_le16(s->p + off);
    case 4:
        return snap_get_le32(s->p + off);
    default:
        return snap_get_le64(s->p + off);
    }
}

static void put_n(struct section *s, size_t off, unsigned size, uint64_t v)
{
    if (off + size > s->len)
        return;
    switch (size) {
    case 1:
        s->p[off] = (uint8_t)v;
        break;
    case 2:
        snap_put_le16(s->p + off, (uint16_t)v);
        break;
    case 4:
        snap_put_le32(s->p + off, (uint32_t)v);
        break;
    default:
        snap_put_le64(s->p + off, v);
        break;
    }
}

static void work_free(struct work *w)
{
    for (unsigned i = 0; i < MAX_SECTIONS; i++)
        free(w->sec[i].p);
}

static bool parse(struct work *w, const uint8_t *data, size_t size)
{
    if (w->kind == FUZZ_MUT_STATE) {
        w->count = 1;
        return sec_set(&w->sec[0], data, size);
    }
    w->count = 0;
    if (size == 0)
        return true;
    w->flags = data[0];
    size_t at = 1;
    if (w->flags & 4) {
        if (size - at >= 4) {
            memcpy(w->fault, data + at, 4);
            w->faulty = true;
            at += 4;
        } else {
            w->flags &= (uint8_t)~4u;
        }
    }
    while (w->count < MAX_SECTIONS && size - at >= 4) {
        uint32_t len = snap_get_le32(data + at);
        at += 4;
        struct section *s = &w->sec[w->count++];
        if (len == ABSENT) {
            s->present = false;
            s->len = 0;
            continue;
        }
        size_t n = len < size - at ? len : size - at;
        if (!sec_set(s, data + at, n))
            return false;
        at += n;
    }
    return true;
}

/* Write the files back in the input format; cut at max_size (the target reads a cut input). */
static size_t serialize(const struct work *w, uint8_t *out, size_t max_size)
{
    if (w->kind == FUZZ_MUT_STATE) {
        size_t n = w->sec[0].len < max_size ? w->sec[0].len : max_size;
        memcpy(out, w->sec[0].p, n);
        return n;
    }
    size_t at = 0;
#define EMIT(src, n)                                                                               \
    do {                                                                                           \
        size_t n_ = (n) < max_size - at ? (n) : max_size - at;                                     \
        memcpy(out + at, (src), n_);                                                               \
        at += n_;                                                                                  \
    } while (0)
    uint8_t flags = (uint8_t)((w->flags & ~4u) | (w->faulty ? 4u : 0u));
    EMIT(&flags, 1);
    if (w->faulty)
        EMIT(w->fault, 4);
    for (unsigned i = 0; i < w->count && at < max_size; i++) {
        uint8_t len[4];
        snap_put_le32(len, w->sec[i].present ? (uint32_t)w->sec[i].len : ABSENT);
        EMIT(len, 4);
        if (w->sec[i].present)
            EMIT(w->sec[i].p, w->sec[i].len);
    }
#undef EMIT
    return at;
}

/* ---- state files: header fields (FORMAT.md 3.1) ---- */

enum {
    H_PAYLOAD = 16,
    H_KIND = 32,
    H_PAGE_SIZE = 36,
    H_RAM = 40,
    H_ID = 48,
    H_GEN = 64,
    H_BASE_ID = 72,
    H_BASE_GEN = 88,
    H_STATE_LEN = 96,
    H_MEM_PAGES = 104,
    H_MEM_FILE_LEN = 112,
    H_MEM_NAME = 128,
    H_BASE_NAME = 192,
};

static const struct {
    uint16_t off;
    uint8_t size;
} hdr_fields[] = {
    {0, 8},   {8, 2},   {10, 2},  {12, 4},  {16, 8},  {24, 4},  {28, 4},  {32, 4},  {36, 4},
    {40, 8},  {48, 16}, {64, 8},  {72, 16}, {88, 8},  {96, 8},  {104, 8}, {112, 8}, {120, 8},
};

/* Page map length that the header asks for, or UINT64_MAX if it cannot say. */
static uint64_t map_len(const struct section *s)
{
    uint32_t kind = (uint32_t)get_n(s, H_KIND, 4), ps = (uint32_t)get_n(s, H_PAGE_SIZE, 4);
    uint64_t ram = get_n(s, H_RAM, 8), mp = get_n(s, H_MEM_PAGES, 8);
    if (s->len < SNAP_HEADER_LEN || (ps != 4096 && ps != 16384 && ps != 65536) || ram % ps ||
        ram / ps == 0 || ram / ps > SNAP_MAX_PAGES || mp > SNAP_MAX_PAGES)
        return UINT64_MAX;
    return (kind == SNAP_KIND_DIFF ? snap_bitmap_len(ram / ps) : 0) + 8 * mp;
}

/* Make the length fields agree with the rest: mem_pages (full: every page; diff: the bitmap's
 * count), mem_file_len, payload_len, and the file length (the page map area grows or shrinks
 * at its end, before the trailer). Gives up (false) when the header cannot tell or the result
 * would be larger than cap. */
static bool fix_lengths(struct section *s, size_t cap)
{
    uint32_t kind = (uint32_t)get_n(s, H_KIND, 4), ps = (uint32_t)get_n(s, H_PAGE_SIZE, 4);
    uint64_t ram = get_n(s, H_RAM, 8), state_len = get_n(s, H_STATE_LEN, 8);
    if (s->len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN || (ps != 4096 && ps != 16384 && ps != 65536) ||
        ram % ps || ram / ps == 0 || ram / ps > SNAP_MAX_PAGES || state_len > cap)
        return false;
    uint64_t pages = ram / ps, mp = pages;
    uint64_t old_map = map_len(s);
    if (kind == SNAP_KIND_DIFF) {
        uint64_t bm = SNAP_HEADER_LEN + state_len;
        if (bm + snap_bitmap_len(pages) > s->len)
            return false;
        mp = snap_bitmap_count(s->p + bm, pages);
    }
    put_n(s, H_MEM_PAGES, 8, mp);
    put_n(s, H_MEM_FILE_LEN, 8, mp * ps + SNAP_MEM_TRAILER_LEN);
    uint64_t new_map = map_len(s);
    uint64_t want = SNAP_HEADER_LEN + state_len + new_map + SNAP_TRAILER_LEN;
    if (new_map == UINT64_MAX || want > cap)
        return false;
    put_n(s, H_PAYLOAD, 8, state_len + new_map);
    (void)old_map;
    if (want > s->len)
        return sec_insert(s, s->len - SNAP_TRAILER_LEN, NULL, (size_t)(want - s->len));
    sec_remove(s, (size_t)(want - SNAP_TRAILER_LEN), (size_t)(s->len - want));
    return true;
}

static uint64_t interesting(struct rng *r, uint64_t cur, unsigned size)
{
    static const uint64_t vals[] = {0,
                                    1,
                                    2,
                                    3,
                                    8,
                                    64,
                                    255,
                                    256,
                                    257,
                                    4096,
                                    16384,
                                    65536,
                                    1u << 20,
                                    SNAP_MAX_PAGES,
                                    SNAP_MAX_PAGES + 1,
                                    SNAP_MAX_STATE_LEN,
                                    SNAP_MAX_STATE_LEN + 1ull,
                                    SNAP_MAX_PAYLOAD,
                                    SNAP_MAX_PAYLOAD + 1,
                                    0x7fffffffffffffffull,
                                    1ull << 63,
                                    UINT64_MAX};
    uint64_t mask = size >= 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
    switch (below(r, 5)) {
    case 0:
        return (cur + 1) & mask;
    case 1:
        return (cur - 1) & mask;
    case 2:
        return rnd(r) & mask;
    case 3:
        return (cur ^ (1ull << below(r, 8 * size))) & mask;
    default:
        return vals[below(r, sizeof vals / sizeof *vals)] & mask;
    }
}

/* The id a level is stored under, as pair_load.c names it. */
static void level_id(const struct work *w, unsigned level, char out[SNAP_NAME_FIELD_LEN])
{
    snprintf(out, SNAP_NAME_FIELD_LEN, "vm");
    for (unsigned k = 0; k < level; k++) {
        const struct section *s = &w->sec[2 * k];
        char base[SNAP_NAME_FIELD_LEN] = "";
        if (s->present && s->len >= H_BASE_NAME + SNAP_NAME_FIELD_LEN &&
            memchr(s->p + H_BASE_NAME, 0, SNAP_NAME_FIELD_LEN))
            memcpy(base, s->p + H_BASE_NAME, SNAP_NAME_FIELD_LEN);
        if (snap_id_valid(base))
            memcpy(out, base, SNAP_NAME_FIELD_LEN);
        else
            snprintf(out, SNAP_NAME_FIELD_LEN, "base%u", k + 1);
    }
}

static void put_name(struct section *s, size_t off, const char *name, size_t n)
{
    if (off + SNAP_NAME_FIELD_LEN > s->len)
        return;
    memset(s->p + off, 0, SNAP_NAME_FIELD_LEN);
    memcpy(s->p + off, name, n < SNAP_NAME_FIELD_LEN ? n : SNAP_NAME_FIELD_LEN);
}

/* mem_name or base_name: right for the level, or wrong in one of the ways 3.1 names. */
static void mutate_name(struct work *w, unsigned level, struct section *s, bool base)
{
    char id[SNAP_NAME_FIELD_LEN], name[3 * SNAP_NAME_FIELD_LEN];
    uint64_t gen = get_n(s, H_GEN, 8);
    level_id(w, level, id);
    if (base)
        snprintf(id, sizeof id, "%s", chance(&w->r, 50) ? "vm" : "base1");
    int n;
    switch (below(&w->r, 10)) {
    case 0:
        n = snprintf(name, sizeof name, "%s.g%llu.mem", id, (unsigned long long)(gen + 1));
        break;
    case 1:
        n = snprintf(name, sizeof name, "%s.g0%llu.mem", id, (unsigned long long)gen);
        break;
    case 2:
        n = snprintf(name, sizeof name, "%s.g%llu.mem", "0123456789012345678901234567890123456789x",
                     (unsigned long long)gen);
        break;
    case 3:
        n = snprintf(name, sizeof name, "v!.g%llu.mem", (unsigned long long)gen);
        break;
    case 4:
        n = snprintf(name, sizeof name, "%s.g%llu.me", id, (unsigned long long)gen);
        break;
    case 5:
        n = 0;
        name[0] = '\0';
        break;
    case 6: /* 64 bytes, no NUL */
        memset(name, 'a', SNAP_NAME_FIELD_LEN);
        n = SNAP_NAME_FIELD_LEN;
        break;
    case 7: /* junk after the NUL */
        n = snprintf(name, sizeof name, "%s.g%llu.mem", id, (unsigned long long)gen);
        put_name(s, base ? H_BASE_NAME : H_MEM_NAME, name, (size_t)n);
        put_n(s, (base ? H_BASE_NAME : H_MEM_NAME) + SNAP_NAME_FIELD_LEN - 1, 1, 'x');
        return;
    default:
        n = snprintf(name, sizeof name, "%s.g%llu.mem", id, (unsigned long long)gen);
        break;
    }
    if (base) { /* a base_name is an <id>: keep what precedes ".g" */
        char *dot = strstr(name, ".g");
        if (dot && below(&w->r, 4) != 0)
            n = (int)(dot - name);
    }
    put_name(s, base ? H_BASE_NAME : H_MEM_NAME, name, (size_t)(n < 0 ? 0 : n));
}

/* ---- the encoded VM state (FORMAT.md 4) ---- */

enum ftype { F_LEN, F_COUNT, F_BOOL, F_RESERVED, F_U32, F_U64 };

struct sfield {
    uint32_t off; /* in the state file */
    uint8_t type;
    uint32_t limit;
};

struct swalk {
    struct sfield f[MAX_FIELDS];
    unsigned n;
    size_t initrd_at, mmds_at; /* where an initrd str / mmds blob goes (0: unknown) */
    size_t has_initrd, has_mmds;
    size_t vcpu_count, vcpu_end, dev_count, dev_end;
};

/* Walk the state of s as far as it reads, recording where each field is. */
static void walk_state(const struct section *s, struct swalk *sw)
{
    memset(sw, 0, sizeof *sw);
    uint64_t state_len = get_n(s, H_STATE_LEN, 8);
    if (s->len < SNAP_HEADER_LEN)
        return;
    size_t at = SNAP_HEADER_LEN, end = s->len;
    if (state_len < end - at)
        end = at + (size_t)state_len;
#define FIELD(t, sz, lim)                                                                          \
    do {                                                                                           \
        if (end - at < (sz))                                                                       \
            return;                                                                                \
        if (sw->n < MAX_FIELDS)                                                                    \
            sw->f[sw->n++] = (struct sfield){(uint32_t)at, (t), (lim)};                            \
        at += (sz);                                                                                \
    } while (0)
#define BYTES(lim)                                                                                 \
    do {                                                                                           \
        FIELD(F_LEN, 4, (lim));                                                                    \
        uint32_t n_ = snap_get_le32(s->p + at - 4);                                                \
        if (n_ > end - at)                                                                         \
            return;                                                                                \
        at += n_;                                                                                  \
    } while (0)
    FIELD(F_U32, 4, 0);
    FIELD(F_BOOL, 1, 0);
    FIELD(F_BOOL, 1, 0);
    sw->has_initrd = at;
    FIELD(F_BOOL, 1, 0);
    FIELD(F_RESERVED, 1, 0);
    BYTES(SNAP_MAX_TEMPLATE_LEN);
    BYTES(SNAP_MAX_PATH_LEN);
    sw->initrd_at = at;
    if (s->p[sw->has_initrd] == 1)
        BYTES(SNAP_MAX_PATH_LEN);
    BYTES(SNAP_MAX_PATH_LEN);
    sw->vcpu_count = at;
    FIELD(F_COUNT, 4, SNAP_MAX_VCPUS);
    uint32_t n = snap_get_le32(s->p + at - 4);
    for (uint32_t i = 0; i < n && i < SNAP_MAX_VCPUS; i++) {
        FIELD(F_U32, 4, 0);
        FIELD(F_U64, 8, 0);
        BYTES(SNAP_MAX_REGS_LEN);
    }
    sw->vcpu_end = at;
    sw->dev_count = at;
    FIELD(F_COUNT, 4, SNAP_MAX_DEVICES);
    n = snap_get_le32(s->p + at - 4);
    for (uint32_t i = 0; i < n && i < SNAP_MAX_DEVICES; i++) {
        BYTES(SNAP_MAX_DEVICE_NAME_LEN);
        BYTES(SNAP_MAX_DEVICE_STATE_LEN);
    }
    sw->dev_end = at;
    BYTES(SNAP_MAX_GIC_LEN);
    sw->has_mmds = at;
    FIELD(F_BOOL, 1, 0);
    sw->mmds_at = at;
#undef BYTES
#undef FIELD
}

/* Grow (n > 0) or shrink the state of s by n bytes at off, keeping state_len and payload_len in
 * step so that the envelope still holds. */
static bool state_splice(struct section *s, size_t off, const uint8_t *src, long n)
{
    if (n > 0 && !sec_insert(s, off, src, (size_t)n))
        return false;
    if (n < 0)
        sec_remove(s, off, (size_t)-n);
    put_n(s, H_STATE_LEN, 8, get_n(s, H_STATE_LEN, 8) + (uint64_t)n);
    put_n(s, H_PAYLOAD, 8, get_n(s, H_PAYLOAD, 8) + (uint64_t)n);
    return true;
}

static void mutate_state(struct work *w, struct section *s)
{
    struct swalk sw;
    walk_state(s, &sw);
    if (sw.n == 0)
        return;
    uint8_t fill[MAX_GROW];
    switch (below(&w->r, 6)) {
    case 0: { /* a field's value, in place */
        const struct sfield *f = &sw.f[below(&w->r, sw.n)];
        size_t rest = s->len - f->off;
        uint64_t v;
        switch (f->type) {
        case F_LEN:
        case F_COUNT: {
            const uint64_t c[] = {0, 1, f->limit, f->limit + 1ull, rest, rest + 1, UINT32_MAX};
            v = chance(&w->r, 50) ? c[below(&w->r, 7)] : interesting(&w->r, get_n(s, f->off, 4), 4);
            put_n(s, f->off, 4, v);
            break;
        }
        case F_BOOL:
        case F_RESERVED:
            put_n(s, f->off, 1, below(&w->r, 4) == 3 ? 255 : below(&w->r, 3));
            break;
        case F_U32:
            put_n(s, f->off, 4, chance(&w->r, 30) ? get_n(s, H_RAM, 8) >> 20
                                                 : interesting(&w->r, get_n(s, f->off, 4), 4));
            break;
        default:
            put_n(s, f->off, 8, rnd(&w->r));
            break;
        }
        break;
    }
    case 1: { /* a str/blob grows or shrinks, the envelope follows */
        unsigned lens = 0, pick;
        for (unsigned i = 0; i < sw.n; i++)
            lens += sw.f[i].type == F_LEN;
        if (!lens)
            return;
        pick = (unsigned)below(&w->r, lens);
        for (unsigned i = 0; i < sw.n; i++) {
            if (sw.f[i].type != F_LEN || pick--)
                continue;
            const struct sfield *f = &sw.f[i];
            uint32_t cur = (uint32_t)get_n(s, f->off, 4);
            uint64_t want = chance(&w->r, 30) ? (uint64_t)f->limit + below(&w->r, 2)
                                              : below(&w->r, 2 * (uint64_t)cur + 16);
            if (want > (uint64_t)cur + MAX_GROW)
                want = cur + MAX_GROW;
            long delta = (long)want - (long)cur;
            memset(fill, chance(&w->r, 80) ? 'a' : 0, sizeof fill);
            if (state_splice(s, f->off + 4 + (delta < 0 ? cur + delta : cur),
                             fill, delta))
                put_n(s, f->off, 4, want);
            return;
        }
        break;
    }
    case 2: /* a vCPU more or less */
        if (sw.vcpu_end) {
            uint32_t n = (uint32_t)get_n(s, sw.vcpu_count, 4);
            uint8_t e[16] = {0};
            snap_put_le32(e, n);
            if (chance(&w->r, 60) && state_splice(s, sw.vcpu_end, e, 16))
                put_n(s, sw.vcpu_count, 4, n + 1);
            else if (n > 0 && sw.vcpu_end - sw.vcpu_count >= 4 + 16 &&
                     get_n(s, sw.vcpu_end - 4, 4) == 0 && state_splice(s, sw.vcpu_end - 16, NULL, -16))
                put_n(s, sw.vcpu_count, 4, n - 1);
        }
        break;
    case 3: /* a device more */
        if (sw.dev_end) {
            uint32_t n = (uint32_t)get_n(s, sw.dev_count, 4);
            static const uint8_t d[9] = {1, 0, 0, 0, 'd', 0, 0, 0, 0};
            if (state_splice(s, sw.dev_end, d, 9))
                put_n(s, sw.dev_count, 4, n + 1);
        }
        break;
    case 4: /* has_initrd / has_mmds switched on with an empty field */
        if (chance(&w->r, 50) && sw.initrd_at && get_n(s, sw.has_initrd, 1) == 0) {
            static const uint8_t z[4];
            if (state_splice(s, sw.initrd_at, z, 4))
                put_n(s, sw.has_initrd, 1, 1);
        } else if (sw.mmds_at && get_n(s, sw.has_mmds, 1) == 0) {
            static const uint8_t z[4];
            if (state_splice(s, sw.mmds_at, z, 4))
                put_n(s, sw.has_mmds, 1, 1);
        }
        break;
    default: /* bytes added or removed at the end of the state */
        if (sw.f[sw.n - 1].off < s->len) {
            size_t end = SNAP_HEADER_LEN + (size_t)get_n(s, H_STATE_LEN, 8);
            if (end <= s->len)
                state_splice(s, end, (const uint8_t *)"\0\0\0\0\0\0\0\0",
                             chance(&w->r, 50) ? 1 : -1);
        }
        break;
    }
}

/* ---- operations ---- */

static void mutate_header(struct work *w, unsigned level, struct section *s, size_t cap)
{
    if (s->len < SNAP_HEADER_LEN)
        return;
    /* magic, version and header_len (the first four) less often: a few seeds cover their
     * checks, and a mutant that fails them never reaches the rest */
    unsigned i = (unsigned)below(&w->r, sizeof hdr_fields / sizeof *hdr_fields);
    if (i < 4 && chance(&w->r, 75))
        i = 4 + (unsigned)below(&w->r, sizeof hdr_fields / sizeof *hdr_fields - 4);
    unsigned off = hdr_fields[i].off, size = hdr_fields[i].size;
    if (size == 16) { /* snapshot_id, base_id */
        const struct section *other = level + 1 < MAX_LEVELS ? &w->sec[2 * (level + 1)] : NULL;
        if (off == H_BASE_ID && other && other->present && other->len >= SNAP_HEADER_LEN &&
            chance(&w->r, 60))
            memcpy(s->p + off, other->p + H_ID, 16);
        else if (chance(&w->r, 30))
            memset(s->p + off, 0, 16);
        else
            s->p[off + below(&w->r, 16)] ^= (uint8_t)(1u << below(&w->r, 8));
        return;
    }
    if (off == 0) { /* magic: a byte off */
        s->p[below(&w->r, 8)] ^= (uint8_t)(1u << below(&w->r, 8));
        return;
    }
    uint64_t v = interesting(&w->r, get_n(s, off, size), size);
    if (off == H_PAYLOAD)
        w->length_touched = true;
    if (off == H_KIND && chance(&w->r, 60))
        v = 1 + below(&w->r, 3);
    else if (off == H_PAGE_SIZE && chance(&w->r, 60))
        v = 4096u << (2 * below(&w->r, 3));
    else if (off == H_BASE_GEN && level + 1 < MAX_LEVELS && chance(&w->r, 60))
        v = get_n(&w->sec[2 * (level + 1)], H_GEN, 8);
    else if (off == H_RAM && chance(&w->r, 60))
        v = (uint64_t)(1 + below(&w->r, 4)) << 20;
    put_n(s, off, size, v);
    /* a change of shape, followed by the lengths that depend on it */
    if ((off == H_KIND || off == H_PAGE_SIZE || off == H_RAM || off == H_STATE_LEN) &&
        chance(&w->r, 50))
        fix_lengths(s, cap);
}

/* Dirty bit of a diff: flipped, then (mostly) mem_pages, the page map, the memory file and its
 * trailer follow. */
static void mutate_bitmap(struct work *w, unsigned level, struct section *s, size_t cap)
{
    uint32_t ps = (uint32_t)get_n(s, H_PAGE_SIZE, 4);
    uint64_t ram = get_n(s, H_RAM, 8), state_len = get_n(s, H_STATE_LEN, 8);
    if (get_n(s, H_KIND, 4) != SNAP_KIND_DIFF || map_len(s) == UINT64_MAX)
        return;
    uint64_t bm = SNAP_HEADER_LEN + state_len, bytes = snap_bitmap_len(ram / ps);
    if (bm + bytes > s->len)
        return;
    uint64_t bit = chance(&w->r, 90) ? below(&w->r, ram / ps) : below(&w->r, 8 * bytes);
    s->p[bm + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    if (chance(&w->r, 30))
        return;
    uint64_t old = get_n(s, H_MEM_PAGES, 8);
    if (!fix_lengths(s, cap))
        return;
    uint64_t now = get_n(s, H_MEM_PAGES, 8);
    struct section *m = &w->sec[2 * level + 1];
    if (!m->present || m->len < SNAP_MEM_TRAILER_LEN)
        return;
    if (!(w->flags & 2)) { /* unpadded: the page itself comes or goes */
        size_t at = m->len - SNAP_MEM_TRAILER_LEN;
        if (now > old && m->len + ps <= cap)
            sec_insert(m, at, NULL, ps);
        else if (now < old && at >= ps)
            sec_remove(m, at - ps, ps);
    }
    put_n(m, m->len - SNAP_MEM_TRAILER_LEN + 32, 8, now);
}

/* Make level+1 the right base of level: names, ids, generation, shape. */
static void bind_base(struct work *w, unsigned level)
{
    if (level + 1 >= MAX_LEVELS || 2 * level + 2 >= w->count)
        return;
    struct section *s = &w->sec[2 * level], *b = &w->sec[2 * level + 2];
    if (!s->present || !b->present || s->len < SNAP_HEADER_LEN || b->len < SNAP_HEADER_LEN)
        return;
    char id[SNAP_NAME_FIELD_LEN], name[SNAP_NAME_FIELD_LEN + 32];
    snprintf(id, sizeof id, "base%u", level + 1);
    put_name(s, H_BASE_NAME, id, strlen(id));
    memcpy(s->p + H_BASE_ID, b->p + H_ID, 16);
    put_n(s, H_BASE_GEN, 8, get_n(b, H_GEN, 8));
    put_n(b, H_PAGE_SIZE, 4, get_n(s, H_PAGE_SIZE, 4));
    put_n(b, H_RAM, 8, get_n(s, H_RAM, 8));
    int n = snprintf(name, sizeof name, "%s.g%llu.mem", id, (unsigned long long)get_n(b, H_GEN, 8));
    put_name(b, H_MEM_NAME, name, (size_t)n);
}

static void mutate_memory(struct work *w, unsigned level, struct section *m, size_t cap)
{
    const struct section *s = &w->sec[2 * level];
    if (!m->present)
        return;
    size_t t = m->len >= SNAP_MEM_TRAILER_LEN ? m->len - SNAP_MEM_TRAILER_LEN : 0;
    switch (below(&w->r, 4)) {
    case 0: /* a page byte */
        if (t)
            m->p[below(&w->r, t)] ^= (uint8_t)(1 + below(&w->r, 255));
        break;
    case 1: { /* a trailer field: the state's value, or not */
        static const struct {
            uint8_t off, size, hdr;
        } tf[] = {{8, 16, H_ID},   {24, 8, H_GEN},  {32, 8, H_MEM_PAGES}, {40, 4, H_PAGE_SIZE},
                  {44, 4, H_KIND}, {48, 8, 0},      {0, 8, 0}};
        if (m->len < SNAP_MEM_TRAILER_LEN)
            break;
        unsigned i = (unsigned)below(&w->r, sizeof tf / sizeof *tf);
        if (tf[i].size == 16) {
            if (s->present && s->len >= SNAP_HEADER_LEN && chance(&w->r, 50))
                memcpy(m->p + t + 8, s->p + H_ID, 16);
            else
                m->p[t + 8 + below(&w->r, 16)] ^= 1;
        } else if (tf[i].hdr && s->present && chance(&w->r, 50)) {
            put_n(m, t + tf[i].off, tf[i].size, get_n(s, tf[i].hdr, tf[i].size));
        } else if (tf[i].off == 0) {
            m->p[t + below(&w->r, 8)] ^= 1;
        } else {
            put_n(m, t + tf[i].off, tf[i].size,
                  interesting(&w->r, get_n(m, t + tf[i].off, tf[i].size), tf[i].size));
        }
        break;
    }
    case 2: { /* length: a byte or a page more or less, before the trailer */
        uint32_t ps = s->present ? (uint32_t)get_n(s, H_PAGE_SIZE, 4) : 0;
        size_t n = ps && ps <= 65536 && chance(&w->r, 50) ? ps : 1;
        if (chance(&w->r, 50)) {
            if (m->len + n <= cap)
                sec_insert(m, t, NULL, n);
        } else if (t >= n) {
            sec_remove(m, t - n, n);
        }
        break;
    }
    default: /* the whole trailer made right for the state file */
        if (s->present && s->len >= SNAP_HEADER_LEN && m->len >= SNAP_MEM_TRAILER_LEN) {
            memcpy(m->p + t, SNAP_MEM_MAGIC, 8);
            memcpy(m->p + t + 8, s->p + H_ID, 16);
            put_n(m, t + 24, 8, get_n(s, H_GEN, 8));
            put_n(m, t + 32, 8, get_n(s, H_MEM_PAGES, 8));
            put_n(m, t + 40, 4, get_n(s, H_PAGE_SIZE, 4));
            put_n(m, t + 44, 4, get_n(s, H_KIND, 4));
            put_n(m, t + 48, 8, 0);
        }
        break;
    }
}

/* A file's length cut or grown at one of the format's boundaries. */
static void mutate_length(struct work *w, struct section *s, size_t cap)
{
    uint64_t state_len = get_n(s, H_STATE_LEN, 8), payload = get_n(s, H_PAYLOAD, 8);
    const uint64_t at[] = {0,   1,   7,   8,   11,  12,  255, 256, 256 + state_len,
                           256 + payload, 256 + payload + 8, s->len ? s->len - 1 : 0, s->len + 1};
    uint64_t want = at[below(&w->r, sizeof at / sizeof *at)];
    w->length_touched = true;
    if (want > cap || want > s->len + MAX_GROW)
        return;
    if (want > s->len)
        sec_insert(s, s->len, NULL, (size_t)(want - s->len));
    else
        s->len = (size_t)want;
}

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

/* Plain bytes: libFuzzer's own mutator when it is linked in, else a few random edits. */
static void havoc(struct work *w, struct section *s, size_t cap)
{
    if (LLVMFuzzerMutate && s->len > 0) {
        size_t room = s->len + 64 < cap ? s->len + 64 : cap;
        if (sec_reserve(s, room) && room >= s->len)
            s->len = LLVMFuzzerMutate(s->p, s->len, room);
        return;
    }
    unsigned n = 1 + (unsigned)below(&w->r, 8);
    for (unsigned i = 0; i < n && s->len > 0; i++) {
        size_t at = (size_t)below(&w->r, s->len);
        switch (below(&w->r, 4)) {
        case 0:
            s->p[at] ^= (uint8_t)(1u << below(&w->r, 8));
            break;
        case 1:
            s->p[at] = (uint8_t)rnd(&w->r);
            break;
        case 2:
            s->p[at] = (const uint8_t[]){0, 0xff, 0x7f, 0x80, 1}[below(&w->r, 5)];
            break;
        default:
            sec_remove(s, at, 1);
            break;
        }
    }
}

/* Flags, the I/O fault, the chain levels. */
static void mutate_input(struct work *w)
{
    switch (below(&w->r, 5)) {
    case 0:
        w->flags ^= (uint8_t)(1u << below(&w->r, 2));
        w->flags_touched = true;
        break;
    case 1:
        if (!w->faulty) {
            w->faulty = true;
            for (int i = 0; i < 4; i++)
                w->fault[i] = (uint8_t)rnd(&w->r);
            w->fault[1] &= 7; /* the first few calls of a kind: the loader makes few */
        } else if (chance(&w->r, 25)) {
            w->faulty = false;
        } else {
            w->fault[below(&w->r, 4)] = (uint8_t)rnd(&w->r);
        }
        break;
    case 2: /* drop the last level, or the memory file of one */
        if (w->count >= 2 && chance(&w->r, 50))
            w->count -= 2;
        else if (w->count)
            w->sec[below(&w->r, w->count)].present = false;
        break;
    case 3: /* a level copied below (a chain grows), then bound */
        if (w->count >= 2 && w->count % 2 == 0 && w->count + 2 <= MAX_SECTIONS) {
            unsigned from = 2 * (unsigned)below(&w->r, w->count / 2);
            struct section *a = &w->sec[w->count], *b = &w->sec[w->count + 1];
            if (sec_set(a, w->sec[from].p, w->sec[from].len) &&
                sec_set(b, w->sec[from + 1].p, w->sec[from + 1].len)) {
                a->present = w->sec[from].present;
                b->present = w->sec[from + 1].present;
                w->count += 2;
                bind_base(w, w->count / 2 - 2);
            }
        }
        break;
    default:
        if (w->count >= 4)
            bind_base(w, (unsigned)below(&w->r, w->count / 2 - 1));
        break;
    }
}

static void mutate_once(struct work *w, size_t cap)
{
    /* a level is a state section and the memory section after it, if any */
    unsigned levels = w->kind == FUZZ_MUT_STATE ? 1 : (w->count + 1) / 2;
    unsigned op = (unsigned)below(&w->r, w->kind == FUZZ_MUT_STATE ? 7 : 11);
    if (w->kind == FUZZ_MUT_PAIR && (op >= 7 || levels == 0)) {
        if (op == 7 || levels == 0) {
            mutate_input(w);
            return;
        }
        unsigned level = (unsigned)below(&w->r, levels);
        if (op == 10) {
            havoc(w, &w->sec[2 * level + 1], cap);
            return;
        }
        mutate_memory(w, level, &w->sec[2 * level + 1], cap);
        return;
    }
    unsigned level = levels ? (unsigned)below(&w->r, levels) : 0;
    struct section *s = &w->sec[w->kind == FUZZ_MUT_STATE ? 0 : 2 * level];
    if (!s->present)
        return;
    switch (op) {
    case 0:
    case 1:
        mutate_header(w, level, s, cap);
        break;
    case 2:
        mutate_state(w, s);
        break;
    case 3:
        mutate_name(w, level, s, chance(&w->r, 40));
        break;
    case 4:
        mutate_bitmap(w, level, s, cap);
        break;
    case 5:
        if (chance(&w->r, 30))
            mutate_length(w, s, cap);
        else
            mutate_state(w, s);
        break;
    default:
        havoc(w, s, cap);
        break;
    }
}

/* A state file as long as its payload_len says (grown or cut before the trailer), or else
 * payload_len set from its length: a mutant that is to reach the checks after the CRC must get
 * through step 4 of 3.2 first. */
static void fit_length(struct section *s, size_t cap)
{
    if (s->len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN)
        return;
    uint64_t payload = get_n(s, H_PAYLOAD, 8);
    uint64_t want = SNAP_HEADER_LEN + payload + SNAP_TRAILER_LEN;
    if (payload <= SNAP_MAX_PAYLOAD && want <= cap && want <= s->len + MAX_GROW) {
        if (want > s->len)
            sec_insert(s, s->len - SNAP_TRAILER_LEN, NULL, (size_t)(want - s->len));
        else
            sec_remove(s, (size_t)(want - SNAP_TRAILER_LEN), (size_t)(s->len - want));
    } else {
        put_n(s, H_PAYLOAD, 8, s->len - SNAP_HEADER_LEN - SNAP_TRAILER_LEN);
    }
}

/* Every checksum, as the target will read the files: page CRCs from the memory file (padded as
 * pair_load pads it), the memory trailer, the state trailer. */
static void repair(struct work *w, size_t cap)
{
    if (w->kind == FUZZ_MUT_STATE) {
        if (!w->length_touched)
            fit_length(&w->sec[0], cap);
        fuzz_fix_state_trailer(w->sec[0].p, w->sec[0].len);
        return;
    }
    bool pad = w->flags & 2;
    for (unsigned k = 0; 2 * k < w->count; k++) {
        struct section *s = &w->sec[2 * k];
        struct section *m = 2 * k + 1 < w->count ? &w->sec[2 * k + 1] : NULL;
        if (m && !m->present)
            m = NULL;
        struct memio_file mf = {.head = m ? m->p : NULL, .head_len = m ? m->len : 0};
        if (m && m->len >= SNAP_MEM_TRAILER_LEN) {
            fuzz_fix_mem_trailer(m->p, m->len);
            mf.head_len = m->len - SNAP_MEM_TRAILER_LEN;
            mf.tail = m->p + mf.head_len;
            mf.tail_len = SNAP_MEM_TRAILER_LEN;
            if (pad && s->present && s->len >= 120) {
                uint64_t want = get_n(s, H_MEM_FILE_LEN, 8);
                if (want >= m->len && want <= PAD_MAX_RAM + SNAP_MEM_TRAILER_LEN)
                    mf.zeros = (size_t)(want - m->len);
            }
        }
        if (!s->present)
            continue;
        if (!w->length_touched)
            fit_length(s, cap);
        if (m && mf.tail_len)
            fuzz_fix_page_map(s->p, s->len, memio_file_crc, &mf, memio_file_len(&mf));
        fuzz_fix_state_trailer(s->p, s->len); /* also where the page map could not be placed */
    }
}

static int last_repaired;

int fuzz_mutate_last_repaired(void)
{
    return last_repaired;
}

size_t fuzz_mutate(enum fuzz_mut_input kind, uint8_t *data, size_t size, size_t max_size,
                   uint32_t seed)
{
    struct work w;
    memset(&w, 0, sizeof w);
    w.kind = kind;
    w.r.s = seed * 0x2545f4914f6cdd1dull + 1;
    if (max_size == 0)
        return 0;
    if (size > max_size)
        size = max_size;
    if (!parse(&w, data, size)) {
        work_free(&w);
        return size;
    }
    unsigned ops = 1 + (unsigned)below(&w.r, 3);
    for (unsigned i = 0; i < ops; i++)
        mutate_once(&w, max_size);
    last_repaired = !chance(&w.r, FUZZ_MUT_UNREPAIRED_PCT);
    if (last_repaired)
        repair(&w, max_size);
    /* The target's own repair (flags bit 0) would undo an unrepaired mutant, and is not needed
     * after this one: off, unless the flags were what this mutation changed. */
    if (!w.flags_touched)
        w.flags &= (uint8_t)~1u;
    size_t n = serialize(&w, data, max_size);
    work_free(&w);
    return n;
}

/* ---- front ends ---- */

#ifdef FUZZ_MUTATOR_LIBFUZZER
#ifdef FUZZ_MUTATOR_STATE
#define FUZZ_MUTATOR_KIND FUZZ_MUT_STATE
#else
#define FUZZ_MUTATOR_KIND FUZZ_MUT_PAIR
#endif
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    /* a share of plain libFuzzer mutations keeps its dictionary and CMP tracing at work */
    if (seed % 5 == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    return fuzz_mutate(FUZZ_MUTATOR_KIND, data, size, max_size, seed);
}
#endif

#ifdef FUZZ_MUTATOR_AFL
/* AFL++ custom mutator API (AFL_CUSTOM_MUTATOR_LIBRARY). The kind of input comes from
 * FUZZ_MUTATOR_INPUT=state|pair (scripts/fuzz sets it per target; default pair). AFL++ runs
 * its own havoc too, unless AFL_CUSTOM_MUTATOR_ONLY is set. */
struct afl_mut {
    enum fuzz_mut_input kind;
    uint32_t seed;
    uint8_t *buf;
    size_t cap;
};

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void *data);

void *afl_custom_init(void *afl, unsigned int seed)
{
    (void)afl;
    struct afl_mut *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    const char *kind = getenv("FUZZ_MUTATOR_INPUT");
    m->kind = kind && strcmp(kind, "state") == 0 ? FUZZ_MUT_STATE : FUZZ_MUT_PAIR;
    m->seed = seed;
    return m;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size)
{
    struct afl_mut *m = data;
    (void)add_buf;
    (void)add_buf_size;
    if (max_size > m->cap) {
        uint8_t *p = realloc(m->buf, max_size);
        if (!p) {
            *out_buf = buf;
            return buf_size;
        }
        m->buf = p;
        m->cap = max_size;
    }
    size_t n = buf_size < max_size ? buf_size : max_size;
    memcpy(m->buf, buf, n);
    m->seed = m->seed * 1103515245u + 12345u;
    *out_buf = m->buf;
    return fuzz_mutate(m->kind, m->buf, n, max_size, m->seed);
}

void afl_custom_deinit(void *data)
{
    struct afl_mut *m = data;
    if (m)
        free(m->buf);
    free(m);
}
#endif
