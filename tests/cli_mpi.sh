#!/usr/bin/env bash
# lvit train under mpirun: refused layouts exit 2 on every rank without hanging, and a
# data-parallel run writes the same losses and weights as the single process (rank 0 writes).
# usage: cli_mpi.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
. "$(dirname "$0")/lib_cli.sh"
mpi_or_skip
tmp=$(mktemp -d /tmp/lvit_mpi_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
small=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 8 --steps 20 --log-every 10 --seed 3 --times 80 --val-every 10)

# same_as_one ONE_PROCESS_RUN PARALLEL_RUN: the same 20 losses, validation losses and weights (1e-4)
same_as_one() { /usr/bin/python3 "$ST_TENSORS" compare "$1" "$2" --steps 20; }

expect 2 "--dp 2 in one process" "$LVIT" train --run "$tmp/a" --dp 2;  has "needs 2 processes"; has "mpirun -np 2"
expect 2 "3 processes for --dp 2" mpi 3 "$LVIT" train --run "$tmp/a" --dp 2;  has "does not match 3 processes"
[ "$(grep -c 'does not match' "$tmp/out")" -eq 1 ] && ok "the refusal is printed once (rank 0)" || bad "refusal printed $(grep -c 'does not match' "$tmp/out") times"
expect 2 "global batch not divisible by dp" mpi 4 "$LVIT" train --run "$tmp/a" --batch 6;  has "--batch 6 is the global batch"
expect 2 "bad flag under mpirun" mpi 2 "$LVIT" train --run "$tmp/a" --bogus;  has "unknown option '--bogus'"
expect 2 "ulysses with heads not divisible" mpi 4 "$LVIT" train --run "$tmp/a" --sp 4 --heads 2 --dim 32;  has "use --sp-mode lss"
expect 2 "--zero 2" mpi 2 "$LVIT" train --run "$tmp/a" --zero 2;  has "use 1 (AdamW state sharded) or 3"
expect 2 "tp not dividing the heads" mpi 3 "$LVIT" train --run "$tmp/a" --tp 3 --heads 2 --dim 32;  has "use a --tp that divides 2"
[ "$(grep -c 'use a --tp' "$tmp/out")" -eq 1 ] && ok "the tp refusal is printed once (rank 0)" || bad "tp refusal printed $(grep -c 'use a --tp' "$tmp/out") times"
expect 2 "more stages than blocks" mpi 3 "$LVIT" train --run "$tmp/a" --pp 3 --depth 2;  has "every stage needs a block"
expect 2 "micro-batches not dividing the batch" mpi 2 "$LVIT" train --run "$tmp/a" --pp 2 --microbatches 3 --batch 8;  has "--microbatches 3 does not divide the 8 samples"
expect 2 "--fsdp not dividing dp" mpi 4 "$LVIT" train --run "$tmp/a" --fsdp 3;  has "--fsdp 3 does not divide dp 4"
expect 2 "--fsdp with --zero 1" mpi 4 "$LVIT" train --run "$tmp/a" --fsdp 2 --zero 1;  has "drop --zero 1"
expect 2 "ulysses over the heads of a tp rank" mpi 4 "$LVIT" train --run "$tmp/a" --tp 2 --sp 2 --heads 2 --dim 32;  has "heads of a tensor-parallel rank"
expect 0 "sp 3 over 8 patch rows: the last rank's are padded" mpi 3 "$LVIT" train --run "$tmp/a" "${small[@]}" --sp 3 --sp-mode lss --overwrite;  has "the last ranks hold 1 padded rows"

