/* The requirements of `snapcheck conform` (one per rule of docs/FORMAT.md and docs/ADAPTER.md
 * that it checks, with stable ids), the recording of checks against them, and the reports:
 * text on stdout, JSON (json-c) and JUnit XML. docs/CONFORMANCE.md lists the same table. */
#include "campaign.h"
#include "conform-priv.h"
#include "report.h"
#include "util.h"

#include <json-c/json.h>

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct req_def reqs[] = {
    /* The format (reference mode): decoding, from the golden vectors and the probes. */
    {"F-VEC-1", "tests/vectors",
     "every valid golden vector loads exactly, every invalid one is "
     "refused",
     MODE_REF},
    {"F-VALID-1", "FORMAT.md 3-6", "a valid pair loads to its exact state and memory image",
     MODE_REF},
    {"F-HDR-01", "FORMAT.md 3.1, 3.2.1", "magic: a file without it is refused", MODE_REF},
    {"F-HDR-02", "FORMAT.md 3.1, 7", "version_major 1: another major is refused as unsupported",
     MODE_REF},
    {"F-HDR-03", "FORMAT.md 3.1, 7",
     "any version_minor of major 1 is read; compatible flags "
     "(bits 16-31) are ignored",
     MODE_REF},
    {"F-HDR-04", "FORMAT.md 3.1, 3.2.3", "header_len 256", MODE_REF},
    {"F-HDR-05", "FORMAT.md 3.1, 3.2.4", "payload_len within SNAP_MAX_PAYLOAD and the file",
     MODE_REF},
    {"F-HDR-06", "FORMAT.md 3.1, 7", "schema_version 1: another schema is refused", MODE_REF},
    {"F-HDR-07", "FORMAT.md 3.1, 7", "incompatible flag bits (0-15) are refused", MODE_REF},
    {"F-HDR-08", "FORMAT.md 3.1", "kind 1 (full) or 2 (diff)", MODE_REF},
    {"F-HDR-09", "FORMAT.md 3.1", "page_size 4096, 16384 or 65536", MODE_REF},
    {"F-HDR-10", "FORMAT.md 3.1",
     "ram_size a non-zero multiple of page_size, at most "
     "SNAP_MAX_PAGES pages",
     MODE_REF},
    {"F-HDR-11", "FORMAT.md 3.1", "snapshot_id not all zero", MODE_REF},
    {"F-HDR-12", "FORMAT.md 3.1", "1 <= generation < 2^63", MODE_REF},
    {"F-HDR-13", "FORMAT.md 3.1", "base_id: zero for a full pair, non-zero for a diff", MODE_REF},
    {"F-HDR-14", "FORMAT.md 3.1", "base_generation: 0 for a full pair, >= 1 for a diff", MODE_REF},
    {"F-HDR-15", "FORMAT.md 3.1", "state_len within SNAP_MAX_STATE_LEN and payload_len", MODE_REF},
    {"F-HDR-16", "FORMAT.md 3.1", "mem_pages: every page (full), at most every page (diff)",
     MODE_REF},
    {"F-HDR-17", "FORMAT.md 3.1", "mem_file_len = mem_pages x page_size + 64", MODE_REF},
    {"F-HDR-18", "FORMAT.md 3.1", "reserved 0", MODE_REF},
    {"F-HDR-19", "FORMAT.md 3.1, 6.1.2", "mem_name is <id>.g<generation>.mem, NUL-padded",
     MODE_REF},
    {"F-HDR-20", "FORMAT.md 3.1", "base_name: empty for a full pair, a valid <id> for a diff",
     MODE_REF},
    {"F-LEN-01", "FORMAT.md 3.2.4", "a state file shorter than 256 + payload_len + 8 is refused",
     MODE_REF},
    {"F-LEN-02", "FORMAT.md 3.2.4", "bytes after the state file's trailer are refused", MODE_REF},
    {"F-CRC-01", "FORMAT.md 2, 3.2.5",
     "the state file's trailer is the CRC-64/XZ of the bytes "
     "before it",
     MODE_REF},
    {"F-MAP-01", "FORMAT.md 5",
     "page map: no bitmap bit past the last page, popcount = "
     "mem_pages",
     MODE_REF},
    {"F-STATE-01", "FORMAT.md 4", "the VM state decodes by schema 1 exactly to state_len",
     MODE_REF},
    {"F-COMPAT-01", "FORMAT.md 4", "a state that is not compatible is refused", MODE_REF},
    {"F-ERR-01", "FORMAT.md 3.2, 8", "a refusal names the error the vector expects", MODE_REF},
    {"F-LOAD-6.1.1", "FORMAT.md 6.1.1", "no state file, no pair", MODE_REF},
    {"F-LOAD-6.1.3", "FORMAT.md 6.1.3",
     "memory file missing, of another length, another "
     "generation or with a bad trailer is refused",
     MODE_REF},
    {"F-LOAD-6.1.4", "FORMAT.md 6.1.4", "every stored page is checked against its page map CRC",
     MODE_REF},
    {"F-LOAD-6.1.5", "FORMAT.md 6.1.5",
     "a diff loads over its bound base; a damaged base is "
     "refused",
     MODE_REF},
    {"F-LOAD-6.1.6", "FORMAT.md 6.1",
     "load never reads a *.tmp file or a memory file the state "
     "file does not name",
     MODE_REF},
    {"F-PAIR-1", "FORMAT.md 6, 6.1.3",
     "the memory file of another snapshot (snapshot_id) is "
     "refused",
     MODE_REF},
    {"F-IOP-01", "FORMAT.md 3-6", "full pairs saved by the IUT load and verify in the reference",
     MODE_REF},
    {"F-IOP-02", "FORMAT.md 5, 6.1.5",
     "diff chains saved by the IUT load and verify in the "
     "reference",
     MODE_REF},
    {"F-IOP-03", "FORMAT.md 3-6", "full pairs saved by the reference load in the IUT", MODE_REF},
    {"F-IOP-04", "FORMAT.md 5, 6.1.5", "diff chains saved by the reference load in the IUT",
     MODE_REF},
    {"F-WRITE-3.1", "FORMAT.md 3.1, 6",
     "headers and trailers written by the IUT follow every "
     "rule of 3.1 and match the request",
     MODE_REF},
    /* The adapter contract (both modes). */
    {"P-CAP-1", "ADAPTER.md 2", "capabilities lists save-full and load", MODE_BOTH},
    {"P-USAGE-1", "ADAPTER.md 3", "an unknown operation exits 2", MODE_BOTH},
    {"P-SAVE-1", "ADAPTER.md 2", "a save exits 0 and its pair loads back exactly (full and diff)",
     MODE_BOTH},
    {"P-LOAD-1", "ADAPTER.md 2",
     "load never exits 0 with other bytes than the pair's, whatever "
     "the damage",
     MODE_BOTH},
    {"P-LOAD-2", "ADAPTER.md 3",
     "load refuses damage by exiting non-zero, never by a crash or "
     "a hang",
     MODE_BOTH},
    {"P-LOAD-3", "ADAPTER.md 5", "load is a function of the directory's bytes", MODE_BOTH},
    {"P-STALE-1", "ADAPTER.md 2", "files left by a crashed save do not change what load returns",
     MODE_BOTH},
    /* The commit protocol, from `snapcheck faults` and `snapcheck crash` (--tier). */
    {"P-COMMIT-1", "ADAPTER.md 2, 6",
     "a failed, crashed or power-cut save leaves the prior or the new pair "
     "(prior-pair oracle)",
     MODE_BOTH},
    {"P-DURABLE-1", "ADAPTER.md 2, 6",
     "a save that exited 0 loads as the new pair, after a process crash (committed oracle) "
     "and a power cut (durable oracle)",
     MODE_BOTH},
    {"P-CLEANLOAD-1", "ADAPTER.md 2, 6",
     "a faulted load refuses or returns the exact pair "
     "(clean-load oracle)",
     MODE_BOTH},
    {"P-RECOVER-1", "ADAPTER.md 2, 6",
     "a clean save after a failure succeeds and loads "
     "(recovery oracle)",
     MODE_BOTH},
    {"P-LEFTOVER-1", "ADAPTER.md 2, 6",
     "the next save removes what a failed save left "
     "(leftovers oracle)",
     MODE_BOTH},
    {"P-FSYNC-1", "FORMAT.md 9, CRASH.md",
     "a failed fsync is never retried into a reported success (fsync-failure oracle)", MODE_BOTH},
    {"P-VISIBLE-1", "ADAPTER.md 4",
     "every file change goes through calls the interposer sees (the crash trace audit)", MODE_BOTH},
};

