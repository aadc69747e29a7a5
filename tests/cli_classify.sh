#!/usr/bin/env bash
# --task classify through the binary on the real image data in ../shared/data: Salinas-A pixel
# classification on the spatially disjoint split (the split file's properties checked), eval's
# scores against its own confusion matrix, predict's map, EuroSAT scene classification, the
# BigEarthNet multi-label patches, refusals, and data and sequence parallelism equal to one process.
# usage: cli_classify.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
D="$SRC/../shared/data"
if [ ! -f "$D/salinasA_aviris/SalinasA.mat" ] || [ ! -d "$D/eurosat_rgb_subset75" ] || [ ! -d "$D/bigearthnet_s2_tiny" ]; then
  echo "skip: the remote-sensing data (salinasA_aviris, eurosat_rgb_subset75, bigearthnet_s2_tiny) is not in $D"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d /tmp/lvit_classify_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
S=$D/salinasA_aviris
T=${LVIT_TIME_SCALE:-1}
expect 0 "convert Salinas-A" "$LVIT" convert -o "$tmp/sal.lvd" "$S/SalinasA.mat" --labels "$S/SalinasA_gt.mat" \
  --drop-bands 108-112,154-167,224
expect 0 "convert EuroSAT" "$LVIT" convert -o "$tmp/eu.lvd" "$D/eurosat_rgb_subset75" \
  --labels "$D/eurosat_rgb_subset75/test_labels.csv" --csv-columns Filename,ClassName
expect 0 "convert BigEarthNet" "$LVIT" convert -o "$tmp/ben.lvd" "$D/bigearthnet_s2_tiny"
tiny=(--dim 32 --depth 1 --heads 2 --decoder-depth 1 --threads 1)

# ---- Salinas-A, 10 pixels per class, the disjoint split
expect 0 "train classify on Salinas-A" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/s" "${tiny[@]}" \
  --patch 3 --window 9 --per-class 10 --steps 20 --batch 8
has "classify: 6 classes, 9x9-pixel windows"; has "split by spatial blocks: 60 training pixels"
[ -f "$tmp/s/split.csv" ] && ok "split.csv in the run" || bad "no split.csv"
/usr/bin/python3 - "$tmp/s/split.csv" <<'PY' && ok "split: 10 per class, every class tested, no test pixel inside a training window" || bad "split file"
import sys
rows = [l.strip().split(",") for l in open(sys.argv[1]) if not l.startswith("#")]
assert rows[0] == ["image", "row", "col", "class", "set"], rows[0]
tr = [(int(r[1]), int(r[2]), int(r[3])) for r in rows[1:] if r[4] == "train"]
te = [(int(r[1]), int(r[2]), int(r[3])) for r in rows[1:] if r[4] == "test"]
per = {}
for _, _, c in tr: per[c] = per.get(c, 0) + 1
assert sorted(per.values()) == [10] * 6, per
assert set(c for _, _, c in te) == set(per), "a class without test pixels"
for y, x, _ in te:
    assert all(max(abs(y - a), abs(x - b)) > 4 for a, b, _ in tr), (y, x)
