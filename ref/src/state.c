/* The VM state codec, schema 1 (docs/FORMAT.md section 4), and the compatibility check.
 * Method: the decoder reads through a bounded cursor; every length is checked against its limit
 * and then against the bytes that remain before anything is copied or allocated, and the vCPU and
 * device counts are bounded by what the remaining bytes could hold before their arrays exist. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "snap/envelope.h"
#include "snap/error.h"
#include "snap/state.h"

/* Smallest encoding of one vCPU (u32 index, u64 mpidr, empty blob) and one device (1-byte name,
 * empty blob): a count needing more than the remaining bytes is a truncation. */
#define MIN_VCPU_LEN 16u
#define MIN_DEVICE_LEN 9u

/* ---- encoding ---- */

/* Length of a str/blob field, or 0 if it cannot be encoded. */
static int check_str(const char *s, size_t min, size_t max, size_t *len)
{
    size_t n;

    if (s == NULL)
        return SNAP_EINVAL;
    n = strnlen(s, max + 1);
    if (n < min || n > max)
        return SNAP_ELIMIT;
    *len += 4 + n;
    return 0;
}

static int check_blob(const void *p, uint32_t n, uint32_t max, size_t *len)
{
    if (p == NULL && n != 0)
        return SNAP_EINVAL;
    if (n > max)
        return SNAP_ELIMIT;
    *len += 4 + (size_t)n;
    return 0;
}

/* Validate st for encoding and compute its exact length. @return 0, SNAP_EINVAL, SNAP_ELIMIT. */
static int measure(const struct snap_vm_state *st, size_t *out)
{
    size_t len = 4 + 4; /* mem_size_mib, three bools and the reserved byte */
    int rc;

    *out = 0;
    if (st == NULL)
        return SNAP_EINVAL;
    if ((rc = check_str(st->info.cpu_template, 0, SNAP_MAX_TEMPLATE_LEN, &len)) != 0 ||
        (rc = check_str(st->info.kernel_image_path, 0, SNAP_MAX_PATH_LEN, &len)) != 0 ||
        (st->info.initrd_path != NULL &&
         (rc = check_str(st->info.initrd_path, 0, SNAP_MAX_PATH_LEN, &len)) != 0) ||
        (rc = check_str(st->info.boot_args, 0, SNAP_MAX_PATH_LEN, &len)) != 0)
        return rc;
    if (st->vcpu_count > SNAP_MAX_VCPUS)
        return SNAP_ELIMIT;
    if (st->vcpus == NULL && st->vcpu_count != 0)
        return SNAP_EINVAL;
    len += 4;
    for (uint32_t i = 0; i < st->vcpu_count; i++) {
        len += 4 + 8;
        rc = check_blob(st->vcpus[i].regs, st->vcpus[i].regs_len, SNAP_MAX_REGS_LEN, &len);
        if (rc != 0)
            return rc;
    }
    if (st->device_count > SNAP_MAX_DEVICES)
        return SNAP_ELIMIT;
    if (st->devices == NULL && st->device_count != 0)
        return SNAP_EINVAL;
    len += 4;
    for (uint32_t i = 0; i < st->device_count; i++) {
        rc = check_str(st->devices[i].name, 1, SNAP_MAX_DEVICE_NAME_LEN, &len);
        if (rc == 0)
            rc = check_blob(st->devices[i].state, st->devices[i].state_len,
                            SNAP_MAX_DEVICE_STATE_LEN, &len);
        if (rc != 0)
            return rc;
    }
    if ((rc = check_blob(st->gic, st->gic_len, SNAP_MAX_GIC_LEN, &len)) != 0)
        return rc;
    len += 1;
    if (st->has_mmds) {
        if ((rc = check_blob(st->mmds, st->mmds_len, SNAP_MAX_MMDS_LEN, &len)) != 0)
            return rc;
    } else if (st->mmds != NULL || st->mmds_len != 0) {
        return SNAP_EINVAL; /* data that the encoding could not carry */
    }
    if (len > SNAP_MAX_STATE_LEN)
        return SNAP_ELIMIT;
    *out = len;
    return 0;
}

size_t snap_state_encoded_len(const struct snap_vm_state *st)
{
    size_t len;

    return measure(st, &len) == 0 ? len : 0;
}

static uint8_t *put_u8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    snap_put_le32(p, v);
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    snap_put_le64(p, v);
    return p + 8;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
    p = put_u32(p, (uint32_t)n);
    if (n != 0)
        memcpy(p, src, n);
    return p + n;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    return put_bytes(p, s, strlen(s));
}

