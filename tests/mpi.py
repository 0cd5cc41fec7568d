#!/usr/bin/env python3
"""tests/mpi.py — `mpirun -n N lag run FILE` gives the bytes one process gives.

Every job that splits its work over MPI ranks (runtime/par.h) is run as
one plain process and under mpirun with 1, 2 and 3 ranks (more ranks than
this machine's 2 cores: --oversubscribe), with sizes that do not divide
evenly, and the files it writes are compared byte for byte:

1. simulate ensembles: the batched rk8pd lanes with a record column, and
   the per-trajectory GSL drivers (rk4, and msbdf with its Jacobian);
2. trajectories that fail in the blocks of ranks 1 and 2: exit status 3
   from mpirun, each failure named once, the summary printed once, the
   rows of the others the same bytes;
3. train: data-parallel steps (7 chunks of a batch of 200 over the ranks,
   the gradient added by one fixed tree), the weights after 40 steps the
   same bits for 1, 2, 3 and 4 ranks; a fixed data set with validation
   (2 chunks of batch, 2 of validation);
4. a training run under 2 ranks killed after its checkpoint and resumed
   under 3 saves the bytes of an uninterrupted run;
5. jobs that run on every rank alike (the variational integrator, solve)
   write their files once and the same; `lag el` prints once; bad input is
   reported once with exit status 1; a rank that alone runs out of memory
   has its message shown, once, under its label.

Skipped when mpirun is not there ($MPIRUN, default mpirun) or lag was
built without MPI (it says so and exits 2 under a launcher).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lagtest import DOUBLE_PENDULUM, finish, import_h5py, mpi_clear_segments, mpi_launcher, mpi_run, mpi_same, program, report, skip  # noqa: E402

LAG, SRCDIR = program()
LAG = os.path.abspath(LAG)
POINTS = ["simulate rk8pd ensemble", "simulate to HDF5", "simulate rk4 and msbdf ensembles", "failures in later blocks",
          "train fresh data", "train fixed data with validation", "train resumed under other ranks",
          "replicated jobs", "lag el once", "a rank out of memory", "a rank aborted", "bad input once"]


ENSEMBLE = DOUBLE_PENDULUM + """
simulate DP {
    init t1 = uniform(-2, 2), t2 = uniform(-2, 2), t1' = normal(0, 1)
    samples 7, seed 11
    time 0 .. 4, every 0.25
    method %s, tol 1e-9
    record a1 = t1'', swing = t1 - t2
    output "ens.csv"
    plot "ens.svg"
}
"""

# from x = 3 at rest in the well (x - 3)^2/2, a speed |x'| > 1 reaches x = 0,
# where the mass matrix x^2 is singular (tests/sim_batch.py); with seed 9
# trajectories 0, 5 and 6 of 7 fail, so ranks 1 and 2 hold failures
SINGULAR = """system S {
    coord x
    L = 0.5*x^2*x'^2 - 0.5*(x - 3)^2
}
simulate S { init x = 3, x' = uniform(-1.6, 1.6); samples 7, seed 9; time 0 .. 3, every 0.1; tol 1e-9;
             method %s; output "fail.csv" }
