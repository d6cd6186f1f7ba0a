/* The property shared by state_decode and state_decode_crcfix: decoding any bytes ends in a
 * documented error with a diagnostic and a zeroed result, or in a result that obeys every rule
 * of docs/FORMAT.md 3-5 (checked here independently of the decoder, field by field). */
#ifndef FUZZ_DECODE_H
#define FUZZ_DECODE_H

#include "fuzz-common.h"
#include "fuzz-state-ref.h"

static inline bool fuzz_all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* True if name is "<id>.g<generation>.mem" with a valid <id> (FORMAT.md 1). */
static inline bool fuzz_mem_name_ok(const char *name, uint64_t generation)
{
    char suffix[40];
    snprintf(suffix, sizeof suffix, ".g%llu.mem", (unsigned long long)generation);
    size_t n = strlen(name), s = strlen(suffix);
    if (n <= s || n - s > SNAP_ID_MAX_LEN || strcmp(name + n - s, suffix) != 0)
        return false;
    char id[SNAP_ID_MAX_LEN + 1];
    memcpy(id, name, n - s);
    id[n - s] = '\0';
    return snap_id_valid(id);
}

/* True if name is 1 to 63 bytes of the file name alphabet [A-Za-z0-9_.-] (FORMAT.md 1, 3.1).
 * Whether it is "<id>.g<gen>.mem" for the right <id> is the loader's check (6.1 step 2). */
static inline bool fuzz_file_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > SNAP_NAME_FIELD_LEN - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* A name field of the decoded header: NUL-terminated inside its 64 bytes. */
static inline bool fuzz_name_field_ok(const char field[SNAP_NAME_FIELD_LEN])
{
    return memchr(field, '\0', SNAP_NAME_FIELD_LEN) != NULL;
}

static inline bool fuzz_header_equal(const struct snap_header *a, const struct snap_header *b)
{
    return a->version_major == b->version_major && a->version_minor == b->version_minor &&
           a->header_len == b->header_len && a->payload_len == b->payload_len &&
           a->schema_version == b->schema_version && a->flags == b->flags && a->kind == b->kind &&
           a->page_size == b->page_size && a->ram_size == b->ram_size &&
           memcmp(a->snapshot_id, b->snapshot_id, 16) == 0 && a->generation == b->generation &&
           memcmp(a->base_id, b->base_id, 16) == 0 && a->base_generation == b->base_generation &&
           a->state_len == b->state_len && a->mem_pages == b->mem_pages &&
           a->mem_file_len == b->mem_file_len && strcmp(a->mem_name, b->mem_name) == 0 &&
           strcmp(a->base_name, b->base_name) == 0;
}

/* The error FORMAT.md 3.2 prescribes for steps 1 to `last_step` (at most 6), written from the
 * spec independently of the decoder: 0 when src passes them. Steps 1-6 fully determine the
 * error of a file that fails them; that order is what the golden vectors rely on. */
static inline int fuzz_spec_error(const uint8_t *src, size_t len, int last_step)
{
    if (len < 8) /* 1 */
        return memcmp(src, SNAP_MAGIC, len) == 0 ? SNAP_ETRUNC : SNAP_EMAGIC;
    if (memcmp(src, SNAP_MAGIC, 8) != 0)
        return SNAP_EMAGIC;
    if (len < 12) /* 2 */
        return SNAP_ETRUNC;
    if (snap_get_le16(src + 8) != SNAP_VERSION_MAJOR)
        return SNAP_EVERSION;
    if (len < SNAP_HEADER_LEN) /* 3 */
        return SNAP_ETRUNC;
    if (snap_get_le32(src + 12) != SNAP_HEADER_LEN)
        return SNAP_ECORRUPT;
    if (last_step < 4)
        return 0;
    uint64_t payload_len = snap_get_le64(src + 16); /* 4 */
    if (payload_len > SNAP_MAX_PAYLOAD)
        return SNAP_ELIMIT;
    if (len - SNAP_HEADER_LEN < payload_len + SNAP_TRAILER_LEN)
        return SNAP_ETRUNC;
    if (len - SNAP_HEADER_LEN > payload_len + SNAP_TRAILER_LEN)
        return SNAP_ECORRUPT;
    size_t body = len - SNAP_TRAILER_LEN; /* 5 */
    if (snap_get_le64(src + body) != snap_crc64(0, src, body))
        return SNAP_ECRC;
    if (snap_get_le32(src + 24) != SNAP_SCHEMA_VERSION || /* 6 */
        (snap_get_le32(src + 28) & SNAP_FLAGS_INCOMPAT_MASK) != 0)
        return SNAP_EVERSION;
    return 0;
}

