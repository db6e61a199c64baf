package org.fusedloss;

import org.fusedloss.internal.KernelOptions;
import org.fusedloss.internal.LossKind;

/**
 * Softmax focal loss over logits with class indices:
 * {@code alpha[y] * (1 - p_y)^gamma * (-log p_y)} per row, times the sample weight. Alpha is a
 * per-class factor inside the term, so MEAN divides by the sum of sample weights; with gamma 0 the
 * NONE and SUM results equal the cross-entropy with class weights alpha.
 */
public final class SoftmaxFocal extends Loss {

    private SoftmaxFocal(Builder b) {
        super(b, new KernelOptions(null, b.alpha, null, null, b.ignoreIndex, 0f, 0f, 0f, -1f, (float) b.gamma));
    }

    /**
     * A builder with gamma 2, no alpha, ignore index -100, MEAN.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return the per-class alpha (a copy), or null} */
    public float[] alpha() {
        return options.alpha() == null ? null : options.alpha().clone();
    }

    /** {@return the focusing exponent gamma} */
    public double gamma() {
        return options.gamma();
    }

    /** {@return the label of rows that are ignored} */
    public int ignoreIndex() {
        return options.ignoreIndex();
    }

    @Override
    LossKind kindOf(Batch b) {
        if (b.labels == null) {
            throw new IllegalArgumentException("labels: softmax focal loss needs class indices (Batch.labels)");
        }
        if (b.targets != null) {
            throw new IllegalArgumentException("targets: softmax focal loss takes class indices, not dense targets");
        }
        return LossKind.SOFTMAX_FOCAL;
    }

    @Override
    WeightStats checkInputs(Batch b, LossKind kind, Backend on) {
        float[] alpha = options.alpha();
        if (alpha != null && alpha.length != b.cols) {
            throw new IllegalArgumentException("alpha: has " + alpha.length + " entries but the batch has "
                    + b.cols + " classes");
        }
        b.labels.check(b.rows, false);
        return WeightStats.rows(b, true, options.ignoreIndex(), null, on);
    }

    /** Settings of a softmax focal loss. */
    public static final class Builder extends Loss.Builder<Builder> {
        private float[] alpha;
        private double gamma = 2.0;
        private int ignoreIndex = KernelOptions.DEFAULT_IGNORE_INDEX;

        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * One factor per class inside the term, finite and not negative (copied); default none (1).
         *
         * @param alpha one factor per class, finite and not negative
         * @return this builder
         */
        public Builder alpha(float[] alpha) {
            this.alpha = WeightStats.checkedVector("alpha", alpha);
            return this;
        }

        /**
         * The focusing exponent, finite and not negative (default 2; 0 gives cross-entropy).
         *
         * @param gamma the focusing exponent, finite and not negative
         * @return this builder
         */
        public Builder gamma(double gamma) {
            this.gamma = Focal.checkedGamma(gamma);
            return this;
        }

        /**
         * Rows with this label are ignored (default -100).
         *
         * @param label the label that marks a row to ignore
         * @return this builder
         */
        public Builder ignoreIndex(int label) {
            this.ignoreIndex = label;
            return this;
        }

        /** {@return the configured loss} */
        public SoftmaxFocal build() {
            return new SoftmaxFocal(this);
        }
    }
}
