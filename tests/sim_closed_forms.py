#!/usr/bin/env python3
"""tests/sim_closed_forms.py — `lag run` on simulate jobs against closed forms (TAP).

Each model in tests/sim/*.lag is run as `$LAG run --json -o TMPDIR FILE`; the
CSV it writes and the JSON lines it prints are checked:
- the JSON object of each job: the fields of LANGUAGE.md §5 with their types,
  `final` equal to the last CSV row, `energy.initial` equal to E at the start;
- the CSV: header exactly `t,<coords>,<velocities>,E`, one row per `every`
  from the start to the end of `time`, numbers at full precision, the `E`
  column equal to q'.dL/dq' - L of the row;
- the trajectory against the closed form written out below, to 1e-8 times the
  amplitude of the motion (jobs at tol <= 1e-10), and per stepper in
  steppers.lag (see STEPPERS);
- relativistic.lag: also the momentum p = m x'/sqrt(1 - x'^2/c^2) = F t
  (from rest), to 1e-10 of F t at the end;
- singular.lag (singular mass matrix): exit status 3, the message exactly
  (the job, the time t = 0 and the state as given by init), and its CSV:
  the header and the initial row only (it fails at t = 0).

Environment: LAG (the program), srcdir (the source tree).
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

LAG = os.environ.get("LAG", "./lag")
SRCDIR = os.path.abspath(os.environ.get("srcdir", "."))
SIM = os.path.join(SRCDIR, "tests", "sim")
TIMEOUT = 300

# Trajectory tolerance of the accurate jobs (tol <= 1e-10), relative to the
# amplitude of each quantity.
TRAJ_TOL = 1e-8


# ---------------------------------------------------------------------------
# The models: parameters, initial state and time grid as written in the .lag
# files (kept in step with them by hand), and the closed forms.

def harmonic_exact(p, x0, v0, t0=0.0):
    """m x'' = -k x:  x = x0 cos(w s) + v0/w sin(w s), s = t - t0, w = sqrt(k/m)."""
    w = math.sqrt(p["k"] / p["m"])

    def f(t):
        s = t - t0
        x = x0 * math.cos(w * s) + v0 / w * math.sin(w * s)
        v = -x0 * w * math.sin(w * s) + v0 * math.cos(w * s)
        return [x], [v]
    amp = math.hypot(x0, v0 / w)
    return f, [amp], [amp * w]


def damped_exact(p, x0, v0):
    """m x'' + c x' + k x = 0 (D = c x'^2/2 adds -c x'), underdamped:
    x = e^{-g t}(A cos(wd t) + B sin(wd t)), g = c/2m, wd = sqrt(k/m - g^2),
    A = x0, B = (v0 + g x0)/wd;
    x' = e^{-g t}((wd B - g A) cos(wd t) - (wd A + g B) sin(wd t))."""
    m, k, c = p["m"], p["k"], p["c"]
    g = c / (2 * m)
    wd = math.sqrt(k / m - g * g)
    A, B = x0, (v0 + g * x0) / wd

    def f(t):
        d, co, si = math.exp(-g * t), math.cos(wd * t), math.sin(wd * t)
        return ([d * (A * co + B * si)],
                [d * ((wd * B - g * A) * co - (wd * A + g * B) * si)])
    amp = math.hypot(A, B)
    return f, [amp], [amp * math.sqrt(k / m)]


def cyclotron_exact(p, x0, y0, vx0, vy0):
    """L = m(x'^2 + y'^2)/2 + qB(x y' - y x')/2 gives m x'' = qB y',
    m y'' = -qB x'.  With z = x + iy, u = x' + iy' and W = qB/m: u' = -iW u,
    so u = u0 e^{-iWt} and z = zc + (i u0/W) e^{-iWt}, centre zc = z0 - i u0/W,
    radius |u0|/|W| (clockwise for W > 0)."""
    W = p["q"] * p["B"] / p["m"]
    z0, u0 = complex(x0, y0), complex(vx0, vy0)
    zc = z0 - 1j * u0 / W

    def f(t):
        rot = complex(math.cos(W * t), -math.sin(W * t))
        z = zc + 1j * u0 / W * rot
        u = u0 * rot
        return [z.real, z.imag], [u.real, u.imag]
    R = abs(u0) / abs(W)
    return f, [R, R], [abs(u0), abs(u0)], zc, R


def relativistic_exact(p, x0, v0, T):
    """L = -m c^2 sqrt(1 - x'^2/c^2) + F x: p = m x'/sqrt(1 - x'^2/c^2) obeys
    p' = F, so p = p0 + F t and x' = p/sqrt(m^2 + p^2/c^2).  Integrating,
    x = x0 + (c^2/F)(sqrt(m^2 + p^2/c^2) - sqrt(m^2 + p0^2/c^2)); from rest
    x = x0 + (m c^2/F)(sqrt(1 + (F t/(m c))^2) - 1)."""
    m, c, F = p["m"], p["c"], p["F"]
    p0 = m * v0 / math.sqrt(1 - v0 * v0 / (c * c))

    def f(t):
        pt = p0 + F * t
        root = math.sqrt(m * m + pt * pt / (c * c))
        return [x0 + c * c / F * (root - math.sqrt(m * m + p0 * p0 / (c * c)))], [pt / root]
    xs = f(T)[0][0] - x0
    return f, [abs(xs)], [c]


