#!/usr/bin/env python3
"""tests/runtime_hardening.py — the runtime's defects of issue 9 (TAP).

Each test is named after its defect (issue9-N) and checks what the user
gets: files written and read back, exit statuses, messages, and the
numbers themselves (every number through lagtest's helpers, which fail on
NaN and infinities).
  issue9-2   a checkpoint of other data (init x = uniform(-50, 50) for
             uniform(-1, 1)) is not resumed: warned, training starts afresh
  issue9-4   a 255-byte net name: its weights file (tensor names of 258
             bytes) is saved and read back by the next run
  issue9-5   record values that cannot be evaluated are counted (stderr,
             JSON), never written as if they were data; a missing OpenBLAS
             is warned once and reported in the JSON
  issue9-6   the --native cache: a fallback directory others can write, a
             symbolic link or one of another user is refused (the VM runs,
             with the same numbers); a new one is made 0700; paths with
             blanks and quotes compile (no shell); OPENBLAS_CORETYPE set by
             lag does not reach the compiler
  issue9-7   an output that cannot be written whole is an I/O error (exit
             4), the old file kept, no temporary left
  issue9-10  CSV data as RFC 4180 writes it (quotes, "" escapes, CRLF, a
             byte-order mark) reads as the plain file; a blow-up says what
             GSL reported in words and what to try
  stale      a FILE.tmp.PID left by a killed run is removed by the next
             write of FILE; temporaries of live processes or other files
             are kept

Environment: LAG (the program).
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lagtest  # noqa: E402

LAG, SRCDIR = lagtest.program()
LAG = os.path.abspath(LAG)
tmp = tempfile.mkdtemp(prefix="lag-rthard-")
tests = []


def test(name):
    def add(fn):
        tests.append((name, fn))
        return fn
    return add


def write(name, text, mode="w"):
    path = os.path.join(tmp, name)
    with open(path, mode) as f:
        f.write(text)
    return path


def run(path, args=(), env=None, unset=(), timeout=600, **kw):
    e = dict(os.environ)
    for k in unset:
        e.pop(k, None)
    if env:
        e.update(env)
    return subprocess.run([LAG, "run", path, "--json", "--quiet", "-o", tmp] + list(args),
                          capture_output=True, text=True, env=e, timeout=timeout, cwd=tmp, **kw)


def jobs(p):
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def lagw_names(path):
    """The tensor names of a .lagw file, read independently of lag."""
    b = open(path, "rb").read()
    assert b[:8] == b"LAGW\r\n\x1a\n", "magic"
    (count,) = struct.unpack("<I", b[12:16])
    at, names = 16, []
    for _ in range(count):
        (nl,) = struct.unpack("<H", b[at:at + 2])
        names.append(b[at + 2:at + 2 + nl].decode())
        rows, cols = struct.unpack("<II", b[at + 2 + nl:at + 10 + nl])
        at += 10 + nl + 8 * rows * cols
    return names


SPRING = """
system Spring {
    param k = 4
    coord x
    L = 0.5*x'^2 - 0.5*k*x^2
}
"""


@test("issue9-2: a checkpoint of a run with init x = uniform(-1, 1) is not resumed by one with "
      "uniform(-50, 50): warned, resumed_from 0")
def t_checkpoint_data():
    why = []
    text = SPRING + """
