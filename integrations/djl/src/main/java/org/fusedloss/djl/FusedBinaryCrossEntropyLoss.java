package org.fusedloss.djl;

import org.fusedloss.BinaryCrossEntropy;

/**
 * Binary cross-entropy with logits, fused: DJL's {@code SigmoidBinaryCrossEntropyLoss} with pos_weight
 * and binary class weights, as configured in the wrapped {@link BinaryCrossEntropy}. Labels are 0/1
 * (or soft) targets of the logits' shape; an optional second label holds one sample weight per
 * example (the first axis). With {@code Reduction.MEAN} and no weights the value is DJL's.
 */
public final class FusedBinaryCrossEntropyLoss extends FusedLoss {
    private final BinaryCrossEntropy binaryCrossEntropy;

    /** Unweighted, MEAN over every element. */
    public FusedBinaryCrossEntropyLoss() {
        this(BinaryCrossEntropy.builder().build());
    }

    /** The given loss. */
    public FusedBinaryCrossEntropyLoss(BinaryCrossEntropy loss) {
        this("FusedBinaryCrossEntropyLoss", loss);
    }

    /** The given loss under a name of one's own (DJL shows it in the training metrics). */
    public FusedBinaryCrossEntropyLoss(String name, BinaryCrossEntropy loss) {
        super(name, loss, false, false);
        this.binaryCrossEntropy = loss;
    }

    @Override
    public BinaryCrossEntropy fusedLoss() {
        return binaryCrossEntropy;
    }
}
