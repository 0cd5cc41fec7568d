#!/usr/bin/env python3
# tests/el_stdlib.py — physics test of `lag el --lag` on every system of the
# standard library (TAP, one test point per system).
#
# For each system in stdlib/*.lag the test runs
#
#     $LAG el --lag stdlib/FILE.lag SYSTEM          (in $srcdir)
#
# parses the printed `name = expr` lines (.lag expression syntax), evaluates
# them in order (each printed name is bound for later lines, so `accel_q` may
# use `M_i_j` and `f_q`) at 20 random states, and compares every printed
# quantity with formulas derived by hand below, independently of lag:
#
#     p_q       = ∂L/∂q'
#     M_i_j     = ∂²L/∂q_i'∂q_j'            (i, j 1-based, coord order)
#     f_q       = ∂L/∂q − Σ_j ∂²L/∂q'∂q_j q_j' − ∂²L/∂q'∂t + Q_q − ∂D/∂q'
#     accel_q   = (M⁻¹ f)_q                 (solved here by Gaussian elimination)
#     E         = Σ q'·∂L/∂q' − L
#     conserved_E, conserved_p_q            (the set must be exactly the
#                                            expected one; values = E, p_q)
#
# Tolerance: |got − expected| <= 1e-12 * max(|expected|, typical), where
# `typical` is the median of |expected| for that quantity over the states.
#
# The golden files of tests/el_golden.sh catch changes only; so that each
# is also right, every one of them is checked here against the same hand
# formulas (one more test point per file): tests/golden/el/NAME.txt (the
# `name = expr` lines of `lag el`, accelerations `q'' = ...` as accel_q)
# evaluated as above, and tests/golden/ir/NAME.txt (`lag ir`: the rhs and
# energy programs) run by a small interpreter of the printed instructions.
# A golden file without an entry in GOLDEN fails.  (The .tex files are the
# LaTeX rendering of the same expressions as the .txt files beside them.)
#
# Environment: LAG (the program; default ./lag), srcdir (default .).
# Options: --selfcheck  check the hand formulas of this file against finite
#                       differences of the Lagrangians written below (for
#                       whoever edits the formulas; needs no lag binary).
#
# Python 3 standard library only.

import math
import os
import random
import re
import subprocess
import sys

import lagtest

REL = 1e-12          # relative tolerance
NSTATES = 20         # random states per system
SEED = 1234

# ---------------------------------------------------------------------------
# Translation of .lag expressions to Python.


class FormatError(Exception):
    pass


def _sign(x):
    return 0.0 if x == 0 else math.copysign(1.0, x)


FUNCS = {                     # .lag built-in: (arity, implementation)
    'sin': (1, math.sin), 'cos': (1, math.cos), 'tan': (1, math.tan),
    'asin': (1, math.asin), 'acos': (1, math.acos), 'atan': (1, math.atan),
    'atan2': (2, math.atan2),
    'sinh': (1, math.sinh), 'cosh': (1, math.cosh), 'tanh': (1, math.tanh),
    'exp': (1, math.exp), 'log': (1, math.log), 'sqrt': (1, math.sqrt),
    'abs': (1, abs), 'sign': (1, _sign),
    'min': (2, min), 'max': (2, max),
}
CONSTS = {'pi': math.pi, 'e': math.e}   # predefined names of the language

TOKEN_RE = re.compile(r"""\s*(?:
      (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[^\W\d]\w*)(?P<primes>'*)
    | (?P<op>[-+*/^(),])
    )""", re.VERBOSE)


def pyname(name, primes=0):
    """Python identifier for a .lag name (q' -> v_q__d1)."""
    return 'v_' + name + ('__d%d' % primes if primes else '')


def fname(name):
    return 'f_' + name


def translate(expr, known, coords):
    """Translate one .lag expression to Python source.  `known`: the names
    (without primes) that may appear; `coords`: names whose q' may appear."""
    out = []
    pos = 0
    expr = expr.rstrip()
    toks = []
    while pos < len(expr):
        m = TOKEN_RE.match(expr, pos)
        if not m or m.end() == pos:
            raise FormatError('cannot tokenize at %r' % expr[pos:pos + 20])
        pos = m.end()
        toks.append(m)
    if not toks:
        raise FormatError('empty expression')
    depth = 0
    for i, m in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if m.group('num') is not None:
            s = m.group('num')
            if not re.search(r'[.eE]', s):
                s += '.0'               # always float arithmetic
            out.append(s)
        elif m.group('name') is not None:
            n, pr = m.group('name'), len(m.group('primes'))
            if nxt is not None and nxt.group('op') == '(':
                if pr or n not in FUNCS:
                    raise FormatError('call of unknown function %r' % (n + "'" * pr))
                out.append(fname(n))
            elif pr:
                if n not in coords:
                    raise FormatError("%s' is not the velocity of a coordinate" % n)
                if pr > 1:
                    raise FormatError("acceleration %s appears" % (n + "'" * pr))
                out.append(pyname(n, 1))
            elif n in known:
                out.append(pyname(n))
            elif n in FUNCS:
                raise FormatError('built-in %r used without a call' % n)
            else:
                raise FormatError('unknown name %r' % n)
        else:
            op = m.group('op')
            depth += {'(': 1, ')': -1}.get(op, 0)
            if depth < 0:
                raise FormatError('unbalanced )')
            out.append('**' if op == '^' else op)
    if depth != 0:
        raise FormatError('unbalanced (')
    src = ' '.join(out)
    try:
        code = compile(src, '<lag expr>', 'eval')
    except SyntaxError as exc:
        raise FormatError('syntax error (%s)' % exc.msg)
    # arity of calls is checked by the wrappers at evaluation time
    return code


def _wrap(name, arity, fn):
    def call(*args):
        if len(args) != arity:
            raise FormatError('%s takes %d argument(s), got %d' % (name, arity, len(args)))
        return float(fn(*args))
    return call


