#!/usr/bin/env bash
# tests/examples.sh — every example runs (TAP): `lag run` exits 0 and writes
# every output and plot file the example names, its CSV files with finite
# numbers only.  Training is cut to 50 steps
# (--max-steps): the examples' full runs take minutes.
#
# Environment: LAG (the program), srcdir (the source tree).
set -u
LAG=${LAG:-$PWD/lag}
case $LAG in /*) ;; *) LAG=$PWD/$LAG ;; esac
srcdir=$(cd "${srcdir:-.}" && pwd)
export LAG_PATH="$srcdir/stdlib"
if [ ! -x "$LAG" ]; then
    echo "Bail out! $LAG not built"
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lag-examples.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# examples/lnn_paper.lag integrates 40 starts for 100 s in its compare job
# (two minutes even with untrained networks): tests/compare.py runs a smaller
# variant of it instead.
examples=()
for f in "$srcdir"/examples/*.lag; do
    [ "$(basename "$f")" = lnn_paper.lag ] || examples+=("$f")
done
echo "1..${#examples[@]}"
n=0
for f in "${examples[@]}"; do
    n=$((n + 1))
    name=$(basename "$f" .lag)
    out="$tmp/$name"
    timeout -k 1 120 "$LAG" run --max-steps 50 -o "$out" "$f" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
    status=$?
    missing=()
    files=()
    for file in $(grep -oE '(output|plot) "[^"]+"' "$f" | sed 's/.* "//; s/"$//'); do
        # a compare job's output is a prefix: PREFIX_traj.csv and PREFIX_summary.json
        # (its grid CSV may hold NaN: relative errors at an equilibrium)
        if [ ! -e "$out/$file" ] && [ -e "$out/${file}_summary.json" ]; then
            files+=("${file}_traj.csv" "${file}_summary.json")
        else
            files+=("$file")
        fi
    done
    for file in "${files[@]}"; do
        [ -s "$out/$file" ] || missing+=("$file")
        # a CSV with a NaN or an infinity is not a result
        case $file in
            *.csv) if grep -Eiq '(^|,)[-+]?(nan|inf|infinity)(,|$)' "$out/$file" 2>/dev/null; then
                       missing+=("$file (holds a non-finite number)")
                   fi ;;
        esac
    done
    if [ "$status" -eq 0 ] && [ ${#missing[@]} -eq 0 ]; then
        echo "ok $n - examples/$name.lag runs and writes its files"
    else
        echo "not ok $n - examples/$name.lag runs and writes its files (exit $status)"
        [ ${#missing[@]} -eq 0 ] || echo "# missing: ${missing[*]}"
        head -n 5 "$tmp/stderr" | sed 's/^/# /'
    fi
done
exit 0
