package org.fusedloss.djl;

import org.fusedloss.MeanSquaredError;

/**
 * Squared error, fused: {@code (prediction - target)^2} per element, reduced as configured in the
 * wrapped {@link MeanSquaredError}. Note DJL's {@code L2Loss} is half of it ({@code 1/2 (p - y)^2}).
 * Labels are targets of the predictions' shape; an optional second label holds one sample weight per
 * example (the first axis).
 */
public final class FusedMeanSquaredErrorLoss extends FusedLoss {
    private final MeanSquaredError meanSquaredError;

    /** MEAN over every element. */
    public FusedMeanSquaredErrorLoss() {
        this(MeanSquaredError.builder().build());
    }

    /** The given loss. */
    public FusedMeanSquaredErrorLoss(MeanSquaredError loss) {
        this("FusedMeanSquaredErrorLoss", loss);
    }

    /** The given loss under a name of one's own (DJL shows it in the training metrics). */
    public FusedMeanSquaredErrorLoss(String name, MeanSquaredError loss) {
        super(name, loss, false, false);
        this.meanSquaredError = loss;
    }

    @Override
    public MeanSquaredError fusedLoss() {
        return meanSquaredError;
    }
}
