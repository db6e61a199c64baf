package org.fusedloss.dl4j;

import java.util.Arrays;
import java.util.Objects;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Loss;
import org.fusedloss.Reduction;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Softmax cross-entropy for a DL4J output layer with {@code Activation.SOFTMAX}: DL4J's
 * {@code LossMCXENT(weights)} and {@code LossSparseMCXENT} in one fused pass, plus what they lack
 * (label smoothing, z-loss, soft-capping, an ignore index). Labels are one-hot or soft rows of
 * {@code preOutput}'s shape, or a column {@code [N,1]} of class indices (LossSparseMCXENT's layout).
 * The rules for the score, {@code average}, masks and memory are {@link FusedLossFunction}'s.
 *
 * <pre>{@code
 * new OutputLayer.Builder(new FusedCrossEntropy(Weights.balancedClassWeights(labels, 10)))
 *         .activation(Activation.SOFTMAX).nIn(64).nOut(10).build()
 * }</pre>
 */
public final class FusedCrossEntropy extends FusedLossFunction {
    private static final long serialVersionUID = 1L;

    @JsonProperty private final float[] classWeights;
    @JsonProperty private final int ignoreIndex;
    @JsonProperty private final double labelSmoothing;
    @JsonProperty private final double zLoss;
    @JsonProperty private final double softCap;

    /** Plain softmax cross-entropy, as DL4J's {@code LossMCXENT()}. */
    public FusedCrossEntropy() {
        this(CrossEntropy.builder().build());
    }

    /** With one weight per class, as DL4J's {@code LossMCXENT(weights)} (e.g. {@code Weights.balancedClassWeights}). */
    public FusedCrossEntropy(float[] classWeights) {
        this(CrossEntropy.builder().classWeights(classWeights).build());
    }

    /**
     * Wraps a configured cross-entropy (class weights, ignore index, label smoothing, z-loss, soft-cap);
     * its reduction, gradient scale and gradient switch must be left at their defaults.
     */
    public FusedCrossEntropy(CrossEntropy loss) {
        super(checked(loss, "FusedCrossEntropy"), Fused.SOFTMAX, Labels.DENSE_OR_INDICES);
        this.classWeights = loss.classWeights();
        this.ignoreIndex = loss.ignoreIndex();
        this.labelSmoothing = loss.labelSmoothing();
        this.zLoss = loss.zLoss();
        this.softCap = loss.softCap();
    }

    @JsonCreator
    FusedCrossEntropy(@JsonProperty("classWeights") float[] classWeights, @JsonProperty("ignoreIndex") int ignoreIndex,
                      @JsonProperty("labelSmoothing") double labelSmoothing, @JsonProperty("zLoss") double zLoss,
                      @JsonProperty("softCap") double softCap) {
        this(settings(classWeights, ignoreIndex, labelSmoothing, zLoss, softCap).build());
    }

    private static CrossEntropy.Builder settings(float[] classWeights, int ignoreIndex, double labelSmoothing,
                                                 double zLoss, double softCap) {
        CrossEntropy.Builder b = CrossEntropy.builder().ignoreIndex(ignoreIndex).labelSmoothing(labelSmoothing)
                .zLoss(zLoss).softCap(softCap);
        return classWeights == null ? b : b.classWeights(classWeights);
    }

    @Override
    Loss build(Reduction reduction, boolean gradient) {
        return settings(classWeights, ignoreIndex, labelSmoothing, zLoss, softCap).reduction(reduction)
                .computeGradient(gradient).build();
    }

    @Override
    int ignoreLabel() {
        return ignoreIndex;
    }

    /** The class weights (a copy), or null. */
    public float[] classWeights() {
        return classWeights == null ? null : classWeights.clone();
    }

    /** The class index of ignored examples (class-index labels only). */
    public int ignoreIndex() {
        return ignoreIndex;
    }

    /** The label smoothing eps. */
    public double labelSmoothing() {
        return labelSmoothing;
    }

    /** The z-loss coefficient (0: off). */
    public double zLoss() {
        return zLoss;
    }

    /** The logit soft-cap (0: off). */
    public double softCap() {
        return softCap;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FusedCrossEntropy f && Arrays.equals(classWeights, f.classWeights)
                && ignoreIndex == f.ignoreIndex && Double.compare(labelSmoothing, f.labelSmoothing) == 0
                && Double.compare(zLoss, f.zLoss) == 0 && Double.compare(softCap, f.softCap) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(classWeights), ignoreIndex, labelSmoothing, zLoss, softCap);
    }

    @Override
    public String toString() {
        return "FusedCrossEntropy(classWeights=" + Arrays.toString(classWeights) + ", ignoreIndex=" + ignoreIndex
                + ", labelSmoothing=" + labelSmoothing + ", zLoss=" + zLoss + ", softCap=" + softCap + ")";
    }
}
