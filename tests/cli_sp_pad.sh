#!/usr/bin/env bash
# Sequence parallelism on a grid whose patch rows the ranks do not divide: the storm data (33x36,
# patch 2: 17 patch rows) at --sp 2 and --sp 4 in every --sp-mode, with --dp, --tp and multi mode,
# trains to the same losses and weights as one process (the 1e-4 of every other layout); the
# padded rows are masked. Tasks that cannot run on padded rows are refused (exit 2).
# usage: cli_sp_pad.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
storm_or_skip "$SRC"
mpi_or_skip 60
tmp=$(mktemp -d /tmp/lvit_sppad_XXXXXX)
trap 'rm -rf "$tmp"' EXIT

expect 0 "convert the storm files" "$LVIT" convert -o "$tmp/storm.lvd" "$storm/Pstorm.cdf" "$storm/Tstorm.cdf" --split 0.625,0.125
# 4 heads: ulysses over 4 ranks; 8 steps, every one logged
net=(--data "$tmp/storm.lvd" --leads 6 --dim 32 --depth 2 --heads 4 --patch 2 --batch 4 --steps 8 --log-every 4 --seed 5 --val-every 4 --overwrite)

worst=0
# same RUN_A RUN_B WHAT: losses, validation losses and weights within 1e-4; keeps the worst loss difference
same() {
  local d
  if d=$(/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
rows = [[json.loads(l) for l in open(d + "/metrics.jsonl") if l.strip()] for d in sys.argv[1:3]]
assert len(rows[0]) == len(rows[1]) == 8, [len(r) for r in rows]
print(max(abs(a[k] - b[k]) / abs(a[k]) for a, b in zip(*rows) for k in ("loss", "val_loss") if k in a))
PY
  ) && w=$(/usr/bin/python3 "$ST_TENSORS" compare "$1" "$2" --steps 8); then
    ok "$3: same losses and weights as one process (losses within $d relative, weights within ${w##* })"
    worst=$(/usr/bin/python3 -c "print(max($worst, $d))")
  else
    bad "$3 differs from one process"; /usr/bin/python3 "$ST_TENSORS" compare "$1" "$2" --steps 8 | tail -2
  fi
}

for ch in agg multi; do
  expect 0 "one process, --channels $ch" "$LVIT" train --run "$tmp/one_$ch" "${net[@]}" --channels $ch
  has "grid 34x36 patch 2 -> S=$([ $ch = agg ] && echo 306 || echo 612) tokens"
done
# (17 rows: sp 2 pads 1 row on rank 1, sp 4 pads 3 on rank 3)
for lay in "2 --sp 2 --sp-mode ulysses" "2 --sp 2 --sp-mode lss" "2 --sp 2 --sp-mode ring" \
           "4 --sp 4 --sp-mode ulysses" "4 --sp 4 --sp-mode lss" "4 --sp 4 --sp-mode ring" "4 --sp 4 --sp-mode usp --sp-ulysses 2" \
           "4 --dp 2 --sp 2 --sp-mode ring" "4 --sp 2 --tp 2 --sp-mode lss" \
           "multi 2 --sp 2 --sp-mode ulysses" "multi 4 --sp 4 --sp-mode usp --sp-ulysses 2" "multi 4 --dp 2 --sp 2 --sp-mode lss"; do
  set -- $lay; ch=agg; [ "$1" = multi ] && { ch=multi; shift; }; np=$1; shift; extra=("$@")
  expect 0 "--channels $ch mpirun -np $np ${extra[*]}" mpi "$np" "$LVIT" train --run "$tmp/p" "${net[@]}" --channels $ch "${extra[@]}"
  has "padded rows (masked)"
  same "$tmp/one_$ch" "$tmp/p" "--channels $ch np $np ${extra[*]}"
done
echo "worst relative loss difference over the layouts: $worst"

# tasks whose tokens are not per-pixel predictions are refused on padded rows (exit 2, every rank)
S=$SRC/../shared/data/salinasA_aviris
if [ -f "$S/SalinasA.mat" ]; then
  expect 0 "convert Salinas-A" "$LVIT" convert -o "$tmp/sal.lvd" "$S/SalinasA.mat" --labels "$S/SalinasA_gt.mat"
  img=(--data "$tmp/sal.lvd" --dim 32 --depth 1 --heads 2 --decoder-depth 1 --patch 3 --window 9 --steps 2 --batch 4 --sp 2 --sp-mode lss)
  for task in "mae --task mae (its visible tokens" "classify a classification head"; do
    set -- $task
    expect 2 "--task $1 on 3 patch rows over --sp 2" mpi 2 "$LVIT" train --run "$tmp/x" --task "$1" "${img[@]}" --overwrite
    has "does not divide the 3 patch rows of the 9x9 grid (patch 3), and ${task#* } "
  done
else
  echo "skip: the refusals of image tasks need ../shared/data/salinasA_aviris"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
