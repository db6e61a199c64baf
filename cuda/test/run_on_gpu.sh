#!/usr/bin/env bash
# run_on_gpu.sh: the CUDA backend's whole GPU session as one prepared script (issue 17).
#
#   here, no GPU needed:   cuda/test/run_on_gpu.sh pack [PACK]
#       builds (in java-cuda/target/cmake, the CUDA module's CMake build), and packs into PACK (default
#       build-gpu-pack/, ignored by git) what the GPU machine cannot make itself in its few
#       minutes: cuda_check built by nvcc here (CUDA runtime linked statically), the fatbin, the
#       CPU kernels' library, and the Java tests with a jlink'ed runtime (the device machines have
#       no JDK and no Maven). The manifest records a hash of the sources they were built from.
#   there (the device tool, from the repository root):
#       run(command="bash cuda/test/run_on_gpu.sh run --out $OUT", carry=["build-gpu-pack"], timeout_s=540)
#       cuda/test/run_on_gpu.sh run [--out DIR] [--pack PACK] [--steps LIST] [--deadline SECONDS]
#   here, to test the script's CPU parts:   cuda/test/run_on_gpu.sh selftest
#
# The steps of `run`, in this order (--steps picks some: a second run after fixes need not redo
# all), each with its own time limit, all within --deadline (default 450 s, so that a second run
# fits a 15-minute device budget):
#   env        GPU, driver, clocks, power, tools, whether a JDK is there
#   build      the carried binaries if they were built from these sources and run here; else
#              cmake + make here (CPU kernels, fatbin, cuda_check: ~2 minutes on 16 cores)
#   check      cuda_check: every kernel, variant, option and reduction against the CPU kernels
#              (shapes 1x1, odd C, 128256, 200000, dense with C = 1, the issue's cases), the error
#              word, bad launch shapes, the cluster fallback
#   java       the whole JUnit suite with the CUDA backend (gpu-tests.sh run all)
#   bench      cuda_check --bench: every loss at the PEERS.md shapes and 8192 x 128256, fwd + bwd,
#              against a device-to-device copy; L2 flushed between repeats, median of 25
#   sanitize   compute-sanitizer memcheck, racecheck and synccheck on small shapes
#   torch      PyTorch eager and torch.compile on the same data and shapes, timed the same way
#              (torch.compile gets what time is left: it compiles for tens of seconds a shape)
# Results go to --out (at most 8 files, each under 16 MiB: what the device tool brings back):
#   summary.txt (steps, outcomes, the environment, the timing table and targets), build.log,
#   check.log, java.log, timings.log, bench.csv, torch.csv, sanitize.log.
# Exit status: 0 every step that ran passed, 1 a step failed, 2 no GPU, 64 bad arguments.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pack="$root/build-gpu-pack"
out="$root/build-gpu-results"
steps="env,build,check,java,bench,sanitize,torch"
deadline=450
all_steps=" env build check java bench sanitize torch "

