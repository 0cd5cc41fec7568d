#!/usr/bin/env python3
"""tests/sim_h5.py — simulate output as HDF5 (TAP).

`output "x.h5"` writes one dataset, "simulate", of the rows the CSV would
hold, its column names and the job's settings as attributes.

1. An ensemble of 12 double pendulums over 1000 output times (12 012 rows,
   more than one of the writer's blocks of 4096) to .h5 and to .csv: the
   same numbers, bit for bit (HDF5 keeps the doubles; the CSV's shortest
   digits read back exactly), the same column names.
2. The attributes: system, method, tol, t0, t1, every, samples.
3. A run that fails on the way (a singular mass matrix) keeps the rows
   written before, as the CSV does, and exits 3; a file that cannot be
   created is exit 4 with the path, and leaves no temporary file.

Skipped when lag was built without HDF5 or python3-h5py is missing.
"""
import csv
import os
import subprocess
import tempfile

from lagtest import DOUBLE_PENDULUM, finish, import_h5py, program, report, skip

LAG, SRCDIR = program()

DP = DOUBLE_PENDULUM + """simulate DP {
    init t1 = uniform(-2, 2), t2 = uniform(-2, 2)
    samples 12, seed 4
    time 0 .. 10, every 0.01
    method rk8pd, tol 1e-9
    output "OUT"
}
"""


def run(tmp, name, text):
    path = os.path.join(tmp, name + ".lag")
    with open(path, "w") as f:
        f.write(text)
    return subprocess.run([LAG, "run", "--quiet", "-o", tmp, path], capture_output=True, text=True, timeout=120)


def main():
    h5py = import_h5py()
    if h5py is None:
        skip("HDF5 output", "python3-h5py is not installed")
        finish()
        return
    with tempfile.TemporaryDirectory() as tmp:
        p = run(tmp, "probe", DP.replace("OUT", "probe.h5").replace("samples 12", "samples 1").replace("10, every", "0.1, every"))
        if p.returncode != 0 and "built without HDF5" in p.stderr:
            skip("HDF5 output", "lag was built without HDF5")
            finish()
            return
        ph = run(tmp, "h5", DP.replace("OUT", "dp.h5"))
        pc = run(tmp, "csv", DP.replace("OUT", "dp.csv"))
        good = ph.returncode == 0 and pc.returncode == 0
        rows, cols, attrs = [], [], {}
        if good:
            with open(os.path.join(tmp, "dp.csv"), newline="") as f:
                r = csv.reader(f)
                cols = next(r)
                rows = [[float(x) for x in line] for line in r]
            with h5py.File(os.path.join(tmp, "dp.h5"), "r") as f:
                d = f["simulate"]
                data = d[:]
                attrs = {k: d.attrs[k] for k in d.attrs}
            names = [str(c) for c in attrs.get("columns", [])]
            good = (len(rows) == 12 * 1001 and data.shape == (len(rows), len(cols)) and names == cols
                    and all(float(data[i][j]) == rows[i][j] for i in range(len(rows)) for j in range(len(cols))))
        report(good, "an ensemble of 12 x 1001 rows: .h5 holds the CSV's numbers bit for bit and its columns (%s)"
               % cols, ph.stderr + pc.stderr)
        want = {"system": "DP", "method": "rk8pd", "tol": 1e-9, "t0": 0.0, "t1": 10.0, "every": 0.01, "samples": 12.0}
        got = {k: (attrs[k].decode() if isinstance(attrs.get(k), bytes) else attrs.get(k)) for k in want}
        report(got == want, "the dataset's attributes hold the job's settings (%s)" % got)

        sing = """system S {
    coord x
    L = 0.5*x^2*x'^2 - 0.5*(x - 3)^2
}
simulate S { init x = 3, x' = -1.5; time 0 .. 3, every 0.01; tol 1e-9; output "OUT" }
"""
        ph = run(tmp, "fail_h5", sing.replace("OUT", "fail.h5"))
        pc = run(tmp, "fail_csv", sing.replace("OUT", "fail.csv"))
        good = ph.returncode == 3 and pc.returncode == 3
        if good:
            with open(os.path.join(tmp, "fail.csv"), newline="") as f:
                ncsv = sum(1 for _ in f) - 1
            with h5py.File(os.path.join(tmp, "fail.h5"), "r") as f:
                nh5 = f["simulate"].shape[0]
            good = 0 < nh5 == ncsv < 301
        report(good, "a run that fails keeps the rows written before in .h5 as in .csv (exit 3)", ph.stderr + pc.stderr)
        p = run(tmp, "nodir", DP.replace("OUT", "no/such/dir/x.h5"))
        left = [n for n in os.listdir(tmp) if ".tmp." in n]
        report(p.returncode == 4 and "x.h5" in p.stderr and not left,
               "an .h5 file that cannot be created: exit 4 naming it, no temporary file left", p.stderr)
    finish()


if __name__ == "__main__":
    main()
