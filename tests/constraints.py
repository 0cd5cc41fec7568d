#!/usr/bin/env python3
"""tests/constraints.py — `constrain NAME: expr = 0` in systems (TAP).

1. A pendulum in Cartesian coordinates with `constrain rod: x^2 + y^2 =
   l^2` against the angle formulation, for an explicit, a multistep and
   two implicit steppers (their Jacobian through the augmented system):
   x = l sin(th), y = -l cos(th).
2. The rod's force: M q'' = f + A^T lambda with A = (2x, 2y), so the
   tension is -2 l lambda, against T = m g (3 cos(th) - 2 cos(th0)) along
   the whole swing, and at the bottom (a `stop when x crosses 0` puts the
   last row there) m g (3 - 2 cos(th0)).
3. The variational integrator with the constraint (Marsden and West's
   constrained discrete Euler-Lagrange equations): the drift stays at
   rounding over 10^4 periods, the energy error does not grow, and the
   path approaches the exact one as h^2.
4. A knife edge on an incline (x' sin(phi) = y' cos(phi)): x = (g sin(a)
   / 2 w^2) sin^2(w t), y = (g sin(a) / 2 w^2)(w t - sin(2 w t)/2), and
   its multiplier 2 m g sin(a) sin(w t).
5. An upright disc rolling on a plane (two velocity constraints): circles
   of radius R theta'/phi', and the multipliers' closed forms.
6. A bead on a wire spinning at w (a moving constraint): r = r0 cosh(w t);
   energy not conserved (lag el says so).
7. Starts off the constraints are moved onto them, with a note; an
   ensemble equals its single runs bit for bit.
8. Baumgarte's stabilisation (`stabilize a`) shrinks the drift of a loose
   tolerance.
9. lag el: the constraint's g, A, c and multiplier.
10. Bad input: located errors with their exact text.
12. action with a constraint: the Cartesian pendulum's stationary path
    between two points of the circle against the angle formulation's (the
    action, the path, the rod's tension from its multiplier, the Morse
    index of a minimum and of a saddle past the conjugate point), on the
    circle at every node, and shot back by the constrained variational
    integrator; the ends off the constraint and a velocity constraint are
    located errors.
13. lag modes on constrained systems: the Cartesian pendulum's w^2 = g/l
    below and -g/l above; the Cartesian double pendulum's (g/l)(2 -+ sqrt 2);
    a velocity constraint refused with its message.
15. A learned L (a net's correction) with the rod: rk8pd and msbdf (its
    Jacobian through the network and the augmented system) agree, the drift
    at rounding; a record named like a constraint column replaces it; under
    mpirun -n 2 an ensemble writes one process's bytes.
14. Units: a Cartesian pendulum in cm and g, held by its rod, has the
    tension of SI (the multiplier in SI); a constraint whose sides differ
    in dimension is a located error.
11. A disc rolling without slipping on a plane, free to lean (two velocity
    constraints): lag's accelerations and multipliers at random states
    against SymPy's LagrangesMethod with nonhol_coneqs, the disc built
    there from reference frames and a RigidBody, and its q'' against the
    rolling disc of SymPy's own test_kane.py (KanesMethod, generalized
    speeds) (skipped without SymPy).

Numbers go through lagtest.err/worst/close, so a NaN never passes.
"""
import math
import os
import subprocess
import tempfile

from lagtest import close, err, finish, program, read_csv, report, run_json, run_lag, worst

LAG, SRCDIR = program()

CART = """system Cart {
    param m = 1.5, l = 1.2, g = 9.81
    coord x, y
    L = 0.5*m*(x'^2 + y'^2) - m*g*y
    constrain rod: x^2 + y^2 = l^2
}
"""

TH0 = 1.1
M, LL, G = 1.5, 1.2, 9.81


def angle_rows(tmp, method, t1=6.0):
    text = """system Angle {
    param m = 1.5, l = 1.2, g = 9.81
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
simulate Angle { time 0 .. %g; every 0.05; init th = %.17g; method rk8pd; tol 1e-13; output "a.csv" }
""" % (t1, TH0)
    p = run_lag(LAG, tmp, "angle", text)
    assert p.returncode == 0, p.stderr
    return read_csv(os.path.join(tmp, "a.csv"))


