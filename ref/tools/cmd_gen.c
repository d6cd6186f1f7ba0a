/* snapref gen: deterministic synthetic inputs for save: an encoded schema-1 VM state, a guest
 * memory image, and from a base image a changed image with its dirty bitmap.
 * Method: every byte is a pure function of (seed, page index, purpose), computed with the
 * splitmix64 finaliser and written little-endian, so the same arguments give the same bytes on
 * any host and pages can be produced in any order, one 1 MiB chunk at a time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define CHUNK (1u << 20) /* a multiple of every page size */

enum salt { SALT_KIND = 1, SALT_PAGE, SALT_DIRTY, SALT_DIFF, SALT_STATE };

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t key_of(uint64_t seed, enum salt salt, uint64_t n)
{
    return mix64(mix64(seed + 0x9e3779b97f4a7c15ull * (uint64_t)salt) ^
                 (n * 0xd6e8feb86659fd93ull));
}

/* len is a multiple of 8 (page sizes and state blobs below are). */
static void fill_random(uint8_t *dst, size_t len, uint64_t key)
{
    uint64_t s = key;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        s += 0x9e3779b97f4a7c15ull;
        snap_put_le64(dst + i, mix64(s));
    }
}

/* A page of a full image: a quarter all zero (untouched RAM), an eighth a repeated word
 * (memset-like fills), the rest random. */
static void fill_base_page(uint8_t *dst, uint32_t page_size, uint64_t seed, uint64_t page)
{
    uint64_t k = key_of(seed, SALT_KIND, page) % 8;
    if (k < 2) {
        memset(dst, 0, page_size);
    } else if (k == 2) {
        uint64_t w = key_of(seed, SALT_PAGE, page);
        for (uint32_t i = 0; i < page_size; i += 8)
            snap_put_le64(dst + i, w);
    } else {
        fill_random(dst, page_size, key_of(seed, SALT_PAGE, page));
    }
}

static bool page_is_zero(const uint8_t *p, uint32_t page_size)
{
    for (uint32_t i = 0; i < page_size; i++)
        if (p[i])
            return false;
    return true;
}

/* Build and encode the synthetic state: an arm64 microVM with vcpus vCPUs, a GIC, four devices,
 * an initrd for odd seeds and MMDS data for even ones. @return 0 or CLI_FAIL (printed). */
