#!/usr/bin/env python3
"""tests/sim_params.py — parameters drawn per trajectory in simulate (TAP).

`param W = uniform(a, b)` (or normal, or an expression of draws) in a
simulate job draws one value per trajectory, after that trajectory's
initial state; the value is an input of every program (right-hand side,
energy, records, Jacobian) and a column of the output.

1. A resonance curve: a damped oscillator driven by the input
   u(t) = A sin(W t), W ~ U(0.5, 3.5) over 40 trajectories, run to
   t = 600 (the transient has decayed by e^-23): every trajectory's final
   x and x' are the steady state X sin(W t - phi), X = A/sqrt((k - m W^2)^2
   + (c W)^2), tan(phi) = c W/(k - m W^2), computed here, and the record
   sqrt(x^2 + (x'/W)^2) is X, to 1e-7 of X.
2. The W column holds one value per trajectory in every row, all inside
   (0.5, 3.5) and different; the same seed draws the same values, another
   seed others.
3. Each member of the ensemble moves as a single run given its W
   (param W = the drawn value, printed with 17 digits): to 1e-9.
4. The variational integrator steps each trajectory by itself: an
   ensemble over the stiffness k equals the single runs bit for bit.
5. Implicit steppers (one trajectory): bsimp with k drawn gives
   x = cos(sqrt(k/m) t) to 1e-8; a three-coordinate chain whose mass
   matrix is solved numerically (its Jacobian takes q'') with rk4imp and
   a drawn mass equals the run given that mass, to 1e-10.
6. --native gives the VM's rows (to 1e-13) and a drawn parameter of a
   three-coordinate system reaches the compiled code.
7. The JSON summary's final states are the CSV's last rows.
8. Bad input: --set of a parameter the job draws (exit 1, names both);
   a draw of a parameter another's default is computed from (located);
   a draw of a name that is not a parameter (located, with a suggestion).
"""
import math
import os
import subprocess
import tempfile

from lagtest import program, read_csv, err, worst, run_json, run_lag, report, finish

LAG, SRCDIR = program()

DRIVEN = """system Sine {
    param m = 1.3, k = 4, c = 0.1, A = 0.7, W = 1
    coord x
    input u(t) = A*sin(W*t)
    L = 0.5*m*x'^2 - 0.5*k*x^2
    force x = u(t)
    dissipation D = 0.5*c*x'^2
}
"""

OSC = """system Osc {
    param m = 1.5, k = 4
    coord x
    L = 0.5*m*x'^2 - 0.5*k*x^2
}
"""

# three masses on springs, the middle one's kinetic energy coupled to its
# neighbours' (a mass matrix with off-diagonal terms, solved numerically)
CHAIN = """system Chain {
    param m1 = 1, m2 = 1.4, m3 = 0.8, k = 3, eps = 0.2
    coord a, b, c
    L = 0.5*m1*a'^2 + 0.5*m2*b'^2 + 0.5*m3*c'^2 + eps*a'*b'*cos(a - c) + eps*b'*c'
      - 0.5*k*(a^2 + (b - a)^2 + (c - b)^2 + c^2) - 0.1*a^4
}
"""


def run_rows(tmp, name, text, *args):
    p, js = run_json(LAG, tmp, name + ".lag", text.replace("OUT", name + ".csv"), *args)
    if p.returncode != 0:
        return None, js, p.stderr
    return read_csv(os.path.join(tmp, name + ".csv")), js, ""


def last_rows(rows, t1):
    return [r for r in rows if r["t"] == t1]


def rows_of_traj(rows, s):
    return [r for r in rows if r.get("traj", 0) == s]


def same(a, b, keys):
    if not a or not b or len(a) != len(b):
        return math.inf
    return worst(err(ra[k], rb[k]) / max(1.0, abs(rb[k])) for ra, rb in zip(a, b) for k in keys)


