/* The scenarios and the execution of one case (see scenario.h).
 * Method: every scenario's starting directory is built once by clean saves (the template);
 * each case copies the template into its own fresh directory, runs the step once under the
 * interposer with SNAPFAULT_CASE, then judges with clean runs of the IUT: load of the target
 * (oracles 1-3), load of the diff base, a smaller recovery save and its load (4), and the file
 * count against the clean baseline (5). Judging runs never have the interposer loaded. */
#include "scenario.h"
#include "census.h"
#include "crash.h"
#include "dirimage.h"
#include "oracle.h"
#include "util.h"

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

/* The request of the scenario's step on dir (a load writes its outputs into out_dir). */
static struct step_req step_req(char *so, char *mo, size_t cap, const struct scenario *s,
                                const char *dir, const char *out_dir)
{
    struct step_req r = {.op = s->op, .dir = dir, .id = s->id};
    if (s->op == OP_SAVE_FULL || s->op == OP_SAVE_DIFF) {
        r.payload = s->step_payload;
        r.base_id = s->op == OP_SAVE_DIFF ? s->base_id : NULL;
    } else if (s->op == OP_LOAD) {
        snprintf(so, cap, "%s/step-state.out", out_dir);
        snprintf(mo, cap, "%s/step-memory.out", out_dir);
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

/* Clean recovery save of the smaller payload as id, then its load: oracle 4. @return 0 when it
 * held, else -1 with the reason in why. */
static int recover(const struct campaign *c, const struct scenario *s, const char *dir,
                   const char *case_dir, char *why, size_t why_cap)
{
    struct impl_result r;
    char err_path[600];
    snprintf(err_path, sizeof err_path, "%s/recovery.err", case_dir);
    const struct payload *rec = &c->data.p[P_RECOVERY];
    struct step_req req = save_req(dir, s->id, P_RECOVERY, NULL);
    c->drv->step(&r, c, &req, NULL, err_path);
    if (r.end != IMPL_EXITED || r.code != 0) {
        char t[240];
        impl_result_text(t, sizeof t, &r);
        snprintf(why, why_cap, "the clean recovery save (1 MiB) failed: %s", t);
        return -1;
    }
    struct load_outcome lo;
    snprintf(err_path, sizeof err_path, "%s/recovery-load.err", case_dir);
    judge_load(&lo, c, dir, s->id, case_dir, NULL, rec, err_path);
    if (lo.match != LOAD_NEW) {
        snprintf(why, why_cap, "the clean recovery save (1 MiB) exited 0 but its %s", lo.text);
        return -1;
    }
    return 0;
}

/* The clean judging runs on the template itself: the prior pair and the base load exactly
 * (else the IUT fails a clean run: set-up error), and the recovery save's outcome and file
 * count, which every case that leaves the directory unchanged then reuses. */
static int judge_template(const struct campaign *c, struct scenario_run *run, char *err,
                          size_t err_cap)
{
    const struct scenario *s = &TABLE[run->scenario];
    char jdir[700], d[760], errp[760];
    snprintf(jdir, sizeof jdir, "%s/judge-%s", c->workdir, s->name);
    snprintf(d, sizeof d, "%s/d", jdir);
    snprintf(errp, sizeof errp, "%s/load.err", jdir);
    if (mkdir(jdir, 0755) != 0 || dir_image_write(&run->tpl, d) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", jdir, strerror(errno));
        return -1;
    }
    struct load_outcome lo;
    if (s->prior >= 0) {
        const struct payload *p = &c->data.p[s->prior];
        judge_load(&lo, c, d, s->id, jdir, p, p, errp);
        if (lo.match != LOAD_PRIOR) {
            snprintf(err, err_cap,
                     "the IUT fails a clean load of the pair '%s' it saved for scenario %s: %s",
                     s->id, s->name, lo.text);
            return -1;
        }
    }
    if (s->base_payload >= 0) {
        const struct payload *p = &c->data.p[s->base_payload];
        judge_load(&lo, c, d, s->base_id, jdir, p, p, errp);
        if (lo.match != LOAD_PRIOR) {
            snprintf(err, err_cap,
                     "the IUT fails a clean load of the pair '%s' it saved for scenario %s: %s",
                     s->base_id, s->name, lo.text);
            return -1;
        }
    }
    run->tpl_recovery_why[0] = 0;
    if (recover(c, s, d, jdir, run->tpl_recovery_why, sizeof run->tpl_recovery_why) != 0) {
        snprintf(err, err_cap, "the IUT fails the clean run of scenario %s: %s", s->name,
                 run->tpl_recovery_why);
        return -1;
    }
    run->tpl_recovery_files = count_entries(d);
    return 0;
}

/* The trace-completeness audit (docs/CRASH.md): the step once more on a copy of the template
 * with the data trace; replayed, that trace must give exactly what the step left, or the IUT
 * changed files behind the interposer and the scenario is UNCHECKED. */
static int audit(const struct campaign *c, struct scenario_run *run, const char *cdir, char *err,
                 size_t err_cap)
{
    const struct scenario *s = &TABLE[run->scenario];
    char d[760], trace[760], data[760], errp[760], so[760], mo[760];
    snprintf(d, sizeof d, "%s/audit-d", cdir);
    snprintf(trace, sizeof trace, "%s/audit-trace", cdir);
    snprintf(data, sizeof data, "%s/audit-trace.data", cdir);
    snprintf(errp, sizeof errp, "%s/audit.err", cdir);
    if (dir_image_write(&run->tpl, d) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", d, strerror(errno));
        return -1;
    }
    struct step_req req = step_req(so, mo, sizeof so, s, d, cdir);
    struct step_faults f = {.trace = trace, .trace_data = data};
    struct impl_result r;
    c->drv->step(&r, c, &req, &f, errp);
    char diff[600];
    int rc = crash_audit(trace, data, d, run->template_dir, diff, sizeof diff);
    run->unchecked[0] = 0;
    if (rc != 0)
        snprintf(run->unchecked, sizeof run->unchecked,
                 "the directory the step left differs from its replayed data trace: %s",
                 diff);
    return 0;
}

int scenario_prepare(struct campaign *c, struct scenario_run *run, char *err, size_t err_cap)
{
    const struct scenario *s = &TABLE[run->scenario];
    char cdir[600], d[700], trace[700], errp[700], t[240];
    struct impl_result r;
    if (fmt_path(run->template_dir, sizeof run->template_dir, "%s/template-%s", c->workdir,
                 s->name) ||
        fmt_path(cdir, sizeof cdir, "%s/census-%s", c->workdir, s->name)) {
        snprintf(err, err_cap, "work directory path too long: %s", c->workdir);
        return -1;
    }
    snprintf(errp, sizeof errp, "%s/setup.err", c->workdir);
    if (mkdir(run->template_dir, 0755) != 0 || mkdir(cdir, 0755) != 0) {
        snprintf(err, err_cap, "cannot create %s: %s", cdir, strerror(errno));
        return -1;
    }
    struct dir_image base_files = {0};
    for (unsigned i = 0; i < s->n_setup; i++) {
        const struct setup_save *ss = &s->setup[i];
        if (i == 1 && s->base_payload >= 0 && dir_image_take(&base_files, run->template_dir)) {
            snprintf(err, err_cap, "cannot read %s: %s", run->template_dir, strerror(errno));
            return -1;
        }
        struct step_req req = save_req(run->template_dir, ss->id, ss->payload, ss->base);
        c->drv->step(&r, c, &req, NULL, errp);
        if (r.end != IMPL_EXITED || r.code != 0) {
            impl_result_text(t, sizeof t, &r);
            snprintf(err, err_cap,
                     "the IUT fails a clean set-up save of scenario %s (%s save of '%s'): %s",
                     s->name, ss->base ? "diff" : "full", ss->id, t);
            return -1;
        }
    }
    if (dir_image_take(&run->tpl, run->template_dir) != 0) {
        snprintf(err, err_cap, "cannot read %s: %s", run->template_dir, strerror(errno));
        dir_image_finish(&base_files);
        return -1;
    }
    if (s->base_payload >= 0)
        dir_image_mark(&run->tpl, s->n_setup > 1 ? &base_files : &run->tpl);
    dir_image_finish(&base_files);
    if (judge_template(c, run, err, err_cap) != 0)
        return -1;
    snprintf(d, sizeof d, "%s/d", cdir);
    snprintf(trace, sizeof trace, "%s/trace", cdir);
    snprintf(errp, sizeof errp, "%s/step.err", cdir);
    if (dir_image_write(&run->tpl, d) != 0) {
        snprintf(err, err_cap, "cannot copy %s: %s", run->template_dir, strerror(errno));
        return -1;
    }
    char so[700], mo[700];
    struct step_req req = step_req(so, mo, sizeof so, s, d, cdir);
    if (c->drv->census(&r, c, &req, trace, errp, &run->tpl, cdir, err, err_cap) != 0)
        return -1;
    if (r.end != IMPL_EXITED || r.code != 0) {
        impl_result_text(t, sizeof t, &r);
        snprintf(err, err_cap,
                 "the IUT fails the clean census run of scenario %s (%s under the interposer, "
                 "no fault injected): %s",
                 s->name,
                 s->op == OP_LOAD    ? "load"
                 : s->op == OP_MERGE ? "merge"
                                     : "save",
                 t);
        return -1;
    }
    const struct payload *prior = s->prior >= 0 ? &c->data.p[s->prior] : NULL;
    const struct payload *fresh = &c->data.p[s->expect_new];
    if (s->op == OP_LOAD) {
        char why[200];
        if (oracle_classify(so, mo, prior, fresh, why, sizeof why) != LOAD_PRIOR) {
            snprintf(err, err_cap,
                     "the IUT fails the clean census run of scenario %s: load exited 0 with %s",
                     s->name, why);
            return -1;
        }
    } else {
        struct load_outcome lo;
        judge_load(&lo, c, d, s->id, cdir, prior, fresh, errp);
        bool ok = lo.match == LOAD_NEW || (s->prior == s->expect_new && lo.match == LOAD_PRIOR);
        if (!ok) {
            snprintf(err, err_cap,
                     "the IUT fails the clean census run of scenario %s: after a clean %s, %s",
                     s->name, s->op == OP_MERGE ? "merge" : "save", lo.text);
            return -1;
        }
    }
    if (census_read(run, trace, err, err_cap) != 0)
        return -1;
    if (audit(c, run, cdir, err, err_cap) != 0)
        return -1;
    if (run->n_calls == 0) {
        snprintf(err, err_cap,
                 "the census run of scenario %s counted no file call under SNAPFAULT_DIR: is "
                 "the interposer %s loaded and working?",
                 s->name, c->interposer);
        return -1;
    }
    char why[400];
    if (recover(c, s, d, cdir, why, sizeof why) != 0) {
        snprintf(err, err_cap, "the IUT fails the clean run of scenario %s: %s", s->name, why);
        return -1;
    }
    run->baseline_files = count_entries(d);
    return 0;
}

static void run_case(const struct campaign *c, const struct sc_case *k, const char *case_dir,
                     struct case_result *res);

void scenario_run_case(const struct campaign *c, const struct sc_case *k, const char *case_dir,
                       struct case_result *res)
{
    run_case(c, k, case_dir, res);
    /* Messages name the case directory, a temporary path: say "<case>" so that reports of
     * the same campaign are identical from run to run. */
    str_replace_all(res->step, sizeof res->step, case_dir, "<case>");
    str_replace_all(res->load, sizeof res->load, case_dir, "<case>");
    str_replace_all(res->detail, sizeof res->detail, case_dir, "<case>");
}

static void run_case(const struct campaign *c, const struct sc_case *k, const char *case_dir,
                     struct case_result *res)
{
    const struct scenario *s = &TABLE[k->scenario];
    const struct scenario_run *run = NULL;
    for (unsigned i = 0; i < c->n_runs; i++)
        if (c->runs[i].scenario == k->scenario)
            run = &c->runs[i];
    memset(res, 0, sizeof *res);
    res->verdict = V_PASS;
    char d[700], trace[700], errp[700], fcase[64], so[700], mo[700];
    snprintf(d, sizeof d, "%s/d", case_dir);
    snprintf(trace, sizeof trace, "%s/trace", case_dir);
    snprintf(errp, sizeof errp, "%s/step.err", case_dir);
    snprintf(fcase, sizeof fcase, "%u:%s", k->ordinal, k->action);
    if (!run) {
        oracle_finding(res, "setup", "scenario %s was not prepared", s->name);
        return;
    }
    /* A driver that reports in-place writes lets the case directory hold hard links to a
     * per-worker copy of the template (no copying). */
    char links[760], marker[760];
    snprintf(links, sizeof links, "%s.template-%s", case_dir, s->name);
    snprintf(marker, sizeof marker, "%s/in-place", case_dir);
    bool linked = c->drv->in_place_watch && !c->opt.keep_dir;
    if (linked && access(links, F_OK) != 0 && dir_image_write(&run->tpl, links) != 0)
        linked = false;
    if (mkdir(case_dir, 0755) != 0 ||
        (linked ? dir_image_link(&run->tpl, d, links) : dir_image_write(&run->tpl, d)) != 0) {
        oracle_finding(res, "setup", "cannot prepare the case directory %s: %s", case_dir,
                       strerror(errno));
        return;
    }
    struct impl_result step;
    struct step_faults f = {
        .trace = trace, .fault_case = fcase, .in_place_marker = linked ? marker : NULL};
    struct step_req req = step_req(so, mo, sizeof so, s, d, case_dir);
    c->drv->step(&step, c, &req, &f, errp);
    impl_result_text(res->step, sizeof res->step, &step);
    trace_excerpt(res->trace, sizeof res->trace, trace, d, k->ordinal, &res->fault_reached);
    if (step.end == IMPL_KILLED)
        res->fault_reached = true;

    /* Unchanged bytes: the judging runs would repeat judge_template's, so reuse them. */
    if (linked && access(marker, F_OK) == 0) {
        linked = false; /* the links may have been written through: compare bytes, rebuild */
        path_remove_tree(links);
    }
    bool unchanged =
        linked ? dir_image_links_same(&run->tpl, d, links, false) : dir_image_same(&run->tpl, d);
    const struct payload *prior = s->prior >= 0 ? &c->data.p[s->prior] : NULL;
    const struct payload *fresh = &c->data.p[s->expect_new];
    struct load_outcome lo;
    if (unchanged) {
        memset(&lo, 0, sizeof lo);
        lo.match = prior ? LOAD_PRIOR : LOAD_NONE;
        snprintf(lo.text, sizeof lo.text, "%s (directory unchanged: as verified at set-up)",
                 prior ? "load exit 0: the prior pair" : "load fails: no pair");
    }
    if (s->op == OP_LOAD) {
        char why[200] = "";
        enum load_match m = LOAD_NONE;
        if (step.end == IMPL_EXITED && step.code == 0)
            m = oracle_classify(so, mo, prior, fresh, why, sizeof why);
        oracle_judge_load(res, &step, m);
        snprintf(res->load, sizeof res->load, "faulted load: %s%s%s", res->step,
                 why[0] ? ", outputs: " : "", why);
        if (!unchanged)
            judge_load(&lo, c, d, s->id, case_dir, prior, fresh, errp);
        if (lo.match != LOAD_PRIOR)
            oracle_finding(res, "prior-pair",
                           "after the faulted load the pair no longer loads intact: %s", lo.text);
    } else {
        if (step.end != IMPL_EXITED || step.code != 0)
            dir_new_entries(res->left, sizeof res->left, d, run->template_dir);
        if (!unchanged)
            judge_load(&lo, c, d, s->id, case_dir, prior, fresh, errp);
        oracle_judge_save(res, &step, &lo, prior != NULL, s->prior == s->expect_new);
        snprintf(res->load, sizeof res->load, "%s", lo.text);
    }
    bool base_intact = linked ? dir_image_links_same(&run->tpl, d, links, true)
                              : dir_image_marked_intact(&run->tpl, d);
    if (s->base_payload >= 0 && !base_intact) {
        const struct payload *bp = &c->data.p[s->base_payload];
        struct load_outcome bl;
        judge_load(&bl, c, d, s->base_id, case_dir, bp, bp, errp);
        if (bl.match != LOAD_PRIOR)
            oracle_finding(res, "prior-pair", "the base pair '%s' no longer loads intact: %s",
                           s->base_id, bl.text);
    }
    char why[400];
    int n;
    if (unchanged) {
        n = run->tpl_recovery_files;
    } else {
        if (recover(c, s, d, case_dir, why, sizeof why) != 0) {
            oracle_finding(res, "recovery", "%s", why);
            return;
        }
        char names[8];
        n = dir_list(names, sizeof names, d);
    }
    if (n > run->baseline_files) {
        char names[300] = "";
        if (!unchanged)
            dir_list(names, sizeof names, d);
        oracle_finding(res, "leftovers",
                       "after the recovery save the directory holds %d files where a clean run "
                       "leaves %d%s%s",
                       n, run->baseline_files, names[0] ? ": " : "", names);
    }
    if (res->verdict == V_PASS && !res->fault_reached)
        snprintf(res->detail, sizeof res->detail,
                 "the fault was not reached: the step made fewer counted calls than the census");
}
