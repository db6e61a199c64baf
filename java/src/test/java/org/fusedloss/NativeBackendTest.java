package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.fusedloss.TestData.W.CLASS;
import static org.fusedloss.TestData.W.ELEMENT;
import static org.fusedloss.TestData.W.IGNORE;
import static org.fusedloss.TestData.W.MASK;
import static org.fusedloss.TestData.W.POS;
import static org.fusedloss.TestData.W.SAMPLE;
import static org.fusedloss.TestData.combo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.fusedloss.TestData.Case;
import org.fusedloss.TestData.W;
import org.fusedloss.internal.AbiRequest;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.WeightPass;
import org.fusedloss.internal.WeightStats;
import org.fusedloss.internal.nativecpu.NativeEngine;
import org.fusedloss.nativecpu.NativeBackend;
import org.junit.jupiter.api.Test;

/**
 * What only the native CPU backend has (the losses' values on each of its instruction sets are
 * the contract's, {@link LossContract} on the paths {@code native@<isa>}): a direct gradient at
 * any byte address where non-temporal stores are used, its vector weight pass against the Java one,
 * the request layout and loss table it shares with Java, the thread count's bounds, and
 * bit-identical results for 1, 2 and 3 threads.
 */
class NativeBackendTest {
    private static final Backend JAVA = Backends.java();
    private static final NativeBackend NATIVE = Backends.nativeCpu();
    private static final NativeEngine ENGINE = NativeEngine.get();

    /** One loss setting with the weights to draw: the cross-check's unit of work. */
    private record Setting(LossSpec spec, Set<W> weights) {
    }

    private static final LossSpec CE = LossSpec.of(LossKind.CROSS_ENTROPY);
    private static final LossSpec DENSE = LossSpec.of(LossKind.CROSS_ENTROPY_DENSE);
    private static final LossSpec SMF = LossSpec.of(LossKind.SOFTMAX_FOCAL);
    private static final LossSpec BCE = LossSpec.of(LossKind.BINARY_CROSS_ENTROPY);
    private static final LossSpec MSE = LossSpec.of(LossKind.MEAN_SQUARED_ERROR);
    private static final LossSpec SGF = LossSpec.of(LossKind.SIGMOID_FOCAL);

    /** Every loss, its options and weights; the first of each loss is also run at the large size. */
    private static final List<Setting> SETTINGS = List.of(
            new Setting(CE, combo()),
            new Setting(CE.withSmoothing(0.125).withZLoss(0.0625).withSoftCap(4), combo(SAMPLE, CLASS, MASK, IGNORE)),
            new Setting(CE.withSmoothing(0.25), combo(CLASS)),
            new Setting(DENSE, combo(SAMPLE)),
            new Setting(DENSE.withSmoothing(0.25).withZLoss(0.03125).withSoftCap(3), combo(SAMPLE, CLASS, MASK)),
            new Setting(SMF, combo()),
            new Setting(SMF.withGamma(0.5), combo(SAMPLE, CLASS, MASK, IGNORE)),
            new Setting(SMF.withGamma(0), combo(CLASS)),
            new Setting(BCE, combo()),
            new Setting(BCE, combo(SAMPLE, ELEMENT, POS, CLASS)),
            new Setting(BCE, combo(SAMPLE, ELEMENT, POS, MASK)),
            new Setting(MSE, combo()),
            new Setting(MSE, combo(SAMPLE, ELEMENT, MASK)),
            new Setting(SGF, combo()),
            new Setting(SGF.withFocalAlpha(-1).withGamma(1.5), combo(SAMPLE, ELEMENT, MASK)),
            new Setting(SGF.withFocalAlpha(0.5).withGamma(0.5), combo(SAMPLE)));

