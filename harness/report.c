/* Reports (see report.h). JSON keys are a contract with the tests that parse them:
 * tool, version, impl, verdict, cases, passed, ambiguous, findings[] with id, scenario,
 * oracle, detail, trace[], load, reproducer. */
#include "report.h"
#include "scenario.h"
#include "util.h"

#include <json-c/json.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const KIND_NAMES[FK_COUNT] = {"errno", "short", "crash-before", "crash-after",
                                                  "clean-run"};

void report_totals(struct report_totals *out, const struct campaign *c)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < c->n_cases; i++) {
        const struct case_result *r = &c->results[i];
        out->cases++;
        if (r->verdict == V_PASS)
            out->passed++;
        else if (r->verdict == V_AMBIGUOUS)
            out->ambiguous++;
        else
            out->findings++;
        if (!r->fault_reached)
            out->not_reached++;
        if (r->left[0])
            out->left_behind++;
    }
}

char *report_reproducer(const struct campaign *c, const struct sc_case *k)
{
    char extra[64] = "";
    if (c->opt.page_size != 4096)
        snprintf(extra, sizeof extra, " --page-size %u", (unsigned)c->opt.page_size);
    if (c->opt.seed != 1)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " --seed %llu",
                 (unsigned long long)c->opt.seed);
    char *impl = shell_quote(c->opt.impl_cmd), *id = shell_quote(k->id);
    char *r = xasprintf("snapcheck faults --impl %s --case %s%s", impl, id, extra);
    free(impl);
    free(id);
    return r;
}

int report_out_open(struct report_out *out, const char *path, const char *what)
{
    out->path = path;
    out->what = what;
    out->created = true;
    out->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out->fd < 0 && errno == EEXIST) {
        out->created = false;
        out->fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (out->fd < 0) {
        fprintf(stderr, "snapcheck: cannot write the %s report %s: %s\n", what, path,
                strerror(errno));
        return -1;
    }
    return 0;
}

void report_out_abandon(struct report_out *o)
{
    if (o->fd < 0)
        return;
    close(o->fd);
    o->fd = -1;
    if (o->created)
        unlink(o->path);
}

FILE *report_out_stream(struct report_out *o)
{
    struct stat st;
    if (fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(o->fd, 0) != 0)
        goto fail;
    FILE *f = fdopen(o->fd, "w");
    if (!f)
        goto fail;
    o->fd = -1;
    return f;
fail:
    fprintf(stderr, "snapcheck: cannot write the %s report %s: %s\n", o->what, o->path,
            strerror(errno));
    close(o->fd);
    o->fd = -1;
    return NULL;
}

int report_out_close(struct report_out *o, FILE *f)
{
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "snapcheck: cannot write the %s report %s: %s\n", o->what, o->path,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Print s (from the IUT: any bytes) as clean UTF-8, each line after the first indented. */
static void put_text(FILE *out, const char *s, const char *indent)
{
    char *t = utf8_clean(s);
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(out, "%s%.*s%s", p == t ? "" : indent, (int)len, p, nl ? "\n" : "");
        p += len + (nl ? 1 : 0);
    }
    free(t);
}

static void put_trace(FILE *out, const char *trace)
{
    char *t = utf8_clean(trace);
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(out, "    %.*s\n", (int)len, p);
        p += len + (nl ? 1 : 0);
    }
    free(t);
}

