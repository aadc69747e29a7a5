#!/usr/bin/env bash
# lvit against PyTorch on one GPU, side by side in one run (see bench/README.md, "GPU (H100/H200)").
#
# Usage: bench/gpu-bench.sh [--quick | --full] [--budget SECONDS] [--out DIR] [--only LIST]
#   --quick   (default) the whole run in about --budget 330 s: short timings, the D=2560 model with
#             8 blocks (BIG_DEPTH), the longest-sequence search capped at S = 131,072
#   --full    about --budget 570 s (the device tool allows 600 s a command): longer timings, the
#             D=2560 model with 32 blocks, the search up to S = 1,048,576 or its time share
#   --budget  total seconds; every piece runs under `timeout` with its share of it, and a piece
#             that no longer fits is skipped (said so), never the whole run
#   --out     where logs, JSON and results.md go (default: $OUT, else ./gpu-bench-out)
#   --only    comma list of attn, steps, maxseq (default all)
# Pieces: (a) bench/gpu/attn_bench.py: SDPA per backend; (b) tools/twin.py bench --device cuda
# for the six training-step configurations (and lvit bench --device cuda on the same flags right
# after each); (c) bench/gpu/max_seq.py for the twin (and for lvit); (d) lvit, when $LVIT
# (default build-gpu/lvit) runs here and its bench has --device; otherwise one line
# "lvit: no CUDA bench binary (why)". One failing piece does not stop the others.
# Environment: PYTHON (default python3, needs torch >= 2.0 with CUDA), LVIT, LVIT_FLAGS (extra
# flags for lvit bench, default none), LVIT_MAXSEQ_FLAGS (default --recompute), TWIN_FLAGS
# (extra flags for the twin, e.g. --compile), BIG_DEPTH, AGG_VARS (default 5), STEPS, WARMUP,
# LVIT_ATTN_CMD (a shell command timing lvit's CUDA attention; its markdown table lines, those
# starting with '|', go into results.md beside SDPA's).
# Through the device tool: run with command `bash bench/gpu-bench.sh --quick`; outputs in $OUT.
# Exit status 0 unless the arguments are wrong: the results (and failures) are in results.md.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2
mode=quick
budget=""
out="${OUT:-}"
only="attn,steps,maxseq"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --budget) budget="${2:?--budget needs seconds}"; shift ;;
    --out) out="${2:?--out needs a folder}"; shift ;;
    --only) only="${2:?--only needs a list}"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "gpu-bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$budget" in ''|*[!0-9]*) [ -n "$budget" ] && { echo "--budget: whole seconds" >&2; exit 2; } ;; esac
out="${out:-./gpu-bench-out}"
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
PYTHON="${PYTHON:-python3}"
LVIT="${LVIT:-build-gpu/lvit}"
LVIT_FLAGS="${LVIT_FLAGS:-}"
LVIT_MAXSEQ_FLAGS="${LVIT_MAXSEQ_FLAGS:---recompute}"
TWIN_FLAGS="${TWIN_FLAGS:-}"
AGG_VARS="${AGG_VARS:-5}"
if [ "$mode" = quick ]; then
  budget="${budget:-330}"; BIG_DEPTH="${BIG_DEPTH:-8}"; STEPS="${STEPS:-3}"; WARMUP="${WARMUP:-2}"
  attn_flags=(--quick); seq_cap=131072
  share_attn=75; share_small=25; share_big=35; share_seq=60
else
  budget="${budget:-570}"; BIG_DEPTH="${BIG_DEPTH:-32}"; STEPS="${STEPS:-10}"; WARMUP="${WARMUP:-3}"
  attn_flags=(); seq_cap=1048576
  share_attn=110; share_small=35; share_big=55; share_seq=160
fi
want() { [[ ",$only," == *",$1,"* ]]; }

start=$SECONDS
left() { echo $(( budget - (SECONDS - start) )); }
: > "$out/status.tsv"
status() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$out/status.tsv"; }

