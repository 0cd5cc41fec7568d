#!/usr/bin/env python3
"""tests/infer_nets.py — infer with a net as the unknown (TAP).

The problem: a chain of length 1.5 between (0, 0) and (1, 0) whose density
is rho = 1.325 + f(x) - f(0.5), f a net of one input (tanh, 4 hidden: 13
weights), so rho(0.5) = 1.325 whatever the weights (the shape alone
cannot tell the density's scale).  The truth rho = 1 + 0.5 x + 0.8 x^2 - x^3
is solved here by `lag solve` on 300 nodes and read at 50 points
(linearly between the nodes, as infer reads the discretisation).

1. The adjoint gradient is the derivative of the full solve: from weights
   w0 written here, one L-BFGS iteration moves the weights along -g (its
   first step is -gamma g), and (w0 - w1) is parallel to the central
   differences of the misfit computed here from `lag solve` runs at
   w0 +- 1e-5 e_k (each weight), to 1e-4 of its norm in every component.
2. From noisy data (sigma = 2e-3, seeded) the fit converges with chi^2 per
   degree of freedom in 0.5 .. 2 (the effective number of parameters, the
   rank of the Jacobian in the weights, between 2 and 13); the recovered
   rho is within 3 of its reported standard errors of the truth at 90 %
   of the nodes and its RMS error is below 0.03; its standard error at
   the node nearest x = 0.5 (where the construction fixes rho) is below a
   tenth of its median elsewhere, and positive everywhere else.
3. The fitted weights carry over: a `solve` of the same problem later in
   the run gives infer's fitted shape to 1e-9, and so does a new run
   loading the weights `save`d (a .lagw file read here).
4. A scalar unknown beside the net (the chain's length, started at 1.4):
   recovered within 3 standard errors of 1.5 (the standard error from
   the covariance over the length and the weights together).
5. Located errors: regularize, samples or fit_method lm with a net; save
   without a net; exact naming a let that is not drawn; a net that the
   objective does not use.
"""
import math
import os
import random
import struct
import tempfile

from lagtest import program, at_points, read_csv, num, err, worst, run_json, run_lag, report, finish, lagw

LAG, SRCDIR = program()

SIGMA = 2e-3
XOBS = [1 / 60 + i * (58 / 60) / 49 for i in range(50)]
H = 1 / 299

TRUE = """problem TrueChain {
    param len = 1.5, g = 9.81
    domain x = 0 .. 1
    field y
    let rho = 1 + 0.5*x + 0.8*x^2 - x^3
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral(rho*g*y*sqrt(1 + y'^2))
}
solve TrueChain { points 300, output "true.csv" }
"""


def problem(weights="", unknown_len=False):
    wa = ', weights = "%s"' % weights if weights else ""
    return """problem DensityNet {
    param g = 9.81%s
    domain x = 0 .. 1
    field y
    %s
    net f = mlp(in = 1, hidden = [4], out = 1, activation = tanh%s)
    let rho = 1.325 + f(x) - f(0.5)
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral(rho*g*y*sqrt(1 + y'^2))
}
""" % ("" if unknown_len else ", len = 1.5", "unknown len = 1.4" if unknown_len else "", wa)


def at_obs(ys):
    return at_points(ys, H, XOBS)


