/* File names of a pair (FORMAT.md section 1): building "<id>.snap", "<id>.g<gen>.mem",
 * "<id>.g<gen>.snap.tmp" and parsing directory entries back, one way only. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pair-priv.h"
#include "snap/pair.h"

__attribute__((format(printf, 3, 4))) static int format_name(char *dst, size_t dst_cap,
                                                              const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(dst, dst_cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= dst_cap) {
        if (dst_cap != 0)
            dst[0] = '\0';
        return SNAP_EINVAL;
    }
    return 0;
}

static bool generation_valid(uint64_t generation)
{
    return generation >= 1 && generation <= SNAP_GENERATION_MAX;
}

int snap_name_state(char *dst, size_t dst_cap, const char *id)
{
    if (dst == NULL || id == NULL || !snap_id_valid(id))
        return SNAP_EINVAL;
    return format_name(dst, dst_cap, "%s.snap", id);
}

int snap_name_mem(char *dst, size_t dst_cap, const char *id, uint64_t generation)
{
    if (dst == NULL || id == NULL || !snap_id_valid(id) || !generation_valid(generation))
        return SNAP_EINVAL;
    return format_name(dst, dst_cap, "%s.g%llu.mem", id, (unsigned long long)generation);
}

int snap_name_tmp(char *dst, size_t dst_cap, const char *id, uint64_t generation)
{
    if (dst == NULL || id == NULL || !snap_id_valid(id) || !generation_valid(generation))
        return SNAP_EINVAL;
    return format_name(dst, dst_cap, "%s.g%llu.snap.tmp", id, (unsigned long long)generation);
}

int snap_path_join(char *dst, size_t dst_cap, const char *dir, const char *name)
{
    return format_name(dst, dst_cap, "%s/%s", dir, name);
}

/* Parse "<gen>" at s: decimal, no leading zero, 1 <= gen < 2^63. @return the first byte after
 * the digits, or NULL. */
static const char *parse_generation(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s < '1' || *s > '9')
        return NULL;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (SNAP_GENERATION_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
        s++;
    }
    *out = v;
    return s;
}

enum snap_name_kind snap_name_parse(const char *name, const char *id, uint64_t *gen)
{
    size_t id_len = strlen(id);
    const char *rest;
    uint64_t g;

    *gen = 0;
    if (strncmp(name, id, id_len) != 0 || name[id_len] != '.')
        return SNAP_NAME_OTHER;
    rest = name + id_len + 1;
    if (strcmp(rest, "snap") == 0)
        return SNAP_NAME_STATE;
    if (rest[0] != 'g')
        return SNAP_NAME_OTHER;
    rest = parse_generation(rest + 1, &g);
    if (rest == NULL)
        return SNAP_NAME_OTHER;
    if (strcmp(rest, ".mem") == 0) {
        *gen = g;
        return SNAP_NAME_MEM;
    }
    if (strcmp(rest, ".snap.tmp") == 0) {
        *gen = g;
        return SNAP_NAME_TMP;
    }
    return SNAP_NAME_OTHER;
}
