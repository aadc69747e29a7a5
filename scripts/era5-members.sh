#!/usr/bin/env bash
# The ERA5 ensemble sample (../shared/data/era5_eda_2017: z and t at 500/850 hPa, 10 members x 4
# analysis times, global 3 deg) as one lvit dataset of 40 fields for downscaling: every member of
# every time becomes its own "time", 6 hours apart in time-major order (pseudo time 10 j + k is
# member k of analysis time j), so that --split 0.5,0.25 trains on the first two analysis times
# (00 and 12 UTC 1 January 2017, all members), validates on the third and tests on the fourth
# (12 UTC 2 January): held-out weather, not just held-out members. The dates in the file are
# these pseudo times; the real ones are in this comment. Needs ecCodes' grib_copy and grib_set
# (libeccodes-tools).
# usage: scripts/era5-members.sh OUT.lvd [LVIT]
set -euo pipefail
out=${1:?usage: scripts/era5-members.sh OUT.lvd [LVIT]}
LVIT=${2:-build/lvit}
src=${ERA5_GRIB:-$(dirname "$0")/../../shared/data/era5_eda_2017/era5-levels-members.grib}
[ -f "$src" ] || { echo "era5-members: $src not found (../shared/data/era5_eda_2017)" >&2; exit 2; }
command -v grib_copy >/dev/null && command -v grib_set >/dev/null ||
  { echo "era5-members: grib_copy and grib_set are needed (apt-get install libeccodes-tools)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/lvit_era5_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
j=0
for when in "20170101 0" "20170101 1200" "20170102 0" "20170102 1200"; do
  set -- $when
  for k in 0 1 2 3 4 5 6 7 8 9; do
    i=$((10 * j + k)) h=$((6 * (10 * j + k)))
    day=$(date -u -d "2017-01-01 +$((h / 24)) days" +%Y%m%d)
    grib_copy -w dataDate=$1,dataTime=$2,number=$k "$src" "$tmp/m.grib"
    grib_set -s dataDate=$day,dataTime=$(((h % 24) * 100)),number=0 "$tmp/m.grib" "$tmp/f$(printf %02d $i).grib"
  done
  j=$((j + 1))
done
cat "$tmp"/f*.grib > "$tmp/members.grib"
"$LVIT" convert -o "$out" "$tmp/members.grib" --split 0.5,0.25
