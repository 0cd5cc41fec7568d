"""tests/lagtest.py — what the Python tests share.

program(): the program under test ($LAG, default ./lag) and the source tree
($srcdir, default .), or the TAP line "Bail out!" and exit status 1 when the
program is not built.

Numbers: a NaN compares false with everything, so `max(worst, e)` and
`e > limit` let a NaN result pass.  Every numeric check goes through
these instead:
  num(text)            a CSV or JSON value as a float; NotFinite for nan,
                       inf (and ValueError for text that is not a number)
  err(got, want)       |got - want|, or inf when either is not finite
  worst(errors)        the largest error, or inf as soon as one is not
                       finite (so `worst(...) <= tol` fails and
                       `worst(...) > tol` holds)
  close(got, want, tol, rel=0)
                       |got - want| <= tol + rel*|want|, false for any
                       non-finite value
  pendulum_quarter_period(A, g, l)
                       a pendulum's exact quarter period at amplitude A
                       (the complete elliptic integral by the AGM)
  read_csv(path)       the rows of a CSV file as dicts of floats (num)

Files and runs:
  lagw(tensors)        the bytes of a .lagw weights file (docs/runtime.md's
                       layout, written independently of lag) from
                       (name, rows, cols, data) tuples
  run_json(lag, tmp, name, text, *args)
                       write text to tmp/name, `lag run --json --quiet
                       ARGS -o tmp` it; (the CompletedProcess, the JSON objects)
  run_lag(lag, tmp, name, text, files={})
                       write text to tmp/NAME.lag and each of files (name:
                       content) into tmp, `lag run --quiet -o tmp` it: the
                       CompletedProcess (for the located errors of bad input)
  sim_rows, same_rows  a simulate job's rows; the largest difference of two runs'
  DOUBLE_PENDULUM      the double pendulum expanded by hand (system DP)

import_h5py()         the h5py module, or None (Debian's python3-h5py, whatever python3 runs)

Under mpirun (tests/mpi.py, tests/mpi_compare.py):
  mpi_launcher(lag, points)
                       the mpirun command line; or None after skipping each
                       of points (no mpirun, $MPIRUN, or lag built without
                       MPI) or failing each (lag does not run under it)
  mpi_run(lag, cmd, ranks, tmp, name, text, *args)
                       tmp/NAME.lag run plainly (ranks 0) or on that many
                       ranks, outputs in tmp/NAME.RANKS: (the process, its
                       files {name: bytes, or a summary's JSON}, its --json
                       lines, lag's own lines on stderr), all without times
  mpi_same(lag, cmd, tmp, name, text, ranks=(1, 2, 3), rc=0, *args)
                       plainly, then on each number of ranks: (ok, why, the
                       plain run's files, its messages)
  mpi_clear_segments()  removes the shared-memory segments left by jobs
                       (kept per test in a directory of its own, not
                       /dev/shm: a killed job's would meet a later one's)

TAP: report(ok, what, why, todo) each point, skip(what, reason) one that
cannot run here, finish() the plan and the points.
"""
import atexit
import csv
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile


class NotFinite(ValueError):
    """A value that must be a finite number is not."""


def program():
    lag = os.environ.get("LAG", "./lag")
    srcdir = os.path.abspath(os.environ.get("srcdir", "."))
    if not os.access(lag, os.X_OK):
        print("Bail out! %s not built" % lag)
        sys.exit(1)
    return lag, srcdir


# The double pendulum in its generalised coordinates (absolute angles from
# the downward vertical), expanded by hand: system DP, unit masses and rods.
DOUBLE_PENDULUM = """system DP {
    param m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81
    coord t1, t2
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
      + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
"""


def num(text):
    """float(text), refusing nan and infinities (float() accepts 'nan')."""
    v = float(text)
    if not math.isfinite(v):
        raise NotFinite("%r is not a finite number" % (text,))
    return v


