#!/bin/sh
# Case directories hard-linked to a per-worker copy of the template give the same verdicts as
# plain copies (--keep copies), also for an IUT that rewrites its pair file in place and so
# writes through the links: the copy must be found written (its mtimes) and rebuilt.
# Usage: check_links.sh SNAPCHECK TOYTREE
set -eu
sc=$1
toy=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for mode in linked copied; do
    extra=
    [ $mode = copied ] && extra="--keep $tmp/keep"
    set +e
    # shellcheck disable=SC2086
    "$sc" faults --impl "$toy --protocol in-place" --scenario full-over-full -q $extra \
        --json "$tmp/$mode.json" >"$tmp/$mode.out" 2>&1
    rc=$?
    set -e
    [ $rc -eq 1 ] || { cat "$tmp/$mode.out" >&2; fail "$mode: exit $rc, expected 1"; }
    sed 's/"seconds":[0-9.]*,//' "$tmp/$mode.json" >"$tmp/$mode"
done
cmp -s "$tmp/linked" "$tmp/copied" || fail "hard-linked and copied case directories disagree"
python3 - "$tmp/linked.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
ids = {f["id"] for f in r["findings"]}
if not any(f["oracle"] == "prior-pair" for f in r["findings"]):
    sys.exit("FAIL: the in-place protocol was not flagged by prior-pair")
# The audit replays trees: a subdirectory with symlinks is audited and found complete.
if r["verdict"] != "fail" or r.get("unchecked") or r.get("not_audited"):
    sys.exit(f"FAIL: a tree with a subdirectory must be audited and complete: {r['verdict']}, "
             f"unchecked {r.get('unchecked')}, not audited {r.get('not_audited')}")
# A fault before the first write leaves the prior pair whole: never a finding.
early = [i for i in ids if i.split("/")[1] == "1"]
if early:
    sys.exit(f"FAIL: faults at the first call were flagged: {early}")
PY
echo ok
