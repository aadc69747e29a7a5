#!/usr/bin/env bash
# TILES: attention work, memory and time per image against image size, untiled and tiled, for
# Reslim x4 on synthetic fields (3 variables, patch 2 on the coarse grid, D 64, 2 blocks).
# Untiled, one image is one sequence of (H/4/2)(W/4/2) tokens: attention grows with the square of
# the image area. Tiled, the window is fixed (24 x 48 coarse-cell cores, halo 4 rows / 8 columns:
# 32 x 64 cells, 512 tokens) and an image of n x n cores is n^2 such sequences: linear in the area.
# usage: bench/bench_tiles.sh [EXTRA lvit bench FLAGS]   (LVIT=path/to/lvit, default build/lvit)
set -euo pipefail
LVIT=${LVIT:-build/lvit}
common=(--task downscale --scale 4 --vars 3 --patch 2 --dim 64 --depth 2 --heads 4 --decoder-depth 1 --res-width 8
        --steps ${STEPS:-2} --warmup 1 --no-peak)
extra=("$@")
printf "%-11s %5s %6s %9s %15s %14s %12s\n" fine tiles batch tokens/seq "attn GFLOP/img" "act MiB/step" "ms/image"
for n in 1 2 4 8; do
  H=$((96 * n)) W=$((192 * n))
  rows=()
  if [ "$n" -le "${MAX_UNTILED:-4}" ]; then rows+=("1 0 1"); fi
  if [ "$n" -gt 1 ]; then rows+=("$n 4 4"); fi
  for r in "${rows[@]}"; do
    set -- $r
    line=$("$LVIT" bench "${common[@]}" --grid ${H}x${W} --tiles $1 --halo $2 --batch $3 "${extra[@]}" 2>/dev/null | grep '^tiles_bench:')
    set -- $line
    printf "%-11s %5s %6s %9s %15s %14s %12s\n" "$3" "$5" "${13}" "$7" "$9" "${11}" "${15}"
  done
done
