#!/usr/bin/env bash
# ZeRO-3 (--zero 3, --fsdp) with the state that mirrors the weights: --ema, --keep best and --init
# give the model of the same run without ZeRO-3 (one process, or np 2 --zero 1), and their
# checkpoints (EMA and best weights written from the shards) resume under any other layout.
# usage: cli_zero3_state.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
. "$(dirname "$0")/lib_cli.sh"
mpi_or_skip
tmp=$(mktemp -d /tmp/lvit_z3s_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
one() { timeout $((120 * T)) "$@"; }

# same A B [TOL]: the same losses, validation losses (TOL relative, 1e-4 unless given) and weights (TOL of
# each tensor's largest value, at least 1e-2: the tolerance of tests/cli_mpi.sh); prints the worst
same() { /usr/bin/python3 "$ST_TENSORS" compare "$1" "$2" --tol "${3:-1e-4}"; }
# kept RUN_OUTPUT: the step whose weights --keep best kept
kept() { sed -n 's/.*kept the weights of step \([0-9]*\).*/\1/p' "$1"; }
# vectors CKPT_A CKPT_B NAMES...: the state vectors NAMES, assembled from all files of each
# checkpoint (every element exactly once), agree to 1e-4 of the largest value
vectors() {
st_python - "$@" <<'PY'
import glob, json, sys
import st_tensors
def load(d):
    out = {}
    for f in sorted(glob.glob(d + "/state_*.safetensors")):
        tensors, meta = st_tensors.load(f)
        meta = json.loads(meta["lvit.state"])
        for name, data in tensors.items():
            vec = out.setdefault(name, {}); q = 0
            for at, ln in meta["tensors"][name]["ranges"]:
                for i in range(ln):
                    assert at + i not in vec, (f, name, at + i)
                    vec[at + i] = data[q + i]
                q += ln
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a and b, "no state files"
for name in sys.argv[3:]:
    x, y = a[name], b[name]
    assert sorted(x) == list(range(len(x))) and sorted(y) == sorted(x), name
    scale = max(abs(v) for v in x.values())
    worst = max(abs(x[i] - y[i]) for i in x) / scale
    assert worst < 1e-4, (name, worst)
    print("    %s: %d elements, worst difference %.2e of the largest" % (name, len(x), worst))
PY
}

M=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 8 --log-every 10 --seed 3 --times 80)

# --ema with --keep best (the default with --val-every), against one process
G=("${M[@]}" --steps 20 --val-every 5 --ema 0.9)
expect 0 "one process, --ema 0.9, keep best" one "$LVIT" train --run "$tmp/g1" "${G[@]}"
expect 0 "one process, no --ema" one "$LVIT" train --run "$tmp/g0" "${M[@]}" --steps 20 --val-every 5
for lay in "2 --dp 2 --zero 3" "4 --dp 4 --fsdp 2" "4 --dp 2 --tp 2 --fsdp 2"; do
  set -- $lay; np=$1; shift; extra=("$@")
  expect 0 "np $np ${extra[*]} --ema 0.9, keep best" mpi "$np" "$LVIT" train --run "$tmp/g$np" "${G[@]}" "${extra[@]}" --overwrite
  has "keeping the best EMA weights"
  if same "$tmp/g1" "$tmp/g$np"; then ok "np $np ${extra[*]}: the EMA model of one process (1e-4)"; else bad "np $np ${extra[*]} --ema differs from one process"; fi
done
if same "$tmp/g0" "$tmp/g2" >/dev/null 2>&1; then bad "the EMA model equals the model without --ema"; else ok "the EMA model is not the trained one"; fi

