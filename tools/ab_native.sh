#!/usr/bin/env bash
# ab_native.sh [BASE_REF] [ab_native options]: the native CPU library of BASE_REF (default main; a
# ref with issue 16's request ABI, fl_compute) and of this working tree, timed side by side in one
# process on the PEERS.md data (tools/ab_native.cpp: calls alternate, B/A = median of the per-pair
# ratios; A = BASE_REF, B = the working tree).
#   tools/ab_native.sh main --isa avx512,avx2 --threads 1,2 --seconds 1
# Builds both into $AB_DIR (default /tmp/fusedloss-ab-$USER) with the project's own CMake build
# (Release, no CUDA); about 1 minute of building on 2 cores, then ~10 s per ISA, thread count and
# case at the default --seconds 1. Prints the load average before and after: on a shared machine
# the ratios hold better than the times.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
base="${1:-main}"
[ $# -gt 0 ] && shift
dir="${AB_DIR:-/tmp/fusedloss-ab-${USER:-$(id -u)}}"
rm -rf "$dir/base-src"
mkdir -p "$dir/base-src"
git -C "$root" archive "$base" | tar -x -C "$dir/base-src"
build_lib() {  # source tree, build dir, shared object: libfusedloss.a linked whole into a .so
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DFUSEDLOSS_CUDA=OFF >/dev/null
  cmake --build "$2" --target fusedloss --parallel "$(nproc)" >/dev/null
  g++ -shared -Wl,-Bsymbolic -o "$3" -Wl,--whole-archive "$2/lib/libfusedloss.a" -Wl,--no-whole-archive -pthread
}
build_lib "$dir/base-src" "$dir/base-build" "$dir/libfusedloss-base.so"
build_lib "$root" "$dir/tree-build" "$dir/libfusedloss-tree.so"
g++ -O2 -std=c++17 -I "$root/native/include" -o "$dir/ab_native" "$root/tools/ab_native.cpp" -ldl
echo "base: $base ($(git -C "$root" rev-parse --short "$base")), tree: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ' + uncommitted changes')"
lscpu | grep -E '^Model name|^CPU\(s\)|^CPU family|^Model:' | tr -s ' ' | paste -sd ';'
echo "load before: $(uptime)"
"$dir/ab_native" "$dir/libfusedloss-base.so" "$dir/libfusedloss-tree.so" "$@"
echo "load after: $(uptime)"