#define N_REQS (sizeof reqs / sizeof reqs[0])

const struct req_def *conform_reqs(unsigned *n)
{
    *n = N_REQS;
    return reqs;
}

static struct req_result *find(struct conform *c, const char *id)
{
    for (unsigned i = 0; i < N_REQS; i++)
        if (!strcmp(reqs[i].id, id))
            return &c->res[i];
    fprintf(stderr, "snapcheck conform: internal error: unknown requirement %s\n", id);
    assert(0 && "unknown requirement id");
    abort();
}

void conform_pass(struct conform *c, const char *id, const char *what)
{
    struct req_result *r = find(c, id);
    r->checks++;
    if (r->status == REQ_NOT_RUN || r->status == REQ_NA) {
        r->status = REQ_PASS;
        snprintf(r->evidence, sizeof r->evidence, "%s", what);
    }
}

void conform_fail(struct conform *c, const char *id, const char *fmt, ...)
{
    struct req_result *r = find(c, id);
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    r->checks++;
    if (r->failures++ == 0) {
        r->status = REQ_FAIL;
        snprintf(r->evidence, sizeof r->evidence, "%s", what);
    } else if (r->failures <= 3) {
        str_append(r->evidence, sizeof r->evidence, "; ");
        str_append(r->evidence, sizeof r->evidence, what);
    }
    if (c->n_findings == c->cap_findings) {
        c->cap_findings = c->cap_findings ? 2 * c->cap_findings : 32;
        char **grown = realloc(c->findings, c->cap_findings * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "snapcheck: out of memory\n");
            abort();
        }
        c->findings = grown;
    }
    c->findings[c->n_findings++] = xasprintf("%s: %s", id, what);
}

