#!/usr/bin/env bash
# tests/cli_hardening.sh — TAP: regression tests of issue 9 for the command
# line (lang/main.c) and `lag el` (lang/el.c):
#   issue9-9  every command's --help / -h, and lag without arguments;
#   issue9-8  `lag el --lag` prints the parameters' values first, so the
#             lines evaluate on their own; `lag el --set SYSTEM.param=value`;
#   issue9-7  no allocation of lag bypasses runtime/mem.h's fault hook.
#
# Environment: LAG (the program; default ./lag), srcdir (the source tree),
# PYTHON3 (default python3).

set -u

LAG=${LAG:-$PWD/lag}
case $LAG in /*) ;; *) LAG=$PWD/$LAG ;; esac
srcdir=${srcdir:-.}
srcdir=$(cd "$srcdir" && pwd)
PYTHON3=${PYTHON3:-python3}
unset LAG_PATH LAG_FAIL_ALLOC

if [ ! -x "$LAG" ]; then
    echo "Bail out! $LAG not built"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-hardening.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# A simple pendulum with a default that is an expression (1/3 does not
# print exactly in few digits), and a double pendulum with unequal
# defaults: the accelerations have textbook closed forms.
cat >"$tmp/models.lag" <<'EOF'
system Pendulum {
    param m = 2, l = 1/3, g = 9.81
    coord th
    L = 0.5*m*l^2*th'^2 + m*g*l*cos(th)
}
system Double {
    param m1 = 1.5, m2 = 0.7, l1 = 1.1, l2 = 0.45, g = 9.81
    coord t1, t2
    L = 0.5*(m1 + m2)*l1^2*t1'^2 + 0.5*m2*l2^2*t2'^2 + m2*l1*l2*t1'*t2'*cos(t1 - t2)
        + (m1 + m2)*g*l1*cos(t1) + m2*g*l2*cos(t2)
}
simulate Pendulum { init th = 0.5, time 0 .. 1, every 0.1, output "swing.csv" }
EOF

n=0
why=()
echo "1..20"

# lag ARGS...: run from $tmp; sets $status, fills $tmp/out, $tmp/err.
lag() {
    (cd "$tmp" && exec timeout -k 1 20 "$LAG" "$@") >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
}

expect_status() {
    [ "$status" -eq "$1" ] || why+=("exit status $status, expected $1; stderr: $(head -c 300 "$tmp/err")")
}

# expect_grep FILE LABEL GREP-ARGS...: FILE must match.
expect_grep() {
    local file=$1 label=$2
    shift 2
    grep -q "$@" "$file" || why+=("$label does not match grep $*: $(head -c 300 "$file")")
}

expect_empty() {
    [ ! -s "$1" ] || why+=("$2 is not empty: $(head -c 300 "$1")")
}

report() {
    n=$((n + 1))
    if [ ${#why[@]} -eq 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        for w in "${why[@]}"; do
            printf '%s\n' "$w" | sed 's/^/# /'
        done
    fi
    why=()
}

# ---- issue9-9: help of every command ----

for cmd in check el run modes ir; do
    for opt in --help -h; do
        lag "$cmd" "$opt"
        expect_status 0
        expect_grep "$tmp/out" stdout -E -- "^usage: lag $cmd FILE\\.lag"
        expect_grep "$tmp/out" stdout -F -- "--help"
        expect_empty "$tmp/err" stderr
    done
    # after a file too (GNU style), and before any loading: the file need not exist
    lag "$cmd" no-such-file.lag --help
    expect_status 0
    expect_grep "$tmp/out" stdout -E -- "^usage: lag $cmd "
    report "issue9-9: lag $cmd --help / -h print $cmd's usage on stdout, exit 0"
done

lag el --help
expect_status 0
for o in --latex --lag --stats --set; do
    expect_grep "$tmp/out" stdout -F -e "$o"
done
if grep -q "unknown option" "$tmp/out" "$tmp/err"; then
    why+=("lag el --help still says unknown option")
fi
report "issue9-9: lag el --help lists el's options (was: unknown option '--help' for el)"

lag
expect_status 2
expect_grep "$tmp/err" stderr -E -- "^usage: lag "
expect_empty "$tmp/out" stdout
report "issue9-9: lag without arguments prints the usage on stderr, exit 2"

# lag --help: one usage line per command, the same as each command's own
lag --help
expect_status 0
cp "$tmp/out" "$tmp/help"
for cmd in check el run modes ir; do
    lag "$cmd" --help
    first=$(head -n 1 "$tmp/out" | sed 's/^usage: //')
    grep -qF -- "$first" "$tmp/help" || why+=("lag --help lacks '$first'")
done
report "issue9-9: lag --help shows each command's usage line"

# README's command-line section: each command's lines name exactly the
# options its --help lists (and -h/--help, which every command takes)
awk '/^## The command line/ {on = 1; next} /^## / {on = 0} on' "$srcdir/README.md" >"$tmp/readme"
[ -s "$tmp/readme" ] || why+=("no '## The command line' section in README.md")
options() { grep -oE -- '(^|[ [|])--?[a-z][a-z-]*' | tr -d ' [|' | grep -vxE -- '-h|--help' | sort -u; }
for cmd in check el run modes ir; do
    # the command's entry: from its "    lag CMD" line to the next "    lag" line
    awk -v c="$cmd" '/^    lag / {on = ($2 == c)} on' "$tmp/readme" | sed 's/^    lag [a-z]*//' | options >"$tmp/readme.$cmd"
    lag "$cmd" --help
    options <"$tmp/out" >"$tmp/help.$cmd"
    if ! cmp -s "$tmp/readme.$cmd" "$tmp/help.$cmd"; then
        why+=("lag $cmd: README.md shows: $(tr '\n' ' ' <"$tmp/readme.$cmd"); lag $cmd --help lists: $(tr '\n' ' ' <"$tmp/help.$cmd")")
    fi
