package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.javacpp.Loader;
import org.fusedloss.internal.LossKind;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The backend registry: names, availability, the choice of {@link Backends#best()} and its override. */
class BackendsTest {
    private static final float[] X = {1, 2, 3, 0, -1, 0.5f};
    private static final int[] Y = {2, 0};

    @Test
    void theJavaBackendIsAlwaysAvailable() {
        Backend java = Backends.java();
        assertEquals("java", java.name(), ctx("name"));
        assertTrue(java.isAvailable(), ctx("java available"));
        assertTrue(java.unavailabilityReason().isEmpty(), ctx("java has no unavailability reason"));
        assertTrue(java.describe().startsWith("java"), ctx(java.describe()));
    }

    @Test
    void theNativeBackendIsAvailableWhereTheJarCarriesItsLibrary() {
        Backend n = Backends.nativeCpu();
        assertEquals("native", n.name(), ctx("name"));
        if (!TestBackends.NATIVE_PLATFORM.equals(Loader.getPlatform()) || TestBackends.nativeSkipped()) {
            Assumptions.abort("not checked here (" + Loader.getPlatform() + (TestBackends.nativeSkipped()
                    ? ", -Dfusedloss.skipNative=true" : "") + "): " + n.unavailabilityReason().orElse("available"));
        }
        assertTrue(n.isAvailable(), () -> ctx("native must load on " + TestBackends.NATIVE_PLATFORM + ": ")
                + n.unavailabilityReason().orElse("?"));
        assertTrue(n.unavailabilityReason().isEmpty(), ctx("no reason when available"));
        String isa = Backends.nativeCpu().isa();
        assertEquals(List.of("avx512", "avx2", "scalar"), Backends.nativeCpu().isas(), ctx("the library's instruction sets, best first"));
        assertTrue(Backends.nativeCpu().isas().contains(isa), ctx(isa));
        assertEquals(Backends.nativeCpu().isas().stream().filter(Backends.nativeCpu()::isaSupported).toList(),
                Backends.nativeCpu().supportedIsas(), ctx("supportedIsas"));
        assertTrue(Backends.nativeCpu().isaSupported(isa), ctx(isa + " in use but not supported"));
        assertTrue(Backends.nativeCpu().isaSupported("scalar"), ctx("every x86-64 CPU runs scalar"));
        assertTrue(n.describe().contains(isa), ctx(n.describe()));
        assertTrue(Backends.nativeCpu().threads() >= 1, ctx("threads"));
    }

    @Test
    void anUnavailableBackendSaysWhy() {
        for (Backend b : Backends.all()) {
            assertEquals(!b.isAvailable(), b.unavailabilityReason().isPresent(), ctx(b.name()));
            if (!b.isAvailable()) {
                assertFalse(b.unavailabilityReason().get().isBlank(), ctx(b.name()));
                assertTrue(b.describe().contains(b.unavailabilityReason().get()), ctx(b.describe()));
            }
        }
    }

    @Test
    void backendsAreFoundByNameAndUnknownNamesAreRejected() {
        assertSame(Backends.java(), Backends.byName("java"), ctx("java"));
        assertSame(Backends.nativeCpu(), Backends.byName(" Native "), ctx("\" Native \""));
        assertSame(Backends.cuda(), Backends.byName("CUDA"), ctx("CUDA"));
        Checks.rejects(() -> Backends.byName("gpu"), "backend gpu", "gpu");
        assertEquals(List.of(Backends.nativeCpu(), Backends.java(), Backends.cuda()), Backends.all(), ctx("all()"));
        String report = Backends.report();
        for (Backend b : Backends.all()) {
            assertTrue(report.contains(b.name()), ctx(report));
        }
    }

    @Test
    void bestPrefersNativeAndThePropertyOverridesIt() {
        String saved = System.getProperty(Backends.PROPERTY);
        try {
            System.clearProperty(Backends.PROPERTY);
            assertSame(Backends.nativeCpu().isAvailable() ? Backends.nativeCpu() : Backends.java(), Backends.best(), ctx("best()"));
            System.setProperty(Backends.PROPERTY, "auto");
            assertSame(Backends.nativeCpu().isAvailable() ? Backends.nativeCpu() : Backends.java(), Backends.best(),
                    ctx("best() with auto"));
            System.setProperty(Backends.PROPERTY, "java");
            assertSame(Backends.java(), Backends.best(), ctx("best() with java"));
            assertEquals("java", CrossEntropy.builder().build().backend().name(), ctx("default backend of a loss"));
            for (Backend b : Backends.all()) {
                if (!b.isAvailable()) {
                    System.setProperty(Backends.PROPERTY, b.name());
                    IllegalStateException e = assertThrows(IllegalStateException.class, Backends::best, ctx(b.name()));
                    assertTrue(e.getMessage().contains(b.unavailabilityReason().get()), ctx(e.getMessage()));
                }
            }
        } finally {
            if (saved == null) {
                System.clearProperty(Backends.PROPERTY);
            } else {
                System.setProperty(Backends.PROPERTY, saved);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.fusedloss.TestBackends#backends")
    void aLossBuiltForABackendRunsThere(Backend b) {
        TestBackends.require(b);
        float[] g = new float[6];
        for (CrossEntropy ce : new CrossEntropy[] {CrossEntropy.builder().backend(b).build(),
            CrossEntropy.builder().backend(b.name()).build()}) {
            assertSame(b, ce.backend(), ctx("backend()"));
            LossResult r = ce.compute(Batch.of(X, 2, 3).labels(Y).gradient(g));
            assertEquals(b.name(), r.backend(), () -> ctx("result.backend()"));
            assertTrue(r.isFinite(), () -> ctx(r.toString()));
        }
    }

    /**
     * A loss is immutable and may be shared: calls from several threads at once (into the same
     * native thread pool) give bit for bit what the same calls give one after the other.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.fusedloss.TestBackends#backends")
    void concurrentCallsGiveWhatSequentialCallsGive(Backend b) throws Exception {
        TestBackends.require(b);
        java.util.SplittableRandom rng = TestData.rng("BackendsTest.concurrent");
        int calls = 24;
        List<LossSpec> specs = List.of(LossSpec.of(LossKind.CROSS_ENTROPY).withSmoothing(0.125),
                LossSpec.of(LossKind.BINARY_CROSS_ENTROPY), LossSpec.of(LossKind.SIGMOID_FOCAL));
        List<TestData.Case> cases = new java.util.ArrayList<>();
        for (int i = 0; i < calls; i++) {
            LossSpec spec = specs.get(i % specs.size());
            cases.add(TestData.random(spec, TestData.combo(TestData.W.SAMPLE), 2000 + i, 33, rng));
        }
        List<Loss> losses = specs.stream().map(s -> s.build(Reduction.MEAN)).toList();
        List<Checks.Run> sequential = new java.util.ArrayList<>();
        for (int i = 0; i < calls; i++) {
            sequential.add(runWith(losses.get(i % specs.size()), cases.get(i), b));
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<Checks.Run>> futures = new java.util.ArrayList<>();
            for (int i = 0; i < calls; i++) {
                final int call = i;
                futures.add(pool.submit(() -> runWith(losses.get(call % specs.size()), cases.get(call), b)));
            }
            for (int i = 0; i < calls; i++) {
                Checks.Run got = futures.get(i).get();
                String what = cases.get(i) + " on " + b.name() + ": concurrent call " + i + " vs sequential";
                assertEquals(sequential.get(i).result().loss(), got.result().loss(), ctx(what + ": loss"));
                Checks.sameBits(sequential.get(i).gradient(), got.gradient(), what + ": gradient");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static Checks.Run runWith(Loss loss, TestData.Case k, Backend b) {
        float[] g = new float[k.problem().n * k.problem().c];
        LossResult r = Checks.compute(loss, k.problem().batch(Reduction.MEAN, g, null), b, k);
        return new Checks.Run(r, g, null);
    }

    @Test
    void computingOnAnUnavailableBackendFailsLoudlyAndWritesNothing() {
        for (Backend b : Backends.all()) {
            if (b.isAvailable()) {
                continue;
            }
            float[] g = TestData.filled(6, -5f);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> CrossEntropy.builder().build().compute(Batch.of(X, 2, 3).labels(Y).gradient(g), b), ctx(b.name()));
            assertTrue(e.getMessage().contains(b.unavailabilityReason().get()), ctx(e.getMessage()));
            Checks.unchanged(g, -5f, b.name() + " gradient");
        }
    }
}
