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
4. An ensemble of 4 double pendulums (random initial angles and velocities):
   every trajectory equals, to the bit, a single run from its initial row.

Environment: LAG (the program), srcdir (the source tree).
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import lagtest


def run(lag, path, tmp):
    out = subprocess.run([lag, "run", "--json", "-o", tmp, path], capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


def main():
    lag, srcdir = lagtest.program()
    print("1..4")
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
        # 4. an ensemble, trajectory by trajectory against single runs
        system = ("system DP {\n    coord t1, t2\n"
                  "    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 19.62*cos(t1) + 9.81*cos(t2)\n}\n")
        ens = os.path.join(tmp, "var_ens.lag")
        with open(ens, "w") as f:
            f.write(system + "simulate DP { time 0 .. 2, every 0.01, method variational, samples 4, seed 3,\n"
                    "    init t1 = uniform(0, 1.5), t2 = 0.5, t1' = normal(0, 1), output \"ens.csv\" }\n")
        rc, out, err = run(lag, ens, tmp)
        why = [] if rc == 0 else ["exit %d: %s" % (rc, err.strip())]
        rows = list(csv.DictReader(open(os.path.join(tmp, "ens.csv")))) if rc == 0 else []
        cols = ["t", "t1", "t2", "t1'", "t2'", "E"]
        for k in range(4 if rows else 0):
            mine = [[r[c] for c in cols] for r in rows if r["traj"] == str(k)]
            one = os.path.join(tmp, "var_one.lag")
            with open(one, "w") as f:
                f.write(system + "simulate DP { time 0 .. 2, every 0.01, method variational,\n"
                        "    init t1 = %s, t2 = %s, t1' = %s, t2' = %s, output \"one.csv\" }\n"
                        % tuple(mine[0][1:5]))
            rc1, _, err1 = run(lag, one, tmp)
            single = [[r[c] for c in cols] for r in csv.DictReader(open(os.path.join(tmp, "one.csv")))] \
                if rc1 == 0 else []
            if len(mine) != 201 or mine != single:
                why.append("trajectory %d differs from its single run (%d rows vs %d) %s"
                           % (k, len(mine), len(single), err1.strip()))
        print(("ok" if not why else "not ok") + " 4 - a variational ensemble: each trajectory equals its single run bit for bit")
        for w in why:
            print("# " + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
