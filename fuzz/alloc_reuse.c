/* Reuse of large heap blocks across the runs of a sanitizer-built fuzz target. scripts/fuzz links
 * it into the AddressSanitizer builds and renames the library's and the target's malloc and free
 * to fuzz_reuse_malloc and fuzz_reuse_free (objcopy --redefine-sym): nothing else is affected,
 * the fuzzing engine and the sanitizer runtime keep their own allocator.
 *
 * Method: ASan serves a block of 1 MiB (pair_load's guest image, snap_pair_verify's read chunk)
 * with a fresh mmap and unmaps it on free, so every run faults in each page again; that was most
 * of pair_load's time. Here a freed block of at least REUSE_MIN bytes is kept, poisoned (a use
 * after free is still reported, as use-after-poison), and handed out again for a request of the
 * same size, unpoisoned: ASan's redzones around the block stay, so overflows are caught as
 * before. A double free of a kept block aborts. Freshly reused memory is filled with 0xbe over
 * its first 4 KiB, as ASan fills a fresh block (max_malloc_fill_size). A block handed out is
 * recorded only in a masked form, so LeakSanitizer still reports it if it is never freed. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#define REUSE_MIN (64u << 10)
#define SLOTS 8
#define FILL_LEN 4096u

void *fuzz_reuse_malloc(size_t n);
void fuzz_reuse_free(void *p);

/* Invariant: a slot with key != 0 holds a block of n bytes from malloc at address key ^ MASK;
 * idle is that address while the block waits (poisoned) for a request of n bytes, NULL while it
 * is handed out. */
#define MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aull)
static struct {
    uintptr_t key;
    size_t n;
    void *idle;
} slots[SLOTS];
static atomic_flag lock = ATOMIC_FLAG_INIT;
static unsigned evict;

static void take(void)
{
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        ;
}

static void give(void)
{
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

void *fuzz_reuse_malloc(size_t n)
{
    if (n < REUSE_MIN)
        return malloc(n);
    take();
    for (unsigned i = 0; i < SLOTS; i++) {
        if (slots[i].idle && slots[i].n == n) {
            void *p = slots[i].idle;
            slots[i].idle = NULL;
            give();
            ASAN_UNPOISON_MEMORY_REGION(p, n);
            memset(p, 0xbe, FILL_LEN);
            return p;
        }
    }
    give();
    void *p = malloc(n);
    if (!p)
        return NULL;
    take();
    unsigned slot = SLOTS;
    for (unsigned i = 0; i < SLOTS && slot == SLOTS; i++)
        if (!slots[i].key)
            slot = i;
    for (unsigned k = 0; k < SLOTS && slot == SLOTS; k++) { /* evict a waiting block */
        unsigned i = (evict + k) % SLOTS;
        if (slots[i].idle) {
            ASAN_UNPOISON_MEMORY_REGION(slots[i].idle, slots[i].n);
            free(slots[i].idle);
            slot = i;
            evict = i + 1;
        }
    }
    if (slot < SLOTS) {
        slots[slot].key = (uintptr_t)p ^ MASK;
        slots[slot].n = n;
        slots[slot].idle = NULL;
    }
    give();
    return p;
}

void fuzz_reuse_free(void *p)
{
    if (!p)
        return;
    take();
    for (unsigned i = 0; i < SLOTS; i++) {
        if (slots[i].key != ((uintptr_t)p ^ MASK))
            continue;
        if (slots[i].idle) {
            give();
            fprintf(stderr, "fuzz_reuse_free: double free of %p (%zu bytes)\n", p, slots[i].n);
            abort();
        }
        slots[i].idle = p;
        give();
        ASAN_POISON_MEMORY_REGION(p, slots[i].n);
        return;
    }
    give();
    free(p);
}
