#!/usr/bin/env python3
"""tests/modes.py — `lag modes FILE SYSTEM`: equilibria and normal modes (TAP).

1. The double pendulum, equal masses and lengths: w^2 = (g/l)(2 -+ sqrt 2)
   to 1e-10, shapes (1, +-sqrt 2)/sqrt 2 (t1 to t2), from the origin and
   from a start Newton must walk back from; --set changes g and l.
2. A single pendulum: w = sqrt(g/l), period 2 pi sqrt(l/g); upside down
   (--at th=3) Newton finds th = pi, w^2 = -g/l: an imaginary frequency
   ("...i" in the text; frequency 0 and growth rate sqrt(g/l) in the JSON).
3. A triple pendulum with unequal masses and lengths written as
   T = sum m_k |r_k'|^2 / 2 in Cartesian components: the linearised M and
   K written here by hand (M_ij = l_i l_j sum_{k >= max(i,j)} m_k,
   K_ii = g l_i sum_{k >= i} m_k), the eigenvalues of the 3x3 pencil from
   its characteristic polynomial (Viete's trigonometric roots, refined by
   Newton steps); lag's shapes satisfy K v = w^2 M v.
4. A pendulum on a hoop spinning at W (m, R not 1): below the critical
   spin W^2 = g/R the bottom is stable with w^2 = g/R - W^2; above it the
   bottom is unstable with that (negative) w^2, and --at picks a side
   equilibrium cos th* = g/(R W^2), w^2 = W^2 sin^2 th*, either side.
5. A free particle (K = 0: neutral zero frequencies), an accel system
   (M = identity, a note about it and about its damping), a learned
   system whose potential and kinetic energy are nets with hand-set
   weights (softplus: V''(0) = a/2 for V = a (sp(x) + sp(-x))); a
   magnetic field (the gyroscopic note, w^2 = k twice) and a circulatory
   force (the warning that K is not symmetric, the modes of its symmetric
   part w^2 = k -+ c/2, the dissipation noted as damping).
6. Errors: an unknown system (exit 2, "did you mean"), Newton failures
   (exit 3: a constant force, an exponential pushing away forever), a
   singular mass matrix at the equilibrium (exit 3), bad --at (a name
   that is no coordinate, a velocity, not a number: exit 2), a parameter
   without a value, --set of another system, a missing system argument,
   a missing weights file (exit 4, located).

Every number goes through lagtest.close/worst, so a NaN never passes.
"""
import json
import math
import os
import subprocess
import tempfile

from lagtest import close, err, finish, lagw, program, report, worst

LAG, SRCDIR = program()
LAG = os.path.abspath(LAG)

SOURCE = """system DP {
    param m = 1, l = 1, g = 9.81
    coord t1, t2
    L = 0.5*2*m*l^2*t1'^2 + 0.5*m*l^2*t2'^2 + m*l^2*t1'*t2'*cos(t1 - t2)
      + 2*m*g*l*cos(t1) + m*g*l*cos(t2)
}
system Pend {
    param g = 9.81, l = 1.3
    coord th
    L = 0.5*l^2*th'^2 + g*l*cos(th)
}
system Triple {
    param m1 = 1.3, m2 = 0.7, m3 = 0.45, l1 = 1.1, l2 = 0.8, l3 = 0.6, g = 9.81
    coord a, b, c
    let x1d = l1*cos(a)*a'
    let y1d = l1*sin(a)*a'
    let x2d = x1d + l2*cos(b)*b'
    let y2d = y1d + l2*sin(b)*b'
    let x3d = x2d + l3*cos(c)*c'
    let y3d = y2d + l3*sin(c)*c'
    let y1 = -l1*cos(a)
    let y2 = y1 - l2*cos(b)
    let y3 = y2 - l3*cos(c)
    L = 0.5*m1*(x1d^2 + y1d^2) + 0.5*m2*(x2d^2 + y2d^2) + 0.5*m3*(x3d^2 + y3d^2)
      - g*(m1*y1 + m2*y2 + m3*y3)
}
system Hoop {
    param m = 0.3, R = 0.8, g = 9.81, W = 2
    coord th
    L = 0.5*m*R^2*(th'^2 + W^2*sin(th)^2) + m*g*R*cos(th)
}
system Free {
    param m = 2
    coord x, y
    L = 0.5*m*(x'^2 + y'^2)
}
system Acc {
    param k = 4, c = 0.1
    coord x
    accel x = -k*x - c*x'
}
system NetV {
    coord x
    net V = mlp(in = 1, hidden = [2], out = 1, activation = softplus, weights = "v.lagw")
    L = 0.5*x'^2 - V(x)
}
system NetT {
    param k = 3
    coord x, y
    net T = mlp(in = 1, hidden = [2], out = 1, activation = softplus, weights = "v.lagw")
    L = T(x') + 0.5*y'^2 - 0.5*k*x^2 - 0.5*(y - x)^2
}
system Magnet {
    param B = 0.8, k = 2
    coord x, y
    L = 0.5*(x'^2 + y'^2) + 0.5*B*(x*y' - y*x') - 0.5*k*(x^2 + y^2)
}
system Circ {
    param k = 2, c = 0.5
    coord x, y
    L = 0.5*(x'^2 + y'^2) - 0.5*k*(x^2 + y^2)
    force x = c*y
    dissipation D = 0.05*x'^2
}
system Const {
    coord x
    L = 0.5*x'^2 - x
}
system Push {
    coord x
    L = 0.5*x'^2 - exp(x)
}
system Sing {
    coord x
    L = 0.5*x^2*x'^2 - 0.5*x^2
}
system Sym {
    param k
    coord x
    L = 0.5*x'^2 - 0.5*k*x^2
}
"""


