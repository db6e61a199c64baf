#!/usr/bin/env bash
# Builds the native kernels with AddressSanitizer + UndefinedBehaviorSanitizer in a separate build
# directory and runs native_check on a reduced size set. Exits nonzero on any failure.
#   native/test/check.sh [native_check options, e.g. --seed N]
# The build directory is $FUSEDLOSS_SANITIZE_BUILD, default build-sanitize/ at the repository root.
# On a CPU without AVX-512 the AVX-512 unit is built against native/kernels/avx512_emulation.h (plain
# x86-64 code), so its kernels' logic is still checked, under the sanitizers too.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${FUSEDLOSS_SANITIZE_BUILD:-$root/build-sanitize}"
emulate=OFF
for flag in avx512f avx512dq avx512bw avx512vl; do
  grep -qw "$flag" /proc/cpuinfo 2>/dev/null || emulate=ON
done
if [ "$emulate" = ON ]; then
  echo "check.sh: this CPU has no AVX-512: the avx512 kernels run emulated (native/kernels/avx512_emulation.h)"
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFUSEDLOSS_SANITIZE=ON \
      -DFUSEDLOSS_EMULATE_AVX512="$emulate" -DFUSEDLOSS_CUDA=OFF >/dev/null
cmake --build "$build" --target native_check -j "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
"$build/bin/native_check" --quick "$@"
