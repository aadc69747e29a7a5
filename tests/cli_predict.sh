#!/usr/bin/env bash
# lvit predict and lvit info on real data (the 1996 storm, a 33x36 grid the model pads to whole
# patches): the same missing cells in the safetensors and netCDF outputs, the netCDF's CF time
# and padding attributes, moved data (--data), a changed data file (hash warning), and lvit info's
# account of the data description.
# usage: cli_predict.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
storm_or_skip "$SRC"
tmp=$(mktemp -d /tmp/lvit_predict_XXXXXX)
trap 'rm -rf "$tmp"' EXIT

files=("$storm/Pstorm.cdf" "$storm/Tstorm.cdf" "$storm/Ustorm.cdf" "$storm/Vstorm.cdf")
expect 0 "convert" "$LVIT" convert -o "$tmp/storm.lvd" "${files[@]}"
expect 0 "train 2 steps" "$LVIT" train --data "$tmp/storm.lvd" --run "$tmp/run" --steps 2 --dim 16 --depth 1 \
  --heads 2 --batch 2 --patch 4 --threads 2
expect 0 "predict to safetensors" "$LVIT" predict --run "$tmp/run" --time 50 --lead 6 -o "$tmp/p.safetensors" --threads 2
# the forecast is NaN exactly where the initial state is (unobserved cells)
if python3 - "$tmp/p.safetensors" <<'PY'
import json, math, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def f32(name):
    s, e = h[name]["data_offsets"]
    return struct.unpack(f"{(e - s) // 4}f", b[8 + n + s:8 + n + e])
fc, ini = f32("forecast"), f32("initial")
assert h["forecast"]["shape"] == [4, 33, 36], h["forecast"]["shape"]
miss = [math.isnan(v) for v in ini]
assert miss == [math.isnan(v) for v in fc], "forecast NaNs differ from the initial state's"
meta = json.loads(h["__metadata__"]["lvit.forecast"])
assert meta["model_grid"] == [36, 36] and meta["valid_hours"] - meta["reference_hours"] == 6, meta
print(sum(miss), "missing cells")
PY
then ok "safetensors: forecast NaN exactly where the initial state is missing"; else bad "safetensors mask"; fi
expect 0 "predict to netCDF" "$LVIT" predict --run "$tmp/run" --time 50 --lead 6 -o "$tmp/p.nc" --threads 2
if command -v ncdump >/dev/null; then
  expect 0 "ncdump -h" ncdump -h "$tmp/p.nc"
  has "forecast_reference_time:standard_name"; has "lvit_padding"; has "36x36 grid: this 33x36 grid with 3 rows"
  has 'time:units = "hours since 1970-01-01'; has "lvit_missing"
else
  echo "skip - no ncdump"
fi

# the data moved: refused with the way out, then found with --data
mv "$tmp/storm.lvd" "$tmp/moved.lvd"
expect 2 "predict when the data moved" "$LVIT" predict --run "$tmp/run" --time 50 -o "$tmp/q.safetensors"
has "storm.lvd, is not there"; has "--data DATASET"
expect 0 "predict --data at the new place" "$LVIT" predict --run "$tmp/run" --data "$tmp/moved.lvd" --time 50 \
  -o "$tmp/q.safetensors"
cmp -s "$tmp/p.safetensors" "$tmp/q.safetensors" && ok "same forecast from the moved data" || bad "moved data gave another forecast"
expect 0 "convert two of the variables" "$LVIT" convert -o "$tmp/other.lvd" "${files[@]:0:2}"
expect 2 "--data with other variables" "$LVIT" predict --run "$tmp/run" --data "$tmp/other.lvd" -o "$tmp/r.safetensors"
has "other.lvd has 2 variables"

# a format-2 description (src/io/run_meta.c) whose hash does not match the file: a warning
python3 - "$tmp/run/model.safetensors" "$tmp/moved.lvd" <<'PY' && ok "description rewritten" || bad "rewriting lvit.data"
import json, struct, sys
p, data = sys.argv[1], sys.argv[2]
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
d = json.loads(h["__metadata__"].get("lvit.data", "{}"))
d.update({"format_version": 2, "source": data, "fnv1a64": "0123456789abcdef", "grid_unpadded": [33, 36]})
h["__metadata__"]["lvit.data"] = json.dumps(d)
hj = json.dumps(h).encode()
hj += b" " * (-len(hj) % 8)
open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + b[8 + n:])
PY
expect 0 "predict from a changed data file" "$LVIT" predict --run "$tmp/run" --time 50 -o "$tmp/s.safetensors"
has "is not the file the model was trained on"; has "0123456789abcdef"
expect 0 "info" "$LVIT" info "$tmp/run/model.safetensors"
has "data: format 2"; has "moved.lvd"; has "grid 33x36 (the model computes on 36x36"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
