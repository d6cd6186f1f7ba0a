/* Builds the golden vectors of tests/vectors/ (see README.md there): valid state files of each
 * kind and page size, and invalid ones, each with the error FORMAT.md 3.2 and 4 assign to it;
 * and pair directories whose error 6.1 fixes across files (the order of the steps).
 * Everything is fixed (ids, generations, contents), so two runs give the same bytes. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/crc64.h"
#include "snap/envelope.h"
#include "snap/error.h"
#include "snap/state.h"

#include "vectors.h"

#define RAM_MIB 1u
#define MAX_FILE (1u << 20)

/* What a valid vector is made of. */
struct spec {
    const char *id;
    uint32_t kind;
    uint32_t page_size;
    uint64_t generation;
    uint8_t id_seed; /* snapshot_id bytes are id_seed + i */
    bool initrd, mmds, devices;
    uint32_t vcpus; /* 0 means 2 */
    int dirty;      /* diff: 0 none, 1 a few (0, 5, last), 2 all */
    uint16_t minor;
    uint32_t flags;
};

/* ---- the VM state ---- */

static uint8_t regs_buf[8][64];
static uint8_t gic_buf[48];
static uint8_t dev_buf[2][20];
static const char mmds_json[] = "{\"latest\":{\"meta-data\":{\"instance-id\":\"i-0\"}}}";

static void fill_state(struct snap_vm_state *st, struct snap_vcpu *v, struct snap_device *d,
                       const struct spec *s)
{
    uint32_t n = s->vcpus != 0 ? s->vcpus : 2;

    memset(st, 0, sizeof(*st));
    st->info.mem_size_mib = RAM_MIB;
    st->info.smt = false;
    st->info.track_dirty_pages = s->kind == SNAP_KIND_DIFF;
    st->info.cpu_template = "V1N1";
    st->info.kernel_image_path = "/var/lib/vm/vmlinux-6.1";
    st->info.initrd_path = s->initrd ? "/var/lib/vm/initrd.img" : NULL;
    st->info.boot_args = "console=ttyAMA0 reboot=k panic=1";
    for (uint32_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof(regs_buf[i]); j++)
            regs_buf[i][j] = (uint8_t)(i * 31 + j);
        v[i] = (struct snap_vcpu){.index = i,
                                  .mpidr = 0x80000000ull | i,
                                  .regs = regs_buf[i],
                                  .regs_len = (uint32_t)sizeof(regs_buf[i])};
    }
    st->vcpus = v;
    st->vcpu_count = n;
    if (s->devices) {
        for (size_t j = 0; j < sizeof(dev_buf[0]); j++) {
            dev_buf[0][j] = (uint8_t)(0x40 + j);
            dev_buf[1][j] = (uint8_t)(0x80 + j);
        }
        d[0] = (struct snap_device){.name = "virtio-blk0", .state = dev_buf[0], .state_len = 20};
        d[1] = (struct snap_device){.name = "serial-ttyAMA0", .state = dev_buf[1], .state_len = 7};
        st->devices = d;
        st->device_count = 2;
    }
    for (size_t j = 0; j < sizeof(gic_buf); j++)
        gic_buf[j] = (uint8_t)(0xC0 ^ j);
    st->gic = gic_buf;
    st->gic_len = (uint32_t)sizeof(gic_buf);
    st->has_mmds = s->mmds;
    st->mmds = s->mmds ? (uint8_t *)(uintptr_t)mmds_json : NULL;
    st->mmds_len = s->mmds ? (uint32_t)strlen(mmds_json) : 0;
}

/* ---- the envelope ---- */

/* Page i of a vector pair holds page_size bytes of value (7 * i + generation) mod 256. */
static uint64_t page_crc(uint64_t page, uint32_t page_size, uint64_t generation)
{
    static uint8_t buf[65536];

    memset(buf, (int)((7 * page + generation) & 0xffu), page_size);
    return snap_crc64(0, buf, page_size);
}