GLOBALS = {'__builtins__': {}}
for _n, (_a, _f) in FUNCS.items():
    GLOBALS[fname(_n)] = _wrap(_n, _a, _f)

HEADER_RE = re.compile(r'^#\s*system\s+(\S+)\s*$')
LINE_RE = re.compile(r'^([^\W\d]\w*)\s*=\s*(.*\S)\s*$')


def parse_output(text, system, coords, params):
    """Returns ([(name, code, expr)], [format problems])."""
    problems = []
    lines = []
    headers = []
    known = set(coords) | set(params) | {'t'} | set(CONSTS)
    for lineno, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s:
            continue
        if s.startswith('#'):
            m = HEADER_RE.match(s)
            if m:
                headers.append(m.group(1))
            continue
        m = LINE_RE.match(s)
        if not m:
            problems.append('line %d unparseable: %r' % (lineno, raw))
            continue
        if not headers and not any('precede' in p for p in problems):
            problems.append('line %d (and any later ones) precede the "# system %s" header'
                            % (lineno, system))
        name, expr = m.group(1), m.group(2)
        if any(n == name for n, _, _ in lines):
            problems.append('line %d: %s printed twice' % (lineno, name))
            continue
        try:
            code = translate(expr, known, coords)
        except FormatError as exc:
            problems.append('line %d (%s): %s: %r' % (lineno, name, exc, expr))
            code = None
        lines.append((name, code, expr))
        known.add(name)
    if headers != [system]:
        problems.append('expected exactly one header "# system %s", got %s'
                        % (system, headers or 'none'))
    return lines, problems


def evaluate(lines, state):
    """Evaluate the printed lines in order at `state` (dict of .lag names,
    velocities as "q'").  Returns {name: value}; a failed line gives an
    exception object as its value."""
    ns = {}
    for k, v in state.items():
        ns[pyname(k[:-1], 1) if k.endswith("'") else pyname(k)] = v
    for k, v in CONSTS.items():
        ns.setdefault(pyname(k), v)
    vals = {}
    for name, code, _ in lines:
        if code is None:
            vals[name] = FormatError('line unparseable')
            ns[pyname(name)] = float('nan')
            continue
        try:
            val = eval(code, GLOBALS, ns)
            if not isinstance(val, float):
                raise FormatError('value is not a real number: %r' % (val,))
            if math.isnan(val):
                raise FormatError('value is NaN (uses a line that failed?)')
        except Exception as exc:           # ZeroDivision, math domain, ...
            vals[name] = exc
            ns[pyname(name)] = float('nan')
            continue
        vals[name] = val
        ns[pyname(name)] = val
    return vals


# ---------------------------------------------------------------------------
# Linear algebra: Gaussian elimination with partial pivoting.


def solve(M, f):
    n = len(f)
    A = [list(map(float, M[i])) + [float(f[i])] for i in range(n)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(A[r][c]))
        if A[p][c] == 0:
            raise ZeroDivisionError('singular mass matrix')
        A[c], A[p] = A[p], A[c]
        for r in range(c + 1, n):
            k = A[r][c] / A[c][c]
            for j in range(c, n + 1):
                A[r][j] -= k * A[c][j]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (A[r][n] - sum(A[r][j] * x[j] for j in range(r + 1, n))) / A[r][r]
    return x


# ---------------------------------------------------------------------------
# The systems, with hand-derived formulas.
#
# Each `derive(s)` takes a state dict s (coordinates `x`, velocities `x'`,
# parameters, `t`) and returns (p, M, f, E) as lists / list of lists / float.
# `lagrangian(s)` and `dissipation(s)` restate the stdlib L and D; they are
# used only by --selfcheck (finite differences), never to produce the
# expected values.

ANGLE = (-3.0, 3.0)
VEL = (-2.0, 2.0)
POS = (-2.0, 2.0)
RADIUS = (0.5, 2.0)


class Model:
    def __init__(self, name, file, coords, params, derive, lagrangian,
                 conserved, ranges=None, dissipation=None, fix=None,
                 diagonal_or_constant_M=False):
        self.name, self.file = name, file
        self.coords = coords                     # in declaration order
        self.params = params                     # [(name, default)]
        self.derive = derive
        self.lagrangian = lagrangian
        self.dissipation = dissipation
        self.conserved = set(conserved)          # expected conserved_* names
        self.ranges = ranges or {}
        self.fix = fix                           # state -> bool (accept)
        self.diagonal_or_constant_M = diagonal_or_constant_M

    def sample(self, rng):
        while True:
            s = {}
            for p, d in self.params:
                s[p] = d * rng.uniform(0.5, 1.5)
            for q in self.coords:
                s[q] = rng.uniform(*self.ranges.get(q, ANGLE))
            for q in self.coords:
                v = q + "'"
                s[v] = rng.uniform(*self.ranges.get(v, VEL))
            s['t'] = rng.uniform(0.0, 5.0)
            if self.fix is None or self.fix(s):
                return s


MODELS = []


def model(**kw):
    def deco(fn):
        MODELS.append(Model(derive=fn, **kw))
        return fn
    return deco


# --- pendulums.lag ---------------------------------------------------------

def L_simple(s):
    return 0.5*s['m']*s['l']**2*s["th'"]**2 + s['m']*s['g']*s['l']*math.cos(s['th'])


@model(name='SimplePendulum', file='pendulums.lag', coords=['th'],
       params=[('m', 1), ('l', 1), ('g', 9.81)], lagrangian=L_simple,
       conserved=['conserved_E'], diagonal_or_constant_M=True)
def simple_pendulum(s):
    # L = ½ m l² θ'² + m g l cos θ
    # p = m l² θ';  M = m l²;  ∂L/∂θ = −m g l sin θ, p independent of θ, t
    # f = −m g l sin θ;  E = ½ m l² θ'² − m g l cos θ;  θ not cyclic.
    m, l, g, th, w = s['m'], s['l'], s['g'], s['th'], s["th'"]
    return ([m*l*l*w], [[m*l*l]], [-m*g*l*math.sin(th)],
            0.5*m*l*l*w*w - m*g*l*math.cos(th))


