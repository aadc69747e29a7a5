#!/usr/bin/env bash
# Model parallelism: memory per rank for each layout, and D-CHAG against plain tensor parallelism.
#
#   bench/bench_mp.sh [memory|dchag|all]     (default all; LVIT=build/lvit, MPIRUN=mpirun)
#
# memory: one model (D=256, 8 blocks, 8 heads, 5 variables on 32x64, patch 2: S = 512, batch 8)
#   under each layout of 4 processes, through `lvit bench`, which prints every rank's planned memory
#   (everything is allocated at start-up, so it is the peak): parameters, gradients, AdamW moments,
#   the one gathered block of FSDP, activations and scratch (of which tokenization + channel
#   aggregation). 4 processes on a 2-core machine are oversubscribed: compare memory and bytes,
#   not time.
# dchag: 2 processes (one per core: times compare), tensor parallel 2 with all channels on every
#   rank against D-CHAG over the same pair (--channel-parallel 2, one and two aggregation levels),
#   at V = 92 (32x64, patch 2: the 5.625-degree ERA5 setting, L = 512) and V = 496 (192x384,
#   patch 6: the hyperspectral case, L = 2048); D = 128, 2 blocks, 4 heads, batch 1. Prints each
#   rank's tokenization+aggregation memory, its whole activation memory and the step time. Then
#   V = 92 at tp 4 against D-CHAG over 4 (4 processes: memory and bytes only).
set -u
mode=${1:-all}
LVIT=${LVIT:-build/lvit}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1
[ -x "$LVIT" ] || { echo "no $LVIT: build first (cmake -B build && cmake --build build -j)" >&2; exit 2; }
command -v "$MPIRUN" >/dev/null || { echo "no $MPIRUN (apt-get install openmpi-bin)" >&2; exit 2; }

# run NP "label" flags...: rank rows of lvit bench (the table after 'rank    ms/step')
run() {
  local np=$1 label=$2; shift 2
  local out
  if [ "$np" -eq 1 ]; then
    out=$(timeout 900 "$LVIT" bench "$@" --no-peak 2>&1)
  else
    out=$(timeout 900 "$MPIRUN" --oversubscribe -np "$np" "$LVIT" bench "$@" --no-peak 2>&1)
  fi
  local rc=$?
  if [ $rc -ne 0 ]; then echo "$label: failed (exit $rc)"; echo "$out" | tail -3; return; fi
  if [ "$np" -eq 1 ]; then
    echo "$out" | awk -v l="$label" '/memory \(MiB\) on rank 0/ {sub(/.*memory/, "memory"); print l ": " $0} /^mean|mean [0-9.]+ ms/ {sub(/.*mean/, "mean"); print l ": " $0}'
  else
    echo "$out" | awk -v l="$label" 'f && /^[0-9]/ {print l "  " $0} /rank +ms\/step/ {f = 1; print l "  " $0}'
  fi
}

if [ "$mode" = memory ] || [ "$mode" = all ]; then
  M=(--vars 5 --grid 32x64 --patch 2 --dim 256 --depth 8 --heads 8 --batch 8 --steps 2 --warmup 1)
  echo "== memory per rank, MiB (model: ${M[*]})"
  run 1 "one process" "${M[@]}"
  run 4 "dp 4" "${M[@]}" --dp 4
  run 4 "dp 4 zero 3" "${M[@]}" --dp 4 --zero 3
  run 4 "tp 4" "${M[@]}" --tp 4
  run 4 "pp 4 (8 mb)" "${M[@]}" --pp 4 --microbatches 8
  run 4 "tp 2 x fsdp 2" "${M[@]}" --tp 2 --dp 2 --fsdp 2
  run 4 "tp 2 x pp 2" "${M[@]}" --tp 2 --pp 2 --microbatches 4
  run 4 "dp 2 x sp 2" "${M[@]}" --dp 2 --sp 2 --sp-mode ulysses
fi

if [ "$mode" = dchag ] || [ "$mode" = all ]; then
  echo "== D-CHAG against tensor parallelism, 2 processes"
  for cfg in "92 32x64 2 23" "496 192x384 6 31"; do
    set -- $cfg; V=$1 grid=$2 p=$3 g=$4
    C=(--vars "$V" --grid "$grid" --patch "$p" --dim 128 --depth 2 --heads 4 --batch 1 --steps 3 --warmup 1)
    run 2 "V=$V tp 2" "${C[@]}" --tp 2
    run 2 "V=$V tp 2 D-CHAG" "${C[@]}" --tp 2 --channel-parallel 2
    run 2 "V=$V tp 2 D-CHAG g$g" "${C[@]}" --tp 2 --channel-parallel 2 --chag-group "$g"
  done
  echo "== D-CHAG against tensor parallelism, 4 processes (oversubscribed: compare memory and bytes)"
  C=(--vars 92 --grid 32x64 --patch 2 --dim 128 --depth 2 --heads 4 --batch 1 --steps 2 --warmup 1)
  run 4 "V=92 tp 4" "${C[@]}" --tp 4
  run 4 "V=92 tp 4 D-CHAG" "${C[@]}" --tp 4 --channel-parallel 4
fi
