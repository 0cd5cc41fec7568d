#!/usr/bin/env python3
"""tests/units.py — unit annotations, `param l = 30 [cm]`, `coord x [m]` (TAP).

1. Wrong dimensions give exact located errors (the whole message line): a
   term of L that is not an energy, a force that is not a generalised force
   of its coordinate, a dissipation function that is not a power, an accel
   of the wrong dimension, sin of a length, a length plus a time, a record
   and a stop condition of a job, a default of the wrong dimension; and the
   units themselves: an unknown one (with a suggestion), a malformed one,
   a number or a fractional power inside, a bracket directly after a name
   (kept for an index), a unit in a problem.  Each exits with status 1.
2. Correct files pass silently: the double pendulum fully annotated, a
   spring and a mass in [g] and [cm], a driven damped oscillator in [mm]
   with a default computed from other parameters, bodies with gravity,
   accelerations, and a partly annotated system (no false error where a
   dimension is not known).  `lag check --ast` prints the annotation.
3. The scaled units give the right numbers, against closed forms written
   here: the quarter period of a pendulum with l in [cm] (and its mass in
   [g]) is K(sin(A/2)) sqrt(l/g) with l in metres; the same pendulum in
   [deg] and in SI agree after scaling, row by row, energy included; a
   spring in [cm] and [g] is l0 + A cos(w t), w = sqrt(k/m) in SI; a
   damped one in [mm] is the underdamped closed form; a constant force in
   [N] on x [cm] with m [g] gives x0 + 100 F t^2/(2 m); an accel system
   with g in [cm/s^2] falls by 9.81 t^2/2 metres; `--set S.l=...` is in the
   declared unit; a record of x [cm] is in metres (expressions are SI).

Numbers are compared through lagtest.close/worst, so a NaN never passes.
"""
import math
import os
import subprocess
import tempfile

from lagtest import pendulum_quarter_period, close, err, finish, num, program, report, run_json, worst, read_csv

LAG, SRCDIR = program()


def check(tmp, name, text, *args):
    path = os.path.join(tmp, name + ".lag")
    with open(path, "w") as f:
        f.write(text)
    return subprocess.run([LAG, "check", *args, path], capture_output=True, text=True, timeout=60)


def first_errors(stderr, tmp):
    return [l.replace(tmp + os.sep, "") for l in stderr.splitlines() if ": error: " in l]


