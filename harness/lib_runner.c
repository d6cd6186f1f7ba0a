/* snapcheck-lib-runner: makes an adapter library of <snapcheck/adapter.h> an adapter of the
 * exec contract (docs/ADAPTER.md). `snapcheck-lib-runner LIB [WORD...] -- OP [--name value]...`
 * performs one operation, exactly as an adapter executable would; OP `serve` is the fork server
 * of section 9, which `snapcheck faults --lib` uses: loaded once under the interposer, each
 * operation runs in a forked child that re-reads the fault settings (snapfault_reconfigure).
 * The input files of a save are mapped once in the server and shared with every child. */
#define _GNU_SOURCE 1

#include <snapcheck/adapter.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_SETUP 99 /* the interposer is missing where the request needs it */

struct lib {
    const char *path;
    uint32_t (*abi)(void);
    int (*capabilities)(uint32_t *, char *, size_t);
    int (*save)(const struct snapcheck_save_req *, char *, size_t);
    int (*load)(const struct snapcheck_load_req *, char *, size_t);
    int (*merge)(const struct snapcheck_merge_req *, char *, size_t);
    int (*init)(int, const char *const *, char *, size_t);
};

static struct lib lib;

static void *sym(void *h, const char *name, int required)
{
    void *p = dlsym(h, name);
    if (!p && required) {
        fprintf(stderr, "snapcheck-lib-runner: %s does not export %s (snapcheck/adapter.h)\n",
                lib.path, name);
        exit(EXIT_USAGE);
    }
    return p;
}

static void lib_open(const char *path, int argc, const char *const *argv)
{
    lib.path = path;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "snapcheck-lib-runner: cannot load %s: %s\n", path, dlerror());
        exit(EXIT_USAGE);
    }
    /* Function pointers from void *: POSIX allows it; memcpy keeps ISO C quiet. */
    void *p;
    p = sym(h, "snapcheck_adapter_abi", 1);
    memcpy(&lib.abi, &p, sizeof p);
    p = sym(h, "snapcheck_adapter_capabilities", 1);
    memcpy(&lib.capabilities, &p, sizeof p);
    p = sym(h, "snapcheck_adapter_save", 1);
    memcpy(&lib.save, &p, sizeof p);
    p = sym(h, "snapcheck_adapter_load", 1);
    memcpy(&lib.load, &p, sizeof p);
    p = sym(h, "snapcheck_adapter_merge", 0);
    memcpy(&lib.merge, &p, sizeof p);
    p = sym(h, "snapcheck_adapter_init", 0);
    memcpy(&lib.init, &p, sizeof p);
    uint32_t v = lib.abi();
    if (v != SNAPCHECK_ADAPTER_ABI_VERSION) {
        fprintf(stderr, "snapcheck-lib-runner: %s implements ABI version %u; this runner speaks %u\n",
                path, v, SNAPCHECK_ADAPTER_ABI_VERSION);
        exit(EXIT_USAGE);
    }
    if (lib.init) {
        char msg[1024] = "";
        int rc = lib.init(argc, argv, msg, sizeof msg);
        if (rc != SNAPCHECK_ADAPTER_OK) {
            fprintf(stderr, "snapcheck-lib-runner: %s init: %s\n", path,
                    msg[0] ? msg : "failed");
            exit(rc == SNAPCHECK_ADAPTER_USAGE ? EXIT_USAGE : EXIT_FAIL);
        }
    } else if (argc > 0) {
        fprintf(stderr, "snapcheck-lib-runner: %s takes no arguments (no snapcheck_adapter_init)\n",
                path);
        exit(EXIT_USAGE);
    }
}

/* --- input files, mapped once --- */

struct mapped {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    const uint8_t *data;
};

static struct mapped maps[16];
static unsigned n_maps;

