#!/usr/bin/env bash
# gpu-tests.sh: runs the JUnit tests with the CUDA backend on a GPU machine that has an NVIDIA
# driver but maybe no JDK and no Maven (the lent device machines: nvcc, no Java, no network).
# cuda/test/run_on_gpu.sh calls it; it also works alone.
#
#   here (JDK 17 + Maven + ~/.m2, after a build):  java-cuda/src/test/java/org/fusedloss/cuda/internal/gpu-tests.sh pack [DIR]
#       packs into DIR (default build-java-gpu/, ignored by .gitignore's build-*/): the main and
#       test classes of the core (java/) and of the CUDA module (java-cuda/), compiled in the
#       reactor, the test-scope jars, JCuda's driver binding, a JUnit runner and a jlink'ed Java
#       runtime (java.base and the few modules the tests use, as jre.tgz), so the machine there
#       needs no JDK. Carry DIR with the device tool (its `carry` argument); the runtime is
#       unpacked there on first use.
#   there (repository root):  java-cuda/src/test/java/org/fusedloss/cuda/internal/gpu-tests.sh run [all]
#       CudaBackendTest + KernelTableTest, or with `all` the whole suite of both modules (the
#       shared contract runs on every available backend, CUDA included), less the tests that need
#       a JDK or Maven's layout (see the runner below).
#       The native CPU backend is left out (-Dfusedloss.skipNative=true): the pack has no
#       JNI library; the reference the CUDA backend is checked against is the Java one.
#       Environment: GPU_TESTS_PACK (the pack, default build-java-gpu), GPU_TESTS_FATBIN (the
#       fatbin to test, e.g. the one cuda/test/run_on_gpu.sh built; else the packed one; else built
#       here with nvcc), GPU_TESTS_JAVA (a java binary; else `java` on the PATH when it is 17 or
#       newer; else the packed runtime). Exit status: 0 all passed, 1 a failure, 2 the CUDA
#       backend was not available (the reason is printed; a GPU run must not skip:
#       GPU_TESTS_ALLOW_SKIP=1 runs the tests anyway, to check this script without a GPU), 3 no
#       usable Java or no pack.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../../../../../../.." && pwd)"
cd "$root"
pack="${GPU_TESTS_PACK:-$root/build-java-gpu}"

runner_source() {
cat <<'EOF'
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import java.io.PrintWriter;
import java.util.List;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

public final class GpuTestMain {
    public static void main(String[] args) throws Exception {
        System.out.println(org.fusedloss.Backends.report());
        var cuda = org.fusedloss.Backends.cuda();
        if (!cuda.isAvailable()) {
            System.out.println("the CUDA backend is not available: " + cuda.unavailabilityReason().orElse("?"));
            if (System.getenv("GPU_TESTS_ALLOW_SKIP") == null) {  // set it only to check this script
                System.exit(2);
            }
        }
        var request = LauncherDiscoveryRequestBuilder.request();
        if (List.of(args).contains("all")) {
            // ReadmeExampleTest compiles Java at run time: the packed runtime has no compiler.
            request.selectors(selectPackage("org.fusedloss"))
                    .filters(org.junit.platform.engine.discovery.ClassNameFilter
                            .excludeClassNamePatterns(".*ReadmeExampleTest"));
        } else {
            request.selectors(selectClass(Class.forName("org.fusedloss.cuda.internal.KernelTableTest")),
                    selectClass(Class.forName("org.fusedloss.cuda.internal.CudaBackendTest")));
        }
        var listener = new SummaryGeneratingListener();
        LauncherFactory.create().execute(request.build(), listener);
        var out = new PrintWriter(System.out, true);
        listener.getSummary().printFailuresTo(out, 40);
        listener.getSummary().printTo(out);
        System.exit(listener.getSummary().getTotalFailureCount() == 0 ? 0 : 1);
    }
}
EOF
}

build_fatbin() {  # $1: output file; the GPU there is an sm_90 (H100 / H200)
  mkdir -p "$(dirname "$1")"
  # the one unit, as cuda/CMakeLists.txt makes it: prep.cu and each kernel of FL_LOSSES
  local unity="$(dirname "$1")/fusedloss_all.cu"
  { echo '#include "prep.cu"'
    grep -o 'X([A-Z_0-9]*, [a-z_0-9]*, [a-z]*)' native/include/fusedloss.h \
      | sed 's/X([A-Z_0-9]*, \([a-z_0-9]*\), .*/#include "\1.cu"/' | awk '!seen[$0]++'
  } > "$unity"
  nvcc -fatbin -O3 -std=c++17 --threads 0 -gencode arch=compute_90,code=sm_90 \
       -gencode arch=compute_90,code=compute_90 -Inative/include -Icuda/include -Icuda/kernels -o "$1" "$unity"
}

# A java binary of version 17 or newer: $GPU_TESTS_JAVA, the PATH's, or the packed runtime
# (unpacked from jre.tgz into $TMPDIR on first use).
find_java() {
  local candidates=("${GPU_TESTS_JAVA:-}")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  local unpacked="${TMPDIR:-/tmp}/fusedloss-jre"
  if [ -f "$pack/jre.tgz" ] && [ ! -x "$unpacked/jre/bin/java" ]; then
    mkdir -p "$unpacked" && tar -xzf "$pack/jre.tgz" -C "$unpacked" >&2
  fi
  candidates+=("$pack/jre/bin/java" "$unpacked/jre/bin/java")
  for j in "${candidates[@]}"; do
    [ -n "$j" ] && [ -x "$j" ] || continue
    local v
    v=$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
    if [ -n "$v" ] && [ "$v" -ge 17 ]; then
      echo "$j"
      return 0
    fi
  done
  return 1
}