def kepler_exact(p, r0, phi0, rd0, phid0):
    """L = m(r'^2 + r^2 phi'^2)/2 + k/r.  From the initial state: angular
    momentum l = m r^2 phi', energy E = m(r'^2 + r^2 phi'^2)/2 - k/r,
    semi-latus rectum P = l^2/(m k), eccentricity e = sqrt(1 + 2 E l^2/(m k^2)),
    orbit r = P/(1 + e cos(phi - w)) with the periapsis angle w from
    cos(phi0 - w) = (P/r0 - 1)/e, sin(phi0 - w) = P r0'/(e r0^2 phi0').
    In time (Kepler's equation): a = P/(1 - e^2), n = sqrt(k/(m a^3)),
    M = M0 + n t = E_a - e sin E_a, r = a(1 - e cos E_a), true anomaly
    nu = E_a + 2 atan(b sin E_a/(1 - b cos E_a)), b = e/(1 + sqrt(1 - e^2))
    (continuous in E_a), phi = w + nu, r' = a e sin(E_a) n/(1 - e cos E_a),
    phi' = l/(m r^2)."""
    m, k = p["m"], p["k"]
    assert phid0 > 0
    l = m * r0 * r0 * phid0
    E = 0.5 * m * (rd0 * rd0 + r0 * r0 * phid0 * phid0) - k / r0
    P = l * l / (m * k)
    e = math.sqrt(1 + 2 * E * l * l / (m * k * k))
    nu0 = math.atan2(P * rd0 / (r0 * r0 * phid0), P / r0 - 1)
    w = phi0 - nu0
    a = P / (1 - e * e)
    n = math.sqrt(k / (m * a ** 3))
    Ea0 = 2 * math.atan2(math.sqrt(1 - e) * math.sin(nu0 / 2), math.sqrt(1 + e) * math.cos(nu0 / 2))
    M0 = Ea0 - e * math.sin(Ea0)
    b = e / (1 + math.sqrt(1 - e * e))

    def f(t):
        M = M0 + n * t
        Ea = M + e * math.sin(M)
        for _ in range(100):
            d = (Ea - e * math.sin(Ea) - M) / (1 - e * math.cos(Ea))
            Ea -= d
            if abs(d) < 4e-16 * max(1.0, abs(Ea)):
                break
        r = a * (1 - e * math.cos(Ea))
        nu = Ea + 2 * math.atan(b * math.sin(Ea) / (1 - b * math.cos(Ea)))
        return [r, w + nu], [a * e * math.sin(Ea) * n / (1 - e * math.cos(Ea)), l / (m * r * r)]
    orbit = {"l": l, "E": E, "P": P, "e": e, "w": w, "a": a,
             "vmax": math.sqrt(k / m * (2 / (a * (1 - e)) - 1 / a))}
    return f, orbit


def driven_exact(p, x0, v0, t0):
    """m x'' + k x = F0 cos(w t), w != w0 = sqrt(k/m):
    x = A cos(w0 t) + B sin(w0 t) + C cos(w t), C = F0/(m (w0^2 - w^2)),
    A, B from x(t0) = x0, x'(t0) = v0:
      A cos(w0 t0) + B sin(w0 t0) = x0 - C cos(w t0) =: X,
      -A sin(w0 t0) + B cos(w0 t0) = (v0 + C w sin(w t0))/w0 =: Y,
    so A = X cos(w0 t0) - Y sin(w0 t0), B = X sin(w0 t0) + Y cos(w0 t0)."""
    m, k, F0, w = p["m"], p["k"], p["F0"], p["w"]
    w0 = math.sqrt(k / m)
    C = F0 / (m * (w0 * w0 - w * w))
    X = x0 - C * math.cos(w * t0)
    Y = (v0 + C * w * math.sin(w * t0)) / w0
    A = X * math.cos(w0 * t0) - Y * math.sin(w0 * t0)
    B = X * math.sin(w0 * t0) + Y * math.cos(w0 * t0)

    def f(t):
        return ([A * math.cos(w0 * t) + B * math.sin(w0 * t) + C * math.cos(w * t)],
                [w0 * (-A * math.sin(w0 * t) + B * math.cos(w0 * t)) - C * w * math.sin(w * t)])
    amp = math.hypot(A, B) + abs(C)
    return f, [amp], [math.hypot(A, B) * w0 + abs(C) * w]


# Energies E = q'.dL/dq' - L of a state (t, q, v), split as (E, magnitude of
# its terms) so that rounding can be judged.
def e_osc(p, t, q, v):
    T, V = 0.5 * p["m"] * v[0] ** 2, 0.5 * p["k"] * q[0] ** 2
    return T + V, T + V


