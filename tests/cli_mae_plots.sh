#!/usr/bin/env bash
# The Salinas-A demo's pictures through the binary: lvit predict of a pixel classifier writes
# OUT_test.png (labels | prediction on the labelled pixels | test pixels right/wrong), whose pixels
# give back eval's OA, the count of unlabelled and of training pixels; lvit predict of a masked-
# autoencoder run writes the reconstructed spectra as PNG and CSV, whose true values and baseline
# are the dataset's own pixels and whose error is the printed one.
# usage: cli_mae_plots.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
S="$SRC/../shared/data/salinasA_aviris"
data_or_skip "$S/SalinasA.mat" salinasA_aviris
tmp=$(mktemp -d /tmp/lvit_mae_plots_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
tiny=(--dim 16 --depth 1 --heads 2 --decoder-depth 1 --threads 1 --patch 3 --window 9)
expect 0 "convert Salinas-A" "$LVIT" convert -o "$tmp/sal.lvd" "$S/SalinasA.mat" --labels "$S/SalinasA_gt.mat" \
  --drop-bands 108-112,154-167,224

# ---- the prediction beside the labels
expect 0 "train a classifier (5 px per class)" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/c" \
  "${tiny[@]}" --per-class 5 --steps 10 --batch 8
expect 0 "eval" "$LVIT" eval --run "$tmp/c" --json "$tmp/c.json"
expect 0 "predict the map" "$LVIT" predict --run "$tmp/c" -o "$tmp/map.png"
has "wrote $tmp/map_test.png: [0-9]* test pixels, [0-9]* predicted right (OA"
cp "$tmp/out" "$tmp/predict.out"
# a PNG reader (zlib, the five filters) shared by the checks below
cat > "$tmp/png.py" <<'PY'
import struct, zlib
def read_png(path):
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8])
        body = b[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 2, "expected 8-bit RGB"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), 3 * w, [], bytearray(3 * w)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            c = prev[i - 3] if i >= 3 else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + prev[i]) & 255
            elif f == 3: line[i] = (line[i] + (a + prev[i]) // 2) & 255
            elif f == 4:
                p = a + prev[i] - c
                pa, pb, pc = abs(p - a), abs(p - prev[i]), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else prev[i] if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, lambda x, y: tuple(rows[y][3 * x:3 * x + 3])
PY
/usr/bin/python3 - "$tmp" <<'PY' && ok "OUT_test.png: 1342x531; its right/wrong panel gives eval's OA; 1790 unlabelled px grey; 30 training px dotted" || bad "OUT_test.png"
import json, re, sys
sys.path.insert(0, sys.argv[1])
from png import read_png
t = sys.argv[1]
w, h, px = read_png(t + "/map_test.png")
# 83x86 px at scale 512 // 86 = 5: three 430-px maps 16 px apart from x = 10, y = 10 + 30 + 22 (eval/class_metrics.h)
assert (w, h) == (2 * 10 + 3 * 430 + 2 * 16, 62 + 415 + 12 + 2 * 16 + 10), (w, h)
j = json.load(open(t + "/c.json"))
cell = lambda k, r, c: px(10 + k * 446 + 5 * c + 2, 62 + 5 * r + 2)
right = wrong = grey = dots = 0
for r in range(83):
    for c in range(86):
        v = cell(2, r, c)
        right += v == (255, 255, 255)
        wrong += v == (0, 0, 0)
        grey += cell(0, r, c) == (150, 150, 150)
        dots += cell(0, r, c) == (255, 255, 255)
assert right + wrong == j["n"], (right, wrong, j["n"])
assert abs(right / j["n"] - j["oa"]) < 1e-6, (right, j)
assert grey == 83 * 86 - 5348 and dots == 30, (grey, dots)
line = open(t + "/predict.out").read()
assert re.search(r"%d test pixels, %d predicted right" % (j["n"], right), line), line
PY

# ---- reconstructed spectra of a pretraining run
expect 0 "pretrain (mae)" "$LVIT" train --task mae --data "$tmp/sal.lvd" --run "$tmp/m" "${tiny[@]}" --steps 4 --batch 4
expect 0 "predict the spectra" "$LVIT" predict --run "$tmp/m" --seed 7 -o "$tmp/spec.png"
has "wrote $tmp/spec.png and $tmp/spec.csv: 4 held-out windows"
cp "$tmp/out" "$tmp/spec.out"
expect 0 "again with the same seed" "$LVIT" predict --run "$tmp/m" --seed 7 -o "$tmp/spec2.png"
cmp -s "$tmp/spec.csv" "$tmp/spec2.csv" && ok "the same seed draws the same pixels" || bad "seed 7 twice differs"
expect 0 "another seed" "$LVIT" predict --run "$tmp/m" --seed 8 -o "$tmp/spec3.png"
cmp -s "$tmp/spec.csv" "$tmp/spec3.csv" && bad "seeds 7 and 8 draw the same pixels" || ok "another seed, other pixels"
/usr/bin/python3 - "$tmp" <<'PY' && ok "spectra: 900x570 PNG; CSV true values and baseline = the dataset's pixels; its MSE = the printed one" || bad "spectra PNG/CSV"
import csv, json, re, struct, sys
sys.path.insert(0, sys.argv[1])
from png import read_png
t = sys.argv[1]
w, h, px = read_png(t + "/spec.png")
assert (w, h) == (2 * 10 + 2 * 440, 10 + 30 + 20 + 2 * 250 + 10), (w, h)   # eval/spectra_plot.h
f = open(t + "/sal.lvd", "rb")
n = struct.unpack("<Q", f.read(8))[0]
hd = json.loads(f.read(n)); base = 8 + n
T, V, H, W = hd["data"]["shape"]
def val(band, row, col):
    f.seek(base + hd["data"]["data_offsets"][0] + 4 * ((band * H + row) * W + col))
    return struct.unpack("<f", f.read(4))[0]
rows = list(csv.DictReader(open(t + "/spec.csv")))
assert len(rows) == 4 * V and V == 204, (len(rows), V)
se = [0.0, 0.0, 0.0]; cnt = 0
for r in rows:
    b, y, x, nc = int(r["band"]), int(r["row"]), int(r["col"]), int(r["nearest_col"])
    assert abs(float(r["true"]) - val(b, y, x)) <= 1e-3 * max(1, abs(val(b, y, x))), r
    assert abs(float(r["nearest_visible"]) - val(b, y, nc)) <= 1e-3 * max(1, abs(val(b, y, nc))), r
    assert nc != x or r["masked"] == "0", r     # a masked pixel's baseline comes from another column
    if r["masked"] == "1":
        tn, rn, nn = float(r["true_norm"]), float(r["reconstruction_norm"]), float(r["nearest_visible_norm"])
        se[0] += (rn - tn) ** 2; se[1] += tn * tn; se[2] += (nn - tn) ** 2; cnt += 1
assert cnt > 0
m = re.search(r"over their (\d+) masked band values, mean squared error \(normalised units\): model ([0-9.]+), "
              r"band means ([0-9.]+), nearest visible patch ([0-9.]+)", open(t + "/spec.out").read())
assert m and int(m.group(1)) == cnt, (m and m.group(0), cnt)
for k in range(3):
    assert abs(float(m.group(2 + k)) - se[k] / cnt) < 1e-4 * max(1, se[k] / cnt), (k, m.group(0), se[k] / cnt)
PY
expect 2 "predict of a pretraining run without -o" "$LVIT" predict --run "$tmp/m"
has "and -o OUT are required"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