def cart_job(method, extra="", t1=6.0, tol="1e-12"):
    return CART + """simulate Cart { time 0 .. %g; every 0.05; method %s; tol %s
    init x = %.17g, y = %.17g
    output "c.csv" %s }
""" % (t1, method, tol, LL * math.sin(TH0), -LL * math.cos(TH0), extra)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ref = angle_rows(tmp, "rk8pd")
        # 1. against the angle formulation
        for method, tol, bound in (("rk8pd", "1e-12", 1e-9), ("msadams", "1e-12", 1e-8), ("msbdf", "1e-11", 1e-6),
                                   ("bsimp", "1e-11", 1e-7)):
            p = run_lag(LAG, tmp, "cart", cart_job(method, tol=tol))
            rows = read_csv(os.path.join(tmp, "c.csv")) if p.returncode == 0 else []
            e = worst(max(err(r["x"], LL * math.sin(a["th"])), err(r["y"], -LL * math.cos(a["th"])))
                      for r, a in zip(rows, ref)) if len(rows) == len(ref) else math.inf
            report(e <= bound, "Cartesian pendulum, %s: x, y against the angle formulation (worst %.3g)" % (method, e),
                   p.stderr)

        # 2. the rod's tension along the swing and at the bottom
        p = run_lag(LAG, tmp, "cart", cart_job("rk8pd"))
        rows = read_csv(os.path.join(tmp, "c.csv")) if p.returncode == 0 else []
        e = worst(err(-2 * LL * r["lambda_rod"], M * G * (3 * (-r["y"] / LL) - 2 * math.cos(TH0))) for r in rows)
        report(rows and e <= 1e-8, "the rod's tension -2 l lambda along the swing (worst %.3g)" % e, p.stderr)
        p = run_lag(LAG, tmp, "cart", cart_job("rk8pd", "; stop when x crosses 0"))
        rows = read_csv(os.path.join(tmp, "c.csv")) if p.returncode == 0 else []
        want = M * G * (3 - 2 * math.cos(TH0))
        got = -2 * LL * rows[-1]["lambda_rod"] if rows else math.nan
        report(close(got, want, 1e-9, 1e-10) and close(rows[-1]["x"], 0, 1e-12),
               "the tension at the bottom is m g (3 - 2 cos th0): %.12g against %.12g" % (got, want), p.stderr)
        drift = worst(abs(r["drift_rod"]) for r in rows) if rows else math.inf
        report(drift <= 1e-11, "drift_rod stays below 1e-11 with rk8pd (worst %.3g)" % drift)

        # 3. the variational integrator: 10^4 periods
        period = 2 * math.pi * math.sqrt(LL / G)  # small-amplitude scale; the swing below is larger
        t1 = 1e4 * period
        text = CART + """simulate Cart { time 0 .. %.17g; every 0.05; method variational
    init x = %.17g, y = %.17g; output "v.csv" }
""" % (t1, LL * math.sin(TH0), -LL * math.cos(TH0))
        p = run_lag(LAG, tmp, "var", text, timeout=600)
        rows = read_csv(os.path.join(tmp, "v.csv")) if p.returncode == 0 else []
        drift = worst(abs(r["drift_rod"]) for r in rows) if rows else math.inf
        report(drift <= 1e-12 * LL * LL * 10, "variational: drift over 10^4 periods stays at rounding (%.3g)" % drift,
               p.stderr[-2000:])
        if rows:
            e0 = rows[0]["E"]
            tenth = len(rows) // 10
            first = worst(err(r["E"], e0) for r in rows[:tenth])
            last = worst(err(r["E"], e0) for r in rows[-tenth:])
        else:
            first = last = math.inf
        report(last <= 1.5 * first and first <= 1e-2 * abs(e0 if rows else 1),
               "variational: the energy error is bounded (first tenth %.3g, last tenth %.3g)" % (first, last))
        # its order: h^2 against the angle formulation at t = 6
        errs = []
        for h in (0.01, 0.005):
            text = CART + """simulate Cart { time 0 .. 6; every %g; method variational
    init x = %.17g, y = %.17g; output "v.csv" }
""" % (h, LL * math.sin(TH0), -LL * math.cos(TH0))
            p = run_lag(LAG, tmp, "var", text)
            rows = read_csv(os.path.join(tmp, "v.csv")) if p.returncode == 0 else []
            errs.append(err(rows[-1]["x"], LL * math.sin(ref[-1]["th"])) if rows else math.inf)
        ratio = errs[0] / errs[1] if errs[1] > 0 else math.inf
        report(3.5 <= ratio <= 4.5 and errs[1] < 1e-3,
               "variational: second order (errors %.3g, %.3g at h = 0.01, 0.005; ratio %.3g)" % (errs[0], errs[1], ratio))

        # 4. the knife edge on an incline
        w, alpha, m = 1.5, 0.4, 2.0
        text = """system Knife {
    param m = 2, I = 0.3, g = 9.81, alpha = 0.4
    coord x, y, phi
    L = 0.5*m*(x'^2 + y'^2) + 0.5*I*phi'^2 + m*g*sin(alpha)*x
    constrain blade: x'*sin(phi) = y'*cos(phi)
}
simulate Knife { time 0 .. 5; every 0.05; init phi' = 1.5; tol 1e-12; output "k.csv" }
"""
        p = run_lag(LAG, tmp, "knife", text)
        rows = read_csv(os.path.join(tmp, "k.csv")) if p.returncode == 0 else []
        gs = G * math.sin(alpha)
        e = worst(max(err(r["x"], gs / (2 * w * w) * math.sin(w * r["t"]) ** 2),
                      err(r["y"], gs / (2 * w * w) * (w * r["t"] - 0.5 * math.sin(2 * w * r["t"]))),
                      err(r["phi"], w * r["t"])) for r in rows) if len(rows) == 101 else math.inf
        report(e <= 1e-10, "knife edge on an incline: x, y, phi against the closed form (worst %.3g)" % e, p.stderr)
        # the blade is written x' sin - y' cos, so lambda is minus the lateral force 2 m g sin(a) sin(w t)
        e = worst(err(r["lambda_blade"], -2 * m * gs * math.sin(w * r["t"])) for r in rows) if rows else math.inf
        report(e <= 1e-8, "knife edge: the multiplier against -2 m g sin(a) sin(w t) (worst %.3g)" % e)

        # 5. an upright disc rolling on a plane
        R, wphi, wth = 0.3, 0.7, 4.0
        text = """system Disc {
    param m = 1.2, R = 0.3, Ia = 0.054, Id = 0.027
    coord x, y, phi, theta
    L = 0.5*m*(x'^2 + y'^2) + 0.5*Ia*theta'^2 + 0.5*Id*phi'^2
    constrain roll_x: x' = R*theta'*cos(phi)
    constrain roll_y: y' = R*theta'*sin(phi)
}
simulate Disc { time 0 .. 8; every 0.1; init x' = 1.2, phi' = 0.7, theta' = 4; tol 1e-12; output "d.csv" }
"""
        p = run_lag(LAG, tmp, "disc", text)
        rows = read_csv(os.path.join(tmp, "d.csv")) if p.returncode == 0 else []
        rad = R * wth / wphi
        e = worst(max(err(r["x"], rad * math.sin(wphi * r["t"])), err(r["y"], rad * (1 - math.cos(wphi * r["t"]))),
                      err(r["theta"], wth * r["t"])) for r in rows) if len(rows) == 81 else math.inf
        report(e <= 1e-9, "rolling disc: a circle of radius R theta'/phi' (worst %.3g)" % e, p.stderr)
        # m x'' = lambda_x (A rows (1, 0, 0, -R cos) and (0, 1, 0, -R sin))
        e = worst(max(err(r["lambda_roll_x"], -1.2 * R * wth * wphi * math.sin(wphi * r["t"])),
                      err(r["lambda_roll_y"], 1.2 * R * wth * wphi * math.cos(wphi * r["t"]))) for r in rows) \
            if rows else math.inf
        report(e <= 1e-8, "rolling disc: the multipliers are m times the centripetal acceleration (worst %.3g)" % e)

        # 6. a bead on a spinning wire
        text = """system Bead {
    param m = 1, w = 2
    coord x, y
    L = 0.5*m*(x'^2 + y'^2)
    constrain wire: x*sin(w*t) = y*cos(w*t)
}
simulate Bead { time 0 .. 2; every 0.02; init x = 0.5, y' = 1; tol 1e-12; output "b.csv" }
"""
        p = run_lag(LAG, tmp, "bead", text)
        rows = read_csv(os.path.join(tmp, "b.csv")) if p.returncode == 0 else []
        e = worst(err(math.hypot(r["x"], r["y"]), 0.5 * math.cosh(2 * r["t"])) / math.cosh(2 * r["t"])
                  for r in rows) if len(rows) == 101 else math.inf
        report(e <= 1e-10, "bead on a spinning wire: r = r0 cosh(w t) (worst relative %.3g)" % e, p.stderr)
        el = subprocess.run([LAG, "el", os.path.join(tmp, "bead.lag")], capture_output=True, text=True)
        report(el.returncode == 0 and "conserved: none found" in el.stdout,
               "lag el: a moving constraint does work: no energy conservation claimed", el.stdout)

        # 7. starts off the constraints; an ensemble against its single runs
        text = CART + """simulate Cart { time 0 .. 1; init x = 0.6, y = -1, x' = 0.3, y' = 0.2; output "o.csv" }
"""
        p = run_lag(LAG, tmp, "off", text)
        rows = read_csv(os.path.join(tmp, "o.csv")) if p.returncode == 0 else []
        ok = rows and close(rows[0]["x"] ** 2 + rows[0]["y"] ** 2, LL * LL, 1e-13) and \
            close(rows[0]["x"] * rows[0]["x'"] + rows[0]["y"] * rows[0]["y'"], 0, 1e-13)
        report(ok and "note: init was moved onto the constraints" in p.stderr,
               "a start off the constraints is moved onto them (coordinates and velocities), with a note", p.stderr)
        ens = CART + """simulate Cart { time 0 .. 2; samples 4; seed 3; init x = uniform(-1, 1), y = -1, x' = normal(0, 1)
    tol 1e-10; output "e.csv" }
"""
        p = run_lag(LAG, tmp, "ens", ens)
        erows = read_csv(os.path.join(tmp, "e.csv")) if p.returncode == 0 else []
        same = p.returncode == 0 and "4 starts were moved" in p.stderr
        for s in range(4):
            mine = [r for r in erows if r["traj"] == s]
            if not mine:
                same = False
                break
            one = CART + """simulate Cart { time 0 .. 2; tol 1e-10; init x = %r, y = %r, x' = %r, y' = %r
    output "s.csv" }
""" % (mine[0]["x"], mine[0]["y"], mine[0]["x'"], mine[0]["y'"])
            q = run_lag(LAG, tmp, "one", one)
            srows = read_csv(os.path.join(tmp, "s.csv")) if q.returncode == 0 else []
            same = same and len(srows) == len(mine) and all(
                a[k] == b[k] for a, b in zip(mine, srows) for k in b)
        report(same, "an ensemble's moved starts, and each member equals its single run bit for bit", p.stderr)

        # 8. Baumgarte's stabilisation
        drifts = []
        for extra in ("", "; stabilize 20"):
            p = run_lag(LAG, tmp, "loose", cart_job("rkf45", extra, t1=60, tol="1e-5"))
            rows = read_csv(os.path.join(tmp, "c.csv")) if p.returncode == 0 else []
            drifts.append(worst(abs(r["drift_rod"]) for r in rows[-100:]) if rows else math.inf)
        report(drifts[1] <= drifts[0] / 20 and math.isfinite(drifts[0]),
               "stabilize 20 shrinks the drift of rkf45 at tol 1e-5 (%.3g -> %.3g)" % tuple(drifts))

        # 9. lag el
        path = os.path.join(tmp, "cart.lag")
        with open(path, "w") as f:
            f.write(CART)
        el = subprocess.run([LAG, "el", path], capture_output=True, text=True)
        want = ["  equations of motion, M q'' = f + A^T lambda:", "    rod (holonomic):",
                "      g_rod = x^2 - l^2 + y^2", "      A_rod_x = 2*x", "      A_rod_y = 2*y",
                "      c_rod = -2*x'^2 - 2*y'^2",
                "    lambda_rod = m*(2*g*y + 2*x*x'' + 2*y*y'')/(4*x^2 + 4*y^2)"]
        missing = [w for w in want if w not in el.stdout.splitlines()]
        report(el.returncode == 0 and not missing, "lag el prints g, A, c and the multiplier", "\n".join(missing) +
               "\n" + el.stdout)
        el = subprocess.run([LAG, "el", "--lag", path], capture_output=True, text=True)
        report(el.returncode == 0 and "A_rod_x = 2*x" in el.stdout and "# lambda_rod = " in el.stdout,
               "lag el --lag: the constraint's lines, the multiplier as a comment", el.stdout)

        # 10. bad input
        bad = [
            ("twice", "system S { coord x, y, z; L = x'^2 + y'^2 + z'^2\n constrain c: x = y\n constrain c: x = 0 }\n",
             "twice.lag:3:12: error: the constraint 'c' is declared twice"),
            ("nonlinear", "system S { coord x, y; L = x'^2 + y'^2\n constrain c: x'^2 = y' }\n"
                          "simulate S { time 0 .. 1 }\n",
             "nonlinear.lag:2:15: error: the constraint 'c' is not linear in the velocities (its coefficient of x' "
             "depends on x'): a constraint is g(q, t) = 0 or a(q, t).q' + b(q, t) = 0"),
            ("nocoord", "system S { param a = 1; coord x, y; L = x'^2 + y'^2\n constrain c: a*t = 1 }\n"
                        "simulate S { time 0 .. 1 }\n",
             "nocoord.lag:2:15: error: the constraint 'c' does not involve the coordinates of 'S'"),
            ("all", "system S { coord x; L = x'^2\n constrain c: x = 1 }\n",
             "all.lag:2:2: error: 1 constraint on 1 coordinate leaves nothing free to move"),
            ("accel", "system S { coord x, y; accel x, y = 0, 0\n constrain c: x = y }\n",
             "accel.lag:2:2: error: a constraint's force comes from a Lagrangian (a multiplier in the Euler-Lagrange "
             "equations), and 'S' gives accelerations"),
            ("variational", "system S { coord x, y; L = x'^2 + y'^2\n constrain c: x' = y }\n"
                            "simulate S { time 0 .. 1; method variational }\n",
             "variational.lag:3:34: error: the variational integrator takes constraints on the coordinates (g(q, t) = "
             "0), and 'S' constrains the velocities: use one of GSL's steppers"),
            ("spelling", "system S { coord x, y; L = x'^2 + y'^2\n constraint c = x }\n",
             "spelling.lag:2:2: error: a constraint is written 'constrain NAME: lhs = rhs' (its name, a colon, then an "
             "equation), as in 'constrain rod: x^2 + y^2 = l^2'"),
            ("acc", "system S { coord x, y; L = x'^2 + y'^2\n constrain c: x'' = 0 }\n",
             "acc.lag:2:15: error: 'x''' (an acceleration) is only allowed in a job's 'record' and in data columns"),
            ("compare", "system S { coord x, y; L = x'^2 + y'^2\n constrain c: x = y }\n"
                        "system T { coord x, y; L = x'^2 + y'^2 }\ncompare T, S { time 0 .. 1 }\n",
             "compare.lag:4:12: error: system 'S' has constraints: compare takes systems without them yet (simulate, "
             "action and lag el take them)"),
            ("inproblem", "problem P { domain s = 0 .. 1; field y; minimize integral(y'^2)\n constrain c: y = 0 }\n",
             "inproblem.lag:2:2: error: 'constrain' belongs in a system, not in a problem"),
        ]
        for name, text, want in bad:
            path = os.path.join(tmp, name + ".lag")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([LAG, "run", "--quiet", "-o", tmp, path], capture_output=True, text=True)
            got = [l.replace(tmp + "/", "") for l in p.stderr.splitlines() if ": error:" in l]
            report(p.returncode == 1 and got[:1] == [want], "bad input (%s): %s" % (name, want),
                   "exit %d\n%s" % (p.returncode, "\n".join(got)))
        # a rank-deficient start: two copies of one constraint
        text = """system S { coord x, y, z; L = x'^2 + y'^2 + z'^2
 constrain a: x = 1
 constrain b: 2*x = 2 }
simulate S { time 0 .. 1; init x = 1 }
"""
        p = run_lag(LAG, tmp, "dep", text)
        report(p.returncode == 1 and "the start (init) cannot be put on the constraints: the constraints are not "
               "independent there" in p.stderr, "dependent constraints: a clear message, exit 1", p.stderr)
        rolling_disc(tmp)
        action(tmp)
        modes(tmp)
        units(tmp)
        learned_and_mpi(tmp)
    finish()