def test_resonance(tmp):
    job = """simulate Sine {
    param W = uniform(0.5, 3.5)
    samples 40, seed 11
    time 0 .. 600, every 150
    method rk8pd, tol 1e-12
    record amp = sqrt(x^2 + (x'/W)^2)
    output "OUT"
}
"""
    rows, js, why = run_rows(tmp, "resonance", DRIVEN + job)
    m, k, c, A = 1.3, 4.0, 0.1, 0.7
    errs, peak = [], 0.0
    final = last_rows(rows or [], 600)
    for r in final:
        W = r["W"]
        X = A / math.hypot(k - m * W * W, c * W)
        phi = math.atan2(c * W, k - m * W * W)
        peak = max(peak, X)
        errs += [err(r["x"], X * math.sin(600 * W - phi)) / X,
                 err(r["x'"], X * W * math.cos(600 * W - phi)) / X,
                 err(r["amp"], X) / X]
    e = worst(errs) if len(final) == 40 else math.inf
    report(e <= 1e-7, "a resonance curve over 40 drawn W: x, x' and the amplitude at t = 600 are the steady state "
           "(worst %.2g of X; the largest X %.3g)" % (e, peak), why)

    # 2. the W column
    ok = rows is not None and len(rows) == 5 * 40
    ws = {}
    for r in rows or []:
        ws.setdefault(int(r["traj"]), set()).add(r["W"])
    vals = [next(iter(v)) for v in ws.values() if len(v) == 1]
    ok = ok and len(vals) == 40 and len(set(vals)) == 40 and all(0.5 < w < 3.5 for w in vals)
    again, _, why2 = run_rows(tmp, "resonance_again", DRIVEN + job)
    other, _, why3 = run_rows(tmp, "resonance_other", DRIVEN + job.replace("seed 11", "seed 12"))
    ok = ok and again is not None and [r["W"] for r in again] == [r["W"] for r in rows]
    ok = ok and other is not None and all(a["W"] != b["W"] for a, b in zip(last_rows(other, 600), final))
    report(ok, "the W column: one value per trajectory in every row, inside (0.5, 3.5); seed 11 again draws the "
           "same, seed 12 others", why + why2 + why3)

    # 3. each member against its single run
    single = """simulate Sine {
    param W = %.17g
    time 0 .. 600, every 150
    method rk8pd, tol 1e-12
    output "OUT"
}
"""
    d = []
    for s in (0, 17, 39):
        mine = rows_of_traj(rows or [], s)
        if not mine:
            d.append(math.inf)
            continue
        one, _, w = run_rows(tmp, "single%d" % s, DRIVEN + single % mine[0]["W"])
        why += w
        d.append(same(mine, one, ["x", "x'"]))
    e = worst(d)
    report(e <= 1e-9, "trajectories 0, 17 and 39 move as single runs given their W (%.2g)" % e, why)


def test_variational(tmp):
    job = """simulate Osc {
    init x = 1, x' = uniform(-1, 1)
    param k = 2 + 6*uniform(0, 1)
    samples 5, seed 3
    time 0 .. 3, every 0.01
    method variational
    output "OUT"
}
"""
    rows, _, why = run_rows(tmp, "var_ens", OSC + job)
    d = []
    for s in range(5):
        mine = rows_of_traj(rows or [], s)
        if not mine:
            d.append(math.inf)
            continue
        one, _, w = run_rows(tmp, "var_one%d" % s, OSC + """simulate Osc {
    init x = 1, x' = %.17g
    param k = %.17g
    time 0 .. 3, every 0.01
    method variational
    output "OUT"
}
""" % (mine[0]["x'"], mine[0]["k"]))
        why += w
        d.append(0.0 if one and all(a["x"] == b["x"] and a["x'"] == b["x'"] for a, b in zip(mine, one))
                 and len(one) == len(mine) else math.inf)
    report(worst(d) == 0, "the variational integrator over 5 drawn k: each trajectory equals its single run bit for bit",
           why)


