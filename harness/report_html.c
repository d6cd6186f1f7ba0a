/* The HTML report (--html FILE): one self-contained static page, no script, no network, no
 * external asset. The verdict first; then per scenario the fault matrix, call ordinal x fault
 * kind, each cell coloured by the worst verdict of its cases (finding, ambiguous, pass) or
 * grey when no case ran there; a cell links to its cases (CSS :target shows them: case id,
 * verdict, step, load, trace, reproducer); then every finding in full. Written as XHTML-
 * compatible markup (every element closed, only XML entities), so tests can parse it with an
 * XML parser. */
#include "report.h"
#include "scenario.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The rows of the matrix: the fault kinds of counted calls (a clean-run finding has no call:
 * it is listed with the findings). */
enum { MATRIX_ROWS = FK_CLEAN_RUN };
static const char *const KIND_ROWS[MATRIX_ROWS] = {"errno", "short", "crash-before", "crash-after"};


static const char *verdict_class(enum verdict v)
{
    return v == V_FINDING ? "finding" : v == V_AMBIGUOUS ? "ambiguous" : "pass";
}

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}"
    "h1{font-size:28px;margin:0 0 4px}h1.v-pass{color:#1a7f37}h1.v-fail{color:#c62828}"
    "h2{font-size:18px;margin:28px 0 6px}h3{font-size:15px;margin:14px 0 4px}"
    ".meta{color:#555}.legend span{display:inline-block;margin-right:14px}"
    ".sw{display:inline-block;width:14px;height:14px;vertical-align:middle;margin-right:4px;"
    "border:1px solid #0002}"
    ".scroll{overflow-x:auto;padding-bottom:4px}"
    "table.matrix{border-collapse:separate;border-spacing:2px}"
    "table.matrix th{font-weight:normal;font-size:11px;color:#555;text-align:right;"
    "padding-right:6px;white-space:nowrap}table.matrix thead th{text-align:center;padding:0}"
    "table.matrix td{padding:0}"
    "a.cell{display:block;width:16px;height:20px;border-radius:2px}"
    "a.cell:hover{outline:2px solid #000}"
    ".pass{background:#4caf50}.ambiguous{background:#f2b600}.finding{background:#e53935}"
    ".notrun{background:#e0e0e0}"
    ".cases{display:none;border:1px solid #bbb;border-radius:4px;padding:8px 12px;"
    "margin:8px 0;background:#fafafa}.cases:target{display:block}"
    ".case{margin:6px 0 10px}.tag{color:#fff;padding:0 6px;border-radius:3px;font-size:12px}"
    "pre{background:#f4f4f4;padding:6px;overflow-x:auto;font-size:12px;margin:4px 0}"
    "code{font-size:12px;word-break:break-all}"
    "div.findings>div{border-left:4px solid #e53935;padding-left:10px;margin:12px 0}"
    ".unchecked{background:#8e24aa}.na{background:#bdbdbd}"
    "a.wide{width:auto;min-width:56px;padding:0 6px;color:#fff;font-size:11px;"
    "line-height:20px;text-align:center;text-decoration:none}a.wide.notrun{color:#555}"
    "table.reqs{border-collapse:collapse;margin-top:8px}"
    "table.reqs td,table.reqs th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;"
    "vertical-align:top}table.reqs td.st{color:#fff;font-weight:bold;text-align:center}"
    "table.reqs .ev{color:#444;font-size:12px}";

void html_begin(FILE *f, const char *command, const char *verdict, bool bad)
{
    fprintf(f,
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">"
            "<head><meta charset=\"utf-8\"/><title>snapcheck %s: ",
            command);
    xml_escape(f, verdict);
    fprintf(f, "</title><style>%s</style></head>\n<body>\n<h1 class=\"%s\" id=\"verdict\">",
            STYLE, bad ? "v-fail" : "v-pass");
    xml_escape(f, verdict);
    fputs("</h1>\n", f);
}

void html_end(FILE *f)
{
    fputs("</body></html>\n", f);
}

int report_html_findings(struct report_out *o, const char *command, const char *verdict,
                         bool bad, const char *meta, const char *const *findings, unsigned n,
                         unsigned total)
{
    FILE *f = report_out_stream(o);
    if (!f)
        return -1;
    html_begin(f, command, verdict, bad);
    fputs("<p class=\"meta\">", f);
    xml_escape(f, meta);
    fprintf(f, "</p>\n<h2 id=\"findings\">Findings (%u)</h2>\n<div class=\"findings\">\n",
            total);
    for (unsigned i = 0; i < n; i++) {
        fputs("<div><pre>", f);
        xml_escape(f, findings[i]);
        fputs("</pre></div>\n", f);
    }
    if (total > n)
        fprintf(f, "<p>(%u more, not kept)</p>\n", total - n);
    fputs("</div>\n", f);
    html_end(f);
    return report_out_close(o, f);
}

/* One case in full: id, verdict, oracle and detail, step, load, left behind, trace,
 * reproducer. */