def err(got, want):
    """|got - want|; inf when either is not finite (NaN included)."""
    if not (math.isfinite(got) and math.isfinite(want)):
        return math.inf
    return abs(got - want)


def worst(errors, start=0.0):
    """The largest of errors (and start); inf as soon as one is not finite."""
    w = start
    for e in errors:
        if not math.isfinite(e):
            return math.inf
        if e > w:
            w = e
    return w


def close(got, want, tol, rel=0.0):
    """|got - want| <= tol + rel*|want|, false when either is not finite."""
    return err(got, want) <= tol + rel * abs(want)


def pendulum_quarter_period(amplitude, g, l):
    """A pendulum's quarter period at amplitude A, exactly: K(k) sqrt(l/g),
    k = sin(A/2), K(k) = pi / (2 agm(1, sqrt(1 - k^2))) (the arithmetic-
    geometric mean), not the small-angle pi/2 sqrt(l/g)."""
    a, b = 1.0, math.sqrt(1 - math.sin(amplitude / 2) ** 2)
    while abs(a - b) > 1e-16 * a:
        a, b = (a + b) / 2, math.sqrt(a * b)
    return math.pi / (2 * a) * math.sqrt(l / g)


def read_csv(path):
    """The data rows of a CSV file with a header, as dicts of finite floats."""
    with open(path, newline="") as f:
        return [{k: num(v) for k, v in row.items()} for row in csv.DictReader(f)]


def at_points(ys, h, xs):
    """Node values ys (nodes 0, h, 2h, ...) read at the points xs linearly
    between the nodes, as the variational engine reads a field."""
    out = []
    for x in xs:
        k = min(int(x / h), len(ys) - 2)
        s = x / h - k
        out.append((1 - s) * ys[k] + s * ys[k + 1])
    return out


def lagw(tensors):
    """The .lagw layout of docs/runtime.md, written independently of lag."""
    b = b"LAGW\r\n\x1a\n" + struct.pack("<II", 1, len(tensors))
    for name, rows, cols, data in tensors:
        b += struct.pack("<H", len(name)) + name.encode() + struct.pack("<II", rows, cols)
        b += struct.pack("<%dd" % len(data), *data)
    h = 1469598103934665603
    for c in b:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return b + struct.pack("<Q", h)


def read_lagw(path):
    """(version, bits, {name: (rows, cols, values)}) of a .lagw file, read
    independently of lag (docs/runtime.md; the checksum checked)."""
    b = open(path, "rb").read()
    assert b[:8] == b"LAGW\r\n\x1a\n", "magic"
    h = 1469598103934665603
    for c in b[:-8]:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    assert struct.unpack("<Q", b[-8:])[0] == h, "checksum"
    version, count = struct.unpack("<II", b[8:16])
    at, bits = 16, 64
    if version == 2:
        (bits,) = struct.unpack("<I", b[16:20])
        at = 20
    out = {}
    for _ in range(count):
        (nl,) = struct.unpack("<H", b[at:at + 2])
        name = b[at + 2:at + 2 + nl].decode()
        rows, cols = struct.unpack("<II", b[at + 2 + nl:at + 10 + nl])
        at += 10 + nl
        out[name] = (rows, cols, struct.unpack("<%dd" % (rows * cols), b[at:at + 8 * rows * cols]))
        at += 8 * rows * cols
    return version, bits, out


def run_json(lag, tmp, name, text, *args, timeout=300):
    """Write text to tmp/name and run it with --json --quiet, outputs in tmp."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([lag, "run", "--json", "--quiet", *args, "-o", tmp, path], capture_output=True, text=True,
                       timeout=timeout)
    try:
        js = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    except ValueError:
        js = []
    return p, js

def sim_rows(lag, tmp, name, text, job):
    """Run text + job (OUT in job stands for NAME.csv) from tmp/NAME.lag; the
    CSV's rows, or None and the stderr."""
    p, _ = run_json(lag, tmp, name + ".lag", text + job.replace("OUT", name + ".csv"))
    if p.returncode != 0:
        return None, p.stderr
    return read_csv(os.path.join(tmp, name + ".csv")), ""


