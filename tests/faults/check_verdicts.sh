#!/bin/sh
# Verdicts that must never be a PASS, and reports that must be safe to use:
#  - every number of the command line is parsed strictly (no wrap-around of "-1");
#  - a selection of zero cases (an empty shard) is a usage error, exit 2, no report;
#  - an unwritable --json/--junit path is found before the first case; an interrupted
#    campaign leaves no report;
#  - without $TMPDIR the work directory is on the tmpfs /dev/shm (when there is one);
#  - the reproducer printed in the text, JSON and JUnit reports, pasted into sh, runs the
#    case again and nothing else, whatever the --impl path holds.
# Usage: check_verdicts.sh SNAPCHECK TOYIMPL
set -eu
sc=$1
toy=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
bad="$toy --protocol two-rename"

# expect_usage LABEL ARGS...: exit 2, a message naming the problem, nothing on stdout.
expect_usage() {
    label=$1
    shift
    set +e
    "$sc" faults "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    [ $rc -eq 2 ] || fail "$label: exit $rc, expected 2"
    [ -s "$tmp/err" ] || fail "$label: no message on stderr"
    ! grep -q VERDICT "$tmp/out" || fail "$label: printed a verdict"
}

for v in -1/-1 0/3 4/3 1/0 1/3x ' 1/3' 1/+3 1/ /3 3 1/99999999999999999999; do
    expect_usage "--shard '$v'" --impl "$bad" --scenario full-over-full --shard "$v"
    grep -q -- '--shard' "$tmp/err" || fail "--shard '$v': message does not name --shard"
done
for v in -1 0 257 1x +2 ''; do
    expect_usage "-j '$v'" --impl "$bad" -j "$v"
    grep -q -- '-j' "$tmp/err" || fail "-j '$v': message does not name -j"
done
for v in -1 18446744073709551616 0x10 1.5 ' 7'; do
    expect_usage "--seed '$v'" --impl "$bad" --seed "$v"
done
for v in -4096 3000 4096. 256 2097152 0x1000; do
    expect_usage "--page-size '$v'" --impl "$bad" --page-size "$v"
done
for v in +5 ' 5' 5s -1 0 86401; do
    SNAPCHECK_TIMEOUT=$v expect_usage "SNAPCHECK_TIMEOUT='$v'" --impl "$bad" --list
    grep -q SNAPCHECK_TIMEOUT "$tmp/err" || fail "SNAPCHECK_TIMEOUT='$v': not named"
done
unset SNAPCHECK_TIMEOUT # an assignment before a function call may outlive it in some shells
"$sc" faults --impl "$bad" --scenario full-over-full --list --seed 18446744073709551615 \
    >"$tmp/list" || fail "the largest --seed is refused"
n=$(wc -l <"$tmp/list")
[ "$n" -gt 2 ] || fail "too few cases listed ($n)"

# An empty shard of a known-bad adapter: never a pass, no report written.
k=$((n + 1))
expect_usage "empty shard $k/$k" --impl "$bad" --scenario full-over-full --shard "$k/$k" \
    -q --json "$tmp/empty.json"
grep -q 'no case selected' "$tmp/err" || fail "empty shard: the message does not say why"
[ ! -e "$tmp/empty.json" ] || fail "empty shard: a report was written"
# The last non-empty shard still runs (and finds nothing or something, but runs).
set +e
"$sc" faults --impl "$bad" --scenario full-over-full --shard "$n/$n" -q >"$tmp/out" 2>&1
rc=$?
set -e
[ $rc -le 1 ] && grep -q 'VERDICT: .* (1 cases' "$tmp/out" || fail "shard $n/$n: exit $rc"

# Report paths are checked before the first case: no campaign runs (no VERDICT), exit 2.
mkdir "$tmp/adir"
expect_usage "--json to a directory" --impl "$bad" --scenario full-over-full -q \
    --json "$tmp/adir"
grep -q 'cannot write the JSON report' "$tmp/err" || fail "--json dir: wrong message"
expect_usage "--junit under a missing directory" --impl "$bad" --scenario full-over-full -q \
    --json "$tmp/ok.json" --junit "$tmp/missing/r.xml"
grep -q 'cannot write the JUnit report' "$tmp/err" || fail "--junit: wrong message"
[ ! -e "$tmp/ok.json" ] || fail "the JSON report opened before the failure was left behind"
# An existing report is kept as it was when the campaign stops at set-up.
echo previous >"$tmp/old.json"
expect_usage "set-up error" --impl /nonexistent/impl -q --json "$tmp/old.json"
[ "$(cat "$tmp/old.json")" = previous ] || fail "a set-up error changed an existing report"

# An interrupted campaign writes no report (the file it created is removed again).
"$sc" faults --impl "$toy" --tier full -q --json "$tmp/int.json" >/dev/null 2>&1 &
pid=$!
sleep 1
[ -e "$tmp/int.json" ] || fail "the JSON report was not opened before the first case"
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
[ $rc -eq 2 ] || fail "an interrupted campaign exited $rc, expected 2"
[ ! -e "$tmp/int.json" ] || fail "an interrupted campaign left its report file"

