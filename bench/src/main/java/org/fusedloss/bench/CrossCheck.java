package org.fusedloss.bench;

import org.fusedloss.LossResult;

/**
 * How a result is compared with the double-precision Java reference: the one definition the
 * benchmarks (in their setup) and the report share. The tolerance is SEMANTICS.md's: per-term
 * relative error, loss relative error and gradient relative norm error all below 1e-5.
 */
public final class CrossCheck {
    /** SEMANTICS.md, "Numerical promises". */
    public static final double TOLERANCE = 1e-5;

    private CrossCheck() {
    }

    /** What one call produced: the result, the gradient and (for reduction NONE) the per-term losses. */
    public record Outcome(LossResult result, float[] gradient, float[] perTerm) {
    }

    /** The three errors against the reference; NaN where there was nothing to compare. */
    public record Errors(double maxTerm, double loss, double gradient) {
        public boolean pass() {
            return within(maxTerm) && within(loss) && within(gradient);
        }

        private static boolean within(double e) {
            return Double.isNaN(e) || e < TOLERANCE;
        }
    }

    public static Errors compare(Outcome got, Outcome ref) {
        double term = got.perTerm() == null || ref.perTerm() == null ? Double.NaN
                : maxTermError(got.perTerm(), ref.perTerm());
        double grad = got.gradient() == null || ref.gradient() == null ? Double.NaN
                : gradientError(got.gradient(), ref.gradient());
        return new Errors(term, relativeError(got.result().loss(), ref.result().loss()), grad);
    }

    /** |got - ref| / |ref|; where ref is 0, |got| (so 0 against 0 is exact). */
    public static double relativeError(double got, double ref) {
        if (got == ref) {
            return 0;   // also equal infinities
        }
        double diff = Math.abs(got - ref);
        return ref == 0 ? diff : diff / Math.abs(ref);
    }

    /**
     * The largest per-term error, each relative to {@code max(|ref_i|, mean |ref|)}: relative where a
     * term is of ordinary size, and measured against the typical term where the reference term is
     * near 0 (a weight of 0, a confident prediction), where a float32 kernel can only be close in
     * absolute terms.
     */
    public static double maxTermError(float[] got, float[] ref) {
        double meanAbs = 0;
        for (float r : ref) {
            meanAbs += Math.abs(r);
        }
        meanAbs /= Math.max(1, ref.length);
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            if (got[i] == ref[i]) {
                continue;
            }
            double scale = Math.max(Math.abs(ref[i]), meanAbs);
            double e = scale == 0 ? Math.abs(got[i] - ref[i]) : Math.abs(got[i] - ref[i]) / scale;
            worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : Math.max(worst, e);
        }
        return worst;
    }

    /** {@code ||g - g_ref|| / ||g_ref||}; where the reference gradient is 0, {@code ||g||}. */
    public static double gradientError(float[] got, float[] ref) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) got[i] - ref[i];
            diff += d * d;
            norm += (double) ref[i] * ref[i];
        }
        double e = norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
        return Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
    }

    /** Throws when a benchmark's loss is not the expected value: nothing is timed then. */
    public static void requireClose(String what, double got, double expected) {
        double e = relativeError(got, expected);
        if (!(e < TOLERANCE)) {
            throw new IllegalStateException(what + ": loss " + got + " but expected " + expected
                    + " (relative error " + e + ", tolerance " + TOLERANCE + "): not timing a wrong result");
        }
    }
}
