/* Census and enumeration (see census.h). The fault model (errno sets, which calls may be
 * short) comes from faults/model.h so the harness and the interposer agree on every case.
 * Nothing here has a fixed size: a step may make any number of counted calls. */
#include "census.h"
#include "util.h"

#include <model.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

int trace_parse_line(struct trace_line *out, char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    char *f[10];
    unsigned n = 0;
    char *p = line;
    while (n < 10) {
        f[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = 0;
        p = tab + 1;
    }
    if (n < 2)
        return -1;
    for (unsigned i = n; i < 10; i++)
        f[i] = "-";
    uint64_t ord;
    if (parse_uint(&ord, f[0], 1, 0xffffffffu) != 0)
        return -1;
    out->ordinal = (unsigned long)ord;
    out->call = f[1];
    out->path = f[2];
    out->path2 = f[3];
    out->fd = f[4];
    out->offset = f[5];
    out->length = f[6];
    out->result = f[7];
    out->err = f[8];
    out->injected = f[9];
    return 0;
}

static int line_order(const void *a, const void *b)
{
    const struct trace_line *x = a, *y = b;
    if (x->ordinal != y->ordinal)
        return x->ordinal < y->ordinal ? -1 : 1;
    /* equal ordinals keep file order: call points into the text, in file order */
    uintptr_t p = (uintptr_t)x->call, q = (uintptr_t)y->call;
    return p < q ? -1 : p > q;
}

int trace_load(struct trace *out, const char *path, size_t *bad_line)
{
    memset(out, 0, sizeof *out);
    size_t len;
    if (file_read((uint8_t **)&out->text, &len, path, (size_t)1 << 40) != 0)
        return -1;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += out->text[i] == '\n';
    out->lines = xcalloc(lines + 1, sizeof *out->lines);
    char *p = out->text, *end = out->text + len;
    size_t no = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl)
            *nl = 0;
        no++;
        if (*p && trace_parse_line(&out->lines[out->n], p) != 0) {
            if (bad_line)
                *bad_line = no;
            return -2;
        }
        if (*p)
            out->n++;
        if (!nl)
            break;
        p = nl + 1;
    }
    qsort(out->lines, out->n, sizeof *out->lines, line_order);
    return 0;
}

void trace_finish(struct trace *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->lines);
    memset(t, 0, sizeof *t);
}

static const char *rel(const char *path, const char *dir, size_t dir_len)
{
    if (!strncmp(path, dir, dir_len) && path[dir_len] == '/')
        return path + dir_len + 1;
    if (!strncmp(path, dir, dir_len) && path[dir_len] == 0)
        return ".";
    return path;
}

static const char *intern(struct scenario_run *run, const char *name)
{
    for (unsigned i = 0; i < run->n_names; i++)
        if (!strcmp(run->names[i], name))
            return run->names[i];
    run->names = realloc(run->names, (run->n_names + 1) * sizeof *run->names);
    if (!run->names) {
        fputs("snapcheck: out of memory\n", stderr);
        abort();
    }
    return run->names[run->n_names++] = xstrdup(name);
}

static void free_calls(struct scenario_run *run)
{
    for (unsigned i = 0; i < run->n_calls; i++)
        if (run->paths && run->paths[i] && (i == 0 || run->paths[i] != run->paths[i - 1]))
            free((char *)run->paths[i]);
    for (unsigned i = 0; i < run->n_names; i++)
        free(run->names[i]);
    free(run->names);
    free(run->calls);
    free(run->paths);
    run->names = NULL;
    run->n_names = 0;
    run->calls = run->paths = NULL;
    run->n_calls = 0;
}

