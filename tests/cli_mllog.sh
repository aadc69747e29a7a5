#!/usr/bin/env bash
# lvit train --mllog FILE and --target-val-loss: the MLPerf-HPC-style event log of a real run
# (keys, interval order, eval_accuracy equal to metrics.jsonl's val_loss at the same steps), the
# stop at a target (run_stop success) or without reaching it (aborted), refused flags and
# unwritable logs (exit 2 naming the file), only rank 0 writing under mpirun, and, where Python
# has the mlperf-logging package, the MLCommons compliance checker's common HPC rules on the log
# of a synthetic run and (with the storm data) of a storm run.
# usage: cli_mllog.sh LVIT_BINARY SOURCE_DIR   (MLPERF_PYTHON=a python with mlperf_logging)
set -u
LVIT=$1 SRC=$(cd "$2" && pwd)
. "$(dirname "$0")/lib_cli.sh"
tmp=$(mktemp -d /tmp/lvit_mllog_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=2
small=(--grid 16x16 --patch 4 --dim 16 --depth 1 --heads 2 --batch 4 --times 40 --seed 5 --log-every 100)

# check_log LOG RUN STATUS STEPS: every line is ':::MLLOG ' + JSON with the six fields; the
# required keys once; starts and stops paired; eval_accuracy = val_loss of metrics.jsonl
check_log() {
/usr/bin/python3 - "$@" <<'PY'
import json, sys
log, run, status, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ev = []
for line in open(log):
    assert line.startswith(":::MLLOG "), line
    e = json.loads(line[len(":::MLLOG "):])
    assert list(e) == ["namespace", "time_ms", "event_type", "key", "value", "metadata"], list(e)
    assert list(e["metadata"])[:2] == ["file", "lineno"] and e["metadata"]["lineno"] > 0, e
    ev.append(e)
keys = [e["key"] for e in ev]
for k in ["cache_clear", "init_start", "init_stop", "run_start", "run_stop", "staging_start", "staging_stop",
          "submission_benchmark", "submission_org", "submission_division", "submission_status",
          "submission_platform", "seed", "global_batch_size", "train_samples", "eval_samples", "opt_name",
          "opt_base_learning_rate", "number_of_ranks"]:
    assert keys.count(k) == 1, (k, keys.count(k))
assert keys.index("init_stop") < keys.index("run_start") < keys.index("run_stop") == len(keys) - 1
assert all(a["time_ms"] <= b["time_ms"] for a, b in zip(ev, ev[1:]))
open_ = {}
for e in ev:  # each interval closed before it opens again, with the same epoch
    name = e["key"].rsplit("_", 1)[0]
    if e["event_type"] == "INTERVAL_START":
        assert name not in open_, e; open_[name] = e["metadata"].get("epoch_num")
    elif e["event_type"] == "INTERVAL_END":
        assert name in open_, e
        if name in ("epoch", "eval"): assert open_[name] == e["metadata"]["epoch_num"], e
        del open_[name]
assert not open_, open_
stop = ev[-1]["metadata"]
assert stop["status"] == status and stop["step_num"] == steps, stop
val = {r["step"]: r["val_loss"] for r in map(json.loads, open(run + "/metrics.jsonl")) if "val_loss" in r}
acc = {e["metadata"]["step_num"]: e["value"] for e in ev if e["key"] == "eval_accuracy"}
assert acc.keys() == val.keys() and all(abs(acc[s] - val[s]) <= 1e-6 * val[s] for s in acc), (acc, val)
print("  %d lines, %d evaluations, %d epochs, run_stop %s at step %d" % (len(ev), len(acc), keys.count("epoch_start"),
                                                                        status, steps))
PY
}

expect 0 "train --mllog (synthetic, 12 steps, validation every 4)" "$LVIT" train --run "$tmp/a" "${small[@]}" --steps 12 \
  --val-every 4 --mllog "$tmp/a.log"
check_log "$tmp/a.log" "$tmp/a" success 12 && ok "log of the whole run" || bad "log of the whole run"
grep -q '"key": "global_batch_size", "value": 4,' "$tmp/a.log" && grep -q '"key": "seed", "value": 5,' "$tmp/a.log" &&
  ok "seed and global_batch_size as given" || bad "seed or global_batch_size"

expect 0 "--target-val-loss 100: stops at the first validation" "$LVIT" train --run "$tmp/b" "${small[@]}" --steps 12 \
  --val-every 4 --target-val-loss 100 --mllog "$tmp/b.log"
has "reached --target-val-loss 100; stopping"
check_log "$tmp/b.log" "$tmp/b" success 4 && ok "log: success at step 4" || bad "log of the target run"
[ "$(wc -l < "$tmp/b/metrics.jsonl")" -eq 4 ] && ok "4 steps in metrics.jsonl" || bad "metrics.jsonl of the target run"
expect 2 "--target-val-loss 0 refused (it was ignored)" "$LVIT" train --run "$tmp/z" "${small[@]}" --steps 2 --val-every 1 \
  --target-val-loss 0;  has "--target-val-loss 0 is out of range"
expect 0 "--mllog without validation: a warning" "$LVIT" train --run "$tmp/nv" "${small[@]}" --steps 2 --val-every 0 \
  --mllog "$tmp/nv.log";  has "no eval_start/eval_stop events"
expect 0 "--target-val-loss 1e-9: never reached" "$LVIT" train --run "$tmp/c" "${small[@]}" --steps 8 --val-every 4 \
  --target-val-loss 1e-9 --mllog "$tmp/c.log"
check_log "$tmp/c.log" "$tmp/c" aborted 8 && ok "log: aborted after all 8 steps" || bad "log of the missed target"

expect 2 "--target-val-loss without --val-every" "$LVIT" train --run "$tmp/d" "${small[@]}" --steps 4 --target-val-loss 1
has "give --val-every N"
expect 2 "--mllog into a missing folder" "$LVIT" train --run "$tmp/e" "${small[@]}" --steps 2 --mllog "$tmp/no/such.log"
has "$tmp/no/such.log"
if [ -w /dev/full ]; then
  expect 2 "--mllog /dev/full: the run finishes, exit 2" "$LVIT" train --run "$tmp/f" "${small[@]}" --steps 2 --mllog /dev/full
  has "cannot write '/dev/full'"
  [ -s "$tmp/f/model.safetensors" ] && ok "the model is written all the same" || bad "no model after a failed log"
fi

MPIRUN=$(command -v mpirun || true)
if [ -n "$MPIRUN" ] && ldd "$LVIT" | grep -q libmpi; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
  expect 0 "mpirun -np 2 --dp 2 --mllog" env OMP_NUM_THREADS=1 timeout $((120 * ${LVIT_TIME_SCALE:-1})) "$MPIRUN" \
    --oversubscribe -np 2 "$LVIT" train --run "$tmp/m" "${small[@]}" --steps 8 --val-every 4 --dp 2 --mllog "$tmp/m.log"
  check_log "$tmp/m.log" "$tmp/m" success 8 && grep -q '"key": "number_of_ranks", "value": 2,' "$tmp/m.log" &&
    ok "one writer, number_of_ranks 2" || bad "log under mpirun"
else
  echo "skip: mpirun part (no mpirun, or lvit built without MPI)"
fi

# a storm run's log (the issue's acceptance) where the storm data is present
storm="$SRC/../shared/data/ncl_storm_1996"
[ -d "$storm" ] || storm=/usr/share/ncarg/data/cdf
logs=("$tmp/a.log")
if [ -f "$storm/Tstorm.cdf" ]; then
  expect 0 "convert the storm data" "$LVIT" convert -o "$tmp/storm.lvd" "$storm/Pstorm.cdf" "$storm/Tstorm.cdf" \
    --split 0.625,0.125
  expect 0 "train --mllog on the storm data (20 steps)" "$LVIT" train --data "$tmp/storm.lvd" --run "$tmp/s" --leads 6,24 \
    --steps 20 --dim 32 --depth 1 --heads 2 --patch 3 --batch 4 --val-every 10 --mllog "$tmp/s.log"
  check_log "$tmp/s.log" "$tmp/s" success 20 && ok "storm log" || bad "storm log"
  size=$(stat -c %s "$tmp/storm.lvd")
  grep -q "\"key\": \"staging_stop\", \"value\": null, \"metadata\": {[^}]*\"bytes\": $size}" "$tmp/s.log" &&
    ok "staging read the $size bytes of the data file" || bad "staging bytes"
  logs+=("$tmp/s.log")
else
  echo "skip: storm run (no storm data in ../shared/data/ncl_storm_1996 or /usr/share/ncarg/data/cdf)"
fi

# the compliance checker: MLPERF_PYTHON, the venv beside the source folder, the one
# scripts/install-deps.sh makes, or python3
py=""
for c in "${MLPERF_PYTHON:-}" "$SRC/../venv-mllog/bin/python" /opt/lvit/mllog-venv/bin/python python3; do
  if [ -n "$c" ] && "$c" -c "import mlperf_logging.compliance_checker" 2>/dev/null; then py=$c; break; fi
done
if [ -n "$py" ]; then
  for l in "${logs[@]}"; do
    (cd "$tmp" && "$py" "$SRC/tools/mllog_check.py" "$l") >"$tmp/out" 2>&1 && ok "compliance checker: $(basename "$l")" ||
      { bad "compliance checker: $(basename "$l")"; sed 's/^/    /' "$tmp/out" | head -20; }
  done
  grep -v '"key": "init_stop"' "$tmp/a.log" > "$tmp/bad.log"
  (cd "$tmp" && "$py" "$SRC/tools/mllog_check.py" "$tmp/bad.log") >"$tmp/out" 2>&1 && bad "checker passed a log without init_stop" ||
    ok "checker refuses a log without init_stop"
else
  echo "skip: compliance checker (no Python with mlperf_logging: set MLPERF_PYTHON, or python3 -m venv ../venv-mllog && ../venv-mllog/bin/pip install mlperf-logging)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
