#!/usr/bin/env bash
# tests/bench/train.sh — learned Lagrangians against PyTorch (report only).
#
# The network of ../shared/anchors/lnn_torch.py: L = MLP(t1, t2, t1', t2'),
# 4 -> W -> W -> 1, softplus (here with the kinetic prior 0.5 |q'|^2, which
# costs nothing), for W = 128 and 500:
#   - accelerations of 1024 states (tests/bench/lnn_accel: train's own
#     evaluation path), with the floating-point rate of the layer products
#     and dgemm's rate at the same shapes;
#   - one training step, batch 256, MSE on the accelerations, Adam: lag's
#     `samples_per_s` over 300 steps;
#   - the same with `precision single` (float32 layer products, sgemm);
#   - PyTorch (python3-torch) in float64 and float32, its two fastest
#     methods (manual_mlp, double_backward), best of the two, 2 threads, with
#     OPENBLAS_CORETYPE set as lag sets it (the stronger reference: in this
#     virtual machine OpenBLAS otherwise runs its slowest kernels).
# FULL=1 adds the double-pendulum recipe race (10 minutes each, 1 thread
# each, side by side, as the anchor's own figures were taken): validation
# error against wall time for lag (examples/lnn_double_pendulum.lag's
# model) and ../shared/anchors/lnn_recipe.py.
#
# Environment: LAG, LNN_ACCEL (the programs), ANCHORS (the references'
# directory, optional), FULL.
set -uo pipefail
LAG=${LAG:-./lag}
LNN_ACCEL=${LNN_ACCEL:-./tests/bench/lnn_accel}
ANCHORS=${ANCHORS:-../shared/anchors}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

have_torch=0
if [ -d "$ANCHORS" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    have_torch=1
    cp "$ANCHORS"/lnn_*.py "$tmp/"
fi

for W in 128 500; do
    cat >"$tmp/w$W.lag" <<LAG
system DoublePendulum {
    param m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81
    coord t1, t2
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
      + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
system LNN {
    coord t1, t2
    net f = mlp(in = 4, hidden = [$W, $W], out = 1)
    L = f(t1, t2, t1', t2') + 0.5*(t1'^2 + t2'^2)
}
train LNN {
    data from DoublePendulum {
        init t1 = uniform(-pi, pi), t2 = uniform(-pi, pi), t1' = uniform(-10, 10), t2' = uniform(-10, 10)
    }
    steps 300, batch 256, lr 1e-3, loss accel mse, validate 0
}
LAG
    acc=$("$LNN_ACCEL" "$tmp/w$W.lag" LNN 1024)
    accel_ms=$(sed -n 's/.*accel_ms=\([0-9.]*\).*/\1/p' <<<"$acc")
    fps=$(sed -n 's/.*flops_per_sample=\([0-9.]*\).*/\1/p' <<<"$acc")
    gfl=$(sed -n 's/.* gflops=\([0-9.]*\).*/\1/p' <<<"$acc")
    dg=$(sed -n 's/.*dgemm_gflops=\([0-9.]*\).*/\1/p' <<<"$acc")
    sps=$("$LAG" run --json --quiet -o "$tmp" "$tmp/w$W.lag" | sed -n 's/.*"samples_per_s":\([0-9.e+-]*\).*/\1/p')
    step_ms=$(awk -v s="$sps" 'BEGIN { printf "%.2f", 256e3 / s }')
    # a training step: the forward products, then two products per forward one
    tgfl=$(awk -v f="$fps" -v t="$step_ms" 'BEGIN { printf "%.1f", 3 * f * 256 / (t * 1e-3) / 1e9 }')
    echo "lag W=$W: accelerations B=1024 $accel_ms ms ($gfl GFLOP/s in the layer products; dgemm at W x W x 1024: $dg GFLOP/s); training step B=256 $step_ms ms ($tgfl GFLOP/s)"
    if [ "$have_torch" = 1 ]; then
        for dt in float64 float32; do
            out=$(cd "$tmp" && /usr/bin/python3 lnn_torch.py --dtype $dt --widths $W --methods manual_mlp,double_backward 2>&1 | grep "^W=")
            best_a=$(awk '{for (i = 1; i <= NF; i++) if ($i == "accel_B1024_ms") print $(i + 2)}' <<<"$out" | sort -g | head -1)
            best_t=$(awk '{for (i = 1; i <= NF; i++) if ($i == "train_step_B256_ms") print $(i + 2)}' <<<"$out" | sort -g | head -1)
            if [ "$dt" = float32 ]; then t32_a=$best_a; t32_t=$best_t; fi
            awk -v W="$W" -v dt="$dt" -v a="$best_a" -v t="$best_t" -v la="$accel_ms" -v lt="$step_ms" 'BEGIN {
                printf "  torch %s W=%d: accelerations %.2f ms, training step %.2f ms -> lag is %.2fx (accelerations), %.2fx (training)\n",
                       dt, W, a, t, a / la, t / lt }'
        done
    fi
    # precision single: the layer products in float32 (sgemm)
    sed 's/validate 0$/validate 0, precision single/' "$tmp/w$W.lag" >"$tmp/s$W.lag"
    acc=$("$LNN_ACCEL" "$tmp/s$W.lag" LNN 1024 single)
    saccel_ms=$(sed -n 's/.*accel_ms=\([0-9.]*\).*/\1/p' <<<"$acc")
    sgfl=$(sed -n 's/.* gflops=\([0-9.]*\).*/\1/p' <<<"$acc")
    sg=$(sed -n 's/.*sgemm_gflops=\([0-9.]*\).*/\1/p' <<<"$acc")
    ssps=$("$LAG" run --json --quiet -o "$tmp" "$tmp/s$W.lag" | sed -n 's/.*"samples_per_s":\([0-9.e+-]*\).*/\1/p')
    sstep_ms=$(awk -v s="$ssps" 'BEGIN { printf "%.2f", 256e3 / s }')
    echo "lag W=$W precision single: accelerations B=1024 $saccel_ms ms ($sgfl GFLOP/s in the layer products; sgemm at W x W x 1024: $sg GFLOP/s); training step B=256 $sstep_ms ms"
    if [ "$have_torch" = 1 ]; then
        awk -v W="$W" -v a="$t32_a" -v t="$t32_t" -v la="$saccel_ms" -v lt="$sstep_ms" 'BEGIN {
            printf "  against torch float32 W=%d: lag single is %.2fx (accelerations), %.2fx (training)\n", W, a / la, t / lt }'
    else
        echo "  (PyTorch not run: python3-torch or $ANCHORS missing)"
    fi
