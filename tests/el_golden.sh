#!/usr/bin/env bash
# tests/el_golden.sh — `lag el` text and LaTeX output for three stdlib
# systems, compared with reviewed golden files (TAP).
#
# Environment: LAG (the program), srcdir (the source tree).

set -u
LAG=${LAG:-$PWD/lag}
srcdir=$(cd "${srcdir:-.}" && pwd)
if [ ! -x "$LAG" ]; then
    echo "Bail out! $LAG not built"
    exit 1
fi

cases=(
    "pendulums DoublePendulum double_pendulum"
    "central Kepler kepler"
    "fields ChargedParticleInB charged_particle"
)
echo "1..$((2 * ${#cases[@]}))"
n=0
for c in "${cases[@]}"; do
    set -- $c
    for fmt in txt tex; do
        n=$((n + 1))
        opt=()
        [ "$fmt" = tex ] && opt=(--latex)
        golden="$srcdir/tests/golden/el/$3.$fmt"
        got=$("$LAG" el "${opt[@]}" "$srcdir/stdlib/$1.lag" "$2" 2>&1)
        status=$?
        if [ "$status" -eq 0 ] && [ "$got" = "$(cat "$golden")" ]; then
            echo "ok $n - lag el ${opt[*]} $1.lag $2 matches $3.$fmt"
        else
            echo "not ok $n - lag el ${opt[*]} $1.lag $2 matches $3.$fmt (exit $status)"
            diff -u "$golden" <(printf '%s\n' "$got") | sed 's/^/# /'
        fi
    done
done
exit 0
