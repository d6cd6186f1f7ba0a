#!/usr/bin/env bash
# Integration tests of the snapref command-line tool: usage: cli_test.sh SNAPREF CASE.
# Each case builds its inputs with `snapref gen` in a fresh temporary directory, drives the tool
# as the harness does (docs/ADAPTER.md), and checks outputs byte for byte and exit codes exactly.
set -u

SNAPREF=$(realpath "$1")
CASE=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/snapref-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
D=$T/snaps
mkdir -p "$D"
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# expect CODE CMD...: run CMD, keep stdout/stderr in $T/out and $T/err, check its exit code.
expect() {
    local want=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "exit $got (want $want): $*"
        sed 's/^/  stdout: /' "$T/out" >&2
        sed 's/^/  stderr: /' "$T/err" >&2
    fi
}
# grep_in FILE PATTERN: the file contains the extended regex.
grep_in() { grep -Eq -- "$2" "$1" || { fail "'$2' not in $1: $(head -c 400 "$1")"; }; }
same() { cmp -s "$1" "$2" || fail "$1 and $2 differ"; }
differ() { cmp -s "$1" "$2" && fail "$1 and $2 are identical"; }
# flip FILE OFFSET: invert one byte in place.
flip() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
size() { stat -c %s "$1"; }

# SNAPREF_WRAPPER runs the tool under e.g. valgrind: "valgrind -q --error-exitcode=99".
R() { ${SNAPREF_WRAPPER:-} "$SNAPREF" "$@"; }

gen_full() { # gen_full SEED RAM PS PREFIX
    expect 0 R gen --seed "$1" --ram "$2" --vcpus 2 --page-size "$3" \
        --state-out "$T/$4.state" --memory-out "$T/$4.mem"
}

case_capabilities() {
    expect 0 R capabilities
    [ "$(cat "$T/out")" = "save-full save-diff load merge" ] || fail "capabilities: $(cat "$T/out")"
    expect 0 R --protocol reference capabilities
}

case_roundtrip_full() {
    for ps in 4096 16384 65536; do
        gen_full 7 4M $ps a
        expect 0 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" \
            --memory "$T/a.mem" --page-size $ps --protocol reference
        [ -f "$D/vm1.snap" ] || fail "no vm1.snap"
        expect 0 R load --dir "$D" --id vm1 --state-out "$T/s.out" --memory-out "$T/m.out"
        same "$T/a.state" "$T/s.out"
        same "$T/a.mem" "$T/m.out"
        expect 0 R verify --dir "$D" --id vm1
        grep_in "$T/out" '^ok$'
    done
    # Three saves: generations 1..3, only the newest memory file remains.
    ls "$D" | grep -Eq '^vm1\.g3\.mem$' || fail "third save is not generation 3: $(ls "$D")"
    [ "$(ls "$D" | grep -c '\.mem$')" = 1 ] || fail "old memory files remain: $(ls "$D")"
    [ "$(size "$D/vm1.g3.mem")" = $((4 * 1048576 + 64)) ] || fail "memory file length"
}

case_diff() {
    gen_full 11 8M 4096 b
    expect 0 R save --dir "$D" --id base --kind full --state "$T/b.state" --memory "$T/b.mem" \
        --page-size 4096
    expect 0 R gen --seed 12 --page-size 4096 --base-memory "$T/b.mem" --dirty 10 \
        --memory-out "$T/d.mem" --dirty-out "$T/d.bm"
    differ "$T/b.mem" "$T/d.mem"
    [ "$(size "$T/d.bm")" = 256 ] || fail "bitmap of 2048 pages is not 256 bytes"
    expect 0 R save --dir "$D" --id vm1 --kind diff --base base --state "$T/b.state" \
        --memory "$T/d.mem" --dirty "$T/d.bm" --page-size 4096
    local stored
    stored=$(sed -n 's/.*pages \([0-9]*\)$/\1/p' "$T/out")
    [ -n "$stored" ] && [ "$stored" -gt 0 ] && [ "$stored" -lt 2048 ] ||
        fail "diff stored '$stored' pages"
    [ "$(size "$D/vm1.g1.mem")" = $((stored * 4096 + 64)) ] || fail "diff memory file length"
    expect 0 R load --dir "$D" --id vm1 --state-out "$T/s.out" --memory-out "$T/m.out"
    same "$T/b.state" "$T/s.out"
    same "$T/d.mem" "$T/m.out"
    # A diff whose base is gone does not load.
    mv "$D/base.snap" "$T/base.snap.away"
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/s.out" --memory-out "$T/m.out"
    grep_in "$T/err" 'SNAP_EPAIR|SNAP_ENOENT'
    mv "$T/base.snap.away" "$D/base.snap"
    # Usage: diff without --dirty, full with --base.
    expect 2 R save --dir "$D" --id vm1 --kind diff --base base --state "$T/b.state" \
        --memory "$T/d.mem" --page-size 4096
    expect 2 R save --dir "$D" --id vm1 --kind full --base base --state "$T/b.state" \
        --memory "$T/d.mem" --page-size 4096
    # A bitmap of the wrong length is refused before anything is written.
    head -c 10 "$T/d.bm" >"$T/short.bm"
    expect 1 R save --dir "$D" --id vm2 --kind diff --base base --state "$T/b.state" \
        --memory "$T/d.mem" --dirty "$T/short.bm" --page-size 4096
    grep_in "$T/err" 'dirty bitmap'
    [ ! -e "$D/vm2.snap" ] || fail "refused diff created vm2.snap"
}

