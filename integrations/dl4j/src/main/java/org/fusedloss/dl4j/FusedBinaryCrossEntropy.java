package org.fusedloss.dl4j;

import java.util.Arrays;
import java.util.Objects;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.Loss;
import org.fusedloss.Reduction;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Binary cross-entropy for a DL4J output layer with {@code Activation.SIGMOID}: DL4J's
 * {@code LossBinaryXENT} in one fused pass on the logits (no clipping of the probabilities: the
 * stable form needs none), with what it lacks (per-output pos_weight, binary class weights).
 * Labels are dense, of {@code preOutput}'s shape. The rules for the score, {@code average}, masks
 * and memory are {@link FusedLossFunction}'s.
 */
public final class FusedBinaryCrossEntropy extends FusedLossFunction {
    private static final long serialVersionUID = 1L;

    @JsonProperty private final float[] posWeight;
    @JsonProperty private final float[] binaryClassWeights;

    /** Plain binary cross-entropy, as DL4J's {@code LossBinaryXENT()}. */
    public FusedBinaryCrossEntropy() {
        this(BinaryCrossEntropy.builder().build());
    }

    /** Wraps a configured binary cross-entropy (pos_weight, binary class weights); its reduction, gradient scale and gradient switch must be left at their defaults. */
    public FusedBinaryCrossEntropy(BinaryCrossEntropy loss) {
        super(checked(loss, "FusedBinaryCrossEntropy"), Fused.SIGMOID, Labels.DENSE);
        this.posWeight = loss.posWeight();
        this.binaryClassWeights = loss.binaryClassWeights();
    }

    @JsonCreator
    FusedBinaryCrossEntropy(@JsonProperty("posWeight") float[] posWeight,
                            @JsonProperty("binaryClassWeights") float[] binaryClassWeights) {
        this(settings(posWeight, binaryClassWeights).build());
    }

    private static BinaryCrossEntropy.Builder settings(float[] posWeight, float[] binaryClassWeights) {
        BinaryCrossEntropy.Builder b = BinaryCrossEntropy.builder();
        if (posWeight != null) {
            b.posWeight(posWeight);
        }
        if (binaryClassWeights != null) {
            if (binaryClassWeights.length != 2) {
                throw new IllegalArgumentException("binaryClassWeights: has " + binaryClassWeights.length
                        + " entries, not 2 ({w0, w1})");
            }
            b.binaryClassWeights(binaryClassWeights[0], binaryClassWeights[1]);
        }
        return b;
    }

    @Override
    Loss build(Reduction reduction, boolean gradient) {
        return settings(posWeight, binaryClassWeights).reduction(reduction).computeGradient(gradient).build();
    }

    /** The per-output pos_weight (a copy), or null. */
    public float[] posWeight() {
        return posWeight == null ? null : posWeight.clone();
    }

    /** The binary class weights {w0, w1} (a copy), or null. */
    public float[] binaryClassWeights() {
        return binaryClassWeights == null ? null : binaryClassWeights.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FusedBinaryCrossEntropy f && Arrays.equals(posWeight, f.posWeight)
                && Arrays.equals(binaryClassWeights, f.binaryClassWeights);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(posWeight), Arrays.hashCode(binaryClassWeights));
    }

    @Override
    public String toString() {
        return "FusedBinaryCrossEntropy(posWeight=" + Arrays.toString(posWeight) + ", binaryClassWeights="
                + Arrays.toString(binaryClassWeights) + ")";
    }
}
