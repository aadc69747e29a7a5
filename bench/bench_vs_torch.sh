#!/usr/bin/env bash
# Whole training step, lvit against its PyTorch twin (tools/twin.py) under PyTorch 2.x from PyPI,
# in one run on this machine: the four configurations of the README's performance table.
#
# Usage: bench/bench_vs_torch.sh [--configs a,b,c,d] [--rounds N] [--threads "1 2"] [--out DIR]
#                                [-- extra flags for both programs]
# Programs, each at every thread count: lvit (`lvit bench`), the twin in eager mode with the
# S x S attention written out (--attn manual), with F.scaled_dot_product_attention (--attn sdpa),
# and SDPA under torch.compile (--attn sdpa --compile). Each round runs every config and, in it,
# every program once, in an order rotated by one per round (interleaved); a figure is the median
# over the rounds (bench/vs_torch_report.py DIR reports a partial runs.tsv too).
# tokens/s on both sides = tokens per step (batch*L agg, batch*V*L multi) / mean timed step.
# torch.compile's time is the first (warm-up) step minus a steady step; it is not in tokens/s.
# Environment: LVIT (default build/lvit), LVIT_TORCH_VENV (see bench/torch_venv.sh), ROUNDS (3),
#   STEPS / WARMUP (override every config's timed / warm-up steps), RUN_TIMEOUT (s per run, 1800).
# Writes DIR/runs.tsv (every run), results.csv, results.md and results.png (default
# build/bench-vs-torch), with the machine (CPU model, flags, load averages) in results.md.
# Exits non-zero when a run fails or the venv cannot be made.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source bench/torch_venv.sh
LVIT="${LVIT:-build/lvit}"
ROUNDS="${ROUNDS:-3}"
RUN_TIMEOUT="${RUN_TIMEOUT:-1800}"
configs="a,b,c,d"
threads="1 2"
out="build/bench-vs-torch"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --configs) configs="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--configs a,b,c,d] [--rounds N] [--threads \"1 2\"] [--out DIR] [-- flags]" >&2
       exit 2 ;;
  esac
done

# name | flags for both programs | warm-up steps | timed steps (a step of (b) or (c) takes ~10 s)
config_flags() {
  local ref="--vars 5 --grid 32x64 --patch 2 --heads 4 --decoder-depth 2"
  case "$1" in
    a) echo "$ref --dim 128 --depth 4 --batch 8 --channels agg|1|4" ;;
    b) echo "$ref --dim 128 --depth 4 --batch 8 --channels multi|1|1" ;;
    c) echo "--vars 5 --grid 64x128 --patch 2 --heads 4 --decoder-depth 2 --dim 128 --depth 2 --batch 1 --channels multi|1|1" ;;
    d) echo "$ref --dim 256 --depth 8 --batch 8 --channels agg|1|3" ;;
    *) echo "error: --configs: unknown config '$1' (expected a, b, c, d)" >&2; return 1 ;;
  esac
}

if [ ! -x "$LVIT" ]; then
  echo "error: $LVIT not found: build lvit first (cmake -B build && cmake --build build)" >&2
  exit 1
fi
PY="$(torch_venv_python)" || exit 1
set_openblas_coretype
mkdir -p "$out/logs" || exit 1
torch_version="$("$PY" -c 'import torch; print(torch.__version__)')"
{
  print_machine
  echo "torch: $torch_version ($PY), $("$PY" -c 'import torch; print("BLAS", "mkl" if torch.backends.mkl.is_available() else "other", "| CPU capability", torch.backends.cpu.get_cpu_capability())')"
  src="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$(dirname "$LVIT")/CMakeCache.txt" 2>/dev/null)"
  echo "lvit: $LVIT, built from ${src:-?}$( [ -n "$src" ] && git -C "$src" rev-parse --short HEAD 2>/dev/null | sed 's/^/ at /')$( [ -n "$src" ] && git -C "$src" status --porcelain src 2>/dev/null | grep -q . && echo ' + uncommitted src changes')"
  echo "rounds: $ROUNDS, threads: $threads, extra flags: ${extra[*]:-(none)}"
} | tee "$out/machine.txt"

printf 'config\tprogram\tthreads\tround\ttokens_s\tfirst_step_s\tstep_s\tload1\n' > "$out/runs.tsv"

