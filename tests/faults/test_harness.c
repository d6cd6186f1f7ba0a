/* Unit tests of the snapcheck modules: trace parsing, case enumeration and run reduction
 * (census), the verdict matrix of the oracles, directory images and string helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "census.h"
#include "dirimage.h"
#include "oracle.h"
#include "sample.h"
#include "util.h"

#include <model.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void census__parses_a_trace_line(void **st)
{
    (void)st;
    char line[] = "7\tfsync\t/d/vm.g2.mem\t-\t3\t-\t-\t-1\tEIO\terrno=EIO\n";
    struct trace_line t;
    assert_int_equal(trace_parse_line(&t, line), 0);
    assert_int_equal(t.ordinal, 7);
    assert_string_equal(t.call, "fsync");
    assert_string_equal(t.path, "/d/vm.g2.mem");
    assert_string_equal(t.err, "EIO");
    assert_string_equal(t.injected, "errno=EIO");
}

static void census__rejects_bad_ordinals(void **st)
{
    (void)st;
    struct trace_line t;
    char zero[] = "0\topen\t/d/x";
    char text[] = "x1\topen\t/d/x";
    char lone[] = "3";
    assert_int_equal(trace_parse_line(&t, zero), -1);
    assert_int_equal(trace_parse_line(&t, text), -1);
    assert_int_equal(trace_parse_line(&t, lone), -1);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(file_write(path, text, strlen(text)), 0);
}

static char *temp_file(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/snapcheck-test-trace-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

static void census__reads_calls_in_order_and_rejects_gaps(void **st)
{
    (void)st;
    char *path = temp_file();
    write_text(path, "1\topen\t/d/a\t-\t-\t-\t-\t3\t-\t-\n2\twrite\t/d/a\t-\t3\t0\t10\t10\t-\t-\n"
                     "3\trename\t/d/a\t/d/b\t-\t-\t-\t0\t-\t-\n");
    struct scenario_run run;
    memset(&run, 0, sizeof run);
    char err[256];
    assert_int_equal(census_read(&run, path, "/d", err, sizeof err), 0);
    assert_int_equal(run.n_calls, 3);
    assert_string_equal(run.calls[1], "write");
    assert_string_equal(run.calls[2], "rename");
    assert_string_equal(run.paths[1], "a");
    write_text(path, "1\topen\t/d/a\n3\twrite\t/d/a\n");
    assert_int_equal(census_read(&run, path, "/d", err, sizeof err), -1);
    assert_non_null(strstr(err, "ordinal 3"));
    write_text(path, "1\topen\t/d/a\n2\twrite\t/d/a\n2\twrite\t/d/a\n");
    assert_int_equal(census_read(&run, path, "/d", err, sizeof err), -1);
    census_free(&run);
    unlink(path);
}

/* docs/FAULTS.md 3: lines of concurrent threads may be written out of order; the ordinal
 * orders them. */
static void census__sorts_out_of_order_thread_lines(void **st)
{
    (void)st;
    char *path = temp_file();
    write_text(path, "1\topen\t/d/a\n3\tpwrite64\t/d/b\n2\tpwrite64\t/d/a\n5\tfsync\t/d/b\n"
                     "4\tfsync\t/d/a\n");
    struct scenario_run run;
    memset(&run, 0, sizeof run);
    char err[256];
    assert_int_equal(census_read(&run, path, "/d", err, sizeof err), 0);
    assert_int_equal(run.n_calls, 5);
    assert_string_equal(run.calls[1], "pwrite64");
    assert_string_equal(run.paths[1], "a");
    assert_string_equal(run.paths[2], "b");
    assert_string_equal(run.calls[3], "fsync");
    assert_string_equal(run.paths[3], "a");
    /* a gap is still a gap once sorted */
    write_text(path, "3\topen\t/d/a\n1\topen\t/d/a\n");
    assert_int_equal(census_read(&run, path, "/d", err, sizeof err), -1);
    assert_non_null(strstr(err, "ordinal 3 where 2"));
    census_free(&run);
    unlink(path);
}

