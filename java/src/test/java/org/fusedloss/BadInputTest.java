package org.fusedloss;

import static org.fusedloss.Checks.rejects;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.function.Function;
import org.fusedloss.internal.nativecpu.NativeEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input: every kind is an {@link IllegalArgumentException} whose message names the argument
 * (and the index and value where there is one), thrown before anything is computed, so the output
 * buffers (gradient and per-term losses, filled with a sentinel first) are left as they were.
 * The checks run in Java before any backend, but each test still runs against every backend.
 */
class BadInputTest {
    private static final String BACKENDS = "org.fusedloss.TestBackends#backends";
    private static final float S = -777.25f;
    private static final int N = 4;
    private static final int C = 3;
    private static final float[] X = {0.5f, -1, 2, 0, 0, 0, 1, 2, 3, -3, 0.25f, 1};
    private static final int[] LABELS = {0, 2, 1, 0};
    private static final float[] HARD = {0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0};

    /** Sentinel-filled outputs: a gradient and per-term buffer of the right size (plus a tail). */
    private static final class Out {
        final float[] g = TestData.filled(N * C + 3, S);
        final float[] pt = TestData.filled(N * C + 3, S);

        void assertUnchanged(Object what) {
            Checks.unchanged(g, S, what + ": gradient");
            Checks.unchanged(pt, S, what + ": perTerm");
        }
    }

    private static CrossEntropy ce(Reduction r) {
        return CrossEntropy.builder().reduction(r).build();
    }

    private static BinaryCrossEntropy bce(Reduction r) {
        return BinaryCrossEntropy.builder().reduction(r).build();
    }

    /** A valid CE batch over the sentinel outputs (NONE: with the per-term buffer). */
    private static Batch ceBatch(Out o, Reduction r) {
        Batch b = Batch.of(X, N, C).labels(LABELS).gradient(o.g);
        return r == Reduction.NONE ? b.perTerm(o.pt) : b;
    }

    private static Batch bceBatch(Out o, Reduction r) {
        Batch b = Batch.of(X, N, C).targets(HARD).gradient(o.g);
        return r == Reduction.NONE ? b.perTerm(o.pt) : b;
    }

