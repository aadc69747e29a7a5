#!/usr/bin/env bash
# The user's own split of a scene's pixels (--train-labels / --test-labels label rasters, or one
# --split-mask raster) and
# --task segment, through the binary on the real data in ../shared/data: Salinas-A (a TR/TE pair
# made here from its ground truth, written as .mat files by tests/mat5.py) and the Landsat 7
# tutorial scene (its 30 training polygons rasterized in two disjoint halves with gdal_rasterize).
# usage: cli_segment.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
D="$SRC/../shared/data"
S=$D/salinasA_aviris L7=$D/landsat7_opengeo_tutorial
if [ ! -f "$S/SalinasA.mat" ] || [ ! -f "$L7/training_data.shp" ]; then
  echo "skip: the remote-sensing data (salinasA_aviris, landsat7_opengeo_tutorial) is not in $D"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
if ! /usr/bin/python3 -c "import numpy" 2>/dev/null || ! command -v gdal_rasterize >/dev/null; then
  echo "skip: needs /usr/bin/python3 with numpy and gdal_rasterize (apt-get install python3-numpy gdal-bin)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d /tmp/lvit_segment_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
tiny=(--dim 32 --depth 1 --heads 2 --decoder-depth 1 --threads 1)

# ---- the label rasters: Salinas-A's ground truth cut into a training part (columns 0-39) and a test
# part (columns 46-85), and broken ones (a value that is no class, a wrong size, an overlap)
PYTHONPATH="$SRC/tests" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$S/SalinasA_gt.mat" "$tmp" <<'PY' || bad "writing the .mat label rasters"
import sys, mat5
gt = mat5.load(sys.argv[1])["salinasA_gt"]
d = sys.argv[2]
tr = gt.copy(); tr[:, 40:] = 0
te = gt.copy(); te[:, :46] = 0
mat5.save_uint8(d + "/TR.mat", "TR", tr); mat5.save_uint8(d + "/TE.mat", "TE", te)
b = tr.copy(); b[5, 7] = 99; mat5.save_uint8(d + "/bad.mat", "TR", b)
mat5.save_uint8(d + "/small.mat", "TR", tr[:80])
ov = te.copy(); ov[:, 38:40] = gt[:, 38:40]; mat5.save_uint8(d + "/ov.mat", "TE", ov)
open(d + "/counts", "w").write("%d %d %d\n" % ((tr > 0).sum(), (te > 0).sum(), (gt[:, 38:40] > 0).sum()))
PY
read ntr nte nov < "$tmp/counts"
expect 0 "convert Salinas-A" "$LVIT" convert -o "$tmp/sal.lvd" "$S/SalinasA.mat" --labels "$S/SalinasA_gt.mat" \
  --drop-bands 108-112,154-167,224
expect 0 "classify on the TR/TE .mat rasters" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/c" "${tiny[@]}" \
  --patch 3 --window 9 --steps 10 --batch 8 --train-labels "$tmp/TR.mat:TR" --test-labels "$tmp/TE.mat"
has "split by the label rasters --train-labels and --test-labels: $ntr training pixels, $nte test pixels"
/usr/bin/python3 - "$tmp/c/split.csv" "$tmp" <<'PY' && ok "split.csv: the rasters named, TR's pixels train, TE's test, classes as in the rasters" || bad "split.csv"
import sys
lines = open(sys.argv[1]).read().splitlines()
assert "label rasters, training " in lines[0] and "/TR.mat:TR, test " in lines[0] and lines[0].split(", test ")[1].startswith(sys.argv[2]), lines[0]
rows = [l.split(",") for l in lines[2:]]
tr = [(int(r[1]), int(r[2]), int(r[3])) for r in rows if r[4] == "train"]
te = [(int(r[1]), int(r[2]), int(r[3])) for r in rows if r[4] == "test"]
assert all(c < 40 for _, c, _ in tr) and all(c >= 46 for _, c, _ in te), "pixels outside their raster's part"
# Salinas-A's values 1, 10..14 are the classes 0..5; class 0 (value 1) lies only in the training part
assert {k for *_, k in tr} == set(range(6)) and {k for *_, k in te} == set(range(1, 6)), ({k for *_, k in tr}, {k for *_, k in te})
PY
expect 0 "eval reads the recorded rasters again" "$LVIT" eval --run "$tmp/c" --json "$tmp/c.json"
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['n'] == int(sys.argv[2]), j['n']" "$tmp/c.json" "$nte" \
  && ok "eval scores the $nte test pixels of TE" || bad "eval's test pixels"
