/* Persistence models: replay of a data trace into the directory a power cut leaves.
 * Method: the trace is parsed once into operations on inodes (the process's view: each name is
 * resolved to the inode it named at that moment, each descriptor to the inode it was opened
 * on). For every operation and model the parse also records the first cut from which it is
 * durable (a later successful fsync of its file, or of its parent directory for a namespace
 * operation) and the first cut from which it is lost for good (a later failed fsync of its file:
 * Linux errseq). A state is then the template plus every operation up to the cut, minus the
 * chosen lost ones (those still unsynced at the cut), with at most one write torn at a 512-byte
 * sector boundary. File contents are lists of segments pointing into the template files or
 * the data file, never copies, so building and digesting a state costs the number of
 * operations, not the size of the image. docs/CRASH.md states the rules and their sources. */
#define _GNU_SOURCE
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512u
#define NEVER UINT_MAX

enum src { SRC_TPL, SRC_DATA };

struct seg {
    uint64_t off, len;
    uint64_t src_off;
    uint32_t src_id; /* SRC_TPL: template file index */
    uint8_t src;
};

struct inode {
    struct seg *segs;
    unsigned n, cap;
    uint64_t size;
    int tpl;       /* template file index, -1 for a file the run created */
    bool modified; /* a template inode whose bytes changed */
};

struct tfile {
    char *name;
    char *link; /* a symbolic link's target (kept as it is), NULL for a regular file */
    uint64_t size;
    const uint8_t *map; /* mapped on first use */
};

/* What the parse knows of each op besides struct pt_op. */
struct opx {
    unsigned durable_at[PT_MODEL_COUNT]; /* first cut at which it is durable, NEVER */
    unsigned lost_at;                    /* first cut from which it is lost (errseq), NEVER */
    bool replaces;                       /* RENAME over an existing name */
};

struct pt_trace {
    char *dir, *real_dir, *tpl_dir;
    struct pt_op *ops; /* index ordinal - 1 */
    struct opx *x;
    unsigned n_ops, cap_ops;
    struct tfile *tpl;
    unsigned n_tpl;
    char **tdirs; /* the template's subdirectories */
    unsigned n_tdirs, cap_tdirs;
    unsigned n_inodes; /* inodes 1..n_tpl are the template files */
    const uint8_t *data;
    size_t data_len;
};

struct entry {
    char *name;
    unsigned ino; /* 0 for a directory */
};

struct pt_state {
    const struct pt_trace *t;
    struct entry *e;
    unsigned n, cap;
    struct inode *ino; /* index 1..n_inodes */
    uint64_t *digest;  /* per entry */
    uint64_t digest_all;
};

static const char *const MODEL_NAMES[PT_MODEL_COUNT] = {"prefix", "posix", "ext4-ordered"};

const char *pt_model_name(enum pt_model m)
{
    return m < PT_MODEL_COUNT ? MODEL_NAMES[m] : "?";
}

int pt_model_find(const char *name)
{
    for (int i = 0; i < PT_MODEL_COUNT; i++)
        if (!strcmp(MODEL_NAMES[i], name))
            return i;
    return -1;
}

static void fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* snprintf for paths (a path too long is cut; the open that follows then fails). */
static void fmtp(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmtp(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static void *grow(void *p, unsigned *cap, unsigned need, size_t elem)
{
    if (need <= *cap)
        return p;
    unsigned c = *cap ? *cap : 8;
    while (c < need)
        c *= 2;
    void *q = realloc(p, (size_t)c * elem);
    if (!q)
        return NULL;
    *cap = c;
    return q;
}

/* ---- hashing ---- */

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t add(uint64_t h, uint64_t v)
{
    return mix(h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)));
}

static uint64_t add_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = add(h, (unsigned char)*s);
    return add(h, 0x100);
}

/* ---- parsing ---- */

static char *unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return s;
}

/* The name of path relative to the traced directory, "" for the directory itself, NULL when
 * outside. */
static const char *relname(const struct pt_trace *t, const char *path)
{
    const char *roots[2] = {t->dir, t->real_dir};
    for (int i = 0; i < 2; i++) {
        if (!roots[i])
            continue;
        size_t n = strlen(roots[i]);
        if (!strncmp(path, roots[i], n) && (path[n] == 0 || path[n] == '/'))
            return path[n] ? path + n + 1 : path + n;
    }
    return NULL;
}

static bool call_is(const char *call, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(call, *names))
            return true;
    return false;
}

static const char *const OPENS[] = {"open", "open64", "openat", "openat64", "creat", "creat64", NULL};
static const char *const WRITES[] = {"write", "pwrite", "pwrite64", "writev", NULL};
static const char *const RENAMES[] = {"rename", "renameat", "renameat2", NULL};
static const char *const UNLINKS[] = {"unlink", "unlinkat", NULL};
static const char *const MKDIRS[] = {"mkdir", "mkdirat", NULL};
static const char *const SYNCS[] = {"fsync", "fdatasync", NULL};

