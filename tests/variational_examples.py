#!/usr/bin/env python3
"""tests/variational_examples.py — the variational examples against closed
forms and independent computations (TAP).

uneven_chain.lag and chain_over_buried_mass.lag: no closed form; the curve
is checked against the continuous Euler-Lagrange equation of
F = U(x, y) sqrt(1 + y'^2) (U holding the reported multiplier), evaluated on
the CSV by central differences, and against a shooting solution computed
here (RK4 on y'' = s^2 (U_y s^2 - (U_x + U_y y') y') / U, Newton on y'(0)
and the multiplier for the end point and the length).
brachistochrone.lag: the cycloid's descent time and shape (both forms, with
their observed orders), and the y(x) form as a TODO (its discrete minimum
is not the cycloid).  soap_film.lag: the two catenoids y = c cosh(x/c),
minimum and saddle, and no convergence past the critical ring distance.
ramsey_growth.lag: the consumption Euler equation c'/c = f'(k) - delta - rho
on the CSV, the turnpike, and the new steady state after the shock.
"""
import math
import os
import tempfile

from lagtest import program, read_csv, close, err, worst, run_json, report, finish

LAG, SRCDIR = program()



def run(tmp, name, text, *args):
    return run_json(LAG, tmp, name, text, *args)


def example(name):
    with open(os.path.join(SRCDIR, "examples", name)) as f:
        return f.read()


# ---------------------------------------------------------------------------
# Chains: F = U(x, y) sqrt(1 + y'^2), U = potential per unit length + lambda.

def el_residual(rows, U, Ux, Uy):
    """The largest |d/dx[U y'/s] - U_y s| over the interior nodes, expanded
    as (U_x + U_y y') y'/s + U y''/s^3 - U_y s with central differences."""
    h = rows[1]["x"] - rows[0]["x"]
    res = []
    for i in range(1, len(rows) - 1):
        x, y = rows[i]["x"], rows[i]["y"]
        p = (rows[i + 1]["y"] - rows[i - 1]["y"]) / (2 * h)
        pp = (rows[i + 1]["y"] - 2 * y + rows[i - 1]["y"]) / h ** 2
        s = math.sqrt(1 + p * p)
        res.append(abs((Ux(x, y) + Uy(x, y) * p) * p / s + U(x, y) * pp / s ** 3 - Uy(x, y) * s))
    return worst(res)


def shoot(V, Vx, Vy, lam, p0, a, b, n, sub=8):
    """RK4 from (a, 0) with slope p0 on the Euler-Lagrange equation of
    (V + lam) sqrt(1 + y'^2); returns the nodes' y (n nodes), the length and
    the objective integral(V s)."""
    def rhs(x, st):
        y, p = st[0], st[1]
        s2 = 1 + p * p
        s = math.sqrt(s2)
        U = V(x, y) + lam
        return (p, s2 * (Vy(x, y) * s2 - (Vx(x, y) + Vy(x, y) * p) * p) / U, s, V(x, y) * s)

    h = (b - a) / ((n - 1) * sub)
    st, x, ys = (0.0, p0, 0.0, 0.0), a, [0.0]
    for k in range((n - 1) * sub):
        k1 = rhs(x, st)
        k2 = rhs(x + h / 2, [u + h / 2 * d for u, d in zip(st, k1)])
        k3 = rhs(x + h / 2, [u + h / 2 * d for u, d in zip(st, k2)])
        k4 = rhs(x + h, [u + h * d for u, d in zip(st, k3)])
        st = tuple(u + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4) for u, d1, d2, d3, d4 in zip(st, k1, k2, k3, k4))
        x = a + (k + 1) * h
        if (k + 1) % sub == 0:
            ys.append(st[0])
    return ys, st[2], st[3]


def shoot_chain(V, Vx, Vy, lam, p0, length, n):
    """Newton on (y'(0), lambda) for y(1) = 0 and the length."""
    for _ in range(30):
        ys, L, J = shoot(V, Vx, Vy, lam, p0, 0.0, 1.0, n)
        F = (ys[-1], L - length)
        if abs(F[0]) + abs(F[1]) < 1e-12:
            break
        d = 1e-7
        ysa, La, _ = shoot(V, Vx, Vy, lam, p0 + d, 0.0, 1.0, n)
        ysb, Lb, _ = shoot(V, Vx, Vy, lam + d, p0, 0.0, 1.0, n)
        j11, j21 = (ysa[-1] - F[0]) / d, (La - length - F[1]) / d
        j12, j22 = (ysb[-1] - F[0]) / d, (Lb - length - F[1]) / d
        det = j11 * j22 - j12 * j21
        p0 -= (j22 * F[0] - j12 * F[1]) / det
        lam -= (-j21 * F[0] + j11 * F[1]) / det
    return ys, lam, J, abs(F[0]) + abs(F[1])


