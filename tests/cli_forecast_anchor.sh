#!/usr/bin/env bash
# Forecasting with the blend anchor, history inputs and rollout (docs/forecasting.md) on the storm
# data: the defaults chosen from the data are printed; the anchor (metadata and climatology tensor)
# and the gains fitted on the validation period are in the checkpoint; eval rolls out leads beyond
# the trained ones; --anchor none and --history K train and score; what cannot work is refused.
# usage: cli_forecast_anchor.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
storm_or_skip "$SRC"
tmp=$(mktemp -d /tmp/lvit_anchor_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
f=("$storm/Pstorm.cdf" "$storm/Tstorm.cdf" "$storm/Ustorm.cdf" "$storm/Vstorm.cdf")
expect 0 "convert" "$LVIT" convert -o "$tmp/s.lvd" "${f[@]}" --split 0.625,0.125
small=(--steps 40 --dim 16 --depth 1 --heads 2 --threads 2)

expect 0 "train with the data's defaults (40 steps)" "$LVIT" train --data "$tmp/s.lvd" --run "$tmp/a" "${small[@]}"
has "defaults for this data"; has "leads 6,12,18,24"; has "val-every 2"; has "anchor: the blend"
has "anchor gains on the validation split"
# the checkpoint: lvit.anchor with 4 leads and gains in [0, 1]; the climatology tensor [4,33,36]
if python3 - "$tmp/a/model.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n])
an = json.loads(h["__metadata__"]["lvit.anchor"])
assert an["lead_hours"] == [6, 12, 18, 24], an["lead_hours"]
assert all(0 <= a <= 1 for row in an["coef"] + an["gain"] for a in row), an
assert all(s > 0 for row in an["scale"] for s in row), an
assert h["lvit_anchor.climatology"]["shape"] == [4, 33, 36], h["lvit_anchor.climatology"]
# the blend's coefficient falls with the lead for every field (the storm's states decorrelate)
assert all(an["coef"][0][v] > an["coef"][3][v] for v in range(4)), an["coef"]
PY
then ok "checkpoint holds the anchor, its gains and its climatology"; else bad "checkpoint anchor"; fi

expect 0 "eval at 6 and 48 h (48: rolled out)" "$LVIT" eval --run "$tmp/a" --leads 6,48 --json "$tmp/a.json"
has "48 h is beyond the trained leads: rolled out in steps of 24 h"
if python3 - "$tmp/a.json" <<'PY'
import json, math, sys
rows = json.load(open(sys.argv[1]))
assert sorted({r["lead_h"] for r in rows}) == [6, 48], rows
assert all(math.isfinite(r["rmse"]) and r["samples"] > 0 for r in rows), rows
# an anchored model starts from the blend: at 6 h it is within 25% of it on every field, even after 40 steps
assert all(r["rmse"] < 1.25 * r["rmse_blend"] for r in rows if r["lead_h"] == 6), rows
PY
then ok "eval rows at 6 and 48 h, finite, near the blend at 6 h"; else bad "eval rows"; fi
expect 0 "predict +48 h (rolled out)" "$LVIT" predict --run "$tmp/a" --time 40 --lead 48 -o "$tmp/p48.nc"
has "rolled out in steps of 24 h"

expect 0 "train --anchor none" "$LVIT" train --data "$tmp/s.lvd" --run "$tmp/n" "${small[@]}" --anchor none --leads 6
if python3 -c "
import json,struct,sys; raw=open('$tmp/n/model.safetensors','rb').read(); n=struct.unpack('<Q',raw[:8])[0]; h=json.loads(raw[8:8+n])
sys.exit('lvit.anchor' in h['__metadata__'] or 'lvit_anchor.climatology' in h)"; then ok "--anchor none: no anchor in the checkpoint"; else bad "--anchor none wrote an anchor"; fi
expect 0 "eval of the unanchored model" "$LVIT" eval --run "$tmp/n" --leads 6

expect 0 "train --history 1" "$LVIT" train --data "$tmp/s.lvd" --run "$tmp/h" "${small[@]}" --history 1 --leads 6,12
expect 0 "eval --history model" "$LVIT" eval --run "$tmp/h" --leads 6,12
expect 0 "predict --history model" "$LVIT" predict --run "$tmp/h" --time 30 --lead 6 -o "$tmp/h.nc"
expect 0 "info shows the history inputs" "$LVIT" info "$tmp/h/model.safetensors"
has "p@-6h"
expect 2 "history model beyond its leads" "$LVIT" eval --run "$tmp/h" --leads 24
has "cannot be rolled out"
expect 2 "predict beyond its leads" "$LVIT" predict --run "$tmp/h" --time 30 --lead 24 -o "$tmp/h24.nc"
has "cannot be rolled out"

expect 2 "--anchor blend on the synthetic data" "$LVIT" train --run "$tmp/y" --anchor blend --steps 2
has "needs a climatology"
expect 2 "--anchor blend with --residual" "$LVIT" train --data "$tmp/s.lvd" --run "$tmp/r" --anchor blend --residual --steps 2
has "two anchors"
expect 2 "--history on multi channels" "$LVIT" train --data "$tmp/s.lvd" --run "$tmp/m" --history 1 --channels multi --steps 2
has "--history 1"
# --min-lr and --warmup are checked against the learning rate and steps chosen from the data (1e-3, 400),
# not the general defaults (5e-4, 200)
expect 0 "--min-lr between the general and the data's lr" "$LVIT" train --data "$tmp/s.lvd" --run "$tmp/ml" \
  --dim 16 --depth 1 --heads 2 --threads 2 --min-lr 8e-4 --steps 2 --warmup 1 --val-every 0
expect 2 "--warmup beyond the data's steps" "$LVIT" train --data "$tmp/s.lvd" --run "$tmp/mw" --warmup 500
has "not below the 400 steps (the default"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
