package org.fusedloss.internal;

/** The functions a backend computes, one per kernel (docs/SEMANTICS.md, "The per-term losses"). */
public enum LossKind {
    /** Softmax cross-entropy with class indices. */
    CROSS_ENTROPY,
    /** Softmax cross-entropy with dense targets (probabilities, one-hot). */
    CROSS_ENTROPY_DENSE,
    /** Softmax focal loss with class indices and a per-class alpha. */
    SOFTMAX_FOCAL,
    /** Binary cross-entropy with logits. */
    BINARY_CROSS_ENTROPY,
    /** Mean squared error (the squared error per element). */
    MEAN_SQUARED_ERROR,
    /** Sigmoid focal loss (RetinaNet). */
    SIGMOID_FOCAL;

    /** True when a term is a row (softmax losses), false when it is an element. */
    public boolean perRow() {
        return this == CROSS_ENTROPY || this == CROSS_ENTROPY_DENSE || this == SOFTMAX_FOCAL;
    }
}