static int gen_state(const char *cmd, const char *path, uint64_t seed, uint64_t ram, uint32_t vcpus)
{
    char template[16], kernel[64], initrd[64], boot[128];
    static const char *const dev_names[] = {"virtio-block", "virtio-net", "serial-ttyAMA0", "rtc"};
    static const uint32_t dev_lens[] = {256, 512, 64, 32};
    char dev_name_buf[4][32];
    struct snap_device devs[4];
    struct snap_vm_state st;
    int rc = CLI_FAIL;
    uint8_t *enc = NULL;
    size_t enc_len = 0;

    memset(&st, 0, sizeof st);
    snprintf(template, sizeof template, "%s", seed % 3 == 0 ? "" : seed % 3 == 1 ? "V1N1" : "T2");
    snprintf(kernel, sizeof kernel, "/var/lib/microvm/vmlinux-%" PRIu64, seed);
    snprintf(initrd, sizeof initrd, "/var/lib/microvm/initrd-%" PRIu64 ".img", seed);
    snprintf(boot, sizeof boot, "console=ttyAMA0 reboot=k panic=1 pci=off seed=%" PRIu64, seed);
    st.info.mem_size_mib = (uint32_t)(ram >> 20);
    st.info.smt = false;
    st.info.track_dirty_pages = true; /* so that the state can also go with a diff save */
    st.info.cpu_template = template;
    st.info.kernel_image_path = kernel;
    st.info.initrd_path = seed % 2 ? initrd : NULL;
    st.info.boot_args = boot;

    size_t regs_len = 768, gic_len = 8192 + 256 * (size_t)vcpus, mmds_len = 1024;
    size_t blob_total = regs_len * vcpus + gic_len + mmds_len;
    for (size_t i = 0; i < COUNT(dev_lens); i++)
        blob_total += dev_lens[i];
    uint8_t *blobs = malloc(blob_total);
    st.vcpus = calloc(vcpus, sizeof *st.vcpus);
    if (!blobs || !st.vcpus) {
        cli_fail(cmd, "out of memory");
        goto out;
    }
    fill_random(blobs, blob_total, key_of(seed, SALT_STATE, 0));
    uint8_t *b = blobs;
    st.vcpu_count = vcpus;
    for (uint32_t i = 0; i < vcpus; i++) {
        st.vcpus[i].index = i;
        st.vcpus[i].mpidr = 0x80000000ull | (i % 16) | ((uint64_t)(i / 16) << 8);
        st.vcpus[i].regs = b;
        st.vcpus[i].regs_len = (uint32_t)regs_len;
        b += regs_len;
    }
    for (size_t i = 0; i < COUNT(devs); i++) {
        snprintf(dev_name_buf[i], sizeof dev_name_buf[i], "%s", dev_names[i]);
        devs[i].name = dev_name_buf[i];
        devs[i].state = b;
        devs[i].state_len = dev_lens[i];
        b += dev_lens[i];
    }
    st.devices = devs;
    st.device_count = (uint32_t)COUNT(devs);
    st.gic = b;
    st.gic_len = (uint32_t)gic_len;
    b += gic_len;
    if (seed % 2 == 0) {
        int n = snprintf((char *)b, mmds_len, "{\"latest\":{\"meta-data\":{\"seed\":%" PRIu64 "}}}",
                         seed);
        st.has_mmds = true;
        st.mmds = b;
        st.mmds_len = (uint32_t)n;
    }

    struct snap_diag diag;
    snap_diag_clear(&diag);
    int lrc = snap_state_verify_compatible(&st, ram, &diag);
    if (lrc == 0)
        lrc = snap_state_encode_alloc(&enc, &enc_len, &st);
    if (lrc != 0) {
        cli_lib_fail(cmd, lrc, &diag, "cannot build the synthetic state");
        goto out;
    }
    rc = cli_write_file(cmd, "state output", path, enc, enc_len);
out:
    free(enc);
    free(st.vcpus);
    free(blobs);
    return rc;
}

static int gen_full(const char *cmd, const char *path, uint64_t seed, uint64_t ram,
                    uint32_t page_size)
{
    uint8_t *buf = malloc(CHUNK);
    if (!buf)
        return cli_fail(cmd, "out of memory");
    struct cli_out o;
    int rc = cli_out_open(&o, cmd, "memory output", path);
    for (uint64_t off = 0; rc == 0 && off < ram; off += CHUNK) {
        size_t n = ram - off < CHUNK ? (size_t)(ram - off) : CHUNK;
        for (size_t p = 0; p < n; p += page_size)
            fill_base_page(buf + p, page_size, seed, (off + p) / page_size);
        rc = cli_out_write(&o, cmd, buf, n);
    }
    if (o.fd >= 0 && cli_out_close(&o, cmd) != 0)
        rc = CLI_FAIL;
    free(buf);
    return rc;
}

/* Choose the dirty pages (a fraction pct/100 of them, at least one when pct > 0) and write the
 * changed image: dirty pages get new random bytes, except one that becomes all zeros (a dirty
 * page of zeros is data, not a hole: FORMAT.md 5), preferably one that was not zero before. */
