/* Reports (see report.h). JSON keys are a contract with the tests that parse them:
 * tool, version, impl, verdict, cases, passed, ambiguous, findings[] with id, scenario,
 * oracle, detail, trace[], load, reproducer. */
#include "report.h"
#include "scenario.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

void report_reproducer(char *dst, size_t dst_cap, const struct campaign *c, const struct sc_case *k)
{
    char extra[64] = "";
    if (c->opt.page_size != 4096)
        snprintf(extra, sizeof extra, " --page-size %u", (unsigned)c->opt.page_size);
    if (c->opt.seed != 1)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " --seed %llu",
                 (unsigned long long)c->opt.seed);
    snprintf(dst, dst_cap, "snapcheck faults --impl '%s' --case '%s'%s", c->opt.impl_cmd, k->id,
             extra);
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
        char repro[512];
        report_reproducer(repro, sizeof repro, c, k);
        fprintf(out, "FINDING %s\n  oracle:  %s\n  detail:  %s\n  step:    %s\n  load:    %s\n",
                k->id, r->oracle, r->detail, r->step, r->load);
        if (r->left[0])
            fprintf(out, "  left behind by the failed step: %s\n", r->left);
        fprintf(out, "  calls up to the fault (ordinal call path = result):\n");
        const char *p = r->trace;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(out, "    %.*s\n", (int)len, p);
            p += len + (nl ? 1 : 0);
        }
        fprintf(out, "  reproduce: %s\n\n", repro);
    }
    if (shown > 50 && !c->opt.case_id)
        fprintf(out, "(%u more findings not shown; see --json)\n\n", shown - 50);

    if (c->opt.case_id && c->n_cases == 1 && c->results[0].verdict != V_FINDING) {
        const struct case_result *r = &c->results[0];
        fprintf(out, "CASE %s: %s\n  step: %s\n  load: %s\n%s%s%s", c->cases[0].id,
                r->verdict == V_PASS ? "pass" : "ambiguous (failed after its commit point)",
                r->step, r->load, r->detail[0] ? "  note: " : "", r->detail,
                r->detail[0] ? "\n" : "");
        if (r->left[0])
            fprintf(out, "  left behind by the failed step: %s\n", r->left);
        fprintf(out, "  calls up to the fault:\n");
        const char *p = r->trace;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(out, "    %.*s\n", (int)len, p);
            p += len + (nl ? 1 : 0);
        }
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
    unsigned collapsed = 0, nondet = 0;
    for (unsigned r = 0; r < c->n_runs; r++)
        collapsed += c->runs[r].collapsed;
    for (unsigned i = 0; i < c->n_cases; i++)
        nondet += c->results[i].nondeterministic;
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
    fprintf(out, "VERDICT: %s (%s, %u findings%s, %.1f s, impl: %s)\n",
            t.findings ? "FAIL" : "PASS", sampled, t.findings, nd, seconds, c->opt.impl_cmd);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void json_trace(FILE *f, const char *trace)
{
    fputc('[', f);
    const char *p = trace;
    bool first = true;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xmalloc(len + 1); /* whole: a trace line is never cut */
        memcpy(line, p, len);
        line[len] = 0;
        if (!first)
            fputc(',', f);
        json_str(f, line);
        free(line);
        first = false;
        p += len + (nl ? 1 : 0);
    }
    fputc(']', f);
}

