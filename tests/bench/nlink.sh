#!/usr/bin/env bash
# tests/bench/nlink.sh — N-link pendulum scaling: `lag el` against SymPy's
# LagrangesMethod (the anchor shared/anchors/nlink_sympy.py).  A report, not a
# test: it prints a Markdown table and never asserts a timing.
#
# For each N it generates the system (nlink_gen.py), then, in the same run:
#   (a) times the whole process `lag el --lag FILE` (median of $REPS runs,
#       after one untimed warm-up run that also checks the exit status);
#   (b) reads `lag el --stats FILE` (`key value` lines: ops_cse,
#       ops_cse_numeric, ...), "n/a" if unsupported;
#   (c) times SymPy's form_lagranges_equations() through nlink_sympy_time.py
#       (the anchor's own derive(); cache cleared; median of $SYMPY_REPEATS)
#       and counts its operations after CSE with the parameters substituted.
#
# Environment:
#   LAG            the program (default ./lag)
#   NS             the sizes, e.g. "4 8 16" (default) or "2,4,8"
#   REPS           lag el runs per N (default 5)
#   FULL=1         also run SymPy above SYMPY_MAX_N (default 12): about 27 s
#                  per derivation at N=16, so about 2 minutes with 3 repeats
#   SYMPY_REPEATS  SymPy derivations per N (default 3)
#   LAG_ANCHORS    the anchor directory (default $srcdir/../shared/anchors)
#   PYTHON         python for the generator, standard library only (python3)
#   SYMPY_PYTHON   python with sympy, scipy, numpy (default /usr/bin/python3;
#                  Debian: python3-sympy python3-scipy python3-numpy)
#   LAG_TIMEOUT    seconds allowed for the warm-up `lag el` run (default 300)

