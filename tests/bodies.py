#!/usr/bin/env python3
"""tests/bodies.py — rigid bodies, point masses and gravity (TAP).

1. A physical pendulum (a rod about one end: `body` with a 2-D angle and
   gravity) moves as L = m l^2/6 th'^2 + m g l/2 cos th written by hand
   (rows equal to 1e-12 from five random starts).
2. A symmetric top (3-D body, z-x-z Euler angles, principal inertia
   (I1, I1, I3)) moves as Lagrange's top written by hand,
   L = (I1 + M l^2)/2 (th'^2 + ph'^2 sin^2 th) + I3/2 (ps' + ph' cos th)^2
     - M g l cos th.
3. Steady precession: started at th0 with ph' = W and the spin that the
   closed form M g l = W (I3 w3 - (I1 + M l^2) W cos th0) requires
   (w3 = ps' + ph' cos th), th stays at th0 and ph advances as W t.
4. The kinetic energy T the compiler writes for a body with the z-y-x
   convention and a full inertia tensor (products too) equals
   1/2 m |r'|^2 + 1/2 w.I w with w the body-frame angular velocity
   computed here from R^T dR/dt (R = Rz(a) Ry(b) Rx(c), dR/dt by central
   differences along the angles' rates), at every recorded state; the same
   for z-x-z.
5. Point masses with gravity: two points on a spring in a plane against
   the hand-written L.
"""
import math
import os
import tempfile

from lagtest import program, read_csv, err, worst, run_json, report, finish, sim_rows, same_rows

LAG, SRCDIR = program()


def rows_of(tmp, name, text, job):
    return sim_rows(LAG, tmp, name, text, job)


PHYS = """system P {
    param m = 1.3, l = 0.8, g = 9.81
    coord th
    body rod { mass m, at l/2*vec(sin(th), -cos(th)), inertia m*l^2/12, angle th }
    gravity G = vec(0, -g)
}
"""
PHYS_HAND = """system P {
    param m = 1.3, l = 0.8, g = 9.81
    coord th
    L = m*l^2/6*th'^2 + m*g*l/2*cos(th)
}
"""
TOP = """system Top {
    param M = 1.1, l = 0.4, g = 9.81, I1 = 0.03, I3 = 0.05
    coord ph, th, ps
    body top { mass M, at l*vec(sin(th)*sin(ph), -sin(th)*cos(ph), cos(th)),
               inertia (I1, I1, I3), angles (ph, th, ps), convention zxz }
    gravity G = vec(0, 0, -g)
}
"""
TOP_HAND = """system Top {
    param M = 1.1, l = 0.4, g = 9.81, I1 = 0.03, I3 = 0.05
    coord ph, th, ps
    L = 0.5*(I1 + M*l^2)*(th'^2 + ph'^2*sin(th)^2) + 0.5*I3*(ps' + ph'*cos(th))^2 - M*g*l*cos(th)
}
"""
SPRING = """system Two {
    param m1 = 1, m2 = 2, k = 5, g = 9.81
    coord x1, y1, x2, y2
    point a { mass m1, at vec(x1, y1) }
    point b { mass m2, at vec(x2, y2) }
    gravity G = vec(0, -g)
    L = T - V - 0.5*k*dot(vec(x1, y1) - vec(x2, y2), vec(x1, y1) - vec(x2, y2))
}
"""
SPRING_HAND = """system Two {
    param m1 = 1, m2 = 2, k = 5, g = 9.81
    coord x1, y1, x2, y2
    L = 0.5*m1*(x1'^2 + y1'^2) + 0.5*m2*(x2'^2 + y2'^2) - m1*g*y1 - m2*g*y2 - 0.5*k*((x1 - x2)^2 + (y1 - y2)^2)
}
"""