static long extra_field(const char *extra, const char *key, long dflt)
{
    size_t n = strlen(key);
    for (const char *p = extra; p && *p;) {
        if (!strncmp(p, key, n) && p[n] == '=')
            return strtol(p + n + 1, NULL, 0);
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return dflt;
}

/* The process's view while parsing: names and descriptors to inodes. */
struct view {
    struct entry *e;
    unsigned n, cap;
    unsigned *fd_ino;
    bool *fd_sync; /* opened with O_SYNC or O_DSYNC: each write is durable when it returns */
    unsigned fd_cap;
};

static int view_find(const struct view *v, const char *name)
{
    for (unsigned i = 0; i < v->n; i++)
        if (!strcmp(v->e[i].name, name))
            return (int)i;
    return -1;
}

static int view_set(struct view *v, const char *name, unsigned ino)
{
    int i = view_find(v, name);
    if (i >= 0) {
        v->e[i].ino = ino;
        return 0;
    }
    struct entry *e = grow(v->e, &v->cap, v->n + 1, sizeof *e);
    if (!e)
        return -1;
    v->e = e;
    e[v->n].name = strdup(name);
    e[v->n].ino = ino;
    if (!e[v->n].name)
        return -1;
    v->n++;
    return 0;
}

static void view_del(struct view *v, const char *name)
{
    int i = view_find(v, name);
    if (i < 0)
        return;
    free(v->e[i].name);
    v->e[i] = v->e[--v->n];
}

static void view_finish(struct view *v)
{
    for (unsigned i = 0; i < v->n; i++)
        free(v->e[i].name);
    free(v->e);
    free(v->fd_ino);
    free(v->fd_sync);
}

static unsigned fd_lookup(const struct view *v, const char *fd_field)
{
    char *end;
    long fd = strtol(fd_field, &end, 10);
    if (*end || fd < 0 || (unsigned long)fd >= v->fd_cap)
        return 0;
    return v->fd_ino[fd];
}

static bool fd_is_sync(const struct view *v, const char *fd_field)
{
    char *end;
    long fd = strtol(fd_field, &end, 10);
    if (*end || fd < 0 || (unsigned long)fd >= v->fd_cap)
        return false;
    return v->fd_sync[fd];
}

static int fdmap_set(struct view *v, long fd, unsigned ino, bool sync)
{
    if (fd < 0 || fd > 1 << 20)
        return 0;
    if ((unsigned long)fd >= v->fd_cap) {
        unsigned c = v->fd_cap ? v->fd_cap : 64;
        while (c <= (unsigned long)fd)
            c *= 2;
        unsigned *p = realloc(v->fd_ino, c * sizeof *p);
        if (!p)
            return -1;
        memset(p + v->fd_cap, 0, (c - v->fd_cap) * sizeof *p);
        v->fd_ino = p;
        bool *q = realloc(v->fd_sync, c * sizeof *q);
        if (!q)
            return -1;
        memset(q + v->fd_cap, 0, (c - v->fd_cap) * sizeof *q);
        v->fd_sync = q;
        v->fd_cap = c;
    }
    v->fd_ino[fd] = ino;
    v->fd_sync[fd] = sync;
    return 0;
}

static char *parent_of(const char *name)
{
    const char *s = strrchr(name, '/');
    return strndup(name, s ? (size_t)(s - name) : 0);
}

/* The template's regular files and subdirectories, by path relative to its root. */
static int load_tree(struct pt_trace *t, const char *rel, unsigned *tcap, char *err, size_t cap)
{
    char dpath[PATH_MAX];
    fmtp(dpath, sizeof dpath, "%s%s%s", t->tpl_dir, *rel ? "/" : "", rel);
    DIR *d = opendir(dpath);
    if (!d) {
        fail(err, cap, "cannot read the template directory %s: %s", dpath, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        char p[PATH_MAX], name[PATH_MAX];
        struct stat st;
        fmtp(p, sizeof p, "%s/%s", dpath, de->d_name);
        fmtp(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (lstat(p, &st) != 0 ||
            (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))) {
            fail(err, cap, "template %s: not a regular file, directory or symbolic link", p);
            rc = -1;
            break;
        }
        char target[PATH_MAX] = "";
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(p, target, sizeof target - 1);
            if (n < 0) {
                fail(err, cap, "template %s: cannot read the link: %s", p, strerror(errno));
                rc = -1;
                break;
            }
            target[n] = 0;
        }
        if (S_ISDIR(st.st_mode)) {
            char **dd = grow(t->tdirs, &t->cap_tdirs, t->n_tdirs + 1, sizeof *dd);
            if (!dd || !(dd[t->n_tdirs] = strdup(name))) {
                rc = -1;
                break;
            }
            t->tdirs = dd;
            t->n_tdirs++;
            rc = load_tree(t, name, tcap, err, cap);
            continue;
        }
        struct tfile *f = grow(t->tpl, tcap, t->n_tpl + 1, sizeof *f);
        if (!f) {
            rc = -1;
            break;
        }
        t->tpl = f;
        f[t->n_tpl].name = strdup(name);
        f[t->n_tpl].link = S_ISLNK(st.st_mode) ? strdup(target) : NULL;
        f[t->n_tpl].size = S_ISLNK(st.st_mode) ? 0 : (uint64_t)st.st_size;
        f[t->n_tpl].map = NULL;
        t->n_tpl++;
    }
    closedir(d);
    return rc;
}

static int load_template(struct pt_trace *t, char *err, size_t cap)
{
    unsigned tcap = 0;
    int rc = load_tree(t, "", &tcap, err, cap);
    t->n_inodes = t->n_tpl;
    return rc;
}

static int parse_line(struct pt_trace *t, struct view *v, char *line, unsigned lineno,
                      const char *trace_path, char *err, size_t cap)
{
    char *f[12];
    unsigned nf = 0;
    for (char *p = line; nf < 12;) {
        f[nf++] = p;
        p = strchr(p, '\t');
        if (!p)
            break;
        *p++ = 0;
    }
    if (nf != 12) {
        fail(err, cap,
             "%s line %u: %u fields where a trace with data has 12 (was SNAPFAULT_TRACE_DATA set?)",
             trace_path, lineno, nf);
        return -1;
    }
    char *end;
    unsigned long ord = strtoul(f[0], &end, 10);
    if (*end || ord == 0 || ord > 100000000ul) {
        fail(err, cap, "%s line %u: bad ordinal '%s'", trace_path, lineno, f[0]);
        return -1;
    }
    if (ord > t->n_ops) {
        unsigned c = t->n_ops;
        if (ord > t->cap_ops) { /* grow geometrically: traces have 10^5 lines and more */
            unsigned cap2 = t->cap_ops ? t->cap_ops : 64;
            while (cap2 < ord)
                cap2 *= 2;
            struct pt_op *ops = realloc(t->ops, cap2 * sizeof *ops);
            struct opx *x = ops ? realloc(t->x, cap2 * sizeof *x) : NULL;
            if (ops)
                t->ops = ops;
            if (!ops || !x) {
                fail(err, cap, "out of memory");
                return -1;
            }
            t->x = x;
            t->cap_ops = cap2;
        }
        memset(t->ops + c, 0, (ord - c) * sizeof *t->ops);
        memset(t->x + c, 0, (ord - c) * sizeof *t->x);
        for (unsigned i = c; i < ord; i++)
            t->ops[i].ordinal = i + 1;
        t->n_ops = (unsigned)ord;
    }
    struct pt_op *o = &t->ops[ord - 1];
    snprintf(o->call, sizeof o->call, "%s", f[1]);
    const char *path = unescape(f[2]);
    const char *path2 = unescape(f[3]);
    bool ran = strcmp(f[7], "-") != 0;
    long long result = ran ? strtoll(f[7], NULL, 10) : -1;
    const char *name = relname(t, path);
    const char *extra = f[11];
    o->kind = PK_NONE;
    if (!ran)
        return 0;
    if (call_is(o->call, SYNCS)) {
        o->ok = result == 0;
        if (name && !*name) {
            o->kind = PK_DIRSYNC;
            o->name = strdup("");
            return 0;
        }
        unsigned ino = fd_lookup(v, f[4]);
        int k = name ? view_find(v, name) : -1;
        if (!ino && k >= 0)
            ino = v->e[k].ino;
        if (k >= 0 && v->e[k].ino == 0) { /* a subdirectory */
            o->kind = PK_DIRSYNC;
            o->name = strdup(name);
            return 0;
        }
        if (ino) {
            o->kind = PK_FSYNC;
            o->ino = ino;
            o->name = name ? strdup(name) : NULL;
        }
        return 0;
    }
    if (result < 0)
        return 0; /* a failed call changes nothing */
    if (call_is(o->call, OPENS)) {
        if (!name || !*name)
            return 0;
        long flags = extra_field(extra, "flags", -1);
        if (flags < 0)
            flags = !strncmp(o->call, "creat", 5) ? O_CREAT | O_WRONLY | O_TRUNC : O_RDONLY;
#ifdef O_TMPFILE
        if ((flags & O_TMPFILE) == O_TMPFILE) {
            fail(err, cap, "%s line %u: open with O_TMPFILE of %s cannot be replayed", trace_path,
                 lineno, path);
            return -1;
        }
#endif
        int k = view_find(v, name);
        if (k >= 0 && v->e[k].ino == 0)
            return 0; /* a directory */
        unsigned ino;
        if (k < 0) {
            if (!(flags & O_CREAT))
                return 0;
            ino = ++t->n_inodes;
            if (view_set(v, name, ino) != 0)
                return -1;
            o->kind = PK_CREATE;
            o->ino = ino;
            o->name = strdup(name);
        } else {
            ino = v->e[k].ino;
            if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
                o->kind = PK_TRUNC;
                o->ino = ino;
                o->len = 0;
                o->name = strdup(name);
            }
        }
        /* O_SYNC includes the O_DSYNC bit on Linux: either makes every write durable on
         * return (open(2): "on return ... the output data ... has been transferred"). */
        return fdmap_set(v, (long)result, ino, (flags & O_DSYNC) != 0);
    }
    if (call_is(o->call, WRITES) || !strcmp(o->call, "ftruncate") ||
        !strcmp(o->call, "fallocate")) {
        unsigned ino = fd_lookup(v, f[4]);
        if (!ino && name) {
            int k = view_find(v, name);
            ino = k >= 0 ? v->e[k].ino : 0;
        }
        if (!ino)
            return 0;
        o->ino = ino;
        o->name = name ? strdup(name) : NULL;
        uint64_t off = strtoull(f[5], NULL, 10), len = strtoull(f[6], NULL, 10);
        if (call_is(o->call, WRITES)) {
            if (result == 0)
                return 0;
            uint64_t doff = strtoull(f[10], &end, 10);
            if (*end || doff > t->data_len || (uint64_t)result > t->data_len - doff) {
                fail(err, cap, "%s line %u: data_off '%s' + %lld bytes beyond the data file",
                     trace_path, lineno, f[10], result);
                return -1;
            }
            o->kind = PK_WRITE;
            o->off = off;
            o->len = (uint64_t)result;
            o->data_off = doff;
            o->sync_write = fd_is_sync(v, f[4]);
        } else if (!strcmp(o->call, "ftruncate")) {
            o->kind = PK_TRUNC;
            o->len = len;
        } else if (!(extra_field(extra, "mode", 0) & 0x01)) { /* not FALLOC_FL_KEEP_SIZE */
            o->kind = PK_ALLOC;
            o->off = off;
            o->len = len;
        }
        return 0;
    }
    if (call_is(o->call, RENAMES)) {
        const char *n2 = relname(t, path2);
        if (!name || !n2) {
            fail(err, cap, "%s line %u: rename across the traced directory (%s -> %s)",
                 trace_path, lineno, path, path2);
            return -1;
        }
        if (extra_field(extra, "flags", 0) & 2) { /* RENAME_EXCHANGE */
            fail(err, cap, "%s line %u: renameat2 RENAME_EXCHANGE cannot be replayed", trace_path,
                 lineno);
            return -1;
        }
        int k = view_find(v, name);
        if (k < 0)
            return 0;
        unsigned ino = v->e[k].ino;
        t->x[ord - 1].replaces = view_find(v, n2) >= 0;
        view_del(v, name);
        if (view_set(v, n2, ino) != 0)
            return -1;
        o->kind = PK_RENAME;
        o->ino = ino;
        o->name = strdup(name);
        o->name2 = strdup(n2);
        return 0;
    }
    if (call_is(o->call, UNLINKS) && name && *name) {
        view_del(v, name);
        o->kind = PK_UNLINK;
        o->name = strdup(name);
        return 0;
    }
    if (call_is(o->call, MKDIRS) && name && *name) {
        if (view_set(v, name, 0) != 0)
            return -1;
        o->kind = PK_MKDIR;
        o->name = strdup(name);
    }
    return 0;
}

