#!/usr/bin/env python3
"""tests/train_action.py — train with `loss action`: Lagrangians from
positions alone (TAP).

1. System identification: a pendulum's g/l (`unknown w` in L = th'^2/2 +
   w cos th) from the exact positions of one trajectory every 0.005 s:
   w = 9.81 to 1e-4 relative (the midpoint discrete Lagrangian's own
   error, O(h^2), is about 3e-5 here), a finite standard error, and the
   fitted value is what a later simulate uses (its final state equals that
   of a run with `param w = ` the fitted value).
2. The normalisation: the same fit of 5 (th'^2/2 + w cos th) + 3 +
   d/dt(-cos th) gives the same w (to 1e-6 relative): scaling L, adding a
   constant or a total derivative does not change the loss.
   The same with two coordinates and a mass matrix with off-diagonal
   terms (a double pendulum's g): 9.81 to 1e-4, and the gauged L's
   estimate equal to 1e-6.
3. Non-uniform time steps and several trajectories from a CSV (t, th,
   traj: three trajectories, rows dropped at random so the steps vary from
   0.004 to 0.04): w to 3e-4 relative.
4. A net-based L learned from positions (20 trajectories): its
   accelerations match the truth's within 2 % (relative RMS over a grid of
   held-out states, compare's accel_rel_grid) and L matches up to its
   gauge (R^2 > 0.999).
5. Bad input: a CSV without t, times that do not increase within a
   trajectory, a system with a force, data without time, nets and unknowns
   together: located errors, exit 1.
"""
import math
import os
import random
import tempfile

from lagtest import program, read_csv, num, close, err, worst, run_json, run_lag, report, finish

LAG, SRCDIR = program()

PENDULUM = """system Pendulum {
    param g = 9.81, l = 1
    coord th
    L = 0.5*l^2*th'^2 + g*l*cos(th)
}
"""
FIT = """system Fit {
    coord th
    unknown w = 5
    L = 0.5*th'^2 + w*cos(th)
}
"""


def train_json(js, system):
    for j in js:
        if j.get("job") == "train" and j.get("system") == system:
            return j
    return None


