#!/bin/sh
# The crash-shaped fuzz seeds reach the fuzz targets: snapcheck crash --export-corpus on the
# no-fsync variant, scripts/fuzz import-crash into a fresh corpus, then the replay drivers of
# state_decode and pair_load run every imported input cleanly (their oracles hold).
# Usage: check_import.sh SNAPCHECK SNAPBAD REPLAY_STATE_DECODE REPLAY_PAIR_LOAD SOURCE_ROOT
set -eu
sc=$1 bad=$2 rsd=$3 rpl=$4 root=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
set +e
"$sc" crash -q --impl "$bad --protocol no-fsync" --scenario full-over-full \
    --export-corpus "$tmp/export" >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || { cat "$tmp/out"; echo "FAIL: crash exit $rc, expected 1"; exit 1; }
"$root/scripts/fuzz" import-crash "$tmp/export" "$tmp/corpus"
n_sd=$(ls "$tmp/corpus/state_decode" | wc -l)
n_pl=$(ls "$tmp/corpus/pair_load" | wc -l)
[ "$n_sd" -gt 0 ] && [ "$n_pl" -eq "$n_sd" ] ||
    { echo "FAIL: imported $n_sd state_decode and $n_pl pair_load inputs"; exit 1; }
"$rsd" "$tmp/corpus/state_decode"/* >/dev/null
"$rpl" "$tmp/corpus/pair_load"/* >/dev/null
# Running again adds nothing (inputs are named by their content).
"$root/scripts/fuzz" import-crash "$tmp/export" "$tmp/corpus" | grep -q "added 0 to state_decode" ||
    { echo "FAIL: a second import added inputs"; exit 1; }
echo "ok: $n_sd state files, $n_pl pair_load inputs imported and replayed"
