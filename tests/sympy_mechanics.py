#!/usr/bin/env python3
"""tests/sympy_mechanics.py — lag against SymPy's LagrangesMethod (TAP).

Three systems written in lag with positions, points, bodies and gravity;
the same systems given to sympy.physics.mechanics.LagrangesMethod (the
Lagrangian from the same positions, dampers as a force list).  At seeded
random states the accelerations must agree to 1e-10 (relative): lag's are
recorded at t = 0 of a simulation started at each state, SymPy's are
M^-1 f of its mass matrix and forcing, evaluated here.

1. A cart carrying a 2-link pendulum (points, gravity).
2. A chain of three masses joined by springs and dampers to a wall
   (points; Rayleigh dissipation against SymPy's force list).
3. A disc rolling without slipping down an incline, pulled back by a
   spring (a body with an angle; its centre's position from the angle).

Skipped when python3-sympy is not installed.
"""
import math
import os
import random
import sys
import tempfile

from lagtest import program, read_csv, run_json, report, finish, err, worst

LAG, SRCDIR = program()

try:
    import sympy as sp
    from sympy.physics.mechanics import LagrangesMethod, dynamicsymbols, ReferenceFrame, Point
except ImportError:
    print("1..0 # SKIP python3-sympy is not installed")
    sys.exit(0)


def lag_accels(tmp, name, text, sysname, coords, state):
    init = ", ".join("%s = %.17g" % (c, v) for c, v in zip(coords + [c + "'" for c in coords], state))
    rec = ", ".join("a%d = %s''" % (i, c) for i, c in enumerate(coords))
    job = ("simulate %s { init %s; time 0 .. 0.01, every 0.01; record %s; output \"%s.csv\" }\n"
           % (sysname, init, rec, name))
    p, _ = run_json(LAG, tmp, name + ".lag", text + job)
    if p.returncode != 0:
        return None, p.stderr
    r = read_csv(os.path.join(tmp, name + ".csv"))[0]
    return [r["a%d" % i] for i in range(len(coords))], ""


def sympy_accels(L, q, values, state, forcelist=None, frame=None):
    lm = LagrangesMethod(L, q, forcelist=forcelist, frame=frame)
    lm.form_lagranges_equations()
    qd = [sp.diff(x, sp.Symbol("t")) for x in q]
    n = len(q)
    # the velocities first: they are derivatives of the coordinates
    vel = {qd[i]: state[n + i] for i in range(n)}
    pos = dict(values)
    pos.update({q[i]: state[i] for i in range(n)})
    M = lm.mass_matrix.subs(vel).subs(pos)
    f = lm.forcing.subs(vel).subs(pos)
    a = M.evalf().LUsolve(f.evalf())
    return [float(x) for x in a]


def compare(what, tmp, name, text, sysname, coords, L, q, values, ranges, seed, forcelist=None, frame=None):
    rnd = random.Random(seed)
    errors = []
    why = ""
    for k in range(4):
        state = [rnd.uniform(lo, hi) for lo, hi in ranges]
        got, why = lag_accels(tmp, "%s%d" % (name, k), text, sysname, coords, state)
        if got is None:
            errors.append(math.inf)
            break
        want = sympy_accels(L, q, values, state, forcelist, frame)
        errors += [err(g, w) / max(1.0, abs(w)) if math.isfinite(w) else math.inf for g, w in zip(got, want)]
    d = worst(errors)
    report(d <= 1e-10, "%s: lag's accelerations equal LagrangesMethod's at 4 random states (%.2g)"
           % (what, d), why)


