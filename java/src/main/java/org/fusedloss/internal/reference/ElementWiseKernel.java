package org.fusedloss.internal.reference;

import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossOptions.BinaryCrossEntropyOptions;
import org.fusedloss.internal.LossOptions.SigmoidFocalOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;

/**
 * The element-wise losses in double precision: binary cross-entropy with logits, squared error and
 * sigmoid focal. One loop over the elements does the weights and masking; {@link Term} is the loss
 * and its derivative for one element.
 */
final class ElementWiseKernel {
    private ElementWiseKernel() {
    }

    /** The loss of one element and its derivative with respect to the prediction. */
    interface Term {
        /** Writes {loss, dloss/dx} of prediction x, target t in output column j into out. */
        void eval(double x, double t, int j, double[] out);
    }

    static KernelSums run(LossRequest r, Term term) {
        final int n = r.rows();
        final int k = r.cols();
        final Span x = r.inputs().predictions();
        final Span t = r.inputs().targets();
        final Span g = r.outputs().gradient();
        final Span perTerm = r.outputs().perTerm();
        final double[] out = new double[2];
        double sum = 0;
        long nonFinite = 0;
        for (int i = 0; i < n; i++) {
            final double sw = ReferenceMath.sampleWeight(r, i);
            for (int j = 0; j < k; j++) {
                final int at = i * k + j;
                final double w = sw * ReferenceMath.elementWeight(r, at);
                if (Double.isNaN(w)) {
                    ReferenceMath.skip(r, at, 1, at);
                    continue;
                }
                term.eval(x.getFloat(at), t.getFloat(at), j, out);
                // the native kernels form the unweighted term and derivative in float
                out[0] = ReferenceMath.asFloatTerm(out[0]);
                out[1] = ReferenceMath.asFloatTerm(out[1]);
                final double weighted = ReferenceMath.asFloatTerm(w * out[0]);
                sum += weighted;
                if (!Double.isFinite(weighted)) {
                    nonFinite++;
                }
                if (perTerm != null) {
                    perTerm.putFloat(at, (float) weighted);
                }
                if (g != null) {
                    g.putFloat(at, (float) (r.gradFactor() * ReferenceMath.upstream(r, at) * w * out[1]));
                }
            }
        }
        return new KernelSums(sum, nonFinite);
    }

    /** -(pw t log s + (1 - t) log(1 - s)), times the binary class weight of the hard target. */
    static KernelSums binaryCrossEntropy(LossRequest r) {
        final BinaryCrossEntropyOptions o = (BinaryCrossEntropyOptions) r.options();
        final float[] pw = o.posWeight();
        final float[] bcw = o.binaryClassWeights();
        final Logistic f = new Logistic();
        return run(r, (x, t, j, out) -> {
            f.of(x);
            double a = (pw == null ? 1.0 : pw[j]) * t;
            double b = 1 - t;
            double cls = bcw == null ? 1.0 : bcw[t == 1 ? 1 : 0];
            // a zero class weight, pos_weight or target drops its part, NaN or infinite x included
            out[0] = ReferenceMath.weighted(cls, ReferenceMath.weighted(a, f.softplusNeg)
                    + ReferenceMath.weighted(b, f.softplus));
            out[1] = ReferenceMath.weighted(cls, ReferenceMath.weighted(b, f.sigmoid)
                    - ReferenceMath.weighted(a, f.sigmoidNeg));
        });
    }

    /** (x - t)^2. */
    static KernelSums meanSquaredError(LossRequest r) {
        return run(r, (x, t, j, out) -> {
            double d = x - t;
            out[0] = d * d;
            out[1] = 2 * d;
        });
    }

    /** torchvision's sigmoid focal loss: alpha_t (1 - p_t)^gamma BCE(x, t). */
    static KernelSums sigmoidFocal(LossRequest r) {
        final SigmoidFocalOptions o = (SigmoidFocalOptions) r.options();
        final double alpha = o.alpha();
        final double gamma = o.gamma();
        final Logistic f = new Logistic();
        return run(r, (x, t, j, out) -> {
            f.of(x);
            double s = f.sigmoid;
            double sNeg = f.sigmoidNeg;                 // 1 - s, accurate when s is near 1
            double m = t * sNeg + (1 - t) * s;          // 1 - p_t
            double at = alpha < 0 ? 1.0 : alpha * t + (1 - alpha) * (1 - t);
            double ce = ReferenceMath.weighted(t, f.softplusNeg) + ReferenceMath.weighted(1 - t, f.softplus);
            double mg = ReferenceMath.pow(m, gamma);
            // an alpha factor of 0 drops the element, NaN or infinite x included
            out[0] = ReferenceMath.weighted(at, ReferenceMath.weighted(mg, ce));
            double sMinusT = (1 - t) * s - t * sNeg;
            double slope = ReferenceMath.focalSlope(m, gamma, s * sNeg * (2 * t - 1));
            out[1] = ReferenceMath.weighted(at, mg * sMinusT - ReferenceMath.weighted(slope, ce));
            if (!(t >= 0 && t <= 1)) {  // no focal weight outside [0, 1]: NaN, counted (as the kernels)
                out[0] = Double.NaN;
                out[1] = Double.NaN;
            }
        });
    }

    /** softplus(x), softplus(-x), sigmoid(x) and sigmoid(-x) of one x from a single exp and log. */
    static final class Logistic {
        double softplus;
        double softplusNeg;
        double sigmoid;
        double sigmoidNeg;

        void of(double x) {
            double e = Math.exp(-Math.abs(x));
            // log(1 + e) is exact to ~1e-12 relative for e > 1e-4 and much faster than log1p.
            double log1pE = e > 1e-4 ? Math.log(1 + e) : Math.log1p(e);
            softplus = Math.max(x, 0) + log1pE;
            softplusNeg = Math.max(-x, 0) + log1pE;
            double big = 1 / (1 + e);
            double small = e / (1 + e);
            sigmoid = x >= 0 ? big : small;
            sigmoidNeg = x >= 0 ? small : big;
        }
    }
}
