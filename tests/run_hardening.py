#!/usr/bin/env python3
"""tests/run_hardening.py — regressions of issue 9 in `lag run` (TAP).

issue9-1   training one system never changes another system's net
issue9-2   a checkpoint is resumed only by the same training (data, init
           ranges, validation, loss, parameters, model): else warned, afresh
issue9-3   --set: a bad value, an unknown parameter or system is a usage error
issue9-11  every job ends with one line on stderr naming what it wrote and its
           key figure; --quiet silences it, --json stays the form on stdout
settings   train's `output` writes the learning curve; a job's settings
           read from the one table (defaults as documented)
"""
import json
import math
import os
import subprocess
import tempfile
import time

from lagtest import program, read_csv, close, num, worst, report, finish

LAG, SRCDIR = program()



def run(tmp, name, text, *args, timeout=300):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([LAG, "run", *args, "-o", tmp, path], capture_output=True, text=True, timeout=timeout)
    return p


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


TWO = """
system Ref {
    coord x
    L = 0.5*x'^2 - 2*x^2
}
system A {
    coord x
    net f = mlp(in = 2, hidden = [8], out = 1, activation = softplus)
    L = f(x, x')
}
system B {
    coord x
    net f = mlp(in = 2, hidden = [8], out = 1, activation = softplus)
    L = f(x, x')
}
"""
SIM_B = 'simulate B { init x = 0.5, x\' = 0.1, time 0 .. 1, every 0.1, output "b.csv" }\n'
TRAIN_A = 'train A { data from Ref { init x = uniform(-1, 1), x\' = uniform(-2, 2) }, steps 30, batch 32, seed 1 }\n'