# (name, the file, the error lines expected, in order)
BAD = [
    ("a term of L that is not an energy",
     "system S {\n    param m = 1 [kg], g = 9.81 [m/s^2]\n    coord x [m]\n"
     "    L = 0.5*m*x'^2 - m*g\n}\n",
     ["S.lag:4:22: error: this term of L is kg*m/s^2, not an energy (kg*m^2/s^2)"]),
    ("a term of L inside a let (L = T - V)",
     "system S {\n    param m = 1 [kg], k = 2 [N/m]\n    coord x [m]\n    let T = 0.5*m*x'^2\n"
     "    let V = 0.5*k*x\n    L = T - V\n}\n",
     ["S.lag:5:13: error: this term of L is kg*m/s^2, not an energy (kg*m^2/s^2)"]),
    ("a force of the wrong dimension",
     "system S {\n    param m = 1 [kg], c = 0.1 [N*s/m]\n    coord x [m]\n    L = 0.5*m*x'^2\n"
     "    force x = c*x\n}\n",
     ["S.lag:5:15: error: this force on 'x' is kg*m/s, not a generalised force on a coordinate in m "
      "(energy per m: kg*m/s^2)"]),
    ("a torque on an angle is an energy",
     "system S {\n    param I = 1 [kg*m^2], F = 2 [N]\n    coord th [rad]\n    L = 0.5*I*th'^2\n"
     "    force th = F\n}\n",
     ["S.lag:5:16: error: this force on 'th' is kg*m/s^2, not a generalised force on a coordinate in 1 "
      "(energy per 1: kg*m^2/s^2)"]),
    ("a dissipation function that is not a power",
     "system S {\n    param m = 1 [kg], c = 0.1 [N*s/m]\n    coord x [m]\n    L = 0.5*m*x'^2\n"
     "    dissipation D = 0.5*c*x'\n}\n",
     ["S.lag:5:21: error: this dissipation function is kg*m/s^2, not a power (kg*m^2/s^3)"]),
    ("an acceleration of the wrong dimension",
     "system S {\n    param g = 981 [cm/s^2], k = 1 [1/s]\n    coord y [m]\n    accel y = -g - k*y\n}\n",
     ["S.lag:4:20: error: subtracting m/s from m/s^2: the terms of a sum have one dimension"]),
    ("an acceleration that is a velocity",
     "system S {\n    param v = 3 [m/s]\n    coord y [m]\n    accel y = v\n}\n",
     ["S.lag:4:15: error: this acceleration of 'y' is m/s, not m/s^2"]),
    ("sin of a length",
     "system S {\n    param m = 1 [kg], k = 1 [N/m]\n    coord x [m]\n"
     "    L = 0.5*m*x'^2 - k*sin(x)\n}\n",
     ["S.lag:4:22: error: this term of L is kg/s^2, not an energy (kg*m^2/s^2)",
      "S.lag:4:28: error: the argument of sin is m, not a number (dimensionless)"]),
    ("a length plus a time",
     "system S {\n    param m = 1 [kg], k = 1 [N/m]\n    coord x [m]\n"
     "    L = 0.5*m*x'^2 - 0.5*k*(x + t)^2\n}\n",
     ["S.lag:4:33: error: adding s to m: the terms of a sum have one dimension"]),
    ("an exponent with a dimension",
     "system S {\n    param m = 1 [kg], k = 1 [N/m]\n    coord x [m]\n"
     "    L = 0.5*m*x'^2 - 2^x\n}\n",
     ["S.lag:4:24: error: an exponent is a number (dimensionless), and this one is m"]),
    ("a default of the wrong dimension",
     "system S {\n    param m = 1 [kg], l = 2*m [m]\n    coord x [m]\n    L = 0.5*m*x'^2\n}\n",
     ["S.lag:2:27: error: this value is kg, but its unit is m"]),
    ("a record of a job",
     "system S {\n    param m = 200 [g]\n    coord x [cm]\n    L = 0.5*m*x'^2\n}\n"
     "simulate S { init x = 1; time 0 .. 1; record d = x - 5 }\n",
     ["S.lag:6:54: error: subtracting 1 from m: the terms of a sum have one dimension"]),
    ("a stop condition of a job",
     "system S {\n    param m = 200 [g]\n    coord x [cm]\n    L = 0.5*m*x'^2\n}\n"
     "simulate S { init x = 1; time 0 .. 1; stop when x + t crosses 0 }\n",
     ["S.lag:6:53: error: adding s to m: the terms of a sum have one dimension"]),
    ("an unknown unit",
     "system S {\n    param m = 1 [kgg]\n    coord x [m]\n    L = 0.5*m*x'^2\n}\n",
     ["S.lag:2:18: error: unknown unit 'kgg' (did you mean 'kg'?)"]),
    ("a malformed unit",
     "system S {\n    param m = 1 [kg], v = 1 [m/]\n    coord x [m]\n    L = 0.5*m*x'^2\n}\n",
     ["S.lag:2:32: error: unexpected ']'"]),
    ("a number in a unit",
     "system S {\n    param m = 1 [2*kg]\n    coord x [m]\n    L = 0.5*m*x'^2\n}\n",
     ["S.lag:2:18: error: a unit is made of unit names, '*', '/', '^' and 1; the number 2 belongs to the value "
      "before the bracket"]),
    ("a fractional power in a unit",
     "system S {\n    param m = 1 [kg], a = 1 [m^0.5]\n    coord x [m]\n    L = 0.5*m*x'^2\n}\n",
     ["S.lag:2:32: error: a unit's power is an integer, as in m^2 or s^-1"]),
    ("a bracket directly after a name",
     "system S {\n    param m = 1 [kg]\n    coord x[m]\n    L = 0.5*m*x'^2\n}\n",
     ["S.lag:3:12: error: a unit is written after a space ('x [...]'); a bracket directly after a name is "
      "an index"]),
    ("a unit in a problem",
     "problem P {\n    param a = 1 [m]\n    domain x = 0 .. 1\n    field y\n    fix y(0) = 0, y(1) = 1\n"
     "    minimize integral(y'^2)\n}\n",
     ["S.lag:2:17: error: units are checked in systems; a problem's parameters take none"]),
]

GOOD = """system DP {
    param m1 = 1 [kg], m2 = 1 [kg], l1 = 1 [m], l2 = 1 [m], g = 9.81 [m/s^2]
    coord t1 [rad], t2 [rad]
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
      + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
system Spring {
    param m = 200 [g], k = 2 [N/m], l0 = 10 [cm]
    coord x [cm]
    L = 0.5*m*x'^2 - 0.5*k*(x - l0)^2
}
system Driven {
    param m = 500 [g], k = 20 [N/m], c = 0.3 [N*s/m], F0 = 1 [N], w = 2 [Hz], x0 = 2*F0/k [mm]
    coord x [mm]
    L = 0.5*m*x'^2 - 0.5*k*(x - x0)^2
    force x = F0*cos(2*pi*w*t)
    dissipation D = 0.5*c*x'^2
}
system Bodies {
    param m = 2 [kg], l = 50 [cm], I = 0.1 [kg*m^2], g0 = 9.81 [m/s^2], k [N*m/rad]
    coord th, ph [deg]
    point p { mass m, at l*vec(sin(th), -cos(th)) }
    body b { mass m, at l*vec(sin(th), -cos(th)) + l*vec(sin(ph), -cos(ph)), inertia I, angle ph }
    gravity g = vec(0, -9.81)
}
system Falling {
    param g = 981 [cm/s^2], k [1/s], w = 1 [km/h], p = 1 [kPa*mm^2/mN], f = 1 [MHz*us]
    coord y [m], z
    accel y, z = -g - k*y', -z
}
system Partly {
    param m = 1 [kg], k = 4, a
    coord x [m], y
    L = 0.5*m*x'^2 - 0.5*k*x^2 + 0.5*y'^2 - a*y + sqrt(m*k)*x*x' + a*x*m/t^2
}
"""


