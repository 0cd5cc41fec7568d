#!/usr/bin/env python3
"""tests/el_accel.py — closed-form accelerations of `lag el --lag` (TAP).

For each model in tests/el/*.lag, at random states and parameter values:
- every `accel_<q>` line is printed (closed forms exist for these: n <= 3,
  or a constant mass matrix, symbolic or numeric, up to n = 4);
- M a = f holds for the printed M, f and accelerations a (relative 1e-11);
- for systems that conserve energy, the printed E is constant along the
  motion: dE/dt, by a central difference along (q', a), vanishes.

Environment: LAG (the program), srcdir (the source tree).
"""
import glob
import math
import os
import random
import re
import subprocess
import sys

import lagtest

FUNCS = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
         "atan": math.atan, "atan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh,
         "tanh": math.tanh, "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs,
         "min": min, "max": max, "sign": lambda x: (x > 0) - (x < 0)}


def py(expr):
    """A .lag expression as Python: primes become _d, ^ becomes **."""
    return re.sub(r"([A-Za-z_][A-Za-z_0-9]*)('+)", lambda m: m.group(1) + "_d" * len(m.group(2)),
                  expr).replace("^", "**")


def parse(text):
    lines = []
    for line in text.splitlines():
        if line.startswith("#") or " = " not in line:
            continue
        name, expr = line.split(" = ", 1)
        if not re.match(r"(p_|M_\d|f_|accel_|conserved_|E$)", name) and \
                re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", expr.strip()):
            continue  # a parameter's default (lag el --lag prints them first): random values below
        lines.append((name, compile(py(expr), name, "eval")))
    return lines


def evaluate(lines, env):
    vals = dict(env)
    for name, code in lines:
        vals[name] = eval(code, {"__builtins__": {}}, {**FUNCS, **vals})
    return vals


def main():
    lag, srcdir = lagtest.program()
    files = sorted(glob.glob(os.path.join(srcdir, "tests", "el", "*.lag")))
    print("1..%d" % len(files))
    rng = random.Random(4321)
    for n, path in enumerate(files, 1):
        out = subprocess.run([lag, "el", "--lag", path], capture_output=True, text=True)
        why = []
        if out.returncode != 0:
            why.append("exit %d: %s" % (out.returncode, out.stderr.strip()))
        lines = parse(out.stdout)
        names = [nm for nm, _ in lines]
        coords = [nm[2:] for nm in names if nm.startswith("p_")]
        k = len(coords)
        for q in coords:
            if "accel_" + q not in names:
                why.append("no accel_%s printed" % q)
        # every other identifier is a parameter or t: give it a value
        idents = set()
        for line in out.stdout.splitlines():
            if " = " in line and not line.startswith("#"):
                idents |= set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*'*", line.split(" = ", 1)[1]))
        conserved = "conserved_E" in names
        worst_res = worst_dE = 0.0
        for trial in range(10):
            if why:
                break
            env = {}
            for ident in idents:
                base = ident.rstrip("'")
                key = py(ident)
                if ident.endswith("'"):
                    env[key] = rng.uniform(-1.5, 1.5)
                elif base in coords:
                    env[key] = rng.uniform(-1.5, 1.5)
                elif ident not in FUNCS and ident not in names:
                    env[key] = rng.uniform(0.5, 1.5) if base != "c" and base != "d" else rng.uniform(0.05, 0.3)
            vals = evaluate(lines, env)
            M = [[vals["M_%d_%d" % (i + 1, j + 1)] for j in range(k)] for i in range(k)]
            f = [vals["f_" + q] for q in coords]
            a = [vals["accel_" + q] for q in coords]
            scale = lagtest.worst((abs(x) for x in f), 1.0)
            res = lagtest.worst(lagtest.err(sum(M[i][j] * a[j] for j in range(k)), f[i]) for i in range(k)) / scale
            if not lagtest.worst(abs(x) for row in M for x in row) > 0:
                res = math.inf  # M = 0 (or a NaN) would make M a = f hold for f = 0
            worst_res = lagtest.worst([res], worst_res)
            if not res <= 1e-11:
                why.append("M a - f = %.3g (relative) at %s" % (res, env))
            if conserved:
                h = 1e-5
                def energy(sign):
                    e = dict(env)
                    for q, acc in zip(coords, a):
                        e[q] = env[q] + sign * h * env[q + "_d"]
                        e[q + "_d"] = env[q + "_d"] + sign * h * acc
                    return evaluate(lines, e)["E"]
                dE = lagtest.err(energy(1), energy(-1)) / (2 * h)
                Escale = lagtest.worst([abs(vals["E"])], 1.0)
                worst_dE = lagtest.worst([dE / Escale], worst_dE)
                if not dE <= 1e-6 * Escale:
                    why.append("dE/dt = %.3g along the motion at %s" % (dE, env))
        name = os.path.basename(path)
        if why:
            print("not ok %d - %s" % (n, name))
            for w in why[:5]:
                print("# " + w)
        else:
            print("ok %d - %s: %d accelerations, M a = f to %.1e%s" % (
                n, name, k, worst_res,
                ", E constant along the motion (dE/dt %.1e)" % worst_dE if conserved else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
