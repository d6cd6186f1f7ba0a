/* libbadload-adapter.so: badload (the known-bad loaders, badload.c, included here unchanged) as
 * an adapter library of <snapcheck/adapter.h>, for `snapcheck fuzz --lib`:
 * `--lib 'libbadload-adapter.so --bug NAME'` picks the bug. Each operation is handed to
 * badload's own command-line entry point with the paths of the request, so both builds run
 * exactly the same code; failures are not printed (the fuzzer loads thousands of pairs). */
#define main badload_main
#include "badload.c"
#undef main

#include <snapcheck/adapter.h>

#include "adapter_words.h"

static char bug_arg[32] = "none";

uint32_t snapcheck_adapter_abi(void)
{
    return SNAPCHECK_ADAPTER_ABI_VERSION;
}

int snapcheck_adapter_init(int argc, const char *const *argv, char *msg, size_t msg_cap)
{
    quiet = true;
    if (argc == 0)
        return SNAPCHECK_ADAPTER_OK;
    if (argc != 2 || strcmp(argv[0], "--bug") != 0) {
        snprintf(msg, msg_cap, "give --lib 'libbadload-adapter.so --bug NAME'");
        return SNAPCHECK_ADAPTER_USAGE;
    }
    for (size_t b = 0; b < sizeof bug_names / sizeof bug_names[0]; b++)
        if (strcmp(argv[1], bug_names[b]) == 0) {
            snprintf(bug_arg, sizeof bug_arg, "%s", argv[1]);
            return SNAPCHECK_ADAPTER_OK;
        }
    snprintf(msg, msg_cap, "unknown bug '%s'", argv[1]);
    return SNAPCHECK_ADAPTER_USAGE;
}

int snapcheck_adapter_capabilities(uint32_t *out_caps, char *msg, size_t msg_cap)
{
    (void)msg;
    (void)msg_cap;
    *out_caps = SNAPCHECK_CAP_SAVE_FULL | SNAPCHECK_CAP_SAVE_DIFF | SNAPCHECK_CAP_LOAD;
    return SNAPCHECK_ADAPTER_OK;
}

/* Run badload's entry point on the operation's words. */
static int run(const char **words, int n, char *msg, size_t msg_cap)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "badload";
    argv[argc++] = "--bug";
    argv[argc++] = bug_arg;
    for (int i = 0; i < n && argc < 31; i++)
        argv[argc++] = (char *)words[i];
    argv[argc] = NULL;
    int rc = badload_main(argc, argv);
    if (rc != 0)
        snprintf(msg, msg_cap, "badload --bug %s %s failed (exit %d)", bug_arg, words[0], rc);
    return rc == 0 ? SNAPCHECK_ADAPTER_OK
                   : rc == 2 ? SNAPCHECK_ADAPTER_USAGE : SNAPCHECK_ADAPTER_FAILED;
}

int snapcheck_adapter_save(const struct snapcheck_save_req *req, char *msg, size_t msg_cap)
{
    const char *w[ADAPTER_WORDS_MAX];
    char page[16];
    return run(w, adapter_save_words(w, req, page), msg, msg_cap);
}

int snapcheck_adapter_load(const struct snapcheck_load_req *req, char *msg, size_t msg_cap)
{
    const char *w[ADAPTER_WORDS_MAX];
    return run(w, adapter_load_words(w, req), msg, msg_cap);
}
