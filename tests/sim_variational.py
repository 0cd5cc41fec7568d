#!/usr/bin/env python3
"""tests/sim_variational.py — the variational integrator (TAP).

1. A nonlinear pendulum (th0 = 2.5 rad), h = 0.05, 10^5 steps: the energy
   error stays bounded with no secular drift (the largest error over the
   last tenth of the run is not larger than over the first tenth, times 1.5)
   and small (relative 1e-2 at this step), while the run really is long.
2. An eccentric Kepler orbit, h = 0.002, 10^5 steps: the angular momentum
   m r^2 phi' (a momentum map of the midpoint discrete Lagrangian) is
   conserved to 1e-10 relative; the energy error stays bounded.
3. A damped oscillator (Rayleigh dissipation, discrete Lagrange-d'Alembert),
   h = 1e-3: the closed form x = e^{-gt}(cos wt + g/w sin wt) to 1e-5
   (second order: the error is about h^2).

Environment: LAG (the program), srcdir (the source tree).
"""
import csv
import json
import os
import subprocess
import sys
import tempfile


def run(lag, path, tmp):
    out = subprocess.run([lag, "run", "--json", "-o", tmp, path], capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


def main():
    lag = os.environ.get("LAG", "./lag")
    srcdir = os.path.abspath(os.environ.get("srcdir", "."))
    if not os.access(lag, os.X_OK):
        print("Bail out! %s not built" % lag)
        return 1
    print("1..3")
    with tempfile.TemporaryDirectory() as tmp:
        # 1. pendulum
        rc, out, err = run(lag, os.path.join(srcdir, "tests", "sim", "variational_pendulum.lag"), tmp)
        why = []
        if rc != 0:
            why.append("exit %d: %s" % (rc, err.strip()))
        else:
            rows = list(csv.DictReader(open(os.path.join(tmp, "var_pendulum.csv"))))
            E = [float(r["E"]) for r in rows]
            steps = json.loads(out.splitlines()[0])["steps"]
            n = len(E)
            e0 = E[0]
            first = max(abs(e - e0) for e in E[1:n // 10]) / abs(e0)
            last = max(abs(e - e0) for e in E[-(n // 10):]) / abs(e0)
            if steps != 100000 or n != 100001:
                why.append("expected 10^5 steps and 100001 rows, got %d and %d" % (steps, n))
            if not last <= 1.5 * first:
                why.append("energy error grows: first tenth %.3g, last tenth %.3g" % (first, last))
            if not last < 1e-2:
                why.append("energy error %.3g too large" % last)
        print(("ok" if not why else "not ok") + " 1 - variational pendulum, 10^5 steps: energy bounded, no drift"
              + ("" if why else " (relative error %.2e first tenth, %.2e last tenth)" % (first, last)))
        for w in why:
            print("# " + w)
        # 2. Kepler
        rc, out, err = run(lag, os.path.join(srcdir, "tests", "sim", "variational_kepler.lag"), tmp)
        why = []
        if rc != 0:
            why.append("exit %d: %s" % (rc, err.strip()))
        else:
            rows = list(csv.DictReader(open(os.path.join(tmp, "var_kepler.csv"))))
            Lz = [float(r["r"]) ** 2 * float(r["phi'"]) for r in rows]
            E = [float(r["E"]) for r in rows]
            dL = max(abs(x - Lz[0]) for x in Lz) / abs(Lz[0])
            n = len(E)
            first = max(abs(e - E[0]) for e in E[1:n // 10]) / abs(E[0])
            last = max(abs(e - E[0]) for e in E[-(n // 10):]) / abs(E[0])
            if not dL < 1e-10:
                why.append("angular momentum changes by %.3g (relative)" % dL)
            if not last <= 1.5 * first:
                why.append("energy error grows: first tenth %.3g, last tenth %.3g" % (first, last))
        print(("ok" if not why else "not ok") + " 2 - variational Kepler: angular momentum conserved, energy bounded"
              + ("" if why else " (dL/L %.1e, energy %.1e / %.1e)" % (dL, first, last)))
        for w in why:
            print("# " + w)
        # 3. damped
        rc, out, err = run(lag, os.path.join(srcdir, "tests", "sim", "variational_damped.lag"), tmp)
        why = []
        worst = float("inf")
        if rc != 0:
            why.append("exit %d: %s" % (rc, err.strip()))
        else:
            import math
            m, k, c = 1.0, 4.0, 0.3
            g = c / (2 * m)
            w = math.sqrt(k / m - g * g)
            worst = 0.0
            for r in csv.DictReader(open(os.path.join(tmp, "var_damped.csv"))):
                t = float(r["t"])
                x = math.exp(-g * t) * (math.cos(w * t) + g / w * math.sin(w * t))
                worst = max(worst, abs(float(r["x"]) - x))
            if not worst < 1e-5:
                why.append("largest error %.3g" % worst)
        print(("ok" if not why else "not ok") + " 3 - variational with dissipation follows the damped closed form"
              + ("" if why else " (%.1e)" % worst))
        for w in why:
            print("# " + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
