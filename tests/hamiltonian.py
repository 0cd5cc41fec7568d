#!/usr/bin/env python3
"""tests/hamiltonian.py — the Hamiltonian view (TAP).

1. `lag el --hamiltonian --lag` on every stdlib system (enumerated as
   tests/el_stdlib.py does, whose hand-derived momenta p(q, q'), mass
   matrices, right-hand sides and energies E(q, q') it reuses) at random
   states (q, q', t, parameters):
   - the printed H evaluated at (q, p(q, q')) equals the energy
     E = q'.p - L at (q, q') (the Legendre transform's defining identity);
   - dq_dt equals q', and so does dH/dp by central differences of the
     printed H (an independent check of the printed derivative);
   - dp_q_dt equals d/dt p(q(t), q'(t), t) along the motion, by central
     differences of the hand p along (q', q'' = M^-1 f, 1): Hamilton's
     p' = -dH/dq with the force and dissipation.
   The relativistic particle's L is not quadratic in the velocities: no H
   line, the reason in a comment, exit status 0.
2. The double pendulum's H against the textbook closed form written here.
3. A system given by H = p_x^2/(2m) + k x^2/2: x(t) = cos(w t) from
   x = 1, x' = 0 (rk8pd and the symplectic variational integrator), the
   momentum column p_x (and a record of it) = -m w sin(w t); `lag el --lag` prints H, Hamilton's
   equations and the equivalent L = m x'^2/2 - k x^2/2 (evaluated).
   Started in momenta (init p_x = 4, and a grid of p_x with m drawn per
   start): q' = dH/dp at the start, x = sin(2 t).
   The action job: the stationary path x = sin(w t)/sin(w) and its
   action m w cot(w)/2.
4. A charged particle in a magnetic field given by its H in the Landau
   gauge A = (-B y, 0) against the stdlib's Lagrangian in the symmetric
   gauge: both follow the circle x = 2 - cos t, y = sin t; `compare`
   across the formalisms: the trajectories agree to the tolerance.
5. Bad input: both L and H, H with a velocity (directly and through a
   let), H not quadratic in the momenta (the term named), a singular
   d2H/dp2, p_q in a Lagrangian system, a declaration named like a
   momentum, a momentum in a symmetry's generator, a start in both
   momenta and velocities, a start in momenta outside simulate: the exact
   located messages.
6. `lag el --help` lists --hamiltonian; --latex prints the view.

Every number goes through lagtest.close/worst (a NaN fails).
"""
import math
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import el_stdlib  # noqa: E402  (the hand formulas and the .lag expression evaluator)
from lagtest import close, err, finish, program, read_csv, report, run_json, run_lag, worst  # noqa: E402

LAG, SRCDIR = program()
NSTATES = 20


def el(args, cwd=None):
    env = dict(os.environ)
    env['LAG_PATH'] = os.path.join(SRCDIR, 'stdlib')
    return subprocess.run([LAG, 'el'] + args, cwd=cwd or SRCDIR, env=env, capture_output=True, text=True,
                          timeout=120)


def lines_of(text, system, coords, params):
    """The --lag lines (name, code, expr), the momenta p_q known names."""
    return el_stdlib.parse_output(text, system, coords, list(params) + ['p_' + q for q in coords])


def value(vals, name):
    v = vals.get(name)
    return v if isinstance(v, float) else math.nan


def ham_state(mod, s):
    """The state for the printed H lines: q, t, parameters, p = p(q, q')."""
    p = mod.derive(s)[0]
    st = {k: v for k, v in s.items() if not k.endswith("'")}
    for i, q in enumerate(mod.coords):
        st['p_' + q] = p[i]
    return st


