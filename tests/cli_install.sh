#!/usr/bin/env bash
# The installed library (cmake/library.cmake): configure and build the libraries afresh, cmake
# --install them into a temporary prefix, then from
# a fresh directory build examples/forecast.c with pkg-config and with find_package(lvit), and the
# Fortran tests (tests/fortran) with gfortran, and check that their forecasts equal lvit predict's
# and the Fortran classifier's logits the C API's (on Salinas-A, skipped without ../shared/data).
# usage: cli_install.sh LVIT_BINARY SOURCE_DIR (the binary trains the model and predicts the reference)
set -u
LVIT=$1 SRC=$2
BUILD=$(cd "$(dirname "$LVIT")" && pwd)
tmp=$(mktemp -d /tmp/lvit_install_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_cli.sh"
skipped=0
skip() { skipped=$((skipped+1)); echo "skip - $1"; }
finish() { echo "$pass passed, $fail failed, $skipped skipped"; [ "$fail" -eq 0 ]; exit $?; }

# a sanitizer build's library needs the sanitizer runtime loaded first in every program that uses it
if [ -n "${ASAN_OPTIONS:-}" ] || grep -q "^LVIT_SANITIZE:BOOL=ON" "$BUILD/CMakeCache.txt" 2>/dev/null; then
  skip "sanitizer build (-DLVIT_SANITIZE=ON): programs linking its liblvit.so would need libasan preloaded"
  finish
fi
command -v python3 >/dev/null || { skip "no python3 (reads lvit predict's safetensors)"; finish; }

prefix=$tmp/prefix
# a fresh build tree of the libraries only (about 15 s on 2 cores), CPU-only as the library is
lib=$tmp/build
expect 0 "configure" cmake -S "$SRC" -B "$lib" -DCMAKE_BUILD_TYPE=Release -DLVIT_WITH_CUDA=OFF -DLVIT_WITH_MPI=OFF
expect 0 "build liblvit.so and liblvit.a" cmake --build "$lib" -j 2 --target lvit_shared lvit_static
expect 0 "cmake --install" cmake --install "$lib" --prefix "$prefix"
for f in include/lvit.h lib/liblvit.a lib/liblvit.so lib/liblvit.so.0 lib/pkgconfig/lvit.pc \
         lib/cmake/lvit/lvitConfig.cmake share/lvit/fortran/lvit.f90; do
  [ -e "$prefix/$f" ] && ok "installed $f" || bad "missing $prefix/$f"
done
if readelf -d "$prefix/lib/liblvit.so" 2>/dev/null | grep -q "SONAME.*liblvit.so.0"; then ok "SONAME liblvit.so.0"; else bad "SONAME"; fi
# only the public API is exported
if nm -D --defined-only "$prefix/lib/liblvit.so" | awk '{print $3}' | grep -v '^lvit_' | grep -Eqv '^LVIT_[0-9]+$'; then
  bad "liblvit.so exports more than lvit_*"; nm -D --defined-only "$prefix/lib/liblvit.so" | grep -v lvit_ | head -5
else ok "liblvit.so exports lvit_* only"; fi

# a small trained model and lvit predict's forecast from time 30, +6 h
run=$tmp/run
expect 0 "train a small model" "$LVIT" train --run "$run" --steps 3 --vars 2 --grid 15x30 --patch 4 --dim 16 \
  --depth 1 --heads 2 --batch 2 --times 40 --threads 2
expect 0 "lvit predict" "$LVIT" predict --run "$run" --time 30 --lead 6 -o "$tmp/pred.safetensors" --threads 2
python3 - "$tmp/pred.safetensors" "$tmp" <<'PY' && ok "initial and forecast fields extracted" || bad "reading pred.safetensors"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for name in ("initial", "forecast"):
    s, e = h[name]["data_offsets"]
    open(f"{sys.argv[2]}/{name}.raw", "wb").write(b[8 + n + s:8 + n + e])
PY
same() { # same A.raw B.raw: float32 files equal to 1e-5 relative to the largest value
  python3 - "$1" "$2" <<'PY'
import struct, sys
a, b = (open(p, "rb").read() for p in sys.argv[1:3])
x, y = (struct.unpack(f"{len(a)//4}f", a), struct.unpack(f"{len(b)//4}f", b))
assert len(x) == len(y) and x, (len(x), len(y))
s = max(max(abs(v) for v in y), 1e-30)
d = max(abs(p - q) for p, q in zip(x, y)) / s
print(f"max relative difference {d:.3g}")
sys.exit(0 if d <= 1e-5 else 1)
PY
}

work=$tmp/fresh
mkdir -p "$work"
cp "$SRC/examples/forecast.c" "$SRC/examples/CMakeLists.txt" "$work/"
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if command -v pkg-config >/dev/null; then
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  expect 0 "pkg-config --modversion lvit" pkg-config --modversion lvit;  has "0.1.0"
  expect 0 "cc forecast.c \$(pkg-config --cflags --libs lvit)" \
    bash -c "cd '$work' && cc -std=c11 -O2 forecast.c \$(pkg-config --cflags --libs lvit) -lm -o forecast_pc"
  expect 0 "forecast (pkg-config build): metadata" "$work/forecast_pc" "$run/model.safetensors";  has "grid 15x30"
  expect 0 "forecast (pkg-config build)" "$work/forecast_pc" "$run/model.safetensors" "$tmp/initial.raw" 6 "$tmp/out_pc.raw"
  expect 0 "C forecast == lvit predict" same "$tmp/out_pc.raw" "$tmp/forecast.raw"
  expect 1 "a missing checkpoint is an error message" "$work/forecast_pc" "$tmp/none.safetensors";  has "none.safetensors"
  expect 0 "static link: \$(pkg-config --static --libs lvit)" \
    bash -c "cd '$work' && cc -std=c11 -O2 forecast.c \$(pkg-config --cflags lvit) '$prefix/lib/liblvit.a' \$(pkg-config --static --libs lvit) -lm -o forecast_static"
  expect 0 "forecast (static build)" "$work/forecast_static" "$run/model.safetensors" "$tmp/initial.raw" 6 "$tmp/out_st.raw"
  expect 0 "static forecast == lvit predict" same "$tmp/out_st.raw" "$tmp/forecast.raw"
else
  skip "no pkg-config"
fi

expect 0 "cmake find_package(lvit)" cmake -S "$work" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix"
expect 0 "build the example with lvit::lvit" cmake --build "$work/build"
expect 0 "forecast (find_package build)" "$work/build/forecast" "$run/model.safetensors" "$tmp/initial.raw" 6 "$tmp/out_cm.raw"
expect 0 "find_package forecast == lvit predict" same "$tmp/out_cm.raw" "$tmp/forecast.raw"

if command -v gfortran >/dev/null; then
  expect 0 "gfortran: the lvit module and the test" bash -c "cd '$work' && gfortran -O2 -c '$prefix/share/lvit/fortran/lvit.f90' && \
    gfortran -O2 '$SRC/tests/fortran/forecast_test.f90' lvit.o -L'$prefix/lib' -llvit -o forecast_f"
  expect 0 "Fortran forecast == lvit predict" "$work/forecast_f" "$run/model.safetensors" "$tmp/initial.raw" 6 "$tmp/forecast.raw"
  has "fortran forecast ok"
  # the image functions (lvit_classify, lvit_num_classes) on a tiny classifier of the real Salinas-A
  # scene; the reference logits come from the C API through the installed header (about 3 s)
  S="$SRC/../shared/data/salinasA_aviris"
  if [ -f "$S/SalinasA.mat" ] && [ -f "$S/SalinasA_gt.mat" ]; then
    expect 0 "convert Salinas-A (20 bands)" "$LVIT" convert -o "$tmp/sal.lvd" "$S/SalinasA.mat" \
      --labels "$S/SalinasA_gt.mat" --drop-bands 21-224
    expect 0 "train a tiny classifier" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/cls" \
      --patch 3 --window 9 --steps 2 --dim 32 --depth 1 --heads 2 --decoder-depth 1 --threads 2
    expect 0 "cc classify_ref.c against the installed lvit.h and liblvit.so" bash -c "cd '$work' && \
      cc -std=c11 -O2 -I'$prefix/include' '$SRC/tests/fortran/classify_ref.c' -L'$prefix/lib' -llvit -lm -o classify_ref && \
      gfortran -O2 '$SRC/tests/fortran/classify_test.f90' lvit.o -L'$prefix/lib' -llvit -o classify_f"
    expect 0 "C API logits of a 9x9 window" "$work/classify_ref" "$tmp/cls/model.safetensors" "$tmp/cls_in.raw" "$tmp/cls_logits.raw"
    has "classify window 9x9, 20 bands, 6 classes"
    expect 0 "Fortran lvit_classify == C lvit_classify" "$work/classify_f" "$tmp/cls/model.safetensors" "$tmp/cls_in.raw" "$tmp/cls_logits.raw"
    has "fortran classify ok"; has "first class class_1, last class class_14"
  else
    skip "Fortran classify: salinasA_aviris/SalinasA.mat and SalinasA_gt.mat are not in $SRC/../shared/data"
  fi
else
  skip "no gfortran (apt-get install gfortran; scripts/install-deps.sh)"
fi
finish
