package org.fusedloss.dl4j;

import static org.fusedloss.dl4j.Dl4jCheck.assertMatchesDl4j;
import static org.fusedloss.dl4j.Dl4jCheck.exampleWeights;
import static org.fusedloss.dl4j.Dl4jCheck.uniform;
import static org.fusedloss.dl4j.Dl4jCheck.zeroOne;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;

/** FusedMeanSquaredError against DL4J's LossMSE (the mean over each example's outputs). */
class FusedMeanSquaredErrorTest {

    @ParameterizedTest(name = "{0}x{1} mask={2}")
    @CsvSource({"1,1,none", "29,1,example", "29,13,none", "29,13,example", "29,13,output", "500,100,example"})
    void matchesLossMSE(int rows, int outputs, String mask) {
        INDArray x = uniform(rows * 3L + outputs, rows, outputs, -4, 4);
        INDArray t = uniform(rows * 5L + outputs, rows, outputs, -4, 4);
        INDArray m = switch (mask) {
            case "example" -> outputs == 1 ? zeroOne(rows + 2L, rows, 1) : exampleWeights(rows + 2L, rows);
            case "output" -> zeroOne(rows + 3L, rows, outputs);
            default -> null;
        };
        assertMatchesDl4j(new FusedMeanSquaredError(), t, new LossMSE(), t, x, new ActivationIdentity(), m);
    }
}
