#!/usr/bin/env python3
"""tests/positions.py — systems written with positions and primes (TAP).

`NAME'` of a let and `(expr)'` are total time derivatives, built by the
symbolic core, so a kinetic energy can be written from where each mass is.

1. The double pendulum written as 0.5*m1*(x1'^2 + y1'^2) + ... with
   x1 = l1 sin t1, ... gives the hand-expanded system's motion: five
   seeded random starts, 0.5 s every 0.05, every row equal to 1e-12.
2. The spherical pendulum from its Cartesian position (x, y, z of the bob)
   against L = m l^2 (th'^2 + sin(th)^2 ph'^2)/2 + m g l cos(th): the same.
1c. Every stdlib pendulum (stdlib/pendulums.lag, written with position
   vectors) moves as its Lagrangian expanded by hand in generalised
   coordinates, given here: three seeded random starts each, to 1e-12.
3. Records: x1'' and (x1 + y2)' against their closed forms computed here
   from the recorded t1, t2, their rates and accelerations, to 1e-12.
4. A dissipation written with a let's rate (the damper acts on the
   bob's horizontal velocity x'): against the hand-written generalised
   force, the same rows; and two force statements on one coordinate add
   (the same rows as one force of their sum).
5. An action (the variational engine) of a system written with positions
   equals the hand-written system's: the stationary path and the action
   to 1e-10.
6. Located errors: a let's rate that contains accelerations in L, (e)''
   in L, a third derivative in a record, (e)' in a job's init, a prime
   after a space, a symmetry generator that is a let's rate; `lag el` of
   a system that is not there suggests the nearest and exits 1.
7. `lag el` and `lag el --lag` say the same of a system with one
   decoupled coordinate among three coupled ones: its closed form in both,
   the others solved numerically in both.
"""
import math
import os
import tempfile

from lagtest import program, read_csv, err, worst, run_json, run_lag, report, finish, sim_rows, same_rows, DOUBLE_PENDULUM

LAG, SRCDIR = program()

DP_POS = """system DP {
    param m1 = 1.3, m2 = 0.7, l1 = 1.1, l2 = 0.9, g = 9.81
    coord t1, t2
    let x1 = l1*sin(t1)
    let y1 = -l1*cos(t1)
    let x2 = x1 + l2*sin(t2)
    let y2 = y1 - l2*cos(t2)
    L = 0.5*m1*(x1'^2 + y1'^2) + 0.5*m2*(x2'^2 + y2'^2) - m1*g*y1 - m2*g*y2
}
"""
DP_HAND = DOUBLE_PENDULUM.replace("m1 = 1, m2 = 1, l1 = 1, l2 = 1", "m1 = 1.3, m2 = 0.7, l1 = 1.1, l2 = 0.9")
SPH_POS = """system S {
    param m = 0.8, l = 1.2, g = 9.81
    coord th, ph
    let x = l*sin(th)*cos(ph)
    let y = l*sin(th)*sin(ph)
    let z = -l*cos(th)
    L = 0.5*m*(x'^2 + y'^2 + z'^2) - m*g*z
}
"""
SPH_HAND = """system S {
    param m = 0.8, l = 1.2, g = 9.81
    coord th, ph
    L = 0.5*m*l^2*(th'^2 + sin(th)^2*ph'^2) + m*g*l*cos(th)
}
"""