void conform_na(struct conform *c, const char *id, const char *reason)
{
    struct req_result *r = find(c, id);
    if (r->status == REQ_NOT_RUN) {
        r->status = REQ_NA;
        snprintf(r->na_reason, sizeof r->na_reason, "%s", reason);
    }
}

bool conform_ok(const struct conform *c)
{
    for (unsigned i = 0; i < N_REQS; i++)
        if (c->res[i].status == REQ_FAIL)
            return false;
    return true;
}

static const char *status_name(enum req_status s)
{
    switch (s) {
    case REQ_PASS:
        return "pass";
    case REQ_FAIL:
        return "fail";
    default:
        return "n/a";
    }
}

/* The evidence line of a requirement: what passed or failed, or why it does not apply. */
static void evidence(char *dst, size_t cap, const struct conform *c, unsigned i)
{
    const struct req_result *r = &c->res[i];
    unsigned mode = c->format == FMT_REFERENCE ? MODE_REF : MODE_OWN;
    if (!(reqs[i].modes & mode))
        snprintf(dst, cap, "applies to the reference format only");
    else if (r->status == REQ_FAIL)
        snprintf(dst, cap, "%u of %u checks failed: %s%s", r->failures, r->checks, r->evidence,
                 r->failures > 3 ? " ..." : "");
    else if (r->status == REQ_PASS)
        snprintf(dst, cap, "%u checks passed (%s)", r->checks, r->evidence);
    else
        snprintf(dst, cap, "%s", r->na_reason[0] ? r->na_reason : "not checked");
}

static const char *effective_status(const struct conform *c, unsigned i)
{
    unsigned mode = c->format == FMT_REFERENCE ? MODE_REF : MODE_OWN;
    if (!(reqs[i].modes & mode))
        return "n/a";
    return status_name(c->res[i].status);
}

/* How many requirements passed and failed (the rest are not applicable). */
static void status_counts(const struct conform *c, unsigned *passed, unsigned *failed)
{
    *passed = *failed = 0;
    for (unsigned i = 0; i < N_REQS; i++) {
        const char *st = effective_status(c, i);
        *failed += !strcmp(st, "fail");
        *passed += !strcmp(st, "pass");
    }
}

void conform_report_text(const struct conform *c)
{
    unsigned failed = 0, passed = 0;
    printf("snapcheck conform: %s\nformat: %s (%s)\n\n", c->opt.impl_cmd,
           c->format == FMT_REFERENCE ? "reference (docs/FORMAT.md)" : "own",
           c->format_detected ? "detected from a pair saved by the IUT" : "given by --format");
    printf("%-14s %-5s %s\n", "ID", "", "REQUIREMENT (then its evidence)");
    for (unsigned i = 0; i < N_REQS; i++) {
        char ev[900];
        evidence(ev, sizeof ev, c, i);
        const char *st = effective_status(c, i);
        failed += !strcmp(st, "fail");
        passed += !strcmp(st, "pass");
        printf("%-14s %-5s %s\n    %s\n", reqs[i].id, st, reqs[i].title, ev);
    }
    if (c->n_findings) {
        printf("\nFINDINGS (%u)\n", c->n_findings);
        for (unsigned i = 0; i < c->n_findings; i++)
            printf("  %s\n", c->findings[i]);
    }
    printf("\nVERDICT: %s (%u requirements passed, %u failed, %u not applicable)\n",
           failed ? "DOES NOT CONFORM" : "CONFORMS", passed, failed,
           (unsigned)N_REQS - passed - failed);
}

