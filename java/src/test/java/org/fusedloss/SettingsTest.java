package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * One rule for every setting (README, "Settings"), each case in a child JVM with its own system
 * properties and environment: the property or the environment variable of the same name; an invalid
 * value makes that backend unavailable with a reason naming the setting and the value (shown by
 * {@link Backends#report()}), and the loss then runs on the Java backend; a forced backend that is
 * unavailable throws {@link IllegalStateException} with that reason; booleans in any case.
 */
class SettingsTest {

    private static ChildJvm.Result probe(ChildJvm jvm) throws Exception {
        ChildJvm.Result r = jvm.option("--enable-native-access=ALL-UNNAMED")
                .run("-cp", System.getProperty("java.class.path"), Probe.class.getName());
        assertEquals(0, r.exit(), () -> ctx(r.out()));
        return r;
    }

    /** The native backend is unavailable, its reason (and the report) names {@code setting}, and Java computes. */
    private static void nativeRefused(ChildJvm jvm, String setting, String why) throws Exception {
        ChildJvm.Result r = probe(jvm);
        String what = setting + ":\n" + r.out();
        assertEquals("false", r.value("native.available"), () -> ctx(what));
        assertTrue(r.value("native.reason").startsWith(setting + " "), () -> ctx(what));
        assertTrue(r.value("native.reason").contains(why), () -> ctx(what));
        assertTrue(r.out().contains("native (unavailable: " + setting), () -> ctx("report: " + what));
        assertEquals("java", r.value("loss.backend"), () -> ctx(what));
    }

    private static void nativeRuns(ChildJvm jvm, int threads, String what) throws Exception {
        TestBackends.require(Backends.nativeCpu());
        ChildJvm.Result r = probe(jvm);
        assertEquals("true", r.value("native.available"), () -> ctx(what + ":\n" + r.out()));
        assertEquals("native", r.value("loss.backend"), () -> ctx(what + ":\n" + r.out()));
        if (threads > 0) {
            assertEquals(String.valueOf(threads), r.value("native.threads"), () -> ctx(what + ":\n" + r.out()));
        }
    }

    @Test
    void anUnknownInstructionSetIsRefusedFromEitherSource() throws Exception {
        nativeRefused(new ChildJvm().env("FUSEDLOSS_NATIVE_ISA", "bogus"), "FUSEDLOSS_NATIVE_ISA=bogus",
                "is not one of avx512, avx2, scalar");
        nativeRefused(new ChildJvm().option("-Dfusedloss.native.isa=sse4"), "-Dfusedloss.native.isa=sse4",
                "is not one of avx512, avx2, scalar");
        nativeRuns(new ChildJvm().env("FUSEDLOSS_NATIVE_ISA", "SCALAR"), 0, "FUSEDLOSS_NATIVE_ISA=SCALAR");
    }

    @Test
    void aThreadCountBelowOneIsRefusedFromEitherSource() throws Exception {
        nativeRefused(new ChildJvm().env("FUSEDLOSS_NATIVE_THREADS", "0"), "FUSEDLOSS_NATIVE_THREADS=0",
                "is outside [1, ");
        nativeRefused(new ChildJvm().option("-Dfusedloss.native.threads=0"), "-Dfusedloss.native.threads=0",
                "is outside [1, ");
        nativeRefused(new ChildJvm().env("FUSEDLOSS_NATIVE_THREADS", "two"), "FUSEDLOSS_NATIVE_THREADS=two",
                "is not an integer");
        nativeRuns(new ChildJvm().env("FUSEDLOSS_NATIVE_THREADS", "3"), 3, "FUSEDLOSS_NATIVE_THREADS=3");
        // The system property wins over the environment variable.
        nativeRuns(new ChildJvm().env("FUSEDLOSS_NATIVE_THREADS", "0").option("-Dfusedloss.native.threads=1"), 1,
                "-Dfusedloss.native.threads=1 with FUSEDLOSS_NATIVE_THREADS=0");
    }

    @Test
    void booleansAreTrueOrFalseInAnyCase() throws Exception {
        nativeRefused(new ChildJvm().option("-Dfusedloss.native.disable=TRUE"), "-Dfusedloss.native.disable=TRUE",
                "");
        nativeRefused(new ChildJvm().env("FUSEDLOSS_NATIVE_DISABLE", "True"), "FUSEDLOSS_NATIVE_DISABLE=True", "");
        nativeRefused(new ChildJvm().env("FUSEDLOSS_NATIVE_DISABLE", "yes"), "FUSEDLOSS_NATIVE_DISABLE=yes",
                "is not a boolean");
        nativeRuns(new ChildJvm().option("-Dfusedloss.native.disable=False"), 0, "-Dfusedloss.native.disable=False");
    }

    @Test
    void aForcedBackendThatIsUnavailableThrowsWithItsReason() throws Exception {
        ChildJvm.Result r = probe(new ChildJvm().env("FUSEDLOSS_NATIVE_ISA", "bogus").env("FUSEDLOSS_BACKEND", "native"));
        String error = r.value("best.error");
        assertTrue(error != null && error.startsWith("IllegalStateException: FUSEDLOSS_BACKEND=native"),
                () -> ctx(r.out()));
        assertTrue(error.contains("FUSEDLOSS_NATIVE_ISA=bogus is not one of"), () -> ctx(r.out()));
        assertTrue(r.value("loss.error").contains("FUSEDLOSS_NATIVE_ISA=bogus"), () -> ctx(r.out()));

        // Under Maven the core's tests run without fusedloss-cuda; gpu-tests.sh runs them with it (and a GPU).
        ChildJvm.Result cuda = probe(new ChildJvm().option("-Dfusedloss.backend=CUDA"));
        String cudaReason = cuda.value("cuda.reason");
        if (ClassLoader.getSystemResource("org/fusedloss/cuda/DeviceBatch.class") == null) {
            assertTrue(cudaReason.startsWith("the fusedloss-cuda artifact"), () -> ctx(cuda.out()));
        }
        if ("-".equals(cudaReason)) {
            assertEquals("cuda", cuda.value("best"), () -> ctx(cuda.out()));
        } else {
            assertEquals("IllegalStateException: -Dfusedloss.backend=CUDA but that backend is not available: "
                    + cudaReason, cuda.value("best.error"), () -> ctx(cuda.out()));
        }

        ChildJvm.Result unknown = probe(new ChildJvm().option("-Dfusedloss.backend=gpu"));
        assertEquals("IllegalStateException: -Dfusedloss.backend=gpu is not one of auto, java, native, cuda",
                unknown.value("best.error"), () -> ctx(unknown.out()));
        assertTrue(unknown.out().contains("best    none: -Dfusedloss.backend=gpu"), () -> ctx(unknown.out()));

        ChildJvm.Result java = probe(new ChildJvm().env("FUSEDLOSS_BACKEND", "Java"));
        assertEquals("java", java.value("best"), () -> ctx(java.out()));
        assertEquals("java", java.value("loss.backend"), () -> ctx(java.out()));
    }
}
