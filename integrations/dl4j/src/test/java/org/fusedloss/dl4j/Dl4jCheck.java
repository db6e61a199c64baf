package org.fusedloss.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Function;
import org.fusedloss.Batch;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;
import org.fusedloss.Reduction;
import org.fusedloss.SoftmaxFocal;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * The data and checks the loss tests share: random float32 arrays made from a seed, and the
 * comparison of one of our losses with DL4J's own loss, or with the core loss on the Java reference
 * backend, through every method of {@link ILossFunction}.
 */
final class Dl4jCheck {
    /** Float32 kernels against float32 ND4J (or the double reference): relative to the largest value. */
    static final double TOLERANCE = 1e-5;

    private Dl4jCheck() {
    }

    /** Uniform in [lo, hi), float32, C order. */
    static INDArray uniform(long seed, int rows, int cols, double lo, double hi) {
        Random r = new Random(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return Nd4j.create(v, new long[] {rows, cols}, 'c');
    }

    /** Class indices in [0, classes). */
    static int[] classIndices(long seed, int rows, int classes) {
        Random r = new Random(seed);
        int[] y = new int[rows];
        for (int i = 0; i < rows; i++) {
            y[i] = r.nextInt(classes);
        }
        return y;
    }

    /** The indices as a float32 column [N,1]: LossSparseMCXENT's layout. */
    static INDArray column(int[] y) {
        float[] v = new float[y.length];
        for (int i = 0; i < y.length; i++) {
            v[i] = y[i];
        }
        return Nd4j.create(v, new long[] {y.length, 1}, 'c');
    }

    /** One-hot rows, float32. */
    static INDArray oneHot(int[] y, int classes) {
        INDArray a = Nd4j.zeros(DataType.FLOAT, y.length, classes);
        for (int i = 0; i < y.length; i++) {
            a.putScalar(i, y[i], 1f);
        }
        return a;
    }

    /** 0 or 1 with probability one half each. */
    static INDArray zeroOne(long seed, int rows, int cols) {
        Random r = new Random(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextBoolean() ? 1f : 0f;
        }
        return Nd4j.create(v, new long[] {rows, cols}, 'c');
    }

    /**
     * A per-example mask [N,1]: weights in [0, 2), every fourth one exactly 0. (With one output DL4J
     * takes an [N,1] mask as per-output too, and its BCE and MSE then scale the gradient by the mask
     * squared: give those 0/1 masks.)
     */
    static INDArray exampleWeights(long seed, int rows) {
        INDArray m = uniform(seed, rows, 1, 0, 2);
        for (int i = 0; i < rows; i += 4) {
            m.putScalar(i, 0, 0f);
        }
        return m;
    }

    /**
     * Our loss against DL4J's on the same data: the score (summed and averaged), the per-example
     * scores and the gradient, each within {@link #TOLERANCE}; then ours against itself. DL4J gets a
     * copy of preOutput each time: its sigmoid and identity backprop write the gradient over it.
     */
    static void assertMatchesDl4j(ILossFunction ours, INDArray ourLabels, ILossFunction theirs, INDArray theirLabels,
                                  INDArray preOutput, IActivation activation, INDArray mask) {
        for (boolean average : new boolean[] {false, true}) {
            assertClose("score (average " + average + ")",
                    theirs.computeScore(theirLabels, preOutput.dup(), activation, mask, average),
                    ours.computeScore(ourLabels, preOutput, activation, mask, average));
        }
        assertClose("per-example scores", theirs.computeScoreArray(theirLabels, preOutput.dup(), activation, mask),
                ours.computeScoreArray(ourLabels, preOutput, activation, mask));
        assertClose("gradient", theirs.computeGradient(theirLabels, preOutput.dup(), activation, mask),
                ours.computeGradient(ourLabels, preOutput, activation, mask));
        assertConsistent(ours, ourLabels, preOutput, activation, mask);
    }

    /**
     * Our loss against the core loss on the Java backend (double precision, heap arrays, no ND4J).
     * {@code reference} builds that loss with the reduction it is given (SUM with its gradient, then
     * NONE without), on the Java backend. The labels are {@code classIndices}, or the dense
     * {@code labels} where that is null; a per-example mask is the sample weights, a per-output mask
     * the element weights.
     */
    static void assertMatchesReference(ILossFunction ours, INDArray labels, int[] classIndices,
                                       Function<Reduction, Loss> reference, INDArray preOutput,
                                       IActivation activation, INDArray mask) {
        int n = (int) preOutput.size(0);
        int c = (int) preOutput.size(1);
        float[] g = new float[n * c];
        Loss sum = reference.apply(Reduction.SUM);
        LossResult total = sum.compute(batch(preOutput, labels, classIndices, mask).gradient(g));
        boolean perRow = sum instanceof CrossEntropy || sum instanceof SoftmaxFocal;
        float[] terms = new float[perRow ? n : n * c];
        reference.apply(Reduction.NONE).compute(batch(preOutput, labels, classIndices, mask).perTerm(terms));
        float[] perExample = new float[n];
        for (int i = 0; i < terms.length; i++) {
            perExample[perRow ? i : i / c] += terms[i];
        }
        assertEquals("java", total.backend());
        for (boolean average : new boolean[] {false, true}) {
            assertClose("score (average " + average + ")", average ? total.loss() / n : total.loss(),
                    ours.computeScore(labels, preOutput, activation, mask, average));
        }
        assertClose("per-example scores", Nd4j.create(perExample, new long[] {n, 1}, 'c'),
                ours.computeScoreArray(labels, preOutput, activation, mask));
        assertClose("gradient", Nd4j.create(g, new long[] {n, c}, 'c'),
                ours.computeGradient(labels, preOutput, activation, mask));
        assertConsistent(ours, labels, preOutput, activation, mask);
    }

    private static Batch batch(INDArray preOutput, INDArray labels, int[] classIndices, INDArray mask) {
        Batch b = Batch.of(preOutput.dup('c').data().asFloat(), (int) preOutput.size(0), (int) preOutput.size(1));
        if (classIndices != null) {
            b.labels(classIndices);
        } else {
            b.targets(labels.dup('c').data().asFloat());
        }
        if (mask != null && mask.size(1) == 1) {
            b.sampleWeights(mask.dup('c').data().asFloat());
        } else if (mask != null) {
            b.elementWeights(mask.dup('c').data().asFloat());
        }
        return b;
    }

    /**
     * The methods of one loss give the numbers of its one fused call: computeScore and
     * computeGradient those of computeGradientAndScore (to the last bit), and the per-example scores
     * sum to the score.
     */
    static void assertConsistent(ILossFunction loss, INDArray labels, INDArray preOutput, IActivation activation,
                                 INDArray mask) {
        INDArray before = preOutput.dup();
        for (boolean average : new boolean[] {false, true}) {
            Pair<Double, INDArray> both = loss.computeGradientAndScore(labels, preOutput, activation, mask, average);
            assertEquals(both.getFirst(), loss.computeScore(labels, preOutput, activation, mask, average),
                    "computeScore against computeGradientAndScore");
            assertArrayEquals(both.getSecond().dup('c').data().asFloat(),
                    loss.computeGradient(labels, preOutput, activation, mask).dup('c').data().asFloat(),
                    "computeGradient against computeGradientAndScore");
            double perExample = loss.computeScoreArray(labels, preOutput, activation, mask).sumNumber().doubleValue();
            assertClose("sum of the per-example scores (average " + average + ")", both.getFirst(),
                    average ? perExample / preOutput.size(0) : perExample);
        }
        assertEquals(before, preOutput, "preOutput was written");
    }

    static void assertClose(String what, double expected, double actual) {
        assertTrue(Math.abs(expected - actual) <= TOLERANCE * Math.max(1, Math.abs(expected)),
                what + ": expected " + expected + ", got " + actual);
    }

    /** Same shape, and every element within TOLERANCE of the largest magnitude of {@code expected}. */
    static void assertClose(String what, INDArray expected, INDArray actual) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double scale = Math.max(expected.amaxNumber().doubleValue(), 1e-30);
        double worst = expected.castTo(DataType.DOUBLE).sub(actual.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
        assertTrue(worst <= TOLERANCE * scale, what + ": largest difference " + worst + " against largest value "
                + scale);
    }
}
