#!/usr/bin/env python3
"""tests/precision.py — `precision single` for nets (TAP).

1. train: an LNN trained on the oscillator (k = 4) with `precision single`
   reaches the double-precision test's accuracy (validation error < 1 %);
   the JSON says so; the saved file (read here independently of lag) is
   version 2, records 32 bits, and every weight is a float32 value.
2. simulate: a net whose weights file records 32 bits runs in single
   precision unless the job says otherwise (JSON `precision`); the same net
   with `precision double` gives trajectories that agree to 1e-5 of their
   amplitude over 3 s (float32 layer products: about 1e-7 relative per
   acceleration), not bit for bit (the products do run in float32), and
   both follow x = cos 2t to 5 %.  A simulate job after the train job of
   the same run runs in single precision too.
3. The float32 path against an independent evaluation: the test evaluates
   the saved net's accelerations (the LNN formula, x'' = (L_x - L_x'x x')
   / L_x'x', by its own forward-mode derivatives in float64 from the
   weights) and the single-precision ones agree to 1e-4 relative, the
   double-precision ones to 1e-9.
4. Ensembles: every trajectory of a single-precision ensemble (rkf45, the
   batched stepper, and rk4) equals its single run bit for bit; --native
   gives the VM's bytes.
5. Checkpoints record the precision: resuming a single-precision
   checkpoint in a double-precision job warns and starts afresh; a
   single-precision resume continues (resumed_from) and ends with the
   weights of an uninterrupted run, bit for bit.
"""
import json
import math
import os
import struct
import subprocess
import tempfile
import time

import lagtest

LAG, SRCDIR = lagtest.program()

SYSTEMS = """
system Spring {
    param k = 4
    coord x
    L = 0.5*x'^2 - 0.5*k*x^2
}
system SpringLNN {
    coord x
    net f = mlp(in = 2, hidden = [24, 24], out = 1%(weights)s)
    L = f(x, x') + 0.5*x'^2
}
"""

TRAIN = """train SpringLNN {
    data from Spring { init x = uniform(-1, 1), x' = uniform(-2, 2) }
    steps %(steps)d, batch 128, lr 1e-2
    seed 1
    precision %(prec)s
    save "%(save)s"%(extra)s
}
"""


def run(tmp, name, text, *args):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([LAG, "run", "--json", "-o", tmp] + list(args) + [path], capture_output=True, text=True,
                       timeout=300)
    return p, [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def is_float32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0] == v


