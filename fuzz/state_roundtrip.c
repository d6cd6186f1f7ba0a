/* Fuzz target state_roundtrip. Property: whatever decodes re-encodes to the identical bytes
 * (FORMAT.md 4: every value has one encoding). The envelope is re-encoded from its decoded
 * header and views with snap_envelope_encode; a decoded state with snap_state_encode, and the
 * re-encoding decodes to an equal state.
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
    snap_state_finish(&st);
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
