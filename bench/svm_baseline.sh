#!/usr/bin/env bash
# RBF-SVM baseline for hyperspectral pixel classification (bench/svm_baseline.py; bench/README.md
# says what and how). Runs the script in a virtual environment with numpy and scikit-learn,
# created on first use and reused afterwards (offline once it exists):
#   ${LVIT_SVM_VENV:-$HOME/.cache/lvit/svm-venv}
# usage: bench/svm_baseline.sh DATASET.lvit --split split.csv [--per-class N] [--seed S] [--jsonl F]
#        bench/svm_baseline.sh DATASET.lvit --make-split split.csv [--block 10] [--train-frac 0.3]
#        bench/svm_baseline.sh --sweep DATASET.lvit split.csv "5 10 20" "0 1 2 3 4" [--jsonl F]
#          (every per-class count with every seed, then mean +- sd of OA, AA, kappa per count)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

svm_venv_python() {
  local venv="${LVIT_SVM_VENV:-$HOME/.cache/lvit/svm-venv}"
  local py="$venv/bin/python"
  if [ -x "$py" ] && "$py" -c 'import numpy, sklearn' 2>/dev/null; then
    echo "$py"
    return 0
  fi
  echo "svm venv: creating $venv (pip install numpy scikit-learn; a minute)" >&2
  mkdir -p "$(dirname "$venv")" || return 1
  if ! { [ -x "$py" ] || python3 -m venv "$venv" >&2; }; then
    echo "error: python3 -m venv $venv failed (Debian: apt-get install python3-venv)" >&2
    return 1
  fi
  if ! "$py" -m pip install numpy scikit-learn >&2; then
    echo "error: pip install numpy scikit-learn into $venv failed (is PyPI reachable?)" >&2
    return 1
  fi
  echo "$py"
}

py=$(svm_venv_python)
if [ "${1:-}" != "--sweep" ]; then
  exec "$py" "$here/svm_baseline.py" "$@"
fi
shift
[ $# -ge 4 ] || { echo "usage: $0 --sweep DATASET SPLIT \"N1 N2 ...\" \"SEED1 SEED2 ...\" [--jsonl F]" >&2; exit 2; }
ds=$1 split=$2 counts=$3 seeds=$4
shift 4
jsonl=svm_baseline.jsonl
if [ "${1:-}" = "--jsonl" ] && [ $# -ge 2 ]; then jsonl=$2; fi
tag="sweep-$(date -u +%Y%m%dT%H%M%SZ)-$$"
for n in $counts; do
  for s in $seeds; do
    "$py" "$here/svm_baseline.py" "$ds" --split "$split" --per-class "$n" --seed "$s" --jsonl "$jsonl" --label "$tag" |
      grep -E '^(CV|OA)' | sed "s/^/per-class $n seed $s: /"
  done
done
"$py" - "$jsonl" "$tag" <<'EOF'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if r.get("label") == sys.argv[2]]
print("per-class  runs  OA % (mean +- sd)   AA % (mean +- sd)   kappa (mean +- sd)")
for n in sorted({r["per_class"] for r in rows}):
    g = [r for r in rows if r["per_class"] == n]
    f = lambda k, m: (m * st.mean(r[k] for r in g), m * (st.stdev(r[k] for r in g) if len(g) > 1 else 0.0))
    oa, aa, ka = f("oa", 100), f("aa", 100), f("kappa", 1)
    print(f"{n:>9}  {len(g):>4}  {oa[0]:6.2f} +- {oa[1]:5.2f}     {aa[0]:6.2f} +- {aa[1]:5.2f}     "
          f"{ka[0]:.4f} +- {ka[1]:.4f}")
EOF