done
grep -qE -- '^    lag CMD --help' "$tmp/readme" || why+=("README.md's command line does not show lag CMD --help")
report "issue9-9: README's command line and the commands' --help name the same options"

# ---- issue9-8: lag el --lag is self-contained ----

# check.py OUT SYSTEM [NAME=VALUE...]: the parameter lines come right after
# the header, before any equation; with them (and only them: no value from
# this script) the printed lines evaluate to the closed-form accelerations
# at random states.  VALUES are what the parameters must print as.
cat >"$tmp/check.py" <<'EOF'
import math, random, re, sys

text = open(sys.argv[1]).read()
system = sys.argv[2]
want = {k: float(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])}
FUNCS = {f: getattr(math, f) for f in ("sin", "cos", "tan", "sqrt", "exp", "log", "atan2")}

def py(expr):
    return re.sub(r"([A-Za-z_]\w*)('+)", lambda m: m.group(1) + "_d" * len(m.group(2)),
                  expr).replace("^", "**")

def finite(x, what):
    if not isinstance(x, float) or not math.isfinite(x):
        sys.exit("%s is not a finite number: %r" % (what, x))
    return x

lines = text.splitlines()
if not lines or lines[0] != "# system " + system:
    sys.exit("first line is not '# system %s': %r" % (system, lines[:1]))
params, body = {}, []
for line in lines[1:]:
    if line.startswith("#"):
        continue
    name, expr = line.split(" = ", 1)
    if not body and re.fullmatch(r"[-+0-9.eE]+", expr):
        params[name] = float(expr)
    else:
        body.append((name, compile(py(expr), name, "eval")))
if set(params) != set(want):
    sys.exit("parameter lines %s, expected %s" % (sorted(params), sorted(want)))
for k, v in want.items():
    if params[k] != v:   # exact: the printed value reads back as the same double
        sys.exit("%s printed as %r, expected %r" % (k, params[k], v))