def e_cyclotron(p, t, q, v):
    T = 0.5 * p["m"] * (v[0] ** 2 + v[1] ** 2)   # the term linear in q' cancels
    return T, T


def e_relativistic(p, t, q, v):
    m, c, F = p["m"], p["c"], p["F"]
    rest = m * c * c / math.sqrt(1 - v[0] ** 2 / (c * c))
    return rest - F * q[0], rest + abs(F * q[0])


def e_kepler(p, t, q, v):
    T = 0.5 * p["m"] * (v[0] ** 2 + q[0] ** 2 * v[1] ** 2)
    V = -p["k"] / q[0]
    return T + V, T - V


def e_driven(p, t, q, v):
    T, V = 0.5 * p["m"] * v[0] ** 2, 0.5 * p["k"] * q[0] ** 2
    W = p["F0"] * q[0] * math.cos(p["w"] * t)
    return T + V - W, T + V + abs(W)


HARMONIC = dict(m=2.0, k=4.5)
STEPPER_INIT = (1.2, -0.7)

# One entry per physics file: system, coordinates, parameters, initial state
# (coords then velocities), time grid, method, energy function, whether E is
# conserved.
MODELS = [
    dict(file="harmonic.lag", csv="harmonic.csv", system="Harmonic", coords=["x"],
         params=HARMONIC, init=[1.2, -0.7], time=(0.0, 20.0, 0.1), method="rk8pd", tol=1e-10,
         energy=e_osc, conserved=True),
    dict(file="damped.lag", csv="damped.csv", system="Damped", coords=["x"],
         params=dict(m=1.5, k=6.0, c=0.9), init=[0.8, 1.1], time=(0.0, 15.0, 0.05),
         method="rk8pd", tol=1e-10, energy=e_osc, conserved=False),
    dict(file="magnetic.lag", csv="magnetic.csv", system="Cyclotron", coords=["x", "y"],
         params=dict(m=0.8, q=1.5, B=0.6), init=[0.3, -0.5, 0.4, 0.9], time=(0.0, 20.0, 0.1),
         method="rk8pd", tol=1e-11, energy=e_cyclotron, conserved=True),
    dict(file="relativistic.lag", csv="relativistic.csv", system="Relativistic", coords=["x"],
         params=dict(m=1.5, c=2.0, F=0.8), init=[0.25, 0.0], time=(0.0, 10.0, 0.05),
         method="rk8pd", tol=1e-11, energy=e_relativistic, conserved=True),
    dict(file="kepler.lag", csv="kepler.csv", system="Kepler", coords=["r", "phi"],
         params=dict(m=1.3, k=2.0), init=[1.0, 0.4, 0.3, 1.6], time=(0.0, 70.0, 0.05),
         method="rk8pd", tol=1e-12, energy=e_kepler, conserved=True),
    dict(file="driven.lag", csv="driven.csv", system="Driven", coords=["x"],
         params=dict(m=1.5, k=6.0, F0=0.8, w=1.3), init=[-0.4, 0.35], time=(1.0, 21.0, 0.1),
         method="rk8pd", tol=1e-10, energy=e_driven, conserved=False),
]

# steppers.lag: the harmonic oscillator (w = 1.5, amplitude 1.01, 2.4 periods
# over 0 .. 10) once with each explicit stepper: (method, every, tol, accepted
# error relative to the amplitude, why).  lag drives GSL steppers adaptively
# (error per step <= tol, stopping at each output time); the bounds hold with
# a margin of 100 or more over what GSL 2.7 gives that way with tol taken as
# absolute, relative or both (measured), and for rk2/rk4 also with the step
# fixed at `every`.
STEPPERS = [
    ("rk2", 0.001, 1e-8, 1e-6,
     "GSL's rk2 advances the 3rd-order Kutta solution (the 2nd-order one only "
     "estimates the error): 2e-9 measured at every 1e-3, adaptive or fixed; "
     "1e-6 is still far below what a 1st-order slip (~1e-2) would give"),
    ("rk4", 0.01, 1e-9, 1e-7,
     "order 4 with step doubling; every 0.01 caps the step: 3.7e-10 measured, "
     "adaptive or fixed"),
    ("rkf45", 0.1, 1e-10, 1e-7,
     "order 4(5) pair; every 0.1 leaves the control in charge: 2.5e-10 to 6.9e-10 measured"),
    ("rkck", 0.1, 1e-10, 1e-7,
     "order 4(5) Cash-Karp pair: 2.1e-10 to 5.6e-10 measured"),
    ("rk8pd", 0.25, 1e-10, TRAJ_TOL,
     "order 8(9) Prince-Dormand at the accurate jobs' tol, held to the common "
     "1e-8: 1.1e-11 to 4.6e-11 measured"),
    ("msadams", 0.01, 1e-12, 1e-7,
     "variable-order Adams: GSL's error estimate for it is much looser than "
     "the RK pairs' (2.5e-7 measured at tol 1e-10 with abs and rel both 1e-10), "
     "so tol 1e-12: 5.6e-12 to 2.3e-10 measured"),
]


