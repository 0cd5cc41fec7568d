#!/usr/bin/env bash
# tests/cases.sh — golden tests of `lag check` on .lag files (TAP).
#
#   tests/cases/valid/NAME.lag     exit 0; stderr == NAME.stderr (or empty);
#                                  if NAME.ast exists, `lag check --ast`
#                                  stdout == NAME.ast (at least 5 do: a
#                                  test point fails when there are fewer)
#   tests/cases/invalid/NAME.lag   exit == NAME.code (or 1); stderr == NAME.err
#   stdlib/*.lag, examples/*.lag, examples/*/*.lag
#                                  exit 0
#
# Each command runs in the directory of its file with the bare file name, so
# messages read `NAME.lag:LINE:COL: ...`.  One TAP test point per file.
#
# Environment: LAG (the program; default ./lag), srcdir (top source dir).

set -u
shopt -s nullglob

LAG=${LAG:-$PWD/lag}
case $LAG in /*) ;; *) LAG=$PWD/$LAG ;; esac
srcdir=$(cd "${srcdir:-.}" && pwd) || { echo "Bail out! no srcdir"; exit 1; }
# Imports of the stdlib resolve through LAG_PATH, so an out-of-tree build
# (distcheck) finds the source tree's stdlib.
export LAG_PATH="$srcdir/stdlib"

if [ ! -x "$LAG" ]; then
    echo "Bail out! $LAG not built"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-cases.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

valid=("$srcdir"/tests/cases/valid/*.lag)
invalid=("$srcdir"/tests/cases/invalid/*.lag)
# (examples/extern_potential needs its C library, built by make check:
# tests/sim_extern.py checks and runs it)
shipped=("$srcdir"/stdlib/*.lag "$srcdir"/examples/*.lag)
for f in "$srcdir"/examples/*/*.lag; do
    case $f in */extern_potential/*) ;; *) shipped+=("$f") ;; esac
done

asts=("$srcdir"/tests/cases/valid/*.ast)
# one more test point: the --ast path is live (at least MIN_AST golden trees)
MIN_AST=5
total=$((${#valid[@]} + ${#invalid[@]} + ${#shipped[@]} + 1))
if [ "$total" -eq 0 ]; then
    echo "1..0 # SKIP no .lag files"
    exit 0
fi
echo "1..$total"

n=0
why=()      # reasons for the current test's failure, one per element

# diag FILE...: print lines as TAP diagnostics.
diag() {
    sed 's/^/# /' "$@"
}

# run DIR TIMEOUT ARGS...: run $LAG ARGS in DIR; sets $status, fills
# $tmp/out and $tmp/err.
run() {
    local dir=$1 limit=$2
    shift 2
    (cd "$dir" && exec timeout -k 1 "$limit" "$LAG" "$@") >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
}

# expect_file EXPECTED GOT LABEL: compare exactly, remember a diff on mismatch.
expect_file() {
    if ! cmp -s "$1" "$2"; then
        why+=("$3 differs (--- expected, +++ got):")
        why+=("$(diff -u --label expected --label got "$1" "$2" | head -n 200)")
    fi
}

expect_status() {
    if [ "$status" -ne "$1" ]; then
        if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
            why+=("timed out (exit $status), expected exit $1")
        elif [ "$status" -gt 128 ]; then
            why+=("killed by signal $((status - 128)), expected exit $1")
        else
            why+=("exit status $status, expected $1")
        fi
    fi
}

report() {
    n=$((n + 1))
    if [ ${#why[@]} -eq 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        printf '%s\n' "${why[@]}" | diag
    fi
    why=()
}

rel() {
    echo "${1#"$srcdir"/}"
}

for f in "${valid[@]}"; do
    dir=$(dirname "$f") name=$(basename "$f" .lag)
    run "$dir" 10 check "$name.lag"
    expect_status 0
    if [ -f "$dir/$name.stderr" ]; then
        expect_file "$dir/$name.stderr" "$tmp/err" stderr
    else
        expect_file /dev/null "$tmp/err" stderr
    fi
    if [ -f "$dir/$name.ast" ]; then
        run "$dir" 10 check --ast "$name.lag"
        expect_status 0
        expect_file "$dir/$name.ast" "$tmp/out" "stdout of check --ast"
    fi
    report "$(rel "$f")"
done

# every .ast belongs to a valid case (a stray one would never be compared)
for f in "${asts[@]}"; do
    [ -f "${f%.ast}.lag" ] || why+=("$(rel "$f") has no .lag beside it")
done
[ ${#asts[@]} -ge $MIN_AST ] || why+=("only ${#asts[@]} .ast files in tests/cases/valid (at least $MIN_AST)")
report "lag check --ast is compared with ${#asts[@]} golden syntax trees in tests/cases/valid"

for f in "${invalid[@]}"; do
    dir=$(dirname "$f") name=$(basename "$f" .lag)
    code=1
    if [ -f "$dir/$name.code" ]; then
        code=$(tr -d ' \t\r\n' <"$dir/$name.code")
        case $code in
            '' | *[!0-9]*) why+=("$name.code does not hold a number"); code=1 ;;
        esac
    fi
    run "$dir" 10 check "$name.lag"
    expect_status "$code"
    if [ -f "$dir/$name.err" ]; then
        expect_file "$dir/$name.err" "$tmp/err" stderr
    else
        why+=("missing $name.err (the expected stderr); got:")
        why+=("$(head -n 50 "$tmp/err")")
    fi
    report "$(rel "$f")"
done

for f in "${shipped[@]}"; do
    dir=$(dirname "$f") name=$(basename "$f")
    run "$dir" 30 check "$name"
    expect_status 0
    if [ "$status" -ne 0 ]; then
        why+=("stderr:")
        why+=("$(head -n 50 "$tmp/err")")
    fi
    report "$(rel "$f")"
done

exit 0
