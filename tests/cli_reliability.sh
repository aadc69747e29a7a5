#!/usr/bin/env bash
# Runs that cannot be lost or hijacked (issue 20): one run per run directory (lock, identity,
# --overwrite), every write of the training job checked, SIGINT/SIGHUP as graceful stops, flag
# combinations that cannot make sense refused, --max-skips N stopping at the Nth skip.
# usage: cli_reliability.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
T=${LVIT_TIME_SCALE:-1}
tmp=$(mktemp -d /tmp/lvit_rel_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_cli.sh"

B=(--vars 2 --dim 16 --depth 1 --heads 2 --batch 2 --log-every 1000)
S=("${B[@]}" --grid 8x16 --times 40 --steps 12)
LONG=(--vars 2 --grid 8x16 --dim 16 --depth 1 --heads 2 --batch 2 --times 40 --steps 1000000 --log-every 100000)
no_source_file() { if grep -Eq '[A-Za-z_]+\.(c|h):[0-9]+' "$tmp/out"; then bad "message names a source file"; sed 's/^/    /' "$tmp/out" | tail -3; else ok "no source file in the message"; fi; }
# $tmp/dfl CMD...: runs CMD with SIGINT and SIGHUP at their defaults (a script's background jobs
# start with SIGINT ignored, and lvit keeps an ignored SIGINT or SIGHUP ignored, as under nohup)
cat > "$tmp/dfl" <<'PY'
#!/usr/bin/python3
import os, signal, sys
for s in (signal.SIGINT, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])
PY
chmod +x "$tmp/dfl"
wait_metrics() { local i=0; while [ $i -lt $((300 * T)) ] && ! [ -s "$1" ]; do sleep 0.1; i=$((i + 1)); done; }

echo "# 1a. the lock: one live run per run directory"
"$LVIT" train --run "$tmp/lk" "${LONG[@]}" > "$tmp/lk.log" 2>&1 &
pid=$!
wait_metrics "$tmp/lk/metrics.jsonl"
expect 2 "lock: a second lvit train on a live run directory" "$LVIT" train --run "$tmp/lk" "${S[@]}" --overwrite
has "run directory '$tmp/lk' is in use by another lvit train (PID $pid"
expect 2 "lock: --resume of a live run" "$LVIT" train --run "$tmp/lk" "${S[@]}" --resume
has "belongs to a live run (PID $pid"
[ "$(wc -l < "$tmp/lk/metrics.jsonl")" -gt 0 ] && kill -0 $pid 2>/dev/null && ok "lock: the live run went on" || bad "lock: the live run was disturbed"
kill -TERM $pid; wait $pid; rc=$?
[ "$rc" -eq 0 ] && ok "lock: the live run stopped by SIGTERM (exit 0)" || bad "lock: the live run exited $rc"
expect 0 "lock: released when the run ends" "$LVIT" train --run "$tmp/lk" "${S[@]}" --overwrite
"$LVIT" train --run "$tmp/kl" "${LONG[@]}" > /dev/null 2>&1 &
pid=$!
wait_metrics "$tmp/kl/metrics.jsonl"
kill -9 $pid; wait $pid 2>/dev/null
expect 0 "lock: released by the kernel when the holder is SIGKILLed" "$LVIT" train --run "$tmp/kl" "${S[@]}" --overwrite

echo "# 1b. the run identity: --resume refuses another run's checkpoint"
expect 1 "a run with checkpoints that dies at step 7" env LVIT_FAULT=0:7 "$LVIT" train --run "$tmp/id" "${S[@]}" --ckpt-every 3
grep -q '"identity":"[0-9a-f]\{16\}"' "$tmp"/id/ckpt/step_00000006/manifest.json && ok "the manifest records the run identity" \
  || bad "no identity in $(cat "$tmp"/id/ckpt/step_00000006/manifest.json)"