# --keep best where the best is not the last step (lr 0.1: the validation loss goes up at the end),
# with and without --ema, against np 2 --zero 1 (np 1 rounds differently at this learning rate)
C=("${M[@]}" --steps 12 --val-every 3 --lr 0.1)
for e in "" "--ema 0.9"; do
  d=$tmp/b${e:+e}   # b: --keep best alone (the reference of the resumes below), be: with --ema
  expect 0 "np 2 --zero 1, best of 4 validations $e" mpi 2 "$LVIT" train --run "$d.1" "${C[@]}" $e --dp 2 --zero 1
  k1=$(kept "$tmp/out")
  expect 0 "np 2 --zero 3, best of 4 validations $e" mpi 2 "$LVIT" train --run "$d.3" "${C[@]}" $e --dp 2 --zero 3
  k3=$(kept "$tmp/out")
  [ -n "$k1" ] && [ "$k1" = "$k3" ] && ok "both kept the weights of step $k3" || bad "kept step $k1 (--zero 1) vs $k3 (--zero 3)"
  if same "$d.1" "$d.3"; then ok "--zero 3 --keep best $e: the model of --zero 1 (1e-4)"; else bad "--zero 3 --keep best $e differs"; fi
  cmp -s "$d.1/model.safetensors" "$d.3/model.safetensors" && echo "    (bit for bit)"
  if [ -z "$e" ]; then  # (the EMA's best is the last step here)
    [ "$k3" != 12 ] && ok "the kept step ($k3) is not the last: the best copy is a snapshot" || bad "the best is the last step: this run no longer tests the best copy"
  fi
done

# checkpoints: a run moves between one process and np 2 --zero 3 (EMA and best weights in the
# checkpoint, written from the shards); the state vectors of a checkpoint are those of one process
R=("${G[@]}" --ckpt-every 5 --ckpt-keep-every 10 --quiet)
one "$LVIT" train --run "$tmp/r1" "${R[@]}" >/dev/null 2>&1
expect 1 "np 2 --zero 3 --ema stopped at step 13" fmpi 0:13 2 "$LVIT" train --run "$tmp/r3" "${R[@]}" --dp 2 --zero 3
if vectors "$tmp/r1/ckpt/step_00000010" "$tmp/r3/ckpt/step_00000010" params adam_m adam_v ema best
then ok "the --zero 3 checkpoint holds the params, moments, EMA and best weights of one process"; else bad "--zero 3 checkpoint vectors differ"; fi
expect 0 "resumed in one process" one "$LVIT" train --run "$tmp/r3" "${R[@]}" --resume;  has "resumed at step 10)"
if same "$tmp/r1" "$tmp/r3"; then ok "--zero 3 then one process: the straight run's EMA model"; else bad "--zero 3 -> np 1 resume differs"; fi
expect 1 "one process --ema stopped at step 13" env LVIT_FAULT=0:13 timeout $((120 * T)) "$LVIT" train --run "$tmp/r4" "${R[@]}"
expect 0 "resumed as np 2 --zero 3" mpi 2 "$LVIT" train --run "$tmp/r4" "${R[@]}" --dp 2 --zero 3 --resume;  has "resumed at step 10)"
if same "$tmp/r1" "$tmp/r4"; then ok "one process then --zero 3: the straight run's EMA model"; else bad "np 1 -> --zero 3 resume differs"; fi
# and Hybrid-STOP (tp 2 x fsdp 2: the EMA's tensor-parallel shards split over the FSDP pair) to one process
expect 1 "np 4 --dp 2 --tp 2 --fsdp 2 --ema stopped at step 13" fmpi 0:13 4 "$LVIT" train --run "$tmp/r7" "${R[@]}" --dp 2 --tp 2 --fsdp 2
expect 0 "resumed in one process" one "$LVIT" train --run "$tmp/r7" "${R[@]}" --resume;  has "resumed at step 10)"
if same "$tmp/r1" "$tmp/r7"; then ok "Hybrid-STOP then one process: the straight run's EMA model"; else bad "Hybrid-STOP -> np 1 resume differs"; fi
# the same layout resumes bit for bit
mpi 2 "$LVIT" train --run "$tmp/r5" "${R[@]}" --dp 2 --zero 3 >/dev/null 2>&1
expect 1 "np 2 --zero 3 --ema stopped at step 13 (again)" fmpi 0:13 2 "$LVIT" train --run "$tmp/r6" "${R[@]}" --dp 2 --zero 3
expect 0 "resumed as np 2 --zero 3" mpi 2 "$LVIT" train --run "$tmp/r6" "${R[@]}" --dp 2 --zero 3 --resume
cmp -s "$tmp/r5/model.safetensors" "$tmp/r6/model.safetensors" && ok "--zero 3 --ema stopped and resumed = straight, bit for bit" || bad "--zero 3 --ema resume differs from straight"
# the best weights come back from the checkpoint: best at step 9 of 12, resumed from step 9
# across --zero 1 and --zero 3 (checkpoints every 3 steps, stopped at step 11)
B=("${C[@]}" --ckpt-every 3 --quiet)
expect 1 "np 2 --zero 3 keep best stopped at step 11" fmpi 0:11 2 "$LVIT" train --run "$tmp/k3" "${B[@]}" --dp 2 --zero 3
expect 0 "resumed as np 2 --zero 1" mpi 2 "$LVIT" train --run "$tmp/k3" "${B[@]}" --dp 2 --zero 1 --resume;  has "resumed at step 9)"
if same "$tmp/b.1" "$tmp/k3"; then ok "--zero 3 then --zero 1: the kept model of the straight run"; else bad "keep best across --zero 3 -> --zero 1 differs"; fi
expect 1 "np 2 --zero 1 keep best stopped at step 11" fmpi 0:11 2 "$LVIT" train --run "$tmp/k1" "${B[@]}" --dp 2 --zero 1
expect 0 "resumed as np 2 --zero 3" mpi 2 "$LVIT" train --run "$tmp/k1" "${B[@]}" --dp 2 --zero 3 --resume;  has "resumed at step 9)"
if same "$tmp/b.1" "$tmp/k1"; then ok "--zero 1 then --zero 3: the kept model of the straight run"; else bad "keep best across --zero 1 -> --zero 3 differs"; fi

