#!/usr/bin/env python3
"""tests/inputs.py — forcing signals: `input F(t) from "f.csv"` and
`input u(t) = expr` (TAP).

An undamped oscillator m x'' + k x = F(t) started at rest, driven by
F = A sin(W t), has the closed form
    x(t) = A/(m (w^2 - W^2)) (sin W t - (W/w) sin w t),  w^2 = k/m.
1. F from a CSV sampled every 1 ms, cubic spline: x within 1e-9 of the
   closed form over 8 s; the recorded F(t) and (F(t))' within 1e-9 of
   A sin W t and A W cos W t (the slope up to t = 7.5: at the last sample
   the natural spline's F'' = 0 end condition costs ~h F'').
2. The same with linear interpolation: x within 1e-6 (the polygon's error
   is h^2/8 |F''| ~ 1e-7 A).
3. `input u(t) = A*sin(W*t)`: x within 1e-10; u(t - 1) recorded is
   A sin(W (t - 1)).
4. An input in L (a time-dependent spring k (1 + G(t)) with G from data,
   linear) against the same system with G written as the piecewise-linear
   formula by hand: the same rows.
5. Outside the data: the default is an error (exit 3, a message naming
   the input, the time and the file); 'outside hold' holds the last value
   (x'' = F(t_end) beyond it, checked against the closed form of a
   constant force).
6. `lag el` prints an input as a function: f_x = F(t) - k*x; `lag el --lag`
   names the file and interpolation it stands for in a comment.
7. An expression input in an `action` (t read at each interval's
   midpoint): u(t - 1) gives the action the hand-written formula gives.
"""
import math
import os
import subprocess
import tempfile

from lagtest import program, read_csv, err, worst, run_json, report, finish

LAG, SRCDIR = program()
A, W, M, K = 0.5, 1.3, 1.0, 4.0
w = math.sqrt(K / M)


def closed(t):
    return A / (M * (w * w - W * W)) * (math.sin(W * t) - W / w * math.sin(w * t))


def write_csv(path, ts, cols):
    with open(path, "w") as f:
        f.write("t," + ",".join(cols) + "\n")
        for i, t in enumerate(ts):
            f.write("%.17g,%s\n" % (t, ",".join("%.17g" % cols[c][i] for c in cols)))


SYS = """system Osc {
    param m = 1, k = 4
    coord x
    INPUT
    L = 0.5*m*x'^2 - 0.5*k*x^2
    force x = F(t)
}
simulate Osc { time 0 .. 8, every 0.25; method rk8pd, tol 1e-12; record f = F(t), df = (F(t))'; output "OUT" }
"""


