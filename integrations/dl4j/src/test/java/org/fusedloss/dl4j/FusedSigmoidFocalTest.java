package org.fusedloss.dl4j;

import static org.fusedloss.dl4j.Dl4jCheck.assertMatchesReference;
import static org.fusedloss.dl4j.Dl4jCheck.exampleWeights;
import static org.fusedloss.dl4j.Dl4jCheck.uniform;
import static org.fusedloss.dl4j.Dl4jCheck.zeroOne;

import org.fusedloss.Reduction;
import org.fusedloss.SigmoidFocal;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.api.ndarray.INDArray;

/** FusedSigmoidFocal (DL4J has no focal loss) against the core's Java reference. */
class FusedSigmoidFocalTest {

    @ParameterizedTest(name = "{0}x{1} alpha={2} gamma={3} mask={4}")
    @CsvSource({"1,1,0.25,2,none", "40,9,0.25,2,example", "40,9,-1,0.5,output", "300,100,0.75,3,output"})
    void matchesTheReference(int rows, int outputs, double alpha, double gamma, String mask) {
        INDArray x = uniform(rows * 13L + outputs, rows, outputs, -6, 6);
        INDArray t = zeroOne(rows + 7L, rows, outputs);
        INDArray m = switch (mask) {
            case "example" -> exampleWeights(rows + 2L, rows);
            case "output" -> zeroOne(rows + 3L, rows, outputs);
            default -> null;
        };
        assertMatchesReference(new FusedSigmoidFocal(SigmoidFocal.builder().alpha(alpha).gamma(gamma).build()), t, null,
                r -> SigmoidFocal.builder().alpha(alpha).gamma(gamma).reduction(r).computeGradient(r != Reduction.NONE)
                        .backend("java").build(),
                x, new ActivationSigmoid(), m);
    }
}
