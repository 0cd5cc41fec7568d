#!/usr/bin/env python3
"""tests/events.py — `stop when EXPR crosses 0 [rising|falling]` and grids
of starts in simulate jobs (TAP).

1. A projectile's y reaches the ground at t = (v0 + sqrt(v0^2 + 2 g y0))/g:
   the event time against that for every kind of stepper (the batched
   lanes' rkf45, rkck, rk8pd through GSL's driver as single runs, rk4, the
   multistep msadams and msbdf, the implicit rk4imp and bsimp); the last
   CSV row is the event (y = 0 to rounding, the same as final in the
   JSON, final.t the event time), no row after it, events in the JSON and
   the events CSV, exit status 0.
2. A pendulum released at rest from A crosses 0 falling a quarter period
   later, K(sin(A/2)) sqrt(l/g) (K by the arithmetic-geometric mean), and
   rising three quarters later; either way stops at the first; an
   expression of t and one of velocities; two conditions, the first to
   cross stops and is named.
3. Ensembles of double pendulums with two flip conditions over a grid of
   starts: every member equals its single run bit for bit, its event row
   and its events CSV row included, for the batched rk8pd, rkf45, rkck
   and for rk4 and msadams; --native gives the VM's events bit for bit.
4. The grid of starts: trajectory s is (i, j) with s = i n_2 + j, values
   a + (b - a) i/(n - 1); samples is the grid's size (and a contradicting
   `samples` is refused); the JSON lists the events of at most 1000
   trajectories and counts them always.
5. Records and the energy at the event row are evaluated at the event's
   time and state; a condition that is not finite (sqrt of a negative
   number) never stops a trajectory.
6. Bad input: located errors, with the exact text.
7. Under mpirun (when there and lag is built with MPI): the chaos map
   example (smaller) writes the same CSV, events CSV and figure for 1 and
   2 ranks as one process; so does a grid with `record when` and `stop
   when`.
8. `record when EXPR crosses 0`: the harmonic oscillator's x crosses 0 at
   (k + 1/2) pi/w, falling and rising in turn, each direction filter
   listing its own; a pendulum's zero crossings over several periods at
   T/4 + k T/2 with the exact period T = 4 sqrt(l/g) K(sin(A/2)); the
   trajectory's rows are those of the run without `record when` to the
   bit (it goes on from each step's end); the event rows' state is at the
   crossing (x = 0, x' = -+w).
9. `record when` mixed with `stop when`: a projectile's apex and x = 1
   recorded, its landing stopping it, in the order of time, the crossing
   after the landing (on the same step) not listed; the columns record and
   stop; a crossing exactly at an output time is listed once, at that
   time; a record and a stop at one time: the record first.
10. Ensembles with `record when`: every member's event rows equal its
   single run's bit for bit (batched rk8pd, rkf45, rkck; msadams).

Numbers are compared through lagtest.close/worst, so a NaN never passes.
"""
import csv
import math
import os
import tempfile

from lagtest import (DOUBLE_PENDULUM, close, err, finish, mpi_launcher, mpi_same, num, pendulum_quarter_period, program,
                     report, run_json,
                     run_lag, worst)

LAG, SRCDIR = program()

PROJECTILE = """system Ball {
    param g = 9.81
    coord x, y
    L = 0.5*(x'^2 + y'^2) - g*y
}
"""

PENDULUM = """system Pend {
    param g = 9.81, l = 1.3
    coord th
    L = 0.5*l^2*th'^2 + g*l*cos(th)
}
"""


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def text_rows(path):
    with open(path) as f:
        return f.read().splitlines()


def run(tmp, name, text, *args):
    """Run text (OUT: NAME.csv, EV: NAME_ev.csv); (process, JSON objects, rows, event rows)."""
    text = text.replace("OUT", name + ".csv").replace("EV", name + "_ev.csv")
    p, js = run_json(LAG, tmp, name + ".lag", text, *args)
    out, ev = os.path.join(tmp, name + ".csv"), os.path.join(tmp, name + "_ev.csv")
    return (p, js, read(out) if os.path.exists(out) else [], read(ev) if os.path.exists(ev) else [])