/* Every rule of FORMAT.md 3.1 and 5 holds for an envelope the decoder accepted from src. */
static inline void fuzz_check_envelope(const struct snap_envelope *env, const uint8_t *src,
                                       size_t src_len)
{
    const struct snap_header *h = &env->hdr;

    /* 3.2 steps 1-6: magic, version, lengths, CRC, schema, flags. */
    FUZZ_ASSERT(src_len >= SNAP_HEADER_LEN + SNAP_TRAILER_LEN);
    FUZZ_ASSERT(memcmp(src, SNAP_MAGIC, 8) == 0);
    FUZZ_ASSERT(h->version_major == SNAP_VERSION_MAJOR);
    FUZZ_ASSERT(h->version_major == snap_get_le16(src + 8));
    FUZZ_ASSERT(h->version_minor == snap_get_le16(src + 10));
    FUZZ_ASSERT(h->header_len == SNAP_HEADER_LEN);
    FUZZ_ASSERT(h->payload_len <= SNAP_MAX_PAYLOAD);
    FUZZ_ASSERT(h->payload_len == snap_get_le64(src + 16));
    FUZZ_ASSERT(src_len - SNAP_HEADER_LEN - SNAP_TRAILER_LEN == h->payload_len);
    FUZZ_ASSERT(snap_envelope_len(h) == src_len);
    FUZZ_ASSERT(snap_get_le64(src + src_len - SNAP_TRAILER_LEN) ==
                snap_crc64(0, src, src_len - SNAP_TRAILER_LEN));
    FUZZ_ASSERT(h->schema_version == SNAP_SCHEMA_VERSION);
    FUZZ_ASSERT((h->flags & SNAP_FLAGS_INCOMPAT_MASK) == 0);

    /* 3.1: the other header fields. */
    FUZZ_ASSERT(h->kind == SNAP_KIND_FULL || h->kind == SNAP_KIND_DIFF);
    FUZZ_ASSERT(h->page_size == 4096 || h->page_size == 16384 || h->page_size == 65536);
    FUZZ_ASSERT(h->ram_size % h->page_size == 0);
    uint64_t pages = h->ram_size / h->page_size;
    FUZZ_ASSERT(pages >= 1 && pages <= SNAP_MAX_PAGES);
    FUZZ_ASSERT(!fuzz_all_zero(h->snapshot_id, 16));
    FUZZ_ASSERT(h->generation >= 1 && h->generation < (1ull << 63));
    FUZZ_ASSERT(h->state_len <= SNAP_MAX_STATE_LEN);
    FUZZ_ASSERT(snap_get_le64(src + 120) == 0); /* reserved */
    FUZZ_ASSERT(fuzz_name_field_ok(h->mem_name) && fuzz_name_field_ok(h->base_name));
    FUZZ_ASSERT(fuzz_file_name_ok(h->mem_name));
    FUZZ_ASSERT(fuzz_all_zero(src + 128 + strlen(h->mem_name), 64 - strlen(h->mem_name)));
    FUZZ_ASSERT(fuzz_all_zero(src + 192 + strlen(h->base_name), 64 - strlen(h->base_name)));
    if (h->kind == SNAP_KIND_FULL) {
        FUZZ_ASSERT(fuzz_all_zero(h->base_id, 16));
        FUZZ_ASSERT(h->base_generation == 0);
        FUZZ_ASSERT(h->base_name[0] == '\0');
        FUZZ_ASSERT(h->mem_pages == pages);
    } else {
        FUZZ_ASSERT(!fuzz_all_zero(h->base_id, 16));
        FUZZ_ASSERT(h->base_generation >= 1);
        FUZZ_ASSERT(snap_id_valid(h->base_name));
        FUZZ_ASSERT(h->mem_pages <= pages);
    }
    FUZZ_ASSERT(h->mem_file_len == h->mem_pages * h->page_size + SNAP_MEM_TRAILER_LEN);

    /* 5: the page map and the views into src. */
    uint64_t bitmap_len = h->kind == SNAP_KIND_DIFF ? snap_bitmap_len(pages) : 0;
    FUZZ_ASSERT(h->payload_len == h->state_len + bitmap_len + 8 * h->mem_pages);
    FUZZ_ASSERT(snap_page_map_len(h) == bitmap_len + 8 * h->mem_pages);
    FUZZ_ASSERT(env->state == src + SNAP_HEADER_LEN);
    FUZZ_ASSERT(env->page_crcs == src + SNAP_HEADER_LEN + h->state_len + bitmap_len);
    if (h->kind == SNAP_KIND_FULL) {
        FUZZ_ASSERT(env->bitmap == NULL);
    } else {
        FUZZ_ASSERT(env->bitmap == src + SNAP_HEADER_LEN + h->state_len);
        uint64_t set = 0;
        for (uint64_t i = 0; i < bitmap_len * 8; i++) {
            bool bit = snap_bitmap_test(env->bitmap, i);
            FUZZ_ASSERT(!bit || i < pages); /* bits past page_count are 0 */
            set += bit;
        }
        FUZZ_ASSERT(set == h->mem_pages);
        FUZZ_ASSERT(snap_bitmap_count(env->bitmap, pages) == h->mem_pages);
    }
}

