#!/usr/bin/env python3
"""tests/variational.py — the solve and action jobs against closed forms (TAP).

solve: the hanging chain (examples/hanging_chain.lag) against the catenary:
its shape, energy, multiplier (the tension constant), that it is a minimum,
and second-order convergence in h.  action: the harmonic oscillator from
x(0) = 0 to x(T) = 1 against the discrete problem's own solution (a
tridiagonal system solved here) and the continuous action cot(T)/2, with
the Morse index 0, 1, 2 for T below pi, between pi and 2 pi, above 2 pi
(counted here by Sylvester's law on the discrete Hessian), and the
shooting check of the variational integrator.
"""
import math
import os
import tempfile

from lagtest import program, read_csv, close, err, worst, run_json, lagw, report, finish

LAG, SRCDIR = program()

# The catenary through (0, 0) and (1, 0) of length 1.5 (bisection on
# 2a sinh(1/(2a)) = 1.5, ../shared/anchors/README.md, recomputed here).
def catenary_a():
    lo, hi = 0.1, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if 2 * mid * math.sinh(1 / (2 * mid)) > 1.5:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


A = catenary_a()
Y = lambda x: A * math.cosh((x - 0.5) / A) - A * math.cosh(1 / (2 * A))
OBJ = A * (0.5 + A * math.sinh(1 / A) / 2) - 1.5 * A * math.cosh(1 / (2 * A))
TENSION = A * math.cosh(1 / (2 * A))



def run(tmp, name, text, *args):
    return run_json(LAG, tmp, name, text, *args)


with open(os.path.join(SRCDIR, "examples", "hanging_chain.lag")) as f:
    CHAIN = f.read()

