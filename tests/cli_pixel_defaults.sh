#!/usr/bin/env bash
# The pixel tasks' defaults chosen from the data (docs/classification.md, "Defaults") through the
# binary on Salinas-A: masked-autoencoder pretraining and classification with no model flags pick
# the same tokenizer (3x3 windows, patch 1, 13 band groups for 204 bands), so fine-tuning from the
# pretrained model loads its whole encoder; flags the user gives win; eval and predict read the
# chosen configuration back from the run.
# usage: cli_pixel_defaults.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
S="$SRC/../shared/data/salinasA_aviris"
data_or_skip "$S/SalinasA.mat" salinasA_aviris
tmp=$(mktemp -d /tmp/lvit_pixdef_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
expect 0 "convert Salinas-A" "$LVIT" convert -o "$tmp/sal.lvd" "$S/SalinasA.mat" --labels "$S/SalinasA_gt.mat" \
  --drop-bands 108-112,154-167,224
expect 0 "mae with the defaults" "$LVIT" train --task mae --data "$tmp/sal.lvd" --run "$tmp/mae" --steps 3 --threads 1
has "defaults for this data (docs/classification.md; flags you give win): patch 1, window 3, band-groups 13, dim 64, depth 2, heads 4, batch 32, lr 0.001"
has "V=204 grid 3x3 patch 1 -> S=117 tokens, D=64 depth=2"
expect 0 "classify with the defaults, fine-tuned from it" "$LVIT" train --task classify --data "$tmp/sal.lvd" --run "$tmp/ft" \
  --steps 3 --threads 1 --per-class 10 --init "$tmp/mae/model.safetensors"
has "patch 1, window 3, band-groups 13, dim 64, depth 2, heads 4, batch 16$"
has "kept their initialization: head.0.\*, head.2.\*, head.4.\* (head"   # the whole encoder loaded, only the head new
has "3x3-pixel windows around labelled pixels"
expect 0 "eval reads the chosen configuration back" "$LVIT" eval --run "$tmp/ft" --json "$tmp/ft.json"
has "test: "
expect 0 "predict a map" "$LVIT" predict --run "$tmp/ft" -o "$tmp/map.png"
# flags given win, and choosing another tokenizer drops the band groups
expect 0 "classify with --window 5 --channels agg --steps 2" "$LVIT" train --task classify --data "$tmp/sal.lvd" \
  --run "$tmp/c" --steps 2 --threads 1 --per-class 5 --window 5 --channels agg --batch 4
has "defaults for this data (docs/classification.md; flags you give win): patch 1, dim 64, depth 2, heads 4$"
has "model: agg, V=204 grid 5x5 patch 1"
has "5x5-pixel windows"
if grep -q "band-groups\|window 3\|batch 16\|steps 2000" "$tmp/out"; then bad "a given flag was overridden"; else ok "given flags kept"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