# The stdlib's pendulums as they were written before positions: name, params,
# coordinates, L expanded by hand, random starts.
STDLIB_HAND = (
    ("SimplePendulum", "m = 1, l = 1, g = 9.81", "th",
     "0.5*m*l^2*th'^2 + m*g*l*cos(th)",
     "th = uniform(-2, 2), th' = uniform(-1, 1)"),
    ("DoublePendulum", "m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81", "t1, t2",
     "0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)"
     " + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)",
     "t1 = uniform(-2, 2), t2 = uniform(-2, 2), t1' = uniform(-1, 1), t2' = uniform(-1, 1)"),
    ("SphericalPendulum", "m = 1, l = 1, g = 9.81", "theta, phi",
     "0.5*m*l^2*(theta'^2 + sin(theta)^2*phi'^2) + m*g*l*cos(theta)",
     "theta = uniform(0.3, 2.5), phi = uniform(-3, 3), theta' = uniform(-1, 1), phi' = uniform(0.5, 2)"),
    ("CartPendulum", "M = 1, m = 0.2, l = 0.5, g = 9.81", "x, theta",
     "0.5*(M + m)*x'^2 + m*l*x'*theta'*cos(theta) + 0.5*m*l^2*theta'^2 + m*g*l*cos(theta)",
     "x = uniform(-1, 1), theta = uniform(-2, 2), x' = uniform(-1, 1), theta' = uniform(-1, 1)"),
    ("DrivenPendulum", "m = 1, l = 1, g = 9.81, a = 0.05, w = 60", "th",
     "0.5*m*(l^2*th'^2 + 2*l*th'*sin(th)*(-a*w*sin(w*t)) + (a*w*sin(w*t))^2) - m*g*(a*cos(w*t) - l*cos(th))",
     "th = uniform(-2, 2), th' = uniform(-1, 1)"),
)