def check_chain(tmp, name, text, csv, V, Vx, Vy, job=0):
    """A chain's solve at 401 and 801 points against its Euler-Lagrange
    equation and a shooting solution: both errors small at 401 points and
    falling as h^2.  Returns (why, rows at 401 points, numbers)."""
    why, first, info = [], [], {}
    for n in (401, 801):
        p, js = run(tmp, name, text.replace("points 401", "points %d" % n))
        try:
            j = js[job]
            rows = read_csv(os.path.join(tmp, csv))
            lam = list(j["multipliers"].values())[0]
            if p.returncode != 0 or not j["converged"] or j["kind"] != "minimum":
                why.append("%d points: exit %d, kind %r: %s" % (n, p.returncode, j["kind"], p.stderr[-300:]))
            h = rows[1]["x"] - rows[0]["x"]
            length = sum(math.hypot(h, rows[i + 1]["y"] - rows[i]["y"]) for i in range(len(rows) - 1))
            if len(rows) != n or not close(length, 1.5, 1e-9):
                why.append("%d rows, polygon length %r (constraint 1.5)" % (len(rows), length))
            r = el_residual(rows, lambda x, y: V(x, y) + lam, Vx, Vy)
            p0 = (rows[1]["y"] - rows[0]["y"]) / h
            ys, slam, sJ, miss = shoot_chain(V, Vx, Vy, lam, p0, 1.5, len(rows))
            if not miss < 1e-10:
                why.append("%d points: shooting missed by %g" % (n, miss))
            ey = worst(err(r_["y"], y) for r_, y in zip(rows, ys))
            info[n] = (r, ey, err(lam, slam), err(j["objective"], sJ), slam, sJ)
            if n == 401:
                first = rows
        except (IndexError, KeyError, OSError, ValueError, ZeroDivisionError) as ex:
            why.append("%d points: %s: %s; stderr %r" % (n, type(ex).__name__, ex, p.stderr[-300:]))
            info[n] = (math.inf,) * 6
    # at 401 points: EL residual, shape, multiplier and energy against the
    # shooting solution, then each falling by about 4 when h halves
    a, b = info[401], info[801]
    for k, (what, tol) in enumerate((("Euler-Lagrange residual", 5e-4), ("shape error", 1e-5),
                                     ("multiplier error", 3e-5), ("energy error", 1e-5))):
        ratio = a[k] / b[k] if b[k] > 0 else math.nan
        if not (a[k] <= tol and 3.0 <= ratio <= 5.0):
            why.append("%s %g at 401 points (tolerance %g), %g at 801 (ratio %g, expected ~4)"
                       % (what, a[k], tol, b[k], ratio))
    return why, first, info


def summary(info):
    return ", ".join("%s %.1e/%.1e" % (w, info[401][k], info[801][k])
                     for k, w in enumerate(("EL residual", "shape", "multiplier", "energy")))


def lowest(rows):
    m = min(rows, key=lambda r: r["y"])
    return m["x"], m["y"]


# ---------------------------------------------------------------------------
# The cycloid from (0, 0) through 1 across and 1 down.

def cycloid():
    th = 2.0
    for _ in range(60):
        F = (th - math.sin(th)) / (1 - math.cos(th)) - 1
        dF = ((1 - math.cos(th)) ** 2 - (th - math.sin(th)) * math.sin(th)) / (1 - math.cos(th)) ** 2
        th -= F / dF
    r = 1 / (1 - math.cos(th))
    return th, r


G = 9.81
TH, RC = cycloid()
T_CYC = TH * math.sqrt(RC / G)


def x_cycloid(u):
    """x on the cycloid at depth u (th < pi: one th per depth)."""
    th = math.acos(max(-1.0, min(1.0, 1 - u / RC)))
    return RC * (th - math.sin(th))


