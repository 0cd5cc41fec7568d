#!/usr/bin/env python3
"""tests/infer.py — the infer job against independent computations (TAP).

The problem throughout: the hanging chain of length 1.5 over a buried
point mass (GM at (xm, ym), uniform gravity g = 9.81), 300 nodes, observed
at 50 points x = 1/60 .. 59/60 — the set-up of the SciPy anchor.  The
truth comes from `lag solve` at (GM, xm, ym) = (2, 0.3, -1.2), read at the
observation points by linear interpolation of the nodes (the
discretisation's own reading); noise is added here (random.gauss, seeded).

1. Noise-free data: the unknowns are recovered to 1e-6 relative from the
   start (1, 0.5, -1).
2. The Jacobian behind the standard errors: at the estimate, central
   differences of full `lag solve` runs (theta +- 1e-4 theta) give J, and
   sigma sqrt(diag((J^T J)^-1)) and the correlations computed here equal
   the reported ones to 1e-4 relative: the adjoint sensitivities are the
   derivatives of the solve.
3. The uncertainty is honest: over 40 seeded noise realisations
   (sigma = 1e-4) each unknown falls within 2 reported standard errors of
   the truth at least 34 times (95 % expected: 38; 34 or fewer has
   probability about 1 % per unknown).
4. chi^2 per degree of freedom near 1 with the true sigma; with a sigma
   ten times too small a warning says the residuals are larger than the
   noise says.
5. Non-identifiable set-ups: a scale s of the whole potential (the shape
   does not change) is named; a mass written as a product a*b names the
   combination of a and b; both report identifiable false.
6. Outputs: the observation CSV (fit + residual = observed), the nodes
   CSV, the figure (PNG signature).
7. Bad observations: no domain column, no field column, a non-number,
   a point outside the domain, fewer observations than unknowns: located
   errors, exit 1.
8. Bounds: ranges that hold the estimate change nothing (1e-6 relative);
   a range that excludes it holds the unknown at its bound, with a
   warning; a start outside its bounds is a located error.
9. `samples 100`: the spread of 100 refits on noise drawn from the fitted
   model agrees with each reported standard error within 25 % (the
   sampling error of a standard deviation from 100 draws is about 7 %),
   and the estimate reported is the fit of the data, not of a refit.
10. An unknown in a constraint's value (the chain's length, started at
   1.3) and in a fixed end (the right end's height, started at 0.1, the
   others at (1.5, 0.5, -1): from (1, 0.5, -1) this fit finds a local
   minimum with chi^2/dof 984 instead): recovered within 3 standard errors
   of 1.5 and 0 with the other three.
11. `regularize λ` on a density poly(3) fixed at one point (the data of
   examples/uneven_density.lag): λ = 0 fits exactly as without it; the
   reported penalty equals λ times the midpoint sum of f''^2 over 64 parts
   computed here from the coefficients (Legendre polynomials written out);
   the effective number of parameters falls from 3 as λ grows.
12. `spline(6)` fixed at x = 0.5: the recovered function in the nodes CSV
   is the natural cubic spline through the reported knot values (computed
   here by the textbook tridiagonal solve for the second derivatives,
   zero at the ends) to 1e-10, passes through the fixed value at 0.5, and
   the fit converges with chi^2/dof near 1.
"""
import math
import os
import random
import tempfile

from lagtest import program, at_points, read_csv, num, close, err, worst, run_json, run_lag, report, finish

LAG, SRCDIR = program()

TRUE = (2.0, 0.3, -1.2)
XOBS = [1 / 60 + i * (58 / 60) / 49 for i in range(50)]

PROBLEM = """problem Chain {
    param len = 1.5, g = 9.81
    domain x = 0 .. 1
    field y
    unknown GM = 2, xm = 0.3, ym = -1.2
    let r = sqrt((x - xm)^2 + (y - ym)^2)
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral((g*y - GM/r)*sqrt(1 + y'^2))
}
"""


