#!/usr/bin/env bash
# cmake-build.sh BUILD_DIR TARGET [CMAKE_ARGS...]: configures the top-level CMakeLists.txt into
# BUILD_DIR and builds TARGET on every core. Maven runs it through step.sh (java/pom.xml for the
# CPU kernels, java-cuda/pom.xml for the fatbin).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$1" target="$2"
shift 2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" --target "$target" --parallel "$(nproc 2>/dev/null || echo 2)"
