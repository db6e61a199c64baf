package org.fusedloss.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.loss.Loss;
import java.util.Random;
import org.fusedloss.Backends;
import org.fusedloss.Batch;
import org.fusedloss.LossResult;

/** Runs a DJL loss forward and backward through the engine's autograd, and makes test data. */
final class Harness {
    private Harness() {
    }

    /** A loss value (or per-term values) and the gradient autograd gave the predictions. */
    record Run(float[] value, float[] gradient) {
        float loss() {
            assertEquals(1, value.length, "a reduced loss is one value");
            return value[0];
        }
    }

    /**
     * Evaluates {@code loss} on a fresh leaf copy of {@code predictions} inside a GradientCollector
     * and back-propagates {@code sum(loss * upstream)} (upstream null: the loss itself).
     */
    static Run run(Loss loss, NDArray predictions, NDList labels, float[] upstream) {
        try (NDManager step = predictions.getManager().newSubManager()) {
            NDArray leaf = predictions.duplicate();
            leaf.attach(step);
            leaf.setRequiresGradient(true);
            float[] value;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray out = loss.evaluate(labels, new NDList(leaf));
                value = out.toFloatArray();
                NDArray target = upstream == null ? out
                        : out.mul(step.create(upstream, out.getShape())).sum();
                collector.backward(target);
            }
            return new Run(value, leaf.getGradient().toFloatArray());
        }
    }

    static Run run(Loss loss, NDArray predictions, NDList labels) {
        return run(loss, predictions, labels, null);
    }

    /** The core's double-precision Java reference on heap copies of the same data. */
    static LossResult reference(org.fusedloss.Loss loss, Batch batch) {
        return loss.compute(batch, Backends.java());
    }

    /** max |actual - expected| <= tol * max |expected| (the project's norm-wise criterion), and no NaN. */
    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 0;
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) actual[i] - expected[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        assertTrue(worst <= tol * Math.max(scale, 1e-30), what + ": max error " + worst + " at " + at
                + " (expected " + (at >= 0 ? expected[at] : 0) + ", got " + (at >= 0 ? actual[at] : 0)
                + "), allowed " + tol + " x " + scale);
    }

    static void assertClose(double expected, double actual, double tol, String what) {
        assertTrue(Math.abs(actual - expected) <= tol * Math.max(Math.abs(expected), 1e-30),
                what + ": expected " + expected + ", got " + actual);
    }

    static float[] normal(Random rnd, int n, double sd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextGaussian() * sd);
        }
        return x;
    }

    static float[] uniform(Random rnd, int n, double lo, double hi) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (lo + rnd.nextDouble() * (hi - lo));
        }
        return x;
    }

    static int[] classes(Random rnd, int n, int c) {
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = rnd.nextInt(c);
        }
        return y;
    }

    static long[] longs(int[] y) {
        long[] out = new long[y.length];
        for (int i = 0; i < y.length; i++) {
            out[i] = y[i];
        }
        return out;
    }

    static float[] binary(Random rnd, int n) {
        float[] t = new float[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextBoolean() ? 1f : 0f;
        }
        return t;
    }

    static float[] scaled(float[] x, float factor) {
        float[] out = x.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] *= factor;
        }
        return out;
    }

    static NDArray array(NDManager m, float[] x, long... shape) {
        return m.create(x, new Shape(shape));
    }
}