/* The bytes of file path (read-only, shared). @return 0, or -1 with errno. */
static int map_file(const uint8_t **out, uint64_t *out_len, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    for (unsigned i = 0; i < n_maps; i++) {
        struct mapped *m = &maps[i];
        if (!strcmp(m->path, path) && m->dev == st.st_dev && m->ino == st.st_ino &&
            m->size == st.st_size && m->mtime.tv_sec == st.st_mtim.tv_sec &&
            m->mtime.tv_nsec == st.st_mtim.tv_nsec) {
            *out = m->data;
            *out_len = (uint64_t)m->size;
            return 0;
        }
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    const uint8_t *data = (const uint8_t *)"";
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        data = p;
    }
    close(fd);
    if (n_maps < sizeof maps / sizeof maps[0]) {
        struct mapped *m = &maps[n_maps++];
        m->path = strdup(path);
        m->dev = st.st_dev;
        m->ino = st.st_ino;
        m->size = st.st_size;
        m->mtime = st.st_mtim;
        m->data = data;
        if (!m->path)
            n_maps--;
    }
    *out = data;
    *out_len = (uint64_t)st.st_size;
    return 0;
}

/* --- one operation --- */

struct opts {
    const char *dir, *id, *kind, *base, *state, *memory, *dirty, *page_size, *state_out,
        *memory_out;
};

static int parse_opts(struct opts *o, int argc, char **argv)
{
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        {"--dir", offsetof(struct opts, dir)},
        {"--id", offsetof(struct opts, id)},
        {"--kind", offsetof(struct opts, kind)},
        {"--base", offsetof(struct opts, base)},
        {"--state", offsetof(struct opts, state)},
        {"--memory", offsetof(struct opts, memory)},
        {"--dirty", offsetof(struct opts, dirty)},
        {"--page-size", offsetof(struct opts, page_size)},
        {"--state-out", offsetof(struct opts, state_out)},
        {"--memory-out", offsetof(struct opts, memory_out)},
    };
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i += 2) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(argv[i], known[k].name) != 0)
            k++;
        if (k == sizeof known / sizeof known[0] || i + 1 >= argc) {
            fprintf(stderr, "snapcheck-lib-runner: %s: unknown option or missing value\n",
                    argv[i]);
            return -1;
        }
        memcpy((char *)o + known[k].off, &argv[i + 1], sizeof(char *));
    }
    return 0;
}

