/* Stratified sampling of the case list (see sample.h). */
#include "sample.h"
#include "oracle.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static bool same_stratum(const struct sc_case *a, const struct sc_case *b)
{
    return a->scenario == b->scenario && a->kind == b->kind && !strcmp(a->call, b->call);
}

/* stratum[i]: the stratum number of case i, in order of first appearance. @return count. */
static unsigned strata_of(unsigned *stratum, const struct sc_case *cases, unsigned n)
{
    unsigned n_strata = 0;
    unsigned *first = xcalloc(n ? n : 1, sizeof *first); /* a representative case per stratum */
    for (unsigned i = 0; i < n; i++) {
        unsigned s = 0;
        while (s < n_strata && !same_stratum(&cases[first[s]], &cases[i]))
            s++;
        if (s == n_strata)
            first[n_strata++] = i;
        stratum[i] = s;
    }
    free(first);
    return n_strata;
}

unsigned sample_strata(const struct sc_case *cases, unsigned n)
{
    unsigned *stratum = xcalloc(n ? n : 1, sizeof *stratum);
    unsigned k = strata_of(stratum, cases, n);
    free(stratum);
    return k;
}

static unsigned bit_reverse(unsigned v, unsigned bits)
{
    unsigned r = 0;
    for (unsigned i = 0; i < bits; i++, v >>= 1)
        r = (r << 1) | (v & 1);
    return r;
}

struct stratum_key {
    unsigned s;        /* the stratum */
    unsigned scenario; /* rank of its scenario (first appearance) */
    unsigned rank;     /* rank inside its scenario */
};

static int by_rank(const void *a, const void *b)
{
    const struct stratum_key *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->scenario != y->scenario)
        return x->scenario < y->scenario ? -1 : 1;
    return x->s < y->s ? -1 : x->s > y->s;
}

/* The order in which strata are visited, so that a budget smaller than the number of strata
 * still spreads: scenarios take turns, and inside a scenario the strata go diagonally over
 * (call in order of appearance, fault kind): call 1 errno, call 2 errno, call 1 short, call 3
 * errno, call 2 short, call 1 crash-before, ... (key: call index + kind, then call index). */
static void stratum_order(unsigned *sorder, const struct sc_case *cases, const unsigned *members,
                          const unsigned *start, unsigned k)
{
    struct stratum_key *key = xcalloc(k + 1, sizeof *key);
    unsigned *scen_seen = xcalloc(k + 1, sizeof *scen_seen), n_scen = 0;
    const char **calls = xcalloc(k + 1, sizeof *calls);
    unsigned *call_scen = xcalloc(k + 1, sizeof *call_scen), n_calls = 0;
    unsigned *diag = xcalloc(k + 1, sizeof *diag), *callno = xcalloc(k + 1, sizeof *callno);
    for (unsigned s = 0; s < k; s++) { /* strata are numbered in order of first appearance */
        const struct sc_case *c = &cases[members[start[s]]];
        unsigned sc = 0;
        while (sc < n_scen && scen_seen[sc] != c->scenario)
            sc++;
        if (sc == n_scen)
            scen_seen[n_scen++] = c->scenario;
        unsigned ci = 0, idx = 0; /* the call's index among its scenario's calls */
        while (ci < n_calls && !(call_scen[ci] == c->scenario && !strcmp(calls[ci], c->call))) {
            idx += call_scen[ci] == c->scenario;
            ci++;
        }
        if (ci == n_calls) {
            calls[n_calls] = c->call;
            call_scen[n_calls++] = c->scenario;
        }
        key[s].s = s;
        key[s].scenario = sc;
        diag[s] = idx + (unsigned)c->kind;
        callno[s] = idx;
    }
    /* rank inside the scenario: by (diag, call index) */
    for (unsigned s = 0; s < k; s++) {
        unsigned r = 0;
        for (unsigned t = 0; t < k; t++)
            if (key[t].scenario == key[s].scenario &&
                (diag[t] < diag[s] || (diag[t] == diag[s] && callno[t] < callno[s]) ||
                 (diag[t] == diag[s] && callno[t] == callno[s] && t < s)))
                r++;
        key[s].rank = r;
    }
    qsort(key, k, sizeof *key, by_rank);
    for (unsigned j = 0; j < k; j++)
        sorder[j] = key[j].s;
    free(key);
    free(scen_seen);
    free(calls);
    free(call_scen);
    free(diag);
    free(callno);
}

