/* A growable, always NUL-terminated text buffer: the harness's messages, traces and lists grow
 * as needed instead of being cut at a fixed size. */
#ifndef SNAPCHECK_STRBUF_H
#define SNAPCHECK_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *s; /* NULL until the first append; strbuf_cstr gives "" then */
    size_t len, cap;
};

/* vprintf into a new heap string (abort on exhaustion). */
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

void strbuf_add(struct strbuf *b, const char *src);
void strbuf_addn(struct strbuf *b, const char *src, size_t n);
void strbuf_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *strbuf_cstr(const struct strbuf *b);
/* Hand the text over as a heap string (never NULL) and empty b. */
char *strbuf_take(struct strbuf *b);
void strbuf_finish(struct strbuf *b); /* NULL accepted */

/* An arena of strings that live until arena_finish: many small strings (case ids) without one
 * allocation each. Chunks are never moved, so the pointers stay valid. */
struct arena {
    struct arena_chunk *head;
};

char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_finish(struct arena *a); /* NULL accepted */

#endif
