#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build of the snapcheck fuzz targets (fuzz/README.md).
# Conventions: $SRC/snapcheck is the checkout; $CC $CFLAGS compile, $CXX $CXXFLAGS
# $LIB_FUZZING_ENGINE link; each target goes to $OUT/<target> with <target>_seed_corpus.zip,
# <target>.dict and <target>.options beside it. Works for every engine and sanitizer the
# infrastructure picks (libfuzzer, afl, honggfuzz; address, undefined, memory, coverage).
set -eu
ROOT="${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
[ -d "$ROOT/snapcheck" ] && ROOT="$ROOT/snapcheck"
FUZZ="$ROOT/fuzz"
: "${OUT:?OUT must be set}" "${CC:=clang}" "${CXX:=clang++}" "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
CFLAGS="${CFLAGS:-} -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L"
CFLAGS="$CFLAGS -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -I$ROOT/ref/include"

codec="error crc64 envelope state"
load="io names load save cleanup"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for s in $codec $load; do
    $CC $CFLAGS -c "$ROOT/ref/src/$s.c" -o "$work/ref_$s.o"
done
$CC $CFLAGS -c "$FUZZ/memio.c" -o "$work/memio.o"

for t in state_decode state_decode_crcfix state_roundtrip pair_load; do
    objs=""
    for s in $codec; do objs="$objs $work/ref_$s.o"; done
    if [ "$t" = pair_load ]; then
        for s in $load; do objs="$objs $work/ref_$s.o"; done
        objs="$objs $work/memio.o"
    fi
    $CC $CFLAGS -c "$FUZZ/$t.c" -o "$work/$t.o"
    $CXX $CXXFLAGS $LIB_FUZZING_ENGINE "$work/$t.o" $objs -o "$OUT/$t"

    (cd "$FUZZ/corpus/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
    if [ -d "$FUZZ/regressions/$t" ]; then
        (cd "$FUZZ/regressions/$t" && find . -type f ! -name 'README*' |
            zip -q "$OUT/${t}_seed_corpus.zip" -@ >/dev/null 2>&1 || [ $? -eq 12 ]) # 12: none
    fi
    cp "$FUZZ/snapshot.dict" "$OUT/$t.dict"
    cp "$FUZZ/oss-fuzz/$t.options" "$OUT/$t.options"
done
