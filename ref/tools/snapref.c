/* snapref: the command-line tool of libsnapref and the reference adapter that the snapcheck
 * harness drives (docs/ADAPTER.md). This file dispatches subcommands; each lives in cmd_*.c.
 * Exit status of every subcommand: 0 ok, 1 operation failed or invalid snapshot, 2 usage. */
#include <stdio.h>
#include <string.h>

#include "cli-priv.h"

#ifndef SNAPREF_VERSION
#define SNAPREF_VERSION "unknown"
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int cmd_capabilities(int argc, char **argv)
{
    static const struct cli_cmd cmd = {
        "capabilities",
        "",
        "Print the operations this implementation supports, on one line.",
        0,
    };
    const char *pos[1];
    size_t npos;
    int rc = cli_parse(&cmd, NULL, 0, argc, argv, pos, &npos);
    if (rc != 0)
        return rc < 0 ? CLI_OK : rc;
    printf("save-full save-diff load merge\n");
    return CLI_OK;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"capabilities", cmd_capabilities, "print the supported operations"},
    {"save", cmd_save, "save a full or diff snapshot pair (commit protocol)"},
    {"load", cmd_load, "load a pair: write its state and full memory image"},
    {"merge", cmd_merge, "fold a diff and its base chain into a full pair"},
    {"verify", cmd_verify, "check a pair and every page; name the first bad page"},
    {"describe", cmd_describe, "print the header and state of a .snap file (text or --json)"},
    {"gen", cmd_gen, "write deterministic synthetic state, memory and dirty bitmap"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: snapref [--protocol reference] <command> [options]\n"
               "       snapref --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < COUNT(commands); i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n'snapref <command> --help' describes a command. Exit status: 0 ok, 1 operation "
            "failed\nor invalid snapshot, 2 usage error. CRC64: %s.\n",
            snap_crc64_impl());
}

int main(int argc, char **argv)
{
    int i = 1;
    /* A leading --protocol applies to the command that follows. */
    if (i < argc && strncmp(argv[i], "--protocol", 10) == 0) {
        const char *v = NULL;
        if (argv[i][10] == '=')
            v = argv[i] + 11;
        else if (argv[i][10] == '\0' && i + 1 < argc)
            v = argv[++i];
        if (!v || strcmp(v, "reference") != 0) {
            fprintf(stderr,
                    "snapref: unknown protocol '%s' (the only protocol is "
                    "'reference')\n",
                    v ? v : "");
            return CLI_USAGE;
        }
        i++;
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
        strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[i], "--version") == 0) {
        printf("snapref %s (format %u.%u, CRC64 %s)\n", SNAPREF_VERSION, SNAP_VERSION_MAJOR,
               SNAP_VERSION_MINOR, snap_crc64_impl());
        return CLI_OK;
    }
    for (size_t c = 0; c < COUNT(commands); c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].run(argc - i, argv + i);
    fprintf(stderr, "snapref: unknown command '%s'\nTry 'snapref --help'.\n", argv[i]);
    return CLI_USAGE;
}