expect 0 "per-class on the TR raster" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/c5" "${tiny[@]}" \
  --patch 3 --window 9 --steps 2 --per-class 5 --train-labels "$tmp/TR.mat" --test-labels "$tmp/TE.mat"
has ": 30 training pixels (--per-class), $nte test pixels"
refuse() { # refuse WHAT TEXT TR TE
  expect 2 "$1" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" "${tiny[@]}" --patch 3 --steps 1 \
    --train-labels "$3" --test-labels "$4"
  has "$2"
}
refuse "a label that is no class" "bad.mat: pixel (row 5, column 7) has the label 99, which is not one of the classes" "$tmp/bad.mat" "$tmp/TE.mat"
refuse "a raster of another size" "small.mat is 80x86 pixels (rows x columns), but the images of $tmp/sal.lvd are 83x86" "$tmp/small.mat" "$tmp/TE.mat"
refuse "training and test overlapping" "label $nov of the same pixels" "$tmp/TR.mat" "$tmp/ov.mat"
refuse "a variable the file lacks" "no variable 'XX'" "$tmp/TR.mat:XX" "$tmp/TE.mat"
expect 2 "--train-labels alone" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" "${tiny[@]}" --steps 1 \
  --train-labels "$tmp/TR.mat"
has "give both --train-labels and --test-labels"
# the same split as one mask raster over the dataset's own labels (1 = training, 2 = test)
PYTHONPATH="$SRC/tests" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 - "$S/SalinasA_gt.mat" "$tmp" <<'PY' || bad "writing the mask rasters"
import sys, mat5
gt = mat5.load(sys.argv[1])["salinasA_gt"]
d = sys.argv[2]
m = gt.copy() * 0; m[:, :40] = 1; m[:, 46:] = 2
mat5.save_uint8(d + "/mask.mat", "M", m)
b = m.copy(); b[3, 9] = 3; mat5.save_uint8(d + "/mask_bad.mat", "M", b)
a = m.copy(); a[:, 40:46] = 1; mat5.save_uint8(d + "/mask_alt.mat", "M", a)  # a valid mask, not the same
g = gt.copy(); g[gt > 0] += 100; mat5.save_uint8(d + "/gt100.mat", "G", g)  # the same pixels, other class values
PY
expect 0 "classify on one --split-mask raster" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/m" "${tiny[@]}" \
  --patch 3 --window 9 --steps 10 --batch 8 --split-mask "$tmp/mask.mat:M"
has "split by the --split-mask raster: $ntr training pixels, $nte test pixels"
[ "$(tail -n +2 "$tmp/m/split.csv")" = "$(tail -n +2 "$tmp/c/split.csv")" ] && head -1 "$tmp/m/split.csv" | grep -q "the split mask $tmp/mask.mat:M" \
  && ok "split.csv: the mask gives the same pixels and classes as the TR/TE pair" || bad "split.csv of the mask run"
expect 0 "eval reads the recorded mask again" "$LVIT" eval --run "$tmp/m" --json "$tmp/m.json"
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['n'] == int(sys.argv[2]), j['n']" "$tmp/m.json" "$nte" \
  && ok "eval scores the $nte test pixels the mask marks" || bad "eval's test pixels of the mask run"
"$LVIT" convert -o "$tmp/sal100.lvd" "$S/SalinasA.mat" --labels "$tmp/gt100.mat" --drop-bands 108-112,154-167,224 >/dev/null \
  || bad "convert with other class values"