static void put_case(FILE *f, const struct campaign *c, unsigned i)
{
    const struct sc_case *k = &c->cases[i];
    const struct case_result *r = &c->results[i];
    fputs("<div class=\"case\"><b>", f);
    xml_escape(f, k->id);
    fprintf(f, "</b> <span class=\"tag %s\">%s</span>", verdict_class(r->verdict),
            verdict_class(r->verdict));
    if (r->verdict == V_FINDING) {
        fputs(" oracle <b>", f);
        xml_escape(f, r->oracle);
        fputs("</b>", f);
    }
    if (r->detail[0]) {
        fputs("<br/>", f);
        xml_escape(f, r->detail);
    }
    fputs("<br/>step: ", f);
    xml_escape(f, r->step);
    fputs("<br/>load: ", f);
    xml_escape(f, r->load);
    if (r->left[0]) {
        fputs("<br/>left behind: ", f);
        xml_escape(f, r->left);
    }
    fputs("<pre>", f);
    xml_escape(f, r->trace);
    fputs("</pre>reproduce: <code>", f);
    char *repro = report_reproducer(c, k);
    xml_escape(f, repro);
    free(repro);
    fputs("</code></div>\n", f);
}

/* Up to this many counted calls every call gets a column; above it (an IUT writing a large
 * image page by page) only the calls that have cases do, so the page stays small. */
enum { ALL_COLUMNS_UP_TO = 300 };

struct cell_ref {
    unsigned ordinal, kind, i; /* i: index into c->cases */
};

