#!/usr/bin/env python3
"""tests/el_size.py — `lag el` prints equations no longer than twice what a
careful human writes (TAP).

For every stdlib system, the accelerations q'' and the energy E printed by
`lag el --lag` are counted in operations (binary operators, unary minus,
function calls) and compared with the forms a physicist would write by hand,
given below (the textbook forms: the double pendulum as in most mechanics
texts, the cart-pole as in control texts).  The test also prints the size
table that docs/el.md quotes.

Environment: LAG (the program), srcdir (the source tree).
"""
import os
import re
import subprocess
import sys

import lagtest

# Careful human forms, in .lag syntax: accelerations and energy.
HUMAN = {
    ("pendulums", "SimplePendulum"): {
        "accel_th": "-g/l*sin(th)",
        "E": "0.5*m*l^2*th'^2 - m*g*l*cos(th)",
    },
    ("pendulums", "DoublePendulum"): {
        "accel_t1": "(-g*(2*m1 + m2)*sin(t1) - m2*g*sin(t1 - 2*t2) - 2*sin(t1 - t2)*m2*(t2'^2*l2 + t1'^2*l1*cos(t1 - t2)))/(l1*(2*m1 + m2 - m2*cos(2*t1 - 2*t2)))",
        "accel_t2": "2*sin(t1 - t2)*(t1'^2*l1*(m1 + m2) + g*(m1 + m2)*cos(t1) + t2'^2*l2*m2*cos(t1 - t2))/(l2*(2*m1 + m2 - m2*cos(2*t1 - 2*t2)))",
        "E": "0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2) - (m1 + m2)*g*l1*cos(t1) - m2*g*l2*cos(t2)",
    },
    ("pendulums", "SphericalPendulum"): {
        "accel_theta": "sin(theta)*cos(theta)*phi'^2 - g/l*sin(theta)",
        "accel_phi": "-2*theta'*phi'*cos(theta)/sin(theta)",
        "E": "0.5*m*l^2*(theta'^2 + sin(theta)^2*phi'^2) - m*g*l*cos(theta)",
    },
    ("pendulums", "CartPendulum"): {
        "accel_x": "m*sin(theta)*(l*theta'^2 + g*cos(theta))/(M + m*sin(theta)^2)",
        "accel_theta": "-((M + m)*g*sin(theta) + m*l*theta'^2*sin(theta)*cos(theta))/(l*(M + m*sin(theta)^2))",
        "E": "0.5*(M + m)*x'^2 + m*l*x'*theta'*cos(theta) + 0.5*m*l^2*theta'^2 - m*g*l*cos(theta)",
    },
    ("pendulums", "DrivenPendulum"): {
        "accel_th": "-(g - a*w^2*cos(w*t))*sin(th)/l",
        "E": "0.5*m*(l^2*th'^2 - a^2*w^2*sin(w*t)^2) + m*g*(a*cos(w*t) - l*cos(th))",
    },
    ("oscillators", "HarmonicOscillator"): {
        "accel_x": "-k/m*x",
        "E": "0.5*m*x'^2 + 0.5*k*x^2",
    },
    ("oscillators", "AnharmonicOscillator"): {
        "accel_x": "-(k*x + beta*x^3)/m",
        "E": "0.5*m*x'^2 + 0.5*k*x^2 + 0.25*beta*x^4",
    },
    ("oscillators", "CoupledOscillators"): {
        "accel_x1": "(-k1*x1 + k2*(x2 - x1))/m1",
        "accel_x2": "(-k3*x2 - k2*(x2 - x1))/m2",
        "E": "0.5*m1*x1'^2 + 0.5*m2*x2'^2 + 0.5*k1*x1^2 + 0.5*k2*(x2 - x1)^2 + 0.5*k3*x2^2",
    },
    ("oscillators", "DampedOscillator"): {
        "accel_x": "-(k*x + c*x')/m",
        "E": "0.5*m*x'^2 + 0.5*k*x^2",
    },
    ("central", "Kepler"): {
        "accel_r": "r*phi'^2 - mu/r^2",
        "accel_phi": "-2*r'*phi'/r",
        "E": "0.5*m*(r'^2 + r^2*phi'^2) - mu*m/r",
    },
    ("central", "TwoBody"): {
        "accel_x1": "G*m2*(x2 - x1)/((x1 - x2)^2 + (y1 - y2)^2)^1.5",
        "accel_y1": "G*m2*(y2 - y1)/((x1 - x2)^2 + (y1 - y2)^2)^1.5",
        "accel_x2": "G*m1*(x1 - x2)/((x1 - x2)^2 + (y1 - y2)^2)^1.5",
        "accel_y2": "G*m1*(y1 - y2)/((x1 - x2)^2 + (y1 - y2)^2)^1.5",
        "E": "0.5*m1*(x1'^2 + y1'^2) + 0.5*m2*(x2'^2 + y2'^2) - G*m1*m2/sqrt((x1 - x2)^2 + (y1 - y2)^2)",
    },
    ("fields", "ChargedParticleInB"): {
        "accel_x": "q*B*y'/m",
        "accel_y": "-q*B*x'/m",
        "E": "0.5*m*(x'^2 + y'^2)",
    },
    ("relativity", "RelativisticParticle"): {
        "accel_x": "F/m*(1 - x'^2/c^2)^1.5",
        "E": "m*c^2/sqrt(1 - x'^2/c^2) - F*x",
    },
}

TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z_0-9]*'*)|(.))")


def ops(expr):
    """Operations in an expression: binary operators, unary minus, calls."""
    count = 0
    prev = None  # kind of the previous token: 'v' value, 'o' operator, '(' ...
    toks = [m.groups() for m in TOKEN.finditer(expr) if any(m.groups())]
    for i, (num, name, ch) in enumerate(toks):
        if num or name:
            if name and i + 1 < len(toks) and toks[i + 1][2] == "(":
                count += 1  # a call
            prev = "v"
        elif ch in "+-*/^":
            if ch == "+" and prev != "v":
                pass  # unary plus is free
            else:
                count += 1
            prev = "o"
        elif ch == ")":
            prev = "v"
        else:
            prev = ch
    return count


def main():
    lag, srcdir = lagtest.program()
    print("1..%d" % len(HUMAN))
    n = 0
    for (lib, system), human in HUMAN.items():
        n += 1
        out = subprocess.run([lag, "el", "--lag", os.path.join(srcdir, "stdlib", lib + ".lag"), system],
                             capture_output=True, text=True)
        printed = {}
        for line in out.stdout.splitlines():
            if line.startswith("#") or " = " not in line:
                continue
            name, expr = line.split(" = ", 1)
            printed[name] = expr
        missing = [k for k in human if k not in printed]
        if out.returncode != 0 or missing:
            print("not ok %d - %s: exit %d, missing %s" % (n, system, out.returncode, missing))
            continue
        h = sum(ops(e) for e in human.values())
        p = sum(ops(printed[k]) for k in human)
        status = "ok" if p <= 2 * h else "not ok"
        print("%s %d - %s: printed q'' and E take %d operations, a careful human %d (ratio %.2f <= 2)"
              % (status, n, system, p, h, p / h))
        print("# | %s | %d | %d | %.2f |" % (system, h, p, p / h))
    return 0


if __name__ == "__main__":
    sys.exit(main())
