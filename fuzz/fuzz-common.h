/* Shared by the fuzz targets of fuzz/: the always-on oracle assertion, the sets of error codes a
 * call may return, and the one place where checksums are bypassed (fuzzing builds only).
 * Header-only so that each target is one translation unit plus the library sources. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/snap.h"

/* The libFuzzer entry point every target defines; afl_driver.c and replay.c call it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An oracle. Unlike assert() it is never compiled out: a violated property aborts loudly with the
 * file, line and condition, which the fuzzer records as a crash. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

static inline _Noreturn void fuzz_fail(const char *file, int line, const char *cond)
{
    fprintf(stderr, "FUZZ_ASSERT failed: %s:%d: %s\n", file, line, cond);
    fflush(stderr);
    abort();
}

/* Outcome notes for the replay driver (built with FUZZ_VERBOSE): which error an input ended in
 * and why, so a corpus replay shows what each seed exercises. Silent in fuzzing builds. */
#ifdef FUZZ_VERBOSE
#define FUZZ_LOG(...) fprintf(stderr, __VA_ARGS__)
#else
#define FUZZ_LOG(...) ((void)0)
#endif

/* Allocation tracking (sanitizer builds): the largest single allocation made between
 * fuzz_alloc_track_begin() and fuzz_alloc_track_end(). FORMAT.md 3.2: "nothing is allocated
 * from a length that has not been checked", so a decoder's allocations are bounded by its
 * input; a decoder that trusts a length field before checking it shows here even when it later
 * fails cleanly. Without a sanitizer runtime, end() returns 0 and the bound is not checked. */
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_HAVE_ALLOC_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_HAVE_ALLOC_HOOKS 1
#endif
#endif

#ifdef FUZZ_HAVE_ALLOC_HOOKS
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static bool fuzz_alloc_tracking;
static size_t fuzz_alloc_max;

static void fuzz_malloc_hook(const volatile void *ptr, size_t size)
{
    (void)ptr;
    if (fuzz_alloc_tracking && size > fuzz_alloc_max)
        fuzz_alloc_max = size;
}

static void fuzz_free_hook(const volatile void *ptr)
{
    (void)ptr;
}

static inline void fuzz_alloc_track_begin(void)
{
    static bool installed;
    if (!installed) /* the runtime refuses a NULL hook */
        installed =
            __sanitizer_install_malloc_and_free_hooks(fuzz_malloc_hook, fuzz_free_hook) != 0;
    fuzz_alloc_max = 0;
    fuzz_alloc_tracking = installed;
}

static inline size_t fuzz_alloc_track_end(void)
{
    fuzz_alloc_tracking = false;
    return fuzz_alloc_max;
}
#else
static inline void fuzz_alloc_track_begin(void)
{
}

static inline size_t fuzz_alloc_track_end(void)
{
    return 0;
}
#endif

/* Errors snap_envelope_decode and snap_header_decode may return (envelope.h). */
static inline bool fuzz_is_envelope_err(int rc)
{
    return rc == SNAP_EMAGIC || rc == SNAP_EVERSION || rc == SNAP_ETRUNC || rc == SNAP_ECRC ||
           rc == SNAP_ECORRUPT || rc == SNAP_ELIMIT;
}

/* Errors snap_state_decode may return (state.h). */
static inline bool fuzz_is_state_err(int rc)
{
    return rc == SNAP_ETRUNC || rc == SNAP_ELIMIT || rc == SNAP_ECORRUPT || rc == SNAP_ENOMEM;
}

/* A failure must leave a diagnostic: a code and a NUL-terminated, non-empty sentence. */
static inline void fuzz_check_diag(const struct snap_diag *diag)
{
    FUZZ_ASSERT(diag->code < 0 && diag->code >= SNAP_ERR_MIN);
    FUZZ_ASSERT(memchr(diag->msg, '\0', sizeof diag->msg) != NULL);
    FUZZ_ASSERT(diag->msg[0] != '\0');
    FUZZ_ASSERT(memchr(diag->path, '\0', sizeof diag->path) != NULL);
}

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* The checksum bypass. Mutated inputs almost never carry a matching CRC-64, so without help
 * the fuzzer stops at SNAP_ECRC and never reaches the header rules, the page map or the state
 * parser. These helpers repair checksums in a copy of the input; the library is not modified
 * and still checks every CRC. Only the fuzz targets use them, and only in fuzzing builds
 * (afl-cc defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION; scripts/fuzz, oss-fuzz/build.sh and
 * fuzz/meson.build define it for the other builds). */

