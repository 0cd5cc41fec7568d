#!/usr/bin/env python3
"""tests/sim_native.py — `lag run --native` against the VM (TAP).

Every model of tests/sim/ that runs cleanly is run twice, interpreted and
compiled (C emitted, built with the system compiler, loaded with dlopen);
the CSV files must agree to 1e-14 relative (the compiled code performs the
VM's operations in the VM's order, so they are in fact identical).  Without
a compiler (CC pointing nowhere) --native warns and falls back to the VM.

Environment: LAG (the program), srcdir (the source tree).
"""
import glob
import os
import subprocess
import sys
import tempfile

import lagtest


def run(lag, path, outdir, native, env):
    args = [lag, "run", "-o", outdir] + (["--native"] if native else []) + [path]
    return subprocess.run(args, capture_output=True, text=True, env=env)


def compare(a, b):
    """Largest relative difference between two CSV files (inf if shapes differ)."""
    la, lb = open(a).read().splitlines(), open(b).read().splitlines()
    if len(la) != len(lb) or la[0] != lb[0]:
        return float("inf")
    worst = 0.0
    for ra, rb in zip(la[1:], lb[1:]):
        fa, fb = ra.split(","), rb.split(","),
        if len(fa) != len(fb):
            return float("inf")
        for x, y in zip(fa, fb):
            x, y = lagtest.num(x), lagtest.num(y)  # a NaN in either file fails
            if x != y:
                worst = lagtest.worst([abs(x - y) / max(abs(x), abs(y), 1e-300)], worst)
    return worst


def main():
    lag, srcdir = lagtest.program()
    models = [m for m in sorted(glob.glob(os.path.join(srcdir, "tests", "sim", "*.lag")))
              if not m.endswith("singular.lag")]
    print("1..%d" % (len(models) + 1))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LAG_CACHE=os.path.join(tmp, "cache"))
        for n, model in enumerate(models, 1):
            name = os.path.basename(model)
            vm_dir, nat_dir = os.path.join(tmp, "vm", name), os.path.join(tmp, "nat", name)
            a = run(lag, model, vm_dir, False, env)
            b = run(lag, model, nat_dir, True, env)
            why = []
            if a.returncode != 0 or b.returncode != 0:
                why.append("exit %d / %d: %s %s" % (a.returncode, b.returncode, a.stderr.strip(), b.stderr.strip()))
            if "warning" in b.stderr:
                why.append("--native fell back: " + b.stderr.strip())
            worst = 0.0
            for f in sorted(glob.glob(os.path.join(vm_dir, "*.csv"))):
                g = os.path.join(nat_dir, os.path.basename(f))
                if not os.path.exists(g):
                    why.append("no %s with --native" % os.path.basename(f))
                    continue
                try:
                    worst = lagtest.worst([compare(f, g)], worst)
                except ValueError as exc:
                    why.append("%s: %s" % (os.path.basename(f), exc))
                    worst = float("inf")
            if not worst <= 1e-14:
                why.append("largest relative difference %.3g" % worst)
            print(("ok" if not why else "not ok") + " %d - %s: --native agrees with the VM (largest relative difference %.1g)"
                  % (n, name, worst))
            for w in why[:3]:
                print("# " + w)
        # no compiler: a warning, then the VM
        env2 = dict(env, CC="/nonexistent/cc", LAG_CACHE=os.path.join(tmp, "cache2"))
        model = os.path.join(srcdir, "tests", "sim", "harmonic.lag")
        c = run(lag, model, os.path.join(tmp, "fallback"), True, env2)
        ok = c.returncode == 0 and "warning: --native" in c.stderr and "interpreting instead" in c.stderr
        print(("ok" if ok else "not ok") + " %d - without a compiler --native warns and the VM runs (exit %d)"
              % (len(models) + 1, c.returncode))
        if not ok:
            print("# " + c.stderr.strip().replace("\n", "\n# "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