def accel(p, s):
    if system == "Pendulum":
        return [-p["g"] / p["l"] * math.sin(s["th"])]
    m1, m2, l1, l2, g = p["m1"], p["m2"], p["l1"], p["l2"], p["g"]
    t1, t2, w1, w2 = s["t1"], s["t2"], s["t1_d"], s["t2_d"]
    d = t1 - t2
    den = 2 * m1 + m2 - m2 * math.cos(2 * d)
    a1 = (-g * (2 * m1 + m2) * math.sin(t1) - m2 * g * math.sin(t1 - 2 * t2)
          - 2 * math.sin(d) * m2 * (w2 ** 2 * l2 + w1 ** 2 * l1 * math.cos(d))) / (l1 * den)
    a2 = (2 * math.sin(d) * (w1 ** 2 * l1 * (m1 + m2) + g * (m1 + m2) * math.cos(t1)
          + w2 ** 2 * l2 * m2 * math.cos(d))) / (l2 * den)
    return [a1, a2]

coords = ["th"] if system == "Pendulum" else ["t1", "t2"]
rng = random.Random(9)
worst = 0.0
for trial in range(20):
    state = {}
    for q in coords:
        state[q] = rng.uniform(-2, 2)
        state[q + "_d"] = rng.uniform(-2, 2)
    env = dict(FUNCS, **state, **params)
    for name, code in body:
        env[name] = eval(code, {"__builtins__": {}}, env)
    got = [finite(env.get("accel_" + q), "accel_" + q) for q in coords]
    exp = accel(params, state)
    for g, e in zip(got, exp):
        err = abs(finite(g, "printed acceleration") - finite(e, "closed form")) / max(1.0, abs(e))
        if not err <= 1e-12:
            sys.exit("acceleration %r, closed form %r at %s (rel. %.3g)" % (g, e, state, err))
        worst = err if err > worst else worst
print("worst relative difference %.3g" % worst)
EOF

# pycheck SYSTEM NAME=VALUE...: run check.py on $tmp/out.
pycheck() {
    if ! "$PYTHON3" "$tmp/check.py" "$tmp/out" "$@" >"$tmp/py.out" 2>&1; then
        why+=("$(cat "$tmp/py.out")")
    fi
}

lag el --lag models.lag Pendulum
expect_status 0
pycheck Pendulum m=2 l=0.33333333333333331 g=9.81
report "issue9-8: lag el --lag prints m, l = 1/3 (round-trip), g; the accelerations evaluate from them alone"

lag el --lag models.lag Double
expect_status 0
pycheck Double m1=1.5 m2=0.7 l1=1.1 l2=0.45 g=9.81
report "issue9-8: lag el --lag of a double pendulum: the printed values give the textbook accelerations"

lag el --lag models.lag Double --set Double.g=1.625 --set Double.l2=2.5e-1 --set Double.m1=3 --set Double.m1=0.125
expect_status 0
pycheck Double m1=0.125 m2=0.7 l1=1.1 l2=0.25 g=1.625
report "issue9-8: lag el --lag --set SYS.p=v prints the given values (the last of a repeated one)"

lag el --stats models.lag Double --set Double.g=1
expect_status 0
expect_grep "$tmp/out" stdout -E -- "^ops_cse_numeric [0-9]+$"
report "issue9-8: lag el --stats takes --set"

# the usage errors of --set: exit 2, named, nothing on stdout
check_set_error() {
    local arg=$1 pattern=$2
    shift 2
    lag el --lag models.lag "$@" --set "$arg"
    expect_status 2
    expect_grep "$tmp/err" stderr -F -- "$pattern"
    expect_empty "$tmp/out" stdout
}
check_set_error Double.gg=1 "'gg' is not a parameter of 'Double' (did you mean 'g'?)"
check_set_error Dubble.g=1 "no system or problem 'Dubble' in the program (did you mean 'Double'?)"
check_set_error Nope.g=1 "'Nope'"
check_set_error Double.g=abc "'abc' is not a finite number"
check_set_error Double.g=1e999 "not a finite number"
check_set_error Double.g=nan "not a finite number"
check_set_error Double.g= "not a finite number"
check_set_error gravity=1 "SYSTEM.param=value"
check_set_error Pendulum.g=1 "system 'Pendulum' is not printed" Double
report "issue9-8: lag el --set refuses a bad value, system or parameter (exit 2, did you mean)"

