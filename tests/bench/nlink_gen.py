#!/usr/bin/env python3
"""tests/bench/nlink_gen.py N -- print an N-link planar pendulum as a .lag system.

The model is the one of the SymPy reference (shared/anchors/nlink_sympy.py):
point masses m_k = 1 on massless rods l_k = 1, g = 9.81, absolute angles th_k
measured from the downward vertical, fixed pivot at the origin (y upward).

    x_k  = x_(k-1) + l_k sin th_k          y_k  = y_(k-1) - l_k cos th_k
    vx_k = vx_(k-1) + l_k cos th_k th_k'   vy_k = vy_(k-1) + l_k sin th_k th_k'
    T = sum 1/2 m_k (vx_k^2 + vy_k^2)      V = sum m_k g y_k       L = T - V

Standard library only: the benchmark must not need anything but python3.
"""
import sys


def wrap(head, items, sep, indent, width=72):
    """head + items joined by sep, broken into lines of at most ~width chars.

    Newlines are insignificant inside a system, so a long sum or list simply
    continues on the next line: after a trailing ',' for lists, before a
    leading '+' for sums (so that each line reads as a term).
    """
    lines = []
    cur = head + items[0]
    for item in items[1:]:
        if len(cur) + len(sep) + 1 + len(item) <= width:
            cur += sep + ' ' + item
        elif sep == ',':
            lines.append(cur + ',')
            cur = indent + item
        else:
            lines.append(cur)
            cur = indent + sep.strip() + ' ' + item
    lines.append(cur)
    return lines


def generate(n):
    ks = range(1, n + 1)
    out = [f'# {n}-link planar pendulum: point masses on massless rods, absolute',
           '# angles from the downward vertical (tests/bench/nlink_gen.py)',
           'system NLink {']
    ind = '    '
    cont = ind + '      '
    params = ([f'm{k} = 1' for k in ks] + [f'l{k} = 1' for k in ks]
              + ['g = 9.81'])
    out += wrap(ind + 'param ', params, ',', cont)
    out += wrap(ind + 'coord ', [f'th{k}' for k in ks], ',', cont)
    for k in ks:
        if k == 1:
            out.append(f'{ind}let x1 = l1*sin(th1)')
            out.append(f'{ind}let y1 = -l1*cos(th1)')
            out.append(f"{ind}let vx1 = l1*cos(th1)*th1'")
            out.append(f"{ind}let vy1 = l1*sin(th1)*th1'")
        else:
            j = k - 1
            out.append(f'{ind}let x{k} = x{j} + l{k}*sin(th{k})')
            out.append(f'{ind}let y{k} = y{j} - l{k}*cos(th{k})')
            out.append(f"{ind}let vx{k} = vx{j} + l{k}*cos(th{k})*th{k}'")
            out.append(f"{ind}let vy{k} = vy{j} + l{k}*sin(th{k})*th{k}'")
    out += wrap(ind + 'let T = ', [f'0.5*m{k}*(vx{k}^2 + vy{k}^2)' for k in ks],
                ' +', cont)
    out += wrap(ind + 'let V = ', [f'm{k}*g*y{k}' for k in ks], ' +', cont)
    out.append(f'{ind}L = T - V')
    out.append('}')
    return '\n'.join(out) + '\n'


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: nlink_gen.py N   (N >= 1 links)\n')
        return 2
    try:
        n = int(argv[1])
    except ValueError:
        n = 0
    if n < 1:
        sys.stderr.write(f'nlink_gen.py: N must be a positive integer, not {argv[1]!r}\n')
        return 2
    sys.stdout.write(generate(n))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