usage() {
  sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

# ------------------------------------------------------------------------------------ pack
# A hash of every source the binaries are built from (so a stale pack is rebuilt there).
source_hash() {
  (cd "$root" && find cuda native CMakeLists.txt -type f \( -name '*.cu' -o -name '*.cuh' -o -name '*.h' \
      -o -name '*.cpp' -o -name 'CMakeLists.txt' \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
}

do_pack() {
  local dir="${1:-$pack}"
  local build="$root/java-cuda/target/cmake"  # the fatbin's build dir (java-cuda/pom.xml), reused
  command -v nvcc >/dev/null || { echo "no nvcc here: the pack needs it (the fatbin, cuda_check)"; return 1; }
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFUSEDLOSS_CUDA=ON >/dev/null || return 1
  cmake --build "$build" --target fusedloss fusedloss_fatbin cuda_check -j"$(nproc)" || return 1
  rm -rf "$dir"
  mkdir -p "$dir/bin" "$dir/lib"
  cp "$build/bin/cuda_check" "$dir/bin/"
  cp "$build/lib/fusedloss.fatbin" "$dir/lib/"
  bash "$root/java-cuda/src/test/java/org/fusedloss/cuda/internal/gpu-tests.sh" pack "$dir/java" || return 1
  rm -rf "$dir/java/res"  # the Java step gets lib/fusedloss.fatbin (GPU_TESTS_FATBIN): one copy
  {
    echo "sources $(source_hash)"
    echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "made $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -m), $(nvcc --version | tail -1)"
    echo "glibc needed by cuda_check: $(objdump -T "$dir/bin/cuda_check" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  } > "$dir/manifest.txt"
  cat "$dir/manifest.txt"
  du -sh "$dir"
  local size
  size=$(du -sm "$dir" | cut -f1)
  [ "$size" -lt 56 ] || echo "warning: the pack is ${size} MB; with the working tree it must stay under the device tool's 64 MiB"
}

# ------------------------------------------------------------------------------------ run
started=$(date +%s)
status=0
gpu_ok=1
summary=""
note() { summary+="$*"$'\n'; echo "$*"; }
remaining() { echo $(( deadline - ($(date +%s) - started) )); }
want() { case ",$steps," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# Runs a step's command under a limit: min(its own, what the deadline leaves); logs to a file.
# $1 step, $2 limit in seconds, $3 log, then the command.
step() {
  local name="$1" limit="$2" log="$3"
  shift 3
  local left
  left=$(remaining)
  if [ "$left" -lt 20 ]; then
    note "$(printf '%-9s not run: the %d s deadline is reached' "$name" "$deadline")"
    return 0
  fi
  [ "$limit" -le "$left" ] || limit=$left
  printf '\n==== %s (limit %d s)\n' "$name" "$limit" >> "$log"
  local t0 rc
  t0=$(date +%s)
  # timeout signals its whole process group (java, compute-sanitizer, nvcc too); the step's
  # functions reach the child bash through export -f
  timeout --kill-after=10 "$limit" bash -c '"$@"' "$name" "$@" >> "$log" 2>&1
  rc=$?
  tail -n 40 "$log"
  local verdict="passed"
  [ $rc -eq 0 ] || verdict="FAILED (exit $rc)"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && verdict="TIMED OUT after $limit s (partial results in the log)"
  [ $rc -eq 0 ] || status=1
  note "$(printf '%-9s %-45s %4d s  (%s)' "$name" "$verdict" $(( $(date +%s) - t0 )) "$(basename "$log")")"
  return $rc
}

# Keeps each result file under the device tool's 16 MiB.
cap_files() {
  for f in "$out"/*; do
    [ -f "$f" ] || continue
    if [ "$(stat -c %s "$f")" -gt 15000000 ]; then
      tail -c 15000000 "$f" > "$f.tmp" && mv "$f.tmp" "$f"
      echo "(truncated to its last 15 MB)" >> "$f"
    fi
  done
}

gpu_env() {
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), host $(hostname), $(uname -sr), $(nproc) CPUs"
  grep -m1 'model name' /proc/cpuinfo 2>/dev/null
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id,compute_mode,persistence_mode,mig.mode.current \
      --format=csv 2>&1
    nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active \
      --format=csv 2>&1
  else
    echo "nvidia-smi: not found"
  fi
  echo "nvcc: $(command -v nvcc >/dev/null && nvcc --version | tail -1 || echo 'not found')"
  echo "compute-sanitizer: $(command -v compute-sanitizer || echo 'not found')"
  echo "cmake: $(command -v cmake >/dev/null && cmake --version | head -1 || echo 'not found'), g++: $(g++ --version 2>/dev/null | head -1)"
  echo "python3: $(python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1)"
  if command -v java >/dev/null 2>&1; then
    echo "java: $(java -version 2>&1 | head -1) at $(command -v java)"
  else
    echo "java: no JDK here; the Java step uses the carried runtime ($pack/java/jre.tgz)"
  fi
  echo "pack: $( [ -f "$pack/manifest.txt" ] && tr '\n' ';' < "$pack/manifest.txt" || echo "none at $pack")"
  echo "sources here: $(source_hash)"
}

clocks() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
      --format=csv,noheader 2>&1
}

do_build() {
  local want_hash have_hash
  want_hash=$(source_hash)
  have_hash=$(sed -n 's/^sources //p' "$pack/manifest.txt" 2>/dev/null)
  if [ -x "$pack/bin/cuda_check" ] && [ "$want_hash" = "$have_hash" ]; then
    "$pack/bin/cuda_check" --help >/dev/null 2>&1
    if [ $? -eq 2 ]; then  # its usage: the binary runs on this machine's libraries
      echo "using the carried build (sources $have_hash): $pack/bin/cuda_check, $pack/lib/fusedloss.fatbin"
      check_bin="$pack/bin/cuda_check"
      fatbin="$pack/lib/fusedloss.fatbin"
      return 0
    fi
    echo "the carried cuda_check does not run here ($("$pack/bin/cuda_check" --help 2>&1 | head -1)): building"
  elif [ -f "$pack/manifest.txt" ]; then
    echo "the carried build is of other sources ($have_hash, these are $want_hash): building"
  else
    echo "no carried build: building"
  fi
  local build="$root/build-gpu"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFUSEDLOSS_CUDA_DRIVER=ON || return 1
  cmake --build "$build" --target fusedloss_fatbin cuda_check -j"$(nproc)" || return 1
  check_bin="$build/bin/cuda_check"
  fatbin="$build/lib/fusedloss.fatbin"
  python3 "$here/fatbin_info.py" "$fatbin"
}

# One compute-sanitizer tool on cuda_check: $1 tool, $2 which cases (--sanitize: every kernel in
# few launches; --race: fewer still, for racecheck, the slowest tool).
do_sanitize() {
  if ! command -v compute-sanitizer >/dev/null 2>&1; then
    echo "compute-sanitizer not found (it ships in the CUDA toolkit)"
    return 1
  fi
  compute-sanitizer --tool "$1" --error-exitcode 3 "$check_bin" --fatbin "$fatbin" "$2"
}

do_timings() {  # cuda_check --bench, then the table once PyTorch has run too
  "$check_bin" --fatbin "$fatbin" --bench --csv "$out/bench.csv" --peers "$root/bench/peers.txt"
}

do_torch() {
  python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null \
    || { echo "python3 with CUDA torch not found"; return 1; }
  # torch.compile gets the step's time less what eager needs (~40 s with the 8192 x 128256 cases)
  local budget=$(( ${torch_limit:-150} - 60 ))
  [ "$budget" -gt 0 ] || budget=0
  PYTHONUNBUFFERED=1 python3 "$here/torch_peer.py" --csv "$out/torch.csv" --compile-budget "$budget"
}

do_run() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) out="$2"; shift 2 ;;
      --pack) pack="$2"; shift 2 ;;
      --steps) steps="$2"; shift 2 ;;
      --deadline) deadline="$2"; shift 2 ;;
      -h|--help) usage ;;
      *) echo "run: unknown argument $1" >&2; usage ;;
    esac
  done
  [[ "$deadline" =~ ^[0-9]+$ ]] || { echo "--deadline needs seconds, not '$deadline'" >&2; exit 64; }
  for s in ${steps//,/ }; do
    case "$all_steps" in *" $s "*) ;; *) echo "--steps: unknown step '$s' (steps:$all_steps)" >&2; exit 64 ;; esac
  done
  [ -n "$out" ] || { echo "--out needs a folder" >&2; exit 64; }
  mkdir -p "$out" || exit 64
  pack="$(realpath -m "$pack")"
  check_bin=""
  fatbin=""
  export root here pack out
  export -f source_hash gpu_env clocks do_build do_sanitize do_timings do_torch
  note "run_on_gpu.sh: steps $steps, deadline $deadline s, results in $out"
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    gpu_ok=0
    note "no GPU here (nvidia-smi finds none): the GPU steps are not run"
  fi
  want env && { gpu_env > "$out/summary.env" 2>&1; cat "$out/summary.env"; }
  if want build || want check || want bench || want sanitize || want java; then
    step build 360 "$out/build.log" do_build || true
    # do_build ran in a subshell of timeout: find what it chose again (cheap)
    if [ -z "$check_bin" ]; then
      if [ -x "$pack/bin/cuda_check" ] && [ "$(source_hash)" = "$(sed -n 's/^sources //p' "$pack/manifest.txt" 2>/dev/null)" ] \
         && { "$pack/bin/cuda_check" --help >/dev/null 2>&1; [ $? -eq 2 ]; }; then
        check_bin="$pack/bin/cuda_check"; fatbin="$pack/lib/fusedloss.fatbin"
      elif [ -x "$root/build-gpu/bin/cuda_check" ]; then
        check_bin="$root/build-gpu/bin/cuda_check"; fatbin="$root/build-gpu/lib/fusedloss.fatbin"
      fi
    fi
  fi
  if [ $gpu_ok -eq 1 ] && [ -n "$check_bin" ]; then
    export check_bin fatbin
    want check && step check 150 "$out/check.log" "$check_bin" --fatbin "$fatbin"
    if want java; then
      export GPU_TESTS_PACK="$pack/java" GPU_TESTS_FATBIN="$fatbin"
      step java 180 "$out/java.log" bash "$root/java-cuda/src/test/java/org/fusedloss/cuda/internal/gpu-tests.sh" run all
    fi
    if want bench; then
      echo "clocks before the timings: $(clocks)" >> "$out/timings.log"
      step bench 90 "$out/timings.log" do_timings
    fi
    if want sanitize; then  # each tool a step of its own: a limit ends it with all it started
      step memcheck 60 "$out/sanitize.log" do_sanitize memcheck --sanitize
      step racecheck 75 "$out/sanitize.log" do_sanitize racecheck --race
      step synccheck 30 "$out/sanitize.log" do_sanitize synccheck --race
    fi
    if want torch; then
      torch_limit=$(remaining)
      [ "$torch_limit" -le 200 ] || torch_limit=200
      export torch_limit
      step torch "$torch_limit" "$out/timings.log" do_torch
    fi
    if want bench || want torch; then
      echo "clocks after the timings: $(clocks)" >> "$out/timings.log"
      if [ -f "$out/bench.csv" ]; then
        python3 "$here/bench_summary.py" "$out/bench.csv" $( [ -f "$out/torch.csv" ] && echo "$out/torch.csv") \
          > "$out/timings.table" 2>&1 || status=1
        cat "$out/timings.table" >> "$out/timings.log"
      fi
    fi
  elif [ $gpu_ok -eq 1 ]; then
    note "no cuda_check (the build failed): the GPU steps are not run"
    status=1
  fi
  {
    printf '%s' "$summary"
    echo
    [ -f "$out/summary.env" ] && { echo "---- environment"; cat "$out/summary.env"; }
    [ -f "$out/timings.table" ] && { echo "---- timings (fused vs copy vs PyTorch, same GPU, same run)"; cat "$out/timings.table"; }
    echo "---- total $(( $(date +%s) - started )) s, exit status $([ $gpu_ok -eq 0 ] && echo 2 || echo $status)"
  } > "$out/summary.txt"
  rm -f "$out/summary.env" "$out/timings.table"
  cap_files
  echo
  cat "$out/summary.txt"
  [ $gpu_ok -eq 0 ] && exit 2
  exit $status
}

# ------------------------------------------------------------------------------------ selftest
# What can be checked without a GPU: the argument handling, the steps' bookkeeping, the files
# that come back (at most 8, none over 16 MiB), the summary of timings, and the pack if one is
# here (its manifest matches these sources, cuda_check and the Java runtime start).
do_selftest() {
  local tmp fails=0
  tmp="$(mktemp -d)"
  expect() {  # $1 wanted exit status, then the command
    local want="$1"
    shift
    "$@" > "$tmp/last.log" 2>&1
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
      echo "FAIL: '$*' exited $rc, not $want"; sed 's/^/    /' "$tmp/last.log" | tail -5; fails=$((fails + 1))
    else
      echo "ok   '$*' -> $rc"
    fi
  }
  expect 64 bash "$0" run --steps check,nonsense --out "$tmp/o1"
  expect 64 bash "$0" run --deadline soon --out "$tmp/o1"
  expect 64 bash "$0" run --bogus
  expect 64 bash "$0" frobnicate
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "a GPU is here: the no-GPU run is not checked"
  else
    expect 2 bash "$0" run --out "$tmp/o2" --steps env --deadline 60
    local n
    n=$(find "$tmp/o2" -type f | wc -l)
    [ "$n" -le 8 ] && [ -s "$tmp/o2/summary.txt" ] && grep -q "no GPU here" "$tmp/o2/summary.txt" \
      && echo "ok   a run without a GPU says so in summary.txt ($n files)" \
      || { echo "FAIL: the no-GPU run left $n files, summary: $(head -3 "$tmp/o2/summary.txt" 2>&1)"; fails=$((fails + 1)); }
  fi
  # a step past its limit is ended with everything it started (a stand-in GPU and sanitizer)
  if [ -f "$pack/manifest.txt" ] && ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }; then
    mkdir -p "$tmp/bin"
    printf '#!/bin/sh\necho "GPU 0: a stand-in"\n' > "$tmp/bin/nvidia-smi"
    # the stand-in records its own and its child's pid: other sessions' processes do not count
    printf '#!/bin/sh\necho $$ >> "%s/pids"\nsleep 300 &\necho $! >> "%s/pids"\nwait\n' "$tmp" "$tmp" \
      > "$tmp/bin/compute-sanitizer"
    chmod +x "$tmp/bin/nvidia-smi" "$tmp/bin/compute-sanitizer"
    PATH="$tmp/bin:$PATH" bash "$0" run --out "$tmp/o3" --steps build,sanitize --deadline 25 > "$tmp/o3.log" 2>&1
    local sleepers=0 pid
    for pid in $(cat "$tmp/pids" 2>/dev/null); do
      ps -o stat= -p "$pid" 2>/dev/null | grep -qv '^Z' && sleepers=$((sleepers + 1))  # a zombie is ended
    done
    [ -s "$tmp/pids" ] || sleepers=-1  # the stand-in never ran
    if grep -q "^memcheck  TIMED OUT" "$tmp/o3/summary.txt" && grep -q "^racecheck not run" "$tmp/o3/summary.txt" \
       && [ "$sleepers" -eq 0 ]; then
      echo "ok   a step past its limit is ended with all it started, later steps are skipped at the deadline"
    else
      echo "FAIL: the time limits ($sleepers processes left):"; sed 's/^/    /' "$tmp/o3/summary.txt" | head -6
      fails=$((fails + 1))
    fi
  fi
  # the timings' table and targets, from made-up figures of both CSVs
  cat > "$tmp/bench.csv" <<'EOF'
case,n,c,kernel,loss,expect,ms,gbps,copy_ms,copy_gbps,pct_copy
ce_weighted,8192,128256,cluster,11.8,nan,3.1,2712.0,2.9,2899.0,93.55
ce_mean,8192,128256,cluster,11.7,nan,3.6,2335.0,2.9,2899.0,80.55
bce_posw,65536,100,elem,1.651441,1.651441,0.02,2621.4,0.018,2912.7,90.0
EOF
  cat > "$tmp/torch.csv" <<'EOF'
case,n,c,impl,loss,ms
ce_weighted,8192,128256,eager,11.8,14.2
ce_weighted,8192,128256,compile,11.8,6.1
ce_mean,8192,128256,eager,11.7,9.0
bce_posw,65536,100,eager,1.651441,oom
EOF
  python3 "$here/bench_summary.py" "$tmp/bench.csv" "$tmp/torch.csv" > "$tmp/table.txt"
  local rc=$?
  if [ $rc -eq 1 ] && grep -q "met     ce_weighted 8192 x 128256: 93.5 % of the copy" "$tmp/table.txt" \
     && grep -q "NOT MET ce_mean 8192 x 128256: 80.5 %" "$tmp/table.txt" \
     && grep -q "met     ce_weighted 8192 x 128256: 4.58x PyTorch eager" "$tmp/table.txt" \
     && grep -q "NOT MET ce_mean 8192 x 128256: 2.50x" "$tmp/table.txt" \
     && grep -q "| oom |" "$tmp/table.txt"; then
    echo "ok   bench_summary.py: the table and the targets (met and not met)"
  else
    echo "FAIL: bench_summary.py (exit $rc):"; sed 's/^/    /' "$tmp/table.txt"; fails=$((fails + 1))
  fi
  if [ -f "$pack/manifest.txt" ]; then
    if [ "$(sed -n 's/^sources //p' "$pack/manifest.txt")" = "$(source_hash)" ]; then
      echo "ok   the pack matches these sources ($(source_hash))"
    else
      echo "note: the pack is of other sources: make it again before a GPU run (cuda/test/run_on_gpu.sh pack)"
    fi
    expect 2 "$pack/bin/cuda_check" --help
    tar -tzf "$pack/java/jre.tgz" jre/bin/java >/dev/null 2>&1 && echo "ok   the pack carries a Java runtime" \
      || { echo "FAIL: no jre/bin/java in $pack/java/jre.tgz"; fails=$((fails + 1)); }
    python3 "$here/fatbin_info.py" "$pack/lib/fusedloss.fatbin" | grep -c "ELF  sm_75" >/dev/null \
      && echo "ok   the packed fatbin has sm_75 SASS" || { echo "FAIL: no sm_75 SASS in the packed fatbin"; fails=$((fails + 1)); }
    local mb
    mb=$(( $(du -sm "$pack" | cut -f1) + $(git -C "$root" ls-files -z | xargs -0 du -cm 2>/dev/null | tail -1 | cut -f1) ))
    [ "$mb" -lt 64 ] && echo "ok   pack + working tree: about $mb MB (the device tool carries 64 MiB)" \
      || { echo "FAIL: pack + working tree about $mb MB, over 64 MiB"; fails=$((fails + 1)); }
  else
    echo "note: no pack at $pack (cuda/test/run_on_gpu.sh pack makes one): its checks skipped"
  fi
  rm -rf "$tmp"
  echo "selftest: $fails failure(s)"
  [ $fails -eq 0 ]
}

case "${1:-}" in
  pack) shift; do_pack "$@" ;;
  run) shift; do_run "$@" ;;
  selftest) do_selftest ;;
  -h|--help|"") usage ;;
  *) echo "unknown command $1" >&2; usage ;;
esac
