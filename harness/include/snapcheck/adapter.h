/* snapcheck/adapter.h: the C ABI of an adapter library, the in-process form of the adapter
 * contract of docs/ADAPTER.md (section 10). A shared library (C, C++, Rust cdylib...) that
 * exports the functions below can be tested with `snapcheck faults --lib path/libX.so`:
 * snapcheck-lib-runner loads it once and runs every operation in a forked child under the
 * fault interposer, with the same counted calls and case ids as the exec mode.
 *
 * ABI rules
 * - Plain C types only: fixed-width integers, pointers, size_t. No bool, no enum in a struct.
 * - Every request starts with uint32_t struct_size, the sizeof of the caller's struct. A later
 *   version only appends fields; a library reads a field only when SNAPCHECK_REQ_HAS says the
 *   caller's struct holds it (absent fields count as 0 / NULL).
 * - Strings are NUL-terminated UTF-8 paths and ids; buffers are (pointer, length).
 * - The library does its file I/O through libc (open, pwrite, fsync, rename...), in the calling
 *   thread or in threads it joins before returning: that is what the interposer counts.
 * - Every call runs in a fresh forked child that exits afterwards: the library need not free
 *   what it allocates, and must not keep state between calls (each call may be in a new
 *   process); snapcheck_adapter_init runs before the fork, once.
 * - Return codes are the exit codes of the exec contract: SNAPCHECK_ADAPTER_OK (0, committed
 *   and durable / loaded exactly), SNAPCHECK_ADAPTER_FAILED (1), SNAPCHECK_ADAPTER_USAGE (2:
 *   bad request or unsupported operation). On failure write one line to msg (at most msg_cap
 *   bytes with the NUL; msg is never NULL, msg_cap >= 1): it becomes the step's stderr.
 *
 * Required exports: snapcheck_adapter_abi, snapcheck_adapter_capabilities,
 * snapcheck_adapter_save, snapcheck_adapter_load. Optional: snapcheck_adapter_merge (needed
 * with SNAPCHECK_CAP_MERGE), snapcheck_adapter_init. */
#ifndef SNAPCHECK_ADAPTER_H
#define SNAPCHECK_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What snapcheck_adapter_abi returns: the version of this header the library was built with. */
#define SNAPCHECK_ADAPTER_ABI_VERSION 1u

/* Return codes. */
#define SNAPCHECK_ADAPTER_OK 0
#define SNAPCHECK_ADAPTER_FAILED 1
#define SNAPCHECK_ADAPTER_USAGE 2

/* Capability bits (the words of the exec contract's `capabilities`). save-full and load are
 * required. */
#define SNAPCHECK_CAP_SAVE_FULL 0x1u
#define SNAPCHECK_CAP_SAVE_DIFF 0x2u
#define SNAPCHECK_CAP_LOAD 0x4u
#define SNAPCHECK_CAP_MERGE 0x8u

/* Kinds of a save. */
#define SNAPCHECK_KIND_FULL 1u
#define SNAPCHECK_KIND_DIFF 2u

/* Nonzero when the request *req (of struct type T) holds field f. */
#define SNAPCHECK_REQ_HAS(req, T, f)                                                             \
    ((req)->struct_size >= offsetof(T, f) + sizeof(((T *)0)->f))

/* save: persist one snapshot pair under id in the existing directory dir (docs/ADAPTER.md 2).
 * The inputs come both in memory and as the files of the exec contract; use either. */
struct snapcheck_save_req {
    uint32_t struct_size; /* sizeof(struct snapcheck_save_req) of the caller */
    uint32_t kind;        /* SNAPCHECK_KIND_FULL or SNAPCHECK_KIND_DIFF */
    uint32_t page_size;   /* the memory image is a whole number of these */
    uint32_t reserved;    /* 0 */
    const char *dir;
    const char *id;
    const char *base_id; /* diff: the base pair's id (never id); NULL for a full save */
    const uint8_t *state; /* the state blob: persist and give back exactly these bytes */
    uint64_t state_len;
    const uint8_t *memory; /* the full guest memory image */
    uint64_t memory_len;
    const uint8_t *dirty; /* diff: bitmap, bit i of byte j = page 8j+i dirty; NULL for full */
    uint64_t dirty_len;   /* ceil(pages / 8) */
    const char *state_path;  /* the same state blob as a file */
    const char *memory_path; /* the same image as a file */
    const char *dirty_path;  /* diff: the same bitmap as a file; NULL for full */
};

