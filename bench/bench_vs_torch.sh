#!/usr/bin/env bash
# Whole training step, lvit against its PyTorch twin (tools/twin.py), in one run on this machine.
#
# Usage: bench/bench_vs_torch.sh [extra bench flags, e.g. --channels multi]
#   The extra flags go to both `lvit bench` and `twin.py bench` (the twin ignores, with a
#   warning, flags it does not know). tokens/step = batch*L (agg) or batch*V*L (multi) for both.
# Environment: LVIT (default build/lvit), PYTHON (default /usr/bin/python3, with torch),
#              TWIN_STEPS (timed twin steps, default 10).
# OPENBLAS_CORETYPE is set from the CPU's flags for both programs (SkylakeX with AVX-512 F/BW/VL,
# Haswell with AVX2+FMA), overriding any preset; the twin runs with 1 and 2 threads, best counts,
# with OMP_WAIT_POLICY=PASSIVE unless set: torch's spinning OpenMP threads otherwise fight
# OpenBLAS's own pthreads for the 2 cores (2-thread agg step measured ~15-20% slower).
# Exits non-zero if lvit fails (or the twin fails while torch is importable).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
LVIT="${LVIT:-build/lvit}"
PYTHON="${PYTHON:-/usr/bin/python3}"
TWIN_STEPS="${TWIN_STEPS:-10}"
config=(--vars 5 --grid 32x64 --patch 2 --dim 128 --depth 4 --heads 4 --decoder-depth 2 --batch 8)

flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)"
has() { [[ " $flags " == *" $1 "* ]]; }
if has avx512f && has avx512bw && has avx512vl; then
  export OPENBLAS_CORETYPE=SkylakeX
elif has avx2 && has fma; then
  export OPENBLAS_CORETYPE=Haswell
else
  unset OPENBLAS_CORETYPE
fi

# Runs a bench command, echoes its output indented, and leaves the last tokens/s number in $rate.
run_bench() {
  local out rc
  out="$("$@" 2>&1)"
  rc=$?
  printf '%s\n' "$out" | sed 's/^/    /'
  rate="$(printf '%s\n' "$out" | grep -Eo 'tokens/s:? *[0-9]+(\.[0-9]+)?' | tail -n 1 |
          grep -Eo '[0-9]+(\.[0-9]+)?$')"
  [ "$rc" = 0 ] && [ -n "$rate" ]
}

echo "config: ${config[*]} $*"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, $(nproc) cores"

if [ ! -x "$LVIT" ]; then
  echo "error: $LVIT not found: build lvit first (cmake -B build && cmake --build build)" >&2
  exit 1
fi
echo "== lvit: $LVIT bench ${config[*]} $*"
if ! run_bench "$LVIT" bench "${config[@]}" "$@"; then
  echo "error: lvit bench failed or printed no tokens/s" >&2
  exit 1
fi
lvit_rate="$rate"

torch_rate=()
if "$PYTHON" -c 'import torch' 2>/dev/null; then
  for t in 1 2; do
    echo "== torch, $t thread(s): $PYTHON tools/twin.py bench ${config[*]} $* --threads $t"
    if ! OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" \
         run_bench "$PYTHON" tools/twin.py bench \
         "${config[@]}" "$@" --threads "$t" --steps "$TWIN_STEPS"; then
      echo "error: twin bench failed" >&2
      exit 1
    fi
    torch_rate+=("$rate")
  done
else
  echo "== torch: $PYTHON cannot import torch; skipping the twin"
  torch_rate=(n/a n/a)
fi

echo
printf '%-22s %12s\n' "" "tokens/s"
printf '%-22s %12s\n' "lvit" "$lvit_rate"
printf '%-22s %12s\n' "torch, 1 thread" "${torch_rate[0]}"
printf '%-22s %12s\n' "torch, 2 threads" "${torch_rate[1]}"
if [ "${torch_rate[0]}" != n/a ]; then
  awk -v l="$lvit_rate" -v a="${torch_rate[0]}" -v b="${torch_rate[1]}" 'BEGIN {
    best = (a > b) ? a : b
    printf "%-22s %11.2fx\n", "lvit / torch (best)", l / best }'
fi
