#!/usr/bin/env bash
# lvit ptycho's outputs and refusals (found by a red-team pass): outputs that are an input or each
# other are refused before anything is written; the cost log and the FRC curve appear at their
# names only complete (SIGKILL leaves none; SIGINT stops between iterations and writes the result
# so far); a position that stretches the object past 8192 x 8192 pixels is refused naming its
# frame (it used to wrap an int); out of memory speaks of the scan, not of training flags; an empty
# probe, a fully masked detector and an empty truth; the messages of CXI files without a probe or
# with one frame, of convert, of an unknown command.
# usage: cli_ptycho_guard.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
. "$(dirname "$0")/lib_cli.sh"
tmp=$(mktemp -d /tmp/lvit_ptycho_guard_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1

sum() { md5sum <"$1" | cut -d' ' -f1; }
# kept FILE SUM "what": FILE still has the checksum SUM
kept() { [ "$(sum "$1")" = "$2" ] && ok "$3: ${1##*/} unchanged" || bad "$3: ${1##*/} was changed"; }
# absent FILE...: none of them exists
absent() { for f; do [ -e "$f" ] && { bad "${f##*/} was written"; return; }; done; ok "not written: ${*##*/}"; }
# no_temp: no "NAME.tmp.PID" is left in $tmp
no_temp() { if ls "$tmp" | grep -q '\.tmp\.'; then bad "temporary left: $(ls "$tmp" | grep '\.tmp\.')"; else ok "no temporary file left"; fi; }
lacks() { if grep -q -- "$1" "$tmp/out"; then bad "message has '$1'"; sed 's/^/    /' "$tmp/out" | tail -3; else ok "message lacks '$1'"; fi; }

expect 0 "simulate" "$LVIT" ptycho simulate -o "$tmp/sim.nc" --object 64 --probe 32 --positions 30 \
  --pupil-radius 8 --defocus 6 --photons 1e6 --seed 3
s0=$(sum "$tmp/sim.nc")
R=(ptycho reconstruct --data "$tmp/sim.nc" --iters 3 --quiet)

echo "# 1. an output onto an input or onto another output"
expect 2 "-o onto --data" "$LVIT" "${R[@]}" -o "$tmp/sim.nc"
has "-o $tmp/sim.nc is the file this command reads (--data $tmp/sim.nc)"; kept "$tmp/sim.nc" "$s0" "-o onto --data"
absent "$tmp/sim.jsonl"
expect 2 "--cost onto --data" "$LVIT" "${R[@]}" -o "$tmp/r.nc" --cost "$tmp/sim.nc"
has "--cost $tmp/sim.nc is the file this command reads"; kept "$tmp/sim.nc" "$s0" "--cost onto --data"; absent "$tmp/r.nc"
ln -s sim.nc "$tmp/link.nc"
expect 2 "-o onto a link to --data" "$LVIT" "${R[@]}" -o "$tmp/link.nc"
kept "$tmp/sim.nc" "$s0" "-o onto a link"
cp "$tmp/sim.nc" "$tmp/s2.jsonl"
expect 2 "the derived cost log (OUT.jsonl) onto --data" "$LVIT" ptycho reconstruct --data "$tmp/s2.jsonl" --iters 2 -o "$tmp/s2.nc"
has "the cost log $tmp/s2.jsonl is the file this command reads"; kept "$tmp/s2.jsonl" "$s0" "OUT.jsonl onto --data"
expect 2 "-o and --cost the same file" "$LVIT" "${R[@]}" -o "$tmp/x.nc" --cost "$tmp/./x.nc"
has "are the same file"; absent "$tmp/x.nc"
expect 2 "frc -o onto --data" "$LVIT" ptycho frc --data "$tmp/sim.nc" --iters 2 -o "$tmp/sim.nc"
has "is the file this command reads"; kept "$tmp/sim.nc" "$s0" "frc -o onto --data"
expect 2 "convert -o onto its input" "$LVIT" ptycho convert "$tmp/sim.nc" -o "$tmp/sim.nc"
kept "$tmp/sim.nc" "$s0" "convert onto its input"
expect 2 "--plot naming a file" "$LVIT" "${R[@]}" -o "$tmp/p.nc" --plot "$tmp/sim.nc"
has "--plot $tmp/sim.nc: a file of that name exists"; absent "$tmp/p.nc" "$tmp/p.jsonl"
mkdir "$tmp/pl"
expect 2 "-o onto a plot of --plot" "$LVIT" "${R[@]}" -o "$tmp/pl/cost.png" --cost "$tmp/c.jsonl" --plot "$tmp/pl"
has "--plot $tmp/pl/cost.png are the same file"; absent "$tmp/c.jsonl"
mkdir "$tmp/adir"
expect 2 "-o a folder" "$LVIT" "${R[@]}" -o "$tmp/adir"
has "-o '$tmp/adir' is a folder"; absent "$tmp/adir.jsonl"
expect 2 "-o in a folder that does not exist" "$LVIT" "${R[@]}" -o "$tmp/none/x.nc"
has "folder $tmp/none: No such file or directory"
expect 2 "frc -o a folder" "$LVIT" ptycho frc --data "$tmp/sim.nc" --iters 2 -o "$tmp/adir"
has "is a folder"
expect 2 "frc --cost (reconstruct's only)" "$LVIT" ptycho frc --data "$tmp/sim.nc" --iters 2 -o "$tmp/f.jsonl" --cost "$tmp/fc.jsonl"
has "--cost is for reconstruct only"
no_temp

echo "# 2. outputs appear complete or not at all"
expect 0 "simulate a slower scan" "$LVIT" ptycho simulate -o "$tmp/big.nc" --object 128 --probe 64 --positions 80
# started_then SIGNAL NAME: reconstruct big.nc into NAME.nc, send SIGNAL after its iteration 3 and
# wait for the end (at most 30 s, then SIGKILL: a missed stop must not run a million iterations); rc
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]; }
started_then() {
  "$LVIT" ptycho reconstruct --data "$tmp/big.nc" --iters 1000000 -o "$tmp/$2.nc" >"$tmp/$2.log" 2>&1 &
  local pid=$! i=0
  while [ $i -lt 300 ] && alive "$pid" && ! grep -q '^iter    3 ' "$tmp/$2.log"; do sleep 0.1; i=$((i + 1)); done
  kill -"$1" "$pid"
  i=0
  while [ $i -lt 300 ] && alive "$pid"; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null; rc=$?
  cp "$tmp/$2.log" "$tmp/out"
}
started_then KILL k
[ "$rc" -eq 137 ] && ok "SIGKILL during the iterations" || bad "SIGKILL: exit $rc"
absent "$tmp/k.nc" "$tmp/k.jsonl"
rm -f "$tmp"/k.jsonl.tmp.*
# SIGINT: the iterations stop, the result so far is written, exit 0 (job control on: a background
# job of a script would otherwise start with SIGINT ignored)
set -m
started_then INT i
set +m
[ "$rc" -eq 0 ] && ok "SIGINT: exit 0" || bad "SIGINT: exit $rc"
has "received SIGINT: stopped after iteration"
k=$(sed -n 's/.*stopped after iteration \([0-9]*\) of.*/\1/p' "$tmp/out")
[ -n "$k" ] && [ "$(wc -l <"$tmp/i.jsonl")" -eq $((k + 1)) ] && ok "i.jsonl has the $((k + 1)) iterations done" \
  || bad "i.jsonl: $(wc -l <"$tmp/i.jsonl" 2>&1) lines for iteration '$k'"