# run_piece NAME SHARE CMD...: runs CMD under timeout min(SHARE, time left - 10 s), output in
# $out/NAME.log (its last lines echoed); records ok / oom (exit 3) / timeout / failed / skip.
run_piece() {
  local name="$1" share="$2"; shift 2
  local l=$(( $(left) - 10 ))
  local t=$(( share < l ? share : l ))
  if [ "$t" -lt 15 ]; then
    echo "== $name: skipped (time budget: ${l}s left of ${budget}s)"
    status "$name" skipped "time budget"
    return 0
  fi
  echo "== $name (timeout ${t}s): $*"
  local t0=$SECONDS rc
  timeout -k 5 "$t" "$@" > "$out/$name.log" 2>&1
  rc=$?
  tail -n "${TAIL_LINES:-8}" "$out/$name.log" | sed 's/^/    /'
  local dt=$(( SECONDS - t0 ))
  if grep -q '^skip:' "$out/$name.log" && [ "$rc" = 0 ]; then
    status "$name" skip "$(grep -m1 '^skip:' "$out/$name.log" | cut -c7-)"
  elif [ "$rc" = 0 ]; then status "$name" ok "${dt}s"
  elif [ "$rc" = 3 ]; then status "$name" oom "out of memory (${dt}s)"
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status "$name" timeout "over ${t}s"
  else status "$name" failed "exit $rc: $(grep -v '^\s*$' "$out/$name.log" | tail -n 1 | cut -c1-160)"
  fi
  return "$rc"
}

echo "gpu-bench: mode $mode, budget ${budget}s, out $out, $(date -u '+%Y-%m-%d %H:%M UTC')"
if command -v nvidia-smi > /dev/null; then
  gpu="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 |
         paste -sd ';' -)" || gpu="nvidia-smi failed: $gpu"
else
  gpu="no nvidia-smi on this machine"
fi
echo "GPU: $gpu"
torch_info="$("$PYTHON" - <<'EOF' 2>&1
import torch, torch.nn.functional as F
cuda = torch.cuda.is_available()
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"sdpa {'yes' if hasattr(F, 'scaled_dot_product_attention') else 'no'}, "
      f"device {torch.cuda.get_device_name(0) if cuda else 'none'}")
print("OK" if cuda and hasattr(F, "scaled_dot_product_attention") else "NO")
EOF
)"
torch_ok=0
[ "$(printf '%s\n' "$torch_info" | tail -n 1)" = OK ] && torch_ok=1
torch_line="$(printf '%s\n' "$torch_info" | grep -m1 '^torch ' || printf '%s\n' "$torch_info" | tail -n 1)"
echo "PyTorch ($PYTHON): $torch_line"
torch_why=""
[ "$torch_ok" = 1 ] || torch_why="needs torch >= 2.0 with a CUDA device ($PYTHON: $torch_line)"

# (d) detect lvit's CUDA bench: the binary runs here and `lvit bench --help` lists --device
lvit_why=""
if [ ! -e "$LVIT" ]; then
  lvit_why="$LVIT not found; build it, or set LVIT"
elif [ ! -x "$LVIT" ]; then
  lvit_why="$LVIT is not executable"
else
  lvit_help="$(timeout 30 "$LVIT" bench --help 2>&1)"
  if printf '%s\n' "$lvit_help" | grep -q 'error while loading shared libraries'; then
    lvit_why="$LVIT cannot run here: $(printf '%s\n' "$lvit_help" | grep -m1 'error while loading' | cut -c1-160)"
  elif ! printf '%s\n' "$lvit_help" | grep -q -- '--device'; then
    lvit_why="$LVIT bench has no --device option"
  fi
fi
if [ -n "$lvit_why" ]; then
  echo "lvit: no CUDA bench binary ($lvit_why)"
else
  echo "lvit: $LVIT bench --device cuda"
fi
{
  echo "mode: $mode"; echo "budget_s: $budget"; echo "gpu: $gpu"; echo "torch: $torch_line"
  echo "lvit: ${lvit_why:-$LVIT}"; echo "big_depth: $BIG_DEPTH"; echo "agg_vars: $AGG_VARS"
  echo "steps: $STEPS"; echo "warmup: $WARMUP"; echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
} > "$out/env.txt"

# (a) attention
if want attn; then
  run_piece attn "$share_attn" "$PYTHON" bench/gpu/attn_bench.py "${attn_flags[@]}" \
    --json "$out/attn.json" --md "$out/attn.md"
  if [ -n "${LVIT_ATTN_CMD:-}" ]; then
    run_piece attn.lvit "$share_attn" bash -c "$LVIT_ATTN_CMD"
  fi
fi

