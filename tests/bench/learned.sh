#!/usr/bin/env bash
# tests/bench/learned.sh — simulating a learned double pendulum (report only).
#
# An LNN-shaped system, L = f(cos t1, sin t1, t1', t2') + 5 (t1'^2 + t2'^2)
# with f an MLP 4 -> W -> W -> 1 (softplus, lnn init), integrated with rk4
# for 301 output rows.  Prints the wall time, the number of right-hand-side
# evaluations and the time per evaluation, and what 301 fixed rk4 steps
# (1204 evaluations: the LNN tutorial's test) would take at that rate.
# Then an ensemble of 256 such pendulums (W=128, 2 s): time per trajectory
# evaluation, to compare with the single run's.
# Environment: LAG (the program).
set -euo pipefail
LAG=${LAG:-./lag}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for W in 32 128; do
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
    output "lnn.csv"
}
LAG
    best=""
    for rep in 1 2 3; do
        json=$("$LAG" run --json -o "$tmp" "$tmp/lnn.lag")
        wall=$(sed -n 's/.*"wall_s":\([0-9.e+-]*\).*/\1/p' <<<"$json")
        evals=$(sed -n 's/.*"rhs_evals":\([0-9]*\).*/\1/p' <<<"$json")
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$wall; fi
    done
    awk -v W="$W" -v w="$best" -v n="$evals" 'BEGIN {
        printf "learned double pendulum W=%d: %d rhs evaluations in %.3f s = %.1f us each; 301 rk4 steps (1204 evaluations) ~ %.1f ms\n",
               W, n, w, 1e6 * w / n, 1204e3 * w / n }'
done
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
    printf "ensemble of 256, W=128: %d batched evaluations in %.3f s = %.1f us per trajectory evaluation\n",
           n, w, 1e6 * w / (n * 256) }'