cp "$tmp/mask.mat" "$tmp/m2.mat"
expect 0 "classify on a mask that will change" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/m2" "${tiny[@]}" \
  --patch 3 --window 9 --steps 2 --batch 8 --split-mask "$tmp/m2.mat"
cp "$tmp/mask_alt.mat" "$tmp/m2.mat"
expect 0 "eval after the mask changed" "$LVIT" eval --run "$tmp/m2"
has "m2.mat is not the raster the model was trained with"
expect 0 "eval with the mask unchanged" "$LVIT" eval --run "$tmp/m"
if grep -q "is not the raster" "$tmp/out"; then bad "a warning with the mask unchanged"; else ok "no warning with the mask unchanged"; fi
expect 2 "eval on data whose classes differ" "$LVIT" eval --run "$tmp/m" --data "$tmp/sal100.lvd"
has "class 0 is 'class_101' in $tmp/sal100.lvd but 'class_1' in the model"
expect 2 "--split random with --split-mask" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" "${tiny[@]}" \
  --patch 3 --steps 1 --split-mask "$tmp/mask.mat" --split random
has "your split is the one used"
expect 2 "--task mae with --split-mask" "$LVIT" train --task mae --data "$tmp/sal.lvd" --run "$tmp/x" "${tiny[@]}" \
  --patch 2 --window 8 --steps 1 --split-mask "$tmp/mask.mat"
has "uses no labels or split"
expect 2 "classify predict to a .jpg" "$LVIT" predict --run "$tmp/m" -o "$tmp/m_map.jpg"
has "a class map is written as MAP.tif (GeoTIFF, and MAP.png beside it) or MAP.png"
expect 2 "a mask value other than 0, 1, 2" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" "${tiny[@]}" \
  --patch 3 --steps 1 --split-mask "$tmp/mask_bad.mat"
has "mask_bad.mat: pixel (row 3, column 9) is 3; expected 1 (training), 2 (test) or 0 (unused)"
expect 2 "--split-mask with --train-labels" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" "${tiny[@]}" \
  --patch 3 --steps 1 --split-mask "$tmp/mask.mat" --train-labels "$tmp/TR.mat"
has "give the split one way"
expect 2 "a mask of another size" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/x" "${tiny[@]}" \
  --patch 3 --steps 1 --split-mask "$tmp/small.mat"
has "small.mat is 80x86 pixels"
mv "$tmp/TE.mat" "$tmp/TE_moved.mat"
expect 2 "eval when a recorded raster is gone" "$LVIT" eval --run "$tmp/c"
has "TE.mat"
mv "$tmp/TE_moved.mat" "$tmp/TE.mat"

# ---- Landsat 7: the tutorial's 30 polygons, even ones for training and odd ones for testing (GeoTIFFs)
for p in 0 1; do
  gdal_rasterize -q -a id -where "FID % 2 = $p" -te 462405 1734315 469905 1741815 -tr 30 30 -ot Byte -init 0 \
    "$L7/training_data.shp" "$tmp/poly$p.tif" || bad "gdal_rasterize"
done
expect 0 "convert the 1999 Landsat 7 stack" "$LVIT" convert -o "$tmp/l7.lvd" "$L7/LE70220491999322EDC01_stack.gtif" \
  --labels "$L7/training_data.gtif"
expect 0 "classify on the polygon split" "$LVIT" train --task classify --data "$tmp/l7.lvd" --run "$tmp/l" "${tiny[@]}" \
  --patch 3 --window 9 --steps 10 --batch 8 --train-labels "$tmp/poly0.tif" --test-labels "$tmp/poly1.tif"
has ": 303 training pixels, 415 test pixels"
expect 2 "the whole training raster against the odd polygons" "$LVIT" train --task classify --data "$tmp/l7.lvd" --run "$tmp/x" \
  "${tiny[@]}" --steps 1 --train-labels "$L7/training_data.gtif" --test-labels "$tmp/poly1.tif"
