/* The command-line words of the exec contract (docs/ADAPTER.md 2) for a request of the C ABI:
 * the library forms of the test adapters (snapbad_lib.c, badload_lib.c) hand each request to
 * their executable's own entry point with these words, so both forms run the same code. */
#ifndef TESTS_ADAPTER_WORDS_H
#define TESTS_ADAPTER_WORDS_H

#include <stdio.h>

#include <snapcheck/adapter.h>

enum { ADAPTER_WORDS_MAX = 20 };

/* w[...] := "save --dir D --id ID --kind K --state S --memory M --page-size N [--base B
 * --dirty BM]"; page: the caller's buffer for N. @return the number of words. */
static inline int adapter_save_words(const char *w[ADAPTER_WORDS_MAX],
                                     const struct snapcheck_save_req *req, char page[16])
{
    int n = 0;
    snprintf(page, 16, "%u", (unsigned)req->page_size);
    w[n++] = "save";
    w[n++] = "--dir";
    w[n++] = req->dir;
    w[n++] = "--id";
    w[n++] = req->id;
    w[n++] = "--kind";
    w[n++] = req->kind == SNAPCHECK_KIND_DIFF ? "diff" : "full";
    w[n++] = "--state";
    w[n++] = req->state_path;
    w[n++] = "--memory";
    w[n++] = req->memory_path;
    w[n++] = "--page-size";
    w[n++] = page;
    if (req->kind == SNAPCHECK_KIND_DIFF) {
        w[n++] = "--base";
        w[n++] = req->base_id;
        w[n++] = "--dirty";
        w[n++] = req->dirty_path;
    }
    return n;
}

/* w[...] := "load --dir D --id ID --state-out SO --memory-out MO". @return 9. */
static inline int adapter_load_words(const char *w[ADAPTER_WORDS_MAX],
                                     const struct snapcheck_load_req *req)
{
    const char *words[] = {"load",  "--dir",       req->dir,       "--id",
                           req->id, "--state-out", req->state_out, "--memory-out",
                           req->memory_out};
    for (int i = 0; i < 9; i++)
        w[i] = words[i];
    return 9;
}

#endif
