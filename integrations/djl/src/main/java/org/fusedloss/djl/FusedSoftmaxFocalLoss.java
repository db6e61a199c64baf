package org.fusedloss.djl;

import org.fusedloss.SoftmaxFocal;

/**
 * Softmax focal loss over logits, fused (DJL has none): per-class alpha and gamma as configured in the
 * wrapped {@link SoftmaxFocal}. Labels are class indices; an optional second label holds one sample
 * weight per row.
 */
public final class FusedSoftmaxFocalLoss extends FusedLoss {
    private final SoftmaxFocal softmaxFocal;

    /** Gamma 2, no alpha, MEAN. */
    public FusedSoftmaxFocalLoss() {
        this(SoftmaxFocal.builder().build());
    }

    /** The given loss. */
    public FusedSoftmaxFocalLoss(SoftmaxFocal loss) {
        this("FusedSoftmaxFocalLoss", loss);
    }

    /** The given loss under a name of one's own (DJL shows it in the training metrics). */
    public FusedSoftmaxFocalLoss(String name, SoftmaxFocal loss) {
        super(name, loss, true, true);
        this.softmaxFocal = loss;
    }

    @Override
    public SoftmaxFocal fusedLoss() {
        return softmaxFocal;
    }
}