struct built {
    uint8_t *file;
    size_t len;
    size_t state_off, state_len; /* where the state lies in file */
    size_t map_off;
};

/* Build the valid state file of s around the given state bytes. @return 0 or -1. */
static int build_raw(struct built *b, const struct spec *s, const uint8_t *state, size_t state_len)
{
    struct snap_header h;
    static uint8_t bitmap[SNAP_MAX_PAGES / 8 / 1024];
    static uint64_t crcs[1024];
    uint64_t pages;

    memset(&h, 0, sizeof(h));
    memset(bitmap, 0, sizeof(bitmap));
    h.version_major = SNAP_VERSION_MAJOR;
    h.version_minor = s->minor;
    h.header_len = SNAP_HEADER_LEN;
    h.schema_version = SNAP_SCHEMA_VERSION;
    h.flags = s->flags;
    h.kind = s->kind;
    h.page_size = s->page_size;
    h.ram_size = (uint64_t)RAM_MIB << 20;
    pages = h.ram_size / h.page_size;
    for (int i = 0; i < 16; i++)
        h.snapshot_id[i] = (uint8_t)(s->id_seed + i);
    h.generation = s->generation;
    h.state_len = state_len;
    if (s->kind == SNAP_KIND_DIFF) {
        for (int i = 0; i < 16; i++)
            h.base_id[i] = (uint8_t)(0xB0 + i);
        h.base_generation = s->generation - 1;
        snprintf(h.base_name, sizeof(h.base_name), "%s-base", s->id);
        for (uint64_t p = 0; p < pages; p++) {
            bool set = s->dirty == 2 || (s->dirty == 1 && (p == 0 || p == 5 || p == pages - 1));

            if (set) {
                crcs[h.mem_pages++] = page_crc(p, h.page_size, h.generation);
                snap_bitmap_set(bitmap, p);
            }
        }
    } else {
        for (uint64_t p = 0; p < pages; p++)
            crcs[p] = page_crc(p, h.page_size, h.generation);
        h.mem_pages = pages;
    }
    h.mem_file_len = h.mem_pages * h.page_size + SNAP_MEM_TRAILER_LEN;
    if (snprintf(h.mem_name, sizeof(h.mem_name), "%s.g%" PRIu64 ".mem", s->id, s->generation) >=
        (int)sizeof(h.mem_name))
        return -1;
    h.payload_len = h.state_len + snap_page_map_len(&h);
    b->file = malloc(MAX_FILE);
    if (b->file == NULL)
        return -1;
    if (snap_envelope_encode(b->file, MAX_FILE, &b->len, &h, state,
                             s->kind == SNAP_KIND_DIFF ? bitmap : NULL, crcs) != 0) {
        fprintf(stderr, "vectors: cannot encode %s\n", s->id);
        free(b->file);
        return -1;
    }
    b->state_off = SNAP_HEADER_LEN;
    b->state_len = state_len;
    b->map_off = SNAP_HEADER_LEN + state_len;
    return 0;
}

/* Build with a state from fill_state, optionally edited by fix before encoding. */
static int build(struct built *b, const struct spec *s, void (*fix)(struct snap_vm_state *))
{
    struct snap_vm_state st;
    struct snap_vcpu v[8];
    struct snap_device d[2];
    uint8_t *state;
    size_t state_len;
    int rc;

    fill_state(&st, v, d, s);
    if (fix != NULL)
        fix(&st);
    if (snap_state_encode_alloc(&state, &state_len, &st) != 0)
        return -1;
    rc = build_raw(b, s, state, state_len);
    free(state);
    return rc;
}

static void resign(struct built *b)
{
    snap_put_le64(b->file + b->len - 8, snap_crc64(0, b->file, b->len - 8));
}

/* ---- the list ---- */

static int emit_built(vectors_emit_fn emit, void *ctx, const char *id, const char *expect,
                      const char *desc, struct built *b)
{
    char file[64];
    int rc;

    snprintf(file, sizeof(file), "%s.snap", id);
    rc = emit(ctx, file, expect, desc, b->file, b->len);
    free(b->file);
    b->file = NULL;
    return rc;
}