static int gen_diff(const char *cmd, const struct cli_input *base, uint32_t page_size,
                    uint64_t seed, double pct, const char *mem_path, const char *bm_path)
{
    uint64_t pages = base->len / page_size;
    uint8_t *bm = calloc(1, (size_t)snap_bitmap_len(pages));
    uint8_t *buf = malloc(CHUNK);
    int rc = CLI_FAIL;
    if (!bm || !buf) {
        cli_fail(cmd, "out of memory");
        goto out;
    }
    uint64_t dirty = 0;
    for (uint64_t p = 0; p < pages; p++) {
        double u = (double)(key_of(seed, SALT_DIRTY, p) >> 11) * 0x1.0p-53;
        if (u * 100.0 < pct) {
            snap_bitmap_set(bm, p);
            dirty++;
        }
    }
    if (pct > 0 && dirty == 0) {
        snap_bitmap_set(bm, key_of(seed, SALT_DIRTY, pages) % pages);
        dirty = 1;
    }
    uint64_t zero_page = UINT64_MAX;
    for (uint64_t p = 0; p < pages; p++) {
        if (!snap_bitmap_test(bm, p))
            continue;
        if (zero_page == UINT64_MAX)
            zero_page = p;
        if (!page_is_zero(base->data + p * page_size, page_size)) {
            zero_page = p;
            break;
        }
    }
    struct cli_out o;
    rc = cli_out_open(&o, cmd, "memory output", mem_path);
    for (uint64_t off = 0; rc == 0 && off < base->len; off += CHUNK) {
        size_t n = base->len - off < CHUNK ? (size_t)(base->len - off) : CHUNK;
        memcpy(buf, base->data + off, n);
        for (size_t q = 0; q < n; q += page_size) {
            uint64_t p = (off + q) / page_size;
            if (p == zero_page)
                memset(buf + q, 0, page_size);
            else if (snap_bitmap_test(bm, p))
                fill_random(buf + q, page_size, key_of(seed, SALT_DIFF, p));
        }
        rc = cli_out_write(&o, cmd, buf, n);
    }
    if (o.fd >= 0 && cli_out_close(&o, cmd) != 0)
        rc = CLI_FAIL;
    if (rc == 0)
        rc =
            cli_write_file(cmd, "dirty bitmap output", bm_path, bm, (size_t)snap_bitmap_len(pages));
    if (rc == 0)
        fprintf(stderr, "snapref gen: %" PRIu64 " of %" PRIu64 " pages dirty\n", dirty, pages);
out:
    free(buf);
    free(bm);
    return rc;
}

static int parse_pct(double *out, const char *s)
{
    char *end;
    if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '.'))
        return -1;
    double v = strtod(s, &end);
    if (*end == '%')
        end++;
    if (*end != '\0' || !(v >= 0.0 && v <= 100.0))
        return -1;
    *out = v;
    return 0;
}