def L_double(s):
    m1, m2, l1, l2, g = s['m1'], s['m2'], s['l1'], s['l2'], s['g']
    a, b, u, v = s['t1'], s['t2'], s["t1'"], s["t2'"]
    T = 0.5*(m1 + m2)*l1**2*u**2 + 0.5*m2*l2**2*v**2 + m2*l1*l2*u*v*math.cos(a - b)
    V = -(m1 + m2)*g*l1*math.cos(a) - m2*g*l2*math.cos(b)
    return T - V


@model(name='DoublePendulum', file='pendulums.lag', coords=['t1', 't2'],
       params=[('m1', 1), ('m2', 1), ('l1', 1), ('l2', 1), ('g', 9.81)],
       lagrangian=L_double, conserved=['conserved_E'])
def double_pendulum(s):
    # d = t1 − t2, c = cos d, sn = sin d.
    # M = [[(m1+m2) l1²,  m2 l1 l2 c], [m2 l1 l2 c,  m2 l2²]];  p = M q'.
    # ∂L/∂t1 = −m2 l1 l2 t1' t2' sn − (m1+m2) g l1 sin t1
    # (∂p1/∂q)·q' = −m2 l1 l2 t2' sn (t1' − t2')
    #   f1 = −m2 l1 l2 t2'² sn − (m1+m2) g l1 sin t1
    # ∂L/∂t2 = +m2 l1 l2 t1' t2' sn − m2 g l2 sin t2
    # (∂p2/∂q)·q' = −m2 l1 l2 t1' sn (t1' − t2')
    #   f2 = +m2 l1 l2 t1'² sn − m2 g l2 sin t2
    # (the standard closed form: (m1+m2) l1 θ1'' + m2 l2 θ2'' c + m2 l2 θ2'² sn
    #  + (m1+m2) g sin θ1 = 0, and l2 θ2'' + l1 θ1'' c − l1 θ1'² sn + g sin θ2 = 0)
    # E = T + V (L quadratic in q'), both coordinates appear: only E conserved.
    m1, m2, l1, l2, g = s['m1'], s['m2'], s['l1'], s['l2'], s['g']
    a, b, u, v = s['t1'], s['t2'], s["t1'"], s["t2'"]
    c, sn = math.cos(a - b), math.sin(a - b)
    M = [[(m1 + m2)*l1*l1, m2*l1*l2*c], [m2*l1*l2*c, m2*l2*l2]]
    p = [M[0][0]*u + M[0][1]*v, M[1][0]*u + M[1][1]*v]
    f = [-m2*l1*l2*v*v*sn - (m1 + m2)*g*l1*math.sin(a),
         m2*l1*l2*u*u*sn - m2*g*l2*math.sin(b)]
    T = 0.5*(M[0][0]*u*u + 2*M[0][1]*u*v + M[1][1]*v*v)
    V = -(m1 + m2)*g*l1*math.cos(a) - m2*g*l2*math.cos(b)
    return p, M, f, T + V


def L_spherical(s):
    m, l, g, th, ph = s['m'], s['l'], s['g'], s['theta'], s['phi']
    u, v = s["theta'"], s["phi'"]
    return 0.5*m*l**2*(u**2 + math.sin(th)**2*v**2) + m*g*l*math.cos(th)


def _spherical_theta(s):
    return abs(math.sin(s['theta'])) > 0.2          # keep M well away from singular


@model(name='SphericalPendulum', file='pendulums.lag', coords=['theta', 'phi'],
       params=[('m', 1), ('l', 1), ('g', 9.81)], lagrangian=L_spherical,
       conserved=['conserved_E', 'conserved_p_phi'], fix=_spherical_theta,
       diagonal_or_constant_M=True)
def spherical_pendulum(s):
    # M = diag(m l², m l² sin²θ); p_θ = m l² θ', p_φ = m l² sin²θ φ'.
    # ∂L/∂θ = m l² sinθ cosθ φ'² − m g l sinθ; p_θ has no q dependence:
    #   f_θ = m l² sinθ cosθ φ'² − m g l sinθ
    # ∂L/∂φ = 0 (cyclic); (∂p_φ/∂θ) θ' = 2 m l² sinθ cosθ θ' φ':
    #   f_φ = −2 m l² sinθ cosθ θ' φ'
    # E = ½ m l² (θ'² + sin²θ φ'²) − m g l cosθ.  Conserved: E, p_φ.
    m, l, g, th = s['m'], s['l'], s['g'], s['theta']
    u, v = s["theta'"], s["phi'"]
    sn, c = math.sin(th), math.cos(th)
    ml2 = m*l*l
    M = [[ml2, 0.0], [0.0, ml2*sn*sn]]
    p = [ml2*u, ml2*sn*sn*v]
    f = [ml2*sn*c*v*v - m*g*l*sn, -2*ml2*sn*c*u*v]
    E = 0.5*ml2*(u*u + sn*sn*v*v) - m*g*l*c
    return p, M, f, E


def L_cart(s):
    Mc, m, l, g, th = s['M'], s['m'], s['l'], s['g'], s['theta']
    u, v = s["x'"], s["theta'"]
    T = 0.5*(Mc + m)*u**2 + m*l*u*v*math.cos(th) + 0.5*m*l**2*v**2
    return T + m*g*l*math.cos(th)


@model(name='CartPendulum', file='pendulums.lag', coords=['x', 'theta'],
       params=[('M', 1), ('m', 0.2), ('l', 0.5), ('g', 9.81)],
       lagrangian=L_cart, conserved=['conserved_E', 'conserved_p_x'],
       ranges={'x': POS})
