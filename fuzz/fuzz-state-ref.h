/* A second reading of FORMAT.md section 4, written from the spec alone: does a byte string
 * encode a valid schema-1 VM state? The decode targets assert that snap_state_decode accepts
 * exactly what this accepts, and reads the same counts. Kept minimal on purpose: no allocation,
 * one pass, in the order of the spec's field list. */
#ifndef FUZZ_STATE_REF_H
#define FUZZ_STATE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snap/envelope.h"
#include "snap/state.h"

struct ref_reader {
    const uint8_t *p;
    size_t left;
    bool ok;
};

/* What the reference read, for comparison with the decoder's result. */
struct ref_state {
    uint32_t mem_size_mib;
    uint32_t vcpu_count;
    uint32_t device_count;
    bool has_initrd;
    bool has_mmds;
};

static inline const uint8_t *ref_take(struct ref_reader *r, size_t n)
{
    if (!r->ok || r->left < n) {
        r->ok = false;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static inline uint32_t ref_u32(struct ref_reader *r)
{
    const uint8_t *p = ref_take(r, 4);
    return p ? snap_get_le32(p) : 0;
}

static inline bool ref_bool(struct ref_reader *r)
{
    const uint8_t *p = ref_take(r, 1);
    if (p && *p > 1)
        r->ok = false;
    return p && *p == 1;
}

/* blob: u32 length then bytes, length <= max */
static inline const uint8_t *ref_blob(struct ref_reader *r, uint32_t max, uint32_t *len)
{
    *len = ref_u32(r);
    if (r->ok && *len > max)
        r->ok = false;
    return ref_take(r, *len);
}

/* str: a blob of min..max bytes with no NUL byte */
static inline void ref_str(struct ref_reader *r, uint32_t min, uint32_t max)
{
    uint32_t len;
    const uint8_t *s = ref_blob(r, max, &len);
    if (r->ok && (len < min || memchr(s, '\0', len) != NULL))
        r->ok = false;
}

static inline bool fuzz_ref_state_valid(struct ref_state *out, const uint8_t *src, size_t len)
{
    struct ref_reader r = {src, len, true};
    uint32_t n;
    memset(out, 0, sizeof *out);
    out->mem_size_mib = ref_u32(&r);           /* vm_info */
    ref_bool(&r);                              /* smt */
    ref_bool(&r);                              /* track_dirty_pages */
    out->has_initrd = ref_bool(&r);            /* has_initrd */
    const uint8_t *reserved = ref_take(&r, 1); /* reserved: 0 */
    if (reserved && *reserved != 0)
        r.ok = false;
    ref_str(&r, 0, SNAP_MAX_TEMPLATE_LEN); /* cpu_template */
    ref_str(&r, 0, SNAP_MAX_PATH_LEN);     /* kernel_image_path */
    if (out->has_initrd)
        ref_str(&r, 0, SNAP_MAX_PATH_LEN); /* initrd_path */
    ref_str(&r, 0, SNAP_MAX_PATH_LEN);     /* boot_args */

    out->vcpu_count = ref_u32(&r);
    if (out->vcpu_count > SNAP_MAX_VCPUS)
        r.ok = false;
    for (uint32_t i = 0; r.ok && i < out->vcpu_count; i++) {
        ref_u32(&r);                         /* index */
        ref_take(&r, 8);                     /* mpidr */
        ref_blob(&r, SNAP_MAX_REGS_LEN, &n); /* regs */
    }
    out->device_count = ref_u32(&r);
    if (out->device_count > SNAP_MAX_DEVICES)
        r.ok = false;
    for (uint32_t i = 0; r.ok && i < out->device_count; i++) {
        ref_str(&r, 1, SNAP_MAX_DEVICE_NAME_LEN);    /* name */
        ref_blob(&r, SNAP_MAX_DEVICE_STATE_LEN, &n); /* state */
    }
    ref_blob(&r, SNAP_MAX_GIC_LEN, &n); /* gic */
    out->has_mmds = ref_bool(&r);
    if (out->has_mmds)
        ref_blob(&r, SNAP_MAX_MMDS_LEN, &n); /* mmds */
    return r.ok && r.left == 0;              /* ends exactly at state_len */
}

#endif