set -u
export LC_ALL=C       # a '.' decimal point in $EPOCHREALTIME and printf

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$here/../..}
anchors=${LAG_ANCHORS:-$srcdir/../shared/anchors}
[ -d "$anchors" ] && anchors=$(cd "$anchors" && pwd)
LAG=${LAG:-./lag}
case $LAG in /*) ;; */*) LAG=$PWD/$LAG ;; esac
NS=${NS:-4 8 16}
NS=${NS//,/ }
REPS=${REPS:-5}
FULL=${FULL:-0}
SYMPY_REPEATS=${SYMPY_REPEATS:-3}
SYMPY_MAX_N=${SYMPY_MAX_N:-12}
PYTHON=${PYTHON:-python3}
SYMPY_PYTHON=${SYMPY_PYTHON:-/usr/bin/python3}
LAG_TIMEOUT=${LAG_TIMEOUT:-300}

# "ops after CSE (M+f, params substituted)" from the anchor README's table.
# The count is deterministic; it is shown (marked) only where SymPy is skipped.
declare -A readme_ops=([1]=7 [2]=35 [3]=70 [4]=112 [6]=217 [8]=350 [12]=700 [16]=1162)

say() { printf 'nlink.sh: %s\n' "$*" >&2; }

if ! command -v "$LAG" >/dev/null 2>&1; then
    say "$LAG: no such program (set LAG=path/to/lag)"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# --- is the reference available? -------------------------------------------
ref_ok=0
ref_why=
sympy_version=
if [ ! -f "$anchors/nlink_sympy.py" ]; then
    ref_why="$anchors/nlink_sympy.py not found (set LAG_ANCHORS)"
elif ! sympy_version=$("$SYMPY_PYTHON" -c \
        'import sympy, scipy, numpy, sys; print(sympy.__version__, "on python", sys.version.split()[0])' \
        2>/dev/null); then
    ref_why="$SYMPY_PYTHON cannot import sympy, scipy and numpy"
else
    ref_ok=1
fi
[ $ref_ok = 1 ] || say "reference unavailable: $ref_why; timing lag only"

# --- helpers ------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

fmt_s() { awk -v x="$1" 'BEGIN { printf (x < 0.001) ? "%.2g" : "%.3g", x }'; }

keyval() {            # keyval KEY FILE: the value of a `key value` line
    awk -v k="$1" '$1 == k && NF >= 2 { print $2; exit }' "$2"
}

time_lag_el() {       # time_lag_el FILE: prints the median wall time, or fails
    local f=$1 i t0 t1
    # Warm-up: page cache, exit status, and a bound on a hung run.
    if ! timeout "$LAG_TIMEOUT" "$LAG" el --lag "$f" >"$tmp/el.out" 2>"$tmp/el.err"; then
        return 1
    fi
    : >"$tmp/times"
    for ((i = 0; i < REPS; i++)); do
        # $EPOCHREALTIME needs no fork, so only lag itself is inside the interval.
        if [ -n "${EPOCHREALTIME:-}" ]; then
            t0=$EPOCHREALTIME
            "$LAG" el --lag "$f" >/dev/null 2>&1
            t1=$EPOCHREALTIME
        else
            t0=$(date +%s.%N)
            "$LAG" el --lag "$f" >/dev/null 2>&1
            t1=$(date +%s.%N)
        fi
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$tmp/times"
    done
    median <"$tmp/times"
}

# --- the runs -----------------------------------------------------------------
rows=()
notes=()
skipped=()
readme_marked=0
for n in $NS; do
    f=$tmp/nlink$n.lag
    if ! "$PYTHON" "$here/nlink_gen.py" "$n" >"$f"; then
        say "N=$n: the generator failed"
        continue
    fi

    say "N=$n: lag el ($REPS runs)"
    if lag_s=$(time_lag_el "$f"); then
        lag_cell=$(fmt_s "$lag_s")
    else
        lag_s=
        lag_cell="n/a"
        notes+=("N=$n: \`lag el --lag\` failed: $(head -n 1 "$tmp/el.err" | cut -c1-160)")
    fi

    ops_cell="n/a"
    if "$LAG" el --stats "$f" >"$tmp/stats" 2>&1; then
        v=$(keyval ops_cse_numeric "$tmp/stats")
        [ -n "$v" ] && ops_cell=$v
        v=$(keyval ops_cse "$tmp/stats")
        [ -n "$v" ] && notes+=("N=$n: lag ops_cse (parameters symbolic) = $v")
    fi

    sym_cell="—"; sym_ops_cell="—"; speed_cell="—"
    if [ $ref_ok = 0 ]; then
        sym_cell="unavailable"
    elif [ "$n" -gt "$SYMPY_MAX_N" ] && [ "$FULL" != 1 ]; then
        sym_cell="skipped ¹"
        skipped+=("$n")
        if [ -n "${readme_ops[$n]:-}" ]; then
            sym_ops_cell="${readme_ops[$n]} ²"
            readme_marked=1
        fi
    else
        say "N=$n: SymPy form_lagranges_equations ($SYMPY_REPEATS runs)"
        if "$SYMPY_PYTHON" "$here/nlink_sympy_time.py" "$n" --repeats "$SYMPY_REPEATS" \
                --anchors "$anchors" >"$tmp/sym" 2>"$tmp/sym.err"; then
            form_s=$(keyval form_s "$tmp/sym")
            sym_cell=$(fmt_s "$form_s")
            sym_ops_cell=$(keyval ops_cse "$tmp/sym")
            if [ -n "$lag_s" ]; then
                speed_cell=$(awk -v s="$form_s" -v l="$lag_s" 'BEGIN {
                    if (l <= 0) { print "—"; exit }
                    r = s / l; printf (r >= 100) ? "%.0f×" : (r >= 10) ? "%.1f×" : "%.2f×", r }')
            fi
        else
            sym_cell="failed"
            notes+=("N=$n: nlink_sympy_time.py failed: $(tail -n 1 "$tmp/sym.err" | cut -c1-160)")
        fi
    fi
    rows+=("| $n | $lag_cell | $sym_cell | $speed_cell | $ops_cell | $sym_ops_cell |")
done

# --- the report -----------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
echo "## N-link pendulum: \`lag el\` vs SymPy LagrangesMethod"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc 2>/dev/null || echo '?') CPUs, ${cpu:-unknown CPU}; load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "- lag: $("$LAG" --version 2>/dev/null | head -n 1) ($LAG)"
if [ $ref_ok = 1 ]; then
    echo "- reference: $anchors/nlink_sympy.py, sympy $sympy_version"
else
    echo "- reference unavailable: $ref_why"
fi
echo
echo "| N | lag el (s) | SymPy derive (s) | speed-up | lag ops_cse_numeric | SymPy ops after CSE |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "- lag el: wall time of the whole process \`lag el --lag FILE\` (start-up, parse,"
echo "  derivation, printing), median of $REPS runs."
echo "- SymPy derive: \`LagrangesMethod.form_lagranges_equations()\` only (no interpreter"
echo "  start-up, no building of the Lagrangian), sympy cache cleared, median of $SYMPY_REPEATS."
echo "  speed-up = SymPy derive / lag el."
echo "- ops: operations in M and f after hash-consing and CSE with m = l = 1, g = 9.81"
echo "  substituted (lag \`--stats\` ops_cse_numeric; SymPy: the anchor's cse_ops())."
if [ ${#skipped[@]} -gt 0 ]; then
    echo "- ¹ SymPy not run for N = ${skipped[*]} (above $SYMPY_MAX_N; about 27 s per derivation"
    echo "  at N=16 on the anchor machine). Run with FULL=1 to include it."
fi
if [ $readme_marked = 1 ]; then
    echo "- ² from the anchor README (the count is deterministic), not measured in this run."
fi
for note in "${notes[@]+"${notes[@]}"}"; do
    echo "- $note"
done
echo "- Timings on a shared VM are noisy (10–40%); compare ratios from one run."
exit 0