system SpringLNN {
    coord x
    net f = mlp(in = 2, hidden = [16, 16], out = 1)
    L = f(x, x') + 0.5*x'^2
}
train SpringLNN {
    data from Spring { init x = uniform(%s), x' = uniform(-2, 2) }
    steps 2000, batch 128, lr 1e-2, seed 3
    save "ck.lagw"
    checkpoint every 100
}
"""
    path = write("ck.lag", text % "-1, 1")
    ckpt = os.path.join(tmp, "ck.lagw.ckpt")
    proc = subprocess.Popen([LAG, "run", path, "--quiet", "-o", tmp], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    t0 = time.time()
    while not os.path.exists(ckpt) and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.002)
    killed = proc.poll() is None
    proc.kill()
    proc.communicate()
    if not killed or not os.path.exists(ckpt):
        return ["the first run was not killed after writing its checkpoint (killed=%s)" % killed]
    write("ck.lag", text % "-50, 50")  # nothing else changes
    p = run(path)
    J = jobs(p)
    if p.returncode != 0 or not J:
        return ["exit %d: %s" % (p.returncode, p.stderr[-600:])]
    if J[0].get("resumed_from") != 0:
        why.append("resumed_from %r, expected 0 (the old checkpoint was resumed)" % J[0].get("resumed_from"))
    if "another run" not in p.stderr:
        why.append("no warning that the checkpoint is of another run: %r" % p.stderr[-400:])
    if J[0].get("steps") != 2000:
        why.append("steps %r, expected 2000" % J[0].get("steps"))
    try:
        lagtest.num(str(J[0]["loss"]["train"]))
    except (KeyError, ValueError, TypeError) as ex:
        why.append("training loss: %r" % ex)
    return why


@test("issue9-4: a 255-byte net name: train saves NAME.W1 (258 bytes) and checkpoints "
      "(adam.m.NAME.W1); the next run reads the weights back")
def t_long_names():
    why = []
    name = "n" * 255  # the longest name the language accepts (lang/front.h)
    text = SPRING + """
system Long {
    coord x
    net %(n)s = mlp(in = 2, hidden = [8], out = 1%(w)s)
    L = %(n)s(x, x') + 0.5*x'^2
}
"""
    p1 = run(write("long1.lag", (text % {"n": name, "w": ""}) + """
train Long {
    data from Spring { init x = uniform(-1, 1), x' = uniform(-2, 2) }
    steps 40, batch 16, save "long.lagw", checkpoint every 10
}
simulate Long { init x = 1, time 0 .. 1, every 0.25, output "long_same.csv" }
"""))
    if p1.returncode != 0:
        return ["train: exit %d: %s" % (p1.returncode, p1.stderr[-600:])]
    try:
        names = lagw_names(os.path.join(tmp, "long.lagw"))
    except (OSError, AssertionError, struct.error) as ex:
        return ["long.lagw: %r" % ex]
    if name + ".W1" not in names or len(name + ".W1") != 258:
        why.append("tensor names %r" % [n[-6:] for n in names])
    p2 = run(write("long2.lag", (text % {"n": name, "w": ', weights = "long.lagw"'}) + """
simulate Long { init x = 1, time 0 .. 1, every 0.25, output "long_later.csv" }
"""))
    if p2.returncode != 0:
        why.append("the run reading long.lagw: exit %d: %s" % (p2.returncode, p2.stderr[-400:]))
        return why
    try:
        a = lagtest.read_csv(os.path.join(tmp, "long_same.csv"))
        b = lagtest.read_csv(os.path.join(tmp, "long_later.csv"))
        if len(a) != 5 or len(b) != 5 or lagtest.worst(abs(r["x"] - s["x"]) for r, s in zip(a, b)) != 0:
            why.append("the trained net gives other trajectories from the file than in the same run")
    except (OSError, ValueError, KeyError) as ex:
        why.append("CSV: %r" % ex)
    return why


@test("issue9-5: record values that cannot be evaluated (sqrt(x) for x < 0) are counted on stderr "
      "and in the JSON (record_failures), the others are right")
def t_record_failures():
    import math
    p = run(write("rec.lag", """
system O { coord x
    L = 0.5*x'^2 - 0.5*x^2 }
simulate O { init x = 1, time 0 .. 6, every 0.5, method rk8pd, tol 1e-12, output "rec.csv", record r = sqrt(x) }
"""))
    J = jobs(p)
    if p.returncode != 0 or not J:
        return ["exit %d: %s" % (p.returncode, p.stderr[-400:])]
    why = []
    bad = [0.5 * i for i in range(13) if math.cos(0.5 * i) < 0]  # x = cos t
    if J[0].get("record_failures") != len(bad):
        why.append("record_failures %r, expected %d" % (J[0].get("record_failures"), len(bad)))
    if "record values are not finite" not in p.stderr or ("%d of 13 rows" % len(bad)) not in p.stderr:
        why.append("no warning counting the rows: %r" % p.stderr)
    import csv
    with open(os.path.join(tmp, "rec.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    nan_rows = [float(r["t"]) for r in rows if not math.isfinite(float(r["r"]))]
    if nan_rows != bad:
        why.append("NaN rows at t = %r, expected %r" % (nan_rows, bad))
    good = [r for r in rows if math.isfinite(float(r["r"]))]
    e = lagtest.worst(lagtest.err(lagtest.num(r["r"]), math.sqrt(math.cos(lagtest.num(r["t"])))) for r in good)
    if not (len(good) == 13 - len(bad) and e <= 1e-8):
        why.append("the finite record values are off by %g" % e)
    return why


@test("issue9-5: energies that cannot be evaluated (c*log(x), c = 0, for x < 0) are nan in the CSV, "
      "counted on stderr and in the JSON (energy.failures); the drift is over the others")
def t_energy_failures():
    import math
    p = run(write("en.lag", """
system O { param c = 0
    coord x
    L = 0.5*x'^2 - 0.5*x^2 + c*log(x) }
simulate O { init x = 1, time 0 .. 6, every 0.5, tol 1e-12, output "en.csv" }
"""))
    J = jobs(p)
    if p.returncode != 0 or not J:
        return ["exit %d: %s" % (p.returncode, p.stderr[-400:])]
    why = []
    bad = [0.5 * i for i in range(13) if math.cos(0.5 * i) < 0]  # x = cos t
    e = J[0].get("energy", {})
    if e.get("failures") != len(bad):
        why.append("energy.failures %r, expected %d" % (e.get("failures"), len(bad)))
    try:
        if not lagtest.num(str(e.get("max_rel_drift"))) < 1e-9:
            why.append("max_rel_drift %r" % e.get("max_rel_drift"))
    except ValueError as ex:
        why.append("max_rel_drift: %r" % ex)
    if ("%d of 13 rows" % len(bad)) not in p.stderr or "energy" not in p.stderr:
        why.append("no warning counting the rows: %r" % p.stderr)
    import csv
    with open(os.path.join(tmp, "en.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    if [float(r["t"]) for r in rows if r["E"] == "nan"] != bad:
        why.append("nan rows: %r" % [(r["t"], r["E"]) for r in rows if not math.isfinite(float(r["E"]))])
    good = [r for r in rows if r["E"] != "nan"]
    if not (len(good) == 13 - len(bad) and lagtest.worst(lagtest.err(lagtest.num(r["E"]), 0.5) for r in good) < 1e-9):
        why.append("the finite energies are not 0.5")
    return why


TRAIN_SMALL = SPRING + """
system S { coord x
    net f = mlp(in = 2, hidden = [8], out = 1)
    L = f(x, x') + 0.5*x'^2 }
train S { data from Spring { init x = uniform(-1, 1), x' = uniform(-2, 2) }, steps 20, batch 64 }
"""


@test("issue9-5: OpenBLAS that cannot be loaded (LAG_OPENBLAS names a missing library): one warning "
      "on stderr, JSON blas = loops, training still right")
def t_blas_missing():
    path = write("blas.lag", TRAIN_SMALL + TRAIN_SMALL.split("\n")[-2].replace("steps 20", "steps 10") + "\n")
    p = run(path, env={"LAG_OPENBLAS": os.path.join(tmp, "no-such-libopenblas.so")})
    J = jobs(p)
    why = []
    if p.returncode != 0 or len(J) != 2:
        return ["exit %d: %s" % (p.returncode, p.stderr[-400:])]
    if p.stderr.count("OpenBLAS cannot be loaded") != 1:
        why.append("expected one warning, stderr: %r" % p.stderr[-400:])
    if [j.get("blas") for j in J] != ["loops", "loops"]:
        why.append("blas %r" % [j.get("blas") for j in J])
    for j in J:
        try:
            lagtest.num(str(j["loss"]["train"]))
        except (KeyError, ValueError) as ex:
            why.append("loss: %r" % ex)
    q = run(path)
    if q.returncode == 0 and jobs(q) and jobs(q)[0].get("blas") == "OpenBLAS" and "OpenBLAS" in q.stderr:
        why.append("a warning although OpenBLAS loaded: %r" % q.stderr)
    return why


OSC = """
system Osc {
    param k = 3
    coord x
    L = 0.5*x'^2 - 0.5*k*x^2 + 0.1*cos(x)
}
simulate Osc { init x = 1, time 0 .. 2, every 0.25, method rk8pd, output "%s" }
"""


def native_env(tmpdir):
    return {"TMPDIR": tmpdir}, ("HOME", "XDG_CACHE_HOME", "LAG_CACHE")


def vm_reference():
    p = run(write("osc_vm.lag", OSC % "osc_vm.csv"))
    return p.returncode == 0 and open(os.path.join(tmp, "osc_vm.csv")).read()


def check_refused(label, prepare, reason):
    """--native with the $TMPDIR fallback prepared by prepare(dir): refused
    with a warning naming reason, the VM's numbers."""
    why = []
    base = tempfile.mkdtemp(prefix="fb-", dir=tmp)
    cache = os.path.join(base, "lag-cache-%d" % os.getuid())
    prepare(cache)
    env, unset = native_env(base)
    out = "osc_%s.csv" % label
    p = run(write("osc_%s.lag" % label, OSC % out), ["--native"], env=env, unset=unset)
    if p.returncode != 0:
        return ["exit %d: %s" % (p.returncode, p.stderr[-400:])]
    if "refusing the cache directory" not in p.stderr or reason not in p.stderr:
        why.append("no refusal naming '%s': %r" % (reason, p.stderr[-400:]))
    if "interpreting instead" not in p.stderr:
        why.append("no fallback to the VM said")
    so = [f for f in os.listdir(cache) if f.endswith(".so")] if os.path.isdir(cache) else []
    if so:
        why.append("a library was compiled into the refused directory: %r" % so)
    ref = vm_reference()
    rows = lagtest.read_csv(os.path.join(tmp, out))
    if not ref or open(os.path.join(tmp, out)).read() != ref or len(rows) != 9:
        why.append("the VM's result differs from the reference run")
    return why


@test("issue9-6: --native: an existing $TMPDIR/lag-cache-UID that others can write (0777) is refused, "
      "the VM runs")
def t_cache_writable():
    def prep(d):
        os.mkdir(d)
        os.chmod(d, 0o777)
    return check_refused("w", prep, "others can write to it")


@test("issue9-6: --native: a $TMPDIR/lag-cache-UID that is a symbolic link (to a directory of ours) "
      "is refused")
def t_cache_symlink():
    def prep(d):
        target = d + ".real"
        os.mkdir(target, 0o700)
        os.symlink(target, d)
    return check_refused("l", prep, "symbolic link")


@test("issue9-6: --native: a $TMPDIR/lag-cache-UID owned by another user is refused (as root: "
      "chown'd to nobody; otherwise skipped)")
def t_cache_owner():
    if os.getuid() != 0:
        return "SKIP not root: cannot make a directory of another user"

    def prep(d):
        os.mkdir(d, 0o700)
        os.chown(d, 65534, 65534)
    return check_refused("o", prep, "owned by user 65534")


@test("issue9-6: --native: a new $TMPDIR/lag-cache-UID is made with mode 0700 and used")
def t_cache_new():
    base = tempfile.mkdtemp(prefix="fb-", dir=tmp)
    cache = os.path.join(base, "lag-cache-%d" % os.getuid())
    env, unset = native_env(base)
    p = run(write("osc_n.lag", OSC % "osc_n.csv"), ["--native"], env=env, unset=unset)
    if p.returncode != 0 or "warning" in p.stderr:
        return ["exit %d: %s" % (p.returncode, p.stderr[-400:])]
    why = []
    mode = os.lstat(cache).st_mode & 0o777 if os.path.isdir(cache) else None
    if mode != 0o700:
        why.append("mode %r, expected 0700" % (oct(mode) if mode is not None else None))
    if not [f for f in os.listdir(cache) if f.endswith(".so")]:
        why.append("no compiled library in the cache")
    if open(os.path.join(tmp, "osc_n.csv")).read() != vm_reference():
        why.append("native results differ from the VM's")
    return why


@test("issue9-6: --native: a cache path with blanks and a single quote compiles and loads (no shell)")
def t_cache_quote():
    cache = os.path.join(tmp, "a dir", "it's here; $(x)")
    p = run(write("osc_q.lag", OSC % "osc_q.csv"), ["--native"], env={"LAG_CACHE": cache})
    if p.returncode != 0 or "warning" in p.stderr:
        return ["exit %d: %s" % (p.returncode, p.stderr[-400:])]
    if not os.path.isdir(cache) or not [f for f in os.listdir(cache) if f.endswith(".so")]:
        return ["no compiled library in %r" % cache]
    if open(os.path.join(tmp, "osc_q.csv")).read() != vm_reference():
        return ["native results differ from the VM's"]
    return []


@test("issue9-6: the OPENBLAS_CORETYPE lag sets for OpenBLAS does not reach the --native compiler")
def t_env_leak():
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if " avx2" not in flags and " avx512f" not in flags:
        return "SKIP the CPU has neither AVX2 nor AVX-512: lag sets no OPENBLAS_CORETYPE"
    dump = os.path.join(tmp, "cc-env.txt")
    cc = write("cc-wrapper", "#!/bin/sh\nenv > \"$ENVDUMP\"\nexec cc \"$@\"\n")
    os.chmod(cc, 0o755)
    text = TRAIN_SMALL + (OSC % "osc_e.csv")
    p = run(write("envleak.lag", text), ["--native"],
            env={"ENVDUMP": dump, "CC": cc, "LAG_CACHE": os.path.join(tmp, "cache-env")},
            unset=("OPENBLAS_CORETYPE",))
    try:
        import ctypes
        ctypes.CDLL("libopenblas.so.0")
    except OSError:
        return "SKIP OpenBLAS is not installed: lag sets no OPENBLAS_CORETYPE"
    J = jobs(p)
    if p.returncode != 0 or len(J) != 2:
        return ["exit %d: %s" % (p.returncode, p.stderr[-400:])]
    if not os.path.exists(dump):
        return ["the compiler wrapper did not run: %s" % p.stderr[-300:]]
    leaked = [l for l in open(dump).read().splitlines() if l.startswith("OPENBLAS_CORETYPE=")]
    return ["the compiler's environment has %r" % leaked] if leaked else []


def limited(nbytes):
    def pre():
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return pre


@test("issue9-7: a CSV that cannot be written whole (a 64 kB file-size limit): exit 4, "
      "'cannot write', the old file kept, no temporary left")
def t_io_limit():
    path = write("big.lag", """
system O { coord x
    L = 0.5*x'^2 - 0.5*x^2 }
simulate O { init x = 1, time 0 .. %s, every 0.001, output "big.csv" }
""" % "1")
    p0 = run(path)
    old = open(os.path.join(tmp, "big.csv")).read() if p0.returncode == 0 else None
    write("big.lag", open(path).read().replace("time 0 .. 1,", "time 0 .. 50,"))
    p = run(path, preexec_fn=limited(65536))
    why = []
    if p0.returncode != 0 or not old:
        why.append("the first run failed: %s" % p0.stderr[-300:])
    if p.returncode != 4 or "cannot write" not in p.stderr:
        why.append("exit %d, stderr %r" % (p.returncode, p.stderr[-300:]))
    if old is not None and open(os.path.join(tmp, "big.csv")).read() != old:
        why.append("the old big.csv was replaced")
    left = [f for f in os.listdir(tmp) if f.startswith("big.csv.tmp.")]
    if left:
        why.append("temporaries left: %r" % left)
    return why


@test("issue9-10: CSV data with quoted fields, \"\" escapes, CRLF line ends and a UTF-8 BOM train "
      "exactly as the plain file; a stray quote is a located error")
def t_csv_rfc4180():
    import random
    rng = random.Random(4)
    rows = [(rng.uniform(-1, 1), rng.uniform(-2, 2)) for _ in range(400)]
    plain = "x,x',x'',note\n" + "".join("%.17g,%.17g,%.17g,0\n" % (x, v, -4 * x) for x, v in rows)
    rfc = ('\ufeff"x","x\'",  "x\'\'" ,"note"\r\n' +
           "".join('"%.17g",%.17g,"%.17g","1e0"\r\n' % (x, v, -4 * x) for x, v in rows))
    write("plain.csv", plain)
    write("rfc.csv", rfc.encode("utf-8"), "wb")
    write("stray.csv", "x,x',x'',note\n1,2,3,4\n1,2\"3,4,5\n")
    write("esc.csv", 'x,x\',x\'\',"a ""quoted"", name"\n1,2,-4,"5"\n3,4,-12,6\n')
    model = """
system S { coord x
    net f = mlp(in = 2, hidden = [8], out = 1)
    L = f(x, x') + 0.5*x'^2 }
train S { data "%s", steps 30, batch 32, validate 0.25 }
"""
    a = run(write("plain.lag", model % "plain.csv"))
    b = run(write("rfc.lag", model % "rfc.csv"))
    c = run(write("stray.lag", model % "stray.csv"))
    d = run(write("esc.lag", model % "esc.csv"))
    why = []
    Ja, Jb = jobs(a), jobs(b)
    if a.returncode != 0 or b.returncode != 0 or not Ja or not Jb:
        return ["plain: exit %d %s; rfc: exit %d %s" % (a.returncode, a.stderr[-300:], b.returncode,
                                                      b.stderr[-300:])]
    try:
        va, vb = lagtest.num(str(Ja[0]["validation_rel_rms"])), lagtest.num(str(Jb[0]["validation_rel_rms"]))
        if va != vb or Ja[0]["loss"] != Jb[0]["loss"]:
            why.append("the RFC 4180 file trains differently: %r vs %r" % (va, vb))
    except (KeyError, ValueError) as ex:
        why.append("JSON: %r" % ex)
    if c.returncode != 1 or "stray.csv:3:" not in c.stderr or "quote" not in c.stderr:
        why.append("stray quote: exit %d, %r" % (c.returncode, c.stderr[-300:]))
    if d.returncode != 0:
        why.append("a quoted header name with \"\" and a comma: exit %d %r" % (d.returncode, d.stderr[-300:]))
    return why


@test("issue9-10: a blow-up (L = 0.5*x'^2 + x^4, x' = 10) says in words what GSL reported "
      "(step-size underflow, the solution blows up) and what to try")
def t_blowup_message():
    p = run(write("blow.lag", """
system B { coord x
    L = 0.5*x'^2 + x^4 }
simulate B { init x = 0, x' = 10, time 0 .. 2, every 0.01, output "blow.csv" }
"""))
    why = []
    if p.returncode != 3:
        why.append("exit %d, expected 3" % p.returncode)
    msg = p.stderr
    for want in ("integration failed at t = 0.4", "step-size underflow", "blow up", "check the model",
                 "shorter time span", "tol"):
        if want not in msg:
            why.append("the message lacks %r" % want)
    if msg.rstrip().endswith(": failure") or ": failure (" in msg:
        why.append("GSL's bare word 'failure' is all it says")
    rows = lagtest.read_csv(os.path.join(tmp, "blow.csv"))  # the rows before the failure, finite
    if not rows or rows[0]["x'"] != 10:
        why.append("the rows before the failure were not kept")
    return why


@test("stale temporaries: after a kill -9 the next write of the same CSV removes its FILE.tmp.PID; "
      "those of live processes and of other files stay")
def t_stale():
    path = write("stale.lag", """
system O { coord x
    L = 0.5*x'^2 - 0.5*x^2 }
simulate O { init x = 1, time 0 .. 1e5, every 0.001, output "stale.csv" }
""")
    proc = subprocess.Popen([LAG, "run", path, "--quiet", "-o", tmp], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    tmpname = os.path.join(tmp, "stale.csv.tmp.%d" % proc.pid)
    t0 = time.time()
    while (not os.path.exists(tmpname) or os.path.getsize(tmpname) < 1 << 20) and proc.poll() is None \
            and time.time() - t0 < 60:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    why = []
    if not os.path.exists(tmpname):
        return ["the killed run left no %s" % os.path.basename(tmpname)]
    live = os.path.join(tmp, "stale.csv.tmp.%d" % os.getpid())  # this test is alive
    other = os.path.join(tmp, "other.csv.tmp.%d" % proc.pid)     # another output
    for f in (live, other):
        write(os.path.basename(f), "keep")
    write("stale.lag", open(path).read().replace("1e5", "1"))
    p = run(path)
    if p.returncode != 0:
        why.append("exit %d: %s" % (p.returncode, p.stderr[-300:]))
    if os.path.exists(tmpname):
        why.append("the stale temporary is still there")
    for f in (live, other):
        if not os.path.exists(f):
            why.append("%s was removed" % os.path.basename(f))
        else:
            os.remove(f)
    rows = lagtest.read_csv(os.path.join(tmp, "stale.csv"))
    if len(rows) != 1001 or not lagtest.close(rows[-1]["x"], __import__("math").cos(1.0), 1e-6):
        why.append("stale.csv: %d rows" % len(rows))
    return why


print("1..%d" % len(tests))
for i, (name, fn) in enumerate(tests, 1):
    try:
        r = fn()
    except Exception as ex:  # noqa: BLE001 -- a test that throws fails, with the reason
        r = ["%s: %s" % (type(ex).__name__, ex)]
    if isinstance(r, str) and r.startswith("SKIP"):
        print("ok %d - %s # %s" % (i, name, r))
        continue
    print("%s %d - %s" % ("not ok" if r else "ok", i, name))
    for line in r:
        for l in str(line).splitlines()[:10]:
            print("# " + l)
shutil.rmtree(tmp, ignore_errors=True)