int cmd_gen(int argc, char **argv)
{
    static const struct cli_cmd cmd = {
        "gen",
        "--seed N --ram SIZE --vcpus N --page-size N --state-out S --memory-out M\n"
        "       snapref gen --seed N --page-size N --base-memory M0 --dirty PCT --memory-out M1 "
        "--dirty-out BM [--state-out S --vcpus N]",
        "Write deterministic synthetic inputs for save: an encoded schema-1 VM state and a guest\n"
        "memory image of SIZE bytes (K/M/G suffixes; a multiple of 1 MiB); or, from a base image\n"
        "M0, an image M1 with PCT% of its pages changed (one of them all zeros) and the dirty\n"
        "bitmap BM of those pages. The same arguments always give the same bytes.",
        0,
    };
    struct cli_opt opts[] = {
        {"seed", "N", "seed of every generated byte (default 1)", NULL},
        {"ram", "SIZE", "guest RAM size, e.g. 64M or 1G (full image)", NULL},
        {"vcpus", "N", "vCPU count, 1-256 (default 2)", NULL},
        {"page-size", "N", "4096 (default), 16384 or 65536", NULL},
        {"state-out", "S", "output: encoded VM state", NULL},
        {"memory-out", "M", "output: guest memory image", NULL},
        {"base-memory", "M0", "diff: the image to change (input)", NULL},
        {"dirty", "PCT", "diff: percentage of pages to change, 0-100", NULL},
        {"dirty-out", "BM", "diff: output: dirty bitmap", NULL},
    };
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(&cmd, opts, COUNT(opts), argc, argv, pos, &npos);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    const char *seed_s = cli_get(opts, COUNT(opts), "seed");
    const char *ram_s = cli_get(opts, COUNT(opts), "ram");
    const char *vcpus_s = cli_get(opts, COUNT(opts), "vcpus");
    const char *ps_s = cli_get(opts, COUNT(opts), "page-size");
    const char *state_out = cli_get(opts, COUNT(opts), "state-out");
    const char *mem_out = cli_get(opts, COUNT(opts), "memory-out");
    const char *base_mem = cli_get(opts, COUNT(opts), "base-memory");
    const char *dirty_s = cli_get(opts, COUNT(opts), "dirty");
    const char *dirty_out = cli_get(opts, COUNT(opts), "dirty-out");

    uint64_t seed = 1, ram = 0, vcpus = 2;
    uint32_t page_size = 4096;
    double pct = 0;
    if (seed_s && cli_parse_u64(&seed, seed_s) != 0)
        return cli_usage_error(cmd.name, "bad --seed '%s': expected a decimal number", seed_s);
    if (vcpus_s && (cli_parse_u64(&vcpus, vcpus_s) != 0 || vcpus < 1 || vcpus > SNAP_MAX_VCPUS))
        return cli_usage_error(cmd.name, "bad --vcpus '%s': expected 1 to %u", vcpus_s,
                               SNAP_MAX_VCPUS);
    if (ps_s && cli_page_size(&page_size, cmd.name, ps_s) != 0)
        return CLI_USAGE;
    if (ram_s) {
        if (cli_parse_size(&ram, ram_s) != 0 || ram == 0 || ram % (1u << 20) != 0 ||
            (ram >> 20) > UINT32_MAX)
            return cli_usage_error(cmd.name,
                                   "bad --ram '%s': expected a non-zero multiple of "
                                   "1M (the state stores mem_size_mib)",
                                   ram_s);
        if (ram / page_size > SNAP_MAX_PAGES)
            return cli_usage_error(cmd.name, "bad --ram '%s': over %llu pages of %u bytes", ram_s,
                                   (unsigned long long)SNAP_MAX_PAGES, page_size);
    }

    if (!base_mem) {
        if (dirty_s || dirty_out)
            return cli_usage_error(cmd.name, "--dirty and --dirty-out need --base-memory");
        if (!ram_s)
            return cli_usage_error(cmd.name, "missing --ram");
        if (!state_out && !mem_out)
            return cli_usage_error(cmd.name, "nothing to write: give --state-out and/or "
                                             "--memory-out");
        if (state_out && gen_state(cmd.name, state_out, seed, ram, (uint32_t)vcpus) != 0)
            return CLI_FAIL;
        if (mem_out && gen_full(cmd.name, mem_out, seed, ram, page_size) != 0)
            return CLI_FAIL;
        return CLI_OK;
    }

    if (!dirty_s || !mem_out || !dirty_out)
        return cli_usage_error(cmd.name, "--base-memory needs --dirty, --memory-out and "
                                         "--dirty-out");
    if (parse_pct(&pct, dirty_s) != 0)
        return cli_usage_error(cmd.name, "bad --dirty '%s': expected a percentage 0-100", dirty_s);
    struct cli_input base;
    if (cli_input_read(&base, cmd.name, "base memory image", base_mem) != 0)
        return CLI_FAIL;
    rc = CLI_FAIL;
    if (base.len == 0 || base.len % page_size != 0 || base.len / page_size > SNAP_MAX_PAGES) {
        cli_fail(cmd.name, "base memory image '%s': %zu bytes is not 1 to %llu pages of %u bytes",
                 base_mem, base.len, (unsigned long long)SNAP_MAX_PAGES, page_size);
        goto out;
    }
    if (ram_s && ram != base.len) {
        cli_fail(cmd.name, "base memory image '%s': %zu bytes, but --ram is %" PRIu64, base_mem,
                 base.len, ram);
        goto out;
    }
    if (state_out && base.len % (1u << 20) != 0) {
        cli_fail(cmd.name,
                 "base memory image '%s': %zu bytes is not a multiple of 1M, so no "
                 "state can describe it",
                 base_mem, base.len);
        goto out;
    }
    if (state_out && gen_state(cmd.name, state_out, seed, base.len, (uint32_t)vcpus) != 0)
        goto out;
    rc = gen_diff(cmd.name, &base, page_size, seed, pct, mem_out, dirty_out);
out:
    cli_input_free(&base);
    return rc;
}
