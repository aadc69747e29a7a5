#!/usr/bin/env bash
# The default job: real 6-hourly analyses of the January 1996 North American blizzard (Debian's
# libncarg-data; 6 fields, 64 times, 33x36 grid with masked corners) -> lvit dataset -> train ->
# skill against persistence and climatology on the held-out test period -> maps and loss curve.
# usage: scripts/storm-demo.sh [RUN_DIR]   (LVIT=path/to/lvit, default build/lvit; STORM_DIR=folder of *storm.cdf)
set -euo pipefail
cd "$(dirname "$0")/.."
LVIT=${LVIT:-build/lvit}
run=${1:-runs/storm}
S=${STORM_DIR:-/usr/share/ncarg/data/cdf}
[ -f "$S/Tstorm.cdf" ] || { echo "storm data not found in $S: apt-get install libncarg-data" >&2; exit 2; }
mkdir -p "$run"
# times 0-39 train, 40-47 validation, 48-63 test; the 500 hPa winds get their own names
"$LVIT" convert -o "$run/storm.lvd" "$S/Pstorm.cdf" "$S/Tstorm.cdf" "$S/Ustorm.cdf" "$S/Vstorm.cdf" \
  "$S/U500storm.cdf" "$S/V500storm.cdf" --rename U500storm.cdf:u=u500,V500storm.cdf:v=v500 --split 0.625,0.125
# the defaults, chosen from the data (docs/forecasting.md): leads 6-24 h, a 0.2 M-parameter model
# whose output is added to the blend of the state and the climatology, 400 steps, the best
# validation weights kept, then its share per field and lead fitted on the validation period
"$LVIT" train --overwrite --data "$run/storm.lvd" --run "$run" --log-every 100
"$LVIT" eval --run "$run" --split test --leads 6,24 --json "$run/skill.json"
"$LVIT" predict --run "$run" --time 50 --lead 24 -o "$run/forecast.nc" --plot "$run" > /dev/null
"$LVIT" plot --run "$run" -o "$run/loss.png" > /dev/null
echo "maps: $run/*_t50_24h.png, loss curve: $run/loss.png, forecast: $run/forecast.nc, scores: $run/skill.json"