static int cmp_cell(const void *pa, const void *pb)
{
    const struct cell_ref *a = pa, *b = pb;
    if (a->ordinal != b->ordinal)
        return a->ordinal < b->ordinal ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The matrix of one scenario and the hidden case lists of its cells. Method: the scenario's
 * cases sorted by (ordinal, kind) once; first[cell] is where a cell's cases start in that
 * order (or -1), so every cell is written in time proportional to its own cases. */
static void put_scenario(FILE *f, const struct campaign *c, unsigned r)
{
    unsigned n_sc;
    const struct scenario *table = scenario_table(&n_sc);
    const struct scenario_run *run = &c->runs[r];
    unsigned s = run->scenario, n = run->n_calls;
    size_t n_cells = (size_t)(n ? n : 1) * MATRIX_ROWS;
    struct cell_ref *refs = xmalloc((c->n_cases ? c->n_cases : 1) * sizeof *refs);
    size_t n_refs = 0;
    unsigned fnd = 0, amb = 0;
    for (unsigned i = 0; i < c->n_cases; i++) {
        const struct sc_case *k = &c->cases[i];
        if (k->scenario != s || k->ordinal < 1 || k->ordinal > n || (int)k->kind >= MATRIX_ROWS)
            continue;
        refs[n_refs++] = (struct cell_ref){k->ordinal, (unsigned)k->kind, i};
        fnd += c->results[i].verdict == V_FINDING;
        amb += c->results[i].verdict == V_AMBIGUOUS;
    }
    if (n_refs)
        qsort(refs, n_refs, sizeof *refs, cmp_cell);
    /* first[cell], worst[cell] with cell = (ordinal-1) * MATRIX_ROWS + kind. */
    long *first = xmalloc(n_cells * sizeof *first);
    int *worst = xmalloc(n_cells * sizeof *worst);
    bool *column = xcalloc(n ? n : 1, sizeof *column);
    for (size_t i = 0; i < n_cells; i++) {
        first[i] = -1;
        worst[i] = -1;
    }
    for (size_t j = 0; j < n_refs; j++) {
        size_t cell = (size_t)(refs[j].ordinal - 1) * MATRIX_ROWS + refs[j].kind;
        int v = (int)c->results[refs[j].i].verdict; /* V_PASS < V_AMBIGUOUS < V_FINDING */
        if (first[cell] < 0)
            first[cell] = (long)j;
        if (v > worst[cell])
            worst[cell] = v;
        column[refs[j].ordinal - 1] = true;
    }
    bool all_columns = n <= ALL_COLUMNS_UP_TO;
    unsigned shown = 0;
    for (unsigned o = 1; o <= n; o++)
        shown += all_columns || column[o - 1];

    fprintf(f, "<h2 id=\"s-%s\">", table[s].name);
    xml_escape(f, table[s].name);
    fprintf(f, "</h2>\n<p class=\"meta\">%u counted calls, %zu cases, %u findings, %u ambiguous. ",
            n, n_refs, fnd, amb);
    xml_escape(f, table[s].summary);
    fputc('.', f);
    if (run->unchecked) {
        fputs(" <b>UNCHECKED:</b> ", f);
        xml_escape(f, run->unchecked);
    }
    if (run->not_audited) {
        fputs(" Not audited for calls behind the interposer: ", f);
        xml_escape(f, run->not_audited);
        fputc('.', f);
    }
    if (shown < n)
        fprintf(f,
                " Only the %u calls with cases have a column (%u calls without a case are "
                "not shown).",
                shown, n - shown);
    fputs("</p>\n<div class=\"scroll\"><table class=\"matrix\"><thead><tr><th>call</th>", f);
    unsigned col = 0;
    for (unsigned o = 1; o <= n; o++) {
        if (!all_columns && !column[o - 1])
            continue;
        col++;
        if (col == 1 || o % 5 == 0 || !all_columns)
            fprintf(f, "<th>%u</th>", o);
        else
            fputs("<th></th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    for (int kd = 0; kd < MATRIX_ROWS; kd++) {
        fprintf(f, "<tr><th>%s</th>", KIND_ROWS[kd]);
        for (unsigned o = 1; o <= n; o++) {
            if (!all_columns && !column[o - 1])
                continue;
            size_t cell = (size_t)(o - 1) * MATRIX_ROWS + (unsigned)kd;
            int w = worst[cell];
            fputs("<td>", f);
            if (w < 0) {
                fprintf(f, "<a class=\"cell notrun\" title=\"%u ", o);
                xml_escape(f, run->calls[o - 1]);
                fprintf(f, " / %s: not run\"></a>", KIND_ROWS[kd]);
            } else {
                /* The hover text: each case id of the cell with its verdict. */
                fprintf(f, "<a class=\"cell %s\" href=\"#c-%s-%u-%d\" title=\"",
                        verdict_class((enum verdict)w), table[s].name, o, kd);
                for (size_t j = (size_t)first[cell];
                     j < n_refs && refs[j].ordinal == o && (int)refs[j].kind == kd; j++) {
                    unsigned i = refs[j].i;
                    if (j != (size_t)first[cell])
                        fputs("&#10;", f);
                    xml_escape(f, c->cases[i].id);
                    fprintf(f, ": %s", verdict_class(c->results[i].verdict));
                    if (c->results[i].verdict == V_FINDING) {
                        fputs(" (", f);
                        xml_escape(f, c->results[i].oracle);
                        fputc(')', f);
                    }
                }
                fputs("\"></a>", f);
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
    for (size_t j = 0; j < n_refs; j++) {
        if (j && refs[j].ordinal == refs[j - 1].ordinal && refs[j].kind == refs[j - 1].kind) {
            put_case(f, c, refs[j].i);
            continue;
        }
        if (j)
            fputs("</div>\n", f);
        unsigned o = refs[j].ordinal, kd = refs[j].kind;
        fprintf(f, "<div class=\"cases\" id=\"c-%s-%u-%u\"><h3>call %u ", table[s].name, o, kd, o);
        xml_escape(f, run->calls[o - 1]);
        fprintf(f, ", %s</h3>\n", KIND_ROWS[kd]);
        put_case(f, c, refs[j].i);
    }
    if (n_refs)
        fputs("</div>\n", f);
    free(column);
    free(worst);
    free(first);
    free(refs);
}

int report_html(struct report_out *o, const struct campaign *c, double seconds)
{
    FILE *f = report_out_stream(o);
    if (!f)
        return -1;
    struct report_totals t;
    report_totals(&t, c);
    bool unchecked = false;
    for (unsigned r = 0; r < c->n_runs; r++)
        unchecked |= c->runs[r].unchecked != NULL;
    /* As the text report: an UNCHECKED scenario (audit failed) leaves no PASS to give. */
    const char *v = t.findings ? "FAIL" : unchecked ? "UNCHECKED" : "PASS";
    char vline[32];
    snprintf(vline, sizeof vline, "VERDICT: %s", v);
    html_begin(f, "faults", vline, t.findings || unchecked);
    fprintf(f,
            "<p class=\"meta\">%u cases, %u findings, %u ambiguous, %u passed, %.1f s; %s tier, "
            "seed %llu, page size %u; impl: <code>",
            t.cases, t.findings,
            t.ambiguous, t.passed, seconds, c->opt.tier == TIER_FULL ? "full" : "smoke",
            (unsigned long long)c->opt.seed, (unsigned)c->opt.page_size);
    xml_escape(f, c->opt.impl_cmd);
    fputs("</code></p>\n<p class=\"legend\"><span><i class=\"sw pass\"></i>pass</span>"
          "<span><i class=\"sw ambiguous\"></i>ambiguous (failed after its commit point)</span>"
          "<span><i class=\"sw finding\"></i>finding</span>"
          "<span><i class=\"sw notrun\"></i>not run</span> "
          "Columns: counted calls of the step, in order; rows: fault kinds. Click a cell for "
          "its cases.</p>\n",
          f);
    for (unsigned r = 0; r < c->n_runs; r++)
        put_scenario(f, c, r);
    fprintf(f, "<h2 id=\"findings\">Findings (%u)</h2>\n<div class=\"findings\">\n", t.findings);
    for (unsigned i = 0; i < c->n_cases; i++)
        if (c->results[i].verdict == V_FINDING) {
            fputs("<div>", f);
            put_case(f, c, i);
            fputs("</div>\n", f);
        }
    fputs("</div>\n", f);
    html_end(f);
    return report_out_close(o, f);
}
