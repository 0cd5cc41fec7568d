"""tests/lagtest.py — what the Python tests share.

program(): the program under test ($LAG, default ./lag) and the source tree
($srcdir, default .), or the TAP line "Bail out!" and exit status 1 when the
program is not built.
"""
import os
import sys


def program():
    lag = os.environ.get("LAG", "./lag")
    srcdir = os.path.abspath(os.environ.get("srcdir", "."))
    if not os.access(lag, os.X_OK):
        print("Bail out! %s not built" % lag)
        sys.exit(1)
    return lag, srcdir
