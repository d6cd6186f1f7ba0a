/* The mutator's test: mutate the committed seeds of a target (chains of up to four mutations,
 * as a fuzzer stacks them) and measure how many mutants get past the CRC checks, against plain
 * byte mutations of the same seeds. Each mutant also runs through the target it is for (linked
 * in: pair_load or state_decode), so the mutator's output meets the oracles.
 * usage: mutator_test pair|state DIR MIN_PCT [COUNT]
 * "Past the CRC": the top state file passes steps 1-5 of FORMAT.md 3.2 (magic, version,
 * header_len, payload_len, exact length, CRC), so decoding goes on to the header rules; for
 * pair inputs also every memory file present has a trailer whose CRC holds. The share is
 * reported for all seeds and for the well-formed ones (whose top state file passes steps 1-4:
 * the corpus also holds files cut inside the header or with a wrong magic or version on
 * purpose, which no field mutation brings back). Fails (exit 1) when the share from
 * well-formed seeds is below MIN_PCT, or the share from all seeds is not above the share of
 * plain byte mutations of the same seeds. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "mutator.h"

#define TEST_MAX_INPUT (1u << 20)
#define MAX_SEEDS 512

/* Steps 1-5 of 3.2 pass for state file p. */
static bool past_crc(const uint8_t *p, size_t len)
{
    if (len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN || memcmp(p, SNAP_MAGIC, 8) != 0 ||
        snap_get_le16(p + 8) != 1 || snap_get_le32(p + 12) != SNAP_HEADER_LEN)
        return false;
    uint64_t payload = snap_get_le64(p + 16);
    if (payload > SNAP_MAX_PAYLOAD || len != SNAP_HEADER_LEN + payload + SNAP_TRAILER_LEN)
        return false;
    return snap_crc64(0, p, len - SNAP_TRAILER_LEN) == snap_get_le64(p + len - SNAP_TRAILER_LEN);
}

/* Steps 1-4 pass (the CRC may not hold). */
static bool well_formed(const uint8_t *p, size_t len)
{
    if (len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN || memcmp(p, SNAP_MAGIC, 8) != 0 ||
        snap_get_le16(p + 8) != 1 || snap_get_le32(p + 12) != SNAP_HEADER_LEN)
        return false;
    uint64_t payload = snap_get_le64(p + 16);
    return payload <= SNAP_MAX_PAYLOAD && len == SNAP_HEADER_LEN + payload + SNAP_TRAILER_LEN;
}

/* The top state file of a pair input (NULL if absent). */
static const uint8_t *pair_top(const uint8_t *d, size_t n, size_t *len)
{
    size_t at = n >= 1 ? 1 + ((d[0] & 4) ? 4 : 0) : 0;
    if (n < at + 4 || snap_get_le32(d + at) == 0xffffffffu)
        return NULL;
    uint32_t l = snap_get_le32(d + at);
    *len = l < n - at - 4 ? l : n - at - 4;
    return d + at + 4;
}

/* For a pair input: the top state file is past its CRC and every memory trailer's CRC holds. */
static bool pair_past_crc(const uint8_t *d, size_t n)
{
    if (n < 1)
        return false;
    size_t at = 1 + ((d[0] & 4) ? 4 : 0);
    bool ok = false;
    for (unsigned i = 0; at + 4 <= n && i < 2 * (SNAP_MAX_CHAIN + 2); i++) {
        uint32_t len = snap_get_le32(d + at);
        at += 4;
        if (len == 0xffffffffu) {
            if (i == 0)
                return false;
            continue;
        }
        size_t m = len < n - at ? len : n - at;
        if (i == 0)
            ok = past_crc(d + at, m);
        else if (i % 2 == 1 && m >= SNAP_MEM_TRAILER_LEN) {
            const uint8_t *t = d + at + m - SNAP_MEM_TRAILER_LEN;
            if (snap_crc64(0, t, 56) != snap_get_le64(t + 56))
                return false;
        }
        at += m;
    }
    return ok;
}

struct seed {
    uint8_t *p;
    size_t len;
    bool well_formed;
};

