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
# `lag run --json` of the same problem and start; REPS rounds of one run
# of each, the medians of lag's whole process and fit (fit_s), against the
# anchor's total_s and fit_s, and of the rounds' ratios; the estimates and standard errors side by side, their
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

# REPS rounds, each one run of lag (its whole process timed by Python
# around fork and exec, as for a user, and its fit_s) then one of the
# SciPy script (its own total_s and fit_s): interleaved, so that both see
# the same machine (its load moves by tens of percent within a minute);
# the medians of each, and the median of the rounds' ratios
"$PYTHON" - "$LAG" "$tmp/chain.lag" "$REPS" "$ANCHORS" "$tmp" <<'EOF'
import json, re, statistics, subprocess, sys, time
lag, prog, reps, anchors, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
lt, lf, pt, pf = [], [], [], []
for _ in range(reps):
    t0 = time.perf_counter()
    out = subprocess.run([lag, "run", "--json", "--quiet", prog], capture_output=True, text=True, check=True).stdout
    lt.append(time.perf_counter() - t0)
    open(tmp + "/lag.json", "w").write(out)
    lf.append(json.loads(out)["fit_s"])
    py = subprocess.run([sys.executable, "infer_scipy.py"], cwd=anchors, capture_output=True, text=True,
                        check=True).stdout
    open(tmp + "/py.out", "w").write(py)
    m = re.search(r"fit_s=([0-9.]+) total_s=([0-9.]+)", py)
    pf.append(float(m.group(1)))
    pt.append(float(m.group(2)))
med = statistics.median
print("medians of %d rounds: lag whole process %.4g s, fit %.3g s; SciPy script %.3f s (its total_s, from after "
      "the interpreter starts), fit %.3f s" % (reps, med(lt), med(lf), med(pt), med(pf)))
print("ratios (median of the rounds'): whole process SciPy/lag %.1fx (target >= 50x), fit %.1fx (target >= 20x)"
      % (med(p / l for p, l in zip(pt, lt)), med(p / l for p, l in zip(pf, lf))))
EOF
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
