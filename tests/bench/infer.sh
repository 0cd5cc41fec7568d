#!/usr/bin/env bash
# tests/bench/infer.sh — the infer benchmark against SciPy (a report; never
# pass/fail, not part of make check).
#
# The anchor ../shared/anchors/infer_scipy.py: the buried-mass chain (N =
# 300, length 1.5, g = 9.81, truth GM = 2, xm = 0.3, ym = -1.2), 50 noisy
# observations (numpy seed 1, sigma 1e-4), least_squares with
# finite-difference Jacobians around a sparse KKT Newton solve, from
# (1, 0.5, -1).  Here: the same observations (made by the anchor's own
# forward solve and noise, imported from it), written to a CSV, and
# `lag run --json` of the same problem and start; REPS runs of each, the
# medians of lag's whole process and fit (fit_s), against the anchor's
# total_s and fit_s; the estimates and standard errors side by side, their
# differences in units of the standard error; the cost of one adjoint
# gradient (the sensitivities of one solve) against one forward Newton
# iteration, from the JSON's sensitivity_s and solve_s.
#
# Needs /usr/bin/python3 with numpy and scipy (says so and skips without).
# Nothing is installed and nothing is written outside a temporary folder.
#
# Environment: LAG (default ./lag), ANCHORS (default ../shared/anchors),
# REPS (default 5), PYTHON (default /usr/bin/python3).
set -u
LAG=${LAG:-./lag}
case $LAG in /*) ;; *) LAG=$(pwd)/$LAG ;; esac
ANCHORS=${ANCHORS:-${LAG_ANCHORS:-../shared/anchors}}
REPS=${REPS:-5}
PYTHON=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-bench-infer.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'; }

echo "== infer: the buried-mass chain against SciPy least_squares (CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
if [ ! -f "$ANCHORS/infer_scipy.py" ]; then
    echo "skipped: $ANCHORS/infer_scipy.py not found (set ANCHORS)"
    exit 0
fi
if ! "$PYTHON" -c 'import numpy, scipy' 2>/dev/null; then
    echo "skipped: $PYTHON has no numpy/scipy (Debian: python3-numpy python3-scipy)"
    exit 0
fi

# the anchor's observations, from its own forward solve and noise
(cd "$ANCHORS" && "$PYTHON" - "$tmp/obs.csv" <<'EOF'
import sys
import numpy as np
import infer_scipy as A
y, lam = A.forward(A.TRUE)
np.random.seed(1)
data = A.observe(y) + np.random.normal(0.0, A.SIGMA, A.NOBS)
with open(sys.argv[1], "w") as f:
    f.write("x,y\n")
    for x, d in zip(A.X_OBS, data):
        f.write("%.17g,%.17g\n" % (x, d))
EOF
) || { echo "skipped: the anchor's data generation failed"; exit 0; }

cat > "$tmp/chain.lag" <<'EOF'
problem Chain {
    param len = 1.5, g = 9.81
    domain x = 0 .. 1
    field y
    unknown GM = 1, xm = 0.5, ym = -1
    let r = sqrt((x - xm)^2 + (y - ym)^2)
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral((g*y - GM/r)*sqrt(1 + y'^2))
}
infer Chain {
    observe "obs.csv"
    noise 1e-4
    points 300
}
EOF

: > "$tmp/lag_fit"
# whole process: the median wall time of REPS runs, each timed around its
# process by Python (fork and exec included, as for a user)
"$PYTHON" - "$LAG" "$tmp/chain.lag" "$REPS" > "$tmp/lag_total" <<'EOF'
import statistics, subprocess, sys, time
ts = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    subprocess.run([sys.argv[1], "run", "--json", "--quiet", sys.argv[2]], stdout=subprocess.DEVNULL, check=True)
    ts.append(time.perf_counter() - t0)
print(statistics.median(ts))
EOF
for r in $(seq "$REPS"); do
    "$LAG" run --json --quiet "$tmp/chain.lag" > "$tmp/lag.json"
    "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["fit_s"])' "$tmp/lag.json" >> "$tmp/lag_fit"
done
: > "$tmp/py_total"
: > "$tmp/py_fit"
for r in $(seq "$REPS"); do
    (cd "$ANCHORS" && "$PYTHON" infer_scipy.py) > "$tmp/py.out"
    sed -n 's/.*fit_s=\([0-9.]*\) total_s=\([0-9.]*\).*/\1 \2/p' "$tmp/py.out" | awk '{ print $1 > "'"$tmp/py_fit"'.tmp"; print $2 }' >> "$tmp/py_total"
    cat "$tmp/py_fit.tmp" >> "$tmp/py_fit"
done
lt=$(cat "$tmp/lag_total"); lf=$(median < "$tmp/lag_fit")
pt=$(median < "$tmp/py_total"); pf=$(median < "$tmp/py_fit")
echo "medians of $REPS runs: lag whole process $lt s, fit $lf s; SciPy script $pt s (its total_s, from after the interpreter starts), fit $pf s"
echo "ratios: whole process SciPy/lag $(echo "$pt / $lt" | bc -l | xargs printf '%.1f')x (target >= 50x), fit $(echo "$pf / $lf" | bc -l | xargs printf '%.1f')x (target >= 20x)"
"$PYTHON" - "$tmp/lag.json" "$tmp/py.out" <<'EOF'
import json, re, sys
j = json.load(open(sys.argv[1]))
py = open(sys.argv[2]).read()
est = [float(v) for v in re.search(r"GM=(\S+) xm=(\S+) ym=(\S+)", py).groups()]
se = [float(v) for v in re.search(r"se=\((\S+),(\S+),(\S+)\)", py).groups()]
nf = re.search(r"forward_solves=(\d+)", py).group(1)
print("unknown   lag estimate ± se          SciPy estimate ± se        (lag - SciPy)/se   se ratio")
for k, (e, s) in enumerate(zip(est, se)):
    u = ("GM", "xm", "ym")[k]
    le, ls = j["unknowns"][u]["value"], j["unknowns"][u]["stderr"]
    print("%-8s  %.8f ± %.3e   %.8f ± %.3e   %+.4f             %.5f" % (u, le, ls, e, s, (le - e) / s, ls / s))
print("forward solves: lag %d (%d Newton iterations, %d fit iterations), SciPy %s"
      % (j["forward_solves"], j["newton_iterations"], j["iterations"], nf))
EOF
# the cost of one gradient: the sensitivities of one solve (one KKT solve
# per unknown, after one pass over the intervals) against one Newton
# iteration of the forward problem, from the JSON's time split
"$PYTHON" - "$tmp/lag.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
grad = j["sensitivity_s"] / j["forward_solves"]
newton = j["solve_s"] / j["newton_iterations"]
print("one adjoint gradient %.3g s, one forward Newton iteration %.3g s: ratio %.2f (target <= 2)" % (grad, newton, grad / newton))
EOF
