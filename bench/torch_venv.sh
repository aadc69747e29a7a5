# Sourced by bench/bench_vs_torch.sh and bench/bench_attention.sh: a virtual environment with
# PyTorch 2.x, numpy and matplotlib from PyPI, created on first use and reused afterwards.
#   torch_venv_python   prints the venv's python (creating the venv if needed); exit 1 on failure
# Location: ${LVIT_TORCH_VENV:-$HOME/.cache/lvit/torch-venv}. The Linux wheel pulls NVIDIA's
# CUDA libraries (a few GB, minutes to install); the CPU benchmarks use only its CPU kernels.
# Debian's python3-torch (1.13) stays the interpreter of the parity twin (tools/make_parity_ref.sh).

torch_venv_python() {
  local venv="${LVIT_TORCH_VENV:-$HOME/.cache/lvit/torch-venv}"
  local py="$venv/bin/python"
  if [ -x "$py" ] && "$py" -c 'import torch, numpy, matplotlib' 2>/dev/null; then
    echo "$py"
    return 0
  fi
  echo "torch venv: creating $venv (pip install torch numpy matplotlib; a few GB, minutes)" >&2
  mkdir -p "$(dirname "$venv")" || return 1
  if ! { [ -x "$py" ] || python3 -m venv "$venv" >&2; }; then
    echo "error: python3 -m venv $venv failed (Debian: apt-get install python3-venv)" >&2
    return 1
  fi
  if ! "$py" -m pip install --upgrade pip >&2 || ! "$py" -m pip install torch numpy matplotlib >&2; then
    echo "error: pip install torch numpy matplotlib into $venv failed (is PyPI reachable?)" >&2
    return 1
  fi
  echo "$py"
}

# OPENBLAS_CORETYPE from the CPU's flags (never a fixed value: a core type the CPU lacks dies
# with "Illegal instruction"): SkylakeX with AVX-512 F/BW/VL, Haswell with AVX2+FMA, else unset.
# A preset value is overridden on purpose. PyPI's torch uses MKL, not OpenBLAS: this is for lvit
# and for the sgemm ceiling of bench/bench_attention.
set_openblas_coretype() {
  local flags
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  if [[ "$flags" == *" avx512f "* && "$flags" == *" avx512bw "* && "$flags" == *" avx512vl "* ]]; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif [[ "$flags" == *" avx2 "* && "$flags" == *" fma "* ]]; then
    export OPENBLAS_CORETYPE=Haswell
  else
    unset OPENBLAS_CORETYPE
  fi
}

# One line each: the CPU model, its vector flags, the core count, the load averages.
print_machine() {
  local flags
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
  printf 'cpu flags:'
  for f in sse4_2 avx avx2 fma avx512f avx512bw avx512vl avx512_bf16 avx512_vnni amx_tile; do
    [[ "$flags" == *" $f "* ]] && printf ' %s' "$f"
  done
  echo
  echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
  echo "uptime:$(uptime | sed 's/.*up[^,]*,//')"
}
