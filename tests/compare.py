#!/usr/bin/env python3
"""tests/compare.py — the compare job against closed forms and independent
computations (TAP).

1. The harmonic oscillator x'' = -x against a stiffer one (k = 1.21, so
   x = cos(1.1 t)): the state error, its RMS over the output times, the
   time it first exceeds `diverge`, and the reference energy along the
   model's path (drift 0.21 sin^2(1.1 t) relative to E_ref(0) = 1/2), all
   from the closed forms written here; the model's own energy conserved.
2. A double pendulum against a copy of itself: zero errors, gauge a = 1,
   b = 0, R^2 = 1.
3. The gauge: L_m = 2 L + 3 + d/dt(sin(t1) t2), analytic and as a hybrid
   with a net whose output layer is zero (a learned system, through the
   tape): a = 2, b = 3, R^2 = 1 (the even parts drop the total
   derivative) and accelerations equal to rounding.
4. A perturbed potential (a Gaussian bump at t1 = 1, t2 = -1): the peak of
   the error map is next to the bump; the grid CSV has the declared shape
   and axes; the Spearman correlation between occupancy and error equals
   one computed here from the CSV.
5. Several starts: the medians of the per-start RMS errors (from the
   trajectory CSV) are the JSON's.
6. Figures (PNG signature, SVG text), and bad input: a grid with three
   axes, a model with other coordinates, an unwritable output.
7. Symmetries: `lag el --lag` gives the rotation's Noether charge x y' -
   y x' of a central force (evaluated here), says which symmetries leave L
   invariant; compare's invariance residuals of a tilted potential against
   the variation written out here, and the drift of its angular momentum.
8. A model trained earlier in the run: its validation error in compare's
   JSON.
9. examples/lnn_paper.lag made small (4 starts, 5 s, 100 training steps):
   it runs, and reports the paper's metric for each system.
10. `penalty swap λ` in train: λ = 0 trains exactly as without it (the
   same initial weights: a net's follow its name), a large λ lowers the
   exchange residual fourfold or more.
"""
import csv
import html
import json
import math
import os
import re
import subprocess
import tempfile

from lagtest import program, read_csv, num, close, err, worst, run_json, lagw, report, finish

LAG, SRCDIR = program()



def run(tmp, name, text, *args):
    return run_json(LAG, tmp, name, text, *args)


def model(js, name):
    try:
        return js[0]["models"][name]
    except (IndexError, KeyError, TypeError):
        return {}


def fnum(d, key):
    v = d.get(key)
    return v if isinstance(v, (int, float)) else math.nan


def read_grid(path):
    """A grid CSV: finite numbers, except the relative errors, which are
    NaN where the reference's acceleration is zero (an equilibrium)."""
    with open(path, newline="") as f:
        out = []
        for row in csv.DictReader(f):
            d = {}
            for k, v in row.items():
                d[k] = float(v) if k.endswith(".accel_rel_error") else num(v)
            out.append(d)
        return out


def spearman(x, y):
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = 0.5 * (i + j) + 1
            i = j + 1
        return r
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy)


OSC = """
system Osc {
    coord x
    L = 0.5*x'^2 - 0.5*x^2
}
system Stiff {
    coord x
    L = 0.5*x'^2 - 0.5*1.21*x^2
}
"""

DP = """
system DP {
    param g = 9.81
    coord t1, t2
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2)
}
system DP2 {
    param g = 9.81
    coord t1, t2
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2)
}
system Gauge {
    param g = 9.81
    coord t1, t2
    L = 2*(t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2)) + 3 + cos(t1)*t1'*t2 + sin(t1)*t2'
}
system GaugeNet {
    param g = 9.81
    coord t1, t2
    net f = mlp(in = 2, hidden = [3], out = 1, weights = "zero.lagw")
    L = 2*(t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2)) + 3 + cos(t1)*t1'*t2 + sin(t1)*t2' + f(t1, t2)
}
system Bump {
    param g = 9.81
    coord t1, t2
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2) - 3*exp(-((t1 - 1)^2 + (t2 + 1)^2)/0.08)
}
"""