def projectile(tmp):
    g, y0, v0 = 9.81, 10.0, 3.0
    want = (v0 + math.sqrt(v0 * v0 + 2 * g * y0)) / g
    for method in ("rk8pd", "rkf45", "rkck", "rk4", "msadams", "msbdf", "rk4imp", "bsimp"):
        job = ("simulate Ball { init x' = 1, y = %g, y' = %g; time 0 .. 5, every 0.1; method %s, tol 1e-10\n"
               "  stop when y crosses 0 falling; output \"OUT\"; events \"EV\" }\n" % (y0, v0, method))
        p, js, rows, ev = run(tmp, "ball_" + method, PROJECTILE + job)
        why = p.stderr
        good = p.returncode == 0 and len(js) == 1 and len(rows) > 2 and len(ev) == 1
        if good:
            o, last = js[0], rows[-1]
            t = num(last["t"])
            # the multistep methods' trial runs are as good as their tolerance
            tol = 1e-12 if method not in ("msadams", "msbdf") else 1e-7
            good = (close(t, want, tol) and close(num(last["y"]), 0, 1e-9) and close(num(last["x"]), t, 1e-9)
                    and num(rows[-2]["t"]) < t and all(num(r["t"]) <= t for r in rows)
                    and o["final"]["t"] == t and o["final"]["coords"]["y"] == num(last["y"])
                    and o["events_count"] == 1 and o["events"] == [{"t": t, "when": "y"}]
                    and num(ev[0]["t"]) == t and num(ev[0]["y'"]) == num(last["y'"]) and ev[0]["traj"] == "0")
            why += "event at %r, want %r (error %.3g)\n" % (t, want, err(t, want))
        report(good, "%s: a projectile's y reaches 0 at (v0 + sqrt(v0^2 + 2 g y0))/g, the last row there, "
               "final.t the event, events in the JSON and the CSV" % method, why)


def pendulum(tmp):
    g, l, A = 9.81, 1.3, 2.0
    q = pendulum_quarter_period(A, g, l)
    cases = [("falling", "th crosses 0 falling", q, "th"), ("rising", "th crosses 0 rising", 3 * q, "th"),
             ("either way", "th crosses 0", q, "th"),
             ("a velocity: th' = 0 again at the far side", "th' crosses 0 rising", 2 * q, "th'"),
             ("an expression of t", "t - 1.25 crosses 0", 1.25, "t - 1.25")]
    for what, cond, want, text in cases:
        job = ("simulate Pend { init th = %r; time 0 .. 10, every 0.05; method rk8pd, tol 1e-11\n"
               "  stop when %s; output \"OUT\" }\n" % (A, cond))
        p, js, rows, _ = run(tmp, "pend", PENDULUM + job)
        t = js[0]["final"]["t"] if p.returncode == 0 and js else math.nan
        t = t if t is not None else math.nan
        good = close(t, want, 1e-9) and rows and num(rows[-1]["t"]) == t and js[0]["events"][0]["when"] == text
        report(good, "pendulum released at %g: %s stops at %.12g (got %r, error %.3g)" % (A, what, want, t,
               err(t, want)), p.stderr)
    # two conditions: the first to cross stops, named by its text
    job = ("simulate Pend { init th = %r; time 0 .. 10, every 0.05; method rkck, tol 1e-11\n"
           "  stop when th crosses 0 rising\n  stop when th' + 1 crosses 0 falling\n  output \"OUT\"; events \"EV\" }\n"
           % A)
    p, js, rows, ev = run(tmp, "pend2", PENDULUM + job)
    good = p.returncode == 0 and js and js[0]["events"][0]["when"] == "th' + 1" and ev and ev[0]["stop"] == "2"
    good = good and close(num(rows[-1]["th'"]), -1, 1e-9) and js[0]["final"]["t"] < q
    report(good, "two conditions: the first to cross (th' falls to -1 before th reaches 0) stops, named in the JSON "
           "and the events CSV", p.stderr + str(js))


def grid_pendulums(method, tmp, extra=()):
    """The double pendulum over a 4 x 3 grid with two flip conditions."""
    job = ("simulate DP { init t1 = grid(-3, 3, 4), t2 = grid(-2.9, 2.9, 3); time 0 .. 8, every 0.25\n"
           "  method %s, tol 1e-9\n  stop when abs(t1) - pi crosses 0 rising\n"
           "  stop when abs(t2) - pi crosses 0 rising\n  output \"OUT\"; events \"EV\" }\n" % method)
    return run(tmp, "dp_" + method + "_".join(extra).replace("-", ""), DOUBLE_PENDULUM + job, *extra)


