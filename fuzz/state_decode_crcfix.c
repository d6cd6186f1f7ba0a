/* Fuzz target state_decode_crcfix: as state_decode, but the CRC trailer is first repaired in a
 * copy of the input (fuzz_crc_fixed_copy, fuzzing builds only) so that mutations get past the
 * checksum into the header rules, the page map and the state parser. Same property. */
#include "fuzz-decode.h"

#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#error "state_decode_crcfix needs -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the CRC bypass)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf;
    size_t len;
    if (!fuzz_crc_fixed_copy(&buf, &len, data, size))
        return 0;
    fuzz_decode_and_check(buf, len);
    free(buf);
    return 0;
}