/* No fixed limit: a step of 150,000 counted calls is read whole. */
static void census__reads_a_census_of_150000_calls(void **st)
{
    (void)st;
    char *path = temp_file();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "1\topen64\t/d/vm.mem.tmp\t-\t-\t-\t-\t3\t-\t-\n");
    for (unsigned i = 2; i < 150000; i++)
        fprintf(f, "%u\tpwrite64\t/d/vm.mem.tmp\t-\t3\t%u\t4096\t4096\t-\t-\n", i,
                (i - 2) * 4096);
    fprintf(f, "150000\tfsync\t/d/vm.mem.tmp\t-\t3\t-\t-\t0\t-\t-\n");
    fclose(f);
    struct scenario_run run;
    memset(&run, 0, sizeof run);
    char err[256];
    assert_int_equal(census_read(&run, path, "/d", err, sizeof err), 0);
    assert_int_equal(run.n_calls, 150000);
    assert_string_equal(run.calls[149998], "pwrite64");
    assert_string_equal(run.calls[149999], "fsync");
    /* run reduction: the 149,998 pwrites are one run, of which 5 are faulted */
    struct sc_case *cases = NULL;
    unsigned n = 0, cap = 0;
    census_enumerate(&cases, &n, &cap, &run, "x", TIER_SMOKE);
    assert_int_equal(run.collapsed, 149998 - 5);
    assert_int_equal(n, 3 + 5 * 4 + 3);
    free(cases);
    census_free(&run);
    unlink(path);
}

static struct scenario_run *calls_of(unsigned n, const char *const *names, const char *const *paths)
{
    static struct scenario_run run;
    static const char *c[64], *p[64];
    memset(&run, 0, sizeof run);
    run.scenario = 1;
    run.n_calls = n;
    for (unsigned i = 0; i < n; i++) {
        c[i] = names[i];
        p[i] = paths ? paths[i] : "f";
    }
    run.calls = c;
    run.paths = p;
    return &run;
}

static struct scenario_run *three_calls(void)
{
    static const char *const names[] = {"open", "write", "fsync"};
    return calls_of(3, names, NULL);
}

static bool has_case(const struct sc_case *c, unsigned n, const char *id)
{
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(c[i].id, id))
            return true;
    return false;
}

static void census__smoke_tier_has_one_errno_half_short_and_both_crashes(void **st)
{
    (void)st;
    struct sc_case *cases = NULL;
    unsigned n = 0, cap = 0;
    struct scenario_run *run = three_calls();
    census_enumerate(&cases, &n, &cap, run, "full-over-full", TIER_SMOKE);
    /* open: errno + 2 crashes; write: errno + short + 2; fsync: errno + 2. */
    assert_int_equal(n, 3 + 4 + 3);
    assert_true(has_case(cases, n, "full-over-full/1/open/errno=EIO"));
    assert_true(has_case(cases, n, "full-over-full/2/write/short=half"));
    assert_true(has_case(cases, n, "full-over-full/3/fsync/crash-before"));
    assert_true(has_case(cases, n, "full-over-full/3/fsync/crash-after"));
    assert_false(has_case(cases, n, "full-over-full/2/write/short=1"));
    assert_false(has_case(cases, n, "full-over-full/1/open/short=half"));
    free(cases);
    arena_finish(&run->text);
}

static void census__full_tier_has_every_errno_of_the_model(void **st)
{
    (void)st;
    struct sc_case *cases = NULL;
    unsigned n = 0, cap = 0;
    struct scenario_run *run = three_calls();
    census_enumerate(&cases, &n, &cap, run, "x", TIER_FULL);
    unsigned expect = 0;
    const char *names[] = {"open", "write", "fsync"};
    for (int i = 0; i < 3; i++) {
        const struct sf_call *m = sf_call_find(names[i]);
        assert_non_null(m);
        expect += m->n_errnos + 2 + (m->can_short ? 3 : 0);
        for (unsigned k = 0; k < m->n_errnos; k++) {
            char id[128];
            snprintf(id, sizeof id, "x/%d/%s/errno=%s", i + 1, names[i],
                     sf_errno_name(m->errnos[k]));
            assert_true(has_case(cases, n, id));
        }
    }
    assert_int_equal(n, expect);
    assert_true(has_case(cases, n, "x/2/write/short=allbut1"));
    /* Ids are stable: the same census gives the same list in the same order. */
    struct sc_case *again = NULL;
    unsigned n2 = 0, cap2 = 0;
    census_enumerate(&again, &n2, &cap2, run, "x", TIER_FULL);
    assert_int_equal(n, n2);
    for (unsigned i = 0; i < n; i++)
        assert_string_equal(cases[i].id, again[i].id);
    free(cases);
    free(again);
    arena_finish(&run->text);
}