def diagnostics(tmp):
    for what, text, want in BAD:
        p = check(tmp, "S", text)
        got = first_errors(p.stderr, tmp)
        report(p.returncode == 1 and got == want, "%s: exactly %s" % (what, want),
               "status %d\n%s" % (p.returncode, p.stderr))


def correct(tmp):
    p = check(tmp, "good", GOOD)
    report(p.returncode == 0 and p.stderr == "" and p.stdout == "",
           "annotated systems (double pendulum, spring in [g] and [cm], driven damped in [mm], bodies, accel, "
           "partly annotated) pass silently", p.stderr)
    p = check(tmp, "ast", "system S {\n    param m = 1 [kg], g = 9.81 [m/s^2], k [N*m/rad]\n"
                          "    coord x [cm], th\n    L = 0.5*m*x'^2\n}\n", "--ast")
    want = ["  (param m 1 (unit kg))", "  (param g 9.81 (unit (/ m (^ s 2))))", "  (param k (unit (/ (* N m) rad)))",
            "  (coord x (unit cm))", "  (coord th)"]
    report(p.returncode == 0 and all(w in p.stdout.splitlines() for w in want),
           "lag check --ast prints each annotation", p.stdout + p.stderr)


def symmetry(tmp):
    text = """system Rot {
    param m = 200 [g], k = 2 [N/m]
    coord x [cm], y [m]
    L = 0.5*m*(x'^2 + y'^2) - 0.5*k*(x^2 + y^2)
    symmetry rotation: x -> -y, y -> x
}
"""
    path = os.path.join(tmp, "rot.lag")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([LAG, "el", path, "Rot"], capture_output=True, text=True, timeout=60)
    report(p.returncode == 0 and "rotation (continuous): L is invariant" in p.stdout
           and "noether_rotation = m*(1e-05*x*y' - 1e-05*y*x')" in p.stdout,
           "a rotation of x [cm] and y [m], its generator in SI: L is invariant, the charge in SI", p.stdout + p.stderr)




def rows_of(tmp, name, text, *args):
    p, js = run_json(LAG, tmp, name + ".lag", text.replace("OUT", name + ".csv"), *args)
    path = os.path.join(tmp, name + ".csv")
    rows = read_csv(path) if p.returncode == 0 and os.path.exists(path) else []
    return p, js, rows


PEND_CM = """system PendCm {
    param l = 130 [cm], g = 9.81 [m/s^2], m = 200 [g]
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
"""


def pendulum(tmp):
    A = 0.3
    for l_cm, args in ((130, ()), (55, ("--set", "PendCm.l=55"))):
        job = ("simulate PendCm { init th = %r; time 0 .. 5, every 0.1; method rk8pd, tol 1e-11\n"
               "  stop when th crosses 0 falling; output \"OUT\" }\n" % A)
        p, js, rows = rows_of(tmp, "pcm", PEND_CM + job, *args)
        want = pendulum_quarter_period(A, 9.81, l_cm / 100)
        t = js[0]["final"]["t"] if p.returncode == 0 and js and js[0]["final"]["t"] is not None else math.nan
        report(close(t, want, 1e-9), "a pendulum with l = %g [cm]%s: the quarter period is K(sin(A/2)) sqrt(l/g), "
               "l in metres, %.12g (got %r, error %.3g)" % (l_cm, " set by --set in the declared unit" if args else "",
                                                              want, t, err(t, want)), p.stderr)
    # the same pendulum in SI and in [deg], [g], [mm]: row by row after scaling
    si = """system P {
    param l = 1.3, g = 9.81, m = 0.2
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
simulate P { init th = 2; time 0 .. 6, every 0.25; method rk8pd, tol 1e-12; output "OUT" }
"""
    scaled = """system P {
    param l = 1300 [mm], g = 9.81 [m/s^2], m = 200 [g]
    coord th [deg]
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
simulate P { init th = %r; time 0 .. 6, every 0.25; method rk8pd, tol 1e-12; output "OUT" }
""" % (2 * 180 / math.pi)
    p1, _, a = rows_of(tmp, "si", si)
    p2, _, b = rows_of(tmp, "deg", scaled)
    d = math.pi / 180
    e = worst([err(rb["th"] * d, ra["th"]) for ra, rb in zip(a, b)] +
              [err(rb["th'"] * d, ra["th'"]) for ra, rb in zip(a, b)] +
              [err(rb["E"], ra["E"]) for ra, rb in zip(a, b)]) if a and len(a) == len(b) else math.inf
    report(e < 1e-8, "the pendulum in [mm], [g], [deg] equals the one in SI row by row after scaling, th, th' and "
           "E (worst difference %.3g)" % e, p1.stderr + p2.stderr)


