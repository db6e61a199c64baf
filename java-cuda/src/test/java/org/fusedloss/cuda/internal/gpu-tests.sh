#!/usr/bin/env bash
# gpu-tests.sh: runs the CUDA backend's JUnit tests on a GPU machine that has an NVIDIA driver but
# no JDK and no Maven (the lent device machines: nvcc, no Java, no network).
#
#   here (with JDK 17 + Maven + ~/.m2):   java-cuda/src/test/java/org/fusedloss/cuda/internal/gpu-tests.sh pack
#       compiles the main and test classes, builds the fatbin with nvcc (if nvcc is here), and packs
#       a jlink'd Java runtime, the classes, the jars and a JUnit runner into build-java-gpu/
#       (ignored by .gitignore's build-*/; about 50 MB).
#   there (repository root, build-java-gpu carried):
#       java-cuda/src/test/java/org/fusedloss/cuda/internal/gpu-tests.sh run          CudaBackendTest + KernelTableTest
#       java-cuda/src/test/java/org/fusedloss/cuda/internal/gpu-tests.sh run all      the whole suite (CUDA included
#                                  wherever TestBackends lists it), less ReadmeExampleTest (needs javac)
#     With nvcc there, the fatbin is rebuilt from cuda/ first (sm_90 + compute_90 PTX), so the
#     kernels tested are the ones in the working tree (GPU_TESTS_KEEP_FATBIN=1: use the packed one). Exit status: 0 all passed, 1 a failure,
#     2 the CUDA backend was not available (the reason is printed; a GPU run must not skip;
#     GPU_TESTS_ALLOW_SKIP=1 runs the tests anyway, to check this script on a machine without one).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../../../../../../.." && pwd)"
pack="$root/build-java-gpu"
cd "$root"

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

build_fatbin() {  # $1: output file
  mkdir -p "$(dirname "$1")"
  nvcc -fatbin -O3 -std=c++17 --threads 0 -gencode arch=compute_90,code=sm_90 \
       -gencode arch=compute_90,code=compute_90 -o "$1" cuda/fusedloss_all.cu
}

case "${1:-}" in
pack)
  rm -rf "$pack"
  mkdir -p "$pack/jars" "$pack/res/org/fusedloss/cuda" "$pack/native/lib" "$pack/runner"
  # In the reactor (the core is never installed): the last module written, java-cuda, leaves cp.txt.
  mvn -o -q -pl java-cuda -am test-compile -Dfusedloss.skipNative=true -Dfusedloss.skipFatbin=true \
      dependency:build-classpath -Dmdep.outputFile="$pack/cp.txt" -Dmdep.includeScope=test
  # The core (fusedloss) and the CUDA module (fusedloss-cuda): classes and tests of both.
  mkdir -p "$pack/classes" "$pack/test-classes"
  cp -r java/target/classes/. java-cuda/target/classes/. "$pack/classes/"
  cp -r java/target/test-classes/. java-cuda/target/test-classes/. "$pack/test-classes/"
  for jar in $(tr ':' ' ' < "$pack/cp.txt"); do
    case "$jar" in
      */fusedloss-*.jar|*/java/target/classes) ;;  # the core's classes are copied above
      *jcuda-natives*) unzip -q -j -o "$jar" 'lib/libJCudaDriver-*' -d "$pack/native/lib" ;;  # driver binding only
      *) cp "$jar" "$pack/jars/" ;;
    esac
  done
  launcher=$(ls ~/.m2/repository/org/junit/platform/junit-platform-launcher/1.11.4/junit-platform-launcher-1.11.4.jar)
  cp "$launcher" "$pack/jars/"
  runner_source > "$pack/runner/GpuTestMain.java"
  javac -d "$pack/runner" -cp "$pack/classes:$pack/jars/*" "$pack/runner/GpuTestMain.java"
  if command -v nvcc >/dev/null; then
    build_fatbin "$pack/res/org/fusedloss/cuda/fusedloss.fatbin"
  fi
  jlink --add-modules java.base,java.logging,java.management,java.xml,jdk.unsupported,java.naming \
        --strip-debug --no-man-pages --no-header-files --compress=2 --output "$pack/jre"
  du -sh "$pack"
  ;;
run)
  shift
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  res="$pack/res"
  if command -v nvcc >/dev/null && [ -z "${GPU_TESTS_KEEP_FATBIN:-}" ]; then
    res="$root/build-java-gpu-fatbin"
    start=$(date +%s)
    build_fatbin "$res/org/fusedloss/cuda/fusedloss.fatbin"
    echo "fatbin rebuilt from cuda/ in $(( $(date +%s) - start )) s"
  fi
  cp="$res:$pack/native:$pack/classes:$pack/test-classes:$pack/runner:$pack/jars/*"
  # Tests read ../cuda/fusedloss_cuda.h relative to the module, as under Maven.
  cd java-cuda
  "$pack/jre/bin/java" -Xmx16g -Dfusedloss.skipNative=true -cp "$cp" GpuTestMain "$@"
  ;;
*)
  echo "usage: $0 pack | run [all]" >&2
  exit 64
  ;;
esac