def cart_pendulum(s):
    # M = [[M+m, m l cosθ], [m l cosθ, m l²]];  p = M q'.
    # x cyclic; (∂p_x/∂θ) θ' = −m l sinθ θ'²:   f_x = m l sinθ θ'²
    # ∂L/∂θ = −m l x' θ' sinθ − m g l sinθ; (∂p_θ/∂θ) θ' = −m l x' sinθ θ':
    #   f_θ = −m g l sinθ
    # E = T + V.  Conserved: E, p_x.
    Mc, m, l, g, th = s['M'], s['m'], s['l'], s['g'], s['theta']
    u, v = s["x'"], s["theta'"]
    sn, c = math.sin(th), math.cos(th)
    M = [[Mc + m, m*l*c], [m*l*c, m*l*l]]
    p = [M[0][0]*u + M[0][1]*v, M[1][0]*u + M[1][1]*v]
    f = [m*l*sn*v*v, -m*g*l*sn]
    E = 0.5*(Mc + m)*u*u + m*l*u*v*c + 0.5*m*l*l*v*v - m*g*l*c
    return p, M, f, E


def L_driven(s):
    m, l, g, a, w, th, v, t = (s['m'], s['l'], s['g'], s['a'], s['w'], s['th'],
                               s["th'"], s['t'])
    yp, vp = a*math.cos(w*t), -a*w*math.sin(w*t)
    T = 0.5*m*(l**2*v**2 + 2*l*v*math.sin(th)*vp + vp**2)
    return T - m*g*(yp - l*math.cos(th))


@model(name='DrivenPendulum', file='pendulums.lag', coords=['th'],
       params=[('m', 1), ('l', 1), ('g', 9.81), ('a', 0.05), ('w', 60)],
       lagrangian=L_driven, conserved=[], diagonal_or_constant_M=True)
def driven_pendulum(s):
    # yp = a cos wt, vp = −a w sin wt, dvp/dt = −a w² cos wt.
    # p = m l² θ' + m l sinθ vp;  M = m l².
    # ∂L/∂θ = m l θ' cosθ vp − m g l sinθ;  (∂p/∂θ) θ' = m l cosθ vp θ';
    # ∂p/∂t = m l sinθ dvp/dt = −m l a w² cos(wt) sinθ:
    #   f = −m l sinθ (g − a w² cos wt)     (Kapitza: θ'' = −(g + yp'')/l sinθ)
    # E = θ' p − L = ½ m l² θ'² − ½ m vp² + m g (yp − l cosθ).
    # L depends on t explicitly: nothing conserved.
    m, l, g, a, w, th, v, t = (s['m'], s['l'], s['g'], s['a'], s['w'], s['th'],
                               s["th'"], s['t'])
    yp, vp = a*math.cos(w*t), -a*w*math.sin(w*t)
    sn = math.sin(th)
    p = [m*l*l*v + m*l*sn*vp]
    f = [-m*l*sn*(g - a*w*w*math.cos(w*t))]
    E = 0.5*m*l*l*v*v - 0.5*m*vp*vp + m*g*(yp - l*math.cos(th))
    return p, [[m*l*l]], f, E


# --- oscillators.lag -------------------------------------------------------

def L_harmonic(s):
    return 0.5*s['m']*s["x'"]**2 - 0.5*s['k']*s['x']**2


@model(name='HarmonicOscillator', file='oscillators.lag', coords=['x'],
       params=[('m', 1), ('k', 1)], lagrangian=L_harmonic,
       conserved=['conserved_E'], ranges={'x': POS}, diagonal_or_constant_M=True)
def harmonic(s):
    # p = m x', M = m, f = −k x, E = ½ m x'² + ½ k x².
    m, k, x, v = s['m'], s['k'], s['x'], s["x'"]
    return [m*v], [[m]], [-k*x], 0.5*m*v*v + 0.5*k*x*x


def L_anharmonic(s):
    return (0.5*s['m']*s["x'"]**2 - 0.5*s['k']*s['x']**2
            - 0.25*s['beta']*s['x']**4)


@model(name='AnharmonicOscillator', file='oscillators.lag', coords=['x'],
       params=[('m', 1), ('k', 1), ('beta', 0.5)], lagrangian=L_anharmonic,
       conserved=['conserved_E'], ranges={'x': POS}, diagonal_or_constant_M=True)
def anharmonic(s):
    # p = m x', M = m, f = −k x − β x³, E = ½ m x'² + ½ k x² + ¼ β x⁴.
    m, k, b, x, v = s['m'], s['k'], s['beta'], s['x'], s["x'"]
    return [m*v], [[m]], [-k*x - b*x**3], 0.5*m*v*v + 0.5*k*x*x + 0.25*b*x**4


def L_coupled(s):
    x1, x2, u, v = s['x1'], s['x2'], s["x1'"], s["x2'"]
    T = 0.5*s['m1']*u**2 + 0.5*s['m2']*v**2
    V = 0.5*s['k1']*x1**2 + 0.5*s['k2']*(x2 - x1)**2 + 0.5*s['k3']*x2**2
    return T - V


@model(name='CoupledOscillators', file='oscillators.lag', coords=['x1', 'x2'],
       params=[('m1', 1), ('m2', 1), ('k1', 1), ('k2', 0.5), ('k3', 1)],
       lagrangian=L_coupled, conserved=['conserved_E'],
       ranges={'x1': POS, 'x2': POS}, diagonal_or_constant_M=True)
def coupled(s):
    # M = diag(m1, m2), p = (m1 x1', m2 x2').
    # f1 = −k1 x1 + k2 (x2 − x1),  f2 = −k2 (x2 − x1) − k3 x2.
    # E = T + V; neither coordinate cyclic.
    m1, m2, k1, k2, k3 = s['m1'], s['m2'], s['k1'], s['k2'], s['k3']
    x1, x2, u, v = s['x1'], s['x2'], s["x1'"], s["x2'"]
    E = 0.5*m1*u*u + 0.5*m2*v*v + 0.5*k1*x1*x1 + 0.5*k2*(x2 - x1)**2 + 0.5*k3*x2*x2
    return ([m1*u, m2*v], [[m1, 0.0], [0.0, m2]],
            [-k1*x1 + k2*(x2 - x1), -k2*(x2 - x1) - k3*x2], E)


