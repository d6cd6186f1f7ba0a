/* libsnapbad-adapter.so: snapbad (the known-bad adapter, snapbad.c, included here unchanged) as
 * an adapter library of <snapcheck/adapter.h>, so that `snapcheck faults --lib` is shown to flag
 * the same bugs as the exec mode. `--lib 'libsnapbad-adapter.so --protocol NAME'` picks the
 * protocol; each operation is handed to snapbad's own command-line entry point with the file
 * paths of the request, so both builds run exactly the same code. */
#define main snapbad_main
#include "snapbad.c"
#undef main

#include <snapcheck/adapter.h>

#include "adapter_words.h"

#define EXPORT __attribute__((visibility("default")))

static char protocol_arg[64];

EXPORT uint32_t snapcheck_adapter_abi(void)
{
    return SNAPCHECK_ADAPTER_ABI_VERSION;
}

EXPORT int snapcheck_adapter_init(int argc, const char *const *argv, char *msg, size_t msg_cap)
{
    if (argc != 2 || strcmp(argv[0], "--protocol") != 0) {
        snprintf(msg, msg_cap, "give --lib 'libsnapbad-adapter.so --protocol NAME'");
        return SNAPCHECK_ADAPTER_USAGE;
    }
    for (int p = 0; p < P_COUNT; p++)
        if (strcmp(argv[1], protocol_names[p]) == 0) {
            snprintf(protocol_arg, sizeof protocol_arg, "%s", argv[1]);
            return SNAPCHECK_ADAPTER_OK;
        }
    snprintf(msg, msg_cap, "unknown protocol '%s'", argv[1]);
    return SNAPCHECK_ADAPTER_USAGE;
}

EXPORT int snapcheck_adapter_capabilities(uint32_t *out_caps, char *msg, size_t msg_cap)
{
    (void)msg;
    (void)msg_cap;
    *out_caps =
        SNAPCHECK_CAP_SAVE_FULL | SNAPCHECK_CAP_SAVE_DIFF | SNAPCHECK_CAP_LOAD | SNAPCHECK_CAP_MERGE;
    return SNAPCHECK_ADAPTER_OK;
}

/* Run snapbad's entry point on argv (NULL-terminated after the operation's words). snapbad
 * prints its own message on stderr, which is the step's stderr. */
static int run(const char **words, int n, char *msg, size_t msg_cap)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "snapbad";
    argv[argc++] = "--protocol";
    argv[argc++] = protocol_arg;
    for (int i = 0; i < n && argc < 31; i++)
        argv[argc++] = (char *)words[i];
    argv[argc] = NULL;
    int rc = snapbad_main(argc, argv);
    if (rc != 0)
        snprintf(msg, msg_cap, "snapbad --protocol %s %s failed (exit %d)", protocol_arg, words[0],
                 rc);
    return rc == 0 ? SNAPCHECK_ADAPTER_OK
                   : rc == EXIT_USAGE ? SNAPCHECK_ADAPTER_USAGE : SNAPCHECK_ADAPTER_FAILED;
}

EXPORT int snapcheck_adapter_save(const struct snapcheck_save_req *req, char *msg, size_t msg_cap)
{
    const char *w[ADAPTER_WORDS_MAX];
    char page[16];
    return run(w, adapter_save_words(w, req, page), msg, msg_cap);
}

EXPORT int snapcheck_adapter_load(const struct snapcheck_load_req *req, char *msg, size_t msg_cap)
{
    const char *w[ADAPTER_WORDS_MAX];
    return run(w, adapter_load_words(w, req), msg, msg_cap);
}

EXPORT int snapcheck_adapter_merge(const struct snapcheck_merge_req *req, char *msg,
                                   size_t msg_cap)
{
    const char *w[] = {"merge", "--dir", req->dir, "--id", req->id};
    return run(w, 5, msg, msg_cap);
}