int conform_report_json(const struct conform *c, const char *path)
{
    json_object *root = json_object_new_object();
    json_object_object_add(root, "tool", json_object_new_string("snapcheck"));
    json_object_object_add(root, "command", json_object_new_string("conform"));
    json_object_object_add(root, "version", json_object_new_string(SNAPCHECK_VERSION));
    json_object_object_add(root, "impl", json_object_new_string(c->opt.impl_cmd));
    json_object_object_add(
        root, "format", json_object_new_string(c->format == FMT_REFERENCE ? "reference" : "own"));
    json_object_object_add(root, "format_detected", json_object_new_boolean(c->format_detected));
    json_object_object_add(root, "seed", json_object_new_uint64(c->opt.seed));
    json_object_object_add(root, "max_probes", json_object_new_int64(c->opt.max_probes));
    json_object_object_add(root, "verdict",
                           json_object_new_string(conform_ok(c) ? "conform" : "non-conform"));
    json_object *arr = json_object_new_array();
    for (unsigned i = 0; i < N_REQS; i++) {
        json_object *o = json_object_new_object();
        char ev[900];
        evidence(ev, sizeof ev, c, i);
        json_object_object_add(o, "id", json_object_new_string(reqs[i].id));
        json_object_object_add(o, "spec", json_object_new_string(reqs[i].spec));
        json_object_object_add(o, "title", json_object_new_string(reqs[i].title));
        json_object_object_add(o, "status", json_object_new_string(effective_status(c, i)));
        json_object_object_add(o, "checks", json_object_new_int64(c->res[i].checks));
        json_object_object_add(o, "failures", json_object_new_int64(c->res[i].failures));
        json_object_object_add(o, "evidence", json_object_new_string(ev));
        json_object_array_add(arr, o);
    }
    json_object_object_add(root, "requirements", arr);
    json_object *fa = json_object_new_array();
    for (unsigned i = 0; i < c->n_findings; i++) {
        const char *colon = strchr(c->findings[i], ':');
        json_object *o = json_object_new_object();
        json_object_object_add(
            o, "requirement",
            json_object_new_string_len(c->findings[i], (int)(colon - c->findings[i])));
        json_object_object_add(o, "what", json_object_new_string(colon + 2));
        json_object_array_add(fa, o);
    }
    json_object_object_add(root, "findings", fa);
    int rc = json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY);
    json_object_put(root);
    if (rc != 0) {
        fprintf(stderr, "snapcheck conform: cannot write the JSON report %s: %s\n", path,
                json_util_get_last_err());
        return -1;
    }
    return 0;
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '<')
            fputs("&lt;", f);
        else if (ch == '>')
            fputs("&gt;", f);
        else if (ch == '&')
            fputs("&amp;", f);
        else if (ch == '"')
            fputs("&quot;", f);
        else if (ch < 0x20 && ch != '\n' && ch != '\t')
            fputc('?', f);
        else
            fputc(ch, f);
    }
}

