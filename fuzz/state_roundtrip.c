/* Fuzz target state_roundtrip. Property: whatever decodes re-encodes to the identical bytes
 * (FORMAT.md 4: every value has one encoding). The envelope is re-encoded from its decoded
 * header and views with snap_envelope_encode; a decoded state with snap_state_encode, and the
 * re-encoding decodes to an equal state; an accepted memory trailer re-encodes the same. Then
 * the decoded state, changed in one field, shows that the encoder refuses what the format
 * forbids (each limit of section 4: SNAP_ELIMIT; a NULL where data is due: SNAP_EINVAL) and
 * that snap_state_equal tells the changed state from the original.
 * Built with -DFUZZ_SELFTEST_BROKEN_ENCODER the re-encoded bytes are perturbed before the
 * comparison, so every decodable input must abort: the test that shows this oracle can fire. */
#include "fuzz-common.h"

#ifdef FUZZ_SELFTEST_BROKEN_ENCODER
static void perturb(uint8_t *buf, size_t len)
{
    if (len)
        buf[len / 2] ^= 0x01;
}
#else
static void perturb(uint8_t *buf, size_t len)
{
    (void)buf;
    (void)len;
}
#endif

/* The encoder refuses t with want, by each of its three entry points. */
static void refused(const struct snap_vm_state *t, int want)
{
    uint8_t dst[64];
    size_t len = 1;
    uint8_t *out = NULL;
    FUZZ_ASSERT(snap_state_encoded_len(t) == 0);
    FUZZ_ASSERT(snap_state_encode(dst, sizeof dst, &len, t) == want && len == 0);
    FUZZ_ASSERT(snap_state_encode_alloc(&out, &len, t) == want && out == NULL && len == 0);
}