# D-CHAG: 4 channels in 2 blocks (groups of 2 within a block would be the whole block: one level),
# split over the tensor-parallel pair, against the same model in one process
dc=(--vars 4 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 8 --steps 20 --log-every 10 --seed 3 --times 80 --val-every 10 --channel-parallel 2)
expect 0 "D-CHAG in one process" "$LVIT" train --run "$tmp/c1" "${dc[@]}"
grep -q 'chag_blocks' "$tmp/c1/model.safetensors" && ok "the model config records the D-CHAG blocks" || bad "no chag_blocks in the config"
for lay in "2 --tp 2" "4 --dp 2 --tp 2"; do
  set -- $lay; np=$1; shift; extra=("$@")
  expect 0 "D-CHAG mpirun -np $np ${extra[*]}" mpi "$np" "$LVIT" train --run "$tmp/c$np" "${dc[@]}" "${extra[@]}"
  has "D-CHAG: 1 of 2 channel blocks"
  if same_as_one "$tmp/c1" "$tmp/c$np"; then ok "D-CHAG np $np ${extra[*]}: same losses and weights as one process (1e-4)"; else bad "D-CHAG np $np differs"; fi
done
expect 2 "D-CHAG blocks not divisible by tp" mpi 4 "$LVIT" train --run "$tmp/a" --vars 4 --channel-parallel 2 --tp 4 --heads 4;  has "does not divide the 2 D-CHAG blocks"
expect 2 "D-CHAG blocks not dividing the channels" "$LVIT" train --run "$tmp/a" --vars 3 --channel-parallel 2;  has "does not divide the 3 variables"

# an error on one rank stops the whole job (no rank left waiting in a collective)
start=$(date +%s)
expect 1 "rank 1 fails at step 3" env LVIT_FAULT=1:3 timeout $((60 * T)) "$MPIRUN" --oversubscribe -np 2 "$LVIT" train --run "$tmp/f" "${small[@]}"
has "\[rank 1\].*injected fault"
[ $(( $(date +%s) - start )) -lt $((30 * T)) ] && ok "the other rank stopped within $((30 * T)) s" || bad "the job took $(( $(date +%s) - start )) s to stop"

expect 0 "single process" "$LVIT" train --run "$tmp/p1" "${small[@]}"
for lay in "2 --dp 2" "4 --dp 4" "2 --dp 2 --zero 1" "2 --sp 2 --sp-mode ulysses" "4 --dp 2 --sp 2 --sp-mode lss" "4 --sp 4 --sp-mode ring" "4 --sp 4 --sp-mode usp --sp-ulysses 2" "2 --dp 2 --zero 3 --keep last" "4 --dp 2 --sp 2 --sp-mode ring --zero 3 --keep last" "2 --tp 2" "4 --dp 2 --tp 2" "4 --sp 2 --tp 2 --sp-mode ring" "4 --dp 2 --tp 2 --fsdp 2 --keep last" "4 --dp 4 --fsdp 2 --keep last" "2 --pp 2" "4 --pp 2 --dp 2 --zero 1" "4 --pp 2 --tp 2 --microbatches 4" "4 --pp 2 --dp 2 --zero 3 --keep last" "4 --tp 2 --dp 2 --zero 1"; do
  set -- $lay; np=$1; shift; extra=("$@")
  expect 0 "mpirun -np $np ${extra[*]}" mpi "$np" "$LVIT" train --run "$tmp/p$np" "${small[@]}" "${extra[@]}" --overwrite
  has "parallel: $np processes"
  [ "$(grep -c '^step ' "$tmp/out")" -eq 2 ] && ok "progress printed by rank 0 only" || bad "progress lines: $(grep -c '^step ' "$tmp/out")"
  if same_as_one "$tmp/p1" "$tmp/p$np"
  then ok "np $np ${extra[*]}: same losses, validation losses and weights as one process (1e-4)"; else bad "np $np ${extra[*]} differs from one process"; fi
done