static bool is_ns(enum pt_kind k)
{
    return k == PK_CREATE || k == PK_MKDIR || k == PK_RENAME || k == PK_UNLINK;
}

static bool is_data(enum pt_kind k)
{
    return k == PK_WRITE || k == PK_TRUNC || k == PK_ALLOC;
}

/* For each op: the cut from which it is durable under each model, or lost for good. One
 * backward pass keeping, per inode, the next successful and the next failed fsync, per
 * directory the next successful directory fsync, and the next successful sync of any kind. */
struct dirsync {
    const char *name;
    unsigned next;
};

static unsigned dir_next(const struct dirsync *d, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(d[i].name, name))
            return d[i].next;
    return NEVER;
}

static int analyse(struct pt_trace *t)
{
    unsigned *next_ok = malloc((t->n_inodes + 1) * sizeof *next_ok);
    unsigned *next_fail = malloc((t->n_inodes + 1) * sizeof *next_fail);
    struct dirsync *dirs = NULL;
    unsigned n_dirs = 0, cap_dirs = 0, next_any = NEVER;
    int rc = -1;
    if (!next_ok || !next_fail)
        goto out;
    for (unsigned i = 0; i <= t->n_inodes; i++)
        next_ok[i] = next_fail[i] = NEVER;
    for (unsigned i = t->n_ops; i-- > 0;) {
        struct pt_op *o = &t->ops[i];
        struct opx *x = &t->x[i];
        for (int m = 0; m < PT_MODEL_COUNT; m++)
            x->durable_at[m] = NEVER;
        x->lost_at = NEVER;
        if (o->kind == PK_FSYNC) {
            if (o->ok)
                next_ok[o->ino] = o->ordinal;
            else
                next_fail[o->ino] = o->ordinal;
        }
        if ((o->kind == PK_FSYNC || o->kind == PK_DIRSYNC) && o->ok)
            next_any = o->ordinal;
        if (o->kind == PK_DIRSYNC && o->ok) {
            unsigned k = 0;
            while (k < n_dirs && strcmp(dirs[k].name, o->name))
                k++;
            if (k == n_dirs) {
                struct dirsync *d = grow(dirs, &cap_dirs, n_dirs + 1, sizeof *d);
                if (!d)
                    goto out;
                dirs = d;
                dirs[n_dirs++].name = o->name;
            }
            dirs[k].next = o->ordinal;
        }
        if (is_data(o->kind)) {
            x->durable_at[PT_PREFIX] = o->ordinal;
            if (o->kind == PK_WRITE && o->sync_write) {
                /* O_SYNC/O_DSYNC: durable when the call returned; a later failed fsync
                 * concerns other dirty pages, not these. */
                x->durable_at[PT_POSIX] = x->durable_at[PT_EXT4_ORDERED] = o->ordinal;
                continue;
            }
            /* The first fsync after the write decides (Linux errseq): a success makes it
             * durable for good, whatever a later failure reports about later pages; a failure
             * marks its pages clean unwritten, lost whatever a later success says. */
            if (next_ok[o->ino] < next_fail[o->ino])
                x->durable_at[PT_POSIX] = x->durable_at[PT_EXT4_ORDERED] = next_ok[o->ino];
            else
                x->lost_at = next_fail[o->ino];
        } else if (is_ns(o->kind)) {
            x->durable_at[PT_PREFIX] = o->ordinal;
            /* ext4: any fsync commits the one journal, every namespace change before it. */
            x->durable_at[PT_EXT4_ORDERED] = next_any;
            char *p1 = parent_of(o->name);
            char *p2 = o->kind == PK_RENAME ? parent_of(o->name2) : NULL;
            if (!p1 || (o->kind == PK_RENAME && !p2)) {
                free(p1);
                goto out;
            }
            unsigned d1 = dir_next(dirs, n_dirs, p1);
            unsigned d2 = p2 ? dir_next(dirs, n_dirs, p2) : d1;
            x->durable_at[PT_POSIX] = d1 > d2 ? d1 : d2; /* both parents synced */
            free(p1);
            free(p2);
        }
    }
    rc = 0;
out:
    free(next_ok);
    free(next_fail);
    free(dirs);
    return rc;
}

