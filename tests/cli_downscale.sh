#!/usr/bin/env bash
# Downscaling end to end on the real 1996 storm analyses (1.25 x 2.5 degrees): convert, train a
# small Reslim model on coarse fields made by 3 x 3 area means, evaluate against bilinear and
# bicubic interpolation (the JSON keys the issue asks for), tiled evaluation and training, the
# fine field as CF netCDF (read back by lvit convert) and the maps; and the refusals, each naming
# the flag and what would work.
# usage: cli_downscale.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
storm_or_skip "$SRC"
tmp=$(mktemp -d /tmp/lvit_downscale_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
files=("$storm/Pstorm.cdf" "$storm/Tstorm.cdf" "$storm/Ustorm.cdf" "$storm/Vstorm.cdf" "$storm/U500storm.cdf" "$storm/V500storm.cdf")
expect 0 "convert the storm files" "$LVIT" convert -o "$tmp/storm.lvd" "${files[@]}" --rename U500storm.cdf:u=u500,V500storm.cdf:v=v500
D=(--task downscale --scale 3 --data "$tmp/storm.lvd" --dim 32 --depth 1 --heads 2 --batch 8 --static lat)
expect 0 "train Reslim x3" "$LVIT" train "${D[@]}" --run "$tmp/r" --steps 60 --lr 2e-3 --val-every 30 --var-weights t=3
has "Reslim x3, 7 inputs (6 variables + 1 static) on the 11x12 coarse grid -> 33x36; whole fields"
expect 0 "eval against the interpolations" "$LVIT" eval --run "$tmp/r" --json "$tmp/ds.json"
has "bicubic"; has "Reslim beats bicubic interpolation in RMSE on"
if /usr/bin/python3 - "$tmp/ds.json" <<'PY'
import json, math, sys
rows = json.load(open(sys.argv[1]))
assert [r["var"] for r in rows] == ["p", "t", "u", "v", "u500", "v500"], rows
for r in rows:
    for k in ("rmse", "r2", "rmse_bilinear", "rmse_bicubic", "r2_bilinear", "r2_bicubic"):
        assert math.isfinite(r[k]), (k, r)
    assert r["r2"] <= 1 and r["rmse"] > 0 and r["times"] == 16
    assert r["rmse_bicubic"] < r["rmse_bilinear"], r   # smooth fields: bicubic is the stronger baseline
PY
then ok "eval JSON: var, rmse, r2, rmse_bilinear, rmse_bicubic per variable"; else bad "eval JSON"; fi
expect 0 "tiled eval" "$LVIT" eval --run "$tmp/r" --tiles 2 --json "$tmp/tiled.json"
has "TILES 2x2"; has "vs untiled"
/usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert all(x['rmse_vs_untiled']>=0 and x['tiles']==2 for x in r)" "$tmp/tiled.json" \
  && ok "tiled JSON has the difference to untiled" || bad "tiled JSON"
expect 0 "predict a fine field" "$LVIT" predict --run "$tmp/r" --time 50 -o "$tmp/fine.nc" --plot "$tmp"
has "Reslim vs bicubic"; has "wrote $tmp/fine.nc"
[ -s "$tmp/t_t50_x3.png" ] && ok "map of t (coarse | truth | Reslim | error)" || bad "no map"
expect 0 "the fine field is CF netCDF" ncdump -h "$tmp/fine.nc"
has "lat = 33"; has "lon = 36"; has "float t(time, lat, lon)"
expect 0 "train on TILES" "$LVIT" train "${D[@]}" --run "$tmp/rt" --steps 4 --tiles 2 --keep last
has "tiles: 2x2 windows of 6x6 coarse cells"; has "9 tokens each instead of 36"

# resuming a tiled run from its step-10 checkpoint gives the same losses and the same weights
expect 0 "tiled run with checkpoints" "$LVIT" train "${D[@]}" --run "$tmp/k1" --steps 20 --tiles 2 --keep last --ckpt-every 10
mkdir -p "$tmp/k2/ckpt" && cp -r "$tmp/k1/ckpt/step_00000010" "$tmp/k2/ckpt/" && head -10 "$tmp/k1/metrics.jsonl" > "$tmp/k2/metrics.jsonl"
expect 0 "resume it at step 10" "$LVIT" train "${D[@]}" --run "$tmp/k2" --steps 20 --tiles 2 --keep last --resume
has "resuming from"
same_loss() { /usr/bin/python3 -c "import json,sys; l=lambda f: [json.loads(x)['loss'] for x in open(f)]; sys.exit(l(sys.argv[1]) != l(sys.argv[2]))" "$1" "$2"; }
cmp -s "$tmp/k1/model.safetensors" "$tmp/k2/model.safetensors" && same_loss "$tmp/k1/metrics.jsonl" "$tmp/k2/metrics.jsonl" \
  && ok "resumed: the same losses and weights, bit for bit" || bad "resumed run differs"

expect 2 "tiles that do not divide the grid" "$LVIT" train "${D[@]}" --run "$tmp/x" --steps 1 --tiles 5
has "--tiles 5"; has "--tiles 1, 2"
expect 2 "a halo that does not fit" "$LVIT" eval --run "$tmp/r" --tiles 2 --halo 2
has "--halo 2"; has "only halo 0 would"
expect 2 "coarse files on the wrong grid" "$LVIT" train "${D[@]}" --run "$tmp/x" --steps 1 --coarse-data "$tmp/storm.lvd"
has "--coarse-data"; has "expected 11x12"
expect 2 "a weight for a variable that is not there" "$LVIT" train "${D[@]}" --run "$tmp/x" --steps 1 --var-weights q=1
has "no variable 'q'"
expect 2 "downscaling flags without --task downscale" "$LVIT" train --data "$tmp/storm.lvd" --run "$tmp/x" --steps 1 --scale 3
has "--task downscale"
expect 2 "lead times for downscaling" "$LVIT" train "${D[@]}" --run "$tmp/x" --steps 1 --leads 6
has "--leads is for forecasting"
expect 2 "downscaling in multi mode" "$LVIT" train "${D[@]}" --run "$tmp/x" --steps 1 --channels multi
has "needs --channels agg"
expect 2 "a downscaled field as safetensors" "$LVIT" predict --run "$tmp/r" -o "$tmp/x.safetensors"
has "ending in .nc"
if ! nvidia-smi -L >/dev/null 2>&1; then
  expect 2 "eval on a GPU without one" "$LVIT" eval --run "$tmp/r" --device cuda;  has "--device cuda"
fi
expect 2 "periodic tiles on a regional grid" "$LVIT" eval --run "$tmp/r" --tiles 2 --periodic on
has "not a whole longitude circle"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
