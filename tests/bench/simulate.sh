#!/usr/bin/env bash
# tests/bench/simulate.sh — the simulate benchmarks (a report; never pass/fail).
#
#   1. The double pendulum for 2000 s, output every 0.01, rk8pd at tol 1e-10,
#      CSV written: `lag run` (whole process) against dp_ref.c, a hand-written
#      C right-hand side driving the same GSL stepper and writing the same CSV.
#  1b. An ensemble of 10 000 double pendulums against single runs of lag
#      and of dp_ref.c from the same starts.
#   2. Time from the start of `lag run` to the first step (parse, derive,
#      lower) for every stdlib system.
#   3. The SymPy + SciPy pipeline of ../shared/anchors/dp_sympy_scipy.py
#      (derive with sympy.physics.mechanics, lambdify, solve_ivp DOP853 at
#      1e-10, 20 s) against the same job in `lag run` (whole process), when
#      the anchors are there.  The anchor script is run from a copy, so it
#      writes nothing into the shared folder.
#
# Environment: LAG (default ./lag), srcdir (default .), REPS (default 5),
# LAG_ANCHORS (default $srcdir/../shared/anchors), CC (default cc).
set -u
LAG=${LAG:-./lag}
srcdir=$(cd "${srcdir:-.}" && pwd)
REPS=${REPS:-5}
ANCHORS=${LAG_ANCHORS:-$srcdir/../shared/anchors}
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# seconds CMD...: wall time of one run of CMD
seconds() {
    local s e
    s=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || echo "FAILED: $*" >&2
    e=$EPOCHREALTIME
    echo "$e - $s" | bc -l
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "# simulate benchmarks"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- lag: $("$LAG" --version) ($LAG)"
echo

# 1. double pendulum, 2000 s
if ! "$CC" -O2 -o "$tmp/dp_ref" "$srcdir/tests/bench/dp_ref.c" $(pkg-config --cflags --libs gsl) -lm 2>"$tmp/cc.err"; then
    echo "cannot build dp_ref.c: $(cat "$tmp/cc.err")"
    exit 1
fi
: >"$tmp/c.times"
: >"$tmp/lag.times"
: >"$tmp/native.times"
: >"$tmp/h5.times"
sed 's/output "dp2000.csv"/output "dp2000.h5"/' "$srcdir/tests/bench/dp2000.lag" >"$tmp/dp2000h5.lag"
export LAG_CACHE="$tmp/cache"
"$LAG" run --native -o "$tmp" "$srcdir/tests/bench/dp2000.lag" >/dev/null 2>&1 # compile once
for i in $(seq "$REPS"); do
    seconds "$tmp/dp_ref" 2000 0.01 1e-10 "$tmp/ref.csv" >>"$tmp/c.times"
    seconds "$LAG" run -o "$tmp" "$srcdir/tests/bench/dp2000.lag" >>"$tmp/lag.times"
    seconds "$LAG" run --native -o "$tmp" "$srcdir/tests/bench/dp2000.lag" >>"$tmp/native.times"
    seconds "$LAG" run --native -o "$tmp" "$tmp/dp2000h5.lag" >>"$tmp/h5.times"
done
c=$(median <"$tmp/c.times")
l=$(median <"$tmp/lag.times")
nat=$(median <"$tmp/native.times")
h5=$(median <"$tmp/h5.times")
rows_c=$(wc -l <"$tmp/ref.csv")
rows_l=$(wc -l <"$tmp/dp2000.csv")
echo "## 1. Double pendulum, 2000 s, every 0.01, rk8pd, tol 1e-10, CSV written"
echo
echo "| program | whole run (s), median of $REPS | CSV lines |"
echo "|---|---|---|"
printf '| hand-written C + GSL (dp_ref.c) | %.3f | %s |\n' "$c" "$rows_c"
printf '| lag run (VM) | %.3f | %s |\n' "$l" "$rows_l"
printf '| lag run --native (compiled, cached) | %.3f | %s |\n' "$nat" "$rows_l"
if [ -s "$tmp/dp2000.h5" ]; then
    printf '| lag run --native, output to HDF5 (dp2000.h5) | %.3f | (the same rows) |\n' "$h5"
    h5ratio=$(echo "$h5 / $c" | bc -l)
else
    printf '| lag run --native, output to HDF5 | not built with HDF5 | |\n'
    h5ratio=nan
fi
printf '\nratio VM / C = %.2f (target: at most 2.0); native / C = %.2f (targets: at most 1.10, and 0.7 with the CSV); native to HDF5 / C = %.2f (target: at most 0.5)\n\n' \
    "$(echo "$l / $c" | bc -l)" "$(echo "$nat / $c" | bc -l)" "$h5ratio"

# 1b. ensembles: 10 000 double pendulums for 10 s against single runs
# the double pendulum of dp2000.lag, for the jobs written below
dp_system=$(sed -n '/^system/,/^}/p' "$srcdir/tests/bench/dp2000.lag")
{ echo "$dp_system"; cat <<'EOF'; } >"$tmp/ens.lag"
simulate DoublePendulum {
    init t1 = uniform(-1, 1), t2 = uniform(-1, 1), t1' = normal(0, 0.5)
    samples SAMPLES, seed SEED
    time 0 .. 10, every 0.1
    method rk8pd, tol 1e-10
}
EOF
sed 's/SAMPLES/10000/; s/SEED/7/' "$tmp/ens.lag" >"$tmp/ens10k.lag"
: >"$tmp/ens.times"
for i in $(seq 3); do
    "$LAG" run --json --quiet "$tmp/ens10k.lag" | grep -o '"wall_s":[0-9.e-]*' | cut -d: -f2 >>"$tmp/ens.times"
done
ens=$(median <"$tmp/ens.times")
# single runs of the same distribution: lag's own time (wall_s: integration
# and output), lag's whole process, and the hand-written C program's whole
# process from the same starts
: >"$tmp/single.times"
: >"$tmp/single_proc.times"
: >"$tmp/c_proc.times"
for seed in $(seq 1 100); do
    sed "s/SAMPLES/1/; s/SEED/$seed/; s/^    method rk8pd, tol 1e-10$/    method rk8pd, tol 1e-10, output \"one.csv\"/" "$tmp/ens.lag" >"$tmp/ens1.lag"
    s0=$EPOCHREALTIME
    "$LAG" run --json --quiet -o "$tmp" "$tmp/ens1.lag" | grep -o '"wall_s":[0-9.e-]*' | cut -d: -f2 >>"$tmp/single.times"
    s1=$EPOCHREALTIME
    echo "$s1 - $s0" | bc -l >>"$tmp/single_proc.times"
    start=$(sed -n 2p "$tmp/one.csv" | cut -d, -f2-5 | tr ',' ' ')
    seconds "$tmp/dp_ref" 10 0.1 1e-10 /dev/null $start >>"$tmp/c_proc.times"
done
single=$(awk '{ s += $1 } END { print s / NR }' "$tmp/single.times")
single_proc=$(awk '{ s += $1 } END { print s / NR }' "$tmp/single_proc.times")
c_proc=$(awk '{ s += $1 } END { print s / NR }' "$tmp/c_proc.times")
echo "## 1b. Ensemble: 10 000 double pendulums, 10 s, rk8pd 1e-10"
echo
printf '| run | per trajectory (ms) |\n|---|---|\n'
printf '| one ensemble of 10 000 (median of 3; each trajectory its own step size) | %.4f |\n' "$(echo "$ens * 1000 / 10000" | bc -l)"
printf '| single lag runs, integration and output (wall_s, mean of 100 random starts) | %.4f |\n' "$(echo "$single * 1000" | bc -l)"
printf '| single lag runs, whole process | %.4f |\n' "$(echo "$single_proc * 1000" | bc -l)"
printf '| hand-written C + GSL (dp_ref.c), whole process, the same starts | %.4f |\n' "$(echo "$c_proc * 1000" | bc -l)"
printf '\nspeed-up per trajectory: %.2f over single runs (wall_s), %.2f over single lag processes, %.2f over the C program run once per start (target: at least 5)\n\n' \
    "$(echo "$single * 10000 / $ens" | bc -l)" "$(echo "$single_proc * 10000 / $ens" | bc -l)" "$(echo "$c_proc * 10000 / $ens" | bc -l)"

# 2. time to first step
echo "## 2. Time from the start of lag run to the first step"
echo
echo "| system | setup_s (median of $REPS) |"
echo "|---|---|"
for f in "$srcdir"/stdlib/*.lag; do
    for sys in $(grep -o '^system [A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
        coords=$(sed -n "/^system $sys /,/^}/p" "$f" | grep -m1 '^ *coord' | sed 's/^ *coord *//; s/,.*//')
        {
            echo "import \"$(basename "$f" .lag)\""
            echo "simulate $sys { init $coords = 0.1, time 0 .. 0.001, every 0.001 }"
        } >"$tmp/first.lag"
        : >"$tmp/setup.times"
        for i in $(seq "$REPS"); do
            LAG_PATH="$srcdir/stdlib" "$LAG" run --json "$tmp/first.lag" 2>/dev/null |
                grep -o '"setup_s":[0-9.e-]*' | cut -d: -f2 >>"$tmp/setup.times"
        done
        printf '| %s | %.5f s |\n' "$sys" "$(median <"$tmp/setup.times")"
    done
done
echo
echo "(setup_s counts from main(); loading the program's libraries before it"
echo "takes about 2 ms more; compare the whole process: \`time lag --version\`.)"
echo

# 3. SymPy + SciPy
echo "## 3. Against SymPy + SciPy (dp_sympy_scipy.py), 20 s of double pendulum"
echo
if [ ! -f "$ANCHORS/dp_sympy_scipy.py" ]; then
    echo "reference unavailable: $ANCHORS/dp_sympy_scipy.py not found (set LAG_ANCHORS)"
    exit 0
fi
cp "$ANCHORS/dp_sympy_scipy.py" "$tmp/"
(cd "$tmp" && /usr/bin/python3 dp_sympy_scipy.py >"$tmp/sympy.out" 2>&1)
derive=$(grep -m1 -E '^derivation_median_s' "$tmp/sympy.out" | grep -oE '[0-9]+\.[0-9]+' | head -1)
integ=$(grep -m1 -E '^integration_wall_s_median' "$tmp/sympy.out" | grep -oE '[0-9]+\.[0-9]+' | head -1)
{ echo "$dp_system"; cat <<'EOF'; } >"$tmp/dp20.lag"
simulate DoublePendulum {
    init t1 = 3*pi/7, t2 = 3*pi/4
    time 0 .. 20, every 0.01
    method rk8pd, tol 1e-10
}
EOF
: >"$tmp/l20.times"
for i in $(seq $((REPS * 4))); do
    seconds "$LAG" run --json "$tmp/dp20.lag" >>"$tmp/l20.times"
done
l20=$(median <"$tmp/l20.times")
echo "| pipeline | derive (s) | integrate (s) | total (s) |"
echo "|---|---|---|---|"
if [ -n "$derive" ] && [ -n "$integ" ]; then
    total=$(echo "$derive + $integ" | bc -l)
    printf '| SymPy + SciPy (the anchor'"'"'s own medians, no interpreter start-up) | %s | %s | %.3f |\n' "$derive" "$integ" "$total"
    printf '| lag run, whole process (median of %d) | | | %.4f |\n' $((REPS * 4)) "$l20"
    printf '\nspeed-up = %.0f× (target: at least 50×)\n' "$(echo "$total / $l20" | bc -l)"
else
    echo "could not read the anchor's timings; its output:"
    sed 's/^/    /' "$tmp/sympy.out"
fi