/* Section 4's rules on the encoding side, from the decoded state st: each change breaks one. */
static void check_refusals(const struct snap_vm_state *st)
{
    static char long_str[SNAP_MAX_PATH_LEN + 2];
    static uint8_t byte;
    static struct snap_device many[SNAP_MAX_DEVICES];
    if (!long_str[0])
        memset(long_str, 'a', sizeof long_str - 1);
    struct snap_vcpu vcpu = {0, 0, &byte, 1};
    struct snap_device dev = {(char *)"d", &byte, 1};
    struct snap_vm_state t;

#define REFUSED(change, want)                                                                      \
    do {                                                                                           \
        t = *st;                                                                                   \
        change;                                                                                    \
        refused(&t, (want));                                                                       \
    } while (0)
    REFUSED(t.info.cpu_template = NULL, SNAP_EINVAL);
    REFUSED(t.info.cpu_template = long_str, SNAP_ELIMIT);
    REFUSED(t.info.kernel_image_path = NULL, SNAP_EINVAL);
    REFUSED(t.info.initrd_path = long_str, SNAP_ELIMIT);
    REFUSED(t.info.boot_args = long_str, SNAP_ELIMIT);
    REFUSED(t.vcpu_count = SNAP_MAX_VCPUS + 1, SNAP_ELIMIT);
    REFUSED((t.vcpus = NULL, t.vcpu_count = 1), SNAP_EINVAL);
    REFUSED((vcpu.regs = NULL, t.vcpus = &vcpu, t.vcpu_count = 1), SNAP_EINVAL);
    vcpu.regs = &byte;
    REFUSED((vcpu.regs_len = SNAP_MAX_REGS_LEN + 1, t.vcpus = &vcpu, t.vcpu_count = 1),
            SNAP_ELIMIT);
    REFUSED(t.device_count = SNAP_MAX_DEVICES + 1, SNAP_ELIMIT);
    REFUSED((t.devices = NULL, t.device_count = 1), SNAP_EINVAL);
    REFUSED((dev.name = (char *)"", t.devices = &dev, t.device_count = 1), SNAP_ELIMIT);
    dev.name = (char *)"d";
    REFUSED((dev.state_len = SNAP_MAX_DEVICE_STATE_LEN + 1, t.devices = &dev, t.device_count = 1),
            SNAP_ELIMIT);
    REFUSED((t.gic = &byte, t.gic_len = SNAP_MAX_GIC_LEN + 1), SNAP_ELIMIT);
    REFUSED((t.gic = NULL, t.gic_len = 1), SNAP_EINVAL);
    REFUSED((t.has_mmds = true, t.mmds = &byte, t.mmds_len = SNAP_MAX_MMDS_LEN + 1), SNAP_ELIMIT);
    REFUSED((t.has_mmds = false, t.mmds = &byte, t.mmds_len = 1), SNAP_EINVAL);
    /* every field within its limit, the whole over SNAP_MAX_STATE_LEN */
    for (unsigned i = 0; i < SNAP_MAX_DEVICES; i++)
        many[i] = (struct snap_device){(char *)"d", &byte, SNAP_MAX_DEVICE_STATE_LEN};
    REFUSED((t.devices = many, t.device_count = SNAP_MAX_DEVICES, t.has_mmds = true,
             t.mmds = &byte, t.mmds_len = SNAP_MAX_MMDS_LEN),
            SNAP_ELIMIT);
#undef REFUSED

    /* the caller's mistakes: no buffer, a buffer one byte short, no output */
    size_t need = snap_state_encoded_len(st), len = 1;
    uint8_t *dst = malloc(need);
    FUZZ_ASSERT(dst != NULL);
    FUZZ_ASSERT(snap_state_encode(NULL, need, &len, st) == SNAP_EINVAL && len == 0);
    FUZZ_ASSERT(snap_state_encode(dst, need - 1, &len, st) == SNAP_EINVAL);
    FUZZ_ASSERT(snap_state_encode_alloc(NULL, &len, st) == SNAP_EINVAL);
    free(dst);

    /* equality tells a state from the same state changed in one field */
#define DIFFERS(change)                                                                            \
    do {                                                                                           \
        t = *st;                                                                                   \
        change;                                                                                    \
        FUZZ_ASSERT(!snap_state_equal(st, &t));                                                    \
    } while (0)
    DIFFERS(t.info.mem_size_mib ^= 1);
    DIFFERS(t.info.smt = !t.info.smt);
    DIFFERS(t.info.track_dirty_pages = !t.info.track_dirty_pages);
    DIFFERS(t.info.cpu_template = long_str);
    DIFFERS(t.info.initrd_path = t.info.initrd_path ? NULL : long_str);
    DIFFERS(t.vcpu_count += 1);
    DIFFERS(t.device_count += 1);
    DIFFERS(t.gic_len += 1);
    DIFFERS(t.has_mmds = !t.has_mmds);
    if (st->vcpu_count > 0) { /* the last vCPU's regs differ */
        struct snap_vcpu *v = malloc(st->vcpu_count * sizeof *v);
        FUZZ_ASSERT(v != NULL);
        memcpy(v, st->vcpus, st->vcpu_count * sizeof *v);
        v[st->vcpu_count - 1].regs_len += 1;
        v[st->vcpu_count - 1].regs = &byte;
        DIFFERS(t.vcpus = v);
        free(v);
    }
    if (st->device_count > 0) { /* the last device's name differs */
        struct snap_device *d = malloc(st->device_count * sizeof *d);
        FUZZ_ASSERT(d != NULL);
        memcpy(d, st->devices, st->device_count * sizeof *d);
        d[st->device_count - 1].name = long_str;
        DIFFERS(t.devices = d);
        free(d);
    }
#undef DIFFERS
    FUZZ_ASSERT(snap_state_equal(st, st));
}

static void roundtrip_state(const uint8_t *src, size_t src_len)
{
    struct snap_vm_state st;
    if (snap_state_decode(&st, src, src_len) != 0)
        return;

    size_t need = snap_state_encoded_len(&st);
    FUZZ_ASSERT(need == src_len);
    uint8_t *dst = malloc(need ? need : 1);
    FUZZ_ASSERT(dst != NULL);
    size_t len = 0;
    int rc = snap_state_encode(dst, need, &len, &st);
    FUZZ_ASSERT(rc == 0);
    perturb(dst, len);
    FUZZ_ASSERT(len == src_len && memcmp(dst, src, len) == 0);

    struct snap_vm_state again;
    rc = snap_state_decode(&again, dst, len);
    FUZZ_ASSERT(rc == 0);
    FUZZ_ASSERT(snap_state_equal(&st, &again));
    snap_state_finish(&again);
    free(dst);
    check_refusals(&st);
    snap_state_finish(&st);
}