/* Recompute the trailer of a state file in place: the 8 bytes at the end of buf become the
 * CRC-64/XZ of the bytes before them (FORMAT.md 3). */
static inline void fuzz_fix_state_trailer(uint8_t *buf, size_t len)
{
    if (len < SNAP_TRAILER_LEN)
        return;
    snap_put_le64(buf + len - SNAP_TRAILER_LEN, snap_crc64(0, buf, len - SNAP_TRAILER_LEN));
}

/* Copy src into a new buffer (*out, free() it) shaped so that the decoder's CRC check passes:
 * when the header's payload_len is plausible (the header is complete and 256 + payload_len + 8
 * fits in src) the copy is cut to exactly that length, then the trailer is recomputed.
 * @return false when out of memory. */
static inline bool fuzz_crc_fixed_copy(uint8_t **out, size_t *out_len, const uint8_t *src,
                                       size_t src_len)
{
    size_t len = src_len;
    if (src_len >= SNAP_HEADER_LEN + SNAP_TRAILER_LEN) {
        uint64_t payload = snap_get_le64(src + 16); /* payload_len: offset 16, 8 bytes */
        if (payload <= src_len - SNAP_HEADER_LEN - SNAP_TRAILER_LEN)
            len = SNAP_HEADER_LEN + (size_t)payload + SNAP_TRAILER_LEN;
    }
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return false;
    if (len)
        memcpy(buf, src, len);
    fuzz_fix_state_trailer(buf, len);
    *out = buf;
    *out_len = len;
    return true;
}

/* Recompute the page map of a state file in place from the pages of its memory file (as far as
 * both hold them), then its trailer: so that the pages reach the loader's later checks (base
 * chain, compatibility). The memory file of mem_len bytes is read through page_crc(mem, off,
 * len), which returns the CRC-64 of its bytes [off, off + len). Raw header fields (FORMAT.md
 * 3.1): kind at 32, page_size at 36, ram_size at 40, state_len at 96, mem_pages at 104; the page
 * map follows the state (5). */
static inline void fuzz_fix_page_map(uint8_t *st, size_t st_len,
                                     uint64_t (*page_crc)(const void *, uint64_t, uint64_t),
                                     const void *mem, uint64_t mem_len)
{
    if (st_len < SNAP_HEADER_LEN + SNAP_TRAILER_LEN || mem_len < SNAP_MEM_TRAILER_LEN)
        return;
    uint32_t kind = snap_get_le32(st + 32), page_size = snap_get_le32(st + 36);
    uint64_t ram_size = snap_get_le64(st + 40), state_len = snap_get_le64(st + 96);
    uint64_t mem_pages = snap_get_le64(st + 104);
    uint64_t end = st_len - SNAP_TRAILER_LEN, pages_len = mem_len - SNAP_MEM_TRAILER_LEN;
    if (page_size == 0 || ram_size / page_size > SNAP_MAX_PAGES || state_len > end)
        return;
    uint64_t off = SNAP_HEADER_LEN + state_len;
    if (kind == SNAP_KIND_DIFF)
        off += snap_bitmap_len(ram_size / page_size);
    for (uint64_t k = 0; k < mem_pages && off <= end && end - off >= 8; k++, off += 8) {
        if (k >= pages_len / page_size)
            break;
        snap_put_le64(st + off, page_crc(mem, k * page_size, page_size));
    }
    fuzz_fix_state_trailer(st, st_len);
}

/* Recompute the crc field of a memory file trailer in place (FORMAT.md 6: the last 64 bytes,
 * crc at offset 56 over bytes [0, 56) of the trailer). */
static inline void fuzz_fix_mem_trailer(uint8_t *buf, size_t len)
{
    if (len < SNAP_MEM_TRAILER_LEN)
        return;
    uint8_t *t = buf + len - SNAP_MEM_TRAILER_LEN;
    snap_put_le64(t + 56, snap_crc64(0, t, 56));
}
#endif /* FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION */

#endif