    /**
     * A direct gradient buffer may start at any byte address (a ByteBuffer sliced at an odd
     * position, then viewed as floats): at the sizes where the gradient is written with
     * non-temporal stores (n * c >= 4 Mi floats, rows of at least 1536 classes) and at that size
     * with shorter rows (whose exponentials are kept in the gradient row itself), on every
     * instruction set, every softmax path (class indices with short and long rows, smoothing, dense
     * targets, focal) and an element-wise loss give bit for bit the gradient they write into an
     * aligned heap array. Before the fix the avx2 and avx512 kernels crashed the JVM here
     * (streaming stores to a misaligned address).
     */
    @Test
    void aDirectGradientAtAnyByteAddressGivesTheSameResultAtNonTemporalSizes() {
        forEachIsa("misaligned direct gradient", isa -> {
            SplittableRandom rng = TestData.rng("NativeBackendTest.misaligned." + isa);
            record Shape(LossSpec spec, int n, int c) {
            }
            for (Shape s : new Shape[] {new Shape(CE, 4096, 1024), new Shape(CE, 160, 32_001),
                    new Shape(CE.withSmoothing(0.125), 4096, 1024), new Shape(DENSE, 4096, 1024),
                    new Shape(SMF, 4096, 1024), new Shape(MSE, 4096, 1024),
                    new Shape(CE.withSmoothing(0.125), 2049, 2048), new Shape(DENSE, 2049, 2048),
                    new Shape(SMF, 2049, 2048)}) {
                Case k = TestData.random(s.spec(), combo(SAMPLE), s.n(), s.c(), rng);
                Loss loss = k.spec().build(Reduction.MEAN);
                float[] expected = new float[s.n() * s.c()];
                LossResult want = loss.compute(k.problem().batch(Reduction.MEAN, expected, null), NATIVE);
                for (int byteOffset : new int[] {1, 2, 3, 4, 5}) {
                    FloatBuffer g = ByteBuffer.allocateDirect(4 * s.n() * s.c() + 8).position(byteOffset).slice()
                            .order(ByteOrder.nativeOrder()).asFloatBuffer();
                    Batch batch = k.problem().batch(Reduction.MEAN, null, null).gradient(g);
                    LossResult got = loss.compute(batch, NATIVE);
                    String what = k + " [" + isa + "] gradient at byte offset " + byteOffset;
                    assertEquals(Double.doubleToLongBits(want.loss()), Double.doubleToLongBits(got.loss()),
                            () -> ctx(what + ": loss " + want.loss() + " vs " + got.loss()));
                    float[] actual = new float[s.n() * s.c()];
                    g.get(0, actual);
                    Checks.sameBits(expected, actual, what + ": gradient");
                }
            }
        });
    }

    /** Runs the check on every instruction set this CPU supports, restoring the one in use after. */
    private static void forEachIsa(String name, java.util.function.Consumer<String> check) {
        TestBackends.require(NATIVE);
        String original = NATIVE.isa();
        List<String> ran = new ArrayList<>();
        List<String> cannot = new ArrayList<>();
        try {
            for (String isa : NATIVE.isas()) {
                if (!NATIVE.isaSupported(isa)) {
                    cannot.add(isa);
                    continue;
                }
                NATIVE.setIsa(isa);
                assertEquals(isa, NATIVE.isa(), () -> ctx("setIsa(" + isa + ")"));
                check.accept(isa);
                ran.add(isa);
            }
        } finally {
            NATIVE.setIsa(original);
            System.out.println("[NativeBackendTest] " + name + ": passed on " + ran + "; this CPU cannot run " + cannot
                    + "; restored " + original);
        }
        assertEquals(original, NATIVE.isa(), () -> ctx("the instruction set in use was not restored"));
        org.junit.jupiter.api.Assertions.assertTrue(ran.contains("scalar"), () -> ctx("scalar must always run"));
    }