/* The envelope encoder refuses a header the decoder would refuse, and the views a header asks
 * for but which are missing; the length helpers give 0 for a header they cannot size. */
static void check_envelope_refusals(const struct snap_envelope *env, const uint64_t *crcs,
                                    size_t size)
{
    const struct snap_header *h = &env->hdr;
    uint8_t *dst = malloc(size);
    FUZZ_ASSERT(dst != NULL);
    const uint8_t *bm = env->bitmap;
    size_t len = 1;
    struct snap_header x;
#define ENC_REFUSED(change, state, bitmap, page_crcs, cap)                                         \
    do {                                                                                           \
        x = *h;                                                                                    \
        change;                                                                                    \
        len = 1;                                                                                   \
        FUZZ_ASSERT(snap_envelope_encode(dst, (cap), &len, &x, (state), (bitmap), (page_crcs)) ==  \
                        SNAP_EINVAL &&                                                             \
                    len == 0);                                                                     \
    } while (0)
    ENC_REFUSED(x.version_major = 2, env->state, bm, crcs, size);
    ENC_REFUSED(x.header_len = 255, env->state, bm, crcs, size);
    ENC_REFUSED(x.kind = 3, env->state, bm, crcs, size);
    if (h->state_len)
        ENC_REFUSED((void)0, NULL, bm, crcs, size);
    if (h->mem_pages)
        ENC_REFUSED((void)0, env->state, bm, NULL, size);
    if (h->kind == SNAP_KIND_DIFF)
        ENC_REFUSED((void)0, env->state, NULL, crcs, size);
    else
        ENC_REFUSED((void)0, env->state, env->state, crcs, size); /* a bitmap for a full */
    ENC_REFUSED((void)0, env->state, bm, crcs, size - 1);
#undef ENC_REFUSED
    FUZZ_ASSERT(snap_envelope_encode(NULL, size, &len, h, env->state, bm, crcs) == SNAP_EINVAL);
    free(dst);

    x = *h;
    x.page_size = 8192;
    FUZZ_ASSERT(snap_page_map_len(&x) == 0);
    x = *h;
    x.ram_size = 0;
    FUZZ_ASSERT(snap_page_map_len(&x) == 0);
    x = *h;
    x.mem_pages = x.ram_size / x.page_size + 1;
    FUZZ_ASSERT(snap_page_map_len(&x) == 0);
    x = *h;
    x.payload_len = SNAP_MAX_PAYLOAD + 1;
    FUZZ_ASSERT(snap_envelope_len(&x) == 0);
}

static void roundtrip(const uint8_t *data, size_t size)
{
    struct snap_envelope env;
    if (snap_envelope_decode(&env, data, size, NULL) != 0)
        return;

    const struct snap_header *h = &env.hdr;
    uint64_t *crcs = malloc(h->mem_pages ? (size_t)h->mem_pages * sizeof *crcs : 1);
    FUZZ_ASSERT(crcs != NULL);
    for (uint64_t i = 0; i < h->mem_pages; i++)
        crcs[i] = snap_get_le64(env.page_crcs + 8 * i);

    uint8_t *dst = malloc(size);
    FUZZ_ASSERT(dst != NULL);
    size_t len = 0;
    int rc = snap_envelope_encode(dst, size, &len, h, env.state, env.bitmap, crcs);
    FUZZ_ASSERT(rc == 0);
    perturb(dst, len);
    FUZZ_ASSERT(len == size && memcmp(dst, data, size) == 0);
    free(dst);
    check_envelope_refusals(&env, crcs, size);
    free(crcs);

    roundtrip_state(env.state, (size_t)h->state_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* The property holds for whatever decodes; repairing the CRC (fuzz-common.h) lets mutated
     * inputs decode, so the encoders meet far more than the seeds. */
    uint8_t *buf;
    size_t len;
    if (!fuzz_crc_fixed_copy(&buf, &len, data, size))
        return 0;
    roundtrip(buf, len);
    free(buf);
#else
    roundtrip(data, size);
#endif
    return 0;
}