static size_t load_seeds(struct seed *seeds, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        exit(99);
    }
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < MAX_SEEDS) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t *buf = malloc(TEST_MAX_INPUT);
        if (!buf)
            exit(99);
        size_t len = fread(buf, 1, TEST_MAX_INPUT, f);
        fclose(f);
        seeds[n].p = buf;
        seeds[n].len = len;
        n++;
    }
    closedir(d);
    return n;
}

/* Plain byte mutations, as a fuzzer without the mutator makes them: 1 to 8 random edits. */
static size_t byte_mutate(uint8_t *p, size_t len, uint32_t *seed)
{
    unsigned n = 1 + (*seed = *seed * 1103515245u + 12345u) % 8;
    for (unsigned i = 0; i < n && len; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[(*seed >> 8) % len] ^= (uint8_t)(1u << (*seed % 8));
    }
    return len;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s pair|state DIR MIN_PCT [COUNT]\n", argv[0]);
        return 2;
    }
    enum fuzz_mut_input kind = strcmp(argv[1], "state") == 0 ? FUZZ_MUT_STATE : FUZZ_MUT_PAIR;
    unsigned min_pct = (unsigned)atoi(argv[3]);
    unsigned count = argc > 4 ? (unsigned)atoi(argv[4]) : 4000;
    static struct seed seeds[MAX_SEEDS];
    size_t nseeds = load_seeds(seeds, argv[2]);
    if (nseeds == 0) {
        fprintf(stderr, "mutator_test: no seeds in %s\n", argv[2]);
        return 99;
    }
    uint8_t *buf = malloc(TEST_MAX_INPUT), *plain = malloc(TEST_MAX_INPUT);
    if (!buf || !plain)
        return 99;
    for (size_t i = 0; i < nseeds; i++) {
        size_t tl = 0;
        const uint8_t *top = kind == FUZZ_MUT_STATE ? seeds[i].p : pair_top(seeds[i].p,
                                                                              seeds[i].len, &tl);
        if (kind == FUZZ_MUT_STATE)
            tl = seeds[i].len;
        seeds[i].well_formed = top && well_formed(top, tl);
    }
    unsigned past = 0, plain_past = 0, repaired = 0, repaired_past = 0, wf = 0, wf_past = 0;
    size_t len = 0, plain_len = 0;
    uint32_t bseed = 1;
    const struct seed *s = NULL;
    for (unsigned i = 0; i < count; i++) {
        if (i % 4 == 0) { /* a chain of four mutations from a seed */
            s = &seeds[(i / 4) % nseeds];
            len = s->len;
            memcpy(buf, s->p, len);
            plain_len = s->len;
            memcpy(plain, s->p, plain_len);
        }
        len = fuzz_mutate(kind, buf, len, TEST_MAX_INPUT, i + 1);
        bool ok = kind == FUZZ_MUT_STATE ? past_crc(buf, len) : pair_past_crc(buf, len);
        past += ok;
        wf += s->well_formed;
        wf_past += s->well_formed && ok;
        repaired += fuzz_mutate_last_repaired();
        repaired_past += fuzz_mutate_last_repaired() && ok;
        LLVMFuzzerTestOneInput(buf, len);

        plain_len = byte_mutate(plain, plain_len, &bseed);
        plain_past += kind == FUZZ_MUT_STATE ? past_crc(plain, plain_len)
                                             : pair_past_crc(plain, plain_len);
    }
    unsigned pct = 100u * past / count, plain_pct = 100u * plain_past / count;
    unsigned wf_pct = wf ? 100u * wf_past / wf : 0;
    printf("mutator_test %s: %u mutants of %zu seeds: past the CRC checks %u (%u%%; repaired %u, "
           "of which past %u); from well-formed seeds %u of %u (%u%%, minimum %u%%); plain byte "
           "mutations of the same seeds: %u (%u%%)\n",
           argv[1], count, nseeds, past, pct, repaired, repaired_past, wf_past, wf, wf_pct,
           min_pct, plain_past, plain_pct);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i].p);
    free(buf);
    free(plain);
    if (wf_pct < min_pct || past <= plain_past) {
        printf("mutator_test: FAIL\n");
        return 1;
    }
    return 0;
}
