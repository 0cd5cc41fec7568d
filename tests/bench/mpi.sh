#!/usr/bin/env bash
# tests/bench/mpi.sh — strong scaling under mpirun (a report; never pass/fail).
#
# The same job as one process and as 2 ranks (each one thread:
# OMP_NUM_THREADS=1, so the ranks are the only parallelism), the median
# of REPS runs each, whether the files are the same bytes, and the
# ceiling: two independent one-process runs side by side against one alone
# (on a virtual machine two vCPUs may share a core; the speed-up cannot
# beat what two unrelated processes get):
#   1. an ensemble of 10^5 double pendulums, rk8pd at 1e-10, 10 s, a row
#      every second (the issue's target: >= 1.8x on 2 ranks);
#   2. training W = 128 (4 -> 128 -> 128 -> 1, the double pendulum's LNN),
#      global batch 1024, 100 steps (target >= 1.6x); with one rank on two
#      OpenMP threads beside it, the parallelism lag had without MPI;
#   3. the chaos map (examples/chaos_map.lag on a CHAOS_N x CHAOS_N grid,
#      default 300: 9 times the checked-in grid), when the example is
#      there (target >= 1.8x).
# Environment: LAG (default ./lag), srcdir (default .), MPIRUN (default
# mpirun), REPS (default 3), N (ensemble size, default 100000; 0 leaves
# the ensemble out), CHAOS_N (default 300).
set -u
LAG=$(cd "$(dirname "${LAG:-./lag}")" && pwd)/$(basename "${LAG:-./lag}")
srcdir=$(cd "${srcdir:-.}" && pwd)
MPIRUN=${MPIRUN:-mpirun}
REPS=${REPS:-3}
N=${N:-100000}
CHAOS_N=${CHAOS_N:-300}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

if ! command -v "$MPIRUN" >/dev/null; then
    echo "mpi.sh: $MPIRUN not found (Debian package openmpi-bin): skipped"
    exit 0
fi
mpi=("$MPIRUN" --oversubscribe -x OMP_NUM_THREADS)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
if "${mpi[@]}" -n 2 "$LAG" --version 2>&1 | grep -q "built without MPI"; then
    echo "mpi.sh: lag was built without MPI (./configure --with-mpi): skipped"
    exit 0
fi
export OMP_NUM_THREADS=1

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# wall RANKS OUTDIR FILE: the wall time of one run (ranks 0: a plain process
# on 2 OpenMP threads; 1: a plain process, unpinned)
wall() {
    local n=$1 out=$2 file=$3 s e
    mkdir -p "$out"
    s=$EPOCHREALTIME
    if [ "$n" -eq 0 ]; then
        OMP_NUM_THREADS=2 "$LAG" run "$file" --quiet -o "$out" >/dev/null 2>"$tmp/err" || cat "$tmp/err" >&2
    elif [ "$n" -eq 1 ]; then # one process, as without mpirun (which would pin it to a core)
        "$LAG" run "$file" --quiet -o "$out" >/dev/null 2>"$tmp/err" || cat "$tmp/err" >&2
    else
        "${mpi[@]}" -n "$n" "$LAG" run "$file" --quiet -o "$out" >/dev/null 2>"$tmp/err" || cat "$tmp/err" >&2
    fi
    e=$EPOCHREALTIME
    echo "$e - $s" | bc -l
}

# pair OUTDIR FILE: the wall time of two independent one-rank runs side by
# side: what the machine gives two processes (the speed-up's ceiling here:
# two vCPUs of a virtual machine may share a physical core)
pair() {
    local s e
    mkdir -p "$1.a" "$1.b"
    s=$EPOCHREALTIME
    "$LAG" run "$2" --quiet -o "$1.a" >/dev/null 2>&1 &
    "$LAG" run "$2" --quiet -o "$1.b" >/dev/null 2>&1 &
    wait
    e=$EPOCHREALTIME
    echo "$e - $s" | bc -l
}

# scale NAME FILE [omp]: medians for 1 and 2 ranks, the speed-up, the
# ceiling (2 x one rank's time / two independent runs' time), the bytes;
# with omp, one rank on two OpenMP threads too
scale() {
    local name=$1 file=$2 t1 t2 tp t0=
    t1=$(for i in $(seq "$REPS"); do wall 1 "$tmp/$name.1" "$file"; done | median)
    t2=$(for i in $(seq "$REPS"); do wall 2 "$tmp/$name.2" "$file"; done | median)
    tp=$(for i in $(seq "$REPS"); do pair "$tmp/$name.p" "$file"; done | median)
    [ "${3:-}" ] && t0=$(for i in $(seq "$REPS"); do wall 0 "$tmp/$name.0" "$file"; done | median)
    local same=yes
    for f in "$tmp/$name.1"/*; do
        cmp -s "$f" "$tmp/$name.2/$(basename "$f")" || same=NO
    done
    printf '| %s | %.3f s | %.3f s | %.2fx | %.2fx | %s |%s\n' "$name" "$t1" "$t2" "$(echo "$t1 / $t2" | bc -l)" \
        "$(echo "2 * $t1 / $tp" | bc -l)" "$same" \
        "${t0:+ one rank, 2 OpenMP threads: $(printf '%.3f' "$t0") s ($(printf '%.2f' "$(echo "$t1 / $t0" | bc -l)")x) |}"
}

echo "# MPI strong scaling, 1 -> 2 ranks"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc --all) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- lag: $("$LAG" --version); $("$MPIRUN" --version 2>&1 | head -1); median of $REPS runs, whole process (mpirun's start included)"
echo
echo "| job | 1 rank | 2 ranks | speed-up | ceiling (2 independent runs) | same bytes |"
echo "|---|---|---|---|---|---|"

cat >"$tmp/ens.lag" <<EOF
system DP {
    param m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81
    coord t1, t2
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
      + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
simulate DP {
    init t1 = uniform(-2, 2), t2 = uniform(-2, 2)
    samples $N, seed 1
    time 0 .. 10, every 1
    method rk8pd, tol 1e-10
    output "ens.csv"
}
EOF
[ "$N" -gt 0 ] && scale "ensemble of $N, rk8pd 1e-10, 10 s" "$tmp/ens.lag"

cat >"$tmp/train.lag" <<'EOF'
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
        init t1 = uniform(-pi, pi), t2 = uniform(-pi, pi), t1' = uniform(-10, 10), t2' = uniform(-10, 10)
    }
    steps 100, batch 1024, lr 1e-3, loss accel mse, validate 0
    save "w.lagw"
}
EOF
scale "train W = 128, batch 1024, 100 steps" "$tmp/train.lag" omp

if [ -f "$srcdir/examples/chaos_map.lag" ]; then
    sed "s/^const N = [0-9]*/const N = $CHAOS_N/" "$srcdir/examples/chaos_map.lag" >"$tmp/chaos_map.lag"
    scale "examples/chaos_map.lag at $CHAOS_N x $CHAOS_N" "$tmp/chaos_map.lag"
fi
