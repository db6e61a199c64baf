package org.fusedloss;

import org.fusedloss.internal.Errors;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions.BinaryCrossEntropyOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.WeightPass;

/**
 * Binary cross-entropy with logits, element-wise over an n x k matrix of logits and dense targets:
 * {@code -(posWeight[j] * t * log s + (1 - t) * log(1 - s))} in the stable form, optional binary
 * class weights {@code {w0, w1}} picked by the hard 0/1 target (Keras {@code class_weight}), times
 * the sample and element weights. Class weights live inside the term: MEAN divides by the sum of
 * the sample x element weights.
 */
public final class BinaryCrossEntropy extends Loss {

    private final BinaryCrossEntropyOptions o;

    private BinaryCrossEntropy(Builder b) {
        this(b, new BinaryCrossEntropyOptions(b.posWeight, b.binaryClassWeights));
    }

    private BinaryCrossEntropy(Builder b, BinaryCrossEntropyOptions o) {
        super(b, LossKind.BINARY_CROSS_ENTROPY, o);
        this.o = o;
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
        return o.posWeight() == null ? null : o.posWeight().clone();
    }

    /** {@return the binary class weights {w0, w1} (a copy), or null} */
    public float[] binaryClassWeights() {
        return o.binaryClassWeights() == null ? null : o.binaryClassWeights().clone();
    }

    @Override
    void checkValues(LossRequest request) {
        if (o.binaryClassWeights() != null) {
            WeightPass.checkHardTargets(request);  // after the weights: the order of SEMANTICS.md
        }
    }

    @Override
    boolean checksValues() {
        return o.binaryClassWeights() != null;
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
            this.posWeight = Errors.checkedVector("posWeight", posWeight);
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
            this.binaryClassWeights = Errors.checkedVector("binaryClassWeights", new float[] {w0, w1});
            return this;
        }

        /** {@return the configured loss} */
        public BinaryCrossEntropy build() {
            return new BinaryCrossEntropy(this);
        }
    }
}
