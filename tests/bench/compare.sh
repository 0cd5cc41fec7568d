#!/usr/bin/env bash
# tests/bench/compare.sh — the compare job's grid against PyTorch (a report;
# never pass/fail, not part of make check).
#
# The issue's target: a 201 x 201 grid map of the double-pendulum LNN
# (W = 128) in at most 1.5 x the time of the same 40 401 accelerations in
# PyTorch float64 (../shared/anchors/lnn_torch.py's best method).  The
# network is lnn_torch.py's: L = MLP(t1, t2, t1', t2'), 4 -> W -> W -> 1,
# softplus (lag adds the kinetic prior 1/2 |q'|^2, which costs nothing).
#
#   lag: `lag run --json` of a compare job (the analytic double pendulum
#     against the LNN, the grid t1, t2 in [-pi, pi] x [-pi, pi] at 201 x 201,
#     a trajectory of one step); the LNN's `grid_accel_s` (its 40 401
#     accelerations, batched through the VM with the layer products in
#     OpenBLAS, on every core) and the job's `wall_s` (with the reference's
#     map, L at every state for the gauge, the occupancy), median of REPS;
#   torch: lnn_torch.py --dtype float64 --widths W, the faster of manual_mlp
#     and double_backward at B = 1024, scaled by 40 401 / 1024; when
#     python3-torch (or the anchors) are missing it says so and skips.
#
# Environment: LAG (default ./lag), ANCHORS (default ../shared/anchors
# beside the source), REPS (default 3), WIDTHS (default "128 500").
set -u
LAG=${LAG:-./lag}
ANCHORS=${ANCHORS:-$(dirname "$0")/../../../shared/anchors}
REPS=${REPS:-3}
WIDTHS=${WIDTHS:-128 500}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-bench-cmp.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# as train.sh: OpenBLAS otherwise picks its slowest kernels in this VM (for torch too)
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
echo "# compare: a 201 x 201 grid map of an LNN against PyTorch"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
have_torch=0
if [ -f "$ANCHORS/lnn_torch.py" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    have_torch=1
    cp "$ANCHORS"/lnn_*.py "$tmp/"
else
    echo "(PyTorch not run: $([ -f "$ANCHORS/lnn_torch.py" ] && echo 'python3-torch is not installed (apt-get install python3-torch)' || echo "$ANCHORS/lnn_torch.py not found"))"
fi
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for W in $WIDTHS; do
    cat >"$tmp/w$W.lag" <<LAG
system DoublePendulum {
    coord t1, t2
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*9.81*cos(t1) + 9.81*cos(t2)
}
system LNN {
    coord t1, t2
    net f = mlp(in = 4, hidden = [$W, $W], out = 1)
    L = f(t1, t2, t1', t2') + 0.5*(t1'^2 + t2'^2)
}
compare DoublePendulum, LNN {
    init t1 = 0.5, t2 = 0.2, t1' = 1, t2' = -1
    time 0 .. 0.01, every 0.01
    grid t1 = -pi .. pi : 201, t2 = -pi .. pi : 201
}
LAG
    : >"$tmp/acc" ; : >"$tmp/wall"
    for r in $(seq "$REPS"); do
        out=$("$LAG" run --json --quiet "$tmp/w$W.lag")
        sed -nE 's/.*"LNN":\{[^}]*"grid_accel_s":([0-9.eE+-]+).*/\1/p' <<<"$out" >>"$tmp/acc"
        sed -nE 's/.*"wall_s":([0-9.eE+-]+)\}$/\1/p' <<<"$out" >>"$tmp/wall"
    done
    acc=$(median <"$tmp/acc")
    wall=$(median <"$tmp/wall")
    awk -v W="$W" -v a="$acc" -v w="$wall" 'BEGIN {
        printf "lag W=%d: 40401 LNN accelerations %.3f s (%.2f us each), the whole compare job %.3f s (median of '"$REPS"')\n", W, a, 1e6 * a / 40401, w }'
    if [ "$have_torch" = 1 ]; then
        out=$(cd "$tmp" && /usr/bin/python3 lnn_torch.py --dtype float64 --widths "$W" --methods manual_mlp,double_backward 2>&1 | grep "^W=")
        best=$(awk '{for (i = 1; i <= NF; i++) if ($i == "accel_B1024_ms") print $(i + 2)}' <<<"$out" | sort -g | head -1)
        awk -v W="$W" -v b="$best" -v a="$acc" -v w="$wall" 'BEGIN {
            t = b * 1e-3 * 40401 / 1024
            printf "  torch float64 W=%d: %.2f ms per 1024 -> %.3f s for 40401; lag/torch = %.2f (accelerations), %.2f (whole job); target <= 1.5\n", W, b, t, a / t, w / t }'
    fi
done