def modes(tmp, system, *args, json_out=True):
    """Run lag modes on the test file: (process, the JSON object or None)."""
    cmd = [LAG, "modes", os.path.join(tmp, "m.lag"), system, *args] + (["--json"] if json_out else [])
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=60)
    obj = None
    if json_out and p.returncode == 0:
        try:
            obj = json.loads(p.stdout)
        except ValueError:
            obj = None
    return p, obj


def values(obj, key):
    """A list of numbers of the JSON (inf for a null, so it never passes)."""
    return [math.inf if v is None else v for v in obj[key]] if obj else []


def double_pendulum(tmp):
    for g, l, args in ((9.81, 1.0, ()), (9.81, 1.0, ("--at", "t1=0.4,t2=-0.3")),
                       (3.7, 0.6, ("--set", "DP.g=3.7", "--set", "DP.l=0.6"))):
        p, o = modes(tmp, "DP", *args)
        want = [g / l * (2 - math.sqrt(2)), g / l * (2 + math.sqrt(2))]
        w2 = values(o, "omega2")
        fr = values(o, "frequencies")
        e = worst([err(a, b) for a, b in zip(w2, want)] + [err(a, math.sqrt(b)) for a, b in zip(fr, want)]
                  + [0 if len(w2) == 2 and len(fr) == 2 else math.inf])
        shapes = o["modes"] if o else []
        es = worst([err(shapes[0][0], 1 / math.sqrt(2)), err(shapes[0][1], 1),
                    err(shapes[1][0], -1 / math.sqrt(2)), err(shapes[1][1], 1)]) if len(shapes) == 2 else math.inf
        eq = worst([err(o["equilibrium"]["t1"], 0), err(o["equilibrium"]["t2"], 0)]) if o else math.inf
        report(e <= 1e-10 and es <= 1e-10 and eq <= 1e-12 and o["stable"] is True,
               "double pendulum (g = %g, l = %g%s): w^2 = (g/l)(2 -+ sqrt 2) (error %.2g), shapes (+-1/sqrt 2, 1) "
               "(%.2g), equilibrium at 0" % (g, l, ", from " + args[1] if args and args[0] == "--at" else "", e, es),
               p.stderr + p.stdout)


def pendulum(tmp):
    g, l = 9.81, 1.3
    p, o = modes(tmp, "Pend", "--at", "th=0.5")
    w = math.sqrt(g / l)
    good = o and close(values(o, "frequencies")[0], w, 1e-12) and close(values(o, "periods")[0], 2 * math.pi / w,
                                                                          1e-11)
    good = good and close(o["equilibrium"]["th"], 0, 1e-12) and o["stability"] == ["stable"] and o["iterations"] > 0
    report(good, "pendulum: w = sqrt(g/l), period 2 pi sqrt(l/g), Newton from th = 0.5 back to 0", p.stderr + p.stdout)
    p, o = modes(tmp, "Pend", "--at", "th=3")
    good = o and close(o["equilibrium"]["th"], math.pi, 1e-12) and close(values(o, "omega2")[0], -g / l, 1e-12)
    good = good and close(values(o, "growth_rates")[0], w, 1e-12) and values(o, "frequencies") == [0]
    good = good and o["periods"] == [None] and o["stability"] == ["unstable"] and o["stable"] is False
    report(good, "inverted pendulum: th = pi, w^2 = -g/l, frequency 0, growth rate sqrt(g/l), unstable",
           p.stderr + p.stdout)
    p, _ = modes(tmp, "Pend", "--at", "th=3", json_out=False)
    line = [s for s in p.stdout.splitlines() if s.strip().startswith("1 ")]
    want = "%.10gi" % w
    report(p.returncode == 0 and line and want in line[0] and "unstable" in line[0] and "unstable: 1 direction"
           in p.stdout and "th = 3.141592654" in p.stdout,
           "inverted pendulum, text: the frequency printed as %s, the mode unstable" % want, p.stdout + p.stderr)


