#!/usr/bin/env bash
# tests/bench/learned.sh — simulating a learned double pendulum (report only).
#
# An LNN-shaped system, L = f(cos t1, sin t1, t1', t2') + 5 (t1'^2 + t2'^2)
# with f an MLP 4 -> W -> W -> 1 (softplus, lnn init), integrated with rk4
# for 301 output rows, interpreted and --native (and W=128 with
# `precision single`).  Prints the wall time, the
# number of right-hand-side evaluations and the time per evaluation, and
# what 301 fixed rk4 steps (1204 evaluations: the LNN tutorial's test)
# would take at that rate.  Then the memory bound: the bytes of weights an
# evaluation reads (the 128 x 128 matrix five times when each product
# reads it, twice as the products are grouped) at the rate one core reads
# a buffer of that size again and again (tests/bench/l2read.c).  Then an
# ensemble of 256 such pendulums (W=128, 2 s): time per trajectory
# evaluation, to compare with the single run's.
# Environment: LAG (the program), CC (default cc), srcdir (default .).
set -euo pipefail
LAG=${LAG:-./lag}
CC=${CC:-cc}
srcdir=$(cd "${srcdir:-.}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LAG_CACHE="$tmp/cache"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in 32 128 128s; do
    W=${run%s}
    prec=double
    [ "$run" != "$W" ] && prec=single
    cat >"$tmp/lnn.lag" <<LAG
system LDP {
    coord t1, t2
    net f = mlp(in = 4, hidden = [$W, $W], out = 1)
    L = f(cos(t1), sin(t1), t1', t2') + 5*(t1'^2 + t2'^2)
}
simulate LDP {
    time 0 .. 30
    every 0.1
    method rk4, tol 1e-6
    init t1 = 0.3, t2 = 0.2
    precision $prec
    output "lnn.csv"
}
LAG
    for how in "" --native; do
        "$LAG" run $how -o "$tmp" "$tmp/lnn.lag" >/dev/null 2>&1 # (--native: compile once)
        best=""
        for rep in 1 2 3; do
            json=$("$LAG" run $how --json -o "$tmp" "$tmp/lnn.lag" 2>/dev/null)
            wall=$(sed -n 's/.*"wall_s":\([0-9.e+-]*\).*/\1/p' <<<"$json")
            evals=$(sed -n 's/.*"rhs_evals":\([0-9]*\).*/\1/p' <<<"$json")
            if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
        done
        awk -v W="$W" -v w="$best" -v n="$evals" -v how="${how:-VM}" -v prec="$prec" 'BEGIN {
            printf "learned double pendulum W=%d (%s, %s): %d rhs evaluations in %.3f s = %.2f us each; 301 rk4 steps (1204 evaluations) ~ %.2f ms\n",
                   W, how, prec, n, w, 1e6 * w / n, 1204e3 * w / n }'
    done
done
if "$CC" -O3 -march=native -o "$tmp/l2read" "$srcdir/tests/bench/l2read.c" 2>/dev/null; then
    # one 128 x 128 matrix is 128 KiB; five passes 640 KiB, two 256 KiB
    "$tmp/l2read" 128 256 640 | awk '{ r[$1] = $2 } END {
        printf "memory bound, W=128: reading the 128x128 weights (128 KiB) once per product: %.1f GB/s -> %.2f us for five passes (640 KiB), %.2f us for the two grouped passes (256 KiB, at %.1f GB/s)\n",
               r[640], 640 * 1024 / (r[640] * 1e3), 256 * 1024 / (r[256] * 1e3), r[256] }'
else
    echo "memory bound: cannot build tests/bench/l2read.c with $CC"
fi
cat >"$tmp/ens.lag" <<'LAG'
system LDP {
    coord t1, t2
    net f = mlp(in = 4, hidden = [128, 128], out = 1)
    L = f(cos(t1), sin(t1), t1', t2') + 5*(t1'^2 + t2'^2)
}
simulate LDP {
    time 0 .. 2
    every 0.1
    method rk4, tol 1e-6
    samples 256
    seed 1
    init t1 = uniform(0.2, 0.4), t2 = 0.2
    output "ens.csv"
}
LAG
json=$("$LAG" run --json -o "$tmp" "$tmp/ens.lag")
wall=$(sed -n 's/.*"wall_s":\([0-9.e+-]*\).*/\1/p' <<<"$json")
evals=$(sed -n 's/.*"rhs_evals":\([0-9]*\).*/\1/p' <<<"$json")
awk -v w="$wall" -v n="$evals" 'BEGIN {
    printf "ensemble of 256, W=128: %d trajectory evaluations in %.3f s = %.2f us each\n", n, w, 1e6 * w / n }'