def same_rows(a, b):
    """The largest difference between two runs' rows, relative to max(1, |b|);
    inf when either is missing, they differ in length, or a value is not finite."""
    if not a or not b or len(a) != len(b):
        return math.inf
    return worst(err(ra[k], rb[k]) / max(1.0, abs(rb[k])) for ra, rb in zip(a, b) for k in rb)


def run_lag(lag, tmp, name, text, files=None, timeout=60):
    """Write text to tmp/NAME.lag (and files into tmp) and `lag run --quiet -o tmp` it."""
    for fname, content in (files or {}).items():
        with open(os.path.join(tmp, fname), "w") as f:
            f.write(content)
    path = os.path.join(tmp, name + ".lag")
    with open(path, "w") as f:
        f.write(text)
    return subprocess.run([lag, "run", "--quiet", "-o", tmp, path], capture_output=True, text=True, timeout=timeout)

# TAP: report() each test point, finish() prints the plan and the points.
_results = []


def import_h5py():
    """The h5py module, or None: Debian's python3-h5py also for a python3
    that is not Debian's own."""
    try:
        import h5py
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            import h5py
        except ImportError:
            return None
    return h5py


_MPI_SHM = None


def mpi_clear_segments():
    """Remove the shared-memory segments jobs left (after killing one)."""
    for f in os.listdir(_MPI_SHM) if _MPI_SHM else []:
        try:
            os.remove(os.path.join(_MPI_SHM, f))
        except OSError:
            pass