cp -r "$tmp/id" "$tmp/id2"
expect 2 "--resume with another --seed" "$LVIT" train --run "$tmp/id" "${S[@]}" --resume --seed 7
has "belongs to another run"; has "--seed 42"; has "--resume-from-other"
expect 2 "--resume on other data (--times 60)" "$LVIT" train --run "$tmp/id" "${B[@]}" --grid 8x16 --steps 12 --resume --times 60
has "it was trained on other data"; has "times 40 in the checkpoint, 60 in this run"
expect 2 "--resume with another model (--decoder-depth 1)" "$LVIT" train --run "$tmp/id" "${S[@]}" --resume --decoder-depth 1
has "holds another model"; has "decoder_depth 2 in the checkpoint, 1 in this run"
grep -q "resume-from-other" "$tmp/out" && bad "--resume-from-other suggested for a state that cannot be loaded" || ok "no --resume-from-other suggested for another model's state"
expect 2 "--resume-from-other cannot load another model's state" "$LVIT" train --run "$tmp/id" "${S[@]}" --resume --resume-from-other --decoder-depth 1
has "cannot be loaded"
expect 0 "--resume-from-other on other data continues" "$LVIT" train --run "$tmp/id" "${B[@]}" --grid 8x16 --steps 12 --resume --resume-from-other --times 60 --seed 7
has "resume-from-other: .*belongs to another run"; has "times 40 in the checkpoint, 60 in this run"
cp -r "$tmp/id2" "$tmp/id3"
/usr/bin/python3 - "$tmp/id3/ckpt/step_00000006/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for k in ("identity", "data", "steps", "warmup"): del m[k]
json.dump(m, open(sys.argv[1], "w"))
PY
expect 2 "an old manifest: another --batch still refused" "$LVIT" train --run "$tmp/id3" --vars 2 --dim 16 --depth 1 \
  --heads 2 --batch 4 --grid 8x16 --times 40 --steps 12 --resume;  has "it was written with --batch 2 --seed 42"
expect 0 "--resume from a manifest written before identities" "$LVIT" train --run "$tmp/id3" "${S[@]}" --resume
has "written before run identities"
expect 0 "--resume of the same run" "$LVIT" train --run "$tmp/id2" "${S[@]}" --resume;  has "resumed at step 6"
expect 2 "--resume-from-other without --resume" "$LVIT" train --run "$tmp/idx" "${S[@]}" --resume-from-other;  has "goes with --resume"

echo "# 1c. a new run does not silently reuse a directory that holds a run"
expect 2 "a new run in a finished run's directory" "$LVIT" train --run "$tmp/id2" "${S[@]}"
has "run directory '$tmp/id2' already holds a run (model.safetensors, metrics.jsonl, ckpt/)"; has "--overwrite"
mkdir -p "$tmp/ck/ckpt"
expect 2 "a new run where only ckpt/ is" "$LVIT" train --run "$tmp/ck" "${S[@]}";  has "already holds a run (ckpt/)"
expect 2 "--overwrite with --resume" "$LVIT" train --run "$tmp/id2" "${S[@]}" --overwrite --resume;  has "give one of them"
expect 0 "--overwrite" "$LVIT" train --run "$tmp/id2" "${S[@]}" --overwrite --seed 5
[ ! -e "$tmp/id2/ckpt" ] && ok "--overwrite removed the earlier run's checkpoints" || bad "earlier checkpoints left: $(ls "$tmp/id2/ckpt")"
expect 2 "nothing of the earlier run to resume" "$LVIT" train --run "$tmp/id2" "${S[@]}" --seed 5 --resume;  has "no complete checkpoint"

echo "# 2. every write checked"
"$LVIT" train --run "$tmp/straight" "${S[@]}" --val-every 4 >/dev/null 2>&1
mkdir -p "$tmp/full" && ln -s /dev/full "$tmp/full/metrics.jsonl"
expect 2 "metrics.jsonl on a full disk (/dev/full)" "$LVIT" train --run "$tmp/full" "${S[@]}" --val-every 4 --overwrite
has "cannot write '$tmp/full/metrics.jsonl': No space left on device"; has "ckpt/step_00000002"; no_source_file
[ -s "$tmp/full/model.safetensors" ] && [ -e "$tmp/full/ckpt/step_00000002/manifest.json" ] \
  && ok "stopped after step 2 with a checkpoint and the weights" || bad "no checkpoint or weights after the metrics failure"