    /**
     * From NativeEngine.NATIVE_MIN_TERMS terms on, the native backend makes the pass over labels and
     * weights in native code: the same counts as the Java pass and the same weight sum to rounding,
     * on every instruction set, with ignored rows, NaN weights, strided weights, heap arrays and
     * direct buffers; and the results of the losses on both backends agree.
     */
    @Test
    void theNativeWeightPassMatchesTheJavaPass() {
        forEachIsa("weight pass", isa -> {
            SplittableRandom rng = TestData.rng("NativeBackendTest.weights." + isa);
            int min = (int) NativeEngine.NATIVE_MIN_TERMS;
            for (int n : new int[] {min, min + 7, 3 * min + 1}) {
                for (int c : new int[] {1, 3, 10}) {
                    for (boolean direct : new boolean[] {false, true}) {
                        int stride = rng.nextBoolean() ? 1 : 3;
                        int ignore = rng.nextBoolean() ? -100 : rng.nextInt(c);
                        float[] cw = new float[c];
                        for (int j = 0; j < c; j++) {
                            cw[j] = (float) (3 * rng.nextDouble());
                        }
                        int[] y = new int[n];
                        float[] sw = new float[n * stride];
                        for (int i = 0; i < n; i++) {
                            y[i] = rng.nextInt(10) == 0 ? ignore : rng.nextInt(c);
                            sw[i * stride] = rng.nextInt(20) == 0 ? Float.NaN : (float) (2 * rng.nextDouble());
                        }
                        float[] ew = new float[n * c];
                        for (int i = 0; i < ew.length; i++) {
                            ew[i] = rng.nextInt(20) == 0 ? Float.NaN : (float) (2 * rng.nextDouble());
                        }
                        float[] x = new float[n * c];
                        String what = "n=" + n + " c=" + c + " stride=" + stride + " ignore=" + ignore
                                + (direct ? " direct" : " heap") + " [" + isa + "]";
                        Batch ce = batch(x, n, c, direct).labels(ints(y, direct))
                                .sampleWeights(floats(sw, direct), stride);
                        CrossEntropy weighted = CrossEntropy.builder().ignoreIndex(ignore).classWeights(cw)
                                .computeGradient(false).build();
                        CrossEntropy plain = CrossEntropy.builder().ignoreIndex(ignore).computeGradient(false).build();
                        MeanSquaredError mse = MeanSquaredError.builder().computeGradient(false).build();
                        sameStats(weighted, ce, what + " CE labels, class and sample weights");
                        sameStats(plain, batch(x, n, c, direct).labels(ints(y, direct)), what + " CE labels only");
                        sameStats(plain, batch(x, n, c, direct).targets(floats(x, direct))
                                .sampleWeights(floats(sw, direct), stride), what + " sample weights");
                        Batch elements = batch(x, n, c, direct).targets(floats(x, direct))
                                .sampleWeights(floats(sw, direct), stride).elementWeights(floats(ew, direct));
                        sameStats(mse, elements, what + " element weights");
                        sameStats(mse, batch(x, n, c, direct).targets(floats(x, direct))
                                .sampleWeights(floats(sw, direct), stride), what + " element-wise, sample weights");
                        assertSameResult(weighted, ce, what + " CE");
                        assertSameResult(mse, elements, what + " MSE");
                    }
                }
            }
        });
    }

