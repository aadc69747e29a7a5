#!/usr/bin/env bash
# lvit ptycho reconstruct over MPI tiles (docs/ptychography.md, "Tiles over MPI"): one process,
# 1x2 tiles on 2 ranks and 2x2 tiles on 4 ranks write byte-identical results (object, probe,
# cost) after iterations that update the probe, in float and in double; every rank holds only
# its own frames; tile grids that do not fit are refused with exit 2 and one message.
# usage: cli_ptycho_mpi.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1
. "$(dirname "$0")/lib_cli.sh"
mpi_or_skip 60
tmp=$(mktemp -d /tmp/lvit_ptycho_mpi_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# same A B "what": the two result files are byte for byte the same
same() { if cmp -s "$1" "$2"; then ok "$3: identical bytes"; else bad "$3: the files differ"; cmp "$1" "$2" | head -2; fi; }

expect 0 "simulate" "$LVIT" ptycho simulate -o "$tmp/sim.nc" --object 64 --probe 32 --positions 30 \
  --pupil-radius 8 --defocus 6 --photons 1e6 --seed 3
# 12 iterations from a pupil: the probe (initialised from the mean count, summed across ranks) is
# updated from iteration 5 on, so object, probe and cost all depend on the summation order. Cells
# of 16 pixels: the 33x33 window corners make 2x2 cells, enough for 2x2 tiles
base=(ptycho reconstruct --data "$tmp/sim.nc" --iters 12 --probe-init pupil --pupil-radius 8 --defocus 6 --quiet)
run=("${base[@]}" --cell 16)
expect 0 "one process, 2 threads" env OMP_NUM_THREADS=2 "$LVIT" "${run[@]}" -o "$tmp/r1.nc"
has "1x1 tile (cells of 16 pixels)"
expect 0 "mpirun -np 2 --tiles 1x2" mpi 2 "$LVIT" "${run[@]}" -o "$tmp/r2.nc" --tiles 1x2
has "1x2 tiles"
expect 0 "mpirun -np 4 (default grid 2x2)" mpi 4 "$LVIT" "${run[@]}" -o "$tmp/r4.nc"
has "2x2 tiles"
# each rank holds its own frames only: 7 + 7 + 8 + 8 of the 30 (positions by window centre)
frames=$(sed -n 's/.*ptycho: rank [0-3]: tile [0-3] of 2x2, \([0-9]*\) frames.*/\1/p' "$tmp/out" | awk '{ s += $1 } END { print s }')
[ "$(grep -c 'ptycho: rank .: tile' "$tmp/out")" -eq 4 ] && [ "$frames" = 30 ] \
  && ok "4 ranks report their tile; their frames add up to 30" || bad "rank lines / frames: '$frames'"
same "$tmp/r1.nc" "$tmp/r2.nc" "np 1 and np 2 (1x2)"
same "$tmp/r1.nc" "$tmp/r4.nc" "np 1 and np 4 (2x2)"
cut -d, -f1,2 "$tmp/r1.jsonl" >"$tmp/c1"; cut -d, -f1,2 "$tmp/r4.jsonl" >"$tmp/c4"
[ "$(wc -l <"$tmp/c1")" -eq 12 ] && cmp -s "$tmp/c1" "$tmp/c4" && ok "the 12 costs are the same at np 1 and 4" \
  || bad "cost logs differ"
# the comparison can fail: another summation order (cells of 8 pixels) changes the bits
expect 0 "one process, --cell 8" "$LVIT" "${base[@]}" -o "$tmp/r1c.nc" --cell 8
if cmp -s "$tmp/r1.nc" "$tmp/r1c.nc"; then bad "--cell 8 gave the same bytes"; else ok "--cell 8 gives other bits"; fi
expect 0 "--cell 8 at np 4 (2x2)" mpi 4 "$LVIT" "${base[@]}" -o "$tmp/r4c.nc" --cell 8
same "$tmp/r1c.nc" "$tmp/r4c.nc" "--cell 8: np 1 and np 4"
expect 0 "double, one process" "$LVIT" "${run[@]}" -o "$tmp/d1.nc" --double
expect 0 "double, mpirun -np 2 --tiles 2x1" mpi 2 "$LVIT" "${run[@]}" -o "$tmp/d2.nc" --double --tiles 2x1
same "$tmp/d1.nc" "$tmp/d2.nc" "double: np 1 and np 2 (2x1)"
expect 0 "Poisson from iteration 6, one process" "$LVIT" "${run[@]}" -o "$tmp/p1.nc" --poisson-from 6
expect 0 "Poisson from iteration 6, mpirun -np 4" mpi 4 "$LVIT" "${run[@]}" -o "$tmp/p4.nc" --poisson-from 6
same "$tmp/p1.nc" "$tmp/p4.nc" "Poisson cost: np 1 and np 4 (2x2)"
if cmp -s "$tmp/r1.nc" "$tmp/p1.nc"; then bad "the Poisson run equals the amplitude run"; else ok "the Poisson run differs from the amplitude run"; fi
# --subpixel: each position's probe shift is inside its cell's sum, so the tiles still add the same bits
expect 0 "simulate at fractional positions" "$LVIT" ptycho simulate -o "$tmp/simf.nc" --object 64 --probe 32 \
  --positions 30 --pupil-radius 8 --defocus 6 --photons 1e6 --seed 3 --subpixel
subr=(ptycho reconstruct --data "$tmp/simf.nc" --iters 12 --probe-init pupil --pupil-radius 8 --defocus 6 --quiet --cell 16 --subpixel)
expect 0 "--subpixel, one process" "$LVIT" "${subr[@]}" -o "$tmp/s1.nc"
expect 0 "--subpixel, mpirun -np 2 --tiles 1x2" mpi 2 "$LVIT" "${subr[@]}" -o "$tmp/s2.nc" --tiles 1x2
same "$tmp/s1.nc" "$tmp/s2.nc" "--subpixel: np 1 and np 2 (1x2)"
expect 0 "fractional scan rounded, one process" "$LVIT" "${subr[@]:0:15}" -o "$tmp/s0.nc"
if cmp -s "$tmp/s1.nc" "$tmp/s0.nc"; then bad "--subpixel gave the rounded run's bytes"; else ok "--subpixel differs from the rounded run"; fi
if command -v ncdump >/dev/null; then
  e=$(sed -n 's/.*object NRMSE \([0-9.]*\) after.*/\1/p' "$tmp/out")
  awk -v e="$e" 'BEGIN { exit !(e > 0 && e < 0.1) }' && ok "object NRMSE $e < 0.1 after 12 iterations" || bad "NRMSE '$e'"
fi

# refusals: exit 2, one message (rank 0), nothing written
expect 2 "--tiles 2x2 on 2 processes" mpi 2 "$LVIT" "${run[@]}" -o "$tmp/x.nc" --tiles 2x2
has "--tiles 2x2 is 4 tiles, one per process, but 2 processes are running"
[ "$(grep -c 'one per process' "$tmp/out")" -eq 1 ] && ok "the refusal is printed once" || bad "printed $(grep -c 'one per process' "$tmp/out") times"
expect 2 "--tiles 1x2 in one process" "$LVIT" "${run[@]}" -o "$tmp/x.nc" --tiles 1x2
has "mpirun -np 2"
expect 2 "--tiles 1x4: more tile columns than the 64-pixel object has cells" mpi 4 "$LVIT" "${run[@]}" -o "$tmp/x.nc" --tiles 1x4
has "--tiles 1x4: the 64x64 object has 2x2 cells of 16 pixels"; has "use at most 2x2 tiles"
expect 2 "--tiles 2by2" "$LVIT" "${run[@]}" -o "$tmp/x.nc" --tiles 2by2
has "expected ROWSxCOLUMNS"
[ ! -e "$tmp/x.nc" ] && ok "no output from the refused runs" || bad "x.nc written"
s0=$(md5sum <"$tmp/sim.nc")
expect 2 "-o onto --data under mpirun -np 2" mpi 2 "$LVIT" "${run[@]}" -o "$tmp/sim.nc" --tiles 1x2
has "is the file this command reads"
[ "$(grep -c 'is the file this command reads' "$tmp/out")" -eq 1 ] && ok "printed once" || bad "printed $(grep -c 'is the file' "$tmp/out") times"
[ "$(md5sum <"$tmp/sim.nc")" = "$s0" ] && ok "sim.nc unchanged" || bad "sim.nc was changed"

# the one-process jobs under mpirun: rank 0 does the job and writes the file once, the others leave
expect 0 "simulate under mpirun -np 2" mpi 2 "$LVIT" ptycho simulate -o "$tmp/ms.nc" --object 64 --probe 32 --positions 30
has "rank 0 of the 2 does it"
[ "$(grep -c '^wrote ' "$tmp/out")" -eq 1 ] && ok "simulate: one process wrote ms.nc" || bad "simulate: $(grep -c '^wrote ' "$tmp/out") processes wrote"
expect 0 "frc under mpirun -np 2" mpi 2 "$LVIT" ptycho frc --data "$tmp/sim.nc" --iters 4 -o "$tmp/mf.jsonl" --probe-init pupil
[ "$(grep -c '^wrote ' "$tmp/out")" -eq 1 ] && [ "$(grep -c 'even frames' "$tmp/out")" -eq 1 ] \
  && ok "frc: one process reconstructed and wrote mf.jsonl" || bad "frc: $(grep -c '^wrote ' "$tmp/out") processes wrote"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