int snap_state_encode(uint8_t *dst, size_t dst_cap, size_t *out_len, const struct snap_vm_state *st)
{
    size_t len;
    uint8_t *p = dst;
    int rc;

    if (out_len != NULL)
        *out_len = 0;
    if (dst == NULL || out_len == NULL)
        return SNAP_EINVAL;
    rc = measure(st, &len);
    if (rc != 0)
        return rc;
    if (len > dst_cap)
        return SNAP_EINVAL;
    p = put_u32(p, st->info.mem_size_mib);
    p = put_u8(p, st->info.smt ? 1 : 0);
    p = put_u8(p, st->info.track_dirty_pages ? 1 : 0);
    p = put_u8(p, st->info.initrd_path != NULL ? 1 : 0);
    p = put_u8(p, 0);
    p = put_str(p, st->info.cpu_template);
    p = put_str(p, st->info.kernel_image_path);
    if (st->info.initrd_path != NULL)
        p = put_str(p, st->info.initrd_path);
    p = put_str(p, st->info.boot_args);
    p = put_u32(p, st->vcpu_count);
    for (uint32_t i = 0; i < st->vcpu_count; i++) {
        p = put_u32(p, st->vcpus[i].index);
        p = put_u64(p, st->vcpus[i].mpidr);
        p = put_bytes(p, st->vcpus[i].regs, st->vcpus[i].regs_len);
    }
    p = put_u32(p, st->device_count);
    for (uint32_t i = 0; i < st->device_count; i++) {
        p = put_str(p, st->devices[i].name);
        p = put_bytes(p, st->devices[i].state, st->devices[i].state_len);
    }
    p = put_bytes(p, st->gic, st->gic_len);
    p = put_u8(p, st->has_mmds ? 1 : 0);
    if (st->has_mmds)
        p = put_bytes(p, st->mmds, st->mmds_len);
    *out_len = (size_t)(p - dst);
    return 0;
}

