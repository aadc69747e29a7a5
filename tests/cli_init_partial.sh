#!/usr/bin/env bash
# lvit train --init from a checkpoint of another configuration (a pretrained encoder under a new
# head) and --freeze-encoder (a linear probe): what is loaded, what keeps its initialization, what
# is refused, and that a frozen encoder stays bit for bit the file's, in one process and under
# mpirun (--dp 2 --zero 3, --zero 1, --tp 2).
# usage: cli_init_partial.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
tmp=$(mktemp -d /tmp/lvit_initp_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_cli.sh"
export OMP_NUM_THREADS=1
M=(--vars 3 --grid 16x32 --dim 32 --depth 2 --heads 2 --batch 4 --times 40 --log-every 100 --seed 3)
src=$tmp/src/model.safetensors

# cmp.py FILE_A FILE_B MODE: compares the tensors of two safetensors files by their bytes.
# MODE encoder: every tensor of B but head.* is A's, every head.* tensor is not; all: B is A;
# heads: B's head.* tensors are A's (the same initialization)
cat > "$tmp/cmp.py" <<'PY'
import sys
from st_tensors import tensors
a, b, mode = tensors(sys.argv[1], raw=True), tensors(sys.argv[2], raw=True), sys.argv[3]
head = [k for k in b if k.startswith("head.")]
body = [k for k in b if not k.startswith("head.")]
assert head and body
if mode == "all":
    assert set(a) == set(b), (sorted(a), sorted(b))
    bad = [k for k in b if a[k] != b[k]]; assert not bad, bad
elif mode == "encoder":
    bad = [k for k in body if a.get(k) != b[k]]; assert not bad, ("encoder tensors differ", bad)
    same = [k for k in head if a.get(k) == b[k]]; assert not same, ("head tensors unchanged", same)
elif mode == "heads":
    bad = [k for k in head if a[k] != b[k]]; assert not bad, bad
print("%d tensors compared" % len(b))
PY
cmpf() { if st_python "$tmp/cmp.py" "$@" > "$tmp/cmp.out" 2>&1; then return 0; else tail -3 "$tmp/cmp.out"; return 1; fi; }

expect 0 "a source model with --decoder-depth 2" "$LVIT" train --run "$tmp/src" "${M[@]}" --steps 5 --decoder-depth 2

echo "# another head: the encoder loaded, the head (other names and shapes) at its initialization"
expect 0 "--init into --decoder-depth 1" "$LVIT" train --run "$tmp/d1" "${M[@]}" --decoder-depth 1 --steps 1 --lr 0 --init "$src"
# 45 tensors: 3 token embeddings (2), var_embed, var_query, var_agg (4), pos_embed, lead_time_embed (2),
# 2 blocks of 12, norm (2), head.0 and head.2 (2 each); the file's head: head.0, head.2, head.4
has "--init $src: loaded 41 of 45 tensors"
has "kept their initialization: head.0.\*, head.2.\* (head.\*: 'head.2.weight' is \[32, 32\] there, \[12, 32\] here)"
has "6 tensors of the file unused: head.0.\*, head.2.\*, head.4.\*"
has "the file's model: decoder_depth 2 in the file, 1 in this run"
expect 0 "the same model without --init" "$LVIT" train --run "$tmp/d1fresh" "${M[@]}" --decoder-depth 1 --steps 1 --lr 0
if cmpf "$src" "$tmp/d1/model.safetensors" encoder && cmpf "$tmp/d1fresh/model.safetensors" "$tmp/d1/model.safetensors" heads; then
  ok "step 0: every encoder tensor is the file's, the head that of a run without --init"
else bad "--init into another head: the wrong tensors were loaded"; fi
expect 0 "--init of the same configuration" "$LVIT" train --run "$tmp/same" "${M[@]}" --decoder-depth 2 --steps 1 --lr 0 --init "$src"
has "loaded 47 of 47 tensors (36972 of 36972 parameters)$"
if cmpf "$src" "$tmp/same/model.safetensors" all; then ok "same configuration: every tensor loaded bit for bit"; else bad "same configuration: tensors differ"; fi

echo "# refusals"
expect 2 "another width" "$LVIT" train --run "$tmp/x1" --vars 3 --grid 16x32 --dim 64 --depth 2 --heads 2 --steps 1 --init "$src"
has "$src holds another model: dim 32 in the file, 64 in this run; tensor 'var_embed' is \[1, 3, 32\] there and \[1, 3, 64\] in this run: --dim probably differs"
expect 2 "another grid of patches" "$LVIT" train --run "$tmp/x2" --vars 3 --grid 32x32 --dim 32 --depth 2 --heads 2 --steps 1 --init "$src"
has "its position embedding is for 8x16 patches (a 16x32 grid, patch 2), this run's for 16x16 patches (a 32x32 grid, patch 2)"
expect 2 "another depth" "$LVIT" train --run "$tmp/x3" --vars 3 --grid 16x32 --dim 32 --depth 3 --heads 2 --steps 1 --init "$src"
has "its encoder has 2 transformer blocks, this run's 3: give --depth 2"
/usr/bin/python3 - "$tmp/foreign.safetensors" <<'PY'
import json, struct, sys
h = json.dumps({"encoder.layer.0.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<2f", 1, 2))
PY
expect 2 "a file with no tensor of the model" "$LVIT" train --run "$tmp/x4" "${M[@]}" --steps 1 --init "$tmp/foreign.safetensors"
has "foreign.safetensors: none of its 1 tensors is a tensor of this model (its first is 'encoder.layer.0.weight'"
expect 2 "--freeze-encoder without --init" "$LVIT" train --run "$tmp/x5" "${M[@]}" --steps 1 --freeze-encoder
has "without --init the encoder would stay at its random initialization"
for d in x1 x2 x3 x4 x5; do [ -e "$tmp/$d/model.safetensors" ] && bad "$d: a refused run wrote weights"; done

echo "# --freeze-encoder: only head.* trains; the encoder stays the file's, not even decayed"
F=(--decoder-depth 1 --steps 6 --lr 1e-2 --weight-decay 0.1 --freeze-encoder --init "$src")
expect 0 "linear probe, one process" "$LVIT" train --run "$tmp/fz" "${M[@]}" "${F[@]}"
if cmpf "$src" "$tmp/fz/model.safetensors" encoder; then ok "after 6 steps every encoder tensor is the file's bit for bit, every head tensor moved"
else bad "--freeze-encoder changed the encoder or left the head"; fi
expect 0 "the same steps unfrozen" "$LVIT" train --run "$tmp/nfz" "${M[@]}" --decoder-depth 1 --steps 6 --lr 1e-2 --weight-decay 0.1 --init "$src"
# step 1 starts from the same weights and batch: the norm of the head's gradients alone is smaller
if /usr/bin/python3 - "$tmp/fz/metrics.jsonl" "$tmp/nfz/metrics.jsonl" <<'PY'
import json, sys
a, b = (json.loads(open(p).readline()) for p in sys.argv[1:3])
assert a["loss"] == b["loss"], (a, b)
assert 0 < a["grad_norm"] < b["grad_norm"], (a["grad_norm"], b["grad_norm"])
print("grad norm frozen %.6g, all %.6g" % (a["grad_norm"], b["grad_norm"]))
PY
then ok "the gradient norm counts only the trained head"; else bad "the gradient norm under --freeze-encoder"; fi
expect 0 "a multi-channel source (no var_query, var_agg)" "$LVIT" train --run "$tmp/msrc" "${M[@]}" --channels multi --steps 1
expect 0 "linear probe of an encoder that lacks tensors" "$LVIT" train --run "$tmp/fzm" "${M[@]}" --steps 1 --freeze-encoder --init "$tmp/msrc/model.safetensors"
has "--freeze-encoder: 5 encoder tensors are not in $tmp/msrc/model.safetensors and stay at their random initialization: var_query, var_agg.\*"

echo "# another task: a forecasting model's encoder under a classification head (EuroSAT scenes)"
D="$2/../shared/data/eurosat_rgb_subset75"
if [ ! -d "$D" ]; then
  echo "skip: no $D (../shared/data): the classification stage"
else
  E=(--dim 32 --depth 1 --heads 2 --patch 16 --decoder-depth 0)
  expect 0 "convert EuroSAT" "$LVIT" convert -o "$tmp/eu.lvd" "$D" --labels "$D/test_labels.csv" --csv-columns Filename,ClassName
  expect 0 "a forecasting model on 3 variables, 64x64" "$LVIT" train --run "$tmp/fc" --vars 3 --grid 64x64 --times 20 "${E[@]}" --steps 2
  expect 0 "its encoder under a 10-class head, frozen" "$LVIT" train --task classify --data "$tmp/eu.lvd" --run "$tmp/cl" "${E[@]}" \
    --steps 3 --batch 8 --init "$tmp/fc/model.safetensors" --freeze-encoder
  has "loaded 29 of 31 tensors"; has "kept their initialization: head.0.\* (head.\*: 'head.0.weight' is \[768, 32\] there, \[10, 32\] here)"
  if cmpf "$tmp/fc/model.safetensors" "$tmp/cl/model.safetensors" encoder; then ok "the classifier's encoder is the forecasting model's bit for bit, its head trained"
  else bad "forecast -> classify --freeze-encoder"; fi
fi

if ! mpi_setup; then
  echo "skip: no mpirun, or lvit built without MPI: the np 2 stages"
else
  expect 0 "np 2 --dp 2 --zero 3: --init into another head" mpi 2 "$LVIT" train --run "$tmp/z3d1" "${M[@]}" --decoder-depth 1 --steps 1 --lr 0 --init "$src" --dp 2 --zero 3
  has "loaded 41 of 45 tensors"
  if cmpf "$tmp/d1/model.safetensors" "$tmp/z3d1/model.safetensors" all; then ok "--zero 3: the weights of one process, bit for bit"
  else bad "--zero 3 --init into another head differs from one process"; fi
  for lay in "--dp 2 --zero 3" "--dp 2 --zero 1" "--tp 2"; do
    d=$tmp/fz$(echo "$lay" | tr -d ' -')
    expect 0 "np 2 $lay --freeze-encoder" mpi 2 "$LVIT" train --run "$d" "${M[@]}" "${F[@]}" $lay
    if cmpf "$src" "$d/model.safetensors" encoder && /usr/bin/python3 - "$tmp/fz" "$d" <<'PY'
import json, struct, sys
def tensors(p):
    raw = open(p + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n]); h.pop("__metadata__", None)
    return {k: struct.unpack("<%df" % ((v["data_offsets"][1] - v["data_offsets"][0]) // 4),
                             raw[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]]) for k, v in h.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
worst = max(max(abs(p - q) for p, q in zip(a[k], b[k])) / max(max(map(abs, a[k])), 1e-2) for k in a)
ra, rb = ([json.loads(l) for l in open(d + "/metrics.jsonl")] for d in sys.argv[1:3])
for x, y in zip(ra, rb):
    assert abs(x["loss"] - y["loss"]) <= 1e-4 * x["loss"] and abs(x["grad_norm"] - y["grad_norm"]) <= 1e-4 * x["grad_norm"], (x, y)
assert worst < 1e-4, worst
PY
    then ok "np 2 $lay: the encoder is the file's bit for bit, head, losses and gradient norms those of one process (1e-4)"
    else bad "np 2 $lay --freeze-encoder differs"; fi
  done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
