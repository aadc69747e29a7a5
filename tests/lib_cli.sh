# Shared helpers of the CLI tests (sourced): counters, expect CODE "what" cmd..., has "text".
# The caller sets $tmp (a scratch directory).
pass=0 fail=0
ok()  { pass=$((pass+1)); echo "ok   - $1"; }
bad() { fail=$((fail+1)); echo "FAIL - $1"; }
expect() {
  local code=$1 what=$2; shift 2
  "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ "$rc" -eq "$code" ]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, expected $code"; sed 's/^/    /' "$tmp/out" | tail -5; fi
}
has() { if grep -q -- "$1" "$tmp/out"; then ok "message mentions '$1'"; else bad "message lacks '$1'"; sed 's/^/    /' "$tmp/out" | tail -5; fi; }
# data_or_skip FILE WHAT: prints a skip line naming WHAT and exits 0 when FILE (real data from
# ../shared/data) is absent.
data_or_skip() {
  if [ ! -f "$1" ]; then
    echo "skip: $2 is not in ../shared/data ($1 missing)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
  fi
}
# storm_or_skip SOURCE_DIR: sets $storm to the folder with the 1996 storm files (../shared/data
# first, then Debian's libncarg-data), or prints a skip line and exits 0 when neither has them.
storm_or_skip() {
  storm="$1/../shared/data/ncl_storm_1996"
  [ -d "$storm" ] || storm=/usr/share/ncarg/data/cdf
  if [ ! -f "$storm/Tstorm.cdf" ]; then
    echo "skip: no storm data in ../shared/data/ncl_storm_1996 or /usr/share/ncarg/data/cdf (apt-get install libncarg-data)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
  fi
}

# signal_run SIGNAL LOGFILE METRICS cmd...: starts cmd in the background, waits until METRICS has
# a line (at most 30 s), sends SIGNAL to it and waits; sets $rc to its exit code
signal_run() {
  local sig=$1 log=$2 metrics=$3; shift 3
  "$@" >"$log" 2>&1 &
  local pid=$! i=0
  while [ $i -lt 300 ] && ! [ -s "$metrics" ]; do sleep 0.1; i=$((i + 1)); done
  sleep 0.5
  kill -"$sig" "$pid"
  wait "$pid"; rc=$?
}

# mpi_setup [LIMIT]: for the mpirun parts of a test: sets $MPIRUN, $T (LVIT_TIME_SCALE: sanitizer
# builds are slower, every limit scaled), the limit of `mpi` (LIMIT seconds, 120 unless given) and
# the environment below, then returns 0; returns 1 when there is no mpirun or $LVIT was built
# without MPI
mpi_setup() {
  MPIRUN=$(command -v mpirun || true)
  if [ -z "$MPIRUN" ] || ! ldd "$LVIT" | grep -q libmpi; then return 1; fi
  # as root mpirun needs the first two; more ranks than cores need oversubscription
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
  # containers often forbid the cross-memory attach that shared-memory transfers use by default
  export OMPI_MCA_btl_vader_single_copy_mechanism=none
  T=${LVIT_TIME_SCALE:-1}
  mpi_limit=${1:-120}
}
# mpi_or_skip [LIMIT]: mpi_setup, or (a test that is all MPI) a skip line and exit 0
mpi_or_skip() {
  mpi_setup "$@" && return 0
  echo "skip: no mpirun, or lvit built without MPI (apt-get install libopenmpi-dev openmpi-bin)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
}
# mpi NP cmd...: cmd on NP processes, killed after the limit of mpi_setup
mpi() { local np=$1; shift; timeout $((mpi_limit * T)) "$MPIRUN" --oversubscribe -np "$np" "$@"; }
# fmpi FAULT NP cmd...: the same with LVIT_FAULT=FAULT
fmpi() { local f=$1; shift; LVIT_FAULT=$f mpi "$@"; }

# tests/st_tensors.py: reads safetensors files; `compare` checks two runs against each other
ST_TENSORS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/st_tensors.py"
# st_python ARGS...: python3 where `import st_tensors` works (and writes no __pycache__ into tests/)
st_python() { PYTHONPATH="${ST_TENSORS%/*}" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$@"; }
