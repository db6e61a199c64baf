package org.fusedloss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The weighting helpers and the log loss, against values worked out by hand from their formulas. */
class WeightsTest {
    private static final float TOL = 1e-6f;

    @Test
    void balancedClassWeightsFollowScikitLearnsFormula() {
        // n / (classes * count): 4 / (2 * 3) and 4 / (2 * 1)
        assertArrayEquals(new float[] {4f / 6, 2f}, Weights.balancedClassWeights(new int[] {0, 0, 0, 1}, 2), TOL);
    }

    @Test
    void balancedClassWeightsTakeLabelsThatAreNotContiguous() {
        int[] labels = {3, 7, 7, 42};
        assertArrayEquals(new float[] {4f / 3, 4f / 6, 4f / 3},
                Weights.balancedClassWeights(labels, new int[] {3, 7, 42}), TOL);
        Map<Integer, Float> map = Weights.balancedClassWeights(labels);
        assertEquals(Map.of(3, 4f / 3, 7, 4f / 6, 42, 4f / 3), map);
    }

    @Test
    void aClassThatNeverAppearsIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Weights.balancedClassWeights(new int[] {0, 0, 2}, 3));
        assertTrue(e.getMessage().contains("class 1 never appears"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Weights.balancedClassWeights(new int[] {0, 5}, new int[] {0, 1}));
        assertTrue(e.getMessage().contains("labels[1] = 5"), e.getMessage());
    }

    @Test
    void sampleWeightsFromClassWeightsMultiplyExistingWeights() {
        int[] labels = {1, 0, 1};
        float[] cw = {0.5f, 2f};
        float[] existing = {1f, 2f, 3f};
        assertArrayEquals(new float[] {2f, 0.5f, 2f}, Weights.sampleWeightsFromClassWeights(labels, cw), TOL);
        assertArrayEquals(new float[] {2f, 1f, 6f}, Weights.sampleWeightsFromClassWeights(labels, cw, existing), TOL);
        assertArrayEquals(new float[] {1f, 2f, 3f}, existing, 0f, "the input was modified");
        assertThrows(IllegalArgumentException.class,
                () -> Weights.sampleWeightsFromClassWeights(new int[] {2}, cw));
    }

    /** compute_sample_weight("balanced", y) of scikit-learn: n / (n_classes * count(y_i)) per sample. */
    @Test
    void balancedSampleWeightsAreScikitLearnsComputeSampleWeight() {
        int[] labels = {3, 7, 7, 42, 7};
        // 5 samples, 3 classes: 3 -> 5 / (3 * 1), 7 -> 5 / (3 * 3), 42 -> 5 / (3 * 1)
        float[] expected = {5f / 3, 5f / 9, 5f / 9, 5f / 3, 5f / 9};
        assertArrayEquals(expected, Weights.balancedSampleWeights(labels), TOL);
        assertArrayEquals(expected, Weights.sampleWeightsFromClassWeights(labels, Weights.balancedClassWeights(labels)),
                TOL);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Weights.sampleWeightsFromClassWeights(new int[] {3, 8}, Map.of(3, 1f)));
        assertTrue(e.getMessage().contains("labels[1] = 8"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Weights.sampleWeightsFromClassWeights(new int[] {3}, Map.of(3, -1f)));
    }

    @Test
    void effectiveSampleSizeIsKishsFormulaAndSkipsMissingWeights() {
        assertEquals(4.0, Weights.effectiveSampleSize(new float[] {1, 1, 1, 1}), 1e-12);
        assertEquals(1.0, Weights.effectiveSampleSize(new float[] {1, 0, 0, 0}), 1e-12);
        assertEquals(36.0 / 14.0, Weights.effectiveSampleSize(new float[] {1, 2, 3}), 1e-12);
        assertEquals(2.0, Weights.effectiveSampleSize(new float[] {1, Float.NaN, 1}), 1e-12);
        assertEquals(0.0, Weights.effectiveSampleSize(new float[] {0, 0}), 0.0);
        assertThrows(IllegalArgumentException.class, () -> Weights.effectiveSampleSize(new float[] {1, -1}));
    }

    @Test
    void clippingCapsAtAMultipleOfTheMedianOrAPercentile() {
        float[] w = {1, 2, 3, 100};
        assertArrayEquals(new float[] {1, 2, 3, 5}, Weights.clipToMedianMultiple(w, 2), TOL);  // median 2.5
        assertEquals(100f, w[3], "the input was modified");
        assertArrayEquals(new float[] {1, 2, 3, 3, 3}, Weights.clipToPercentile(new float[] {1, 2, 3, 4, 5}, 50), TOL);
        // 90th percentile of 1..5 by linear interpolation: rank 3.6 -> 4.6
        assertArrayEquals(new float[] {1, 2, 3, 4, 4.6f}, Weights.clipToPercentile(new float[] {1, 2, 3, 4, 5}, 90), TOL);
        float[] clipped = Weights.clipToPercentile(new float[] {1, Float.NaN, 9}, 0);
        assertTrue(Float.isNaN(clipped[1]), "a missing weight stays missing");
        assertEquals(1f, clipped[2]);
        assertThrows(IllegalArgumentException.class, () -> Weights.clipToPercentile(w, 101));
        assertThrows(IllegalArgumentException.class, () -> Weights.clipToMedianMultiple(w, -1));
    }

    @Test
    void normalisingGivesMeanOne() {
        float[] out = Weights.normalizeToMeanOne(new float[] {1, Float.NaN, 3});
        assertEquals(0.5f, out[0], TOL);
        assertTrue(Float.isNaN(out[1]));
        assertEquals(1.5f, out[2], TOL);
        assertThrows(IllegalArgumentException.class, () -> Weights.normalizeToMeanOne(new float[] {0, 0}));
    }

    @Test
    void weightedLogLossMatchesScikitLearn() {
        float[] p = {0.9f, 0.1f, 0.2f, 0.8f};
        double expected = (-Math.log(0.9f) * 1 - Math.log(0.8f) * 3) / 4;
        assertEquals(expected, LogLoss.compute(p, 2, 2, new int[] {0, 1}, new float[] {1, 3}), 1e-7);
        assertEquals((-Math.log(0.9f) - Math.log(0.8f)) / 2, LogLoss.compute(p, 2, 2, new int[] {0, 1}, null), 1e-7);
        // A zero probability on the true class is clipped to eps: large and finite, not infinite.
        assertEquals(-Math.log(LogLoss.EPS), LogLoss.compute(new float[] {0f, 1f}, 1, 2, new int[] {0}, null), 1e-9);
        // Rows are renormalised after clipping.
        assertEquals(-Math.log((double) 0.2f / ((double) 0.2f + 0.6f)),
                LogLoss.compute(new float[] {0.2f, 0.6f}, 1, 2, new int[] {0}, null), 1e-12);
        assertEquals(-Math.log(0.8f), LogLoss.computeBinary(new float[] {0.8f}, new int[] {1}, null), 1e-7);
        // normalize=False: the weighted sum; double[] and buffers give the same
        double sum = -Math.log(0.9f) * 1 + -Math.log(0.8f) * 3;
        assertEquals(sum, LogLoss.sum(p, 2, 2, new int[] {0, 1}, new float[] {1, 3}), 1e-7);
        double[] pd = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            pd[i] = p[i];
        }
        assertEquals(expected, LogLoss.compute(pd, 2, 2, new int[] {0, 1}, new float[] {1, 3}), 1e-7);
        assertEquals(sum, LogLoss.sum(pd, 2, 2, new int[] {0, 1}, new float[] {1, 3}), 1e-7);
        java.nio.FloatBuffer pb = java.nio.FloatBuffer.allocate(p.length + 1).put(0.5f).put(p).position(1);
        assertEquals(expected, LogLoss.compute(pb, 2, 2, new int[] {0, 1}, new float[] {1, 3}), 1e-7);
        assertEquals(0.0, LogLoss.sum(p, 2, 2, new int[] {0, 1}, new float[] {0, 0}), 0.0);
        assertEquals(-Math.log(0.8) * 2, LogLoss.sumBinary(new float[] {0.8f}, new int[] {1}, new float[] {2}), 1e-7);
        assertEquals(-Math.log(0.8), LogLoss.computeBinary(new double[] {0.8}, new int[] {1}, null), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> LogLoss.compute(p, 2, 2, new int[] {0, 2}, null));
    }
}