def check_stdlib(mod, text):
    why = []
    params = [p for p, _ in mod.params]
    lines, problems = lines_of(text, mod.name, mod.coords, params)
    why += ['format: ' + p for p in problems]
    lines = [ln for ln in lines if ln[0] not in params]
    printed = [n for n, _, _ in lines]
    want = ['H'] + ['d%s_dt' % q for q in mod.coords] + ['dp_%s_dt' % q for q in mod.coords]
    if printed != want:
        return why + ['printed %s, expected %s' % (printed, want)]
    rng = random.Random(el_stdlib.SEED)
    errs = {k: [] for k in ('H', 'dq', 'fd_dq', 'dp')}
    scale = {k: [] for k in errs}
    for _ in range(NSTATES):
        s = mod.sample(rng)
        p, M, f, E = mod.derive(s)
        st = ham_state(mod, s)
        vals = el_stdlib.evaluate(lines, st)
        errs['H'].append(err(value(vals, 'H'), E))
        scale['H'].append(abs(E))
        acc = el_stdlib.solve(M, f)
        for i, q in enumerate(mod.coords):
            v = s[q + "'"]
            errs['dq'].append(err(value(vals, 'd%s_dt' % q), v))
            scale['dq'].append(abs(v))
            # dH/dp_i by central differences of the printed H
            h = 1e-5 * max(1.0, abs(st['p_' + q]))
            hi = el_stdlib.evaluate(lines[:1], dict(st, **{'p_' + q: st['p_' + q] + h}))
            lo = el_stdlib.evaluate(lines[:1], dict(st, **{'p_' + q: st['p_' + q] - h}))
            errs['fd_dq'].append(err((value(hi, 'H') - value(lo, 'H')) / (2 * h), v))
            scale['fd_dq'].append(abs(v))
            # p_i' along the motion: d/dt p(q + e q', q' + e q'', t + e), by the
            # fourth-order stencil (the driven pendulum's p varies as sin(w t), w = 60)
            e = 1e-4

            def moved(sign):
                s2 = dict(s)
                for j, r in enumerate(mod.coords):
                    s2[r] = s[r] + sign * e * s[r + "'"]
                    s2[r + "'"] = s[r + "'"] + sign * e * acc[j]
                s2['t'] = s['t'] + sign * e
                return mod.derive(s2)[0][i]
            pdot = (8 * (moved(1) - moved(-1)) - (moved(2) - moved(-2))) / (12 * e)
            errs['dp'].append(err(value(vals, 'dp_%s_dt' % q), pdot))
            scale['dp'].append(abs(pdot))
    tol = {'H': 1e-11, 'dq': 1e-11, 'fd_dq': 1e-6, 'dp': 1e-6}
    for k in errs:
        typical = sorted(scale[k])[len(scale[k]) // 2]
        w = worst(errs[k])
        if not w <= tol[k] * max(typical, max(scale[k]), 1e-300):
            why.append('%s: worst error %.3g (typical magnitude %.3g, tolerance %g relative)' % (k, w, typical, tol[k]))
    return why


def stdlib_points():
    found = el_stdlib.discover_systems(SRCDIR)
    models = {m.name: m for m in el_stdlib.MODELS}
    for fn, name, coords, params in found:
        mod = models.get(name)
        if mod is None:
            report(False, 'stdlib %s (%s): H against the Legendre transform' % (name, fn),
                   'no hand formulas for it in tests/el_stdlib.py')
            continue
        p = el(['--hamiltonian', '--lag', 'stdlib/' + fn, name])
        if name == 'RelativisticParticle':
            lines, _ = lines_of(p.stdout, name, coords, params)
            ok = (p.returncode == 0 and not any(n == 'H' for n, _, _ in lines)
                  and '# H has no closed form here: L is not quadratic in the velocities (the mass matrix '
                      "d2L/dq'2 depends on x')" in p.stdout)
            report(ok, 'stdlib %s (%s): L is not quadratic in the velocities: no closed-form H, said so' % (name, fn),
                   p.stdout + p.stderr)
            continue
        why = ['exit status %d: %s' % (p.returncode, p.stderr)] if p.returncode != 0 else check_stdlib(mod, p.stdout)
        report(not why, 'stdlib %s (%s): H(q, p(q, q\')) = E(q, q\'), q\' = dH/dp (printed and by differences), '
               'p\' along the motion, %d states' % (name, fn, NSTATES), '\n'.join(why))


def double_pendulum_textbook():
    mod = next(m for m in el_stdlib.MODELS if m.name == 'DoublePendulum')
    p = el(['--hamiltonian', '--lag', 'stdlib/pendulums.lag', 'DoublePendulum'])
    lines, problems = lines_of(p.stdout, 'DoublePendulum', mod.coords, [q for q, _ in mod.params])
    lines = [ln for ln in lines if ln[0] not in dict(mod.params)]
    rng = random.Random(7)
    errs, mags = [], []
    for _ in range(NSTATES):
        s = mod.sample(rng)
        st = {k: v for k, v in s.items() if not k.endswith("'")}
        st['p_t1'], st['p_t2'] = rng.uniform(-5, 5), rng.uniform(-5, 5)
        m1, m2, l1, l2, g = st['m1'], st['m2'], st['l1'], st['l2'], st['g']
        a, b, p1, p2 = st['t1'], st['t2'], st['p_t1'], st['p_t2']
        # e.g. Goldstein; Landau & Lifshitz §5: the kinetic term over 2 m2 l1^2 l2^2 (m1 + m2 sin^2(a - b))
        T = ((m2 * l2 ** 2 * p1 ** 2 + (m1 + m2) * l1 ** 2 * p2 ** 2 - 2 * m2 * l1 * l2 * p1 * p2 * math.cos(a - b))
             / (2 * m2 * l1 ** 2 * l2 ** 2 * (m1 + m2 * math.sin(a - b) ** 2)))
        V = -(m1 + m2) * g * l1 * math.cos(a) - m2 * g * l2 * math.cos(b)
        want = T + V
        errs.append(err(value(el_stdlib.evaluate(lines, st), 'H'), want))
        mags.append(abs(want))
    w = worst(errs)
    report(p.returncode == 0 and not problems and w <= 1e-11 * max(mags),
           'double pendulum: H against the textbook closed form at %d random (q, p): worst error %.3g'
           % (NSTATES, w), p.stderr + '\n'.join(problems))


OSC = """system OscH {
    param m = 2, k = 8
    coord x
    H = p_x^2/(2*m) + k*x^2/2
}
simulate OscH {
    init x = 1, x' = 0
    time 0 .. 6, every 0.05
    record px = p_x
    output "osc.csv"
}
simulate OscH {
    init x = 1, x' = 0
    time 0 .. 6, every 0.001
    method variational
    output "oscv.csv"
}
"""


def oscillator(tmp):
    p, js = run_json(LAG, tmp, 'osc.lag', OSC)
    w = 2.0  # sqrt(k/m)
    try:
        rows = read_csv(os.path.join(tmp, 'osc.csv'))
        ex = worst(err(r['x'], math.cos(w * r['t'])) for r in rows)
        ev = worst(err(r["x'"], -w * math.sin(w * r['t'])) for r in rows)
        ep = worst([err(r['px'], -2 * w * math.sin(w * r['t'])) for r in rows]
                   + [err(r['p_x'], -2 * w * math.sin(w * r['t'])) for r in rows])
        ok = p.returncode == 0 and len(rows) == 121 and ex < 1e-6 and ev < 1e-6 and ep < 2e-6
        report(ok, 'H = p^2/2m + k x^2/2 (rk8pd): x = cos(w t) to %.2g, x\' to %.2g, the momentum column p_x and '
               'the record of p_x = -m w sin(w t) to %.2g' % (ex, ev, ep), p.stderr)
    except (OSError, ValueError, KeyError) as ex:
        report(False, 'H = p^2/2m + k x^2/2 (rk8pd): x = cos(w t)', '%s\n%s' % (ex, p.stderr))
    try:
        rows = read_csv(os.path.join(tmp, 'oscv.csv'))
        ex = worst(err(r['x'], math.cos(w * r['t'])) for r in rows)
        eE = worst([err(r['E'], 4.0) for r in rows] + [err(r['p_x'], 2 * r["x'"]) for r in rows])
        # the midpoint rule's phase error: w^3 h^2 t / 12 = 8 1e-6 6 / 12 = 4e-6
        ok = p.returncode == 0 and len(rows) == 6001 and ex < 1e-5 and eE < 1e-5
        report(ok, 'H = p^2/2m + k x^2/2 (variational, h = 0.001): x = cos(w t) to %.2g, E = 4 to %.2g' % (ex, eE),
               p.stderr)
    except (OSError, ValueError, KeyError) as ex:
        report(False, 'H = p^2/2m + k x^2/2 (variational)', '%s\n%s' % (ex, p.stderr))
    path = os.path.join(tmp, 'osc.lag')
    q = el(['--lag', path, 'OscH'])
    lines, problems = lines_of(q.stdout, 'OscH', ['x'], ['m', 'k'])
    names = [n for n, _, _ in lines]
    why = list(problems)
    rng = random.Random(3)
    errs = []
    for _ in range(10):
        x, v = rng.uniform(-2, 2), rng.uniform(-2, 2)
        vals = el_stdlib.evaluate(lines, {'x': x, "x'": v, 'p_x': 2 * v, 't': 0.0})
        errs += [err(value(vals, 'H'), v * v + 4 * x * x), err(value(vals, 'dx_dt'), v),
                 err(value(vals, 'dp_x_dt'), -8 * x), err(value(vals, 'L'), v * v - 4 * x * x),
                 err(value(vals, 'p_x'), 2 * v), err(value(vals, 'accel_x'), -4 * x)]
    ok = (q.returncode == 0 and names[:7] == ['m', 'k', 'H', 'dx_dt', 'dp_x_dt', 'L', 'p_x']
          and worst(errs) <= 1e-12 and not why)
    report(ok, "lag el --lag of a system given by H: H, dx_dt, dp_x_dt, the equivalent L = m x'^2/2 - k x^2/2, "
           "then the Lagrangian lines (evaluated): worst error %.2g" % worst(errs),
           q.stdout + q.stderr + '\n'.join(why))


MOMENTA = """system OscH {
    param m = 2, k = 8
    coord x
    H = p_x^2/(2*m) + k*x^2/2
}
simulate OscH {
    init x = 0, p_x = 4
    time 0 .. 3, every 0.05
    output "pm.csv"
}
simulate OscH {
    param m = uniform(1, 3)
    samples 3, seed 5
    init x = 0.5, p_x = grid(1, 2, 3)
    time 0 .. 1, every 0.5
    output "pm2.csv"
}
"""


def momenta(tmp):
    # x' = p/m = 2 at the start: x = sin(2 t), p_x = 4 cos(2 t)
    p, js = run_json(LAG, tmp, 'pm.lag', MOMENTA)
    try:
        rows = read_csv(os.path.join(tmp, 'pm.csv'))
        ex = worst([err(r['x'], math.sin(2 * r['t'])) for r in rows]
                   + [err(r['p_x'], 4 * math.cos(2 * r['t'])) for r in rows])
        rows2 = [r for r in read_csv(os.path.join(tmp, 'pm2.csv')) if r['t'] == 0]
        # each start: p_x from the grid, x' = p_x/m with its own drawn m
        e2 = worst([err(r["x'"], r['p_x'] / r['m']) for r in rows2]
                   + [err(r['p_x'], 1 + 0.5 * k) for k, r in enumerate(rows2)]
                   + [err(r['x'], 0.5) for r in rows2] + [0.0 if len(rows2) == 3 else math.inf])
        ok = p.returncode == 0 and len(rows) == 61 and ex < 1e-6 and e2 < 1e-12
        report(ok, "simulate started in momenta (init p_x = 4): x = sin(2 t), p_x = 4 cos(2 t) to %.2g; a grid of "
               "momenta with m drawn per start: x' = p_x/m to %.2g" % (ex, e2), p.stderr)
    except (OSError, ValueError, KeyError) as ex:
        report(False, 'simulate started in momenta', '%s\n%s' % (ex, p.stderr))


ACTION = """system OscH {
    param m = 2, k = 8
    coord x
    H = p_x^2/(2*m) + k*x^2/2
}
action OscH {
    from 0: x = 0
    to 1: x = 1
    points 201
    output "act.csv"
}
"""


def action(tmp):
    # the stationary path x = sin(w t)/sin(w), w = 2; S = m w cot(w)/2 (the equivalent L's action)
    p, js = run_json(LAG, tmp, 'act.lag', ACTION)
    w = 2.0
    try:
        rows = read_csv(os.path.join(tmp, 'act.csv'))
        ex = worst(err(r['x'], math.sin(w * r['t']) / math.sin(w)) for r in rows)
        S = js[0].get('action') if js else None
        S = S if isinstance(S, float) else math.nan
        want = 2 * w / math.tan(w) / 2
        ok = p.returncode == 0 and len(rows) == 201 and ex < 1e-4 and close(S, want, 1e-4)
        report(ok, 'action of a system given by H: x = sin(w t)/sin(w) to %.2g, S = %.9g (m w cot(w)/2 = %.9g)'
               % (ex, S, want), p.stderr)
    except (OSError, ValueError, KeyError) as ex:
        report(False, 'action of a system given by H', '%s\n%s' % (ex, p.stderr))


CHARGED = """import "fields.lag"
system ChargedH {
    param m = 1, q = 1, B = 1
    coord x, y
    let Ax = -B*y
    H = ((p_x - q*Ax)^2 + p_y^2)/(2*m)
}
simulate ChargedH {
    init x = 1, y = 0, x' = 0, y' = 1
    time 0 .. 10, every 0.1
    output "ch.csv"
}
simulate ChargedParticleInB {
    init x = 1, y = 0, x' = 0, y' = 1
    time 0 .. 10, every 0.1
    output "cl.csv"
}
compare ChargedParticleInB, ChargedH {
    init x = 1, y = 0, x' = 0, y' = 1
    time 0 .. 10, every 0.1
    grid x = -1 .. 1 : 5, y = -1 .. 1 : 5
    output "cmp"
}
"""


def charged(tmp):
    env = dict(os.environ)
    env['LAG_PATH'] = os.path.join(SRCDIR, 'stdlib')
    path = os.path.join(tmp, 'charged.lag')
    with open(path, 'w') as f:
        f.write(CHARGED)
    p = subprocess.run([LAG, 'run', '--json', '--quiet', '-o', tmp, path], capture_output=True, text=True,
                       env=env, timeout=300)
    import json
    js = [json.loads(l) for l in p.stdout.splitlines() if l.startswith('{')]
    try:
        errs = {}
        for name in ('ch', 'cl'):
            rows = read_csv(os.path.join(tmp, name + '.csv'))
            errs[name] = worst([err(r['x'], 2 - math.cos(r['t'])) for r in rows]
                               + [err(r['y'], math.sin(r['t'])) for r in rows] + [0.0 if len(rows) == 101 else math.inf])
        ok = p.returncode == 0 and errs['ch'] < 1e-6 and errs['cl'] < 1e-6
        report(ok, 'charged particle in B: H = (p - qA)^2/2m (Landau gauge) and L (symmetric gauge) both follow '
               'x = 2 - cos t, y = sin t: %.2g, %.2g' % (errs['ch'], errs['cl']), p.stderr)
    except (OSError, ValueError, KeyError) as ex:
        report(False, 'charged particle in B: H and L against the circle', '%s\n%s' % (ex, p.stderr))
    cmp = next((j for j in js if j.get('job') == 'compare'), {})
    mdl = cmp.get('models', {}).get('ChargedH', {})

    def fnum(k):
        v = mdl.get(k)
        return v if isinstance(v, (int, float)) else math.nan
    # the two gauges differ by the total derivative d/dt(q B x y / 2): the same motion
    ok = (p.returncode == 0 and cmp.get('status') == 0 and 0 <= fnum('traj_rmse') < 1e-6
          and 0 <= fnum('accel_rmse_grid') < 1e-12 and mdl.get('diverge_time', 0) is None
          and 0 <= fnum('energy_drift') < 1e-6)
    report(ok, 'compare across formalisms (L reference, H model, another gauge): traj_rmse %.2g, '
           'accel_rmse_grid %.2g, energy_drift %.2g' % (fnum('traj_rmse'), fnum('accel_rmse_grid'),
                                                        fnum('energy_drift')), p.stderr + str(mdl))


BAD = [
    ('both', """system S {
    param m = 1
    coord x
    L = m*x'^2/2
    H = p_x^2/(2*m)
}
""", ["both.lag:5:5: error: a system has either a Lagrangian ('L = ...') or a Hamiltonian ('H = ...'), not both",
      "both.lag:4:5: note: the Lagrangian is here"]),
    ('velocity', """system S {
    param m = 1
    coord x
    H = p_x^2/(2*m) + x'^2
}
""", ["velocity.lag:4:23: error: the Hamiltonian is a function of the coordinates, their momenta and t, not of the "
      "velocities: write p_x (the momentum of x) instead of x'"]),
    ('velocity_let', """system S {
    coord x
    let v = 2*x'
    H = p_x^2 + v
}
""", ["velocity_let.lag:4:17: error: the Hamiltonian is a function of the coordinates, their momenta and t, not of "
      "the velocities, and 'v' uses one"]),
    ('quartic', """system S {
    param m = 1
    coord x
    H = p_x^2/(2*m) + p_x^4 + x^2
}
simulate S {
    time 0 .. 1
}
""", ["quartic.lag:4:5: error: H is not quadratic in the momenta (the term p_x^4 is not), so the velocities "
      "q' = dH/dp do not give the momenta in closed form: write H as 1/2 p.K(q,t).p + c(q,t).p + V(q,t), or give "
      "the system by its Lagrangian"]),
    ('singular', """system S {
    coord x, y
    H = (p_x + p_y)^2 + x^2
}
simulate S {
    time 0 .. 1
}
""", ["singular.lag:3:5: error: d2H/dp2 is singular (its determinant is 0 for every state), so the momenta do not "
      "follow from the velocities: no Lagrangian is equivalent to this H"]),
    ('lagrangian_p', """system S {
    coord x
    L = x'^2 - p_x
}
""", ["lagrangian_p.lag:3:16: error: 'p_x' names the momentum of 'x' only in a system given by its Hamiltonian "
      "('H = ...'); in a Lagrangian system write the momentum as an expression of x and x'"]),
    ('clash', """system S {
    param p_x = 1
    coord x
    H = x^2 + p_x^2
}
""", ["clash.lag:2:11: error: 'p_x' is the momentum of the coordinate 'x' in a system given by its Hamiltonian: "
      "choose another name"]),
    ('symmetry_p', """system S {
    coord x, y
    H = (p_x^2 + p_y^2)/2 + (x^2 + y^2)/2
    symmetry rot: x -> -y, y -> x
    symmetry odd: x -> p_x
}
simulate S {
    time 0 .. 1
}
""", ["symmetry_p.lag:5:24: error: a symmetry's generator is a function of the coordinates and t, and this uses "
      "the momentum p_x"]),
    ('init_mixed', """system S {
    coord x
    H = p_x^2/2 + x^2/2
}
simulate S {
    init x = 0, x' = 1, p_x = 4
    time 0 .. 1
}
""", ["init_mixed.lag:6:17: error: init gives the momentum p_x and the velocity x': a start is given in momenta "
      "or in velocities, not both"]),
    ('init_compare', """system S {
    coord x
    H = p_x^2/2 + x^2/2
}
system T {
    coord x
    L = x'^2/2 - x^2/2
}
compare S, T {
    init x = 0, p_x = 4
    time 0 .. 1
}
""", ["init_compare.lag:10:17: error: a start in momenta ('p_x') is a simulate job's; compare starts from the "
      "coordinates and velocities (x')"]),
]


def bad_input(tmp):
    for name, text, want in BAD:
        p = run_lag(LAG, tmp, name, text)
        got = [l[len(tmp) + 1:] if l.startswith(tmp + '/') else l for l in p.stderr.splitlines()
               if ': error: ' in l or ': note: ' in l]
        ok = p.returncode == 1 and got == want
        report(ok, 'bad input (%s): the located message%s' % (name, 's' if len(want) > 1 else ''),
               'exit %d\n%s' % (p.returncode, p.stderr))


def cli(tmp):
    p = subprocess.run([LAG, 'el', '--help'], capture_output=True, text=True, timeout=60)
    report(p.returncode == 0 and '--hamiltonian' in p.stdout, 'lag el --help lists --hamiltonian', p.stdout)
    q = el(['--hamiltonian', '--latex', 'stdlib/oscillators.lag', 'HarmonicOscillator'])
    want = ('% system HarmonicOscillator: the Hamiltonian view\n\\begin{align*}\nH &= \\frac{0.5 p_{x}^{2}}{m} '
            '+ 0.5 k x^{2} \\\\\n\\dot{x} &= \\frac{p_{x}}{m} \\\\\n\\dot{p}_{x} &= -k x\n\\end{align*}\n')
    report(q.returncode == 0 and q.stdout == want, 'lag el --hamiltonian --latex: H and Hamilton\'s equations',
           q.stdout + q.stderr)
    p1, p2 = os.path.join(tmp, 'clash1.lag'), os.path.join(tmp, 'clash2.lag')
    with open(p1, 'w') as f:
        f.write("system S {\n    param p_x = 1\n    coord x\n    L = x'^2/2 - p_x*x^2\n}\n")
    with open(p2, 'w') as f:
        f.write("system S {\n    param f_x = 1, dx_dt = 2\n    coord x\n    L = x'^2/2 - f_x*dx_dt*x^2\n}\n")
    got = []
    for args in (['--hamiltonian', p1], ['--hamiltonian', '--lag', p2], ['--hamiltonian', p2]):
        q = el(args)
        got += [l for l in q.stderr.splitlines() if ': error: ' in l] + ['exit %d' % q.returncode]
    want = [p1 + ":2:11: error: lag el --hamiltonian names the momentum of 'x' 'p_x', which is also the name of "
            "this parameter: rename the parameter", 'exit 1',
            p2 + ":2:20: error: lag el --lag prints a line named 'dx_dt', which is also the name of this "
            "parameter: rename the parameter", 'exit 1', 'exit 0']
    report(got == want, 'lag el --hamiltonian: a parameter named like a momentum, or like a line of its --lag '
           '(f_x is not one), is a located error', '\n'.join(got))
    r = el(['--hamiltonian', '--stats', 'stdlib/oscillators.lag'])
    report(r.returncode == 2 and 'lag: --hamiltonian prints H as text, --latex or --lag, not --stats' in r.stderr,
           'lag el --hamiltonian --stats: a usage error (exit 2)', r.stderr)


def main():
    stdlib_points()
    double_pendulum_textbook()
    with tempfile.TemporaryDirectory() as tmp:
        oscillator(tmp)
        action(tmp)
        momenta(tmp)
        charged(tmp)
        bad_input(tmp)
        cli(tmp)
    finish()


main()