static void fix_smt(struct snap_vm_state *st)
{
    st->info.smt = true;
}

static void fix_no_vcpu(struct snap_vm_state *st)
{
    st->vcpu_count = 0;
}

static void fix_index(struct snap_vm_state *st)
{
    st->vcpus[0].index = 1;
    st->vcpus[1].index = 0;
}

static void fix_mem_size(struct snap_vm_state *st)
{
    st->info.mem_size_mib = 2;
}

static const struct spec base_full = {
    .id = "f4k", .kind = SNAP_KIND_FULL, .page_size = 4096, .generation = 1, .id_seed = 0x11};

/* A header edit of a valid 4 KiB full file, with or without a new trailer. */
struct header_case {
    const char *id, *expect, *desc;
    size_t off;
    unsigned width; /* 2, 4, 8; 0: fill 'bytes' bytes at off with 'value' */
    uint64_t value;
    size_t bytes;
    bool resign;
    uint32_t kind;
};

static const struct header_case header_cases[] = {
    {"bad_major", "SNAP_EVERSION", "version_major 2 (checked before the CRC)", 8, 2, 2, 0, false,
     1},
    {"bad_major0", "SNAP_EVERSION", "version_major 0", 8, 2, 0, 0, false, 1},
    {"bad_header_len", "SNAP_ECORRUPT", "header_len 512", 12, 4, 512, 0, false, 1},
    {"bad_payload_limit", "SNAP_ELIMIT", "payload_len over SNAP_MAX_PAYLOAD", 16, 8,
     SNAP_MAX_PAYLOAD + 1, 0, false, 1},
    {"bad_payload_long", "SNAP_ETRUNC", "payload_len 8 more than the file holds", 16, 8, 0, 8,
     false, 1},
    {"bad_schema", "SNAP_EVERSION", "schema_version 2, CRC valid", 24, 4, 2, 0, true, 1},
    {"bad_incompat_flag", "SNAP_EVERSION", "incompatible flag bit 0, CRC valid", 28, 4, 1, 0, true,
     1},
    {"bad_incompat_flag15", "SNAP_EVERSION", "incompatible flag bit 15, CRC valid", 28, 4, 0x8000,
     0, true, 1},
    {"bad_kind", "SNAP_ECORRUPT", "kind 3", 32, 4, 3, 0, true, 1},
    {"bad_page_size", "SNAP_ECORRUPT", "page_size 8192", 36, 4, 8192, 0, true, 1},
    {"bad_ram_multiple", "SNAP_ECORRUPT", "ram_size not a multiple of page_size", 40, 8,
     (1u << 20) + 512, 0, true, 1},
    {"bad_ram_zero", "SNAP_ECORRUPT", "ram_size 0", 40, 8, 0, 0, true, 1},
    {"bad_ram_pages_limit", "SNAP_ELIMIT", "ram_size of 2^24 + 1 pages", 40, 8,
     (SNAP_MAX_PAGES + 1) * 4096, 0, true, 1},
    {"bad_snapshot_id_zero", "SNAP_ECORRUPT", "snapshot_id all zero", 48, 0, 0, 16, true, 1},
    {"bad_generation_zero", "SNAP_ECORRUPT", "generation 0", 64, 8, 0, 0, true, 1},
    {"bad_generation_high", "SNAP_ECORRUPT", "generation 2^63", 64, 8, 1ull << 63, 0, true, 1},
    {"bad_full_base_id", "SNAP_ECORRUPT", "full with a base_id", 72, 8, 1, 0, true, 1},
    {"bad_full_base_gen", "SNAP_ECORRUPT", "full with a base_generation", 88, 8, 1, 0, true, 1},
    {"bad_state_len_limit", "SNAP_ELIMIT", "state_len over 64 MiB", 96, 8, (64u << 20) + 1, 0, true,
     1},
    {"bad_state_len", "SNAP_ECORRUPT", "state_len one less: payload_len mismatch", 96, 8, 0, 1,
     true, 1},
    {"bad_mem_pages", "SNAP_ECORRUPT", "full with mem_pages one short", 104, 8, 255, 0, true, 1},
    {"bad_mem_file_len", "SNAP_ECORRUPT", "mem_file_len without the 64-byte trailer", 112, 8,
     256 * 4096, 0, true, 1},
    {"bad_reserved", "SNAP_ECORRUPT", "reserved field not zero", 120, 8, 1, 0, true, 1},
    {"bad_mem_name_pad", "SNAP_ECORRUPT", "mem_name with a non-zero byte after the NUL", 190, 0,
     'x', 1, true, 1},
    {"bad_full_base_name", "SNAP_ECORRUPT", "full with a base_name", 192, 0, 'b', 1, true, 1},
    {"bad_diff_base_id_zero", "SNAP_ECORRUPT", "diff with base_id all zero", 72, 0, 0, 16, true, 2},
    {"bad_diff_base_gen_zero", "SNAP_ECORRUPT", "diff with base_generation 0", 88, 8, 0, 0, true,
     2},
    {"bad_diff_mem_pages", "SNAP_ECORRUPT", "diff with more stored pages than guest pages", 104, 8,
     257, 0, true, 2},
    {"bad_diff_base_name", "SNAP_ECORRUPT", "diff with a base_name holding '.'", 192, 0, '.', 1,
     true, 2},
};