def accel(T, x, v):
    """x'' of L = f(x, x') + x'^2/2 from the weights: forward-mode second
    derivatives (value, d/dx, d/dv, d2/dv2, d2/dxdv) through the softplus
    MLP, in float64."""
    def sp(z):
        return max(z, 0) + math.log1p(math.exp(-abs(z)))

    def sg(z):
        return 1 / (1 + math.exp(-z))
    # each unit: (value, dx, dv, dvv, dxv)
    h = [(x, 1.0, 0.0, 0.0, 0.0), (v, 0.0, 1.0, 0.0, 0.0)]
    for layer in (1, 2, 3):
        rows, cols, W = T["f.W%d" % layer]
        _, _, bias = T["f.b%d" % layer]
        z = []
        for i in range(rows):
            acc = [bias[i], 0.0, 0.0, 0.0, 0.0]
            for j in range(cols):
                for c in range(5):
                    acc[c] += W[i * cols + j] * h[j][c]
            z.append(acc)
        if layer == 3:
            h = z
            break
        h = []
        for a, ax, av, avv, axv in z:
            s1 = sg(a)
            s2 = s1 * (1 - s1)
            h.append((sp(a), s1 * ax, s1 * av, s2 * av * av + s1 * avv, s2 * ax * av + s1 * axv))
    _, Lx, _, Lvv, Lxv = h[0]
    return (Lx - Lxv * v) / (Lvv + 1.0)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LAG_CACHE"] = os.path.join(tmp, "cache")
        # 1. train in single precision
        text = SYSTEMS % {"weights": ""} + TRAIN % {"steps": 3000, "prec": "single", "save": "s32.lagw", "extra": ""}
        text += 'simulate SpringLNN { init x = 1, time 0 .. 3, every 0.25, method rk8pd, output "same.csv" }\n'
        p, js = run(tmp, "train.lag", text)
        t = js[0] if js else {}
        lagtest.report(p.returncode == 0 and t.get("precision") == "single" and t.get("validation_rel_rms", 1) < 0.01,
                       "precision single: an LNN learns the oscillator to %.3g %% validation error (< 1 %%)"
                       % (100 * t.get("validation_rel_rms", float("nan"))), p.stderr)
        try:
            version, bits, T = lagtest.read_lagw(os.path.join(tmp, "s32.lagw"))
            floats = all(is_float32(v) for _, _, d in T.values() for v in d)
            lagtest.report(version == 2 and bits == 32 and floats and len(T) == 6,
                           "the saved file: version 2, 32 bits recorded, every weight a float32 value (%d tensors)"
                           % len(T))
        except (OSError, AssertionError, struct.error) as ex:
            T = None
            lagtest.report(False, "the saved file records float32 weights", repr(ex))
        same = js[1] if len(js) > 1 else {}
        lagtest.report(same.get("precision") == "single",
                       "a simulate job after the train job of the same run runs in single precision (%s)"
                       % same.get("precision"))

        # 2. simulate from the file: single by default, double when asked
        sim = SYSTEMS % {"weights": ', weights = "s32.lagw"'} + (
            'simulate SpringLNN { init x = 1, time 0 .. 3, every 0.25, method rk8pd, tol 1e-12, '
            'output "%s"%s }\n')
        p1, j1 = run(tmp, "s1.lag", sim % ("single.csv", ""))
        p2, j2 = run(tmp, "s2.lag", sim % ("double.csv", ", precision double"))
        a = lagtest.read_csv(os.path.join(tmp, "single.csv")) if p1.returncode == 0 else []
        b = lagtest.read_csv(os.path.join(tmp, "double.csv")) if p2.returncode == 0 else []
        good = len(a) == len(b) == 13 and j1 and j2 and j1[0].get("precision") == "single" and \
            j2[0].get("precision") == "double"
        diff = lagtest.worst(abs(lagtest.num(ra["x"]) - lagtest.num(rb["x"])) for ra, rb in zip(a, b)) if good else 1
        dev = lagtest.worst(lagtest.err(lagtest.num(r["x"]), math.cos(2 * lagtest.num(r["t"]))) for r in a + b) \
            if good else 1
        lagtest.report(good and 0 < diff < 1e-5 and dev < 0.05,
                       "weights recorded as 32 bits run in single precision by default; precision double differs "
                       "by %.2g (in (0, 1e-5)); both follow cos 2t to %.3f" % (diff, dev), p1.stderr + p2.stderr)

        # 3. the accelerations against an independent float64 evaluation
        if T:
            rel = {}
            for prec in ("single", "double"):
                rec = SYSTEMS % {"weights": ', weights = "s32.lagw"'}
                rec += ("simulate SpringLNN { init x = uniform(-1, 1), x' = uniform(-2, 2); samples 12, seed 9; "
                        "time 0 .. 0.001, every 0.001; method rk4; record a = x''; precision %s; "
                        "output \"acc_%s.csv\" }\n" % (prec, prec))
                pr, _ = run(tmp, "acc_%s.lag" % prec, rec)
                rows = [r for r in lagtest.read_csv(os.path.join(tmp, "acc_%s.csv" % prec)) if float(r["t"]) == 0] \
                    if pr.returncode == 0 else []
                errs = [abs(lagtest.num(r["a"]) - accel(T, lagtest.num(r["x"]), lagtest.num(r["x'"])))
                        / max(1e-3, abs(accel(T, lagtest.num(r["x"]), lagtest.num(r["x'"])))) for r in rows]
                rel[prec] = lagtest.worst(errs) if len(rows) == 12 else float("inf")
            lagtest.report(rel["single"] < 1e-4 and rel["double"] < 1e-9 and rel["single"] > rel["double"],
                           "x'' of the saved net against an independent float64 evaluation: single %.2g (< 1e-4), "
                           "double %.2g (< 1e-9)" % (rel["single"], rel["double"]))
        else:
            lagtest.report(False, "accelerations against an independent evaluation", "no weights")

        # 4. ensembles in single precision, member by member; --native
        for method in ("rkf45", "rk4"):
            ens = SYSTEMS % {"weights": ', weights = "s32.lagw"'} + (
                "simulate SpringLNN { init x = uniform(-1, 1), x' = uniform(-2, 2); samples 4, seed 5; "
                "time 0 .. 2, every 0.25; method %s, tol 1e-9; output \"ens_%s.csv\" }\n" % (method, method))
            pe, _ = run(tmp, "ens_%s.lag" % method, ens)
            rows = lagtest.read_csv(os.path.join(tmp, "ens_%s.csv" % method)) if pe.returncode == 0 else []
            good = len(rows) == 4 * 9
            for s in range(4):
                mine = [r for r in rows if int(r["traj"]) == s]
                if not mine:
                    good = False
                    break
                one = SYSTEMS % {"weights": ', weights = "s32.lagw"'} + (
                    "simulate SpringLNN { init x = %s, x' = %s; time 0 .. 2, every 0.25; method %s, tol 1e-9; "
                    "output \"one_%s_%d.csv\" }\n" % (repr(mine[0]["x"]), repr(mine[0]["x'"]), method, method, s))
                po, _ = run(tmp, "one_%s_%d.lag" % (method, s), one)
                single = lagtest.read_csv(os.path.join(tmp, "one_%s_%d.csv" % (method, s))) if po.returncode == 0 else []
                good = good and len(single) == len(mine) and all(
                    float(ra[k]) == float(rb[k]) for ra, rb in zip(mine, single) for k in ("x", "x'", "E"))
            lagtest.report(good, "precision single, %s: each of 4 trajectories of an ensemble equals its single run "
                           "bit for bit" % method, pe.stderr)
        pn, _ = run(tmp, "ens_native.lag", ens.replace("ens_rk4.csv", "ens_native.csv"), "--native")
        try:
            same = open(os.path.join(tmp, "ens_native.csv")).read() == open(os.path.join(tmp, "ens_rk4.csv")).read()
        except OSError:
            same = False
        lagtest.report(pn.returncode == 0 and same and "warning" not in pn.stderr,
                       "precision single, --native: the ensemble's bytes are the VM's", pn.stderr)

        # 5. checkpoints record the precision
        ck = SYSTEMS % {"weights": ""} + TRAIN % {"steps": 3000, "prec": "%s", "save": "%s",
                                                  "extra": "\n    checkpoint every 300"}
        run(tmp, "whole.lag", ck % ("single", "whole.lagw"))

        def killed_after_checkpoint(name, text):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            ckpt = os.path.join(tmp, name.replace(".lag", ".lagw.ckpt"))
            proc = subprocess.Popen([LAG, "run", "--quiet", "-o", tmp, path], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            t0 = time.time()
            while not os.path.exists(ckpt) and proc.poll() is None and time.time() - t0 < 120:
                time.sleep(0.002)
            alive = proc.poll() is None
            proc.kill()
            proc.communicate()
            return alive and os.path.exists(ckpt)

        cut_ok = killed_after_checkpoint("cut.lag", ck % ("single", "cut.lagw"))
        pc, jc = run(tmp, "cut.lag", ck % ("single", "cut.lagw"))
        try:
            same = open(os.path.join(tmp, "whole.lagw"), "rb").read() == open(os.path.join(tmp, "cut.lagw"),
                                                                              "rb").read()
        except OSError:
            same = False
        lagtest.report(cut_ok and jc and jc[0].get("resumed_from", 0) > 0 and same,
                       "a single-precision run killed after its checkpoint resumes (from step %s) and saves the "
                       "bytes of an uninterrupted run" % (jc[0].get("resumed_from") if jc else "?"), pc.stderr)
        other_ok = killed_after_checkpoint("other.lag", ck % ("single", "other.lagw"))
        pd, jd = run(tmp, "other.lag", ck % ("double", "other.lagw"))
        lagtest.report(other_ok and pd.returncode == 0 and "checkpoint of a precision single run" in pd.stderr and
                       jd and jd[0].get("resumed_from") == 0 and jd[0].get("precision") == "double",
                       "a single-precision checkpoint met by a double-precision job: warned, started afresh",
                       pd.stderr)
    lagtest.finish()


if __name__ == "__main__":
    main()
