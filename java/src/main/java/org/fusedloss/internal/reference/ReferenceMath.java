package org.fusedloss.internal.reference;

import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;

/** Small double-precision helpers of the reference kernels. */
final class ReferenceMath {
    private ReferenceMath() {
    }

    private static final ThreadLocal<double[]> SCRATCH = ThreadLocal.withInitial(() -> new double[0]);

    /** A per-thread scratch array of at least n doubles (grown, never shrunk: no allocation per call). */
    static double[] scratch(int n) {
        double[] a = SCRATCH.get();
        if (a.length < n) {
            a = new double[n];
            SCRATCH.set(a);
        }
        return a;
    }

    /** a * b where a == 0 gives 0 even for an infinite b (a weight of zero means no term). */
    static double weighted(double a, double b) {
        return a == 0 ? 0 : a * b;
    }

    /**
     * A value the native kernels form in float (an element-wise term or derivative, a weighted
     * term): beyond float range it is infinite there, so it is here (the reference keeps every
     * other value in double).
     */
    static double asFloatTerm(double v) {
        return Math.abs(v) > Float.MAX_VALUE ? Math.copySign(Double.POSITIVE_INFINITY, v) : v;
    }

    /** m^gamma with 0^0 = 1. */
    static double pow(double m, double gamma) {
        return gamma == 0 ? 1 : Math.pow(m, gamma);
    }

    /** gamma * m^(gamma - 1) * rest, the focal derivative, 0 where gamma or m is 0. */
    static double focalSlope(double m, double gamma, double rest) {
        return gamma == 0 || m == 0 || rest == 0 ? 0 : gamma * Math.pow(m, gamma - 1) * rest;
    }

    static double sampleWeight(LossRequest r, int row) {
        Span sw = r.inputs().sampleWeights();
        return sw == null ? 1.0 : sw.getFloat(row * r.inputs().sampleWeightStride());
    }

    static double elementWeight(LossRequest r, int index) {
        Span ew = r.inputs().elementWeights();
        return ew == null ? 1.0 : ew.getFloat(index);
    }

    static double upstream(LossRequest r, int term) {
        Span up = r.inputs().upstream();
        return up == null ? 1.0 : up.getFloat(term);
    }

    /** Zeroes the gradient of a masked row or element range and its per-term loss. */
    static void skip(LossRequest r, int from, int count, int term) {
        Span g = r.outputs().gradient();
        if (g != null) {
            for (int k = 0; k < count; k++) {
                g.putFloat(from + k, 0f);
            }
        }
        if (r.outputs().perTerm() != null) {
            r.outputs().perTerm().putFloat(term, 0f);
        }
    }
}