PY
expect 0 "eval on the test pixels" "$LVIT" eval --run "$tmp/s" --json "$tmp/s.json"
has "^test: [0-9]* pixels; OA"; has "baseline (the training set's majority class"
/usr/bin/python3 - "$tmp/s/confusion_test.csv" "$tmp/s.json" "$tmp/s/split.csv" <<'PY' && ok "OA, AA, kappa recomputed from the confusion CSV" || bad "scores disagree with the confusion matrix"
import csv, json, sys
cm = [[int(v) for v in r[1:]] for r in list(csv.reader(open(sys.argv[1])))[1:]]
j = json.load(open(sys.argv[2]))
n = sum(map(sum, cm)); K = len(cm)
ntest = sum(1 for l in open(sys.argv[3]) if l.rstrip().endswith(",test"))
assert n == j["n"] == ntest, (n, j["n"], ntest)
oa = sum(cm[k][k] for k in range(K)) / n
rows = [sum(r) for r in cm]; cols = [sum(cm[i][k] for i in range(K)) for k in range(K)]
aa = sum(cm[k][k] / rows[k] for k in range(K) if rows[k]) / sum(1 for r in rows if r)
pe = sum(rows[k] * cols[k] for k in range(K)) / n / n
kappa = (oa - pe) / (1 - pe)
assert abs(oa - j["oa"]) < 1e-6 and abs(aa - j["aa"]) < 1e-6 and abs(kappa - j["kappa"]) < 1e-5, (oa, aa, kappa, j)
PY
[ "$(head -c 8 "$tmp/s/confusion_test.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok "confusion PNG" || bad "confusion PNG"
expect 0 "predict the scene's class map" "$LVIT" predict --run "$tmp/s" -o "$tmp/map.png"
[ "$(head -c 8 "$tmp/map.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok "map PNG" || bad "map PNG"

# ---- EuroSAT scenes (10 classes: top-5 reported) and BigEarthNet multi-label
expect 0 "train classify on EuroSAT" "$LVIT" train --task classify --data "$tmp/eu.lvd" --run "$tmp/e" "${tiny[@]}" \
  --patch 16 --steps 4 --batch 8
has "classify: 10 classes, whole 64x64 images"
expect 0 "eval EuroSAT" "$LVIT" eval --run "$tmp/e" --json "$tmp/e.json"
has "top-5"
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['n'] > 0 and 0 <= j['top5'] <= 1 and j['top5'] >= j['oa']" \
  "$tmp/e.json" && ok "EuroSAT: top-5 at least top-1" || bad "EuroSAT json"
expect 0 "train multi-label on BigEarthNet" "$LVIT" train --task classify --data "$tmp/ben.lvd" --run "$tmp/b" "${tiny[@]}" \
  --patch 20 --steps 3 --batch 2
has "(multi-label: a sigmoid per class)"
expect 0 "eval BigEarthNet on its 2 training images" "$LVIT" eval --run "$tmp/b" --split train --json "$tmp/b.json"
has "micro-F1"
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['n'] == 2 and all(0 <= j[k] <= 1 for k in ('micro_f1','macro_f1','map'))" \
  "$tmp/b.json" && ok "BigEarthNet: F1 and mAP in [0, 1]" || bad "BigEarthNet json"

# ---- pretraining, then fine-tuning and the linear probe from its encoder
expect 0 "mae on Salinas-A" "$LVIT" train --task mae --data "$tmp/sal.lvd" --run "$tmp/mae" "${tiny[@]}" --patch 3 --window 9 \
  --steps 4 --batch 4
has "67% masked"
expect 0 "fine-tune from it" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/ft" "${tiny[@]}" --patch 3 \
  --window 9 --per-class 5 --steps 2 --batch 4 --init "$tmp/mae/model.safetensors"
has "kept their initialization: head"
expect 0 "linear probe" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/lp" "${tiny[@]}" --patch 3 \
  --window 9 --per-class 5 --steps 2 --batch 4 --init "$tmp/mae/model.safetensors" --freeze-encoder
expect 0 "eval of the pretraining run" "$LVIT" eval --run "$tmp/mae" --json "$tmp/mae.json"
has "mean squared error (normalised units): model [0-9.]*, band means [0-9.]*, nearest visible patch"
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['n'] == 356 and 0.5 < j['mse_band_mean'] < 2 and j['mse'] > 0" \
  "$tmp/mae.json" && ok "mae eval: 356 held-out windows, band-mean baseline near the unit variance" || bad "mae eval json"
expect 2 "mae with a ratio that masks nothing" "$LVIT" train --task mae --data "$tmp/sal.lvd" --run "$tmp/x" --patch 3 \
  --window 9 --mask-ratio 0.1 --steps 1
has "masks nothing"

# ---- refusals
expect 2 "classify on the synthetic climate data" "$LVIT" train --task classify --run "$tmp/x" --steps 1
has "is a gridded (climate) dataset"
expect 0 "convert Salinas-A without labels" "$LVIT" convert -o "$tmp/nolab.lvd" "$S/SalinasA.mat"
expect 2 "classify without labels" "$LVIT" train --task classify --data "$tmp/nolab.lvd" --run "$tmp/x" --steps 1
has "has no labels"
expect 2 "--per-class with multi-label images" "$LVIT" train --task classify --data "$tmp/ben.lvd" --run "$tmp/x" --steps 1 --per-class 2
has "--per-class 2: multi-label"
expect 2 "blocks too large for a disjoint split" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" --steps 1 \
  --split-block 90
has "give a smaller --split-block"
expect 2 "--leads on classify" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" --steps 1 --leads 6
has "--leads is for forecasting"
expect 0 "--split random warns" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/r" "${tiny[@]}" --patch 3 \
  --split random --per-class 5 --steps 1
has "scores on such a split are inflated"

# ---- layouts: data, sequence and tensor parallelism and D-CHAG give the one-process losses and weights
if mpi_setup; then
  lay=(--task classify --data "$tmp/sal.lvd" "${tiny[@]}" --patch 2 --window 8 --per-class 8 --steps 6 --log-every 1 --batch 4
       --seed 5 --lr 0.003 --warmup 1)
  expect 0 "one process" "$LVIT" train --run "$tmp/l1" "${lay[@]}"
  expect 0 "one process, D-CHAG in 2 blocks" "$LVIT" train --run "$tmp/lc" "${lay[@]}" --channel-parallel 2
  # the masked autoencoder on the 204-band cube likewise (the same masks on any layout)
  mae=(--task mae --data "$tmp/sal.lvd" "${tiny[@]}" --patch 2 --window 8 --steps 6 --log-every 1 --batch 4 --seed 5 --lr 0.003
       --warmup 1 --mae-decoder-depth 1)
  expect 0 "mae, one process" "$LVIT" train --run "$tmp/m1" "${mae[@]}"
  has "the encoder sees 1 of the 4 tokens of every patch row"
  expect 0 "mae, one process, D-CHAG in 2 blocks" "$LVIT" train --run "$tmp/mc" "${mae[@]}" --channel-parallel 2
  # a pipeline needs two blocks: the MAE at depth 2 (two micro-batches in flight on the first stage)
  mae2=("${mae[@]}"); for i in "${!mae2[@]}"; do [ "${mae2[i]}" = --depth ] && mae2[i + 1]=2; done
  expect 0 "mae, one process, depth 2" "$LVIT" train --run "$tmp/m2" "${mae2[@]}"
  for extra in "--dp 2" "--dp 2 --zero 3" "--sp 2" "--sp 2 --sp-mode ring" "--tp 2" "--tp 2 --channel-parallel 2" \
               "mae --dp 2" "mae --dp 2 --zero 3" "mae --sp 2" "mae --sp 2 --sp-mode lss" "mae --tp 2 --channel-parallel 2" \
               "mae2 --pp 2 --microbatches 2"; do
    d="$tmp/l_${extra// /_}" ref="$tmp/l1" args=("${lay[@]}")
    case "$extra" in mae2*) ref="$tmp/m2" args=("${mae2[@]}") extra=${extra#mae2 } ;; mae*) ref="$tmp/m1" args=("${mae[@]}") ;; esac
    case "$extra" in *channel-parallel*) ref="${ref%1}c" ;; esac
    expect 0 "mpirun -np 2 $extra" mpi 2 "$LVIT" train --run "$d" "${args[@]}" ${extra#mae }
    # the key third of a qkv bias left out (a null direction of the loss: tests/st_tensors.py)
    /usr/bin/python3 "$ST_TENSORS" compare "$ref" "$d" --steps 6 --skip-key-bias \
      && ok "$extra: the one-process losses and weights (1e-4)" || bad "$extra: differs from one process"
  done
else
  echo "skip: no mpirun: the layouts are not compared"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