def spring(tmp):
    text = """system Spring {
    param m = 200 [g], k = 2 [N/m], l0 = 10 [cm]
    coord x [cm]
    L = 0.5*m*x'^2 - 0.5*k*(x - l0)^2
}
simulate Spring { init x = 15; time 0 .. 3, every 0.1; method rk8pd, tol 1e-12; record xm = x; output "OUT" }
"""
    p, _, rows = rows_of(tmp, "spring", text)
    w = math.sqrt(2 / 0.2)
    e = worst(err(r["x"], 10 + 5 * math.cos(w * r["t"])) for r in rows) if len(rows) == 31 else math.inf
    report(e < 1e-8, "a spring in [cm] with a mass in [g]: x = l0 + A cos(w t) in cm, w = sqrt(k/m) with m in kg "
           "(worst error %.3g cm)" % e, p.stderr)
    e = worst(err(r["xm"], r["x"] / 100) for r in rows) if rows else math.inf
    report(e < 1e-15, "a record of x [cm] is in metres: expressions are evaluated in coherent SI", p.stderr)
    E = worst(err(r["E"], 0.5 * 2 * 0.05 ** 2) for r in rows) if rows else math.inf
    report(E < 1e-10, "its energy column is in joules, k A^2/2 with A in metres (worst error %.3g J)" % E, p.stderr)

    damped = """system Damped {
    param m = 500 [g], k = 20 [N/m], c = 300 [g/s]
    coord x [mm]
    L = 0.5*m*x'^2 - 0.5*k*x^2
    dissipation D = 0.5*c*x'^2
}
simulate Damped { init x = 40; time 0 .. 3, every 0.1; method rk8pd, tol 1e-12; output "OUT" }
"""
    p, _, rows = rows_of(tmp, "damped", damped)
    gam = 0.3 / (2 * 0.5)
    wd = math.sqrt(20 / 0.5 - gam * gam)

    def x(t):
        return 40 * math.exp(-gam * t) * (math.cos(wd * t) + gam / wd * math.sin(wd * t))
    e = worst(err(r["x"], x(r["t"])) for r in rows) if len(rows) == 31 else math.inf
    report(e < 1e-8, "a damped spring in [mm], [g], [g/s]: the underdamped closed form in mm (worst error %.3g)" % e,
           p.stderr)

    pushed = """system Pushed {
    param m = 250 [g], F = 0.5 [N]
    coord x [cm]
    L = 0.5*m*x'^2
    force x = F
}
simulate Pushed { init x = 3; time 0 .. 2, every 0.5; method rk8pd, tol 1e-12; output "OUT" }
"""
    p, _, rows = rows_of(tmp, "pushed", pushed)
    e = worst(err(r["x"], 3 + 100 * 0.5 / 0.25 * r["t"] ** 2 / 2) for r in rows) if len(rows) == 5 else math.inf
    report(e < 1e-8, "a force in [N] on x [cm] with m in [g]: x = x0 + 100 F t^2/(2 m) cm (worst error %.3g)" % e,
           p.stderr)

    falling = """system Falling {
    param g = 981 [cm/s^2]
    coord y [m], z [cm]
    accel y, z = -g, -g
}
simulate Falling { init y = 10, z = 10; time 0 .. 1, every 0.25; method rk8pd, tol 1e-12; output "OUT" }
"""
    p, _, rows = rows_of(tmp, "falling", falling)
    e = worst([err(r["y"], 10 - 9.81 * r["t"] ** 2 / 2) for r in rows] +
              [err(r["z"], 10 - 981 * r["t"] ** 2 / 2) for r in rows]) if len(rows) == 5 else math.inf
    report(e < 1e-9, "accel of g = 981 [cm/s^2]: y [m] falls 9.81 t^2/2, z [cm] 981 t^2/2 (worst error %.3g)" % e,
           p.stderr)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        diagnostics(tmp)
        correct(tmp)
        symmetry(tmp)
        pendulum(tmp)
        spring(tmp)
    finish()


main()