def learned_and_mpi(tmp):
    text = """system LCart {
    param l = 1
    coord x, y
    net f = mlp(in = 2, hidden = [8], out = 1, activation = softplus)
    L = 0.5*(x'^2 + y'^2) - 9.81*y + 0.01*f(x, y)
    constrain rod: x^2 + y^2 = l^2
}
simulate LCart { time 0 .. 2; init x = 0.6, y = -0.8; tol 1e-11; output "l1.csv" }
simulate LCart { time 0 .. 2; init x = 0.6, y = -0.8; method msbdf; tol 1e-11; output "l2.csv"
    record lambda_rod = 2*x }
"""
    p = run_lag(LAG, tmp, "learned", text)
    a = read_csv(os.path.join(tmp, "l1.csv")) if p.returncode == 0 else []
    b = read_csv(os.path.join(tmp, "l2.csv")) if p.returncode == 0 else []
    e = worst(max(err(r["x"], s["x"]), err(r["y"], s["y"])) for r, s in zip(a, b)) if a and len(a) == len(b) else math.inf
    drift = worst(abs(r["drift_rod"]) for r in a) if a else math.inf
    report(e <= 1e-7 and drift <= 1e-12, "a learned L on the rod: rk8pd against msbdf (worst %.3g), drift %.3g" %
           (e, drift), p.stderr)
    cols = list(b[0].keys()) if b else []
    report(cols.count("lambda_rod") == 1 and b and all(close(r["lambda_rod"], 2 * r["x"], 0) for r in b),
           "a record named lambda_rod replaces the multiplier's column: %s" % cols)
    from lagtest import mpi_launcher, mpi_same
    what = "mpirun -n 2: a constrained ensemble (starts moved onto the rod) writes one process's bytes"
    cmd = mpi_launcher(LAG, [what])
    if cmd:
        ens = CART + """simulate Cart { time 0 .. 1; samples 5; seed 2; init x = uniform(-1, 1), y = -1
    tol 1e-10; output "e.csv" }
"""
        ok, why, _, _ = mpi_same(LAG, cmd, tmp, "cens", ens, (2,))
        report(ok, what, why)