def run(tmp, name, text):
    p, _ = run_json(LAG, tmp, name + ".lag", text.replace("OUT", name + ".csv"))
    if p.returncode != 0:
        return None, p.stderr
    return read_csv(os.path.join(tmp, name + ".csv")), ""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ts = [i * 0.001 for i in range(8001)]
        write_csv(os.path.join(tmp, "force.csv"), ts, {"F": [A * math.sin(W * t) for t in ts]})
        for interp, tol in (("cubic", 1e-9), ("linear", 1e-6)):
            rows, why = run(tmp, "osc_" + interp,
                            SYS.replace("INPUT", 'input F(t) from "force.csv" { interpolation %s }' % interp))
            if rows:
                ex = worst(err(r["x"], closed(r["t"])) for r in rows)
                ef = worst(err(r["f"], A * math.sin(W * r["t"])) for r in rows)
                # away from the last sample: a natural spline has F'' = 0 at its ends, so
                # near t = 8 (where A W^2 sin(8 W) is not 0) its slope is off by ~h F''
                edf = worst(err(r["df"], A * W * math.cos(W * r["t"])) for r in rows if r["t"] <= 7.5)
                ok = ex <= tol and ef <= tol and (interp == "linear" or edf <= tol)
                report(ok, "a %s input from CSV drives the oscillator as the closed form (x %.2g, F %.2g, F' %.2g)"
                       % (interp, ex, ef, edf))
            else:
                report(False, "a %s input from CSV" % interp, why)

        rows, why = run(tmp, "osc_expr", SYS.replace("INPUT", "input F(t) = 0.5*sin(1.3*t)")
                        .replace("df = (F(t))'", "df = F(t - 1)"))
        if rows:
            ex = worst(err(r["x"], closed(r["t"])) for r in rows)
            ed = worst(err(r["df"], A * math.sin(W * (r["t"] - 1))) for r in rows)
            report(ex <= 1e-10 and ed <= 1e-14, "an expression input drives the oscillator as the closed form "
                   "(x %.2g; F(t - 1) %.2g)" % (ex, ed))
        else:
            report(False, "an expression input", why)

        # 4. an input inside L against its piecewise-linear formula by hand
        tg = [0, 1, 2.5, 4]
        g = [0.0, 0.3, -0.2, 0.1]
        write_csv(os.path.join(tmp, "g.csv"), tg, {"G": g})
        pieces = []
        for i in range(3):
            slope = (g[i + 1] - g[i]) / (tg[i + 1] - tg[i])
            pieces.append("(%.17g + %.17g*(t - %.17g))*(sign(t - %.17g) + 1)/2*(sign(%.17g - t) + 1)/2"
                          % (g[i], slope, tg[i], tg[i], tg[i + 1]))
        job = "simulate P { init x = 1; time 0.05 .. 2.45, every 0.2; tol 1e-12; output \"OUT\" }\n"
        data = """system P {
    param k = 3
    coord x
    input G(t) from "g.csv"
    L = 0.5*x'^2 - 0.5*k*(1 + G(t))*x^2
}
""" + job
        hand = """system P {
    param k = 3
    coord x
    let G = %s
    L = 0.5*x'^2 - 0.5*k*(1 + G)*x^2
}
""" % " + ".join(pieces[:2]) + job
        a, why_a = run(tmp, "in_L", data)
        b, why_b = run(tmp, "hand_L", hand)
        d = math.inf
        if a and b and len(a) == len(b):
            d = worst(err(ra[c], rb[c]) for ra, rb in zip(a, b) for c in rb)
        report(d <= 1e-9, "an input in L moves as its piecewise-linear formula written by hand (%.2g)" % d,
               why_a + why_b)

        # 5. outside the data
        short = """system S {
    coord x
    input F(t) from "g.csv" { column G OPT }
    L = 0.5*x'^2
    force x = F(t)
}
simulate S { time 0 .. 6, every 0.5; tol 1e-12; output "OUT" }
"""
        p, _ = run_json(LAG, tmp, "out_err.lag", short.replace(" OPT", "").replace("OUT", "out_err.csv"))
        report(p.returncode == 3 and "input F(t)" in p.stderr and "outside its data (0 .. 4 in g.csv)" in p.stderr
               and "integration failed at t = 4: an input was asked for its value outside its data" in p.stderr
               and "check the model" not in p.stderr,
               "past the data an input is an error by default: exit 3, naming the input, the time and the file, "
               "and the failure says why (not 'check the model')", p.stderr)
        rows, why = run(tmp, "out_hold", short.replace(" OPT", ", outside hold"))
        if rows:
            # beyond t = 4 the force is 0.1: x'' = 0.1 from the state at t = 4
            r4 = [r for r in rows if abs(r["t"] - 4) < 1e-12][0]
            e = [err(r["x"], r4["x"] + r4["x'"] * (r["t"] - 4) + 0.05 * (r["t"] - 4) ** 2)
                 for r in rows if r["t"] > 4]
            report(len(e) == 4 and worst(e) <= 1e-9, "'outside hold' holds the last value past the data (%.2g)"
                   % worst(e))
        else:
            report(False, "outside hold", why)

        # 7. an expression input in an action (the variational engine reads t at each
        # interval's midpoint): u(t - 1) as the formula written by hand
        act = """system S {
    param k = 3
    coord x
    input u(t) = 0.2*t
    L = 0.5*x'^2 - 0.5*k*x^2 + u(t - 1)*x
}
system H {
    param k = 3
    coord x
    L = 0.5*x'^2 - 0.5*k*x^2 + 0.2*(t - 1)*x
}
action S { from 0: x = 0, to 1: x = 0.5 }
action H { from 0: x = 0, to 1: x = 0.5 }
"""
        with open(os.path.join(tmp, "act.lag"), "w") as f:
            f.write(act)
        p = subprocess.run([os.path.abspath(LAG), "run", "act.lag"], capture_output=True, text=True, timeout=120,
                           cwd=tmp)
        vals = [ln.split(" S = ")[1].split(",")[0] for ln in p.stderr.splitlines() if " S = " in ln]
        report(p.returncode == 0 and len(vals) == 2 and vals[0] == vals[1],
               "an expression input in an action: the action of u(t - 1) equals the hand-written one (%s)"
               % ", ".join(vals), p.stderr)

        # 6. lag el prints inputs as functions of t
        path = os.path.join(tmp, "osc_cubic.lag")
        r = subprocess.run([os.path.abspath(LAG), "el", path, "Osc"], capture_output=True, text=True, timeout=60, cwd=tmp)
        report(r.returncode == 0 and "f_x = F(t) - k*x" in r.stdout, "lag el prints the input as F(t)",
               r.stderr + r.stdout[:300])
        r = subprocess.run([os.path.abspath(LAG), "el", "--lag", path, "Osc"], capture_output=True, text=True,
                           timeout=60, cwd=tmp)
        named = [ln for ln in r.stdout.splitlines() if ln.startswith("# F(t): input from ")]
        report(r.returncode == 0 and len(named) == 1 and "interpolation cubic" in named[0]
               and "accel_x = (F(t) - k*x)/m" in r.stdout,
               "lag el --lag names the input's file and interpolation beside its F(t) (%s)" % named,
               r.stderr + r.stdout[:300])
    finish()


if __name__ == "__main__":
    main()
