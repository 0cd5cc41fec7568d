#!/usr/bin/env bash
# tests/bench/variational.sh — the solve and action benchmarks (a report;
# never pass/fail, not part of make check).
#
#   1. The uniform hanging chain, the anchor's exact discrete problem (N
#      nodes on [0,1], length 1.5, minimise sum h y_mid sqrt(1+s^2), tol
#      1e-10): `lag run --json` (whole process) at N = NS points, from the
#      anchor's good guess y = -2.0554 x(1-x) and from the poor guess
#      y = -0.5 x(1-x); iterations, objective, multiplier, the error against
#      the closed-form catenary (from one untimed run that writes the CSV),
#      wall time (median of REPS), peak RSS, time per iteration and its
#      growth per decade.
#   2. IPOPT: ../shared/anchors/chain_ipopt.c built into a temporary folder
#      when `pkg-config --exists ipopt`, and a copy of it that differs only
#      in the guess (-0.5 x(1-x)), run once under POOR_TIMEOUT with an
#      ipopt.opt that writes its iteration log, so a run that diverges
#      still shows where it went.
#   3. SciPy (when /usr/bin/python3 has scipy): chain_scipy.py
#      (trust-constr) at SCIPY_NS under SCIPY_TIMEOUT; bvp_scipy.py's
#      two-stage double-pendulum solve against `lag run` of the
#      DoublePendulum action job of examples/least_action.lag (a copy,
#      without its output files).
#
# Nothing is installed and nothing is written outside a temporary folder.
#
# Environment: LAG (default ./lag), srcdir (default .), ANCHORS or
# LAG_ANCHORS (default $srcdir/../shared/anchors), NS (default
# "1000 10000 100000 1000000"), REPS (default 3), TIMEOUT (seconds a lag
# or IPOPT run may take, default 600), POOR_TIMEOUT (IPOPT from the poor
# guess, default 60), SCIPY_NS (default "10000 100000"), SCIPY_TIMEOUT
# (default 300), PYTHON (default /usr/bin/python3), CC (default cc).
set -u
LAG=${LAG:-./lag}
case $LAG in /*) ;; *) LAG=$(pwd)/$LAG ;; esac
srcdir=$(cd "${srcdir:-.}" && pwd)
ANCHORS=${ANCHORS:-${LAG_ANCHORS:-$srcdir/../shared/anchors}}
NS=$(echo "${NS:-1000 10000 100000 1000000}" | tr ',' ' ')
REPS=${REPS:-3}
TIMEOUT=${TIMEOUT:-600}
POOR_TIMEOUT=${POOR_TIMEOUT:-60}
SCIPY_NS=$(echo "${SCIPY_NS:-10000 100000}" | tr ',' ' ')
SCIPY_TIMEOUT=${SCIPY_TIMEOUT:-300}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
NCPU=$(nproc) # before OMP_NUM_THREADS, which nproc honours
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 # as the anchors were run
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-bench-var.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# the closed form (anchor README, section (A))
CAT_A=0.308236469736040
OBJ_EXACT=-0.454034063670
MUL_EXACT=0.810869731384

have_time=0
[ -x /usr/bin/time ] && have_time=1

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "nan" }'; }
calc() { echo "$*" | bc -l; }

# measure TLIMIT OUT CMD...: run CMD (stdout to OUT, stderr to OUT.err)
# under `timeout TLIMIT`; sets WALL (s), RC (124 on timeout) and RSS (peak
# resident KB: /usr/bin/time when there, else VmHWM polled from /proc).
measure() {
    local lim=$1 out=$2 s e
    shift 2
    s=$EPOCHREALTIME
    if [ $have_time = 1 ]; then
        timeout "$lim" /usr/bin/time -f '%M' -o "$out.rss" "$@" >"$out" 2>"$out.err"
        RC=$?
        e=$EPOCHREALTIME
        RSS=$(tail -n 1 "$out.rss" 2>/dev/null | grep -E '^[0-9]+$' || echo nan)
    else
        timeout "$lim" "$@" >"$out" 2>"$out.err" &
        local pid=$! hwm=0 v
        while kill -0 "$pid" 2>/dev/null; do
            v=$(for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
                    awk '/VmHWM/ { print $2 }' /proc/"$c"/status 2>/dev/null; done | sort -g | tail -n 1)
            [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
            sleep 0.05
        done
        wait "$pid"
        RC=$?
        e=$EPOCHREALTIME
        RSS=$hwm
    fi
    WALL=$(calc "$e - $s")
}

# json_num FILE KEY: a number after "KEY": in lag's --json line
json_num() { sed -nE "s/.*\"$2\":(-?[0-9.eE+-]+|true|false).*/\1/p" "$1" | head -n 1; }
json_mult() { sed -nE 's/.*"multipliers":\{"[^"]*":(-?[0-9.eE+-]+).*/\1/p' "$1" | head -n 1; }
# kv FILE KEY: the value of KEY=value in an anchor's output line
kv() { sed -nE "s/.*(^| )$2=([^ ]+).*/\2/p" "$1" | head -n 1; }

