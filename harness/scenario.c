/* The scenarios and the execution of one case (see scenario.h).
 * Method: every scenario's starting directory is built once by clean saves (the template);
 * each case copies the template into its own fresh directory, runs the step once through the
 * campaign's driver with the fault case, checks that the calls before the fault are the
 * census's (else the IUT is not deterministic and the case id means nothing), then judges with
 * clean runs: load of the target (oracles prior-pair, committed, clean-load), how the step
 * ended (clean-exit), load of the diff base, a smaller recovery save and its load (recovery),
 * and the file count against the clean baseline (leftovers). A clean run that fails while the
 * scenario is prepared is the clean-run finding of that scenario. Judging runs are clean. */
#include "scenario.h"
#include "census.h"
#include "crash.h"
#include "dirimage.h"
#include "oracle.h"
#include "strbuf.h"
#include "util.h"

#include <stdarg.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct scenario TABLE[] = {
    {.name = "first-save",
     .summary = "faulted full save of 'vm' into an empty directory",
     .op = OP_SAVE_FULL,
     .n_setup = 0,
     .id = "vm",
     .step_payload = P_NEW,
     .prior = -1,
     .expect_new = P_NEW,
     .base_payload = -1},
    {.name = "full-over-full",
     .summary = "faulted full save of 'vm' over a full pair 'vm'",
     .op = OP_SAVE_FULL,
     .setup = {{"vm", P_PRIOR, NULL}},
     .n_setup = 1,
     .id = "vm",
     .step_payload = P_NEW,
     .prior = P_PRIOR,
     .expect_new = P_NEW,
     .base_payload = -1},
    {.name = "diff-new-id",
     .summary = "faulted diff save of 'd1' on base 'base'",
     .op = OP_SAVE_DIFF,
     .setup = {{"base", P_PRIOR, NULL}},
     .n_setup = 1,
     .id = "d1",
     .base_id = "base",
     .step_payload = P_D1,
     .prior = -1,
     .expect_new = P_D1,
     .base_payload = P_PRIOR},
    {.name = "diff-same-id",
     .summary = "faulted diff save of 'd1' over the diff 'd1' (incremental checkpoint)",
     .op = OP_SAVE_DIFF,
     .setup = {{"base", P_PRIOR, NULL}, {"d1", P_D1, "base"}},
     .n_setup = 2,
     .id = "d1",
     .base_id = "base",
     .step_payload = P_D2,
     .prior = P_D1,
     .expect_new = P_D2,
     .base_payload = P_PRIOR},
    {.name = "merge",
     .summary = "faulted merge of the diff 'd1' into a full pair",
     .op = OP_MERGE,
     .setup = {{"base", P_PRIOR, NULL}, {"d1", P_D1, "base"}},
     .n_setup = 2,
     .id = "d1",
     .base_id = "base",
     .step_payload = -1,
     .prior = P_D1,
     .expect_new = P_D1,
     .base_payload = P_PRIOR},
    {.name = "load",
     .summary = "faulted load of the full pair 'vm'",
     .op = OP_LOAD,
     .setup = {{"vm", P_PRIOR, NULL}},
     .n_setup = 1,
     .id = "vm",
     .step_payload = -1,
     .prior = P_PRIOR,
     .expect_new = P_PRIOR,
     .base_payload = -1},
};

const struct scenario *scenario_table(unsigned *out_n)
{
    *out_n = sizeof TABLE / sizeof TABLE[0];
    return TABLE;
}

