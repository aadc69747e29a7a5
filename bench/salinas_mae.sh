#!/usr/bin/env bash
# Salinas-A (../shared/data/salinasA_aviris) with lvit's defaults for pixel tasks (docs/classification.md,
# "Defaults": 3x3 windows, patch 1, 13 band groups, dim 64, depth 2): masked-autoencoder pretraining on
# the scene's pixels (labels unused; `lvit train --task mae --data D --run M`), then pixel classification
# with 5, 10 and 20 labelled pixels per class on the spatially disjoint split (--split blocks), from
# scratch, fine-tuned from the MAE (--init) and as a linear probe (--freeze-encoder) at every count;
# the same at 10 per class with ClimaX's band aggregation (--channels agg) and with D-CHAG
# (--channel-parallel 4), each with its own pretraining; beside them the RBF-SVM of
# bench/svm_baseline.sh on each run's own split.csv. Mean +- sd over the seeds and the per-seed
# difference fine-tuned - scratch, written to OUT/results.md (docs/pretraining.md has the figures and
# what they mean); the predicted map beside the labels and the MAE's reconstructed spectra as PNG.
# usage: bench/salinas_mae.sh [BUILD_DIR] [OUT_DIR]
#   env: SEEDS ("1 2 3 4 5"), COUNTS ("5 10 20"), SVM (1: run the SVM), PROBE (1: the linear probe rows;
#        0 skips them), CLS_ARGS (extra flags for every classifier, e.g. "--lr 0.001"), MAE_ARGS (extra
#        flags for the pretraining, e.g. "--steps 1000"), MODES ("default agg dchag": which tokenizers to
#        pretrain and run; agg and dchag run at 10 labelled px per class only).
# Runs already in OUT (their .json) are kept, so a variant can be added to an earlier OUT.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-$here/../build}
OUT=${2:-/tmp/lvit_salinas_mae}
LVIT=$BUILD/lvit
D=$here/../../shared/data/salinasA_aviris
SEEDS=${SEEDS:-"1 2 3 4 5"} COUNTS=${COUNTS:-"5 10 20"} SVM=${SVM:-1} PROBE=${PROBE:-1}
CLS_ARGS=${CLS_ARGS:-} MAE_ARGS=${MAE_ARGS:-}
[ -f "$D/SalinasA.mat" ] || { echo "error: $D/SalinasA.mat not found (../shared/data/PROVENANCE.md)" >&2; exit 2; }
mkdir -p "$OUT"
DATA=$OUT/salinasA.lvd
[ -f "$DATA" ] || "$LVIT" convert -o "$DATA" "$D/SalinasA.mat" --labels "$D/SalinasA_gt.mat" --drop-bands 108-112,154-167,224
grep -m1 "model name" /proc/cpuinfo | sed 's/^/# /' > "$OUT/machine.txt"
nproc --all | sed 's/^/# cores: /' >> "$OUT/machine.txt"

# one pretraining per tokenizer (the default seed): the fine-tuning seeds vary the labelled pixels and the head
modes=${MODES:-"default agg dchag"}
has() { case " $modes " in *" $1 "*) return 0;; esac; return 1; }
tok() { case $1 in agg) echo "--channels agg";; dchag) echo "--channel-parallel 4";; esac; }
for v in $modes; do
  [ -f "$OUT/mae_$v/model.safetensors" ] || "$LVIT" train --task mae --data "$DATA" --run "$OUT/mae_$v" --overwrite \
    $(tok $v) --log-every 500 $MAE_ARGS | tee "$OUT/mae_$v.log" | grep -E "^(step|defaults)|done"
done

