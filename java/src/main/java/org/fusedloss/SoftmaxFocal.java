package org.fusedloss;

import org.fusedloss.internal.Errors;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions;
import org.fusedloss.internal.LossOptions.SoftmaxFocalOptions;

/**
 * Softmax focal loss over logits with class indices:
 * {@code alpha[y] * (1 - p_y)^gamma * (-log p_y)} per row, times the sample weight. Alpha is a
 * per-class factor inside the term, so MEAN divides by the sum of sample weights; with gamma 0 the
 * NONE and SUM results equal the cross-entropy with class weights alpha.
 */
public final class SoftmaxFocal extends Loss {

    private final SoftmaxFocalOptions o;

    private SoftmaxFocal(Builder b) {
        this(b, new SoftmaxFocalOptions(b.alpha, b.gamma, b.ignoreIndex));
    }

    private SoftmaxFocal(Builder b, SoftmaxFocalOptions o) {
        super(b, LossKind.SOFTMAX_FOCAL, o);
        this.o = o;
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
        return o.alpha() == null ? null : o.alpha().clone();
    }

    /** {@return the focusing exponent gamma, as given (the native and CUDA kernels use it as a float)} */
    public double gamma() {
        return o.gamma();
    }

    /** {@return the label of rows that are ignored} */
    public int ignoreIndex() {
        return o.ignoreIndex();
    }

    /** Settings of a softmax focal loss. */
    public static final class Builder extends Loss.Builder<Builder> {
        private float[] alpha;
        private double gamma = 2.0;
        private int ignoreIndex = LossOptions.DEFAULT_IGNORE_INDEX;

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
            this.alpha = Errors.checkedVector("alpha", alpha);
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