def mpi_launcher(lag, points):
    mpirun = os.environ.get("MPIRUN") or "mpirun"
    exe = shutil.which(mpirun)
    why, broken = None, None
    if not exe:
        why = "%s not found (install openmpi-bin)" % mpirun
    else:
        cmd = [exe, "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        # Leak checking is off in the ranks: Open MPI's own allocations at
        # exit, made in plugins it has unloaded, cannot be told apart from
        # lag's (the single-process tests check lag's); the sanitizers'
        # other checks stay.
        os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        cmd += ["-x", "ASAN_OPTIONS"]
        # Open MPI's shared-memory segments (the vader transport's, in
        # /dev/shm by default, named by a 16-bit job family) outlive a job
        # whose ranks were killed or failed, where a later job of the same
        # family finds them: each test keeps its own in a directory of its
        # own, removed at exit and emptied by mpi_clear_segments()
        global _MPI_SHM
        if _MPI_SHM is None:
            _MPI_SHM = tempfile.mkdtemp(prefix="lag-mpi-shm.")
            atexit.register(shutil.rmtree, _MPI_SHM, True)
        os.environ["OMPI_MCA_btl_vader_backing_directory"] = _MPI_SHM
        p = subprocess.run(cmd + ["-n", "2", lag, "--version"], capture_output=True, text=True, timeout=120)
        if "built without MPI" in p.stderr:
            why = "lag was built without MPI (./configure --with-mpi)"
        elif p.returncode != 0 or p.stdout.count("lag ") != 1:
            broken = "%s -n 2 lag --version: exit %d, stdout %r\n%s" % (mpirun, p.returncode, p.stdout,
                                                                       p.stderr[-3000:])
        else:
            return cmd
    for what in points:
        if broken:
            report(False, "%s: lag runs under mpirun" % what, broken)
        else:
            skip(what, why)
    return None


def untimed(o):
    """A JSON value without what the clock decides: keys ending in _s
    (wall_s, samples_per_s, ...) and a training curve's times."""
    if isinstance(o, dict):
        return {k: ([p[:1] + p[2:] for p in v] if k == "curve" else untimed(v))
                for k, v in o.items() if not k.endswith("_s")}
    if isinstance(o, list):
        return [untimed(v) for v in o]
    return o


def mpi_run(lag, cmd, ranks, tmp, name, text, *args):
    path = os.path.join(tmp, name + ".lag")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(tmp, "%s.%d" % (name, ranks))
    os.makedirs(out, exist_ok=True)
    argv = [lag, "run", path, "--json", "--quiet", "-o", out] + list(args)
    if ranks:
        argv = cmd + ["-n", str(ranks)] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    got = {}
    for fname in sorted(os.listdir(out)):
        with open(os.path.join(out, fname), "rb") as f:
            b = f.read()
        got[fname] = untimed(json.loads(b)) if fname.endswith("_summary.json") else b
    try:
        js = [untimed(json.loads(l)) for l in p.stdout.splitlines() if l.startswith("{")]
    except ValueError:
        js = None
    return p, got, js, [l.replace(out, "OUT") for l in p.stderr.splitlines() if l.startswith("lag")]


def mpi_same(lag, cmd, tmp, name, text, ranks=(1, 2, 3), rc=0, *args):
    p0, want, js0, said0 = mpi_run(lag, cmd, 0, tmp, name, text, *args)
    why = []
    if p0.returncode != rc:
        why.append("plain run: exit %d (want %d)\n%s" % (p0.returncode, rc, p0.stderr[-1500:]))
    if rc == 0 and (not want or not js0 or any(isinstance(b, bytes) and not b for b in want.values())):
        why.append("plain run: no files, an empty file or no --json: %s" % sorted(want))
    for n in ranks:
        p, got, js, said = mpi_run(lag, cmd, n, tmp, name, text, *args)
        if p.returncode != rc:
            why.append("%d ranks: exit %d (want %d)\n%s" % (n, p.returncode, rc, p.stderr[-1500:]))
        diff = sorted(f for f in set(got) | set(want) if got.get(f) != want.get(f))
        if diff:
            why.append("%d ranks: files differ: %s" % (n, diff))
        if js != js0:
            why.append("%d ranks: --json differs:\n%s\n%s" % (n, js, js0))
        if said != said0:
            why.append("%d ranks: messages differ:\n%s\n%s" % (n, said, said0))
    return not why, "\n".join(why), want, said0


def report(ok, what, why="", todo=None):
    """One test point: ok, its description, why it failed (printed as
    comments), and a TODO reason for a known failure."""
    _results.append((bool(ok), what, why, todo))


def skip(what, reason):
    """A test point that cannot run here (a missing optional part): TAP's SKIP."""
    _results.append((True, what, "", "\0" + reason))


def finish():
    print("1..%d" % len(_results))
    for i, (ok, what, why, todo) in enumerate(_results, 1):
        note = (" # SKIP %s" % todo[1:]) if todo and todo.startswith("\0") else (" # TODO %s" % todo if todo else "")
        print("%s %d - %s%s" % ("ok" if ok else "not ok", i, what, note))
        if not ok and why:
            for line in str(why).splitlines():
                print("# " + line)


def _selfcheck():
    """The helpers themselves: a NaN or an infinity must fail every check."""
    nan, inf = math.nan, math.inf
    good = (worst([0.0, nan, 1e-9]) == inf and worst([nan]) == inf and worst([1e-3, -inf]) == inf
            and worst([1e-3, 2e-3]) == 2e-3 and not close(nan, 1.0, 1.0) and not close(1.0, nan, 1.0)
            and not close(inf, inf, 1.0) and close(1.0, 1.0 + 1e-12, 1e-11) and err(nan, 0.0) == inf)
    for text in ("nan", "NaN", "inf", "-inf", "1e999"):
        try:
            num(text)
            good = False
        except NotFinite:
            pass
    if not good:
        print("Bail out! tests/lagtest.py: the numeric helpers let a non-finite value pass")
        sys.exit(1)


_selfcheck()