run() { # NAME SEED COUNT [flags]: train, eval into OUT/NAME.json, the SVM on the same split
  local name=$1 seed=$2 n=$3; shift 3
  local r=$OUT/runs/$name
  if [ ! -f "$r.json" ]; then
    "$LVIT" train --task classify --data "$DATA" --run "$r" --overwrite --per-class "$n" --split-seed "$seed" \
      --seed "$seed" --log-every 250 $CLS_ARGS "$@" > "$r.log" 2>&1
    "$LVIT" eval --run "$r" --json "$r.json" | head -1
  fi
  if [ "$SVM" = 1 ] && [ ! -f "$OUT/runs/svm_${seed}_$n.done" ]; then
    "$here/svm_baseline.sh" "$DATA" --split "$r/split.csv" --seed "$seed" --jsonl "$OUT/svm.jsonl" --label "n=$n seed=$seed" \
      > /dev/null && touch "$OUT/runs/svm_${seed}_$n.done"
  fi
}
mkdir -p "$OUT/runs"
for seed in $SEEDS; do
  if has default; then
    for n in $COUNTS; do
      run "scratch_${n}_$seed" "$seed" "$n"
      run "mae_${n}_$seed" "$seed" "$n" --init "$OUT/mae_default/model.safetensors"
      if [ "$PROBE" = 1 ]; then run "probe_${n}_$seed" "$seed" "$n" --init "$OUT/mae_default/model.safetensors" --freeze-encoder; fi
    done
  fi
  for v in agg dchag; do
    has $v || continue
    SVM=0 run "${v}_scratch_10_$seed" "$seed" 10 $(tok $v)
    SVM=0 run "${v}_mae_10_$seed" "$seed" 10 $(tok $v) --init "$OUT/mae_$v/model.safetensors"
  done
done

# the pictures (lvit predict): the classifier fine-tuned from the MAE of the first seed and count (the
# predicted map beside the labels: map_*.png and map_*_test.png) and the MAE's reconstructed spectra
if has default; then
  first=${SEEDS%% *} n=${COUNTS%% *}
  "$LVIT" predict --run "$OUT/runs/mae_${n}_$first" -o "$OUT/map_mae_${n}_$first.png" | tail -1
  "$LVIT" predict --run "$OUT/mae_default" --seed 1 -o "$OUT/spectra_mae.png" | tail -1
fi

/usr/bin/python3 - "$OUT" <<'PY'
import glob, json, os, statistics as st, sys
out = sys.argv[1]
def ms(v): return "%.2f ± %.2f" % (100 * st.mean(v), 100 * (st.stdev(v) if len(v) > 1 else 0)) if v else "—"
def mk(v): return "%.3f ± %.3f" % (st.mean(v), st.stdev(v) if len(v) > 1 else 0) if v else "—"
rows = {}
for f in glob.glob(os.path.join(out, "runs", "*.json")):
    name = os.path.basename(f)[:-5]
    kind, n, seed = name.rsplit("_", 2)
    n = int(n)
    j = json.load(open(f))
    j["seed"] = int(seed)
    rows.setdefault((kind, n), []).append(j)
svm = {}
if os.path.exists(os.path.join(out, "svm.jsonl")):
    for line in open(os.path.join(out, "svm.jsonl")):
        j = json.loads(line)
        n = int(j["label"].split()[0].split("=")[1])
        svm.setdefault(n, []).append(j)
names = {"scratch": "ViT from scratch (defaults: 13 band groups)", "mae": "ViT fine-tuned from its MAE",
         "probe": "linear probe on the MAE encoder", "agg_scratch": "ClimaX band aggregation (--channels agg) from scratch",
         "agg_mae": "ClimaX band aggregation fine-tuned from its MAE", "dchag_scratch": "D-CHAG from scratch",
         "dchag_mae": "D-CHAG fine-tuned from its MAE"}
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
# fine-tuned minus scratch on the same labelled pixels (the same seed)
for pre in ("", "agg_", "dchag_"):
    for n in sorted({k[1] for k in rows}):
        a = {x["seed"]: x["oa"] for x in rows.get((pre + "mae", n), []) }
        b = {x["seed"]: x["oa"] for x in rows.get((pre + "scratch", n), []) }
        d = [a[k] - b[k] for k in sorted(a) if k in b]
        if d:
            lines.append("| %sfine-tuned minus scratch, per seed | %d | %d | %s | | |" % (pre.replace("_", " "), n, len(d), ms(d)))
open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote $OUT/results.md"