void report_text(FILE *out, const struct campaign *c, double seconds)
{
    unsigned n_sc;
    const struct scenario *table = scenario_table(&n_sc);
    unsigned shown = 0;
    for (unsigned i = 0; i < c->n_cases; i++) {
        const struct case_result *r = &c->results[i];
        if (r->verdict != V_FINDING)
            continue;
        if (shown++ >= 50 && !c->opt.case_id)
            continue;
        const struct sc_case *k = &c->cases[i];
        char *repro = report_reproducer(c, k);
        fprintf(out, "FINDING %s\n  oracle:  %s\n  detail:  ", k->id, r->oracle);
        put_text(out, r->detail, "           ");
        fputs("\n  step:    ", out);
        put_text(out, r->step, "           ");
        fputs("\n  load:    ", out);
        put_text(out, r->load, "           ");
        fputc('\n', out);
        if (r->left[0]) {
            fputs("  left behind by the failed step: ", out);
            put_text(out, r->left, "    ");
            fputc('\n', out);
        }
        fprintf(out, "  calls up to the fault (ordinal call path = result):\n");
        put_trace(out, r->trace);
        fprintf(out, "  reproduce: %s\n\n", repro);
        free(repro);
    }
    if (shown > 50 && !c->opt.case_id)
        fprintf(out, "(%u more findings not shown; see --json)\n\n", shown - 50);

    if (c->opt.case_id && c->n_cases == 1 && c->results[0].verdict != V_FINDING) {
        const struct case_result *r = &c->results[0];
        fprintf(out, "CASE %s: %s\n  step: ", c->cases[0].id,
                r->verdict == V_PASS ? "pass" : "ambiguous (failed after its commit point)");
        put_text(out, r->step, "        ");
        fputs("\n  load: ", out);
        put_text(out, r->load, "        ");
        fputc('\n', out);
        if (r->detail[0]) {
            fputs("  note: ", out);
            put_text(out, r->detail, "        ");
            fputc('\n', out);
        }
        if (r->left[0]) {
            fputs("  left behind by the failed step: ", out);
            put_text(out, r->left, "    ");
            fputc('\n', out);
        }
        fprintf(out, "  calls up to the fault:\n");
        put_trace(out, r->trace);
        fputc('\n', out);
    }

    fprintf(out, "%-16s %-13s %7s %7s %9s %8s\n", "scenario", "fault", "cases", "pass", "ambiguous",
            "findings");
    for (unsigned s = 0; s < n_sc; s++) {
        for (int kd = 0; kd < FK_COUNT; kd++) {
            unsigned cases = 0, pass = 0, amb = 0, fnd = 0;
            for (unsigned i = 0; i < c->n_cases; i++) {
                if (c->cases[i].scenario != s || (int)c->cases[i].kind != kd)
                    continue;
                cases++;
                pass += c->results[i].verdict == V_PASS;
                amb += c->results[i].verdict == V_AMBIGUOUS;
                fnd += c->results[i].verdict == V_FINDING;
            }
            if (cases)
                fprintf(out, "%-16s %-13s %7u %7u %9u %8u\n", table[s].name, KIND_NAMES[kd], cases,
                        pass, amb, fnd);
        }
    }
    struct report_totals t;
    report_totals(&t, c);
    fprintf(out, "%-16s %-13s %7u %7u %9u %8u\n", "total", "", t.cases, t.passed, t.ambiguous,
            t.findings);
    if (t.left_behind)
        fprintf(out,
                "note: %u failed or crashed steps left files behind (not a finding when the "
                "next save removes them; see --json)\n",
                t.left_behind);
    if (t.not_reached)
        fprintf(out, "note: in %u cases the fault was not reached (fewer calls than the census)\n",
                t.not_reached);
    unsigned collapsed = 0, nondet = 0, memoized = 0;
    for (unsigned r = 0; r < c->n_runs; r++)
        collapsed += c->runs[r].collapsed;
    for (unsigned i = 0; i < c->n_cases; i++) {
        nondet += c->results[i].nondeterministic;
        memoized += c->results[i].memoized;
    }
    if (memoized)
        fprintf(out, "note: %u cases left a directory an earlier case of their worker had "
                     "left, and were judged as it was (SNAPCHECK_NO_MEMO=1 judges each)\n",
                memoized);
    if (collapsed)
        fprintf(out, "note: run reduction: %u counted calls in runs of like calls were not "
                     "faulted (--tier all faults them)\n", collapsed);
    char sampled[64] = "", nd[160] = "";
    if (c->n_enumerated > c->n_cases)
        snprintf(sampled, sizeof sampled, "sampled %u of %u cases", t.cases, c->n_enumerated);
    else
        snprintf(sampled, sizeof sampled, "%u cases", t.cases);
    if (nondet)
        snprintf(nd, sizeof nd, ", non-deterministic implementation in %u cases: see "
                                "docs/ADAPTER.md section 5", nondet);
    char *impl = utf8_clean(c->opt.impl_cmd);
    unsigned unchecked = 0;
    for (unsigned r = 0; r < c->n_runs; r++)
        if (c->runs[r].unchecked) {
            unchecked++;
            char *why = utf8_clean(c->runs[r].unchecked);
            fprintf(out, "UNCHECKED %s: %s\n", table[c->runs[r].scenario].name, why);
            free(why);
        }
    for (unsigned r = 0; r < c->n_runs; r++)
        if (c->runs[r].not_audited)
            fprintf(out, "note: %s not audited for calls behind the interposer: %s\n",
                    table[c->runs[r].scenario].name, c->runs[r].not_audited);
    char unc[160] = "";
    if (unchecked)
        snprintf(unc, sizeof unc, ", %u unchecked", unchecked);
    fprintf(out, "VERDICT: %s (%s, %u findings%s%s, %.1f s, impl: %s)%s\n",
            t.findings ? "FAIL" : unchecked ? "UNCHECKED" : "PASS", sampled, t.findings, unc, nd,
            seconds, impl,
            unchecked && !t.findings ? " -- the IUT changed files through calls the interposer "
                                       "did not see: no verdict for those scenarios"
                                     : "");
    free(impl);
}

