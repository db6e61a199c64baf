package org.fusedloss.dl4j;

import java.util.Objects;
import org.fusedloss.Loss;
import org.fusedloss.Reduction;
import org.fusedloss.SigmoidFocal;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Sigmoid focal loss (RetinaNet, torchvision's {@code sigmoid_focal_loss}) for a DL4J output layer
 * with {@code Activation.SIGMOID}: {@code alpha_t * (1 - p_t)^gamma * BCE} per output (DL4J has
 * none). Labels are dense, of {@code preOutput}'s shape. The rules for the score, {@code average},
 * masks and memory are {@link FusedLossFunction}'s.
 */
public final class FusedSigmoidFocal extends FusedLossFunction {
    private static final long serialVersionUID = 1L;

    @JsonProperty private final double alpha;
    @JsonProperty private final double gamma;

    /** RetinaNet's alpha 0.25 and gamma 2. */
    public FusedSigmoidFocal() {
        this(SigmoidFocal.builder().build());
    }

    /** Wraps a configured sigmoid focal loss (alpha, gamma); its reduction, gradient scale and gradient switch must be left at their defaults. */
    public FusedSigmoidFocal(SigmoidFocal loss) {
        super(checked(loss, "FusedSigmoidFocal"), Fused.SIGMOID, Labels.DENSE);
        this.alpha = loss.alpha();
        this.gamma = loss.gamma();
    }

    @JsonCreator
    FusedSigmoidFocal(@JsonProperty("alpha") double alpha, @JsonProperty("gamma") double gamma) {
        this(settings(alpha, gamma).build());
    }

    private static SigmoidFocal.Builder settings(double alpha, double gamma) {
        return SigmoidFocal.builder().alpha(alpha).gamma(gamma);
    }

    @Override
    Loss build(Reduction reduction, boolean gradient) {
        return settings(alpha, gamma).reduction(reduction).computeGradient(gradient).build();
    }

    /** Alpha (negative: no alpha factor). */
    public double alpha() {
        return alpha;
    }

    /** The focusing exponent gamma. */
    public double gamma() {
        return gamma;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FusedSigmoidFocal f && Double.compare(alpha, f.alpha) == 0
                && Double.compare(gamma, f.gamma) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(alpha, gamma);
    }

    @Override
    public String toString() {
        return "FusedSigmoidFocal(alpha=" + alpha + ", gamma=" + gamma + ")";
    }
}