def units(tmp):
    text = """system Cm {
    param m = 100 [g], l = 50 [cm], g = 9.81 [m/s^2]
    coord x [cm], y [cm]
    L = 0.5*m*(x'^2 + y'^2) - m*g*y
    constrain rod: x^2 + y^2 = l^2
}
simulate Cm { time 0 .. 1; every 0.01; init x = 30, y = -40; tol 1e-12; output "u.csv" }
"""
    p = run_lag(LAG, tmp, "ucm", text)
    rows = read_csv(os.path.join(tmp, "u.csv")) if p.returncode == 0 else []
    # tension m g (3 cos(th) - 2 cos(th0)) in newtons, cos(th) = -y/l; the rod's force lambda (2x, 2y) in SI
    e = worst(err(-2 * 0.5 * r["lambda_rod"], 0.1 * G * (3 * (-r["y"] / 50) - 2 * 0.8)) for r in rows) \
        if len(rows) == 101 else math.inf
    on = worst(abs(r["x"] ** 2 + r["y"] ** 2 - 2500) for r in rows) if rows else math.inf
    report(e <= 1e-9 and on <= 1e-8, "units: a pendulum in cm and g on its rod: the tension in newtons from the "
           "multiplier (worst %.3g), on the circle in cm (%.3g)" % (e, on), p.stderr)
    text = """system Bad {
    param m = 1 [kg], l = 1 [m]
    coord x [m], y [m], z [m]
    L = 0.5*m*(x'^2 + y'^2 + z'^2)
    constrain rod: x^2 + y^2 = l
}
"""
    p = run_lag(LAG, tmp, "ubad", text)
    want = "ubad.lag:5:32: error: the constraint 'rod' sets m^2 equal to m"
    report(p.returncode == 1 and want in p.stderr.replace(tmp + "/", ""), "units: " + want, p.stderr)