lag el models.lag Double --set Double.g=1
expect_status 2
expect_grep "$tmp/err" stderr -F -- "keeps parameters as symbols"
expect_empty "$tmp/out" stdout
lag el --latex models.lag Double --set Double.g=1
expect_status 2
expect_grep "$tmp/err" stderr -F -- "keeps parameters as symbols"
report "issue9-8: lag el --set with the text or LaTeX form is a usage error (they print symbols)"

# a parameter or coordinate named like a --lag line would make the lines
# mean something else: refused, located
cat >"$tmp/clash.lag" <<'EOF'
system Clash {
    param E = 2, f_x = 3, M_1_1 = 1, k = 1
    coord x
    L = 0.5*x'^2 - 0.5*E*f_x*M_1_1*k*x^2
}
EOF
lag el --lag clash.lag
expect_status 1
for name in E f_x M_1_1; do
    expect_grep "$tmp/err" stderr -E -- "^clash.lag:2:[0-9]+: error: lag el --lag prints a line named '$name'"
done
if grep -q "'k'" "$tmp/err"; then why+=("k is refused too"); fi
expect_empty "$tmp/out" stdout
lag el clash.lag
expect_status 0
report "issue9-8: lag el --lag refuses a parameter named like one of its lines (E, f_x, M_1_1)"

# ---- issue9-7: the allocation hook ----

bare=$(cd "$srcdir" && grep -nE '(^|[^_[:alnum:]])(malloc|calloc|realloc|strdup|strndup|aligned_alloc|posix_memalign)[[:space:]]*\(' \
           lang/*.c lang/*.h lang/*.y lang/*.l runtime/*.c runtime/*.h 2>/dev/null | grep -v '^runtime/mem\.[ch]:')
[ -z "$bare" ] || why+=("allocations outside runtime/mem.c: $bare")
report "issue9-7: no allocation in lang/ or runtime/ bypasses the hook of runtime/mem.h"

# the first allocation of each command is the hook's: it fails with exit 4
# and a message, before anything else (lang/main.c's own allocations)
for args in "run --bogus" "el --bogus"; do
    # shellcheck disable=SC2086
    (cd "$tmp" && LAG_FAIL_ALLOC=1 exec timeout -k 1 20 "$LAG" $args) >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
    expect_status 4
    expect_grep "$tmp/err" stderr -F -- "out of memory"
done
report "issue9-7: lag run / lag el allocate through the hook from their first allocation"

# every allocation of lag el --lag --set and of a small lag run may fail:
# exit 4 with a message, never a crash; and the run succeeds past the last
sweep() {
    local k last=0
    for k in $(seq 1 2000); do
        (cd "$tmp" && LAG_FAIL_ALLOC=$k exec timeout -k 1 20 "$LAG" "$@") >"$tmp/out" 2>"$tmp/err" </dev/null
        status=$?
        if [ "$status" -eq 0 ]; then
            last=$k
            break
        fi
        if [ "$status" -ne 4 ] || ! grep -q "out of memory" "$tmp/err"; then
            why+=("LAG_FAIL_ALLOC=$k lag $*: exit $status: $(head -c 200 "$tmp/err" | tr -c '[:print:]' '?')")
            break
        fi
    done
    [ "$last" -gt 1 ] || [ ${#why[@]} -gt 0 ] || why+=("lag $* never succeeded under fault injection")
}
sweep el --lag models.lag Pendulum --set Pendulum.g=2
report "issue9-7: lag el --lag --set: each failed allocation is exit 4, out of memory"
sweep run --quiet models.lag
report "issue9-7: lag run (simulate): each failed allocation is exit 4, out of memory"
