package org.fusedloss.internal.reference;

import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions.CrossEntropyOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;

/**
 * Softmax cross-entropy with class indices or dense targets, in double precision: label smoothing,
 * class and sample weights, z-loss and soft-capping, exactly as native/include/fusedloss.h writes them.
 * Per row: the max and the sum of exponentials, then the loss, then the gradient (the logits are
 * read before the gradient overwrites them, so in place is safe).
 */
final class CrossEntropyKernel {
    private CrossEntropyKernel() {
    }

    static KernelSums run(LossRequest r) {
        final int n = r.rows();
        final int c = r.cols();
        final boolean dense = r.kind() == LossKind.CROSS_ENTROPY_DENSE;
        final CrossEntropyOptions o = (CrossEntropyOptions) r.options();
        final Span x = r.inputs().predictions();
        final Span labels = r.inputs().labels();
        final Span targets = r.inputs().targets();
        final Span g = r.outputs().gradient();
        final Span perTerm = r.outputs().perTerm();
        final float[] cw = o.classWeights();
        final double eps = o.smoothing();
        final double smooth = eps / c;
        final double zl = o.zLoss();
        final double cap = o.softCap();
        double sum = 0;
        long nonFinite = 0;
        for (int i = 0; i < n; i++) {
            final int base = i * c;
            final double sw = ReferenceMath.sampleWeight(r, i);
            final int y = dense ? -1 : labels.getInt(i);
            if (Double.isNaN(sw) || (!dense && y == o.ignoreIndex())) {
                ReferenceMath.skip(r, base, c, i);
                continue;
            }
            // One pass over the logits: the (capped) logits and their exponentials stay in a
            // per-thread scratch row, so each exp and tanh is computed once per element.
            final double[] z = ReferenceMath.scratch(2 * c);
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < c; k++) {
                z[k] = capped(x.getFloat(base + k), cap);
                max = Math.max(max, z[k]);
            }
            double s = 0;
            for (int k = 0; k < c; k++) {
                z[c + k] = Math.exp(z[k] - max);
                s += z[c + k];
            }
            // -log p_k = (max - z_k) + log s, not lse - z_k: with logits near 1e30, lse = max + log s
            // rounds log s away (three tied logits of 1e30 would give 0 instead of log 3).
            final double logS = Math.log(s);
            final double lse = max + logS;
            final double rowWeight = dense ? 1.0 : classWeight(cw, y);
            double mass = 0;
            double loss = 0;
            for (int k = 0; k < c; k++) {
                double q = target(targets, base, k, y, z[k], cw, eps, smooth);
                if (q != 0) {
                    mass += q;
                    loss += q * ((max - z[k]) + logS);
                }
            }
            final boolean zLoss = zl != 0 && rowWeight != 0;  // weighted by cw[y]: nothing for a zero weight
            if (zLoss) {
                loss += rowWeight * zl * lse * lse;
            }
            final double term = ReferenceMath.asFloatTerm(sw * loss);
            sum += term;
            if (!Double.isFinite(term)) {
                nonFinite++;
            }
            if (perTerm != null) {
                perTerm.putFloat(i, (float) term);
            }
            if (g != null) {
                final double factor = r.gradFactor() * ReferenceMath.upstream(r, i) * sw;
                final double onP = mass + (zLoss ? 2 * rowWeight * zl * lse : 0);
                for (int k = 0; k < c; k++) {
                    // A -inf logit (a masked class) gets 0, even with target mass on it (SEMANTICS.md)
                    if (z[k] == Double.NEGATIVE_INFINITY) {
                        g.putFloat(base + k, 0f);
                        continue;
                    }
                    // a row without target mass or z-loss is dropped: its gradient is 0, not 0 * NaN
                    double q = target(targets, base, k, y, z[k], cw, eps, smooth);
                    double d = ReferenceMath.weighted(onP, z[c + k] / s) - q;
                    if (cap > 0 && d != 0) {
                        double t = z[k] / cap;
                        d *= 1 - t * t;
                    }
                    g.putFloat(base + k, (float) (factor * d));
                }
            }
        }
        return new KernelSums(sum, nonFinite);
    }

    static double capped(double x, double cap) {
        return cap > 0 ? cap * Math.tanh(x / cap) : x;
    }

    static double classWeight(float[] cw, int k) {
        return cw == null ? 1.0 : cw[k];
    }

    /** The target mass q_k of class k; the smoothing mass on a -inf logit (a masked class) is dropped. */
    private static double target(Span targets, int base, int k, int y, double z, float[] cw,
                                 double eps, double smooth) {
        double w = classWeight(cw, k);
        double hard = y >= 0 ? (k == y ? 1.0 : 0.0) : targets.getFloat(base + k);
        double q = (1 - eps) * w * hard;
        if (z != Double.NEGATIVE_INFINITY) {
            q += smooth * w;
        }
        return q;
    }
}
