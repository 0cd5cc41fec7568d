#!/usr/bin/env python3
"""tests/symbolic_params.py — parameters without values, `param m, k` (TAP).

1. `lag el` derives the equations with the parameters as symbols
   (x'' = -k*x/m), and a symmetry is checked with them drawn at random
   (a rotation of a 2-D oscillator with symbolic m, k: invariant).
2. `lag run` takes the values from the job's `param` or from --set, and
   the motion is the closed form x = cos(sqrt(k/m) t) to 1e-9.
3. Missing values are one located error per system, naming every missing
   parameter, before any job runs (no output written), exit 1; a `data
   from` block's system is checked against the block's own `param`.
4. Located errors: an unknown without a starting value, a problem's
   parameter without a value, a constant that uses a symbolic parameter.
"""
import math
import os
import tempfile

from lagtest import program, read_csv, err, worst, run_json, run_lag, report, finish

LAG, SRCDIR = program()

OSC = """system Osc {
    param m, k
    coord x
    L = 0.5*m*x'^2 - 0.5*k*x^2
}
"""


def main():
    import subprocess
    with tempfile.TemporaryDirectory() as tmp:
        # 1. lag el with symbols
        path = os.path.join(tmp, "osc.lag")
        rot = """system Rot {
    param m, k
    coord x, y
    L = 0.5*m*(x'^2 + y'^2) - 0.5*k*(x^2 + y^2)^2
    symmetry turn: x -> -y, y -> x
}
"""
        with open(path, "w") as f:
            f.write(OSC + rot)
        p = subprocess.run([LAG, "el", path, "Osc"], capture_output=True, text=True)
        report(p.returncode == 0 and "x'' = -k*x/m" in p.stdout, "lag el with symbolic m, k: x'' = -k*x/m",
               p.stdout + p.stderr)
        p = subprocess.run([LAG, "el", path, "Rot"], capture_output=True, text=True)
        report(p.returncode == 0 and "turn" in p.stdout and "not invariant" not in p.stdout
               and "invariant" in p.stdout, "a symmetry checked with symbolic parameters: invariant",
               p.stdout + p.stderr)

        # 2. values from the job and from --set
        job = 'simulate Osc { init x = 1; time 0 .. 2, every 0.1; tol 1e-12; param m = 2, k = 3; output "a.csv" }\n'
        p, _ = run_json(LAG, tmp, "a.lag", OSC + job)
        rows = read_csv(os.path.join(tmp, "a.csv")) if p.returncode == 0 else []
        e = worst((err(r["x"], math.cos(math.sqrt(1.5) * r["t"])) for r in rows), 0 if rows else math.inf)
        report(e <= 1e-9, "values from the job's param: x = cos(sqrt(k/m) t) to %.2g" % e, p.stderr)
        job = 'simulate Osc { init x = 1; time 0 .. 2, every 0.1; tol 1e-12; param m = 2; output "b.csv" }\n'
        p, _ = run_json(LAG, tmp, "b.lag", OSC + job, "--set", "Osc.k=8")
        rows = read_csv(os.path.join(tmp, "b.csv")) if p.returncode == 0 else []
        e = worst((err(r["x"], math.cos(2 * r["t"])) for r in rows), 0 if rows else math.inf)
        report(e <= 1e-9, "k from --set: x = cos(2 t) to %.2g" % e, p.stderr)

        # 3. missing values: before any job runs
        text = OSC + ('simulate Osc { init x = 1; time 0 .. 1; output "first.csv" }\n'
                      'simulate Osc { init x = 1; time 0 .. 1; param k = 1 }\n')
        p = run_lag(LAG, tmp, "missing", text)
        lines = [os.path.basename(l) for l in p.stderr.splitlines() if "error" in l]
        want1 = ("missing.lag:6:10: error: simulate Osc: 'Osc' has parameters without values (m, k): give them in "
                 "the job, 'param m = ..., k = ...', or on the command line, --set Osc.m=...")
        want2 = ("missing.lag:7:10: error: simulate Osc: 'Osc' has a parameter without a value (m): give it in the "
                 "job, 'param m = ...', or on the command line, --set Osc.m=...")
        report(p.returncode == 1 and lines == [want1, want2] and not os.path.exists(os.path.join(tmp, "first.csv")),
               "missing values: one located error per system naming them, before any job runs", p.stderr)
        text = OSC.replace("Osc", "Src") + """system Model {
    coord x
    net f = mlp(in = 2, hidden = [4], out = 1)
    L = f(x, x') + 0.5*x'^2
}
train Model { data from Src { init x = uniform(-1, 1), param m = 1 }, steps 1 }
"""
        p = run_lag(LAG, tmp, "data", text)
        report(p.returncode == 1 and "data.lag:11:25: error: train Model: 'Src' has a parameter without a value (k): "
               "give it in the data block, 'param k = ...'" in p.stderr, "a data block's system: checked against the block's param", p.stderr)

        # 4. located errors
        def bad(name, text, want):
            p = run_lag(LAG, tmp, name, text)
            first = p.stderr.splitlines()[0] if p.stderr else ""
            report(p.returncode == 1 and want in first, "%s: %s" % (name, want), p.stderr)

        bad("unknown", "system A {\n    coord q\n    unknown w\n    L = 0.5*q'^2 - w*q^2\n}\n",
            "unknown.lag:3:13: error: an unknown needs the value its fit starts from, as in 'unknown w = 1'")
        bad("problem", "problem P {\n    param g\n    domain x = 0 .. 1\n    field y\n    fix y(0) = 0, y(1) = 0\n"
            "    minimize integral(y'^2 + g*y)\n}\n",
            "problem.lag:2:11: error: a problem's parameter needs a value ('param g = ...')")
        bad("constant", "system A {\n    param m, k = 2*m\n    coord q\n    L = 0.5*m*q'^2 - k*q^2\n}\n",
            "constant.lag:2:20: error: parameter 'm' is symbolic (declared without a value), so a constant cannot "
            "use it")
    finish()


main()