def read_lagw(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack_from("<I", b, 12)[0]
    at, out = 16, []
    for _ in range(n):
        ln = struct.unpack_from("<H", b, at)[0]
        name = b[at + 2:at + 2 + ln].decode()
        rows, cols = struct.unpack_from("<II", b, at + 2 + ln)
        at += 2 + ln + 8
        data = list(struct.unpack_from("<%dd" % (rows * cols), b, at))
        at += 8 * rows * cols
        out.append((name, rows, cols, data))
    return out


SHAPES = [("f.W1", 4, 1), ("f.b1", 4, 1), ("f.W2", 1, 4), ("f.b2", 1, 1)]


def flat(tensors):
    return [v for _, _, _, d in tensors for v in d]


def unflat(w):
    out, at = [], 0
    for name, r, c in SHAPES:
        out.append((name, r, c, w[at:at + r * c]))
        at += r * c
    return out


def misfit_at(tmp, w, obs, name):
    """chi^2 / 2 of the solve with weights w, computed here."""
    with open(os.path.join(tmp, name + ".lagw"), "wb") as f:
        f.write(lagw(unflat(w)))
    text = problem(name + ".lagw") + 'solve DensityNet { points 300, tol 1e-13, output "%s.csv" }\n' % name
    p, _ = run_json(LAG, tmp, name + ".lag", text)
    if p.returncode != 0:
        return math.nan
    ys = [r["y"] for r in read_csv(os.path.join(tmp, name + ".csv"))]
    return sum(((u - d) / SIGMA) ** 2 for u, d in zip(at_obs(ys), obs)) / 2


def infer_text(extra, weights="", unknown_len=False, obs="obs.csv"):
    return problem(weights, unknown_len) + """infer DensityNet {
    observe "%s"
    noise %g
    points 300
%s}
""" % (obs, SIGMA, extra)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        p, _ = run_json(LAG, tmp, "true.lag", TRUE)
        if p.returncode != 0:
            report(False, "the true chain solves", p.stderr)
            finish()
            return
        truth = at_obs([r["y"] for r in read_csv(os.path.join(tmp, "true.csv"))])
        rnd = random.Random(7)
        obs = [y + rnd.gauss(0, SIGMA) for y in truth]
        with open(os.path.join(tmp, "obs.csv"), "w") as f:
            f.write("x,y\n" + "".join("%.17g,%.17g\n" % (x, y) for x, y in zip(XOBS, obs)))

        # 1. the adjoint gradient against central differences of full solves
        wr = random.Random(3)
        w0 = [wr.uniform(-0.8, 0.8) for _ in range(13)]
        with open(os.path.join(tmp, "w0.lagw"), "wb") as f:
            f.write(lagw(unflat(w0)))
        p, js = run_json(LAG, tmp, "step.lag", infer_text("    fit_iterations 1\n    tol 1e-13\n    save \"w1.lagw\"\n",
                                                          "w0.lagw"))
        ok = p.returncode == 3 and os.path.exists(os.path.join(tmp, "w1.lagw"))
        if ok:
            w1 = flat(read_lagw(os.path.join(tmp, "w1.lagw")))
            step = [a - b for a, b in zip(w0, w1)]
            fd = []
            for k in range(13):
                e = 1e-5
                hi, lo = list(w0), list(w0)
                hi[k] += e
                lo[k] -= e
                fd.append((misfit_at(tmp, hi, obs, "p%d" % k) - misfit_at(tmp, lo, obs, "m%d" % k)) / (2 * e))
            ns, nf = math.sqrt(sum(v * v for v in step)), math.sqrt(sum(v * v for v in fd))
            dev = worst(err(a / ns, b / nf) for a, b in zip(step, fd)) if ns > 0 and nf > 0 else math.inf
            report(dev <= 1e-4, "the adjoint gradient is parallel to central differences of full solves "
                   "(largest deviation %.2g of the unit vectors, 1e-4 asked)" % dev)
        else:
            report(False, "one iteration ends unconverged (exit 3) and saves its weights", p.stderr)

        # 2. recovery from noisy data, with the band
        p, js = run_json(LAG, tmp, "fit.lag", infer_text("    output \"fit.csv\"\n    save \"fit.lagw\"\n") +
                         'solve DensityNet { points 300, output "after.csv" }\n')
        j = js[0] if js else None
        ok = p.returncode == 0 and j is not None and j.get("converged") is True
        report(ok and j.get("net_weights") == 13, "the fit converges with 13 net weights", p.stderr)
        if ok:
            chi, peff = num(j["chi2_dof"]), num(j["effective_parameters"])
            report(0.5 <= chi <= 2 and 2 <= peff <= 13, "chi^2/dof %.3g (0.5 .. 2), effective parameters %.3g "
                   "(2 .. 13)" % (chi, peff))
            nodes = read_csv(os.path.join(tmp, "fit_nodes.csv"))
            true_rho = [1 + 0.5 * r["x"] + 0.8 * r["x"] ** 2 - r["x"] ** 3 for r in nodes]
            inside = sum(1 for r, t in zip(nodes, true_rho) if abs(r["rho"] - t) <= 3 * r["rho_stderr"])
            rms = math.sqrt(sum((r["rho"] - t) ** 2 for r, t in zip(nodes, true_rho)) / len(nodes))
            report(inside >= 0.9 * len(nodes) and rms < 0.03, "rho within 3 standard errors of the truth at %d of "
                   "%d nodes (90 %% asked), RMS error %.3g (0.03)" % (inside, len(nodes), rms))
            mid = min(nodes, key=lambda r: abs(r["x"] - 0.5))
            away = sorted(r["rho_stderr"] for r in nodes if abs(r["x"] - 0.5) > 0.1)
            report(mid["rho_stderr"] <= 0.1 * away[len(away) // 2] and away[0] > 0,
                   "the band: %.2g at the node nearest x = 0.5 (a tenth of the median away from it asked), "
                   "positive away from it (smallest %.2g, median %.2g)" % (mid["rho_stderr"], away[0],
                                                                         away[len(away) // 2]))
            # 3. the weights carry over to a later job and to a new run
            after = [r["y"] for r in read_csv(os.path.join(tmp, "after.csv"))]
            e1 = worst(err(a, r["y"]) for a, r in zip(after, nodes))
            p2, _ = run_json(LAG, tmp, "again.lag", problem("fit.lagw") +
                             'solve DensityNet { points 300, output "again.csv" }\n')
            again = [r["y"] for r in read_csv(os.path.join(tmp, "again.csv"))] if p2.returncode == 0 else []
            e2 = worst((err(a, r["y"]) for a, r in zip(again, nodes)), 0 if again else math.inf)
            report(e1 <= 1e-9 and e2 <= 1e-9, "a later solve (%.2g) and a run loading the saved weights (%.2g) "
                   "give the fitted shape" % (e1, e2), p2.stderr)
        else:
            for what in ("chi^2/dof", "rho against the truth", "the band", "the weights carry over"):
                report(False, what)

        # 4. a scalar unknown beside the net
        p, js = run_json(LAG, tmp, "len.lag", infer_text("", unknown_len=True))
        j = js[0] if js else None
        ok = p.returncode == 0 and j is not None
        v = num(j["unknowns"]["len"]["value"]) if ok else math.nan
        se = num(j["unknowns"]["len"]["stderr"]) if ok else math.nan
        report(ok and 0 < se < 0.1 and abs(v - 1.5) <= 3 * se, "the length beside the net: %.6g ± %.2g (truth 1.5)"
               % (v, se), p.stderr)

        # 5. located errors
        cases = [
            ("regularize", "    regularize 1\n", 5, "'regularize': smooths"),
            ("samples", "    samples 10\n", 5, "'samples': refits"),
            ("method", "    fit_method lm\n", 5, "'fit_method': Levenberg"),
            ("exact", "    exact y = x\n", 11, "'exact y': only the functions"),
        ]
        for name, extra, col, want in cases:
            # the problem's 11 lines, then the job's: the setting is line 15
            text = problem() + "infer DensityNet {\n    observe \"obs.csv\", noise 2e-3\n    points 100\n" + extra + "}\n"
            p = run_lag(LAG, tmp, name, text)
            got = p.stderr.splitlines()[0] if p.stderr else ""
            ok = p.returncode == 1 and ("%s.lag:15:%d: error: %s" % (name, col, want)) in got
            report(ok, "%s with a net: a located error" % name, p.stderr)
        nonet = problem().replace("    net f = mlp(in = 1, hidden = [4], out = 1, activation = tanh)\n", "") \
                         .replace("1.325 + f(x) - f(0.5)", "1 + x").replace("len = 1.5", "len = 1.5\n    unknown k = 1")
        p = run_lag(LAG, tmp, "save", nonet + 'infer DensityNet { observe "obs.csv", noise 2e-3, save "w.lagw" }\n')
        report(p.returncode == 1 and "'save' writes the fitted weights of a problem's nets" in p.stderr,
               "save without a net: a located error", p.stderr)
        unused = problem().replace("let rho = 1.325 + f(x) - f(0.5)", "let rho = 1 + x")
        p = run_lag(LAG, tmp, "unused", unused + 'infer DensityNet { observe "obs.csv", noise 2e-3 }\n')
        report(p.returncode == 1 and "nothing to fit" in p.stderr, "a net the objective does not use: an error",
               p.stderr)
    finish()


main()
