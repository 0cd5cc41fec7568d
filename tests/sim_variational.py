#!/usr/bin/env python3
"""tests/sim_variational.py — the variational integrator (TAP).

1. A nonlinear pendulum (th0 = 2.5 rad), h = 0.05, 10^5 steps: the energy
   error stays bounded with no secular drift (the largest error over the
   last tenth of the run is not larger than over the first tenth, times 1.5)
   and small (relative 1e-2 at this step), while the run really is long;
   and it swings as the closed form says (a run that never moves would
   conserve everything): the period 4 K(sin(th0/2))/sqrt(g/l), K by the
   arithmetic-geometric mean, from the downward zero crossings over the
   whole run to 2e-3 relative (6.3e-4 measured: the O(h^2) phase error),
   the first crossing at a quarter period, the amplitude +-th0 to 1e-3.
2. An eccentric Kepler orbit, h = 0.002, 10^5 steps: the angular momentum
   m r^2 phi' (a momentum map of the midpoint discrete Lagrangian) is
   conserved to 1e-10 relative; the energy error stays bounded; and the
   orbit is the Kepler ellipse of its initial state: l = 1.2, E = -0.28,
   a = 1/0.56, e = 0.44, r between a(1 - e) = 1 and P/(1 - e) = 2.5714...
   (to 1e-5), r = P/(1 + e cos phi) (to 1e-4, 7.5e-6 measured), the period
   2 pi a^1.5 between periapses (to 1e-4).
3. A damped oscillator (Rayleigh dissipation, discrete Lagrange-d'Alembert),
   h = 1e-3: the closed form x = e^{-gt}(cos wt + g/w sin wt) to 1e-5
   (second order: the error is about h^2).
4. An ensemble of 4 double pendulums (random initial angles and velocities):
   every trajectory equals, to the bit, a single run from its initial row.

Environment: LAG (the program), srcdir (the source tree).
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

import lagtest


def run(lag, path, tmp):
    out = subprocess.run([lag, "run", "--json", "-o", tmp, path], capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


def agm(a, b):
    """The arithmetic-geometric mean."""
    for _ in range(60):
        if abs(a - b) <= 1e-16 * a:
            break
        a, b = (a + b) / 2, math.sqrt(a * b)
    return a


def crossings(ts, xs):
    """Times where x goes from > 0 to <= 0, interpolated linearly."""
    return [t0 + (t1 - t0) * a / (a - b) for t0, t1, a, b in zip(ts, ts[1:], xs, xs[1:]) if a > 0 >= b]


def read_rows(path, why):
    """lagtest.read_csv, or None with the reason in why (a NaN is a failure)."""
    try:
        return lagtest.read_csv(path)
    except (OSError, ValueError) as exc:
        why.append("%s: %s" % (os.path.basename(path), exc))
        return None


def main():
    lag, srcdir = lagtest.program()
    print("1..4")
    with tempfile.TemporaryDirectory() as tmp:
        # 1. pendulum
        rc, out, err = run(lag, os.path.join(srcdir, "tests", "sim", "variational_pendulum.lag"), tmp)
        why = []
        if rc != 0:
            why.append("exit %d: %s" % (rc, err.strip()))
        elif (rows := read_rows(os.path.join(tmp, "var_pendulum.csv"), why)) is None:
            pass
        else:
            E = [r["E"] for r in rows]
            steps = json.loads(out.splitlines()[0])["steps"]
            n = len(E)
            e0 = E[0]
            first = lagtest.worst(abs(e - e0) for e in E[1:n // 10]) / abs(e0)
            last = lagtest.worst(abs(e - e0) for e in E[-(n // 10):]) / abs(e0)
            if steps != 100000 or n != 100001:
                why.append("expected 10^5 steps and 100001 rows, got %d and %d" % (steps, n))
            # the motion: th(t) of the pendulum from th0 = 2.5 at rest
            k = math.sin(2.5 / 2)
            period = 4 * (math.pi / (2 * agm(1.0, math.sqrt(1 - k * k)))) / math.sqrt(9.81)
            ts, th = [r["t"] for r in rows], [r["th"] for r in rows]
            cr = crossings(ts, th)
            if len(cr) < 1500:
                why.append("%d downward zero crossings in 5000 s, expected %d" % (len(cr), int(5000 / period)))
            else:
                mean = (cr[-1] - cr[0]) / (len(cr) - 1)
                if not lagtest.close(mean, period, 0, 2e-3) or not lagtest.close(cr[0], period / 4, 0, 2e-3):
                    why.append("period %.9g (closed form %.9g), first crossing %.6g (closed form %.6g)"
                               % (mean, period, cr[0], period / 4))
                notes = "period %.6g vs closed form %.6g" % (mean, period)
            tail = th[-(n // 10):]
            if not (lagtest.close(max(tail), 2.5, 1e-3) and lagtest.close(min(tail), -2.5, 1e-3)):
                why.append("amplitude over the last tenth [%.6g, %.6g], expected +-2.5" % (min(tail), max(tail)))
            if not last <= 1.5 * first:
                why.append("energy error grows: first tenth %.3g, last tenth %.3g" % (first, last))
            if not last < 1e-2:
                why.append("energy error %.3g too large" % last)
        print(("ok" if not why else "not ok") + " 1 - variational pendulum, 10^5 steps: energy bounded, no drift; "
              "it swings with the closed-form period and amplitude"
              + ("" if why else " (relative error %.2e first tenth, %.2e last tenth; %s)" % (first, last, notes)))
        for w in why:
            print("# " + w)
        # 2. Kepler
        rc, out, err = run(lag, os.path.join(srcdir, "tests", "sim", "variational_kepler.lag"), tmp)
        why = []
        if rc != 0:
            why.append("exit %d: %s" % (rc, err.strip()))
        elif (rows := read_rows(os.path.join(tmp, "var_kepler.csv"), why)) is None:
            pass
        else:
            Lz = [r["r"] ** 2 * r["phi'"] for r in rows]
            E = [r["E"] for r in rows]
            dL = lagtest.worst(abs(x - Lz[0]) for x in Lz) / abs(Lz[0])
            n = len(E)
            first = lagtest.worst(abs(e - E[0]) for e in E[1:n // 10]) / abs(E[0])
            last = lagtest.worst(abs(e - E[0]) for e in E[-(n // 10):]) / abs(E[0])
            # the Kepler ellipse of r = 1, r' = 0, phi' = 1.2 (m = mu = 1)
            l, En = 1.2, 0.5 * 1.2 ** 2 - 1
            a, P = -1 / (2 * En), l * l
            e = math.sqrt(1 + 2 * En * l * l)
            rs = [r["r"] for r in rows]
            if not (lagtest.close(min(rs), P / (1 + e), 0, 1e-5) and lagtest.close(max(rs), P / (1 - e), 0, 1e-5)):
                why.append("r in [%.9g, %.9g], the ellipse: [%.9g, %.9g]" % (min(rs), max(rs), P / (1 + e), P / (1 - e)))
            orbit = lagtest.worst(lagtest.err(r["r"], P / (1 + e * math.cos(r["phi"]))) / r["r"] for r in rows)
            if not orbit <= 1e-4:
                why.append("r = P/(1 + e cos phi) off by %.3g relative" % orbit)
            peri = [rows[i]["t"] for i in range(1, n - 1) if rs[i] < rs[i - 1] and rs[i] <= rs[i + 1]]
            period = 2 * math.pi * a ** 1.5
            if len(peri) < 12 or not lagtest.close((peri[-1] - peri[0]) / (len(peri) - 1), period, 0, 1e-4):
                why.append("%d periapses, mean period %s, Kepler's third law %.9g"
                           % (len(peri), (peri[-1] - peri[0]) / (len(peri) - 1) if len(peri) > 1 else None, period))
            if not dL < 1e-10 or not first > 0:
                why.append("angular momentum changes by %.3g (relative)" % dL)
            if not last <= 1.5 * first:
                why.append("energy error grows: first tenth %.3g, last tenth %.3g" % (first, last))
        print(("ok" if not why else "not ok") + " 2 - variational Kepler: angular momentum conserved, energy bounded; "
              "the orbit is the ellipse of its initial state, with Kepler's period"
              + ("" if why else " (dL/L %.1e, energy %.1e / %.1e, r(phi) %.1e)" % (dL, first, last, orbit)))
        for w in why:
            print("# " + w)
        # 3. damped
        rc, out, err = run(lag, os.path.join(srcdir, "tests", "sim", "variational_damped.lag"), tmp)
        why = []
        worst = float("inf")
        if rc != 0:
            why.append("exit %d: %s" % (rc, err.strip()))
        else:
            m, k, c = 1.0, 4.0, 0.3
            g = c / (2 * m)
            w = math.sqrt(k / m - g * g)
            rows = read_rows(os.path.join(tmp, "var_damped.csv"), why) or []
            worst = lagtest.worst(lagtest.err(r["x"], math.exp(-g * r["t"]) * (math.cos(w * r["t"]) +
                                                                               g / w * math.sin(w * r["t"])))
                                  for r in rows) if len(rows) > 100 else math.inf
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
            try:
                [lagtest.num(x) for row in mine for x in row]  # equal NaNs are not a pass
            except ValueError as exc:
                why.append("trajectory %d: %s" % (k, exc))
            if len(mine) != 201 or mine != single:
                why.append("trajectory %d differs from its single run (%d rows vs %d) %s"
                           % (k, len(mine), len(single), err1.strip()))
        print(("ok" if not why else "not ok") + " 4 - a variational ensemble: each trajectory equals its single run bit for bit")
        for w in why:
            print("# " + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
