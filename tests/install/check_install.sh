#!/usr/bin/env bash
# The install test: meson install into a DESTDIR, then check what a user gets from it.
# Arguments: build dir, useref.c, project version, prefix, bindir, libdir, mandir, includedir,
# b_sanitize (a sanitized build's library needs the same runtime in the program).
set -euo pipefail
build=$1 src=$2 version=$3 prefix=$4 bindir=$5 libdir=$6 mandir=$7 includedir=$8 sanitize=${9:-none}
work=$(mktemp -d "${TMPDIR:-/tmp}/snapcheck-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/dest
fail() { echo "install test: FAIL: $*" >&2; exit 1; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
bin=$dest$(abs "$bindir") lib=$dest$(abs "$libdir") man=$dest$(abs "$mandir")
inc=$dest$(abs "$includedir")

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "meson install failed"; }

for f in "$bin/snapcheck" "$bin/snapref" "$lib/libsnapfault.so" "$lib/libsnapref.a" \
         "$lib/libsnapref.so" "$lib/pkgconfig/snapref.pc" "$inc/snap/snap.h" "$inc/snap/pair.h" \
         "$inc/snapcheck/adapter.h" "$bin/snapcheck-lib-runner" "$lib/libsnapref-adapter.so" \
         "$man/man1/snapcheck.1" "$man/man1/snapref.1" "$man/man7/snapcheck-adapter.7"; do
    [ -e "$f" ] || fail "$f was not installed"
done

# pkg-config resolves into the DESTDIR; the program is built and run against the installed library.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
pkg-config --exists snapref || fail "pkg-config does not find snapref"
[ "$(pkg-config --modversion snapref)" = "$version" ] || fail "snapref.pc version is not $version"
cc=${CC:-cc}
san=()
[ "$sanitize" = none ] || san=(-fsanitize="$sanitize")
# shellcheck disable=SC2046
$cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$work/useref" "$src" $(pkg-config --cflags --libs snapref) ||
    fail "useref.c does not build against the installed shared library"
mkdir "$work/d1"
LD_LIBRARY_PATH=$lib "$work/useref" "$work/d1" || fail "useref (shared) failed"
ldd_out=$(LD_LIBRARY_PATH=$lib ldd "$work/useref")
grep -q "$lib/libsnapref.so" <<<"$ldd_out" || fail "useref is not linked to the installed libsnapref.so: $ldd_out"
# Static: the archive and the private dependencies of snapref.pc.
# shellcheck disable=SC2046
$cc -std=c11 "${san[@]}" -o "$work/useref-static" "$src" $(pkg-config --cflags snapref) \
    "$lib/libsnapref.a" $(pkg-config --static --libs-only-l snapref | sed 's/-lsnapref\b//') ||
    fail "useref.c does not build against the installed static library"
mkdir "$work/d2"
"$work/useref-static" "$work/d2" || fail "useref (static) failed"
if ldd "$work/useref-static" | grep -q libsnapref; then fail "useref-static links libsnapref.so"; fi

# --version of the installed tools
[ "$("$bin/snapref" --version | cut -d' ' -f1-2)" = "snapref $version" ] ||
    fail "snapref --version does not say $version"
[ "$("$bin/snapcheck" --version)" = "snapcheck $version" ] || fail "snapcheck --version does not say $version"

# man pages: each renders and has its NAME line
for page in man1/snapcheck.1:snapcheck man1/snapref.1:snapref man7/snapcheck-adapter.7:snapcheck-adapter; do
    f=$man/${page%%:*} name=${page##*:}
    grep -q '^\.TH' "$f" || fail "$f is not a man page (no .TH)"
    if command -v man >/dev/null; then
        MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q "$name - " || fail "$f does not render its NAME"
    fi
done
grep -q 'conform' "$man/man1/snapcheck.1" || fail "snapcheck(1) does not document conform"

# The installed snapcheck preloads the installed interposer (not the build tree's).
if command -v strace >/dev/null; then
    # LeakSanitizer cannot run under ptrace (a sanitized build)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -v -s 4096 -e trace=execve -o "$work/strace" \
        "$bin/snapcheck" faults --impl "$bin/snapref" --scenario first-save --list -q >/dev/null ||
        fail "the installed snapcheck cannot run a census"
    grep -q "LD_PRELOAD=$lib/libsnapfault.so" "$work/strace" ||
        fail "the installed snapcheck did not preload $lib/libsnapfault.so"
else
    echo "install test: strace missing, interposer location not checked"
fi
# --lib with the installed reference adapter library, served by the installed runner (the one
# beside snapcheck; a wrong one would not list the reference's cases).
"$bin/snapcheck" faults --lib "$lib/libsnapref-adapter.so" --scenario first-save --list -q \
    >"$work/lib.list" 2>"$work/lib.err" || { cat "$work/lib.err" >&2; fail "--lib does not run"; }
"$bin/snapcheck" faults --impl "$bin/snapref" --scenario first-save --list -q >"$work/ref.list" ||
    fail "the installed snapcheck cannot list the reference's cases"
cmp -s "$work/lib.list" "$work/ref.list" || fail "--lib lists other cases than --impl snapref"
if command -v strace >/dev/null; then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -e trace=execve -o "$work/strace-lib" \
        "$bin/snapcheck" faults --lib "$lib/libsnapref-adapter.so" --scenario first-save --list \
        -q >/dev/null || fail "the installed snapcheck --lib cannot run a census"
    grep -q "execve(\"$bin/snapcheck-lib-runner\"" "$work/strace-lib" ||
        fail "the installed snapcheck did not run the installed snapcheck-lib-runner"
fi
# The installed snapcheck conform finds the installed golden vectors and judges the installed
# snapref conforming.
"$bin/snapcheck" conform --impl "$bin/snapref" --max-probes 20 --page-size 4096 \
    >"$work/conform.out" 2>"$work/conform.err" ||
    { cat "$work/conform.out" "$work/conform.err" >&2; fail "the installed snapref does not conform"; }
grep -q "golden vectors of $dest" "$work/conform.err" ||
    fail "the installed snapcheck conform did not use the installed vectors: $(cat "$work/conform.err")"
echo "install test: ok ($dest)"