def characteristic_roots(M, K):
    """The three roots of det(K - x M) = 0 (real: M, K symmetric, M > 0)."""
    def det(A):
        return (A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) - A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0])
                + A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]))

    def p(x):
        return det([[K[i][j] - x * M[i][j] for j in range(3)] for i in range(3)])
    # p(x) = c3 x^3 + c2 x^2 + c1 x + c0 from four values (exact for a cubic)
    xs = [0.0, 1.0, -1.0, 2.0]
    ys = [p(x) for x in xs]
    c0 = ys[0]
    # p(1) + p(-1) = 2 c2 + 2 c0; p(1) - p(-1) = 2 c3 + 2 c1; p(2) = 8 c3 + 4 c2 + 2 c1 + c0
    c2 = (ys[1] + ys[2]) / 2 - c0
    s = (ys[1] - ys[2]) / 2
    c3 = (ys[3] - 4 * c2 - c0 - 2 * s) / 6
    c1 = s - c3
    a, b, c = c2 / c3, c1 / c3, c0 / c3
    # Viete: x = t - a/3, t^3 + P t + Q = 0 with three real roots
    P = b - a * a / 3
    Q = 2 * a ** 3 / 27 - a * b / 3 + c
    r = 2 * math.sqrt(-P / 3)
    phi = math.acos(max(-1.0, min(1.0, 3 * Q / (P * r))))
    roots = sorted(r * math.cos((phi - 2 * math.pi * k) / 3) - a / 3 for k in range(3))
    refined = []
    for x in roots:
        for _ in range(3):
            h = 1e-6 * max(1.0, abs(x))
            dp = (p(x + h) - p(x - h)) / (2 * h)
            x -= p(x) / dp
        refined.append(x)
    return refined


def triple(tmp):
    m = [1.3, 0.7, 0.45]
    l = [1.1, 0.8, 0.6]
    g = 9.81
    M = [[l[i] * l[j] * sum(m[max(i, j):]) for j in range(3)] for i in range(3)]
    K = [[g * l[i] * sum(m[i:]) if i == j else 0.0 for j in range(3)] for i in range(3)]
    want = characteristic_roots(M, K)
    p, o = modes(tmp, "Triple", "--at", "a=0.2,b=-0.1,c=0.3")
    w2 = values(o, "omega2")
    e = worst([err(x, y) / y for x, y in zip(w2, want)] + [0 if len(w2) == 3 else math.inf])
    # lag's shapes: |K v - w^2 M v| small against |K| |v|
    res = math.inf
    if o and len(o["modes"]) == 3:
        res = 0.0
        for k, v in enumerate(o["modes"]):
            for i in range(3):
                r = sum((K[i][j] - w2[k] * M[i][j]) * v[j] for j in range(3))
                res = worst([abs(r) / (g * l[0] * sum(m))], res)
    mm = worst([err(o["mass_matrix"][i][j], M[i][j]) for i in range(3) for j in range(3)]) if o else math.inf
    report(e <= 1e-10 and res <= 1e-10 and mm <= 1e-12,
           "triple pendulum (unequal masses, lengths): w^2 against the roots of det(K - w^2 M) written by hand "
           "(relative error %.2g), K v = w^2 M v for the shapes (%.2g), M at rest (%.2g)" % (e, res, mm),
           p.stderr + p.stdout + " want %r" % want)


