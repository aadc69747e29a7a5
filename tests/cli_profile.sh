#!/usr/bin/env bash
# lvit bench --profile: the roofline table (its columns, the flops of the linear layers and of
# attention equal to the hand-computed counts of a tiny model, the ceiling at each op's intensity),
# the --profile-png plot (a PNG of the documented size, written atomically), a path that cannot be
# written refused before any step with exit 2 naming it, and the lines scripts parse unchanged.
# usage: cli_profile.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
tmp=$(mktemp -d /tmp/lvit_profile_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib_cli.sh"

# A tiny forecasting model: agg mode, V 2 on 8x16 with patch 2 -> L = S = 32 tokens, D 16,
# 2 heads of d 8, MLP 4 D = 64, decoder 2, E = p*p*V = 8, batch 2 -> B*S = 64 rows.
M=(--vars 2 --grid 8x16 --patch 2 --dim 16 --depth 1 --heads 2 --decoder-depth 2 --batch 2 --steps 2 --warmup 1 --threads 1)
expect 0 "bench --profile --profile-png" "$LVIT" bench "${M[@]}" --profile --profile-png "$tmp/roof.png"
cp "$tmp/out" "$tmp/table"
has "^machine: .*, 1 threads: sgemm (1024^3) [0-9.]* GFLOP/s, memory (triad, 3 x 64 MiB) [0-9.]* GB/s"
has "^roofline ceilings: sgemm [0-9.]* GFLOP/s, memory [0-9.]* GB/s"
has "^  op  *ms/step  *%time  *calls  *GFLOP/step  *GFLOP/s  *GB/s  *flop/B  *roof GF/s  *%roof$"
has "^  all kernels "
has "^  whole step .* sgemm "
has "^wrote $tmp/roof.png"
has "^mean [0-9.]* ms/step"
tail -1 "$tmp/out" | grep -Eq '^tokens/s: [0-9]+(\.[0-9]+)?$' && ok "bench still ends with tokens/s" || bad "last line: $(tail -1 "$tmp/out")"

# column N of op's row (rows: "  name ms %time calls GFLOP/step GFLOP/s GB/s flop/B roof %roof")
col() { awk -v op="$1" -v n="$2" '$1 == op && NF == 10 { print $n; exit }' "$tmp/table"; }
# the value printed as the table does (%.6g), for an exact comparison
g6() { awk -v v="$1" 'BEGIN { printf "%.6g", v / 1e9 }'; }
# linear_fwd per step, 2 M K N each: agg query (1,16,16), agg keys+values (B V L = 128,16,32),
# agg out (B L = 64,16,16), qkv (64,16,48), proj (64,16,16), fc1 (64,16,64), fc2 (64,64,16),
# decoder 2 x (64,16,16), out (64,16,8)
lin=$((2 * (1*16*16 + 128*16*32 + 64*16*16 + 64*16*48 + 64*16*16 + 64*16*64 + 64*64*16 + 2*64*16*16 + 64*16*8)))
[ "$lin" -eq 639488 ] || bad "hand count $lin"
[ "$(col linear_fwd 5)" = "$(g6 $lin)" ] && ok "linear_fwd GFLOP/step = 2MKN summed by hand ($(g6 $lin))" \
  || bad "linear_fwd GFLOP/step $(col linear_fwd 5), expected $(g6 $lin)"
[ "$(col linear_fwd 4)" = 10 ] && ok "linear_fwd: 10 calls per step" || bad "linear_fwd calls $(col linear_fwd 4)"
# every backward product forms both din and dw: twice the forward
[ "$(col linear_bwd 5)" = "$(g6 $((2 * lin)))" ] && ok "linear_bwd GFLOP/step = 2 x forward" \
  || bad "linear_bwd GFLOP/step $(col linear_bwd 5), expected $(g6 $((2 * lin)))"
# attention: 4 B NH S S d forward, 2.5 times that backward
att=$((4 * 2 * 2 * 32 * 32 * 8))
[ "$(col attn_fwd 5)" = "$(g6 $att)" ] && ok "attn_fwd GFLOP/step = 4 B NH S^2 d" || bad "attn_fwd $(col attn_fwd 5), expected $(g6 $att)"
[ "$(col attn_bwd 5)" = "$(g6 $((10 * att / 4)))" ] && ok "attn_bwd GFLOP/step = 2.5 x forward" \
  || bad "attn_bwd $(col attn_bwd 5), expected $(g6 $((10 * att / 4)))"
[ "$(col zero 5)" = 0 ] && ok "zero: no flops" || bad "zero GFLOP/step $(col zero 5)"
# the roof column is min(sgemm, bandwidth x intensity) (to the printed digits) for every op
read -r sg bw < <(sed -n 's/^roofline ceilings: sgemm \([0-9.]*\) GFLOP\/s, memory \([0-9.]*\) GB\/s.*/\1 \2/p' "$tmp/table")
bads=$(awk -v sg="$sg" -v bw="$bw" 'NF == 10 && $3 ~ /%$/ && $1 != "op" {
  r = bw * $8; if (r > sg) r = sg
  # the ceilings print to 0.1 and the intensity to 0.001: their rounding bounds the product
  tol = 0.06 + 0.002 * r + 0.05 * $8 + 0.0005 * bw
  if ((r - $9 > tol || $9 - r > tol) && !($8 < 0.0005 && $9 < 0.06)) print $1 }' "$tmp/table")
rows=$(awk 'NF == 10 && $3 ~ /%$/ && $1 != "op"' "$tmp/table" | wc -l)
[ -z "$bads" ] && [ "$rows" -ge 15 ] && ok "roof = min(sgemm, bw x intensity) on all $rows ops" || bad "roof wrong for: $bads ($rows rows)"
# the shares of time add up to 100% (to rounding)
sum=$(awk 'NF == 10 && $3 ~ /%$/ && $1 != "op" { s += $3 } END { printf "%.0f", s }' "$tmp/table")
[ "$sum" -ge 98 ] && [ "$sum" -le 102 ] && ok "%time adds up to $sum%" || bad "%time adds up to $sum%"

# the PNG: signature and IHDR size (src/eval/roofline.h: 960 x 600), no temporary left
sig=$(od -An -tx1 -N8 "$tmp/roof.png" | tr -d ' \n')
[ "$sig" = 89504e470d0a1a0a ] && ok "roof.png is a PNG" || bad "roof.png signature $sig"
wh=$(od -An -tu1 -j16 -N8 "$tmp/roof.png" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4 "x" $5*16777216 + $6*65536 + $7*256 + $8 }')
[ "$wh" = 960x600 ] && ok "roof.png is 960x600" || bad "roof.png is $wh"
[ -z "$(ls "$tmp" | grep '\.tmp\.')" ] && ok "no temporary file left" || bad "left: $(ls "$tmp")"

# paths that cannot be written: refused before the first step, exit 2, naming the path
expect 2 "--profile-png in a missing directory" "$LVIT" bench "${M[@]}" --profile-png "$tmp/none/roof.png"
has "cannot write --profile-png '$tmp/none/roof.png'"
grep -q "^step 1:" "$tmp/out" && bad "the steps ran before the path was refused" || ok "refused before the steps"
expect 2 "--profile-png naming a directory" "$LVIT" bench "${M[@]}" --profile-png "$tmp"
has "'$tmp': it is a directory"
if [ "$(id -u)" != 0 ]; then
  mkdir "$tmp/ro" && chmod 555 "$tmp/ro"
  expect 2 "--profile-png in a read-only directory" "$LVIT" bench "${M[@]}" --profile-png "$tmp/ro/roof.png"
  has "cannot write --profile-png '$tmp/ro/roof.png'"
else
  echo "skip: running as root, a read-only directory is writable (missing directory tested instead)"
fi

# --no-peak: the table without ceilings
expect 0 "bench --profile --no-peak" "$LVIT" bench "${M[@]}" --profile --no-peak
grep -q "^machine:\|^roofline ceilings" "$tmp/out" && bad "ceilings printed under --no-peak" || ok "no ceilings under --no-peak"
[ "$(awk '$1 == "linear_fwd" && NF == 10 { print $9 $10 }' "$tmp/out")" = "--" ] && ok "roof columns '-' without ceilings" \
  || bad "roof columns: $(grep '^  linear_fwd' "$tmp/out")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
