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
