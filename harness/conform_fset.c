/* Snapshot directories held in memory (conform-priv.h: struct fset): read, written back into
 * a fresh directory, and matched across generations and snapshots by name. Used by the
 * corruption probes of `snapcheck conform` (conform_probe.c). */
#include "conform-priv.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fset_finish(struct fset *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        free(s->name[i]);
        free(s->data[i]);
    }
    free(s->name);
    free(s->data);
    free(s->len);
    memset(s, 0, sizeof *s);
}

int fset_read(struct fset *out, const char *dir)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    unsigned cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 8;
            char **g = realloc(out->name, cap * sizeof *g);
            if (!g)
                abort();
            out->name = g;
        }
        out->name[out->n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(out->name, out->n, sizeof *out->name, cmp_str);
    out->data = xcalloc(out->n ? out->n : 1, sizeof *out->data);
    out->len = xcalloc(out->n ? out->n : 1, sizeof *out->len);
    for (unsigned i = 0; i < out->n; i++) {
        char p[1200];
        if (fmt_path(p, sizeof p, "%s/%s", dir, out->name[i]) ||
            file_read(&out->data[i], &out->len[i], p, (size_t)1 << 31) != 0) {
            fset_finish(out);
            return -1;
        }
    }
    return 0;
}

int fset_write(const struct fset *s, const char *dir)
{
    for (unsigned i = 0; i < s->n; i++) {
        char p[1200];
        if (fmt_path(p, sizeof p, "%s/%s", dir, s->name[i]) ||
            file_write(p, s->data[i], s->len[i]) != 0)
            return -1;
    }
    return 0;
}

/* The name with the id (at its start) and every run of digits abstracted, so that vm.g2.mem,
 * vm.g1.mem and other.g1.mem match. */
void name_key(char *dst, size_t cap, const char *name, const char *id)
{
    size_t il = strlen(id), k = 0;
    if (!strncmp(name, id, il) && (name[il] == '.' || name[il] == '_' || name[il] == '-'))
        name += il;
    for (; *name && k + 1 < cap; name++) {
        if (*name >= '0' && *name <= '9') {
            if (k == 0 || dst[k - 1] != '#')
                dst[k++] = '#';
        } else {
            dst[k++] = *name;
        }
    }
    dst[k] = 0;
}