int scenario_find(const char *name)
{
    for (unsigned i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (!strcmp(TABLE[i].name, name))
            return (int)i;
    return -1;
}

bool scenario_supported(const struct campaign *c, const struct scenario *s)
{
    if (s->op == OP_MERGE)
        return c->cap_merge && c->cap_diff;
    if (s->op == OP_SAVE_DIFF || s->n_setup == 2)
        return c->cap_diff;
    return true;
}

/* The request of a save of payload p as id (diff when base is set). */
static struct step_req save_req(const char *dir, const char *id, int payload, const char *base)
{
    struct step_req r = {.op = base ? OP_SAVE_DIFF : OP_SAVE_FULL,
                         .dir = dir,
                         .id = id,
                         .base_id = base,
                         .payload = payload};
    return r;
}

/* The request of the scenario's step on dir (a load writes its outputs to so and mo). */
static struct step_req step_req(const char *so, const char *mo, const struct scenario *s,
                                const char *dir)
{
    struct step_req r = {.op = s->op, .dir = dir, .id = s->id};
    if (s->op == OP_SAVE_FULL || s->op == OP_SAVE_DIFF) {
        r.payload = s->step_payload;
        r.base_id = s->op == OP_SAVE_DIFF ? s->base_id : NULL;
    } else if (s->op == OP_LOAD) {
        r.state_out = so;
        r.memory_out = mo;
    }
    return r;
}

static int count_entries(const char *dir)
{
    char names[8];
    return dir_list(names, sizeof names, dir);
}

/* A clean judging load through the campaign's driver. */
static void judge_load(struct load_outcome *out, const struct campaign *c, const char *dir,
                       const char *id, const char *out_dir, const struct payload *prior,
                       const struct payload *expect_new, const char *err_path)
{
    c->drv->load(out, c, dir, id, out_dir, prior, expect_new, err_path);
}

static char *result_text(const struct impl_result *r)
{
    char t[400];
    impl_result_text(t, sizeof t, r);
    return xstrdup(t);
}

/* Clean recovery save of the smaller payload as id, then its load: oracle 4. @return 0 when it
 * held, else -1 with the reason in *why (heap). */
static int recover(const struct campaign *c, const struct scenario *s, const char *dir,
                   const char *case_dir, char **why)
{
    struct impl_result r;
    char *err_path = xasprintf("%s/recovery.err", case_dir);
    const struct payload *rec = &c->data.p[P_RECOVERY];
    struct step_req req = save_req(dir, s->id, P_RECOVERY, NULL);
    c->drv->step(&r, c, &req, NULL, err_path);
    free(err_path);
    if (r.end != IMPL_EXITED || r.code != 0) {
        char *t = result_text(&r);
        *why = xasprintf("the clean recovery save (1 MiB) failed: %s", t);
        free(t);
        return -1;
    }
    struct load_outcome lo;
    err_path = xasprintf("%s/recovery-load.err", case_dir);
    judge_load(&lo, c, dir, s->id, case_dir, NULL, rec, err_path);
    free(err_path);
    if (lo.match != LOAD_NEW) {
        *why = xasprintf("the clean recovery save (1 MiB) exited 0 but its %s", lo.text);
        return -1;
    }
    return 0;
}

/* Record the clean-run finding of run. @return 1 (scenario_prepare's "clean run failed"). */
static int clean_run_failed(struct scenario_run *run, const struct impl_result *r,
                            const char *load, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int clean_run_failed(struct scenario_run *run, const struct impl_result *r,
                            const char *load, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    free(run->clean_run);
    free(run->clean_step);
    free(run->clean_load);
    run->clean_run = msg;
    run->clean_step = r ? result_text(r) : xstrdup("exit 0");
    run->clean_load = xstrdup(load ? load : "");
    return 1;
}

/* How a clean run that should have exited 0 went wrong: a run that could not be started is a
 * broken invocation (-1, message in err); anything else is the IUT's bug (1, clean-run). */
static int clean_step_failed(struct scenario_run *run, const struct impl_result *r, char *err,
                             size_t err_cap, const char *what)
{
    char t[400];
    impl_result_text(t, sizeof t, r);
    if (r->end == IMPL_SPAWN_FAILED) {
        snprintf(err, err_cap, "%s: %s", what, t);
        return -1;
    }
    return clean_run_failed(run, r, NULL, "%s: %s", what, t);
}

/* The clean judging runs on the template itself: the prior pair and the base load exactly,
 * and the recovery save's outcome and file count, which every case that leaves the directory
 * unchanged then reuses. @return 0, 1 (clean-run finding) or -1 (set-up error in err). */
static int judge_template(const struct campaign *c, struct scenario_run *run, char *err,
                          size_t err_cap)
{
    const struct scenario *s = &TABLE[run->scenario];
    char *jdir = xasprintf("%s/judge-%s", c->workdir, s->name);
    char *d = xasprintf("%s/d", jdir), *errp = xasprintf("%s/load.err", jdir);
    int rc = 0;
    struct load_outcome lo;
    char *why = NULL;
    if (mkdir(jdir, 0755) != 0 || dir_image_write(&run->tpl, d) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", jdir, strerror(errno));
        rc = -1;
        goto out;
    }
    for (int which = 0; which < 2; which++) {
        int pl = which ? s->base_payload : s->prior;
        const char *id = which ? s->base_id : s->id;
        if (pl < 0)
            continue;
        const struct payload *p = &c->data.p[pl];
        judge_load(&lo, c, d, id, jdir, p, p, errp);
        if (lo.match != LOAD_PRIOR) {
            rc = clean_run_failed(run, NULL, lo.text,
                                  "the pair '%s' that the IUT saved cleanly for scenario %s "
                                  "does not load back as saved: %s",
                                  id, s->name, lo.text);
            goto out;
        }
    }
    if (recover(c, s, d, jdir, &why) != 0) {
        rc = clean_run_failed(run, NULL, NULL, "on the template of scenario %s, %s", s->name,
                              why);
        goto out;
    }
    run->tpl_recovery_files = count_entries(d);
out:
    free(why);
    free(jdir);
    free(d);
    free(errp);
    return rc;
}

/* The calls of a failed census run, for its clean-run finding. */
static void keep_census_trace(struct scenario_run *run, const char *trace_path, const char *dir)
{
    struct trace t;
    struct strbuf b = {0};
    if (trace_load(&t, trace_path, NULL) == 0)
        trace_excerpt(&b, &t, dir, ~0UL, NULL);
    trace_finish(&t);
    free(run->clean_trace);
    run->clean_trace = strbuf_take(&b);
}

/* The trace-completeness audit (docs/CRASH.md): the step once more on a copy of the template
 * with the data trace; replayed, that trace must give exactly what the step left, or the IUT
 * changed files behind the interposer and the scenario is UNCHECKED. */
static int audit(const struct campaign *c, struct scenario_run *run, const char *cdir, char *err,
                 size_t err_cap)
{
    const struct scenario *s = &TABLE[run->scenario];
    char *d = xasprintf("%s/audit-d", cdir), *trace = xasprintf("%s/audit-trace", cdir);
    char *data = xasprintf("%s/audit-trace.data", cdir), *errp = xasprintf("%s/audit.err", cdir);
    char *so = xasprintf("%s/audit-state.out", cdir), *mo = xasprintf("%s/audit-memory.out", cdir);
    int rc = -1;
    if (dir_image_write(&run->tpl, d) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", d, strerror(errno));
        goto out;
    }
    struct step_req req = step_req(so, mo, s, d);
    struct step_faults f = {.trace = trace, .trace_data = data};
    struct impl_result r;
    c->drv->step(&r, c, &req, &f, errp);
    char diff[600];
    free(run->unchecked);
    run->unchecked = NULL;
    free(run->not_audited);
    run->not_audited = NULL;
    if (crash_audit(trace, data, d, run->template_dir, diff, sizeof diff) != 0)
        run->unchecked =
            xasprintf("the directory the step left differs from its replayed data trace: %s", diff);
    rc = 0;
out:
    free(d);
    free(trace);
    free(data);
    free(errp);
    free(so);
    free(mo);
    return rc;
}

int scenario_prepare(struct campaign *c, struct scenario_run *run, char *err, size_t err_cap)
{
    const struct scenario *s = &TABLE[run->scenario];
    struct impl_result r;
    free(run->template_dir);
    run->template_dir = xasprintf("%s/template-%s", c->workdir, s->name);
    char *cdir = xasprintf("%s/census-%s", c->workdir, s->name);
    char *errp = xasprintf("%s/setup.err", c->workdir);
    char *d = xasprintf("%s/d", cdir), *trace = xasprintf("%s/trace", cdir);
    char *so = xasprintf("%s/step-state.out", cdir), *mo = xasprintf("%s/step-memory.out", cdir);
    char *why = NULL;
    int rc = -1;
    struct dir_image base_files = {0};
    if (mkdir(run->template_dir, 0755) != 0 || mkdir(cdir, 0755) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", cdir, strerror(errno));
        goto out;
    }
    for (unsigned i = 0; i < s->n_setup; i++) {
        const struct setup_save *ss = &s->setup[i];
        if (i == 1 && s->base_payload >= 0 && dir_image_take(&base_files, run->template_dir)) {
            snprintf(err, err_cap, "cannot read %s: %s", run->template_dir, strerror(errno));
            goto out;
        }
        struct step_req req = save_req(run->template_dir, ss->id, ss->payload, ss->base);
        c->drv->step(&r, c, &req, NULL, errp);
        if (r.end != IMPL_EXITED || r.code != 0) {
            char what[300];
            snprintf(what, sizeof what, "a clean set-up save of scenario %s (%s save of '%s')",
                     s->name, ss->base ? "diff" : "full", ss->id);
            rc = clean_step_failed(run, &r, err, err_cap, what);
            goto out;
        }
    }
    if (dir_image_take(&run->tpl, run->template_dir) != 0) {
        snprintf(err, err_cap, "cannot read %s: %s", run->template_dir, strerror(errno));
        goto out;
    }
    if (s->base_payload >= 0)
        dir_image_mark(&run->tpl, s->n_setup > 1 ? &base_files : &run->tpl);
    if ((rc = judge_template(c, run, err, err_cap)) != 0)
        goto out;
    rc = -1;
    if (dir_image_write(&run->tpl, d) != 0) {
        snprintf(err, err_cap, "cannot copy %s: %s", run->template_dir, strerror(errno));
        goto out;
    }
    const char *op = s->op == OP_LOAD ? "load" : s->op == OP_MERGE ? "merge" : "save";
    struct step_req req = step_req(so, mo, s, d);
    if (c->drv->census(&r, c, &req, trace, errp, &run->tpl, cdir, err, err_cap) != 0)
        goto out;
    if (r.end != IMPL_EXITED || r.code != 0) {
        char what[300];
        snprintf(what, sizeof what,
                 "the clean census run of scenario %s (%s under the interposer, no fault "
                 "injected)",
                 s->name, op);
        rc = clean_step_failed(run, &r, err, err_cap, what);
        keep_census_trace(run, trace, d);
        goto out;
    }
    const struct payload *prior = s->prior >= 0 ? &c->data.p[s->prior] : NULL;
    const struct payload *fresh = &c->data.p[s->expect_new];
    if (s->op == OP_LOAD) {
        char cls[200];
        if (oracle_classify(so, mo, prior, fresh, cls, sizeof cls) != LOAD_PRIOR) {
            rc = clean_run_failed(run, &r, cls,
                                  "the clean census run of scenario %s: load exited 0 with %s",
                                  s->name, cls);
            keep_census_trace(run, trace, d);
            goto out;
        }
    } else {
        struct load_outcome lo;
        judge_load(&lo, c, d, s->id, cdir, prior, fresh, errp);
        bool ok = lo.match == LOAD_NEW || (s->prior == s->expect_new && lo.match == LOAD_PRIOR);
        if (!ok) {
            rc = clean_run_failed(run, &r, lo.text,
                                  "the clean census run of scenario %s: after a clean %s that "
                                  "exited 0, %s",
                                  s->name, op, lo.text);
            keep_census_trace(run, trace, d);
            goto out;
        }
    }
    if (census_read(run, trace, d, err, err_cap) != 0)
        goto out;
    if (audit(c, run, cdir, err, err_cap) != 0)
        goto out;
    if (run->n_calls == 0) {
        snprintf(err, err_cap,
                 "the census run of scenario %s counted no file call under SNAPFAULT_DIR: is "
                 "the interposer %s loaded and working?",
                 s->name, c->interposer);
        goto out;
    }
    if (recover(c, s, d, cdir, &why) != 0) {
        rc = clean_run_failed(run, NULL, NULL, "after the clean census run of scenario %s, %s",
                              s->name, why);
        goto out;
    }
    run->baseline_files = count_entries(d);
    rc = 0;
out:
    dir_image_finish(&base_files);
    free(why);
    free(cdir);
    free(errp);
    free(d);
    free(trace);
    free(so);
    free(mo);
    return rc;
}

void scenario_run_finish(struct scenario_run *run)
{
    dir_image_finish(&run->tpl);
    census_free(run);
    free(run->template_dir);
    free(run->clean_run);
    free(run->clean_step);
    free(run->clean_load);
    free(run->clean_trace);
    free(run->unchecked);
    free(run->not_audited);
    run->template_dir = run->clean_run = run->clean_step = run->clean_load = NULL;
    run->clean_trace = run->unchecked = run->not_audited = NULL;
}

static void run_case(const struct campaign *c, const struct sc_case *k, const char *case_dir,
                     struct case_result *res);

/* Replace every occurrence of needle in the heap string *s. */
static void replace_all(char **s, const char *needle, const char *repl)
{
    if (!*s || !*needle || !strstr(*s, needle))
        return;
    struct strbuf b = {0};
    const char *p = *s, *hit;
    size_t n = strlen(needle);
    while ((hit = strstr(p, needle)) != NULL) {
        strbuf_addn(&b, p, (size_t)(hit - p));
        strbuf_add(&b, repl);
        p = hit + n;
    }
    strbuf_add(&b, p);
    free(*s);
    *s = strbuf_take(&b);
}

static void set_text(char **dst, const char *src)
{
    free(*dst);
    *dst = xstrdup(src);
}

void scenario_run_case(const struct campaign *c, const struct sc_case *k, const char *case_dir,
                       struct case_result *res)
{
    memset(res, 0, sizeof *res);
    res->verdict = V_PASS;
    run_case(c, k, case_dir, res);
    /* Messages name the case directory, a temporary path: say "<case>" so that reports of
     * the same campaign are identical from run to run. */
    char **texts[] = {&res->detail, &res->step, &res->load, &res->left, &res->trace};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (!*texts[i])
            *texts[i] = xstrdup("");
        replace_all(texts[i], case_dir, "<case>");
    }
}

static const struct scenario_run *find_run(const struct campaign *c, unsigned scenario)
{
    for (unsigned i = 0; i < c->n_runs; i++)
        if (c->runs[i].scenario == scenario)
            return &c->runs[i];
    return NULL;
}

/* The names of dir's entries ("a, b"), all of them: with ref_dir, only those not in ref_dir. */
static char *entry_names(const char *dir, const char *ref_dir)
{
    for (size_t cap = 256;; cap *= 4) {
        char *names = xmalloc(cap);
        int n = ref_dir ? dir_new_entries(names, cap, dir, ref_dir) : dir_list(names, cap, dir);
        if (n < 0 || strlen(names) + 4 < cap) /* str_append did not have to cut */
            return names;
        free(names);
    }
}

/* The clean-run pseudo-case: the finding recorded while preparing the scenario. */
static void clean_run_case(const struct scenario_run *run, struct case_result *res)
{
    res->fault_reached = true;
    oracle_finding(res, "clean-run", "%s (the scenario's cases were not run)",
                   run->clean_run ? run->clean_run : "the clean run failed");
    set_text(&res->step, run->clean_step ? run->clean_step : "");
    set_text(&res->load, run->clean_load ? run->clean_load : "");
    set_text(&res->trace, run->clean_trace ? run->clean_trace : "");
}

/* The judging memo of a worker. The judging runs after a faulted step (the clean load, the
 * base pair's load, the recovery save and its load) see only the case directory; cases that
 * leave the same directory (the same names, kinds, modes and bytes: each errno of a call
 * usually does) get the same judgement without running the IUT again. The assumption is the
 * one of docs/ADAPTER.md section 5 and of snapcheck crash's memo: the IUT's clean runs are a
 * function of the directory's names and bytes. SNAPCHECK_NO_MEMO=1 judges every case; --keep
 * does too (its directories then show the recovery save). The case directory of a worker has
 * one path, so the texts stay right. */
struct jmemo {
    unsigned scenario;
    struct dir_image key;
    struct load_outcome lo;
    bool base_judged;
    struct load_outcome bl;
    int rec_rc;  /* recover()'s result */
    char *why;   /* its reason when it failed */
    int n_after; /* entries after the recovery save */
    char *names_after;
};

static struct jmemo *memo;
static unsigned n_memo, cap_memo;

static bool memo_wanted(const struct campaign *c)
{
    const char *e = getenv("SNAPCHECK_NO_MEMO");
    return !c->opt.keep_dir && !(e && *e && strcmp(e, "0") != 0);
}

static bool same_key(const struct dir_image *a, const struct dir_image *b)
{
    if (a->n != b->n)
        return false;
    for (unsigned i = 0; i < a->n; i++) {
        const struct dir_file *x = &a->files[i], *y = &b->files[i];
        if (x->kind != y->kind || x->mode != y->mode || x->len != y->len || x->hash != y->hash ||
            strcmp(x->name, y->name) != 0 ||
            (x->kind == DK_LINK && strcmp(x->target, y->target) != 0))
            return false;
    }
    return true;
}

static struct jmemo *memo_find(unsigned scenario, const struct dir_image *key)
{
    for (unsigned i = 0; i < n_memo; i++)
        if (memo[i].scenario == scenario && same_key(&memo[i].key, key))
            return &memo[i];
    return NULL;
}

/* Take ownership of *key for a new, empty entry (NULL when memory runs out: no memo). */
static struct jmemo *memo_new(unsigned scenario, struct dir_image *key)
{
    if (n_memo == cap_memo) {
        unsigned cap = cap_memo ? cap_memo * 2 : 64;
        struct jmemo *grown = realloc(memo, cap * sizeof *grown);
        if (!grown)
            return NULL;
        memo = grown;
        cap_memo = cap;
    }
    struct jmemo *m = &memo[n_memo++];
    memset(m, 0, sizeof *m);
    m->scenario = scenario;
    m->key = *key;
    memset(key, 0, sizeof *key);
    return m;
}

static void run_case(const struct campaign *c, const struct sc_case *k, const char *case_dir,
                     struct case_result *res)
{
    const struct scenario *s = &TABLE[k->scenario];
    const struct scenario_run *run = find_run(c, k->scenario);
    if (!run) {
        oracle_finding(res, "setup", "scenario %s was not prepared", s->name);
        return;
    }
    if (k->kind == FK_CLEAN_RUN) {
        clean_run_case(run, res);
        return;
    }
    char *d = xasprintf("%s/d", case_dir), *trace_path = xasprintf("%s/trace", case_dir);
    char *errp = xasprintf("%s/step.err", case_dir);
    char *so = xasprintf("%s/step-state.out", case_dir);
    char *mo = xasprintf("%s/step-memory.out", case_dir);
    char *fcase = xasprintf("%u:%s", k->ordinal, k->action);
    /* The case directory holds hard links to a per-worker copy of the template (no
     * copying), whatever the driver. A write through a link shows in that copy's mtimes
     * (dir_image_pristine; a driver with in_place_watch also creates the marker when the step
     * opens an existing file for writing): the copy is then rebuilt. */
    char *links = xasprintf("%s.template-%s", case_dir, s->name);
    char *marker = xasprintf("%s/in-place", case_dir);
    char *why = NULL;
    struct trace tr = {0};
    struct strbuf text = {0};
    bool linked = !c->opt.keep_dir;
    if (linked && access(links, F_OK) == 0 && !dir_image_pristine(&run->tpl, links))
        path_remove_tree(links); /* written through by the previous case */
    if (linked && access(links, F_OK) != 0 && dir_image_write_stamped(&run->tpl, links) != 0)
        linked = false;
    if (mkdir(case_dir, 0755) != 0 ||
        (linked ? dir_image_link(&run->tpl, d, links) : dir_image_write(&run->tpl, d)) != 0) {
        oracle_finding(res, "setup", "cannot prepare the case directory %s: %s", case_dir,
                       strerror(errno));
        goto out;
    }
    struct impl_result step;
    struct step_faults f = {
        .trace = trace_path, .fault_case = fcase, .in_place_marker = linked ? marker : NULL};
    struct step_req req = step_req(so, mo, s, d);
    c->drv->step(&step, c, &req, &f, errp);
    res->step = result_text(&step);
    if (trace_load(&tr, trace_path, NULL) == 0)
        trace_excerpt(&text, &tr, d, k->ordinal, &res->fault_reached);
    res->trace = strbuf_take(&text);
    if (step.end == IMPL_KILLED)
        res->fault_reached = true;
    unsigned long differs = census_diverges(run, &tr, d, k->ordinal, &text);

    /* Unchanged bytes: the judging runs would repeat judge_template's, so reuse them. */
    if (linked && (access(marker, F_OK) == 0 || !dir_image_pristine(&run->tpl, links))) {
        linked = false; /* the links may have been written through: compare bytes, rebuild */
        path_remove_tree(links);
    }
    bool unchanged =
        linked ? dir_image_links_same(&run->tpl, d, links, false) : dir_image_same(&run->tpl, d);
    const struct payload *prior = s->prior >= 0 ? &c->data.p[s->prior] : NULL;
    const struct payload *fresh = &c->data.p[s->expect_new];
    struct jmemo *hit = NULL, *rec = NULL; /* the memo's judgement, or the one being recorded */
    if (!unchanged && memo_wanted(c)) {
        struct dir_image key;
        if ((linked ? dir_image_take_linked(&key, d, &run->tpl, links)
                    : dir_image_take(&key, d)) == 0) {
            hit = memo_find(k->scenario, &key);
            if (!hit)
                rec = memo_new(k->scenario, &key);
            dir_image_finish(&key);
        }
    }
    res->memoized = hit != NULL;
    struct load_outcome lo;
    if (hit)
        lo = hit->lo;
    if (unchanged) {
        memset(&lo, 0, sizeof lo);
        lo.match = prior ? LOAD_PRIOR : LOAD_NONE;
        snprintf(lo.text, sizeof lo.text, "%s (directory unchanged: as verified at set-up)",
                 prior ? "load exit 0: the prior pair" : "load fails: no pair");
    }
    if (s->op == OP_LOAD) {
        char cls[200] = "";
        enum load_match m = LOAD_NONE;
        if (step.end == IMPL_EXITED && step.code == 0)
            m = oracle_classify(so, mo, prior, fresh, cls, sizeof cls);
        oracle_judge_load(res, &step, m);
        res->load = xasprintf("faulted load: %s%s%s", res->step, cls[0] ? ", outputs: " : "", cls);
        if (!unchanged && !hit)
            judge_load(&lo, c, d, s->id, case_dir, prior, fresh, errp);
        if (lo.match != LOAD_PRIOR)
            oracle_finding(res, "prior-pair",
                           "after the faulted load the pair no longer loads intact: %s", lo.text);
    } else {
        if (step.end != IMPL_EXITED || step.code != 0)
            res->left = entry_names(d, run->template_dir);
        if (!unchanged && !hit)
            judge_load(&lo, c, d, s->id, case_dir, prior, fresh, errp);
        oracle_judge_save(res, &step, &lo, prior != NULL, s->prior == s->expect_new);
        res->load = xstrdup(lo.text);
    }
    bool base_intact = linked ? dir_image_links_same(&run->tpl, d, links, true)
                              : dir_image_marked_intact(&run->tpl, d);
    if (rec)
        rec->lo = lo;
    if (s->base_payload >= 0 && !base_intact) {
        const struct payload *bp = &c->data.p[s->base_payload];
        struct load_outcome bl;
        if (hit && hit->base_judged) {
            bl = hit->bl;
        } else {
            judge_load(&bl, c, d, s->base_id, case_dir, bp, bp, errp);
            struct jmemo *to = hit ? hit : rec;
            if (to) {
                to->bl = bl;
                to->base_judged = true;
            }
        }
        if (bl.match != LOAD_PRIOR)
            oracle_finding(res, "prior-pair", "the base pair '%s' no longer loads intact: %s",
                           s->base_id, bl.text);
    }
    int n;
    char *names = NULL;
    if (unchanged) {
        n = run->tpl_recovery_files;
    } else if (hit) {
        if (hit->rec_rc != 0) {
            oracle_finding(res, "recovery", "%s",
                           hit->why ? hit->why : "the clean recovery save failed");
            goto judged;
        }
        n = hit->n_after;
        names = hit->names_after ? xstrdup(hit->names_after) : NULL;
    } else {
        int rc = recover(c, s, d, case_dir, &why);
        n = rc == 0 ? count_entries(d) : 0;
        if (rc == 0 && n > run->baseline_files)
            names = entry_names(d, NULL);
        if (rec) {
            rec->rec_rc = rc;
            rec->why = why ? xstrdup(why) : NULL;
            rec->n_after = n;
            rec->names_after = names ? xstrdup(names) : NULL;
        }
        if (rc != 0) {
            oracle_finding(res, "recovery", "%s", why);
            goto judged;
        }
    }
    if (n > run->baseline_files) {
        oracle_finding(res, "leftovers",
                       "after the recovery save the directory holds %d files where a clean run "
                       "leaves %d%s%s",
                       n, run->baseline_files, names ? ": " : "", names ? names : "");
    }
    free(names);
judged:
    if (differs) {
        res->nondeterministic = true;
        oracle_override(res, "determinism",
                        "non-deterministic implementation: before the fault, this run's counted "
                        "calls differ from the census (%s), so the fault hit another call than "
                        "case %s names and --case does not reproduce it; see docs/ADAPTER.md "
                        "section 5",
                        strbuf_cstr(&text), k->id);
    }
    if (res->verdict == V_PASS && !res->fault_reached)
        set_text(&res->detail, "the fault was not reached: the step made fewer counted calls "
                               "than the census");
out:
    trace_finish(&tr);
    strbuf_finish(&text);
    free(why);
    free(d);
    free(trace_path);
    free(errp);
    free(so);
    free(mo);
    free(fcase);
    free(links);
    free(marker);
}
