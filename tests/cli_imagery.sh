#!/usr/bin/env bash
# Image inputs through the binary: the README's convert commands for the four remote-sensing data
# sets in ../shared/data, lvit info on the results, exit codes of refused inputs and flags, and
# the climate tasks refusing an image dataset. Values are checked in tests/test_imagery*.c.
# usage: cli_imagery.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
D="$SRC/../shared/data"
if [ ! -f "$D/salinasA_aviris/SalinasA.mat" ] || [ ! -d "$D/eurosat_rgb_subset75" ] || [ ! -d "$D/bigearthnet_s2_tiny" ] ||
   [ ! -d "$D/landsat7_opengeo_tutorial" ]; then
  echo "skip: the remote-sensing data (salinasA_aviris, landsat7_opengeo_tutorial, eurosat_rgb_subset75, bigearthnet_s2_tiny) is not in $D"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d /tmp/lvit_imagery_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
S=$D/salinasA_aviris L=$D/landsat7_opengeo_tutorial

expect 0 "Salinas-A: .mat cube, label map, AVIRIS water bands dropped" "$LVIT" convert -o "$tmp/salinas.lvd" \
  "$S/SalinasA.mat" --labels "$S/SalinasA_gt.mat" --drop-bands 108-112,154-167,224
has "1 image of 204 bands, 83x86 pixels; labels: label raster, 6 classes"
expect 0 "lvit info on it" "$LVIT" info "$tmp/salinas.lvd"
has "dataset: images, 1 image of 204 bands, 83x86"; has "class_14 .* 799 pixels"; has "dropped bands 108-112,154-167,224"
expect 0 "Landsat 7: two GeoTIFF dates and the training raster" "$LVIT" convert -o "$tmp/landsat.lvd" \
  "$L/LE70220491999322EDC01_stack.gtif" "$L/LE70220492002106EDC00_stack.gtif" --labels "$L/training_data.gtif" \
  --classes 1=forest,2=water,3=herbaceous,4=barren,5=urban --split 1,0
has "2 images of 8 bands, 250x250 pixels; labels: label raster, 5 classes; images for training 2"
expect 0 "EuroSAT: a JPEG folder with its labels CSV" "$LVIT" convert -o "$tmp/eurosat.lvd" "$D/eurosat_rgb_subset75" \
  --labels "$D/eurosat_rgb_subset75/test_labels.csv" --csv-columns Filename,ClassName
has "75 images of 3 bands, 64x64 pixels; labels: one class per image, 10 classes"
expect 0 "BigEarthNet: 12 bands resampled to 10 m, multi-label" "$LVIT" convert -o "$tmp/ben.lvd" "$D/bigearthnet_s2_tiny"
has "3 images of 12 bands, 120x120 pixels; labels: multi-label, 6 classes"
expect 0 "lvit info on it" "$LVIT" info "$tmp/ben.lvd"
has "Pastures .* 2 images"
ls "$tmp" | grep -q '\.tmp\.' && bad "temporary file left" || ok "no temporary files left"

expect 2 "a wrong .mat variable" "$LVIT" convert -o "$tmp/x.lvd" "$S/SalinasA.mat" --var salinas
has "SalinasA.mat: no variable 'salinas'"; has "salinasA (83x86x224"
head -c 300000 "$L/LE70220492002106EDC00_stack.gtif" > "$tmp/cut.gtif"
expect 2 "a truncated GeoTIFF" "$LVIT" convert -o "$tmp/x.lvd" "$tmp/cut.gtif";  has "cut.gtif: cannot read band"
expect 2 "--labels naming a CSV for a raster" "$LVIT" convert -o "$tmp/x.lvd" "$S/SalinasA.mat" --labels "$tmp/l.csv"
has "not a CSV"
expect 2 "--drop-bands out of range" "$LVIT" convert -o "$tmp/x.lvd" "$S/SalinasA.mat" --drop-bands 0-3;  has "--drop-bands 0-3"
expect 2 "a missing scene with --labels" "$LVIT" convert -o "$tmp/x.lvd" "$S/SalinasA_corrected.mat" --labels "$S/SalinasA_gt.mat"
has "SalinasA_corrected.mat: No such file or directory"
expect 2 "a climate flag on images" "$LVIT" convert -o "$tmp/x.lvd" "$S/SalinasA.mat" --levels 500;  has "--levels"
if [ -f "$D/ncl_storm_1996/Tstorm.cdf" ]; then
  expect 2 "an image flag on climate files" "$LVIT" convert -o "$tmp/x.lvd" "$D/ncl_storm_1996/Tstorm.cdf" --drop-bands 1
  has "--drop-bands applies to image inputs"
fi
expect 2 "--label-var without --labels" "$LVIT" convert -o "$tmp/x.lvd" "$S/SalinasA.mat" --label-var x;  has "--labels"
[ -e "$tmp/x.lvd" ] && bad "failed conversion left an output" || ok "failed conversions leave no output"
expect 2 "forecast training on an image dataset" "$LVIT" train --data "$tmp/salinas.lvd" --run "$tmp/run" --steps 1
has "is an image dataset"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
