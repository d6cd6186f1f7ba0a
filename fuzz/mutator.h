/* The structure-aware mutator of the fuzz targets (mutator.c): it parses an input as a pair_load
 * directory (pair_load.c's split format) or as a bare state file, changes fields of the format
 * (FORMAT.md 3-6), then repairs every checksum so that most mutants get past the CRC checks.
 * The same source is the libFuzzer LLVMFuzzerCustomMutator and the AFL++ custom mutator library
 * (afl_custom_init / afl_custom_fuzz / afl_custom_deinit); see fuzz/README.md. */
#ifndef FUZZ_MUTATOR_H
#define FUZZ_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

/* What an input is. */
enum fuzz_mut_input {
    FUZZ_MUT_PAIR,  /* pair_load's split format: flags, [fault], sections */
    FUZZ_MUT_STATE, /* one state file (state_decode, state_decode_crcfix, state_roundtrip) */
};

/* Share of mutants whose checksums are left as the mutation made them (per 100), so that the
 * CRC checks of the decoder and the loader stay exercised. */
#define FUZZ_MUT_UNREPAIRED_PCT 15u

/* Mutate the size bytes of data in place (capacity max_size) into a new input of the given
 * kind; seed drives every choice (the same seed and input give the same mutant).
 * @return the new size (<= max_size; 0 only if max_size is 0). */
size_t fuzz_mutate(enum fuzz_mut_input kind, uint8_t *data, size_t size, size_t max_size,
                   uint32_t seed);

/* What the last fuzz_mutate did, for the mutator's test: whether it repaired the checksums. */
int fuzz_mutate_last_repaired(void);

#endif
