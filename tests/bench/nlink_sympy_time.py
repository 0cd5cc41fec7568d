#!/usr/bin/python3
"""tests/bench/nlink_sympy_time.py N -- time SymPy's Lagrange derivation of the N-link pendulum.

The reference is not re-implemented here: this imports derive(), make_numeric() and
cse_ops() from shared/anchors/nlink_sympy.py (the anchor's own code), so what is
timed is exactly the anchor's derivation.  Per repeat it clears SymPy's cache, then
runs derive(N), which builds the particles and Lagrangian (setup) and calls
LagrangesMethod.form_lagranges_equations() (form).

Output, one `key value` per line (for tests/bench/nlink.sh):
    N         the number of links
    reps      how many derivations were timed
    form_s    median time of form_lagranges_equations()   (the benchmark figure)
    derive_s  median of setup + form (the anchor README's derive_s column)
    ops_cse   operations after CSE in M_full + f_full with m = l = 1, g = 9.81
              substituted (the anchor README's "ops after CSE" column); omitted
              with --no-ops

Needs sympy, scipy and numpy (Debian: python3-sympy python3-scipy python3-numpy);
benchmarks only, never the test suite.  The anchor directory is --anchors, else
$LAG_ANCHORS, else ../../../shared/anchors relative to this file.
"""
import argparse
import os
import statistics
import sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('n', type=int, help='number of links')
    ap.add_argument('--repeats', type=int, default=3, help='derivations to time (median)')
    ap.add_argument('--anchors', default=os.environ.get('LAG_ANCHORS') or
                    os.path.join(here, '..', '..', '..', 'shared', 'anchors'))
    ap.add_argument('--no-ops', action='store_true', help='skip the ops-after-CSE count')
    args = ap.parse_args()
    if args.n < 1 or args.repeats < 1:
        ap.error('N and --repeats must be positive')

    sys.dont_write_bytecode = True      # leave no __pycache__ in the shared anchors
    sys.path.insert(0, os.path.abspath(args.anchors))
    try:
        import nlink_sympy as ref
    except ImportError as exc:
        sys.stderr.write(f'nlink_sympy_time.py: cannot import the reference from '
                         f'{args.anchors}: {exc}\n')
        return 4
    sp = ref.sp

    times = []
    for _ in range(args.repeats):
        sp.core.cache.clear_cache()
        LM, q, qd, params, tm = ref.derive(args.n)
        times.append(tm)
    print(f'N {args.n}')
    print(f'reps {len(times)}')
    print(f'form_s {statistics.median(t["form"] for t in times):.6g}')
    print(f'derive_s {statistics.median(t["total"] for t in times):.6g}')
    sys.stdout.flush()
    if not args.no_ops:
        Mf, Ff, _ = ref.matrices(LM)
        _, Mn, Fn, _ = ref.make_numeric(args.n, Mf, Ff, q, qd, params)
        print(f'ops_cse {ref.cse_ops(Mn, Fn)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
