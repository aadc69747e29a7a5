#!/usr/bin/env bash
# The GPU checks of the CUDA backend, prepared here and run on a machine with a GPU (the device
# tool: its machine has nvcc and the driver but not lvit's Debian packages).
#
#   scripts/gpu-check.sh build [DIR]   here: compiles DIR/test_cuda_* (default gpu-check/): the CUDA
#                                      kernels for sm_90 and their CPU twins, with OpenBLAS, libgomp,
#                                      libstdc++ and the CUDA runtime linked statically, and copies
#                                      libcmocka beside it
#   scripts/gpu-check.sh run [DIR]     there: runs them (every kernel against the CPU one: ops,
#                                      flash attention, Reslim; then the whole model through both
#                                      kernel tables), prints the device and each error margin; exit
#                                      status: the first failing test's, else 0
#
# cuBLASLt (the linear layers) is loaded at run time: the toolkit has no static libcublasLt, and
# the shared one is 540 MB, far over what may travel (64 MiB). The GPU machine has it (its CUDA
# toolkit, or the nvidia-cublas wheel under PyTorch): run finds the soname the build recorded
# (DIR/cublaslt.soname) there, or takes LVIT_CUBLASLT_DIR.
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
  # the CPU twins the tests compare against: kernels, attention, the model and what it stands on
  srcs=("$root"/src/kernels/cpu/*.c "$root/src/kernels/cuda/kernels_cuda.c" "$root"/src/attention/*.c
        "$root/src/core/check.c" "$root/src/core/rng.c" "$root/src/core/log.c" "$root/src/core/json.c"
        "$root"/src/model/*.c "$root/src/parallel/seq_attn.c" "$root/src/optim/adamw.c")
  (cd "$dir" && gcc -std=c11 -O2 -fopenmp -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root/src" -I"$root/tests" \
    -I/usr/include/x86_64-linux-gnu/openblas-openmp -I/usr/include/x86_64-linux-gnu -c "${srcs[@]}" "$root"/tests/util_{test,cuda,ops,attn,model}.c)
  cobjs=("$dir"/*.o) # the CPU objects and the CUDA kernels
  for t in "$root"/tests/test_cuda_*.c; do
    name=$(basename "${t%.c}")
    gcc -std=c11 -O2 -fopenmp -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root/src" -I"$root/tests" \
      -I/usr/include/x86_64-linux-gnu/openblas-openmp -I/usr/include/x86_64-linux-gnu \
      "$t" "${cobjs[@]}" -o "$dir/$name" \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.a "$(gcc -print-file-name=libgomp.a)" \
      "$(gcc -print-file-name=libstdc++.a)" -L"$cudalib" -lcudart_static -lcmocka -ldl -lrt -lpthread -lm
  done
  cp -L /usr/lib/x86_64-linux-gnu/libcmocka.so.0 "$dir/"
  # cuBLASLt is loaded at run time (linear_cuda.cu dlopens it): record the soname to look for there
  soname=$(objdump -p "$cudalib/libcublasLt.so" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
  [ -n "$soname" ] || { echo "no libcublasLt.so in $cudalib" >&2; exit 1; }
  echo "$soname" >"$dir/cublaslt.soname"
  rm -f "$dir"/*.o
  echo "built $(ls "$dir" | grep -c '^test_cuda_') tests in $dir ($(du -sh "$dir" | cut -f1); needs $soname there); on the GPU machine: scripts/gpu-check.sh run $dir"
  ;;
run)
  ls "$dir"/test_cuda_* >/dev/null 2>&1 || { echo "no $dir/test_cuda_*: run scripts/gpu-check.sh build $dir first (here)" >&2; exit 2; }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  soname=$(cat "$dir/cublaslt.soname" 2>/dev/null || echo libcublasLt.so.13)
  # the toolkit's lib64, the loader's cache, then pip's nvidia wheels (nvidia/cu13/lib, nvidia/cublas/lib)
  ltdir=""
  for d in "${LVIT_CUBLASLT_DIR:-}" "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 \
           /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /usr/lib/x86_64-linux-gnu; do
    if [ -n "$d" ] && [ -e "$d/$soname" ]; then ltdir=$d; break; fi
  done
  if [ -z "$ltdir" ]; then
    f=$(ldconfig -p 2>/dev/null | awk -v so="$soname" '$1 == so {print $NF; exit}' || true)
    [ -n "$f" ] && ltdir=$(dirname "$f")
  fi
  if [ -z "$ltdir" ]; then
    for py in python3 /opt/torch/.venv/bin/python3; do
      sp=$("$py" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) || continue
      for s in $sp; do
        f=$(find "$s/nvidia" -maxdepth 3 -name "$soname" 2>/dev/null | head -1 || true)
        [ -n "$f" ] && { ltdir=$(dirname "$f"); break 2; }
      done
    done
  fi
  if [ -z "$ltdir" ]; then
    echo "gpu-check: $soname not found (CUDA toolkit lib64, ldconfig, pip's nvidia wheels): the tests cannot" \
         "start without it; set LVIT_CUBLASLT_DIR to the folder that holds it" >&2
    exit 3
  fi
  echo "cuBLASLt: $ltdir/$soname"
  rc=0
  for t in "$dir"/test_cuda_*; do
    echo "== $(basename "$t")"
    LD_LIBRARY_PATH="$dir:$ltdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" LVIT_TEST_VERBOSE=1 OMP_NUM_THREADS=8 "$t" || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }
  done
  exit "$rc"
  ;;
*)
  echo "usage: $0 build|run [DIR]" >&2
  exit 2
  ;;
esac