with tempfile.TemporaryDirectory(prefix="lag-run-hardening.") as tmp:
    # ---- issue9-1: train A, then simulate B: B keeps its own weights ----
    alone = run(tmp, "alone.lag", TWO + SIM_B, "--quiet")
    b_alone = read_bytes(os.path.join(tmp, "b.csv"))
    after = run(tmp, "after.lag", TWO + TRAIN_A + SIM_B, "--quiet")
    b_after = read_bytes(os.path.join(tmp, "b.csv"))
    # and A itself does use its trained weights in a later job of the run
    sim_a = 'simulate A { init x = 0.5, x\' = 0.1, time 0 .. 1, every 0.1, output "a.csv" }\n'
    run(tmp, "a_alone.lag", TWO + sim_a, "--quiet")
    a_alone = read_bytes(os.path.join(tmp, "a.csv"))
    run(tmp, "a_after.lag", TWO + TRAIN_A + sim_a, "--quiet")
    a_after = read_bytes(os.path.join(tmp, "a.csv"))
    ok = (alone.returncode == 0 and after.returncode == 0 and b_alone is not None and b_alone == b_after
          and a_alone is not None and a_after is not None and a_alone != a_after)
    report(ok, "issue9-1: train A then simulate B gives B's CSV byte for byte as B alone; A's later job uses "
           "A's trained weights", "rc %s/%s, B same: %s, A changed: %s, stderr %s" % (
               alone.returncode, after.returncode, b_alone == b_after, a_alone != a_after, after.stderr[-300:]))

    # ---- issue9-2: a checkpoint from other data is not resumed ----
    def ckpt_job(lo, hi, validate="0.1", k="2"):
        return ("system Spring {\n    param k = %s\n    coord x\n    L = 0.5*x'^2 - 0.5*k*x^2\n}\n"
                "system SpringLNN {\n    coord x\n    net f = mlp(in = 2, hidden = [8], out = 1)\n"
                "    L = f(x, x')\n}\n"
                "train SpringLNN { data from Spring { init x = uniform(%s, %s), x' = uniform(-1, 1), samples 256 },"
                " steps 4000, batch 32, validate %s, checkpoint every 400, save \"s.lagw\", seed 2 }\n"
                % (k, lo, hi, validate))

    def resumed(text, name):
        p = run(tmp, name, text, "--json")
        try:
            js = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None, p.stderr
        return js.get("resumed_from"), p.stderr

    cases = [("the same job", ckpt_job("-1", "1"), True),
             ("init x = uniform(-50, 50)", ckpt_job("-50", "50"), False),
             ("validate 0.3", ckpt_job("-1", "1", validate="0.3"), False),
             ("the data system's k = 3", ckpt_job("-1", "1", k="3"), False)]
    why = []
    for what, text, same in cases:
        # max-steps changes the steps hashed, so the checkpoint is written by a
        # run with the same steps: kill it after its first checkpoint instead
        for f in ("s.lagw", "s.lagw.ckpt"):
            if os.path.exists(os.path.join(tmp, f)):
                os.remove(os.path.join(tmp, f))
        path = os.path.join(tmp, "first.lag")
        with open(path, "w") as f:
            f.write(ckpt_job("-1", "1"))
        proc = subprocess.Popen([LAG, "run", "--quiet", "-o", tmp, path], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and not os.path.exists(os.path.join(tmp, "s.lagw.ckpt")):
            if proc.poll() is not None:
                break
            time.sleep(0.005)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if not os.path.exists(os.path.join(tmp, "s.lagw.ckpt")):
            why.append("%s: no checkpoint was left to resume" % what)
            continue
        r, err = resumed(text, "second.lag")
        if same and not (isinstance(r, int) and r > 0):
            why.append("%s: not resumed (resumed_from %r)" % (what, r))
        if not same and (r != 0 or "checkpoint" not in err):
            why.append("%s: resumed_from %r, warning %r" % (what, r, err[-200:]))
    report(not why, "issue9-2: a checkpoint is resumed by the same job only; other init ranges, validate or "
           "data parameters are warned and start afresh", "; ".join(why))

    # ---- issue9-3: --set is checked ----
    osc = ("system Osc {\n    param k = 1\n    coord x\n    L = 0.5*x'^2 - 0.5*k*x^2\n}\n"
           "system Other {\n    param k = 1\n    coord x\n    L = 0.5*x'^2 - 0.5*k*x^2\n}\n"
           "simulate Osc { init x = 1, time 0 .. 1, every 0.5, output \"osc.csv\" }\n"
           "simulate Other { init x = 1, time 0 .. 1, every 0.5, output \"other.csv\" }\n")
    bad = [("Osc.k=abc", "'abc' is not a finite number"),
           ("Osc.k=1e999", "is not a finite number"),
           ("Osc.k=", "is not a finite number"),
           ("Osc.kk=9", "'kk' is not a parameter of 'Osc' (did you mean 'k'?)"),
           ("Nope.k=1", "no system or problem 'Nope' in the program"),
           ("Oss.k=1", "(did you mean 'Osc'?)"),
           ("k=1", "--set expects SYSTEM.param=value (got 'k=1')")]
    why = []
    for arg, msg in bad:
        if os.path.exists(os.path.join(tmp, "osc.csv")):
            os.remove(os.path.join(tmp, "osc.csv"))
        p = run(tmp, "osc.lag", osc, "--set", arg)
        if p.returncode != 2 or msg not in p.stderr or os.path.exists(os.path.join(tmp, "osc.csv")):
            why.append("--set %s: exit %d, stderr %r" % (arg, p.returncode, p.stderr[-200:]))
    # a good --set changes that system only: x(t) = cos(sqrt(k) t)
    p = run(tmp, "osc.lag", osc, "--quiet", "--set", "Osc.k=4")
    try:
        osc_rows, other_rows = read_csv(os.path.join(tmp, "osc.csv")), read_csv(os.path.join(tmp, "other.csv"))
        e = worst([abs(r["x"] - math.cos(2 * r["t"])) for r in osc_rows]
                  + [abs(r["x"] - math.cos(r["t"])) for r in other_rows])
    except (OSError, ValueError, KeyError) as ex:
        e = math.inf
        why.append(str(ex))
    if p.returncode != 0 or not e <= 1e-6:
        why.append("--set Osc.k=4: exit %d, worst error %g" % (p.returncode, e))
    report(not why, "issue9-3: --set with a bad number, an unknown parameter or system exits 2 naming the bad "
           "part (did you mean); a good one changes that system only (cos 2t vs cos t)", "; ".join(why))

    # ---- a default that is an expression of another parameter follows its override ----
    derived = ("system Osc2 {\n    param k = 1, w = sqrt(k)\n    coord x\n    L = 0.5*x'^2 - 0.5*w^2*x^2\n}\n"
               "simulate Osc2 { init x = 1, time 0 .. 1, every 0.25, output \"d.csv\" }\n")
    p = run(tmp, "derived.lag", derived, "--quiet", "--set", "Osc2.k=4")
    try:
        e = worst(abs(r["x"] - math.cos(2 * r["t"])) for r in read_csv(os.path.join(tmp, "d.csv")))
    except (OSError, ValueError, KeyError):
        e = math.inf
    report(p.returncode == 0 and e <= 1e-6, "parameters: --set k = 4 also moves the default w = sqrt(k) (x = cos 2t)",
           "exit %d, error %g, %s" % (p.returncode, e, p.stderr[-200:]))

    # ---- issue9-11: one summary line per job ----
    p = run(tmp, "osc.lag", osc)
    lines = [l for l in p.stderr.splitlines() if l.startswith("lag: simulate ")]
    want0 = "lag: simulate Osc: wrote %s: 3 rows, energy drift " % os.path.join(tmp, "osc.csv")
    why = []
    if p.returncode != 0 or len(lines) != 2 or not lines[0].startswith(want0) or "rk8pd to t = 1" not in lines[0]:
        why.append("stderr %r" % p.stderr)
    else:
        drift = lines[0][len(want0):].split()[0].rstrip(",")
        try:
            if not num(drift) < 1e-6:
                why.append("drift %s" % drift)
        except ValueError:
            why.append("drift %r is not a number" % drift)
    q = run(tmp, "osc.lag", osc, "--quiet")
    if q.returncode != 0 or q.stderr != "":
        why.append("--quiet printed %r" % q.stderr)
    j = run(tmp, "osc.lag", osc, "--json")
    if j.returncode != 0 or len(j.stdout.strip().splitlines()) != 2 or any(
            not l.startswith("{") for l in j.stdout.strip().splitlines()):
        why.append("--json stdout %r" % j.stdout[:200])
    t = run(tmp, "train.lag", TWO + TRAIN_A.replace("seed 1", "seed 1, save \"a.lagw\""))
    tl = [l for l in t.stderr.splitlines() if l.startswith("lag: train A: 30 steps")]
    if t.returncode != 0 or len(tl) != 1 or "validation error" not in tl[0] or "saved" not in tl[0]:
        why.append("train stderr %r" % t.stderr[-300:])
    report(not why, "issue9-11: each job ends with one line on stderr (what it wrote, rows, energy drift; "
           "train: steps, validation error, save); --quiet silences it; --json stays one object per job",
           "; ".join(why))

    # ---- train output: the learning curve ----
    t = run(tmp, "curve.lag", TWO + TRAIN_A.replace("seed 1", "seed 1, output \"curve.csv\", validate 0.2")
            .replace("x' = uniform(-2, 2) }", "x' = uniform(-2, 2), samples 200 }"), "--json")
    why = []
    try:
        rows = read_csv(os.path.join(tmp, "curve.csv"))
        js = json.loads(t.stdout.strip().splitlines()[-1])
        curve = js["curve"] if "curve" in js else None
        steps = [r["step"] for r in rows]
        if not rows or list(rows[0].keys()) != ["step", "seconds", "train_loss", "val_loss", "val_rel_rms"]:
            why.append("columns %r" % (list(rows[0].keys()) if rows else None))
        elif steps != sorted(steps) or steps[-1] != 30 or any(r["train_loss"] <= 0 for r in rows):
            why.append("steps %r" % steps)
        elif not close(rows[-1]["val_rel_rms"], js["validation_rel_rms"], 1e-12, 1e-9):
            why.append("last val_rel_rms %g, JSON %r" % (rows[-1]["val_rel_rms"], js.get("validation_rel_rms")))
    except (OSError, ValueError, KeyError, IndexError) as ex:
        why.append("%s: %s; stderr %r" % (type(ex).__name__, ex, t.stderr[-300:]))
    report(t.returncode == 0 and not why, "settings: train's output writes the learning curve (step, seconds, "
           "train_loss, val_loss, val_rel_rms), its last point the JSON's validation error", "; ".join(why))

finish()
