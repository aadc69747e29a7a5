#!/usr/bin/env bash
# The README's default job end to end (scripts/storm-demo.sh: lvit train with the defaults, about a
# minute on 2 cores): the trained model must beat persistence and climatology on all 6 fields at
# 6 h, and at 24 h on t and p and on at least 4 of the 6 (bench/forecast_defaults.sh has 5 seeds),
# and write every file the README promises.
# usage: cli_storm_demo.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
storm_or_skip "$SRC"
tmp=$(mktemp -d /tmp/lvit_demo_XXXXXX)
trap 'rm -rf "$tmp"' EXIT

expect 0 "scripts/storm-demo.sh" env LVIT="$LVIT" STORM_DIR="$storm" bash "$SRC/scripts/storm-demo.sh" "$tmp/run"
has "kept the weights of step"; has "24 h: the model beats persistence and climatology on"
has "defaults for this data"; has "anchor gains on the validation split"
for f in storm.lvd model.safetensors metrics.jsonl skill.json forecast.nc loss.png p_t50_24h.png t_t50_24h.png; do
  [ -s "$tmp/run/$f" ] && ok "wrote $f" || bad "missing $f"
done
if /usr/bin/python3 - "$tmp/run/skill.json" <<'PY'
import json, sys
allrows = json.load(open(sys.argv[1]))
for lead, need in ((6, 6), (24, 4)):
    rows = [r for r in allrows if r["lead_h"] == lead]
    assert len(rows) == 6, rows
    wins = {r["var"]: r["rmse"] < min(r["rmse_persistence"], r["rmse_climatology"]) for r in rows}
    for r in rows:
        print("  %2d h %-5s rmse %8.4g  persistence %8.4g  climatology %8.4g" % (lead, r["var"], r["rmse"],
              r["rmse_persistence"], r["rmse_climatology"]))
    assert wins["t"] and wins["p"], wins
    assert sum(wins.values()) >= need, wins
PY
then ok "6 h: beats both baselines on all 6 fields; 24 h: on t, p and at least 4 of 6"; else bad "skill"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
