#!/usr/bin/env bash
# tests/el_stdlib.sh — TAP: `lag el --lag` on every stdlib system vs hand-derived formulas (env: LAG, srcdir).
exec "${PYTHON3:-python3}" "${srcdir:-.}/tests/el_stdlib.py"