# --init: a trained model's weights (60 steps) into the shards
one "$LVIT" train --run "$tmp/base" "${M[@]}" --steps 60 --lr 0.01 --keep last --quiet >/dev/null 2>&1
I=("${M[@]}" --steps 10 --val-every 5 --keep last)
expect 0 "one process --init" one "$LVIT" train --run "$tmp/i1" "${I[@]}" --init "$tmp/base/model.safetensors"
for lay in "2 --dp 2 --zero 3" "4 --dp 2 --tp 2 --fsdp 2"; do
  set -- $lay; np=$1; shift; extra=("$@")
  expect 0 "np $np ${extra[*]} --init" mpi "$np" "$LVIT" train --run "$tmp/i$np" "${I[@]}" "${extra[@]}" --init "$tmp/base/model.safetensors"
  if same "$tmp/i1" "$tmp/i$np"; then ok "np $np ${extra[*]} --init: the model of one process (1e-4)"; else bad "np $np ${extra[*]} --init differs"; fi
done
expect 0 "np 2 --zero 3 without --init" mpi 2 "$LVIT" train --run "$tmp/i0" "${I[@]}" --dp 2 --zero 3
if /usr/bin/python3 - "$tmp/i0" "$tmp/i2" <<'PY'
import json, sys
a, b = (json.loads(open(d + "/metrics.jsonl").readline())["loss"] for d in sys.argv[1:])
assert b < 0.9 * a, (a, b)
print("    first loss %.4f from scratch, %.4f from the trained weights" % (a, b))
PY
then ok "--zero 3 --init starts from the trained weights"; else bad "--zero 3 --init: the first loss is not that of the trained weights"; fi
expect 2 "--zero 3 --init of another model" mpi 2 "$LVIT" train --run "$tmp/ix" --vars 3 --grid 16x32 --dim 64 --depth 2 --heads 2 --steps 10 --dp 2 --zero 3 --init "$tmp/base/model.safetensors"
has "holds another model: dim 32 in the file, 64 in this run"
[ "$(grep -c 'holds another model' "$tmp/out")" -eq 1 ] && ok "the refusal is printed once (rank 0)" || bad "refusal printed $(grep -c 'holds another model' "$tmp/out") times"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
