#!/usr/bin/env bash
# Builds the native kernels with AddressSanitizer + UndefinedBehaviorSanitizer in a separate build
# directory and runs native_check on a reduced size set. Exits nonzero on any failure.
#   native/check.sh [native_check options, e.g. --seed N]
# The build directory is $FUSEDLOSS_SANITIZE_BUILD, default build-sanitize/ at the repository root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${FUSEDLOSS_SANITIZE_BUILD:-$root/build-sanitize}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFUSEDLOSS_SANITIZE=ON \
      -DFUSEDLOSS_CUDA=OFF >/dev/null
cmake --build "$build" --target native_check -j "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
"$build/bin/native_check" --quick "$@"