if command -v ncdump >/dev/null; then
  ncdump -h "$tmp/i.nc" >"$tmp/out"; has "iteration = $((k + 1)) ;"
fi
no_temp

if command -v ncgen >/dev/null; then
  # ncscan NAME "POSITIONS" [PROBE_VALUE]: a 3-frame 8x8 scan (counts 1) without an object grid; with
  # PROBE_VALUE, probe_real and probe_imag hold it everywhere
  ncscan() {
    { echo "netcdf $1 { dimensions: frame = 3; ky = 8; kx = 8; axis = 2;"
      echo "variables: float frames(frame, ky, kx); float positions(frame, axis);"
      [ -n "${3:-}" ] && echo "float probe_real(ky, kx); float probe_imag(ky, kx);"
      echo "data: frames = $(seq -s, 1 192 | sed 's/[0-9]\+/1/g'); positions = $2;"
      [ -n "${3:-}" ] && echo "probe_real = $(seq -s, 1 64 | sed "s/[0-9]\+/$3/g"); probe_imag = $(seq -s, 1 64 | sed "s/[0-9]\+/$3/g");"
      echo "}"; } >"$tmp/$1.cdl"
    ncgen -4 -o "$tmp/$1.nc" "$tmp/$1.cdl"
  }
  # cxi NAME FRAMES "TRANSLATIONS [N, 3]" [MASK_VALUE]: a far-field CXI file (8x8 frames of 50
  # counts, z 1 m, pixel 1e-4 m, 1e-10 m wavelength: object pixels of 1.25e-7 m), no probe
  cxi() {
    { echo "netcdf $1 { group: entry_1 { group: data_1 { dimensions: N = $2; ny = 8; nx = 8; d3 = 3;"
      echo "variables: float data(N, ny, nx); double translation(N, d3);"
      echo "data: data = $(seq -s, 1 $(($2 * 64)) | sed 's/[0-9]\+/50/g'); translation = $3; }"
      echo "group: instrument_1 { group: detector_1 {"
      [ -n "${4:-}" ] && echo "dimensions: my = 8; mx = 8;"
      echo "variables: double distance; double x_pixel_size;"
      [ -n "${4:-}" ] && echo "int mask(my, mx);"
      echo "data: distance = 1.0; x_pixel_size = 1e-4;"
      [ -n "${4:-}" ] && echo "mask = $(seq -s, 1 64 | sed "s/[0-9]\+/$4/g");"
      echo "} group: source_1 { variables: double energy; data: energy = 1.98644586e-15; } } } }"; } >"$tmp/$1.cdl"
    ncgen -k nc4 -o "$tmp/$1.cxi" "$tmp/$1.cdl"
  }
  T6="0,0,0, 2.5e-7,0,0, 5e-7,0,0, 0,2.5e-7,0, 2.5e-7,2.5e-7,0"

  echo "# 3. positions that stretch the object"
  for p in 3e9 -3e9 1e20 1e9; do
    ncscan "pos_$p" "0, 0, 2, 2, $p, 4" 1
    expect 2 "a position of $p" "$LVIT" ptycho reconstruct --data "$tmp/pos_$p.nc" --iters 2 -o "$tmp/o.nc"
    has "above the limit of 67108864 pixels (8192 x 8192"; has "frame 2 at ($(printf %g "$p"), 4)"; lacks "2147483"; lacks "--batch"
  done
  absent "$tmp/o.nc" "$tmp/o.jsonl"
  cxi tfar 6 "$T6, 1.0,0,0"
  expect 2 "a CXI translation of 1 m" "$LVIT" ptycho reconstruct --data "$tmp/tfar.cxi" --iters 2 -o "$tmp/o.nc" --probe-init pupil
  has "an object of 42 x 8000040 pixels"; has "frame 5 at (0, -8e+06)"; absent "$tmp/o.nc"
  if [ -n "${ASAN_OPTIONS:-}" ]; then
    echo "skip: out of memory under AddressSanitizer (its allocator refuses the size itself)"
  else
    # 2000 frames of 1024x1024 (declared, never written: the file is small) need 8000 MiB
    { echo "netcdf huge { dimensions: frame = 2000; ky = 1024; kx = 1024; axis = 2;"
      echo "variables: float frames(frame, ky, kx); float positions(frame, axis);"
      echo "data: positions = $(seq -s, 1 4000 | sed 's/[0-9]\+/0/g'); }"; } >"$tmp/huge.cdl"
    ncgen -4 -o "$tmp/huge.nc" "$tmp/huge.cdl"
    ( ulimit -v 4000000; exec "$LVIT" ptycho reconstruct --data "$tmp/huge.nc" --iters 2 -o "$tmp/o.nc" --probe-init pupil ) >"$tmp/out" 2>&1
    rc=$?
    [ "$rc" -eq 3 ] && ok "frames that do not fit exit 3" || bad "frames that do not fit exit $rc"
    has "out of memory: 8000.0 MiB for this process's 2000 frames of 1024x1024"; has "--tiles"; lacks "--batch"
    absent "$tmp/o.nc" "$tmp/o.jsonl"
  fi

  echo "# 4. inputs with nothing in them"
  ncscan zprobe "0, 0, 2, 2, 4, 4" 0
  expect 2 "a probe that is 0 everywhere" "$LVIT" ptycho reconstruct --data "$tmp/zprobe.nc" --iters 2 -o "$tmp/o.nc"
  has "zprobe.nc: the stored probe ('probe_real' / 'probe_imag') is 0 at every pixel"; has "--probe-init pupil"
  absent "$tmp/o.nc" "$tmp/o.jsonl"
  expect 0 "the same file from a pupil" "$LVIT" ptycho reconstruct --data "$tmp/zprobe.nc" --iters 2 -o "$tmp/zp.nc" --probe-init pupil --quiet
  cxi maskall 6 "$T6, 5e-7,2.5e-7,0" 1
  expect 2 "a CXI mask over every pixel" "$LVIT" ptycho reconstruct --data "$tmp/maskall.cxi" --iters 2 -o "$tmp/o.nc" --probe-init pupil
  has "dataset 'entry_1/instrument_1/detector_1/mask' masks all 64 detector pixels"; absent "$tmp/o.nc"
  { echo "netcdf ztruth { dimensions: frame = 3; ky = 8; kx = 8; axis = 2; y = 12; x = 12;"
    echo "variables: float frames(frame, ky, kx); float positions(frame, axis); float object_true_real(y, x); float object_true_imag(y, x);"
    echo "data: frames = $(seq -s, 1 192 | sed 's/[0-9]\+/1/g'); positions = 0, 0, 2, 2, 4, 4;"
    echo "object_true_real = $(seq -s, 1 144 | sed 's/[0-9]\+/0/g'); object_true_imag = $(seq -s, 1 144 | sed 's/[0-9]\+/0/g'); }"; } >"$tmp/ztruth.cdl"
  ncgen -4 -o "$tmp/ztruth.nc" "$tmp/ztruth.cdl"
  expect 0 "a truth that is 0 everywhere" "$LVIT" ptycho reconstruct --data "$tmp/ztruth.nc" --iters 2 -o "$tmp/zt.nc" --probe-init pupil --quiet
  has "object NRMSE not computed: the truth in $tmp/ztruth.nc (object_true_real/imag) is 0 over the lit area"; lacks "inf"

  echo "# 5. messages"
  cxi noprobe 6 "$T6, 5e-7,2.5e-7,0"
  expect 2 "a CXI file without a probe, --probe-init file" "$LVIT" ptycho reconstruct --data "$tmp/noprobe.cxi" --iters 2 -o "$tmp/o.nc"
  has "no probe stored for --probe-init file (the default): looked for 'entry_1/instrument_1/source_1/illumination'"
  has "--probe-init pupil"; lacks "probe_real"; absent "$tmp/o.nc"
  expect 0 "the same file from a pupil" "$LVIT" ptycho reconstruct --data "$tmp/noprobe.cxi" --iters 2 -o "$tmp/np.nc" --probe-init pupil --quiet
  cxi one 1 "0,0,0"
  expect 2 "a one-frame CXI file" "$LVIT" ptycho reconstruct --data "$tmp/one.cxi" --iters 2 -o "$tmp/o.nc" --probe-init pupil
  has "it holds 1 frame: a ptychography scan needs 2 or more overlapping frames"; lacks "near-field"; lacks "inf m"
  expect 0 "inspect a one-frame CXI file" "$LVIT" ptycho inspect "$tmp/one.cxi"
  has "median step none (one frame)"; lacks "inf"
  cxi near 6 "0,0,0, 1e-3,0,0, 2e-3,0,0, 0,1e-3,0, 1e-3,1e-3,0, 2e-3,1e-3,0"
  expect 2 "convert of a near-field CXI file" "$LVIT" ptycho convert "$tmp/near.cxi" -o "$tmp/o.nc"
  has "near.cxi: cannot convert: the median step"; absent "$tmp/o.nc"
else
  echo "skip: no ncgen (apt-get install netcdf-bin): the refusals of made-up scans"
fi
expect 2 "an unknown command" "$LVIT" ptycho bogus
has "unknown ptycho command 'bogus'"
no_temp
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