# run_one CONFIG PROGRAM THREADS ROUND FLAGS WARMUP STEPS: one run, appended to runs.tsv.
run_one() {
  local cfg="$1" prog="$2" t="$3" r="$4" flags="$5" warm="$6" steps="$7"
  local log="$out/logs/$cfg-$prog-t$t-r$r.log" load1 cmd rc
  load1="$(cut -d' ' -f1 /proc/loadavg)"
  # the config's flags, less those the extra flags set again (lvit refuses a flag given twice)
  local f=() cf i
  # shellcheck disable=SC2206
  cf=($flags)
  for ((i = 0; i < ${#cf[@]}; i += 2)); do
    [[ " ${extra[*]} " == *" ${cf[i]} "* ]] || f+=("${cf[i]}" "${cf[i + 1]}")
  done
  f+=("${extra[@]}")
  case "$prog" in
    lvit) cmd=("$LVIT" bench "${f[@]}" --threads "$t" --warmup "$warm" --steps "$steps" --no-peak) ;;
    manual|sdpa) cmd=("$PY" tools/twin.py bench "${f[@]}" --attn "$prog" --threads "$t"
                      --warmup "$warm" --steps "$steps") ;;
    compile) cmd=("$PY" tools/twin.py bench "${f[@]}" --attn sdpa --compile --threads "$t"
                  --warmup "$((warm < 2 ? 2 : warm))" --steps "$steps") ;;
  esac
  echo "== ($cfg) $prog, $t thread(s), round $r, load $load1: ${cmd[*]}" | tee "$log"
  OMP_NUM_THREADS="$t" MKL_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" \
    timeout "$RUN_TIMEOUT" "${cmd[@]}" >> "$log" 2>&1
  rc=$?
  local rate first step
  rate="$(grep -Eo 'tokens/s: *[0-9.]+' "$log" | tail -n 1 | grep -Eo '[0-9.]+$')"
  first="$(grep -Eo '^first step: *[0-9.]+' "$log" | grep -Eo '[0-9.]+$')"
  step="$(grep -Eo '^mean [0-9.]+ ms/step' "$log" | grep -Eo '[0-9.]+' | head -n 1)"
  if [ -n "$step" ]; then  # lvit: its mean ms/step; the twin: tokens/step / tokens/s
    step="$(awk -v s="$step" 'BEGIN { printf "%.4f", s / 1000 }')"
  elif [ -n "$rate" ]; then
    step="$(grep -Eo '[0-9]+ tokens/step' "$log" | head -n 1 | grep -Eo '^[0-9]+')"
    [ -n "$step" ] && step="$(awk -v n="$step" -v r="$rate" 'BEGIN { printf "%.4f", n / r }')"
  fi
  if [ "$rc" != 0 ] || [ -z "$rate" ]; then
    echo "error: ($cfg) $prog, $t thread(s) failed (exit $rc); see $log:" >&2
    tail -n 5 "$log" >&2
    failed=1
    return
  fi
  echo "   tokens/s $rate${first:+, first step $first s}"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$prog" "$t" "$r" "$rate" "${first:-}" \
    "${step:-}" "$load1" >> "$out/runs.tsv"
}

failed=0
IFS=',' read -r -a cfg_list <<< "$configs"
for cfg in "${cfg_list[@]}"; do config_flags "$cfg" >/dev/null || exit 2; done
progs=()
for t in $threads; do
  for p in lvit manual sdpa compile; do progs+=("$p:$t"); done
done
n=${#progs[@]}
# Rounds outermost: after each round every config has a figure (runs.tsv can be reported early).
for ((r = 1; r <= ROUNDS; r++)); do
  for cfg in "${cfg_list[@]}"; do
    IFS='|' read -r flags warm steps <<< "$(config_flags "$cfg")"
    warm="${WARMUP:-$warm}"
    steps="${STEPS:-$steps}"
    for ((i = 0; i < n; i++)); do
      pt="${progs[$(((i + r - 1) % n))]}"
      run_one "$cfg" "${pt%%:*}" "${pt##*:}" "$r" "$flags" "$warm" "$steps"
    done
  done
done
echo "uptime at the end:$(uptime | sed 's/.*up[^,]*,//')" | tee -a "$out/machine.txt"

"$PY" bench/vs_torch_report.py "$out" || failed=1
exit "$failed"