def settings_in_file(fname, time, method, tol):
    """Whether a job of the .lag file has the time grid, method and tol this
    script assumes (the tables above are written by hand)."""
    with open(os.path.join(SIM, fname)) as fh:
        text = fh.read()
    for body in re.findall(r"simulate\s+\w+\s*\{([^}]*)\}", text):
        tm = re.search(r"time\s+([-+.\deE]+)\s*\.\.\s*([-+.\deE]+),\s*every\s+([-+.\deE]+)", body)
        mt = re.search(r"method\s+(\w+),\s*tol\s+([-+.\deE]+)", body)
        if (tm and mt and tuple(float(v) for v in tm.groups()) == tuple(float(v) for v in time)
                and mt.group(1) == method and float(mt.group(2)) == tol):
            return True
    return False


# ---------------------------------------------------------------------------
# Running lag and reading what it writes.

class Run:
    def __init__(self, path, workdir):
        self.outdir = os.path.join(workdir, "out")
        self.cwd = os.path.join(workdir, "cwd")
        os.makedirs(self.outdir)
        os.makedirs(self.cwd)
        try:
            r = subprocess.run([LAG, "run", "--json", "-o", self.outdir, path], cwd=self.cwd,
                               capture_output=True, text=True, timeout=TIMEOUT,
                               stdin=subprocess.DEVNULL)
            self.status, self.stdout, self.stderr = r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired:
            self.status, self.stdout, self.stderr = None, "", "timed out after %d s" % TIMEOUT
        self.objects, self.json_errors = [], []
        for n, line in enumerate(self.stdout.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                self.json_errors.append("stdout line %d is not JSON (%s): %.200s" % (n, exc, line))
                continue
            if not isinstance(obj, dict):
                self.json_errors.append("stdout line %d is not a JSON object" % n)
                continue
            self.objects.append(obj)

    def failure(self):
        """Why the run cannot be used, or None."""
        if self.status is None:
            return "lag run timed out"
        if self.status != 0:
            return "lag run exited %s: %s" % (self.status, self.stderr.strip()[:1000])
        return None


def read_csv(path):
    """(header, rows of text fields, rows of floats or None if unparsable)."""
    with open(path, newline="") as fh:
        text = fh.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0] if lines else ""
    fields = [ln.split(",") for ln in lines[1:]]
    try:
        values = [[float(v) for v in row] for row in fields]
    except ValueError:
        values = None
    return header, fields, values


def sig_digits(s):
    """Significant digits written in a number's text."""
    mant = re.split(r"[eE]", s.strip().lstrip("+-"))[0].replace(".", "").lstrip("0")
    return len(mant.rstrip("0")) if mant else 0


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def close(a, b, rel=1e-12, abs_=0.0):
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


# ---------------------------------------------------------------------------
# Checks shared by all jobs.

