#!/usr/bin/env bash
# Salinas-A (../shared/data/salinasA_aviris): masked-autoencoder pretraining on the scene's pixels
# (labels unused), then pixel classification with 5, 10 and 20 labelled pixels per class on the
# spatially disjoint split (--split blocks), from scratch, fine-tuned from the MAE and as a linear
# probe (--freeze-encoder) at every count, the same with D-CHAG (--channel-parallel 4), with
# BAND_GROUPS set the same with SatMAE channel groups (--band-groups $BAND_GROUPS: its own
# pretraining); beside them the RBF-SVM of bench/svm_baseline.sh on each run's own split.csv. Mean
# +- sd over the seeds, written to OUT/results.md (docs/pretraining.md has the figures and what
# they mean); the predicted map beside the labels and the MAE's reconstructed spectra as PNG.
# usage: bench/salinas_mae.sh [BUILD_DIR] [OUT_DIR]
#   env: SEEDS ("1 2 3 4 5"), COUNTS ("5 10 20"), MAE_STEPS (1000), STEPS (2000: the classifiers' steps;
#        fewer leave them unconverged, docs/pretraining.md), SVM (1: run the SVM), PROBE (1: the linear
#        probe rows; 0 skips them), CLS_ARGS (extra flags for every classifier, e.g. "--lr 0.0002"),
#        BAND_GROUPS (empty: no channel-group rows; e.g. 8 or 0-29,30-79,80-203),
#        MODES ("agg dchag", plus "groups" with BAND_GROUPS: which channel modes to pretrain and run;
#        MODES=agg skips the D-CHAG rows). D-CHAG and channel groups run at 10 labelled px per class only.
# Runs already in OUT (their .json) are kept, so a variant can be added to an earlier OUT.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-$here/../build}
OUT=${2:-/tmp/lvit_salinas_mae}
LVIT=$BUILD/lvit
D=$here/../../shared/data/salinasA_aviris
SEEDS=${SEEDS:-"1 2 3 4 5"} COUNTS=${COUNTS:-"5 10 20"} MAE_STEPS=${MAE_STEPS:-1000} STEPS=${STEPS:-2000} SVM=${SVM:-1}
PROBE=${PROBE:-1} CLS_ARGS=${CLS_ARGS:-}
BAND_GROUPS=${BAND_GROUPS:-}
[ -f "$D/SalinasA.mat" ] || { echo "error: $D/SalinasA.mat not found (../shared/data/PROVENANCE.md)" >&2; exit 2; }
mkdir -p "$OUT"
DATA=$OUT/salinasA.lvd
[ -f "$DATA" ] || "$LVIT" convert -o "$DATA" "$D/SalinasA.mat" --labels "$D/SalinasA_gt.mat" --drop-bands 108-112,154-167,224
M=(--window 8 --patch 2 --dim 64 --depth 2 --heads 4)
grep -m1 "model name" /proc/cpuinfo | sed 's/^/# /' > "$OUT/machine.txt"
nproc | sed 's/^/# cores: /' >> "$OUT/machine.txt"

# one pretraining per channel mode (seed 1): the fine-tuning seeds vary the labelled pixels and the head
modes="agg dchag"; [ -n "$BAND_GROUPS" ] && modes="$modes groups"
modes=${MODES:-$modes}
has() { case " $modes " in *" $1 "*) return 0;; esac; return 1; }
[ -z "$BAND_GROUPS" ] && has groups && { echo "error: MODES names groups but BAND_GROUPS is empty" >&2; exit 2; }
for v in $modes; do
  x=(); [ $v = dchag ] && x=(--channel-parallel 4); [ $v = groups ] && x=(--band-groups "$BAND_GROUPS")
  [ -f "$OUT/mae_$v/model.safetensors" ] || "$LVIT" train --task mae --data "$DATA" --run "$OUT/mae_$v" --overwrite "${M[@]}" \
    "${x[@]}" --batch 32 --steps "$MAE_STEPS" --lr 0.001 --seed 1 --log-every 100 --val-every 250 | tee "$OUT/mae_$v.log" | grep -E "^step|done"
done