def main():
    t = sp.Symbol("t")
    with tempfile.TemporaryDirectory() as tmp:
        # 1. cart + 2-link pendulum
        text = """system Cart {
    param M = 2, m1 = 0.7, m2 = 0.4, l1 = 1.1, l2 = 0.8, g = 9.81
    coord x, t1, t2
    let b1 = vec(x + l1*sin(t1), -l1*cos(t1))
    let b2 = b1 + l2*vec(sin(t2), -cos(t2))
    point cart { mass M, at vec(x, 0) }
    point bob1 { mass m1, at b1 }
    point bob2 { mass m2, at b2 }
    gravity G = vec(0, -g)
}
"""
        x, t1, t2 = dynamicsymbols("x t1 t2")
        Mc, m1, m2, l1, l2, g = sp.symbols("M m1 m2 l1 l2 g")
        b1 = (x + l1 * sp.sin(t1), -l1 * sp.cos(t1))
        b2 = (b1[0] + l2 * sp.sin(t2), b1[1] - l2 * sp.cos(t2))
        v2 = lambda p: sum(sp.diff(c, t) ** 2 for c in p)
        L = (Mc * sp.diff(x, t) ** 2 / 2 + m1 * v2(b1) / 2 + m2 * v2(b2) / 2
             - m1 * g * b1[1] - m2 * g * b2[1])
        values = {Mc: 2, m1: 0.7, m2: 0.4, l1: 1.1, l2: 0.8, g: 9.81}
        compare("a cart with a 2-link pendulum", tmp, "cart", text, "Cart", ["x", "t1", "t2"], L, [x, t1, t2],
                values, [(-1, 1), (-2, 2), (-2, 2), (-1, 1), (-2, 2), (-2, 2)], 11)

        # 2. spring-mass-damper chain
        text = """system Chain {
    param m1 = 1, m2 = 1.5, m3 = 0.8, k1 = 4, k2 = 3, k3 = 2, c1 = 0.3, c2 = 0.2, c3 = 0.1
    coord x1, x2, x3
    point a { mass m1, at vec(x1, 0) }
    point b { mass m2, at vec(x2, 0) }
    point c { mass m3, at vec(x3, 0) }
    L = T - 0.5*k1*x1^2 - 0.5*k2*(x2 - x1)^2 - 0.5*k3*(x3 - x2)^2
    dissipation D = 0.5*c1*x1'^2 + 0.5*c2*(x2' - x1')^2 + 0.5*c3*(x3' - x2')^2
}
"""
        X = dynamicsymbols("x1 x2 x3")
        ms = sp.symbols("m1 m2 m3")
        ks = sp.symbols("k1 k2 k3")
        cs = sp.symbols("c1 c2 c3")
        Xd = [sp.diff(v, t) for v in X]
        L = (sum(ms[i] * Xd[i] ** 2 / 2 for i in range(3)) - ks[0] * X[0] ** 2 / 2
             - ks[1] * (X[1] - X[0]) ** 2 / 2 - ks[2] * (X[2] - X[1]) ** 2 / 2)
        N = ReferenceFrame("N")
        P = [Point("P%d" % i) for i in range(3)]
        for i in range(3):
            P[i].set_vel(N, Xd[i] * N.x)
        forces = [(P[0], (-cs[0] * Xd[0] + cs[1] * (Xd[1] - Xd[0])) * N.x),
                  (P[1], (-cs[1] * (Xd[1] - Xd[0]) + cs[2] * (Xd[2] - Xd[1])) * N.x),
                  (P[2], (-cs[2] * (Xd[2] - Xd[1])) * N.x)]
        values = dict(zip(ms, (1, 1.5, 0.8)))
        values.update(dict(zip(ks, (4, 3, 2))))
        values.update(dict(zip(cs, (0.3, 0.2, 0.1))))
        compare("a spring-mass-damper chain", tmp, "chain", text, "Chain", ["x1", "x2", "x3"], L, X, values,
                [(-1, 1)] * 6, 12, forcelist=forces, frame=N)

        # 3. a disc rolling down an incline against a spring
        text = """system Disc {
    param m = 0.9, R = 0.3, alpha = 0.4, k = 2, g = 9.81
    coord th
    let s = R*th
    body disc { mass m, at vec(s*cos(alpha), -s*sin(alpha)), inertia 0.5*m*R^2, angle th }
    gravity G = vec(0, -g)
    L = T - V - 0.5*k*s^2
}
"""
        th = dynamicsymbols("th")
        m, R, al, k, g = sp.symbols("m R alpha k g")
        s = R * th
        cx, cy = s * sp.cos(al), -s * sp.sin(al)
        L = (m * (sp.diff(cx, t) ** 2 + sp.diff(cy, t) ** 2) / 2 + m * R ** 2 / 4 * sp.diff(th, t) ** 2
             - m * g * cy - k * s ** 2 / 2)
        values = {m: 0.9, R: 0.3, al: 0.4, k: 2, g: 9.81}
        compare("a disc rolling down an incline", tmp, "disc", text, "Disc", ["th"], L, [th], values,
                [(-3, 3), (-2, 2)], 13)
    finish()


if __name__ == "__main__":
    main()
