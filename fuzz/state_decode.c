/* Fuzz target state_decode: raw bytes -> snap_envelope_decode, and when that succeeds
 * snap_state_decode of the state section. Property: every input ends in a documented error
 * with a diagnostic, or in a result that obeys docs/FORMAT.md (fuzz-decode.h); no UB, no leak. */
#include "fuzz-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_decode_and_check(data, size);
    return 0;
}
