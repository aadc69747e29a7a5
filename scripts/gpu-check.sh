#!/usr/bin/env bash
# The GPU checks of the CUDA backend, prepared here and run on a machine with a GPU (the device
# tool: its machine has nvcc and the driver but not lvit's Debian packages).
#
#   scripts/gpu-check.sh build [DIR]   here: compiles DIR/test_cuda (default gpu-check/): the CUDA
#                                      kernels for sm_90 and their CPU twins, with OpenBLAS, libgomp,
#                                      libstdc++ and the CUDA runtime linked statically, and copies
#                                      libcmocka beside it
#   scripts/gpu-check.sh run [DIR]     there: runs it (every kernel against the CPU one), prints the
#                                      device and each error margin; exit status = the test's
#
# With the device tool: build here, then run with carry ["gpu-check"] and the command
#   bash scripts/gpu-check.sh run 2>&1 | tee $OUT/gpu-check.log
set -euo pipefail
mode=${1:-}
dir=${2:-gpu-check}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$mode" in
build)
  nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  arch=${CUDA_ARCH:-sm_90}
  mkdir -p "$dir"
  objs=()
  for cu in "$root"/src/kernels/cuda/*.cu; do
    o="$dir/$(basename "${cu%.cu}").o"
    "$nvcc" -O3 -arch="$arch" -I"$root/src" -c "$cu" -o "$o"
    objs+=("$o")
  done
  cudalib=$(dirname "$(dirname "$nvcc")")/lib64
  gcc -std=c11 -O2 -fopenmp -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root/src" -I"$root/tests" \
    -I/usr/include/x86_64-linux-gnu/openblas-openmp -I/usr/include/x86_64-linux-gnu \
    "$root/tests/test_cuda.c" "$root/tests/util_test.c" "$root/src/kernels/cpu/ops_cpu.c" \
    "$root/src/kernels/cpu/embed_cpu.c" "$root/src/core/check.c" "${objs[@]}" -o "$dir/test_cuda" \
    /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.a "$(gcc -print-file-name=libgomp.a)" \
    "$(gcc -print-file-name=libstdc++.a)" -L"$cudalib" -lcudart_static -lcmocka -ldl -lrt -lpthread -lm
  cp -L /usr/lib/x86_64-linux-gnu/libcmocka.so.0 "$dir/"
  rm -f "$dir"/*.o
  echo "built $dir/test_cuda ($(du -sh "$dir" | cut -f1)); on the GPU machine: scripts/gpu-check.sh run $dir"
  ;;
run)
  [ -x "$dir/test_cuda" ] || { echo "no $dir/test_cuda: run scripts/gpu-check.sh build $dir first (here)" >&2; exit 2; }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" LVIT_TEST_VERBOSE=1 OMP_NUM_THREADS=8 "$dir/test_cuda"
  ;;
*)
  echo "usage: $0 build|run [DIR]" >&2
  exit 2
  ;;
esac
