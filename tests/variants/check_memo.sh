#!/bin/sh
# The judging memo (harness/scenario.c) changes no verdict: a campaign with it and one with
# SNAPCHECK_NO_MEMO=1 give the same JSON report (less the run time), for a known-bad library
# whose bug each oracle must flag. The memo must also have been used, or this proves nothing.
# Usage: check_memo.sh SNAPCHECK LIBRARY PROTOCOL SCENARIO
set -eu
sc=$1
lib=$2
proto=$3
scen=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for memo in on off; do
    no=0
    [ $memo = off ] && no=1
    set +e
    SNAPCHECK_NO_MEMO=$no "$sc" faults --lib "$lib --protocol $proto" --scenario "$scen" \
        --tier full -j 2 -q --json "$tmp/$memo.json" >"$tmp/$memo.out" 2>&1
    rc=$?
    set -e
    echo "$proto, memo $memo: exit $rc: $(grep VERDICT "$tmp/$memo.out")"
    [ $rc -le 1 ] || { cat "$tmp/$memo.out" >&2; fail "memo $memo: exit $rc"; }
    echo $rc >"$tmp/$memo.rc"
    sed 's/"seconds":[0-9.]*,//' "$tmp/$memo.json" >"$tmp/$memo"
done
cmp -s "$tmp/on.rc" "$tmp/off.rc" || fail "exit status differs with and without the memo"
if ! cmp -s "$tmp/on" "$tmp/off"; then
    diff "$tmp/on" "$tmp/off" | head -c 2000 >&2
    fail "the reports differ with and without the memo"
fi
grep -q "judged as it was" "$tmp/on.out" || fail "the memo was not used: nothing was compared"
grep "judged as it was" "$tmp/on.out"
if grep -q "judged as it was" "$tmp/off.out"; then fail "SNAPCHECK_NO_MEMO=1 still used the memo"; fi
echo ok