int pt_trace_load(struct pt_trace **out, const char *trace_path, const char *data_path,
                  const char *dir, const char *template_dir, char *err, size_t err_cap)
{
    *out = NULL;
    struct pt_trace *t = calloc(1, sizeof *t);
    if (!t) {
        fail(err, err_cap, "out of memory");
        return -1;
    }
    t->dir = strdup(dir);
    t->real_dir = realpath(dir, NULL);
    t->tpl_dir = strdup(template_dir);
    struct view v = {0};
    FILE *f = NULL;
    char *line = NULL;
    size_t lcap = 0;
    int rc = -1;
    if (!t->dir || !t->tpl_dir) {
        fail(err, err_cap, "out of memory");
        goto out;
    }
    if (load_template(t, err, err_cap) != 0)
        goto out;
    for (unsigned i = 0; i < t->n_tpl; i++)
        if (view_set(&v, t->tpl[i].name, i + 1) != 0)
            goto out;
    for (unsigned i = 0; i < t->n_tdirs; i++)
        if (view_set(&v, t->tdirs[i], 0) != 0)
            goto out;
    int dfd = open(data_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        fail(err, err_cap, "cannot read the data trace %s: %s", data_path, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        goto out;
    }
    t->data_len = (size_t)st.st_size;
    if (t->data_len) {
        void *m = mmap(NULL, t->data_len, PROT_READ, MAP_PRIVATE, dfd, 0);
        if (m == MAP_FAILED) {
            fail(err, err_cap, "cannot map the data trace %s: %s", data_path, strerror(errno));
            close(dfd);
            goto out;
        }
        t->data = m;
    }
    close(dfd);
    f = fopen(trace_path, "re");
    if (!f) {
        fail(err, err_cap, "cannot read the trace %s: %s", trace_path, strerror(errno));
        goto out;
    }
    unsigned lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) > 0) {
        lineno++;
        if (line[n - 1] == '\n')
            line[--n] = 0;
        if (!n)
            continue;
        if (parse_line(t, &v, line, lineno, trace_path, err, err_cap) != 0)
            goto out;
    }
    if (analyse(t) != 0) {
        fail(err, err_cap, "out of memory");
        goto out;
    }
    rc = 0;
out:
    free(line);
    if (f)
        fclose(f);
    view_finish(&v);
    if (rc != 0)
        pt_trace_destroy(t);
    else
        *out = t;
    return rc;
}

void pt_trace_destroy(struct pt_trace *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < t->n_ops; i++) {
        free(t->ops[i].name);
        free(t->ops[i].name2);
    }
    for (unsigned i = 0; i < t->n_tpl; i++) {
        if (t->tpl[i].map && t->tpl[i].size)
            munmap((void *)t->tpl[i].map, t->tpl[i].size);
        free(t->tpl[i].name);
        free(t->tpl[i].link);
    }
    if (t->data)
        munmap((void *)t->data, t->data_len);
    for (unsigned i = 0; i < t->n_tdirs; i++)
        free(t->tdirs[i]);
    free(t->tdirs);
    free(t->tpl);
    free(t->ops);
    free(t->x);
    free(t->dir);
    free(t->real_dir);
    free(t->tpl_dir);
    free(t);
}

unsigned pt_trace_last(const struct pt_trace *t)
{
    return t->n_ops;
}

const struct pt_op *pt_trace_op(const struct pt_trace *t, unsigned ordinal)
{
    return ordinal >= 1 && ordinal <= t->n_ops ? &t->ops[ordinal - 1] : NULL;
}

unsigned pt_forced_lost(unsigned **out, const struct pt_trace *t, unsigned cut)
{
    unsigned n = 0;
    *out = malloc((t->n_ops ? t->n_ops : 1) * sizeof **out);
    if (!*out)
        return 0;
    for (unsigned i = 0; i < t->n_ops; i++)
        if (t->ops[i].ordinal <= cut && t->x[i].lost_at <= cut)
            (*out)[n++] = t->ops[i].ordinal;
    return n;
}

unsigned pt_unsynced(unsigned **out, const struct pt_trace *t, enum pt_model m, unsigned cut)
{
    unsigned n = 0;
    if (cut > t->n_ops)
        cut = t->n_ops;
    *out = malloc((cut ? cut : 1) * sizeof **out);
    if (!*out)
        return 0;
    if (m == PT_PREFIX)
        return 0;
    for (unsigned i = 0; i < cut; i++) {
        const struct opx *x = &t->x[i];
        if (!is_ns(t->ops[i].kind) && !is_data(t->ops[i].kind))
            continue;
        if (x->durable_at[m] <= cut || x->lost_at <= cut)
            continue;
        (*out)[n++] = i + 1;
    }
    return n;
}

/* The sector boundary nearest to the middle of write o, strictly inside it; 0 when none. */
static uint64_t tear_point(const struct pt_op *o)
{
    if (o->kind != PK_WRITE || o->len < 2)
        return 0;
    uint64_t mid = o->off + o->len / 2;
    uint64_t b = mid / SECTOR * SECTOR;
    if (b <= o->off)
        b += SECTOR;
    return b > o->off && b < o->off + o->len ? b : 0;
}

bool pt_tearable(const struct pt_trace *t, unsigned ordinal)
{
    const struct pt_op *o = pt_trace_op(t, ordinal);
    return o && tear_point(o) != 0;
}