case_merge() {
    gen_full 21 4M 4096 b
    expect 0 R save --dir "$D" --id base --kind full --state "$T/b.state" --memory "$T/b.mem" \
        --page-size 4096
    expect 0 R gen --seed 22 --page-size 4096 --base-memory "$T/b.mem" --dirty 25 \
        --memory-out "$T/d1.mem" --dirty-out "$T/d1.bm"
    expect 0 R save --dir "$D" --id d1 --kind diff --base base --state "$T/b.state" \
        --memory "$T/d1.mem" --dirty "$T/d1.bm" --page-size 4096
    expect 0 R gen --seed 23 --page-size 4096 --base-memory "$T/d1.mem" --dirty 5 \
        --memory-out "$T/d2.mem" --dirty-out "$T/d2.bm"
    expect 0 R save --dir "$D" --id d2 --kind diff --base d1 --state "$T/b.state" \
        --memory "$T/d2.mem" --dirty "$T/d2.bm" --page-size 4096
    expect 0 R merge --dir "$D" --id d2
    expect 0 R describe "$D/d2.snap"
    grep_in "$T/out" 'kind: "full"'
    # The merged pair stands alone: remove its chain, it still loads to the same image.
    rm -f "$D"/base.* "$D"/d1.*
    expect 0 R load --dir "$D" --id d2 --state-out "$T/s.out" --memory-out "$T/m.out"
    same "$T/d2.mem" "$T/m.out"
    same "$T/b.state" "$T/s.out"
    # Merging a full pair leaves it as is, and says so.
    local before
    before=$(ls -l --time-style=+%s.%N "$D")
    expect 0 R merge --dir "$D" --id d2
    grep_in "$T/out" '^d2 is a full snapshot already \(generation 2\): nothing was done$'
    [ "$before" = "$(ls -l --time-style=+%s.%N "$D")" ] || fail "merge of a full pair changed D"
    expect 1 R merge --dir "$D" --id nosuch
}