def modes(tmp):
    import json
    text = CART + """system CartDouble {
    param m = 1, l = 1.2, g = 9.81
    coord x1, y1, x2, y2
    L = 0.5*m*(x1'^2 + y1'^2 + x2'^2 + y2'^2) - m*g*(y1 + y2)
    constrain rod1: x1^2 + y1^2 = l^2
    constrain rod2: (x2 - x1)^2 + (y2 - y1)^2 = l^2
}
system Knife { coord x, y, phi; L = x'^2 + y'^2 + phi'^2
    constrain blade: x'*sin(phi) = y'*cos(phi) }
"""
    path = os.path.join(tmp, "modes.lag")
    with open(path, "w") as f:
        f.write(text)

    def run(*args):
        p = subprocess.run([LAG, "modes", path, *args, "--json"], capture_output=True, text=True)
        try:
            return p, json.loads(p.stdout)
        except ValueError:
            return p, {}
    p, below = run("Cart", "--at", "y=-1")
    _, above = run("Cart", "--at", "y=1")
    w2b, w2a = below.get("omega2", [math.nan]), above.get("omega2", [math.nan])
    report(len(w2b) == 1 and close(w2b[0], G / LL, 0, 1e-12) and close(below["equilibrium"]["y"], -LL, 1e-12)
           and len(w2a) == 1 and close(w2a[0], -G / LL, 0, 1e-12),
           "lag modes: the Cartesian pendulum, one mode on the rod: w^2 = g/l below (%r), -g/l above (%r)" % (w2b, w2a),
           p.stderr)
    p, dbl = run("CartDouble", "--at", "y1=-1,y2=-2")
    w2 = dbl.get("omega2", [])
    want = [G / LL * (2 - math.sqrt(2)), G / LL * (2 + math.sqrt(2))]
    report(len(w2) == 2 and all(close(a, b, 0, 1e-10) for a, b in zip(w2, want)),
           "lag modes: the Cartesian double pendulum's w^2 = (g/l)(2 -+ sqrt 2) on two rods (%r)" % w2, p.stderr)
    p, _ = run("Knife")
    want = ("lag: modes Knife: the constraint 'blade' is on the velocities: a rolling or sliding contact has no "
            "equilibrium manifold to linearise on; lag modes takes constraints g(q, t) = 0 only")
    report(p.returncode == 1 and p.stderr.strip() == want, "lag modes: a velocity constraint is refused: " + want,
           p.stderr)


