/* The oracles (see oracle.h). Method: the expected bytes of every pair are known in memory
 * (they are the generated inputs), so a load is judged by exact comparison of its two output
 * files with the prior and the new payload; a mix (state of one, memory of another) is "other". */
#include "oracle.h"
#include "strbuf.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void set_detail(struct case_result *res, const char *oracle, const char *fmt,
                       va_list ap)
{
    res->verdict = V_FINDING;
    snprintf(res->oracle, sizeof res->oracle, "%s", oracle);
    free(res->detail);
    res->detail = xvasprintf(fmt, ap);
}

void oracle_finding(struct case_result *res, const char *oracle, const char *fmt, ...)
{
    if (res->verdict == V_FINDING)
        return;
    va_list ap;
    va_start(ap, fmt);
    set_detail(res, oracle, fmt, ap);
    va_end(ap);
}

void oracle_override(struct case_result *res, const char *oracle, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_detail(res, oracle, fmt, ap);
    va_end(ap);
}

void case_result_finish(struct case_result *res)
{
    free(res->detail);
    free(res->step);
    free(res->load);
    free(res->left);
    free(res->trace);
    res->detail = res->step = res->load = res->left = res->trace = NULL;
}

static bool same(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a && a_len == b_len && memcmp(a, b, a_len) == 0;
}

enum load_match oracle_classify_bytes(const uint8_t *state, size_t state_len, const uint8_t *mem,
                                      size_t mem_len, const struct payload *prior,
                                      const struct payload *expect_new, char *why, size_t why_cap)
{
    bool sp = prior && same(state, state_len, prior->state, prior->state_len);
    bool mp = prior && same(mem, mem_len, prior->mem, prior->mem_len);
    if (sp && mp) {
        snprintf(why, why_cap, "the prior pair (%s)", prior->name);
        return LOAD_PRIOR;
    }
    bool sn = same(state, state_len, expect_new->state, expect_new->state_len);
    bool mn = same(mem, mem_len, expect_new->mem, expect_new->mem_len);
    if (sn && mn) {
        snprintf(why, why_cap, "the new pair (%s)", expect_new->name);
        return LOAD_NEW;
    }
    const char *s = sp ? "prior state" : sn ? "new state" : "a state matching neither";
    const char *m = mp ? "prior memory" : mn ? "new memory" : "memory matching neither";
    snprintf(why, why_cap, "wrong bytes: %s with %s", s, m);
    return LOAD_OTHER;
}

enum load_match oracle_classify(const char *state_out, const char *mem_out,
                                const struct payload *prior, const struct payload *expect_new,
                                char *why, size_t why_cap)
{
    size_t cap = expect_new->mem_len;
    if (prior && prior->mem_len > cap)
        cap = prior->mem_len;
    uint8_t *st = NULL, *mem = NULL;
    size_t st_len = 0, mem_len = 0;
    /* One byte over the largest expected length is enough to tell "longer" from "equal". */
    if (file_read(&st, &st_len, state_out, (size_t)1 << 30) != 0)
        st = NULL;
    if (file_read(&mem, &mem_len, mem_out, cap + 1) != 0)
        mem = NULL;
    enum load_match m =
        oracle_classify_bytes(st, st_len, mem, mem_len, prior, expect_new, why, why_cap);
    free(st);
    free(mem);
    return m;
}

static void judge_pairs(struct case_result *res, const struct impl_result *step,
                        const struct load_outcome *load, bool had_prior, bool same_bytes)
{
    if (load->match == LOAD_BROKEN) {
        oracle_finding(
            res, step->end == IMPL_EXITED && step->code == 0 ? "committed" : "prior-pair",
            "the load after the faulted operation did not end normally (%s)", load->text);
        return;
    }
    if (step->end == IMPL_EXITED && step->code == 0) {
        if (load->match == LOAD_NEW || (same_bytes && load->match == LOAD_PRIOR))
            return;
        oracle_finding(res, "committed",
                       "the operation exited 0 but the new pair does not load: %s", load->text);
        return;
    }
    bool crashed = step->end == IMPL_KILLED;
    switch (load->match) {
    case LOAD_PRIOR:
        return;
    case LOAD_NEW:
        if (!crashed && !same_bytes)
            res->verdict = V_AMBIGUOUS; /* failed after its commit point */
        return;
    case LOAD_NONE:
        if (!had_prior)
            return;
        oracle_finding(res, "prior-pair",
                       "after the %s operation no pair loads although a prior pair existed "
                       "(prior pair lost)",
                       crashed ? "crashed" : "failed");
        return;
    case LOAD_OTHER:
    case LOAD_BROKEN:
        break;
    }
    oracle_finding(res, "prior-pair",
                   "after the %s operation load returned neither the prior nor the new pair "
                   "(%s)",
                   crashed ? "crashed" : "failed", load->text);
}

void oracle_judge_save(struct case_result *res, const struct impl_result *step,
                       const struct load_outcome *load, bool had_prior, bool same_bytes)
{
    res->verdict = V_PASS;
    judge_pairs(res, step, load, had_prior, same_bytes);
    if (step->end == IMPL_SIGNALED)
        oracle_finding(res, "clean-exit",
                       "the faulted operation died of signal %d (%s): an adapter must fail with "
                       "a non-zero exit and a message; only the interposer's SIGKILL is a "
                       "simulated crash",
                       step->code, strsignal(step->code));
    else if (step->end == IMPL_TIMEOUT)
        oracle_finding(res, "clean-exit",
                       "the faulted operation hung and was killed at the time-out");
}

void oracle_judge_load(struct case_result *res, const struct impl_result *step,
                       enum load_match match)
{
    res->verdict = V_PASS;
    switch (step->end) {
    case IMPL_KILLED:
        return;
    case IMPL_EXITED:
        if (step->code == 0) {
            if (match == LOAD_PRIOR)
                return;
            oracle_finding(res, "clean-load",
                           "the faulted load exited 0 with wrong bytes (it must fail instead)");
            return;
        }
        if (step->stderr1[0])
            return;
        oracle_finding(res, "clean-load",
                       "the faulted load failed (exit %d) without a message on stderr", step->code);
        return;
    case IMPL_SIGNALED:
    case IMPL_TIMEOUT:
    case IMPL_SPAWN_FAILED:
        break;
    }
    oracle_finding(res, "clean-load", "the faulted load did not fail cleanly: it %s",
                   step->end == IMPL_TIMEOUT ? "hung and was killed" : "died of a signal");
}
