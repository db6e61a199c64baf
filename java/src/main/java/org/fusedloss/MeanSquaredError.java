package org.fusedloss;

import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions.MeanSquaredErrorOptions;

/**
 * Squared error {@code (x - t)^2} per element of an n x k matrix, times the sample and element
 * weights (1-D sample weights, 2-D per-output weights); MEAN divides by the sum of those weights.
 */
public final class MeanSquaredError extends Loss {

    private MeanSquaredError(Builder b) {
        super(b, LossKind.MEAN_SQUARED_ERROR, new MeanSquaredErrorOptions());
    }

    /**
     * A builder with MEAN.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Settings of a squared-error loss. */
    public static final class Builder extends Loss.Builder<Builder> {
        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /** {@return the configured loss} */
        public MeanSquaredError build() {
            return new MeanSquaredError(this);
        }
    }
}