int report_json(const char *path, const struct campaign *c, double seconds)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "snapcheck: cannot write the JSON report %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned n_sc;
    const struct scenario *table = scenario_table(&n_sc);
    struct report_totals t;
    report_totals(&t, c);
    fprintf(f, "{\"tool\":\"snapcheck\",\"version\":\"%s\",\"impl\":", SNAPCHECK_VERSION);
    json_str(f, c->opt.impl_cmd);
    fprintf(f, ",\"tier\":\"%s\",\"seed\":%llu,\"page_size\":%u,\"seconds\":%.3f",
            c->opt.tier == TIER_ALL    ? "all"
            : c->opt.tier == TIER_FULL ? "full"
                                       : "smoke",
            (unsigned long long)c->opt.seed,
            (unsigned)c->opt.page_size, seconds);
    fprintf(f, ",\"verdict\":\"%s\",\"cases\":%u,\"passed\":%u,\"ambiguous\":%u",
            t.findings ? "fail" : "pass", t.cases, t.passed, t.ambiguous);
    fprintf(f, ",\"not_reached\":%u,\"enumerated\":%u,\"scenarios\":[", t.not_reached,
            c->n_enumerated > t.cases ? c->n_enumerated : t.cases);
    bool first = true;
    for (unsigned r = 0; r < c->n_runs; r++) {
        unsigned s = c->runs[r].scenario, cases = 0, fnd = 0, amb = 0;
        for (unsigned i = 0; i < c->n_cases; i++)
            if (c->cases[i].scenario == s) {
                cases++;
                fnd += c->results[i].verdict == V_FINDING;
                amb += c->results[i].verdict == V_AMBIGUOUS;
            }
        fprintf(f, "%s{\"name\":", first ? "" : ",");
        json_str(f, table[s].name);
        fprintf(f,
                ",\"calls\":%u,\"cases\":%u,\"ambiguous\":%u,\"findings\":%u,"
                "\"baseline_files\":%d,\"collapsed\":%u}",
                c->runs[r].n_calls, cases, amb, fnd, c->runs[r].baseline_files,
                c->runs[r].collapsed);
        first = false;
    }
    fputs("],\"findings\":[", f);
    first = true;
    for (unsigned i = 0; i < c->n_cases; i++) {
        const struct case_result *r = &c->results[i];
        if (r->verdict != V_FINDING)
            continue;
        const struct sc_case *k = &c->cases[i];
        char repro[512];
        report_reproducer(repro, sizeof repro, c, k);
        fprintf(f, "%s{\"id\":", first ? "" : ",");
        json_str(f, k->id);
        fputs(",\"scenario\":", f);
        json_str(f, table[k->scenario].name);
        fputs(",\"oracle\":", f);
        json_str(f, r->oracle);
        fputs(",\"detail\":", f);
        json_str(f, r->detail);
        fputs(",\"step\":", f);
        json_str(f, r->step);
        fputs(",\"trace\":", f);
        json_trace(f, r->trace);
        fputs(",\"load\":", f);
        json_str(f, r->load);
        fputs(",\"left_behind\":", f);
        json_str(f, r->left);
        fputs(",\"reproducer\":", f);
        json_str(f, repro);
        fputc('}', f);
        first = false;
    }
    fputs("],\"ambiguous_cases\":[", f);
    first = true;
    for (unsigned i = 0; i < c->n_cases; i++)
        if (c->results[i].verdict == V_AMBIGUOUS) {
            if (!first)
                fputc(',', f);
            json_str(f, c->cases[i].id);
            first = false;
        }
    fputs("],\"left_behind\":[", f);
    first = true;
    for (unsigned i = 0; i < c->n_cases; i++)
        if (c->results[i].left[0]) {
            fprintf(f, "%s{\"id\":", first ? "" : ",");
            json_str(f, c->cases[i].id);
            fputs(",\"files\":", f);
            json_str(f, c->results[i].left);
            fputc('}', f);
            first = false;
        }
    fputs("]}\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "snapcheck: cannot write the JSON report %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void xml_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            if (*p < 0x20 && *p != '\n' && *p != '\t')
                fputc('?', f);
            else
                fputc(*p, f);
        }
    }
}

int report_junit(const char *path, const struct campaign *c, double seconds)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "snapcheck: cannot write the JUnit report %s: %s\n", path, strerror(errno));
        return -1;
    }
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
            xml_str(f, table[s].name);
            fputs("\" name=\"", f);
            xml_str(f, c->cases[i].id);
            fputs("\"", f);
            if (res->verdict == V_PASS) {
                fputs("/>\n", f);
                continue;
            }
            fputs(">\n", f);
            if (res->verdict == V_FINDING) {
                char repro[512];
                report_reproducer(repro, sizeof repro, c, &c->cases[i]);
                fputs("      <failure type=\"", f);
                xml_str(f, res->oracle);
                fputs("\" message=\"", f);
                xml_str(f, res->detail);
                fputs("\">", f);
                xml_str(f, res->step);
                fputc('\n', f);
                xml_str(f, res->load);
                fputc('\n', f);
                xml_str(f, res->trace);
                xml_str(f, repro);
                fputs("</failure>\n", f);
            } else {
                fputs("      <system-out>ambiguous: failed after its commit point; ", f);
                xml_str(f, res->load);
                fputs("</system-out>\n", f);
            }
            fputs("    </testcase>\n", f);
        }
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "snapcheck: cannot write the JUnit report %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}