/* JSON through json-c: every string from the IUT or the user goes through utf8_clean first
 * (json-c escapes quotes and controls but passes other bytes through as they are). */
static json_object *jstr(const char *s)
{
    char *t = utf8_clean(s);
    json_object *o = json_object_new_string(t);
    free(t);
    return o;
}

static void jset(json_object *obj, const char *key, json_object *val)
{
    json_object_object_add(obj, key, val);
}

static json_object *jtrace(const char *trace)
{
    json_object *a = json_object_new_array();
    char *t = utf8_clean(trace);
    for (char *p = t; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        json_object_array_add(a, json_object_new_string(p));
        p += strlen(p) + (nl ? 1 : 0);
    }
    free(t);
    return a;
}

int report_json(struct report_out *o, const struct campaign *c, double seconds)
{
    unsigned n_sc;
    const struct scenario *table = scenario_table(&n_sc);
    struct report_totals t;
    report_totals(&t, c);
    json_object *root = json_object_new_object();
    jset(root, "tool", json_object_new_string("snapcheck"));
    jset(root, "version", json_object_new_string(SNAPCHECK_VERSION));
    jset(root, "impl", jstr(c->opt.impl_cmd));
    jset(root, "tier", json_object_new_string(c->opt.tier == TIER_ALL    ? "all"
                                                  : c->opt.tier == TIER_FULL ? "full"
                                                                             : "smoke"));
    jset(root, "seed", json_object_new_uint64(c->opt.seed));
    jset(root, "page_size", json_object_new_int64(c->opt.page_size));
    char secs[32]; /* milliseconds, printed as a plain decimal */
    snprintf(secs, sizeof secs, "%.3f", seconds);
    jset(root, "seconds", json_object_new_double_s(seconds, secs));
    json_object *unch = json_object_new_array();
    for (unsigned r = 0; r < c->n_runs; r++)
        if (c->runs[r].unchecked) {
            json_object *u = json_object_new_object();
            jset(u, "scenario", json_object_new_string(table[c->runs[r].scenario].name));
            jset(u, "why", jstr(c->runs[r].unchecked));
            json_object_array_add(unch, u);
        }
    bool unchecked = json_object_array_length(unch) > 0;
    jset(root, "verdict",
         json_object_new_string(t.findings ? "fail" : unchecked ? "unchecked" : "pass"));
    jset(root, "unchecked", unch);
    json_object *na = json_object_new_array();
    for (unsigned r = 0; r < c->n_runs; r++)
        if (c->runs[r].not_audited) {
            json_object *u = json_object_new_object();
            jset(u, "scenario", json_object_new_string(table[c->runs[r].scenario].name));
            jset(u, "why", jstr(c->runs[r].not_audited));
            json_object_array_add(na, u);
        }
    jset(root, "not_audited", na);
    jset(root, "cases", json_object_new_int64(t.cases));
    jset(root, "enumerated", json_object_new_int64(c->n_enumerated > t.cases ? c->n_enumerated : t.cases));
    jset(root, "passed", json_object_new_int64(t.passed));
    jset(root, "ambiguous", json_object_new_int64(t.ambiguous));
    jset(root, "not_reached", json_object_new_int64(t.not_reached));
    json_object *scen = json_object_new_array();
    for (unsigned r = 0; r < c->n_runs; r++) {
        unsigned s = c->runs[r].scenario, cases = 0, fnd = 0, amb = 0;
        for (unsigned i = 0; i < c->n_cases; i++)
            if (c->cases[i].scenario == s) {
                cases++;
                fnd += c->results[i].verdict == V_FINDING;
                amb += c->results[i].verdict == V_AMBIGUOUS;
            }
        json_object *so = json_object_new_object();
        jset(so, "name", json_object_new_string(table[s].name));
        jset(so, "calls", json_object_new_int64(c->runs[r].n_calls));
        jset(so, "cases", json_object_new_int64(cases));
        jset(so, "ambiguous", json_object_new_int64(amb));
        jset(so, "findings", json_object_new_int64(fnd));
        jset(so, "baseline_files", json_object_new_int64(c->runs[r].baseline_files));
        jset(so, "collapsed", json_object_new_int64(c->runs[r].collapsed));
        json_object_array_add(scen, so);
    }
    jset(root, "scenarios", scen);
    json_object *finds = json_object_new_array(), *amb = json_object_new_array(),
                *left = json_object_new_array();
    for (unsigned i = 0; i < c->n_cases; i++) {
        const struct case_result *r = &c->results[i];
        const struct sc_case *k = &c->cases[i];
        if (r->verdict == V_FINDING) {
            json_object *f = json_object_new_object();
            char *repro = report_reproducer(c, k);
            jset(f, "id", jstr(k->id));
            jset(f, "scenario", json_object_new_string(table[k->scenario].name));
            jset(f, "oracle", jstr(r->oracle));
            jset(f, "detail", jstr(r->detail));
            jset(f, "step", jstr(r->step));
            jset(f, "trace", jtrace(r->trace));
            jset(f, "load", jstr(r->load));
            jset(f, "left_behind", jstr(r->left));
            jset(f, "reproducer", jstr(repro));
            free(repro);
            json_object_array_add(finds, f);
        } else if (r->verdict == V_AMBIGUOUS) {
            json_object_array_add(amb, jstr(k->id));
        }
        if (r->left[0]) {
            json_object *l = json_object_new_object();
            jset(l, "id", jstr(k->id));
            jset(l, "files", jstr(r->left));
            json_object_array_add(left, l);
        }
    }
    jset(root, "findings", finds);
    jset(root, "ambiguous_cases", amb);
    jset(root, "left_behind", left);
    int rc = -1;
    FILE *f = report_out_stream(o);
    if (f) {
        fputs(json_object_to_json_string_ext(
                  root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
              f);
        fputc('\n', f);
        rc = report_out_close(o, f);
    }
    json_object_put(root);
    return rc;
}


int report_junit(struct report_out *o, const struct campaign *c, double seconds)
{
    FILE *f = report_out_stream(o);
    if (!f)
        return -1;
    unsigned n_sc;
    const struct scenario *table = scenario_table(&n_sc);
    struct report_totals t;
    report_totals(&t, c);
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"snapcheck faults\" tests=\"%u\" failures=\"%u\" "
            "time=\"%.3f\">\n",
            t.cases, t.findings, seconds);
    for (unsigned r = 0; r < c->n_runs; r++) {
        unsigned s = c->runs[r].scenario, cases = 0, fnd = 0;
        for (unsigned i = 0; i < c->n_cases; i++)
            if (c->cases[i].scenario == s) {
                cases++;
                fnd += c->results[i].verdict == V_FINDING;
            }
        fprintf(f, "  <testsuite name=\"%s\" tests=\"%u\" failures=\"%u\">\n", table[s].name, cases,
                fnd);
        for (unsigned i = 0; i < c->n_cases; i++) {
            if (c->cases[i].scenario != s)
                continue;
            const struct case_result *res = &c->results[i];
            fputs("    <testcase classname=\"snapcheck.", f);
            xml_escape(f, table[s].name);
            fputs("\" name=\"", f);
            xml_escape(f, c->cases[i].id);
            fputs("\"", f);
            if (res->verdict == V_PASS) {
                fputs("/>\n", f);
                continue;
            }
            fputs(">\n", f);
            if (res->verdict == V_FINDING) {
                char *repro = report_reproducer(c, &c->cases[i]);
                fputs("      <failure type=\"", f);
                xml_escape(f, res->oracle);
                fputs("\" message=\"", f);
                xml_escape(f, res->detail);
                fputs("\">step: ", f);
                xml_escape(f, res->step);
                fputs("&#10;load: ", f);
                xml_escape(f, res->load);
                fputs("&#10;calls up to the fault:&#10;", f);
                xml_escape(f, res->trace);
                fputs("&#10;reproduce: ", f);
                xml_escape(f, repro);
                fputs("</failure>\n", f);
                free(repro);
            } else {
                fputs("      <system-out>ambiguous: failed after its commit point; ", f);
                xml_escape(f, res->load);
                fputs("</system-out>\n", f);
            }
            fputs("    </testcase>\n", f);
        }
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    return report_out_close(o, f);
}
