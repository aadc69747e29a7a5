#!/usr/bin/env bash
# --band-groups (SatMAE channel groups, src/model/band_groups.c) through the binary: the groups'
# syntax and refusals, singleton groups equal to --channels multi (the same losses, bit for bit), the
# checkpoint's names and group boundaries, the MAE eval, --init from a grouped MAE, and data and
# sequence (Ulysses) parallelism (and the MAE under --tp 2) equal to one process for the MAE and the classifier.
# usage: cli_band_groups.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
D="$SRC/../shared/data"
if [ ! -f "$D/salinasA_aviris/SalinasA.mat" ] || [ ! -d "$D/eurosat_rgb_subset75" ]; then
  echo "skip: the remote-sensing data (salinasA_aviris, eurosat_rgb_subset75) is not in $D"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d /tmp/lvit_groups_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
S=$D/salinasA_aviris
expect 0 "convert Salinas-A (204 bands)" "$LVIT" convert -o "$tmp/sal.lvd" "$S/SalinasA.mat" --labels "$S/SalinasA_gt.mat" \
  --drop-bands 108-112,154-167,224
expect 0 "convert EuroSAT (3 bands)" "$LVIT" convert -o "$tmp/eu.lvd" "$D/eurosat_rgb_subset75" \
  --labels "$D/eurosat_rgb_subset75/test_labels.csv" --csv-columns Filename,ClassName
tiny=(--dim 32 --depth 1 --heads 2 --decoder-depth 1 --threads 1)

# ---- the flag
for spec in "0-29,31-203" "0-29,30-300" "0-29" "x" "0" "205"; do
  expect 2 "--band-groups $spec refused" "$LVIT" train --task mae --data "$tmp/sal.lvd" --run "$tmp/x" --patch 2 --window 8 \
    --steps 1 --band-groups "$spec"
  has "--band-groups $spec"
done
expect 2 "--band-groups with --channels multi" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" --steps 1 \
  --band-groups 3 --channels multi
has "give one"
expect 2 "--band-groups with D-CHAG" "$LVIT" train --task mae --data "$tmp/sal.lvd" --run "$tmp/x" --steps 1 \
  --band-groups 3 --channel-parallel 2
has "not multi or --band-groups"

# ---- one band per group is multi mode: the same losses bit for bit (EuroSAT's 3 bands)
eu=(--task classify --data "$tmp/eu.lvd" "${tiny[@]}" --patch 16 --steps 4 --batch 4 --log-every 1 --seed 3)
expect 0 "classify, --channels multi" "$LVIT" train --run "$tmp/em" "${eu[@]}" --channels multi
expect 0 "classify, --band-groups 3" "$LVIT" train --run "$tmp/eg" "${eu[@]}" --band-groups 3
has "model: groups, V=3"
cmp -s <(grep -o '"loss":[^,]*' "$tmp/em/metrics.jsonl") <(grep -o '"loss":[^,]*' "$tmp/eg/metrics.jsonl") &&
  [ "$(grep -c '"loss"' "$tmp/eg/metrics.jsonl")" -ge 4 ] && ok "3 groups of 1 band: the losses of --channels multi" ||
  bad "3 groups of 1 band differ from --channels multi"

# ---- the MAE on 3 unequal groups of Salinas-A's bands
mae=(--task mae --data "$tmp/sal.lvd" "${tiny[@]}" --patch 2 --window 8 --steps 6 --log-every 1 --batch 4 --seed 5 --lr 0.003
     --warmup 1 --mae-decoder-depth 1 --band-groups 0-29,30-79,80-203)
expect 0 "mae with 3 band groups" "$LVIT" train --run "$tmp/m1" "${mae[@]}"
has "model: groups, V=204 grid 8x8 patch 2 -> S=48 tokens"
has "the encoder sees 1 of the 4 tokens of every patch row of every band group"
/usr/bin/python3 - "$tmp/m1/model.safetensors" <<'PY' && ok "checkpoint: per-band token_embeds, decoder_group_embed [1,3,32], the groups in lvit.config" || bad "checkpoint names"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
cfg = json.loads(h["__metadata__"]["lvit.config"])
assert cfg["channels"] == "groups" and cfg["band_groups"] == [0, 30, 80, 204], cfg
assert h["decoder_group_embed"]["shape"] == [1, 3, 32]
assert h["token_embeds.203.proj.weight"]["shape"] == [32, 1, 2, 2] and "token_embeds.204.proj.weight" not in h
assert h["head.2.weight"]["shape"] == [2 * 2 * 124, 32]  # the largest group's 124 bands per 2x2 patch
s, e = h["decoder_group_embed"]["data_offsets"]
g = struct.unpack("<96f", b[8 + n + s:8 + n + e])
assert g[0] == 0 and g[16] == 1 and abs(g[32] - 0.8414710) < 1e-6, g[:33]  # sin-cos rows 0 and 1 (fixed)
PY
expect 0 "eval of the grouped MAE" "$LVIT" eval --run "$tmp/m1" --json "$tmp/m1.json"
/usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j['n'] == 356 and 0.5 < j['mse_band_mean'] < 2 and 0 < j['mse'] < 2, j" "$tmp/m1.json" &&
  ok "mae eval: 356 held-out windows, errors in normalised units" || bad "mae eval json"
expect 0 "fine-tune a grouped classifier from it" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/ft" \
  "${tiny[@]}" --patch 2 --window 8 --per-class 5 --steps 2 --batch 4 --band-groups 0-29,30-79,80-203 \
  --init "$tmp/m1/model.safetensors"
has "kept their initialization: head"

# ---- layouts: the one-process losses and weights
if mpi_setup; then
  cls=(--task classify --data "$tmp/sal.lvd" "${tiny[@]}" --patch 2 --window 8 --per-class 8 --steps 6 --log-every 1 --batch 4
       --seed 5 --lr 0.003 --warmup 1 --band-groups 4)
  expect 0 "classify with 4 band groups, one process" "$LVIT" train --run "$tmp/c1" "${cls[@]}"
  for extra in "mae --dp 2" "mae --sp 2" "mae --tp 2" "--dp 2" "--sp 2"; do
    d="$tmp/l_${extra// /_}" ref="$tmp/c1" args=("${cls[@]}")
    case "$extra" in mae*) ref="$tmp/m1" args=("${mae[@]}") ;; esac
    expect 0 "mpirun -np 2 $extra" mpi 2 "$LVIT" train --run "$d" "${args[@]}" ${extra#mae }
    /usr/bin/python3 "$ST_TENSORS" compare "$ref" "$d" --steps 6 --skip-key-bias \
      && ok "$extra: the one-process losses and weights (1e-4)" || bad "$extra: differs from one process"
  done
else
  echo "skip: no mpirun: the layouts are not compared"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
