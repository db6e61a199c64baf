package org.fusedloss.dl4j;

import static org.fusedloss.dl4j.Dl4jCheck.assertMatchesDl4j;
import static org.fusedloss.dl4j.Dl4jCheck.assertMatchesReference;
import static org.fusedloss.dl4j.Dl4jCheck.exampleWeights;
import static org.fusedloss.dl4j.Dl4jCheck.uniform;
import static org.fusedloss.dl4j.Dl4jCheck.zeroOne;

import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.Reduction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;

/**
 * FusedBinaryCrossEntropy against DL4J's LossBinaryXENT. The logits stay in [-4, 4], where DL4J's
 * clipping of the probabilities to [1e-5, 1 - 1e-5] does not act (the fused loss never clips).
 */
class FusedBinaryCrossEntropyTest {
    private static final ActivationSigmoid SIGMOID = new ActivationSigmoid();

    @ParameterizedTest(name = "{0}x{1} mask={2}")
    @CsvSource({"1,1,none", "33,1,example", "41,17,none", "41,17,example", "41,17,output", "200,100,output"})
    void matchesLossBinaryXENT(int rows, int outputs, String mask) {
        INDArray x = uniform(rows * 7L + outputs, rows, outputs, -4, 4);
        INDArray t = zeroOne(rows + 1L, rows, outputs);
        INDArray m = switch (mask) {
            case "example" -> outputs == 1 ? zeroOne(rows + 2L, rows, 1) : exampleWeights(rows + 2L, rows);
            case "output" -> zeroOne(rows + 3L, rows, outputs);
            default -> null;
        };
        assertMatchesDl4j(new FusedBinaryCrossEntropy(), t, new LossBinaryXENT(), t, x, SIGMOID, m);
    }

    @Test
    void softTargetsMatchLossBinaryXENT() {
        INDArray x = uniform(1, 30, 8, -4, 4);
        INDArray t = uniform(2, 30, 8, 0, 1);
        assertMatchesDl4j(new FusedBinaryCrossEntropy(), t, new LossBinaryXENT(), t, x, SIGMOID,
                exampleWeights(3, 30));
    }

    /** What DL4J lacks (pos_weight, binary class weights) against the core's Java reference. */
    @Test
    void posWeightAndBinaryClassWeightsMatchTheReference() {
        int rows = 45;
        int outputs = 6;
        float[] pw = {1f, 1.5f, 2f, 2.5f, 1f, 3f};
        INDArray x = uniform(21, rows, outputs, -8, 8);
        INDArray t = zeroOne(22, rows, outputs);
        assertMatchesReference(new FusedBinaryCrossEntropy(BinaryCrossEntropy.builder().posWeight(pw)
                        .binaryClassWeights(0.5f, 2f).build()), t, null,
                r -> BinaryCrossEntropy.builder().posWeight(pw).binaryClassWeights(0.5f, 2f).reduction(r)
                        .computeGradient(r != Reduction.NONE).backend("java").build(),
                x, SIGMOID, zeroOne(23, rows, outputs));
    }
}
