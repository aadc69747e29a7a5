#!/usr/bin/env bash
# The window rule of the pixel defaults (docs/classification.md, "Defaults") checked on Salinas-A
# (../shared/data/salinasA_aviris): classifiers trained from scratch with the defaults but for
# --window W --patch P, at COUNT labelled pixels per class on the spatially disjoint split, one run per
# seed; OA, AA and kappa on the test pixels, mean +- sd, into OUT/results.md. Scene edges are mirrored
# (src/tasks/classify_data.c), so wider windows are no longer penalized by filled borders.
# usage: bench/pixel_window_study.sh [BUILD_DIR] [OUT_DIR]
#   env: WINDOWS ("3:1 5:1 9:3": window:patch pairs), SEEDS ("1 2 3 4 5"), COUNT (10)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-$here/../build}
OUT=${2:-/tmp/lvit_pixel_windows}
LVIT=$BUILD/lvit
D=$here/../../shared/data/salinasA_aviris
WINDOWS=${WINDOWS:-"3:1 5:1 9:3"} SEEDS=${SEEDS:-"1 2 3 4 5"} COUNT=${COUNT:-10}
[ -f "$D/SalinasA.mat" ] || { echo "error: $D/SalinasA.mat not found (../shared/data/PROVENANCE.md)" >&2; exit 2; }
mkdir -p "$OUT/runs"
DATA=$OUT/salinasA.lvd
[ -f "$DATA" ] || "$LVIT" convert -o "$DATA" "$D/SalinasA.mat" --labels "$D/SalinasA_gt.mat" --drop-bands 108-112,154-167,224 > /dev/null
{ grep -m1 "model name" /proc/cpuinfo; nproc --all | sed 's/^/cores: /'; } | sed 's/^/# /' > "$OUT/machine.txt"
for wp in $WINDOWS; do
  w=${wp%%:*} p=${wp##*:}
  for seed in $SEEDS; do
    r=$OUT/runs/w${w}p${p}_$seed
    [ -f "$r.json" ] && continue
    s0=$EPOCHREALTIME
    "$LVIT" train --task classify --data "$DATA" --run "$r" --overwrite --per-class "$COUNT" --split-seed "$seed" \
      --seed "$seed" --window "$w" --patch "$p" --log-every 500 > "$r.log" 2>&1
    s1=$EPOCHREALTIME
    "$LVIT" eval --run "$r" --json "$r.json" > /dev/null
    awk -v a="$s0" -v b="$s1" 'BEGIN { printf "{\"train_s\": %.1f}\n", b - a }' > "$r.time"
    echo "window $w patch $p seed $seed: $(python3 -c "import json,sys; print('OA %.2f' % (100*json.load(open(sys.argv[1]))['oa']))" "$r.json")"
  done
done
/usr/bin/python3 - "$OUT" "$COUNT" <<'PY'
import glob, json, os, re, statistics as st, sys
out, count = sys.argv[1], sys.argv[2]
rows = {}
for f in glob.glob(os.path.join(out, "runs", "*.json")):
    m = re.match(r"w(\d+)p(\d+)_(\d+)$", os.path.basename(f)[:-5])
    j = json.load(open(f))
    t = json.load(open(f[:-5] + ".time"))["train_s"] if os.path.exists(f[:-5] + ".time") else float("nan")
    rows.setdefault((int(m[1]), int(m[2])), []).append((int(m[3]), j, t))
ms = lambda v, k=100: "%.2f ± %.2f" % (k * st.mean(v), k * (st.stdev(v) if len(v) > 1 else 0))
lines = ["| window | patch | tokens per pixel's window | seeds | OA %% (%s px/class, from scratch) | AA %% | kappa | train s |" % count,
         "|---|---|---|---|---|---|---|---|"]
for (w, p), r in sorted(rows.items()):
    r.sort()
    lines.append("| %d | %d | %d x groups | %s | %s | %s | %s | %.0f |" % (w, p, (w // p) ** 2, ",".join(str(s) for s, _, _ in r),
                 ms([j["oa"] for _, j, _ in r]), ms([j["aa"] for _, j, _ in r]), ms([j["kappa"] for _, j, _ in r], 1),
                 st.median([t for _, _, t in r])))
open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "wrote $OUT/results.md"