def members(tmp):
    for method in ("rk8pd", "rkf45", "rkck", "rk4", "msadams"):
        p, js, rows, ev = grid_pendulums(method, tmp)
        name = "dp_" + method
        mine = {}
        for r in text_rows(os.path.join(tmp, name + ".csv"))[1:]:
            f = r.split(",")
            mine.setdefault(int(f[1]), []).append(",".join(f[:1] + f[2:]))
        evs = {int(r.split(",")[0]): r.split(",", 1)[1] for r in text_rows(os.path.join(tmp, name + "_ev.csv"))[1:]}
        good, why = p.returncode == 0 and len(mine) == 12 and 0 < len(evs) < 12, p.stderr
        for s, lines in sorted(mine.items()):
            start = lines[0].split(",")
            one = ("simulate DP { init t1 = %s, t2 = %s; time 0 .. 8, every 0.25\n  method %s, tol 1e-9\n"
                   "  stop when abs(t1) - pi crosses 0 rising\n  stop when abs(t2) - pi crosses 0 rising\n"
                   "  output \"OUT\"; events \"EV\" }\n" % (start[1], start[2], method))
            p1, js1, _, _ = run(tmp, "one", DOUBLE_PENDULUM + one)
            single = text_rows(os.path.join(tmp, "one.csv"))[1:]
            single_ev = [r.split(",", 1)[1] for r in text_rows(os.path.join(tmp, "one_ev.csv"))[1:]]
            if p1.returncode != 0 or single != lines or single_ev != ([evs[s]] if s in evs else []):
                good = False
                why += "trajectory %d differs from its single run:\n%s\n%s\n" % (s, lines[-1:], single[-1:])
        report(good, "%s: each of 12 double pendulums of a grid with flip conditions (%d flip) equals its single "
               "run bit for bit, event rows included" % (method, len(evs)), why)
    p1, _, rows1, ev1 = grid_pendulums("rk8pd", tmp)
    p2, _, rows2, ev2 = grid_pendulums("rk8pd", tmp, ("--native",))
    report(p1.returncode == 0 and p2.returncode == 0 and rows1 == rows2 and ev1 == ev2 and ev1
           and "interpreting instead" not in p2.stderr, "--native: the grid's rows and events are the VM's bit for bit",
           p2.stderr)


def grid_order(tmp):
    job = ("simulate Ball { init x = grid(0, 1, 3), y' = grid(-1, 2, 4), y = 5; time 0 .. 1, every 0.5\n"
           "  output \"OUT\" }\n")
    p, js, rows, _ = run(tmp, "order", PROJECTILE + job)
    first = [r for r in rows if num(r["t"]) == 0]
    want = [(0.5 * i, -1 + j) for i in range(3) for j in range(4)]
    good = p.returncode == 0 and js and js[0]["samples"] == 12 and len(first) == 12
    good = good and all(num(r["traj"]) == s and num(r["x"]) == want[s][0] and num(r["y'"]) == want[s][1]
                        and num(r["y"]) == 5 for s, r in enumerate(first))
    report(good, "grid(a, b, n) in init: 3 x 4 = 12 trajectories, trajectory i*4 + j starts at the i-th x and the "
           "j-th y', a + (b - a) i/(n - 1)", p.stderr)
    # samples agreeing with the grid is fine; the JSON lists at most 1000 events, counts them all
    job = ("simulate Ball { init y = grid(1, 2, 1001), y' = 1; samples 1001; time 0 .. 2, every 1\n"
           "  stop when y crosses 0 falling }\n")
    p, js, _, _ = run(tmp, "many", PROJECTILE + job)
    o = js[0] if js else {}
    times = [math.nan]
    good = p.returncode == 0 and o.get("events_count") == 1001 and "events" not in o
    job = job.replace("1001", "1000")
    p2, js2, _, _ = run(tmp, "many", PROJECTILE + job)
    o2 = js2[0] if js2 else {}
    if p2.returncode == 0 and "events" in o2:
        times = [e["t"] for e in o2["events"]]
        good = (good and [e["traj"] for e in o2["events"]] == list(range(len(times)))
                and o2["events_count"] == len(times))
    # y0 = 1 + i/999: the fall from y0 with y' = 1 lands at (1 + sqrt(1 + 2 g y0))/g
    want = [(1 + math.sqrt(1 + 2 * 9.81 * (1 + i / 999))) / 9.81 for i in range(len(times))]
    good = good and len(times) == 1000 and worst(err(t, w) for t, w in zip(times, want)) < 1e-10
    report(good, "1001 trajectories: events_count only (%s); 1000: each event listed, in trajectory order, at its "
           "closed form" % o.get("events_count"), p.stderr + p2.stderr)


