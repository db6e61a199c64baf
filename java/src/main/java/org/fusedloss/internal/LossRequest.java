package org.fusedloss.internal;

import org.fusedloss.Reduction;

/**
 * One validated call, as every backend takes it (the ABI's {@code fl_request} in
 * native/include/fusedloss.h is the same thing in C, and the CUDA kernels take that struct too): the
 * loss, the shape, the inputs and outputs as {@link Span}s (lengths checked, absent ones null),
 * the loss's options, the reduction, the caller's gradient scale and the denominator.
 *
 * <p>The gradient written is {@code gradFactor() * upstream[term] * d(weighted term)/d(prediction)}
 * with {@link #gradFactor()} = {@code gradientScale / denominator} (0 when the denominator is 0):
 * the same names and meaning in Java, C and CUDA. The denominator is 1 for NONE and SUM; for MEAN
 * and BATCH_MEAN it is the caller's, or the weight sum / count of the weight pass; negative means
 * "not known yet" (the CUDA kernels then compute it on the device).
 *
 * @param kind          which loss
 * @param rows          rows n
 * @param cols          classes or outputs per row
 * @param inputs        what the kernel reads
 * @param outputs       what it writes
 * @param options       the loss's own settings
 * @param reduction     how the terms are combined
 * @param gradientScale the caller's factor on the gradient (Loss.Builder.gradientScale)
 * @param denominator   what MEAN / BATCH_MEAN divide by (1 for NONE / SUM), or negative when not known yet
 */
public record LossRequest(LossKind kind, int rows, int cols, Inputs inputs, Outputs outputs,
                          LossOptions options, Reduction reduction, double gradientScale, double denominator) {

    /**
     * What the kernel reads; absent inputs are null.
     *
     * @param predictions        n x cols logits (or predictions for MSE)
     * @param labels             n class indices, or null
     * @param targets            n x cols dense targets, or null
     * @param sampleWeights      row i's weight at element {@code i * sampleWeightStride}, or null
     * @param sampleWeightStride the stride of the sample weights (at least 1)
     * @param elementWeights     n x cols element weights, or null
     * @param upstream           the upstream gradient per term (NONE only), or null
     */
    public record Inputs(Span predictions, Span labels, Span targets, Span sampleWeights,
                         long sampleWeightStride, Span elementWeights, Span upstream) {
    }

    /**
     * What the kernel writes; absent outputs are null.
     *
     * @param gradient n x cols gradient (may lie exactly over the predictions), or null for none
     * @param perTerm  each term's weighted loss, or null
     */
    public record Outputs(Span gradient, Span perTerm) {
    }

    /** {@return rows x cols} */
    public long elements() {
        return (long) rows * cols;
    }

    /** {@return the number of terms: rows for the softmax losses, elements otherwise} */
    public long terms() {
        return kind.perRow() ? rows : elements();
    }

    /** {@return the elements the sample weights span: (rows - 1) * stride + 1} */
    public long sampleWeightSpan() {
        return sampleWeightSpan(rows, inputs.sampleWeightStride());
    }

    /** The elements sample weights of {@code rows} rows at {@code stride} span. */
    public static long sampleWeightSpan(long rows, long stride) {
        return rows == 0 ? 0 : (rows - 1) * stride + 1;
    }

    /** {@return true when the data live in device memory} */
    public boolean onDevice() {
        return inputs.predictions().onDevice();
    }

    /** {@return the factor on the gradient: gradientScale / denominator, 0 when the denominator is 0} */
    public double gradFactor() {
        return denominator == 0 ? 0 : gradientScale / denominator;
    }

    /** This request with the denominator known. */
    public LossRequest withDenominator(double d) {
        return new LossRequest(kind, rows, cols, inputs, outputs, options, reduction, gradientScale, d);
    }
}
