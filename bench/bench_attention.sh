#!/usr/bin/env bash
# Attention alone: lvit's CPU flash attention (src/attention, whatever the tree holds now) against
# PyTorch 2.x's F.scaled_dot_product_attention on the CPU, forward and forward+backward, with the
# machine's sgemm ceiling and each side's peak memory, in one run.
#
# Usage: bench/bench_attention.sh [--quick] [--out DIR] [CASE ...]
#   CASE = S:d:f|fb:THREADS (f forward, fb forward+backward; THREADS e.g. 1+2). The default
#   sweep: S = 1k and 4k at d = 32, 64, 128 (1 and 2 threads), 16k at d = 32, 64, 128 (d = 64 at
#   1 and 2 threads, the others at 2), 64k at d = 64 (2 threads, forward+backward); --quick
#   stops at 16k. Heads 4 (ATTN_HEADS), batch 1.
# Builds: `cmake --build BUILD --target lvitcore` (BUILD = $BUILD, default build; configured
#   here if new), so src/attention compiles with the project's flags (its per-file instruction
#   sets included), then bench/bench_attention.c with lvitcore's C flags, linked to liblvitcore.a
#   and the OpenBLAS that lvit uses (for the sgemm ceiling).
# Environment: BUILD, LVIT_TORCH_VENV (bench/torch_venv.sh), ATTN_HEADS, LVIT_ATTN_ISA (passed
#   on to lvit's kernels where the tree supports choosing them), NO_TORCH=1 (lvit only).
# Writes DIR (default BUILD/bench-attention): lvit.tsv, torch.tsv, results.csv, results.md.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/torch_venv.sh
BUILD="${BUILD:-build}"
out=""
quick=0
cases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) cases+=("$1"); shift ;;
  esac
done
if [ ${#cases[@]} = 0 ]; then
  cases=(1024:32:fb:1+2 1024:64:fb:1+2 1024:128:fb:1+2 4096:32:fb:1+2 4096:64:fb:1+2
         4096:128:fb:1+2 16384:32:fb:2 16384:64:fb:1+2 16384:128:fb:2)
  [ "$quick" = 1 ] || cases+=(65536:64:fb:2)
fi
out="${out:-$BUILD/bench-attention}"
mkdir -p "$out" || exit 1

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
fi
echo "building lvitcore in $BUILD (src/attention as it is now)"
cmake --build "$BUILD" --target lvitcore -j "$(nproc)" >"$out/build.log" 2>&1 ||
  { tail -n 20 "$out/build.log" >&2; echo "error: building lvitcore failed" >&2; exit 1; }
flags_make="$BUILD/CMakeFiles/lvitcore.dir/flags.make"
cflags="$(sed -n 's/^C_\(DEFINES\|INCLUDES\|FLAGS\) = //p' "$flags_make" | tr '\n' ' ')"
blas="$(sed -n 's/^LVIT_BLAS_LIB:FILEPATH=//p' "$BUILD/CMakeCache.txt")"
cblas_inc="$(sed -n 's/^LVIT_CBLAS_INCLUDE:PATH=//p' "$BUILD/CMakeCache.txt")"
cc="$(sed -n 's/^CMAKE_C_COMPILER:FILEPATH=//p' "$BUILD/CMakeCache.txt")"
bin="$out/bench_attention"
# shellcheck disable=SC2086
if ! "${cc:-cc}" $cflags ${cblas_inc:+-I"$cblas_inc"} bench/bench_attention.c -o "$bin" \
     "$BUILD/liblvitcore.a" ${blas:--lopenblas} -lm -ldl -lpthread >>"$out/build.log" 2>&1; then
  tail -n 20 "$out/build.log" >&2
  echo "error: compiling bench/bench_attention.c failed" >&2
  exit 1
fi

set_openblas_coretype
# Fixed mmap threshold: freed buffers go back to the system, so each case's peak RSS is its own.
export MALLOC_MMAP_THRESHOLD_=131072
print_machine | tee "$out/machine.txt"
echo "cases: ${cases[*]}" | tee -a "$out/machine.txt"
echo "== lvit: $bin"
t0=$SECONDS
"$bin" "$out/lvit.tsv" "${cases[@]}" || { echo "error: bench_attention failed" >&2; exit 1; }
echo "   ($((SECONDS - t0)) s)"
if [ "${NO_TORCH:-0}" = 1 ]; then
  PY=python3
  torch_args=()
else
  PY="$(torch_venv_python)" || exit 1
  echo "== torch SDPA: $PY bench/attention_torch.py"
  t0=$SECONDS
  "$PY" bench/attention_torch.py --out "$out/torch.tsv" "${cases[@]}" ||
    { echo "error: attention_torch.py failed" >&2; exit 1; }
  echo "   ($((SECONDS - t0)) s)"
  torch_args=(--torch "$out/torch.tsv")
fi
echo "uptime at the end:$(uptime | sed 's/.*up[^,]*,//')" | tee -a "$out/machine.txt"
"$PY" bench/attention_torch.py --report "$out" --lvit "$out/lvit.tsv" "${torch_args[@]}"