static int failed(const char *op, const char *id, int rc, const char *msg)
{
    fprintf(stderr, "%s: %s %s: %s\n", lib.path, op, id ? id : "", msg[0] ? msg : "failed");
    return rc == SNAPCHECK_ADAPTER_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

static int input(const uint8_t **out, uint64_t *out_len, const char *what, const char *path)
{
    if (map_file(out, out_len, path) != 0) {
        fprintf(stderr, "snapcheck-lib-runner: save: %s %s: %s\n", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

static int op_save(const struct opts *o)
{
    if (!o->dir || !o->id || !o->kind || !o->state || !o->memory || !o->page_size) {
        fprintf(stderr, "snapcheck-lib-runner: save needs --dir --id --kind --state --memory "
                        "--page-size\n");
        return EXIT_USAGE;
    }
    struct snapcheck_save_req rq;
    memset(&rq, 0, sizeof rq);
    rq.struct_size = (uint32_t)sizeof rq;
    if (!strcmp(o->kind, "full") && !o->base && !o->dirty) {
        rq.kind = SNAPCHECK_KIND_FULL;
    } else if (!strcmp(o->kind, "diff") && o->base && o->dirty) {
        rq.kind = SNAPCHECK_KIND_DIFF;
    } else {
        fprintf(stderr, "snapcheck-lib-runner: --kind must be full, or diff with --base and "
                        "--dirty\n");
        return EXIT_USAGE;
    }
    char *end;
    errno = 0;
    unsigned long ps = strtoul(o->page_size, &end, 10);
    if (errno || *end || o->page_size[0] < '0' || o->page_size[0] > '9' || ps == 0 ||
        ps > (1ul << 30)) { /* digits only: strtoul would take " +4096" */
        fprintf(stderr, "snapcheck-lib-runner: --page-size %s: not a page size\n", o->page_size);
        return EXIT_USAGE;
    }
    rq.page_size = (uint32_t)ps;
    rq.dir = o->dir;
    rq.id = o->id;
    rq.base_id = o->base;
    rq.state_path = o->state;
    rq.memory_path = o->memory;
    rq.dirty_path = o->dirty;
    if (input(&rq.state, &rq.state_len, "--state", o->state) != 0 ||
        input(&rq.memory, &rq.memory_len, "--memory", o->memory) != 0 ||
        (o->dirty && input(&rq.dirty, &rq.dirty_len, "--dirty", o->dirty) != 0))
        return EXIT_FAIL;
    char msg[1024] = "";
    int rc = lib.save(&rq, msg, sizeof msg);
    return rc == SNAPCHECK_ADAPTER_OK ? 0 : failed("save", o->id, rc, msg);
}

static int op_load(const struct opts *o)
{
    if (!o->dir || !o->id || !o->state_out || !o->memory_out) {
        fprintf(stderr, "snapcheck-lib-runner: load needs --dir --id --state-out --memory-out\n");
        return EXIT_USAGE;
    }
    struct snapcheck_load_req rq;
    memset(&rq, 0, sizeof rq);
    rq.struct_size = (uint32_t)sizeof rq;
    rq.dir = o->dir;
    rq.id = o->id;
    rq.state_out = o->state_out;
    rq.memory_out = o->memory_out;
    char msg[1024] = "";
    int rc = lib.load(&rq, msg, sizeof msg);
    return rc == SNAPCHECK_ADAPTER_OK ? 0 : failed("load", o->id, rc, msg);
}

static int op_merge(const struct opts *o)
{
    if (!lib.merge) {
        fprintf(stderr, "snapcheck-lib-runner: merge: unsupported operation (%s exports no "
                        "snapcheck_adapter_merge)\n",
                lib.path);
        return EXIT_USAGE;
    }
    if (!o->dir || !o->id) {
        fprintf(stderr, "snapcheck-lib-runner: merge needs --dir --id\n");
        return EXIT_USAGE;
    }
    struct snapcheck_merge_req rq;
    memset(&rq, 0, sizeof rq);
    rq.struct_size = (uint32_t)sizeof rq;
    rq.dir = o->dir;
    rq.id = o->id;
    char msg[1024] = "";
    int rc = lib.merge(&rq, msg, sizeof msg);
    return rc == SNAPCHECK_ADAPTER_OK ? 0 : failed("merge", o->id, rc, msg);
}

static int op_capabilities(void)
{
    uint32_t caps = 0;
    char msg[1024] = "";
    int rc = lib.capabilities(&caps, msg, sizeof msg);
    if (rc != SNAPCHECK_ADAPTER_OK)
        return failed("capabilities", NULL, rc, msg);
    static const struct {
        uint32_t bit;
        const char *word;
    } words[] = {{SNAPCHECK_CAP_SAVE_FULL, "save-full"},
                 {SNAPCHECK_CAP_SAVE_DIFF, "save-diff"},
                 {SNAPCHECK_CAP_LOAD, "load"},
                 {SNAPCHECK_CAP_MERGE, "merge"}};
    const char *sep = "";
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (caps & words[i].bit) {
            printf("%s%s", sep, words[i].word);
            sep = " ";
        }
    printf("%sserve\n", sep);
    return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}

static int run_op(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "snapcheck-lib-runner: no operation\n");
        return EXIT_USAGE;
    }
    const char *op = argv[0];
    if (!strcmp(op, "capabilities"))
        return op_capabilities();
    struct opts o;
    if (parse_opts(&o, argc - 1, argv + 1) != 0)
        return EXIT_USAGE;
    if (!strcmp(op, "save"))
        return op_save(&o);
    if (!strcmp(op, "load"))
        return op_load(&o);
    if (!strcmp(op, "merge"))
        return op_merge(&o);
    fprintf(stderr, "snapcheck-lib-runner: %s: unsupported operation\n", op);
    return EXIT_USAGE;
}

/* --- the fork server (docs/ADAPTER.md 9) --- */

static const char *const fault_vars[] = {"SNAPFAULT_DIR", "SNAPFAULT_TRACE", "SNAPFAULT_CASE",
                                         "SNAPFAULT_CRASH_AT", "SNAPFAULT_TRACE_DATA"};

static int redirect(int fd, const char *path)
{
    int o = open(strcmp(path, "-") ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                 0644);
    if (o < 0)
        return -1;
    int rc = dup2(o, fd) < 0 ? -1 : 0;
    close(o);
    return rc;
}

static _Noreturn void child(char **fields, int n)
{
    if (redirect(1, fields[0]) != 0 || redirect(2, fields[1]) != 0)
        _exit(EXIT_FAIL);
    for (size_t i = 0; i < sizeof fault_vars / sizeof fault_vars[0]; i++)
        unsetenv(fault_vars[i]);
    int k = 2;
    bool faults = false;
    for (; k < n && strcmp(fields[k], "--") != 0; k++) {
        char *eq = strchr(fields[k], '=');
        if (!eq) {
            fprintf(stderr, "snapcheck-lib-runner: serve: bad setting '%s'\n", fields[k]);
            _exit(EXIT_USAGE);
        }
        *eq = 0;
        setenv(fields[k], eq + 1, 1);
        faults |= !strncmp(fields[k], "SNAPFAULT_", 10);
    }
    void *p = dlsym(RTLD_DEFAULT, "snapfault_reconfigure");
    int (*reconfigure)(void);
    memcpy(&reconfigure, &p, sizeof p);
    if (reconfigure) {
        reconfigure();
    } else if (faults) {
        fprintf(stderr, "snapcheck-lib-runner: serve: SNAPFAULT_* settings given but "
                        "libsnapfault.so is not preloaded\n");
        _exit(EXIT_SETUP);
    }
    int rc = run_op(n - k - 1, fields + k + 1);
    fflush(stdout);
    _exit(rc);
}

static int serve(void)
{
    printf("snapcheck-serve 1\n");
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = 0;
        char *fields[128];
        int n = 0;
        for (char *p = line; n < 128;) {
            fields[n++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = 0;
            p = tab + 1;
        }
        int dd = 2;
        while (dd < n && strcmp(fields[dd], "--") != 0)
            dd++;
        if (n < 4 || dd >= n - 1) {
            fprintf(stderr, "snapcheck-lib-runner: serve: malformed request\n");
            return EXIT_USAGE;
        }
        /* Map a save's inputs here, once, so every child shares them (while the cache has
         * room: an uncached mapping would stay in the server for nothing). */
        for (int i = dd + 2; i + 1 < n && n_maps < sizeof maps / sizeof maps[0]; i += 2)
            if (!strcmp(fields[i], "--state") || !strcmp(fields[i], "--memory") ||
                !strcmp(fields[i], "--dirty")) {
                const uint8_t *d;
                uint64_t l;
                (void)map_file(&d, &l, fields[i + 1]);
            }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "snapcheck-lib-runner: serve: fork: %s\n", strerror(errno));
            return EXIT_FAIL;
        }
        if (pid == 0)
            child(fields, n);
        int status;
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR) {
                fprintf(stderr, "snapcheck-lib-runner: serve: waitpid: %s\n", strerror(errno));
                return EXIT_FAIL;
            }
        if (WIFSIGNALED(status))
            printf("signal %d\n", WTERMSIG(status));
        else
            printf("exit %d\n", WEXITSTATUS(status));
        if (fflush(stdout) != 0)
            return EXIT_FAIL;
    }
    free(line);
    return 0;
}

int main(int argc, char **argv)
{
    int dd = 2;
    while (dd < argc && strcmp(argv[dd], "--") != 0)
        dd++;
    if (argc < 4 || dd >= argc - 1) {
        fprintf(stderr, "usage: snapcheck-lib-runner LIB [WORD...] -- OPERATION [--name value]...\n"
                        "  runs one operation of the adapter contract (docs/ADAPTER.md) with the\n"
                        "  adapter library LIB (snapcheck/adapter.h); OPERATION serve is the fork\n"
                        "  server of snapcheck faults --lib\n");
        return EXIT_USAGE;
    }
    /* Buffers of 1 MiB and more (images) are mappings of their own in each forked child,
     * not heap pages it shares copy-on-write with this process (as in snapcheck's main). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    signal(SIGPIPE, SIG_DFL);
    lib_open(argv[1], dd - 2, (const char *const *)argv + 2);
    if (!strcmp(argv[dd + 1], "serve"))
        return serve();
    return run_op(argc - dd - 1, argv + dd + 1);
}