rm "$tmp/full/metrics.jsonl"
expect 0 "--resume once metrics.jsonl can be written" "$LVIT" train --run "$tmp/full" "${S[@]}" --val-every 4 --resume
cmp -s "$tmp/straight/model.safetensors" "$tmp/full/model.safetensors" && ok "resumed after the metrics failure = straight run" \
  || bad "resumed after the metrics failure differs"
# the final model cannot be written: its temporary file's name is a directory
( mkdir -p "$tmp/mw/model.safetensors.tmp.$BASHPID"; exec "$LVIT" train --run "$tmp/mw" "${S[@]}" --val-every 4 ) > "$tmp/out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && ok "a failed final model write exits 2" || bad "a failed final model write exits $rc"
has "cannot write the trained model: $tmp/mw/model.safetensors"; has "Is a directory"
has "the weights are in the checkpoint $tmp/mw/ckpt/step_00000012"; no_source_file
[ -e "$tmp/mw/ckpt/step_00000012/manifest.json" ] && ok "a checkpoint of the last step written on the way out" || bad "no fallback checkpoint"
rmdir "$tmp"/mw/model.safetensors.tmp.*
expect 0 "--resume writes the model from the fallback checkpoint" "$LVIT" train --run "$tmp/mw" "${S[@]}" --val-every 4 --resume
cmp -s "$tmp/straight/model.safetensors" "$tmp/mw/model.safetensors" && ok "model from the fallback checkpoint = straight run" \
  || bad "model from the fallback checkpoint differs"
has "no step left to take"; grep -q "nan" "$tmp/out" && bad "a resumed finished run prints nan" || ok "no nan printed"