echo "# variational benchmarks (solve, action)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $NCPU CPUs, $(lscpu 2>/dev/null | grep 'Model name' | head -n 1 | cut -d: -f2 | sed 's/^ *//'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- lag: $("$LAG" --version 2>&1 | head -n 1) ($LAG)"
echo "- peak RSS from $([ $have_time = 1 ] && echo '/usr/bin/time' || echo 'VmHWM in /proc, polled every 0.05 s')"
echo

# ---------------------------------------------------------------- 1. lag
chain_lag() { # N GUESS_C [output]: the anchor's discrete chain as a solve job
    cat <<EOF
problem Chain {
    param len = 1.5
    domain x = 0 .. 1
    field y
    fix y(0) = 0, y(1) = 0
    subject integral(sqrt(1 + y'^2)) = len
    minimize integral(y*sqrt(1 + y'^2))
}

solve Chain {
    points $1
    tol 1e-10
    guess y = -$2*x*(1 - x)
EOF
    [ $# -gt 2 ] && echo "    output \"$3\""
    echo "}"
}

# max |y - catenary| over the CSV's nodes
cat_err() {
    awk -F, -v a=$CAT_A 'NR > 1 { yc = a * (exp((($1) - 0.5) / a) + exp((0.5 - ($1)) / a)) / 2 - a * (exp(0.5 / a) + exp(-0.5 / a)) / 2;
        d = $2 - yc; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3e\n", m }' "$1"
}

echo "## 1. lag run --json, the hanging chain (tol 1e-10)"
echo
echo "| guess | N | status | iterations | objective | multiplier | max err vs closed form | whole run (s), median of $REPS | solve wall_s (median) | per iteration (ms) | peak RSS (MB) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for guess in good poor; do
    c=2.0554
    [ $guess = poor ] && c=0.5
    for N in $NS; do
        f=$tmp/chain_${guess}_$N
        chain_lag "$N" $c >"$f.lag"
        chain_lag "$N" $c "chain_${guess}_$N.csv" >"${f}_csv.lag"
        # untimed: the CSV for the error, and a warm-up
        measure "$TIMEOUT" "$f.csvrun" "$LAG" run --json -o "$tmp" "${f}_csv.lag"
        if [ -s "$tmp/chain_${guess}_$N.csv" ]; then err=$(cat_err "$tmp/chain_${guess}_$N.csv"); else err=n/a; fi
        rm -f "$tmp/chain_${guess}_$N.csv"
        : >"$f.walls"
        : >"$f.rsss"
        : >"$f.wss"
        for r in $(seq "$REPS"); do
            measure "$TIMEOUT" "$f.out" "$LAG" run --json -o "$tmp" "$f.lag"
            echo "$WALL" >>"$f.walls"
            echo "$RSS" >>"$f.rsss"
            [ $RC = 124 ] && break
            json_num "$f.out" wall_s >>"$f.wss"
        done
        w=$(median <"$f.walls")
        rss=$(sort -g "$f.rsss" | tail -n 1)
        if [ $RC = 124 ]; then
            st="timeout ${TIMEOUT} s"
            it=n/a obj=n/a mul=n/a ws=n/a pit=n/a
        else
            conv=$(json_num "$f.out" converged)
            st="$(json_num "$f.out" status)$([ "$conv" = true ] && echo ' converged' || echo ' NOT converged')"
            it=$(json_num "$f.out" iterations)
            obj=$(json_num "$f.out" objective)
            mul=$(json_mult "$f.out")
            ws=$(median <"$f.wss")
            pit=$(calc "1000 * $ws / ($it + (${it:-0} == 0))")
        fi
        echo "$guess $N $w $ws $it $pit $rss $err $conv" >>"$tmp/lag.res"
        printf '| %s | %s | %s | %s | %.12f | %.12f | %s | %.3f | %.3f | %.3f | %.1f |\n' \
            "$guess" "$N" "$st" "$it" "$obj" "$mul" "$err" "$w" "$ws" "$pit" "$(calc "$rss / 1024")" 2>/dev/null ||
            echo "| $guess | $N | $st | $it | $obj | $mul | $err | $w | $ws | $pit | $rss KB |"
    done
done
echo
echo "Closed form: objective $OBJ_EXACT, multiplier $MUL_EXACT (the discrete problem's own error is ~0.195 h^2)."
echo "'whole run' is the process (start-up, parse, derive, lower, guess, Newton); 'solve wall_s' is --json's own figure."
echo
echo "Time per iteration (solve wall_s / iterations), growth per decade divided by 10 (target: at most 1.3):"
echo
for guess in good poor; do
    prev=
    line="- $guess guess:"
    for N in $NS; do
        p=$(awk -v g=$guess -v n=$N '$1 == g && $2 == n { print $6 }' "$tmp/lag.res")
        if [ -n "$prev" ] && [ "$p" != n/a ] && [ "$prev" != n/a ]; then
            line="$line $(printf '%s→%s: %.2f;' "$pN" "$N" "$(calc "$p / $prev / ($N / $pN)")")"
        fi
        prev=$p pN=$N
    done
    echo "$line"
done
echo

# ---------------------------------------------------------------- 2. IPOPT
echo "## 2. IPOPT (chain_ipopt.c, MUMPS, exact derivatives, tol 1e-10)"
echo
ipopt=0
if [ ! -f "$ANCHORS/chain_ipopt.c" ]; then
    echo "chain_ipopt.c not found in $ANCHORS: IPOPT skipped."
elif ! pkg-config --exists ipopt 2>/dev/null; then
    echo "IPOPT not installed (apt-get install coinor-libipopt-dev): IPOPT skipped."
else
    sed 's/x\[j\] = -c0 \* xi \* (1\.0 - xi);/x[j] = -0.5 * xi * (1.0 - xi);/' "$ANCHORS/chain_ipopt.c" >"$tmp/chain_ipopt_poor.c"
    if ! grep -q 'x\[j\] = -0.5 \* xi' "$tmp/chain_ipopt_poor.c"; then
        echo "(the poor-guess copy of chain_ipopt.c could not be made: the guess line changed)"
        rm -f "$tmp/chain_ipopt_poor.c"
    fi
    if "$CC" -O2 -o "$tmp/chain_ipopt" "$ANCHORS/chain_ipopt.c" $(pkg-config --cflags --libs ipopt) -lm 2>"$tmp/cc.err" &&
        { [ ! -f "$tmp/chain_ipopt_poor.c" ] ||
            "$CC" -O2 -o "$tmp/chain_ipopt_poor" "$tmp/chain_ipopt_poor.c" $(pkg-config --cflags --libs ipopt) -lm 2>>"$tmp/cc.err"; }; then
        ipopt=1
        echo "IPOPT $(pkg-config --modversion ipopt). Good guess: the anchor's own feasible parabola (c0 by bisection), median of $REPS."
        echo "Poor guess: a copy differing only in the guess, run once (timeout $POOR_TIMEOUT s) with an ipopt.opt writing its log."
        echo
        echo "| guess | N | status | iterations | objective | multiplier | max err vs closed form | whole run (s), median | IpoptSolve (s), last run | peak RSS (MB) |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        mkdir -p "$tmp/ipopt_good" "$tmp/ipopt_poor"
        for guess in good poor; do
            prog=$tmp/chain_ipopt
            lim=$TIMEOUT reps=$REPS
            if [ $guess = poor ]; then
                [ -x "$tmp/chain_ipopt_poor" ] || continue
                prog=$tmp/chain_ipopt_poor lim=$POOR_TIMEOUT reps=1
            fi
            for N in $NS; do
                f=$tmp/ipopt_${guess}_$N
                : >"$f.walls"
                : >"$f.rsss"
                if [ $guess = poor ]; then
                    printf 'output_file %s\nfile_print_level 5\n' "$f.log" >"$tmp/ipopt_poor/ipopt.opt"
                fi
                for r in $(seq $reps); do
                    measure "$lim" "$f.out" sh -c "cd '$tmp/ipopt_$guess' && exec '$prog' $N"
                    echo "$WALL" >>"$f.walls"
                    echo "$RSS" >>"$f.rsss"
                    [ $RC = 124 ] && break
                done
                w=$(median <"$f.walls")
                rss=$(sort -g "$f.rsss" | tail -n 1)
                if [ $RC = 124 ]; then
                    # where the iterates were when time ran out
                    last=$(grep -E '^ *[0-9]+r? +[-+0-9.eE]+ ' "$f.log" 2>/dev/null | tail -n 1)
                    st="still running after $lim s (killed)"
                    it=$(echo "$last" | awk '{ print $1 }')
                    obj=$(echo "$last" | awk '{ print $2 }')
                    printf '| %s | %s | %s | > %s | %s (last logged) | n/a | n/a | > %s | n/a | n/a |\n' \
                        $guess $N "$st" "${it:-?}" "${obj:-?}" "$lim"
                    echo "$guess $N timeout n/a ${it:-?} $rss n/a ${obj:-?}" >>"$tmp/ipopt.res"
                    continue
                fi
                st=$([ $RC = 0 ] && echo "Solve_Succeeded" || echo "FAILED ($(grep -o 'status -\?[0-9]*' "$f.out.err" | head -n 1))")
                it=$(kv "$f.out" iterations)
                obj=$(kv "$f.out" objective)
                mul=$(kv "$f.out" multiplier)
                err=$(kv "$f.out" max_err_closed)
                ss=$(kv "$f.out" solve_s)
                printf '| %s | %s | %s | %s | %s | %s | %s | %.3f | %s | %.1f |\n' \
                    $guess $N "$st" "$it" "$obj" "$mul" "$err" "$w" "$ss" "$(calc "$rss / 1024")"
                echo "$guess $N $w $ss $it $rss $err $obj $RC" >>"$tmp/ipopt.res"
            done
        done
    else
        echo "chain_ipopt.c did not build: $(head -n 3 "$tmp/cc.err")"
    fi
fi
echo

# ---------------------------------------------------------------- 3. SciPy
echo "## 3. SciPy"
echo
scipy=0
if [ -x "$PYTHON" ] && "$PYTHON" -c 'import scipy, numpy' 2>/dev/null; then
    scipy=1
    echo "$("$PYTHON" -c 'import sys, scipy, numpy; print("Python", sys.version.split()[0], "scipy", scipy.__version__, "numpy", numpy.__version__)')"
else
    echo "$PYTHON has no scipy (apt-get install python3-scipy): SciPy skipped."
fi
if [ $scipy = 1 ] && [ -f "$ANCHORS/chain_scipy.py" ]; then
    echo
    echo "### chain_scipy.py (trust-constr, gtol 1e-10, maxiter 1000, timeout $SCIPY_TIMEOUT s)"
    echo
    echo "| N | outcome | iterations | objective | multiplier | max err vs closed form | whole run (s) | minimize (s) |"
    echo "|---|---|---|---|---|---|---|---|"
    for N in $SCIPY_NS; do
        f=$tmp/scipy_$N
        measure "$SCIPY_TIMEOUT" "$f.out" "$PYTHON" "$ANCHORS/chain_scipy.py" "$N"
        if [ $RC = 124 ]; then
            echo "| $N | not finished in $SCIPY_TIMEOUT s (killed) | | | | | > $SCIPY_TIMEOUT | |"
            echo "$N timeout" >>"$tmp/scipy.res"
            continue
        fi
        stat=$(sed -nE 's/.*status=([0-9]+) constr_violation=([^ ]+) optimality=([^ ]+).*/status \1, constr. violation \2, optimality \3/p' "$f.out.err" | head -n 1)
        conv="NOT converged"
        grep -q '^warning' "$f.out.err" || conv="converged"
        printf '| %s | %s (%s) | %s | %s | %s | %s | %.2f | %s |\n' "$N" "$conv" "$stat" "$(kv "$f.out" iterations)" \
            "$(kv "$f.out" objective)" "$(kv "$f.out" multiplier)" "$(kv "$f.out" max_err_closed)" "$WALL" "$(kv "$f.out" solve_s)"
        echo "$N $WALL $conv" >>"$tmp/scipy.res"
    done
fi
dp_done=0
if [ $scipy = 1 ] && [ -f "$ANCHORS/bvp_scipy.py" ]; then
    echo
    echo "### Double pendulum least action: bvp_scipy.py (solve_bvp, two stages) vs lag run (action job)"
    echo
    measure "$TIMEOUT" "$tmp/bvp.out" "$PYTHON" "$ANCHORS/bvp_scipy.py"
    grep double_pendulum_2stage "$tmp/bvp.out" >"$tmp/bvp2.out"
    sed -n '/^system DoublePendulum/,$p' "$srcdir/examples/least_action.lag" | sed '/^ *output \|^ *plot /d' >"$tmp/dp_action.lag"
    measure "$TIMEOUT" "$tmp/dp.out" "$LAG" run --json -o "$tmp" "$tmp/dp_action.lag" # warm-up
    : >"$tmp/dp.walls"
    # timed without the timeout and /usr/bin/time wrappers (two more
    # processes, several ms here, against a run of about 10 ms); at least 5 runs
    for r in $(seq "$((REPS > 5 ? REPS : 5))"); do
        s=$EPOCHREALTIME
        "$LAG" run --json -o "$tmp" "$tmp/dp_action.lag" >"$tmp/dp.out" 2>"$tmp/dp.out.err"
        e=$EPOCHREALTIME
        calc "$e - $s" >>"$tmp/dp.walls"
    done
    dpw=$(median <"$tmp/dp.walls")
    dpS=$(json_num "$tmp/dp.out" action)
    dpkind=$(sed -nE 's/.*"kind":"([a-z]+)".*/\1/p' "$tmp/dp.out")
    dpmorse=$(json_num "$tmp/dp.out" morse_index)
    dpit=$(json_num "$tmp/dp.out" iterations)
    dpv1=$(sed -nE "s/.*\"t1'\":(-?[0-9.eE+-]+).*/\1/p" "$tmp/dp.out")
    dpv2=$(sed -nE "s/.*\"t2'\":(-?[0-9.eE+-]+).*/\1/p" "$tmp/dp.out")
    dpws=$(json_num "$tmp/dp.out" wall_s)
    dpmis=$(json_num "$tmp/dp.out" shooting_mismatch)
    # the branches of pendulum_branches.py (anchor README, section (B)): S and (t1', t2')(0)
    branch=$(awk -v a="$dpv1" -v b="$dpv2" 'BEGIN {
        n = split("21.7895740444 9.14000832 -10.67169149 31.4532883935 -8.57929722 10.40299153 36.4877340334 -4.05536067 8.61843144 38.1773362928 -9.57991752 8.53097282 38.9088470650 -8.31528519 8.08879909 41.4948122696 -5.40645262 2.04144466 42.1457620117 -4.39164980 4.36713500", v, " ");
        best = 1e300; for (i = 1; i <= n; i += 3) { d = (a - v[i+1])^2 + (b - v[i+2])^2; if (d < best) { best = d; S = v[i] } }
        printf "S = %s (velocity distance %.2g)", S, sqrt(best) }')
    bS=$(kv "$tmp/bvp2.out" S)
    bst=$(kv "$tmp/bvp2.out" status)
    bv=$(kv "$tmp/bvp2.out" v0)
    bt=$(kv "$tmp/bvp2.out" bvp_s_median)
    echo "| program | status | S | (t1', t2')(0) | branch (pendulum_branches.py) | time (s) |"
    echo "|---|---|---|---|---|---|"
    echo "| solve_bvp two stages (tol 1e-8) | $bst | $bS | $bv | the smallest action found | $bt (median of 5 solve_bvp pairs, no imports) |"
    echo "| lag run --json, action, 401 points | $(json_num "$tmp/dp.out" converged), $dpkind (Morse $dpmorse), $dpit iterations, shooting mismatch $dpmis | $dpS (S_h, midpoint rule) | ($dpv1, $dpv2) | $branch | $(printf '%.4f' "$dpw") (whole process, median of $((REPS > 5 ? REPS : 5)); solve wall_s $dpws) |"
    echo
    if [ -n "$bt" ] && [ -n "$dpS" ]; then
        printf 'ratio solve_bvp / lag whole process = %.1f×; |S_lag - S_bvp| / S_bvp = %.1e (the 401-point discretisation error of S_h)\n' \
            "$(calc "$bt / $dpw")" "$(calc "sqrt(($dpS - $bS)^2) / $bS")"
        dp_done=1
    fi
fi
echo

# ---------------------------------------------------------------- summary
echo "## Summary (one run)"
echo
echo "CPU: $(lscpu 2>/dev/null | grep 'Model name' | head -n 1 | sed 's/  */ /g'), $NCPU CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| N | lag good: it / s / MB / err | lag poor: it / s / conv | IPOPT good: it / s / MB | IPOPT poor | IPOPT/lag time | lag/IPOPT memory |"
echo "|---|---|---|---|---|---|---|"
for N in $NS; do
    lg=$(awk -v n=$N '$1 == "good" && $2 == n' "$tmp/lag.res")
    lp=$(awk -v n=$N '$1 == "poor" && $2 == n' "$tmp/lag.res")
    ig=$(awk -v n=$N '$1 == "good" && $2 == n' "$tmp/ipopt.res" 2>/dev/null)
    ip=$(awk -v n=$N '$1 == "poor" && $2 == n' "$tmp/ipopt.res" 2>/dev/null)
    lgc=$(echo "$lg" | awk '{ print $9 == "true" ? "" : " NOT conv" }')
    c1=$(echo "$lg" | awk -v c="$lgc" '{ printf "%s / %.3f / %.1f / %s%s", $5, $3, $7 / 1024, $8, c }')
    c2=$(echo "$lp" | awk '{ printf "%s / %.3f / %s", $5, $3, $9 == "true" ? "converged" : "NOT converged" }')
    if [ -n "$ig" ]; then
        c3=$(echo "$ig" | awk '{ printf "%s / %.3f / %.1f", $5, $3, $6 / 1024 }')
        tr_=$(echo "$ig $lg" | awk '{ printf "%.2f×", $3 / $12 }')
        mr=$(echo "$ig $lg" | awk '{ printf "%.2f", $16 / $6 }')
    else
        c3="n/a" tr_="n/a" mr="n/a"
    fi
    if [ -n "$ip" ]; then
        c4=$(echo "$ip" | awk '{ if ($3 == "timeout") printf "killed after the timeout (> %s iterations, objective %s)", $5, $8; else printf "%s it, %s", $5, ($9 == 0 ? "converged" : "failed") }')
    else
        c4="n/a"
    fi
    echo "| $N | $c1 | $c2 | $c3 | $c4 | $tr_ | $mr |"
done
echo
if [ -s "$tmp/scipy.res" ]; then
    while read -r N w conv; do
        if [ "$w" = timeout ]; then
            echo "- trust-constr at N = $N: not finished in $SCIPY_TIMEOUT s"
        else
            echo "- trust-constr at N = $N: $conv ($(printf '%.2f' "$w") s)"
        fi
    done <"$tmp/scipy.res"
fi
if [ $dp_done = 1 ]; then
    printf -- '- double pendulum: solve_bvp two stages %s s, lag %.4f s whole process: %.1f× (target ≥ 30×); against the solve alone (wall_s %.4f s): %.1f×\n' \
        "$bt" "$dpw" "$(calc "$bt / $dpw")" "$dpws" "$(calc "$bt / $dpws")"
fi
echo
echo "Targets: IPOPT/lag time ≥ 5 at 10^5 and 10^6; lag/IPOPT memory ≤ 0.2 at 10^6; lag converges from the poor guess;"
echo "time per iteration growth per decade / 10 ≤ 1.3; SciPy: lag converges at 10^4 and 10^5; double pendulum ≥ 30×."