def at_the_event(tmp):
    # a pendulum driven at its pivot: t in the system, so every value at the event needs the event's time
    driven = """system Driven {
    param g = 9.81, a = 0.3, w = 5
    coord th
    let py = a*cos(w*t)
    let x = sin(th)
    let y = py - cos(th)
    L = 0.5*(x'^2 + y'^2) - g*y
}
"""
    job = ("simulate Driven { init th = grid(0.5, 1, 3); time 0 .. 5, every 0.1; method rk8pd, tol 1e-11\n"
           "  stop when th crosses 0 falling\n  record when = t, drive = cos(5*t), acc = th''\n  output \"OUT\" }\n")
    p, js, rows, _ = run(tmp, "driven", driven + job)
    last = {}
    for r in rows:
        last[int(num(r["traj"]))] = r
    good = p.returncode == 0 and len(last) == 3 and js and js[0]["events_count"] == 3
    errs = []
    for s, r in last.items():
        t = num(r["t"])
        t_ev = js[0]["events"][s]["t"] if good else math.nan
        errs += [err(num(r["when"]), t), err(num(r["drive"]), math.cos(5 * t)), err(t, t_ev)]
        # th'' from the equation of motion at the event's time and state (th = 0)
        acc = -(9.81 - 0.3 * 25 * math.cos(5 * t)) * math.sin(num(r["th"]))
        errs.append(err(num(r["acc"]), acc))
    report(good and worst(errs) < 1e-9, "an explicit time: records (t, cos(5 t), th'') at the event row are at the "
           "event's time and state (worst %.3g)" % worst(errs), p.stderr)
    job = ("simulate Ball { init y = 3; time 0 .. 2, every 0.1\n  stop when sqrt(y) - 1e-300 crosses 0 falling\n"
           "  output \"OUT\" }\n")
    p, js, rows, _ = run(tmp, "nan", PROJECTILE + job)
    good = p.returncode == 0 and js and js[0]["events_count"] == 0 and js[0]["events"] == [] and len(rows) == 21
    good = good and js[0]["final"]["t"] == 2
    report(good, "a condition that turns NaN (sqrt of y < 0) never stops the trajectory: it runs to the end",
           p.stderr)


ERRORS = [
    ("stop when y crosses 1", "8:25: error: a stop condition crosses 0, not 1 (write 'stop when EXPR - 1 crosses 0')"),
    ("stop when z crosses 0", "8:15: error: unknown name 'z' (did you mean 'x'?)"),
    ("stop when y", "8:5: error: 'stop when' needs 'crosses 0' after the expression: 'stop when EXPR crosses 0'"),
    ("stop when y across 0", "8:17: error: expected 'crosses 0' after the expression of 'stop when', not 'across'"),
    ("stop when y crosses 0 up", "8:27: error: unknown direction 'up' of a crossing: 'rising' (upwards through 0) "
     "or 'falling' (downwards); without one, either way"),
    ("stop when y = 0", "8:17: error: a stop condition is 'stop when EXPR crosses 0' (for A = B write 'stop when "
     "A - B crosses 0')"),
    ("stop y", "8:5: error: 'stop' is written 'stop when EXPR crosses 0', with 'rising' or 'falling' after it for "
     "one direction only"),
    ("stop when y'' crosses 0", "8:15: error: 'y''' (an acceleration) is only allowed in a job's 'record' and in "
     "data columns"),
    ("stop when 2*pi crosses 0", "8:15: error: the condition of 'stop when' is the constant 6.28319: it never crosses "
     "0 (write an expression of the coordinates, velocities, parameters and t)"),
    ("stop when y crosses 0; method variational", "8:5: error: 'stop when' needs one of GSL's steppers: the "
     "variational integrator's fixed steps locate no events (use e.g. method rk8pd)"),
    ("events \"e.csv\"", "8:5: error: 'events' writes the events of 'stop when' or 'record when EXPR crosses 0', "
     "and this job has none"),
    ("record when y", "8:5: error: 'record when' needs 'crosses 0' after the expression: 'record when EXPR crosses 0'"),
    ("record when y crosses 1", "8:27: error: a record condition crosses 0, not 1 (write 'record when EXPR - 1 crosses "
     "0')"),
    ("record when y'' crosses 0", "8:17: error: 'y''' (an acceleration) cannot be in the condition of 'record when': "
     "a crossing is located on the coordinates and velocities (record it as a column: 'record name = y''')"),
    ("record when y crosses 0 down", "8:29: error: unknown direction 'down' of a crossing: 'rising' (upwards through "
     "0) or 'falling' (downwards); without one, either way"),
    ("record when y crosses 0; method variational", "8:5: error: 'record when' needs one of GSL's steppers: the "
     "variational integrator's fixed steps locate no events (use e.g. method rk8pd)"),
    ("init x = grid(0, 1, 3), y = grid(0, 1, 2); samples 5", "8:56: error: samples 5 contradicts the grid of starts in "
     "'init' (3 x 2 = 6 trajectories): leave 'samples' out"),
    ("init x = grid(1, 0, 3)", "8:14: error: grid(a, b, n) needs a < b (got 1 and 0)"),
    ("init x = grid(0, 1, 2.5)", "8:25: error: grid points must be a whole number from 2 to 10000000 (got 2.5)"),
    ("init x = 2*grid(0, 1, 3)", "8:16: error: unknown function 'grid' (grid(a, b, n) is a whole initial value in a "
     "simulate job's 'init': a grid of starts)"),
]


