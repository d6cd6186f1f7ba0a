/* Fuzz target lib_load: another implementation's loader, linked through the C ABI of
 * <snapcheck/adapter.h> (docs/ADAPTER.md 10). `snapcheck fuzz --lib` runs it; any libFuzzer or
 * AFL++ build of this file works the same way.
 *
 * One input, in the split format of the pair_load target (pair_load.c, memio.h), is written out
 * as the files of a snapshot directory on a real file system (tmpfs when there is one), and the
 * library's snapcheck_adapter_load loads pair "vm" from it. Properties:
 * - no crash and no hang (the engine's own checks: a signal, a sanitizer report, -timeout);
 * - no single allocation out of proportion to the input: more than 1 MiB + 4 x the bytes of the
 *   files written (checked in sanitizer builds, through the allocator's malloc hook of
 *   fuzz-common.h: it sees the library's allocations too);
 * - load returns 0 or 1 (2 means a bad request, and the request is well formed);
 * - reference format (SNAPCHECK_FUZZ_FORMAT unset or "reference"), a differential check: the
 *   library and libsnapref, on the same files, agree on accept or refuse, and on the bytes of
 *   the state and the memory image when both accept.
 * The I/O fault bytes of the split format are read and ignored: the library does real I/O.
 *
 * Environment:
 *   SNAPCHECK_FUZZ_LIB     "PATH [WORD...]": the library, and the words for its
 *                          snapcheck_adapter_init (required)
 *   SNAPCHECK_FUZZ_FORMAT  reference (default) or own: own drops the differential check
 *   SNAPCHECK_FUZZ_TMP     where the work directory goes (default $TMPDIR, else /dev/shm when
 *                          it exists, else /tmp)
 * A set-up error (no library, a missing export, an init that fails) prints a line starting
 * "lib_load: set-up:" and exits 2; a finding prints "lib_load: FINDING: ..." and aborts (after
 * removing the work directory; a crash of the library or a sanitizer report leaves it behind:
 * snapcheck fuzz --lib puts it inside its own work directory, which it removes). */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <snapcheck/adapter.h>

#include "fuzz-common.h"
#include "memio.h"

/* Inputs declaring more guest RAM are skipped, as in pair_load (the image is that large). */
#define LIB_MAX_RAM (16u << 20)
#define LIB_MAX_WORDS 32
#define LIB_MSG_CAP 512


typedef uint32_t (*abi_fn)(void);
typedef int (*caps_fn)(uint32_t *, char *, size_t);
typedef int (*load_fn)(const struct snapcheck_load_req *, char *, size_t);
typedef int (*init_fn)(int, const char *const *, char *, size_t);

static struct {
    bool ready;
    bool differential;
    load_fn load;
    char root[256];      /* the work directory */
    char pair_dir[300];  /* root/pair: the input's files */
    char state_out[300]; /* root/out.state */
    char memory_out[300];
} g;

static void setup_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lib_load: set-up: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void remove_work(void);

/* Report and abort (the engine saves the input); the work directory goes first, as abort runs
 * no atexit handler. */
