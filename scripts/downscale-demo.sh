#!/usr/bin/env bash
# Downscaling demo (ORBIT-2's Reslim and TILES) on real fields, a few minutes on 2 cores.
#  1. The January 1996 storm analyses (1.25 x 2.5 deg, 33 x 36, 64 times): coarse inputs are 3 x 3
#     area means (3.75 x 7.5 deg); Reslim is trained on the first 40 times, the best of every 100
#     steps on the next 8 is kept, and the last 16 are scored against bilinear and bicubic
#     interpolation; maps of coarse input, truth, prediction and error for one test time.
#  2. (unless --storm-only) The ERA5 ensemble sample (global 3 deg, 40 fields, scripts/era5-members.sh)
#     coarsened by 3: one model trained on whole fields (and one on the difference from bicubic
#     interpolation, --base bicubic), evaluated whole and in 2 x 2 TILES with
#     halos of 0, 2 and 4 rows (the seam: the difference to whole-field inference), and two models
#     trained on TILES, with the column halos clamped at the date line or wrapped round it
#     (the date-line seam: the error in the columns next to it).
# usage: scripts/downscale-demo.sh [--storm-only] [RUN_DIR]   (LVIT=path/to/lvit, default build/lvit)
set -euo pipefail
cd "$(dirname "$0")/.."
LVIT=${LVIT:-build/lvit}
only=0
if [ "${1:-}" = "--storm-only" ]; then only=1; shift; fi
run=${1:-runs/downscale}
S=${STORM_DIR:-../shared/data/ncl_storm_1996}
[ -f "$S/Tstorm.cdf" ] || S=/usr/share/ncarg/data/cdf
[ -f "$S/Tstorm.cdf" ] || { echo "storm data not found: ../shared/data/ncl_storm_1996 or apt-get install libncarg-data" >&2; exit 2; }
mkdir -p "$run"
"$LVIT" convert -o "$run/storm.lvd" "$S/Pstorm.cdf" "$S/Tstorm.cdf" "$S/Ustorm.cdf" "$S/Vstorm.cdf" \
  "$S/U500storm.cdf" "$S/V500storm.cdf" --rename U500storm.cdf:u=u500,V500storm.cdf:v=v500 --split 0.625,0.125 > /dev/null
# t weighs 3 in the loss: its fine structure (land, coasts) is what bicubic interpolation gets best
"$LVIT" train --overwrite --task downscale --scale 3 --data "$run/storm.lvd" --run "$run/storm" --static lat --var-weights t=3 \
  --steps 1000 --lr 2e-3 --dim 64 --depth 3 --heads 4 --patch 2 --batch 8 --val-every 100 --log-every 250 --base none
"$LVIT" eval --run "$run/storm" --json "$run/storm/downscale.json"
"$LVIT" predict --run "$run/storm" --time 56 -o "$run/storm/fine_t56.nc" --plot "$run/storm" > /dev/null
# the same, learning the difference from bicubic interpolation (beyond ORBIT-2)
"$LVIT" train --overwrite --task downscale --scale 3 --data "$run/storm.lvd" --run "$run/storm_base" --static lat --var-weights t=3 \
  --steps 1000 --lr 2e-3 --dim 64 --depth 3 --heads 4 --patch 2 --batch 8 --val-every 100 --log-every 500 --base bicubic
"$LVIT" eval --run "$run/storm_base" --json "$run/storm_base/downscale.json" | tail -8
echo "storm: maps $run/storm/*_t56_x3.png, fine fields $run/storm/fine_t56.nc, scores $run/storm/downscale.json"
[ "$only" = 1 ] && exit 0

scripts/era5-members.sh "$run/era5.lvd" "$LVIT" > /dev/null
common=(--task downscale --scale 3 --data "$run/era5.lvd" --static lat --steps 800 --lr 2e-3 --dim 64 --depth 3
        --heads 4 --patch 2 --batch 8 --val-every 100 --log-every 400)
"$LVIT" train --overwrite "${common[@]}" --run "$run/era5" --base none
"$LVIT" eval --run "$run/era5" --json "$run/era5/whole.json"
# beyond ORBIT-2: learn the difference from the bicubic interpolation (20 training fields)
"$LVIT" train --overwrite "${common[@]}" --run "$run/era5_base" --base bicubic
"$LVIT" eval --run "$run/era5_base" --json "$run/era5_base/whole.json" | tail -6
for h in 0 2 4; do
  "$LVIT" eval --run "$run/era5" --tiles 2 --halo $h --periodic off --json "$run/era5/tiles2_halo$h.json" | tail -6
done
for per in off auto; do
  "$LVIT" train --overwrite "${common[@]}" --run "$run/era5_tiles_$per" --tiles 2 --halo 2 --periodic $per --base none
  "$LVIT" eval --run "$run/era5_tiles_$per" --tiles 2 --halo 2 --periodic $per --json "$run/era5_tiles_$per/tiled.json" | tail -6
done
echo "global: scores in $run/era5*/*.json"
