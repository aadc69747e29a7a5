#!/usr/bin/env bash
# Real data end to end: convert the January 1996 storm analyses (netCDF with _FillValue, two
# files whose variables are both called u / v), train briefly, evaluate, and check the
# persistence and climatology baselines against the figures the data issue gives.
# usage: cli_data.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
storm_or_skip "$SRC"
tmp=$(mktemp -d /tmp/lvit_data_XXXXXX)
trap 'rm -rf "$tmp"' EXIT

files=("$storm/Pstorm.cdf" "$storm/Tstorm.cdf" "$storm/Ustorm.cdf" "$storm/Vstorm.cdf" "$storm/U500storm.cdf" "$storm/V500storm.cdf")
expect 0 "convert the storm files" "$LVIT" convert -o "$tmp/storm.lvd" "${files[@]}"
has "two variables are called u"; has "u_u500storm"; has "train 40, validation 8, test 16 times"
expect 0 "convert with explicit names" "$LVIT" convert -o "$tmp/storm2.lvd" "${files[@]}" --rename U500storm.cdf:u=u500,V500storm.cdf:v=v500
has "u500"
ls "$tmp" | grep -q '\.tmp\.' && bad "temporary file left" || ok "no temporary files left"
expect 0 "--vars across several files" "$LVIT" convert -o "$tmp/tp.lvd" "${files[@]:0:3}" --vars t,p;  has "wrote .*: 2 variables"
expect 2 "--vars naming a variable no file has" "$LVIT" convert -o "$tmp/x.lvd" "${files[@]:0:2}" --vars t,q;  has "'q' is in none of the inputs"
expect 2 "missing input" "$LVIT" convert -o "$tmp/x.lvd" "$tmp/nope.nc";  has "nope.nc"
expect 2 "unknown variable" "$LVIT" convert -o "$tmp/x.lvd" "$storm/Tstorm.cdf" --vars q;  has "q: no such variable"
[ -e "$tmp/x.lvd" ] && bad "failed conversion left an output" || ok "failed conversion leaves no output"
expect 2 "a text file" "$LVIT" convert -o "$tmp/x.lvd" "$SRC/README.md";  has "README.md"
expect 2 "bad split" "$LVIT" convert -o "$tmp/x.lvd" "$storm/Tstorm.cdf" --split 0.9,0.2;  has "--split"
expect 2 "train on a file that is not a dataset" "$LVIT" train --run "$tmp/r" --data "$SRC/README.md";  has "README.md"

expect 0 "train 2 steps on the storm data" "$LVIT" train --data "$tmp/storm.lvd" --run "$tmp/run" --steps 2 --dim 16 \
  --depth 1 --heads 2 --batch 4 --leads 6,24
has "grid 33x36"
expect 0 "eval" "$LVIT" eval --run "$tmp/run" --leads 6,24 --json "$tmp/eval.json"
has "persistence"
if /usr/bin/python3 - "$tmp/eval.json" <<'PY'
import json, sys
rows = {(r["var"], r["lead_h"]): r for r in json.load(open(sys.argv[1]))}
assert len(rows) == 12, len(rows)
for r in rows.values():
    assert {"var", "lead_h", "rmse", "acc", "bias", "rmse_persistence", "rmse_climatology", "rmse_blend", "blend_coef"} <= set(r)
    assert 0 <= r["blend_coef"] <= 1
    # the blend fitted on the training period is never far worse than its better end member
    assert r["rmse_blend"] <= 1.25 * min(r["rmse_persistence"], r["rmse_climatology"]), r
def near(x, want, tol):
    assert abs(x - want) <= tol, (x, want)
# the data issue's 24 h baselines on the test period (times 48-63), cells valid at both times
near(rows[("t", 24)]["rmse_persistence"], 7.86, 0.005)
near(rows[("t", 24)]["rmse_climatology"], 8.13, 0.005)
near(rows[("p", 24)]["rmse_persistence"], 1248, 0.5)
near(rows[("p", 24)]["rmse_climatology"], 1033, 0.5)
# the damped-persistence blend of issue 19 (t 6.61 K, p 958 Pa at 24 h)
near(rows[("t", 24)]["rmse_blend"], 6.616, 0.005)
near(rows[("p", 24)]["rmse_blend"], 958.2, 0.5)
print("baselines: t persistence %.4f climatology %.4f, p persistence %.2f climatology %.2f" % (
    rows[("t", 24)]["rmse_persistence"], rows[("t", 24)]["rmse_climatology"],
    rows[("p", 24)]["rmse_persistence"], rows[("p", 24)]["rmse_climatology"]))
PY
then ok "24 h baselines match the issues (t 7.86/8.13/6.62 K, p 1248/1033/958 Pa: persistence/climatology/blend)"; else bad "baselines"; fi

expect 0 "predict to CF netCDF with maps" "$LVIT" predict --run "$tmp/run" --time 50 --lead 24 -o "$tmp/f.nc" --plot "$tmp"
has "CF netCDF"
if ncdump -h "$tmp/f.nc" > "$tmp/out" 2>&1; then ok "ncdump reads the forecast"; else bad "ncdump failed"; fi
has "Conventions = \"CF-1.8\""; has "float u_u500storm(time, lat, lon)"; has "degrees_north"
[ -s "$tmp/t_t50_24h.png" ] && ok "map written" || bad "no map"
head -c 8 "$tmp/t_t50_24h.png" | od -An -c | grep -q "P   N   G" && ok "map is a PNG" || bad "map is not a PNG"
expect 0 "loss curve" "$LVIT" plot --run "$tmp/run" -o "$tmp/loss.png";  has "loss.png"
expect 2 "loss curve of a run without metrics" "$LVIT" plot --run "$tmp/nope";  has "metrics.jsonl"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
