/* The generated inputs of a campaign: VM states (encoded schema 1, docs/FORMAT.md section 4)
 * and memory images, written once to files the IUT reads, kept in memory for the oracles.
 * Deterministic for a given seed and page size. */
#ifndef SNAPCHECK_DATA_H
#define SNAPCHECK_DATA_H

#include <stddef.h>
#include <stdint.h>

/* The pairs the scenarios use. PRIOR and NEW are 2 MiB with different contents; D1 and D2 are
 * PRIOR with different dirty pages rewritten (for diffs over base PRIOR); RECOVERY is 1 MiB.
 * These are the smallest images the format allows for what they must show: a memory image is
 * mem_size_mib x 2^20 bytes (docs/FORMAT.md 4), so 1 MiB is the least, and RECOVERY must be
 * strictly smaller than the saves it follows (a stale temporary or an unshortened file then
 * shows), so PRIOR, NEW, D1 and D2 need 2 MiB. */
enum payload_id { P_PRIOR, P_NEW, P_D1, P_D2, P_RECOVERY, P_COUNT };

struct payload {
    const char *name; /* "prior", "new", ... */
    uint8_t *state;   /* encoded state blob */
    size_t state_len;
    uint8_t *mem; /* full memory image */
    size_t mem_len;
    uint8_t *dirty; /* D1/D2: dirty bitmap; NULL otherwise */
    size_t dirty_len;
    char state_path[512];
    char mem_path[512];
    char dirty_path[512];
};

struct dataset {
    struct payload p[P_COUNT];
    uint32_t page_size;
};

/* Generate the payloads and write them under dir (existing).
 * @return 0, or -1 with a message in err. */
int dataset_create(struct dataset *out, const char *dir, uint64_t seed, uint32_t page_size,
                   char *err, size_t err_cap);
void dataset_finish(struct dataset *ds); /* NULL accepted */

/* The same with PRIOR, NEW, D1 and D2 of mem_mib MiB (--ram-mib; RECOVERY stays 1 MiB). */
int dataset_create_sized(struct dataset *out, const char *dir, uint64_t seed, uint32_t page_size,
                         uint32_t mem_mib, char *err, size_t err_cap);

#endif