int snap_state_encode_alloc(uint8_t **out, size_t *out_len, const struct snap_vm_state *st)
{
    size_t len;
    uint8_t *buf;
    int rc;

    if (out == NULL || out_len == NULL)
        return SNAP_EINVAL;
    *out = NULL;
    *out_len = 0;
    rc = measure(st, &len);
    if (rc != 0)
        return rc;
    buf = malloc(len);
    if (buf == NULL)
        return SNAP_ENOMEM;
    rc = snap_state_encode(buf, len, out_len, st);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

/* ---- decoding ---- */

struct reader {
    const uint8_t *p;
    size_t left;
};

static int get_u8(struct reader *r, uint8_t *v)
{
    if (r->left < 1)
        return SNAP_ETRUNC;
    *v = r->p[0];
    r->p++;
    r->left--;
    return 0;
}

static int get_bool(struct reader *r, bool *v)
{
    uint8_t b;
    int rc = get_u8(r, &b);

    if (rc != 0)
        return rc;
    if (b > 1)
        return SNAP_ECORRUPT;
    *v = b == 1;
    return 0;
}

static int get_u32(struct reader *r, uint32_t *v)
{
    if (r->left < 4)
        return SNAP_ETRUNC;
    *v = snap_get_le32(r->p);
    r->p += 4;
    r->left -= 4;
    return 0;
}

static int get_u64(struct reader *r, uint64_t *v)
{
    if (r->left < 8)
        return SNAP_ETRUNC;
    *v = snap_get_le64(r->p);
    r->p += 8;
    r->left -= 8;
    return 0;
}

/* A length-prefixed field of at most max bytes: the limit first, then the bytes that remain. */
static int get_len(struct reader *r, uint32_t max, uint32_t *n)
{
    int rc = get_u32(r, n);

    if (rc != 0)
        return rc;
    if (*n > max)
        return SNAP_ELIMIT;
    if (*n > r->left)
        return SNAP_ETRUNC;
    return 0;
}

static int get_blob(struct reader *r, uint32_t max, uint8_t **out, uint32_t *out_len)
{
    uint32_t n;
    int rc = get_len(r, max, &n);

    if (rc != 0)
        return rc;
    if (n != 0) {
        *out = malloc(n);
        if (*out == NULL)
            return SNAP_ENOMEM;
        memcpy(*out, r->p, n);
    }
    *out_len = n;
    r->p += n;
    r->left -= n;
    return 0;
}

/* A str of min..max bytes with no NUL, as a new NUL-terminated string. */
static int get_str(struct reader *r, uint32_t min, uint32_t max, char **out)
{
    uint32_t n;
    int rc = get_len(r, max, &n);

    if (rc != 0)
        return rc;
    if (n < min || memchr(r->p, 0, n) != NULL)
        return SNAP_ECORRUPT;
    *out = malloc((size_t)n + 1);
    if (*out == NULL)
        return SNAP_ENOMEM;
    memcpy(*out, r->p, n);
    (*out)[n] = '\0';
    r->p += n;
    r->left -= n;
    return 0;
}

static int decode_info(struct reader *r, struct snap_vm_info *info)
{
    bool has_initrd = false;
    uint8_t reserved;
    int rc;

    if ((rc = get_u32(r, &info->mem_size_mib)) != 0 || (rc = get_bool(r, &info->smt)) != 0 ||
        (rc = get_bool(r, &info->track_dirty_pages)) != 0 || (rc = get_bool(r, &has_initrd)) != 0 ||
        (rc = get_u8(r, &reserved)) != 0)
        return rc;
    if (reserved != 0)
        return SNAP_ECORRUPT;
    if ((rc = get_str(r, 0, SNAP_MAX_TEMPLATE_LEN, &info->cpu_template)) != 0 ||
        (rc = get_str(r, 0, SNAP_MAX_PATH_LEN, &info->kernel_image_path)) != 0)
        return rc;
    if (has_initrd && (rc = get_str(r, 0, SNAP_MAX_PATH_LEN, &info->initrd_path)) != 0)
        return rc;
    return get_str(r, 0, SNAP_MAX_PATH_LEN, &info->boot_args);
}

/* A count of entries of at least min_len bytes each: over the limit is ELIMIT, more entries than
 * the remaining bytes could hold is ETRUNC (so the array allocated is bounded by the input). */
static int get_count(struct reader *r, uint32_t max, size_t min_len, uint32_t *n)
{
    int rc = get_u32(r, n);

    if (rc != 0)
        return rc;
    if (*n > max)
        return SNAP_ELIMIT;
    if ((size_t)*n * min_len > r->left)
        return SNAP_ETRUNC;
    return 0;
}

static int decode_body(struct reader *r, struct snap_vm_state *st)
{
    uint32_t n;
    int rc;

    if ((rc = decode_info(r, &st->info)) != 0)
        return rc;
    if ((rc = get_count(r, SNAP_MAX_VCPUS, MIN_VCPU_LEN, &n)) != 0)
        return rc;
    if (n != 0) {
        st->vcpus = calloc(n, sizeof(*st->vcpus));
        if (st->vcpus == NULL)
            return SNAP_ENOMEM;
    }
    /* vcpu_count follows the entries decoded so far, so finish frees exactly those. */
    for (uint32_t i = 0; i < n; i++) {
        struct snap_vcpu *v = &st->vcpus[i];

        st->vcpu_count = i + 1;
        if ((rc = get_u32(r, &v->index)) != 0 || (rc = get_u64(r, &v->mpidr)) != 0 ||
            (rc = get_blob(r, SNAP_MAX_REGS_LEN, &v->regs, &v->regs_len)) != 0)
            return rc;
    }
    if ((rc = get_count(r, SNAP_MAX_DEVICES, MIN_DEVICE_LEN, &n)) != 0)
        return rc;
    if (n != 0) {
        st->devices = calloc(n, sizeof(*st->devices));
        if (st->devices == NULL)
            return SNAP_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct snap_device *d = &st->devices[i];

        st->device_count = i + 1;
        if ((rc = get_str(r, 1, SNAP_MAX_DEVICE_NAME_LEN, &d->name)) != 0 ||
            (rc = get_blob(r, SNAP_MAX_DEVICE_STATE_LEN, &d->state, &d->state_len)) != 0)
            return rc;
    }
    if ((rc = get_blob(r, SNAP_MAX_GIC_LEN, &st->gic, &st->gic_len)) != 0 ||
        (rc = get_bool(r, &st->has_mmds)) != 0)
        return rc;
    if (st->has_mmds && (rc = get_blob(r, SNAP_MAX_MMDS_LEN, &st->mmds, &st->mmds_len)) != 0)
        return rc;
    if (r->left != 0)
        return SNAP_ECORRUPT; /* the state must end exactly at state_len */
    return 0;
}

int snap_state_decode(struct snap_vm_state *out, const uint8_t *src, size_t src_len)
{
    struct reader r = {src, src_len};
    int rc;

    if (out == NULL || (src == NULL && src_len != 0))
        return SNAP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (src_len > SNAP_MAX_STATE_LEN)
        return SNAP_ELIMIT;
    rc = decode_body(&r, out);
    if (rc != 0)
        snap_state_finish(out);
    return rc;
}

/* ---- the rest ---- */

void snap_state_finish(struct snap_vm_state *st)
{
    if (st == NULL)
        return;
    free(st->info.cpu_template);
    free(st->info.kernel_image_path);
    free(st->info.initrd_path);
    free(st->info.boot_args);
    for (uint32_t i = 0; st->vcpus != NULL && i < st->vcpu_count; i++)
        free(st->vcpus[i].regs);
    free(st->vcpus);
    for (uint32_t i = 0; st->devices != NULL && i < st->device_count; i++) {
        free(st->devices[i].name);
        free(st->devices[i].state);
    }
    free(st->devices);
    free(st->gic);
    free(st->mmds);
    memset(st, 0, sizeof(*st));
}

static bool str_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool blob_equal(const uint8_t *a, uint32_t a_len, const uint8_t *b, uint32_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

bool snap_state_equal(const struct snap_vm_state *a, const struct snap_vm_state *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (a->info.mem_size_mib != b->info.mem_size_mib || a->info.smt != b->info.smt ||
        a->info.track_dirty_pages != b->info.track_dirty_pages ||
        !str_equal(a->info.cpu_template, b->info.cpu_template) ||
        !str_equal(a->info.kernel_image_path, b->info.kernel_image_path) ||
        !str_equal(a->info.initrd_path, b->info.initrd_path) ||
        !str_equal(a->info.boot_args, b->info.boot_args))
        return false;
    if (a->vcpu_count != b->vcpu_count || a->device_count != b->device_count)
        return false;
    for (uint32_t i = 0; i < a->vcpu_count; i++) {
        const struct snap_vcpu *x = &a->vcpus[i], *y = &b->vcpus[i];

        if (x->index != y->index || x->mpidr != y->mpidr ||
            !blob_equal(x->regs, x->regs_len, y->regs, y->regs_len))
            return false;
    }
    for (uint32_t i = 0; i < a->device_count; i++) {
        const struct snap_device *x = &a->devices[i], *y = &b->devices[i];

        if (!str_equal(x->name, y->name) ||
            !blob_equal(x->state, x->state_len, y->state, y->state_len))
            return false;
    }
    return blob_equal(a->gic, a->gic_len, b->gic, b->gic_len) && a->has_mmds == b->has_mmds &&
           blob_equal(a->mmds, a->mmds_len, b->mmds, b->mmds_len);
}

int snap_state_verify_compatible(const struct snap_vm_state *st, uint64_t ram_size,
                                 struct snap_diag *diag)
{
    if (st == NULL)
        return snap_diag_set(diag, SNAP_EINVAL, 0, "verify_compatible", NULL,
                             "verify_compatible: NULL state");
    if (st->vcpu_count == 0 || st->vcpus == NULL)
        return snap_diag_set(diag, SNAP_EINCOMPAT, 0, "verify_compatible", NULL,
                             "VM state has no vCPU");
    for (uint32_t i = 0; i < st->vcpu_count; i++) {
        if (st->vcpus[i].index != i)
            return snap_diag_set(diag, SNAP_EINCOMPAT, 0, "verify_compatible", NULL,
                                 "vCPU %" PRIu32 " has index %" PRIu32
                                 " (indexes must be 0..%" PRIu32 " in order)",
                                 i, st->vcpus[i].index, st->vcpu_count - 1);
    }
    if (st->info.smt)
        return snap_diag_set(diag, SNAP_EINCOMPAT, 0, "verify_compatible", NULL,
                             "VM state has SMT enabled; the target has no SMT");
    if ((uint64_t)st->info.mem_size_mib << 20 != ram_size)
        return snap_diag_set(diag, SNAP_EINCOMPAT, 0, "verify_compatible", NULL,
                             "mem_size_mib %" PRIu32 " MiB does not match ram_size %" PRIu64
                             " bytes",
                             st->info.mem_size_mib, ram_size);
    return 0;
}
