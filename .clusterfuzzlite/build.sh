#!/bin/bash -eu
# ClusterFuzzLite build: the snapcheck targets (fuzz/oss-fuzz/build.sh: state_decode,
# state_decode_crcfix, state_roundtrip, pair_load, with seed corpora, dictionary and options),
# then the project's own targets when .clusterfuzzlite/build-own.sh exists (it gets the same
# $CC $CFLAGS $CXX $CXXFLAGS $LIB_FUZZING_ENGINE $OUT, and may link libsnapref's sources from
# $SRC/snapcheck/ref for a differential target against the reference).
ROOT="${SRC:-$(cd "$(dirname "$0")/.." && pwd)}"
[ -d "$ROOT/snapcheck" ] && ROOT="$ROOT/snapcheck"
"$ROOT/fuzz/oss-fuzz/build.sh"
if [ -x "$ROOT/.clusterfuzzlite/build-own.sh" ]; then
    "$ROOT/.clusterfuzzlite/build-own.sh"
fi