def rot(axis, a):
    c, s = math.cos(a), math.sin(a)
    if axis == "x":
        return [[1, 0, 0], [0, c, -s], [0, s, c]]
    if axis == "y":
        return [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    return [[c, -s, 0], [s, c, 0], [0, 0, 1]]


def mat(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def omega_body(conv, ang, rate):
    """w in the body frame from R^T dR/dt, dR/dt by central differences."""
    def R(x):
        return mat(mat(rot(conv[0], x[0]), rot(conv[1], x[1])), rot(conv[2], x[2]))
    h = 1e-6
    Rp = R([a + h * r for a, r in zip(ang, rate)])
    Rm = R([a - h * r for a, r in zip(ang, rate)])
    R0 = R(ang)
    dR = [[(Rp[i][j] - Rm[i][j]) / (2 * h) for j in range(3)] for i in range(3)]
    W = [[sum(R0[k][i] * dR[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
    return [W[2][1], W[0][2], W[1][0]]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for what, name, a_text, b_text, init in (
                ("a physical pendulum (body, 2-D angle, gravity)", "P", PHYS, PHYS_HAND,
                 "th = uniform(-2, 2), th' = uniform(-1, 1)"),
                ("a symmetric top (body, z-x-z angles, gravity)", "Top", TOP, TOP_HAND,
                 "ph = uniform(-1, 1), th = uniform(0.3, 1.2), ps = uniform(-1, 1), ph' = uniform(-1, 1), "
                 "th' = uniform(-1, 1), ps' = uniform(5, 10)"),
                ("two point masses on a spring under gravity", "Two", SPRING, SPRING_HAND,
                 "x1 = uniform(-1, 1), y1 = uniform(-1, 1), x2 = uniform(-1, 1), y2 = uniform(-1, 1), "
                 "x1' = uniform(-1, 1), y2' = uniform(-1, 1)")):
            job = ("simulate %s { init %s; samples 5, seed 7; time 0 .. 0.5, every 0.05; tol 1e-13; output \"OUT\" }\n"
                   % (name, init))
            a, why_a = rows_of(tmp, "a", a_text, job)
            b, why_b = rows_of(tmp, "b", b_text, job)
            d = same_rows(a, b)
            report(d <= 1e-12, "%s moves as the hand-written one (largest difference %.2g)" % (what, d), why_a + why_b)

        # 3. steady precession
        M, l, g, I1, I3 = 1.1, 0.4, 9.81, 0.03, 0.05
        th0, W = 0.7, 1.5
        J = I1 + M * l * l
        w3 = (M * g * l / W + J * W * math.cos(th0)) / I3
        ps_rate = w3 - W * math.cos(th0)
        job = ("simulate Top { init th = %.17g, ph' = %.17g, ps' = %.17g; time 0 .. 2, every 0.1; tol 1e-12; "
               "output \"OUT\" }\n" % (th0, W, ps_rate))
        rows, why = rows_of(tmp, "prec", TOP, job)
        if rows:
            e = [err(r["th"], th0) for r in rows] + [err(r["ph"], W * r["t"]) for r in rows]
            report(worst(e) <= 1e-8, "a top started on the closed form of steady precession keeps th = %.2f and "
                   "ph = W t (largest error %.2g)" % (th0, worst(e)))
        else:
            report(False, "steady precession", why)

        # 4. T against w from R^T dR/dt, for z-y-x with products of inertia and for z-x-z
        for conv in ("zyx", "zxz"):
            text = """system B {
    param m = 0.9, A = 0.2, Bm = 0.3, Cm = 0.4, Pxy = 0.05, Pyz = -0.03, Pzx = 0.02
    coord a, b, c, x
    body box { mass m, at vec(x, 2*x, sin(a)), inertia (A, Bm, Cm, Pxy, Pyz, Pzx), angles (a, b, c), convention %s }
}
""" % conv
            job = ("simulate B { init a = 0.3, b = 0.5, c = -0.4, x = 0.1, a' = 0.7, b' = -1.1, c' = 1.3, x' = 0.4; "
                   "time 0 .. 0.5, every 0.05; record KE = T; output \"OUT\" }\n")
            rows, why = rows_of(tmp, "ke_" + conv, text, job)
            if rows:
                e = []
                I = [[0.2, 0.05, 0.02], [0.05, 0.3, -0.03], [0.02, -0.03, 0.4]]
                for r in rows:
                    ang = [r["a"], r["b"], r["c"]]
                    rate = [r["a'"], r["b'"], r["c'"]]
                    w = omega_body(conv, ang, rate)
                    xv = r["x'"]
                    v2 = xv * xv + 4 * xv * xv + (math.cos(r["a"]) * r["a'"]) ** 2
                    ke = 0.5 * 0.9 * v2 + 0.5 * sum(w[i] * I[i][j] * w[j] for i in range(3) for j in range(3))
                    e.append(err(r["KE"], ke))
                report(worst(e) <= 1e-8, "T of a %s body with products of inertia equals 1/2 m v^2 + 1/2 w.I w, w from "
                       "R^T dR/dt (largest error %.2g)" % (conv, worst(e)))
            else:
                report(False, "T of a %s body" % conv, why)
    finish()


if __name__ == "__main__":
    main()