def bad_input(tmp):
    for i, (setting, want) in enumerate(ERRORS):
        text = PROJECTILE + "\nsimulate Ball {\n    %s\n    time 0 .. 1\n}\n" % setting
        p = run_lag(LAG, tmp, "bad%d" % i, text)
        first = p.stderr.splitlines()[0] if p.stderr else ""
        report(p.returncode == 1 and first == "%s:%s" % (os.path.join(tmp, "bad%d.lag" % i), want) and "^" in p.stderr,
               "bad input '%s': exit 1, %s" % (setting, want), "got exit %d:\n%s" % (p.returncode, p.stderr))
    # 'when' stays a name everywhere but after 'stop'
    text = "system W {\n    coord when\n    L = 0.5*when'^2 - 0.5*when^2\n}\nsimulate W { init when = 1; " \
           "time 0 .. 1\n  record w2 = when^2\n  stop when when crosses 0 }\n"
    p = run_lag(LAG, tmp, "when", text)
    report(p.returncode == 0, "a coordinate named 'when' works in init, record and after 'stop when'", p.stderr)


def mpi(tmp):
    what = ("the chaos map (30 x 30) under mpirun: its CSV, events CSV, figure and JSON are the bytes of one "
            "process for 1 and 2 ranks")
    cmd = mpi_launcher(LAG, [what])
    if not cmd:
        return
    with open(os.path.join(SRCDIR, "examples", "chaos_map.lag")) as f:
        text = f.read().replace("const N = 100 ", "const N = 30 ").replace("const T = 10 ", "const T = 6 ")
    good, why, files, _ = mpi_same(LAG, cmd, tmp, "chaos", text, (1, 2))
    good = good and set(files) == {"chaos_map.csv", "chaos_map_flips.csv", "chaos_map.png"}
    report(good and len(files.get("chaos_map_flips.csv", b"")) > 100, what, why)


OSCILLATOR = """system HO {
    param w = 2
    coord x
    L = 0.5*x'^2 - 0.5*w^2*x^2
}
"""


def events_of(js):
    return js[0].get("events", []) if js else []


def record_oscillator(tmp):
    """x = cos(w t): x crosses 0 at (k + 1/2) pi/w, falling for even k, rising for odd."""
    w = 2.0
    want = [(k + 0.5) * math.pi / w for k in range(7)]  # t < 11
    base = "simulate HO { init x = 1; time 0 .. 11, every 0.25; method rk8pd, tol 1e-12\n%s  output \"OUT\"; events \"EV\" }\n"
    p0, _, plain, _ = run(tmp, "ho_plain", OSCILLATOR + (base % "").replace("; events \"EV\"", ""))
    conds = "  record when x crosses 0 rising\n  record when x crosses 0 falling\n"
    p, js, rows, ev = run(tmp, "ho", OSCILLATOR + base % conds)
    times = [num(r["t"]) for r in ev] if p.returncode == 0 and len(ev) == len(want) else [math.nan]
    e = worst(err(t, t0) for t, t0 in zip(times, want)) if len(times) == len(want) else math.inf
    kinds = [r["record"] for r in ev]
    good = (e < 1e-10 and kinds == ["2", "1"] * 3 + ["2"] and list(ev[0].keys()) == ["traj", "t", "x", "x'", "record"]
            and worst(err(num(r["x"]), 0) for r in ev) < 1e-10
            and worst(err(num(r["x'"]), w if k % 2 else -w) for k, r in enumerate(ev)) < 1e-9)
    report(good, "harmonic oscillator: x crosses 0 at (k + 1/2) pi/w, falling (condition 2) and rising (1) in turn, "
           "the state there x = 0, x' = -+w (worst time error %.3g)" % e, p.stderr + str(ev[:3]))
    o = js[0] if js else {}
    good = (o.get("events_count") == 7 and [x["t"] for x in events_of(js)] == times
            and all(x["kind"] == "record" and x["when"] == "x" for x in events_of(js)) and o["final"]["t"] == 11)
    report(good, "--json: the recorded events with their times, kind record and the condition; the run goes on to the "
           "end (final.t 11)", str(o))
    same = p0.returncode == 0 and text_rows(os.path.join(tmp, "ho_plain.csv")) == text_rows(os.path.join(tmp, "ho.csv"))
    report(same and len(rows) == 45, "with record when, the trajectory's rows are the run's without it, bit for bit "
           "(the integration goes on from each step's end)", p0.stderr)
    # each filter alone, and either way
    for cond, ks in (("rising", range(1, 7, 2)), ("falling", range(0, 7, 2)), ("", range(7))):
        p, js, _, ev = run(tmp, "ho1", OSCILLATOR + base % ("  record when x crosses 0 %s\n" % cond))
        times = [num(r["t"]) for r in ev] if p.returncode == 0 else []
        wk = [want[k] for k in ks]
        e = worst(err(t, t0) for t, t0 in zip(times, wk)) if len(times) == len(wk) else math.inf
        report(e < 1e-10 and "record" in ev[0] and all(r["record"] == "1" for r in ev),
               "record when x crosses 0 %s: the %d crossings that way (worst %.3g)" % (cond or "(either way)",
                                                                                         len(wk), e), p.stderr)