int census_read(struct scenario_run *run, const char *trace_path, const char *dir, char *err,
                size_t err_cap)
{
    free_calls(run);
    struct trace t;
    size_t bad = 0;
    int rc = trace_load(&t, trace_path, &bad);
    if (rc == -1) {
        snprintf(err, err_cap, "the interposer wrote no trace (%s: %s)", trace_path,
                 strerror(errno));
        trace_finish(&t);
        return -1;
    }
    if (rc == -2) {
        snprintf(err, err_cap, "malformed trace line %zu in %s", bad, trace_path);
        trace_finish(&t);
        return -1;
    }
    for (size_t i = 0; i < t.n; i++)
        if (t.lines[i].ordinal != i + 1) {
            snprintf(err, err_cap,
                     "trace %s: ordinal %lu where %zu was expected (lines sorted by ordinal: a "
                     "counted call has no line, or two have the same ordinal)",
                     trace_path, t.lines[i].ordinal, i + 1);
            trace_finish(&t);
            return -1;
        }
    if (t.n > UINT32_MAX) {
        snprintf(err, err_cap, "trace %s: more than %u counted calls", trace_path, UINT32_MAX);
        trace_finish(&t);
        return -1;
    }
    size_t dir_len = strlen(dir);
    run->calls = xcalloc(t.n + 1, sizeof *run->calls);
    run->paths = xcalloc(t.n + 1, sizeof *run->paths);
    for (size_t i = 0; i < t.n; i++) {
        run->calls[i] = intern(run, t.lines[i].call);
        const char *p = rel(t.lines[i].path, dir, dir_len);
        run->paths[i] = i > 0 && !strcmp(run->paths[i - 1], p) ? run->paths[i - 1] : xstrdup(p);
        run->n_calls = (unsigned)i + 1;
    }
    trace_finish(&t);
    return 0;
}

void census_free(struct scenario_run *run)
{
    free_calls(run);
    arena_finish(&run->text);
}

unsigned long census_diverges(const struct scenario_run *run, const struct trace *t,
                              const char *dir, unsigned long upto, struct strbuf *why)
{
    size_t dir_len = strlen(dir);
    for (size_t i = 0; i < t->n && t->lines[i].ordinal <= upto; i++) {
        const struct trace_line *l = &t->lines[i];
        const char *p = rel(l->path, dir, dir_len);
        if (l->ordinal > run->n_calls) {
            strbuf_addf(why, "call %lu: %s %s, where the census counted only %u calls",
                        l->ordinal, l->call, p, run->n_calls);
            return l->ordinal;
        }
        unsigned k = (unsigned)l->ordinal - 1;
        if (strcmp(l->call, run->calls[k]) != 0 || strcmp(p, run->paths[k]) != 0) {
            strbuf_addf(why, "call %lu: %s %s, where the census has %s %s", l->ordinal, l->call,
                        p, run->calls[k], run->paths[k]);
            return l->ordinal;
        }
    }
    return 0;
}

enum fault_kind census_action_kind(const char *action)
{
    if (!strncmp(action, "errno=", 6))
        return FK_ERRNO;
    if (!strncmp(action, "short=", 6))
        return FK_SHORT;
    if (!strcmp(action, "crash-before"))
        return FK_CRASH_BEFORE;
    if (!strcmp(action, "clean-run"))
        return FK_CLEAN_RUN;
    return FK_CRASH_AFTER;
}

static void add_case(struct sc_case **cases, unsigned *n, unsigned *cap, struct scenario_run *run,
                     const char *scenario_name, unsigned ordinal, const char *call,
                     const char *action)
{
    if (*n == *cap) {
        if (*cap > UINT32_MAX / 2) {
            fputs("snapcheck: more than 2^31 cases\n", stderr);
            abort();
        }
        *cap = *cap ? *cap * 2 : 256;
        struct sc_case *grown = realloc(*cases, *cap * sizeof **cases);
        if (!grown) {
            fputs("snapcheck: out of memory\n", stderr);
            abort();
        }
        *cases = grown;
    }
    struct sc_case *c = &(*cases)[(*n)++];
    memset(c, 0, sizeof *c);
    c->scenario = run->scenario;
    c->ordinal = ordinal;
    c->call = call;
    snprintf(c->action, sizeof c->action, "%s", action);
    c->kind = census_action_kind(action);
    c->id = ordinal ? arena_printf(&run->text, "%s/%u/%s/%s", scenario_name, ordinal, call, action)
                    : arena_printf(&run->text, "%s/%s", scenario_name, action);
}

void census_add_clean_run(struct sc_case **cases, unsigned *n_cases, unsigned *cap,
                          struct scenario_run *run, const char *scenario_name)
{
    add_case(cases, n_cases, cap, run, scenario_name, 0, "-", "clean-run");
}

