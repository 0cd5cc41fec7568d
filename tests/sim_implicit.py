#!/usr/bin/env python3
"""tests/sim_implicit.py — implicit steppers with the exact Jacobian (TAP).

A triple pendulum has no closed-form accelerations, so the Jacobian of
q'' = M^-1 f comes from M a = f: da/dx = M^-1 (df/dx - (dM/dx) a).  Every
implicit stepper (rk1imp rk2imp rk4imp bsimp msbdf) must agree with rk8pd at
tol 1e-12 over 2 s: to 1e-3 for the first-order rk1imp (tol 1e-9), 1e-6
for the others (tol 1e-10).

Environment: LAG (the program), srcdir (the source tree).
"""
import csv
import os
import subprocess
import sys
import tempfile

import lagtest

LIMITS = {"rk1imp": 1e-3, "rk2imp": 1e-6, "rk4imp": 1e-6, "bsimp": 1e-6, "msbdf": 1e-6}


def main():
    lag, srcdir = lagtest.program()
    print("1..%d" % len(LIMITS))
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([lag, "run", "-o", tmp, os.path.join(srcdir, "tests", "sim", "implicit.lag")],
                             capture_output=True, text=True)
        ref = None
        if out.returncode == 0:
            ref = list(csv.reader(open(os.path.join(tmp, "tp_rk8pd.csv"))))
        for n, (method, limit) in enumerate(LIMITS.items(), 1):
            why = []
            if out.returncode != 0:
                why.append("exit %d: %s" % (out.returncode, out.stderr.strip()))
            else:
                rows = list(csv.reader(open(os.path.join(tmp, "tp_%s.csv" % method))))
                worst = 0.0
                for a, b in zip(rows[1:], ref[1:]):
                    for x, y in zip(a[1:7], b[1:7]):
                        worst = max(worst, abs(float(x) - float(y)))
                if len(rows) != len(ref) or worst > limit:
                    why.append("largest difference from rk8pd %.3g (limit %g), %d rows" % (worst, limit, len(rows)))
            print(("ok" if not why else "not ok") + " %d - %s with the exact Jacobian agrees with rk8pd" % (n, method)
                  + ("" if why else " (%.1e)" % worst))
            for w in why:
                print("# " + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