def solve_at(tmp, theta, name="solve"):
    """The solution's values at the observation points, by lag solve at theta."""
    text = PROBLEM + """solve Chain {
    param GM = %.17g, xm = %.17g, ym = %.17g
    points 300
    output "%s.csv"
}
""" % (theta[0], theta[1], theta[2], name)
    p, _ = run_json(LAG, tmp, name + ".lag", text)
    if p.returncode != 0:
        return None
    rows = read_csv(os.path.join(tmp, name + ".csv"))
    return at_points([r["y"] for r in rows], 1 / 299, XOBS)


def write_obs(tmp, name, ys, sigma=0.0, seed=0):
    rnd = random.Random(seed)
    with open(os.path.join(tmp, name), "w") as f:
        f.write("x,y\n")
        for x, y in zip(XOBS, ys):
            f.write("%.17g,%.17g\n" % (x, y + (rnd.gauss(0, sigma) if sigma else 0)))


def infer(tmp, obs, extra="", problem=PROBLEM, name="infer", guess="GM = 1, xm = 0.5, ym = -1"):
    text = problem + """infer Chain {
    observe "%s"
    points 300
    guess %s
%s}
""" % (obs, guess, extra)
    p, js = run_json(LAG, tmp, name + ".lag", text)
    return p, (js[-1] if js else None)


def value(j, u):
    return num(j["unknowns"][u]["value"])


def stderr(j, u):
    return num(j["unknowns"][u]["stderr"])