int conform_report_junit(const struct conform *c, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "snapcheck conform: cannot write the JUnit report %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    unsigned passed, failed;
    status_counts(c, &passed, &failed);
    unsigned skipped = (unsigned)N_REQS - passed - failed;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
            "<testsuite name=\"snapcheck-conform\" tests=\"%u\" failures=\"%u\" "
            "skipped=\"%u\">\n",
            (unsigned)N_REQS, failed, skipped);
    for (unsigned i = 0; i < N_REQS; i++) {
        char ev[900];
        evidence(ev, sizeof ev, c, i);
        const char *st = effective_status(c, i);
        fputs("  <testcase classname=\"conform\" name=\"", f);
        xml_text(f, reqs[i].id);
        fputs(" ", f);
        xml_text(f, reqs[i].title);
        fputs("\">", f);
        if (!strcmp(st, "fail")) {
            fputs("<failure message=\"", f);
            xml_text(f, ev);
            fputs("\">", f);
            for (unsigned k = 0; k < c->n_findings; k++)
                if (!strncmp(c->findings[k], reqs[i].id, strlen(reqs[i].id)) &&
                    c->findings[k][strlen(reqs[i].id)] == ':') {
                    xml_text(f, c->findings[k]);
                    fputc('\n', f);
                }
            fputs("</failure>", f);
        } else if (!strcmp(st, "n/a")) {
            fputs("<skipped message=\"", f);
            xml_text(f, ev);
            fputs("\"/>", f);
        } else {
            fputs("<system-out>", f);
            xml_text(f, ev);
            fputs("</system-out>", f);
        }
        fputs("</testcase>\n", f);
    }
    fputs("</testsuite>\n</testsuites>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "snapcheck conform: cannot write the JUnit report %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* The class of the page's style sheet for a status: fail is drawn as a finding. */
static const char *status_class(const char *status)
{
    return !strcmp(status, "fail") ? "finding" : !strcmp(status, "pass") ? "pass" : "na";
}

/* The HTML page (--html): the verdict; a picture of every requirement as a coloured chip
 * (pass, fail, not applicable) linking to its row; the conformance table (id, status, rule,
 * where it is written, evidence); the findings. */
int conform_report_html(const struct conform *c, struct report_out *o)
{
    FILE *f = report_out_stream(o);
    if (!f)
        return -1;
    unsigned failed, passed;
    status_counts(c, &passed, &failed);
    html_begin(f, "conform", failed ? "VERDICT: DOES NOT CONFORM" : "VERDICT: CONFORMS",
               failed != 0);
    fprintf(f,
            "<p class=\"meta\">%u requirements passed, %u failed, %u not applicable, "
            "%u findings; format %s (%s); seed %llu, up to %u probes; impl: <code>",
            passed, failed, (unsigned)N_REQS - passed - failed, c->n_findings,
            c->format == FMT_REFERENCE ? "reference (docs/FORMAT.md)" : "own",
            c->format_detected ? "detected" : "given by --format",
            (unsigned long long)c->opt.seed, c->opt.max_probes);
    xml_escape(f, c->opt.impl_cmd);
    fputs("</code></p>\n<p class=\"legend\"><span><i class=\"sw pass\"></i>pass</span>"
          "<span><i class=\"sw finding\"></i>fail</span>"
          "<span><i class=\"sw na\"></i>not applicable</span> One chip per requirement; "
          "click one for its row.</p>\n<div class=\"scroll\"><table class=\"matrix\"><tbody>"
          "<tr>",
          f);
    for (unsigned i = 0; i < N_REQS; i++) {
        const char *st = effective_status(c, i);
        const char *cls = status_class(st);
        if (i && i % 12 == 0)
            fputs("</tr>\n<tr>", f);
        fprintf(f, "<td><a class=\"cell wide %s\" href=\"#r-%s\" title=\"", cls, reqs[i].id);
        xml_escape(f, reqs[i].title);
        fprintf(f, " (%s)\">", st);
        xml_escape(f, reqs[i].id);
        fputs("</a></td>", f);
    }
    fputs("</tr></tbody></table></div>\n<h2>Requirements</h2>\n<table class=\"reqs\"><thead>"
          "<tr><th>id</th><th>status</th><th>requirement</th><th>spec</th></tr></thead>"
          "<tbody>\n",
          f);
    for (unsigned i = 0; i < N_REQS; i++) {
        const char *st = effective_status(c, i);
        const char *cls = status_class(st);
        char ev[900];
        evidence(ev, sizeof ev, c, i);
        fprintf(f, "<tr id=\"r-%s\"><td><b>", reqs[i].id);
        xml_escape(f, reqs[i].id);
        fprintf(f, "</b></td><td class=\"st %s\">%s</td><td>", cls, st);
        xml_escape(f, reqs[i].title);
        fputs("<br/><span class=\"ev\">", f);
        xml_escape(f, ev);
        fputs("</span></td><td>", f);
        xml_escape(f, reqs[i].spec);
        fputs("</td></tr>\n", f);
    }
    fprintf(f, "</tbody></table>\n<h2 id=\"findings\">Findings (%u)</h2>\n"
               "<div class=\"findings\">\n",
            c->n_findings);
    for (unsigned i = 0; i < c->n_findings; i++) {
        fputs("<div>", f);
        xml_escape(f, c->findings[i]);
        fputs("</div>\n", f);
    }
    fputs("</div>\n", f);
    html_end(f);
    return report_out_close(o, f);
}