done

# loss action against loss accel: the same LNN (W = 128), the same batch,
# positions of 20 double-pendulum trajectories against accelerations
for loss in "accel mse" action; do
    cat >"$tmp/loss.lag" <<LAG
system DoublePendulum {
    param m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81
    coord t1, t2
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
      + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
system LNN {
    coord t1, t2
    net f = mlp(in = 4, hidden = [128, 128], out = 1)
    L = f(t1, t2, t1', t2') + 0.5*(t1'^2 + t2'^2)
}
train LNN {
    data from DoublePendulum {
        time 0 .. 10, every 0.01, samples 20, tol 1e-10
        init t1 = uniform(-1, 1), t2 = uniform(-1, 1), t1' = uniform(-1, 1), t2' = uniform(-1, 1)
    }
    steps 300, batch 256, lr 1e-3, loss $loss, validate 0
}
LAG
    "$LAG" run --json --quiet -o "$tmp" "$tmp/loss.lag" | sed -n 's/.*"samples_per_s":\([0-9.e+-]*\).*/\1/p' >"$tmp/sps_${loss%% *}"
done
awk -v a="$(cat "$tmp/sps_accel")" -v b="$(cat "$tmp/sps_action")" 'BEGIN {
    printf "loss action W=128: %.0f samples/s, loss accel %.0f: action is %.2fx slower (target <= 2)\n", b, a, a / b }'

if [ "${FULL:-0}" = 1 ] && [ "$have_torch" = 1 ] && [ -f "$tmp/lnn_recipe.py" ]; then
    # the recipe race: both 10 minutes, one thread each, at the same time
    sed -e 's/steps 8000, batch 256, lr 1e-2/steps STEPS, batch 256, lr 1e-2/' \
        "$(dirname "$0")/../../examples/lnn_double_pendulum.lag" >"$tmp/race.lag"
    # steps for 10 minutes at one thread, from a 200-step trial
    sed 's/STEPS/200/' "$tmp/race.lag" >"$tmp/trial.lag"
    sps=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$LAG" run --json --quiet --job DoublePendulumLNN -o "$tmp" "$tmp/trial.lag" |
          head -1 | sed -n 's/.*"samples_per_s":\([0-9.e+-]*\).*/\1/p')
    steps=$(awk -v s="$sps" 'BEGIN { printf "%d", 600 * s / 256 * 0.93 }')
    sed "s/STEPS/$steps/" "$tmp/race.lag" >"$tmp/race10.lag"
    (cd "$tmp" && /usr/bin/python3 lnn_recipe.py --minutes 10 --threads 1 >"$tmp/torch_race.txt" 2>&1) &
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$LAG" run --json --quiet --job DoublePendulumLNN -o "$tmp" "$tmp/race10.lag" |
        head -1 >"$tmp/lag_race.json"
    wait
    echo "recipe race (10 minutes, 1 thread each, side by side): lag $steps steps"
    python3 - "$tmp/lag_race.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print("  lag: minute, step, validation relative RMS")
shown = set()
for step, sec, _, _, rel in j["curve"]:
    m = int(sec // 60)
    if m not in shown and rel is not None:
        shown.add(m)
        print("  %4.1f min  %6d  %.3f %%" % (sec / 60, step, 100 * rel))
print("  final: %.3f %% after %.0f s" % (100 * j["validation_rel_rms"], j["wall_s"]))
PY
    echo "  torch (lnn_recipe.py):"
    sed 's/^/  /' "$tmp/torch_race.txt" | tail -15
fi