static bool in_set(const unsigned *set, unsigned n, unsigned v)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (set[mid] == v)
            return true;
        if (set[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool pt_choice_allowed(const struct pt_trace *t, enum pt_model m, unsigned cut,
                       const unsigned *lost, unsigned n_lost)
{
    if (m == PT_PREFIX)
        return n_lost == 0;
    if (m != PT_EXT4_ORDERED)
        return true;
    /* The journal commits namespace changes in order: a lost one loses every later one. */
    bool seen_lost = false;
    for (unsigned i = 0; i < cut && i < t->n_ops; i++) {
        const struct pt_op *o = &t->ops[i];
        if (!is_ns(o->kind) || t->x[i].durable_at[m] <= cut)
            continue;
        bool l = in_set(lost, n_lost, o->ordinal);
        if (!l && seen_lost)
            return false;
        seen_lost |= l;
        /* auto_da_alloc: a rename replacing a file flushes the renamed file's data first. */
        if (!l && o->kind == PK_RENAME && t->x[i].replaces)
            for (unsigned k = 0; k < n_lost; k++) {
                const struct pt_op *d = pt_trace_op(t, lost[k]);
                if (d && is_data(d->kind) && d->ino == o->ino && d->ordinal < o->ordinal)
                    return false;
            }
    }
    return true;
}

/* ---- states ---- */

/* Replace [off, off+len) of ino by a segment (len > 0), or clear it (with_seg false). */
static int seg_put(struct inode *in, uint64_t off, uint64_t len, bool with_seg, enum src src,
                   uint32_t src_id, uint64_t src_off)
{
    /* Appending past the last segment (sequential writes): no rebuild. */
    if (with_seg && (!in->n || in->segs[in->n - 1].off + in->segs[in->n - 1].len <= off)) {
        struct seg *last = in->n ? &in->segs[in->n - 1] : NULL;
        if (last && last->src == src && last->src_id == src_id && last->off + last->len == off &&
            last->src_off + last->len == src_off) {
            last->len += len;
            return 0;
        }
        struct seg *g = grow(in->segs, &in->cap, in->n + 1, sizeof *g);
        if (!g)
            return -1;
        in->segs = g;
        in->segs[in->n++] = (struct seg){off, len, src_off, src_id, (uint8_t)src};
        return 0;
    }
    unsigned cap = in->n + 3;
    struct seg *ns = malloc(cap * sizeof *ns);
    if (!ns)
        return -1;
    unsigned k = 0;
    uint64_t end = off + len;
    bool placed = !with_seg;
    for (unsigned i = 0; i < in->n; i++) {
        struct seg s = in->segs[i];
        uint64_t se = s.off + s.len;
        if (!placed && s.off >= off) {
            ns[k++] = (struct seg){off, len, src_off, src_id, (uint8_t)src};
            placed = true;
        }
        if (se <= off || s.off >= end) {
            ns[k++] = s;
            continue;
        }
        if (s.off < off) { /* left part */
            struct seg l = s;
            l.len = off - s.off;
            ns[k++] = l;
        }
        if (!placed) {
            ns[k++] = (struct seg){off, len, src_off, src_id, (uint8_t)src};
            placed = true;
        }
        if (se > end) { /* right part */
            struct seg r = s;
            r.off = end;
            r.len = se - end;
            r.src_off = s.src_off + (end - s.off);
            ns[k++] = r;
        }
        if (k + 3 > cap) {
            cap *= 2;
            struct seg *g = realloc(ns, cap * sizeof *ns);
            if (!g) {
                free(ns);
                return -1;
            }
            ns = g;
        }
    }
    if (!placed)
        ns[k++] = (struct seg){off, len, src_off, src_id, (uint8_t)src};
    free(in->segs);
    in->segs = ns;
    in->n = k;
    in->cap = cap;
    return 0;
}

static int set_size(struct inode *in, uint64_t size)
{
    if (size < in->size && seg_put(in, size, in->size - size, false, SRC_DATA, 0, 0) != 0)
        return -1;
    in->size = size;
    return 0;
}

static int st_find(const struct pt_state *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!strcmp(s->e[i].name, name))
            return (int)i;
    return -1;
}

static int st_set(struct pt_state *s, const char *name, unsigned ino)
{
    int i = st_find(s, name);
    if (i >= 0) {
        s->e[i].ino = ino;
        return 0;
    }
    struct entry *e = grow(s->e, &s->cap, s->n + 1, sizeof *e);
    if (!e)
        return -1;
    s->e = e;
    e[s->n].name = strdup(name);
    e[s->n].ino = ino;
    if (!e[s->n].name)
        return -1;
    s->n++;
    return 0;
}

static void st_del(struct pt_state *s, const char *name)
{
    int i = st_find(s, name);
    if (i < 0)
        return;
    free(s->e[i].name);
    s->e[i] = s->e[--s->n];
}

/* true when the directory holding name is in the state (a lost mkdir takes what would have
 * been created under it along). */
static bool parent_present(const struct pt_state *s, const char *name)
{
    const char *slash = strrchr(name, '/');
    if (!slash)
        return true;
    char parent[PATH_MAX];
    fmtp(parent, sizeof parent, "%.*s", (int)(slash - name), name);
    int i = st_find(s, parent);
    return i >= 0 && s->e[i].ino == 0;
}

static int apply(struct pt_state *s, const struct pt_op *o, bool torn)
{
    struct inode *in = o->ino ? &s->ino[o->ino] : NULL;
    if ((o->kind == PK_CREATE || o->kind == PK_MKDIR) && !parent_present(s, o->name))
        return 0;
    if (o->kind == PK_RENAME && !parent_present(s, o->name2))
        return 0;
    switch (o->kind) {
    case PK_CREATE:
        free(in->segs);
        memset(in, 0, sizeof *in);
        in->tpl = -1;
        return st_set(s, o->name, o->ino);
    case PK_MKDIR:
        return st_set(s, o->name, 0);
    case PK_RENAME: {
        int i = st_find(s, o->name);
        if (i < 0)
            return 0; /* its creation was lost */
        unsigned ino = s->e[i].ino;
        st_del(s, o->name);
        return st_set(s, o->name2, ino);
    }
    case PK_UNLINK:
        st_del(s, o->name);
        return 0;
    case PK_WRITE: {
        uint64_t len = o->len;
        if (torn)
            len = tear_point(o) - o->off;
        if (in->tpl >= 0)
            in->modified = true;
        if (seg_put(in, o->off, len, true, SRC_DATA, 0, o->data_off) != 0)
            return -1;
        if (o->off + o->len > in->size)
            in->size = o->off + o->len; /* a torn tail beyond the old end reads as zeros */
        return 0;
    }
    case PK_TRUNC:
        if (in->tpl >= 0)
            in->modified = true;
        return set_size(in, o->len);
    case PK_ALLOC:
        if (o->off + o->len > in->size) {
            if (in->tpl >= 0)
                in->modified = true;
            in->size = o->off + o->len;
        }
        return 0;
    default:
        return 0;
    }
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static uint64_t inode_digest(const struct pt_trace *t, const struct inode *in)
{
    if (in->tpl >= 0 && !in->modified && t->tpl[in->tpl].link)
        return add_str(0x11c, t->tpl[in->tpl].link);
    uint64_t h = add(0x5eed, in->size);
    for (unsigned i = 0; i < in->n; i++) {
        const struct seg *g = &in->segs[i];
        h = add(h, g->off);
        h = add(h, g->len);
        h = add(h, g->src);
        h = add(h, g->src_id);
        h = add(h, g->src_off);
    }
    return h;
}

/* Merge neighbouring segments that continue each other, so the same bytes written in other
 * pieces give the same digest. */
static void canonical(struct inode *in)
{
    unsigned k = 0;
    for (unsigned i = 0; i < in->n; i++) {
        struct seg *g = &in->segs[i];
        if (k && in->segs[k - 1].src == g->src && in->segs[k - 1].src_id == g->src_id &&
            in->segs[k - 1].off + in->segs[k - 1].len == g->off &&
            in->segs[k - 1].src_off + in->segs[k - 1].len == g->src_off) {
            in->segs[k - 1].len += g->len;
            continue;
        }
        in->segs[k++] = *g;
    }
    in->n = k;
}

static struct pt_state *build(const struct pt_trace *t, enum pt_model m, unsigned cut,
                              const unsigned *lost, unsigned n_lost, unsigned torn, bool errseq);

struct pt_state *pt_state_build(const struct pt_trace *t, enum pt_model m, unsigned cut,
                                const unsigned *lost, unsigned n_lost, unsigned torn)
{
    return build(t, m, cut, lost, n_lost, torn, true);
}

struct pt_state *pt_state_build_traced(const struct pt_trace *t)
{
    return build(t, PT_PREFIX, t->n_ops, NULL, 0, 0, false);
}

static struct pt_state *build(const struct pt_trace *t, enum pt_model m, unsigned cut,
                              const unsigned *lost, unsigned n_lost, unsigned torn, bool errseq)
{
    struct pt_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    s->ino = calloc(t->n_inodes + 1, sizeof *s->ino);
    if (!s->ino)
        goto fail;
    for (unsigned i = 0; i < t->n_tpl; i++) {
        struct inode *in = &s->ino[i + 1];
        in->tpl = (int)i;
        if (t->tpl[i].size && seg_put(in, 0, t->tpl[i].size, true, SRC_TPL, i, 0) != 0)
            goto fail;
        in->size = t->tpl[i].size;
        if (st_set(s, t->tpl[i].name, i + 1) != 0)
            goto fail;
    }
    for (unsigned i = 0; i < t->n_tdirs; i++)
        if (st_set(s, t->tdirs[i], 0) != 0)
            goto fail;
    for (unsigned i = t->n_tpl + 1; i <= t->n_inodes; i++)
        s->ino[i].tpl = -1;
    if (cut > t->n_ops)
        cut = t->n_ops;
    for (unsigned i = 0; i < cut; i++) {
        const struct pt_op *o = &t->ops[i];
        if (o->kind == PK_NONE || o->kind == PK_FSYNC || o->kind == PK_DIRSYNC)
            continue;
        if ((errseq && t->x[i].lost_at <= cut) ||
            (m != PT_PREFIX && in_set(lost, n_lost, o->ordinal)))
            continue;
        if (apply(s, o, o->ordinal == torn && tear_point(o) != 0) != 0)
            goto fail;
    }
    if (s->n) /* qsort(NULL, 0, ...) is undefined: a state may hold no file */
        qsort(s->e, s->n, sizeof *s->e, entry_cmp);
    s->digest = calloc(s->n ? s->n : 1, sizeof *s->digest);
    if (!s->digest)
        goto fail;
    uint64_t h = 0xc0ffee;
    for (unsigned i = 0; i < s->n; i++) {
        h = add_str(h, s->e[i].name);
        if (s->e[i].ino && pt_is_volatile(s->e[i].name)) {
            /* written as 0xa5 bytes whatever it holds: states that differ only there are one */
            s->digest[i] = add(0x7a5, s->ino[s->e[i].ino].size);
        } else if (s->e[i].ino) {
            canonical(&s->ino[s->e[i].ino]);
            s->digest[i] = inode_digest(t, &s->ino[s->e[i].ino]);
        } else {
            s->digest[i] = 0xd1;
        }
        h = add(h, s->digest[i]);
    }
    s->digest_all = h;
    return s;
fail:
    pt_state_destroy(s);
    return NULL;
}

void pt_state_destroy(struct pt_state *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->n; i++)
        free(s->e[i].name);
    if (s->ino)
        for (unsigned i = 0; i <= s->t->n_inodes; i++)
            free(s->ino[i].segs);
    free(s->ino);
    free(s->e);
    free(s->digest);
    free(s);
}

uint64_t pt_state_digest(const struct pt_state *s)
{
    return s->digest_all;
}

unsigned pt_state_files(const struct pt_state *s)
{
    return s->n;
}

/* Volatile files (pt_set_volatile): the globs, process-wide. */
static char **volatile_globs;
static unsigned n_volatile;

void pt_set_volatile(const char *const *globs, unsigned n)
{
    for (unsigned i = 0; i < n_volatile; i++)
        free(volatile_globs[i]);
    free(volatile_globs);
    volatile_globs = NULL;
    n_volatile = 0;
    if (!n)
        return;
    volatile_globs = calloc(n, sizeof *volatile_globs);
    for (unsigned i = 0; volatile_globs && i < n; i++)
        if ((volatile_globs[n_volatile] = strdup(globs[i])))
            n_volatile++;
}

bool pt_is_volatile(const char *name)
{
    if (!n_volatile) /* the common case, asked for every file of every state */
        return false;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (unsigned i = 0; i < n_volatile; i++)
        if (fnmatch(volatile_globs[i], name, FNM_PATHNAME) == 0 ||
            fnmatch(volatile_globs[i], base, 0) == 0)
            return true;
    return false;
}

/* The bytes every state gives a volatile file, all of it: nothing an implementation wrote there
 * is to be relied on after a power cut. */
#define VOLATILE_FILL 0xa5

static int write_volatile(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    uint8_t buf[65536];
    memset(buf, VOLATILE_FILL, sizeof buf);
    int rc = 0;
    for (uint64_t done = 0; rc == 0 && done < size;) {
        size_t n = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t w = pwrite(fd, buf, n, (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = -1;
        else
            done += (uint64_t)w;
    }
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

static bool untouched(const struct pt_state *s, unsigned i)
{
    const struct inode *in = s->e[i].ino ? &s->ino[s->e[i].ino] : NULL;
    return in && in->tpl >= 0 && !in->modified;
}

void pt_state_file(const struct pt_state *s, unsigned i, const char **name, uint64_t *size,
                   uint64_t *digest, bool *is_untouched)
{
    const struct inode *in = s->e[i].ino ? &s->ino[s->e[i].ino] : NULL;
    *name = s->e[i].name;
    *size = in ? in->size : 0;
    *digest = s->digest[i];
    *is_untouched = untouched(s, i);
}

bool pt_state_is_dir(const struct pt_state *s, unsigned i)
{
    return i < s->n && s->e[i].ino == 0;
}

uint64_t pt_state_name_digest(const struct pt_state *s, const char *name)
{
    int i = st_find(s, name);
    return i < 0 ? 0 : s->digest[i];
}

static const uint8_t *tpl_map(const struct pt_trace *t, uint32_t id)
{
    struct tfile *f = &((struct pt_trace *)t)->tpl[id];
    if (f->map || !f->size)
        return f->map;
    char p[PATH_MAX];
    fmtp(p, sizeof p, "%s/%s", t->tpl_dir, f->name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    f->map = m == MAP_FAILED ? NULL : m;
    return f->map;
}

static const uint8_t *seg_bytes(const struct pt_trace *t, const struct seg *g)
{
    if (g->src == SRC_DATA)
        return t->data + g->src_off;
    const uint8_t *m = tpl_map(t, g->src_id);
    return m ? m + g->src_off : NULL;
}

int pt_state_write_file(const struct pt_state *s, unsigned i, const char *path)
{
    const struct inode *in = &s->ino[s->e[i].ino];
    if (pt_is_volatile(s->e[i].name))
        return write_volatile(path, in->size);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = ftruncate(fd, (off_t)in->size);
    for (unsigned k = 0; rc == 0 && k < in->n; k++) {
        const struct seg *g = &in->segs[k];
        const uint8_t *b = seg_bytes(s->t, g);
        if (!b) {
            rc = -1;
            break;
        }
        for (uint64_t done = 0; done < g->len;) {
            ssize_t w = pwrite(fd, b + done, g->len - done, (off_t)(g->off + done));
            if (w <= 0) {
                if (w < 0 && errno == EINTR)
                    continue;
                rc = -1;
                break;
            }
            done += (uint64_t)w;
        }
    }
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* Store files carry a fixed mtime (2001-09-09 01:46:40 UTC), so a write through one of their
 * hard links shows. */
#define STAMP_SEC 1000000000

static int stamp(const char *path)
{
    struct timespec ts[2] = {{STAMP_SEC, 0}, {STAMP_SEC, 0}};
    return utimensat(AT_FDCWD, path, ts, 0);
}

int pt_state_store_check(const struct pt_state *s, const char *store_dir)
{
    int n = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (!s->e[i].ino || untouched(s, i))
            continue;
        char p[PATH_MAX];
        struct stat st;
        fmtp(p, sizeof p, "%s/%016" PRIx64, store_dir, s->digest[i]);
        if (lstat(p, &st) != 0)
            continue;
        if ((uint64_t)st.st_size != s->ino[s->e[i].ino].size || st.st_mtim.tv_sec != STAMP_SEC ||
            st.st_mtim.tv_nsec != 0) {
            unlink(p); /* written through a link: made again when next needed */
            n++;
        }
    }
    return n;
}

int pt_state_write(const struct pt_state *s, const char *dst, const char *store_dir, char *err,
                   size_t err_cap)
{
    char p[PATH_MAX], q[PATH_MAX];
    if (mkdir(dst, 0755) != 0) {
        fail(err, err_cap, "cannot create %s: %s", dst, strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < s->n; i++) {
        const struct entry *e = &s->e[i];
        fmtp(q, sizeof q, "%s/%s", dst, e->name);
        if (!e->ino) {
            if (mkdir(q, 0755) != 0) {
                fail(err, err_cap, "cannot create %s: %s", q, strerror(errno));
                return -1;
            }
            continue;
        }
        const struct inode *in = &s->ino[e->ino];
        if (pt_is_volatile(e->name) && !(untouched(s, i) && s->t->tpl[in->tpl].link)) {
            if (write_volatile(q, in->size) != 0) { /* never through the store */
                fail(err, err_cap, "cannot write %s: %s", q, strerror(errno));
                return -1;
            }
            continue;
        }
        if (untouched(s, i) && s->t->tpl[in->tpl].link) {
            if (symlink(s->t->tpl[in->tpl].link, q) != 0) {
                fail(err, err_cap, "cannot create the link %s: %s", q, strerror(errno));
                return -1;
            }
            continue;
        }
        if (untouched(s, i)) {
            fmtp(p, sizeof p, "%s/%s", s->t->tpl_dir, s->t->tpl[in->tpl].name);
        } else {
            fmtp(p, sizeof p, "%s/%016" PRIx64, store_dir, s->digest[i]);
            if (access(p, F_OK) != 0) {
                char tmp[PATH_MAX + 32];
                snprintf(tmp, sizeof tmp, "%s.tmp%ld", p, (long)getpid());
                unlink(tmp);
                if (pt_state_write_file(s, i, tmp) != 0 || stamp(tmp) != 0 ||
                    rename(tmp, p) != 0) {
                    fail(err, err_cap, "cannot write %s: %s", p, strerror(errno));
                    unlink(tmp);
                    return -1;
                }
            }
        }
        if (link(p, q) != 0) {
            fail(err, err_cap, "cannot link %s to %s: %s", p, q, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static bool file_matches(const struct pt_state *s, unsigned i, const char *path)
{
    const struct inode *in = &s->ino[s->e[i].ino];
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != in->size)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    bool same = buf != NULL;
    uint64_t pos = 0;
    unsigned k = 0;
    while (same && pos < in->size) {
        uint64_t want = in->size - pos < CHUNK ? in->size - pos : CHUNK;
        ssize_t r = pread(fd, buf, want, (off_t)pos);
        if (r <= 0) {
            same = false;
            break;
        }
        /* compare buf (file bytes [pos, pos+r)) with the segments, zeros between them */
        for (uint64_t b = 0; same && b < (uint64_t)r;) {
            uint64_t at = pos + b;
            while (k < in->n && in->segs[k].off + in->segs[k].len <= at)
                k++;
            if (k < in->n && in->segs[k].off <= at) {
                const struct seg *g = &in->segs[k];
                uint64_t n = g->off + g->len - at;
                if (n > (uint64_t)r - b)
                    n = (uint64_t)r - b;
                const uint8_t *src = seg_bytes(s->t, g);
                if (!src || memcmp(buf + b, src + (at - g->off), n) != 0)
                    same = false;
                b += n;
            } else {
                uint64_t n = (k < in->n ? in->segs[k].off : in->size) - at;
                if (n > (uint64_t)r - b)
                    n = (uint64_t)r - b;
                for (uint64_t z = 0; z < n; z++)
                    if (buf[b + z]) {
                        same = false;
                        break;
                    }
                b += n;
            }
        }
        pos += (uint64_t)r;
    }
    free(buf);
    close(fd);
    return same;
}

struct diffbuf {
    char *dst;
    size_t cap, used;
    int n;
};

static void note(struct diffbuf *b, const char *name, const char *why)
{
    if (b->used < b->cap) {
        int w = snprintf(b->dst + b->used, b->cap - b->used, "%s%s (%s)", b->n ? ", " : "", name,
                         why);
        if (w > 0)
            b->used += (size_t)w;
    }
    b->n++;
}

/* Entries of dir/rel that are not in s or differ; @return -1 when dir cannot be read. */
static int compare_tree(const struct pt_state *s, const char *dir, const char *rel,
                        struct diffbuf *b)
{
    char dpath[PATH_MAX];
    fmtp(dpath, sizeof dpath, "%s%s%s", dir, *rel ? "/" : "", rel);
    DIR *d = opendir(dpath);
    if (!d)
        return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        char name[PATH_MAX], p[PATH_MAX];
        fmtp(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        fmtp(p, sizeof p, "%s/%s", dir, name);
        int i = st_find(s, name);
        struct stat st;
        bool is_dir = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
        if (i < 0)
            note(b, name, "not in the trace");
        else if (!s->e[i].ino != is_dir)
            note(b, name, is_dir ? "a directory, a file in the trace" : "a file, a directory in the trace");
        else if (s->e[i].ino && untouched(s, (unsigned)i) &&
                 s->t->tpl[s->ino[s->e[i].ino].tpl].link) {
            char target[PATH_MAX];
            ssize_t n = S_ISLNK(st.st_mode) ? readlink(p, target, sizeof target - 1) : -1;
            if (n >= 0)
                target[n] = 0;
            if (n < 0 || strcmp(target, s->t->tpl[s->ino[s->e[i].ino].tpl].link))
                note(b, name, "the link differs from the template's");
        } else if (s->e[i].ino && !pt_is_volatile(name) && !file_matches(s, (unsigned)i, p))
            note(b, name, "bytes differ from the trace");
        if (is_dir && i >= 0 && !s->e[i].ino && compare_tree(s, dir, name, b) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int pt_state_compare(const struct pt_state *s, const char *dir, char *diff, size_t diff_cap)
{
    struct diffbuf b = {diff, diff_cap, 0, 0};
    diff[0] = 0;
    if (compare_tree(s, dir, "", &b) != 0)
        return -1;
    char p[PATH_MAX];
    for (unsigned i = 0; i < s->n; i++) {
        fmtp(p, sizeof p, "%s/%s", dir, s->e[i].name);
        struct stat st;
        if (lstat(p, &st) != 0)
            note(&b, s->e[i].name, "missing: the trace created it");
    }
    if (b.used >= diff_cap && diff_cap > 4)
        memcpy(diff + diff_cap - 4, "...", 4);
    return b.n;
}

static void human(char *dst, size_t cap, uint64_t v)
{
    if (v && v % (1u << 20) == 0)
        snprintf(dst, cap, "%" PRIu64 " MiB", v >> 20);
    else if (v && v % 1024 == 0)
        snprintf(dst, cap, "%" PRIu64 " KiB", v >> 10);
    else
        snprintf(dst, cap, "%" PRIu64, v);
}

void pt_op_describe(char *dst, size_t dst_cap, const struct pt_trace *t, unsigned ordinal)
{
    const struct pt_op *o = pt_trace_op(t, ordinal);
    if (!o) {
        snprintf(dst, dst_cap, "call #%u", ordinal);
        return;
    }
    const char *nm = o->name ? o->name : "?";
    char a[32], b[32];
    switch (o->kind) {
    case PK_CREATE:
        snprintf(dst, dst_cap, "create #%u %s", ordinal, nm);
        break;
    case PK_MKDIR:
        snprintf(dst, dst_cap, "mkdir #%u %s", ordinal, nm);
        break;
    case PK_RENAME:
        snprintf(dst, dst_cap, "rename #%u %s -> %s", ordinal, nm, o->name2);
        break;
    case PK_UNLINK:
        snprintf(dst, dst_cap, "unlink #%u %s", ordinal, nm);
        break;
    case PK_WRITE:
        human(a, sizeof a, o->off);
        human(b, sizeof b, o->off + o->len);
        snprintf(dst, dst_cap, "write #%u %s [%s, %s)", ordinal, nm, a, b);
        break;
    case PK_TRUNC:
        human(a, sizeof a, o->len);
        snprintf(dst, dst_cap, "truncate #%u %s to %s", ordinal, nm, a);
        break;
    case PK_ALLOC:
        human(a, sizeof a, o->off + o->len);
        snprintf(dst, dst_cap, "fallocate #%u %s to %s", ordinal, nm, a);
        break;
    case PK_FSYNC:
        snprintf(dst, dst_cap, "%s #%u %s%s", o->call, ordinal, nm, o->ok ? "" : " (failed)");
        break;
    case PK_DIRSYNC:
        snprintf(dst, dst_cap, "fsync #%u of the directory%s", ordinal, o->ok ? "" : " (failed)");
        break;
    default:
        snprintf(dst, dst_cap, "%s #%u", o->call, ordinal);
    }
}

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return mix(*s);
}

/* Unsynced operations above which the enumeration samples each run of like operations. */
#define SAMPLE_FROM 64

/* a and b are alike for the enumeration: the same kind of operation on the same inode. */
static bool like_ops(const struct pt_op *a, const struct pt_op *b)
{
    return a && b && a->kind == b->kind && a->ino == b->ino;
}

int pt_enumerate(const struct pt_trace *t, enum pt_model m, unsigned cut, unsigned exhaustive_max,
                 unsigned budget, uint64_t seed, pt_choice_cb cb, void *arg)
{
    unsigned *u = NULL;
    unsigned n = pt_unsynced(&u, t, m, cut);
    if (!u)
        return -1;
    unsigned *lost = malloc((n ? n : 1) * sizeof *lost);
    if (!lost) {
        free(u);
        return -1;
    }
    int rc = 0;
    bool *pick = NULL;
#define TRY(nl, torn)                                                                              \
    do {                                                                                           \
        if (pt_choice_allowed(t, m, cut, lost, (nl)) && (rc = cb(arg, lost, (nl), (torn))) != 0)   \
            goto out;                                                                              \
    } while (0)
    if (exhaustive_max > 20)
        exhaustive_max = 20;
    if (n <= exhaustive_max) {
        for (uint64_t mask = 0; mask < (1ull << n); mask++) {
            unsigned k = 0;
            for (unsigned i = 0; i < n; i++)
                if (mask & (1ull << i))
                    lost[k++] = u[i];
            TRY(k, 0);
        }
    } else {
        /* Above SAMPLE_FROM unsynced operations, the single, prefix and all-but-one choices
         * take only the run-reduction positions of each run of like operations (the same kind
         * on the same file: first, second, middle, second-to-last, last), as the cuts do: a
         * store that writes 10^3 pages before one fsync would otherwise give 3 x 10^3 states
         * per cut. */
        pick = malloc(n * sizeof *pick);
        if (!pick) {
            rc = -1;
            goto out;
        }
        for (unsigned i = 0; i < n; i++)
            pick[i] = true;
        if (n > SAMPLE_FROM)
            for (unsigned first = 0; first < n;) {
                unsigned end = first;
                const struct pt_op *a = pt_trace_op(t, u[first]);
                while (end + 1 < n && like_ops(a, pt_trace_op(t, u[end + 1])))
                    end++;
                unsigned len = end - first + 1;
                for (unsigned k = 0; k < len; k++)
                    pick[first + k] = k <= 1 || k == (len - 1) / 2 || k + 2 >= len;
                first = end + 1;
            }
        unsigned tried = 1;
        TRY(0, 0);
        for (unsigned i = 0; i < n; i++) { /* each single one lost */
            if (!pick[i])
                continue;
            lost[0] = u[i];
            tried++;
            TRY(1, 0);
        }
        for (unsigned i = 0; i < n; i++) { /* a prefix kept, the rest lost */
            if (!pick[i])
                continue;
            memcpy(lost, u + i, (n - i) * sizeof *lost);
            tried++;
            TRY(n - i, 0);
        }
        for (unsigned i = 0; i < n; i++) { /* all lost but one */
            if (!pick[i])
                continue;
            unsigned k = 0;
            for (unsigned j = 0; j < n; j++)
                if (j != i)
                    lost[k++] = u[j];
            tried++;
            TRY(k, 0);
        }
        uint64_t s = seed ^ ((uint64_t)cut << 32) ^ (uint64_t)m;
        for (; tried < budget; tried++) {
            unsigned k = 0;
            for (unsigned i = 0; i < n; i++)
                if (rng_next(&s) & 1)
                    lost[k++] = u[i];
            TRY(k, 0);
        }
    }
    for (unsigned i = 0; i < n; i++)
        if (pt_tearable(t, u[i]) &&
            (n <= SAMPLE_FROM || i <= 1 || i + 2 >= n || i == (n - 1) / 2 ||
             !like_ops(pt_trace_op(t, u[i - 1]), pt_trace_op(t, u[i])) ||
             !like_ops(pt_trace_op(t, u[i]), pt_trace_op(t, u[i + 1]))))
            TRY(0, u[i]);
#undef TRY
out:
    free(pick);
    free(lost);
    free(u);
    return rc;
}