# Where the case directories go: $TMPDIR, else /dev/shm when it is a tmpfs.
cat >"$tmp/logimpl" <<EOF
#!/bin/sh
echo "\$@" >>"$tmp/args.log"
exec "$toy" "\$@"
EOF
chmod +x "$tmp/logimpl"
mkdir "$tmp/tmpd"
TMPDIR="$tmp/tmpd" "$sc" faults --impl "$tmp/logimpl" --scenario first-save --list >/dev/null
grep -q -- "--dir $tmp/tmpd/snapcheck\." "$tmp/args.log" || fail "\$TMPDIR is not used"
if [ "$(stat -f -c %T /dev/shm 2>/dev/null || true)" = tmpfs ]; then
    : >"$tmp/args.log"
    env -u TMPDIR "$sc" faults --impl "$tmp/logimpl" --scenario first-save --list >/dev/null
    grep -q -- "--dir /dev/shm/snapcheck\." "$tmp/args.log" ||
        fail "without \$TMPDIR the work directory is not on /dev/shm"
fi

# As root and without $TMPDIR, the work directory is a private tmpfs with huge pages: the IUT
# works on it, init's mount namespace does not see it, and it is gone when snapcheck ends.
# SNAPCHECK_NO_PRIVATE_TMPFS=1 leaves the work directory on /dev/shm as it is.
if [ "$(id -u)" = 0 ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null || true)" = tmpfs ] &&
    unshare -m --propagation private true 2>/dev/null; then
    cat >"$tmp/mntimpl" <<EOF
#!/bin/sh
mnt=\$(awk '\$5 ~ "^/dev/shm/snapcheck\\\\." && \$(NF - 2) == "tmpfs" { print \$5, \$NF }' /proc/self/mountinfo)
if [ -n "\$mnt" ]; then
    echo "\$mnt \$(grep -c " \${mnt%% *} " /proc/1/mountinfo)" >>"$tmp/mnt.log"
fi
exec "$toy" "\$@"
EOF
    chmod +x "$tmp/mntimpl"
    : >"$tmp/mnt.log"
    env -u TMPDIR "$sc" faults --impl "$tmp/mntimpl" --scenario first-save --list >/dev/null
    [ -s "$tmp/mnt.log" ] || fail "as root without \$TMPDIR the IUT is not on a private tmpfs"
    read -r mdir mopts mseen <"$tmp/mnt.log"
    case "$mopts" in
    *huge=within_size*) ;;
    *) fail "the private tmpfs $mdir has no huge pages: $mopts" ;;
    esac
    [ "$mseen" = 0 ] || fail "the private tmpfs $mdir is visible to init's mount namespace"
    [ ! -e "$mdir" ] || fail "the private work directory $mdir outlived snapcheck"
    : >"$tmp/mnt.log"
    env -u TMPDIR SNAPCHECK_NO_PRIVATE_TMPFS=1 "$sc" faults --impl "$tmp/mntimpl" \
        --scenario first-save --list >/dev/null
    [ ! -s "$tmp/mnt.log" ] || fail "SNAPCHECK_NO_PRIVATE_TMPFS=1 still mounts: $(cat "$tmp/mnt.log")"
fi

# The reproducer of an IUT whose path is hostile shell text. Pasted into sh, it must run the
# case (exit 1: the finding again) and not `touch PWNED`.
mkdir "$tmp/bin" "$tmp/paste"
hostile="q';touch\${IFS}PWNED;'"
cp "$toy" "$tmp/bin/$hostile"
himpl="$tmp/bin/$hostile --protocol two-rename"
set +e
"$sc" faults --impl "$himpl" --scenario full-over-full -q --json "$tmp/h.json" \
    --junit "$tmp/h.xml" >"$tmp/h.txt" 2>"$tmp/h.err"
rc=$?
set -e
[ $rc -eq 1 ] || { cat "$tmp/h.err" >&2; fail "hostile-named two-rename: exit $rc, expected 1"; }
python3 - "$tmp/h.json" "$tmp/h.xml" "$tmp/h.txt" "$tmp/repro" <<'PY'
import json, sys, xml.etree.ElementTree as ET
rep = json.load(open(sys.argv[1]))
lines = [rep["findings"][0]["reproducer"]]
fail = ET.parse(sys.argv[2]).getroot().find(".//testcase/failure")
lines += [l[len("reproduce: "):] for l in fail.text.split("\n") if l.startswith("reproduce: ")]
lines += [l.strip()[len("reproduce: "):] for l in open(sys.argv[3], encoding="utf-8")
          if l.strip().startswith("reproduce: ")][:1]
if len(lines) != 3 or len(set(lines)) != 1:
    sys.exit(f"FAIL: expected one reproducer in text, JSON and JUnit, got {lines!r}")
open(sys.argv[4], "w").write(lines[0] + "\n")
PY
scdir=$(cd "$(dirname "$sc")" && pwd)
set +e
(cd "$tmp/paste" && PATH="$scdir:$PATH" sh "$tmp/repro" >"$tmp/paste.out" 2>&1)
rc=$?
set -e
[ ! -e "$tmp/paste/PWNED" ] || fail "the pasted reproducer ran 'touch PWNED'"
[ $rc -eq 1 ] || { cat "$tmp/paste.out" >&2; fail "the pasted reproducer exited $rc, expected 1"; }
grep -q 'VERDICT: FAIL (1 cases, 1 findings' "$tmp/paste.out" ||
    fail "the pasted reproducer did not run the one case"
echo ok
