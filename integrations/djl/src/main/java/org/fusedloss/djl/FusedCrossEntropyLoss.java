package org.fusedloss.djl;

import org.fusedloss.CrossEntropy;

/**
 * Softmax cross-entropy over logits, fused: DJL's {@code SoftmaxCrossEntropyLoss} with class weights,
 * sample weights, ignore index, label smoothing, z-loss and soft-capping, as configured in the wrapped
 * {@link CrossEntropy}. Labels are class indices ({@code sparseLabel}, the default, as in DJL) or
 * dense targets of the logits' shape; an optional second label holds one sample weight per row.
 * With {@code Reduction.MEAN} (the default) and no weights the value is DJL's.
 *
 * <pre>{@code
 * Loss loss = new FusedCrossEntropyLoss(CrossEntropy.builder().classWeights(cw).build());
 * }</pre>
 */
public final class FusedCrossEntropyLoss extends FusedLoss {
    private final CrossEntropy crossEntropy;
    private final boolean sparseLabel;

    /** Unweighted, MEAN, class indices. */
    public FusedCrossEntropyLoss() {
        this(CrossEntropy.builder().build());
    }

    /** The given loss, class indices. */
    public FusedCrossEntropyLoss(CrossEntropy loss) {
        this(loss, true);
    }

    /** The given loss; {@code sparseLabel} false takes dense targets (probabilities, one-hot). */
    public FusedCrossEntropyLoss(CrossEntropy loss, boolean sparseLabel) {
        this("FusedCrossEntropyLoss", loss, sparseLabel);
    }

    /** The given loss under a name of one's own (DJL shows it in the training metrics). */
    public FusedCrossEntropyLoss(String name, CrossEntropy loss, boolean sparseLabel) {
        super(name, loss, true, sparseLabel);
        this.crossEntropy = loss;
        this.sparseLabel = sparseLabel;
    }

    @Override
    public CrossEntropy fusedLoss() {
        return crossEntropy;
    }

    /** Whether the labels are class indices (true) or dense targets. */
    public boolean sparseLabel() {
        return sparseLabel;
    }
}
