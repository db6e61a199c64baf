package org.fusedloss.dl4j;

import java.util.Arrays;
import java.util.Objects;
import org.fusedloss.Loss;
import org.fusedloss.Reduction;
import org.fusedloss.SoftmaxFocal;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Softmax focal loss for a DL4J output layer with {@code Activation.SOFTMAX}:
 * {@code alpha[y] * (1 - p_y)^gamma * (-log p_y)} per example (DL4J has none). Labels are a column
 * {@code [N,1]} of class indices or one-hot rows (converted to indices; a row of zeros is ignored,
 * as DL4J's cross-entropy scores it 0; soft rows are rejected). The rules for the score,
 * {@code average}, masks and memory are {@link FusedLossFunction}'s.
 */
public final class FusedSoftmaxFocal extends FusedLossFunction {
    private static final long serialVersionUID = 1L;

    @JsonProperty private final float[] alpha;
    @JsonProperty private final double gamma;
    @JsonProperty private final int ignoreIndex;

    /** Gamma 2, no alpha. */
    public FusedSoftmaxFocal() {
        this(SoftmaxFocal.builder().build());
    }

    /** Wraps a configured softmax focal loss (alpha, gamma, ignore index); its reduction, gradient scale and gradient switch must be left at their defaults. */
    public FusedSoftmaxFocal(SoftmaxFocal loss) {
        super(checked(loss, "FusedSoftmaxFocal"), Fused.SOFTMAX, Labels.INDICES);
        this.alpha = loss.alpha();
        this.gamma = loss.gamma();
        this.ignoreIndex = loss.ignoreIndex();
    }

    @JsonCreator
    FusedSoftmaxFocal(@JsonProperty("alpha") float[] alpha, @JsonProperty("gamma") double gamma,
                      @JsonProperty("ignoreIndex") int ignoreIndex) {
        this(settings(alpha, gamma, ignoreIndex).build());
    }

    private static SoftmaxFocal.Builder settings(float[] alpha, double gamma, int ignoreIndex) {
        SoftmaxFocal.Builder b = SoftmaxFocal.builder().gamma(gamma).ignoreIndex(ignoreIndex);
        return alpha == null ? b : b.alpha(alpha);
    }

    @Override
    Loss build(Reduction reduction, boolean gradient) {
        return settings(alpha, gamma, ignoreIndex).reduction(reduction).computeGradient(gradient).build();
    }

    @Override
    int ignoreLabel() {
        return ignoreIndex;
    }

    /** The per-class alpha (a copy), or null. */
    public float[] alpha() {
        return alpha == null ? null : alpha.clone();
    }

    /** The focusing exponent gamma. */
    public double gamma() {
        return gamma;
    }

    /** The class index of ignored examples. */
    public int ignoreIndex() {
        return ignoreIndex;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FusedSoftmaxFocal f && Arrays.equals(alpha, f.alpha)
                && Double.compare(gamma, f.gamma) == 0 && ignoreIndex == f.ignoreIndex;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(alpha), gamma, ignoreIndex);
    }

    @Override
    public String toString() {
        return "FusedSoftmaxFocal(alpha=" + Arrays.toString(alpha) + ", gamma=" + gamma + ", ignoreIndex="
                + ignoreIndex + ")";
    }
}
