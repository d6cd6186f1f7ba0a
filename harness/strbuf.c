/* Growable text (see strbuf.h). Allocation failure aborts, as everywhere in the tool. */
#include "strbuf.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(struct strbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *grown = realloc(b->s, cap);
    if (!grown) {
        fputs("snapcheck: out of memory\n", stderr);
        abort();
    }
    b->s = grown;
    b->cap = cap;
}

void strbuf_addn(struct strbuf *b, const char *src, size_t n)
{
    reserve(b, n);
    memcpy(b->s + b->len, src, n);
    b->len += n;
    b->s[b->len] = 0;
}

void strbuf_add(struct strbuf *b, const char *src)
{
    strbuf_addn(b, src, strlen(src));
}

/* GCC 12 with -fsanitize=undefined reports a "null format string" on sizing vsnprintf calls
 * (its null checks make fmt look possibly NULL); fmt is never NULL (format attribute). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
char *xvasprintf(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    s[0] = 0;
    if (n > 0)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    strbuf_add(b, s);
    free(s);
}

const char *strbuf_cstr(const struct strbuf *b)
{
    return b->s ? b->s : "";
}

char *strbuf_take(struct strbuf *b)
{
    char *s = b->s ? b->s : xstrdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void strbuf_finish(struct strbuf *b)
{
    if (!b)
        return;
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
};

static char *arena_alloc(struct arena *a, size_t n)
{
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = xmalloc(sizeof *c + cap);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    char *p = c->data + c->used;
    c->used += n;
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(arena_alloc(a, n), s, n);
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    char *p = arena_strdup(a, s);
    free(s);
    return p;
}

void arena_finish(struct arena *a)
{
    if (!a)
        return;
    while (a->head) {
        struct arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}