with tempfile.TemporaryDirectory(prefix="lag-variational.") as tmp:
    # ---- 1. the example as written ----
    p, js = run(tmp, "chain.lag", CHAIN)
    why = []
    try:
        j = js[0]
        rows = read_csv(os.path.join(tmp, "chain.csv"))
        ey = worst(err(r["y"], Y(r["x"])) for r in rows)
        # y' against the catenary's slope sinh((x - 1/2)/a), inside (central differences)
        ed = worst(err(r["y'"], math.sinh((r["x"] - 0.5) / A)) for r in rows[1:-1])
        mult = list(j["multipliers"].values())
        if p.returncode != 0 or not j["converged"]:
            why.append("exit %d: %s" % (p.returncode, p.stderr[-300:]))
        if len(rows) != 401 or not rows[0]["x"] == 0 or not rows[-1]["x"] == 1:
            why.append("%d rows from x = %s to %s" % (len(rows), rows[0]["x"], rows[-1]["x"]))
        if not ey <= 1e-5:
            why.append("shape error %g > 1e-5" % ey)
        if not ed <= 1e-3:
            why.append("slope error %g" % ed)
        if not close(j["objective"], OBJ, 2e-6):
            why.append("objective %r, catenary %.12f" % (j["objective"], OBJ))
        if len(mult) != 1 or not close(mult[0], TENSION, 2e-6):
            why.append("multiplier %r, a cosh(1/2a) = %.12f" % (mult, TENSION))
        if not close(j.get("max_error", math.nan), ey, 1e-12, 1e-6):
            why.append("max_error %r, the CSV's error %r" % (j.get("max_error"), ey))
        if j["kind"] != "minimum" or j["morse_index"] != 0:
            why.append("kind %r, Morse index %r" % (j["kind"], j["morse_index"]))
    except (IndexError, KeyError, OSError, ValueError) as ex:
        why.append("%s: %s; stderr %r" % (type(ex).__name__, ex, p.stderr[-300:]))
    report(not why, "solve: the hanging chain from a poor guess is the catenary (shape to 1e-5 at 401 points, "
           "max_error as the CSV shows), with its energy, the tension as multiplier, and a minimum (Morse index 0)",
           "; ".join(why))

    # ---- 2. second order in h ----
    errs = []
    for n in (101, 201, 401):
        p, js = run(tmp, "chain%d.lag" % n, CHAIN.replace("points 401", "points %d" % n).replace("tol 1e-12", ""))
        errs.append(err(js[0]["objective"], OBJ) if js and p.returncode == 0 else math.inf)
    orders = [math.log2(errs[i] / errs[i + 1]) if errs[i + 1] > 0 and math.isfinite(errs[i]) else math.nan
              for i in range(2)]
    report(all(1.8 <= o <= 2.2 for o in orders), "solve: the energy's error falls as h^2 (observed orders %s)"
           % ", ".join("%.3f" % o for o in orders), "errors %r" % errs)

    # ---- 2b. 10^5 points: the lowered Hessian keeps its digits (the slope is
    # a difference divided by h, not w/h - u/h), so Newton converges and the
    # inertia test sees the minimum ----
    big = CHAIN.replace("points 401", "points 100001").replace('    plot "chain.png"\n', "")
    p, js = run(tmp, "big.lag", big)
    why = []
    try:
        j = js[0]
        rows = read_csv(os.path.join(tmp, "chain.csv"))
        ey = worst(err(r["y"], Y(r["x"])) for r in rows[::97])
        if not (p.returncode == 0 and j["converged"] and j["iterations"] <= 10 and j["kind"] == "minimum"
                and j["morse_index"] == 0 and ey <= 1e-10 and close(j["objective"], OBJ, 1e-10)):
            why.append("exit %d, %r, error %g" % (p.returncode, {k: j.get(k) for k in
                       ("converged", "iterations", "kind", "morse_index", "objective")}, ey))
    except (IndexError, KeyError, OSError, ValueError) as ex:
        why.append("%s: %s; %r" % (type(ex).__name__, ex, p.stderr[-300:]))
    report(not why, "solve: the chain at 10^5 points converges in a few iterations to the catenary (1e-10), "
           "a minimum", "; ".join(why))

    # ---- 3. the default guess (a line plus a bump of the right length) and an infeasible chain ----
    p, js = run(tmp, "dflt.lag", CHAIN.replace("guess y = -0.5*x*(1 - x)", ""))
    ok3 = p.returncode == 0 and js and js[0]["converged"] and close(js[0]["objective"], OBJ, 2e-6)
    short = CHAIN.replace("param len = 1.5", "param len = 0.5")
    q, _ = run(tmp, "short.lag", short)
    ok4 = q.returncode == 3 and "len" in q.stderr and "0.5" in q.stderr
    report(ok3 and ok4, "solve: from the default guess the chain converges too; a chain shorter than the gap "
           "is refused before Newton (exit 3, the constraint and its length named)",
           "default: exit %d %r; short: exit %d %r" % (p.returncode, p.stderr[-200:], q.returncode, q.stderr[-300:]))

    # ---- 4. action of the oscillator: three kinds of stationary paths ----
    def discrete(T, N):
        """The discrete action's stationary path and value, and the negative
        eigenvalues of its Hessian (interior nodes), computed here."""
        h = T / (N - 1)
        # S = sum h [ (d/h)^2/2 - ((a+b)/2)^2/2 ]: Hessian tridiagonal with
        # diagonal 2/h - h/2 and off-diagonal -1/h - h/4
        dg, off = 2 / h - h / 2, -1 / h - h / 4
        n = N - 2
        rhs = [0.0] * n
        rhs[-1] = -off * 1.0  # x_N-1 = 1 moved to the right
        # Thomas algorithm, and the LDL^T pivots for Sylvester's count
        c, d, piv = [0.0] * n, [0.0] * n, []
        for i in range(n):
            m = dg - (off * c[i - 1] if i else 0)
            piv.append(m)
            c[i] = off / m
            d[i] = (rhs[i] - (off * d[i - 1] if i else 0)) / m
        x = [0.0] * n
        for i in reversed(range(n)):
            x[i] = d[i] - (c[i] * x[i + 1] if i < n - 1 else 0)
        path = [0.0] + x + [1.0]
        S = sum(h * (0.5 * ((path[k + 1] - path[k]) / h) ** 2 - 0.5 * ((path[k] + path[k + 1]) / 2) ** 2)
                for k in range(N - 1))
        return path, S, sum(1 for m in piv if m < 0)

    why = []
    for T, morse in ((1.0, 0), (4.0, 1), (7.0, 2)):
        N = 1001
        text = ("system Osc {\n    coord x\n    L = 0.5*x'^2 - 0.5*x^2\n}\n"
                "action Osc {\n    from 0: x = 0\n    to %g: x = 1\n    points %d\n    output \"osc.csv\"\n}\n" % (T, N))
        p, js = run(tmp, "osc.lag", text)
        path, S, neg = discrete(T, N)
        try:
            j = js[0]
            rows = read_csv(os.path.join(tmp, "osc.csv"))
            e_path = worst(err(r["x"], path[k]) for k, r in enumerate(rows))
            # E = x'^2/2 + x^2/2 is conserved by the exact motion: the CSV's E
            # column against the energy of x = sin(t)/sin(T)
            E = 0.5 / math.sin(T) ** 2
            e_E = worst(err(r["E"], E) for r in rows[1:-1])
            if p.returncode != 0 or not j["converged"]:
                why.append("T = %g: exit %d %r" % (T, p.returncode, p.stderr[-200:]))
            if not close(j["action"], S, 1e-12, 1e-10):
                why.append("T = %g: S %r, discrete %r" % (T, j["action"], S))
            if not close(j["action"], 0.5 / math.tan(T), 0, 1e-4):
                why.append("T = %g: S %r, cot(T)/2 = %r" % (T, j["action"], 0.5 / math.tan(T)))
            if not e_path <= 1e-9 or len(rows) != N:
                why.append("T = %g: path error %g (%d rows)" % (T, e_path, len(rows)))
            if not e_E <= 1e-3 * max(1, E):
                why.append("T = %g: energy error %g" % (T, e_E))
            if j["morse_index"] != morse or neg != morse or j["kind"] != ("minimum" if morse == 0 else "saddle"):
                why.append("T = %g: Morse index %r (%s), expected %d (counted here: %d)" % (
                    T, j["morse_index"], j["kind"], morse, neg))
            if not (j["shooting_mismatch"] is not None and j["shooting_mismatch"] <= 1e-9):
                why.append("T = %g: shooting mismatch %r" % (T, j["shooting_mismatch"]))
            v0 = j["initial_velocities"]["x'"]
            if not close(v0, 1 / math.sin(T), 0, 1e-4):
                why.append("T = %g: x'(0) = %r, 1/sin T = %r" % (T, v0, 1 / math.sin(T)))
        except (IndexError, KeyError, OSError, ValueError, TypeError) as ex:
            why.append("T = %g: %s: %s; stderr %r" % (T, type(ex).__name__, ex, p.stderr[-300:]))
    report(not why, "action: the oscillator from x(0) = 0 to x(T) = 1 is the discrete problem's solution (to 1e-9), "
           "S = cot(T)/2, a minimum for T = 1 and saddles of Morse index 1 and 2 for T = 4 and 7; shooting from "
           "the found start lands on x(T) to 1e-9", "; ".join(why))

    # ---- 5. the action of a learned L: hand-set weights equal to the analytic one ----
    # V(x) = 2 relu2(x) + 2 relu2(-x) = 2 x^2
    with open(os.path.join(tmp, "v.lagw"), "wb") as f:
        f.write(lagw([("W1", 2, 1, [1, -1]), ("b1", 2, 1, [0, 0]), ("W2", 1, 2, [2, 2]), ("b2", 1, 1, [0])]))
    both = ("system Learned {\n    coord x\n"
            "    net V = mlp(in = 1, hidden = [2], out = 1, activation = relu2, weights = \"v.lagw\")\n"
            "    L = 0.5*x'^2 - V(x)\n}\n"
            "system Analytic {\n    coord x\n    L = 0.5*x'^2 - 2*x^2\n}\n"
            "action Learned { from 0: x = 0\n to 2: x = 1\n points 1001\n output \"learned.csv\" }\n"
            "action Analytic { from 0: x = 0\n to 2: x = 1\n points 1001\n output \"analytic.csv\" }\n")
    p, js = run(tmp, "both.lag", both)
    why = []
    try:
        a, b = js
        la, an = read_csv(os.path.join(tmp, "learned.csv")), read_csv(os.path.join(tmp, "analytic.csv"))
        e = worst(err(r["x"], s["x"]) for r, s in zip(la, an))
        # continuous: x = sin(2t)/sin(2T), S = cot(2T) (omega = 2)
        if p.returncode != 0 or not (a["converged"] and b["converged"]):
            why.append("exit %d %r" % (p.returncode, p.stderr[-300:]))
        if not (len(la) == 1001 and e <= 1e-12 and close(a["action"], b["action"], 1e-12, 1e-12)):
            why.append("paths differ by %g, S %r vs %r" % (e, a["action"], b["action"]))
        if not close(b["action"], 1 / math.tan(4.0), 0, 1e-4) or a["kind"] != b["kind"] or a["kind"] != "saddle":
            why.append("S %r, cot(2T) = %r; kinds %r %r (2T = 4 > pi: a saddle)" % (
                b["action"], 1 / math.tan(4.0), a["kind"], b["kind"]))
    except (ValueError, KeyError, OSError, TypeError) as ex:
        why.append("%s: %s; stderr %r" % (type(ex).__name__, ex, p.stderr[-300:]))
    report(not why, "action: a learned L (hand-set weights: V = 2x^2 as a relu2 net) gives the analytic system's "
           "path and action (to 1e-12), S = cot(2T), a saddle past the conjugate point", "; ".join(why))

    # ---- 6. parameters in the domain, in fixed ends and in constraint values, with overrides ----
    def film_c(a):
        """The shallow catenoid through y(-a) = y(a) = 1: c cosh(a/c) = 1, the larger root."""
        lo, hi = a / 1.2, 1.0
        for _ in range(200):
            m = 0.5 * (lo + hi)
            lo, hi = (lo, m) if m * math.cosh(a / m) > 1 else (m, hi)
        return 0.5 * (lo + hi)
    film = ("problem Film {\n    param a = 0.5, R = 1\n    domain x = -a .. a\n    field y\n"
            "    fix y(-a) = R, y(a) = R\n    minimize integral(y*sqrt(1 + y'^2))\n}\n"
            "solve Film { points 401, output \"f5.csv\" }\n"
            "solve Film { points 401, param a = 0.4, output \"f4.csv\" }\n"
            "problem Chain {\n    param len = 1.5, half = len/2\n    domain x = 0 .. 1\n    field y\n"
            "    fix y(0) = 0, y(1) = 0\n    subject integral(sqrt(1 + y'^2)) = 2*half\n"
            "    minimize integral(y*sqrt(1 + y'^2))\n}\n"
            "solve Chain { param len = 0.5 }\n")
    p, js = run(tmp, "film.lag", film)
    why = []
    for name, a in (("f5.csv", 0.5), ("f4.csv", 0.4)):
        c = film_c(a)
        try:
            rows = read_csv(os.path.join(tmp, name))
            e = worst(err(r["y"], c * math.cosh(r["x"] / c)) for r in rows)
            if not (close(rows[0]["x"], -a, 1e-15) and close(rows[-1]["x"], a, 1e-15) and e <= 1e-5):
                why.append("a = %g: x from %r to %r, error %g" % (a, rows[0]["x"], rows[-1]["x"], e))
        except (OSError, ValueError, KeyError, IndexError) as ex:
            why.append("a = %g: %s" % (a, ex))
    if not (p.returncode == 3 and "asks 0.5" in p.stderr and "solve Chain: solve" not in p.stderr):
        why.append("the short chain: exit %d %r" % (p.returncode, p.stderr[-300:]))
    report(not why, "solve: a domain -a .. a, fix y(-a) and a constraint value 2*half follow the parameters and "
           "a job's override (the catenoid at a = 0.5 and 0.4 to 1e-5; half = len/2 follows len = 0.5)",
           "; ".join(why))

    # ---- 6b. two constraints from the default guess: met together ----
    two = ("problem Two {\n    domain x = 0 .. 1\n    field y\n    fix y(0) = 0, y(1) = 0\n"
           "    subject integral(sqrt(1 + y'^2)) = 1.5\n    subject integral(y) = -0.3\n"
           "    minimize integral(y*sqrt(1 + y'^2))\n}\nsolve Two { points 201, output \"two.csv\" }\n")
    p, js = run(tmp, "two.lag", two)
    why = []
    try:
        rows = read_csv(os.path.join(tmp, "two.csv"))
        h = rows[1]["x"] - rows[0]["x"]
        # the discrete integrals (midpoint rule), written out here
        length = sum(math.hypot(h, b["y"] - a["y"]) for a, b in zip(rows, rows[1:]))
        area = sum(h * 0.5 * (a["y"] + b["y"]) for a, b in zip(rows, rows[1:]))
        j = js[0] if js else {}
        if not (p.returncode == 0 and j.get("converged") and j.get("kind") == "minimum"
                and close(length, 1.5, 1e-9) and close(area, -0.3, 1e-9)):
            why.append("exit %d, %r: length %r, area %r" % (p.returncode, {k: j.get(k) for k in ("converged", "kind", "iterations")}, length, area))
    except (OSError, ValueError, KeyError, IndexError) as ex:
        why.append("%s: %s" % (ex, p.stderr[-300:]))
    report(not why, "solve: a chain of given length and given area from the default guess: both constraints met "
           "together (a later bump used to undo the first, or not reach its integral at all)", "; ".join(why))

    # ---- 7. what has no action, and a bad guess, are refused ----
    forced = ("system F {\n    coord x\n    L = 0.5*x'^2\n    force x = -x'\n}\n"
              "action F { from 0: x = 0\n to 1: x = 1 }\n")
    p, _ = run(tmp, "forced.lag", forced)
    ok = p.returncode == 1 and "has no action" in p.stderr and "forced.lag:4:" in p.stderr
    report(ok, "action: a system with a force has no action: exit 1, located", p.stderr[-300:])

finish()