/* Every limit of FORMAT.md 4 holds for a state the decoder accepted from state_len bytes. */
static inline void fuzz_check_state(const struct snap_vm_state *st)
{
    const struct snap_vm_info *in = &st->info;
    FUZZ_ASSERT(in->cpu_template && strlen(in->cpu_template) <= SNAP_MAX_TEMPLATE_LEN);
    FUZZ_ASSERT(in->kernel_image_path && strlen(in->kernel_image_path) <= SNAP_MAX_PATH_LEN);
    FUZZ_ASSERT(!in->initrd_path || strlen(in->initrd_path) <= SNAP_MAX_PATH_LEN);
    FUZZ_ASSERT(in->boot_args && strlen(in->boot_args) <= SNAP_MAX_PATH_LEN);
    FUZZ_ASSERT(st->vcpu_count <= SNAP_MAX_VCPUS);
    FUZZ_ASSERT(st->vcpu_count == 0 || st->vcpus != NULL);
    for (uint32_t i = 0; i < st->vcpu_count; i++) {
        FUZZ_ASSERT(st->vcpus[i].regs_len <= SNAP_MAX_REGS_LEN);
        FUZZ_ASSERT(st->vcpus[i].regs_len == 0 || st->vcpus[i].regs != NULL);
    }
    FUZZ_ASSERT(st->device_count <= SNAP_MAX_DEVICES);
    FUZZ_ASSERT(st->device_count == 0 || st->devices != NULL);
    for (uint32_t i = 0; i < st->device_count; i++) {
        const struct snap_device *d = &st->devices[i];
        FUZZ_ASSERT(d->name && strlen(d->name) >= 1 && strlen(d->name) <= SNAP_MAX_DEVICE_NAME_LEN);
        FUZZ_ASSERT(d->state_len <= SNAP_MAX_DEVICE_STATE_LEN);
        FUZZ_ASSERT(d->state_len == 0 || d->state != NULL);
    }
    FUZZ_ASSERT(st->gic_len <= SNAP_MAX_GIC_LEN);
    FUZZ_ASSERT(st->gic_len == 0 || st->gic != NULL);
    FUZZ_ASSERT(st->has_mmds || (st->mmds == NULL && st->mmds_len == 0));
    FUZZ_ASSERT(st->mmds_len <= SNAP_MAX_MMDS_LEN);
    FUZZ_ASSERT(st->mmds_len == 0 || st->mmds != NULL);
}

static inline void fuzz_check_state_zeroed(const struct snap_vm_state *st)
{
    FUZZ_ASSERT(st->vcpus == NULL && st->vcpu_count == 0);
    FUZZ_ASSERT(st->devices == NULL && st->device_count == 0);
    FUZZ_ASSERT(st->gic == NULL && st->gic_len == 0 && st->mmds == NULL && st->mmds_len == 0);
    FUZZ_ASSERT(st->info.cpu_template == NULL && st->info.kernel_image_path == NULL &&
                st->info.initrd_path == NULL && st->info.boot_args == NULL);
}

#ifdef FUZZ_SELFTEST_TRUSTS_STATE_LEN
/* The mutator's known-bad variant (scripts/fuzz mutator-check): a decoder that checks steps 1-6
 * of 3.2 (lengths, CRC, versions), then trusts state_len over the bytes that remain and copies
 * that much state. A state_len past the end of the file reads past the input (ASan reports it);
 * reaching it takes a file whose CRC holds and whose state_len is too large. */
static inline void fuzz_broken_trusting_decoder(const uint8_t *src, size_t src_len)
{
    if (fuzz_spec_error(src, src_len, 6) != 0)
        return;
    uint64_t state_len = snap_get_le64(src + 96);
    if (state_len > SNAP_MAX_STATE_LEN)
        return;
    uint8_t *copy = malloc(state_len ? (size_t)state_len : 1);
    FUZZ_ASSERT(copy != NULL);
    memcpy(copy, src + SNAP_HEADER_LEN, (size_t)state_len); /* the bug: not checked */
    static volatile uint64_t sink; /* the copy is used, so the compiler keeps it */
    sink = snap_crc64(0, copy, (size_t)state_len);
    free(copy);
}
#endif

