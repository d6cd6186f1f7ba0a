#!/bin/sh
# The baseline snapcheck is measured against: a shell loop that runs each fault case as its own
# `strace -f -e inject=<syscall>:error=EIO:when=N` process (full-over-full scenario of snapref:
# fresh copy of a prior pair, faulted save, load, byte comparison with prior and new), the way
# one would test without snapcheck. Prints "<cases> cases in <s> s: <rate> cases/s".
# usage: strace-loop.sh SNAPREF [MAX_CASES]
set -eu
snapref=$1
max=${2:-1000000}
command -v strace >/dev/null || { echo "strace-loop: strace is not installed" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/strace-loop.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# Inputs: two 2 MiB pairs from snapref gen (the same sizes as snapcheck's).
gen() { "$snapref" gen --seed "$1" --ram 2M --vcpus 2 --page-size 4096 --state-out "$2" \
    --memory-out "$3" >/dev/null; }
gen 1 prior.state prior.mem || { echo "strace-loop: snapref gen failed" >&2; exit 2; }
gen 2 new.state new.mem
mkdir tpl
"$snapref" save --dir tpl --id vm --kind full --state prior.state --memory prior.mem \
    --page-size 4096 >/dev/null
# Census: how many times the save makes each syscall (whole process, as strace counts).
mkdir census && cp tpl/* census/
strace -f -c -o census.txt "$snapref" save --dir census --id vm --kind full \
    --state new.state --memory new.mem --page-size 4096 >/dev/null
start=$(date +%s.%N)
n=0 bad=0
for sc in openat pwrite64 fsync close rename unlink; do
    count=$(awk -v s="$sc" '$NF == s { print $4 }' census.txt)
    [ -n "$count" ] || continue
    i=1
    while [ "$i" -le "$count" ] && [ "$n" -lt "$max" ]; do
        rm -rf d && mkdir d && cp tpl/* d/
        strace -f -o /dev/null -e inject="$sc":error=EIO:when="$i" \
            "$snapref" save --dir d --id vm --kind full --state new.state --memory new.mem \
            --page-size 4096 >/dev/null 2>&1 || true
        if "$snapref" load --dir d --id vm --state-out s.out --memory-out m.out >/dev/null 2>&1; then
            if ! { cmp -s s.out prior.state && cmp -s m.out prior.mem; } &&
               ! { cmp -s s.out new.state && cmp -s m.out new.mem; }; then
                bad=$((bad + 1))
            fi
        else
            bad=$((bad + 1))
        fi
        n=$((n + 1))
        i=$((i + 1))
    done
done
end=$(date +%s.%N)
awk -v n="$n" -v a="$start" -v b="$end" -v bad="$bad" \
    'BEGIN { t = b - a; printf "%d cases in %.2f s: %.1f cases/s (%d lost the pair)\n", n, t, n / t, bad }'
