/* The persistence (power-loss) models of snapcheck crash: parse a trace with data
 * (docs/FAULTS.md section 5), and rebuild the directory a power cut at any point of the traced
 * run could leave, under a model (docs/CRASH.md): which operations may be lost at a cut, the
 * state for one choice of lost (or torn) operations, its content digest, and its files
 * written as hard links of the template or of a content-addressed store. */
#ifndef SNAPFAULT_PERSIST_H
#define SNAPFAULT_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pt_model { PT_PREFIX, PT_POSIX, PT_EXT4_ORDERED, PT_MODEL_COUNT };

/* "prefix", "posix", "ext4-ordered". */
const char *pt_model_name(enum pt_model m);
/* @return the model named name, or -1. */
int pt_model_find(const char *name);

enum pt_kind {
    PK_NONE,    /* no effect on the directory (close, read-only open, failed call...) */
    PK_CREATE,  /* a new name for a new, empty file */
    PK_MKDIR,   /* a new subdirectory */
    PK_RENAME,  /* name -> name2 */
    PK_UNLINK,  /* name removed (file or, with rmdir, empty directory) */
    PK_WRITE,   /* bytes [off, off+len) of inode ino, data at data_off of the data file */
    PK_TRUNC,   /* inode ino's size set to len */
    PK_ALLOC,   /* inode ino's size grown to at least off+len (fallocate without KEEP_SIZE) */
    PK_FSYNC,   /* fsync/fdatasync of inode ino (failed: ok == false) */
    PK_DIRSYNC, /* fsync of directory name ("" = the top directory) */
};

/* One counted call as the model sees it. Names are relative to the traced directory. */
struct pt_op {
    unsigned ordinal;
    char call[24];
    enum pt_kind kind;
    bool ok;     /* PK_FSYNC/PK_DIRSYNC: the call returned 0 */
    char *name;  /* CREATE/MKDIR/RENAME/UNLINK/DIRSYNC; for data ops the file's name then */
    char *name2; /* RENAME target */
    unsigned ino;
    uint64_t off, len, data_off;
    bool sync_write; /* PK_WRITE on a descriptor opened O_SYNC/O_DSYNC: durable on return */
};

struct pt_trace;

/* Parse trace_path (lines with the data fields) and data_path for the run in dir, whose
 * starting contents were template_dir (a copy of it; may be the same bytes under another
 * path). @return 0, or -1 with a message naming the file and the reason in err (unreadable,
 * malformed line, a call the model cannot replay such as RENAME_EXCHANGE or O_TMPFILE). */
int pt_trace_load(struct pt_trace **out, const char *trace_path, const char *data_path,
                  const char *dir, const char *template_dir, char *err, size_t err_cap);
void pt_trace_destroy(struct pt_trace *t); /* NULL accepted */

/* The largest ordinal of the trace (0 when empty) and op by ordinal (NULL when absent). */
unsigned pt_trace_last(const struct pt_trace *t);
const struct pt_op *pt_trace_op(const struct pt_trace *t, unsigned ordinal);

/* Ordinals of the operations a power cut right after call `cut` may lose under model m (the
 * unsynced set), ascending, into a new heap array *out (free it). Operations forced lost by a
 * failed fsync (Linux errseq) are not in it: they are lost in every state. @return the count. */
unsigned pt_unsynced(unsigned **out, const struct pt_trace *t, enum pt_model m, unsigned cut);

/* Ordinals of the operations a failed fsync before cut has lost in every state (Linux errseq:
 * the first fsync after a write failed), ascending, into a new heap array *out (free it).
 * @return the count. */
unsigned pt_forced_lost(unsigned **out, const struct pt_trace *t, unsigned cut);

/* true when write `ordinal` can be torn at a 512-byte sector boundary. */
bool pt_tearable(const struct pt_trace *t, unsigned ordinal);

/* true when lost (ascending ordinals) is a state the model allows at cut (ext4-ordered: lost
 * namespace operations form a suffix, auto_da_alloc keeps data a kept replacing rename needs). */
bool pt_choice_allowed(const struct pt_trace *t, enum pt_model m, unsigned cut,
                       const unsigned *lost, unsigned n_lost);

/* The directory after a power cut: files with where their bytes come from. */
struct pt_state;

