/* Census and enumeration (see census.h). The fault model (errno sets, which calls may be
 * short) comes from faults/model.h so the harness and the interposer agree on every case. */
#include "census.h"
#include "util.h"

#include <model.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

int census_read(struct scenario_run *run, const char *trace_path, char *err, size_t err_cap)
{
    run->n_calls = 0;
    FILE *f = fopen(trace_path, "r");
    if (!f) {
        snprintf(err, err_cap, "the interposer wrote no trace (%s: %s)", trace_path,
                 strerror(errno));
        return -1;
    }
    char line[8192];
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        struct trace_line t;
        if (trace_parse_line(&t, line) != 0) {
            snprintf(err, err_cap, "malformed trace line %u in %s", run->n_calls + 1, trace_path);
            rc = -1;
            break;
        }
        if (t.ordinal != run->n_calls + 1) {
            snprintf(err, err_cap, "trace %s: ordinal %lu where %u was expected", trace_path,
                     t.ordinal, run->n_calls + 1);
            rc = -1;
            break;
        }
        if (run->n_calls >= sizeof run->calls / sizeof run->calls[0]) {
            snprintf(err, err_cap, "more than %zu counted calls in one step",
                     sizeof run->calls / sizeof run->calls[0]);
            rc = -1;
            break;
        }
        snprintf(run->calls[run->n_calls], sizeof run->calls[0], "%s", t.call);
        run->n_calls++;
    }
    fclose(f);
    return rc;
}

enum fault_kind census_action_kind(const char *action)
{
    if (!strncmp(action, "errno=", 6))
        return FK_ERRNO;
    if (!strncmp(action, "short=", 6))
        return FK_SHORT;
    if (!strcmp(action, "crash-before"))
        return FK_CRASH_BEFORE;
    return FK_CRASH_AFTER;
}

static void add_case(struct sc_case **cases, unsigned *n, unsigned *cap, unsigned scenario,
                     const char *scenario_name, unsigned ordinal, const char *call,
                     const char *action)
{
    if (*n == *cap) {
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
    c->scenario = scenario;
    c->ordinal = ordinal;
    snprintf(c->call, sizeof c->call, "%s", call);
    snprintf(c->action, sizeof c->action, "%s", action);
    c->kind = census_action_kind(action);
    snprintf(c->id, sizeof c->id, "%s/%u/%s/%s", scenario_name, ordinal, call, action);
}

void census_enumerate(struct sc_case **cases, unsigned *n_cases, unsigned *cap,
                      const struct scenario_run *run, const char *scenario_name, enum tier tier)
{
    static const int fallback_errnos[] = {EIO};
    for (unsigned i = 0; i < run->n_calls; i++) {
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
            add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name, action);
            if (can_short)
                add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name,
                         "short=half");
        } else {
            for (unsigned k = 0; k < n_errnos; k++) {
                const char *en = sf_errno_name(errnos[k]);
                if (!en)
                    continue;
                snprintf(action, sizeof action, "errno=%s", en);
                add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name, action);
            }
            if (can_short) {
                add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name, "short=1");
                add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name,
                         "short=half");
                add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name,
                         "short=allbut1");
            }
        }
        add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name, "crash-before");
        add_case(cases, n_cases, cap, run->scenario, scenario_name, ord, name, "crash-after");
    }
}

static const char *rel(const char *path, const char *dir, size_t dir_len)
{
    if (!strncmp(path, dir, dir_len) && path[dir_len] == '/')
        return path + dir_len + 1;
    if (!strncmp(path, dir, dir_len) && path[dir_len] == 0)
        return ".";
    return path;
}

void trace_excerpt(char *dst, size_t dst_cap, const char *trace_path, const char *dir,
                   unsigned long upto, bool *fault_reached)
{
    if (dst_cap)
        dst[0] = 0;
    if (fault_reached)
        *fault_reached = false;
    FILE *f = fopen(trace_path, "r");
    if (!f)
        return;
    size_t dir_len = strlen(dir);
    /* Keep a ring of the last lines so the fault and what led to it are shown. */
    enum { KEEP = 24 };
    char ring[KEEP][200];
    unsigned long count = 0;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        struct trace_line t;
        if (trace_parse_line(&t, line) != 0 || t.ordinal > upto)
            continue;
        if (t.ordinal == upto && fault_reached && strcmp(t.injected, "-") != 0)
            *fault_reached = true;
        char *r = ring[count % KEEP];
        int n =
            snprintf(r, sizeof ring[0], "%lu %s %s", t.ordinal, t.call, rel(t.path, dir, dir_len));
        if (n > 0 && (size_t)n < sizeof ring[0] && strcmp(t.path2, "-") != 0)
            n += snprintf(r + n, sizeof ring[0] - (size_t)n, " -> %s", rel(t.path2, dir, dir_len));
        if (n > 0 && (size_t)n < sizeof ring[0])
            n += snprintf(r + n, sizeof ring[0] - (size_t)n, " = %s%s%s", t.result,
                          strcmp(t.err, "-") ? " " : "", strcmp(t.err, "-") ? t.err : "");
        if (n > 0 && (size_t)n < sizeof ring[0] && strcmp(t.injected, "-") != 0)
            snprintf(r + n, sizeof ring[0] - (size_t)n, " [injected %s]", t.injected);
        count++;
    }
    fclose(f);
    unsigned long first = count > KEEP ? count - KEEP : 0;
    if (first) {
        char head[64];
        snprintf(head, sizeof head, "(%lu earlier calls)\n", first);
        str_append(dst, dst_cap, head);
    }
    for (unsigned long i = first; i < count; i++) {
        str_append(dst, dst_cap, ring[i % KEEP]);
        str_append(dst, dst_cap, "\n");
    }
}
