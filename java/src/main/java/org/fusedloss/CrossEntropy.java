package org.fusedloss;

import org.fusedloss.internal.BatchData;
import org.fusedloss.internal.Errors;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions;
import org.fusedloss.internal.LossOptions.CrossEntropyOptions;

/**
 * Softmax cross-entropy over logits, with class indices ({@link Batch#labels}) or dense targets
 * ({@link Batch#targets}): class weights, sample weights, ignore index, label smoothing, z-loss and
 * logit soft-capping (docs/SEMANTICS.md). Class weights live inside the term; with class indices
 * the effective weight (the MEAN denominator) is {@code classWeight[y] * sampleWeight}, with dense
 * targets the sample weight alone.
 *
 * <pre>{@code
 * CrossEntropy ce = CrossEntropy.builder().classWeights(cw).labelSmoothing(0.1).build();
 * LossResult r = ce.compute(Batch.of(logits, n, c).labels(y).gradient(grad));
 * }</pre>
 */
public final class CrossEntropy extends Loss {

    private final CrossEntropyOptions o;

    private CrossEntropy(Builder b) {
        this(b, new CrossEntropyOptions(b.classWeights, b.ignoreIndex, b.labelSmoothing, b.zLoss, b.softCap));
    }

    private CrossEntropy(Builder b, CrossEntropyOptions o) {
        super(b, LossKind.CROSS_ENTROPY, o);
        this.o = o;
    }

    /**
     * A builder with PyTorch's defaults: no weights, ignore index -100, no smoothing, MEAN.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return the class weights (a copy), or null} */
    public float[] classWeights() {
        return o.classWeights() == null ? null : o.classWeights().clone();
    }

    /** {@return the label of rows that are ignored} */
    public int ignoreIndex() {
        return o.ignoreIndex();
    }

    /** {@return the label smoothing eps, as given (the native and CUDA kernels use it as a float)} */
    public double labelSmoothing() {
        return o.smoothing();
    }

    /** {@return the z-loss coefficient (0: off), as given (the native and CUDA kernels use it as a float)} */
    public double zLoss() {
        return o.zLoss();
    }

    /** {@return the logit soft-cap (0: off), as given (the native and CUDA kernels use it as a float)} */
    public double softCap() {
        return o.softCap();
    }

    @Override
    LossKind kindOf(BatchData b) {
        if (b.labels != null && b.targets != null) {
            throw new IllegalArgumentException("labels and targets: give class indices or dense targets, not both");
        }
        if (b.labels == null && b.targets == null) {
            throw new IllegalArgumentException("labels: cross-entropy needs class indices (" + b.api + ".labels) "
                    + "or dense targets (" + b.api + ".targets)");
        }
        return b.labels != null ? LossKind.CROSS_ENTROPY : LossKind.CROSS_ENTROPY_DENSE;
    }

    /** Settings of a cross-entropy loss. */
    public static final class Builder extends Loss.Builder<Builder> {
        private float[] classWeights;
        private int ignoreIndex = LossOptions.DEFAULT_IGNORE_INDEX;
        private double labelSmoothing;
        private double zLoss;
        private double softCap;

        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * One weight per class, finite and not negative (copied).
         *
         * @param weights one weight per class
         * @return this builder
         */
        public Builder classWeights(float[] weights) {
            this.classWeights = Errors.checkedVector("classWeights", weights);
            return this;
        }

        /**
         * Rows with this label are ignored: no loss, zero gradient, not counted (default -100).
         *
         * @param label the label that marks a row to ignore
         * @return this builder
         */
        public Builder ignoreIndex(int label) {
            this.ignoreIndex = label;
            return this;
        }

        /**
         * Label smoothing eps in [0, 1] (PyTorch's definition: eps / C on every class).
         *
         * @param eps the smoothing, in [0, 1]
         * @return this builder
         */
        public Builder labelSmoothing(double eps) {
            if (!(eps >= 0 && eps <= 1)) {
                throw new IllegalArgumentException("labelSmoothing = " + eps + " must be in [0, 1]");
            }
            this.labelSmoothing = eps;
            return this;
        }

        /**
         * Adds {@code z * lse^2} per row (PaLM's z-loss), weighted like the row; 0 turns it off.
         *
         * @param z the z-loss coefficient, finite and not negative
         * @return this builder
         */
        public Builder zLoss(double z) {
            if (!(z >= 0) || Double.isInfinite(z)) {
                throw new IllegalArgumentException("zLoss = " + z + " must be finite and not negative");
            }
            this.zLoss = z;
            return this;
        }

        /**
         * Soft-caps the logits to {@code cap * tanh(x / cap)} before the softmax; 0 turns it off.
         *
         * @param cap the cap, finite and not negative
         * @return this builder
         */
        public Builder softCap(double cap) {
            if (!(cap >= 0) || Double.isInfinite(cap)) {
                throw new IllegalArgumentException("softCap = " + cap + " must be finite and not negative");
            }
            this.softCap = cap;
            return this;
        }

        /** {@return the configured loss} */
        public CrossEntropy build() {
            return new CrossEntropy(this);
        }
    }
}
