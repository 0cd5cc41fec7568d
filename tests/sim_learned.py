#!/usr/bin/env python3
"""tests/sim_learned.py — simulating learned systems (nets in L or accel) (TAP).

Whatever the weights, the Euler-Lagrange flow of a Lagrangian conserves its
energy E = q'.dL/dq' - L when L has no explicit t: a learned L (a pure net
and a hybrid with a kinetic prior) must keep the E column constant, also in
an ensemble (batched network evaluation).  Initial weights are reproducible
(the same file gives the same numbers twice) and depend on the init scheme;
an accel system with a two-output relu net (the black-box baseline) runs;
--native compiles every one of these programs (no warning) and writes the
same bytes as the VM.

Weights files are written here by an independent implementation of the
documented .lagw layout: a net V(x) = 2 relu2(x) + 2 relu2(-x) = 2 x^2 set by
hand makes L = x'^2/2 - V(x) the oscillator x = cos 2t; a flipped byte, a
file that is not a weights file and a missing file are I/O errors (exit 4,
located); weights of the wrong shape are an input error (exit 1).

Environment: LAG (the program).
"""
import math
import os
import subprocess
import sys
import tempfile

import lagtest

SPRING = """
system Spring {
    coord x
    net V = mlp(in = 1, hidden = [%d], out = 1, activation = relu2, weights = "spring.lagw")
    L = 0.5*x'^2 - V(x)
}
simulate Spring {
    time 0 .. 5
    every 0.25
    init x = 1
    method rk8pd, tol 1e-12
    output "spring.csv"
}
"""


lagw = lagtest.lagw

SOURCE = """
system Pure {
    coord x
    net f = mlp(in = 2, hidden = [16, 16], out = 1, activation = softplus, init = %(init)s)
    L = f(x, x') + 0.5*x'^2
}
system Hybrid {
    coord t1, t2
    net g = mlp(in = 4, hidden = [32, 32], out = 1)
    L = g(cos(t1), sin(t1), t1', t2') + 5*(t1'^2 + t2'^2)
}
system Baseline {
    coord t1, t2
    net h = mlp(in = 4, hidden = [16], out = 2, activation = relu)
    let a1, a2 = h(t1, t2, t1', t2')
    accel t1, t2 = a1, a2
}
simulate Pure {
    time 0 .. 5
    every 0.05
    init x = 0.3, x' = 0.1
    output "pure.csv"
}
simulate Hybrid {
    time 0 .. 5
    every 0.05
    init t1 = 0.5, t2 = -0.3, t1' = 0, t2' = 0.4
    output "hybrid.csv"
}
simulate Hybrid {
    time 0 .. 2
    every 0.1
    samples 20
    seed 7
    init t1 = uniform(0, 1), t2 = uniform(-1, 1), t1' = normal(0, 0.3), t2' = 0
    output "ensemble.csv"
}
simulate Baseline {
    time 0 .. 2
    every 0.5
    init t1 = 0.5, t2 = -0.3, t1' = 0, t2' = 0.1
    output "baseline.csv"
}
"""


def run(lag, tmp, text, *args):
    path = os.path.join(tmp, "learned.lag")
    with open(path, "w") as f:
        f.write(text)
    return subprocess.run([lag, "run", *args, path], capture_output=True, text=True, cwd=tmp)


def read(tmp, name):
    with open(os.path.join(tmp, name), "rb") as f:
        return f.read()


def energy_drift(rows):
    """The largest relative change of E along each trajectory (inf for a NaN)."""
    worst = 0.0
    first = {}
    for r in rows:
        k = r.get("traj", 0)
        e = r["E"]
        e0 = first.setdefault(k, e)
        worst = lagtest.worst([abs(e - e0) / (1 + abs(e0))], worst)
    return worst


def least_motion(rows, coord):
    """The smallest, over the trajectories, of the largest |q(t) - q(0)|: a
    run that never moves conserves its energy too."""
    start, moved = {}, {}
    for r in rows:
        k = r.get("traj", 0)
        q0 = start.setdefault(k, r[coord])
        moved[k] = lagtest.worst([abs(r[coord] - q0)], moved.get(k, 0.0))
    return min(moved.values()) if moved else 0.0


