#!/usr/bin/env bash
# check_glibc.sh LIBRARY.so: fails unless the library can load on glibc 2.28 with no libstdc++ of
# the system: its dynamic symbols may need GLIBC_ versions up to 2.28, nothing from GLIBCXX_ or
# CXXABI_ (libstdc++ is linked in statically), and from libgcc_s.so.1 (the unwinder: every glibc
# system has it, glibc itself loads it for pthread_cancel) only versions up to GCC_7.0.0, what the
# GCC 8 of glibc-2.28 distributions ships. objdump -T lists the version each symbol needs.
# Maven runs it on the JNI library right after JavaCPP builds it; a newer symbol fails the build.
set -euo pipefail
lib="$1"
max="${FUSEDLOSS_MAX_GLIBC:-2.28}"
max_gcc=7.0.0
if ! command -v objdump >/dev/null; then
  echo "check_glibc: objdump (binutils) is needed to check $lib" >&2
  exit 1
fi
symbols=$(objdump -T "$lib")
bad=$(awk -v max="$max" -v max_gcc="$max_gcc" '
  function newer(v, m,   a, b, i, n) {  # is version v (e.g. 2.34) newer than m (e.g. 2.28)?
    n = split(v, a, "."); split(m, b, ".")
    for (i = 1; i <= 3; i++) { if ((a[i] + 0) != (b[i] + 0)) return (a[i] + 0) > (b[i] + 0) }
    return 0
  }
  {
    for (f = 1; f <= NF; f++) {
      v = $f; gsub(/[()]/, "", v)
      if (v ~ /^(GLIBCXX|CXXABI)_[0-9.]+$/) { print v " " $NF; next }
      if (v ~ /^GCC_[0-9.]+$/ && newer(substr(v, 5), max_gcc)) { print v " " $NF; next }
      if (v ~ /^GLIBC_[0-9.]+$/ && newer(substr(v, 7), max)) { print v " " $NF; next }
    }
  }' <<< "$symbols")
versions=$(grep -o '\(GLIBC\|GCC\)_[0-9.]*' <<< "$symbols" | sort -uV | tr '\n' ' ')
needed=$(objdump -p "$lib" | awk '/NEEDED/ { printf "%s ", $2 }')
if [ -n "$bad" ]; then
  echo "check_glibc: $lib needs symbols newer than glibc $max (or GCC_$max_gcc), or from libstdc++:" >&2
  sed 's/^/  /' <<< "$bad" >&2
  echo "  (bind it to an old version in native/src/glibc_2_28.cpp, or avoid it)" >&2
  exit 1
fi
echo "check_glibc: $(basename "$lib") loads on glibc $max+: needs ${needed}with versions ${versions}"