# downscaling (Reslim on synthetic fields coarsened by 2, whole grids and TILES windows): the
# windows of a step spread over the data-parallel ranks; tensor parallelism splits the ViT, a
# pipeline its blocks (the last stage runs the Reslim head and residual path)
dsa=(--task downscale --scale 2 --static lat --vars 2 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 8 --steps 20 --log-every 10 --seed 3 --times 80 --val-every 10)
for tl in "" "--tiles 2 --halo 2"; do
  expect 0 "downscale, one process $tl" "$LVIT" train --run "$tmp/d1" "${dsa[@]}" $tl --overwrite
  for lay in "2 --dp 2" "2 --dp 2 --zero 1" "2 --dp 2 --zero 3 --keep last" "2 --tp 2" "4 --dp 2 --tp 2" "2 --pp 2" "4 --pp 2 --dp 2 --zero 1"; do
    set -- $lay; np=$1; shift; extra=("$@")
    expect 0 "downscale mpirun -np $np ${extra[*]} $tl" mpi "$np" "$LVIT" train --run "$tmp/d$np" "${dsa[@]}" $tl "${extra[@]}" --overwrite
    if same_as_one "$tmp/d1" "$tmp/d$np"
    then ok "downscale np $np ${extra[*]} $tl: same losses, validation losses and weights as one process (1e-4)"; else bad "downscale np $np ${extra[*]} $tl differs"; fi
  done
done
expect 2 "downscale with sequence parallelism" mpi 2 "$LVIT" train --run "$tmp/x" "${dsa[@]}" --sp 2;  has "what --tiles is for"

# a NaN batch is skipped on every rank alike: same metrics as one process with the same fault
expect 0 "one process, NaN at step 4" env LVIT_FAULT=nan:4 "$LVIT" train --run "$tmp/n1" "${small[@]}"
expect 0 "np 2 dp, NaN at step 4" env LVIT_FAULT=nan:4 timeout $((120 * T)) "$MPIRUN" --oversubscribe -np 2 "$LVIT" train --run "$tmp/n2" "${small[@]}" --dp 2 --zero 1
if /usr/bin/python3 - "$tmp/n1" "$tmp/n2" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(d + "/metrics.jsonl")] for d in sys.argv[1:])
assert a[3]["skipped"] == b[3]["skipped"] == "nonfinite"
for x, y in zip(a, b):
    if x["loss"] is not None: assert abs(x["loss"] - y["loss"]) <= 1e-4 * x["loss"], (x, y)
PY
then ok "the skip is the same decision on every rank"; else bad "skip under dp differs"; fi

# SIGUSR1 to mpirun is forwarded to the ranks: every rank stops after the same step, exit 0
signal_run USR1 "$tmp/out" "$tmp/sg/metrics.jsonl" "$MPIRUN" --oversubscribe -np 2 "$LVIT" train --run "$tmp/sg" \
  --vars 2 --grid 8x16 --dim 16 --depth 1 --heads 2 --batch 2 --times 40 --steps 1000000 --log-every 100000 --dp 2
[ "$rc" -eq 0 ] && ok "SIGUSR1 under mpirun: exit 0" || bad "SIGUSR1 under mpirun: exit $rc"
has "received SIGUSR1: stopping after step"
[ -s "$tmp/sg/model.safetensors" ] && ok "SIGUSR1: weights written" || bad "SIGUSR1: no model.safetensors"

