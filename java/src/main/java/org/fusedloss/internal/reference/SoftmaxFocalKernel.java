package org.fusedloss.internal.reference;

import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossOptions.SoftmaxFocalOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;

/**
 * Softmax focal loss in double precision: {@code alpha[y] (1 - p_y)^gamma (-log p_y)} per row with
 * {@code 1 - p_y} computed as {@code -expm1(log p_y)} so it stays accurate when p_y is near 1.
 */
final class SoftmaxFocalKernel {
    private SoftmaxFocalKernel() {
    }

    static KernelSums run(LossRequest r) {
        final int n = r.rows();
        final int c = r.cols();
        final SoftmaxFocalOptions o = (SoftmaxFocalOptions) r.options();
        final Span x = r.inputs().predictions();
        final Span labels = r.inputs().labels();
        final Span g = r.outputs().gradient();
        final Span perTerm = r.outputs().perTerm();
        final double gamma = o.gamma();
        double sum = 0;
        long nonFinite = 0;
        for (int i = 0; i < n; i++) {
            final int base = i * c;
            final double sw = ReferenceMath.sampleWeight(r, i);
            final int y = labels.getInt(i);
            if (Double.isNaN(sw) || y == o.ignoreIndex()) {
                ReferenceMath.skip(r, base, c, i);
                continue;
            }
            final double[] e = ReferenceMath.scratch(c);  // exp(x - max), computed once per element
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < c; k++) {
                max = Math.max(max, x.getFloat(base + k));
            }
            double s = 0;
            for (int k = 0; k < c; k++) {
                e[k] = Math.exp(x.getFloat(base + k) - max);
                s += e[k];
            }
            // log p = (z_y - max) - log s, exact also for logits near 1e30 (where max + log s rounds log s away)
            final double logS = Math.log(s);
            final double logP = (x.getFloat(base + y) - max) - logS;
            final double p = Math.exp(logP);
            final double m = -Math.expm1(logP);
            final double a = CrossEntropyKernel.classWeight(o.alpha(), y);
            final double mg = ReferenceMath.pow(m, gamma);
            // alpha 0 drops the row (its gradient too), even where the logits are not finite
            final double term = a == 0 ? 0 : ReferenceMath.asFloatTerm(sw * ReferenceMath.weighted(a * mg, -logP));
            sum += term;
            if (!Double.isFinite(term)) {
                nonFinite++;
            }
            if (perTerm != null) {
                perTerm.putFloat(i, (float) term);
            }
            if (g != null) {
                // p * log p -> 0 as p -> 0: a -inf target logit gives a finite slope.
                double pLogP = p == 0 ? 0 : p * logP;
                double f = a * (mg - ReferenceMath.focalSlope(m, gamma, pLogP));
                double factor = r.gradFactor() * ReferenceMath.upstream(r, i) * sw * f;
                for (int k = 0; k < c; k++) {
                    // a -inf logit gets 0, the label's too (SEMANTICS.md); so does a row whose alpha is 0
                    boolean masked = x.getFloat(base + k) == Double.NEGATIVE_INFINITY;
                    g.putFloat(base + k, a == 0 || masked ? 0f : (float) (factor * (e[k] / s - (k == y ? 1 : 0))));
                }
            }
        }
        return new KernelSums(sum, nonFinite);
    }
}