void sample_order(unsigned *order, const struct sc_case *cases, unsigned n)
{
    unsigned *stratum = xcalloc(n ? n : 1, sizeof *stratum);
    unsigned k = strata_of(stratum, cases, n);
    /* members[start[s] .. start[s+1]) are the cases of stratum s in list order */
    unsigned *start = xcalloc(k + 1, sizeof *start), *fill = xcalloc(k + 1, sizeof *fill);
    unsigned *members = xcalloc(n ? n : 1, sizeof *members);
    for (unsigned i = 0; i < n; i++)
        start[stratum[i] + 1]++;
    for (unsigned s = 0; s < k; s++)
        start[s + 1] += start[s];
    for (unsigned i = 0; i < n; i++)
        members[start[stratum[i]] + fill[stratum[i]]++] = i;
    /* each stratum's members in bit-reversed order: spread over its ordinals */
    unsigned *spread = xcalloc(n ? n : 1, sizeof *spread);
    for (unsigned s = 0; s < k; s++) {
        unsigned m = start[s + 1] - start[s], bits = 0, out = 0;
        while ((1ull << bits) < m)
            bits++;
        for (unsigned long long v = 0; v < (1ull << bits); v++) {
            unsigned idx = bit_reverse((unsigned)v, bits);
            if (idx < m)
                spread[start[s] + out++] = members[start[s] + idx];
        }
    }
    /* round robin over the strata, in the order of stratum_order */
    unsigned *sorder = xcalloc(k + 1, sizeof *sorder);
    stratum_order(sorder, cases, members, start, k);
    unsigned out = 0;
    for (unsigned round = 0; out < n; round++)
        for (unsigned j = 0; j < k; j++) {
            unsigned s = sorder[j];
            if (round < start[s + 1] - start[s])
                order[out++] = spread[start[s] + round];
        }
    free(sorder);
    free(stratum);
    free(start);
    free(fill);
    free(members);
    free(spread);
}

static int by_seq(const void *a, const void *b)
{
    const struct sc_case *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

unsigned sample_apply(struct campaign *c, double now)
{
    c->n_enumerated = c->n_cases;
    for (unsigned i = 0; i < c->n_cases; i++)
        c->cases[i].seq = i;
    bool cut = c->opt.max_cases && c->opt.max_cases < c->n_cases;
    if (!cut && c->opt.time_budget <= 0)
        return 0;
    unsigned strata = sample_strata(c->cases, c->n_cases);
    unsigned *order = xcalloc(c->n_cases ? c->n_cases : 1, sizeof *order);
    sample_order(order, c->cases, c->n_cases);
    unsigned keep = cut ? c->opt.max_cases : c->n_cases;
    struct sc_case *sampled = xcalloc(keep ? keep : 1, sizeof *sampled);
    for (unsigned i = 0; i < keep; i++)
        sampled[i] = c->cases[order[i]];
    free(order);
    if (c->opt.time_budget <= 0) /* a fixed sample: report it in list order */
        qsort(sampled, keep, sizeof *sampled, by_seq);
    else
        c->deadline = now + c->opt.time_budget;
    free(c->cases);
    c->cases = sampled;
    c->n_cases = keep;
    return strata;
}

struct seq_idx {
    unsigned seq, i;
};

static int by_seq_idx(const void *a, const void *b)
{
    const struct seq_idx *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void sample_finish(struct campaign *c)
{
    if (c->deadline <= 0)
        return;
    /* keep the cases that ran, then both arrays back in list order */
    unsigned kept = 0;
    for (unsigned i = 0; i < c->n_cases; i++)
        if (!c->results[i].done)
            case_result_finish(&c->results[i]);
    for (unsigned i = 0; i < c->n_cases; i++)
        if (c->results[i].done) {
            c->cases[kept] = c->cases[i];
            c->results[kept] = c->results[i];
            kept++;
        }
    for (unsigned i = kept; i < c->n_cases; i++)
        memset(&c->results[i], 0, sizeof c->results[i]);
    c->n_cases = kept;
    struct seq_idx *idx = xcalloc(kept ? kept : 1, sizeof *idx);
    for (unsigned i = 0; i < kept; i++) {
        idx[i].seq = c->cases[i].seq;
        idx[i].i = i;
    }
    qsort(idx, kept, sizeof *idx, by_seq_idx);
    struct sc_case *cases = c->cases;
    struct sc_case *sc = xcalloc(kept ? kept : 1, sizeof *sc);
    struct case_result *sr = xcalloc(kept ? kept : 1, sizeof *sr);
    for (unsigned i = 0; i < kept; i++) {
        sc[i] = cases[idx[i].i];
        sr[i] = c->results[idx[i].i];
    }
    memcpy(c->cases, sc, kept * sizeof *sc);
    memcpy(c->results, sr, kept * sizeof *sr);
    free(sc);
    free(sr);
    free(idx);
}