echo "# 3. signals: SIGINT and SIGHUP stop gracefully; a second SIGINT within 3 s aborts"
for sig in INT HUP; do
  signal_run $sig "$tmp/out" "$tmp/s$sig/metrics.jsonl" "$tmp/dfl" "$LVIT" train --run "$tmp/s$sig" "${LONG[@]}"
  [ "$rc" -eq 0 ] && ok "SIG$sig: exit 0" || bad "SIG$sig: exit $rc"
  has "received SIG$sig: stopping after step"
  [ -s "$tmp/s$sig/model.safetensors" ] && ls "$tmp"/s$sig/ckpt/*/manifest.json >/dev/null 2>&1 \
    && ok "SIG$sig: checkpoint and weights written" || bad "SIG$sig: no checkpoint or no weights"
done
( trap '' HUP; exec "$LVIT" train --run "$tmp/nohup" "${LONG[@]}" ) > "$tmp/out" 2>&1 &
pid=$!
wait_metrics "$tmp/nohup/metrics.jsonl"
kill -HUP $pid; sleep 0.5
kill -0 $pid 2>/dev/null && ok "SIGHUP ignored at start (nohup) stays ignored" || bad "SIGHUP under nohup stopped the run"
kill -TERM $pid; wait $pid; rc=$?
[ "$rc" -eq 0 ] && ok "then SIGTERM: exit 0" || bad "then SIGTERM: exit $rc"
"$LVIT" train --run "$tmp/sa" "${S[@]}" >/dev/null 2>&1
expect 0 "SIGTERM then SIGINT during the checkpoint of step 4" env LVIT_FAULT=signal:0:4:TERM,INT "$LVIT" train --run "$tmp/sb" "${S[@]}" --ckpt-every 4
has "received SIGINT: stopping after step 5"
[ -e "$tmp/sb/ckpt/step_00000004/manifest.json" ] && ok "the checkpoint in progress was completed" || bad "the checkpoint of step 4 was aborted"
expect 0 "--resume after SIGTERM + SIGINT" "$LVIT" train --run "$tmp/sb" "${S[@]}" --ckpt-every 4 --resume
cmp -s "$tmp/sa/model.safetensors" "$tmp/sb/model.safetensors" && ok "stopped by signals and resumed = straight run" || bad "signals + resume differs"
expect 130 "two SIGINTs within 3 s abort at once" env LVIT_FAULT=signal:0:4:INT,INT "$LVIT" train --run "$tmp/sc" "${S[@]}" --ckpt-every 4
has "a second SIGINT within 3 s: aborting now"
[ ! -e "$tmp/sc/ckpt/step_00000004/manifest.json" ] && [ ! -e "$tmp/sc/model.safetensors" ] \
  && ok "aborted at once (no manifest, no outputs)" || bad "the second SIGINT did not abort"

echo "# 4. flag combinations that cannot make sense"
expect 2 "--min-lr above --lr" "$LVIT" train --run "$tmp/f" "${S[@]}" --lr 1e-3 --min-lr 1e-2;  has "--min-lr 0.01 is above the learning rate 0.001 (--lr)"
expect 2 "--warmup = --steps" "$LVIT" train --run "$tmp/f" "${S[@]}" --warmup 12;  has "--warmup 12 is not below the 12 steps (--steps)"
expect 2 "--steps 0" "$LVIT" train --run "$tmp/f" "${B[@]}" --steps 0;  has "--steps 0 trains nothing"
expect 2 "a patch larger than the grid" "$LVIT" train --run "$tmp/f" "${B[@]}" --grid 33x36 --patch 40;  has "--patch 40 is larger than the 33x36 data grid"
expect 2 "a patch larger than the coarse grid" "$LVIT" train --run "$tmp/f" "${S[@]}" --task downscale --scale 4 --patch 8
has "--patch 8 is larger than the 2x4 coarse grid"
[ ! -e "$tmp/f" ] && ok "refused before the run directory is created" || bad "a refused run created $tmp/f"
# resume with a longer --steps: the cosine schedule is extended, the warmup kept
L40=("${B[@]}" --grid 8x16 --times 40 --ckpt-every 10)
expect 1 "a 40-step run dies at step 23" env LVIT_FAULT=0:23 "$LVIT" train --run "$tmp/ex" "${L40[@]}" --steps 40
expect 0 "--resume with --steps 60" "$LVIT" train --run "$tmp/ex" "${L40[@]}" --steps 60 --resume
has "--steps 60 instead of the 40 of the run that wrote .*: the cosine schedule is extended to end at step 60 (warmup 2 steps)"
"$LVIT" train --run "$tmp/ref60" "${L40[@]}" --steps 60 --warmup 2 --quiet >/dev/null 2>&1
if /usr/bin/python3 - "$tmp/ex/metrics.jsonl" "$tmp/ref60/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
assert len(a) == 60 and len(b) == 60, (len(a), len(b))
assert [r["lr"] for r in a[20:]] == [r["lr"] for r in b[20:]], "lr after the resume is not the 60-step schedule"
assert a[19]["lr"] != b[19]["lr"], "the first 20 steps should be the 40-step schedule"
PY
then ok "after the resume the lr follows the 60-step cosine with the warmup of 2"; else bad "extended schedule"; fi

echo "# 5. --max-skips N: the Nth consecutive skip stops the run"
expect 1 "NaN from step 3 on, --max-skips 2" env LVIT_FAULT=nan:3-12 "$LVIT" train --run "$tmp/ms" "${S[@]}" --max-skips 2
has "stopped at step 4 after 2 consecutive skipped updates"
[ "$(wc -l < "$tmp/ms/metrics.jsonl")" -eq 4 ] && ok "4 steps run (2 applied, 2 skipped)" || bad "$(wc -l < "$tmp/ms/metrics.jsonl") steps run"
expect 0 "NaN at steps 3-4, --max-skips 3: goes on" env LVIT_FAULT=nan:3-4 "$LVIT" train --run "$tmp/ms3" "${S[@]}" --max-skips 3
has "2 updates skipped in all"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
