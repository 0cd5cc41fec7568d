#!/usr/bin/env python3
"""tests/sim_record.py — record columns and plots of a simulate job (TAP).

A spring (m = 2, k = 8, x0 = 1): the columns a = x'', T = m x'^2/2 and
pot = V are checked against x(t) = cos(2t): a = -4 cos 2t, T = 4 sin^2 2t,
V = 4 cos^2 2t; the SVG figure exists, is an SVG document, and has a
panel for each record (its name among the figure's words).

Environment: LAG (the program), srcdir (the source tree).
"""
import html
import math
import os
import re
import subprocess
import sys
import tempfile

import lagtest


def main():
    lag, srcdir = lagtest.program()
    print("1..2")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([lag, "run", "-o", tmp, os.path.join(srcdir, "tests", "sim", "record.lag")],
                             capture_output=True, text=True)
        why = []
        if out.returncode != 0:
            why.append("exit %d: %s" % (out.returncode, out.stderr.strip()))
        else:
            try:
                rows = lagtest.read_csv(os.path.join(tmp, "record.csv"))  # a NaN fails here
            except (OSError, ValueError) as exc:
                rows = []
                why.append(repr(exc))
            if len(rows) != 13:
                why.append("%d rows, expected 13 (t = 0 .. 3 every 0.25)" % len(rows))
            header = list(rows[0].keys()) if rows else []
            if header != ["t", "x", "x'", "E", "a", "T", "pot"]:
                why.append("header %s" % header)
            for r in rows:
                t = r["t"]
                want = {"a": -4 * math.cos(2 * t), "T": 4 * math.sin(2 * t) ** 2, "pot": 4 * math.cos(2 * t) ** 2,
                        "x": math.cos(2 * t)}
                for k, v in want.items():
                    if not lagtest.close(r[k], v, 1e-9):
                        why.append("t = %g: %s = %s, expected %.12g" % (t, k, r[k], v))
        print(("ok" if not why else "not ok") + " 1 - record columns a = x'', T, pot match the closed form")
        for w in why[:5]:
            print("# " + w)
        svg = os.path.join(tmp, "record.svg")
        text = open(svg, errors="replace").read() if os.path.exists(svg) else ""
        # the figure's words: PLplot writes each as a <text> element of
        # character references
        words = [html.unescape(re.sub(r"<[^>]+>", "", w)).strip()
                 for w in re.findall(r"<text[^>]*>.*?</text>", text, re.S)]
        ok = "<svg" in text[:4000] and all(name in words for name in ("x", "a", "T", "pot"))
        print(("ok" if ok else "not ok") + " 2 - plot \"record.svg\" is written as an SVG document, with "
              "a panel per record (its name as an axis label)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
