#!/bin/sh
# snapcheck's command line: --help/--version, deterministic --list, shards that partition the
# case list, and --case that runs exactly one case. Usage: check_cli.sh SNAPCHECK IMPL
set -eu
sc=$1
impl=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$sc" --version | grep -q '^snapcheck 0\.1\.0$' || fail "--version"
"$sc" --help | grep -q 'faults' || fail "--help"
"$sc" faults --help | grep -q -- '--shard K/N' || fail "faults --help"
set +e
"$sc" faults --impl "$impl" --tier nope >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --tier not exit 2"
"$sc" bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command not exit 2"
set -e

"$sc" faults --impl "$impl" --scenario full-over-full --list > "$tmp/a"
"$sc" faults --impl "$impl" --scenario full-over-full --list --seed 7 > "$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "--list differs between runs"
[ "$(wc -l < "$tmp/a")" -gt 10 ] || fail "too few cases listed"
[ "$(sort "$tmp/a" | uniq -d | wc -l)" -eq 0 ] || fail "duplicate case ids"
"$sc" faults --impl "$impl" --scenario full-over-full --list --shard 1/3 > "$tmp/s1"
"$sc" faults --impl "$impl" --scenario full-over-full --list --shard 2/3 > "$tmp/s2"
"$sc" faults --impl "$impl" --scenario full-over-full --list --shard 3/3 > "$tmp/s3"
sort "$tmp/s1" "$tmp/s2" "$tmp/s3" > "$tmp/union"
sort "$tmp/a" > "$tmp/all"
cmp -s "$tmp/union" "$tmp/all" || fail "shards do not partition the case list"
[ -s "$tmp/s1" ] && [ -s "$tmp/s3" ] || fail "empty shard"

id=$(sed -n 3p "$tmp/a")
"$sc" faults --impl "$impl" --case "$id" -q > "$tmp/one" || fail "--case $id failed"
grep -q "^CASE $id: " "$tmp/one" || fail "--case output does not name the case"
grep -q 'VERDICT: PASS (1 cases' "$tmp/one" || fail "--case did not run exactly one case"
# Same inputs, same results: two runs give the same JSON (but for the time taken).
bad_impl="$impl --protocol two-rename"
set +e
"$sc" faults --impl "$bad_impl" --scenario full-over-full -q -j 2 --json "$tmp/r1.json" >/dev/null
r1=$?
"$sc" faults --impl "$bad_impl" --scenario full-over-full -q --json "$tmp/r2.json" >/dev/null
r2=$?
set -e
[ $r1 -eq 1 ] && [ $r2 -eq 1 ] || fail "two-rename runs did not exit 1 ($r1, $r2)"
python3 -c 'import json, sys; [json.load(open(p, encoding="utf-8")) for p in sys.argv[1:]]' \
    "$tmp/r1.json" "$tmp/r2.json" || fail "a JSON report does not parse"
sed 's/"seconds":[0-9.]*,//' "$tmp/r1.json" > "$tmp/r1"
sed 's/"seconds":[0-9.]*,//' "$tmp/r2.json" > "$tmp/r2"
cmp -s "$tmp/r1" "$tmp/r2" || fail "two runs (-j 2 and -j 1) gave different JSON reports"
echo ok
