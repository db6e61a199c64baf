package org.fusedloss.djl;

import org.fusedloss.SigmoidFocal;

/**
 * Sigmoid focal loss over logits (RetinaNet, torchvision's {@code sigmoid_focal_loss}), fused (DJL has
 * none): alpha and gamma as configured in the wrapped {@link SigmoidFocal}. Labels are 0/1 targets of
 * the logits' shape; an optional second label holds one sample weight per example (the first axis).
 */
public final class FusedSigmoidFocalLoss extends FusedLoss {
    private final SigmoidFocal sigmoidFocal;

    /** Alpha 0.25, gamma 2, MEAN over every element. */
    public FusedSigmoidFocalLoss() {
        this(SigmoidFocal.builder().build());
    }

    /** The given loss. */
    public FusedSigmoidFocalLoss(SigmoidFocal loss) {
        this("FusedSigmoidFocalLoss", loss);
    }

    /** The given loss under a name of one's own (DJL shows it in the training metrics). */
    public FusedSigmoidFocalLoss(String name, SigmoidFocal loss) {
        super(name, loss, false, false);
        this.sigmoidFocal = loss;
    }

    @Override
    public SigmoidFocal fusedLoss() {
        return sigmoidFocal;
    }
}
