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