has "label 415 of the same pixels"
# a raster of the scene's size whose grid starts 3 pixels (90 m) further east labels other ground
gdal_rasterize -q -a id -where "FID % 2 = 1" -te 462495 1734315 469995 1741815 -tr 30 30 -ot Byte -init 0 \
  "$L7/training_data.shp" "$tmp/shifted.tif" || bad "gdal_rasterize"
expect 2 "test labels on a shifted grid" "$LVIT" train --task classify --data "$tmp/l7.lvd" --run "$tmp/x" "${tiny[@]}" \
  --steps 1 --train-labels "$tmp/poly0.tif" --test-labels "$tmp/shifted.tif"
has "test-labels $tmp/shifted.tif lies on another grid than the images of $tmp/l7.lvd: upper-left corner (462495, 1741815)"
expect 2 "convert --labels on a shifted grid" "$LVIT" convert -o "$tmp/shifted.lvd" "$L7/LE70220491999322EDC01_stack.gtif" \
  --labels "$tmp/shifted.tif"
has "labels $tmp/shifted.tif lies on another grid than the image"
[ ! -e "$tmp/shifted.lvd" ] || bad "a refused convert left $tmp/shifted.lvd"

# ---- --task segment: tiles of the scene, every labelled pixel of a tile scored
seg=(--task segment --dim 32 --depth 1 --heads 2 --decoder-depth 1 --threads 2 --patch 4 --window 16 --batch 8 --lr 0.003
     --log-every 40)
