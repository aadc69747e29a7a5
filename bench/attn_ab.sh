#!/usr/bin/env bash
# Before/after comparison of the CPU flash attention (src/attention) by CPU time, for a shared
# machine: bench/attn_cputime.c built against two trees' liblvitcore.a, run alternately (A, B,
# A, B, ...) for ROUNDS rounds per case, one thread; prints every run and then, per case and
# tree, the median over rounds of each run's median forward / backward CPU time as GFLOP/s.
# Also compares the bit fingerprints of the two trees' outputs (attn_cputime hash) per ISA.
#
# usage: bench/attn_ab.sh BASE_TREE NEW_TREE [ROUNDS] [CASE ...]
#   TREE: a source tree; lvitcore is built in TREE/build-ab (or TREE/$AB_BUILD), configured
#         there if new
#   CASE: S:d:NH:REPS:ISA, default 1024:64:4:9, 4096:64:4:3, 16384:64:4:1 at avx512 and avx2
# e.g. git worktree add /tmp/attn-base HEAD~1 && bench/attn_ab.sh /tmp/attn-base . 5
set -uo pipefail
A=$1 B=$2 ROUNDS=${3:-5}
shift $(( $# >= 3 ? 3 : $# ))
BUILD_DIR=${AB_BUILD:-build-ab}
cases=("$@")
[ ${#cases[@]} = 0 ] && cases=(1024:64:4:9:avx512 4096:64:4:3:avx512 16384:64:4:1:avx512
                               1024:64:4:9:avx2 4096:64:4:3:avx2 16384:64:4:1:avx2)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp=$(mktemp -d /tmp/attn_ab_XXXXXX)

build() { # tree -> binary path
  local tree=$1 out=$2 bd="$1/$BUILD_DIR"
  [ -f "$bd/CMakeCache.txt" ] || cmake -S "$tree" -B "$bd" -DCMAKE_BUILD_TYPE=Release >/dev/null || return 1
  cmake --build "$bd" --target lvitcore -j 2 >"$tmp/build.log" 2>&1 || { tail "$tmp/build.log"; return 1; }
  local cflags blas cc
  # (without the version define: its quotes do not survive the word splitting below)
  cflags="$(sed -n 's/^C_\(DEFINES\|INCLUDES\|FLAGS\) = //p' "$bd/CMakeFiles/lvitcore.dir/flags.make" | tr '\n' ' ' |
            sed 's/-DLVIT_VERSION=[^ ]*//')"
  blas="$(sed -n 's/^LVIT_BLAS_LIB:FILEPATH=//p' "$bd/CMakeCache.txt")"
  cc="$(sed -n 's/^CMAKE_C_COMPILER:FILEPATH=//p' "$bd/CMakeCache.txt")"
  # shellcheck disable=SC2086
  "${cc:-cc}" $cflags "$here/bench/attn_cputime.c" -o "$out" "$bd/liblvitcore.a" ${blas:--lopenblas} \
    -lm -ldl -lpthread
}
build "$A" "$tmp/a" || { echo "error: building $A failed" >&2; exit 1; }
build "$B" "$tmp/b" || { echo "error: building $B failed" >&2; exit 1; }
export OMP_NUM_THREADS=1

for isa in avx512 avx2 generic; do
  LVIT_ATTN_ISA=$isa "$tmp/a" hash > "$tmp/ha" 2>/dev/null
  LVIT_ATTN_ISA=$isa "$tmp/b" hash > "$tmp/hb" 2>/dev/null
  if cmp -s "$tmp/ha" "$tmp/hb"; then echo "bits $isa: identical"
  else echo "bits $isa: DIFFER"; diff "$tmp/ha" "$tmp/hb" | sed 's/^/   /'; fi
done

for c in "${cases[@]}"; do
  IFS=: read -r S d NH R isa <<< "$c"
  for ((r = 0; r < ROUNDS; r++)); do
    for t in a b; do
      line=$(LVIT_ATTN_ISA=$isa "$tmp/$t" time "$S" "$d" "$NH" "$R")
      echo "$t $line"
      echo "$c $t $line" >> "$tmp/all"
    done
  done
done
echo "== medians over $ROUNDS rounds (A = $A, B = $B), GFLOP/s by CPU time: fwd / bwd / fwd+bwd"
python3 - "$tmp/all" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    c, t = line.split()[:2]
    f = float(re.search(r"fwd ([\d.]+) ms", line)[1]); b = float(re.search(r"bwd ([\d.]+) ms", line)[1])
    rows.setdefault((c, t), []).append((f, b))
for c in dict.fromkeys(k[0] for k in rows):
    S, d, NH, _, isa = c.split(":"); fl = 4.0 * int(NH) * int(S) ** 2 * int(d) / 1e6  # MFLOP per ms = GF/s
    out = []
    for t in "ab":
        f = statistics.median(x[0] for x in rows[(c, t)]); b = statistics.median(x[1] for x in rows[(c, t)])
        out.append(f"{fl / f:6.1f} / {2.5 * fl / b:6.1f} / {3.5 * fl / (f + b):6.1f}")
    print(f"{isa:7s} S={S:>6s} d={d}: A {out[0]}   B {out[1]}")
PY
rm -rf "$tmp"
