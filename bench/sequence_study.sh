#!/usr/bin/env bash
# The sequence-length study in miniature (ALGORITHMS.md: longer sequences, i.e. smaller patches
# and every channel in the sequence, gave up to 20% better temperature skill in the seed papers),
# on real data: the storm analyses of libncarg-data, trained with lvit's defaults except the patch
# size (4, 2, 1) and the channel mode (agg: one token per location; multi: one per variable and
# location), 3 seeds each; scored by lvit eval at 6 and 24 h. Writes OUT/results.md (the table:
# tokens per sample, RMSE per field mean +- sd, training time) and, when a Python with matplotlib
# is found (PYTHON, default the PyTorch venv of bench/torch_venv.sh, then python3), OUT/rmse_vs_tokens.png.
# usage: bench/sequence_study.sh [BUILD_DIR] [OUT_DIR]
#   env: SEEDS ("1 2 3"), CONFIGS ("agg:4 agg:2 agg:1 multi:4 multi:2"), LEAD (24)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-$here/../build}
OUT=${2:-/tmp/lvit_sequence_study}
LVIT=$BUILD/lvit
S=${STORM_DIR:-/usr/share/ncarg/data/cdf}
SEEDS=${SEEDS:-"1 2 3"} CONFIGS=${CONFIGS:-"agg:4 agg:2 agg:1 multi:4 multi:2"} LEAD=${LEAD:-24}
PYTHON=${PYTHON:-$HOME/.cache/lvit/torch-venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
[ -f "$S/Tstorm.cdf" ] || { echo "error: storm data not found in $S: apt-get install libncarg-data" >&2; exit 2; }
mkdir -p "$OUT"
D=$OUT/storm.lvd
[ -f "$D" ] || "$LVIT" convert -o "$D" "$S/Pstorm.cdf" "$S/Tstorm.cdf" "$S/Ustorm.cdf" "$S/Vstorm.cdf" "$S/U500storm.cdf" \
  "$S/V500storm.cdf" --rename U500storm.cdf:u=u500,V500storm.cdf:v=v500 --split 0.625,0.125 > /dev/null
{ grep -m1 "model name" /proc/cpuinfo; echo "cores: $(nproc)"; } | sed 's/^/# /' > "$OUT/machine.txt"
for c in $CONFIGS; do
  mode=${c%%:*} p=${c##*:}
  for s in $SEEDS; do
    r=$OUT/${mode}_p${p}_s$s
    [ -f "$r.json" ] && continue # kept from an earlier run
    start=$(date +%s.%N)
    "$LVIT" train --data "$D" --run "$r" --overwrite --seed "$s" --patch "$p" --channels "$mode" --log-every 100000 > "$r.log" 2>&1
    echo "$(date +%s.%N) - $start" | bc > "$r.seconds"
    "$LVIT" eval --run "$r" --leads "6,$LEAD" --json "$r.json.tmp" > "$r.eval" 2>&1 && mv "$r.json.tmp" "$r.json"
  done
done
"$PYTHON" - "$OUT" "$LEAD" "$CONFIGS" "$SEEDS" <<'PY'
import json, re, statistics as st, sys
out, lead, configs, seeds = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
rows, pts = [], {}
fields = None
for c in configs:
    mode, p = c.split(":")
    runs = []
    for s in seeds:
        try: runs.append((json.load(open(f"{out}/{mode}_p{p}_s{s}.json")), float(open(f"{out}/{mode}_p{p}_s{s}.seconds").read()),
                          open(f"{out}/{mode}_p{p}_s{s}.log").read()))
        except OSError: pass
    if not runs: continue
    m = re.search(r"S=(\d+) tokens", runs[0][2]); S = int(m.group(1)) if m else 0
    byvar = {}
    for j, _, _ in runs:
        for r in j:
            if r["lead_h"] == lead: byvar.setdefault(r["var"], []).append(r["rmse"])
    fields = fields or list(byvar)
    cells = [f"{st.mean(byvar[v]):.4g} ± {st.stdev(byvar[v]) if len(byvar[v]) > 1 else 0:.2g}" for v in fields]
    secs = st.mean(t for _, t, _ in runs)
    rows.append(f"| {mode} | {p} | {S} | {len(runs)} | " + " | ".join(cells) + f" | {secs:.0f} |")
    for v in fields: pts.setdefault((mode, v), []).append((S, st.mean(byvar[v])))
base = json.load(open(f"{out}/{configs[0].split(':')[0]}_p{configs[0].split(':')[1]}_s{seeds[0]}.json"))
ref = {r["var"]: (r["rmse_persistence"], r["rmse_climatology"], r["rmse_blend"]) for r in base if r["lead_h"] == lead}
head = "| channels | patch | tokens per sample | seeds | " + " | ".join(fields) + " | train s |"
lines = [f"RMSE at {lead:g} h on the test split (mean ± sd over seeds)", "", head, "|" + "---|" * (5 + len(fields))] + rows
lines.append("| persistence | | | | " + " | ".join(f"{ref[v][0]:.4g}" for v in fields) + " | |")
lines.append("| climatology | | | | " + " | ".join(f"{ref[v][1]:.4g}" for v in fields) + " | |")
lines.append("| blend | | | | " + " | ".join(f"{ref[v][2]:.4g}" for v in fields) + " | |")
open(f"{out}/results.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
try:
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(fields), figsize=(3 * len(fields), 3))
    for ax, v in zip(axes, fields):
        for mode in ("agg", "multi"):
            xy = sorted(pts.get((mode, v), []))
            if xy: ax.plot([a for a, _ in xy], [b for _, b in xy], "o-", label=mode)
        ax.axhline(ref[v][2], color="grey", ls="--", lw=0.8, label="blend")
        ax.set_xscale("log"); ax.set_title(v); ax.set_xlabel("tokens per sample")
    axes[0].set_ylabel(f"RMSE at {lead:g} h"); axes[0].legend(fontsize=7)
    fig.tight_layout(); fig.savefig(f"{out}/rmse_vs_tokens.png", dpi=100)
    print(f"wrote {out}/rmse_vs_tokens.png")
except ImportError:
    print("(no matplotlib: no PNG)")
PY