static bool faulted(const struct sc_case *c, unsigned n, unsigned ordinal)
{
    for (unsigned i = 0; i < n; i++)
        if (c[i].ordinal == ordinal)
            return true;
    return false;
}

/* A run (same call, same file) of 9 writes: smoke and full fault its 1st, 2nd, middle,
 * second-to-last and last call; all faults each; another file or call starts a new run. */
static void census__run_reduction_keeps_ends_and_middle(void **st)
{
    (void)st;
    const char *w = "pwrite64", *o = "open64";
    const char *const names[] = {o, w, w, w, w, w, w, w, w, w, w, w, w};
    const char *const paths[] = {"a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "b", "b", "a"};
    struct scenario_run *run = calls_of(13, names, paths);
    struct sc_case *cases = NULL;
    unsigned n = 0, cap = 0;
    census_enumerate(&cases, &n, &cap, run, "x", TIER_FULL);
    /* the run is ordinals 2..10: keep 2, 3, 6 (middle), 9, 10 */
    unsigned keep[] = {1, 2, 3, 6, 9, 10, 11, 12, 13}, drop[] = {4, 5, 7, 8};
    for (unsigned i = 0; i < sizeof keep / sizeof keep[0]; i++)
        assert_true(faulted(cases, n, keep[i]));
    for (unsigned i = 0; i < sizeof drop / sizeof drop[0]; i++)
        assert_false(faulted(cases, n, drop[i]));
    assert_int_equal(run->collapsed, 4);
    free(cases);
    cases = NULL;
    n = cap = 0;
    census_enumerate(&cases, &n, &cap, run, "x", TIER_ALL);
    for (unsigned o2 = 1; o2 <= 13; o2++)
        assert_true(faulted(cases, n, o2));
    assert_int_equal(run->collapsed, 0);
    assert_true(has_case(cases, n, "x/7/pwrite64/short=allbut1"));
    free(cases);
    arena_finish(&run->text);
}

/* The calls of a faulted run up to the fault must be the census's: another call or another
 * file before the fault is a non-deterministic implementation. */
static void census__diverges_names_the_first_other_call(void **st)
{
    (void)st;
    const char *const names[] = {"open64", "pwrite64", "pwrite64", "fsync"};
    const char *const paths[] = {"a", "a", "a", "a"};
    struct scenario_run *run = calls_of(4, names, paths);
    char *path = temp_file();
    struct trace t;
    struct strbuf why = {0};
    write_text(path, "1\topen64\t/d/a\n2\tpwrite64\t/d/a\n3\tpwrite64\t/d/a\n");
    assert_int_equal(trace_load(&t, path, NULL), 0);
    assert_int_equal(census_diverges(run, &t, "/d", 3, &why), 0);
    trace_finish(&t);
    write_text(path, "1\topen64\t/d/a\n2\tpwrite64\t/d/a\n3\tfsync\t/d/a\n");
    assert_int_equal(trace_load(&t, path, NULL), 0);
    assert_int_equal(census_diverges(run, &t, "/d", 3, &why), 3);
    assert_non_null(strstr(strbuf_cstr(&why), "call 3: fsync a, where the census has pwrite64"));
    assert_int_equal(census_diverges(run, &t, "/d", 2, &why), 0); /* only up to the fault */
    trace_finish(&t);
    write_text(path, "2\tpwrite64\t/d/b\n1\topen64\t/d/a\n");
    assert_int_equal(trace_load(&t, path, NULL), 0);
    assert_int_equal(census_diverges(run, &t, "/d", 4, &why), 2);
    trace_finish(&t);
    strbuf_finish(&why);
    unlink(path);
}

static void census__kinds_of_actions(void **st)
{
    (void)st;
    assert_int_equal(census_action_kind("errno=ENOSPC"), FK_ERRNO);
    assert_int_equal(census_action_kind("short=1"), FK_SHORT);
    assert_int_equal(census_action_kind("crash-before"), FK_CRASH_BEFORE);
    assert_int_equal(census_action_kind("crash-after"), FK_CRASH_AFTER);
}

/* Budgets: the priority order is a permutation whose every prefix as long as the number of
 * strata holds one case of each (scenario, fault kind, call), the same every time. */
static void sample__order_is_stratified_and_deterministic(void **st)
{
    (void)st;
    const char *const names[] = {"open64", "pwrite64", "pwrite64", "pwrite64", "pwrite64",
                                 "pwrite64", "pwrite64", "fsync", "rename"};
    const char *const paths[] = {"a", "a", "a", "a", "a", "a", "a", "a", "a"};
    struct scenario_run *run = calls_of(9, names, paths);
    struct sc_case *cases = NULL;
    unsigned n = 0, cap = 0;
    census_enumerate(&cases, &n, &cap, run, "x", TIER_FULL);
    run->scenario = 2;
    census_enumerate(&cases, &n, &cap, run, "y", TIER_SMOKE);
    unsigned strata = sample_strata(cases, n);
    /* x: open64 errno/crash-before/crash-after, pwrite64 errno/short/2 crashes, fsync 3,
     * rename 3; y: the same 13 */
    assert_int_equal(strata, 26);
    unsigned *order = calloc(n, sizeof *order), *again = calloc(n, sizeof *again);
    bool *seen = calloc(n, sizeof *seen);
    sample_order(order, cases, n);
    sample_order(again, cases, n);
    for (unsigned i = 0; i < n; i++) {
        assert_true(order[i] < n);
        assert_false(seen[order[i]]);
        seen[order[i]] = true;
        assert_int_equal(order[i], again[i]);
    }
    /* scenarios take turns, and the first cases of a scenario are different calls */
    assert_int_not_equal(cases[order[0]].scenario, cases[order[1]].scenario);
    assert_int_equal(cases[order[0]].scenario, cases[order[2]].scenario);
    assert_string_not_equal(cases[order[0]].call, cases[order[2]].call);
    for (unsigned a = 0; a < strata; a++)
        for (unsigned b = 0; b < a; b++) {
            const struct sc_case *p = &cases[order[a]], *q = &cases[order[b]];
            assert_false(p->scenario == q->scenario && p->kind == q->kind &&
                         !strcmp(p->call, q->call));
        }
    free(order);
    free(again);
    free(seen);
    free(cases);
    arena_finish(&run->text);
}

static struct impl_result ended(enum impl_end end, int code, const char *msg)
{
    struct impl_result r;
    memset(&r, 0, sizeof r);
    r.end = end;
    r.code = code;
    snprintf(r.stderr1, sizeof r.stderr1, "%s", msg);
    return r;
}

static enum verdict judge(enum impl_end end, int code, enum load_match m, bool had_prior,
                          char *oracle)
{
    struct case_result res;
    memset(&res, 0, sizeof res);
    struct impl_result step = ended(end, code, "failed");
    struct load_outcome lo;
    memset(&lo, 0, sizeof lo);
    lo.match = m;
    oracle_judge_save(&res, &step, &lo, had_prior, false);
    strcpy(oracle, res.oracle);
    case_result_finish(&res);
    return res.verdict;
}

static void oracle__save_verdict_matrix(void **st)
{
    (void)st;
    char o[16];
    /* exit 0: only the new pair will do. */
    assert_int_equal(judge(IMPL_EXITED, 0, LOAD_NEW, true, o), V_PASS);
    assert_int_equal(judge(IMPL_EXITED, 0, LOAD_PRIOR, true, o), V_FINDING);
    assert_string_equal(o, "committed");
    assert_int_equal(judge(IMPL_EXITED, 0, LOAD_NONE, false, o), V_FINDING);
    assert_string_equal(o, "committed");
    /* failed: prior passes, new is ambiguous, nothing loses the prior pair. */
    assert_int_equal(judge(IMPL_EXITED, 1, LOAD_PRIOR, true, o), V_PASS);
    assert_int_equal(judge(IMPL_EXITED, 1, LOAD_NEW, true, o), V_AMBIGUOUS);
    assert_int_equal(judge(IMPL_EXITED, 1, LOAD_NONE, true, o), V_FINDING);
    assert_string_equal(o, "prior-pair");
    assert_int_equal(judge(IMPL_EXITED, 1, LOAD_NONE, false, o), V_PASS);
    assert_int_equal(judge(IMPL_EXITED, 1, LOAD_OTHER, true, o), V_FINDING);
    assert_string_equal(o, "prior-pair");
    /* crashed: prior or new pass; nothing or other bytes are findings. */
    assert_int_equal(judge(IMPL_KILLED, 9, LOAD_NEW, true, o), V_PASS);
    assert_int_equal(judge(IMPL_KILLED, 9, LOAD_PRIOR, true, o), V_PASS);
    assert_int_equal(judge(IMPL_KILLED, 9, LOAD_NONE, true, o), V_FINDING);
    assert_int_equal(judge(IMPL_KILLED, 9, LOAD_OTHER, false, o), V_FINDING);
    /* any other signal, or a hang, is a finding even when the pairs are fine */
    assert_int_equal(judge(IMPL_SIGNALED, 11, LOAD_PRIOR, true, o), V_FINDING);
    assert_string_equal(o, "clean-exit");
    assert_int_equal(judge(IMPL_SIGNALED, 6, LOAD_NEW, true, o), V_FINDING);
    assert_string_equal(o, "clean-exit");
    assert_int_equal(judge(IMPL_TIMEOUT, 9, LOAD_PRIOR, true, o), V_FINDING);
    assert_string_equal(o, "clean-exit");
    /* the pair oracles come first */
    assert_int_equal(judge(IMPL_SIGNALED, 11, LOAD_NONE, true, o), V_FINDING);
    assert_string_equal(o, "prior-pair");
}

static void oracle__load_verdicts(void **st)
{
    (void)st;
    struct case_result res;
    memset(&res, 0, sizeof res);
    struct impl_result r = ended(IMPL_EXITED, 1, "snapref: load failed: EIO");
    oracle_judge_load(&res, &r, LOAD_NONE);
    assert_int_equal(res.verdict, V_PASS);
    r = ended(IMPL_EXITED, 1, "");
    oracle_judge_load(&res, &r, LOAD_NONE);
    assert_int_equal(res.verdict, V_FINDING);
    assert_string_equal(res.oracle, "clean-load");
    r = ended(IMPL_EXITED, 0, "");
    oracle_judge_load(&res, &r, LOAD_OTHER);
    assert_int_equal(res.verdict, V_FINDING);
    oracle_judge_load(&res, &r, LOAD_PRIOR);
    assert_int_equal(res.verdict, V_PASS);
    r = ended(IMPL_SIGNALED, 11, "");
    oracle_judge_load(&res, &r, LOAD_NONE);
    assert_int_equal(res.verdict, V_FINDING);
    case_result_finish(&res);
}

static void oracle__classify_tells_prior_new_and_mixes(void **st)
{
    (void)st;
    char dir[] = "/tmp/snapcheck-test-cls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint8_t s1[] = "state-one", s2[] = "state-two", m1[64], m2[64];
    memset(m1, 1, sizeof m1);
    memset(m2, 2, sizeof m2);
    struct payload prior = {
        .name = "prior", .state = s1, .state_len = sizeof s1, .mem = m1, .mem_len = sizeof m1};
    struct payload fresh = {
        .name = "new", .state = s2, .state_len = sizeof s2, .mem = m2, .mem_len = sizeof m2};
    char so[128], mo[128], why[160];
    snprintf(so, sizeof so, "%s/s", dir);
    snprintf(mo, sizeof mo, "%s/m", dir);
    file_write(so, s1, sizeof s1);
    file_write(mo, m1, sizeof m1);
    assert_int_equal(oracle_classify(so, mo, &prior, &fresh, why, sizeof why), LOAD_PRIOR);
    file_write(mo, m2, sizeof m2);
    assert_int_equal(oracle_classify(so, mo, &prior, &fresh, why, sizeof why), LOAD_OTHER);
    assert_non_null(strstr(why, "prior state with new memory"));
    file_write(so, s2, sizeof s2);
    assert_int_equal(oracle_classify(so, mo, &prior, &fresh, why, sizeof why), LOAD_NEW);
    file_write(mo, m2, sizeof m2 - 1); /* one byte short */
    assert_int_equal(oracle_classify(so, mo, &prior, &fresh, why, sizeof why), LOAD_OTHER);
    assert_int_equal(oracle_classify(so, mo, NULL, &fresh, why, sizeof why), LOAD_OTHER);
    path_remove_tree(dir);
}

static void dirimage__detects_any_change(void **st)
{
    (void)st;
    char dir[] = "/tmp/snapcheck-test-img-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[128], b[128], copy[160], p[200];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(copy, sizeof copy, "%s/copy", dir);
    mkdir(a, 0755);
    snprintf(p, sizeof p, "%s/x.snap", a);
    write_text(p, "hello");
    snprintf(p, sizeof p, "%s/x.mem", a);
    write_text(p, "memory");
    struct dir_image img;
    assert_int_equal(dir_image_take(&img, a), 0);
    assert_int_equal(img.n, 2);
    assert_int_equal(dir_image_write(&img, copy), 0);
    assert_true(dir_image_same(&img, copy));
    snprintf(p, sizeof p, "%s/x.mem", copy);
    write_text(p, "memorY");
    assert_false(dir_image_same(&img, copy));
    write_text(p, "memory");
    assert_true(dir_image_same(&img, copy));
    snprintf(p, sizeof p, "%s/x.tmp", copy);
    write_text(p, "");
    assert_false(dir_image_same(&img, copy)); /* an extra file */
    char names[64];
    assert_int_equal(dir_new_entries(names, sizeof names, copy, a), 1);
    assert_string_equal(names, "x.tmp");
    img.files[0].marked = true;
    assert_true(dir_image_marked_intact(&img, copy));
    snprintf(p, sizeof p, "%s/%s", copy, img.files[0].name);
    unlink(p);
    assert_false(dir_image_marked_intact(&img, copy));
    dir_image_finish(&img);
    path_remove_tree(dir);
    (void)b;
}

static void util__str_append_truncates_visibly(void **st)
{
    (void)st;
    char buf[8] = "";
    str_append(buf, sizeof buf, "abc");
    assert_string_equal(buf, "abc");
    str_append(buf, sizeof buf, "defghij");
    assert_int_equal(strlen(buf), 7);
    assert_string_equal(buf + 4, "...");
}

static void util__replace_all_rewrites_every_occurrence(void **st)
{
    (void)st;
    char buf[64] = "load /tmp/x/d/vm: /tmp/x/d/vm.g1.mem bad";
    str_replace_all(buf, sizeof buf, "/tmp/x", "<case>");
    assert_string_equal(buf, "load <case>/d/vm: <case>/d/vm.g1.mem bad");
    char small[16] = "aXbXc";
    str_replace_all(small, sizeof small, "X", "0123456789");
    assert_int_equal(strlen(small), 15); /* truncated, still terminated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(census__parses_a_trace_line),
        cmocka_unit_test(census__rejects_bad_ordinals),
        cmocka_unit_test(census__reads_calls_in_order_and_rejects_gaps),
        cmocka_unit_test(census__sorts_out_of_order_thread_lines),
        cmocka_unit_test(census__reads_a_census_of_150000_calls),
        cmocka_unit_test(census__run_reduction_keeps_ends_and_middle),
        cmocka_unit_test(census__diverges_names_the_first_other_call),
        cmocka_unit_test(census__smoke_tier_has_one_errno_half_short_and_both_crashes),
        cmocka_unit_test(census__full_tier_has_every_errno_of_the_model),
        cmocka_unit_test(census__kinds_of_actions),
        cmocka_unit_test(sample__order_is_stratified_and_deterministic),
        cmocka_unit_test(oracle__save_verdict_matrix),
        cmocka_unit_test(oracle__load_verdicts),
        cmocka_unit_test(oracle__classify_tells_prior_new_and_mixes),
        cmocka_unit_test(dirimage__detects_any_change),
        cmocka_unit_test(util__str_append_truncates_visibly),
        cmocka_unit_test(util__replace_all_rewrites_every_occurrence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
