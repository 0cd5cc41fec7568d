#!/usr/bin/env python3
"""tests/mpi_compare.py — compare and infer under `mpirun -n N` give the
bytes one process gives (TAP).

compare shares its starts and the states of its grid among the ranks
(runtime/compare.c: integrate, eval_shared), infer with `samples` its
refits (runtime/infer.c: refits); the items travel back in item order and
every reduction runs over all of them in that order.  Each file runs as
one plain process and under mpirun with 1, 2 and 3 ranks (--oversubscribe:
more ranks than cores), with counts that 2 and 3 do not divide, and its
files are compared byte for byte (the summaries and --json without the
times):

1. compare with 5 drawn starts over a 23 x 19 grid (437 cells, 5 states
   each: the components off the grid are drawn), a model with a net (its
   layers are split on whole chunks of states), a symmetry, a figure;
2. compare without a grid, 7 starts: the symmetry's residual over the
   reference's path;
3. infer with `samples 7` (the refits) and a polynomial density with
   `samples 5`: the estimates, the refits' spread, the forward solves
   counted over every rank, the fit and nodes CSVs;
4. a reference that fails at its 4th start of 7 (rank 1's block under 3
   ranks, rank 0's under 2): exit status 3 and the same message, printed
   once;
5. an output infer cannot write: exit status 4 under every number of
   ranks (rank 0 alone checks; no rank goes on to the refits alone).

Only identity between the numbers of ranks is asserted here: the numbers
themselves are tests/compare.py's and tests/infer.py's.  Skipped when
mpirun is not there ($MPIRUN, default mpirun) or lag was built without
MPI (it says so and exits 2 under a launcher).
"""
import os
import shutil
import tempfile

from lagtest import finish, mpi_launcher, mpi_same, program, report

LAG, SRCDIR = program()
LAG = os.path.abspath(LAG)

DP = """system DP {
    param g = 9.81
    coord t1, t2
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2)
    symmetry swap: t1 <-> t2
}
system NetDP {
    param g = 9.81
    coord t1, t2
    net f = mlp(in = 4, hidden = [16, 16], out = 1)
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2) + 0.01*f(t1, t2, t1', t2')
}
system Bump {
    param g = 9.81
    coord t1, t2
    L = t1'^2 + 0.5*t2'^2 + t1'*t2'*cos(t1 - t2) + 2*g*cos(t1) + g*cos(t2) - 3*exp(-((t1 - 1)^2 + (t2 + 1)^2)/0.08)
}
"""

GRID = DP + """compare DP, NetDP, Bump {
    init t1 = uniform(-1, 1), t2 = uniform(-1, 1), t1' = normal(0, 0.2)
    samples 5, seed 3
    time 0 .. 2, every 0.02
    grid t1 = -2 .. 2 : 23, t2 = -2 .. 2 : 19
    output "grid"
    plot "grid.svg"
}
"""

PATH = """system Central {
    coord x, y
    L = 0.5*(x'^2 + y'^2) + 1/sqrt(x^2 + y^2)
    symmetry rotation: x -> -y, y -> x
}
system Tilted {
    coord x, y
    L = 0.5*(x'^2 + y'^2) + 1/sqrt(x^2 + 1.1*y^2)
}
compare Central, Tilted {
    init x = uniform(0.8, 1.2), y' = 1.1
    samples 7, seed 2
    time 0 .. 5, every 0.05
    output "path"
}
"""

CHAIN = """problem BuriedMass {
    param len = 1.5, g = 9.81
    domain x = 0 .. 1
    field y
    unknown GM = 1, xm = 0.5, depth = 1
    let r = sqrt((x - xm)^2 + (y + depth)^2)
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral((g*y - GM/r)*sqrt(1 + y'^2))
}
problem Density {
    param len = 1.5, g = 9.81
    domain x = 0 .. 1
    field y
    unknown rho = poly(3)
    fix rho(0.5) = 1.325
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral(rho(x)*g*y*sqrt(1 + y'^2))
}
"""

INFER = CHAIN + """infer BuriedMass {
    observe "buried.csv"
    noise 1e-4
    points 300
    samples 7, seed 5
    output "buried_fit.csv"
    plot "buried_fit.svg"
}
infer Density {
    observe "density.csv"
    noise 2e-3
    points 300
    samples 5
    output "density_fit.csv"
}
"""

UNWRITABLE = CHAIN + """infer BuriedMass {
    observe "buried.csv"
    noise 1e-4
    points 300
    samples 4
    output "nodir/fit.csv"
}
"""

FAILING = """system Blow {
    coord x
    L = 0.5*x'^2 + 0.25*x^4
}
system Osc {
    coord x
    L = 0.5*x'^2 - 0.5*x^2
}
compare Blow, Osc {
    init x = uniform(0.1, 3)
    samples 7, seed 2
    time 0 .. 1.2, every 0.05
    output "fail"
}
"""


POINTS = ["compare with a grid", "compare on the path", "infer refits", "a failing reference",
          "an unwritable infer output"]


def main():
    cmd = mpi_launcher(LAG, POINTS)
    if not cmd:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("buried_mass_obs.csv", "uneven_density_obs.csv"):
            shutil.copy(os.path.join(SRCDIR, "examples", "data", name),
                        os.path.join(tmp, "buried.csv" if name.startswith("buried") else "density.csv"))

        ok, why, files, _ = mpi_same(LAG, cmd, tmp, "grid", GRID)
        report(ok and {"grid_traj.csv", "grid_grid.csv", "grid.svg"} <= set(files),
               "compare, 5 starts over a 23 x 19 grid with a net model and a figure: the same files, "
               "summary and --json for 1, 2, 3 ranks as for one process", why)

        ok, why, files, _ = mpi_same(LAG, cmd, tmp, "path", PATH)
        report(ok and "path_traj.csv" in files,
               "compare, 7 starts without a grid (a symmetry over the reference's path): the same for 1, 2, 3 ranks",
               why)

        ok, why, files, _ = mpi_same(LAG, cmd, tmp, "infer", INFER)
        report(ok and {"buried_fit.csv", "buried_fit_nodes.csv", "density_fit.csv"} <= set(files),
               "infer with samples 7 and 5 (refits split over the ranks): the same estimates, refit spread, "
               "solve counts and CSVs for 1, 2, 3 ranks", why)

        ok, why, _, said = mpi_same(LAG, cmd, tmp, "fail", FAILING, rc=3)
        report(ok and len(said) == 1 and "start 4:" in said[0],
               "a reference failing at its 4th start of 7: exit 3 and one message naming it under 1, 2, 3 ranks",
               why + "\n" + "\n".join(said))

        ok, why, _, _ = mpi_same(LAG, cmd, tmp, "unwritable", UNWRITABLE, rc=4)
        report(ok, "an infer output in a missing directory: exit 4 under 1, 2, 3 ranks, none left waiting", why)


main()
finish()