def section_figure(tmp):
    """plot with record when: the Poincaré section is drawn (a PNG); without crossings, the usual figure."""
    job = ("simulate DP { init t1 = 0, t2 = grid(0.5, 1.5, 3); time 0 .. 30, every 30; method rk8pd, tol 1e-9\n"
           "  record when t1 crosses 0 rising; events \"EV\"; plot \"sec.png\" }\n")
    p, js, _, ev = run(tmp, "sec", DOUBLE_PENDULUM + job)
    path = os.path.join(tmp, "sec.png")
    png = open(path, "rb").read(8) if os.path.exists(path) else b""
    good = p.returncode == 0 and png == b"\x89PNG\r\n\x1a\n" and len(ev) > 30
    good = good and all(close(num(r["t1"]), 0, 1e-9) and num(r["t1'"]) > 0 for r in ev)
    report(good, "a grid of 3 double pendulums with record when t1 crosses 0 rising: every crossing at t1 = 0 with "
           "t1' > 0, and the section drawn as a PNG", p.stderr)
    os.remove(path) if os.path.exists(path) else None
    p, js, _, ev = run(tmp, "nosec", DOUBLE_PENDULUM + job.replace("t1 crosses", "t1 - 5 crosses"))
    report(p.returncode == 0 and os.path.exists(path) and ev == [] and js[0]["events_count"] == 0,
           "no crossing recorded: no event rows, the usual figure drawn", p.stderr)


def record_pendulum(tmp):
    """Zero crossings of a pendulum at amplitude A: T/4 + k T/2, T = 4 sqrt(l/g) K(sin(A/2))."""
    g, l, A = 9.81, 1.3, 0.3
    q = pendulum_quarter_period(A, g, l)
    want = [q + 2 * q * k for k in range(int((20 - q) / (2 * q)) + 1)]
    job = ("simulate Pend { init th = %r; time 0 .. 20, every 0.1; method rk8pd, tol 1e-12\n"
           "  record when th crosses 0\n  events \"EV\" }\n" % A)
    p, js, _, ev = run(tmp, "pend_rec", PENDULUM + job)
    times = [num(r["t"]) for r in ev] if p.returncode == 0 else []
    e = worst(err(t, t0) for t, t0 in zip(times, want)) if len(times) == len(want) else math.inf
    report(e < 1e-9 and len(want) > 8 and js and js[0]["events_count"] == len(want),
           "pendulum at A = %g: %d zero crossings at T/4 + k T/2 with the exact period T = %.12g "
           "(elliptic K by the AGM; worst %.3g)" % (A, len(want), 4 * q, e), p.stderr)