def D_damped(s):
    return 0.5*s['c']*s["x'"]**2


@model(name='DampedOscillator', file='oscillators.lag', coords=['x'],
       params=[('m', 1), ('k', 1), ('c', 0.1)], lagrangian=L_harmonic,
       dissipation=D_damped, conserved=[], ranges={'x': POS},
       diagonal_or_constant_M=True)
def damped(s):
    # p = m x', M = m; D = ½ c x'² adds −∂D/∂x' = −c x':  f = −k x − c x'.
    # E = ½ m x'² + ½ k x² (from L alone); dissipation: nothing conserved.
    m, k, c, x, v = s['m'], s['k'], s['c'], s['x'], s["x'"]
    return [m*v], [[m]], [-k*x - c*v], 0.5*m*v*v + 0.5*k*x*x


# --- central.lag -----------------------------------------------------------

def L_kepler(s):
    m, mu, r, u, v = s['m'], s['mu'], s['r'], s["r'"], s["phi'"]
    return 0.5*m*(u**2 + r**2*v**2) + mu*m/r


@model(name='Kepler', file='central.lag', coords=['r', 'phi'],
       params=[('mu', 1), ('m', 1)], lagrangian=L_kepler,
       conserved=['conserved_E', 'conserved_p_phi'], ranges={'r': RADIUS},
       diagonal_or_constant_M=True)
def kepler(s):
    # M = diag(m, m r²), p_r = m r', p_φ = m r² φ'.
    # f_r = ∂L/∂r = m r φ'² − μ m / r²
    # φ cyclic; (∂p_φ/∂r) r' = 2 m r r' φ':  f_φ = −2 m r r' φ'
    # E = ½ m (r'² + r² φ'²) − μ m / r.  Conserved: E, p_φ.
    m, mu, r, u, v = s['m'], s['mu'], s['r'], s["r'"], s["phi'"]
    return ([m*u, m*r*r*v], [[m, 0.0], [0.0, m*r*r]],
            [m*r*v*v - mu*m/(r*r), -2*m*r*u*v],
            0.5*m*(u*u + r*r*v*v) - mu*m/r)


def L_twobody(s):
    m1, m2, G = s['m1'], s['m2'], s['G']
    T = (0.5*m1*(s["x1'"]**2 + s["y1'"]**2) + 0.5*m2*(s["x2'"]**2 + s["y2'"]**2))
    r = math.sqrt((s['x1'] - s['x2'])**2 + (s['y1'] - s['y2'])**2)
    return T + G*m1*m2/r


def _twobody_apart(s):
    return math.hypot(s['x1'] - s['x2'], s['y1'] - s['y2']) > 0.3


@model(name='TwoBody', file='central.lag', coords=['x1', 'y1', 'x2', 'y2'],
       params=[('m1', 1), ('m2', 0.1), ('G', 1)], lagrangian=L_twobody,
       conserved=['conserved_E'], fix=_twobody_apart,
       ranges={'x1': POS, 'y1': POS, 'x2': POS, 'y2': POS},
       diagonal_or_constant_M=True)
def two_body(s):
    # M = diag(m1, m1, m2, m2), p = M q'.  r = |r1 − r2|, U = −G m1 m2 / r:
    # f_x1 = −G m1 m2 (x1 − x2)/r³, f_y1 = −G m1 m2 (y1 − y2)/r³,
    # f_x2 = −f_x1, f_y2 = −f_y1.  E = T − G m1 m2 / r.
    # Every coordinate appears in r: none cyclic (the total momentum is
    # conserved, but it is not the momentum of a coordinate).
    m1, m2, G = s['m1'], s['m2'], s['G']
    dx, dy = s['x1'] - s['x2'], s['y1'] - s['y2']
    r = math.sqrt(dx*dx + dy*dy)
    k = G*m1*m2/r**3
    vel = [s["x1'"], s["y1'"], s["x2'"], s["y2'"]]
    mass = [m1, m1, m2, m2]
    M = [[mass[i] if i == j else 0.0 for j in range(4)] for i in range(4)]
    p = [mass[i]*vel[i] for i in range(4)]
    f = [-k*dx, -k*dy, k*dx, k*dy]
    E = sum(0.5*mass[i]*vel[i]**2 for i in range(4)) - G*m1*m2/r
    return p, M, f, E


# --- fields.lag ------------------------------------------------------------

def L_charged(s):
    m, q, B = s['m'], s['q'], s['B']
    x, y, u, v = s['x'], s['y'], s["x'"], s["y'"]
    return 0.5*m*(u**2 + v**2) + 0.5*q*B*(x*v - y*u)


@model(name='ChargedParticleInB', file='fields.lag', coords=['x', 'y'],
       params=[('m', 1), ('q', 1), ('B', 1)], lagrangian=L_charged,
       conserved=['conserved_E'], ranges={'x': POS, 'y': POS},
       diagonal_or_constant_M=True)
def charged(s):
    # Symmetric gauge A = B/2 (−y, x, 0):  L = ½ m v² + ½ q B (x y' − y x').
    # p_x = m x' − ½ q B y,  p_y = m y' + ½ q B x;  M = diag(m, m).
    # f_x = ∂L/∂x − (∂p_x/∂y) y' = ½ q B y' + ½ q B y' = q B y'
    # f_y = ∂L/∂y − (∂p_y/∂x) x' = −½ q B x' − ½ q B x' = −q B x'
    #   (Lorentz force q v × B ẑ)
    # E = ½ m (x'² + y'²) (the term linear in velocity drops out).
    # x and y both appear in L: only E conserved.
    m, q, B = s['m'], s['q'], s['B']
    x, y, u, v = s['x'], s['y'], s["x'"], s["y'"]
    return ([m*u - 0.5*q*B*y, m*v + 0.5*q*B*x], [[m, 0.0], [0.0, m]],
            [q*B*v, -q*B*u], 0.5*m*(u*u + v*v))


