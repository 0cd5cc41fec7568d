#!/usr/bin/env python3
"""tests/sim_implicit.py — implicit steppers with the exact Jacobian (TAP).

1-5. Five oscillators coupled through a constant, non-diagonal mass matrix
   that depends on parameters (tests/sim/implicit_modes.lag: n = 5, so no
   closed-form accelerations: the rhs solves M a = f and the Jacobian is
   da/dx = M^-1 (df/dx - (dM/dx) a)).  Every implicit stepper (rk1imp
   rk2imp rk4imp bsimp msbdf) against the normal modes, a closed form:
   x1 = x2 = cos(t sqrt(k/(m + c))), x3 = cos(t sqrt(k/m)), x4 = x5 = 0.
6-10. A triple pendulum (no closed form at all): every implicit stepper
   must agree with rk8pd at tol 1e-12 over 2 s: to 1e-3 for the
   first-order rk1imp (tol 1e-9), 1e-6 for the others (tol 1e-10).
11. The modes' right-hand side really solves M a = f (`lag ir` shows a
   SOLVE), so tests 1-5 run the Jacobian of lower_jacobian_solve.

Environment: LAG (the program), srcdir (the source tree).
"""
import math
import os
import subprocess
import sys
import tempfile

import lagtest

LIMITS = {"rk1imp": 1e-3, "rk2imp": 1e-6, "rk4imp": 1e-6, "bsimp": 1e-6, "msbdf": 1e-6}
# against the closed form (measured: rk1imp 3.3e-5 over 0 .. 2, rk2imp 3.8e-7,
# rk4imp 6.8e-9, bsimp 1.8e-14, msbdf 9.1e-8 over 0 .. 10)
MODE_LIMITS = {"rk1imp": 1e-3, "rk2imp": 4e-6, "rk4imp": 1e-7, "bsimp": 1e-10, "msbdf": 1e-6}
M_, C_, K_ = 1.0, 0.5, 3.0   # as in tests/sim/implicit_modes.lag


def modes_exact(t):
    a, b = math.cos(t * math.sqrt(K_ / (M_ + C_))), math.cos(t * math.sqrt(K_ / M_))
    return {"x1": a, "x2": a, "x3": b, "x4": 0.0, "x5": 0.0}


def main():
    lag, srcdir = lagtest.program()
    print("1..%d" % (len(MODE_LIMITS) + len(LIMITS) + 1))
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        modes = os.path.join(srcdir, "tests", "sim", "implicit_modes.lag")
        out = subprocess.run([lag, "run", "-o", tmp, modes], capture_output=True, text=True)
        for method, limit in MODE_LIMITS.items():
            n += 1
            why, worst = [], math.inf
            if out.returncode != 0:
                why.append("exit %d: %s" % (out.returncode, out.stderr.strip()))
            else:
                try:
                    rows = lagtest.read_csv(os.path.join(tmp, "modes_%s.csv" % method))
                    worst = lagtest.worst(lagtest.err(r[c], want) for r in rows
                                          for c, want in modes_exact(r["t"]).items())
                    end = 2.0 if method == "rk1imp" else 10.0
                    if len(rows) != int(round(end / 0.1)) + 1 or rows[-1]["t"] != end:
                        why.append("%d rows, last t %g" % (len(rows), rows[-1]["t"] if rows else -1))
                except (OSError, ValueError) as exc:
                    why.append(repr(exc))
                if not worst <= limit:
                    why.append("largest deviation from the normal modes %.3g (limit %g)" % (worst, limit))
            print(("ok" if not why else "not ok") + " %d - %s, Jacobian from M a = f: five coupled oscillators "
                  "follow their normal modes cos(t sqrt(k/(m+c))), cos(t sqrt(k/m)) (%.1e <= %g)"
                  % (n, method, worst, limit))
            for w in why:
                print("# " + w)

        out = subprocess.run([lag, "run", "-o", tmp, os.path.join(srcdir, "tests", "sim", "implicit.lag")],
                             capture_output=True, text=True)
        ref, ref_error = None, None
        if out.returncode == 0:
            try:
                ref = lagtest.read_csv(os.path.join(tmp, "tp_rk8pd.csv"))
            except (OSError, ValueError) as exc:
                ref_error = "rk8pd reference: %r" % exc
        cols = ["a1", "a2", "a3", "a1'", "a2'", "a3'"]
        for method, limit in LIMITS.items():
            n += 1
            why, worst = [], math.inf
            if out.returncode != 0:
                why.append("exit %d: %s" % (out.returncode, out.stderr.strip()))
            elif ref is None:
                why.append(ref_error)
            else:
                try:
                    rows = lagtest.read_csv(os.path.join(tmp, "tp_%s.csv" % method))
                    worst = lagtest.worst(lagtest.err(a[c], b[c]) for a, b in zip(rows, ref) for c in cols)
                    if len(rows) != len(ref) or len(rows) != 21:
                        why.append("%d rows, rk8pd %d, expected 21" % (len(rows), len(ref)))
                except (OSError, ValueError) as exc:
                    why.append(repr(exc))
                if not worst <= limit:
                    why.append("largest difference from rk8pd %.3g (limit %g)" % (worst, limit))
            print(("ok" if not why else "not ok") + " %d - %s with the exact Jacobian agrees with rk8pd on a triple "
                  "pendulum (%.1e)" % (n, method, worst))
            for w in why:
                print("# " + w)

        n += 1
        ir = subprocess.run([lag, "ir", modes], capture_output=True, text=True)
        rhs = ir.stdout.split("program Modes.energy")[0]
        good = ir.returncode == 0 and "program Modes.rhs" in rhs and " SOLVE " in rhs
        print(("ok" if good else "not ok") + " %d - the modes' rhs solves M a = f (no closed form): tests 1-5 use "
              "the Jacobian of lower_jacobian_solve" % n)
        if not good:
            print("# " + (ir.stdout[:600] + ir.stderr).replace("\n", "\n# "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
