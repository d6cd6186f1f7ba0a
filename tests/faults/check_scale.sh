#!/bin/sh
# No fixed limits: toyimpl --chunk 20 saves 2 MiB in 20-byte writes, more than 104,000 counted
# calls in one step. The census must take them all (the list names an ordinal above 100,000),
# run reduction must collapse the run and say so, and a stratified sample (--max-cases, and
# --time-budget) must run with a verdict that says "sampled X of Y". Usage: check_scale.sh SNAPCHECK TOYIMPL
set -eu
sc=$1
impl="$2 --chunk 20"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$sc" faults --impl "$impl" --scenario first-save --list > "$tmp/list" 2> "$tmp/err" ||
    fail "--list failed: $(cat "$tmp/err")"
last=$(cut -d/ -f2 "$tmp/list" | sort -n | tail -n 1)
[ "$last" -gt 100000 ] || fail "highest ordinal $last, expected more than 100000"
grep -q 'run reduction: [0-9]* counted calls collapsed' "$tmp/err" || fail "no run reduction note"
n=$(sed -n 's/.*run reduction: \([0-9]*\) counted.*/\1/p' "$tmp/err")
[ "$n" -gt 100000 ] || fail "only $n calls collapsed"
[ "$(wc -l < "$tmp/list")" -lt 100 ] || fail "run reduction left $(wc -l < "$tmp/list") cases"

set +e
"$sc" faults --impl "$impl" --scenario first-save --max-cases 4 -q -j 2 > "$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || fail "sampled run exit $rc: $(tail -n 5 "$tmp/out")"
grep -q 'VERDICT: PASS (sampled 4 of [0-9]* cases' "$tmp/out" || fail "verdict: $(tail -n 1 "$tmp/out")"

# --time-budget: a case that runs the whole save takes seconds here, so one second of budget
# cannot start them all; the cases that ran are reported, and the verdict says so.
set +e
"$sc" faults --impl "$impl" --scenario first-save --time-budget 1 -q --json "$tmp/b.json" \
    > "$tmp/out" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || fail "time-budget run exit $rc: $(tail -n 5 "$tmp/out")"
grep -q 'VERDICT: PASS (sampled [0-9]* of [0-9]* cases' "$tmp/out" ||
    fail "time-budget verdict: $(tail -n 1 "$tmp/out")"
python3 - "$tmp/b.json" <<'PY' || fail "time-budget JSON"
import json, sys
r = json.load(open(sys.argv[1]))
assert 1 <= r["cases"] < r["enumerated"], (r["cases"], r["enumerated"])
assert r["passed"] + r["ambiguous"] + len(r["findings"]) == r["cases"]
PY
echo ok
