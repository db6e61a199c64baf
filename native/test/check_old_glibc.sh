#!/usr/bin/env bash
# check_old_glibc.sh LIBRARY.so: loads the JNI library with the dynamic loader and libraries of an
# older glibc, Debian 11's 2.31 (the oldest Debian release its mirrors still serve; 2.28, Debian 10,
# is archived), binding every symbol now (LD_BIND_NOW, as ldd -r does): a symbol version or a
# symbol that glibc lacks is reported and fails the check. Fetches libc6 and libgcc-s1 of
# bullseye with apt-get from the mirror this machine's apt is configured with, into
# $FUSEDLOSS_OLD_GLIBC_DIR (default build-glibc/ at the repository root). Maven runs it in the test
# phase (java/pom.xml); where the packages cannot be fetched it says so and is skipped (exit 0),
# unless FUSEDLOSS_REQUIRE_OLD_GLIBC=1. By hand:
#   native/test/check_old_glibc.sh java/target/classes/org/fusedloss/internal/nativecpu/linux-x86_64/libjniNativeKernels.so
set -euo pipefail

skip() {
  echo "check_old_glibc.sh: SKIPPED, $1"
  [ "${FUSEDLOSS_REQUIRE_OLD_GLIBC:-0}" = 1 ] && exit 1
  exit 0
}
root="$(cd "$(dirname "$0")/../.." && pwd)"
lib="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
dir="${FUSEDLOSS_OLD_GLIBC_DIR:-$root/build-glibc}"
libs="$dir/root/lib/x86_64-linux-gnu"
if [ ! -e "$libs/libc.so.6" ]; then
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || skip "no apt-get / dpkg-deb to fetch glibc 2.31"
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
        awk '/^deb / { print $2; exit }' /etc/apt/sources.list)
  mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/deb"
  echo "deb $uri bullseye main" > "$dir/apt/sources.list"
  opts=(-o Dir::Etc::SourceList="$dir/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$dir/apt/lists" -o Dir::Cache="$dir/apt/cache" -o Acquire::Languages=none
        -o Debug::NoLocking=1)
  [ -n "$uri" ] || skip "no Debian mirror in this machine's apt sources"
  apt-get "${opts[@]}" update -qq >/dev/null 2>&1 || skip "apt-get update of Debian 11 (bullseye) failed"
  pkgs=()
  for p in libc6 libgcc-s1; do
    v=$(apt-cache "${opts[@]}" madison "$p" | awk '/bullseye/ { print $3; exit }')
    [ -n "$v" ] || skip "no $p in Debian 11's package lists"
    pkgs+=("$p=$v")
  done
  (cd "$dir/deb" && apt-get "${opts[@]}" download "${pkgs[@]}" >/dev/null 2>&1) || skip "apt-get download failed"
  for d in "$dir"/deb/*.deb; do dpkg-deb -x "$d" "$dir/root"; done
fi
loader=$(ls "$libs"/ld-2.*.so)
out=$(LD_TRACE_LOADED_OBJECTS=1 LD_WARN=yes LD_BIND_NOW=1 "$loader" --library-path "$libs" "$lib" 2>&1)
echo "$out"
if grep -q "not found\|undefined symbol" <<< "$out"; then
  echo "check_old_glibc: $(basename "$lib") does not load on glibc $(basename "$loader" | sed 's/ld-\(.*\)\.so/\1/')" >&2
  exit 1
fi
echo "check_old_glibc: $(basename "$lib") loads on glibc $(basename "$loader" | sed 's/ld-\(.*\)\.so/\1/') (every symbol bound)"
