#!/usr/bin/env bash
# Command-line behaviour of the real binary: exit codes, messages, files written.
# usage: cli_basic.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
tmp=$(mktemp -d /tmp/lvit_cli_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_cli.sh"

expect 0 "lvit help" "$LVIT" help;                     has "train"
expect 2 "no command" "$LVIT"
expect 2 "unknown command" "$LVIT" frobnicate;          has "unknown command 'frobnicate'"
expect 0 "train --help" "$LVIT" train --help;           has "--channels"
expect 2 "unknown flag" "$LVIT" train --run "$tmp/r" --bogus 3;  has "unknown option '--bogus'"
# --device cuda: runs where there is a GPU, else a clear refusal (no GPU, no driver, or no CUDA in the build)
if nvidia-smi -L >/dev/null 2>&1 && ldd "$LVIT" >/dev/null 2>&1; then
  expect 0 "--device cuda on a GPU" "$LVIT" bench --device cuda --steps 1 --warmup 0 --dim 32 --depth 1 --heads 2
else
  expect 2 "--device cuda without a GPU" "$LVIT" bench --device cuda --steps 1;  has "--device cuda: "
fi
expect 2 "malformed integer" "$LVIT" train --run "$tmp/r" --steps 12x;  has "--steps expects an integer"
expect 2 "missing value" "$LVIT" train --run "$tmp/r" --lr;  has "--lr needs a value"
expect 2 "bad choice" "$LVIT" train --run "$tmp/r" --channels both;  has "agg|multi"
expect 2 "missing --run" "$LVIT" train --steps 1;       has "--run RUN_DIR is required"
expect 2 "heads do not divide dim" "$LVIT" train --run "$tmp/r" --dim 32 --heads 3;  has "--heads 3 does not divide --dim 32"
expect 2 "bad grid" "$LVIT" train --run "$tmp/r" --grid 32by64;  has "--grid expects HxW"
expect 2 "bad leads" "$LVIT" train --run "$tmp/r" --leads 6,x;  has "--leads"
expect 2 "lead not a multiple of the step" "$LVIT" train --run "$tmp/r" --leads 5 --steps 1;  has "no two times 5 h apart"
expect 2 "out-of-range value" "$LVIT" train --run "$tmp/r" --batch 0;  has "out of range"
expect 2 "unknown dataset" "$LVIT" train --run "$tmp/r" --data /nonexistent.nc;  has "/nonexistent.nc"
expect 2 "run dir is a file" "$LVIT" train --run /etc/hostname --steps 1;  has "/etc/hostname"

# a real (small) training run: files, metrics, learning
expect 0 "train small model" "$LVIT" train --run "$tmp/run" --steps 80 --vars 3 --grid 16x32 --dim 32 --depth 2 \
  --heads 2 --batch 4 --lr 2e-3 --log-every 20 --seed 3
has "ms/step"; has "tokens/s"; has "ETA"
[ -s "$tmp/run/model.safetensors" ] && ok "model.safetensors written" || bad "model.safetensors missing"
ls "$tmp/run" | grep -q tmp && bad "temporary file left in run dir" || ok "no temporary files left"
if /usr/bin/python3 - "$tmp/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 80, len(rows)
assert [r["step"] for r in rows] == list(range(1, 81))
for r in rows: assert {"loss", "lr", "grad_norm", "ms", "tokens_per_s"} <= set(r)
first = sum(r["loss"] for r in rows[:10]) / 10
last = sum(r["loss"] for r in rows[-10:]) / 10
print("loss first 10 %.4f last 10 %.4f" % (first, last))
assert last < 0.7 * first, "loss did not go down"
PY
then ok "metrics.jsonl: 80 valid lines, loss decreases"; else bad "metrics.jsonl"; fi

expect 0 "info on the checkpoint" "$LVIT" info --all "$tmp/run/model.safetensors";  has "model: agg channels, 3 variables"; has "blocks.1.mlp.fc2.weight"
expect 0 "predict" "$LVIT" predict --run "$tmp/run" --lead 6 -o "$tmp/pred.safetensors";  has "wrote"
[ -s "$tmp/pred.safetensors" ] && ok "prediction written" || bad "prediction missing"
expect 2 "predict past the end of the data" "$LVIT" predict --run "$tmp/run" --time 399 --lead 12 -o "$tmp/p2.safetensors";  has "--time 399"
expect 2 "predict with a lead the data lacks" "$LVIT" predict --run "$tmp/run" --lead 5 -o "$tmp/p5.nc";  has "--lead 5: no two times 5 h apart"
# an output that is one of the job's inputs is refused, and the input is left as it was
sum0=$(md5sum < "$tmp/run/model.safetensors")
expect 2 "predict onto the checkpoint" "$LVIT" predict --run "$tmp/run" -o "$tmp/run/model.safetensors";  has "would destroy it"
expect 2 "eval --json onto the metrics" "$LVIT" eval --run "$tmp/run" --json "$tmp/run/metrics.jsonl";  has "a file of the run"
expect 2 "plot onto the metrics" "$LVIT" plot --run "$tmp/run" -o "$tmp/run/metrics.jsonl";  has "the metrics file it plots"
expect 2 "export onto its input" "$LVIT" export --timm "$tmp/run/model.safetensors" -o "$tmp/run/./model.safetensors";  has "the checkpoint it exports"
[ "$(md5sum < "$tmp/run/model.safetensors")" = "$sum0" ] && ok "the checkpoint is unchanged" || bad "the checkpoint was changed"
expect 0 "init writes a checkpoint" "$LVIT" init --channels multi --vars 2 --grid 8x8 --dim 16 --depth 1 --heads 2 -o "$tmp/init.safetensors"
expect 0 "info on it" "$LVIT" info "$tmp/init.safetensors";  has "model: multi channels"

expect 2 "info on a missing file" "$LVIT" info "$tmp/nope.safetensors";  has "nope.safetensors"
head -c 100 "$tmp/run/model.safetensors" > "$tmp/trunc.safetensors"
expect 2 "info on a truncated file" "$LVIT" info "$tmp/trunc.safetensors";  has "trunc.safetensors"
expect 2 "--init with a checkpoint of another shape" "$LVIT" train --run "$tmp/r2" --steps 1 --init "$tmp/init.safetensors";  has "init.safetensors"

# a grid that is not a multiple of the patch is padded with masked cells, never cropped
expect 0 "train on a 15x30 grid with patch 4" "$LVIT" train --run "$tmp/pad" --steps 3 --vars 2 --grid 15x30 --patch 4 \
  --dim 16 --depth 1 --heads 2 --batch 2 --times 40
expect 0 "info shows the padded model grid" "$LVIT" info "$tmp/pad/model.safetensors";  has '"img_size":\[16,32\]'
expect 0 "predict on the padded model" "$LVIT" predict --run "$tmp/pad" --time 30 -o "$tmp/pad.safetensors"
if /usr/bin/python3 - "$tmp/pad.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
assert h["forecast"]["shape"] == [2, 15, 30], h["forecast"]["shape"]
assert h["lat"]["shape"] == [15]
PY
then ok "prediction is on the 15x30 data grid (padding removed)"; else bad "prediction grid"; fi

# validation during training: val_loss in metrics.jsonl, the best weights kept
expect 0 "train with --val-every" "$LVIT" train --run "$tmp/val" --steps 12 --vars 2 --grid 8x16 --dim 16 --depth 1 \
  --heads 2 --batch 2 --times 40 --val-every 4 --log-every 6
has "validation loss every 4 steps"; has "kept the weights of step"
if /usr/bin/python3 - "$tmp/val/metrics.jsonl" "$tmp/out" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
v = {r["step"]: r["val_loss"] for r in rows if "val_loss" in r}
assert sorted(v) == [4, 8, 12], v
best = min(v, key=v.get)
m = re.search(r"kept the weights of step (\d+) \(validation loss ([0-9.]+)", open(sys.argv[2]).read())
assert int(m.group(1)) == best and abs(float(m.group(2)) - v[best]) < 1e-5, (m.groups(), v)
PY
then ok "val_loss at steps 4, 8, 12; the kept step has the lowest"; else bad "validation lines"; fi
small=(--vars 2 --grid 8x16 --dim 16 --depth 1 --heads 2 --batch 2 --times 40 --steps 12 --quiet)
"$LVIT" train --run "$tmp/nv" "${small[@]}" >/dev/null 2>&1
"$LVIT" train --run "$tmp/lv" "${small[@]}" --val-every 3 --keep last >/dev/null 2>&1
cmp -s "$tmp/nv/model.safetensors" "$tmp/lv/model.safetensors" && ok "validation does not change training (--keep last is bit-identical)" \
  || bad "weights differ with validation on"
"$LVIT" train --run "$tmp/ev" "${small[@]}" --val-every 3 --keep last --ema 0.9 >/dev/null 2>&1
if /usr/bin/python3 - "$tmp/nv" "$tmp/ev" <<'PY'
import json, struct, sys
def rows(d): return [json.loads(l) for l in open(d + "/metrics.jsonl")]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert [r["loss"] for r in a] == [r["loss"] for r in b], "training losses changed"
def tensors(d):
    raw = open(d + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n]); h.pop("__metadata__", None)
    return {k: raw[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]] for k, v in h.items()}
