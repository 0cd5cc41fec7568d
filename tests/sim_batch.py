#!/usr/bin/env python3
"""tests/sim_batch.py — ensembles, trajectory by trajectory (TAP).

Every trajectory of an ensemble has its own step size: rkf45, rkck and
rk8pd step the whole batch at once (runtime/rkbatch.c, each lane GSL's
arithmetic; tests/unit/rkbatch_test.c checks it against GSL itself), the
other GSL steppers (rk4, msadams, and the implicit bsimp and msbdf, which
ensembles now take) give each trajectory a GSL driver of its own.

1. For each of rkf45, rkck, rk8pd, rk4, msadams, bsimp, msbdf: every
   trajectory of an ensemble of 5 double pendulums (random starts) equals,
   bit for bit, the single run from its initial state (printed with 17
   digits), row by row, state and energy.
2. The same for a system with an explicit time (a pendulum driven at its
   pivot, each trajectory at its own time inside a batch) and for one whose
   accelerations come from M q'' = f solved numerically (three
   coordinates), with rk8pd.
3. --native gives the VM's ensemble bit for bit (compiled code calls the
   VM's sin and cos).
4. A trajectory that fails (its mass matrix x^2 turns singular as x
   reaches 0, which the starts faster than 1 do) is reported by index,
   time and state on stderr; the other trajectories run to the end, their
   rows all written and equal to their single runs; the job exits 3 saying
   how many failed.
5. The ensemble's per-trajectory steps: the JSON's steps equal the sum of
   the single runs' steps (each trajectory its own step size, none set by
   the others).
6. Learned systems (a network L, three coordinates: a layer's forward pass
   and its four tangents are five products with one matrix, which one
   sample evaluates four and one at a time in register-blocked passes,
   runtime/matvec.h, and a batch row by row): every trajectory of an
   ensemble equals its single run bit for bit with rkf45 (the batched
   stepper) and rk4; --native equals the VM bit for bit, single runs and
   ensembles; and the program runs the independent products with the
   hidden matrix one after another (lowering's schedule, `lag ir`).
"""
import csv
import math
import os
import subprocess
import tempfile

from lagtest import program, run_json, report, finish, DOUBLE_PENDULUM

LAG, SRCDIR = program()

DP = DOUBLE_PENDULUM

DRIVEN = """system DP {
    param m = 1, l = 1, g = 9.81, a = 0.2, w = 7
    coord t1
    let r = vec(l*sin(t1), a*cos(w*t) - l*cos(t1))
    L = 0.5*m*dot(r', r') - m*g*r.y
}
"""

LEARNED = """system DP {
    coord t1, t2, t3
    net f = mlp(in = 6, hidden = [24, 24], out = 1)
    L = f(cos(t1), sin(t1), t2, t1', t2', t3') + 2*(t1'^2 + t2'^2 + t3'^2) - 0.5*t3^2
}
"""

THREE = """system DP {
    param k = 3
    coord t1, t2, t3
    L = 0.5*(t1'^2 + (1 + 0.3*cos(t1 - t2))*t2'^2 + t3'^2) + 0.2*t1'*t3'*cos(t3) - k*(1 - cos(t1)) - 0.5*k*(t2 - t1)^2
      - 0.5*k*(t3 - t2)^2
}
"""


