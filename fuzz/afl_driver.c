/* AFL++ driver for the fuzz targets: persistent mode with the test case in shared memory
 * (__AFL_FUZZ_TESTCASE_BUF), up to 10000 inputs per fork, each passed to LLVMFuzzerTestOneInput.
 * Built only by afl-clang-fast (scripts/fuzz); with any other compiler it reads one input from
 * stdin, so the file still compiles. The shared buffer is copied into an exact-size heap block
 * so that a sanitizer build sees reads past the end of the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

int main(void)
{
#ifdef __AFL_FUZZ_TESTCASE_LEN
    __AFL_INIT();
    unsigned char *shared = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(10000)) {
        size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
            abort();
        memcpy(buf, shared, len);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
    }
    return 0;
#else
    size_t cap = 1 << 16, len = 0, n;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return 1;
    while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return 1;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
#endif
}
