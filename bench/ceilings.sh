#!/usr/bin/env bash
# The ceilings of a training step on this CPU, one thread: the fused multiply-add peak and OpenBLAS
# sgemm on the linear layers' own shapes of configs (a) and (d) (bench/ceilings.c, bench/README.md).
# usage: bench/ceilings.sh [OUT_FILE]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/torch_venv.sh"
set_openblas_coretype
bin=$(mktemp /tmp/lvit_ceilings_XXXXXX)
trap 'rm -f "$bin"' EXIT
gcc -O2 -std=gnu11 "$here/ceilings.c" -o "$bin" -lopenblas
{
  print_machine
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$bin"
} | tee "${1:-/dev/null}"
