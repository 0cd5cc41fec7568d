#!/usr/bin/env bash
# tests/cli.sh — the command line of lag: options, usage errors, exit codes
# (TAP).  Exit codes: 0 ok, 1 input error, 2 usage, 3 numerical, 4 I/O.
#
# Environment: LAG (the program; default ./lag), LAG_VERSION (default 0.1.0).

set -u

LAG=${LAG:-$PWD/lag}
case $LAG in /*) ;; *) LAG=$PWD/$LAG ;; esac
LAG_VERSION=${LAG_VERSION:-0.1.0}
unset LAG_PATH

if [ ! -x "$LAG" ]; then
    echo "Bail out! $LAG not built"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# A small valid file (LANGUAGE.md §3).
cat >"$tmp/pendulum.lag" <<'EOF'
# a simple pendulum
system Pendulum {
    param m = 1, l = 1, g = 9.81
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
simulate Pendulum { init th = 0.5, time 0 .. 1, every 0.1, output "swing.csv" }
EOF
cat >"$tmp/compare.lag" <<'EOF'
# a comparison job (not implemented yet)
system A {
    coord x
    L = 0.5*x'^2 - 0.5*x^2
}
system B {
    coord x
    L = 0.5*x'^2 - 0.6*x^2
}
compare A, B { init x = 1, time 0 .. 1 }
EOF

echo "1..10"
n=0
why=()

# lag ARGS...: run from $tmp; sets $status, fills $tmp/out, $tmp/err.
lag() {
    (cd "$tmp" && exec timeout -k 1 10 "$LAG" "$@") >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
}

expect_status() {
    [ "$status" -eq "$1" ] || why+=("exit status $status, expected $1")
}

# expect_grep FILE LABEL GREP-ARGS...: FILE must match.
expect_grep() {
    local file=$1 label=$2
    shift 2
    grep -q "$@" "$file" || why+=("$label does not match: grep $*")
}

report() {
    n=$((n + 1))
    if [ ${#why[@]} -eq 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        {
            printf '%s\n' "${why[@]}"
            echo "stdout:"
            head -n 30 "$tmp/out"
            echo "stderr:"
            head -n 30 "$tmp/err"
        } | sed 's/^/# /'
    fi
    why=()
}

lag --help
expect_status 0
for word in run check; do
    expect_grep "$tmp/out" stdout -w -- "$word"
done
report "lag --help: exit 0, lists run and check"

lag --version
expect_status 0
expect_grep "$tmp/out" stdout -F -- "lag $LAG_VERSION"
report "lag --version: exit 0, prints lag $LAG_VERSION"

lag
expect_status 2
expect_grep "$tmp/err" stderr -i -- usage
report "lag without arguments: exit 2, usage on stderr"

lag frobnicate
expect_status 2
expect_grep "$tmp/err" stderr .
report "lag frobnicate: exit 2 with a message"

lag check
expect_status 2
expect_grep "$tmp/err" stderr .
report "lag check without a file: exit 2 with a message"

lag check /nonexistent.lag
expect_status 4
expect_grep "$tmp/err" stderr -F -- /nonexistent.lag
report "lag check /nonexistent.lag: exit 4, names the file"

lag run pendulum.lag
expect_status 0
if [ "$(head -n 1 "$tmp/swing.csv" 2>/dev/null)" != "t,th,th',E" ] ||
    [ "$(wc -l <"$tmp/swing.csv" 2>/dev/null)" -ne 12 ]; then
    why+=("swing.csv: expected the header t,th,th',E and 11 rows")
fi
report "lag run: a simulate job writes its CSV (header and 11 rows)"

lag run --json --set Pendulum.l=4 --set Other.l=9 pendulum.lag
expect_status 0
# E0 = -m g l cos(0.5) with l = 4 (the other --set names another system)
if ! grep -q '"initial":-34.43' "$tmp/out"; then
    why+=("--set Pendulum.l=4 not applied: $(head -c 300 "$tmp/out")")
fi
report "lag run --set SYSTEM.param=value overrides a parameter of that system only"

printf 'system A {\n    coord x\n    L = 0.5*x'"'"'^2\n}\nsimulate A { init x = 1, time 0 .. 1e6, every 1e-9 }\n' >"$tmp/huge.lag"
lag run huge.lag
expect_status 1
expect_grep "$tmp/err" stderr -E -- '^huge\.lag:5:1: error: .*raise .every'
report "lag run: a run of 1e15 output rows is refused at once with a located error"

lag run compare.lag
expect_status 2
cat "$tmp/out" "$tmp/err" >"$tmp/both"
expect_grep "$tmp/both" "output" -F -- "not implemented yet"
report "lag run: a compare job exits 2, not implemented yet"

exit 0
