#!/usr/bin/env bash
# Installs what lvit needs on Debian 12 (run as root). With --torch also PyTorch, for the
# reference twin (tools/twin.py: regenerating test references, bench/bench_vs_torch.sh).
set -euo pipefail
pkgs=(build-essential cmake libopenblas-openmp-dev libcmocka-dev python3 python3-numpy
      libnetcdf-dev netcdf-bin libeccodes-dev libeccodes-tools libpng-dev libncarg-data libfftw3-dev
      libhdf5-dev hdf5-tools  # CXI scans (src/ptycho/scan_cxi.c); hdf5-tools: h5dump, the tests' second route
      libgdal-dev libmatio-dev libjpeg-dev gdal-bin  # image inputs (src/imagery); gdal-bin: tests' second route
      libopenmpi-dev openmpi-bin
      gfortran pkg-config  # the Fortran module and the installed-library test (tests/cli_install.sh)
      python3-venv)  # the MLCommons compliance checker's environment (below)
for a in "$@"; do
  case "$a" in
    --torch) pkgs+=(python3-torch) ;;
    *) echo "usage: $0 [--torch]" >&2; exit 2 ;;
  esac
done
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "installed: ${pkgs[*]}"
# The MLCommons logging package (PyPI) for tests/cli_mllog.sh's compliance check, in its own
# environment; without network the test prints that it skips the checker and checks the rest.
venv=/opt/lvit/mllog-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import mlperf_logging" 2>/dev/null; then
  if python3 -m venv "$venv" && "$venv/bin/pip" install -q mlperf-logging; then
    echo "installed: mlperf-logging in $venv"
  else
    echo "warning: mlperf-logging not installed (no PyPI?); cli_mllog will skip the compliance checker" >&2
  fi
fi
