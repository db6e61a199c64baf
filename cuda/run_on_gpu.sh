#!/usr/bin/env bash
# run_on_gpu.sh: everything the CUDA backend needs checked on a machine with an NVIDIA GPU
# (driver R580+ for a fatbin built by nvcc 13). From the repository root or anywhere:
#   cuda/run_on_gpu.sh [build-dir]        (default: build-gpu next to cuda/)
# 1. configure + build (libfusedloss.a, fusedloss.fatbin, cuda_check)
# 2. cuda_check: every kernel against the CPU kernels, bit identity, error word
# 3. compute-sanitizer memcheck and racecheck on small shapes
# 4. cuda_check --bench (PEERS.md shapes and data, vs a device-to-device copy)
# 5. torch_peer.py (PyTorch CUDA eager forward + backward, same data) if torch is installed
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build-gpu}"
status=0
step() { printf '\n==== %s\n' "$*"; }

step "configure + build ($build)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFUSEDLOSS_CUDA_DRIVER=ON || exit 1
start=$(date +%s)
cmake --build "$build" -j"$(nproc)" || exit 1
echo "build: $(( $(date +%s) - start )) s, fatbin $(stat -c %s "$build/lib/fusedloss.fatbin") bytes"
check="$build/bin/cuda_check"
fatbin="$build/lib/fusedloss.fatbin"

step "cuda_check (correctness against the CPU kernels)"
"$check" --fatbin "$fatbin" || status=1

if command -v compute-sanitizer >/dev/null 2>&1; then
  step "compute-sanitizer memcheck (small shapes)"
  compute-sanitizer --tool memcheck --error-exitcode 3 "$check" --fatbin "$fatbin" --small || status=1
  step "compute-sanitizer racecheck (small shapes)"
  compute-sanitizer --tool racecheck --error-exitcode 3 "$check" --fatbin "$fatbin" --small || status=1
  step "compute-sanitizer synccheck (small shapes)"
  compute-sanitizer --tool synccheck --error-exitcode 3 "$check" --fatbin "$fatbin" --small || status=1
else
  echo "compute-sanitizer not found (it ships in the CUDA toolkit: /usr/local/cuda/bin)"
fi

step "cuda_check --bench"
"$check" --fatbin "$fatbin" --bench || status=1

if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  step "PyTorch CUDA eager, forward + backward (the 3x target)"
  python3 "$here/torch_peer.py" || status=1
else
  echo "python3 with CUDA torch not found: skipping torch_peer.py"
fi
exit $status
