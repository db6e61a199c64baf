package org.fusedloss;

import org.fusedloss.internal.KernelOptions;
import org.fusedloss.internal.LossKind;

/**
 * Binary cross-entropy with logits, element-wise over an n x k matrix of logits and dense targets:
 * {@code -(posWeight[j] * t * log s + (1 - t) * log(1 - s))} in the stable form, optional binary
 * class weights {@code {w0, w1}} picked by the hard 0/1 target (Keras {@code class_weight}), times
 * the sample and element weights. Class weights live inside the term: MEAN divides by the sum of
 * the sample x element weights.
 */
public final class BinaryCrossEntropy extends Loss {

    private BinaryCrossEntropy(Builder b) {
        super(b, new KernelOptions(null, null, b.posWeight, b.binaryClassWeights,
                KernelOptions.DEFAULT_IGNORE_INDEX, 0f, 0f, 0f, -1f, 0f));
    }

    /**
     * A builder with no pos_weight, no class weights, MEAN.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return the per-output pos_weight (a copy), or null} */
    public float[] posWeight() {
        return options.posWeight() == null ? null : options.posWeight().clone();
    }

    /** {@return the binary class weights {w0, w1} (a copy), or null} */
    public float[] binaryClassWeights() {
        return options.binaryClassWeights() == null ? null : options.binaryClassWeights().clone();
    }

    @Override
    LossKind kindOf(Batch b) {
        return ElementWise.kindOf(b, LossKind.BINARY_CROSS_ENTROPY);
    }

    @Override
    WeightStats checkInputs(Batch b, LossKind kind, Backend on) {
        float[] pw = options.posWeight();
        if (pw != null && pw.length != b.cols) {
            throw new IllegalArgumentException("posWeight: has " + pw.length + " entries but the batch has "
                    + b.cols + " outputs");
        }
        b.targets.check((long) b.rows * b.cols, false);
        WeightStats stats = WeightStats.elements(b, on);
        if (options.binaryClassWeights() != null) {
            WeightStats.checkHardTargets(b);  // after the weights: the order of SEMANTICS.md
        }
        return stats;
    }

    /** Settings of a binary cross-entropy loss. */
    public static final class Builder extends Loss.Builder<Builder> {
        private float[] posWeight;
        private float[] binaryClassWeights;

        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * One pos_weight per output column, finite and not negative (copied).
         *
         * @param posWeight one weight per output for the positive term, finite and not negative
         * @return this builder
         */
        public Builder posWeight(float[] posWeight) {
            this.posWeight = WeightStats.checkedVector("posWeight", posWeight);
            return this;
        }

        /**
         * Weights of the negative and positive class, picked by the hard 0/1 target.
         *
         * @param w0 the weight of elements whose target is 0
         * @param w1 the weight of elements whose target is 1
         * @return this builder
         */
        public Builder binaryClassWeights(float w0, float w1) {
            this.binaryClassWeights = WeightStats.checkedVector("binaryClassWeights", new float[] {w0, w1});
            return this;
        }

        /** {@return the configured loss} */
        public BinaryCrossEntropy build() {
            return new BinaryCrossEntropy(this);
        }
    }
}