ta, tb = tensors(sys.argv[1]), tensors(sys.argv[2])
assert ta.keys() == tb.keys() and any(ta[k] != tb[k] for k in ta), "EMA weights equal the trained ones"
PY
then ok "--ema: same training losses, different (averaged) saved weights"; else bad "--ema"; fi
expect 0 "loss curve with validation" "$LVIT" plot --run "$tmp/val" -o "$tmp/val/loss.png"
expect 2 "--keep best without validation data" "$LVIT" train --run "$tmp/v2" --steps 2 --vars 2 --grid 8x16 --dim 16 \
  --depth 1 --heads 2 --batch 2 --times 40 --val-frac 0 --keep best;  has "--keep best needs validation samples"
expect 2 "--keep with a bad choice" "$LVIT" train --run "$tmp/v2" --keep first;  has "best|last"

# a non-finite loss skips the update; too many in a row stop the run with the last good weights
expect 0 "a NaN batch at step 5" env LVIT_FAULT=nan:5 "$LVIT" train --run "$tmp/nan1" "${small[@]}"
has "1 updates skipped in all"
expect 1 "NaN from step 3 on, --max-skips 2" env LVIT_FAULT=nan:3-12 "$LVIT" train --run "$tmp/nan2" "${small[@]}" --max-skips 2
has "stopped at step 4 after 2 consecutive skipped updates"
if /usr/bin/python3 - "$tmp/nan1" "$tmp/nan2" <<'PY'
import json, math, struct, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
assert rows[4].get("skipped") == "nonfinite" and rows[4]["loss"] is None, rows[4]
assert all("skipped" not in r for i, r in enumerate(rows) if i != 4)
for d in sys.argv[1:]:
    raw = open(d + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n]); h.pop("__metadata__", None)
    for k, v in h.items():
        s, e = v["data_offsets"]
        assert all(math.isfinite(x) for x in struct.unpack("<%df" % ((e - s) // 4), raw[8 + n + s: 8 + n + e])), (d, k)
PY
then ok "skipped step logged as null with \"skipped\"; saved weights finite"; else bad "non-finite handling"; fi

expect 0 "--skip-spikes with a tiny threshold" "$LVIT" train --run "$tmp/spk" --vars 2 --grid 8x16 --dim 16 --depth 1 --heads 2 --batch 2 --times 40 --steps 40 --quiet --skip-spikes 0.3 --max-skips 1000
if /usr/bin/python3 - "$tmp/spk/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sk = [r["step"] for r in rows if r.get("skipped") == "spike"]
assert sk and min(sk) > 20, sk  # needs 20 applied steps of history first
PY
then ok "loss spikes above the z-score are skipped (after 20 steps of history)"; else bad "--skip-spikes"; fi

# SIGTERM (a scheduler's warning): finish the step, write the weights, exit 0
signal_run TERM "$tmp/out" "$tmp/sig/metrics.jsonl" "$LVIT" train --run "$tmp/sig" --vars 2 --grid 8x16 --dim 16 --depth 1 \
  --heads 2 --batch 2 --times 40 --steps 1000000 --log-every 100000
[ "$rc" -eq 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM: exit $rc"
has "received SIGTERM: stopping after step"
[ -s "$tmp/sig/model.safetensors" ] && ok "SIGTERM: weights written" || bad "SIGTERM: no model.safetensors"
n=$(wc -l < "$tmp/sig/metrics.jsonl"); [ "$n" -gt 0 ] && [ "$n" -lt 1000000 ] && ok "SIGTERM: stopped after $n steps" || bad "SIGTERM: $n metrics lines"

# training-state checkpoints: a run stopped and resumed equals the straight run, bit for bit
R=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 4 --steps 20 --seed 3 --times 80 --val-every 5 --ckpt-every 5 --ema 0.9 --quiet)
same_run() { # dirA dirB: identical weights and metrics (timings aside)
  cmp -s "$1/model.safetensors" "$2/model.safetensors" && /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
a, b = ([{k: v for k, v in json.loads(l).items() if k not in ("ms", "tokens_per_s")} for l in open(d + "/metrics.jsonl")] for d in sys.argv[1:])
assert a == b, [(x, y) for x, y in zip(a, b) if x != y][:2]
PY
}
"$LVIT" train --run "$tmp/ra" "${R[@]}" >/dev/null 2>&1
expect 1 "a run that dies at step 13" env LVIT_FAULT=0:13 "$LVIT" train --run "$tmp/rb" "${R[@]}"
cp -r "$tmp/rb" "$tmp/rc"
mkdir -p "$tmp/rb/ckpt/step_00000099"   # a checkpoint without its manifest is never used
expect 0 "--resume" "$LVIT" train --run "$tmp/rb" "${R[@]}" --resume;  has "done: 20 steps (resumed at step 10)"
same_run "$tmp/ra" "$tmp/rb" && ok "resumed run = straight run (weights bit for bit, metrics)" || bad "resumed run differs"
ls "$tmp/rb/ckpt" | grep -q step_00000005 && bad "old checkpoints not pruned (--ckpt-keep 2)" || ok "old checkpoints pruned"
# SIGKILL at an arbitrary moment after the first checkpoint, then resume
"$LVIT" train --run "$tmp/rk" "${R[@]}" >/dev/null 2>&1 &
pid=$!; i=0
while [ $i -lt 300 ] && ! ls "$tmp"/rk/ckpt/*/manifest.json >/dev/null 2>&1; do sleep 0.02; i=$((i + 1)); done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
if ls "$tmp"/rk/ckpt/*/manifest.json >/dev/null 2>&1 && [ ! -s "$tmp/rk/model.safetensors" ]; then
  expect 0 "--resume after SIGKILL" "$LVIT" train --run "$tmp/rk" "${R[@]}" --resume
  same_run "$tmp/ra" "$tmp/rk" && ok "resumed after SIGKILL = straight run" || bad "resumed after SIGKILL differs"
else
  ok "SIGKILL came after the run finished (nothing to resume; timing)"
fi
# a corrupted newest checkpoint is passed over with the reason (issue 20, defect 11); with every
# checkpoint corrupted the resume is refused
cp -r "$tmp/rc" "$tmp/rd"
st="$tmp/rc/ckpt/step_00000010/state_00000.safetensors"
printf '\x55' | dd of="$st" bs=1 seek=$(( $(stat -c %s "$st") - 100 )) conv=notrunc 2>/dev/null
expect 0 "--resume past a corrupted newest checkpoint" "$LVIT" train --run "$tmp/rc" "${R[@]}" --resume;  has "fails its checksum"
has "resuming from $tmp/rc/ckpt/step_00000005, the newest intact checkpoint"
same_run "$tmp/ra" "$tmp/rc" && ok "resumed from step 5 = straight run" || bad "resumed from step 5 differs"
for st in "$tmp"/rd/ckpt/step_*/state_00000.safetensors; do
  printf '\x55' | dd of="$st" bs=1 seek=$(( $(stat -c %s "$st") - 100 )) conv=notrunc 2>/dev/null
done
expect 2 "--resume with every checkpoint corrupted" "$LVIT" train --run "$tmp/rd" "${R[@]}" --resume
has "none of the 2 complete checkpoints in $tmp/rd/ckpt is intact"
expect 2 "--resume without checkpoints" "$LVIT" train --run "$tmp/none" "${R[@]}" --resume;  has "no complete checkpoint"
# preempted by SIGTERM (checkpoint written on the way out), resumed: the straight run, bit for bit
P=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 4 --times 80 --steps 80 --seed 5 --quiet --val-every 20 --ema 0.9)
"$LVIT" train --run "$tmp/pa" "${P[@]}" >/dev/null 2>&1
signal_run TERM "$tmp/out" "$tmp/pb/metrics.jsonl" "$LVIT" train --run "$tmp/pb" "${P[@]}"
if [ "$rc" -eq 0 ] && ls "$tmp"/pb/ckpt/*/manifest.json >/dev/null 2>&1; then
  expect 0 "--resume after SIGTERM" "$LVIT" train --run "$tmp/pb" "${P[@]}" --resume;  has "resumed at step"
  same_run "$tmp/pa" "$tmp/pb" && ok "preempted by SIGTERM and resumed = straight run" || bad "SIGTERM + resume differs"
elif [ "$rc" -eq 0 ] && [ -s "$tmp/pb/model.safetensors" ] && [ "$(wc -l < "$tmp/pb/metrics.jsonl")" -eq 80 ]; then
  ok "the run finished before SIGTERM arrived (timing; nothing to resume)"
else
  bad "SIGTERM run: exit $rc, no checkpoint"
fi
# SIGKILL at random moments of a run that checkpoints every step (so often in the middle of
# writing one), resumed each time: still the straight run, bit for bit
K=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 4 --steps 20 --seed 3 --times 80 --val-every 5 --ema 0.9 --quiet --ckpt-every 1)
kills=0
mani() { cat "$tmp"/rr/ckpt/*/manifest.json 2>/dev/null | md5sum; }
for d in 0.05 0 0.12 0.02 0.08; do   # each time: once a new checkpoint is there, d seconds more
  [ -s "$tmp/rr/model.safetensors" ] && break
  res=(--overwrite); ls "$tmp"/rr/ckpt/*/manifest.json >/dev/null 2>&1 && res=(--resume)
  before=$(mani)
  "$LVIT" train --run "$tmp/rr" "${K[@]}" "${res[@]}" >/dev/null 2>&1 &
  pid=$!; i=0
  while [ $i -lt 400 ] && kill -0 $pid 2>/dev/null && [ "$(mani)" = "$before" ]; do sleep 0.02; i=$((i + 1)); done
  sleep "$d"; kill -9 $pid 2>/dev/null && kills=$((kills + 1)); wait $pid 2>/dev/null
done
if [ ! -s "$tmp/rr/model.safetensors" ]; then
  res=(--overwrite); ls "$tmp"/rr/ckpt/*/manifest.json >/dev/null 2>&1 && res=(--resume)
  "$LVIT" train --run "$tmp/rr" "${K[@]}" "${res[@]}" >/dev/null 2>&1
fi
same_run "$tmp/ra" "$tmp/rr" && ok "$kills random SIGKILLs (checkpoint every step), resumed each time = straight run" || bad "random SIGKILLs: resumed run differs"
# killed after the checkpoint of the last step, before model.safetensors: --resume writes it
rm "$tmp/rr/model.safetensors"
expect 0 "--resume from the checkpoint of the last step" "$LVIT" train --run "$tmp/rr" "${K[@]}" --resume;  has "resumed at step 20)"
same_run "$tmp/ra" "$tmp/rr" && ok "outputs rewritten from the last step's checkpoint = straight run" || bad "outputs from the last checkpoint differ"
# what a kill in the middle of a write leaves (a checkpoint's files without its manifest, a
# temporary file) is never read, and is cleaned up once a newer checkpoint is complete
expect 137 "SIGKILL inside the checkpoint of step 10" env LVIT_FAULT=kill:0:10 "$LVIT" train --run "$tmp/rt" "${R[@]}"
ls "$tmp/rt/ckpt/step_00000010/" | grep -q state_00000 && ! [ -e "$tmp/rt/ckpt/step_00000010/manifest.json" ] \
  && ok "killed checkpoint: state file there, no manifest" || bad "killed checkpoint left: $(ls "$tmp/rt/ckpt/step_00000010/")"
head -c 1000 "$tmp/rt/ckpt/step_00000005/state_00000.safetensors" > "$tmp/rt/ckpt/step_00000010/state_00000.safetensors.tmp.99"
expect 0 "--resume after a kill inside a checkpoint" "$LVIT" train --run "$tmp/rt" "${R[@]}" --resume;  has "resumed at step 5)"
same_run "$tmp/ra" "$tmp/rt" && ok "resumed after a torn checkpoint = straight run" || bad "resumed after a torn checkpoint differs"
# a failed write (full disk, read-only directory) stops the run naming the path and leaves the
# previous checkpoints intact; resuming once it is fixed gives the straight run
if mkdir -p "$tmp/mnt" && mount -t tmpfs -o size=16m tmpfs "$tmp/mnt" 2>/dev/null; then
  trap 'umount "$tmp/mnt" 2>/dev/null; umount "$tmp/rw/ckpt" 2>/dev/null; rm -rf "$tmp"' EXIT
  F="$tmp/mnt/run"
  expect 1 "run to step 12" env LVIT_FAULT=0:12 "$LVIT" train --run "$F" "${R[@]}"
  dd if=/dev/zero of="$tmp/mnt/fill" bs=64k 2>/dev/null; rm -f "$tmp/mnt/fill"
  dd if=/dev/zero of="$tmp/mnt/fill" bs=4k count=$(( $(stat -f -c %a "$tmp/mnt") - 16 )) 2>/dev/null
  expect 2 "--resume on a full disk" "$LVIT" train --run "$F" "${R[@]}" --resume;  has "No space left on device"
  has "checkpoint of step 15: .*$F/ckpt/step_00000015"
  ls "$F/ckpt/step_00000015" 2>/dev/null | grep -q tmp && bad "temporary file left on the full disk" || ok "no temporary file left"
  rm -f "$tmp/mnt/fill"
  expect 0 "--resume once there is space" "$LVIT" train --run "$F" "${R[@]}" --resume;  has "resumed at step 10)"
  same_run "$tmp/ra" "$F" && ok "resumed after a full disk = straight run" || bad "resumed after a full disk differs"
  expect 1 "run to step 12 (read-only test)" env LVIT_FAULT=0:12 "$LVIT" train --run "$tmp/rw" "${R[@]}"
  if mount --bind "$tmp/rw/ckpt" "$tmp/rw/ckpt" && mount -o remount,bind,ro "$tmp/rw/ckpt"; then
    expect 2 "--resume into a read-only checkpoint directory" "$LVIT" train --run "$tmp/rw" "${R[@]}" --resume
    has "Read-only file system";  has "$tmp/rw/ckpt/step_00000015"
    umount "$tmp/rw/ckpt"
    expect 0 "--resume once writable" "$LVIT" train --run "$tmp/rw" "${R[@]}" --resume
    same_run "$tmp/ra" "$tmp/rw" && ok "resumed after a read-only directory = straight run" || bad "resumed after read-only differs"
  else
    echo "skip: cannot bind-mount read-only here (read-only directory test)"
  fi
  umount "$tmp/mnt"
else
  echo "skip: cannot mount a tmpfs here (needs root in a namespace that allows it): full-disk and read-only tests not run"
fi
# resuming with another model or batch is refused with what the checkpoint holds
swap() { local from=$1 to=$2; shift 2; local out=() prev=; for a in "$@"; do [ "$prev" = "$from" ] && a=$to; out+=("$a"); prev=$a; done; SW=("${out[@]}"); }
swap --dim 64 "${R[@]}"
expect 2 "--resume with another --dim" "$LVIT" train --run "$tmp/rb" "${SW[@]}" --resume;  has "holds another model"
swap --batch 8 "${R[@]}"
expect 2 "--resume with another --batch" "$LVIT" train --run "$tmp/rb" "${SW[@]}" --resume;  has "was written with --batch 4 --seed 3"

# bench prints tokens/s as its last line
expect 0 "bench" "$LVIT" bench --vars 2 --grid 8x16 --dim 16 --depth 1 --heads 2 --batch 2 --steps 2 --no-peak
tail -1 "$tmp/out" | grep -Eq '^tokens/s: [0-9]+(\.[0-9]+)?$' && ok "bench ends with tokens/s" || bad "bench last line: $(tail -1 "$tmp/out")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