case "${1:-}" in
pack)
  pack="$(realpath -m "${2:-$pack}")"
  rm -rf "$pack"
  mkdir -p "$pack/jars" "$pack/res/org/fusedloss/cuda" "$pack/native/lib" "$pack/runner"
  # In the reactor (the core is never installed): the last module written, java-cuda, leaves cp.txt.
  mvn -o -q -B -pl java-cuda -am test-compile -Dfusedloss.skipNative=true -Dfusedloss.skipFatbin=true \
      dependency:build-classpath -Dmdep.outputFile="$pack/cp.txt" -Dmdep.includeScope=test
  # The core (fusedloss) and the CUDA module (fusedloss-cuda): classes and tests of both.
  mkdir -p "$pack/classes" "$pack/test-classes"
  cp -r java/target/classes/. java-cuda/target/classes/. "$pack/classes/"
  cp -r java/target/test-classes/. java-cuda/target/test-classes/. "$pack/test-classes/"
  # the fatbin comes first on the class path (res/); the CPU backend's JNI library is not used
  # (both may be left in target/ by an earlier full build)
  rm -f "$pack/classes/org/fusedloss/cuda/fusedloss.fatbin"
  rm -rf "$pack/classes/org/fusedloss/internal/nativecpu/linux-x86_64"
  engine=""
  for jar in $(tr ':' ' ' < "$pack/cp.txt"); do
    case "$jar" in
      */fusedloss-*.jar|*/java/target/classes) ;;  # the core's classes are copied above
      *jcuda-natives*) unzip -q -j -o "$jar" 'lib/libJCudaDriver-*' -d "$pack/native/lib" ;;  # driver binding only
      *javacpp*linux-*|*javacpp*windows-*|*javacpp*macosx-*) ;;  # no native CPU backend there
      *) cp "$jar" "$pack/jars/" ;;
    esac
    case "$jar" in *junit-platform-engine-*) engine="$jar" ;; esac
  done
  # the launcher of the same JUnit Platform version as the engine the tests use
  version=$(basename "$engine" .jar | sed 's/junit-platform-engine-//')
  cp "$HOME/.m2/repository/org/junit/platform/junit-platform-launcher/$version/junit-platform-launcher-$version.jar" \
     "$pack/jars/"
  runner_source > "$pack/runner/GpuTestMain.java"
  javac -d "$pack/runner" -cp "$pack/classes:$pack/jars/*" "$pack/runner/GpuTestMain.java"
  if [ -f java-cuda/target/cmake/lib/fusedloss.fatbin ]; then
    cp java-cuda/target/cmake/lib/fusedloss.fatbin "$pack/res/org/fusedloss/cuda/"
  elif command -v nvcc >/dev/null; then
    build_fatbin "$pack/res/org/fusedloss/cuda/fusedloss.fatbin"
  fi
  jlink --add-modules java.base,java.logging,java.management,java.xml,jdk.unsupported,java.naming \
        --strip-debug --no-man-pages --no-header-files --compress=2 --output "$pack/jre"
  tar -czf "$pack/jre.tgz" -C "$pack" jre && rm -rf "$pack/jre"
  du -sh "$pack"
  ;;
run)
  shift
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  if [ ! -d "$pack/classes" ]; then
    echo "no Java pack at $pack: make one where Maven works (gpu-tests.sh pack, or cuda/test/run_on_gpu.sh pack) and carry it"
    exit 3
  fi
  if ! java=$(find_java); then
    echo "no Java 17+ here and no runtime in $pack (jre.tgz): make the pack with a JDK 17+ (jlink) and carry it"
    exit 3
  fi
  echo "java: $java ($("$java" -version 2>&1 | head -1))"
  res="$pack/res"
  if [ -n "${GPU_TESTS_FATBIN:-}" ]; then
    res="$root/build-java-gpu-fatbin"
    mkdir -p "$res/org/fusedloss/cuda"
    cp "$GPU_TESTS_FATBIN" "$res/org/fusedloss/cuda/fusedloss.fatbin"
  elif [ ! -f "$res/org/fusedloss/cuda/fusedloss.fatbin" ] && command -v nvcc >/dev/null; then
    res="$root/build-java-gpu-fatbin"
    start=$(date +%s)
    build_fatbin "$res/org/fusedloss/cuda/fusedloss.fatbin"
    echo "fatbin built from cuda/ in $(( $(date +%s) - start )) s"
  fi
  cp="$res:$pack/native:$pack/classes:$pack/test-classes:$pack/runner:$pack/jars/*"
  # Tests read ../cuda/include/fusedloss_cuda.h relative to the module, as under Maven.
  cd java-cuda
  exec "$java" -Xmx16g -Dfusedloss.skipNative=true -cp "$cp" GpuTestMain "$@"
  ;;
*)
  echo "usage: $0 pack [DIR] | run [all]" >&2
  exit 64
  ;;
esac
