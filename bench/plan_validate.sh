#!/usr/bin/env bash
# lvit plan against real runs on this machine: each layout's peak RSS (the largest over the
# ranks, /usr/bin/time's maximum resident set) and the bytes rank 0 sends per step (lvit bench's
# per-rank table, counted by the communicator) beside what `lvit plan --only` predicts for the
# same flags (the last two rows: lvit train, which also validates and writes its model). One step
# of lvit bench per layout (everything is allocated before the first step,
# so one step reaches the peak), one thread per rank, 2 or 4 processes (oversubscribed on 2
# cores: memory and bytes compare, times do not). Ends with the process baseline: a
# 4-parameter model's RSS alone, at 1, 2 and 4 processes.
#
#   bench/plan_validate.sh [BUILD_DIR]        (default build; prints a markdown table)
#
# PLAN_ROWS=REGEX runs only the layouts whose name matches (tests/cli_plan.sh keeps two);
# PLAN_MODEL="..." replaces the model flags.
# Exit 1 when a layout's memory is off by more than 15%.
set -u
B=${1:-build}
L=$B/lvit
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1
[ -x "$L" ] || { echo "no $L: build first (cmake -B $B && cmake --build $B -j)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "no /usr/bin/time (apt-get install time)" >&2; exit 2; }
M=${PLAN_MODEL:-"--vars 8 --grid 64x64 --patch 2 --dim 64 --depth 4 --heads 4 --batch 4"}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bad=0
declare -a base

# measure NP FLAGS...: prints "RSS_MiB SENT_MiB" (the largest rank's RSS; rank 0's MiB per step)
measure() {
  local np=$1; shift
  local pre=()
  [ "$np" -gt 1 ] && pre=(timeout 600 mpirun --oversubscribe -np "$np")
  local job=(bench $M "$@" --steps 1 --warmup 0 --no-peak --threads 1)
  # TRAIN=1: lvit train on its synthetic data (64 times), one step, validation and model.safetensors
  [ -n "${TRAIN:-}" ] && job=(train --run "$tmp/run" --overwrite $M "$@" --steps 1 --times 64 --threads 1)
  # each rank appends its peak to a file: mpirun may drop a rank's last stderr lines at exit; a
  # second try when the launcher fails (it does, now and then, while other jobs start theirs)
  local t=(/usr/bin/time -a -o "$tmp/rss" -f "RSS_KB %M")
  rm -f "$tmp/rss"
  "${pre[@]}" "${t[@]}" "$L" "${job[@]}" >"$tmp/out" 2>&1 ||
    { rm -f "$tmp/rss"; "${pre[@]}" "${t[@]}" "$L" "${job[@]}" >"$tmp/out" 2>&1; } ||
    { echo "FAILED: lvit ${job[*]} (np $np):" >&2; tail -5 "$tmp/out" >&2; echo "- -"; return; }
  local n
  n=$(grep -c RSS_KB "$tmp/rss" 2>/dev/null)
  [ "${n:-0}" -eq "$np" ] || { echo "FAILED: $n of $np ranks reported their peak memory" >&2; echo "- -"; return; }
  awk '/RSS_KB/ {if ($2 > r) r = $2}
       /rank +ms\/step/ {t = 1; next}
       t && $0 ~ /(^|[] ])0 +[0-9.]+ +[0-9.]+ / {for (i = 1; i <= NF; i++) if ($i == "0") {s = $(i + 2); break}; t = 0}
       END {printf "%.1f %s\n", r / 1024, (s != "" ? s : (np + 0 > 1 ? "-" : "0"))}' np="$np" "$tmp/rss" "$tmp/out"
}

# predict FLAGS...: "TOTAL_MiB SENT_MiB" (on the machine file $tmp/machine)
predict() {
  "$L" plan $M "$@" --only --times 64 --machine "$tmp/machine" --cpu-peak-gflops 10 --json >"$tmp/plan.json" 2>&1 ||
    { cat "$tmp/plan.json" >&2; echo "- -"; return; }
  tr -d '\n' <"$tmp/plan.json" | sed -E 's/.*"memory_bytes": \{"total": ([0-9.]+).*"bytes_sent_rank0": \{"total": ([0-9.]+).*/\1 \2/' |
    awk '{printf "%.1f %.3f\n", $1 / 1048576, $2 / 1048576}'
}