/* The cases of counted call i (0-based). */
static void call_cases(struct sc_case **cases, unsigned *n_cases, unsigned *cap,
                       struct scenario_run *run, const char *scenario_name, enum tier tier,
                       unsigned i)
{
    static const int fallback_errnos[] = {EIO};
    const char *name = run->calls[i];
    const struct sf_call *m = sf_call_find(name);
    const int *errnos = m ? m->errnos : fallback_errnos;
    unsigned n_errnos = m ? m->n_errnos : 1;
    bool can_short = m && m->can_short;
    unsigned ord = i + 1;
    char action[40];
    if (tier == TIER_SMOKE) {
        int e = errnos[0];
        for (unsigned k = 0; k < n_errnos; k++)
            if (errnos[k] == EIO)
                e = EIO;
        const char *en = sf_errno_name(e);
        snprintf(action, sizeof action, "errno=%s", en ? en : "EIO");
        add_case(cases, n_cases, cap, run, scenario_name, ord, name, action);
        if (can_short)
            add_case(cases, n_cases, cap, run, scenario_name, ord, name, "short=half");
    } else {
        for (unsigned k = 0; k < n_errnos; k++) {
            const char *en = sf_errno_name(errnos[k]);
            if (!en)
                continue;
            snprintf(action, sizeof action, "errno=%s", en);
            add_case(cases, n_cases, cap, run, scenario_name, ord, name, action);
        }
        if (can_short) {
            add_case(cases, n_cases, cap, run, scenario_name, ord, name, "short=1");
            add_case(cases, n_cases, cap, run, scenario_name, ord, name, "short=half");
            add_case(cases, n_cases, cap, run, scenario_name, ord, name, "short=allbut1");
        }
    }
    add_case(cases, n_cases, cap, run, scenario_name, ord, name, "crash-before");
    add_case(cases, n_cases, cap, run, scenario_name, ord, name, "crash-after");
}

void census_enumerate(struct sc_case **cases, unsigned *n_cases, unsigned *cap,
                      struct scenario_run *run, const char *scenario_name, enum tier tier)
{
    run->collapsed = 0;
    unsigned i = 0;
    while (i < run->n_calls) {
        /* The run starting at i: same interned call name, same path. */
        unsigned j = i;
        while (j + 1 < run->n_calls && run->calls[j + 1] == run->calls[i] &&
               !strcmp(run->paths[j + 1], run->paths[i]))
            j++;
        unsigned len = j - i + 1;
        for (unsigned k = 0; k < len; k++) {
            bool keep = tier == TIER_ALL || len <= 5 || k <= 1 || k + 2 >= len ||
                        k == (len - 1) / 2;
            if (keep)
                call_cases(cases, n_cases, cap, run, scenario_name, tier, i + k);
            else
                run->collapsed++;
        }
        i = j + 1;
    }
}

void trace_excerpt(struct strbuf *dst, const struct trace *t, const char *dir,
                   unsigned long upto, bool *fault_reached)
{
    if (fault_reached)
        *fault_reached = false;
    size_t dir_len = strlen(dir);
    size_t count = 0;
    while (count < t->n && t->lines[count].ordinal <= upto)
        count++;
    enum { KEEP = 24 }; /* the fault and what led to it */
    size_t first = count > KEEP ? count - KEEP : 0;
    if (first)
        strbuf_addf(dst, "(%zu earlier calls)\n", first);
    for (size_t i = 0; i < count; i++) {
        const struct trace_line *l = &t->lines[i];
        if (l->ordinal == upto && fault_reached && strcmp(l->injected, "-") != 0)
            *fault_reached = true;
        if (i < first)
            continue;
        strbuf_addf(dst, "%lu %s %s", l->ordinal, l->call, rel(l->path, dir, dir_len));
        if (strcmp(l->path2, "-") != 0)
            strbuf_addf(dst, " -> %s", rel(l->path2, dir, dir_len));
        strbuf_addf(dst, " = %s", l->result);
        if (strcmp(l->err, "-") != 0)
            strbuf_addf(dst, " %s", l->err);
        if (strcmp(l->injected, "-") != 0)
            strbuf_addf(dst, " [injected %s]", l->injected);
        strbuf_add(dst, "\n");
    }
}