def record_and_stop(tmp):
    g, y0, v0 = 9.81, 10.0, 3.0
    land = (v0 + math.sqrt(v0 * v0 + 2 * g * y0)) / g
    # rk8pd is exact on a parabola: its steps grow to span several seconds, so that
    # x = 1.9 is crossed on the step that lands
    job = ("simulate Ball { init x' = 1, y = %g, y' = %g; time 0 .. 5, every 5; method rk8pd, tol 1e-10\n"
           "  record when x - 1 crosses 0\n  record when y' crosses 0 falling\n  stop when y crosses 0 falling\n"
           "  record when x - 1.9 crosses 0\n  output \"OUT\"; events \"EV\" }\n" % (y0, v0))
    p, js, rows, ev = run(tmp, "mixed", PROJECTILE + job)
    good = p.returncode == 0 and len(ev) == 3 and list(ev[0].keys()) == ["traj", "t", "x", "y", "x'", "y'", "record",
                                                                         "stop"]
    want = [(v0 / g, "2", "0"), (1.0, "1", "0"), (land, "0", "1")]
    e = math.inf
    if good:
        e = worst(err(num(r["t"]), t) for r, (t, _, _) in zip(ev, want))
        good = [(r["record"], r["stop"]) for r in ev] == [(a, b) for _, a, b in want]
        good = good and close(num(ev[1]["x"]), 1, 1e-12) and close(num(ev[0]["y'"]), 0, 1e-12)
        good = good and close(num(ev[2]["y"]), 0, 1e-9) and num(rows[-1]["t"]) == num(ev[2]["t"])
        o = js[0]
        good = good and o["events_count"] == 3 and [x["kind"] for x in o["events"]] == ["record", "record", "stop"]
        good = good and [x["when"] for x in o["events"]] == ["y'", "x - 1", "y"] and o["final"]["t"] == num(ev[2]["t"])
    report(good and e < 1e-10, "record when mixed with stop when: the apex (y' falling) and x = 1 recorded, the landing "
           "stops, in the order of time (worst %.3g); x = 1.9, crossed on the landing's step after it, is not listed"
           % e, p.stderr + str(ev))
    # a crossing exactly at an output time, recorded and stopping at once
    job = ("simulate Ball { init x' = 1, y = 10; time 0 .. 2, every 0.5\n  record when t - 1 crosses 0\n"
           "  record when t - 1.5 crosses 0 falling\n  output \"OUT\"; events \"EV\" }\n")
    p, js, rows, ev = run(tmp, "at_out", PROJECTILE + job)
    good = (p.returncode == 0 and [r["t"] for r in ev] == ["1"] and [r["t"] for r in rows] == ["0", "0.5", "1", "1.5",
                                                                                                "2"]
            and js[0]["events"] == [{"t": 1.0, "when": "t - 1", "kind": "record"}])
    report(good, "a crossing exactly at an output time (t - 1, every 0.5) is listed once, at t = 1; one the other way "
           "(t - 1.5 falling) never", p.stderr + str(ev))
    job = ("simulate Ball { init x' = 1, y = 10; time 0 .. 2, every 0.5\n  stop when t - 1 crosses 0\n"
           "  record when t - 1 crosses 0\n  output \"OUT\"; events \"EV\" }\n")
    p, js, rows, ev = run(tmp, "both", PROJECTILE + job)
    good = (p.returncode == 0 and [(r["t"], r["record"], r["stop"]) for r in ev] == [("1", "1", "0"), ("1", "0", "1")]
            and rows[-1]["t"] == "1" and js[0]["events_count"] == 2)
    report(good, "a record and a stop at the same time: both listed, the record first, the run ends there",
           p.stderr + str(ev))
    # the newline rule: 'record when' at the end of a line goes on
    job = "simulate Ball { init y = 1; time 0 .. 1\n  record when\n    y - 0.5 crosses 0; events \"EV\" }\n"
    p, js, _, ev = run(tmp, "nl", PROJECTILE + job)
    want = math.sqrt(2 * 0.5 / 9.81)
    report(p.returncode == 0 and len(ev) == 1 and close(num(ev[0]["t"]), want, 1e-7),
           "'record when' with its condition on the next line; y0 = 1 falls to 0.5 at sqrt(2 0.5/g)", p.stderr)


RECORD_GRID = ("simulate DP { init t1 = %s, t2 = %s; time 0 .. 8, every 0.25\n  method %s, tol 1e-9\n"
               "  record when t1 crosses 0 rising\n  record when t2 crosses 0\n"
               "  stop when abs(t1) - pi crosses 0 rising\n  output \"OUT\"; events \"EV\" }\n")


def record_members(tmp):
    for method in ("rk8pd", "rkf45", "rkck", "msadams"):
        p, js, rows, ev = run(tmp, "rg_" + method, DOUBLE_PENDULUM + RECORD_GRID % ("grid(-3, 3, 4)",
                                                                                     "grid(-2.9, 2.9, 3)", method))
        evs = {}
        for r in text_rows(os.path.join(tmp, "rg_%s_ev.csv" % method))[1:]:
            evs.setdefault(int(r.split(",")[0]), []).append(r.split(",", 1)[1])
        starts = {int(num(r["traj"])): (r["t1"], r["t2"]) for r in rows if r["t"] == "0"}
        nstop = sum(1 for x in events_of(js) if x["kind"] == "stop")
        good, why = p.returncode == 0 and len(starts) == 12 and 0 < nstop < 12 and len(evs) == 12, p.stderr
        count = 0
        for s, (a, b) in sorted(starts.items()):
            p1, js1, _, _ = run(tmp, "rone", DOUBLE_PENDULUM + RECORD_GRID % (a, b, method))
            single = [r.split(",", 1)[1] for r in text_rows(os.path.join(tmp, "rone_ev.csv"))[1:]]
            count += len(single)
            if p1.returncode != 0 or single != evs.get(s):
                good = False
                why += "trajectory %d: events differ from its single run:\n%s\n%s\n" % (s, evs.get(s), single)
        good = good and js[0]["events_count"] == count
        report(good, "%s: each of 12 double pendulums with record and stop conditions has its single run's %d event "
               "rows bit for bit (%d stopped)" % (method, count, nstop), why)