# --- relativity.lag --------------------------------------------------------

def L_relativistic(s):
    m, c, F, x, v = s['m'], s['c'], s['F'], s['x'], s["x'"]
    return -m*c**2*math.sqrt(1 - v**2/c**2) + F*x


def _subluminal(s):
    s["x'"] = s['c']*s["x'"]/2.2        # x' drawn in (-2, 2): |x'| < 0.91 c
    return True


@model(name='RelativisticParticle', file='relativity.lag', coords=['x'],
       params=[('m', 1), ('c', 1), ('F', 0.5)], lagrangian=L_relativistic,
       conserved=['conserved_E'], fix=_subluminal, ranges={'x': POS},
       diagonal_or_constant_M=True)
def relativistic(s):
    # γ = 1/sqrt(1 − x'²/c²).  L = −m c²/γ + F x.
    # p = m γ x';  M = dp/dx' = m γ³;  f = ∂L/∂x = F.
    # E = x' p − L = m γ x'² + m c²/γ − F x = γ m c² − F x.
    m, c, F, x, v = s['m'], s['c'], s['F'], s['x'], s["x'"]
    gam = 1/math.sqrt(1 - v*v/(c*c))
    return [m*gam*v], [[m*gam**3]], [F], gam*m*c*c - F*x


# ---------------------------------------------------------------------------
# The checks.


def expected_values(mod, s):
    p, M, f, E = mod.derive(s)
    n = len(mod.coords)
    exp = {}
    for i, q in enumerate(mod.coords):
        exp['p_' + q] = p[i]
        exp['f_' + q] = f[i]
        for j in range(n):
            exp['M_%d_%d' % (i + 1, j + 1)] = M[i][j]
    exp['E'] = E
    for i, a in enumerate(solve(M, f)):
        exp['accel_' + mod.coords[i]] = a
    return exp


def conserved_source(name):
    """conserved_E -> E, conserved_p_x -> p_x."""
    return name[len('conserved_'):]


def fmt_state(s):
    return '{' + ', '.join('%s=%.17g' % (k, v) for k, v in s.items()) + '}'