"""

LNN = DOUBLE_PENDULUM + """
system LNN {
    coord t1, t2
    net f = mlp(in = 4, hidden = [24, 24], out = 1)
    L = f(t1, t2, t1', t2') + 0.5*(t1'^2 + t2'^2)
}
"""

FRESH = LNN + """
train LNN {
    data from DP {
        init t1 = uniform(-pi, pi), t2 = uniform(-pi, pi), t1' = uniform(-5, 5), t2' = uniform(-5, 5)
    }
    steps %(steps)d, batch 200, lr 3e-3, seed 4%(extra)s
    save "w.lagw"
}
"""

# a spring x'' = -4 x learned from a fixed set of 150 states (written here)
FIXED = """system Spring {
    coord x
    net f = mlp(in = 2, hidden = [16], out = 1)
    L = f(x, x') + 0.5*x'^2
}
train Spring {
    data "%(tmp)s/spring.csv"
    steps 30, batch 40, lr 3e-3, validate 0.3
    save "w.lagw"
}
"""


def spring_data(path):
    with open(path, "w") as f:
        f.write("x,x',x''\n")
        for i in range(150):
            x, v = 1.7 * ((i * 37) % 150) / 150 - 0.85, 2.3 * ((i * 61) % 150) / 150 - 1.15
            f.write("%r,%r,%r\n" % (x, v, -4 * x))


def main():
    cmd = mpi_launcher(LAG, POINTS)
    if not cmd:
        finish()
        return
    tmp = tempfile.mkdtemp(prefix="lag_mpi_")
    try:
        ok, why, _, _ = mpi_same(LAG, cmd, tmp, "rk8pd", ENSEMBLE % "rk8pd")
        report(ok, "mpi-1 simulate: an rk8pd ensemble of 7 with records writes the same CSV and figure bytes "
               "and --json as one process under 1, 2 and 3 ranks (each rank formats its block's rows; the "
               "figure's first 4 trajectories come from 2 blocks under 3 ranks)", why)

        # HDF5: the rows travel as numbers; the files are compared by content
        # (HDF5 records when a dataset was made)
        h5py = import_h5py()
        if h5py is None:
            skip("mpi-1.1 simulate to HDF5 under 2 ranks", "python3-h5py is not installed")
        else:
            text = (ENSEMBLE % "rk8pd").replace('"ens.csv"', '"ens.h5"').replace('    plot "ens.svg"\n', "")
            tables, why = [], ""
            for n in (0, 2, 3):
                p, _, _, _ = mpi_run(LAG, cmd, n, tmp, "h5", text)
                try:
                    with h5py.File(os.path.join(tmp, "h5.%d" % n, "ens.h5"), "r") as f:
                        d = f["simulate"]
                        tables.append((d[()].tobytes(), list(d.attrs["columns"]) if "columns" in d.attrs else None))
                except (OSError, KeyError) as ex:
                    why += "%d ranks: %r %s\n" % (n, ex, p.stderr)
            report(not why and len(tables) == 3 and tables[0] == tables[1] == tables[2] and tables[0][0],
                   "mpi-1.1 simulate to HDF5: the table's values and columns under 2 and 3 ranks are one "
                   "process's, bit for bit", why)

        ok1, why1, _, _ = mpi_same(LAG, cmd, tmp, "rk4", ENSEMBLE % "rk4")
        ok2, why2, _, _ = mpi_same(LAG, cmd, tmp, "msbdf", ENSEMBLE % "msbdf")
        report(ok1 and ok2, "mpi-2 simulate: rk4 and msbdf ensembles (a GSL driver per trajectory) write the "
               "same bytes under 1, 2 and 3 ranks", why1 + why2)

        good, whys = True, []
        for method in ("rk8pd", "rk4"):
            ok, why, _, _ = mpi_same(LAG, cmd, tmp, "fail_" + method, SINGULAR % method, rc=3)
            whys.append(why)
            good = good and ok
            for n in (2, 3):
                p, _, _, _ = mpi_run(LAG, cmd, n, tmp, "fail_%s_msg" % method, SINGULAR % method)
                err = p.stderr
                once = err.count("3 of 7 trajectories failed") == 1
                named = all(err.count("trajectory %d failed at t = " % s) == 1 for s in (0, 5, 6))
                if not (p.returncode == 3 and once and named):
                    good = False
                    whys.append("%s, %d ranks: exit %d, summary once %s, each failure once %s\n%s"
                                % (method, n, p.returncode, once, named, err))
        report(good, "mpi-3 simulate: trajectories 0, 5 and 6 of 7 fail (in the blocks of ranks 0, 1 and 2): "
               "exit 3 under every number of ranks, each failure and the summary printed once, the others' rows "
               "the same bytes", "\n".join(whys))

        ok, why, _, _ = mpi_same(LAG, cmd, tmp, "fresh", FRESH % {"steps": 40, "extra": ""}, ranks=(1, 2, 3, 4))
        report(ok, "mpi-4 train: 40 steps on fresh data, a batch of 200 in 7 chunks split over 1, 2, 3 and 4 "
               "ranks: the same weights bytes and losses as one process", why)

        spring_data(os.path.join(tmp, "spring.csv"))
        ok, why, _, _ = mpi_same(LAG, cmd, tmp, "fixed", FIXED % {"tmp": tmp})
        report(ok, "mpi-5 train: a fixed data set with a validation split (chunks of validation too): the same "
               "weights, losses and validation error under 1, 2 and 3 ranks", why)

        # a run under 2 ranks killed after its first checkpoint, resumed under 3
        text = FRESH % {"steps": 3000, "extra": "\n    checkpoint every 100"}
        whole, _, _, _ = mpi_run(LAG, cmd, 0, tmp, "whole", text)
        wout = os.path.join(tmp, "whole.0")
        path = os.path.join(tmp, "cut.lag")
        with open(path, "w") as f:
            f.write(text)
        cout = os.path.join(tmp, "cut.out")
        os.makedirs(cout, exist_ok=True)
        ckpt = os.path.join(cout, "w.lagw.ckpt")
        proc = subprocess.Popen(cmd + ["-n", "2", LAG, "run", path, "--quiet", "-o", cout],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        t0 = time.time()
        while not os.path.exists(ckpt) and proc.poll() is None and time.time() - t0 < 300:
            time.sleep(0.002)
        killed = proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        mpi_clear_segments()  # the killed job's
        resumed = subprocess.run(cmd + ["-n", "3", LAG, "run", path, "--json", "-o", cout], capture_output=True,
                                 text=True, timeout=600)
        try:
            start = json.loads(resumed.stdout.splitlines()[0]).get("resumed_from", 0)
            same = open(os.path.join(wout, "w.lagw"), "rb").read() == open(os.path.join(cout, "w.lagw"), "rb").read()
        except (OSError, ValueError, IndexError):
            start, same = 0, False
        report(killed and whole.returncode == 0 and resumed.returncode == 0 and start > 0 and same
               and not os.path.exists(ckpt),
               "mpi-6 train: a run under 2 ranks killed after its checkpoint resumes under 3 (from step %d) and "
               "saves the bytes of an uninterrupted single process" % start,
               "killed=%s resumed_from=%s same=%s\n%s" % (killed, start, same, resumed.stderr))

        repl = DOUBLE_PENDULUM + """
simulate DP {
    init t1 = uniform(-1, 1), t2 = 0.5
    samples 3, seed 1
    time 0 .. 2, every 0.1
    method variational
    output "var.csv"
}
problem Chain {
    domain x = 0 .. 1
    field y
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = 1.5
    minimize integral(y*sqrt(1 + y'^2))
}
solve Chain { points 81; guess y = -0.5*x*(1 - x); output "chain.csv" }
"""
        ok, why, _, _ = mpi_same(LAG, cmd, tmp, "replicated", repl, ranks=(2, 3))
        report(ok, "mpi-7 jobs that run on every rank alike (the variational integrator, solve) write each file "
               "once, the bytes of one process", why)

        path = os.path.join(SRCDIR, "examples", "double_pendulum.lag")
        p1 = subprocess.run([LAG, "el", path], capture_output=True, text=True)
        p2 = subprocess.run(cmd + ["-n", "2", LAG, "el", path], capture_output=True, text=True, timeout=120)
        report(p1.returncode == 0 and p2.returncode == 0 and p1.stdout == p2.stdout and p1.stdout,
               "mpi-8 lag el under 2 ranks prints the equations once, as one process does",
               p2.stdout[:2000] + p2.stderr)

        # rank 1 alone runs out of memory (its 300th allocation fails): its
        # message, kept in its buffer, is shown once under its label
        wrap = os.path.join(tmp, "rank1_oom.sh")
        with open(wrap, "w") as f:
            f.write('#!/bin/sh\n[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export LAG_FAIL_ALLOC=300\nexec "$@"\n')
        os.chmod(wrap, 0o755)
        path = os.path.join(tmp, "oom.lag")
        with open(path, "w") as f:
            f.write(ENSEMBLE % "rk8pd")
        p = subprocess.run(cmd + ["-n", "2", wrap, LAG, "run", path, "--quiet", "-o", tmp], capture_output=True,
                           text=True, timeout=300)
        said = p.stderr.split("lag: rank 1 of 2 said:\n")
        report(p.returncode == 4 and len(said) == 2 and said[1].startswith("lag: error: out of memory")
               and p.stderr.count("out of memory") == 1,
               "mpi-10 rank 1 alone runs out of memory: exit 4, its message shown once under 'lag: rank 1 of 2 "
               "said:'", p.stderr)

        # rank 1 dies of SIGABRT in the middle of a run (sent once its
        # stderr is the kept buffer, a deleted temporary file): what it
        # said (a warning every rank makes) and the signal are shown
        wrap = os.path.join(tmp, "rank1_abort.sh")
        with open(wrap, "w") as f:
            f.write('#!/bin/sh\n[ "$OMPI_COMM_WORLD_RANK" = 1 ] || exec "$@"\n"$@" & pid=$!\n'
                    'i=0; while [ $i -lt 3000 ] && ! readlink /proc/$pid/fd/2 | grep -q deleted; do '
                    'sleep 0.01; i=$((i+1)); done\nsleep 0.2; kill -ABRT $pid; wait $pid\n')
        os.chmod(wrap, 0o755)
        path = os.path.join(tmp, "abort.lag")
        with open(path, "w") as f:
            f.write(DOUBLE_PENDULUM.replace("L = ", "L = 0.001*abs(t1) + ") +
                    "simulate DP { init t1 = uniform(-1, 1); samples 4; time 0 .. 1e6; tol 1e-12 }\n")
        p = subprocess.run(cmd + ["-n", "2", wrap, LAG, "run", path, "--quiet", "-o", tmp], capture_output=True,
                           text=True, timeout=300)
        said = p.stderr.split("lag: rank 1 of 2 died of SIGABRT after saying:\n")
        report(p.returncode != 0 and len(said) == 2 and said[1].startswith("%s:" % path)
               and "'abs' is not smooth" in said[1],
               "mpi-11 rank 1 dies of SIGABRT mid-run: its kept messages are shown under 'lag: rank 1 of 2 died of "
               "SIGABRT after saying:'", p.stderr)

        bad = "system S {\n    coord x\n    L = x'^2 +\n}\nsimulate S { init x = 1; time 0 .. 1 }\n"
        p1, _, _, _ = mpi_run(LAG, cmd, 0, tmp, "bad", bad)
        p2, _, _, _ = mpi_run(LAG, cmd, 2, tmp, "bad", bad)
        first = p1.stderr.splitlines()[0] if p1.stderr else "?"
        report(p1.returncode == 1 and p2.returncode == 1 and p2.stderr.count(first) == 1
               and "rank 1" not in p2.stderr,
               "mpi-9 a syntax error under 2 ranks: exit 1, the located message printed once", p2.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


main()