def rows_of(tmp, name, system, text, job):
    return sim_rows(LAG, tmp, name, text, job)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # 1, 2. the same motion as the hand-expanded systems
        for what, pos, hand, init in (
                ("the double pendulum", DP_POS, DP_HAND,
                 "t1 = uniform(-2, 2), t2 = uniform(-2, 2), t1' = uniform(-1, 1), t2' = uniform(-1, 1)"),
                ("the spherical pendulum", SPH_POS, SPH_HAND,
                 "th = uniform(0.3, 2.5), ph = uniform(-3, 3), th' = uniform(-1, 1), ph' = uniform(0.5, 2)")):
            sysname = "DP" if "DP" in pos else "S"
            job = ("simulate %s { init %s; samples 5, seed 3; time 0 .. 0.5, every 0.05; tol 1e-13; output \"OUT\" }\n"
                   % (sysname, init))
            a, why_a = rows_of(tmp, "pos", sysname, pos, job)
            b, why_b = rows_of(tmp, "hand", sysname, hand, job)
            d = same_rows(a, b)
            report(d <= 1e-12, "%s from positions moves as the hand-expanded one (largest difference %.2g)"
                   % (what, d), why_a + why_b)

        # 1b. examples/double_pendulum.lag's system (written with positions)
        with open(os.path.join(SRCDIR, "examples", "double_pendulum.lag")) as f:
            text = f.read()
        start = text.index("system DoublePendulum {")
        example = text[start:text.index("\n}\n", start) + 3].replace("DoublePendulum", "DP")
        hand = DOUBLE_PENDULUM
        job = ("simulate DP { init t1 = uniform(-2, 2), t2 = uniform(-2, 2), t1' = uniform(-1, 1), t2' = uniform(-1, 1); "
               "samples 5, seed 4; time 0 .. 0.5, every 0.05; tol 1e-13; output \"OUT\" }\n")
        a, why_a = rows_of(tmp, "expos", "DP", example, job)
        b, why_b = rows_of(tmp, "exhand", "DP", hand, job)
        d = same_rows(a, b)
        report(d <= 1e-12, "examples/double_pendulum.lag moves as the hand-expanded double pendulum (%.2g)" % d,
               why_a + why_b)

        # 1c. the stdlib's pendulums against their hand-expanded Lagrangians
        with open(os.path.join(SRCDIR, "stdlib", "pendulums.lag")) as f:
            stdlib = f.read()
        for name, params, coords, lag, init in STDLIB_HAND:
            start = stdlib.index("system %s {" % name)
            written = stdlib[start:stdlib.index("\n}\n", start) + 3]
            hand = "system %s {\n    param %s\n    coord %s\n    L = %s\n}\n" % (name, params, coords, lag)
            job = ("simulate %s { init %s; samples 3, seed 5; time 0 .. 0.5, every 0.05; tol 1e-13; output \"OUT\" }\n"
                   % (name, init))
            a, why_a = rows_of(tmp, "std" + name, name, written, job)
            b, why_b = rows_of(tmp, "hand" + name, name, hand, job)
            d = same_rows(a, b)
            report(d <= 1e-12, "stdlib %s (positions) moves as its hand-expanded Lagrangian (%.2g)" % (name, d),
                   why_a + why_b)

        # 3. records of rates and accelerations
        job = ("simulate DP { init t1 = 1, t2 = -0.5, t1' = 0.3; time 0 .. 1, every 0.1; "
               "record a1 = x1'', v = (x1 + y2)', tt1 = t1'', tt2 = t2''; output \"OUT\" }\n")
        rows, why = rows_of(tmp, "rec", "DP", DP_POS, job)
        if rows:
            l1, l2 = 1.1, 0.9
            e = []
            for r in rows:
                t1, t2, w1, w2 = r["t1"], r["t2"], r["t1'"], r["t2'"]
                a1 = l1 * (math.cos(t1) * r["tt1"] - math.sin(t1) * w1 * w1)
                v = l1 * math.cos(t1) * w1 + l1 * math.sin(t1) * w1 + l2 * math.sin(t2) * w2
                e += [err(r["a1"], a1), err(r["v"], v)]
            report(worst(e) <= 1e-12, "records x1'' and (x1 + y2)' equal their closed forms (%.2g)" % worst(e))
        else:
            report(False, "records of rates and accelerations", why)

        # 4. a damper on a let's rate, against the generalised force by hand
        damped_pos = """system P {
    param m = 1, l = 1, g = 9.81, c = 0.4
    coord th
    let x = l*sin(th)
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
    dissipation D = 0.5*c*x'^2
}
"""
        damped_hand = """system P {
    param m = 1, l = 1, g = 9.81, c = 0.4
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
    force th = -c*l^2*cos(th)^2*th'
}
"""
        job = "simulate P { init th = 1.2; time 0 .. 2, every 0.1; tol 1e-13; output \"OUT\" }\n"
        a, why_a = rows_of(tmp, "dpos", "P", damped_pos, job)
        b, why_b = rows_of(tmp, "dhand", "P", damped_hand, job)
        if a and b:
            for r in a + b:
                r.pop("E", None)  # the energy: equal too, but the damped system's is only reported
        d = same_rows(a, b)
        report(d <= 1e-12, "a dissipation of a let's rate equals the generalised force by hand (%.2g)" % d,
               why_a + why_b)

        # 4b. two forces on one coordinate add (as two dissipations do)
        two = damped_hand.replace("    force th = -c*l^2*cos(th)^2*th'\n",
                                  "    force th = -0.5*c*l^2*cos(th)^2*th'\n    force th = -0.5*c*l^2*cos(th)^2*th'\n")
        b2, why2 = rows_of(tmp, "two", "P", two, job)
        if b2:
            for r in b2:
                r.pop("E", None)
        d = same_rows(b2, b)
        report(d <= 1e-15, "two forces on one coordinate add: the same motion as their sum (%.2g)" % d, why2)

        # 5. the action of a system written with positions
        job = "action DP { from 0: t1 = 0.2, t2 = -0.1; to 1: t1 = 0.5, t2 = 0.4; points 201; output \"OUT\" }\n"
        pa, ja = run_json(LAG, tmp, "apos.lag", DP_POS + job.replace("OUT", "apos.csv"))
        pb, jb = run_json(LAG, tmp, "ahand.lag", DP_HAND + job.replace("OUT", "ahand.csv"))
        ok = pa.returncode == 0 and pb.returncode == 0 and ja and jb
        if ok:
            sa, sb = ja[-1].get("action"), jb[-1].get("action")
            ya, yb = read_csv(os.path.join(tmp, "apos.csv")), read_csv(os.path.join(tmp, "ahand.csv"))
            d = same_rows(ya, yb)
            ds = err(sa, sb) if isinstance(sa, float) and isinstance(sb, float) else math.inf
            report(d <= 1e-10 and ds <= 1e-10, "the action from positions: the same stationary path (%.2g) and "
                   "action (%.2g)" % (d, ds))
        else:
            report(False, "the action from positions", pa.stderr + pb.stderr)

        # 6. located errors
        def bad(name, text, want):
            p = run_lag(LAG, tmp, name, text)
            first = p.stderr.splitlines()[0] if p.stderr else ""
            report(p.returncode == 1 and want in first, "%s: %s" % (name, want), p.stderr)

        base = "system A {\n    coord q\n    let x = sin(q)\n    let v = x'\n"
        bad("rate_of_velocity", base + "    L = 0.5*v'^2\n}\n",
            "rate_of_velocity.lag:5:13: error: 'v'' is the time derivative of 'v', which "
            "contains velocities: it contains accelerations, which only a job's 'record' may use")
        bad("second_rate", base + "    L = 0.5*q'^2 + (x*q)''\n}\n",
            "second_rate.lag:5:20: error: (...)'' (an acceleration) is only allowed in a job's 'record'")
        bad("third", base + "    L = 0.5*v^2\n}\nsimulate A { init q = 1; time 0 .. 1; record a = x''' }\n",
            "third.lag:7:50: error: 'x'''' is a time derivative of order 3")
        bad("in_init", base + "    L = 0.5*v^2\n}\nsimulate A { init q = (1)'; time 0 .. 1 }\n",
            "in_init.lag:7:23: error: (...)' is a time derivative: it may appear in a system's")
        bad("spaced", "system A {\n    coord q\n    L = 0.5*(2*q) '^2\n}\n",
            "spaced.lag:3:19: error: a prime (') must follow a name or a closing parenthesis directly")
        bad("generator", base + "    L = 0.5*v^2\n    symmetry s: q -> x'\n}\n",
            "generator.lag:6:22: error: a generator is a function of the coordinates (and t), not of the "
            "velocities: 'x'' is a velocity")
        # lag el's text and --lag say the same of a partly decoupled system
        four = """system Four {
    coord a, b, c, d
    L = 0.5*a'^2 + 0.5*b'^2 + 0.5*c'^2 + a'*b'*cos(c) + b'*c'*cos(a) + 0.5*d'^2 - cos(a) - d^2
}
"""
        with open(os.path.join(tmp, "four.lag"), "w") as f:
            f.write(four)
        import subprocess
        pt = subprocess.run([LAG, "el", os.path.join(tmp, "four.lag")], capture_output=True, text=True)
        pl = subprocess.run([LAG, "el", "--lag", os.path.join(tmp, "four.lag")], capture_output=True, text=True)
        text_ok = "    d'' = -2*d" in pt.stdout and all("    %s'': from M q'' = f, solved numerically (coupled)" % q
                                                        in pt.stdout for q in "abc")
        lag_ok = "accel_d = -2*d" in pl.stdout and all("# accel_%s: from M q'' = f, solved numerically (coupled)" % q
                                                       in pl.stdout for q in "abc")
        report(pt.returncode == 0 and pl.returncode == 0 and text_ok and lag_ok,
               "lag el and --lag agree: the decoupled d'' = -2*d in closed form, a, b, c solved numerically",
               pt.stdout + pl.stdout)

        # lag el of a system that is not there: the nearest, exit 1
        with open(os.path.join(tmp, "two.lag"), "w") as f:
            f.write(DP_POS.replace("system DP", "system Pendulum2") + DP_HAND.replace("system DP", "system Cart"))
        import subprocess
        p = subprocess.run([LAG, "el", os.path.join(tmp, "two.lag"), "Pendulum"], capture_output=True, text=True)
        report(p.returncode == 1 and p.stderr.strip() == "lag: el: no system 'Pendulum' in the program (did you "
               "mean 'Pendulum2'?)", "lag el of a missing system suggests the nearest, exit 1", p.stderr)
    finish()


main()
