package org.fusedloss;

import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions.SigmoidFocalOptions;

/**
 * Sigmoid focal loss (torchvision {@code sigmoid_focal_loss}, RetinaNet), element-wise:
 * {@code alpha_t * (1 - p_t)^gamma * BCE(x, t)}, times the sample and element weights. A negative
 * alpha turns the alpha factor off. Defaults: alpha 0.25, gamma 2.
 */
public final class SigmoidFocal extends Loss {

    private final SigmoidFocalOptions o;

    private SigmoidFocal(Builder b) {
        this(b, new SigmoidFocalOptions(b.alpha, b.gamma));
    }

    private SigmoidFocal(Builder b, SigmoidFocalOptions o) {
        super(b, LossKind.SIGMOID_FOCAL, o);
        this.o = o;
    }

    /**
     * A builder with RetinaNet's alpha 0.25 and gamma 2, MEAN.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return alpha (negative: no alpha factor), as given (the native and CUDA kernels use it as a float)} */
    public double alpha() {
        return o.alpha();
    }

    /** {@return the focusing exponent gamma, as given (the native and CUDA kernels use it as a float)} */
    public double gamma() {
        return o.gamma();
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
