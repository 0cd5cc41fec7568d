#!/usr/bin/env python3
"""tests/vectors.py — systems written with vectors (TAP).

`vec(a, b[, c])`, + - and scaling, dot, cross, norm, components u.x and
primes of vector lets are built component by component in the symbolic
core, so each of these systems must move exactly as the same system
written by hand in generalised coordinates (five seeded random starts,
0.5 s every 0.05, every row equal to 1e-12):

1. The spherical pendulum: r = l vec(sin th cos ph, sin th sin ph, -cos th),
   L = m/2 dot(r', r') - m g r.z.
2. The double pendulum with 2-D vectors, one kinetic term as norm(r1')^2
   (taken as dot(r1', r1') exactly: the mass matrix is m1 l1^2 + ..., no
   square root left in `lag el`).
3. A charge in a uniform magnetic field B along z, L = m/2 v.v + q v.A
   with A = cross(B, r)/2 (3-D cross), against the hand-expanded
   m/2 (x'^2 + y'^2 + z'^2) + q B/2 (x y' - y x'); and the 2-D cross
   product (a number) in L = m/2 dot(r', r') + q B/2 cross(r, r').
4. Records of a vector let's components and their rates, r.x' and r'.y,
   against their closed forms computed here.
"""
import math
import subprocess
import os
import tempfile

from lagtest import program, read_csv, err, worst, run_json, report, finish, sim_rows, same_rows

LAG, SRCDIR = program()

CASES = [
    ("the spherical pendulum", "S", """system S {
    param m = 0.8, l = 1.2, g = 9.81
    coord th, ph
    let r = l*vec(sin(th)*cos(ph), sin(th)*sin(ph), -cos(th))
    L = 0.5*m*dot(r', r') - m*g*r.z
}
""", """system S {
    param m = 0.8, l = 1.2, g = 9.81
    coord th, ph
    L = 0.5*m*l^2*(th'^2 + sin(th)^2*ph'^2) + m*g*l*cos(th)
}
""", "th = uniform(0.3, 2.5), ph = uniform(-3, 3), th' = uniform(-1, 1), ph' = uniform(0.5, 2)"),
    ("the double pendulum", "DP", """system DP {
    param m1 = 1.3, m2 = 0.7, l1 = 1.1, l2 = 0.9, g = 9.81
    coord t1, t2
    let r1 = l1*vec(sin(t1), -cos(t1))
    let r2 = r1 + l2*vec(sin(t2), -cos(t2))
    L = 0.5*m1*norm(r1')^2 + 0.5*m2*dot(r2', r2') - m1*g*r1.y - m2*g*r2.y
}
""", """system DP {
    param m1 = 1.3, m2 = 0.7, l1 = 1.1, l2 = 0.9, g = 9.81
    coord t1, t2
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
      + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
""", "t1 = uniform(-2, 2), t2 = uniform(-2, 2), t1' = uniform(-1, 1), t2' = uniform(-1, 1)"),
    ("a charge in a magnetic field (3-D cross)", "Q", """system Q {
    param m = 1.5, q = 0.7, B = 2
    coord x, y, z
    let r = vec(x, y, z)
    let A = 0.5*cross(vec(0, 0, B), r)
    L = 0.5*m*dot(r', r') + q*dot(r', A)
}
""", """system Q {
    param m = 1.5, q = 0.7, B = 2
    coord x, y, z
    L = 0.5*m*(x'^2 + y'^2 + z'^2) + 0.5*q*B*(x*y' - y*x')
}
""", "x = uniform(-1, 1), y = uniform(-1, 1), z = uniform(-1, 1), x' = uniform(-1, 1), y' = uniform(-1, 1), z' = uniform(-1, 1)"),
    ("a charge in a magnetic field (2-D cross)", "Q", """system Q {
    param m = 1.5, q = 0.7, B = 2
    coord x, y
    let r = vec(x, y)
    L = 0.5*m*dot(r', r') + 0.5*q*B*cross(r, r')
}
""", """system Q {
    param m = 1.5, q = 0.7, B = 2
    coord x, y
    L = 0.5*m*(x'^2 + y'^2) + 0.5*q*B*(x*y' - y*x')
}
""", "x = uniform(-1, 1), y = uniform(-1, 1), x' = uniform(-1, 1), y' = uniform(-1, 1)"),
]


def rows_of(tmp, name, text, job):
    return sim_rows(LAG, tmp, name, text, job)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for what, sysname, vec, hand, init in CASES:
            job = ("simulate %s { init %s; samples 5, seed 3; time 0 .. 0.5, every 0.05; tol 1e-13; output \"OUT\" }\n"
                   % (sysname, init))
            a, why_a = rows_of(tmp, "vec", vec, job)
            b, why_b = rows_of(tmp, "hand", hand, job)
            d = same_rows(a, b)
            report(d <= 1e-12, "%s written with vectors moves as the hand-expanded one (largest difference %.2g)"
                   % (what, d), why_a + why_b)

        # 2b. norm(u)^2 is dot(u, u): no square root in the derived equations
        path = os.path.join(tmp, "dp.lag")
        with open(path, "w") as f:
            f.write(CASES[1][2])
        r = subprocess.run([LAG, "el", path, "DP"], capture_output=True, text=True, timeout=60)
        report(r.returncode == 0 and "sqrt" not in r.stdout and "M_2_2 = m2*l2^2" in r.stdout,
               "norm(r1')^2 derives as dot(r1', r1'): no sqrt in lag el, M_2_2 = m2*l2^2", r.stderr + r.stdout[:400])

        # 4. records of components and their rates
        job = ("simulate DP { init t1 = 1, t2 = -0.5, t1' = 0.3, t2' = 0.2; time 0 .. 1, every 0.1; "
               "record ax = r2.x, vx = r2.x', vy = r1'.y, sx = (r1 - r2).x'', tt1 = t1'', tt2 = t2''; output \"OUT\" }\n")
        rows, why = rows_of(tmp, "rec", CASES[1][2], job)
        if rows:
            l1, l2 = 1.1, 0.9
            e = []
            for r in rows:
                t1, t2, w1, w2 = r["t1"], r["t2"], r["t1'"], r["t2'"]
                e.append(err(r["ax"], l1 * math.sin(t1) + l2 * math.sin(t2)))
                e.append(err(r["vx"], l1 * math.cos(t1) * w1 + l2 * math.cos(t2) * w2))
                e.append(err(r["vy"], l1 * math.sin(t1) * w1))
                # (r1 - r2).x = -l2 sin(t2): its second derivative
                e.append(err(r["sx"], -l2 * (math.cos(t2) * r["tt2"] - math.sin(t2) * w2 * w2)))
            report(worst(e) <= 1e-12, "records r2.x, r2.x', r1'.y and (r1 - r2).x'' equal their closed forms (%.2g)"
                   % worst(e))
        else:
            report(False, "records of vector components", why)
    finish()


if __name__ == "__main__":
    main()