# The process baseline (program, shared libraries, OpenBLAS and MPI buffers): a 4-parameter
# model's peak RSS at 1, 2 and 4 processes, less what the plan counts for that model itself.
T="--vars 1 --grid 4x4 --patch 2 --dim 4 --depth 1 --heads 1 --decoder-depth 0 --batch 4"
printf 'preset=cpu\nbase_mib=0\nbase_mpi_mib=0\nbase_peer_mib=0\n' >"$tmp/machine"
for np in 1 2 4; do
  read -r rss _ < <(M="$T" measure "$np" --dp "$np")
  [ "$rss" != "-" ] || { echo "the baseline run at np $np failed" >&2; exit 1; }
  read -r own _ < <(M="$T" predict --dp "$np")
  base[$np]=$(awk -v a="$rss" -v b="$own" 'BEGIN {printf "%.1f", a - b}')
done
peer=$(awk -v a="${base[2]}" -v b="${base[4]}" 'BEGIN {printf "%.2f", (b - a) / 2}')
printf 'preset=cpu\nbase_mib=%s\nbase_mpi_mib=%s\nbase_peer_mib=%s\n' "${base[1]}" "${base[2]}" "$peer" >"$tmp/machine"
echo "process baseline (a 4-parameter model's peak RSS less the model): ${base[1]} MiB alone, ${base[2]} MiB per rank"
echo "under mpirun -np 2, + $peer MiB per further rank (np 4); the plan below uses them (base_mib, base_mpi_mib,"
echo "base_peer_mib of a --machine file)"
echo
echo "model: lvit bench $M --steps 1 --warmup 0 --no-peak --threads 1"
echo
echo "| layout | np | flags | peak RSS MiB (measured) | predicted | error | MiB sent by rank 0 per step (counted) | predicted |"
echo "|---|---|---|---|---|---|---|---|"
row() {
  local name=$1 np=$2; shift 2
  [[ "$name" =~ ${PLAN_ROWS:-.} ]] || return 0
  read -r rss sent < <(measure "$np" "$@")
  read -r prss psent < <(predict "$@")
  local err
  err=$(awk -v a="$rss" -v b="$prss" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%+.1f%%", 100 * (b - a) / a; else print "-"}')
  awk -v a="$rss" -v b="$prss" 'BEGIN {exit !(a + 0 > 0 && b + 0 > 0 && (b - a) / a < 0.15 && (a - b) / a < 0.15)}' || bad=1
  echo "| $name | $np | \`$*\` | $rss | $prss | $err | $sent | $psent |"
}
row "one process" 1 --dp 1
row "one process, recompute" 1 --dp 1 --recompute
row "dp 2" 2 --dp 2
row "dp 4, ZeRO-1" 4 --dp 4 --zero 1
row "dp 4, ZeRO-3" 4 --dp 4 --zero 3
row "sp 2 ulysses" 2 --dp 1 --sp 2 --sp-mode ulysses
row "sp 4 lss" 4 --dp 1 --sp 4 --sp-mode lss
row "sp 2 ring" 2 --dp 1 --sp 2 --sp-mode ring
row "sp 4 usp (2 x 2)" 4 --dp 1 --sp 4 --sp-mode usp --sp-ulysses 2
row "tp 2" 2 --dp 1 --tp 2
row "pp 2, 4 micro-batches" 2 --dp 1 --pp 2 --microbatches 4
row "tp 2, D-CHAG 2" 2 --dp 1 --tp 2 --channel-parallel 2
row "tp 2 x fsdp 2 (Hybrid-STOP)" 4 --dp 2 --tp 2 --fsdp 2
row "dp 2 x sp 2 ulysses" 4 --dp 2 --sp 2 --sp-mode ulysses
TRAIN=1 row "lvit train, one process" 1 --dp 1
TRAIN=1 row "lvit train, dp 2, ZeRO-1" 2 --dp 2 --zero 1
exit $bad