case_verify() {
    gen_full 31 4M 4096 a
    expect 0 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 4096
    expect 0 R verify --dir "$D" --id vm1
    grep_in "$T/out" '^ok$'
    flip "$D/vm1.g1.mem" $((5 * 4096 + 100))
    expect 1 R verify --dir "$D" --id vm1
    grep_in "$T/out" '^bad page 5$'
    grep_in "$T/err" 'SNAP_EPAGE'
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/s.out" --memory-out "$T/m.out"
    grep_in "$T/err" 'SNAP_EPAGE'
    # In a diff, the bad page is named by its guest index, not its place in the memory file.
    expect 0 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 4096
    expect 0 R gen --seed 32 --page-size 4096 --base-memory "$T/a.mem" --dirty 3 \
        --memory-out "$T/d.mem" --dirty-out "$T/d.bm"
    expect 0 R save --dir "$D" --id vm2 --kind diff --base vm1 --state "$T/a.state" \
        --memory "$T/d.mem" --dirty "$T/d.bm" --page-size 4096
    local second
    second=$(python3 -c 'import sys
bm = open(sys.argv[1], "rb").read()
pages = [8 * j + i for j, b in enumerate(bm) for i in range(8) if b >> i & 1]
print(pages[1])' "$T/d.bm")
    flip "$D/vm2.g1.mem" $((4096 + 7))
    expect 1 R verify --dir "$D" --id vm2
    grep_in "$T/out" "^bad page $second\$"
}

case_describe() {
    gen_full 41 2M 16384 a
    expect 0 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 16384
    expect 0 R describe "$D/vm1.snap"
    grep_in "$T/out" 'kind: "full"'
    grep_in "$T/out" 'page_size: 16384'
    grep_in "$T/out" 'mem_name: "vm1\.g1\.mem"'
    grep_in "$T/out" 'mem_size_mib: 2'
    grep_in "$T/out" 'serial-ttyAMA0'
    grep_in "$T/out" '^status: ok$'
    expect 0 R describe "$D/vm1.snap" --json
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "ok", d
assert d["header"]["kind"] == "full" and d["header"]["page_size"] == 16384
assert d["header"]["generation"] == 1 and d["header"]["mem_pages"] == 128
assert d["state"]["vcpu_count"] == 2 and len(d["state"]["vcpus"]) == 2
assert d["state"]["vm_info"]["smt"] is False' "$T/out" || fail "describe --json content"
    # Damaged: a flipped state byte keeps the header readable; the CRC names the damage.
    cp "$D/vm1.snap" "$T/bad.snap"
    flip "$T/bad.snap" 300
    expect 1 R describe "$T/bad.snap"
    grep_in "$T/out" 'generation: 1'
    grep_in "$T/out" 'SNAP_ECRC'
    grep_in "$T/err" 'bad\.snap'
    expect 1 R describe "$T/bad.snap" --json
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "invalid" and "SNAP_ECRC" in d["error"], d
assert d["header"]["generation"] == 1' "$T/out" || fail "describe --json of a damaged file"
    head -c 100 "$D/vm1.snap" >"$T/trunc.snap"
    expect 1 R describe "$T/trunc.snap"
    grep_in "$T/out" 'SNAP_ETRUNC'
    : >"$T/empty.snap"
    expect 1 R describe "$T/empty.snap"
    grep_in "$T/out" 'SNAP_ETRUNC'
    head -c 4096 /dev/zero >"$T/zero.snap"
    expect 1 R describe "$T/zero.snap"
    grep_in "$T/out" 'SNAP_EMAGIC'
    # A well-formed header naming an unknown major version is EVERSION, not corruption.
    cp "$D/vm1.snap" "$T/v2.snap"
    printf '\002' | dd of="$T/v2.snap" bs=1 seek=8 conv=notrunc status=none
    expect 1 R describe "$T/v2.snap"
    grep_in "$T/out" 'SNAP_EVERSION'
    expect 1 R describe "$T/nonexistent.snap"
    grep_in "$T/err" 'nonexistent\.snap'
    expect 2 R describe
}

case_usage() {
    expect 2 R
    expect 2 R frobnicate
    grep_in "$T/err" "unknown command 'frobnicate'"
    expect 0 R --help
    for c in capabilities save load merge verify describe gen; do
        expect 0 R $c --help
        grep_in "$T/out" "usage: snapref $c"
    done
    gen_full 1 1M 4096 a
    local ok=(--dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem"
        --page-size 4096)
    expect 2 R save "${ok[@]:2}"
    grep_in "$T/err" 'missing --dir'
    expect 2 R save "${ok[@]}" --frob 1
    grep_in "$T/err" "unknown option '--frob'"
    expect 2 R save "${ok[@]}" --dir "$D"
    grep_in "$T/err" 'given twice'
    expect 2 R save --dir "$D" --id vm1 --kind partial --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 4096
    grep_in "$T/err" 'kind'
    expect 2 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 1000
    grep_in "$T/err" 'page-size'
    expect 2 R save --dir "$D" --id 'bad.id' --kind full --state "$T/a.state" \
        --memory "$T/a.mem" --page-size 4096
    grep_in "$T/err" 'id'
    expect 2 R save "${ok[@]}" --protocol twophase
    grep_in "$T/err" 'protocol'
    expect 2 R --protocol twophase capabilities
    expect 2 R save --dir "$D" --id
    grep_in "$T/err" 'needs a value'
    expect 2 R gen --ram 3K --memory-out "$T/x"
    grep_in "$T/err" 'ram'
    expect 2 R gen --seed -1 --ram 1M --memory-out "$T/x"
    expect 2 R gen --base-memory "$T/a.mem" --dirty 120 --memory-out "$T/x" --dirty-out "$T/y"
    expect 2 R load --dir "$D" --id vm1 --state-out "$T/s"
    grep_in "$T/err" 'memory-out'
    expect 2 R verify --dir "$D"
    expect 0 R save "${ok[@]}" --protocol=reference
    # --name=value, sizes with suffixes, and "--" before a file name that starts with a dash.
    expect 0 R gen --seed=4 --ram=1024K --page-size=16K --memory-out "$T/k.mem"
    expect 0 R gen --seed 4 --ram 1MiB --page-size 16384 --memory-out "$T/m.mem"
    same "$T/k.mem" "$T/m.mem"
    [ "$(size "$T/k.mem")" = 1048576 ] || fail "--ram 1024K is not 1 MiB"
    expect 2 R gen --ram 1X --memory-out "$T/x"
    expect 2 R gen --ram 99999999999999999999G --memory-out "$T/x"
    expect 2 R capabilities --json
    expect 2 R describe a b
    expect 2 R describe --json=1 x
    expect 0 R save --dir "$D" --id=-dash --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 4096
    cp "$D/-dash.snap" "$T/-dash.snap"
    pushd "$T" >/dev/null || exit 99
    expect 0 R describe -- -dash.snap
    popd >/dev/null || exit 99
    grep_in "$T/out" '^status: ok$'
}

case_missing() {
    gen_full 1 1M 4096 a
    expect 1 R save --dir "$T/no/such/dir" --id vm1 --kind full --state "$T/a.state" \
        --memory "$T/a.mem" --page-size 4096
    grep_in "$T/err" 'no/such/dir'
    expect 1 R load --dir "$T/no/such/dir" --id vm1 --state-out "$T/s" --memory-out "$T/m"
    grep_in "$T/err" 'no/such/dir'
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/s" --memory-out "$T/m"
    grep_in "$T/err" 'SNAP_ENOENT'
    expect 1 R verify --dir "$D" --id vm1
    expect 1 R save --dir "$D" --id vm1 --kind full --state "$T/nostate" --memory "$T/a.mem" \
        --page-size 4096
    grep_in "$T/err" 'nostate'
    expect 1 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/nomem" \
        --page-size 4096
    grep_in "$T/err" 'nomem'
    head -c 32 /dev/zero >"$T/z.bm"
    expect 1 R save --dir "$D" --id vm1 --kind diff --base nobase --state "$T/a.state" \
        --memory "$T/a.mem" --dirty "$T/z.bm" --page-size 4096
    grep_in "$T/err" 'nobase|SNAP_ENOENT|SNAP_EPAIR'
    [ -z "$(ls "$D")" ] || fail "failed saves left files: $(ls "$D")"
}

case_corrupt() {
    gen_full 51 2M 4096 a
    # Bad inputs to save: not a state, memory not a multiple of the page size, wrong RAM size.
    head -c 1000 /dev/urandom >"$T/junk"
    expect 1 R save --dir "$D" --id vm1 --kind full --state "$T/junk" --memory "$T/a.mem" \
        --page-size 4096
    grep_in "$T/err" 'junk'
    head -c 5000 "$T/a.mem" >"$T/odd.mem"
    expect 1 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/odd.mem" \
        --page-size 4096
    grep_in "$T/err" 'odd\.mem'
    head -c 1048576 "$T/a.mem" >"$T/small.mem"
    expect 1 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" \
        --memory "$T/small.mem" --page-size 4096
    grep_in "$T/err" 'SNAP_EINCOMPAT'
    [ -z "$(ls "$D")" ] || fail "refused saves left files: $(ls "$D")"
    # Damaged pairs do not load.
    expect 0 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 4096
    cp "$D/vm1.snap" "$T/good.snap"
    cp "$D/vm1.g1.mem" "$T/good.mem"
    truncate -s -1 "$D/vm1.g1.mem"
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/s" --memory-out "$T/m"
    grep_in "$T/err" 'SNAP_EPAIR'
    cp "$T/good.mem" "$D/vm1.g1.mem"
    flip "$D/vm1.g1.mem" $(($(size "$T/good.mem") - 30))
    expect 1 R verify --dir "$D" --id vm1
    grep_in "$T/err" 'SNAP_EPAIR'
    cp "$T/good.mem" "$D/vm1.g1.mem"
    flip "$D/vm1.snap" 40
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/s" --memory-out "$T/m"
    grep_in "$T/err" 'SNAP_ECRC'
    printf 'garbage' >"$D/vm1.snap"
    expect 1 R verify --dir "$D" --id vm1
    grep_in "$T/err" 'SNAP_EMAGIC'
    cp "$T/good.snap" "$D/vm1.snap"
    expect 0 R verify --dir "$D" --id vm1
}

case_gen() {
    expect 0 R gen --seed 5 --ram 2M --vcpus 3 --page-size 4096 --state-out "$T/s1" \
        --memory-out "$T/m1"
    expect 0 R gen --seed 5 --ram 2M --vcpus 3 --page-size 4096 --state-out "$T/s2" \
        --memory-out "$T/m2"
    same "$T/s1" "$T/s2"
    same "$T/m1" "$T/m2"
    [ "$(size "$T/m1")" = 2097152 ] || fail "gen --ram 2M wrote $(size "$T/m1") bytes"
    expect 0 R gen --seed 6 --ram 2M --vcpus 3 --page-size 4096 --state-out "$T/s3" \
        --memory-out "$T/m3"
    differ "$T/s1" "$T/s3"
    differ "$T/m1" "$T/m3"
    for pct in 0 0.1 50 100; do
        expect 0 R gen --seed 9 --page-size 4096 --base-memory "$T/m1" --dirty $pct \
            --memory-out "$T/d.mem" --dirty-out "$T/d.bm"
        python3 - "$T/m1" "$T/d.mem" "$T/d.bm" "$pct" <<'EOF' || fail "gen --dirty $pct"
import sys
base, new, bm = (open(p, "rb").read() for p in sys.argv[1:4])
pct = float(sys.argv[4])
ps, n = 4096, len(base) // 4096
assert len(new) == len(base) and len(bm) == (n + 7) // 8
dirty = [p for p in range(n) if bm[p // 8] >> (p % 8) & 1]
changed = [p for p in range(n) if base[p*ps:(p+1)*ps] != new[p*ps:(p+1)*ps]]
assert set(changed) <= set(dirty), "a page changed outside the bitmap"
if pct == 0:
    assert not dirty
else:
    assert dirty, "no dirty page"
    assert any(new[p*ps:(p+1)*ps] == bytes(ps) for p in dirty), "no all-zero dirty page"
    assert abs(len(dirty) - n * pct / 100) <= max(3, n * 0.05), (len(dirty), n, pct)
if pct == 100:
    assert len(dirty) == n
EOF
    done
    expect 0 R gen --seed 9 --page-size 4096 --base-memory "$T/m1" --dirty 10 \
        --memory-out "$T/e.mem" --dirty-out "$T/e.bm"
    expect 0 R gen --seed 9 --page-size 4096 --base-memory "$T/m1" --dirty 10 \
        --memory-out "$T/f.mem" --dirty-out "$T/f.bm"
    same "$T/e.mem" "$T/f.mem"
    same "$T/e.bm" "$T/f.bm"
    expect 1 R gen --seed 9 --page-size 4096 --base-memory "$T/nosuch" --dirty 10 \
        --memory-out "$T/e.mem" --dirty-out "$T/e.bm"
    grep_in "$T/err" 'nosuch'
}

# describe checks what load checks of a state file alone (6.1 steps 1-2), the <id> prefix of
# mem_name included (taken from the file name): on every single-file golden vector its status is
# ok exactly when the MANIFEST says ok. A file not named <id>.snap says the check was skipped.
case_describe_vectors() {
    local v
    v=$(dirname "$(realpath "$0")")/../vectors
    [ -f "$v/MANIFEST" ] || { echo "no vectors at $v" >&2; exit 99; }
    while read -r file want _; do
        case "$file" in '#'* | */* | '') continue ;; esac
        if [ "$want" = ok ]; then
            expect 0 R describe "$v/files/$file"
        else
            expect 1 R describe "$v/files/$file"
            grep_in "$T/out" "$want"
        fi
    done <"$v/MANIFEST"
    cp "$v/files/bad_mem_name_id.snap" "$T/copy.snap.bak"
    expect 0 R describe "$T/copy.snap.bak"
    grep_in "$T/out" '^id_check: skipped'
    expect 1 R describe --json "$v/files/bad_mem_name_id.snap"
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "invalid" and d["id_check"] == "bad_mem_name_id", d
assert "SNAP_ECORRUPT" in d["error"] and "mem_name" in d["error"], d' "$T/out" ||
        fail "describe --json of bad_mem_name_id"
}

# A --memory input that shrinks during the save: the save must not die of SIGBUS (exit 135, a
# mapped input read past its new end). It either saved what it read (the pair loads to the
# original image) or failed cleanly (no new file, the prior pair intact).
case_shrinking_input() {
    gen_full 61 4M 4096 a
    expect 0 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 4096
    expect 0 R gen --seed 62 --ram 128M --vcpus 2 --page-size 4096 --state-out "$T/big.state" \
        --memory-out "$T/big.mem"
    python3 - "$SNAPREF" "$D" "$T" <<'EOF2' || fail "save with a shrinking input"
import os, subprocess, sys, time
snapref, d, t = sys.argv[1:4]
for attempt in range(2):
    mem = os.path.join(t, "in.mem")
    os.system(f"cp --sparse=never {t}/big.mem {mem}")
    before = sorted(os.listdir(d))
    p = subprocess.Popen([snapref, "save", "--dir", d, "--id", "vm2", "--kind", "full",
                          "--state", os.path.join(t, "big.state"), "--memory", mem,
                          "--page-size", "4096"], stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while (time.time() < deadline and p.poll() is None and
           not [f for f in os.listdir(d) if f.startswith("vm2.g") and f not in before]):
        pass
    os.truncate(mem, 4096)
    err = p.communicate()[1].decode()
    assert p.returncode in (0, 1), f"save exited {p.returncode}: {err}"
    if p.returncode == 1:
        after = sorted(os.listdir(d))
        assert after == before, (before, after)
    else:
        r = subprocess.run([snapref, "load", "--dir", d, "--id", "vm2", "--state-out",
                            os.path.join(t, "s.out"), "--memory-out", os.path.join(t, "m.out")],
                           capture_output=True)
        assert r.returncode == 0, r
        assert open(os.path.join(t, "m.out"), "rb").read() == open(os.path.join(t, "big.mem"), "rb").read()
        os.unlink(os.path.join(t, "m.out"))
    # The prior pair of another id is never touched; vm1 still verifies.
    r = subprocess.run([snapref, "verify", "--dir", d, "--id", "vm1"], capture_output=True)
    assert r.returncode == 0, r
EOF2
    # An input whose size changes while it is read is refused: a /proc file says 0 bytes and
    # then reads more (deterministic, unlike the race above).
    expect 1 R save --dir "$D" --id vm3 --kind full --state "$T/a.state" \
        --memory /proc/self/status --page-size 4096
    grep_in "$T/err" "memory image '/proc/self/status': changed size while it was read"
    # A state input that is a FIFO is refused at once, not waited on.
    mkfifo "$T/fifo.state"
    expect 1 timeout 20 "$SNAPREF" save --dir "$D" --id vm3 --kind full --state "$T/fifo.state" \
        --memory "$T/a.mem" --page-size 4096
    grep_in "$T/err" 'not a regular file'
    expect 1 timeout 20 "$SNAPREF" describe "$T/fifo.state"
    grep_in "$T/err" 'not a regular file'
}

# load must not write its outputs over a file of the pair: a path inside --dir, or the same file
# reached through a hard link or a symbolic link, is refused and the pair stays loadable.
case_load_outputs() {
    gen_full 71 1M 4096 a
    expect 0 R save --dir "$D" --id vm1 --kind full --state "$T/a.state" --memory "$T/a.mem" \
        --page-size 4096
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/s.out" --memory-out "$D/vm1.g1.mem"
    grep_in "$T/err" 'inside the snapshot directory'
    expect 1 R load --dir "$D" --id vm1 --state-out "$D/vm1.snap" --memory-out "$T/m.out"
    expect 1 R load --dir "$D" --id vm1 --state-out "$D/new.state" --memory-out "$T/m.out"
    [ ! -e "$D/new.state" ] || fail "load wrote an output into the snapshot directory"
    ln "$D/vm1.g1.mem" "$T/hard.mem"
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/s.out" --memory-out "$T/hard.mem"
    grep_in "$T/err" 'same file as'
    ln -s "$D/vm1.snap" "$T/link.state"
    expect 1 R load --dir "$D" --id vm1 --state-out "$T/link.state" --memory-out "$T/m.out"
    rm -f "$T/hard.mem"
    expect 0 R verify --dir "$D" --id vm1
    expect 0 R load --dir "$D" --id vm1 --state-out "$T/s.out" --memory-out "$T/m.out"
    same "$T/a.mem" "$T/m.out"
    same "$T/a.state" "$T/s.out"
}

if ! declare -F "case_$CASE" >/dev/null; then
    echo "unknown case '$CASE'" >&2
    exit 99
fi
"case_$CASE"
if [ "$FAILS" -ne 0 ]; then
    echo "$CASE: $FAILS check(s) failed" >&2
    exit 1
fi
echo "$CASE: ok"
