package org.fusedloss.internal.reference;

import org.fusedloss.internal.LossRequest;

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

    /** m^gamma with 0^0 = 1. */
    static double pow(double m, double gamma) {
        return gamma == 0 ? 1 : Math.pow(m, gamma);
    }

    /** gamma * m^(gamma - 1) * rest, the focal derivative, 0 where gamma or m is 0. */
    static double focalSlope(double m, double gamma, double rest) {
        return gamma == 0 || m == 0 || rest == 0 ? 0 : gamma * Math.pow(m, gamma - 1) * rest;
    }

    static double sampleWeight(LossRequest r, int row) {
        return r.sampleWeights() == null ? 1.0 : r.sampleWeights().get(row * r.sampleWeightStride());
    }

    static double elementWeight(LossRequest r, int index) {
        return r.elementWeights() == null ? 1.0 : r.elementWeights().get(index);
    }

    static double upstream(LossRequest r, int term) {
        return r.upstream() == null ? 1.0 : r.upstream().get(term);
    }

    /** Zeroes the gradient of a masked row or element range and its per-term loss. */
    static void skip(LossRequest r, int from, int count, int term) {
        if (r.gradient() != null) {
            for (int k = 0; k < count; k++) {
                r.gradient().put(from + k, 0f);
            }
        }
        if (r.perTerm() != null) {
            r.perTerm().put(term, 0f);
        }
    }
}
