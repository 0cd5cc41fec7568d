#!/usr/bin/env python3
"""tests/sim_extern.py — extern C functions through libffi (TAP).

The Hénon–Heiles model of examples/extern_potential: its potential V from a
C library with a C gradient, W the same function without one (derivatives
by central differences), and the same potential written in .lag.  The
trajectories must agree: with the gradient to 1e-11 (the same arithmetic),
with differences to 1e-6; the energy (computed by calling V) is conserved
to 1e-9.  A missing library is an error at check time (exit 1).

Environment: LAG (the program), srcdir, and LIBPOTENTIAL (the built library;
default examples/extern_potential/libpotential.so of the build tree).
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

import lagtest


def main():
    lag = os.environ.get("LAG", "./lag")
    srcdir = os.path.abspath(os.environ.get("srcdir", "."))
    lib = os.environ.get("LIBPOTENTIAL", "examples/extern_potential/libpotential.so")
    if not os.access(lag, os.X_OK) or not os.path.exists(lib):
        print("Bail out! %s or %s not built" % (lag, lib))
        return 1
    print("1..3")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(srcdir, "examples", "extern_potential", "henon_heiles.lag"), tmp)
        shutil.copy(lib, os.path.join(tmp, "libpotential.so"))
        model = os.path.join(tmp, "henon_heiles.lag")
        out = subprocess.run([lag, "run", "--json", "-o", tmp, model], capture_output=True, text=True)
        why = []
        if out.returncode != 0:
            why.append("exit %d: %s" % (out.returncode, out.stderr.strip()))
            rows = {}
        else:
            rows = {k: list(csv.reader(open(os.path.join(tmp, "hh_%s.csv" % k))))[1:] for k in ("extern", "fd", "lag")}

        def diff(a, b):
            if len(rows[a]) != len(rows[b]) or len(rows[a]) < 2:
                return float("inf")
            return lagtest.worst(lagtest.err(lagtest.num(x), lagtest.num(y))
                                 for ra, rb in zip(rows[a], rows[b]) for x, y in zip(ra[1:5], rb[1:5]))

        if rows:
            d = diff("extern", "lag")
            if not d <= 1e-11:
                why.append("extern with grad vs .lag potential: %.3g" % d)
            drift = json.loads(out.stdout.splitlines()[0])["energy"]["max_rel_drift"]
            if not (isinstance(drift, (int, float)) and lagtest.close(drift, 0, 1e-9)):
                why.append("energy drift %.3g" % drift)
        print(("ok" if not why else "not ok") + " 1 - a C potential with its C gradient: the same motion as in .lag, energy conserved")
        for w in why:
            print("# " + w)
        why = []
        if rows:
            d = diff("fd", "lag")
            if not d <= 1e-6:
                why.append("differences vs .lag potential: %.3g" % d)
            if "central differences" not in out.stderr:
                why.append("no warning about central differences: " + out.stderr.strip())
        else:
            why.append("no run")
        print(("ok" if not why else "not ok") + " 2 - without grad: derivatives by central differences, with a warning")
        for w in why:
            print("# " + w)
        os.remove(os.path.join(tmp, "libpotential.so"))
        chk = subprocess.run([lag, "check", model], capture_output=True, text=True)
        ok = chk.returncode == 1 and "cannot load library" in chk.stderr and "henon_heiles.lag:" in chk.stderr
        print(("ok" if ok else "not ok") + " 3 - a missing library is a located error at check time (exit %d)" % chk.returncode)
        if not ok:
            print("# " + chk.stderr.strip().replace("\n", "\n# "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