def rows_text(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(tmp, name, text, *args):
    p, js = run_json(LAG, tmp, name + ".lag", text.replace("OUT", name + ".csv"), *args)
    path = os.path.join(tmp, name + ".csv")
    return p, js, rows_text(path) if os.path.exists(path) else []


def by_traj(rows):
    out = {}
    for r in rows:
        out.setdefault(int(r["traj"]), []).append(r)
    return out


def same_bits(a, b, keys):
    """Rows a (of one trajectory) and b (a single run) hold the same numbers."""
    if not a or len(a) != len(b):
        return False
    return all(float(ra[k]) == float(rb[k]) or (math.isnan(float(ra[k])) and math.isnan(float(rb[k])))
               for ra, rb in zip(a, b) for k in keys)


def members_vs_singles(tmp, tag, system, coords, init, method, samples=5, extra=(), t1=2):
    job = ("simulate DP { init %s; samples %d, seed 11; time 0 .. %g, every 0.1; method %s, tol 1e-9; "
           "output \"OUT\" }\n" % (init, samples, t1, method))
    p, js, rows = run(tmp, tag + "_ens", system + job, *extra)
    why = p.stderr
    trajs = by_traj(rows)
    keys = coords + [c + "'" for c in coords] + (["E"] if rows and "E" in rows[0] else [])
    good, steps = len(trajs) == samples, 0
    for s, mine in sorted(trajs.items()):
        start = mine[0]
        init1 = ", ".join("%s = %s" % (k, start[k]) for k in coords + [c + "'" for c in coords])
        job1 = ("simulate DP { init %s; time 0 .. %g, every 0.1; method %s, tol 1e-9; output \"OUT\" }\n"
                % (init1, t1, method))
        p1, js1, one = run(tmp, "%s_one%d" % (tag, s), system + job1, *extra)
        why += p1.stderr
        good = good and p1.returncode == 0 and same_bits(mine, one, keys)
        steps += js1[0]["steps"] if js1 else 0
    return good and p.returncode == 0, why, js, steps


def main():
    with tempfile.TemporaryDirectory() as tmp:
        init = "t1 = uniform(-2, 2), t2 = uniform(-2, 2), t1' = uniform(-1, 1)"
        # 1. every method
        for method in ("rkf45", "rkck", "rk8pd", "rk4", "msadams", "bsimp", "msbdf"):
            good, why, js, steps = members_vs_singles(tmp, method, DP, ["t1", "t2"], init, method)
            report(good, "%s: each of 5 trajectories of an ensemble equals its single run bit for bit" % method, why)
            if method == "rk8pd":
                ens_steps = js[0]["steps"] if js else -1
                report(ens_steps == steps, "rk8pd: the ensemble's steps (%d) are the sum of the single runs' (%d): "
                       "each trajectory its own step size" % (ens_steps, steps))

        # 2. explicit time; a numerically solved mass matrix
        good, why, _, _ = members_vs_singles(tmp, "driven", DRIVEN, ["t1"], "t1 = uniform(-2, 2), t1' = normal(0, 2)",
                                             "rk8pd", samples=7)
        report(good, "a pendulum driven at its pivot (explicit t): 7 trajectories, each its single run bit for bit",
               why)
        good, why, _, _ = members_vs_singles(tmp, "three", THREE, ["t1", "t2", "t3"],
                                             "t1 = uniform(-1, 1), t2 = uniform(-1, 1), t3' = uniform(-1, 1)",
                                             "rk8pd", samples=6)
        report(good, "three coordinates, M q'' = f solved numerically: 6 trajectories, each its single run bit "
               "for bit", why)

        # 3. --native
        job = ("simulate DP { init %s; samples 9, seed 2; time 0 .. 2, every 0.1; tol 1e-9; output \"OUT\" }\n"
               % init)
        env_cache = os.path.join(tmp, "cache")
        os.environ["LAG_CACHE"] = env_cache
        p1, _, vm = run(tmp, "vm", DP + job)
        p2, _, nat = run(tmp, "native", DP + job, "--native")
        keys = ["t1", "t2", "t1'", "t2'", "E"]
        good = p1.returncode == 0 and p2.returncode == 0 and len(vm) == len(nat) == 9 * 21 and all(
            float(a[k]) == float(b[k]) for a, b in zip(vm, nat) for k in keys)
        report(good and "interpreting instead" not in p2.stderr,
               "--native: an ensemble of 9 equals the VM's bit for bit", p1.stderr + p2.stderr)

        # 4. a trajectory that fails, the others finish
        sing = """system DP {
    coord t1
    L = 0.5*t1^2*t1'^2 - 0.5*(t1 - 3)^2
}
"""
        job = ("simulate DP { init t1 = 3, t1' = %s; samples 1; time 0 .. 3, every 0.1; tol 1e-9; output \"OUT\" }\n")
        # from x = 3 at rest in the well (x - 3)^2/2, a speed |x'| > 1 reaches x = 0, where M = x^2 = 0
        ens = ("simulate DP { init t1 = 3, t1' = uniform(-1.6, 1.6); samples 6, seed 5; time 0 .. 3, every 0.1; "
               "tol 1e-9; output \"OUT\" }\n")
        p, js, rows = run(tmp, "fail_ens", sing + ens)
        trajs = by_traj(rows)
        failed = [s for s, r in trajs.items() if len(r) < 31]
        speeds = {s: abs(float(r[0]["t1'"])) for s, r in trajs.items()}
        msg = p.stderr
        good = p.returncode == 3 and len(trajs) == 6 and 1 <= len(failed) < 6
        good = good and all(speeds[s] > 1 for s in failed)
        good = good and all(("trajectory %d failed at t = " % s) in msg for s in failed)
        good = good and ("%d of 6 trajectories failed" % len(failed)) in msg and "the others ran to the end" in msg
        for s, r in trajs.items():
            if s in failed:
                continue
            p1, _, one = run(tmp, "fail_one%d" % s, sing + job % r[0]["t1'"])
            good = good and p1.returncode == 0 and same_bits(r, one, ["t1", "t1'", "E"])
        report(good, "a trajectory whose mass matrix turns singular is reported (%s) and the other %d run to the end, "
               "each its single run; exit 3" % (failed, len(trajs) - len(failed)), msg)
    with tempfile.TemporaryDirectory() as tmp:
        learned(tmp)
    finish()


def learned(tmp):
    os.environ["LAG_CACHE"] = os.path.join(tmp, "cache")
    init = "t1 = uniform(-1, 1), t2 = uniform(-1, 1), t3 = 0.3, t1' = uniform(-0.5, 0.5)"
    coords = ["t1", "t2", "t3"]
    for method in ("rkf45", "rk4"):
        good, why, _, _ = members_vs_singles(tmp, "net_" + method, LEARNED, coords, init, method, samples=4)
        report(good, "a learned L (three coordinates, 24 x 24), %s: each of 4 trajectories equals its single run "
               "bit for bit" % method, why)
        good, why, _, _ = members_vs_singles(tmp, "netnat_" + method, LEARNED, coords, init, method, samples=4,
                                             extra=("--native",))
        report(good and "interpreting instead" not in why,
               "a learned L, %s, --native: each of 4 trajectories equals its single run bit for bit" % method, why)
    job = ("simulate DP { init %s; samples 6, seed 3; time 0 .. 2, every 0.1; method rkf45, tol 1e-9; "
           "output \"OUT\" }\n" % init)
    p1, _, vm = run(tmp, "net_vm", LEARNED + job)
    p2, _, nat = run(tmp, "net_native", LEARNED + job, "--native")
    keys = coords + [c + "'" for c in coords] + ["E"]
    good = p1.returncode == 0 and p2.returncode == 0 and len(vm) == len(nat) == 6 * 21 and all(
        float(a[k]) == float(b[k]) for a, b in zip(vm, nat) for k in keys)
    report(good and "interpreting instead" not in p2.stderr,
           "a learned L, --native: an ensemble of 6 equals the VM's bit for bit", p1.stderr + p2.stderr)
    # the schedule: the hidden layer's products (f.W2) come in runs, the
    # forward pass with its tangents (several columns), then the reverse
    path = os.path.join(tmp, "net_ir.lag")
    with open(path, "w") as f:
        f.write(LEARNED)
    ir = subprocess.run([LAG, "ir", path], capture_output=True, text=True)
    runs, cur = [], 0
    for line in ir.stdout.splitlines():
        if "program " in line and "DP.rhs" not in line and runs:
            break
        w = line.split()
        if len(w) > 3 and w[1] == "VMATVEC" and w[3] == "f.W2,":
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    report(ir.returncode == 0 and runs and max(runs) >= 4,
           "lag ir: the rhs computes the hidden layer's forward pass and tangents as one run of products "
           "(runs of W2 x: %s)" % runs, ir.stderr)


if __name__ == "__main__":
    main()