# The catenoids through (+-a, R): c cosh(a/c) = R.
def catenoids(a, R=1.0):
    z = 1.2
    for _ in range(60):
        z -= (z * math.tanh(z) - 1) / (math.tanh(z) + z / math.cosh(z) ** 2)
    cm = a / z            # c cosh(a/c) is least at a/c = z

    def bis(lo, hi):
        f = lambda c: c * math.cosh(a / c) - R
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if (f(mid) > 0) == (f(lo) > 0):
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)
    return bis(cm, 10 * R), bis(a / 20, cm)


def area(c, a):
    return c * (a + c / 2 * math.sinh(2 * a / c))


with tempfile.TemporaryDirectory(prefix="lag-varex.") as tmp:
    # ---- 1. the uneven chain ----
    rho = lambda x: 1 + 0.5 * x
    why, rows, info = check_chain(tmp, "uneven.lag", example("uneven_chain.lag"), "uneven_chain.csv",
                                  lambda x, y: rho(x) * y, lambda x, y: 0.5 * y, lambda x, y: rho(x))
    if rows and not why:
        xl, yl = lowest(rows)
        if not 0.55 <= xl <= 0.62:
            why.append("lowest point at x = %g, expected towards the heavy end (0.55 .. 0.62)" % xl)
    report(not why, "uneven_chain: the curve satisfies the Euler-Lagrange equation of (rho y + lambda) sqrt(1 + y'^2) "
           "and matches a shooting solution (multiplier %.8f, energy %.8f), errors as h^2: %s"
           % (info[401][4], info[401][5], summary(info)), "; ".join(why))

    # ---- 2. the chain over a buried mass ----
    text = example("chain_over_buried_mass.lag")
    GM, XM, D = 0.1, 0.25, 0.75
    rr = lambda x, y: math.hypot(x - XM, y + D)
    why, rows, info = check_chain(
        tmp, "mass.lag", text, "chain_over_mass.csv",
        lambda x, y: y - GM / rr(x, y),
        lambda x, y: GM * (x - XM) / rr(x, y) ** 3,
        lambda x, y: 1 + GM * (y + D) / rr(x, y) ** 3, job=1)
    xl = math.nan
    try:
        p, _ = run(tmp, "mass.lag", text)      # the example as written: 401 points
        uni = read_csv(os.path.join(tmp, "chain_uniform.csv"))
        xu, _ = lowest(uni)
        xl, yl = lowest(rows)
        if not (abs(xu - 0.5) <= 1e-9 and XM < xl <= xu - 0.05):
            why.append("lowest points: uniform x = %g, with the mass x = %g (the mass at x = %g)" % (xu, xl, XM))
    except (OSError, ValueError) as ex:
        why.append("%s: %s" % (type(ex).__name__, ex))
    report(not why, "chain_over_buried_mass: the curve satisfies its Euler-Lagrange equation and matches a shooting "
           "solution (multiplier %.8f, energy %.8f), errors as h^2: %s; its lowest point moves from x = 0.5 "
           "to %.4f, towards the mass" % (info[401][4], info[401][5], summary(info), xl), "; ".join(why))

    # ---- 3. the brachistochrone: descent time and shape, both forms, orders ----
    text = example("brachistochrone.lag")
    errs = {"u": [], "s": []}
    shape = {}
    why = []
    for n in (401, 801, 1601):
        p, js = run(tmp, "br%d.lag" % n, text.replace("points 801", "points %d" % n))
        try:
            if p.returncode != 0 or len(js) != 2 or not all(j["converged"] and j["kind"] == "minimum" for j in js):
                why.append("%d points: exit %d %r" % (n, p.returncode, p.stderr[-300:]))
            errs["u"].append(err(js[0]["objective"], T_CYC))
            errs["s"].append(err(js[1]["objective"], T_CYC))
            if n == 801:
                ru = read_csv(os.path.join(tmp, "brachistochrone.csv"))
                rs = read_csv(os.path.join(tmp, "brachistochrone_s.csv"))
                shape["u"] = worst(err(r["x"], x_cycloid(r["u"])) for r in ru)
                shape["s"] = worst(err(r["x"], x_cycloid(r["s"] ** 2)) for r in rs)
        except (IndexError, KeyError, OSError, ValueError) as ex:
            why.append("%d points: %s: %s; stderr %r" % (n, type(ex).__name__, ex, p.stderr[-300:]))
            errs["u"].append(math.inf)
            errs["s"].append(math.inf)

    def orders(e):
        return [math.log2(e[i] / e[i + 1]) if e[i + 1] > 0 and math.isfinite(e[i]) and math.isfinite(e[i + 1])
                else math.nan for i in range(len(e) - 1)]
    ou, os_ = orders(errs["u"]), orders(errs["s"])
    # x(u): the weight 1/sqrt(u) makes the midpoint rule's error ~ h^(1/2);
    # 4.8e-3 at 801 points.  x(s), u = s^2: smooth, h^2, 7.2e-8 at 801.
    if not (len(errs["u"]) == 3 and errs["u"][1] <= 6e-3 and all(0.4 <= o <= 0.6 for o in ou)):
        why.append("x(u): errors %r, orders %r (expected <= 6e-3 at 801 points, order 1/2)" % (errs["u"], ou))
    if not (len(errs["s"]) == 3 and errs["s"][1] <= 2e-7 and all(1.8 <= o <= 2.2 for o in os_)):
        why.append("x(s): errors %r, orders %r (expected <= 2e-7 at 801 points, order 2)" % (errs["s"], os_))
    if not (shape.get("u", math.inf) <= 1e-5 and shape.get("s", math.inf) <= 1e-6):
        why.append("shape errors %r (expected <= 1e-5 and 1e-6)" % shape)
    report(not why, "brachistochrone: the descent time is the cycloid's %.9f s, as x(u) to %.1e at 801 points "
           "(observed orders %s) and with u = s^2 to %.1e (orders %s); the shapes are the cycloid's (%.1e, %.1e)"
           % (T_CYC, errs["u"][1] if len(errs["u"]) > 1 else math.nan, ", ".join("%.2f" % o for o in ou),
              errs["s"][1] if len(errs["s"]) > 1 else math.nan, ", ".join("%.2f" % o for o in os_),
              shape.get("u", math.nan), shape.get("s", math.nan)), "; ".join(why))

    # ---- 4. the brachistochrone as y(x): the textbook form (TODO) ----
    yx = ("problem B {\n    param g = 9.81\n    domain x = 0 .. 1\n    field y\n    fix y(0) = 0, y(1) = -1\n"
          "    minimize integral(sqrt((1 + y'^2)/(2*g*(-y))))\n}\n"
          "solve B {\n    points 801\n    guess y = -x^(2/3)\n    output \"yx.csv\"\n}\n")
    p, js = run(tmp, "yx.lag", yx)
    got = js[0]["objective"] if js and js[0].get("objective") is not None else math.nan
    report(p.returncode == 0 and close(got, T_CYC, 1e-2),
           "brachistochrone as y(x) from the cycloid-like guess -x^(2/3): the descent time %.9f within 1e-2 "
           "(lag: %r)" % (T_CYC, got),
           "the midpoint rule's first interval charges a drop d only sqrt(d/g), not the free fall's sqrt(2d/g): "
           "the discrete minimum drops ~0.51 at once and takes ~0.516 s at any number of points",
           todo="the discrete problem of a start-singular integrand has the wrong limit")

    # ---- 5. the soap film: the minimum and the saddle, closed forms ----
    text = example("soap_film.lag")
    c1, c2 = catenoids(0.5)
    why = []
    p, js = run(tmp, "soap.lag", text)
    try:
        j1, j2 = js[0], js[1]
        r1 = read_csv(os.path.join(tmp, "soap_film.csv"))
        r2 = read_csv(os.path.join(tmp, "soap_film_saddle.csv"))
        e1 = worst(err(r["y"], c1 * math.cosh(r["x"] / c1)) for r in r1)
        e2 = worst(err(r["y"], c2 * math.cosh(r["x"] / c2)) for r in r2)
        if p.returncode != 0 or not (j1["converged"] and j2["converged"]):
            why.append("exit %d %r" % (p.returncode, p.stderr[-300:]))
        if j1["kind"] != "minimum" or j1["morse_index"] != 0 or j2["kind"] != "saddle" or j2["morse_index"] != 1:
            why.append("kinds %r (%r), %r (%r)" % (j1["kind"], j1["morse_index"], j2["kind"], j2["morse_index"]))
        if not (close(j1["objective"], area(c1, 0.5), 1e-6) and close(j2["objective"], area(c2, 0.5), 5e-6)):
            why.append("areas/2pi %r, %r; closed forms %.10f, %.10f" % (j1["objective"], j2["objective"],
                                                                        area(c1, 0.5), area(c2, 0.5)))
        if not (e1 <= 1e-6 and e2 <= 2e-5):
            why.append("shape errors %g, %g" % (e1, e2))
    except (IndexError, KeyError, OSError, ValueError) as ex:
        why.append("%s: %s; stderr %r" % (type(ex).__name__, ex, p.stderr[-300:]))
        e1 = e2 = math.nan
    report(not why, "soap_film: from the cylinder the shallow catenoid c = %.9f (a minimum, shape to %.1e), from "
           "near the deep one c = %.9f the saddle of Morse index 1 (shape to %.1e), both areas as the closed form"
           % (c1, e1, c2, e2), "; ".join(why))

    # ---- 6. past the critical ring distance: no smooth minimal surface ----
    first = text[:text.index("problem SoapFilmSaddle")].replace("0.5", "0.7")
    p, js = run(tmp, "goldschmidt.lag", first)
    ok = (p.returncode == 3 and "SoapFilm" in p.stderr and "no convergence" in p.stderr
          and js and not js[0]["converged"])
    report(ok, "soap_film with rings 1.4 apart (a/R = 0.7 > 0.6627): exit 3, no convergence, named",
           "exit %d %r" % (p.returncode, p.stderr[-300:]))

    # ---- 7. Ramsey: the Euler equation, the turnpike, the shock ----
    text = example("ramsey_growth.lag")
    al, de, rh = 0.3, 0.05, 0.03
    kstar = lambda A: (al * A / (rh + de)) ** (1 / (1 - al))
    p, js = run(tmp, "ramsey.lag", text)
    why, worst_euler = [], []
    for job, (csv, A, k0) in enumerate((("ramsey.csv", 1.0, 0.5 * kstar(1.0)),
                                        ("ramsey_shock.csv", 1.1, kstar(1.0)))):
        try:
            j = js[job]
            rows = read_csv(os.path.join(tmp, csv))
            if p.returncode != 0 or not j["converged"] or j["kind"] != "maximum":
                why.append("%s: exit %d, kind %r %r" % (csv, p.returncode, j["kind"], p.stderr[-300:]))
            t = [r["t"] for r in rows]
            k = [r["k"] for r in rows]
            h = t[1] - t[0]
            n = len(k)
            # consumption at the nodes from k and central differences of k
            c = [A * k[i] ** al - de * k[i] - (k[i + 1] - k[i - 1]) / (2 * h) if 0 < i < n - 1 else math.nan
                 for i in range(n)]
            if not all(ci > 0 for ci in c[1:-1]):
                why.append("%s: consumption not positive" % csv)
            res = worst(abs((c[i + 1] - c[i - 1]) / (2 * h) / c[i] - (al * A * k[i] ** (al - 1) - de - rh))
                        for i in range(2, n - 2) if 5 <= t[i] <= 95)
            worst_euler.append(res)
            if not res <= 1e-5:
                why.append("%s: Euler equation residual %g > 1e-5" % (csv, res))
            mid = k[(n - 1) // 2]
            if not (close(k[0], k0, 1e-9) and close(k[-1], kstar(A), 1e-9) and close(mid, kstar(A), 0, 5e-3)):
                why.append("%s: k(0) = %r (%r), k(50) = %r, k(100) = %r, k* = %r" % (csv, k[0], k0, mid, k[-1],
                                                                                   kstar(A)))
        except (IndexError, KeyError, OSError, ValueError, ZeroDivisionError) as ex:
            why.append("%s: %s: %s; stderr %r" % (csv, type(ex).__name__, ex, p.stderr[-300:]))
    report(not why, "ramsey_growth: a maximum whose consumption obeys c'/c = f'(k) - delta - rho (residuals %s), "
           "on the turnpike k* = %.8f at t = 50, and after the shock A = 1.1 on the new k* = %.8f"
           % (", ".join("%.1e" % r for r in worst_euler), kstar(1.0), kstar(1.1)), "; ".join(why))

finish()