def inv3(a):
    """The inverse of a small matrix by Gauss-Jordan elimination."""
    n = len(a)
    m = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(a)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[piv] = m[piv], m[c]
        d = m[c][c]
        m[c] = [v / d for v in m[c]]
        for r in range(n):
            if r != c:
                f = m[r][c]
                m[r] = [v - f * w for v, w in zip(m[r], m[c])]
    return [row[n:] for row in m]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        truth = solve_at(tmp, TRUE, "truth")
        report(truth is not None, "the forward problem solves at the truth")
        if truth is None:
            finish()
            return

        # 1. noise-free recovery
        write_obs(tmp, "exact.csv", truth)
        p, j = infer(tmp, "exact.csv", "    fit_tol 1e-14\n")
        ok = p.returncode == 0 and j is not None
        errs = [err(value(j, u), t) / abs(t) for u, t in zip(("GM", "xm", "ym"), TRUE)] if ok else [math.inf]
        report(ok and worst(errs) <= 1e-6, "noise-free data: GM, xm, ym recovered to %.2g relative (1e-6 asked)"
               % worst(errs), p.stderr)

        # 2. the Jacobian: central differences of full solves at the estimate
        sigma = 1e-4
        write_obs(tmp, "noisy.csv", truth, sigma, seed=1)
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n    output \"fit.csv\"\n    plot \"fit.png\"\n")
        ok = p.returncode == 0 and j is not None
        if ok:
            est = [value(j, u) for u in ("GM", "xm", "ym")]
            cols = []
            for a in range(3):
                eps = 1e-4 * abs(est[a])
                hi = list(est)
                lo = list(est)
                hi[a] += eps
                lo[a] -= eps
                yp, ym = solve_at(tmp, hi, "p%d" % a), solve_at(tmp, lo, "m%d" % a)
                cols.append([(u - v) / (2 * eps) / sigma for u, v in zip(yp, ym)] if yp and ym else None)
            if all(cols):
                F = [[sum(cols[a][i] * cols[b][i] for i in range(50)) for b in range(3)] for a in range(3)]
                C = inv3(F)
                se = [math.sqrt(C[a][a]) for a in range(3)]
                got = [stderr(j, u) for u in ("GM", "xm", "ym")]
                rel = [err(g, s) / s for g, s in zip(got, se)]
                corr = [C[a][b] / (se[a] * se[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
                gc = [num(j["correlation"][a][b]) for a, b in ((0, 1), (0, 2), (1, 2))]
                report(worst(rel) <= 1e-4 and worst(err(a, b) for a, b in zip(gc, corr)) <= 1e-5,
                       "standard errors and correlations equal those of central differences of full solves "
                       "(relative %.2g; correlations %s)" % (worst(rel), ["%.4f" % c for c in corr]))
            else:
                report(False, "central differences of full solves")
        else:
            report(False, "infer on noisy data", p.stderr)

        # 4. chi^2/dof with the true sigma, and a warning with a wrong one
        chi = num(j["chi2_dof"]) if ok else math.nan
        report(0.5 <= chi <= 1.6 and "warning" not in p.stderr,
               "chi^2/dof with the true noise is %.3g, no warning" % chi, p.stderr)
        p2, j2 = infer(tmp, "noisy.csv", "    noise 1e-5\n", name="small_sigma")
        report(p2.returncode == 0 and "residuals are larger than the noise says" in p2.stderr,
               "a noise ten times too small: the chi^2 warning", p2.stderr)

        # 6. outputs
        rows = read_csv(os.path.join(tmp, "fit.csv")) if ok and os.path.exists(os.path.join(tmp, "fit.csv")) else []
        e = [err(r["y_fit"] - r["y_residual"] * r["y_sigma"], r["y"]) for r in rows]
        report(len(rows) == 50 and worst(e) <= 1e-12 and all(r["y_sigma"] == sigma for r in rows),
               "fit.csv: one row per observation, fit - residual*sigma = observed")
        nodes = read_csv(os.path.join(tmp, "fit_nodes.csv")) if os.path.exists(os.path.join(tmp, "fit_nodes.csv")) else []
        report(len(nodes) == 300 and close(nodes[0]["x"], 0, 0) and close(nodes[-1]["x"], 1, 1e-15),
               "fit_nodes.csv: the 300 nodes")
        png = os.path.join(tmp, "fit.png")
        report(os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "the figure is a PNG")

        # 3. coverage over 40 noise realisations
        inside = [0, 0, 0]
        runs = 0
        for seed in range(100, 140):
            write_obs(tmp, "rep.csv", truth, sigma, seed=seed)
            p, j = infer(tmp, "rep.csv", "    noise 1e-4\n", name="rep")
            if p.returncode != 0 or j is None:
                continue
            runs += 1
            for a, u in enumerate(("GM", "xm", "ym")):
                d = err(value(j, u), TRUE[a])
                inside[a] += d <= 2 * stderr(j, u)
        report(runs == 40 and min(inside) >= 34,
               "40 noise realisations: within 2 standard errors of the truth %s times of %d (at least 34 asked)"
               % (inside, runs))

        # 5. non-identifiable set-ups
        scaled = PROBLEM.replace("unknown GM = 2, xm = 0.3, ym = -1.2", "unknown GM = 2, xm = 0.3, ym = -1.2, s = 1") \
                        .replace("minimize integral((g*y - GM/r)", "minimize integral(s*(g*y - GM/r)")
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n", problem=scaled, name="scaled")
        report(j is not None and j["identifiable"] is False and "do not determine" in p.stderr and
               (j.get("unidentified") or "") == "s",
               "a scale of the whole potential: 'the data do not determine s'", p.stderr)
        prod = PROBLEM.replace("unknown GM = 2, xm = 0.3, ym = -1.2", "unknown a = 1, b = 2, xm = 0.3, ym = -1.2") \
                      .replace("GM/r", "a*b/r")
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n", problem=prod, name="product", guess="xm = 0.5, ym = -1")
        un = (j.get("unidentified") or "") if j else ""
        report(j is not None and j["identifiable"] is False and un.startswith("(a, b) ∝ (") and
               "do not determine these unknowns separately" in p.stderr,
               "GM written as a*b: the combination of a and b is named (%s)" % un, p.stderr)

        # 8. bounds
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n    bounds GM = 0 .. 10, ym = -3 .. -0.5\n", name="bounded")
        p0, j0 = infer(tmp, "noisy.csv", "    noise 1e-4\n", name="unbounded")
        ok = j is not None and j0 is not None
        e = [err(value(j, u), value(j0, u)) / abs(value(j0, u)) for u in ("GM", "xm", "ym")] if ok else [math.inf]
        report(p.returncode == 0 and worst(e) <= 1e-6, "bounds that hold the estimate change nothing (%.2g)" % worst(e),
               p.stderr)
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n    bounds GM = 0 .. 1.5\n", name="at_bound")
        report(p.returncode == 0 and j is not None and close(value(j, "GM"), 1.5, 1e-6) and
               "is at its bound 1.5" in p.stderr and "at_bound.lag:" in p.stderr,
               "a bound below the estimate holds GM at 1.5, with a located warning", p.stderr)
        p, j = infer(tmp, "noisy.csv", "    bounds GM = 2 .. 3\n", name="start_outside")
        report(p.returncode == 1 and "is not inside its bounds" in p.stderr and "start_outside.lag:" in p.stderr,
               "a start outside its bounds: a located error", p.stderr)

        # 9. refits
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n    samples 100\n", name="refits")
        ok = p.returncode == 0 and j is not None and j.get("refits", {}).get("converged") == 100
        ratios = [num(j["refits"]["stderr"][u]) / stderr(j, u) for u in ("GM", "xm", "ym")] if ok else [math.nan]
        same = ok and j0 is not None and worst(err(value(j, u), value(j0, u)) / abs(value(j0, u))
                                               for u in ("GM", "xm", "ym")) <= 1e-9
        report(ok and all(0.75 <= r <= 1.25 for r in ratios) and same,
               "100 refits: their spread over the standard error %s; the estimate unchanged" % ["%.3f" % r for r in ratios],
               p.stderr)

        # 10. an unknown length
        withlen = PROBLEM.replace("unknown GM = 2, xm = 0.3, ym = -1.2", "unknown GM = 2, xm = 0.3, ym = -1.2, len = 1.3") \
                         .replace("    param len = 1.5, g = 9.81\n", "    param g = 9.81\n")
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n", problem=withlen, name="length")
        ok = p.returncode == 0 and j is not None
        report(ok and err(value(j, "len"), 1.5) <= 3 * stderr(j, "len") and stderr(j, "len") < 1e-3,
               "the chain's length as an unknown in its constraint: %.7f ± %.2g (1.5)" %
               (value(j, "len") if ok else math.nan, stderr(j, "len") if ok else math.nan), p.stderr)

        high = PROBLEM.replace("unknown GM = 2, xm = 0.3, ym = -1.2", "unknown GM = 2, xm = 0.3, ym = -1.2, hR = 0.1") \
                      .replace("fix y(0) = 0, y(1) = 0", "fix y(0) = 0, y(1) = hR")
        p, j = infer(tmp, "noisy.csv", "    noise 1e-4\n", problem=high, name="end_height",
                     guess="GM = 1.5, xm = 0.5, ym = -1")
        ok = p.returncode == 0 and j is not None
        report(ok and err(value(j, "hR"), 0) <= 3 * stderr(j, "hR") and stderr(j, "hR") < 1e-3,
               "the right end's height as an unknown: %.3g ± %.2g (0), started at 0.1" %
               (value(j, "hR") if ok else math.nan, stderr(j, "hR") if ok else math.nan), p.stderr)

        # 11. regularize
        dens = """problem Density {
    param len = 1.5, g = 9.81
    domain x = 0 .. 1
    field y
    unknown rho = poly(3)
    fix rho(0.5) = 1.325
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral(rho(x)*g*y*sqrt(1 + y'^2))
}
infer Density {
    observe "%s"
    noise 2e-3
    points 300
%s}
"""
        obs = os.path.join(SRCDIR, "examples", "data", "uneven_density_obs.csv")
        runs = {}
        for lam in (None, 0, 1, 100):
            p, js = run_json(LAG, tmp, "reg.lag", dens % (obs, "" if lam is None else "    regularize %g\n" % lam))
            runs[lam] = (p, js[-1] if js else None)
        a, b = runs[None][1], runs[0][1]
        same = a is not None and b is not None and all(
            a["unknowns"][k]["value"] == b["unknowns"][k]["value"] for k in a["unknowns"])
        report(same, "regularize 0 fits exactly as without it", runs[0][0].stderr)
        j = runs[1][1]
        if j is not None:
            c = [value(j, "rho[%d]" % k) for k in (1, 2, 3)]
            w, tot = 1 / 64, 0.0
            for i in range(64):
                u = 2 * ((i + 0.5) * w) - 1
                d2 = 4 * (c[1] * 3 + c[2] * 15 * u)  # P1'' = 0, P2'' = 3, P3'' = 15 u, times (2/(x1 - x0))^2
                tot += w * d2 * d2
            got = num(j["penalty"])
            report(close(got, 1 * tot, 0, 1e-9), "the penalty is lambda times the midpoint sum of f''^2 "
                   "(%.12g; computed here %.12g)" % (got, tot))
        else:
            report(False, "regularize 1", runs[1][0].stderr)
        pe = [num(runs[lam][1]["effective_parameters"]) if runs[lam][1] else math.nan for lam in (0, 1, 100)]
        report(close(pe[0], 3, 1e-9) and 0 < pe[2] < pe[1] < pe[0], "effective parameters %s for lambda 0, 1, 100"
               % ["%.4f" % v for v in pe])

        # 12. a spline
        p, js = run_json(LAG, tmp, "spline.lag", (dens % (obs, "    output \"spline.csv\"\n")).replace(
            "poly(3)", "spline(6)").replace("points 300", "points 301"))
        j = js[-1] if js else None
        nodes = read_csv(os.path.join(tmp, "spline_nodes.csv")) if p.returncode == 0 else []
        if j is not None and len(nodes) == 301:
            knots = [i / 5 for i in range(6)]
            vals = [value(j, "rho[%d]" % i) if "rho[%d]" % i in j["unknowns"] else None for i in range(6)]
            # the fixed knot's value is the spline's own at its x (read from the nodes: knot i is node 60 i)
            vals = [v if v is not None else nodes[60 * i]["rho"] for i, v in enumerate(vals)]
            # natural cubic spline: M_0 = M_5 = 0, h = 0.2, tridiagonal for M_1 .. M_4
            h = 0.2
            n = 4
            a = [h / 6] * n
            b = [2 * h / 3] * n
            cc = [h / 6] * n
            d = [(vals[i + 2] - 2 * vals[i + 1] + vals[i]) / h for i in range(n)]
            for i in range(1, n):  # Thomas algorithm
                m = a[i] / b[i - 1]
                b[i] -= m * cc[i - 1]
                d[i] -= m * d[i - 1]
            M = [0.0] * n
            M[-1] = d[-1] / b[-1]
            for i in range(n - 2, -1, -1):
                M[i] = (d[i] - cc[i] * M[i + 1]) / b[i]
            M = [0.0] + M + [0.0]
            def spl(x):
                k = min(int(x / h), 4)
                t0, t1 = knots[k], knots[k + 1]
                return (M[k] * (t1 - x) ** 3 / (6 * h) + M[k + 1] * (x - t0) ** 3 / (6 * h) +
                        (vals[k] / h - M[k] * h / 6) * (t1 - x) + (vals[k + 1] / h - M[k + 1] * h / 6) * (x - t0))
            e = [err(r["rho"], spl(r["x"])) for r in nodes]
            fixed = nodes[150]["rho"]
            report(worst(e) <= 1e-10 and close(fixed, 1.325, 1e-12) and j["converged"] and
                   0.5 < num(j["chi2_dof"]) < 2,
                   "spline(6): the natural spline through the knot values (%.2g), rho(0.5) = %.15g, chi^2/dof %.3g"
                   % (worst(e), fixed, num(j["chi2_dof"])))
        else:
            report(False, "spline(6)", p.stderr)

        # 7. bad observations
        def bad(name, content, want):
            text = PROBLEM + 'infer Chain {\n    observe "%s"\n    points 300\n}\n' % name
            p = run_lag(LAG, tmp, name, text, {name: content})
            report(p.returncode == 1 and want in p.stderr and (name + ".lag:") in p.stderr,
                   "%s: a located error containing %r" % (name, want), p.stderr)

        bad("nox.csv", "t,y\n0.5,-0.4\n", "has no column 'x'")
        bad("nofield.csv", "x,z\n0.5,-0.4\n", "has no column for a field")
        bad("nan.csv", "x,y\n0.5,-0.4\n0.6,nan\n", "nan.csv")
        bad("outside.csv", "x,y\n0.5,-0.4\n1.5,-0.1\n0.6,-0.3\n0.7,-0.2\n", "is outside the domain")
        bad("few.csv", "x,y\n0.5,-0.4\n0.6,-0.3\n", "2 observations for 3 unknowns")
    finish()


if __name__ == "__main__":
    main()
