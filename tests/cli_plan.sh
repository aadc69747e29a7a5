#!/usr/bin/env bash
# lvit plan: the presets and a machine file plan, the best layouts come with their commands, the
# layouts that cannot run say why, bad input exits 2 naming the flag or file; and, where mpirun
# and /usr/bin/time are present, the predicted peak memory of two layouts (one process, tp 2) is
# within 15% of the measured RSS of real lvit bench runs (bench/plan_validate.sh, baseline
# measured first) and the bytes rank 0 sends equal the communicator's count.
# usage: cli_plan.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
SRC=$2
tmp=$(mktemp -d /tmp/lvit_plan_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_cli.sh"
M=(--vars 8 --grid 64x64 --patch 2 --dim 64 --depth 4 --heads 4 --batch 4)

expect 0 "plan on this machine" "$LVIT" plan "${M[@]}" --machine cpu --cpu-peak-gflops 10 --ranks-per-node 4 --best 3
has "of .* layouts fit"
has "lvit train --run RUN --data DATA --vars 8 --grid 64x64"
# heads 4: tp 3 is impossible on 12 ranks with --heads 4
expect 0 "plan on 12 ranks" "$LVIT" plan "${M[@]:0:12}" --batch 12 --machine cpu --cpu-peak-gflops 10 --ranks-per-node 12 --best 1
has "tp3 .* --tp 3 does not divide the 4 heads"
# 64x64 patch 2 has 32 rows: sp 3 pads them (11, 11, 10): sized as the busiest rank's 11 rows
expect 0 "a padded sequence split" "$LVIT" plan "${M[@]}" --machine cpu --cpu-peak-gflops 10 --ranks-per-node 3 --only --sp 3 --sp-mode lss
has "dp1 sp3"
cp "$tmp/out" "$tmp/sp3"
expect 0 "the unpadded split beside it" "$LVIT" plan "${M[@]}" --machine cpu --cpu-peak-gflops 10 --ranks-per-node 4 --only --sp 4 --sp-mode lss
if command -v python3 >/dev/null &&
   python3 -c "
import re, sys
def compute(f): return float(re.search(r'sp[34]-\\S+(?:\\s+[\\d.]+){4}\\s+(\\d+)', open(f).read()).group(1))
a, b = compute(sys.argv[1]), compute(sys.argv[2])
assert 1.36 < a / b < 1.39, (a, b)  # 11 rows against 8: 1.375 (an even 32/3 would give 1.333)
" "$tmp/sp3" "$tmp/out"; then ok "sp 3 sized at 11 of 32 rows: 11/8 the compute of sp 4"; else bad "sp 3 sizing"; fi
# a frontier node of 64 GiB: 188K tokens (92 channels, 128x256 at patch 4 in multi mode) fit only sharded
expect 0 "188K tokens on 16 Frontier nodes" "$LVIT" plan --vars 92 --grid 128x256 --patch 4 --channels multi --dim 1024 \
  --depth 8 --heads 16 --batch 16 --machine frontier-node --nodes 16 --best 2
has "S=188416 tokens"
has "srun -N 16 --ntasks-per-node 8"
has "needs .* GiB per rank, the machine has 64.00 GiB"
# --json: one object per layout, valid JSON where Python can check it
expect 0 "json" "$LVIT" plan "${M[@]}" --machine h100-node --nodes 2 --json
if command -v python3 >/dev/null; then
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); L=d['layouts']; assert len(L) > 10; v=[x for x in L if x['valid']]; assert v and all('command' in x for x in v); assert all(x['reason'] for x in L if not x['valid'])" "$tmp/out"; then
    ok "json parses, valid layouts carry commands, invalid ones reasons"
  else bad "json"; fi
fi
# a machine file: keys over a preset; bad lines are named
printf '# two fat nodes\npreset=h100-node\nranks_per_node = 4\nmem_gib=40\ninter_gbs=25\n' >"$tmp/m.txt"
expect 0 "machine file" "$LVIT" plan "${M[@]}" --machine "$tmp/m.txt" --nodes 2 --best 1
has "machine h100-node: 2 nodes x 4 ranks = 8; per rank 40.0 GiB"
printf 'ranks_per_node=4\nmem_gib=lots\n' >"$tmp/bad.txt"
expect 2 "machine file with a bad value" "$LVIT" plan --machine "$tmp/bad.txt"
has "bad.txt line 2: mem_gib expects a finite number, got 'lots'"
printf 'preset=cpu\npeak_tflops = nan\n' >"$tmp/nan.txt"
expect 2 "machine file with NaN" "$LVIT" plan "${M[@]}" --machine "$tmp/nan.txt" --cpu-peak-gflops 50
has "nan.txt line 2: peak_tflops expects a finite number, got 'nan'"
printf 'preset=cpu\nbandwidth=3\n' >"$tmp/bad2.txt"
expect 2 "machine file with an unknown key" "$LVIT" plan --machine "$tmp/bad2.txt" --cpu-peak-gflops 10
has "bad2.txt line 2: unknown key 'bandwidth'"
expect 2 "unknown preset" "$LVIT" plan --machine no-such-machine
has "no-such-machine"
expect 2 "bad grid" "$LVIT" plan --grid 64by64
has "\-\-grid expects HxW"
expect 1 "nothing fits in 1 MiB" "$LVIT" plan "${M[@]}" --machine cpu --cpu-peak-gflops 10 --mem-gib 0.001
has "needs .* GiB per rank, the machine has 0.00 GiB"

# memory against real runs (one process and tp 2 on 2 ranks)
if ! command -v mpirun >/dev/null || ! [ -x /usr/bin/time ] || ! ldd "$LVIT" | grep -q libmpi; then
  echo "skip: measured memory needs mpirun and /usr/bin/time (apt-get install openmpi-bin time)"
else
  if PLAN_ROWS='^(one process|tp 2)$' bash "$SRC/bench/plan_validate.sh" "$(dirname "$LVIT")" >"$tmp/val" 2>&1; then
    ok "memory of one process and tp 2 within 15% of peak RSS"
  elif [ -n "${ASAN_OPTIONS:-}" ]; then
    # the sanitizer build's RSS holds shadow memory and freed-block quarantine the plan does not model
    echo "skip: memory within 15% (sanitizer build: peak RSS is not lvit's own)"
  else bad "memory against peak RSS"; fi
  cat "$tmp/val"
  rows=$(grep -c '^| \(one process\|tp 2\) |' "$tmp/val")
  [ "$rows" -eq 2 ] && ok "two layouts measured" || bad "expected 2 measured layouts, got $rows"
  # the bytes rank 0 sends: counted (lvit bench) = predicted, tp 2: 25.000 MiB per step
  if grep -q '^| tp 2 | 2 | .* | 25.000 | 25.000 |$' "$tmp/val"; then ok "tp 2 bytes: counted = predicted"; else bad "tp 2 bytes"; fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
