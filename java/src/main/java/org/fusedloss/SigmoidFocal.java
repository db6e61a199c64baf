package org.fusedloss;

import org.fusedloss.internal.KernelOptions;
import org.fusedloss.internal.LossKind;

/**
 * Sigmoid focal loss (torchvision {@code sigmoid_focal_loss}, RetinaNet), element-wise:
 * {@code alpha_t * (1 - p_t)^gamma * BCE(x, t)}, times the sample and element weights. A negative
 * alpha turns the alpha factor off. Defaults: alpha 0.25, gamma 2.
 */
public final class SigmoidFocal extends Loss {

    private SigmoidFocal(Builder b) {
        super(b, new KernelOptions(null, null, null, null, KernelOptions.DEFAULT_IGNORE_INDEX,
                0f, 0f, 0f, (float) b.alpha, (float) b.gamma));
    }

    /**
     * A builder with RetinaNet's alpha 0.25 and gamma 2, MEAN.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return alpha (negative: no alpha factor)} */
    public double alpha() {
        return options.focalAlpha();
    }

    /** {@return the focusing exponent gamma} */
    public double gamma() {
        return options.gamma();
    }

    @Override
    LossKind kindOf(Batch b) {
        return ElementWise.kindOf(b, LossKind.SIGMOID_FOCAL);
    }

    @Override
    WeightStats checkInputs(Batch b, LossKind kind, Backend on) {
        b.targets.check((long) b.rows * b.cols, false);
        return WeightStats.elements(b, on);
    }

    /** Settings of a sigmoid focal loss. */
    public static final class Builder extends Loss.Builder<Builder> {
        private double alpha = 0.25;
        private double gamma = 2.0;

        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * Weight of the positive class in [0, 1] (default 0.25); a negative value turns it off.
         *
         * @param alpha the weight of the positive term, at most 1, or negative for none
         * @return this builder
         */
        public Builder alpha(double alpha) {
            if (!(alpha <= 1) || Double.isInfinite(alpha)) {
                throw new IllegalArgumentException("alpha = " + alpha
                        + " must be at most 1 (a negative alpha turns the factor off)");
            }
            this.alpha = alpha;
            return this;
        }

        /**
         * The focusing exponent, finite and not negative (default 2; 0 gives alpha-weighted BCE).
         *
         * @param gamma the focusing exponent, finite and not negative
         * @return this builder
         */
        public Builder gamma(double gamma) {
            this.gamma = Focal.checkedGamma(gamma);
            return this;
        }

        /** {@return the configured loss} */
        public SigmoidFocal build() {
            return new SigmoidFocal(this);
        }
    }
}
