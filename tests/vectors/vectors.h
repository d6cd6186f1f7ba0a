/* The golden vectors of docs/FORMAT.md, built in memory by one deterministic function that both
 * the generator (gen_vectors) and the conformance test (check_vectors) call, so the committed
 * files cannot drift from it. */
#ifndef SNAP_TEST_VECTORS_H
#define SNAP_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* One vector: file is "<id>.snap", expect "ok" or an error name ("SNAP_ECRC"). A file of a pair
 * directory is "<case>/<name>": "<case>/<id>.snap" expects what loading <id> from the directory
 * gives (FORMAT.md 6.1), its other files (memory files) expect "-". */
typedef int (*vectors_emit_fn)(void *ctx, const char *file, const char *expect, const char *desc,
                               const uint8_t *data, size_t len);

/* Call emit for every vector in a fixed order. @return 0, or the first non-zero emit result,
 * or -1 if a vector could not be built (a bug in the generator). */
int vectors_generate(vectors_emit_fn emit, void *ctx);

/* The decoding a conforming reader applies to a vector file named "<stem>.snap" (6.1 steps 1 and
 * 2): the envelope (FORMAT.md 3.2, 5), the state (4), compatibility (4), then mem_name begins
 * with "<stem>.". @return 0 or the first error. */
int vectors_decode(const char *stem, const uint8_t *data, size_t len);

#endif