def hoop(tmp):
    m, R, g = 0.3, 0.8, 9.81
    crit = math.sqrt(g / R)
    for W in (0.5 * crit, 0.9 * crit):
        p, o = modes(tmp, "Hoop", "--set", "Hoop.W=%r" % W, "--at", "th=0.7")
        good = o and close(o["equilibrium"]["th"], 0, 1e-10) and close(values(o, "omega2")[0], g / R - W * W, 1e-10)
        report(good and o["stable"] is True, "hoop below the critical spin (W = %.2f sqrt(g/R)): the bottom is stable, "
               "w^2 = g/R - W^2" % (W / crit), p.stderr + p.stdout)
    W = 1.6 * crit
    p, o = modes(tmp, "Hoop", "--set", "Hoop.W=%r" % W)
    good = o and o["equilibrium"]["th"] == 0 and close(values(o, "omega2")[0], g / R - W * W, 1e-10)
    report(good and o["stability"] == ["unstable"] and close(values(o, "growth_rates")[0], math.sqrt(W * W - g / R),
                                                             1e-10),
           "hoop above the critical spin: the bottom is unstable, w^2 = g/R - W^2 < 0", p.stderr + p.stdout)
    ths = math.acos(g / (R * W * W))
    for start in (1.0, -0.9):
        p, o = modes(tmp, "Hoop", "--set", "Hoop.W=%r" % W, "--at", "th=%r" % start)
        want = math.copysign(ths, start)
        good = o and close(o["equilibrium"]["th"], want, 1e-12)
        good = good and close(values(o, "omega2")[0], W * W * math.sin(ths) ** 2, 1e-10) and o["stable"] is True
        report(good, "hoop above the critical spin, --at th=%g: the side equilibrium cos th = g/(R W^2) (th = %.6f), "
               "stable with w^2 = W^2 sin^2 th" % (start, want), p.stderr + p.stdout)


def others(tmp):
    p, o = modes(tmp, "Free", "--at", "x=1,y=-2")
    good = o and values(o, "omega2") == [0, 0] and o["stability"] == ["neutral", "neutral"]
    good = good and o["equilibrium"] == {"x": 1, "y": -2} and o["mass_matrix"] == [[2, 0], [0, 2]]
    report(good, "free particle: K = 0, two neutral zero frequencies, every point an equilibrium (stays at --at)",
           p.stderr + p.stdout)
    p, o = modes(tmp, "Acc", "--at", "x=0.5")
    good = o and close(values(o, "frequencies")[0], 2, 1e-12) and o["damping"] is True
    good = good and "accel system" in p.stderr and "damping" in p.stderr and len(o["warnings"]) == 2
    report(good, "accel system: M = identity, K = -d(q'')/dq: w = sqrt(k); notes about M and the damping",
           p.stderr + p.stdout)
    a = 8.0
    with open(os.path.join(tmp, "v.lagw"), "wb") as f:
        f.write(lagw([("W1", 2, 1, [1, -1]), ("b1", 2, 1, [0, 0]), ("W2", 1, 2, [a, a]), ("b2", 1, 1, [0])]))
    p, o = modes(tmp, "NetV", "--at", "x=0.4")
    good = o and close(o["equilibrium"]["x"], 0, 1e-12) and close(values(o, "omega2")[0], a / 2, 1e-12)
    report(good and o["iterations"] > 1,
           "learned potential (a softplus net, hand-set weights): Newton through the net from x = 0.4 to 0, "
           "w^2 = V''(0) = a/2", p.stderr + p.stdout)
    # M = diag(a/2, 1) from a net kinetic energy, K = [[k + 1, -1], [-1, 1]]
    k = 3.0
    M = [a / 2, 1.0]
    tr = (k + 1) / M[0] + 1 / M[1]
    dt = k / (M[0] * M[1])
    want = [(tr - math.sqrt(tr * tr - 4 * dt)) / 2, (tr + math.sqrt(tr * tr - 4 * dt)) / 2]
    p, o = modes(tmp, "NetT", "--at", "x=0.3,y=0.1")
    w2 = values(o, "omega2")
    e = worst([err(x, y) for x, y in zip(w2, want)] + [0 if len(w2) == 2 else math.inf])
    good = o and e <= 1e-12 and close(o["mass_matrix"][0][0], a / 2, 1e-12)
    report(good, "learned kinetic energy (a net of x'): M = T''(0) = a/2 through the net, w^2 of the coupled "
           "pair (error %.2g)" % e, p.stderr + p.stdout)


