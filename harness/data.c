/* Generation of the campaign's inputs (see data.h). The states are built as struct
 * snap_vm_state and encoded by libsnapref, so they are valid schema-1 states for any
 * implementation that parses them; others may treat them as opaque bytes. */
#include "data.h"
#include "util.h"

#include <snap/state.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_random(uint8_t *dst, size_t len, uint64_t *s)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(s);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(dst + i, &v, n);
    }
}

/* A compatible state of mem_mib MiB; variant makes the states of different payloads differ. */
static int make_state(uint8_t **out, size_t *out_len, uint32_t mem_mib, unsigned variant,
                      uint64_t *s)
{
    uint8_t regs[2][64], dev_state[3][48], gic[96];
    fill_random(&regs[0][0], sizeof regs, s);
    fill_random(&dev_state[0][0], sizeof dev_state, s);
    fill_random(gic, sizeof gic, s);
    char boot[96];
    snprintf(boot, sizeof boot, "console=ttyAMA0 reboot=k panic=1 snapcheck.variant=%u", variant);
    struct snap_vcpu vcpus[2] = {
        {.index = 0, .mpidr = 0x80000000u, .regs = regs[0], .regs_len = sizeof regs[0]},
        {.index = 1, .mpidr = 0x80000001u, .regs = regs[1], .regs_len = 16 + variant},
    };
    char n0[] = "virtio-blk", n1[] = "virtio-net", n2[] = "serial";
    struct snap_device devs[3] = {
        {.name = n0, .state = dev_state[0], .state_len = sizeof dev_state[0]},
        {.name = n1, .state = dev_state[1], .state_len = sizeof dev_state[1]},
        {.name = n2, .state = dev_state[2], .state_len = 8 + variant},
    };
    char tmpl[] = "", kernel[] = "/var/lib/vm/vmlinux";
    struct snap_vm_state st = {
        .info = {.mem_size_mib = mem_mib,
                 .smt = false,
                 .track_dirty_pages = true,
                 .cpu_template = tmpl,
                 .kernel_image_path = kernel,
                 .initrd_path = NULL,
                 .boot_args = boot},
        .vcpus = vcpus,
        .vcpu_count = 2,
        .devices = devs,
        .device_count = 3,
        .gic = gic,
        .gic_len = sizeof gic,
        .has_mmds = variant % 2 == 1,
    };
    uint8_t mmds[40];
    if (st.has_mmds) {
        fill_random(mmds, sizeof mmds, s);
        st.mmds = mmds;
        st.mmds_len = sizeof mmds;
    }
    return snap_state_encode_alloc(out, out_len, &st);
}

static int write_payload(struct payload *p, const char *dir, char *err, size_t err_cap)
{
    if (fmt_path(p->state_path, sizeof p->state_path, "%s/%s.state", dir, p->name) ||
        fmt_path(p->mem_path, sizeof p->mem_path, "%s/%s.mem", dir, p->name) ||
        fmt_path(p->dirty_path, sizeof p->dirty_path, "%s/%s.dirty", dir, p->name)) {
        snprintf(err, err_cap, "work directory path too long: %s", dir);
        return -1;
    }
    if (file_write(p->state_path, p->state, p->state_len) != 0 ||
        file_write(p->mem_path, p->mem, p->mem_len) != 0 ||
        (p->dirty && file_write(p->dirty_path, p->dirty, p->dirty_len) != 0)) {
        snprintf(err, err_cap, "cannot write the %s input files under %s", p->name, dir);
        return -1;
    }
    if (!p->dirty)
        p->dirty_path[0] = 0;
    return 0;
}

int dataset_create(struct dataset *out, const char *dir, uint64_t seed, uint32_t page_size,
                   char *err, size_t err_cap)
{
    return dataset_create_sized(out, dir, seed, page_size, 2, err, err_cap);
}

int dataset_create_sized(struct dataset *out, const char *dir, uint64_t seed, uint32_t page_size,
                         uint32_t mem_mib, char *err, size_t err_cap)
{
    static const char *const names[P_COUNT] = {"prior", "new", "d1", "d2", "recovery"};
    memset(out, 0, sizeof *out);
    out->page_size = page_size;
    uint64_t s = seed ^ 0x736e6170636865ull; /* "snapche" */
    for (int i = 0; i < P_COUNT; i++) {
        struct payload *p = &out->p[i];
        p->name = names[i];
        uint32_t mib = i == P_RECOVERY ? 1 : mem_mib;
        if (make_state(&p->state, &p->state_len, mib, (unsigned)i, &s) != 0) {
            snprintf(err, err_cap, "cannot encode the %s VM state", p->name);
            dataset_finish(out);
            return -1;
        }
        p->mem_len = (size_t)mib << 20;
        p->mem = xmalloc(p->mem_len);
        if (i == P_D1 || i == P_D2) {
            /* PRIOR with a few pages rewritten (about 1 in 32: every dirty page is a counted write
             * for page-by-page writers, so the density sets the campaign size); every other
             * page equals the base image. */
            size_t pages = p->mem_len / page_size;
            memcpy(p->mem, out->p[P_PRIOR].mem, p->mem_len);
            p->dirty_len = (pages + 7) / 8;
            p->dirty = xcalloc(p->dirty_len, 1);
            for (size_t pg = 0; pg < pages; pg++) {
                bool dirty = (splitmix(&s) % 32 == 0) || pg == (i == P_D1 ? 0 : pages - 1);
                if (!dirty)
                    continue;
                p->dirty[pg / 8] |= (uint8_t)(1u << (pg % 8));
                fill_random(p->mem + pg * page_size, page_size, &s);
            }
        } else {
            fill_random(p->mem, p->mem_len, &s);
        }
        if (write_payload(p, dir, err, err_cap) != 0) {
            dataset_finish(out);
            return -1;
        }
    }
    return 0;
}

void dataset_finish(struct dataset *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < P_COUNT; i++) {
        free(ds->p[i].state);
        free(ds->p[i].mem);
        free(ds->p[i].dirty);
    }
    memset(ds, 0, sizeof *ds);
}
