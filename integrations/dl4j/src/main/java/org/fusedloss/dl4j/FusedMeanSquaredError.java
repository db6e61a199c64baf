package org.fusedloss.dl4j;

import org.fusedloss.Loss;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.Reduction;

/**
 * Mean squared error for a DL4J output layer with {@code Activation.IDENTITY}: DL4J's
 * {@code LossMSE} in one fused pass, each example's loss the mean of its squared errors over its K
 * outputs (so the gradient is {@code 2 (x - t) / K}). Labels are dense, of {@code preOutput}'s
 * shape. The rules for the score, {@code average}, masks and memory are {@link FusedLossFunction}'s.
 */
public final class FusedMeanSquaredError extends FusedLossFunction {
    private static final long serialVersionUID = 1L;

    /** As DL4J's {@code LossMSE()}. */
    public FusedMeanSquaredError() {
        this(MeanSquaredError.builder().build());
    }

    /** Wraps a squared-error loss (its backend); its reduction, gradient scale and gradient switch must be left at their defaults. */
    public FusedMeanSquaredError(MeanSquaredError loss) {
        super(checked(loss, "FusedMeanSquaredError"), Fused.IDENTITY, Labels.DENSE);
    }

    @Override
    Loss build(Reduction reduction, boolean gradient) {
        return MeanSquaredError.builder().reduction(reduction).computeGradient(gradient).build();
    }

    @Override
    double perExampleDivisor(int outputs) {
        return outputs;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FusedMeanSquaredError;
    }

    @Override
    public int hashCode() {
        return FusedMeanSquaredError.class.hashCode();
    }

    @Override
    public String toString() {
        return "FusedMeanSquaredError()";
    }
}