def check_system(mod, text):
    """Returns a list of diagnostic strings (empty: pass)."""
    why = []
    lines, problems = parse_output(text, mod.name, mod.coords, [p for p, _ in mod.params])
    why += ['format: ' + p for p in problems]
    # `NAME = value` of a parameter (docs/el.md: the defaults, so that the
    # output is self-contained): it must be the declared default; the
    # lines are then evaluated at the random parameter values below
    defaults = dict(mod.params)
    for name, code, expr in [ln for ln in lines if ln[0] in defaults]:
        try:
            val = eval(code, GLOBALS, {pyname(k): v for k, v in CONSTS.items()})
        except Exception as exc:          # not a number: names another variable
            val = exc
        if not (isinstance(val, float) and val == defaults[name]):
            why.append('parameter %s printed as %r, the default is %r' % (name, expr, defaults[name]))
    lines = [ln for ln in lines if ln[0] not in defaults]
    printed = [n for n, _, _ in lines]
    n = len(mod.coords)

    required = (['p_' + q for q in mod.coords]
                + ['M_%d_%d' % (i, j) for i in range(1, n + 1) for j in range(1, n + 1)]
                + ['f_' + q for q in mod.coords] + ['E'])
    accel = ['accel_' + q for q in mod.coords]
    if n <= 2 or mod.diagonal_or_constant_M:
        required += accel
    for name in required:
        if name not in printed:
            why.append('missing: %s' % name)
    allowed = set(required) | set(accel) | {'conserved_E'} | {'conserved_p_' + q for q in mod.coords}
    for name in printed:
        if name not in allowed:
            why.append('unexpected name: %s' % name)
    got_accel = [a for a in accel if a in printed]
    if got_accel and len(got_accel) != n:
        why.append('only some accel lines printed: %s' % ', '.join(got_accel))

    got_cons = {nm for nm in printed if nm.startswith('conserved_')}
    if got_cons != mod.conserved:
        why.append('conserved quantities: expected {%s}, got {%s}'
                   % (', '.join(sorted(mod.conserved)), ', '.join(sorted(got_cons))))

    # Evaluate at random states.
    rng = random.Random(SEED)
    states = [mod.sample(rng) for _ in range(NSTATES)]
    table = {}                      # name -> [(state index, expected, got)]
    for k, s in enumerate(states):
        exp = expected_values(mod, s)
        vals = evaluate(lines, s)
        for name, got in vals.items():
            if name.startswith('conserved_'):
                src = conserved_source(name)
                # the value must equal both the hand formula and the printed line
                if src in exp:
                    table.setdefault(name, []).append((k, exp[src], got))
                if src in vals and isinstance(vals[src], float):
                    table.setdefault(name + ' vs ' + src, []).append((k, vals[src], got))
            elif name in exp:
                table.setdefault(name, []).append((k, exp[name], got))

    for name in [nm for nm in printed if nm in table] + \
            [nm for nm in table if ' vs ' in nm]:
        rows = table[name]
        mags = sorted(abs(e) for _, e, _ in rows)
        typical = mags[len(mags) // 2]
        bad = []
        for k, e, g in rows:
            if isinstance(g, Exception):
                bad.append((k, e, g, None))
                continue
            tol = REL*max(abs(e), typical)
            if not abs(g - e) <= tol:
                bad.append((k, e, g, abs(g - e)/max(abs(e), typical, 1e-300)))
        if bad:
            k, e, g, rel = bad[0]
            expr = next((x for nm, _, x in lines if nm == name.split(' ')[0]), '?')
            if rel is None:
                why.append('%s: evaluation failed at state %d %s: %s: %s'
                           % (name, k, fmt_state(states[k]), type(g).__name__, g))
            else:
                why.append('%s wrong at %d of %d states; first: state %d %s: '
                           'expected %.17g, got %.17g (rel. err %.3g)'
                           % (name, len(bad), len(rows), k, fmt_state(states[k]),
                              e, g, rel))
            why.append('    %s = %s' % (name.split(' ')[0], expr))
    return why


def discover_systems(srcdir):
    """[(file, system, coords, params)] from stdlib/*.lag, in file order."""
    found = []
    d = os.path.join(srcdir, 'stdlib')
    for fn in sorted(os.listdir(d)):
        if not fn.endswith('.lag'):
            continue
        with open(os.path.join(d, fn), encoding='utf-8') as fh:
            text = re.sub(r'#[^\n]*', '', fh.read())
        for m in re.finditer(r'\bsystem\s+([^\W\d]\w*)\s*\{([^}]*)\}', text):
            body = m.group(2)
            coords = []
            for c in re.finditer(r'\bcoord\s+([^\n;]*)', body):
                coords += [x.strip() for x in c.group(1).split(',')]
            params = []
            for c in re.finditer(r'\bparam\s+([^\n;]*)', body):
                params += [x.split('=')[0].strip() for x in c.group(1).split(',')]
            found.append((fn, m.group(1), coords, params))
    return found


def run_lag(lag, srcdir, file, system):
    env = dict(os.environ)
    env['LAG_PATH'] = os.path.join(srcdir, 'stdlib')
    try:
        r = subprocess.run([lag, 'el', '--lag', 'stdlib/' + file, system],
                           cwd=srcdir, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None, 'timed out after 60 s'
    out = r.stdout.decode('utf-8', 'replace')
    err = r.stderr.decode('utf-8', 'replace')
    if r.returncode < 0:
        return None, 'killed by signal %d; stderr: %s' % (-r.returncode, err.strip()[:2000])
    if r.returncode != 0:
        return None, 'exit status %d; stderr: %s' % (r.returncode, err.strip()[:2000])
    return out, None


# ---------------------------------------------------------------------------
# --selfcheck: the hand formulas against finite differences of L.


def selfcheck():
    def d1(fn, s, key, h):
        def at(dx):
            s2 = dict(s)
            s2[key] += dx
            return fn(s2)
        return (-at(2*h) + 8*at(h) - 8*at(-h) + at(-2*h))/(12*h)

    ok = True
    for mod in MODELS:
        rng = random.Random(SEED)
        worst = 0.0
        for _ in range(NSTATES):
            s = mod.sample(rng)
            p, M, f, E = mod.derive(s)
            L = mod.lagrangian
            D = mod.dissipation or (lambda s: 0.0)
            hs = {k: 1e-3 for k in s}
            hs['t'] = 1e-3/max(1.0, s.get('w', 1.0))
            num = {}
            for i, q in enumerate(mod.coords):
                v = q + "'"
                num['p', i] = d1(L, s, v, hs[v])
                for j, r in enumerate(mod.coords):
                    num['M', i, j] = d1(lambda s2: d1(L, s2, v, hs[v]), s, r + "'", hs[v])
                fi = d1(L, s, q, hs[q]) - d1(D, s, v, hs[v])
                fi -= d1(lambda s2: d1(L, s2, v, hs[v]), s, 't', hs['t'])
                for j, r in enumerate(mod.coords):
                    fi -= d1(lambda s2: d1(L, s2, v, hs[v]), s, r, hs[r])*s[r + "'"]
                num['f', i] = fi
            num['E'] = sum(s[q + "'"]*num['p', i] for i, q in enumerate(mod.coords)) - L(s)
            mine = {('p', i): p[i] for i in range(len(p))}
            mine.update({('f', i): f[i] for i in range(len(f))})
            mine.update({('M', i, j): M[i][j] for i in range(len(p)) for j in range(len(p))})
            mine['E'] = E
            scale = lagtest.worst((abs(x) for x in mine.values()), 1.0)
            for k in mine:
                worst = lagtest.worst([lagtest.err(mine[k], num[k])/scale], worst)
        good = worst < 1e-6
        ok &= good
        print('%s %-22s max scaled difference to finite differences: %.2g'
              % ('ok  ' if good else 'BAD ', mod.name, worst))
    return 0 if ok else 1


# ---------------------------------------------------------------------------


# golden file (under tests/golden) -> the stdlib system it shows
GOLDEN = {
    'el/double_pendulum.txt': 'DoublePendulum',
    'el/kepler.txt': 'Kepler',
    'el/charged_particle.txt': 'ChargedParticleInB',
    'ir/simple_pendulum.txt': 'SimplePendulum',
    'ir/double_pendulum.txt': 'DoublePendulum',
    'ir/kepler.txt': 'Kepler',
}

GOLDEN_EL_RE = re.compile(r"^\s+([^\W\d]\w*)('')?\s+=\s+(.*\S)\s*$")


def golden_el_lines(text, mod):
    """The `name = expr` lines of `lag el` text output, as parse_output's."""
    known = set(mod.coords) | {p for p, _ in mod.params} | {'t'} | set(CONSTS)
    lines = []
    for raw in text.splitlines():
        m = GOLDEN_EL_RE.match(raw)
        if not m:
            continue
        name = ('accel_' + m.group(1)) if m.group(2) else m.group(1)
        lines.append((name, translate(m.group(3), known, mod.coords), m.group(3)))
        known.add(name)
    return lines


IR_UNARY = {'NEG': lambda x: -x, 'SQR': lambda x: x * x, 'RECIP': lambda x: 1 / x,
            'MOV': lambda x: x, 'ABS': abs, 'SIGN': _sign}
for _n in ('sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'exp', 'log', 'sqrt'):
    IR_UNARY[_n.upper()] = getattr(math, _n)
IR_BINARY = {'ADD': lambda x, y: x + y, 'SUB': lambda x, y: x - y, 'MUL': lambda x, y: x * y,
             'DIV': lambda x, y: x / y, 'POW': math.pow, 'ATAN2': math.atan2, 'MIN': min, 'MAX': max}


def run_ir(text, s):
    """Run every program printed by `lag ir` at state s: {output: value}."""
    outs, regs = {}, {}

    def reg(tok):
        return regs[int(tok.strip().lstrip('r'))]

    for raw in text.splitlines():
        m = re.match(r'^\s+\d+\s+([A-Z0-9]+)\s+(.*)$', raw)
        if not m:
            if raw.startswith('program '):
                regs = {}
            continue
        op, rest = m.group(1), m.group(2)
        if op == 'SOLVE':
            a, b, c = [x.split() for x in re.findall(r'\[([^\]]*)\]', rest)]
            n = len(a)
            M = [[reg(b[i * n + j]) for j in range(n)] for i in range(n)]
            x = solve(M, [reg(r) for r in c])
            for r, v in zip(a, x):
                regs[int(r.lstrip('r'))] = v
            continue
        args = [x.strip() for x in rest.split(',')]
        if op == 'OUT':
            outs[args[0]] = reg(args[1])
            continue
        d = int(args[0].lstrip('r'))
        if op == 'PARAM' or op == 'STATE':
            regs[d] = s[args[1]]
        elif op == 'TIME':
            regs[d] = s['t']
        elif op == 'CONST':
            regs[d] = float(args[1])
        elif op == 'POWI':
            regs[d] = reg(args[1]) ** int(args[2])
        elif op in IR_UNARY:
            regs[d] = IR_UNARY[op](reg(args[1]))
        elif op in IR_BINARY:
            regs[d] = IR_BINARY[op](reg(args[1]), reg(args[2]))
        else:
            raise FormatError('instruction %s not known to this interpreter' % op)
    return outs


def check_golden(path, mod):
    """Why the golden file disagrees with the hand formulas of mod (or [])."""
    with open(path, encoding='utf-8') as fh:
        text = fh.read()
    is_ir = os.sep + 'ir' + os.sep in path
    lines = [] if is_ir else golden_el_lines(text, mod)
    rng = random.Random(SEED + 7)
    table = {}
    for k in range(NSTATES):
        st = mod.sample(rng)
        exp = expected_values(mod, st)
        if is_ir:
            got = run_ir(text, st)
            got = {('accel_' + n[:-2] if n.endswith("''") else n): v for n, v in got.items()}
        else:
            got = evaluate(lines, st)
        for name, g in got.items():
            if name in exp:
                table.setdefault(name, []).append((k, exp[name], g))
    why = []
    want = {'accel_' + q for q in mod.coords} | {'E'}
    if not want <= set(table):
        why.append('%s: no %s to compare' % (os.path.basename(path), sorted(want - set(table))))
    for name, rows in sorted(table.items()):
        typical = sorted(abs(e) for _, e, _ in rows)[len(rows) // 2]
        for k, e, g in rows:
            if isinstance(g, Exception) or not abs(g - e) <= REL * max(abs(e), typical):
                why.append('%s: %s = %r at state %d, the hand formula gives %.17g'
                           % (os.path.basename(path), name, g, k, e))
                break
    return why


def main():
    if '--selfcheck' in sys.argv[1:]:
        return selfcheck()
    srcdir = os.path.abspath(os.environ.get('srcdir') or '.')
    lag = os.environ.get('LAG') or './lag'
    lag = os.path.abspath(lag)
    if not (os.path.isfile(lag) and os.access(lag, os.X_OK)):
        print('Bail out! %s not executable' % lag)
        return 1

    found = discover_systems(srcdir)
    models = {m.name: m for m in MODELS}
    names = [sysname for _, sysname, _, _ in found]
    names += [m.name for m in MODELS if m.name not in names]
    byname = {sysname: (fn, coords, params) for fn, sysname, coords, params in found}

    golden_dir = os.path.join(srcdir, 'tests', 'golden')
    goldens = sorted(os.path.join(d, f) for d in ('el', 'ir')
                     for f in os.listdir(os.path.join(golden_dir, d)) if f.endswith('.txt'))
    print('1..%d' % (len(names) + len(goldens)))
    for k, name in enumerate(names, 1):
        mod = models.get(name)
        where = byname.get(name)
        why = []
        if mod is None:
            why.append('no hand-derived formulas in tests/el_stdlib.py for %s (%s)'
                       % (name, where[0]))
        elif where is None:
            why.append('system %s not found in stdlib/%s' % (name, mod.file))
        else:
            fn, coords, params = where
            if fn != mod.file or coords != mod.coords or set(params) != {p for p, _ in mod.params}:
                why.append('stdlib/%s: %s declares coords %s, params %s; this test '
                           'expects %s: coords %s, params %s — update the formulas'
                           % (fn, name, coords, params, mod.file, mod.coords,
                              [p for p, _ in mod.params]))
            else:
                out, err = run_lag(lag, srcdir, mod.file, name)
                if out is None:
                    why.append('lag el --lag stdlib/%s %s: %s' % (mod.file, name, err))
                else:
                    try:
                        why += check_system(mod, out)
                    except Exception as exc:       # a bug here must not hide the rest
                        why.append('internal error: %s: %s' % (type(exc).__name__, exc))
        label = '%s (%s)' % (name, where[0] if where else mod.file)
        print('%s %d - %s' % ('not ok' if why else 'ok', k, label))
        for w in why:
            for line in w.splitlines():
                print('# ' + line)
    for k, rel in enumerate(goldens, len(names) + 1):
        name = GOLDEN.get(rel)
        why = []
        if name is None or name not in models:
            why.append('no system for tests/golden/%s in GOLDEN (tests/el_stdlib.py): every golden '
                       'file must be checked against hand formulas' % rel)
        else:
            try:
                why += check_golden(os.path.join(golden_dir, rel), models[name])
            except Exception as exc:
                why.append('internal error: %s: %s' % (type(exc).__name__, exc))
        print('%s %d - tests/golden/%s (%s) agrees with the hand formulas%s'
              % ('not ok' if why else 'ok', k, rel, name, ' (accelerations and E, %d states)' % NSTATES
                 if not why else ''))
        for w in why[:6]:
            print('# ' + w)
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