with tempfile.TemporaryDirectory() as tmp:
    # ---- 1. the oscillators: closed forms ----
    T1, EV, EPS = 6.0, 0.05, 0.1
    text = OSC + ("compare Osc, Stiff {\n    init x = 1\n    time 0 .. %g, every %g\n    diverge %g\n"
                  "    output \"osc\"\n}\n" % (T1, EV, EPS))
    p, js = run(tmp, "osc.lag", text)
    st = model(js, "Stiff")
    ts = [k * EV for k in range(int(round(T1 / EV)) + 1)]
    e = [math.hypot(math.cos(1.1 * t) - math.cos(t), -1.1 * math.sin(1.1 * t) + math.sin(t)) for t in ts]
    rmse = math.sqrt(sum(v * v for v in e) / len(e))
    div = next(t for t, v in zip(ts, e) if v > EPS)
    drift = max(0.21 * math.sin(1.1 * t) ** 2 for t in ts)
    final = 0.21 * math.sin(1.1 * T1) ** 2
    ok = (p.returncode == 0 and close(fnum(st, "traj_rmse"), rmse, 1e-6) and close(fnum(st, "diverge_time"), div, 1e-12)
          and close(fnum(st, "energy_drift"), drift, 1e-6) and fnum(st, "own_energy_drift") < 1e-7
          and close(fnum(st, "energy_error_final"), final, 1e-6))
    report(ok, "oscillators: traj_rmse %.9g (closed form %.9g), diverge_time %g (%g), energy_drift %.9g (%.9g), "
           "at the end %.9g (%.9g), own drift %.2g" % (
               fnum(st, "traj_rmse"), rmse, fnum(st, "diverge_time"), div, fnum(st, "energy_drift"), drift,
               fnum(st, "energy_error_final"), final, fnum(st, "own_energy_drift")), p.stderr[-400:])
    why = []
    try:
        rows = read_csv(os.path.join(tmp, "osc_traj.csv"))
        we = worst(err(r["Stiff.state_error"], math.hypot(math.cos(1.1 * r["t"]) - math.cos(r["t"]),
                                                           -1.1 * math.sin(1.1 * r["t"]) + math.sin(r["t"])))
                   for r in rows)
        wE = worst(err(r["Stiff.E_ref"], 0.5 + 0.105 * math.sin(1.1 * r["t"]) ** 2) for r in rows)
        if not (len(rows) == len(ts) and we < 1e-6 and wE < 1e-6):
            why.append("%d rows, state error %g, E_ref %g" % (len(rows), we, wE))
        with open(os.path.join(tmp, "osc_summary.json")) as f:
            sj = json.load(f)
        if not close(sj["models"]["Stiff"]["traj_rmse"], fnum(st, "traj_rmse"), 0):
            why.append("the summary file differs from --json")
    except (OSError, ValueError, KeyError) as ex:
        why.append(str(ex))
    report(not why, "oscillators: osc_traj.csv rows (state error and E_ref along the model's path) and "
           "osc_summary.json", "; ".join(why))

    # ---- 2./3. self-comparison and the gauge ----
    with open(os.path.join(tmp, "zero.lagw"), "wb") as f:
        f.write(lagw([("W1", 3, 2, [0.3, -0.2, 0.5, 0.1, -0.4, 0.7]), ("b1", 3, 1, [0.1, 0.2, -0.3]),
                      ("W2", 1, 3, [0, 0, 0]), ("b2", 1, 1, [0])]))
    text = DP + ("compare DP, DP2, Gauge, GaugeNet {\n    init t1 = 0.6, t2 = -0.4\n    time 0 .. 2, every 0.01\n"
                 "    grid t1 = -2 .. 2 : 21, t2 = -2 .. 2 : 17\n    output \"g\"\n    plot \"g.png\"\n}\n")
    p, js = run(tmp, "gauge.lag", text)
    d2, ga, gn = model(js, "DP2"), model(js, "Gauge"), model(js, "GaugeNet")
    ok = (p.returncode == 0 and fnum(d2, "traj_rmse") == 0 and fnum(d2, "accel_rmse_grid") == 0
          and close(fnum(d2, "gauge_a"), 1, 1e-12) and close(fnum(d2, "gauge_b"), 0, 1e-10)
          and close(fnum(d2, "gauge_r2"), 1, 1e-12) and d2.get("diverge_time", 0) is None)
    report(ok, "a system against a copy of itself: zero errors, gauge a = 1, b = 0, R^2 = 1, never diverges",
           p.stderr[-400:] + json.dumps(d2))
    ok = p.returncode == 0
    for name, mdl in (("Gauge", ga), ("GaugeNet", gn)):
        ok = ok and (close(fnum(mdl, "gauge_a"), 2, 1e-10) and close(fnum(mdl, "gauge_b"), 3, 1e-9)
                     and close(fnum(mdl, "gauge_r2"), 1, 1e-12) and mdl.get("gauge_even") is True
                     and fnum(mdl, "accel_rel_grid") < 1e-12 and fnum(mdl, "traj_rmse") < 1e-6)
    report(ok, "gauge: L_m = 2 L + 3 + d/dt(sin(t1) t2), analytic and with a (zero-output) net: a = %.12g, %.12g; "
           "b = %.12g, %.12g; R^2 = %.12g; accel_rel %.2g, %.2g" % (
               fnum(ga, "gauge_a"), fnum(gn, "gauge_a"), fnum(ga, "gauge_b"), fnum(gn, "gauge_b"),
               fnum(gn, "gauge_r2"), fnum(ga, "accel_rel_grid"), fnum(gn, "accel_rel_grid")), p.stderr[-400:])
    why = []
    try:
        with open(os.path.join(tmp, "g.png"), "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                why.append("g.png is not a PNG")
    except OSError as ex:
        why.append(str(ex))
    report(not why, "the figure g.png is a PNG", "; ".join(why))

    # ---- 4. a perturbed potential: where the error is ----
    text = DP + ("compare DP, Bump {\n    init t1 = 0.9, t2 = -0.9\n    time 0 .. 10, every 0.01\n"
                 "    grid t1 = -2 .. 2 : 41, t2 = -2 .. 2 : 41\n    output \"b\"\n    plot \"b.svg\"\n}\n")
    p, js = run(tmp, "bump.lag", text)
    bm = model(js, "Bump")
    pk = bm.get("peak_error_at", {})
    dist = math.hypot(fnum(pk, "t1") - 1, fnum(pk, "t2") + 1)
    report(p.returncode == 0 and dist <= 0.3,
           "a bump in V at (1, -1): the error map's peak at (%g, %g), %.3g from the bump" % (
               fnum(pk, "t1"), fnum(pk, "t2"), dist), p.stderr[-400:])
    why = []
    try:
        rows = read_grid(os.path.join(tmp, "b_grid.csv"))
        xs = sorted(set(r["t1"] for r in rows))
        ys = sorted(set(r["t2"] for r in rows))
        if not (len(rows) == 41 * 41 and len(xs) == 41 and len(ys) == 41 and close(xs[0], -2, 1e-15)
                and close(xs[-1], 2, 1e-15) and close(ys[1] - ys[0], 0.1, 1e-12)):
            why.append("shape: %d rows, %d x %d axes" % (len(rows), len(xs), len(ys)))
        occ = [(r["occupancy"], r["Bump.accel_error"]) for r in rows if r["occupancy"] > 0]
        rho = spearman([o for o, _ in occ], [e for _, e in occ])
        if not (close(fnum(bm, "occupancy_error_corr"), rho, 1e-12) and bm.get("occupied_cells") == len(occ)
                and len(occ) > 20 and close(sum(r["occupancy"] for r in rows), 1, 1e-12)):
            why.append("Spearman %r against %r here over %d occupied cells (lag: %r)" % (
                fnum(bm, "occupancy_error_corr"), rho, len(occ), bm.get("occupied_cells")))
        if not all(r["DP.accel_error"] == 0 for r in rows):
            why.append("the reference's own error is not zero")
    except (OSError, ValueError, KeyError, ZeroDivisionError) as ex:
        why.append(str(ex))
    report(not why, "b_grid.csv: 41 x 41 cells with their axes, occupancy summing to 1, Spearman(occupancy, error) "
           "as computed here", "; ".join(why))
    why = []
    try:
        with open(os.path.join(tmp, "b.svg")) as f:
            svg = f.read()
        # PLplot writes each character as a reference inside <tspan>s
        words = html.unescape(re.sub(r"<[^>]+>", "", svg))
        if "<svg" not in svg:
            why.append("b.svg has no <svg> element")
        for s in ("Bump", "t1", "t2", "occupancy"):
            if s not in words:
                why.append("no %r in b.svg's text" % s)
    except OSError as ex:
        why.append(str(ex))
    report(not why, "the figure b.svg is SVG with the models' names and the axes", "; ".join(why))

    # ---- 5. several starts: medians ----
    text = OSC + ("compare Osc, Stiff {\n    init x = uniform(0.5, 1.5), x' = normal(0, 0.3)\n    samples 5\n"
                  "    time 0 .. 3, every 0.1\n    seed 7\n    output \"s\"\n}\n")
    p, js = run(tmp, "samples.lag", text)
    st = model(js, "Stiff")
    why = []
    try:
        rows = read_csv(os.path.join(tmp, "s_traj.csv"))
        per = []
        for s in range(5):
            e = [r["Stiff.state_error"] for r in rows if r["sample"] == s]
            per.append(math.sqrt(sum(v * v for v in e) / len(e)))
        per.sort()
        if not (close(fnum(st, "traj_rmse"), per[2], 1e-12) and close(fnum(st, "traj_rmse_worst"), per[4], 1e-12)
                and len(set(round(v, 12) for v in per)) == 5):
            why.append("median %r, worst %r against %r" % (fnum(st, "traj_rmse"), fnum(st, "traj_rmse_worst"), per))
    except (OSError, ValueError, KeyError, ZeroDivisionError) as ex:
        why.append(str(ex))
    report(p.returncode == 0 and not why, "5 random starts: traj_rmse and traj_rmse_worst are the median and the "
           "worst of the per-start RMS errors", "; ".join(why) + p.stderr[-300:])

    # ---- 6. bad input ----
    text = DP + ("compare DP, Bump {\n    time 0 .. 1\n    grid t1 = -1 .. 1 : 5, t2 = -1 .. 1 : 5, t1' = 0 .. 1 : 3\n}\n")
    p, _ = run(tmp, "three.lag", text)
    line = text.splitlines().index("    grid t1 = -1 .. 1 : 5, t2 = -1 .. 1 : 5, t1' = 0 .. 1 : 3") + 1
    report(p.returncode == 1 and "three.lag:%d:46: error" % line in p.stderr and "one or two axes" in p.stderr,
           "a grid with three axes: exit 1, located", p.stderr[-300:])
    text = DP + OSC + "compare DP, Osc {\n    time 0 .. 1\n}\n"
    p, _ = run(tmp, "coords.lag", text)
    report(p.returncode == 1 and "coordinates" in p.stderr, "a model with other coordinates: exit 1",
           p.stderr[-300:])
    text = OSC + "compare Osc, Stiff {\n    time 0 .. 1\n    output \"nodir/x\"\n}\n"
    p, js = run(tmp, "unwritable.lag", text)
    report(p.returncode == 4 and "nodir" in p.stderr and not os.path.exists(os.path.join(tmp, "nodir")),
           "an output prefix in a missing directory: exit 4, named", p.stderr[-300:])

    # ---- 7. symmetries: Noether charges, invariance, and their comparison ----
    central = ("system Central {\n    coord x, y\n    L = 0.5*(x'^2 + y'^2) + 1/sqrt(x^2 + y^2)\n"
               "    symmetry rotation: x -> -y, y -> x\n    symmetry shift: x -> 1\n    symmetry mirror: x <-> y\n}\n")
    tilted = ("system Tilted {\n    coord x, y\n    L = 0.5*(x'^2 + y'^2) + 1/sqrt(x^2 + 1.1*y^2)\n}\n"
              "system Copy {\n    coord x, y\n    L = 0.5*(y'^2 + x'^2) + 1/sqrt(y^2 + x^2)\n}\n")
    path = os.path.join(tmp, "central.lag")
    with open(path, "w") as f:
        f.write(central)
    p = subprocess.run([LAG, "el", "--lag", path], capture_output=True, text=True, timeout=60)
    lines = dict(l.split(" = ", 1) for l in p.stdout.splitlines() if " = " in l)
    why = []
    st = {"x": 0.3, "y": -0.7, "x_": 1.1, "y_": 0.4}
    try:
        q = eval(lines["noether_rotation"].replace("x'", "x_").replace("y'", "y_"), {"sqrt": math.sqrt}, st)
        if not close(q, st["x"] * st["y_"] - st["y"] * st["x_"], 1e-15):
            why.append("noether_rotation %r = %r" % (lines["noether_rotation"], q))
        if lines.get("conserved_noether_rotation") != lines["noether_rotation"]:
            why.append("no conserved_noether_rotation")
        if (lines.get("invariant_rotation"), lines.get("invariant_shift"), lines.get("invariant_mirror")) != ("1", "0", "1"):
            why.append("invariant_*: %r %r %r" % (lines.get("invariant_rotation"), lines.get("invariant_shift"),
                                                  lines.get("invariant_mirror")))
        if "conserved_noether_shift" in lines or "noether_mirror" in lines:
            why.append("a charge for a broken or discrete symmetry")
    except (KeyError, SyntaxError, NameError, TypeError) as ex:
        why.append("%r: %s" % (ex, p.stdout[-400:]))
    report(p.returncode == 0 and not why, "el --lag: the rotation's Noether charge is x y' - y x' (conserved: L "
           "invariant), a shift of x breaks it (invariant_shift = 0), the exchange x <-> y keeps it",
           "; ".join(why) + p.stderr[-300:])

    text = central + tilted + ("compare Central, Copy, Tilted {\n    init x = 1, y' = 1.1\n    time 0 .. 20, every 0.05\n"
                               "    grid x = -2 .. 2 : 21, y = -2 .. 2 : 21\n}\n")
    p, js = run(tmp, "symcmp.lag", text)
    cp, tl = model(js, "Copy").get("symmetries", {}), model(js, "Tilted").get("symmetries", {})
    # independent: over the grid's states (velocities at init: x' = 0, y' = 1.1), without the centre
    num_r = den = num_m = 0.0
    for i in range(21):
        for j in range(21):
            x, y = -2 + 0.2 * i, -2 + 0.2 * j
            if i == 10 and j == 10:
                continue
            rt = math.sqrt(x * x + 1.1 * y * y)
            L = 0.5 * 1.21 + 1 / rt
            num_r += (-0.1 * x * y / rt ** 3) ** 2  # dL of the rotation: (x y - 1.1 y x)/rt^3
            num_m += (1 / math.sqrt(y * y + 1.1 * x * x) - 1 / rt) ** 2
            den += L * L
    res_r, res_m = math.sqrt(num_r / den), math.sqrt(num_m / den)
    got_r = fnum(tl.get("rotation", {}), "residual")
    got_m = fnum(tl.get("mirror", {}), "residual")
    ok = (p.returncode == 0 and fnum(cp.get("rotation", {}), "residual") < 1e-15
          and fnum(cp.get("mirror", {}), "residual") < 1e-15 and close(got_r, res_r, 0, 1e-12)
          and close(got_m, res_m, 0, 1e-12) and fnum(cp.get("rotation", {}), "charge_drift") < 1e-9
          and fnum(tl.get("rotation", {}), "charge_drift") > 1e-3 and tl.get("mirror", {}).get("charge_drift", 0) is None)
    report(ok, "compare: the rotation and exchange residuals of a tilted potential as computed here (%.6g against "
           "%.6g, %.6g against %.6g), zero for an invariant copy; its angular momentum drifts by %.3g, the copy's by "
           "%.2g" % (got_r, res_r, got_m, res_m, fnum(tl.get("rotation", {}), "charge_drift"),
                     fnum(cp.get("rotation", {}), "charge_drift")), p.stderr[-400:])

    # ---- 8. a model trained earlier in the run: its validation error beside its figures ----
    text = OSC.replace("system Stiff", "system Net {\n    coord x\n    net f = mlp(in = 2, hidden = [8], out = 1)\n"
                       "    L = f(x, x') + 0.5*x'^2\n}\nsystem Stiff") + (
        "train Net {\n    data from Osc { init x = uniform(-1, 1), x' = uniform(-1, 1) }\n    steps 20, batch 32\n}\n"
        "compare Osc, Net, Stiff {\n    init x = 1\n    time 0 .. 1, every 0.1\n}\n")
    p, js = run(tmp, "trained.lag", text)
    tr = js[0] if js else {}
    cm = js[1]["models"] if len(js) > 1 else {}
    ok = (p.returncode == 0 and isinstance(tr.get("validation_rel_rms"), float)
          and cm.get("Net", {}).get("validation_rel_rms") == tr.get("validation_rel_rms")
          and "validation_rel_rms" not in cm.get("Stiff", {"validation_rel_rms": 0}))
    report(ok, "a model trained earlier in the run carries its validation error (%r) into compare's JSON; an "
           "analytic one has none" % tr.get("validation_rel_rms"), p.stderr[-300:])

    # ---- 9. examples/lnn_paper.lag, smaller: 4 starts for 5 s, a 21 x 21 grid, 100 training steps ----
    with open(os.path.join(SRCDIR, "examples", "lnn_paper.lag")) as f:
        paper = f.read()
    small = (paper.replace("steps 30000", "steps 100").replace("samples 40", "samples 4")
             .replace("time 0 .. 100, every 0.1", "time 0 .. 5, every 0.1")
             .replace(": 101, t2 = -pi .. pi : 101", ": 21, t2 = -pi .. pi : 21"))
    p, js = run(tmp, "paper_small.lag", small)
    cm = js[-1] if js else {}
    ms = cm.get("models", {})
    why = []
    if not (p.returncode == 0 and len(js) == 3 and cm.get("job") == "compare" and cm.get("samples") == 4
            and cm.get("energy_scale") == 29.43 and cm.get("grid_cells") == 441):
        why.append("exit %d, %d JSON lines, %r" % (p.returncode, len(js), {k: cm.get(k) for k in ("job", "samples", "energy_scale", "grid_cells")}))
    for name in ("DoublePendulum", "LNN", "Baseline"):
        e = fnum(ms.get(name, {}), "energy_error_final_mean")
        if not (e >= 0 and (name != "DoublePendulum" or e < 1e-6)):
            why.append("%s: energy_error_final_mean %r" % (name, e))
    for name in ("LNN", "Baseline"):
        if not (fnum(ms.get(name, {}), "validation_rel_rms") > 0 and fnum(ms.get(name, {}), "accel_rmse_grid") > 0):
            why.append("%s: %r" % (name, ms.get(name)))
    report(not why, "examples/lnn_paper.lag, smaller (4 starts, 5 s, 21 x 21, 100 steps): the paper's metric for the "
           "three systems (the analytic one's %.2g), both nets with their validation errors" % (
               fnum(ms.get("DoublePendulum", {}), "energy_error_final_mean")), "; ".join(why) + p.stderr[-300:])

    # ---- 10. penalty SYMMETRY λ in train: off at 0, pulls towards invariance when large ----
    pair = ("system Pair {\n    param k = 2\n    coord a, b\n"
            "    L = 0.5*(a'^2 + b'^2) - 0.25*(a^4 + b^4) - 0.5*k*(a - b)^2\n    symmetry swap: a <-> b\n}\n")
    for name in ("Free", "Zero", "Big"):
        pair += ("system %s {\n    coord a, b\n    net g = mlp(in = 4, hidden = [32, 32], out = 1)\n"
                 "    L = g(a, b, a', b') + 0.5*(a'^2 + b'^2)\n}\n" % name)
        pair += ("train %s {\n    data from Pair { init a = uniform(-1.5, 1.5), b = uniform(-1.5, 1.5), "
                 "a' = uniform(-2, 2), b' = uniform(-2, 2) }\n    steps 200, batch 128, lr 1e-2\n%s}\n"
                 % (name, {"Free": "", "Zero": "    penalty swap 0\n", "Big": "    penalty swap 10000\n"}[name]))
    pair += ("compare Pair, Free, Zero, Big {\n    init a = 1, b = 0\n    time 0 .. 1, every 0.1\n"
             "    grid a = -1.5 .. 1.5 : 21, b = -1.5 .. 1.5 : 21\n}\n")
    p, js = run(tmp, "penalty.lag", pair)
    ms = js[-1].get("models", {}) if js else {}
    res = {k: fnum(ms.get(k, {}).get("symmetries", {}).get("swap", {}), "residual") for k in ("Free", "Zero", "Big")}
    val = {k: fnum(ms.get(k, {}), "validation_rel_rms") for k in ("Free", "Zero", "Big")}
    pen = [fnum(j, "penalty") for j in js[1:3]] if len(js) >= 3 else []
    ok = (p.returncode == 0 and res["Free"] > 0 and res["Zero"] == res["Free"] and val["Zero"] == val["Free"]
          and res["Big"] <= 0.25 * res["Free"] and len(pen) == 2 and pen[0] == 0 and pen[1] > 0)
    report(ok, "train: penalty swap 0 trains exactly as no penalty (residual %.4g, validation %.4g); penalty swap 1e4 "
           "lowers the exchange residual from %.3g to %.3g (the last step's penalties %r)" % (
               res["Zero"], val["Zero"], res["Free"], res["Big"], pen), p.stderr[-400:])

finish()
