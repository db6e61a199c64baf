package org.fusedloss.dl4j;

import static org.fusedloss.dl4j.Dl4jCheck.assertMatchesReference;
import static org.fusedloss.dl4j.Dl4jCheck.classIndices;
import static org.fusedloss.dl4j.Dl4jCheck.column;
import static org.fusedloss.dl4j.Dl4jCheck.exampleWeights;
import static org.fusedloss.dl4j.Dl4jCheck.oneHot;
import static org.fusedloss.dl4j.Dl4jCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.function.Supplier;
import org.fusedloss.Reduction;
import org.fusedloss.SoftmaxFocal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/** FusedSoftmaxFocal (DL4J has no focal loss) against the core's Java reference, and at gamma 0 against LossMCXENT. */
class FusedSoftmaxFocalTest {
    private static final ActivationSoftmax SOFTMAX = new ActivationSoftmax();

    @ParameterizedTest(name = "{0}x{1} class indices={2} mask={3}")
    @CsvSource({"1,2,true,false", "37,11,true,true", "37,11,false,true", "128,500,false,false"})
    void matchesTheReference(int rows, int classes, boolean indices, boolean masked) {
        INDArray x = uniform(rows + 17L * classes, rows, classes, -5, 5);
        int[] y = classIndices(rows + 1L, rows, classes);
        float[] alpha = new float[classes];
        for (int c = 0; c < classes; c++) {
            alpha[c] = 0.25f + (c % 3) * 0.25f;
        }
        Supplier<SoftmaxFocal.Builder> settings = () -> SoftmaxFocal.builder().alpha(alpha).gamma(1.5);
        assertMatchesReference(new FusedSoftmaxFocal(settings.get().build()), indices ? column(y) : oneHot(y, classes),
                y, r -> settings.get().reduction(r).computeGradient(r != Reduction.NONE).backend("java").build(),
                x, SOFTMAX, masked ? exampleWeights(rows, rows) : null);
    }

    /** A row of zeros (padding) is ignored, as DL4J's cross-entropy scores it 0. */
    @Test
    void aRowOfZerosIsIgnored() {
        INDArray x = uniform(5, 6, 4, -3, 3);
        int[] y = {0, 3, -100, 2, 1, -100};
        INDArray labels = oneHot(new int[] {0, 3, 0, 2, 1, 0}, 4);
        labels.getRow(2).assign(0);
        labels.getRow(5).assign(0);
        assertMatchesReference(new FusedSoftmaxFocal(), labels, y,
                r -> SoftmaxFocal.builder().reduction(r).computeGradient(r != Reduction.NONE).backend("java").build(),
                x, SOFTMAX, null);
        assertEquals(0.0, new FusedSoftmaxFocal().computeScoreArray(labels, x, SOFTMAX, null).getDouble(2, 0));
    }

    /** With gamma 0 the focal loss is the cross-entropy with class weights alpha: DL4J's own numbers. */
    @Test
    void gammaZeroIsLossMCXENTWithWeightsAlpha() {
        float[] alpha = {0.5f, 1f, 2f, 0.25f, 1.5f};
        INDArray x = uniform(8, 60, 5, -4, 4);
        INDArray labels = oneHot(classIndices(9, 60, 5), 5);
        Dl4jCheck.assertMatchesDl4j(new FusedSoftmaxFocal(SoftmaxFocal.builder().alpha(alpha).gamma(0).build()),
                labels, new LossMCXENT(org.nd4j.linalg.factory.Nd4j.create(alpha)), labels, x, SOFTMAX,
                exampleWeights(10, 60));
    }
}
