#!/usr/bin/env bash
# Data parallel on one machine: the gradient all-reduce overlapped with the backward pass
# (default) against one all-reduce after it (--no-overlap), side by side in one run, at np = 2
# (one thread per rank), for the default model and a wider one (more gradient bytes).
# usage: bench/bench_dp.sh [extra lvit bench flags]   (LVIT=path, default build/lvit)
set -euo pipefail
cd "$(dirname "$0")/.."
LVIT=${LVIT:-build/lvit}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
printf "%-32s %-12s %10s %14s\n" model reduction "ms/step" "MiB sent/step"
for model in "--dim 128 --depth 4 --heads 4" "--dim 256 --depth 4 --heads 8"; do
  for mode in overlap no-overlap; do
    flag=(); [ "$mode" = no-overlap ] && flag=(--no-overlap)
    out=$(timeout 600 mpirun --oversubscribe -np 2 "$LVIT" bench $model --batch 8 --steps 10 --warmup 2 --no-peak --dp 2 "${flag[@]}" "$@" 2>&1)
    echo "$out" | awk -v m="$model" -v r="$mode" '/^0 / && NF == 5 { printf "%-32s %-12s %10s %14s\n", m, r, $2, $3 }'
  done
done