def main():
    with tempfile.TemporaryDirectory() as tmp:
        # 1. g/l from one trajectory's positions, and later jobs use it
        text = PENDULUM + FIT + """train Fit {
    data from Pendulum { time 0 .. 10, every 0.005, init th = 1, tol 1e-12 }
    loss action
}
simulate Fit {
    init th = 1
    time 0 .. 2, every 0.5
    tol 1e-12
}
"""
        p, js = run_json(LAG, tmp, "ident.lag", text)
        j = train_json(js, "Fit")
        w = num(j["unknowns"]["w"]["value"]) if j else math.nan
        se = num(j["unknowns"]["w"]["stderr"]) if j else math.nan
        report(p.returncode == 0 and close(w, 9.81, 0, 1e-4) and se > 0 and math.isfinite(se),
               "loss action: the pendulum's g/l from positions, w = %.8f ± %.2g (9.81 to 1e-4 asked)" % (w, se),
               p.stderr)
        sim = [x for x in js if x.get("job") == "simulate"]
        text2 = PENDULUM + FIT + """simulate Fit {
    param w = %.17g
    init th = 1
    time 0 .. 2, every 0.5
    tol 1e-12
}
""" % w
        p2, js2 = run_json(LAG, tmp, "after.lag", text2)
        a = num(sim[0]["final"]["coords"]["th"]) if sim else math.nan
        b = num(js2[0]["final"]["coords"]["th"]) if js2 else math.nan
        report(close(a, b, 0), "a later simulate uses the fitted w (final th %.15g, with param w: %.15g)" % (a, b))

        # 2. the normalisation: scale, constant and total derivative
        gauged = FIT.replace("Fit", "Gauged").replace("L = 0.5*th'^2 + w*cos(th)",
                                                      "L = 5*(0.5*th'^2 + w*cos(th)) + 3 + th'*sin(th)")
        text = PENDULUM + FIT + gauged + """train Fit {
    data from Pendulum { time 0 .. 10, every 0.005, init th = 1, tol 1e-12 }
    loss action
}
train Gauged {
    data from Pendulum { time 0 .. 10, every 0.005, init th = 1, tol 1e-12 }
    loss action
}
"""
        p, js = run_json(LAG, tmp, "gauge.lag", text)
        a, b = train_json(js, "Fit"), train_json(js, "Gauged")
        wa = num(a["unknowns"]["w"]["value"]) if a else math.nan
        wb = num(b["unknowns"]["w"]["value"]) if b else math.nan
        report(close(wb, wa, 0, 1e-6), "5 L + 3 + d/dt(-cos th) gives the same w (%.10g and %.10g)" % (wa, wb),
               p.stderr)

        # 2b. two coordinates with a coupled mass matrix (the normalisation
        # e^T M e sums M's entries): a double pendulum's g, and the same
        # fit of 5 L + 3 + d/dt(cos t1 sin t2)
        dp = """system DP {
    param g = 9.81
    coord t1, t2
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2)
}
system DPFit {
    coord t1, t2
    unknown gf = 5
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*gf*cos(t1) + gf*cos(t2)
}
system DPGauged {
    coord t1, t2
    unknown gf = 5
    L = 5*(t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*gf*cos(t1) + gf*cos(t2)) + 3
      - t1'*sin(t1)*sin(t2) + t2'*cos(t1)*cos(t2)
}
"""
        data = "    data from DP { time 0 .. 5, every 0.002, init t1 = 0.8, t2 = -0.5, tol 1e-12 }\n    loss action\n"
        p, js = run_json(LAG, tmp, "dp.lag", dp + "train DPFit {\n" + data + "}\ntrain DPGauged {\n" + data + "}\n")
        a, b = train_json(js, "DPFit"), train_json(js, "DPGauged")
        ga = num(a["unknowns"]["gf"]["value"]) if a else math.nan
        gb = num(b["unknowns"]["gf"]["value"]) if b else math.nan
        report(close(ga, 9.81, 0, 1e-4) and close(gb, ga, 0, 1e-6),
               "a double pendulum's g from positions, %.10g (9.81 to 1e-4), and from 5 L + 3 + a total "
               "derivative %.10g (the same to 1e-6)" % (ga, gb), p.stderr)

        # 3. non-uniform steps, three trajectories, from a CSV
        text = PENDULUM + """simulate Pendulum {
    init th = uniform(-2, 2), th' = uniform(-1, 1)
    samples 3
    time 0 .. 8, every 0.004
    tol 1e-12
    output "traj.csv"
}
"""
        p, _ = run_json(LAG, tmp, "traj.lag", text)
        rows = read_csv(os.path.join(tmp, "traj.csv")) if p.returncode == 0 else []
        rnd = random.Random(3)
        kept = [r for r in rows if r["t"] == 0 or rnd.random() < 0.55]
        steps = {}
        last = {}
        for r in kept:
            k = r["traj"]
            if k in last:
                steps.setdefault(k, []).append(r["t"] - last[k])
            last[k] = r["t"]
        hs = [h for v in steps.values() for h in v]
        with open(os.path.join(tmp, "positions.csv"), "w") as f:
            f.write("t,th,traj\n")
            for r in kept:
                f.write("%.17g,%.17g,%d\n" % (r["t"], r["th"], int(r["traj"])))
        text = FIT + """train Fit {
    data "positions.csv"
    loss action
}
"""
        p, js = run_json(LAG, tmp, "csv.lag", text)
        j = train_json(js, "Fit")
        w = num(j["unknowns"]["w"]["value"]) if j else math.nan
        report(p.returncode == 0 and close(w, 9.81, 0, 3e-4) and hs and min(hs) < 0.0045 and max(hs) > 0.0115,
               "3 trajectories, steps %.3g to %.3g: w = %.8f (9.81 to 3e-4 asked)" % (min(hs or [0]), max(hs or [0]), w),
               p.stderr)

        # 4. a net-based L from positions
        text = PENDULUM + """system PendLNN {
    coord th
    net f = mlp(in = 3, hidden = [64, 64], out = 1, activation = softplus, init = lnn)
    L = f(cos(th), sin(th), th'/5)
}
train PendLNN {
    data from Pendulum { time 0 .. 10, every 0.02, samples 20, init th = uniform(-2.5, 2.5), th' = uniform(-1, 1), tol 1e-12 }
    loss action
    steps 3000, batch 256, lr 3e-3
}
compare Pendulum, PendLNN {
    init th = 1
    time 0 .. 2, every 0.01
    grid th = -2.5 .. 2.5 : 41, th' = -3 .. 3 : 41
}
"""
        p, js = run_json(LAG, tmp, "net.lag", text, timeout=600)
        cmp = [x for x in js if x.get("job") == "compare"]
        m = cmp[0]["models"]["PendLNN"] if cmp else {}
        rel = num(m["accel_rel_grid"]) if m else math.inf
        r2 = num(m["gauge_r2"]) if m else math.nan
        report(p.returncode == 0 and rel <= 0.02 and r2 > 0.999,
               "a net-based L from positions: acceleration error %.3g %% over the grid (2 %% asked), gauge R^2 %.6f"
               % (100 * rel, r2), p.stderr)

        # 5. bad input
        def bad(name, text, want, data=None):
            p = run_lag(LAG, tmp, name, text, {name + ".csv": data} if data else None)
            report(p.returncode == 1 and want in p.stderr and (name + ".lag:") in p.stderr,
                   "%s: a located error containing %r" % (name, want), p.stderr)

        bad("no_t", FIT + 'train Fit { data "no_t.csv", loss action }\n', "needs the columns t and th",
            "time,th\n0,1\n0.1,0.9\n0.2,0.8\n")
        bad("back_in_time", FIT + 'train Fit { data "back_in_time.csv", loss action }\n', "must increase",
            "t,th\n0,1\n0.1,0.9\n0.05,0.8\n0.2,0.7\n")
        forced = FIT.replace("    L = 0.5*th'^2 + w*cos(th)\n", "    L = 0.5*th'^2 + w*cos(th)\n    force th = -0.1*th'\n")
        bad("forced", PENDULUM + forced + "train Fit { data from Pendulum { time 0 .. 1 }, loss action }\n",
            "forces or dissipation")
        bad("no_time", PENDULUM + FIT + "train Fit { data from Pendulum { samples 10 }, loss action }\n",
            "learns from trajectories")
        both = FIT.replace("    L = 0.5*th'^2 + w*cos(th)\n",
                           "    net f = mlp(in = 1, hidden = [4], out = 1)\n    L = 0.5*th'^2 + w*cos(th) + f(th)\n")
        bad("nets_and_unknowns", PENDULUM + both + "train Fit { data from Pendulum { time 0 .. 1 }, loss action }\n",
            "both nets and unknowns")
    finish()


if __name__ == "__main__":
    main()