expect 0 "segment Salinas-A on the tile split" "$LVIT" train "${seg[@]}" --data "$tmp/sal.lvd" --run "$tmp/sg" --steps 120
has "segment: 6 classes, 16x16-pixel tiles (model grid 16x16, 16 tokens, 6 logits per pixel); split by tiles (spatially disjoint)"
expect 0 "eval the segmentation" "$LVIT" eval --run "$tmp/sg" --json "$tmp/sg.json"
has "^test: [0-9]* pixels in [0-9]* tiles; OA"; has "baseline (the training pixels' majority class"
expect 0 "predict the class map as GeoTIFF and PNG" "$LVIT" predict --run "$tmp/sg" -o "$tmp/sg_map.tif"
[ "$(head -c 8 "$tmp/sg_map.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok "map PNG beside the GeoTIFF" || bad "map PNG"
# the scores against the confusion CSV, the split against the tiles, the GeoTIFF against eval's predictions
check_seg() { # check_seg RUN JSON MAP.tif CLASS_VALUES(comma) GEOREF(0/1) INPUT
  /usr/bin/python3 - "$@" <<'PY'
import csv, json, sys
from osgeo import gdal
run, js, tif, values, georef, src = sys.argv[1:7]
values = [int(v) for v in values.split(",")]
cm = [[int(v) for v in r[1:]] for r in list(csv.reader(open(run + "/confusion_test.csv")))[1:]]
j = json.load(open(js)); K = len(cm); n = sum(map(sum, cm))
rows = [sum(r) for r in cm]; cols = [sum(cm[i][k] for i in range(K)) for k in range(K)]
oa = sum(cm[k][k] for k in range(K)) / n
aa = sum(cm[k][k] / rows[k] for k in range(K) if rows[k]) / sum(1 for r in rows if r)
pe = sum(rows[k] * cols[k] for k in range(K)) / n / n
kappa = (oa - pe) / (1 - pe)
iou = [cm[k][k] / (rows[k] + cols[k] - cm[k][k]) for k in range(K) if rows[k] + cols[k]]
miou = sum(iou) / len(iou)
assert abs(oa - j["oa"]) < 1e-6 and abs(aa - j["aa"]) < 1e-6 and abs(kappa - j["kappa"]) < 1e-5 and abs(miou - j["miou"]) < 1e-5, (oa, aa, kappa, miou, j)
assert j["oa"] > j["baseline_majority"]["oa"] + 0.1 and j["kappa"] > 0.1, ("no better than the majority class", j)
lines = open(run + "/split.csv").read().splitlines()
sp = [l.split(",") for l in lines[2:]]
test = [(int(r[1]), int(r[2]), int(r[3])) for r in sp if r[4] == "test"]
train = [(int(r[1]), int(r[2])) for r in sp if r[4] == "train"]
assert len(test) == n == j["n"], (len(test), n)
if "tiles" in lines[0]:  # no 16x16 tile holds pixels of both sets
    tt = {(y // 16, x // 16) for y, x in train}
    assert not any((y // 16, x // 16) in tt for y, x, _ in test), "a tile in both sets"
d = gdal.Open(tif); m = d.ReadAsArray()
hit = sum(1 for y, x, c in test if m[y, x] == values[c])
assert abs(hit / n - oa) < 1e-9, ("the GeoTIFF's map disagrees with eval", hit / n, oa)
assert set(m.ravel().tolist()) <= set(values), set(m.ravel().tolist())
if int(georef):
    s = gdal.Open(src)
    assert d.GetGeoTransform() == s.GetGeoTransform(), (d.GetGeoTransform(), s.GetGeoTransform())
    assert d.GetSpatialRef().IsSame(s.GetSpatialRef())
print("OA %.4f AA %.4f kappa %.4f mIoU %.4f; majority OA %.4f mIoU %.4f" % (oa, aa, kappa, miou, j["baseline_majority"]["oa"], j["baseline_majority"]["miou"]))
PY
}
check_seg "$tmp/sg" "$tmp/sg.json" "$tmp/sg_map.tif" 1,10,11,12,13,14 0 "" \
  && ok "Salinas-A: scores from the confusion CSV, tiles disjoint, the GeoTIFF agrees with eval, above the majority class" \
  || bad "Salinas-A segmentation checks"
# a scene without labels: predict maps it (the same map as on the labelled copy); eval has nothing to score
expect 0 "convert the cube without labels" "$LVIT" convert -o "$tmp/sal_nl.lvd" "$S/SalinasA.mat" --drop-bands 108-112,154-167,224
expect 0 "predict an unlabelled scene" "$LVIT" predict --run "$tmp/sg" --data "$tmp/sal_nl.lvd" -o "$tmp/sg_nl.tif"
/usr/bin/python3 -c "
import sys
from osgeo import gdal
a, b = (gdal.Open(f).ReadAsArray() for f in sys.argv[1:3])
assert a.shape == (83, 86) and (a == b).all()" "$tmp/sg_map.tif" "$tmp/sg_nl.tif" \
  && ok "the unlabelled scene's GeoTIFF equals the labelled one's" || bad "unlabelled scene map"
[ "$(head -c 8 "$tmp/sg_nl.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok "its PNG" || bad "unlabelled scene PNG"
expect 2 "eval on an unlabelled scene" "$LVIT" eval --run "$tmp/sg" --data "$tmp/sal_nl.lvd"
has "has no labels to score"
# eval on other data keeps the run's own files: its own go to confusion_test_NAME.csv ...
cp "$tmp/sal.lvd" "$tmp/sal_copy.lvd"
before=$(md5sum < "$tmp/sg/confusion_test.csv")
expect 0 "eval on another dataset" "$LVIT" eval --run "$tmp/sg" --data "$tmp/sal_copy.lvd"
has "wrote $tmp/sg/confusion_test_sal_copy.csv"
[ "$(md5sum < "$tmp/sg/confusion_test.csv")" = "$before" ] && cmp -s "$tmp/sg/confusion_test.csv" "$tmp/sg/confusion_test_sal_copy.csv" \
  && ok "the run's own confusion_test.csv untouched (and equal: the same data)" || bad "eval --data overwrote the run's files"
# the pixel classifier likewise: a GeoTIFF map (and the PNGs), the same on the unlabelled copy
expect 0 "classify predict to a GeoTIFF" "$LVIT" predict --run "$tmp/m" -o "$tmp/m_map.tif"
has "m_map_test.png: 2537 test pixels"
expect 0 "classify predict on the unlabelled scene" "$LVIT" predict --run "$tmp/m" --data "$tmp/sal_nl.lvd" -o "$tmp/m_nl.tif"
/usr/bin/python3 -c "
import sys
from osgeo import gdal
a, b = (gdal.Open(f).ReadAsArray() for f in sys.argv[1:3])
assert a.shape == (83, 86) and (a == b).all() and set(a.ravel().tolist()) <= {1, 10, 11, 12, 13, 14}" "$tmp/m_map.tif" "$tmp/m_nl.tif" \
  && ok "the classifier's GeoTIFF: class values, the same on the unlabelled scene" || bad "classifier GeoTIFF"
[ -f "$tmp/m_map.png" ] && [ -f "$tmp/m_nl.png" ] && [ ! -f "$tmp/m_nl_test.png" ] && ok "PNGs beside them (no _test.png without labels)" \
  || bad "classifier PNGs"
expect 0 "segment Landsat 7 on the polygon rasters" "$LVIT" train "${seg[@]}" --data "$tmp/l7.lvd" --run "$tmp/lg" --steps 120 \
  --train-labels "$tmp/poly0.tif" --test-labels "$tmp/poly1.tif"
has "by the label rasters --train-labels and --test-labels: 303 training pixels in"
expect 0 "eval" "$LVIT" eval --run "$tmp/lg" --json "$tmp/lg.json"
expect 0 "predict" "$LVIT" predict --run "$tmp/lg" -o "$tmp/lg_map.tif"
has "georeferenced as the input"
check_seg "$tmp/lg" "$tmp/lg.json" "$tmp/lg_map.tif" 1,2,3,4,5 1 "$L7/LE70220491999322EDC01_stack.gtif" \
  && ok "Landsat 7: scores, the GeoTIFF's geotransform and CRS those of the input" || bad "Landsat 7 segmentation checks"
expect 2 "segment with tiles too large to split" "$LVIT" train --task segment --data "$tmp/sal.lvd" --run "$tmp/x" --steps 1 \
  --patch 4 --window 64
has "window 64: no assignment of the 2x2 tiles of $tmp/sal.lvd puts every class in both"
expect 2 "segment with --split random" "$LVIT" train "${seg[@]}" --data "$tmp/sal.lvd" --run "$tmp/x" --steps 1 --split random
has "segmentation scores whole tiles"
expect 2 "segment with --channels multi" "$LVIT" train "${seg[@]}" --data "$tmp/sal.lvd" --run "$tmp/x" --steps 1 --channels multi
has "needs --channels agg"

# ---- layouts: sequence, data, ZeRO-3, tensor and pipeline parallelism and D-CHAG give the one-process
# losses (each rank scores its rows' pixels) and weights (1e-4 of each tensor's scale)
if mpi_setup 120; then
  # OpenMPI's plugins leak at exit (as for the other scripts with mpirun stages: leaks unchecked here)
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  lay=(--task segment --data "$tmp/sal.lvd" --dim 32 --depth 2 --heads 2 --decoder-depth 1 --patch 4 --window 16 --steps 6
       --log-every 1 --batch 4 --seed 5 --lr 0.003 --warmup 1 --threads 1)
  expect 0 "segment, one process" "$LVIT" train --run "$tmp/p1" "${lay[@]}"
  expect 0 "segment, one process, D-CHAG in 2 blocks" "$LVIT" train --run "$tmp/pc" "${lay[@]}" --channel-parallel 2
  for extra in "--sp 2" "--dp 2" "--dp 2 --zero 3" "--tp 2" "--pp 2" "--tp 2 --channel-parallel 2"; do
    d="$tmp/p_${extra// /_}" ref="$tmp/p1"
    case "$extra" in *channel-parallel*) ref="$tmp/pc" ;; esac
    expect 0 "segment, mpirun -np 2 $extra" mpi 2 "$LVIT" train --run "$d" "${lay[@]}" $extra
    /usr/bin/python3 "$ST_TENSORS" compare "$ref" "$d" --steps 6 --skip-key-bias \
      && ok "segment $extra: the one-process losses and weights (1e-4)" || bad "segment $extra differs from one process"
  done
else
  echo "skip: no mpirun: the layouts are not compared"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
