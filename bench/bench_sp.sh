#!/usr/bin/env bash
# Sequence parallelism on one machine: one training step configuration (multi channel mode,
# S = 16,384 tokens by default) at np = 1, 2, 4 for each --sp-mode, per rank: step time, bytes
# sent, planned activation memory (lvit allocates everything up front, so that is the peak), for
# every rank.
# On a 2-core machine np > 2 is oversubscribed: compare memory and bytes, not time.
# usage: bench/bench_sp.sh [extra lvit bench flags]   (LVIT=path, default build/lvit)
set -euo pipefail
cd "$(dirname "$0")/.."
LVIT=${LVIT:-build/lvit}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cfg=(--channels multi --vars 4 --grid 64x256 --patch 2 --dim 64 --depth 2 --heads 4 --decoder-depth 1 --batch 1
     --steps 2 --warmup 1 --no-peak "$@")
echo "config: ${cfg[*]}"
printf "%-8s %3s %4s %12s %15s %17s %12s\n" mode np rank "ms/step" "MiB sent/step" "activations MiB" "tokens/s"
row() { # mode np output: one line per rank (rank 0 alone for np = 1)
  awk -v m="$1" -v np="$2" '
    /^[0-9]+ / && NF == 5 { r[n++] = $0 }
    /^mean / { ms = $2 }
    /^memory/ { for (i = 1; i <= NF; i++) if ($i == "activations+scratch") { act = $(i + 1); sub(",", "", act) } }
    /^tokens\/s:/ { tps = $2 }
    END {
      if (n == 0) printf "%-8s %3s %4s %12s %15s %17s %12s\n", m, np, 0, ms, 0, act, tps
      for (i = 0; i < n; i++) { split(r[i], f, " "); printf "%-8s %3s %4s %12s %15s %17s %12s\n", m, np, f[1], f[2], f[3], f[4], (i ? "" : tps) }
    }' "$3"
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
OMP_NUM_THREADS=2 "$LVIT" bench "${cfg[@]}" > "$out" 2>&1; row none 1 "$out"
for mode in ulysses lss ring usp; do
  for np in 2 4; do
    OMP_NUM_THREADS=$((np > 2 ? 1 : 1)) OMP_WAIT_POLICY=passive timeout 600 mpirun --oversubscribe -np "$np" \
      "$LVIT" bench "${cfg[@]}" --sp "$np" --sp-mode "$mode" > "$out" 2>&1 || { echo "$mode np $np failed:"; tail -5 "$out"; exit 1; }
    row "$mode" "$np" "$out"
  done
done