def action(tmp):
    for t1, kind, index in ((1.0, "minimum", 0), (1.5, "saddle", 1)):
        th1 = 0.2
        text = CART.replace("Cart", "C") + """system A {
    param m = 1.5, l = 1.2, g = 9.81
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
action C { from 0: x = %.17g, y = %.17g; to %g: x = %.17g, y = %.17g; points 2001; output "c.csv" }
action A { from 0: th = 0.1; to %g: th = %.17g; points 2001; output "a.csv" }
""" % (LL * math.sin(0.1), -LL * math.cos(0.1), t1, LL * math.sin(th1), -LL * math.cos(th1), t1, th1)
        p, js = run_json(LAG, tmp, "act.lag", text)
        if p.returncode != 0 or len(js) != 2:
            report(False, "action with a constraint (t1 = %g)" % t1, p.stderr)
            continue
        c, a = js
        cr, ar = read_csv(os.path.join(tmp, "c.csv")), read_csv(os.path.join(tmp, "a.csv"))
        ok = c["converged"] and c["kind"] == kind and c["morse_index"] == index and a["morse_index"] == index
        report(ok and close(c["action"], a["action"], 0, 1e-5),
               "action with a constraint (t1 = %g): a %s of index %d, S = %.10g against the angle's %.10g" %
               (t1, c["kind"], c["morse_index"], c["action"], a["action"]), str(c))
        e = worst(max(err(r["x"], LL * math.sin(s["th"])), err(r["y"], -LL * math.cos(s["th"]))) for r, s in zip(cr, ar))
        on = worst(abs(r["x"] ** 2 + r["y"] ** 2 - LL * LL) for r in cr)
        report(len(cr) == len(ar) == 2001 and e <= 1e-5 and on <= 1e-10,
               "its path against the angle formulation's (worst %.3g), on the circle at every node (%.3g)" % (e, on))
        # the tension m g cos(th) + m l th'^2 = -2 l lambda, inside (th' by central differences)
        e = worst(err(-2 * LL * r["lambda_rod"], M * G * math.cos(s["th"]) + M * LL * s["th'"] ** 2) /
                  (M * G) for r, s in zip(cr[1:-1], ar[1:-1]))
        report(e <= 1e-4, "the rod's tension from the path's multiplier (worst relative %.3g)" % e)
        v = c["initial_velocities"]
        report(close(c["shooting_mismatch"], 0, 1e-9) and close(v["x'"], LL * math.cos(0.1) * a["initial_velocities"]["th'"], 1e-5)
               and close(v["x'"] * math.sin(0.1) * LL - v["y'"] * LL * math.cos(0.1), 0, 1e-12),
               "shot back by the constrained variational integrator (mismatch %.3g); the start's velocity is tangent "
               "to the circle" % c["shooting_mismatch"], str(v))
    bad = [("offend", CART + "action Cart { from 0: x = 0, y = -1.2; to 1: x = 1, y = -1; points 11 }\n",
            "action Cart: the final end ('to') is not on the constraint 'rod': g = 0.56 there, not 0"),
           ("velocity", """system K { coord x, y; L = x'^2 + y'^2
 constrain c: x' = y }
action K { from 0: x = 0, y = 0; to 1: x = 1, y = 1 }
""", "velocity.lag:2:2: error: an action takes constraints on the coordinates (g(q, t) = 0); 'c' constrains the "
    "velocities, which no action principle gives")]
    for name, text, want in bad:
        p = run_lag(LAG, tmp, name, text)
        report(p.returncode == 1 and want in p.stderr.replace(tmp + "/", ""), "action, bad input (%s): %s" % (name, want),
               p.stderr)