def main():
    lag = os.path.abspath(lagtest.program()[0])
    print("1..11")
    n = 0

    def ok(cond, msg, why=""):
        nonlocal n
        n += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (n, msg))
        if not cond and why:
            print("# " + why.replace("\n", "\n# "))

    with tempfile.TemporaryDirectory() as tmp:
        r = run(lag, tmp, SOURCE % {"init": "lnn"})
        ran = r.returncode == 0
        ok(ran, "four learned-system jobs run", "exit %d: %s" % (r.returncode, r.stderr))
        drift, motion = {}, {}
        for name, coord, nrows in (("pure.csv", "x", 101), ("hybrid.csv", "t1", 101), ("ensemble.csv", "t1", 420)):
            try:
                rows = lagtest.read_csv(os.path.join(tmp, name)) if ran else []
            except (OSError, ValueError) as exc:
                rows = []
                drift[name + " " + repr(exc)] = math.inf
            drift[name] = energy_drift(rows) if len(rows) == nrows else math.inf
            motion[name] = least_motion(rows, coord)
        ok(all(d < 1e-8 for d in drift.values()) and all(m > 1e-2 for m in motion.values()),
           "E = q'.dL/dq' - L of a net Lagrangian is conserved (pure, hybrid, 20-trajectory ensemble) "
           "along trajectories that move (every one by more than 0.01)",
           "drift %r, least motion %r" % (drift, motion))
        try:
            base = lagtest.read_csv(os.path.join(tmp, "baseline.csv")) if ran else []
        except (OSError, ValueError) as exc:  # a NaN fails here
            base = []
        ok(len(base) == 5 and base[0]["t1"] == 0.5 and "E" not in base[0],
           "the accel baseline with a two-output relu net runs (5 finite rows, no E column)",
           repr(base[:2]))
        first = {k: read(tmp, k) for k in ("pure.csv", "hybrid.csv")} if ran else {}

        r2 = run(lag, tmp, SOURCE % {"init": "lnn"})
        ok(r2.returncode == 0 and all(read(tmp, k) == v for k, v in first.items()) and first,
           "initial weights are reproducible: a second run writes the same bytes")

        r3 = run(lag, tmp, SOURCE % {"init": "xavier"})
        ok(r3.returncode == 0 and first and read(tmp, "pure.csv") != first["pure.csv"] and
           read(tmp, "hybrid.csv") == first["hybrid.csv"],
           "init = xavier changes the net it is given, and only that one")

        os.environ["LAG_CACHE"] = os.path.join(tmp, "cache")
        r4 = run(lag, tmp, SOURCE % {"init": "lnn"}, "--native")
        ok(r4.returncode == 0 and "warning" not in r4.stderr and first and
           all(read(tmp, k) == v for k, v in first.items()),
           "--native compiles the learned programs (pure, hybrid, its ensemble, the relu accel net) and writes "
           "the VM's bytes", r4.stderr)

        good = lagw([("W1", 2, 1, [1, -1]), ("b1", 2, 1, [0, 0]), ("W2", 1, 2, [2, 2]), ("b2", 1, 1, [0])])
        wpath = os.path.join(tmp, "spring.lagw")
        with open(wpath, "wb") as f:
            f.write(good)
        r5 = run(lag, tmp, SPRING % 2)
        err = errE = math.inf
        if r5.returncode == 0:
            rows = lagtest.read_csv(os.path.join(tmp, "spring.csv"))
            if len(rows) == 21:
                err = lagtest.worst(lagtest.err(r["x"], math.cos(2 * r["t"])) for r in rows)
                # E = x'^2/2 + 2 x^2 = 2 along x = cos 2t, x' = -2 sin 2t
                errE = lagtest.worst(lagtest.err(r["E"], 0.5 * (2 * math.sin(2 * r["t"])) ** 2 +
                                                 2 * math.cos(2 * r["t"]) ** 2) for r in rows)
        ok(err < 1e-9 and errE < 1e-9, "hand-set weights (V = 2x^2 as a relu2 net) give the oscillator "
           "x = cos 2t (max error %.1e) and its energy E = 2 (%.1e)" % (err, errE), r5.stderr)

        bad = bytearray(good)
        bad[40] ^= 1
        cases = [(bytes(bad), "checksum does not match"), (b"hello\n", "not a lag weights file"),
                 (None, "cannot read weights file")]
        for k, (content, words) in enumerate(cases):
            if content is None:
                os.remove(wpath)
            else:
                with open(wpath, "wb") as f:
                    f.write(content)
            r6 = run(lag, tmp, SPRING % 2)
            ok(r6.returncode == 4 and words in r6.stderr and "learned.lag:4:" in r6.stderr,
               "weights file %s: exit 4, located, says '%s'" % (["with a flipped byte", "of text",
                                                                 "missing"][k], words),
               "exit %d: %s" % (r6.returncode, r6.stderr))
        with open(wpath, "wb") as f:
            f.write(good)
        r7 = run(lag, tmp, SPRING % 3)
        ok(r7.returncode == 1 and "needs W1 (3x1)" in r7.stderr,
           "weights of the wrong shape: exit 1 naming the tensor and the shape the net needs",
           "exit %d: %s" % (r7.returncode, r7.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
