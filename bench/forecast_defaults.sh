#!/usr/bin/env bash
# The forecasting defaults on real data, as a new user runs them: the storm analyses that ship with
# Debian (libncarg-data: 6 fields, 64 six-hourly times, 33x36) converted as scripts/storm-demo.sh
# does, then `lvit train --data D --run R --seed S` with no other flag and `lvit eval --run R`
# (test split, leads 6 and 24 h). Per field and lead: the model's latitude-weighted RMSE as mean
# +- sd over the seeds and its worst seed, beside persistence, climatology and the fitted blend
# (which do not depend on the seed), and how many seeds beat each. Writes OUT/results.md
# (docs/forecasting.md has the figures and what they mean).
# usage: bench/forecast_defaults.sh [BUILD_DIR] [OUT_DIR]   env: SEEDS ("1 2 3 4 5"), FLAGS (extra train flags)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:-$here/../build}
OUT=${2:-/tmp/lvit_forecast_defaults}
LVIT=$BUILD/lvit
S=${STORM_DIR:-/usr/share/ncarg/data/cdf}
SEEDS=${SEEDS:-"1 2 3 4 5"} FLAGS=${FLAGS:-}
[ -f "$S/Tstorm.cdf" ] || { echo "error: storm data not found in $S: apt-get install libncarg-data" >&2; exit 2; }
mkdir -p "$OUT"
D=$OUT/storm.lvd
"$LVIT" convert -o "$D" "$S/Pstorm.cdf" "$S/Tstorm.cdf" "$S/Ustorm.cdf" "$S/Vstorm.cdf" "$S/U500storm.cdf" \
  "$S/V500storm.cdf" --rename U500storm.cdf:u=u500,V500storm.cdf:v=v500 --split 0.625,0.125 > /dev/null
{ grep -m1 "model name" /proc/cpuinfo; echo "cores: $(nproc)"; } | sed 's/^/# /' > "$OUT/machine.txt"
for s in $SEEDS; do
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$LVIT" train --data "$D" --run "$OUT/seed$s" --overwrite --seed "$s" --log-every 100000 $FLAGS > "$OUT/seed$s.log" 2>&1
  echo "$(date +%s.%N) - $start" | bc > "$OUT/seed$s.seconds"
  "$LVIT" eval --run "$OUT/seed$s" --json "$OUT/seed$s.json" > "$OUT/seed$s.eval" 2>&1
done
python3 - "$OUT" $SEEDS <<'PY'
import json, statistics as st, sys
out, seeds = sys.argv[1], sys.argv[2:]
runs = [json.load(open(f"{out}/seed{s}.json")) for s in seeds]
secs = [float(open(f"{out}/seed{s}.seconds").read()) for s in seeds]
rows = ["| field | lead | lvit mean ± sd | worst seed | persistence | climatology | blend | seeds beating pers. and clim. | seeds beating the blend |",
        "|---|---|---|---|---|---|---|---|---|"]
for i, r0 in enumerate(runs[0]):
    m = [r[i]["rmse"] for r in runs]
    p, c, b = r0["rmse_persistence"], r0["rmse_climatology"], r0["rmse_blend"]
    both = sum(x < p and x < c for x in m); bl = sum(x < b for x in m)
    sd = st.stdev(m) if len(m) > 1 else 0.0
    unit = f" ({r0['units']})" if r0.get("units") else ""
    rows.append(f"| {r0['var']}{unit} | {r0['lead_h']:g} h | {st.mean(m):.4g} ± {sd:.2g} | {max(m):.4g} | {p:.4g} | {c:.4g} | {b:.4g} | {both}/{len(m)} | {bl}/{len(m)} |")
rows.append("")
rows.append(f"train + calibrate wall time per seed: {st.mean(secs):.0f} s (min {min(secs):.0f}, max {max(secs):.0f})")
open(f"{out}/results.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