# preempted (SIGUSR1 to mpirun) under ZeRO-3: every rank's shard checkpointed on the way out, and
# the resumed run is the straight one, bit for bit
NP=$((400 / T))   # as long in time under a sanitizer
P=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 4 --times 80 --steps $NP --seed 5 --quiet --keep last --dp 2 --zero 3)
mpi 2 "$LVIT" train --run "$tmp/pa" "${P[@]}" >/dev/null 2>&1
signal_run USR1 "$tmp/out" "$tmp/pb/metrics.jsonl" "$MPIRUN" --oversubscribe -np 2 "$LVIT" train --run "$tmp/pb" "${P[@]}"
if [ "$rc" -eq 0 ] && ls "$tmp"/pb/ckpt/*/manifest.json >/dev/null 2>&1; then
  expect 0 "--resume after SIGUSR1 (ZeRO-3)" mpi 2 "$LVIT" train --run "$tmp/pb" "${P[@]}" --resume;  has "resumed at step"
  cmp -s "$tmp/pa/model.safetensors" "$tmp/pb/model.safetensors" && ok "ZeRO-3 preempted and resumed = straight run, bit for bit" || bad "ZeRO-3 SIGUSR1 + resume differs"
elif [ "$rc" -eq 0 ] && [ "$(wc -l < "$tmp/pb/metrics.jsonl")" -eq $NP ]; then
  ok "the ZeRO-3 run finished before SIGUSR1 arrived (timing; nothing to resume)"
else
  bad "SIGUSR1 under ZeRO-3: exit $rc, no checkpoint"
fi

# checkpoints under ZeRO-1 (one file per dp rank, manifest last) resume bit for bit
Z0=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 4 --steps 20 --seed 3 --times 80 --ckpt-every 5 --quiet --keep last)
Z=("${Z0[@]}" --dp 2 --zero 1)
mpi 2 "$LVIT" train --run "$tmp/za" "${Z[@]}" >/dev/null 2>&1
expect 1 "np 2 ZeRO-1 run dying at step 13 on rank 1" fmpi 1:13 2 "$LVIT" train --run "$tmp/zb" "${Z[@]}"
ls "$tmp/zb/ckpt/step_00000010" | grep -q state_00001 && ok "one state file per dp rank" || bad "state files: $(ls "$tmp/zb/ckpt/step_00000010")"
expect 0 "--resume np 2 ZeRO-1" mpi 2 "$LVIT" train --run "$tmp/zb" "${Z[@]}" --resume;  has "resumed at step 10)"
cmp -s "$tmp/za/model.safetensors" "$tmp/zb/model.safetensors" && ok "ZeRO-1 resumed run = straight run, bit for bit" || bad "ZeRO-1 resumed run differs"

# killed (SIGKILL) inside a checkpoint write, resumed: bit for bit, at np 2 (ZeRO-3) and np 4 (dp 2 x sp 2, ZeRO-1;
# dp 2 x tp 2; pp 2 x dp 2)
for lay in "2 1 --dp 2 --zero 3" "4 2 --dp 2 --sp 2 --sp-mode ulysses --zero 1" "4 3 --dp 2 --tp 2" "4 1 --pp 2 --dp 2"; do
  set -- $lay; np=$1 victim=$2; shift 2; extra=("$@")
  d="$tmp/k$np.$victim"
  mpi "$np" "$LVIT" train --run "$d.a" "${Z0[@]}" "${extra[@]}" >/dev/null 2>&1
  expect 137 "np $np ${extra[*]}: rank $victim killed inside the checkpoint of step 10" fmpi kill:$victim:10 "$np" "$LVIT" train --run "$d.b" "${Z0[@]}" "${extra[@]}"
  [ -e "$d.b/ckpt/step_00000010/manifest.json" ] && bad "torn checkpoint has a manifest" || ok "the torn checkpoint has no manifest"
  expect 0 "np $np: --resume" mpi "$np" "$LVIT" train --run "$d.b" "${Z0[@]}" "${extra[@]}" --resume;  has "resumed at step 5)"
  cmp -s "$d.a/model.safetensors" "$d.b/model.safetensors" && ok "np $np ${extra[*]}: resumed = straight, bit for bit" || bad "np $np ${extra[*]}: resumed run differs"
done

# resharding: a run carried on under four layouts in turn (pp 2 x dp 2 ZeRO-1, dp 2 x sp 2 ring ZeRO-3,
# dp 2 x tp 2 x fsdp 2 (Hybrid-STOP), one process) has the losses of the straight single-process
# run (1e-5 relative)
"$LVIT" train --run "$tmp/r1" "${Z0[@]}" >/dev/null 2>&1
expect 1 "reshard: np 4 --pp 2 --dp 2 --zero 1 to step 8" fmpi 0:8 4 "$LVIT" train --run "$tmp/rs" "${Z0[@]}" --pp 2 --dp 2 --zero 1
expect 1 "reshard: resumed as np 4 --dp 2 --sp 2 --sp-mode ring --zero 3" fmpi 0:13 4 "$LVIT" train --run "$tmp/rs" "${Z0[@]}" --dp 2 --sp 2 --sp-mode ring --zero 3 --resume
expect 1 "reshard: resumed as np 4 --dp 2 --tp 2 --fsdp 2" fmpi 0:18 4 "$LVIT" train --run "$tmp/rs" "${Z0[@]}" --dp 2 --tp 2 --fsdp 2 --resume
[ "$(ls "$tmp"/rs/ckpt/step_00000015/state_*.safetensors | wc -l)" -eq 4 ] && ok "dp 2 x tp 2 wrote 4 state files" || bad "dp 2 x tp 2 state files: $(ls "$tmp"/rs/ckpt/step_00000015/)"
grep -q '"tp":2' "$tmp/rs/ckpt/step_00000015/manifest.json" && ok "the manifest records tp 2" || bad "manifest: $(cat "$tmp/rs/ckpt/step_00000015/manifest.json")"
expect 0 "reshard: resumed as one process" "$LVIT" train --run "$tmp/rs" "${Z0[@]}" --resume;  has "resumed at step 15)"
if /usr/bin/python3 - "$tmp/r1" "$tmp/rs" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(d + "/metrics.jsonl")] for d in sys.argv[1:])
assert len(a) == len(b) == 20, (len(a), len(b))
worst = max(abs(x["loss"] - y["loss"]) / abs(x["loss"]) for x, y in zip(a, b))
assert worst <= 1e-5, worst
print("worst relative loss difference %.2e" % worst)
PY
then ok "resharded over 4 layouts: the single-process losses (1e-5)"; else bad "resharded run's losses differ"; fi

# a rank that dies (SIGKILL from outside, while checkpoints are written every step) ends the job
# within seconds; the job resumes from the last complete checkpoint and ends as the straight run
D=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 4 --steps 60 --seed 3 --times 80 --quiet --keep last --dp 2 --ckpt-every 1)
mpi 2 "$LVIT" train --run "$tmp/da" "${D[@]}" >/dev/null 2>&1
mpi 2 "$LVIT" train --run "$tmp/db" "${D[@]}" >"$tmp/out" 2>&1 &
job=$!; i=0
while [ $i -lt 300 ] && ! ls "$tmp"/db/ckpt/*/manifest.json >/dev/null 2>&1; do sleep 0.05; i=$((i + 1)); done
victim=$(pgrep -f "train --run $tmp/db" | while read p; do [ "$(cat /proc/$p/comm 2>/dev/null)" = lvit ] && echo $p; done | tail -1)
start=$(date +%s)
if [ -n "$victim" ] && kill -9 "$victim"; then
  wait $job; rc=$?
  [ "$rc" -ne 0 ] && ok "a rank killed: the job failed (exit $rc)" || bad "a rank killed, yet exit 0"
  [ $(( $(date +%s) - start )) -lt $((30 * T)) ] && ok "the job ended within $((30 * T)) s of the kill" || bad "the job took $(( $(date +%s) - start )) s"
  expect 0 "--resume after a dead rank" mpi 2 "$LVIT" train --run "$tmp/db" "${D[@]}" --resume;  has "resumed at step"
  cmp -s "$tmp/da/model.safetensors" "$tmp/db/model.safetensors" && ok "resumed after a dead rank = straight run, bit for bit" || bad "resumed after a dead rank differs"
else
  wait $job; ok "the run finished before a rank could be killed (timing; nothing to test)"
fi
# a rank that hangs (stopped) is caught by the others' watchdog (--comm-timeout) and the job ends
start=$(date +%s)
expect 1 "rank 1 hangs at step 7, --comm-timeout 3" fmpi hang:1:7 2 "$LVIT" train --run "$tmp/h" "${Z0[@]}" --dp 2 --comm-timeout 3
has "waited [0-9]* s in .* for the other ranks (--comm-timeout 3)"
[ $(( $(date +%s) - start )) -lt $((30 * T)) ] && ok "the hung job ended within $((30 * T)) s" || bad "the hung job took $(( $(date +%s) - start )) s"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