    /** Asserts the rejection with the fragments and that the outputs are untouched. */
    private static void rejected(Backend b, Loss loss, Reduction r, Function<Out, Batch> batch, String what,
                                 String... fragments) {
        Out o = new Out();
        rejects(() -> loss.compute(batch.apply(o), b), what + " on " + b.name(), fragments);
        o.assertUnchanged(what + " on " + b.name());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void buffersThatAreTooShortOrOffsetsOutside(Backend b) {
        TestBackends.require(b);
        Reduction m = Reduction.MEAN;
        Reduction none = Reduction.NONE;
        rejected(b, ce(m), m, o -> Batch.of(new float[11], N, C).labels(LABELS).gradient(o.g),
                "predictions of 11 for 4 x 3", "predictions", "12", "11");
        rejected(b, ce(m), m, o -> Batch.of(X, 1, N, C).labels(LABELS).gradient(o.g),
                "predictions at offset 1", "predictions", "12", "offset 1");
        rejected(b, ce(m), m, o -> Batch.of(X, 13, N, C).labels(LABELS).gradient(o.g),
                "predictions offset 13", "predictions", "offset 13");
        rejected(b, ce(m), m, o -> Batch.of(X, -1, N, C).labels(LABELS).gradient(o.g),
                "predictions offset -1", "predictions", "-1");
        rejected(b, ce(m), m, o -> ceBatch(o, m).labels(new int[] {0, 1, 2}),
                "3 labels for 4 rows", "labels", "4");
        rejected(b, ce(m), m, o -> ceBatch(o, m).labels(new int[] {0, 1, 2, 0}, 1),
                "labels at offset 1", "labels", "4", "offset 1");
        rejected(b, ce(m), m, o -> Batch.of(X, N, C).targets(new float[11]).gradient(o.g),
                "dense CE targets of 11", "targets", "12");
        rejected(b, bce(m), m, o -> Batch.of(X, N, C).targets(HARD, 2).gradient(o.g),
                "BCE targets at offset 2", "targets", "12");
        rejected(b, ce(m), m, o -> ceBatch(o, m).sampleWeights(new float[3]),
                "3 sample weights for 4 rows", "sampleWeights", "4");
        rejected(b, ce(m), m, o -> ceBatch(o, m).sampleWeights(new float[6], 0, 2),
                "6 sample weights at stride 2 (needs 7)", "sampleWeights", "7");
        rejected(b, bce(m), m, o -> bceBatch(o, m).elementWeights(new float[11]),
                "11 element weights", "elementWeights", "12");
        rejected(b, ce(m), m, o -> Batch.of(X, N, C).labels(LABELS).gradient(new float[0]).gradient(o.g, 4),
                "gradient at offset 4 of 15", "gradient", "12");
        Out shortOut = new Out();
        float[] shortGradient = TestData.filled(11, S);
        rejects(() -> ce(m).compute(Batch.of(X, N, C).labels(LABELS).gradient(shortGradient), b),
                "gradient of 11 on " + b.name(), "gradient", "12");
        Checks.unchanged(shortGradient, S, "gradient of 11");
        shortOut.assertUnchanged("gradient of 11");
        rejected(b, ce(none), none, o -> ceBatch(o, none).perTerm(o.pt, 12),
                "perTerm at offset 12 of 15 (needs 4)", "perTerm", "4");
        rejected(b, bce(none), none, o -> bceBatch(o, none).perTerm(o.pt, 4),
                "BCE perTerm at offset 4 of 15 (needs 12)", "perTerm", "12");
        rejected(b, ce(none), none, o -> ceBatch(o, none).upstream(new float[3]),
                "3 upstream values for 4 rows", "upstream", "4");
        rejected(b, bce(none), none, o -> bceBatch(o, none).upstream(new float[4]),
                "4 upstream values for 12 elements", "upstream", "12");
        rejects(() -> Batch.of(X, -1, C), "rows -1", "rows", "-1");
        rejects(() -> Batch.of(X, N, 0), "cols 0", "cols", "0");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void labelsOutsideTheClasses(Backend b) {
        TestBackends.require(b);
        for (Reduction r : Reduction.values()) {
            rejected(b, ce(r), r, o -> ceBatch(o, r).labels(new int[] {0, 3, 1, 0}),
                    "CE label 3 of 3 classes, " + r, "labels[1] = 3");
            rejected(b, ce(r), r, o -> ceBatch(o, r).labels(new int[] {0, 1, -1, 0}),
                    "CE label -1 (ignore index -100), " + r, "labels[2] = -1");
            SoftmaxFocal focal = SoftmaxFocal.builder().reduction(r).ignoreIndex(-1).build();
            rejected(b, focal, r, o -> ceBatch(o, r).labels(new int[] {0, 1, 2, -100}),
                    "focal label -100 (ignore index -1), " + r, "labels[3] = -100");
        }
        // the ignore index itself is fine anywhere, even outside [0, C)
        Out o = new Out();
        LossResult res = Checks.compute(CrossEntropy.builder().ignoreIndex(7).build(),
                ceBatch(o, Reduction.MEAN).labels(new int[] {7, 1, 7, 0}), b, "ignore index 7");
        org.junit.jupiter.api.Assertions.assertEquals(2, res.counted(), () -> Checks.ctx("ignore index 7: counted"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void negativeOrInfiniteWeights(Backend b) {
        TestBackends.require(b);
        Reduction m = Reduction.MEAN;
        rejected(b, ce(m), m, o -> ceBatch(o, m).sampleWeights(new float[] {1, -0.5f, 1, 1}),
                "negative sample weight", "sampleWeights[1] = -0.5");
        rejected(b, ce(m), m, o -> ceBatch(o, m).sampleWeights(new float[] {1, 1, Float.POSITIVE_INFINITY, 1}),
                "infinite sample weight", "sampleWeights[2] = Infinity");
        rejected(b, ce(m), m, o -> ceBatch(o, m).sampleWeights(new float[] {1, 9, 9, 1, 9, 9, Float.NEGATIVE_INFINITY, 9, 9, 1}, 0, 3),
                "-inf sample weight through stride 3", "sampleWeights[2] = -Infinity");
        float[] ew = TestData.filled(N * C, 1);
        ew[5] = -1;
        rejected(b, bce(m), m, o -> bceBatch(o, m).elementWeights(ew), "negative element weight",
                "elementWeights[5] = -1.0");
        float[] inf = TestData.filled(N * C, 1);
        inf[11] = Float.POSITIVE_INFINITY;
        for (Loss loss : new Loss[] {bce(m), MeanSquaredError.builder().build(), SigmoidFocal.builder().build()}) {
            rejected(b, loss, m, o -> bceBatch(o, m).elementWeights(inf), loss.getClass().getSimpleName()
                    + " infinite element weight", "elementWeights[11] = Infinity");
        }
    }

    /**
     * Batches large enough that the native backend checks labels and weights in native code
     * (NativeEngine.NATIVE_MIN_TERMS): the same exceptions, naming the same index and value.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void badValuesInLargeBatches(Backend b) {
        TestBackends.require(b);
        int n = (int) NativeEngine.NATIVE_MIN_TERMS + 5;
        int c = 3;
        float[] x = new float[n * c];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % c;
        }
        float[] g = TestData.filled(n * c, S);
        Reduction m = Reduction.MEAN;
        int[] badLabels = labels.clone();
        badLabels[n - 2] = c;
        rejects(() -> ce(m).compute(Batch.of(x, n, c).labels(badLabels).gradient(g), b),
                "large batch, label " + c + " on " + b.name(), "labels[" + (n - 2) + "] = " + c);
        float[] sw = TestData.filled(n, 1);
        sw[n - 1] = -2;
        rejects(() -> ce(m).compute(Batch.of(x, n, c).labels(labels).sampleWeights(sw).gradient(g), b),
                "large batch, negative sample weight on " + b.name(), "sampleWeights[" + (n - 1) + "] = -2.0");
        float[] swStrided = TestData.filled(2 * n, 1);
        swStrided[2 * 7] = Float.POSITIVE_INFINITY;
        rejects(() -> MeanSquaredError.builder().build().compute(Batch.of(x, n, c).targets(x)
                        .sampleWeights(swStrided, 0, 2).gradient(g), b),
                "large batch, infinite strided sample weight on " + b.name(), "sampleWeights[7] = Infinity");
        float[] ew = TestData.filled(n * c, 1);
        ew[n * c - 1] = Float.NEGATIVE_INFINITY;
        rejects(() -> bce(m).compute(Batch.of(x, n, c).targets(new float[n * c]).elementWeights(ew).gradient(g), b),
                "large batch, -inf element weight on " + b.name(), "elementWeights[" + (n * c - 1) + "] = -Infinity");
        Checks.unchanged(g, S, "large batches: gradient");
    }

    /**
     * Several bad values: the one named is the first in the order of SEMANTICS.md (labels, sample
     * weights, element weights, targets; each at its smallest index), whatever order the pass meets
     * them in, and a value is checked whatever masks it. The CUDA kernels' error word picks the same
     * one (issue 17, item 8). Small batches and, for the native backend's own pass, large ones.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void severalBadValuesNameTheFirstInTheContractOrder(Backend b) {
        TestBackends.require(b);
        Reduction m = Reduction.MEAN;
        rejected(b, ce(m), m, o -> ceBatch(o, m).labels(new int[] {0, 2, 1, 7}).sampleWeights(new float[] {1, -1, 1, 1}),
                "a bad sample weight in row 1, a bad label in row 3", "labels[3] = 7");
        rejected(b, ce(m), m, o -> ceBatch(o, m).labels(new int[] {0, -100, 1, 0}).sampleWeights(new float[] {1, -2, 1, 1}),
                "a bad sample weight on an ignored row", "sampleWeights[1] = -2.0");
        float[] ew = TestData.filled(N * C, 1);
        ew[0] = -1;
        Loss mse = MeanSquaredError.builder().build();
        rejected(b, mse, m, o -> bceBatch(o, m).elementWeights(ew).sampleWeights(new float[] {1, 1, Float.POSITIVE_INFINITY, 1}),
                "a bad element weight in row 0, a bad sample weight in row 2", "sampleWeights[2] = Infinity");
        float[] ewMasked = TestData.filled(N * C, 1);
        ewMasked[2] = -1;
        rejected(b, mse, m, o -> bceBatch(o, m).elementWeights(ewMasked).sampleWeights(new float[] {Float.NaN, 1, 1, 1}),
                "a bad element weight under a NaN sample weight", "elementWeights[2] = -1.0");
        BinaryCrossEntropy weighted = BinaryCrossEntropy.builder().binaryClassWeights(1, 3).build();
        float[] soft = HARD.clone();
        soft[0] = 0.5f;
        rejected(b, weighted, m, o -> bceBatch(o, m).targets(soft).sampleWeights(new float[] {1, 1, 1, -1}),
                "a soft target in row 0, a bad sample weight in row 3", "sampleWeights[3] = -1.0");
        float[] softMasked = HARD.clone();
        softMasked[1] = 0.5f;
        rejected(b, weighted, m, o -> bceBatch(o, m).targets(softMasked).sampleWeights(new float[] {Float.NaN, 1, 1, 1}),
                "a soft target under a NaN sample weight", "targets[1] = 0.5");

        int n = (int) NativeEngine.NATIVE_MIN_TERMS + 5;
        float[] x = new float[n * C];
        int[] labels = new int[n];
        labels[n - 1] = C;
        float[] sw = TestData.filled(n, 1);
        sw[3] = -4;
        float[] g = TestData.filled(n * C, S);
        rejects(() -> ce(m).compute(Batch.of(x, n, C).labels(labels).sampleWeights(sw).gradient(g), b),
                "large batch, a bad sample weight in row 3, a bad label in row " + (n - 1) + " on " + b.name(),
                "labels[" + (n - 1) + "] = " + C);
        float[] ewLarge = TestData.filled(n * C, 1);
        ewLarge[5] = Float.NEGATIVE_INFINITY;
        float[] swLarge = TestData.filled(n, 1);
        swLarge[n - 2] = -3;
        rejects(() -> mse.compute(Batch.of(x, n, C).targets(x).elementWeights(ewLarge).sampleWeights(swLarge)
                        .gradient(g), b),
                "large batch, a bad element weight in row 1, a bad sample weight in row " + (n - 2) + " on " + b.name(),
                "sampleWeights[" + (n - 2) + "] = -3.0");
        Checks.unchanged(g, S, "large batches: gradient");
    }

    @Test
    void badSettingsAreRejectedWhenTheLossIsBuilt() {
        rejects(() -> CrossEntropy.builder().classWeights(new float[] {1, Float.NaN, 1}), "NaN class weight",
                "classWeights[1] = NaN");
        rejects(() -> CrossEntropy.builder().classWeights(new float[] {-1, 1, 1}), "negative class weight",
                "classWeights[0] = -1.0");
        rejects(() -> CrossEntropy.builder().classWeights(new float[] {1, Float.POSITIVE_INFINITY}),
                "infinite class weight", "classWeights[1] = Infinity");
        rejects(() -> SoftmaxFocal.builder().alpha(new float[] {1, 1, Float.NaN}), "NaN alpha", "alpha[2] = NaN");
        rejects(() -> BinaryCrossEntropy.builder().posWeight(new float[] {Float.NaN}), "NaN pos_weight",
                "posWeight[0] = NaN");
        rejects(() -> BinaryCrossEntropy.builder().binaryClassWeights(1, -2), "negative binary class weight",
                "binaryClassWeights[1] = -2.0");
        for (double eps : new double[] {-0.125, 1.5, Double.NaN}) {
            rejects(() -> CrossEntropy.builder().labelSmoothing(eps), "label smoothing " + eps,
                    "labelSmoothing = " + eps);
        }
        rejects(() -> SoftmaxFocal.builder().gamma(-1), "softmax focal gamma -1", "gamma = -1.0");
        rejects(() -> SigmoidFocal.builder().gamma(-0.5), "sigmoid focal gamma -0.5", "gamma = -0.5");
        rejects(() -> SigmoidFocal.builder().gamma(Double.NaN), "sigmoid focal gamma NaN", "gamma = NaN");
        rejects(() -> SigmoidFocal.builder().alpha(1.5), "sigmoid focal alpha 1.5", "alpha = 1.5");
        rejects(() -> CrossEntropy.builder().zLoss(-1), "z-loss -1", "zLoss = -1.0");
        rejects(() -> CrossEntropy.builder().softCap(-2), "soft cap -2", "softCap = -2.0");
        rejects(() -> CrossEntropy.builder().gradientScale(Double.NaN), "gradient scale NaN", "gradientScale = NaN");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void weightsThatDoNotFitTheBatch(Backend b) {
        TestBackends.require(b);
        Reduction m = Reduction.MEAN;
        float[] soft = HARD.clone();
        soft[2] = 0.5f;
        BinaryCrossEntropy weighted = BinaryCrossEntropy.builder().binaryClassWeights(1, 3).build();
        rejected(b, weighted, m, o -> bceBatch(o, m).targets(soft), "binary class weights with a soft target",
                "targets[2] = 0.5");
        rejected(b, CrossEntropy.builder().classWeights(new float[] {1, 2}).build(), m, o -> ceBatch(o, m),
                "2 class weights for 3 classes", "classWeights", "2", "3");
        rejected(b, SoftmaxFocal.builder().alpha(new float[] {1, 2, 3, 4}).build(), m, o -> ceBatch(o, m),
                "4 alphas for 3 classes", "alpha", "4", "3");
        rejected(b, BinaryCrossEntropy.builder().posWeight(new float[] {1, 2}).build(), m, o -> bceBatch(o, m),
                "2 pos_weights for 3 outputs", "posWeight", "2", "3");
        rejected(b, ce(m), m, o -> ceBatch(o, m).elementWeights(TestData.filled(N * C, 1)),
                "element weights on cross-entropy", "elementWeights");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void targetsAndLabelsThatDoNotFitTheLoss(Backend b) {
        TestBackends.require(b);
        Reduction m = Reduction.MEAN;
        rejected(b, ce(m), m, o -> ceBatch(o, m).targets(HARD), "CE with labels and targets", "labels", "targets");
        rejected(b, ce(m), m, o -> Batch.of(X, N, C).gradient(o.g), "CE with neither", "labels");
        rejected(b, SoftmaxFocal.builder().build(), m, o -> Batch.of(X, N, C).targets(HARD).gradient(o.g),
                "softmax focal with targets", "labels");
        rejected(b, SoftmaxFocal.builder().build(), m, o -> ceBatch(o, m).targets(HARD),
                "softmax focal with labels and targets", "targets");
        rejected(b, bce(m), m, o -> bceBatch(o, m).labels(LABELS), "BCE with labels", "labels");
        rejected(b, MeanSquaredError.builder().build(), m, o -> Batch.of(X, N, C).gradient(o.g),
                "MSE without targets", "targets");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void outputsAndDenominatorsThatDoNotFitTheReduction(Backend b) {
        TestBackends.require(b);
        for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MEAN, Reduction.BATCH_MEAN}) {
            rejected(b, ce(r), r, o -> ceBatch(o, r).upstream(new float[N]), "upstream with " + r, "upstream",
                    r.toString());
        }
        for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.NONE}) {
            rejected(b, ce(r), r, o -> ceBatch(o, r).denominator(4), "caller denominator with " + r, "denominator",
                    r.toString());
        }
        for (double d : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY}) {
            rejected(b, ce(Reduction.MEAN), Reduction.MEAN, o -> ceBatch(o, Reduction.MEAN).denominator(d),
                    "denominator " + d, "denominator = " + d);
        }
        CrossEntropy huge = CrossEntropy.builder().gradientScale(1e300).build();
        rejected(b, huge, Reduction.MEAN, o -> ceBatch(o, Reduction.MEAN).denominator(1e-20),
                "gradientScale 1e300 / denominator 1e-20 (beyond double)", "gradientScale / denominator", "1.0E-20");
        for (int stride : new int[] {0, -1}) {
            rejected(b, ce(Reduction.MEAN), Reduction.MEAN,
                    o -> ceBatch(o, Reduction.MEAN).sampleWeights(TestData.filled(20, 1), 0, stride),
                    "sample weight stride " + stride, "sampleWeights", "stride = " + stride);
            rejected(b, ce(Reduction.MEAN), Reduction.MEAN,
                    o -> ceBatch(o, Reduction.MEAN).sampleWeights(Problem.direct(TestData.filled(20, 1), 0), stride),
                    "direct sample weight stride " + stride, "sampleWeights", "stride = " + stride);
        }
        rejected(b, ce(Reduction.MEAN), Reduction.MEAN, o -> Batch.of(X, N, C).labels(LABELS),
                "computeGradient(true) without a gradient buffer", "gradient");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void buffersInTheWrongByteOrderOrReadOnly(Backend b) {
        TestBackends.require(b);
        ByteOrder other = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        Reduction m = Reduction.MEAN;
        rejected(b, ce(m), m, o -> Batch.of(swapped(X, other), N, C).labels(LABELS).gradient(o.g),
                other + " predictions", "predictions", "native byte order");
        IntBuffer labels = ByteBuffer.allocateDirect(4 * N).order(other).asIntBuffer();
        for (int i = 0; i < N; i++) {
            labels.put(i, LABELS[i]);
        }
        rejected(b, ce(m), m, o -> ceBatch(o, m).labels(labels), other + " labels", "labels", "native byte order");
        rejected(b, ce(m), m, o -> ceBatch(o, m).sampleWeights(swapped(TestData.filled(N, 1), other), 1),
                other + " sample weights", "sampleWeights", "native byte order");
        FloatBuffer wrongGradient = ByteBuffer.allocateDirect(4 * N * C).order(other).asFloatBuffer();
        for (int i = 0; i < N * C; i++) {
            wrongGradient.put(i, S);
        }
        rejects(() -> ce(m).compute(Batch.of(X, N, C).labels(LABELS).gradient(wrongGradient), b),
                other + " gradient on " + b.name(), "gradient", "native byte order");
        Checks.unchanged(Problem.read(wrongGradient, 0, N * C), S, other + " gradient");

        FloatBuffer readOnly = Problem.directBuffer(N * C, S).asReadOnlyBuffer();
        rejects(() -> ce(m).compute(Batch.of(X, N, C).labels(LABELS).gradient(readOnly), b),
                "read-only gradient on " + b.name(), "gradient", "read-only");
        Checks.unchanged(Problem.read(readOnly, 0, N * C), S, "read-only gradient");
        FloatBuffer readOnlyHeap = FloatBuffer.wrap(TestData.filled(N * C, S)).asReadOnlyBuffer();
        rejects(() -> ce(m).compute(Batch.of(X, N, C).labels(LABELS).gradient(readOnlyHeap), b),
                "read-only heap gradient on " + b.name(), "gradient", "read-only");
        Out o = new Out();
        FloatBuffer readOnlyTerms = Problem.directBuffer(N, S).asReadOnlyBuffer();
        rejects(() -> ce(Reduction.NONE).compute(Batch.of(X, N, C).labels(LABELS).gradient(o.g).perTerm(readOnlyTerms), b),
                "read-only perTerm on " + b.name(), "perTerm", "read-only");
        o.assertUnchanged("read-only perTerm");
    }

    /**
     * An output (gradient, per-term losses) that shares memory with any other argument is rejected,
     * naming both, before anything is written: heap arrays (the same array, overlapping ranges) and
     * direct buffers (views of one allocation, at any byte offset). Before the check such batches
     * were computed, the native loss 3x the reference's where the gradient overwrote the weights.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void outputsThatOverlapAnotherArgument(Backend b) {
        TestBackends.require(b);
        Reduction m = Reduction.MEAN;
        Reduction none = Reduction.NONE;
        // heap: one array holds the logits (or weights) and the gradient at overlapping offsets
        float[] shared = TestData.filled(3 * N * C, S);
        System.arraycopy(X, 0, shared, 0, N * C);
        rejects(() -> ce(m).compute(Batch.of(shared, 0, N, C).labels(LABELS).gradient(shared, 1), b),
                "gradient over the logits shifted by one float on " + b.name(), "gradient", "predictions");
        rejects(() -> ce(m).compute(Batch.of(shared, 1, N, C).labels(LABELS).gradient(shared, 0), b),
                "gradient over the logits shifted back one float on " + b.name(), "gradient", "predictions");
        float[] both = TestData.filled(N * C + N, 1);
        rejected(b, ce(m), m, o -> Batch.of(X, N, C).labels(LABELS).sampleWeights(both, N * C - 2, 1).gradient(both),
                "gradient over the sample weights", "gradient", "sampleWeights");
        rejected(b, ce(m), m, o -> Batch.of(X, N, C).labels(LABELS).sampleWeights(both, 0, 5).gradient(both, N),
                "gradient between strided sample weights", "gradient", "sampleWeights");
        rejected(b, bce(m), m, o -> Batch.of(X, N, C).targets(HARD).gradient(HARD.clone()).elementWeights(both)
                        .gradient(both, 3), "gradient over the element weights", "gradient", "elementWeights");
        float[] targetsAndGradient = HARD.clone();
        rejects(() -> bce(m).compute(Batch.of(X, N, C).targets(targetsAndGradient).gradient(targetsAndGradient), b),
                "gradient over the targets on " + b.name(), "gradient", "targets");
        rejected(b, ce(none), none, o -> ceBatch(o, none).perTerm(o.g, 2), "perTerm inside the gradient",
                "perTerm", "gradient");
        float[] up = TestData.filled(N + 1, 1);
        rejected(b, ce(none), none, o -> ceBatch(o, none).upstream(up).perTerm(up, 1), "perTerm over the upstream",
                "perTerm", "upstream");
        rejected(b, ce(none), none, o -> ceBatch(o, none).upstream(up).perTerm(FloatBuffer.wrap(up)),
                "perTerm exactly over the upstream, a heap buffer of the same array", "perTerm", "upstream");
        float[] xs = X.clone();
        rejected(b, ce(none), none, o -> Batch.of(xs, N, C).labels(LABELS).gradient(o.g).perTerm(xs, 3),
                "perTerm inside the logits", "perTerm", "predictions");

        // direct: views of one allocation, also at byte offsets that are not whole floats
        ByteBuffer mem = ByteBuffer.allocateDirect(4 * (2 * N * C + 8)).order(ByteOrder.nativeOrder());
        FloatBuffer logits = mem.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer();
        logits.put(X).flip();
        for (int shift : new int[] {1, 2, 3, 4, 4 * N * C - 1}) {
            FloatBuffer g = mem.duplicate().position(shift).slice().order(ByteOrder.nativeOrder()).asFloatBuffer();
            rejects(() -> ce(m).compute(Batch.of(logits, N, C).labels(LABELS).gradient(g), b),
                    "direct gradient " + shift + " bytes into the direct logits on " + b.name(), "gradient", "predictions");
        }
        IntBuffer labelsInGradient = mem.duplicate().position(4 * N * C + 8).slice().order(ByteOrder.nativeOrder())
                .asIntBuffer().put(LABELS).flip();
        FloatBuffer gradientOverLabels = mem.duplicate().position(4 * N * C).slice().order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        rejects(() -> ce(m).compute(Batch.of(X, N, C).labels(labelsInGradient).gradient(gradientOverLabels), b),
                "direct gradient over direct labels on " + b.name(), "gradient", "labels");
        FloatBuffer weights = mem.duplicate().position(4 * N * C + 4).slice().order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        for (int i = 0; i < N; i++) {
            weights.put(i, 1);
        }
        rejects(() -> ce(m).compute(Batch.of(X, N, C).labels(LABELS).sampleWeights(weights, 1)
                        .gradient(gradientOverLabels), b),
                "direct gradient over direct sample weights on " + b.name(), "gradient", "sampleWeights");
    }

    /**
     * What stays allowed: the gradient exactly over the logits (the same array at the same offset,
     * or two buffers over the same address), which gives the out-of-place result; inputs that share
     * memory with each other; outputs next to inputs in one array or one allocation.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void inPlaceAndSharedInputsAreAllowed(Backend b) {
        TestBackends.require(b);
        Reduction m = Reduction.MEAN;
        float[] expected = new float[N * C];
        double loss = ce(m).compute(Batch.of(X, N, C).labels(LABELS).gradient(expected), b).loss();

        float[] x = X.clone();
        Checks.close(loss, ce(m).compute(Batch.of(x, N, C).labels(LABELS).gradient(x), b).loss(), 0, 0,
                "in place, one array, on " + b.name());
        Checks.sameBits(expected, x, "in place, one array, on " + b.name());

        float[] offset = TestData.filled(N * C + 5, S);
        System.arraycopy(X, 0, offset, 5, N * C);
        ce(m).compute(Batch.of(offset, 5, N, C).labels(LABELS).gradient(FloatBuffer.wrap(offset, 5, N * C).slice()), b);
        Checks.sameBits(expected, java.util.Arrays.copyOfRange(offset, 5, 5 + N * C),
                "in place, an array and a heap buffer at the same offset, on " + b.name());

        ByteBuffer mem = ByteBuffer.allocateDirect(4 * N * C + 3).order(ByteOrder.nativeOrder());
        FloatBuffer direct = mem.position(3).slice().order(ByteOrder.nativeOrder()).asFloatBuffer();
        direct.put(X).flip();
        ce(m).compute(Batch.of(direct, N, C).labels(LABELS).gradient(direct.duplicate()), b);
        Checks.sameBits(expected, Problem.read(direct, 0, N * C),
                "in place, two direct buffers over one address 3 bytes into an allocation, on " + b.name());

        // inputs that share memory, and outputs right next to inputs
        float[] all = new float[3 * N * C + N];
        System.arraycopy(X, 0, all, 0, N * C);
        java.util.Arrays.fill(all, N * C, N * C + N, 1);
        Batch packed = Batch.of(all, 0, N, C).targets(all, 0).sampleWeights(all, N * C, 1)
                .elementWeights(all, N * C).gradient(all, 2 * N * C);
        LossResult r = MeanSquaredError.builder().build().compute(packed, b);
        Checks.close(0, r.loss(), 0, 0, "MSE of the logits against themselves, packed in one array, on " + b.name());
    }

    private static FloatBuffer swapped(float[] a, ByteOrder order) {
        FloatBuffer f = ByteBuffer.allocateDirect(4 * a.length).order(order).asFloatBuffer();
        f.put(a).flip();
        return f;
    }
}