/* load: write the state blob of pair id to the file state_out and its full memory image (the
 * diff chain applied) to memory_out, replacing what they hold. Never OK with wrong bytes. */
struct snapcheck_load_req {
    uint32_t struct_size;
    uint32_t reserved;
    const char *dir;
    const char *id;
    const char *state_out;
    const char *memory_out;
};

/* merge: fold diff id and its base chain into a full pair under the same id (a save's
 * guarantees); a full pair is left as it is (OK). */
struct snapcheck_merge_req {
    uint32_t struct_size;
    uint32_t reserved;
    const char *dir;
    const char *id;
};

/* The layout is part of the ABI: pinned for LP64 (x86-64, aarch64 Linux). */
#if defined(__LP64__) || defined(_LP64)
#if defined(__cplusplus) && __cplusplus >= 201103L
#define SNAPCHECK_ABI_ASSERT(e, m) static_assert(e, m)
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define SNAPCHECK_ABI_ASSERT(e, m) _Static_assert(e, m)
#endif
#ifdef SNAPCHECK_ABI_ASSERT
SNAPCHECK_ABI_ASSERT(sizeof(struct snapcheck_save_req) == 112, "snapcheck_save_req layout");
SNAPCHECK_ABI_ASSERT(offsetof(struct snapcheck_save_req, state_len) == 48, "state_len");
SNAPCHECK_ABI_ASSERT(offsetof(struct snapcheck_save_req, dirty_path) == 104, "dirty_path");
SNAPCHECK_ABI_ASSERT(sizeof(struct snapcheck_load_req) == 40, "snapcheck_load_req layout");
SNAPCHECK_ABI_ASSERT(sizeof(struct snapcheck_merge_req) == 24, "snapcheck_merge_req layout");
#undef SNAPCHECK_ABI_ASSERT
#endif
#endif

/* Exported whatever the library's default visibility (-fvisibility=hidden included): the
 * declarations below carry it, and a definition inherits it from its declaration. */
#if defined(__GNUC__)
#define SNAPCHECK_ADAPTER_EXPORT __attribute__((visibility("default")))
#else
#define SNAPCHECK_ADAPTER_EXPORT
#endif

/* The library's exports. Declared here so that a C or C++ library gets its definitions
 * checked against them; a Rust cdylib declares them with #[no_mangle] extern "C". */
SNAPCHECK_ADAPTER_EXPORT uint32_t snapcheck_adapter_abi(void);
SNAPCHECK_ADAPTER_EXPORT int snapcheck_adapter_capabilities(uint32_t *out_caps, char *msg,
                                                            size_t msg_cap);
SNAPCHECK_ADAPTER_EXPORT int snapcheck_adapter_save(const struct snapcheck_save_req *req,
                                                    char *msg, size_t msg_cap);
SNAPCHECK_ADAPTER_EXPORT int snapcheck_adapter_load(const struct snapcheck_load_req *req,
                                                    char *msg, size_t msg_cap);
SNAPCHECK_ADAPTER_EXPORT int snapcheck_adapter_merge(const struct snapcheck_merge_req *req,
                                                     char *msg, size_t msg_cap);
/* Optional: called once after loading with the words that follow the path in
 * --lib 'PATH WORD...' (argc may be 0). */
SNAPCHECK_ADAPTER_EXPORT int snapcheck_adapter_init(int argc, const char *const *argv, char *msg,
                                                    size_t msg_cap);

#ifdef __cplusplus
}
#endif

#endif
