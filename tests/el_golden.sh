#!/usr/bin/env bash
# tests/el_golden.sh — `lag el` text and LaTeX output and `lag ir`'s
# lowered programs for three stdlib systems, compared with reviewed golden
# files (TAP).
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
irs=(
    "pendulums SimplePendulum simple_pendulum"
    "pendulums DoublePendulum double_pendulum"
    "central Kepler kepler"
)
echo "1..$((2 * ${#cases[@]} + ${#irs[@]}))"
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
for c in "${irs[@]}"; do
    set -- $c
    n=$((n + 1))
    golden="$srcdir/tests/golden/ir/$3.txt"
    got=$("$LAG" ir "$srcdir/stdlib/$1.lag" "$2" 2>&1)
    status=$?
    if [ "$status" -eq 0 ] && [ "$got" = "$(cat "$golden")" ]; then
        echo "ok $n - lag ir $1.lag $2 matches ir/$3.txt"
    else
        echo "not ok $n - lag ir $1.lag $2 matches ir/$3.txt (exit $status)"
        diff -u "$golden" <(printf '%s\n' "$got") | sed 's/^/# /'
    fi
done
exit 0