def mpi_record(tmp):
    what = "record when and stop when over a grid under mpirun: the CSV, events CSV and JSON of one process"
    cmd = mpi_launcher(LAG, [what, "compare with record when under mpirun"])
    if not cmd:
        return
    text = DOUBLE_PENDULUM + RECORD_GRID.replace("OUT", "r.csv").replace("EV", "r_ev.csv") % (
        "grid(-3, 3, 5)", "grid(-2.9, 2.9, 4)", "rk8pd")
    good, why, files, _ = mpi_same(LAG, cmd, tmp, "rmpi", text, (1, 2))
    report(good and len(files.get("r_ev.csv", b"")) > 1000, what, why)
    what = "compare with record when under mpirun (5 starts): the JSON and summary of one process"
    pend = "".join(PENDULUM.replace("Pend", name).replace("g = 9.81", "g = %r" % g)
                   for name, g in (("P1", 9.81), ("P2", 9.5)))
    text = pend + ("compare P1, P2 { init th = uniform(1, 2.5); samples 5; time 0 .. 5, every 0.05\n"
                   "  record when th crosses 0 falling\n  record when th' crosses 0\n  output \"c\" }\n")
    good, why, files, _ = mpi_same(LAG, cmd, tmp, "cmpi", text, (1, 2))
    summary = files.get("c_summary.json", {})
    report(good and summary and summary["models"]["P2"]["events_count"] > 10, what, why)


def compare_events(tmp):
    """compare with record when: each model's crossings along its own trajectory, and its first crossing's time
    against the reference's (pendulums of three g released at rest from 2: th = 0 a quarter period later)."""
    pend = "".join(PENDULUM.replace("Pend", name).replace("g = 9.81", "g = %r" % g)
                   for name, g in (("P1", 9.81), ("P2", 9.5), ("P3", 12.0)))
    job = ("compare P1, P2, P3 { init th = 2; time 0 .. 5, every 0.05; method rk8pd, tol 1e-11\n"
           "  record when th crosses 0 falling\n  record when th' - 4.8 crosses 0 }\n")
    p, js = run_json(LAG, tmp, "cmp_ev.lag", pend + job)
    ms = js[0]["models"] if p.returncode == 0 and js else {}
    q = {name: pendulum_quarter_period(2.0, g, 1.3) for name, g in (("P1", 9.81), ("P2", 9.5), ("P3", 12.0))}
    good, errs = len(ms) == 3, []
    for name in ("P1", "P2", "P3") if good else ():
        m = ms[name]
        first = [e["t"] for e in m.get("events", []) if e["when"] == "th"]
        errs.append(err(first[0], q[name]) if first else math.inf)
        # th falling at q, 5 q, ... before t = 5
        good = good and len(first) == len([k for k in range(4) if q[name] * (1 + 4 * k) < 5])
    good = good and ms["P1"]["first_event_dt"] == 0 and ms["P1"]["first_event_unmatched"] == 0
    dt = ms["P2"]["first_event_dt"] if good else math.nan
    good = good and close(dt, q["P2"] - q["P1"], 1e-9) and ms["P2"]["first_event_unmatched"] == 0
    # only P3 (the largest g) swings faster than 4.8 at the bottom: th' - 4.8 is crossed by it alone
    good = good and ms["P3"]["first_event_unmatched"] == 1 and close(ms["P3"]["first_event_dt"], q["P3"] - q["P1"],
                                                                       1e-9)
    good = good and ms["P3"]["events_count"] == len(ms["P3"]["events"]) > len(ms["P1"]["events"])
    report(good and worst(errs) < 1e-9, "compare with record when: each model's first th = 0 at its quarter period "
           "K sqrt(l/g) (worst %.3g), first_event_dt = t_model - t_ref (%.6g), a condition only one crosses "
           "unmatched" % (worst(errs), dt), p.stderr + str(ms)[:1500])
    errors = [
        ("record when g*th crosses 0", "12:13: error: 'g' is the reference's own: in a compare job each model "
         "evaluates the condition of 'record when' on its own state, so it is an expression of the coordinates, "
         "velocities and t"),
        ("record a = th", "12:1: error: 'record' is written 'record when EXPR crosses 0', with 'rising' or 'falling' "
         "after it for one direction only"),
        ("record when th crosses 0; method variational", "12:1: error: 'record when' needs one of GSL's steppers: the "
         "variational integrator's fixed steps locate no events (use e.g. method rk8pd)"),
    ]
    for i, (setting, want) in enumerate(errors):
        text = pend[:pend.index("system P3")] + "compare P1, P2 { init th = 1; time 0 .. 1\n%s }\n" % setting
        p = run_lag(LAG, tmp, "cbad%d" % i, text)
        first = p.stderr.splitlines()[0] if p.stderr else ""
        report(p.returncode == 1 and first == "%s:%s" % (os.path.join(tmp, "cbad%d.lag" % i), want),
               "compare, bad input '%s': exit 1, %s" % (setting, want), "got exit %d:\n%s" % (p.returncode, p.stderr))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        projectile(tmp)
        pendulum(tmp)
        members(tmp)
        grid_order(tmp)
        at_the_event(tmp)
        bad_input(tmp)
        record_oscillator(tmp)
        record_pendulum(tmp)
        section_figure(tmp)
        record_and_stop(tmp)
        record_members(tmp)
        compare_events(tmp)
        mpi(tmp)
        mpi_record(tmp)
    finish()


if __name__ == "__main__":
    main()