run() { # NAME SEED COUNT [flags]: train, eval into OUT/NAME.json, the SVM on the same split
  local name=$1 seed=$2 n=$3; shift 3
  local r=$OUT/runs/$name
  if [ ! -f "$r.json" ]; then
    "$LVIT" train --task classify --data "$DATA" --run "$r" --overwrite "${M[@]}" --per-class "$n" --split-seed "$seed" \
      --seed "$seed" --steps "$STEPS" --batch 16 --log-every 250 $CLS_ARGS "$@" > "$r.log" 2>&1
    "$LVIT" eval --run "$r" --json "$r.json" | head -1
  fi
  if [ "$SVM" = 1 ] && [ ! -f "$OUT/runs/svm_${seed}_$n.done" ]; then
    "$here/svm_baseline.sh" "$DATA" --split "$r/split.csv" --seed "$seed" --jsonl "$OUT/svm.jsonl" --label "n=$n seed=$seed" \
      > /dev/null && touch "$OUT/runs/svm_${seed}_$n.done"
  fi
}
mkdir -p "$OUT/runs"
for seed in $SEEDS; do
  if has agg; then
    for n in $COUNTS; do
      run "scratch_${n}_$seed" "$seed" "$n"
      run "mae_${n}_$seed" "$seed" "$n" --init "$OUT/mae_agg/model.safetensors"
      if [ "$PROBE" = 1 ]; then run "probe_${n}_$seed" "$seed" "$n" --init "$OUT/mae_agg/model.safetensors" --freeze-encoder; fi
    done
  fi
  if has dchag; then
    SVM=0 run "dchag_scratch_10_$seed" "$seed" 10 --channel-parallel 4
    SVM=0 run "dchag_mae_10_$seed" "$seed" 10 --channel-parallel 4 --init "$OUT/mae_dchag/model.safetensors"
  fi
  if has groups; then
    g=(--band-groups "$BAND_GROUPS")
    SVM=0 run "groups_scratch_10_$seed" "$seed" 10 "${g[@]}"
    SVM=0 run "groups_mae_10_$seed" "$seed" 10 "${g[@]}" --init "$OUT/mae_groups/model.safetensors"
    SVM=0 run "groups_probe_10_$seed" "$seed" 10 "${g[@]}" --init "$OUT/mae_groups/model.safetensors" --freeze-encoder
  fi
done

# the pictures (lvit predict): the classifier fine-tuned from the MAE of the first seed and count (the
# predicted map beside the labels: map_*.png and map_*_test.png) and the MAE's reconstructed spectra
if has agg; then
  first=${SEEDS%% *} n=${COUNTS%% *}
  "$LVIT" predict --run "$OUT/runs/mae_${n}_$first" -o "$OUT/map_mae_${n}_$first.png" | tail -1
  "$LVIT" predict --run "$OUT/mae_agg" --seed 1 -o "$OUT/spectra_mae_agg.png" | tail -1
fi

/usr/bin/python3 - "$OUT" <<'PY'
import glob, json, os, statistics as st, sys
out = sys.argv[1]
def ms(v): return "%.2f ± %.2f" % (100 * st.mean(v), 100 * (st.stdev(v) if len(v) > 1 else 0)) if v else "—"
def mk(v): return "%.3f ± %.3f" % (st.mean(v), st.stdev(v) if len(v) > 1 else 0) if v else "—"
rows = {}
for f in glob.glob(os.path.join(out, "runs", "*.json")):
    name = os.path.basename(f)[:-5]
    kind, n = name.rsplit("_", 2)[0], int(name.rsplit("_", 2)[1])
    j = json.load(open(f))
    rows.setdefault((kind, n), []).append(j)
svm = {}
if os.path.exists(os.path.join(out, "svm.jsonl")):
    for line in open(os.path.join(out, "svm.jsonl")):
        j = json.loads(line)
        n = int(j["label"].split()[0].split("=")[1])
        svm.setdefault(n, []).append(j)
names = {"scratch": "ViT from scratch", "mae": "ViT fine-tuned from MAE", "probe": "linear probe on the MAE encoder",
         "dchag_scratch": "D-CHAG ViT from scratch", "dchag_mae": "D-CHAG ViT fine-tuned from D-CHAG MAE",
         "groups_scratch": "channel-group ViT from scratch", "groups_mae": "channel-group ViT fine-tuned from its MAE",
         "groups_probe": "linear probe on the channel-group MAE encoder"}
lines = ["| model | labelled px per class | seeds | OA % | AA % | kappa |", "|---|---|---|---|---|---|"]
for (kind, n) in sorted(rows, key=lambda k: (k[1], list(names).index(k[0]))):
    r = rows[(kind, n)]
    lines.append("| %s | %d | %d | %s | %s | %s |" % (names[kind], n, len(r), ms([x["oa"] for x in r]), ms([x["aa"] for x in r]),
                                                   mk([x["kappa"] for x in r])))
for n in sorted(svm):
    r = svm[n]
    get = lambda k: [x[k] if x[k] <= 1 else x[k] / 100 for x in r]
    lines.append("| RBF-SVM, standardized spectra, CV'd C and gamma | %d | %d | %s | %s | %s |" % (n, len(r), ms(get("oa")),
                                                                                                 ms(get("aa")), mk(get("kappa"))))
open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote $OUT/results.md"