    /**
     * A MEAN or BATCH_MEAN call without a denominator, where the weight pass is native, makes the
     * pass and the loss in one native call (NativeEngine.weighAndRun): the same loss, statistics,
     * gradient and per-term losses, bit for bit, as the two steps (the call given its
     * denominator); with a bad label or weight it writes nothing, and the two steps name the value.
     */
    @Test
    void theWeightPassAndTheCallInOneGoMatchTheTwoSteps() {
        forEachIsa("one call", isa -> {
            SplittableRandom rng = TestData.rng("NativeBackendTest.oneCall." + isa);
            int n = 3 * (int) NativeEngine.NATIVE_MIN_TERMS + 5;
            int c = 10;
            float[] x = new float[n * c];
            float[] t = new float[n * c];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (6 * rng.nextDouble() - 3);
                t[i] = rng.nextBoolean() ? 1f : 0f;
            }
            int[] y = new int[n];
            float[] sw = new float[n];
            for (int i = 0; i < n; i++) {
                y[i] = rng.nextInt(12) == 0 ? -100 : rng.nextInt(c);
                sw[i] = rng.nextInt(15) == 0 ? Float.NaN : (float) (2 * rng.nextDouble());
            }
            float[] cw = new float[c];
            for (int j = 0; j < c; j++) {
                cw[j] = (float) (0.5 + rng.nextDouble());
            }
            for (Reduction reduction : new Reduction[] {Reduction.MEAN, Reduction.BATCH_MEAN}) {
                List<Loss> losses = List.of(
                        CrossEntropy.builder().classWeights(cw).reduction(reduction).build(),
                        SoftmaxFocal.builder().alpha(cw).gamma(2).reduction(reduction).build(),
                        BinaryCrossEntropy.builder().posWeight(cw).reduction(reduction).build(),
                        MeanSquaredError.builder().reduction(reduction).build(),
                        SigmoidFocal.builder().alpha(0.25).gamma(2).reduction(reduction).build());
                for (Loss loss : losses) {
                    boolean labels = loss instanceof CrossEntropy || loss instanceof SoftmaxFocal;
                    int terms = labels ? n : n * c;
                    String what = loss.getClass().getSimpleName() + " " + reduction + " [" + isa + "]";
                    java.util.function.BiFunction<float[], float[], Batch> batchOf = (g, pt) -> {
                        Batch b = Batch.of(x, n, c).sampleWeights(sw).gradient(g).perTerm(pt);
                        return labels ? b.labels(y) : b.targets(t);
                    };
                    float[] g1 = new float[n * c];
                    float[] pt1 = new float[terms];
                    assertNotNull(ENGINE.weighAndRun(loss.validate(batchOf.apply(g1, pt1).data).withDenominator(-1)),
                            () -> ctx(what + ": the one call was not made"));
                    java.util.Arrays.fill(g1, 42f);
                    LossResult one = loss.compute(batchOf.apply(g1, pt1), NATIVE);
                    float[] g2 = new float[n * c];
                    float[] pt2 = new float[terms];
                    LossResult steps = loss.compute(batchOf.apply(g2, pt2).denominator(one.denominator()), NATIVE);
                    assertEquals(steps, one, () -> ctx(what + ": the result"));
                    org.junit.jupiter.api.Assertions.assertArrayEquals(g2, g1, () -> ctx(what + ": the gradient"));
                    org.junit.jupiter.api.Assertions.assertArrayEquals(pt2, pt1, () -> ctx(what + ": per term"));
                    // a bad label or weight near the end: nothing written, the value named
                    float[] g3 = new float[n * c];
                    java.util.Arrays.fill(g3, 42f);
                    int at = n - 3;
                    Batch bad = Batch.of(x, n, c).gradient(g3);
                    if (labels) {
                        int[] badY = y.clone();
                        badY[at] = c;
                        bad = bad.labels(badY).sampleWeights(sw);
                    } else {
                        float[] badW = sw.clone();
                        badW[at] = -1f;
                        bad = bad.targets(t).sampleWeights(badW);
                    }
                    Batch badBatch = bad;
                    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                            IllegalArgumentException.class, () -> loss.compute(badBatch, NATIVE), () -> ctx(what + ": a bad value"));
                    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains(String.valueOf(at)),
                            () -> ctx(what + ": the message names row " + at + ": " + e.getMessage()));
                    for (float v : g3) {
                        assertEquals(42f, v, () -> ctx(what + ": a bad value's call wrote the gradient"));
                    }
                }
            }
        });
    }

    private static Batch batch(float[] x, int n, int c, boolean direct) {
        return direct ? Batch.of(floats(x, true), n, c) : Batch.of(x, n, c);
    }

    private static FloatBuffer floats(float[] a, boolean direct) {
        if (!direct) {
            return FloatBuffer.wrap(a);
        }
        FloatBuffer b = ByteBuffer.allocateDirect(a.length * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
        return b.put(a).flip();
    }

    private static IntBuffer ints(int[] a, boolean direct) {
        if (!direct) {
            return IntBuffer.wrap(a);
        }
        IntBuffer b = ByteBuffer.allocateDirect(a.length * Integer.BYTES).order(ByteOrder.nativeOrder()).asIntBuffer();
        return b.put(a).flip();
    }

    /** The pass in native code (it must run: no fallback) against the Java one, on the loss's request. */
    private static void sameStats(Loss loss, Batch b, String what) {
        LossRequest request = loss.validate(b.data);
        WeightStats java = WeightPass.run(request);
        WeightStats nat = ENGINE.nativeWeightStats(request);
        assertNotNull(nat, () -> ctx(what + ": the native pass failed"));
        assertEquals(java.counted(), nat.counted(), () -> ctx(what + ": counted"));
        assertEquals(java.masked(), nat.masked(), () -> ctx(what + ": masked"));
        Checks.close(java.weightSum(), nat.weightSum(), 1e-12, 0, what + ": weight sum");
        WeightStats chosen = ENGINE.weightStats(request);
        assertEquals(nat, chosen, () -> ctx(what + ": the native backend's pass is not the native one"));
    }

    private static void assertSameResult(Loss loss, Batch b, String what) {
        LossResult java = loss.compute(b, JAVA);
        LossResult nat = loss.compute(b, NATIVE);
        assertEquals(java.counted(), nat.counted(), () -> ctx(what + ": counted"));
        assertEquals(java.masked(), nat.masked(), () -> ctx(what + ": masked"));
        Checks.close(java.denominator(), nat.denominator(), 1e-12, 0, what + ": denominator");
        Checks.close(java.loss(), nat.loss(), 1e-5, 1e-6, what + ": loss");
    }

    /**
     * The request Java writes is the one the library reads: every field of AbiRequest at the
     * library's offsetof, the size, and LossKind in the order of fl_loss with each kind's kernel.
     */
    @Test
    void theRequestLayoutAndTheLossTableMatchTheLibrary() {
        TestBackends.require(NATIVE);
        for (var field : AbiRequest.FIELDS.entrySet()) {
            assertEquals((long) field.getValue(), NativeEngine.requestOffset(field.getKey()),
                    () -> ctx("offset of fl_request." + field.getKey()));
        }
        assertEquals(-1L, NativeEngine.requestOffset("no_such_field"), () -> ctx("an unknown field"));
        assertEquals(AbiRequest.BYTES, AbiRequest.OPTIONS + 8 * AbiRequest.OPTION_SLOTS);
        for (LossKind kind : LossKind.values()) {
            assertEquals(kind.kernel(), NativeEngine.lossName(kind.ordinal()), () -> ctx("fl_loss " + kind));
        }
        assertEquals(null, NativeEngine.lossName(LossKind.values().length), () -> ctx("FL_LOSS_COUNT"));
    }

    /**
     * setThreads takes 1 to {@link NativeBackend#MAX_THREADS}; beyond that it is rejected (it used
     * to accept Integer.MAX_VALUE). A call never starts more OS threads than it has row blocks:
     * with the maximum set, a call of 4 blocks adds at most 3 threads to the process (it used to
     * start MAX_THREADS - 1 of them).
     */
    @Test
    void theThreadCountIsBoundedAndACallStartsNoMoreThreadsThanBlocks() throws Exception {
        TestBackends.require(NATIVE);
        int original = NATIVE.threads();
        try {
            for (int bad : new int[] {0, -3, NativeBackend.MAX_THREADS + 1, Integer.MAX_VALUE}) {
                Checks.rejects(() -> NATIVE.setThreads(bad), "setThreads(" + bad + ")", "threads = " + bad,
                        String.valueOf(NativeBackend.MAX_THREADS));
            }
            NATIVE.setThreads(NativeBackend.MAX_THREADS);
            assertEquals(NativeBackend.MAX_THREADS, NATIVE.threads(), () -> ctx("setThreads(MAX_THREADS)"));
            int n = 4096;
            int c = 12;  // 49 152 elements: 4 blocks of up to 16 384, enough to wake the workers
            float[] x = new float[n * c];
            int[] y = new int[n];
            long before = osThreads();
            CrossEntropy.builder().build().compute(Batch.of(x, n, c).labels(y).gradient(new float[n * c]), NATIVE);
            long after = osThreads();
            // a few threads of slack for the JVM's own (compiler threads come and go)
            org.junit.jupiter.api.Assertions.assertTrue(after - before <= 3 + 8,
                    () -> ctx("a call of 4 row blocks with " + NativeBackend.MAX_THREADS + " threads set started "
                            + (after - before) + " OS threads"));
        } finally {
            NATIVE.setThreads(original);
        }
    }

    /** The number of OS threads of this process (Linux). */
    private static long osThreads() throws java.io.IOException {
        try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
            return tasks.count();
        }
    }

    @Test
    void resultsAreBitIdenticalForOneTwoAndThreeThreads() {
        TestBackends.require(NATIVE);
        int original = NATIVE.threads();
        SplittableRandom rng = TestData.rng("NativeBackendTest.threads");
        try {
            for (Setting s : SETTINGS) {
                boolean perRow = s.spec().kind().perRow();
                int n = perRow ? 3001 : 1001;
                int c = perRow ? 37 : 9;
                Case k = TestData.random(s.spec(), s.weights(), n, c, rng);
                for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.MEAN}) {
                    Checks.Run first = null;
                    for (int t : new int[] {1, 2, 3}) {
                        NATIVE.setThreads(t);
                        assertEquals(t, NATIVE.threads(), () -> ctx("setThreads(" + t + ")"));
                        Checks.Run run = Checks.run(k.spec(), k.problem(), r, NATIVE);
                        if (first == null) {
                            first = run;
                            continue;
                        }
                        String what = k + " " + r + ": " + t + " threads vs 1";
                        assertEquals(Double.doubleToLongBits(first.result().loss()),
                                Double.doubleToLongBits(run.result().loss()),
                                ctx(what + ": loss " + first.result().loss() + " vs " + run.result().loss()));
                        Checks.sameBits(first.gradient(), run.gradient(), what + ": gradient");
                        if (r == Reduction.NONE) {
                            Checks.sameBits(first.perTerm(), run.perTerm(), what + ": perTerm");
                        }
                    }
                }
            }
        } finally {
            NATIVE.setThreads(original);
        }
        assertEquals(original, NATIVE.threads(), () -> ctx("the thread count was not restored"));
    }
}
