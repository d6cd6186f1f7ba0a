/* The VM state (the seed's MicrovmState): in-memory form, canonical codec (schema 1) and the
 * compatibility check. docs/FORMAT.md section 4. */
#ifndef SNAP_STATE_H
#define SNAP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_SCHEMA_VERSION 1u
#define SNAP_MAX_STATE_LEN (64u << 20)
#define SNAP_MAX_VCPUS 256u
#define SNAP_MAX_DEVICES 64u
#define SNAP_MAX_TEMPLATE_LEN 64u
#define SNAP_MAX_PATH_LEN 4096u /* kernel_image_path, initrd_path, boot_args */
#define SNAP_MAX_DEVICE_NAME_LEN 64u
#define SNAP_MAX_REGS_LEN 65536u
#define SNAP_MAX_DEVICE_STATE_LEN (1u << 20)
#define SNAP_MAX_GIC_LEN (1u << 20)
#define SNAP_MAX_MMDS_LEN (16u << 20)

/* Strings are NUL-terminated copies (the encoding forbids NUL inside them). */
struct snap_vm_info {
    uint32_t mem_size_mib;
    bool smt;
    bool track_dirty_pages;
    char *cpu_template;
    char *kernel_image_path;
    char *initrd_path; /* NULL when there is no initrd */
    char *boot_args;
};

struct snap_vcpu {
    uint32_t index;
    uint64_t mpidr;
    uint8_t *regs;
    uint32_t regs_len;
};

struct snap_device {
    char *name;
    uint8_t *state;
    uint32_t state_len;
};

/* Invariant: every pointer is either NULL with its length 0, or owned by this struct (after
 * decode) or by the caller (when built by hand for encode). */
struct snap_vm_state {
    struct snap_vm_info info;
    struct snap_vcpu *vcpus;
    uint32_t vcpu_count;
    struct snap_device *devices;
    uint32_t device_count;
    uint8_t *gic;
    uint32_t gic_len;
    bool has_mmds;
    uint8_t *mmds;
    uint32_t mmds_len;
};

/* Decode schema-1 bytes into out (heap copies, release with snap_state_finish).
 * @param[out] out  zeroed first; on failure left zeroed (nothing to free)
 * @return 0, SNAP_ETRUNC (ends inside a field), SNAP_ELIMIT, SNAP_ECORRUPT (bad bool, NUL in a
 *         string, reserved byte, bytes left over), SNAP_ENOMEM. */
int snap_state_decode(struct snap_vm_state *out, const uint8_t *src, size_t src_len);

/* Exact length of the encoding of st, or 0 if st breaks a limit (then encode returns ELIMIT). */
size_t snap_state_encoded_len(const struct snap_vm_state *st);

/* Encode st into dst. @param[out] out_len bytes written.
 * @return 0, SNAP_EINVAL (dst_cap too small, NULL string), SNAP_ELIMIT. */
int snap_state_encode(uint8_t *dst, size_t dst_cap, size_t *out_len,
                      const struct snap_vm_state *st);

/* Encode into a new heap buffer (*out, free() it). @return as snap_state_encode, SNAP_ENOMEM. */
int snap_state_encode_alloc(uint8_t **out, size_t *out_len, const struct snap_vm_state *st);

/* Compatibility (FORMAT.md section 4): >= 1 vCPU, indexes 0..n-1 in order, no SMT,
 * mem_size_mib * 2^20 == ram_size. @return 0 or SNAP_EINCOMPAT (diag says which rule). */
struct snap_diag;
int snap_state_verify_compatible(const struct snap_vm_state *st, uint64_t ram_size,
                                 struct snap_diag *diag);

/* Deep equality (used by tests and the round-trip fuzz target). */
bool snap_state_equal(const struct snap_vm_state *a, const struct snap_vm_state *b);

/* Free what decode allocated; st is zeroed. NULL accepted. */
void snap_state_finish(struct snap_vm_state *st);

#endif