static void finding(const char *fmt, ...)
{
    remove_work();
    va_list ap;
    va_start(ap, fmt);
    fputs("lib_load: FINDING: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}


/* Remove everything below dir (not dir itself); what the library left there too. */
static void clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            clear_dir(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
}

static void remove_work(void)
{
    if (!g.root[0])
        return;
    clear_dir(g.root);
    rmdir(g.root);
}

static void *need_sym(void *h, const char *lib, const char *name, bool required)
{
    dlerror();
    void *p = dlsym(h, name);
    if (!p && required)
        setup_fail("%s does not export %s (docs/ADAPTER.md 10)", lib, name);
    return p;
}

static void setup(void)
{
    const char *spec = getenv("SNAPCHECK_FUZZ_LIB");
    if (!spec || !*spec)
        setup_fail("SNAPCHECK_FUZZ_LIB is not set: give \"PATH [WORD...]\" of an adapter library");
    static char words_buf[4096];
    if (snprintf(words_buf, sizeof words_buf, "%s", spec) >= (int)sizeof words_buf)
        setup_fail("SNAPCHECK_FUZZ_LIB is longer than %zu bytes", sizeof words_buf - 1);
    const char *words[LIB_MAX_WORDS];
    int n = 0;
    for (char *save = NULL, *w = strtok_r(words_buf, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        if (n == LIB_MAX_WORDS)
            setup_fail("SNAPCHECK_FUZZ_LIB has more than %d words", LIB_MAX_WORDS);
        words[n++] = w;
    }
    if (n == 0)
        setup_fail("SNAPCHECK_FUZZ_LIB names no library");
    void *h = dlopen(words[0], RTLD_NOW | RTLD_LOCAL);
    if (!h)
        setup_fail("cannot load %s: %s", words[0], dlerror());
    /* Function pointers from void *: POSIX allows it; memcpy keeps ISO C quiet. */
    abi_fn abi;
    caps_fn caps;
    init_fn init;
    void *p = need_sym(h, words[0], "snapcheck_adapter_abi", true);
    memcpy(&abi, &p, sizeof p);
    p = need_sym(h, words[0], "snapcheck_adapter_capabilities", true);
    memcpy(&caps, &p, sizeof p);
    p = need_sym(h, words[0], "snapcheck_adapter_load", true);
    memcpy(&g.load, &p, sizeof p);
    p = need_sym(h, words[0], "snapcheck_adapter_init", false);
    memcpy(&init, &p, sizeof p);
    uint32_t v = abi();
    if (v != SNAPCHECK_ADAPTER_ABI_VERSION)
        setup_fail("%s was built for ABI version %u, this driver speaks %u", words[0], v,
                   SNAPCHECK_ADAPTER_ABI_VERSION);
    char msg[LIB_MSG_CAP] = "";
    if (init) {
        int rc = init(n - 1, words + 1, msg, sizeof msg);
        if (rc != SNAPCHECK_ADAPTER_OK)
            setup_fail("snapcheck_adapter_init of %s returned %d: %s", words[0], rc, msg);
    } else if (n > 1) {
        setup_fail("%s takes no words (it exports no snapcheck_adapter_init)", words[0]);
    }
    uint32_t c = 0;
    int rc = caps(&c, msg, sizeof msg);
    if (rc != SNAPCHECK_ADAPTER_OK)
        setup_fail("snapcheck_adapter_capabilities of %s returned %d: %s", words[0], rc, msg);
    if (!(c & SNAPCHECK_CAP_LOAD))
        setup_fail("%s does not have the load capability", words[0]);

    const char *fmt = getenv("SNAPCHECK_FUZZ_FORMAT");
    if (fmt && strcmp(fmt, "reference") && strcmp(fmt, "own"))
        setup_fail("SNAPCHECK_FUZZ_FORMAT must be reference or own, not '%s'", fmt);
    g.differential = !fmt || !strcmp(fmt, "reference");

    const char *tmp = getenv("SNAPCHECK_FUZZ_TMP");
    struct stat st;
    if (!tmp || !*tmp)
        tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    if (snprintf(g.root, sizeof g.root, "%s/snapcheck-lib-load.XXXXXX", tmp) >= (int)sizeof g.root)
        setup_fail("work directory path under %s is too long", tmp);
    if (!mkdtemp(g.root))
        setup_fail("cannot create a work directory under %s: %s", tmp, strerror(errno));
    atexit(remove_work);
    snprintf(g.pair_dir, sizeof g.pair_dir, "%s/pair", g.root);
    snprintf(g.state_out, sizeof g.state_out, "%s/out.state", g.root);
    snprintf(g.memory_out, sizeof g.memory_out, "%s/out.memory", g.root);
    if (mkdir(g.pair_dir, 0700) != 0)
        setup_fail("cannot create %s: %s", g.pair_dir, strerror(errno));
#ifndef FUZZ_HAVE_ALLOC_HOOKS
    fputs("lib_load: no sanitizer: the allocation check is off in this build\n", stderr);
#endif
    g.ready = true;
}

static bool pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return true;
}

/* Write f under the pair directory: head, a hole for the zero run, tail. @return false when no
 * directory can hold a file of that name ("." or ".."); a write the disk refuses is a set-up
 * error (the work directory gone, a full disk), never a silently skipped input. */
static bool write_file(const struct memio_file *f)
{
    if (!f->name[0] || !strcmp(f->name, ".") || !strcmp(f->name, ".."))
        return false;
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s", g.pair_dir, f->name) >= (int)sizeof p)
        return false;
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        setup_fail("cannot create %s: %s", p, strerror(errno));
    size_t len = memio_file_len(f);
    bool ok = pwrite_all(fd, f->head, f->head_len, 0) &&
              pwrite_all(fd, f->tail, f->tail_len, (off_t)(f->head_len + f->zeros)) &&
              ftruncate(fd, (off_t)len) == 0;
    if (close(fd) != 0 || !ok)
        setup_fail("cannot write %s (%zu bytes): %s", p, len, strerror(errno));
    return true;
}

/* The whole of the file at path, or NULL (len 0) when it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *buf = NULL;
    *len = 0;
    struct snap_diag d;
    snap_diag_clear(&d);
    if (snap_io_read_file(&buf, len, &snap_io_posix, path, (uint64_t)LIB_MAX_RAM * 2, &d) != 0)
        return NULL;
    return buf;
}

static void compare_outputs(const struct snap_image *img)
{
    size_t slen, mlen;
    uint8_t *s = slurp(g.state_out, &slen), *m = slurp(g.memory_out, &mlen);
    if (!s)
        finding("load returned 0 but its state output cannot be read");
    if (!m)
        finding("load returned 0 but its memory output cannot be read");
    if (slen != img->state_len || (slen && memcmp(s, img->state_bytes, slen)))
        finding("load returned a state of %zu bytes that differs from the reference's (%zu bytes)",
                slen, img->state_len);
    if (mlen != img->hdr.ram_size)
        finding("load returned a memory image of %zu bytes, the reference %llu", mlen,
                (unsigned long long)img->hdr.ram_size);
    for (size_t off = 0; off < mlen; off += img->hdr.page_size) {
        size_t n = mlen - off < img->hdr.page_size ? mlen - off : img->hdr.page_size;
        if (memcmp(m + off, img->memory + off, n))
            finding("load returned other bytes than the reference in page %zu of the image",
                    off / img->hdr.page_size);
    }
    free(s);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g.ready)
        setup();
    struct memio m;
    if (!memio_parse_split(&m, data, size, LIB_MAX_RAM)) {
        memio_release(&m);
        return 0;
    }
    clear_dir(g.pair_dir);
    unlink(g.state_out);
    unlink(g.memory_out);
    size_t total = 0;
    for (size_t i = 0; i < m.file_count; i++) {
        if (!write_file(&m.files[i])) {
            memio_release(&m); /* a name no directory can hold: no such pair on a disk */
            return 0;
        }
        total += memio_file_len(&m.files[i]);
    }
    memio_release(&m);

    struct snap_image img;
    struct snap_diag diag;
    snap_diag_clear(&diag);
    int ref = g.differential ? snap_pair_load(&img, &snap_io_posix, g.pair_dir, "vm", &diag) : 0;

    struct snapcheck_load_req req = {
        .struct_size = sizeof req,
        .dir = g.pair_dir,
        .id = "vm",
        .state_out = g.state_out,
        .memory_out = g.memory_out,
    };
    char msg[LIB_MSG_CAP] = "";
    fuzz_alloc_track_begin();
    int rc = g.load(&req, msg, sizeof msg);
    size_t biggest = fuzz_alloc_track_end(), limit = (1u << 20) + 4 * total;
    if (biggest > limit)
        finding("load allocated %zu bytes at once, out of proportion to an input of files "
                "totalling %zu bytes (limit: 1 MiB + 4 x that)",
                biggest, total);
    msg[sizeof msg - 1] = '\0';
    FUZZ_LOG("  library load: %d %s\n", rc, msg);

    if (rc != SNAPCHECK_ADAPTER_OK && rc != SNAPCHECK_ADAPTER_FAILED)
        finding("load returned %d (0: loaded, 1: refused; 2 is for a bad request): %s", rc, msg);
    if (g.differential) {
        /* An out-of-memory or I/O error of the reference decides nothing about the pair. */
        bool decided = ref != SNAP_ENOMEM && ref != SNAP_EIO;
        if (decided && ref == 0 && rc != SNAPCHECK_ADAPTER_OK)
            finding("load refused a pair the reference loads (%s)",
                    msg[0] ? msg : "no message");
        if (decided && ref != 0 && rc == SNAPCHECK_ADAPTER_OK)
            finding("load accepted a pair the reference refuses (%s: %s)", snap_strerror(ref),
                    diag.msg);
        if (ref == 0 && rc == SNAPCHECK_ADAPTER_OK)
            compare_outputs(&img);
        if (ref == 0)
            snap_image_finish(&img);
    }
    return 0;
}