def test_implicit(tmp):
    rows, _, why = run_rows(tmp, "bsimp", OSC + """simulate Osc {
    init x = 1
    param k = uniform(1, 9)
    seed 5
    time 0 .. 5, every 0.5
    method bsimp, tol 1e-12
    output "OUT"
}
""")
    e = worst(err(r["x"], math.cos(math.sqrt(r["k"] / 1.5) * r["t"])) for r in rows) if rows else math.inf
    report(e <= 1e-8, "bsimp with k drawn: x = cos(sqrt(k/m) t) (%.2g)" % e, why)

    job = """simulate Chain {
    init a = 0.5, c = -0.3, b' = 0.2
    param m2 = %s
    time 0 .. 3, every 0.25
    method rk4imp, tol 1e-12
    output "OUT"
}
"""
    drawn, _, why = run_rows(tmp, "chain_drawn", CHAIN + job % "uniform(1, 2)")
    m2 = drawn[0]["m2"] if drawn else 1.0
    given, _, why2 = run_rows(tmp, "chain_given", CHAIN + job % ("%.17g" % m2))
    d = same(drawn, given, ["a", "b", "c", "a'", "b'", "c'"])
    report(d <= 1e-10 and drawn is not None and all(r["m2"] == m2 for r in drawn),
           "rk4imp, a numerically solved mass matrix (its Jacobian takes q'') and a drawn mass: the run given "
           "that mass (%.2g)" % d, why + why2)


def test_native(tmp):
    job = """simulate Chain {
    init a = uniform(-0.5, 0.5), c = -0.3
    param k = uniform(1, 5), eps = normal(0.2, 0.02)
    samples 6, seed 8
    time 0 .. 2, every 0.1
    tol 1e-11
    record kk = k*a
    output "OUT"
}
"""
    vm, _, why = run_rows(tmp, "chain_vm", CHAIN + job)
    nat, _, why2 = run_rows(tmp, "chain_native", CHAIN + job, "--native")
    d = same(vm, nat, ["a", "b", "c", "a'", "b'", "c'", "k", "eps", "E", "kk"])
    rec = worst(err(r["kk"], r["k"] * r["a"]) for r in vm) if vm else math.inf
    report(d <= 1e-13 and rec <= 1e-15, "--native with two drawn parameters gives the VM's rows (%.2g); the record "
           "k*a uses each trajectory's k (%.2g)" % (d, rec), why + why2)


def test_json(tmp):
    job = """simulate Osc {
    init x = 1
    param k = uniform(1, 9)
    samples 3, seed 1
    time 0 .. 2, every 1
    output "OUT"
}
"""
    rows, js, why = run_rows(tmp, "json", OSC + job)
    ok = bool(rows) and len(js) == 1
    if ok:
        fin = js[0]["final"]
        end = last_rows(rows, 2)
        ok = len(end) == 3 and all(fin["coords"]["x"][s] == end[s]["x"] and fin["velocities"]["x'"][s] == end[s]["x'"]
                                   for s in range(3))
    report(ok, "--json: the final coordinates and velocities of each trajectory are the CSV's last rows", why)


def test_errors(tmp):
    path = os.path.join(tmp, "set.lag")
    with open(path, "w") as f:
        f.write(OSC + """simulate Osc {
    init x = 1
    param k = uniform(1, 9)
    samples 3
    time 0 .. 1
}
""")
    p = subprocess.run([LAG, "run", "--quiet", "--set", "Osc.k=2", "-o", tmp, path], capture_output=True, text=True,
                       timeout=60)
    report(p.returncode == 1 and "--set Osc.k gives a value to a parameter this job draws per trajectory" in p.stderr
           and "set.lag:" in p.stderr, "--set of a drawn parameter: exit 1, a message naming both", p.stderr)

    p = run_lag(LAG, tmp, "dep", OSC.replace("param m = 1.5, k = 4", "param m = 1.5, k = 4, w = sqrt(k/m)")
                + """simulate Osc {
    param k = uniform(1, 9)
    samples 2
    time 0 .. 1
}
""")
    report(p.returncode == 1 and "dep.lag:7:11: error: 'k' is drawn per sample, but the default of 'w'" in p.stderr,
           "a draw of a parameter another default is computed from: located", p.stderr)

    p = run_lag(LAG, tmp, "notparam", OSC + """simulate Osc {
    param kk = uniform(1, 9)
    samples 2
    time 0 .. 1
}
""")
    report(p.returncode == 1 and "notparam.lag:7:11: error: 'kk' is not a parameter of 'Osc'" in p.stderr
           and "'k'" in p.stderr, "a draw of a name that is not a parameter: located, with a suggestion", p.stderr)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_resonance(tmp)
        test_variational(tmp)
        test_implicit(tmp)
        test_native(tmp)
        test_json(tmp)
        test_errors(tmp)
    finish()


if __name__ == "__main__":
    main()
