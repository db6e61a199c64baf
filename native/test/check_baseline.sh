#!/usr/bin/env bash
# Runs native_check on an emulated x86-64 CPU without AVX (QEMU user mode, CPU model qemu64:
# SSE2-level), to show that the library loads and computes on any x86-64 CPU: the dispatch must
# pick the scalar kernels, and no code outside the AVX2 / AVX-512 units may use AVX. An AVX
# instruction anywhere on the way is an illegal instruction there, and this check fails.
#   native/test/check_baseline.sh [path/to/native_check]   (default: build/bin/native_check)
# QEMU: qemu-x86_64(-static) on the PATH, or else Debian's qemu-user-static package, fetched with
# `apt-get download` (no root needed) and unpacked into $FUSEDLOSS_QEMU_DIR (default
# build-qemu/ at the repository root). Where neither is possible the check says so and is
# skipped (exit 0), unless FUSEDLOSS_REQUIRE_QEMU=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
driver="${1:-$root/build/bin/native_check}"
dir="${FUSEDLOSS_QEMU_DIR:-$root/build-qemu}"

skip() {
  echo "check_baseline.sh: SKIPPED, $1"
  [ "${FUSEDLOSS_REQUIRE_QEMU:-0}" = 1 ] && exit 1
  exit 0
}

qemu="$(command -v qemu-x86_64-static || command -v qemu-x86_64 || true)"
if [ -z "$qemu" ]; then
  qemu="$dir/usr/bin/qemu-x86_64-static"
  if [ ! -x "$qemu" ]; then
    command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
      skip "no QEMU and no apt-get / dpkg-deb to fetch Debian's qemu-user-static"
    mkdir -p "$dir/deb"
    # apt as root warns that its sandbox user cannot write here; harmless
    (cd "$dir/deb" && apt-get download -q qemu-user-static >/dev/null 2>&1) ||
      skip "apt-get download qemu-user-static failed (no package lists or no mirror?)"
    dpkg-deb -x "$dir"/deb/qemu-user-static_*.deb "$dir"
    [ -x "$qemu" ] || skip "the qemu-user-static package has no usr/bin/qemu-x86_64-static"
  fi
fi
[ -x "$driver" ] || { echo "check_baseline.sh: no native_check at $driver (build it first)"; exit 1; }

echo "check_baseline.sh: $driver on $("$qemu" --version | head -1), CPU model qemu64 (no AVX)"
out="$("$qemu" -cpu qemu64 "$driver" --quick 2>&1)" || { echo "$out" | tail -20; exit 1; }
echo "$out" | grep -E '^isas run|^OK'
# the dispatch must have found no AVX here: only the scalar kernels ran
echo "$out" | grep -qx 'isas run: scalar' || { echo "check_baseline.sh: expected only the scalar kernels"; exit 1; }
