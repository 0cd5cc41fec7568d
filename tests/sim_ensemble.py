#!/usr/bin/env python3
"""tests/sim_ensemble.py — ensembles of trajectories (TAP).

50 harmonic oscillators (m = 1, k = 4) with x0 ~ U(-1, 1), v0 ~ N(0, 0.5),
seed 3: every trajectory follows x0 cos 2t + v0/2 sin 2t (to 1e-8); the
initial states are spread as drawn (inside the uniform range, not all
equal); the same seed gives the same file; another seed a different one.

Environment: LAG (the program), srcdir (the source tree).
"""
import math
import os
import subprocess
import sys
import tempfile

import lagtest


def run(lag, path, tmp, extra=()):
    out = subprocess.run([lag, "run", "-o", tmp, *extra, path], capture_output=True, text=True)
    return out.returncode, out.stderr


def main():
    lag, srcdir = lagtest.program()
    model = os.path.join(srcdir, "tests", "sim", "ensemble.lag")
    print("1..3")
    with tempfile.TemporaryDirectory() as tmp:
        rc, err = run(lag, model, tmp)
        why = []
        rows = []
        if rc != 0:
            why.append("exit %d: %s" % (rc, err.strip()))
        else:
            try:
                rows = lagtest.read_csv(os.path.join(tmp, "ensemble.csv"))  # a NaN fails here
            except (OSError, ValueError) as exc:
                why.append(repr(exc))
            if not rows or list(rows[0].keys()) != ["t", "traj", "x", "x'", "E"]:
                why.append("header %s" % (list(rows[0].keys()) if rows else None))
                rows = []
            start = {}
            for r in rows:
                if r["t"] == 0:
                    start[int(r["traj"])] = (r["x"], r["x'"])
            if sorted(start) != list(range(50)):
                why.append("trajectories at t = 0: %s" % sorted(start)[:5])
                rows = []
            worst = math.inf
            if rows:
                worst = lagtest.worst(lagtest.err(r["x"], start[int(r["traj"])][0] * math.cos(2 * r["t"]) +
                                                  start[int(r["traj"])][1] / 2 * math.sin(2 * r["t"]))
                                      for r in rows)
                per = [len([r for r in rows if r["traj"] == k]) for k in range(50)]
                if len(set(per)) != 1 or per[0] < 10:
                    why.append("rows per trajectory: %s" % sorted(set(per)))
            if not worst <= 1e-8:
                why.append("largest deviation from the closed form %.3g" % worst)
        print(("ok" if not why else "not ok") + " 1 - 50 oscillators follow their closed forms")
        for w in why[:5]:
            print("# " + w)
        why = []
        if rows:
            xs = [v[0] for v in start.values()]
            vs = [v[1] for v in start.values()]
            if not (all(-1 <= x <= 1 for x in xs) and max(xs) - min(xs) > 1 and
                    0.2 < (sum(v * v for v in vs) / len(vs)) ** 0.5 < 1):
                why.append("initial states not spread as drawn: x in [%g, %g], rms v %g"
                           % (min(xs), max(xs), (sum(v * v for v in vs) / len(vs)) ** 0.5))
        print(("ok" if not why else "not ok") + " 2 - initial states drawn from uniform(-1, 1) and normal(0, 0.5)")
        for w in why:
            print("# " + w)
        first = open(os.path.join(tmp, "ensemble.csv")).read() if rows else ""
        rc2, _ = run(lag, model, tmp)
        again = open(os.path.join(tmp, "ensemble.csv")).read()
        other = os.path.join(tmp, "other.lag")
        open(other, "w").write(open(model).read().replace("seed 3", "seed 4"))
        rc3, _ = run(lag, other, tmp)
        different = open(os.path.join(tmp, "ensemble.csv")).read()
        ok = rc2 == 0 and rc3 == 0 and first == again and first != different
        print(("ok" if ok else "not ok") + " 3 - the seed makes the run reproducible; another seed changes it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