static int header_vectors(vectors_emit_fn emit, void *ctx)
{
    for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
        const struct header_case *c = &header_cases[i];
        struct spec s = base_full;
        struct built b;
        uint64_t v = c->value;
        int rc;

        s.id = c->id;
        if (c->kind == SNAP_KIND_DIFF) {
            s.kind = SNAP_KIND_DIFF;
            s.generation = 2;
            s.dirty = 1;
        }
        if (build(&b, &s, NULL) != 0)
            return -1;
        /* value 0 with bytes != 0 on a number: relative edit of the current value */
        if (c->width != 0 && c->value == 0 && c->bytes != 0) {
            uint64_t cur = snap_get_le64(b.file + c->off);

            v = c->off == 16 ? cur + c->bytes : cur - c->bytes;
        }
        switch (c->width) {
        case 2:
            snap_put_le16(b.file + c->off, (uint16_t)v);
            break;
        case 4:
            snap_put_le32(b.file + c->off, (uint32_t)v);
            break;
        case 8:
            snap_put_le64(b.file + c->off, v);
            break;
        default:
            memset(b.file + c->off, (int)v, c->bytes);
            break;
        }
        if (c->resign)
            resign(&b);
        rc = emit_built(emit, ctx, c->id, c->expect, c->desc, &b);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int valid_vectors(vectors_emit_fn emit, void *ctx)
{
    static const struct {
        struct spec s;
        const char *desc;
    } ok[] = {
        {{.id = "ok_full_4k", .kind = 1, .page_size = 4096, .generation = 1, .id_seed = 0x01},
         "full, 4 KiB pages, no initrd, no mmds, no devices"},
        {{.id = "ok_full_16k",
          .kind = 1,
          .page_size = 16384,
          .generation = 3,
          .id_seed = 0x21,
          .initrd = true,
          .mmds = true,
          .devices = true},
         "full, 16 KiB pages, initrd, mmds, 2 devices"},
        {{.id = "ok_full_64k",
          .kind = 1,
          .page_size = 65536,
          .generation = 12,
          .id_seed = 0x31,
          .initrd = true,
          .devices = true,
          .vcpus = 8},
         "full, 64 KiB pages, initrd, 2 devices, 8 vCPUs"},
        {{.id = "ok_diff_4k",
          .kind = 2,
          .page_size = 4096,
          .generation = 2,
          .id_seed = 0x41,
          .mmds = true,
          .dirty = 1},
         "diff, 4 KiB pages, pages 0, 5 and 255 dirty, mmds"},
        {{.id = "ok_diff_16k",
          .kind = 2,
          .page_size = 16384,
          .generation = 5,
          .id_seed = 0x51,
          .dirty = 0},
         "diff, 16 KiB pages, no dirty page (mem_pages 0)"},
        {{.id = "ok_diff_64k",
          .kind = 2,
          .page_size = 65536,
          .generation = 9,
          .id_seed = 0x61,
          .initrd = true,
          .mmds = true,
          .devices = true,
          .dirty = 2},
         "diff, 64 KiB pages, every page dirty, initrd, mmds, 2 devices"},
        {{.id = "ok_minor_compat_flag",
          .kind = 1,
          .page_size = 16384,
          .generation = 1,
          .id_seed = 0x71,
          .minor = 3,
          .flags = 0x00010000u},
         "version 1.3 with compatible flag bit 16: readers of 1.0 accept it"},
        {{.id = "Ab-0123456789_0123456789_0123456789_wxyz",
          .kind = 1,
          .page_size = 65536,
          .generation = 99999999999999999ull,
          .id_seed = 0x81},
         "40-byte <id>, 17-digit generation: a 63-byte mem_name, the most the field holds"},
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct built b;
        int rc;

        if (build(&b, &ok[i].s, NULL) != 0)
            return -1;
        rc = emit_built(emit, ctx, ok[i].s.id, "ok", ok[i].desc, &b);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Damage anywhere other than the header. */
static int damage_vectors(vectors_emit_fn emit, void *ctx)
{
    struct spec s = base_full;
    struct spec d = base_full;
    struct built b;
    uint8_t zeros[4096] = {0};
    int rc;

    d.kind = SNAP_KIND_DIFF;
    d.generation = 2;
    d.dirty = 1;
#define EMIT(id_, expect, desc)                                                                    \
    do {                                                                                           \
        rc = emit_built(emit, ctx, id_, expect, desc, &b);                                         \
        if (rc != 0)                                                                               \
            return rc;                                                                             \
    } while (0)
#define BUILD(spec_, id_, fix)                                                                     \
    do {                                                                                           \
        spec_.id = id_;                                                                            \
        if (build(&b, &spec_, fix) != 0)                                                           \
            return -1;                                                                             \
    } while (0)
    if ((rc = emit(ctx, "bad_empty.snap", "SNAP_ETRUNC", "empty file", zeros, 0)) != 0 ||
        (rc = emit(ctx, "bad_zero.snap", "SNAP_EMAGIC", "4096 zero bytes", zeros, 4096)) != 0)
        return rc;
    BUILD(s, "bad_magic_prefix", NULL);
    b.len = 5;
    EMIT("bad_magic_prefix", "SNAP_ETRUNC", "the first 5 bytes of a valid file");
    BUILD(s, "bad_magic", NULL);
    b.file[1] = 's';
    resign(&b);
    EMIT("bad_magic", "SNAP_EMAGIC", "magic with 's' for 'S', CRC valid");
    BUILD(s, "bad_trunc_header", NULL);
    b.len = 200;
    EMIT("bad_trunc_header", "SNAP_ETRUNC", "cut inside the header");
    BUILD(s, "bad_trunc_trailer", NULL);
    b.len -= 1;
    EMIT("bad_trunc_trailer", "SNAP_ETRUNC", "last byte of the trailer missing");
    BUILD(s, "bad_trailing", NULL);
    b.file[b.len++] = 0;
    EMIT("bad_trailing", "SNAP_ECORRUPT", "one zero byte after the trailer");
    BUILD(s, "bad_crc_state", NULL);
    b.file[b.state_off + 10] ^= 0x04;
    EMIT("bad_crc_state", "SNAP_ECRC", "one bit flipped in the state");
    BUILD(s, "bad_crc_map", NULL);
    b.file[b.map_off + 8 * 17 + 3] ^= 0x80;
    EMIT("bad_crc_map", "SNAP_ECRC", "one bit flipped in the CRC of page 17");
    BUILD(s, "bad_crc_trailer", NULL);
    b.file[b.len - 1] ^= 0x01;
    EMIT("bad_crc_trailer", "SNAP_ECRC", "one bit flipped in the trailer");
    BUILD(s, "bad_crc_minor", NULL);
    b.file[10] = 1;
    EMIT("bad_crc_minor", "SNAP_ECRC", "version_minor changed without a new CRC");
    BUILD(s, "bad_mem_name_gen", NULL);
    b.file[128 + strlen("bad_mem_name_gen.g")] = '2';
    resign(&b);
    EMIT("bad_mem_name_gen", "SNAP_ECORRUPT", "mem_name says g2, generation is 1");
    BUILD(s, "bad_mem_name_id", NULL);
    b.file[128] = 'B';
    resign(&b);
    EMIT("bad_mem_name_id", "SNAP_ECORRUPT",
         "mem_name of another <id> (Bad_mem_name_id): fails the <id> prefix check of 6.1");
    /* Tail bits need a page count that is not a multiple of 8: build the 256-page diff
     * (pages 0, 5, 255 dirty) and shrink ram_size to 250 pages, which keeps the 32-byte bitmap
     * and so every length; bit 255 is then past the last page. */
    BUILD(d, "bad_bitmap_tail", NULL);
    snap_put_le64(b.file + 40, 250ull * 4096);
    resign(&b);
    EMIT("bad_bitmap_tail", "SNAP_ECORRUPT",
         "diff of 250 pages whose bitmap has bit 255 (past the last page) set");
    BUILD(d, "bad_bitmap_count", NULL);
    b.file[b.map_off] |= 0x02;
    resign(&b);
    EMIT("bad_bitmap_count", "SNAP_ECORRUPT", "diff whose bitmap has 4 bits set, mem_pages 3");
    return 0;
}

/* State damage under a valid envelope. */
static int state_vectors(vectors_emit_fn emit, void *ctx)
{
    struct spec s = base_full;
    struct snap_vm_state st;
    struct snap_vcpu v[8];
    struct snap_device d[2];
    struct built b;
    uint8_t *enc, *edit;
    size_t enc_len;
    int rc;

    s.devices = true;
    s.initrd = true;
    fill_state(&st, v, d, &s);
    if (snap_state_encode_alloc(&enc, &enc_len, &st) != 0)
        return -1;
    edit = malloc(enc_len + 1);
    if (edit == NULL) {
        free(enc);
        return -1;
    }
    static const struct {
        const char *id, *expect, *desc;
        long off; /* byte to set (negative: from the end); -100: cut the last byte; -101: add */
        uint8_t value;
    } cases[] = {
        {"bad_state_bool", "SNAP_ECORRUPT", "state: smt byte is 2", 4, 2},
        {"bad_state_reserved", "SNAP_ECORRUPT", "state: vm_info reserved byte is 1", 7, 1},
        {"bad_state_nul", "SNAP_ECORRUPT", "state: NUL inside cpu_template", 13, 0},
        {"bad_state_template_limit", "SNAP_ELIMIT", "state: cpu_template length 65", 9, 0},
        {"bad_state_mmds_flag", "SNAP_ECORRUPT", "state: has_mmds byte is 7", -1, 7},
        {"bad_state_trunc", "SNAP_ETRUNC", "state: last byte missing (state_len one shorter)", -100,
         0},
        {"bad_state_trailing", "SNAP_ECORRUPT", "state: one byte after has_mmds", -101, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = enc_len;

        memcpy(edit, enc, enc_len);
        if (cases[i].off == -100) {
            len--;
        } else if (cases[i].off == -101) {
            edit[len++] = 0;
        } else if (cases[i].off == 9) {
            snap_put_le32(edit + 8, 65); /* length field of cpu_template */
        } else {
            edit[cases[i].off < 0 ? (long)len + cases[i].off : cases[i].off] = cases[i].value;
        }
        s.id = cases[i].id;
        if (build_raw(&b, &s, edit, len) != 0) {
            rc = -1;
            goto out;
        }
        rc = emit_built(emit, ctx, cases[i].id, cases[i].expect, cases[i].desc, &b);
        if (rc != 0)
            goto out;
    }
    {
        /* vcpu_count 257 in place of 2 (offset after the strings). */
        size_t off = 8 + 4 + strlen(st.info.cpu_template) + 4 + strlen(st.info.kernel_image_path) +
                     4 + strlen(st.info.initrd_path) + 4 + strlen(st.info.boot_args);

        memcpy(edit, enc, enc_len);
        snap_put_le32(edit + off, 257);
        s.id = "bad_state_vcpu_limit";
        if (build_raw(&b, &s, edit, enc_len) != 0) {
            rc = -1;
            goto out;
        }
        rc = emit_built(emit, ctx, s.id, "SNAP_ELIMIT", "state: vcpu_count 257", &b);
        if (rc != 0)
            goto out;
    }
    s = base_full;
    BUILD(s, "bad_incompat_no_vcpu", fix_no_vcpu);
    EMIT("bad_incompat_no_vcpu", "SNAP_EINCOMPAT", "state decodes, has no vCPU");
    BUILD(s, "bad_incompat_smt", fix_smt);
    EMIT("bad_incompat_smt", "SNAP_EINCOMPAT", "state decodes, smt is true");
    BUILD(s, "bad_incompat_index", fix_index);
    EMIT("bad_incompat_index", "SNAP_EINCOMPAT", "state decodes, vCPU indexes 1, 0");
    BUILD(s, "bad_incompat_mem_size", fix_mem_size);
    EMIT("bad_incompat_mem_size", "SNAP_EINCOMPAT", "mem_size_mib 2 with a 1 MiB ram_size");
    rc = 0;
out:
    free(edit);
    free(enc);
    return rc;
#undef EMIT
#undef BUILD
}

/* ---- pair directories: the order of FORMAT.md 6.1 across files ---- */

/* Emit the memory file of the pair whose state file is b, as <dir>/<mem_name>: the stored pages
 * (page i of generation g is bytes (7i + g) mod 256) then the trailer; bad_page: a guest page
 * whose first byte is flipped (UINT64_MAX: none). @return as emit, or -1. */
static int emit_mem(vectors_emit_fn emit, void *ctx, const char *dir, const struct built *b,
                    uint64_t bad_page, const char *desc)
{
    struct snap_envelope env;
    struct snap_mem_trailer t;
    char file[128];
    uint8_t *buf;
    uint64_t k = 0;
    int rc;

    if (snap_envelope_decode(&env, b->file, b->len, NULL) != 0)
        return -1;
    const struct snap_header *h = &env.hdr;
    buf = calloc(1, (size_t)h->mem_file_len);
    if (buf == NULL)
        return -1;
    for (uint64_t p = 0; p < h->ram_size / h->page_size; p++) {
        if (h->kind == SNAP_KIND_DIFF && !snap_bitmap_test(env.bitmap, p))
            continue;
        memset(buf + k * h->page_size, (int)((7 * p + h->generation) & 0xffu), h->page_size);
        if (p == bad_page)
            buf[k * h->page_size] ^= 0x01;
        k++;
    }
    memset(&t, 0, sizeof(t));
    memcpy(t.snapshot_id, h->snapshot_id, sizeof(t.snapshot_id));
    t.generation = h->generation;
    t.mem_pages = h->mem_pages;
    t.page_size = h->page_size;
    t.kind = h->kind;
    snap_mem_trailer_encode(buf + k * h->page_size, &t);
    snprintf(file, sizeof(file), "%s/%s", dir, h->mem_name);
    rc = emit(ctx, file, "-", desc, buf, (size_t)h->mem_file_len);
    free(buf);
    return rc;
}

/* Offset of vcpu_count in the state of a spec without initrd (after vm_info's strings). */
static size_t vcpu_count_offset(const struct spec *s)
{
    struct snap_vm_state st;
    struct snap_vcpu v[8];
    struct snap_device d[2];

    fill_state(&st, v, d, s);
    return 8 + 4 + strlen(st.info.cpu_template) + 4 + strlen(st.info.kernel_image_path) + 4 +
           strlen(st.info.boot_args);
}

/* Directories of files, loaded as a whole (6.1): each pins where the VM state is decoded. The
 * state is part of step 1, so a bad state is the error even when a later step fails too. */
static int pair_vectors(vectors_emit_fn emit, void *ctx)
{
    struct spec full = base_full;
    struct spec diff = base_full;
    struct built b;
    int rc;

    full.id = "vm";
    diff.id = "vm";
    diff.kind = SNAP_KIND_DIFF;
    diff.generation = 2;
    diff.dirty = 1;
    /* An incompatible state (smt true) and no memory file. */
    if (build(&b, &full, fix_smt) != 0)
        return -1;
    rc = emit(ctx, "order_state_then_mem/vm.snap", "SNAP_EINCOMPAT",
              "full, smt true (step 1) and its memory file missing (step 3)", b.file, b.len);
    free(b.file);
    if (rc != 0)
        return rc;
    /* vcpu_count 300 and a damaged page 5. */
    if (build(&b, &diff, NULL) != 0)
        return -1;
    snap_put_le32(b.file + b.state_off + vcpu_count_offset(&diff), 300);
    resign(&b);
    rc = emit(ctx, "order_state_then_page/vm.snap", "SNAP_ELIMIT",
              "diff, vcpu_count 300 (step 1) and page 5 of its memory file damaged (step 4)",
              b.file, b.len);
    if (rc == 0)
        rc = emit_mem(emit, ctx, "order_state_then_page", &b, 5,
                      "memory file of order_state_then_page/vm.snap, page 5 damaged");
    free(b.file);
    if (rc != 0)
        return rc;
    /* A bad bool in the diff's state, a good memory file, no base. */
    if (build(&b, &diff, NULL) != 0)
        return -1;
    b.file[b.state_off + 4] = 2;
    resign(&b);
    rc = emit(ctx, "order_state_then_base/vm.snap", "SNAP_ECORRUPT",
              "diff, smt byte 2 (step 1) and its base vm-base missing (step 5)", b.file, b.len);
    if (rc == 0)
        rc = emit_mem(emit, ctx, "order_state_then_base", &b, UINT64_MAX,
                      "memory file of order_state_then_base/vm.snap, valid");
    free(b.file);
    return rc;
}

int vectors_generate(vectors_emit_fn emit, void *ctx)
{
    int rc;

    if ((rc = valid_vectors(emit, ctx)) != 0 || (rc = damage_vectors(emit, ctx)) != 0 ||
        (rc = header_vectors(emit, ctx)) != 0 || (rc = state_vectors(emit, ctx)) != 0 ||
        (rc = pair_vectors(emit, ctx)) != 0)
        return rc;
    return 0;
}

int vectors_decode(const char *stem, const uint8_t *data, size_t len)
{
    struct snap_envelope env;
    struct snap_vm_state st;
    size_t n = strlen(stem);
    int rc;

    rc = snap_envelope_decode(&env, data, len, NULL);
    if (rc != 0)
        return rc;
    rc = snap_state_decode(&st, env.state, (size_t)env.hdr.state_len);
    if (rc != 0)
        return rc;
    rc = snap_state_verify_compatible(&st, env.hdr.ram_size, NULL);
    snap_state_finish(&st);
    if (rc != 0)
        return rc;
    if (strncmp(env.hdr.mem_name, stem, n) != 0 || env.hdr.mem_name[n] != '.')
        return SNAP_ECORRUPT;
    return 0;
}
