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
# Two systems, three jobs: a simulate job on A, a train and a simulate job
# on B (for --job, --quiet and --progress).
cat >"$tmp/jobs.lag" <<'EOF'
system A {
    coord x
    L = 0.5*x'^2 - 0.5*x^2
}
system B {
    coord x
    net f = mlp(in = 2, hidden = [4], out = 1)
    L = f(x, x') + 0.5*x'^2
}
simulate A { init x = 1, time 0 .. 1, every 0.5, output "a.csv" }
train B { data from A { init x = uniform(-1, 1), x' = uniform(-1, 1) }, steps 30, batch 8 }
simulate B { init x = 1, time 0 .. 1, every 0.5, output "b.csv" }
EOF
cat >"$tmp/free.lag" <<'EOF'
system Free {
    coord x
    L = 0.5*x'^2
}
EOF
cat >"$tmp/pendulums.lag" <<'EOF'
system SimplePendulum {
    param m = 1, l = 1, g = 9.81
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
system DoublePendulum {
    param m1 = 1, m2 = 1, l1 = 1, l2 = 1, g = 9.81
    coord t1, t2
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
        + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
EOF

echo "1..13"
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

lag run --json --set Pendulum.l=4 pendulum.lag
expect_status 0
# E0 = -m g l cos(0.5) with l = 4 (tests/run_hardening.sh: other systems untouched, bad --set refused)
if ! grep -q '"initial":-34.43' "$tmp/out"; then
    why+=("--set Pendulum.l=4 not applied: $(head -c 300 "$tmp/out")")
fi
report "lag run --set SYSTEM.param=value overrides a parameter"

printf 'system A {\n    coord x\n    L = 0.5*x'"'"'^2\n}\nsimulate A { init x = 1, time 0 .. 1e6, every 1e-9 }\n' >"$tmp/huge.lag"
lag run huge.lag
expect_status 1
expect_grep "$tmp/err" stderr -E -- '^huge\.lag:5:1: error: .*raise .every'
report "lag run: a run of 1e15 output rows is refused at once with a located error"

# stat KEY: the value of `KEY value` in $tmp/out (lag el --stats)
stat() {
    awk -v k="$1" '$1 == k { print $2 }' "$tmp/out"
}

# lag el --stats: the counts.  A free particle has M = 1 and f = 0: no
# operation at all.  The simple pendulum with its parameters' values has
# M = 1 and f = -9.81 sin(th): one sine and one product (ops_cse_numeric 2);
# with symbols, sharing never makes the count larger (ops_cse <= ops_tree).
lag el --stats free.lag
expect_status 0
[ "$(stat coordinates)" = 1 ] && [ "$(stat ops_tree)" = 0 ] && [ "$(stat ops_cse)" = 0 ] &&
    [ "$(stat ops_cse_numeric)" = 0 ] || why+=("free particle: expected coordinates 1 and no operations")
lag el --stats pendulums.lag SimplePendulum
expect_status 0
[ "$(stat coordinates)" = 1 ] && [ "$(stat ops_cse_numeric)" = 2 ] ||
    why+=("SimplePendulum: expected coordinates 1, ops_cse_numeric 2 (f = -9.81 sin th)")
lag el --stats pendulums.lag DoublePendulum
expect_status 0
tree=$(stat ops_tree) cse=$(stat ops_cse) num=$(stat ops_cse_numeric)
[ "$(stat coordinates)" = 2 ] && [ -n "$tree" ] && [ -n "$cse" ] && [ -n "$num" ] &&
    [ "$num" -gt 2 ] && [ "$num" -le "$cse" ] && [ "$cse" -le "$tree" ] ||
    why+=("DoublePendulum: expected coordinates 2, 2 < ops_cse_numeric <= ops_cse <= ops_tree")
report "lag el --stats: coordinates and operation counts (0 for a free particle, 2 for the pendulum's -9.81 sin th)"

# --job NAME runs only the jobs on NAME
rm -f "$tmp/a.csv" "$tmp/b.csv"
lag run --json --quiet --job A jobs.lag
expect_status 0
[ -s "$tmp/a.csv" ] || why+=("--job A: no a.csv")
[ ! -e "$tmp/b.csv" ] || why+=("--job A: b.csv written (a job on B ran)")
[ "$(grep -c '^{' "$tmp/out")" -eq 1 ] || why+=("--job A: expected 1 JSON object")
expect_grep "$tmp/out" stdout -F -- '"system":"A"'
rm -f "$tmp/a.csv" "$tmp/b.csv"
lag run --json --quiet --job B jobs.lag
expect_status 0
[ -s "$tmp/b.csv" ] || why+=("--job B: no b.csv")
[ ! -e "$tmp/a.csv" ] || why+=("--job B: a.csv written (the job on A ran)")
[ "$(grep -c '^{' "$tmp/out")" -eq 2 ] || why+=("--job B: expected 2 JSON objects (train and simulate B)")
! grep -q '"system":"A"' "$tmp/out" || why+=("--job B: a JSON object for system A")
rm -f "$tmp/a.csv" "$tmp/b.csv"
report "lag run --job NAME runs only the jobs on NAME (A: one simulate; B: train and simulate)"

# --quiet: nothing on stderr, even with --progress; the jobs still run
lag run --quiet --progress jobs.lag
expect_status 0
[ ! -s "$tmp/err" ] || why+=("stderr is not empty")
[ -s "$tmp/a.csv" ] && [ -s "$tmp/b.csv" ] || why+=("a.csv and b.csv not both written")
rm -f "$tmp/a.csv" "$tmp/b.csv"
report "lag run --quiet: the jobs run and nothing is printed on stderr (even with --progress)"

# --progress: train's progress on a stderr that is not a terminal (here a
# file), to the last step; without it, none
lag run --progress --job B jobs.lag
expect_status 0
expect_grep "$tmp/err" stderr -F -- "train B: step 30/30"
lag run --job B jobs.lag
expect_status 0
! grep -q "step 30/30" "$tmp/err" || why+=("progress printed to a file without --progress")
rm -f "$tmp/b.csv"
report "lag run --progress: train reports its steps (to 30/30) on a stderr that is not a terminal; without it, nothing"

exit 0
