#!/usr/bin/env bash
# Sequence parallelism on one machine: one training step configuration (multi channel mode,
# S = 16,384 tokens by default) at np = 1, 2, 4 for each --sp-mode, per rank: step time, bytes
# sent, planned activation memory (lvit allocates everything up front, so that is the peak).
# On a 2-core machine np > 2 is oversubscribed: compare memory and bytes, not time.
# usage: bench/bench_sp.sh [extra lvit bench flags]   (LVIT=path, default build/lvit)
set -euo pipefail
cd "$(dirname "$0")/.."
LVIT=${LVIT:-build/lvit}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cfg=(--channels multi --vars 4 --grid 64x256 --patch 2 --dim 64 --depth 2 --heads 4 --decoder-depth 1 --batch 1
     --steps 2 --warmup 1 --no-peak "$@")
echo "config: ${cfg[*]}"
printf "%-8s %3s %12s %15s %17s %12s\n" mode np "ms/step" "MiB sent/step" "activations MiB" "tokens/s"
row() { # mode np output
  awk -v m="$1" -v np="$2" '
    /^0 / && NF == 5 { ms = $2; sent = $3; act = $4 }
    /^mean / { if (ms == "") ms = $2 }
    /^memory/ { for (i = 1; i <= NF; i++) if ($i == "activations+scratch") { a = $(i + 1); sub(",", "", a); if (act == "") act = a } }
    /^tokens\/s:/ { tps = $2 }
    END { printf "%-8s %3s %12s %15s %17s %12s\n", m, np, ms, (sent == "" ? "0" : sent), act, tps }' "$3"
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