/* Build the state at cut with the operations in lost (ascending) lost, torn (0: none) kept
 * only up to its middle sector boundary, everything else up to cut applied. @return the new
 * state or NULL (out of memory). */
struct pt_state *pt_state_build(const struct pt_trace *t, enum pt_model m, unsigned cut,
                                const unsigned *lost, unsigned n_lost, unsigned torn);
void pt_state_destroy(struct pt_state *s); /* NULL accepted */

/* The directory as the traced process left it (every call applied, failed fsyncs dropping
 * nothing: the page cache still holds the data), for the trace-completeness audit. */
struct pt_state *pt_state_build_traced(const struct pt_trace *t);

/* Digest of the state's names and bytes: equal digests mean equal directories. */
uint64_t pt_state_digest(const struct pt_state *s);

/* Number of files and the i-th (sorted by name): name, size, content digest, and whether it
 * is a template file left untouched. */
unsigned pt_state_files(const struct pt_state *s);
void pt_state_file(const struct pt_state *s, unsigned i, const char **name, uint64_t *size,
                   uint64_t *digest, bool *untouched);

/* true when entry i of s is a directory. */
bool pt_state_is_dir(const struct pt_state *s, unsigned i);

/* Digest of the file called name in s, or 0 when there is none. */
uint64_t pt_state_name_digest(const struct pt_state *s, const char *name);

/* Create directory dst (must not exist) holding the state: untouched template files as hard
 * links of template_dir's, other files as hard links of store_dir/<digest>, written there the
 * first time. @return 0, or -1 with the reason in err. */
int pt_state_write(const struct pt_state *s, const char *dst, const char *store_dir, char *err,
                   size_t err_cap);

/* After judging runs on a directory written by pt_state_write: remove every store file of s
 * that a run wrote through its hard link (size or the fixed mtime changed), so that it is
 * written again when a later state needs it. @return the number removed. */
int pt_state_store_check(const struct pt_state *s, const char *store_dir);

/* Write the bytes of file i of s to path (created, must not exist). @return 0 or -1. */
int pt_state_write_file(const struct pt_state *s, unsigned i, const char *path);

/* Compare the state with the real directory dir, name for name and byte for byte. Names that
 * differ (missing, extra, other bytes) go into diff as "a (missing), b (bytes differ)".
 * @return the number of differing names, or -1 when dir cannot be read. */
int pt_state_compare(const struct pt_state *s, const char *dir, char *diff, size_t diff_cap);

/* Volatile files: the implementation declares (capability volatile=GLOB, docs/ADAPTER.md) that
 * files whose relative path or name match one of globs (fnmatch) hold nothing it relies on
 * after a crash, such as SQLite's -shm wal-index, which it may change through a shared mapping
 * that no interposer sees. The comparison above then ignores their bytes, and every state
 * written gives them bytes 0xa5 over their whole length (never their modelled content), so a
 * wrong claim shows as a finding. Process-wide; n = 0 clears. */
void pt_set_volatile(const char *const *globs, unsigned n);
bool pt_is_volatile(const char *name);

/* Called for each state of a cut: lost (ascending) and torn (0: none). A non-zero return stops
 * the enumeration and is returned. */
typedef int (*pt_choice_cb)(void *arg, const unsigned *lost, unsigned n_lost, unsigned torn);

/* Enumerate the states a power cut right after call `cut` may leave under m: every subset of
 * the unsynced set when it has at most exhaustive_max operations; above that nothing lost,
 * each single one lost, each suffix lost (a prefix kept), all lost but one, everything lost,
 * then subsets drawn from seed until `budget` choices in all. Then each tearable unsynced
 * write torn alone. Choices the model forbids are skipped. Duplicate contents are the
 * caller's to drop (pt_state_digest). @return 0, the callback's stop value, or -1 (memory). */
int pt_enumerate(const struct pt_trace *t, enum pt_model m, unsigned cut, unsigned exhaustive_max,
                 unsigned budget, uint64_t seed, pt_choice_cb cb, void *arg);

/* Describe operation ordinal for a person: "write #7 vm.g2.mem [0, 1 MiB)". */
void pt_op_describe(char *dst, size_t dst_cap, const struct pt_trace *t, unsigned ordinal);

#endif
