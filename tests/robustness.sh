#!/usr/bin/env bash
# tests/robustness.sh — hostile inputs to `lag check`, and failed
# allocations in `lag check` and `lag run` (simulate, train, solve,
# action, compare) (TAP).
#
# Bad input must give a located message `FILE:LINE:COL: error: ...` as the
# first line of stderr and exit status 1: never a signal, never a sanitizer
# report, never a hang (10 s limit), never a status above 4.  A failed
# allocation anywhere (the program's own, GSL's, jansson's) must end in
# 'out of memory' and exit status 4, never a crash.
#
# Environment: LAG (the program; default ./lag).

set -u

LAG=${LAG:-$PWD/lag}
case $LAG in /*) ;; *) LAG=$PWD/$LAG ;; esac
unset LAG_PATH

if [ ! -x "$LAG" ]; then
    echo "Bail out! $LAG not built"
    exit 1
fi

# The default 8 MiB stack, whatever the caller's limit: deep nesting must
# be refused by the front end, not survive on a huge stack.
ulimit -s 8192 2>/dev/null || ulimit -S -s 8192 2>/dev/null || true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-robust.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# repeat N STRING: STRING N times, no newline.
repeat() {
    awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'
}

# --- the inputs ------------------------------------------------------------

: >empty.lag

printf 'const a = 1\nconst b = \377\376\nconst c = 2\n' >bad_utf8.lag

printf 'system A {\n    coord x\n    L = 0.5*x\000'"'"'^2\n}\n' >nul_byte.lag

{ printf 'const a = '; repeat 204800 x; printf '\n'; } >long_ident.lag

{ printf 'const a = '; repeat 100000 '('; printf '1'; repeat 100000 ')'; printf '\n'; } >deep_parens.lag

printf 'const a = 1e999999\n' >huge_number.lag

{ printf 'const a = '; repeat 200000 '-'; printf '1\n'; } >deep_minus.lag

{ printf 'const a = 1'; repeat 100000 '+1'; printf '\n'; } >long_sum.lag

# 2 MiB of printable ASCII, 80-column lines, the same bytes on every run.
awk 'BEGIN {
    srand(1)
    for (i = 1; i <= 2097152; i++) {
        if (i % 81 == 0) printf "\n"
        else printf "%c", 32 + int(rand() * 95)
    }
}' >garbage.lag

printf 'import "pendulums\nconst a = 1\n' >unterminated_string.lag

printf 'system A {\n    param m = 1\n    coord x\n    L = 0.5*m*x'"'"'^2\n' >unterminated_block.lag

# --- the checks --------------------------------------------------------------

cases=(
    "empty.lag:0:an empty file is valid"
    "bad_utf8.lag:1:invalid UTF-8 bytes"
    "nul_byte.lag:1:a NUL byte inside a system"
    "long_ident.lag:1:a 200 kB undefined identifier"
    "deep_parens.lag:1:100000 nested parentheses"
    "huge_number.lag:1:the number 1e999999"
    "deep_minus.lag:1:200000 nested unary minus signs"
    "long_sum.lag:1:a sum of 100001 terms (2000 levels deep at most)"
    "garbage.lag:1:2 MiB of random printable garbage"
    "unterminated_string.lag:1:an unterminated string"
    "unterminated_block.lag:1:an unterminated system block"
)

echo "1..$((${#cases[@]} + 6))"
n=0
for c in "${cases[@]}"; do
    file=${c%%:*}
    rest=${c#*:}
    want=${rest%%:*}
    what=${rest#*:}
    n=$((n + 1))

    timeout -k 1 10 "$LAG" check "$file" >out 2>err </dev/null
    status=$?

    why=()
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        why+=("timed out after 10 s (exit $status)")
    elif [ "$status" -gt 128 ]; then
        why+=("killed by signal $((status - 128))")
    elif [ "$status" -ne "$want" ]; then
        why+=("exit status $status, expected $want")
    fi
    if [ "$want" -ne 0 ]; then
        first=$(head -n 1 err | tr -d '\000')
        pattern="^${file//./\\.}:[0-9]+:[0-9]+: error: "
        if ! [[ $first =~ $pattern ]]; then
            why+=("first line of stderr is not a located '$file:LINE:COL: error: ' message")
        fi
    fi

    if [ ${#why[@]} -eq 0 ]; then
        echo "ok $n - $what ($file)"
    else
        echo "not ok $n - $what ($file)"
        {
            printf '%s\n' "${why[@]}"
            echo "stderr (first lines, cut to 200 columns):"
            head -n 10 err | cut -c 1-200 | tr -c '[:print:]\n' '?'
        } | sed 's/^/# /'
    fi
done

# Fault injection: LAG_FAIL_ALLOC=N makes the Nth allocation and all later
# ones fail.  Every N must end in a clean 'out of memory' (exit 4) or, once N
# is past the last allocation, in success: never a crash.
cat >model.lag <<'LAGEOF'
const G = 9.81
system Pendulum {
    param m = 1, l = 1
    coord th
    L = 0.5*m*l^2*th'^2 + m*G*l*cos(th)
}
simulate Pendulum { init th = 0.5, time 0 .. 10, every 0.01, method rk8pd }
LAGEOF
n=$((n + 1))
why=()
succeeded=0
for k in $(seq 1 60); do
    LAG_FAIL_ALLOC=$k timeout -k 1 10 "$LAG" check model.lag >out 2>err </dev/null
    status=$?
    if [ "$status" -eq 0 ]; then
        succeeded=1
    elif [ "$status" -ne 4 ] || ! grep -q 'out of memory' err; then
        why+=("LAG_FAIL_ALLOC=$k: exit $status: $(head -c 200 err | tr -c '[:print:]' '?')")
    fi
done
[ "$succeeded" -eq 1 ] || why+=("no run succeeded: k never got past the last allocation")
what="failing the k-th allocation, k = 1..60: exit 4 'out of memory' or success"
if [ ${#why[@]} -eq 0 ]; then
    echo "ok $n - $what"
else
    echo "not ok $n - $what"
    printf '%s\n' "${why[@]}" | sed 's/^/# /'
fi

# The same for `lag run`: a simulate job (CSV with a record column, JSON)
# and a short train job (save, checkpoints, JSON).  Every k from 1 until a
# run succeeds (k past the last allocation) for simulate; for train every
# k up to 60, then every 5th.  A run that fails must leave the previous
# output alone, and the successful run that follows must leave no
# temporary file behind (those of the killed runs are stale: removed).
cat >sim_job.lag <<'LAGEOF'
system Pendulum {
    param m = 1, l = 1
    coord th
    L = 0.5*m*l^2*th'^2 + 9.81*m*l*cos(th)
}
simulate Pendulum { init th = 0.5, time 0 .. 1, every 0.1, method rk8pd, output "p.csv", record acc = th'' }
LAGEOF
cat >train_job.lag <<'LAGEOF'
system Spring {
    param k = 4
    coord x
    L = 0.5*x'^2 - 0.5*k*x^2
}
system SpringLNN {
    param k = 4
    coord x
    net f = mlp(in = 3, hidden = [4], out = 1)
    L = f(x, x', k) + 0.5*x'^2
}
train SpringLNN {
    data from Spring { init x = uniform(-1, 1), x' = 2*tanh(normal(0, 1)), param k = uniform(3, 5) }
    weight 1 + x^2
    steps 3, batch 8, save "s.lagw", checkpoint every 1
}
system SpringFit {
    coord x
    unknown k = 1
    L = 0.5*x'^2 - 0.5*k*x^2
}
train SpringFit { data from Spring { time 0 .. 1, every 0.05, init x = 1 }, loss action }
train SpringLNN { data from Spring { time 0 .. 1, every 0.1, init x = 1 }, loss action, steps 2, batch 4 }
LAGEOF
fault_report() { # the test point n of a fault run: ok when why is empty
    if [ ${#why[@]} -eq 0 ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        printf '%s\n' "${why[@]}" | head -n 20 | sed 's/^/# /'
    fi
}
fault_run() { # fault_run FILE.lag DENSE STRIDE: sets why, ks
    local file=$1 dense=$2 stride=$3 k=1 status
    why=()
    ks=0
    while [ "$k" -le 20000 ]; do
        LAG_FAIL_ALLOC=$k timeout -k 1 60 "$LAG" run "$file" --json >out 2>err </dev/null
        status=$?
        ks=$((ks + 1))
        if [ "$status" -eq 0 ]; then
            break
        elif [ "$status" -ne 4 ] || ! grep -q 'out of memory' err; then
            why+=("LAG_FAIL_ALLOC=$k: exit $status: $(head -c 200 err | tr -c '[:print:]' '?')")
        fi
        if [ "$k" -lt "$dense" ]; then k=$((k + 1)); else k=$((k + stride)); fi
    done
    [ "$status" -eq 0 ] || why+=("no run succeeded up to k = $k")
    left=$(ls | grep '\.tmp\.[0-9]*$')
    [ -z "$left" ] || why+=("temporaries left after the successful run: $left")
}
n=$((n + 1))
fault_run sim_job.lag 100000 1
[ -s p.csv ] && [ "$(wc -l <p.csv)" -eq 12 ] || why+=("the successful run did not write p.csv (12 lines)")
what="lag run, simulate: failing the k-th allocation for every k ($ks runs): exit 4 'out of memory' or success"
fault_report
n=$((n + 1))
fault_run train_job.lag 60 5
[ -s s.lagw ] || why+=("the successful run did not save s.lagw")
what="lag run, train: failing the k-th allocation ($ks values of k): exit 4 'out of memory' or success"
fault_report

# solve (a chain with a CSV and a figure), action (the oscillator's path
# with a CSV) and compare (its three files and figure): every k up to 120,
# then every 9th until a run succeeds.
cat >solve_job.lag <<'LAGEOF'
problem Chain {
    domain x = 0 .. 1
    field y
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = 1.5
    minimize integral(y*sqrt(1 + y'^2))
}
solve Chain { points 40, output "c.csv", plot "c.png" }
system Osc {
    coord x
    L = 0.5*x'^2 - 0.5*x^2
}
action Osc { from 0: x = 0; to 2: x = 1; points 30, output "o.csv" }
system Stiff {
    coord x
    L = 0.5*x'^2 - 0.6*x^2
    symmetry mirror: x -> 0
}
compare Osc, Stiff { init x = 1; time 0 .. 1, every 0.1; grid x = -1 .. 1 : 5, x' = -1 .. 1 : 4; output "k"; plot "k.png" }
LAGEOF
n=$((n + 1))
fault_run solve_job.lag 120 9
[ -s c.csv ] && [ "$(wc -l <c.csv)" -eq 41 ] && [ -s c.png ] && [ -s o.csv ] && [ "$(wc -l <o.csv)" -eq 31 ] &&
    [ -s k_traj.csv ] && [ "$(wc -l <k_grid.csv)" -eq 21 ] && [ -s k_summary.json ] && [ -s k.png ] ||
    why+=("the successful run did not write c.csv (41 lines), c.png, o.csv (31 lines), k_traj.csv, k_grid.csv (21 lines), k_summary.json and k.png")
what="lag run, solve, action and compare: failing the k-th allocation ($ks values of k): exit 4 'out of memory' or success"
fault_report

# infer (a chain's sag from five points, its CSVs and figure): every k up to
# 150, then every 7th until a run succeeds
cat >infer_job.lag <<'LAGEOF'
problem Sag {
    domain x = 0 .. 1
    field y
    unknown GM = 0.1
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = 1.2
    minimize integral((y - GM/sqrt((x - 0.5)^2 + (y + 1)^2))*sqrt(1 + y'^2))
}
infer Sag { observe "sag.csv", noise 1e-3, points 30, output "i.csv", plot "i.png" }
LAGEOF
printf 'x,y\n0.2,-0.25\n0.4,-0.36\n0.5,-0.38\n0.6,-0.36\n0.8,-0.25\n' >sag.csv
n=$((n + 1))
fault_run infer_job.lag 150 7
[ -s i.csv ] && [ "$(wc -l <i.csv)" -eq 6 ] && [ -s i_nodes.csv ] && [ -s i.png ] ||
    why+=("the successful run did not write i.csv (6 lines), i_nodes.csv and i.png")
what="lag run, infer: failing the k-th allocation ($ks values of k): exit 4 'out of memory' or success"
fault_report

# infer with a net (its weights by L-BFGS through the adjoint, the
# Jacobian in them at the end, the saved weights): every k up to 150, then
# every 23rd until a run succeeds
cat >infer_net.lag <<'LAGEOF'
problem SagNet {
    domain x = 0 .. 1
    field y
    net f = mlp(in = 1, hidden = [2], out = 1, activation = tanh)
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = 1.2
    minimize integral((1 + 0.1*(f(x) - f(0.5)))*y*sqrt(1 + y'^2))
}
infer SagNet { observe "sag.csv", noise 1e-3, points 30, output "n.csv", plot "n.png", save "n.lagw" }
LAGEOF
n=$((n + 1))
fault_run infer_net.lag 150 23
[ -s n.csv ] && [ -s n_nodes.csv ] && [ -s n.png ] && [ -s n.lagw ] ||
    why+=("the successful run did not write n.csv, n_nodes.csv, n.png and n.lagw")
what="lag run, infer with a net: failing the k-th allocation ($ks values of k): exit 4 'out of memory' or success"
fault_report

exit 0
