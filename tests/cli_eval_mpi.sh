#!/usr/bin/env bash
# lvit eval and lvit predict under mpirun, on the storm data: evaluation shares the times (and
# forecast batches) over the processes and prints and writes once, with the JSON of one process
# byte for byte (each sample's sums are added in the order one process adds them); layouts other
# than data parallel are refused once, exit 2 on every rank; prediction is written once, by rank 0,
# the same bytes as one process writes.
# usage: cli_eval_mpi.sh LVIT_BINARY SOURCE_DIR
set -u
LVIT=$1 SRC=$2
. "$(dirname "$0")/lib_cli.sh"
mpi_or_skip
storm_or_skip "$SRC"
tmp=$(mktemp -d /tmp/lvit_eval_mpi_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# count TEXT: how many lines of the last output hold TEXT
count() { grep -c -- "$1" "$tmp/out"; }
once() { local n; n=$(count "$1"); [ "$n" -eq 1 ] && ok "'$1' printed once" || bad "'$1' printed $n times"; }
# the table of an eval output, without the timing and the file name
table() { grep -v -e 'ms per field' -e '^wrote' -e 'runs in one process' "$1"; }

files=("$storm/Pstorm.cdf" "$storm/Tstorm.cdf" "$storm/Ustorm.cdf" "$storm/Vstorm.cdf" "$storm/U500storm.cdf" "$storm/V500storm.cdf")
expect 0 "convert the storm files" "$LVIT" convert -o "$tmp/storm.lvd" "${files[@]}" --rename U500storm.cdf:u=u500,V500storm.cdf:v=v500
expect 0 "train Reslim x3" "$LVIT" train --task downscale --scale 3 --data "$tmp/storm.lvd" --dim 32 --depth 1 --heads 2 \
  --batch 8 --static lat --run "$tmp/ds" --steps 10
expect 0 "train a forecaster" "$LVIT" train --data "$tmp/storm.lvd" --run "$tmp/fc" --steps 4 --dim 16 --depth 1 --heads 2 \
  --batch 4 --leads 6,24

# downscaling, tiled (the seam scores too): 16 test times, rounds of 2 and of 3 (the last one short)
expect 0 "eval Reslim, one process" "$LVIT" eval --run "$tmp/ds" --tiles 2 --json "$tmp/ds1.json"
cp "$tmp/out" "$tmp/ds1.txt"
for np in 2 3; do
  expect 0 "eval Reslim, mpirun -np $np" mpi $np "$LVIT" eval --run "$tmp/ds" --tiles 2 --json "$tmp/ds$np.json"
  once "Reslim beats bicubic"; once "wrote $tmp/ds$np.json"; once "^t "
  cmp -s "$tmp/ds1.json" "$tmp/ds$np.json" && ok "np $np: the JSON of one process, byte for byte" || bad "np $np: JSON differs"
  cmp -s <(table "$tmp/ds1.txt") <(table "$tmp/out") && ok "np $np: the same table" || bad "np $np: the table differs"
done
/usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert len(r)==6 and all(x['times']==16 and x['rmse']>0 and x['rmse_vs_untiled']>=0 for x in r)" \
  "$tmp/ds2.json" && ok "the JSON scores 16 times of 6 variables" || bad "JSON content"

# forecasting: 15 samples at 6 h and 12 at 24 h in batches of 3 (5 and 4 batches over 2 ranks)
expect 0 "eval the forecaster, one process" "$LVIT" eval --run "$tmp/fc" --leads 6,24 --batch 3 --json "$tmp/fc1.json"
cp "$tmp/out" "$tmp/fc1.txt"
expect 0 "eval the forecaster, mpirun -np 2" mpi 2 "$LVIT" eval --run "$tmp/fc" --leads 6,24 --batch 3 --json "$tmp/fc2.json"
once "skill on the test split"; once "wrote $tmp/fc2.json"
cmp -s "$tmp/fc1.json" "$tmp/fc2.json" && ok "forecast: the JSON of one process, byte for byte" || bad "forecast JSON differs"
cmp -s <(table "$tmp/fc1.txt") <(table "$tmp/out") && ok "forecast: the same table" || bad "forecast table differs"
/usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert sorted({(x['lead_h'],x['samples']) for x in r})==[(6,15),(24,12)], r" \
  "$tmp/fc2.json" && ok "15 and 12 samples scored" || bad "sample counts"

# layouts that make no sense for evaluation: refused once, every rank exits 2, nothing written
expect 2 "eval --tp 2" mpi 2 "$LVIT" eval --run "$tmp/ds" --tp 2 --json "$tmp/x.json"
has "--tp 2: evaluation is data parallel only"; once "data parallel only"
expect 2 "eval --dp 2 --pp 2" mpi 4 "$LVIT" eval --run "$tmp/fc" --dp 2 --pp 2 --json "$tmp/x.json"
has "--pp 2: evaluation is data parallel only"
expect 2 "eval --dp 3 on 2 processes" mpi 2 "$LVIT" eval --run "$tmp/fc" --dp 3;  has "does not match 2 processes"
expect 2 "eval --split nope under mpirun" mpi 2 "$LVIT" eval --run "$tmp/ds" --split nope;  once "--split expects test"
[ -e "$tmp/x.json" ] && bad "a refused eval wrote its JSON" || ok "refused evals write nothing"

# predict: rank 0 writes the file, once, the bytes of one process; no temporary files left
expect 0 "predict a fine field, one process" "$LVIT" predict --run "$tmp/ds" --time 50 -o "$tmp/p1.nc"
mkdir "$tmp/p"
expect 0 "predict a fine field, mpirun -np 2" mpi 2 "$LVIT" predict --run "$tmp/ds" --time 50 -o "$tmp/p/p2.nc" --plot "$tmp/p"
once "wrote $tmp/p/p2.nc"; once "Reslim vs bicubic"; once "wrote $tmp/p/t_t50_x3.png"
cmp -s "$tmp/p1.nc" "$tmp/p/p2.nc" && ok "the fine field of one process, byte for byte" || bad "fine fields differ"
expect 0 "predict a forecast, one process" "$LVIT" predict --run "$tmp/fc" --time 50 -o "$tmp/f1.safetensors"
expect 0 "predict a forecast, mpirun -np 3" mpi 3 "$LVIT" predict --run "$tmp/fc" --time 50 -o "$tmp/p/f3.safetensors"
once "wrote $tmp/p/f3.safetensors"
cmp -s "$tmp/f1.safetensors" "$tmp/p/f3.safetensors" && ok "the forecast of one process, byte for byte" || bad "forecasts differ"
ls "$tmp" "$tmp/p" | grep -q '\.tmp' && bad "temporary files left" || ok "no temporary files left"
expect 2 "predict a time the data lacks, mpirun -np 2" mpi 2 "$LVIT" predict --run "$tmp/ds" --time 999 -o "$tmp/p/x.nc"
once "--time 999"

# the other tasks' evaluation runs on rank 0 alone (EuroSAT classification, when the data is there)
eu="$SRC/../shared/data/eurosat_rgb_subset75"
if [ -d "$eu" ]; then
  expect 0 "convert EuroSAT" "$LVIT" convert -o "$tmp/eu.lvd" "$eu" --labels "$eu/test_labels.csv" --csv-columns Filename,ClassName
  expect 0 "train a classifier" "$LVIT" train --task classify --data "$tmp/eu.lvd" --run "$tmp/e" --dim 32 --depth 1 --heads 2 \
    --decoder-depth 1 --steps 5 --batch 8
  expect 0 "eval the classifier, one process" "$LVIT" eval --run "$tmp/e" --json "$tmp/e1.json"
  expect 0 "eval the classifier, mpirun -np 2" mpi 2 "$LVIT" eval --run "$tmp/e" --json "$tmp/e2.json"
  once "^test: "; once "wrote $tmp/e/confusion_test.csv"; has "rank 0 of the 2 does it"
  cmp -s "$tmp/e1.json" "$tmp/e2.json" && ok "classification: the JSON of one process" || bad "classification JSON differs"
else
  echo "skip: classification under mpirun (no ../shared/data/eurosat_rgb_subset75)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
