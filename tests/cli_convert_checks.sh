#!/usr/bin/env bash
# lvit convert refuses what a red-team pass found it crashing on or reading wrongly (exit 2, the
# file and what was expected named, no output left): Zarr v2 metadata that crashed libnetcdf
# (SIGSEGV), a missing chunk of an array without a fill value (read as zeros), values beyond
# +-1e30 in images (GeoTIFF, ENVI) and in image datasets, a truncated ENVI raster (read as
# zeros), --rename entries naming no input or variable, and values repeated in --vars/--levels.
# usage: cli_convert_checks.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
tmp=$(mktemp -d /tmp/lvit_cvt_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_cli.sh"
no_output() { if [ -e "$tmp/x.lvd" ]; then bad "a refused input left $1"; rm -f "$tmp/x.lvd"; else ok "no output left"; fi; }
# refuse WHAT TEXT cmd...: exit 2, the message has TEXT, nothing written at $tmp/x.lvd
refuse() { local what=$1 text=$2; shift 2; expect 2 "$what" "$@"; has "$text"; no_output; }

echo "# 1. Zarr metadata libnetcdf crashed on is refused before it opens the store"
cat > "$tmp/g.cdl" <<'EOF'
netcdf g {
dimensions: time = 3 ; lat = 3 ; lon = 4 ;
variables:
  double time(time) ; time:units = "hours since 2000-01-01 00:00:00" ;
  double lat(lat) ; lat:units = "degrees_north" ;
  double lon(lon) ; lon:units = "degrees_east" ;
  float t2m(time, lat, lon) ; t2m:units = "K" ;
data:
  time = 0, 6, 12 ; lat = 10, 20, 30 ; lon = 0, 90, 180, 270 ;
  t2m = 280, 281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 281, 282, 283, 284, 285, 286, 287, 288, 289,
        290, 291, 292, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292, 293 ;
}
EOF
ncgen -k nc4 -o "$tmp/g.nc" "$tmp/g.cdl"
# nccopy writes NCZarr with "fill_value": null (no fill value), as libnetcdf 4.9 does
if nccopy "$tmp/g.nc" "file://$tmp/z.zarr#mode=nczarr,file" 2>/dev/null && [ -f "$tmp/z.zarr/t2m/0.0.0" ]; then
  expect 0 "a whole NCZarr store" "$LVIT" convert -o "$tmp/z.lvd" "$tmp/z.zarr"
  mkzarr() { rm -rf "$tmp/b.zarr"; cp -r "$tmp/z.zarr" "$tmp/b.zarr"; }
  mkzarr; echo '{garbage' > "$tmp/b.zarr/t2m/.zarray"
  refuse ".zarray that is no JSON" "b.zarr: t2m/.zarray: line 1, column 2" "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
  mkzarr; sed -i 's/"_ARRAY_DIMENSIONS": \["time","lat","lon"\]/"_ARRAY_DIMENSIONS": ["time","lat"]/' "$tmp/b.zarr/t2m/.zattrs"
  refuse "_ARRAY_DIMENSIONS of another rank" \
    't2m/.zattrs: "_ARRAY_DIMENSIONS" has 2 names; expected 3, one per dimension of the shape in t2m/.zarray' \
    "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
  mkzarr; sed -i 's/"<f4"/"|O"/' "$tmp/b.zarr/t2m/.zarray"
  refuse 'dtype "|O"' 't2m/.zarray: "dtype" is "|O"; expected a number type' "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
  mkzarr; sed -i 's/"shape": \[3,3,4\], //' "$tmp/b.zarr/t2m/.zarray"
  refuse "a .zarray without shape" 't2m/.zarray: "shape" is absent' "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
  mkzarr; sed -i 's/"dimrefs": \["\/time","\/lat","\/lon"\]/"dimrefs": ["\/time","\/lat","\/zz"]/' "$tmp/b.zarr/t2m/.zarray"
  refuse "an NCZarr dimension that is not declared" 'dimension "/zz" of "dimrefs" is not declared' \
    "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
  mkzarr; rm -r "$tmp/b.zarr/lat"
  refuse "an NCZarr store without its lat folder" ".zgroup lists the variable 'lat', but the store has no lat/.zarray" \
    "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
  no_source_file() { if grep -Eq '[A-Za-z_]+\.(c|h):[0-9]+' "$tmp/out"; then bad "message names a source file"; else ok "no source file in the message"; fi; }
  no_source_file
  echo "# 2. a missing chunk of an array without a fill value is refused, not read as zeros"
  mkzarr; rm "$tmp/b.zarr/t2m/0.0.0"
  refuse "a missing chunk, fill_value null" \
    "t2m: chunk $tmp/b.zarr/t2m/0.0.0 is missing and t2m/.zarray declares no fill value" \
    "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
  mkzarr; rm "$tmp/b.zarr/t2m/0.0.0"; sed -i 's/"fill_value": null/"fill_value": "NaN"/' "$tmp/b.zarr/t2m/.zarray"
  refuse "a missing chunk with a NaN fill: its cells are missing" "every one of its 3 x 3 x 4 cells is missing" \
    "$LVIT" convert -o "$tmp/x.lvd" "$tmp/b.zarr"
else
  echo "skip: this nccopy writes no NCZarr store"
fi

echo "# 3. values beyond +-1e30 in images; 4. a truncated ENVI raster"
# envi NAME VALUE_AT_BAND2_ROW1_COL3: 3 bands of 4x5 float32, BSQ, little-endian
envi() {
  printf 'ENVI\nsamples = 5\nlines = 4\nbands = 3\nheader offset = 0\nfile type = ENVI Standard\ndata type = 4\ninterleave = bsq\nbyte order = 0\n' > "$tmp/$1.hdr"
  /usr/bin/env python3 -c "
import struct, sys
v = [float(k % 17) for k in range(60)]; v[20 + 5 + 3] = float(sys.argv[2])
open(sys.argv[1], 'wb').write(struct.pack('<60f', *v))" "$tmp/$1.img" "$2"
}
envi ok 7
expect 0 "a whole ENVI raster" "$LVIT" convert -o "$tmp/ok.lvd" "$tmp/ok.img"
envi huge 3e38
refuse "an ENVI value of 3e38" "huge.img: band 2 (band_002) holds 3e+38 at pixel (row 1, column 3), which is not marked nodata" \
  "$LVIT" convert -o "$tmp/x.lvd" "$tmp/huge.img"
expect 0 "--nodata marks it missing" "$LVIT" convert -o "$tmp/nd.lvd" "$tmp/huge.img" --nodata 3.00000001e+38
if command -v gdal_translate >/dev/null; then
  gdal_translate -q -of GTiff "$tmp/huge.img" "$tmp/huge.tif"
  refuse "a GeoTIFF value of 3e38" "huge.tif: band 2 (band_002) holds 3e+38 at pixel (row 1, column 3)" \
    "$LVIT" convert -o "$tmp/x.lvd" "$tmp/huge.tif"
fi
cp "$tmp/ok.hdr" "$tmp/cut.hdr"; head -c 100 "$tmp/ok.img" > "$tmp/cut.img"
refuse "an ENVI raster cut to 100 bytes" \
  "cut.img: truncated: its ENVI header cut.hdr describes 3 bands of 4x5 Float32 values (240 bytes from byte 0), but cut.img has 100 bytes" \
  "$LVIT" convert -o "$tmp/x.lvd" "$tmp/cut.img"
# an image dataset holding 3e38 (written by an lvit without the check): opening it refuses it
cp "$tmp/ok.lvd" "$tmp/h.lvd"
/usr/bin/env python3 - "$tmp/h.lvd" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
lo = json.loads(b[8:8 + n])["data"]["data_offsets"][0]
struct.pack_into("<f", b, 8 + n + lo + 4 * (20 + 5 + 3), 3e38)
open(sys.argv[1], "wb").write(b)
PY
expect 2 "training on an image dataset holding 3e38" "$LVIT" train --task mae --data "$tmp/h.lvd" --run "$tmp/run" --steps 1
has "h.lvd: band 'band_002' holds 3e+38 in image 0 at pixel (row 1, column 3), a cell marked valid"

echo "# 5. --rename entries that name nothing; 6. values repeated in --vars and --levels"
cdf=$tmp/g.nc
refuse "--rename of a variable the file lacks" "--rename g.nc:zz=foo: g.nc has no variable 'zz' (its variables: t2m)" \
  "$LVIT" convert -o "$tmp/x.lvd" "$cdf" --rename g.nc:zz=foo
refuse "--rename of a file that is no input" "--rename nofile.cdf:t2m=foo: no input is named nofile.cdf (the inputs: g.nc)" \
  "$LVIT" convert -o "$tmp/x.lvd" "$cdf" --rename nofile.cdf:t2m=foo
refuse "--rename VAR=NAME of no variable" "--rename zz=foo: no input has a variable 'zz' (the variables read: t2m)" \
  "$LVIT" convert -o "$tmp/x.lvd" "$cdf" --rename zz=foo
expect 0 "--rename of a variable that is there" "$LVIT" convert -o "$tmp/r.lvd" "$cdf" --rename g.nc:t2m=temp
has "t2m from g.nc named temp (--rename)"
refuse "--vars t2m,t2m" "--vars lists 't2m' twice" "$LVIT" convert -o "$tmp/x.lvd" "$cdf" --vars t2m,t2m
refuse "--levels 500,500.0" "--levels lists 500 hPa twice" "$LVIT" convert -o "$tmp/x.lvd" "$cdf" --levels 500,500.0
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
