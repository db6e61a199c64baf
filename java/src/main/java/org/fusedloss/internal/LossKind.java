package org.fusedloss.internal;

/**
 * The functions the backends compute, one per kernel (docs/SEMANTICS.md, "The per-term losses"),
 * with what the layers need to know about each: the order is the ABI's ({@code fl_loss} in
 * native/include/fusedloss.h, generated from its {@code FL_LOSSES} list), and {@link #kernel()} names the
 * per-loss sources and kernels ({@code native/kernels/<kernel>.cpp}, {@code cuda/kernels/<kernel>.cu},
 * {@code flc_<kernel>...}).
 */
public enum LossKind {
    /** Softmax cross-entropy with class indices. */
    CROSS_ENTROPY(true, true, true, "cross_entropy", "cross-entropy"),
    /** Softmax cross-entropy with dense targets (probabilities, one-hot). */
    CROSS_ENTROPY_DENSE(true, false, false, "cross_entropy", "cross-entropy"),
    /** Softmax focal loss with class indices and a per-class alpha. */
    SOFTMAX_FOCAL(true, true, false, "softmax_focal", "softmax focal loss"),
    /** Binary cross-entropy with logits. */
    BINARY_CROSS_ENTROPY(false, false, false, "binary_cross_entropy", "BINARY_CROSS_ENTROPY"),
    /** Mean squared error (the squared error per element). */
    MEAN_SQUARED_ERROR(false, false, false, "mean_squared_error", "MEAN_SQUARED_ERROR"),
    /** Sigmoid focal loss (RetinaNet). */
    SIGMOID_FOCAL(false, false, false, "sigmoid_focal", "SIGMOID_FOCAL");

    private final boolean perRow;
    private final boolean labels;
    private final boolean classWeightsInDenominator;
    private final String kernel;
    private final String title;

    LossKind(boolean perRow, boolean labels, boolean classWeightsInDenominator, String kernel, String title) {
        this.perRow = perRow;
        this.labels = labels;
        this.classWeightsInDenominator = classWeightsInDenominator;
        this.kernel = kernel;
        this.title = title;
    }

    /** True when a term is a row (softmax losses), false when it is an element. */
    public boolean perRow() {
        return perRow;
    }

    /** True when it takes class indices (labels), false when it takes dense targets. */
    public boolean takesLabels() {
        return labels;
    }

    /** True when the MEAN denominator weighs each row by its class weight ({@code cw[y] * sw}). */
    public boolean classWeightsInDenominator() {
        return classWeightsInDenominator;
    }

    /** The kernel's name in every layer: {@code native/kernels/<kernel>.cpp}, {@code cuda/kernels/<kernel>.cu}, {@code flc_<kernel>}. */
    public String kernel() {
        return kernel;
    }

    /** How messages name the loss. */
    public String title() {
        return title;
    }
}