# (b) training steps: name | S | model and data flags (the same for the twin and for lvit)
configs=(
  "d768-agg-S4096|4096|--dim 768 --depth 12 --heads 12 --channels agg --vars $AGG_VARS --grid 64x256 --patch 2 --batch 4"
  "d768-agg-S16384|16384|--dim 768 --depth 12 --heads 12 --channels agg --vars $AGG_VARS --grid 128x512 --patch 2 --batch 1"
  "d768-multi-S11776|11776|--dim 768 --depth 12 --heads 12 --channels multi --vars 92 --grid 32x64 --patch 4 --batch 1"
  "d2560-agg-S4096|4096|--dim 2560 --depth $BIG_DEPTH --heads 16 --channels agg --vars $AGG_VARS --grid 64x256 --patch 2 --batch 4"
  "d2560-agg-S16384|16384|--dim 2560 --depth $BIG_DEPTH --heads 16 --channels agg --vars $AGG_VARS --grid 128x512 --patch 2 --batch 1"
  "d2560-multi-S11776|11776|--dim 2560 --depth $BIG_DEPTH --heads 16 --channels multi --vars 92 --grid 32x64 --patch 4 --batch 1"
)
printf '%s\n' "${configs[@]}" > "$out/configs.txt"
if want steps; then
  for c in "${configs[@]}"; do
    IFS='|' read -r name _ flags <<< "$c"
    share=$share_small
    [[ "$name" == d2560-* ]] && share=$share_big
    # shellcheck disable=SC2086  # the flag strings are word lists on purpose
    if [ -n "$torch_why" ]; then
      echo "== $name.torch: skip: $torch_why"; status "$name.torch" skip "$torch_why"
    else
      run_piece "$name.torch" "$share" "$PYTHON" tools/twin.py bench $flags --device cuda \
        --dtype bf16 --attn sdpa --steps "$STEPS" --warmup "$WARMUP" \
        --json "$out/$name.torch.json" $TWIN_FLAGS
      if [ "$(tail -n 1 "$out/status.tsv" | cut -f2)" = oom ]; then  # then with recomputation
        run_piece "$name.torch-recompute" "$share" "$PYTHON" tools/twin.py bench $flags \
          --device cuda --dtype bf16 --attn sdpa --recompute --steps "$STEPS" --warmup "$WARMUP" \
          --json "$out/$name.torch-recompute.json" $TWIN_FLAGS
      fi
    fi
    if [ -z "$lvit_why" ]; then
      # shellcheck disable=SC2086
      run_piece "$name.lvit" "$share" "$LVIT" bench $flags --device cuda \
        --steps "$STEPS" --warmup "$WARMUP" $LVIT_FLAGS
    fi
  done
fi

# (c) the longest sequence that trains (D=768, 12 blocks, recomputation on in both)
if want maxseq; then
  for impl in torch lvit; do
    if [ "$impl" = torch ] && [ -n "$torch_why" ]; then
      echo "== maxseq.torch: skip: $torch_why"; status maxseq.torch skip "$torch_why"; continue
    fi
    if [ "$impl" = lvit ] && [ -n "$lvit_why" ]; then
      status maxseq.lvit skip "no CUDA bench binary ($lvit_why)"; continue
    fi
    l=$(( $(left) - 10 ))
    s=$(( share_seq < l ? share_seq : l ))
    inner=$(( s - 15 ))  # the search stops itself before the timeout kills it
    [ "$inner" -lt 10 ] && inner=10
    extra=()
    [ "$impl" = lvit ] && extra=(--lvit "$LVIT" --lvit-flags "$LVIT_MAXSEQ_FLAGS")
    run_piece "maxseq.$impl" "$s" "$PYTHON" bench/gpu/max_seq.py --s-max "$seq_cap" \
      --budget "$inner" --json "$out/maxseq.$impl.json" "${extra[@]}"
  done
fi

[ -n "$lvit_why" ] && status lvit skip "no CUDA bench binary ($lvit_why)"
echo "== report: $out/results.md ($(( SECONDS - start ))s of ${budget}s used)"
if ! "$PYTHON" bench/gpu/report.py "$out" > "$out/results.md" 2> "$out/report.log"; then
  # the report needs only Python 3; fall back to the status table
  { echo "# lvit GPU bench (report.py failed: $(tail -n 1 "$out/report.log"))"; echo
    echo '| piece | status | detail |'; echo '|---|---|---|'
    sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$out/status.tsv"; } > "$out/results.md"
fi
cat "$out/results.md"
exit 0
