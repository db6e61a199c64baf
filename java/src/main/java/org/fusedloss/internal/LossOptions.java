package org.fusedloss.internal;

/**
 * A loss's own settings as the backends see them, one small record per loss, fixed when the loss
 * is built (its vectors are the loss's private, checked copies: never modified). Options are kept
 * as the caller gave them, doubles included: the Java backend computes with them in double; the
 * native and CUDA kernels round each to float where they compute in float (fusedloss.h says which).
 * Each record writes itself into the ABI's {@code fl_options} union ({@link #encode}), one 8-byte
 * slot per field in declaration order, as native/include/fusedloss.h declares it.
 */
public sealed interface LossOptions {
    /** PyTorch's default ignore index. */
    int DEFAULT_IGNORE_INDEX = -100;

    /** {@return the label of ignored rows (losses with class indices), else the default} */
    default int ignoreIndex() {
        return DEFAULT_IGNORE_INDEX;
    }

    /** {@return the per-class vector that weighs a row in the MEAN denominator with class indices, or null} */
    default float[] denominatorClassWeights() {
        return null;
    }

    /** Checks the options against the batch's number of columns (the lengths of per-class vectors). */
    default void checkColumns(int cols) {
    }

    /** Writes the fields into the ABI's options slots, in order. */
    void encode(Slots out);

    /** The ABI's option slots, filled in order: one 8-byte slot per call. */
    interface Slots {
        /** A vector (class weights, alpha, ...): its address where the kernels read it, 0 for null. */
        Slots vector(float[] v);

        /** An integer. */
        Slots integer(long v);

        /** A double. */
        Slots real(double v);
    }

    /**
     * Softmax cross-entropy (class indices or dense targets).
     *
     * @param classWeights one weight per class, or null
     * @param ignoreIndex  the label of ignored rows
     * @param smoothing    label smoothing eps in [0, 1]
     * @param zLoss        the z-loss coefficient (0: off)
     * @param softCap      the logit soft-cap (0: off)
     */
    record CrossEntropyOptions(float[] classWeights, int ignoreIndex, double smoothing, double zLoss,
                               double softCap) implements LossOptions {
        @Override
        public float[] denominatorClassWeights() {
            return classWeights;
        }

        @Override
        public void checkColumns(int cols) {
            Errors.checkLength("classWeights", classWeights, cols, "classes");
        }

        @Override
        public void encode(Slots out) {
            out.vector(classWeights).real(smoothing).real(zLoss).real(softCap);
        }
    }

    /**
     * Softmax focal loss.
     *
     * @param alpha       one factor per class inside the term, or null
     * @param gamma       the focusing exponent
     * @param ignoreIndex the label of ignored rows
     */
    record SoftmaxFocalOptions(float[] alpha, double gamma, int ignoreIndex) implements LossOptions {
        @Override
        public void checkColumns(int cols) {
            Errors.checkLength("alpha", alpha, cols, "classes");
        }

        @Override
        public void encode(Slots out) {
            out.vector(alpha).real(gamma);
        }
    }

    /**
     * Binary cross-entropy with logits.
     *
     * @param posWeight          one pos_weight per output, or null
     * @param binaryClassWeights {w0, w1} picked by the hard 0/1 target, or null
     */
    record BinaryCrossEntropyOptions(float[] posWeight, float[] binaryClassWeights) implements LossOptions {
        @Override
        public void checkColumns(int cols) {
            Errors.checkLength("posWeight", posWeight, cols, "outputs");
        }

        @Override
        public void encode(Slots out) {
            out.vector(posWeight).vector(binaryClassWeights);
        }
    }

    /** The squared error: no options. */
    record MeanSquaredErrorOptions() implements LossOptions {
        @Override
        public void encode(Slots out) {
        }
    }

    /**
     * Sigmoid focal loss.
     *
     * @param alpha the weight of the positive term (negative: no alpha factor)
     * @param gamma the focusing exponent
     */
    record SigmoidFocalOptions(double alpha, double gamma) implements LossOptions {
        @Override
        public void encode(Slots out) {
            out.real(alpha).real(gamma);
        }
    }
}