DISC = """system Disc {
    param m = 1.3, r = 0.4, g = 9.81
    coord x, y, q1, q2, q3
    let Gx = x + r*sin(q2)*sin(q1)
    let Gy = y - r*sin(q2)*cos(q1)
    let Gz = r*cos(q2)
    let T = 0.5*m*(Gx'^2 + Gy'^2 + Gz'^2) + 0.5*(m*r^2/4)*(q2'^2 + q1'^2*cos(q2)^2)
            + 0.5*(m*r^2/2)*(q3' + q1'*sin(q2))^2
    L = T - m*g*r*cos(q2)
    constrain roll_x: x' = r*q3'*cos(q1)
    constrain roll_y: y' = r*q3'*sin(q1)
}
"""


def disc_row(tmp, init, records):
    """The leaning disc's first row from the start init with those records:
    (the row, "") or (None, lag's stderr)."""
    text = DISC + "simulate Disc { init %s; time 0 .. 0.01, every 0.01; tol 1e-12; record %s; output \"d.csv\" }\n" \
        % (init, records)
    p = run_lag(LAG, tmp, "disc", text)
    if p.returncode != 0:
        return None, p.stderr
    return read_csv(os.path.join(tmp, "d.csv"))[0], ""


def rolling_disc(tmp):
    """The leaning rolling disc (yaw q1, lean q2, spin q3 about the disc's
    axis; contact point x, y) against SymPy's LagrangesMethod."""
    what = "leaning rolling disc: accelerations and multipliers against SymPy's LagrangesMethod (nonhol_coneqs)"
    try:
        import sympy as sp
        from sympy.physics.mechanics import (LagrangesMethod, Lagrangian, Point, ReferenceFrame, RigidBody,
                                             dynamicsymbols, inertia)
    except ImportError:
        from lagtest import skip
        skip(what, "python3-sympy is not installed")
        return
    import random
    x, y, q1, q2, q3 = qs = dynamicsymbols("x y q1 q2 q3")
    m, r, g = sp.symbols("m r g")
    N = ReferenceFrame("N")
    Yf = N.orientnew("Y", "Axis", [q1, N.z])
    Lf = Yf.orientnew("L", "Axis", [q2, Yf.x])
    Rf = Lf.orientnew("R", "Axis", [q3, Lf.y])
    O = Point("O")
    O.set_vel(N, 0)
    C = O.locatenew("C", x * N.x + y * N.y)
    G = C.locatenew("G", r * Lf.z)
    G.set_vel(N, G.pos_from(O).dt(N))
    D = RigidBody("D", G, Rf, m, (inertia(Lf, m * r ** 2 / 4, m * r ** 2 / 2, m * r ** 2 / 4), G))
    D.potential_energy = m * g * r * sp.cos(q2)
    # the disc's material point at the contact does not move
    vc = G.vel(N) + Rf.ang_vel_in(N).cross(C.pos_from(G))
    lm = LagrangesMethod(Lagrangian(N, D), qs, nonhol_coneqs=[vc.dot(N.x), vc.dot(N.y)], frame=N)
    lm.form_lagranges_equations()
    MM, FF = lm.mass_matrix_full, lm.forcing_full
    rnd = random.Random(5)
    names = ["x", "y", "q1", "q2", "q3"]
    errs, why = [], ""
    for k in range(4):
        q = [rnd.uniform(-1, 1), rnd.uniform(-1, 1), rnd.uniform(-3, 3), rnd.uniform(-1.2, 1.2), rnd.uniform(-3, 3)]
        u = [0, 0, rnd.uniform(-2, 2), rnd.uniform(-2, 2), rnd.uniform(-5, 5)]
        u[0], u[1] = 0.4 * u[4] * math.cos(q[2]), 0.4 * u[4] * math.sin(q[2])
        sub = {m: 1.3, r: 0.4, g: 9.81}
        sub.update({qi.diff(): b for qi, b in zip(qs, u)})
        at = {qi: a for qi, a in zip(qs, q)}
        sol = MM.xreplace(sub).xreplace(at).evalf().LUsolve(FF.xreplace(sub).xreplace(at).evalf())
        want = [float(sol[5 + i]) for i in range(5)] + [float(sol[10]), float(sol[11])]
        init = ", ".join("%s = %.17g, %s' = %.17g" % (n, a, n, b) for n, a, b in zip(names, q, u))
        row, said = disc_row(tmp, init, ", ".join("a%d = %s''" % (i, n) for i, n in enumerate(names)))
        if not row:
            errs.append(math.inf)
            why = said
            continue
        got = [row["a%d" % i] for i in range(5)] + [row["lambda_roll_x"], row["lambda_roll_y"]]
        errs.append(worst(err(a, b) / max(1.0, abs(b)) for a, b in zip(got, want)))
    e = worst(errs) if errs else math.inf
    report(e <= 1e-12, what + " (worst relative %.3g)" % e, why)

    # SymPy's own rolling disc (sympy/physics/mechanics/tests/test_kane.py):
    # Kane's method with the body-fixed angular velocities u as speeds and
    # the contact point's zero velocity built in; its q'' from u' through
    # the kinematic equations u1 = q2', u2 = q3' + q1' sin q2, u3 = q1' cos q2
    from sympy.physics.mechanics import KanesMethod, dot
    u1, u2, u3 = dynamicsymbols("u1 u2 u3")
    Yk = N.orientnew("Yk", "Axis", [q1, N.z])
    Lk = Yk.orientnew("Lk", "Axis", [q2, Yk.x])
    Rk = Lk.orientnew("Rk", "Axis", [q3, Lk.y])
    w_qd = Rk.ang_vel_in(N)
    Rk.set_ang_vel(N, u1 * Lk.x + u2 * Lk.y + u3 * Lk.z)
    Ck = Point("Ck")
    Ck.set_vel(N, 0)
    Gk = Ck.locatenew("Gk", r * Lk.z)
    Gk.v2pt_theory(Ck, N, Rk)
    body = RigidBody("Bk", Gk, Rk, m, (inertia(Lk, m * r ** 2 / 4, m * r ** 2 / 2, m * r ** 2 / 4), Gk))
    km = KanesMethod(N, q_ind=[q1, q2, q3], u_ind=[u1, u2, u3], kd_eqs=[dot(Rk.ang_vel_in(N) - w_qd, uv) for uv in Lk])
    km.kanes_equations([body], [(Gk, -m * g * Yk.z)])
    KM, KF = km.mass_matrix_full, km.forcing_full
    errs, why = [], ""
    for k in range(4):
        q = [rnd.uniform(-3, 3), rnd.uniform(-1.2, 1.2), rnd.uniform(-3, 3)]
        qd = [rnd.uniform(-2, 2), rnd.uniform(-2, 2), rnd.uniform(-5, 5)]
        c2, s2 = math.cos(q[1]), math.sin(q[1])
        u = [qd[1], qd[2] + qd[0] * s2, qd[0] * c2]
        sub = {m: 1.3, r: 0.4, g: 9.81, u1: u[0], u2: u[1], u3: u[2], q1: q[0], q2: q[1], q3: q[2]}
        sol = KM.xreplace(sub).evalf().LUsolve(KF.xreplace(sub).evalf())
        ud = [float(sol[3 + i]) for i in range(3)]
        a1 = ud[2] / c2 + u[2] * s2 * qd[1] / c2 ** 2
        want = [a1, ud[0], ud[1] - a1 * s2 - qd[0] * c2 * qd[1]]
        init = "x = 0.2, y = -0.1, x' = %.17g, y' = %.17g, " % (0.4 * qd[2] * math.cos(q[0]), 0.4 * qd[2] * math.sin(q[0]))
        init += ", ".join("%s = %.17g, %s' = %.17g" % (n, a, n, b) for n, a, b in zip(names[2:], q, qd))
        row, said = disc_row(tmp, init, "a2 = q1'', a3 = q2'', a4 = q3''")
        if not row:
            errs.append(math.inf)
            why = said
            continue
        errs.append(worst(err(row["a%d" % (i + 2)], w) / max(1.0, abs(w)) for i, w in enumerate(want)))
    e = worst(errs) if errs else math.inf
    report(e <= 1e-12, "leaning rolling disc: q'' against SymPy's own KanesMethod rolling disc (test_kane.py) "
           "(worst relative %.3g)" % e, why)


main()
