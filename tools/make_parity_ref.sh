#!/usr/bin/env bash
# Regenerates the PyTorch parity references tests/data/parity_{agg,multi,reslim}.safetensors.
#
# For each channel mode: `build/lvit init` writes an initial lvit checkpoint, and the twin
# (tools/twin.py parity) loads it into PyTorch with strict=True, perturbs it, and writes the
# reference: batch, parameters, prediction, loss, every gradient and 10 AdamW steps.
#
# Usage: tools/make_parity_ref.sh [--twin-init]
#   --twin-init  make the initial checkpoint with `twin.py init` instead of `build/lvit init`
#                (for developing the twin only; committed references come from lvit's init)
# Environment: PYTHON (default /usr/bin/python3, which must have torch and numpy),
#              LVIT (default build/lvit).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PYTHON="${PYTHON:-/usr/bin/python3}"
LVIT="${LVIT:-build/lvit}"
twin_init=0
case "${1:-}" in
  "") ;;
  --twin-init) twin_init=1 ;;
  *) echo "usage: $0 [--twin-init]" >&2; exit 2 ;;
esac

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
  echo "error: $PYTHON cannot import torch and numpy (apt-get install python3-torch, or set PYTHON)" >&2
  exit 1
fi
if [ "$twin_init" = 0 ]; then
  if [ ! -x "$LVIT" ]; then
    echo "error: $LVIT not found: build lvit first (cmake -B build && cmake --build build)," >&2
    echo "       or pass --twin-init to use the twin's own init (development only)" >&2
    exit 1
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p tests/data
model_args=(--vars 3 --grid 8x16 --patch 2 --dim 32 --depth 2 --heads 4 --decoder-depth 2 --seed 7)
for mode in agg multi; do
  init="$tmp/init_$mode.safetensors"
  if [ "$twin_init" = 1 ]; then
    "$PYTHON" tools/twin.py init --channels "$mode" "${model_args[@]}" -o "$init"
  else
    if ! "$LVIT" init --channels "$mode" "${model_args[@]}" -o "$init" || [ ! -s "$init" ]; then
      echo "error: '$LVIT init --channels $mode ${model_args[*]} -o FILE' failed or wrote nothing:" >&2
      echo "       this build needs the init subcommand to write the initial checkpoint" >&2
      exit 1
    fi
  fi
  "$PYTHON" tools/twin.py parity --lvit-model "$init" --out "tests/data/parity_$mode.safetensors" --seed 1234
done
# Reslim x2: 3 inputs (2 outputs + 1 static) on a 4x8 coarse grid, patch 2, TV in the loss
init="$tmp/init_reslim.safetensors"
reslim_args=(--vars 3 --grid 4x8 --patch 2 --dim 32 --depth 2 --heads 4 --decoder-depth 1 --seed 7 --scale 2
             --res-width 3 --static-channels 1)
if [ "$twin_init" = 1 ]; then
  echo "error: --twin-init has no Reslim init; the Reslim reference starts from lvit init" >&2
  exit 1
fi
"$LVIT" init "${reslim_args[@]}" -o "$init"
"$PYTHON" tools/twin.py parity --lvit-model "$init" --out tests/data/parity_reslim.safetensors --seed 1234
echo "wrote tests/data/parity_agg.safetensors tests/data/parity_multi.safetensors tests/data/parity_reslim.safetensors"