def check_json(obj, system, method, coords, t_end, E0, csv_last, why):
    """The simulate fields of LANGUAGE.md §5, and `final` against the last row."""
    vels = [c + "'" for c in coords]
    for key in ("job", "system", "method"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            why.append("JSON %s is %r, not a non-empty string" % (key, obj.get(key)))
    if obj.get("system") != system:
        why.append("JSON system is %r, expected %r" % (obj.get("system"), system))
    if obj.get("method") != method:
        why.append("JSON method is %r, expected %r" % (obj.get("method"), method))
    for key in ("steps", "rhs_evals"):
        if not is_int(obj.get(key)) or obj.get(key) < 1:
            why.append("JSON %s is %r, not a whole number >= 1" % (key, obj.get(key)))
    if is_int(obj.get("steps")) and is_int(obj.get("rhs_evals")) and obj["rhs_evals"] < obj["steps"]:
        why.append("JSON rhs_evals %d < steps %d" % (obj["rhs_evals"], obj["steps"]))
    if not is_num(obj.get("wall_s")) or obj.get("wall_s") < 0:
        why.append("JSON wall_s is %r, not a number >= 0" % (obj.get("wall_s"),))
    fin = obj.get("final")
    if not isinstance(fin, dict):
        why.append("JSON final is %r, not an object" % (fin,))
    else:
        if not is_num(fin.get("t")):
            why.append("JSON final.t is %r, not a number" % (fin.get("t"),))
        elif not close(fin["t"], t_end, 1e-12, 1e-12):
            why.append("JSON final.t = %r, expected the end of time %r" % (fin["t"], t_end))
        for key, names in (("coords", coords), ("velocities", vels)):
            d = fin.get(key)
            if not isinstance(d, dict):
                why.append("JSON final.%s is %r, not an object" % (key, d))
            elif sorted(d) != sorted(names):
                why.append("JSON final.%s has keys %s, expected %s" % (key, sorted(d), sorted(names)))
            elif not all(is_num(d[n]) for n in names):
                why.append("JSON final.%s has a value that is not a number: %r" % (key, d))
        if csv_last is not None and not any(w.startswith("JSON final") for w in why):
            got = [fin["t"]] + [fin["coords"][n] for n in coords] + [fin["velocities"][n] for n in vels]
            for name, a, b in zip(["t"] + coords + vels, got, csv_last):
                if not close(a, b, 1e-12, 1e-300):
                    why.append("JSON final %s = %.17g but the last CSV row has %.17g" % (name, a, b))
    en = obj.get("energy")
    if not isinstance(en, dict):
        why.append("JSON energy is %r, not an object" % (en,))
    else:
        if not is_num(en.get("initial")):
            why.append("JSON energy.initial is %r, not a number" % (en.get("initial"),))
        elif E0 is not None and not close(en["initial"], E0, 1e-12):
            why.append("JSON energy.initial = %.17g, expected E at the start %.17g" % (en["initial"], E0))
        if not is_num(en.get("max_rel_drift")) or en.get("max_rel_drift") < 0:
            why.append("JSON energy.max_rel_drift is %r, not a number >= 0" % (en.get("max_rel_drift"),))


def check_csv_form(path, coords, time, why, energy_column=True):
    """Header, time grid and precision; returns the rows (floats) or None."""
    if not os.path.exists(path):
        why.append("no CSV %s written" % os.path.basename(path))
        return None
    header, fields, values = read_csv(path)
    want = ",".join(["t"] + coords + [c + "'" for c in coords] + (["E"] if energy_column else []))
    if header != want:
        why.append("CSV header is %r, expected %r" % (header, want))
    ncol = len(want.split(","))
    bad = [i + 2 for i, row in enumerate(fields) if len(row) != ncol]
    if bad:
        why.append("CSV lines %s do not have %d fields" % (bad[:5], ncol))
        return None
    if values is None:
        why.append("CSV has a field that is not a number")
        return None
    if not all(math.isfinite(v) for row in values for v in row):
        why.append("CSV has a value that is not finite")
        return None
    a, b, dt = time
    n = int(round((b - a) / dt))
    if len(values) != n + 1:
        why.append("CSV has %d rows, expected %d (t = %g .. %g every %g)" % (len(values), n + 1, a, b, dt))
    else:
        worst = max(abs(row[0] - (a + i * dt)) for i, row in enumerate(values))
        if values[0][0] != a:
            why.append("first t is %.17g, expected %g" % (values[0][0], a))
        if not close(values[-1][0], b, 1e-12, 1e-12):
            why.append("last t is %.17g, expected %g" % (values[-1][0], b))
        if worst > 1e-9 * max(1.0, abs(b)):
            why.append("t column is off the grid a + i*every by up to %.3g" % worst)
    # full precision: state columns written with 15-17 significant digits
    digits = sorted(sig_digits(row[j]) for row in fields[1:] for j in range(1, 1 + 2 * len(coords)))
    if digits and digits[len(digits) // 2] < 15:
        why.append("CSV values are not at full precision (median %d significant digits)"
                   % digits[len(digits) // 2])
    return values


def split_row(row, nq):
    return row[0], row[1:1 + nq], row[1 + nq:1 + 2 * nq], row[1 + 2 * nq] if len(row) > 1 + 2 * nq else None


def check_energy_column(rows, nq, params, energy, why):
    """E column = q'.dL/dq' - L of each row; returns (E0, max relative drift in the CSV)."""
    worst = 0.0
    E0 = energy(params, *split_row(rows[0], nq)[:3])[0]
    drift = 0.0
    for row in rows:
        t, q, v, E = split_row(row, nq)
        want, scale = energy(params, t, q, v)
        worst = max(worst, abs(E - want) / scale)
        drift = max(drift, abs(E - E0) / abs(E0))
    if worst > 1e-12:
        why.append("E column differs from q'.dL/dq' - L of the row by up to %.3g (relative to its terms)" % worst)
    return E0, drift


def check_trajectory(rows, nq, exact, qscale, vscale, tol, names, why):
    """Largest error of each column relative to its scale; adds to why past tol."""
    errs = [0.0] * (2 * nq)
    where = [0.0] * (2 * nq)
    for row in rows:
        t, q, v, _ = split_row(row, nq)
        xq, xv = exact(t)
        for j in range(nq):
            for col, (got, want, sc) in ((j, (q[j], xq[j], qscale[j])), (nq + j, (v[j], xv[j], vscale[j]))):
                e = abs(got - want) / sc
                if e > errs[col]:
                    errs[col], where[col] = e, t
    for col, name in enumerate(names):
        if errs[col] > tol:
            why.append("%s is off the closed form by %.3g of its amplitude at t = %g (tolerance %g)"
                       % (name, errs[col], where[col], tol))
    return max(errs) if errs else 0.0


# ---------------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.tests = []

    def add(self, name, fn):
        self.tests.append((name, fn))

    def run(self):
        print("1..%d" % len(self.tests))
        failed = 0
        for n, (name, fn) in enumerate(self.tests, 1):
            notes = []
            try:
                why = fn(notes)
            except Exception as exc:  # a test that breaks is a failure, not a crash of the script
                why = ["test raised %s: %s" % (type(exc).__name__, exc)]
            print(("ok %d - %s" if not why else "not ok %d - %s") % (n, name))
            for line in why + notes:
                print("# " + line.replace("\n", "\n# "))
            failed += bool(why)
        return failed


def main():
    if not os.access(LAG, os.X_OK):
        print("Bail out! %s not built" % LAG)
        return 1
    for M in MODELS:
        if not settings_in_file(M["file"], M["time"], M["method"], M["tol"]):
            print("Bail out! tests/sim/%s does not say time %g .. %g, every %g, method %s, tol %g"
                  % ((M["file"],) + M["time"] + (M["method"], M["tol"])))
            return 1
    for method, every, tol, _, _ in STEPPERS:
        if not settings_in_file("steppers.lag", (0, 10, every), method, tol):
            print("Bail out! tests/sim/steppers.lag: no job with every %g, method %s, tol %g"
                  % (every, method, tol))
            return 1
    tmp = tempfile.mkdtemp(prefix="lag-sim.")
    runs = {}

    def run(fname):
        if fname not in runs:
            work = os.path.join(tmp, fname.replace(".lag", ""))
            os.makedirs(work)
            runs[fname] = Run(os.path.join(SIM, fname), work)
        return runs[fname]

    tap = Tap()

    for M in MODELS:
        nq = len(M["coords"])
        names = M["coords"] + [c + "'" for c in M["coords"]]
        ctx = {}

        def t_run(notes, M=M, ctx=ctx):
            why = []
            r = run(M["file"])
            fail = r.failure()
            if fail:
                return [fail]
            why += r.json_errors
            if len(r.objects) != 1:
                why.append("%d JSON objects on stdout, expected 1 (one per job)" % len(r.objects))
            if os.listdir(r.cwd):
                why.append("files written to the working directory despite -o: %s" % os.listdir(r.cwd))
            notes.append("steps %s, rhs_evals %s, wall_s %s" % tuple(
                (r.objects[0].get(k) if r.objects else None) for k in ("steps", "rhs_evals", "wall_s")))
            return why

        def t_csv(notes, M=M, ctx=ctx, nq=nq):
            r = run(M["file"])
            if r.failure():
                return ["no run: " + r.failure()]
            why = []
            rows = check_csv_form(os.path.join(r.outdir, M["csv"]), M["coords"], M["time"], why)
            if rows is not None:
                ctx["rows"] = rows
            return why

        def t_json(notes, M=M, ctx=ctx, nq=nq):
            r = run(M["file"])
            if r.failure() or not r.objects:
                return ["no run or no JSON"]
            why = []
            rows = ctx.get("rows")
            E0 = None
            if rows:
                E0 = M["energy"](M["params"], M["time"][0], M["init"][:nq], M["init"][nq:])[0]
            check_json(r.objects[0], M["system"], M["method"], M["coords"], M["time"][1], E0,
                       rows[-1][:1 + 2 * nq] if rows else None, why)
            if not rows:
                why.append("(CSV unusable: final not compared)")
            return why

        def t_energy(notes, M=M, ctx=ctx, nq=nq):
            rows = ctx.get("rows")
            if not rows:
                return ["CSV unusable"]
            why = []
            r = run(M["file"])
            E0, drift = check_energy_column(rows, nq, M["params"], M["energy"], why)
            init = rows[0][1:1 + 2 * nq]
            if any(not close(a, b, 1e-15, 1e-300) for a, b in zip(init, M["init"])):
                why.append("first row state %r is not the init %r" % (init, M["init"]))
            obj = r.objects[0] if r.objects else {}
            js = (obj.get("energy") or {}).get("max_rel_drift") if isinstance(obj.get("energy"), dict) else None
            notes.append("E0 = %.17g, max relative drift: CSV %.3g, JSON %r" % (E0, drift, js))
            bound = 1e-9 if M["system"] == "Kepler" else TRAJ_TOL
            if M["conserved"]:
                if drift > bound:
                    why.append("E drifts by %.3g relative in the CSV (bound %g)" % (drift, bound))
            if is_num(js):
                if js < drift * (1 - 1e-9) - 1e-15:
                    why.append("JSON max_rel_drift %.6g is below the CSV's max |E - E0|/|E0| = %.6g" % (js, drift))
                if M["conserved"] and js > bound:
                    why.append("JSON max_rel_drift %.3g too large for a conserved energy" % js)
                if M["system"] == "Damped" and not close(js, drift, 1e-9):
                    # E decreases monotonically (dE/dt = -c x'^2): the largest drift is at the end
                    why.append("JSON max_rel_drift %.12g, expected 1 - E(T)/E0 = %.12g" % (js, drift))
            return why

        def t_traj(notes, M=M, ctx=ctx, nq=nq, names=names):
            rows = ctx.get("rows")
            if not rows:
                return ["CSV unusable"]
            why = []
            p, init, sys_ = M["params"], M["init"], M["system"]
            if sys_ == "Harmonic":
                f, qs, vs = harmonic_exact(p, *init)
            elif sys_ == "Damped":
                f, qs, vs = damped_exact(p, *init)
            elif sys_ == "Cyclotron":
                f, qs, vs, zc, R = cyclotron_exact(p, *init)
                worst = max(abs(abs(complex(row[1], row[2]) - zc) - R) for row in rows) / R
                notes.append("centre (%.12g, %.12g), radius %.12g, cyclotron frequency qB/m = %.12g; "
                             "largest |distance from centre - R|/R = %.3g"
                             % (zc.real, zc.imag, R, p["q"] * p["B"] / p["m"], worst))
                if worst > TRAJ_TOL:
                    why.append("not a circle about (%g, %g) of radius %g: off by %.3g relative"
                               % (zc.real, zc.imag, R, worst))
            elif sys_ == "Relativistic":
                f, qs, vs = relativistic_exact(p, init[0], init[1], M["time"][1])
                pF = max(abs(p["m"] * row[2] / math.sqrt(1 - row[2] ** 2 / p["c"] ** 2) - p["F"] * row[0])
                         for row in rows)
                notes.append("largest |p - F t| = %.3g (p = %.4g at the end)" % (pF, p["F"] * M["time"][1]))
                if not pF <= 1e-10 * p["F"] * M["time"][1]:
                    why.append("the momentum is off p = F t by %.3g (bound %.3g)"
                               % (pF, 1e-10 * p["F"] * M["time"][1]))
            elif sys_ == "Kepler":
                f, o = kepler_exact(p, *init)
                qs, vs = [o["a"], 1.0], [o["vmax"], o["vmax"]]
                # the angle's error counts as r*dphi: scale it by a/r in the loop below
                worst_orbit = worst_l = 0.0
                for row in rows:
                    t, (r_, ph), (rd, phd), _ = split_row(row, nq)
                    worst_orbit = max(worst_orbit,
                                      abs(r_ - o["P"] / (1 + o["e"] * math.cos(ph - o["w"]))) / r_)
                    worst_l = max(worst_l, abs(p["m"] * r_ * r_ * phd - o["l"]) / o["l"])
                notes.append("orbit: e = %.12g, semi-latus rectum %.12g, a = %.12g, periapsis angle %.12g; "
                             "largest relative error of r(phi) %.3g, of r^2 phi' %.3g"
                             % (o["e"], o["P"], o["a"], o["w"], worst_orbit, worst_l))
                if worst_orbit > TRAJ_TOL:
                    why.append("r = p/(1 + e cos(phi - phi0)) off by %.3g relative" % worst_orbit)
                if worst_l > 1e-9:
                    why.append("angular momentum m r^2 phi' drifts by %.3g relative (bound 1e-9)" % worst_l)
                # positions: r and r*phi (arc) against a; velocities: r' and
                # r*phi' against the speed at periapsis
                errs = [0.0] * 4
                for row in rows:
                    t, (r_, ph), (rd, phd), _ = split_row(row, nq)
                    (re_, phe), (rde, phde) = f(t)
                    for j, e in enumerate((abs(r_ - re_) / o["a"], r_ * abs(ph - phe) / o["a"],
                                           abs(rd - rde) / o["vmax"], r_ * abs(phd - phde) / o["vmax"])):
                        errs[j] = max(errs[j], e)
                for name, e in zip(("r", "r*phi", "r'", "r*phi'"), errs):
                    if e > TRAJ_TOL:
                        why.append("%s is off the closed form (Kepler's equation) by %.3g of its scale "
                                   "(tolerance %g)" % (name, e, TRAJ_TOL))
                notes.append("errors: r %.3g, r*phi %.3g (of a), r' %.3g, r*phi' %.3g (of the speed at periapsis)"
                             % tuple(errs))
                return why
            elif sys_ == "Driven":
                f, qs, vs = driven_exact(p, init[0], init[1], M["time"][0])
            worst = check_trajectory(rows, nq, f, qs, vs, TRAJ_TOL, names, why)
            notes.append("largest error relative to the amplitude: %.3g" % worst)
            return why

        base = "%s (%s)" % (M["file"], M["system"])
        tap.add(base + ": lag run --json exits 0, one JSON object", t_run)
        tap.add(base + ": CSV header t,%s, time grid, full precision" % ",".join(names), t_csv)
        tap.add(base + ": JSON fields and types, final = last CSV row", t_json)
        tap.add(base + ": E column and energy {initial, max_rel_drift}", t_energy)
        tap.add(base + ": trajectory vs closed form", t_traj)

    # -- every explicit stepper ------------------------------------------------
    def t_steppers_run(notes):
        r = run("steppers.lag")
        fail = r.failure()
        if fail:
            return [fail]
        why = list(r.json_errors)
        if len(r.objects) != len(STEPPERS):
            why.append("%d JSON objects, expected %d (one per job)" % (len(r.objects), len(STEPPERS)))
        return why
    tap.add("steppers.lag: lag run --json exits 0, one JSON object per job", t_steppers_run)

    for i, (method, every, tol, accept, reason) in enumerate(STEPPERS):
        def t_stepper(notes, i=i, method=method, every=every, tol=tol, accept=accept, reason=reason):
            r = run("steppers.lag")
            why = []
            if r.failure():
                # the jobs before the one that failed may have written their CSV
                why.append("the run failed: " + r.failure())
                if not os.path.exists(os.path.join(r.outdir, "stepper_%s.csv" % method)):
                    return why
            time = (0.0, 10.0, every)
            rows = check_csv_form(os.path.join(r.outdir, "stepper_%s.csv" % method), ["x"], time, why)
            objs = [o for o in r.objects if o.get("method") == method]
            obj = objs[0] if objs else None
            if obj is None:
                why.append("no JSON object with method %s" % method)
            if rows is None:
                return why
            E0, drift = check_energy_column(rows, 1, HARMONIC, e_osc, why)
            if obj is not None:
                check_json(obj, "Harmonic", method, ["x"], 10.0, E0, rows[-1][:3], why)
                notes.append("steps %s, rhs_evals %s" % (obj.get("steps"), obj.get("rhs_evals")))
            f, qs, vs = harmonic_exact(HARMONIC, *STEPPER_INIT)
            worst = check_trajectory(rows, 1, f, qs, vs, accept, ["x", "x'"], why)
            notes.append("largest error relative to the amplitude %.3g (accepted %g: %s); E drift %.3g"
                         % (worst, accept, reason, drift))
            return why
        tap.add("steppers.lag: %s (every %g, tol %g) within %g of the closed form"
                % (method, every, tol, accept), t_stepper)

    # -- singular mass matrix --------------------------------------------------
    # the one line that says what failed: the job (file, line of the job,
    # system), the time and the state, exactly
    singular_line = ("lag: %s:7: simulate Singular: integration failed at t = 0: the mass matrix is "
                     "singular (state: x = 0.5, y = -0.2, x' = 0.1, y' = 0)" % os.path.join(SIM, "singular.lag"))

    def t_singular(notes):
        r = run("singular.lag")
        msg = r.stderr.strip()
        notes.append("stderr: " + msg[:500])
        if r.status != 3:
            return ["exit status %s, expected 3 (numerical failure)" % r.status]
        lines = [ln for ln in msg.splitlines() if "integration failed" in ln]
        if len(lines) != 1 or not lines[0].startswith(singular_line.split(" (state:")[0]):
            return ["expected one line starting %r" % singular_line.split(" (state:")[0]]
        return []
    tap.add("singular.lag: lag run exits 3, the message names the job, the time t = 0 and the cause", t_singular)

    def t_singular_state(notes):
        r = run("singular.lag")
        if r.status != 3:
            return ["exit status %s, expected 3" % r.status]
        # exact, but for advice that may stand between the cause and the state
        head, state = singular_line.split(" (state:")
        state = " (state:" + state
        if not any(ln.startswith(head) and ln.endswith(state) for ln in r.stderr.splitlines()):
            return ["no line %r ... %r in stderr" % (head, state)]
        return []
    tap.add("singular.lag: the message gives the state exactly (x = 0.5, y = -0.2, x' = 0.1, y' = 0)",
            t_singular_state)

    def t_singular_csv(notes):
        r = run("singular.lag")
        path = os.path.join(r.outdir, "singular.csv")
        if not os.path.exists(path):
            return ["no CSV written (the job fails at t = 0: its CSV has the header and the initial row)"]
        header, fields, values = read_csv(path)
        why = []
        want = "t,x,y,x',y',E"
        if header != want:
            why.append("CSV header %r, expected %r" % (header, want))
        # the one row lag can write: the initial state at t = 0, with
        # E = (x' + y')^2 + x^2 + y^2 = 0.3 (q'.dL/dq' - L of L above)
        want_row = [0.0, 0.5, -0.2, 0.1, 0.0, 0.3]
        if values is None or len(values) != 1 or \
                not all(close(a, b, 1e-15, 1e-300) for a, b in zip(values[0], want_row)):
            why.append("CSV rows %r, expected the initial row %r only" % (fields[:3], want_row))
        ncol = len(header.split(",")) if header else 0
        bad = [i + 2 for i, row in enumerate(fields) if len(row) != ncol]
        if bad:
            why.append("CSV lines %s do not have the header's %d fields" % (bad[:5], ncol))
        elif values is None:
            why.append("CSV has a field that is not a number")
        notes.append("CSV: %d data rows" % len(fields))
        return why
    tap.add("singular.lag: the CSV is written: the header and the initial row (t = 0, E = 0.3)", t_singular_csv)

    failed = None
    try:
        failed = tap.run()
    finally:
        if failed == 0 or os.environ.get("LAG_KEEP_TMP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# outputs kept in %s" % tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