def notes(tmp):
    p, o = modes(tmp, "Magnet", "--at", "x=0.2,y=0.1")
    good = o and worst([err(v, 2) for v in values(o, "omega2")] + [0 if len(o["omega2"]) == 2 else math.inf]) <= 1e-12
    good = good and o["gyroscopic"] is True and o["damping"] is False and "gyroscopic coupling" in p.stderr
    report(good, "a magnetic field: the gyroscopic coupling B is reported as a note; the modes are those of "
           "K v = w^2 M v (w^2 = k twice)", p.stderr + p.stdout)
    # K = [[k, -c], [0, k]]: its symmetric part [[k, -c/2], [-c/2, k]] has w^2 = k -+ c/2
    p, o = modes(tmp, "Circ")
    w2 = values(o, "omega2")
    e = worst([err(a, b) for a, b in zip(w2, [2 - 0.25, 2 + 0.25])] + [0 if len(w2) == 2 else math.inf])
    good = o and e <= 1e-12 and o["damping"] is True and "K = -df/dq is not symmetric" in p.stderr
    report(good, "a circulatory force c y on x: a warning that K is not symmetric, the modes of its symmetric "
           "part (w^2 = k -+ c/2); the dissipation noted as damping", p.stderr + p.stdout)


def errors(tmp):
    path = os.path.join(tmp, "m.lag")
    cases = [
        (("Hop",), 2, "lag: modes: no system 'Hop' in the program (did you mean 'Hoop'?)"),
        (("Const",), 3, "lag: modes Const: no equilibrium found from x = 0: df/dq is singular there and f has a "
                        "part it cannot cancel"),
        (("Push",), 3, "lag: modes Push: no equilibrium found from x = 0: 100 iterations did not converge"),
        (("Sing", "--at", "x=0.5"), 3, "lag: modes Sing: the mass matrix is singular at the equilibrium"),
        (("Hoop", "--at", "tj=1"), 2, "lag: modes: --at 'tj=1': 'tj' is not a coordinate of 'Hoop' "
                                      "(did you mean 'th'?)"),
        (("Triple", "--at", "a=1,zz=2"), 2, "lag: modes: --at 'a=1,zz=2': 'zz' is not a coordinate of 'Triple' "
                                            "(its coordinates: a, b, c)"),
        (("Hoop", "--at", "th'=1"), 2, "lag: modes: --at 'th'=1': 'th'' is a velocity; an equilibrium is at rest"),
        (("Hoop", "--at", "th=pi"), 2, "lag: modes: --at 'th=pi': 'pi' is not a finite number"),
        (("Hoop", "--at", "th"), 2, "lag: modes: --at expects COORD=value[,COORD=value...] (got 'th')"),
        (("Hoop", "--at"), 2, "lag: option '--at' needs a value"),
        (("Sym",), 2, "lag: modes: parameter 'k' of 'Sym' has no value: give one with --set Sym.k=VALUE"),
        (("Hoop", "--set", "Pend.g=1"), 2, "lag: modes: --set 'Pend.g=1': 'Pend' is not the system examined "
                                           "('Hoop')"),
        (("Hoop", "--set", "Hoop.q=1"), 2, "lag: modes: --set 'Hoop.q=1': 'q' is not a parameter of 'Hoop'"),
        ((), 2, "lag: modes needs a file and a system"),
    ]
    for args, rc, text in cases:
        p = subprocess.run([LAG, "modes", path, *args], capture_output=True, text=True, cwd=tmp, timeout=60)
        report(p.returncode == rc and p.stderr.startswith(text) and p.stdout == "",
               "modes %s: exit %d, %r" % (" ".join(args), rc, text), "exit %d: %s" % (p.returncode, p.stderr))
    os.remove(os.path.join(tmp, "v.lagw"))
    p = subprocess.run([LAG, "modes", path, "NetV"], capture_output=True, text=True, cwd=tmp, timeout=60)
    report(p.returncode == 4 and "m.lag:" in p.stderr and "cannot read weights file" in p.stderr and "v.lagw" in p.stderr,
           "a learned system whose weights file is missing: exit 4, located", "exit %d: %s" % (p.returncode, p.stderr))
    p = subprocess.run([LAG, "modes", path, "Sym", "--set", "Sym.k=2.25"], capture_output=True, text=True, cwd=tmp)
    report(p.returncode == 0 and "1.5 " in p.stdout, "a parameter without a default takes its value from --set",
           p.stdout + p.stderr)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "m.lag"), "w") as f:
            f.write(SOURCE)
        double_pendulum(tmp)
        pendulum(tmp)
        triple(tmp)
        hoop(tmp)
        others(tmp)
        notes(tmp)
        errors(tmp)
    return finish()


if __name__ == "__main__":
    main()