/* Decode src as a whole state file, then its state section, checking every outcome. */
static inline void fuzz_decode_and_check(const uint8_t *src, size_t src_len)
{
#ifdef FUZZ_SELFTEST_TRUSTS_STATE_LEN
    fuzz_broken_trusting_decoder(src, src_len);
#endif
    struct snap_diag diag;
    struct snap_envelope env;
    snap_diag_clear(&diag);
    fuzz_alloc_track_begin();
    int rc = snap_envelope_decode(&env, src, src_len, &diag);
    FUZZ_ASSERT(fuzz_alloc_track_end() <= src_len); /* zero-copy: views into src */
    FUZZ_ASSERT(rc == 0 || fuzz_is_envelope_err(rc));

    struct snap_header hdr;
    struct snap_diag hdiag;
    snap_diag_clear(&hdiag);
    int hrc = snap_header_decode(&hdr, src, src_len, &hdiag);
    FUZZ_ASSERT(hrc == 0 || (fuzz_is_envelope_err(hrc) && hrc != SNAP_ECRC));
    if (hrc != 0)
        fuzz_check_diag(&hdiag);

    /* 3.2: the first failing step decides the error; past step 6 only the rules of step 7
     * remain, whose failures are SNAP_ECORRUPT or SNAP_ELIMIT. */
    int want = fuzz_spec_error(src, src_len, 6);
    if (want != 0)
        FUZZ_ASSERT(rc == want);
    else
        FUZZ_ASSERT(rc == 0 || rc == SNAP_ECORRUPT || rc == SNAP_ELIMIT);
    int hwant = fuzz_spec_error(src, src_len, 3);
    if (hwant != 0)
        FUZZ_ASSERT(hrc == hwant);

    FUZZ_LOG("  envelope: %s%s%s\n", rc ? snap_strerror(rc) : "decoded", rc ? ": " : "",
             rc ? diag.msg : "");
    if (rc != 0) {
        fuzz_check_diag(&diag);
        FUZZ_ASSERT(fuzz_all_zero(&env.hdr, sizeof env.hdr));
        FUZZ_ASSERT(env.state == NULL && env.bitmap == NULL && env.page_crcs == NULL);
        return;
    }
#ifdef FUZZ_SELFTEST_BROKEN_DECODER
    env.hdr.mem_pages++; /* the self-test: a decoder that miscounts the page map */
#endif
    fuzz_check_envelope(&env, src, src_len);
    /* The header-only decoder applies the same rules, so it accepts what the full one accepts
     * and reads the same fields. */
    FUZZ_ASSERT(hrc == 0);
    FUZZ_ASSERT(fuzz_header_equal(&hdr, &env.hdr));

    struct snap_vm_state st;
    fuzz_alloc_track_begin();
    rc = snap_state_decode(&st, env.state, (size_t)env.hdr.state_len);
    /* Each allocation is a copy of checked input bytes (plus a NUL) or an array of at most the
     * limit's count of vCPU or device records. */
    size_t biggest = fuzz_alloc_track_end(), bound = (size_t)env.hdr.state_len + 1;
    if (bound < SNAP_MAX_VCPUS * sizeof(struct snap_vcpu))
        bound = SNAP_MAX_VCPUS * sizeof(struct snap_vcpu);
    if (bound < SNAP_MAX_DEVICES * sizeof(struct snap_device))
        bound = SNAP_MAX_DEVICES * sizeof(struct snap_device);
    FUZZ_ASSERT(biggest <= bound);
    FUZZ_ASSERT(rc == 0 || fuzz_is_state_err(rc));
#ifdef FUZZ_SELFTEST_BROKEN_STATE_DECODER
    if (rc == 0) { /* the self-test: a state decoder that refuses a valid state */
        snap_state_finish(&st);
        rc = SNAP_ECORRUPT;
    }
#endif
    /* The decoder accepts exactly what the spec's second reading accepts. */
    struct ref_state ref;
    bool ref_ok = fuzz_ref_state_valid(&ref, env.state, (size_t)env.hdr.state_len);
    if (rc != SNAP_ENOMEM)
        FUZZ_ASSERT((rc == 0) == ref_ok);
    if (rc == 0) {
        FUZZ_ASSERT(st.info.mem_size_mib == ref.mem_size_mib);
        FUZZ_ASSERT(st.vcpu_count == ref.vcpu_count && st.device_count == ref.device_count);
        FUZZ_ASSERT((st.info.initrd_path != NULL) == ref.has_initrd);
        FUZZ_ASSERT(st.has_mmds == ref.has_mmds);
    }
    FUZZ_LOG("  state: %s\n", rc ? snap_strerror(rc) : "decoded");
    if (rc != 0) {
        fuzz_check_state_zeroed(&st);
        return;
    }
    fuzz_check_state(&st);
    int crc = snap_state_verify_compatible(&st, env.hdr.ram_size, NULL);
    FUZZ_ASSERT(crc == 0 || crc == SNAP_EINCOMPAT);
    snap_state_finish(&st);
    fuzz_check_state_zeroed(&st);
}

#endif
