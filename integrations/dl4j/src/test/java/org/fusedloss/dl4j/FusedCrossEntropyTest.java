package org.fusedloss.dl4j;

import static org.fusedloss.dl4j.Dl4jCheck.assertMatchesDl4j;
import static org.fusedloss.dl4j.Dl4jCheck.assertMatchesReference;
import static org.fusedloss.dl4j.Dl4jCheck.classIndices;
import static org.fusedloss.dl4j.Dl4jCheck.column;
import static org.fusedloss.dl4j.Dl4jCheck.exampleWeights;
import static org.fusedloss.dl4j.Dl4jCheck.oneHot;
import static org.fusedloss.dl4j.Dl4jCheck.uniform;

import java.util.function.Supplier;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Reduction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossSparseMCXENT;

/** FusedCrossEntropy against DL4J's LossMCXENT (one-hot and soft labels) and LossSparseMCXENT. */
class FusedCrossEntropyTest {
    private static final ActivationSoftmax SOFTMAX = new ActivationSoftmax();

    private static float[] classWeights(int classes) {
        float[] w = new float[classes];
        for (int c = 0; c < classes; c++) {
            w[c] = 0.5f + (c % 7) * 0.25f;
        }
        return w;
    }

    @ParameterizedTest(name = "{0}x{1} weighted={2} mask={3}")
    @CsvSource({"1,2,false,false", "37,11,false,false", "37,11,true,false", "64,7,true,true", "5,1000,true,true",
            "300,3,false,true"})
    void oneHotLabelsMatchLossMCXENT(int rows, int classes, boolean weighted, boolean masked) {
        INDArray x = uniform(rows * 31L + classes, rows, classes, -4, 4);
        INDArray labels = oneHot(classIndices(rows + 5L, rows, classes), classes);
        INDArray mask = masked ? exampleWeights(rows + 9L, rows) : null;
        float[] cw = weighted ? classWeights(classes) : null;
        assertMatchesDl4j(weighted ? new FusedCrossEntropy(cw) : new FusedCrossEntropy(), labels,
                new LossMCXENT(weighted ? Nd4j.create(cw) : null), labels, x, SOFTMAX, mask);
    }

    @ParameterizedTest(name = "{0}x{1} mask={2}")
    @CsvSource({"40,9,false", "40,9,true"})
    void softLabelsMatchLossMCXENT(int rows, int classes, boolean masked) {
        INDArray x = uniform(3, rows, classes, -4, 4);
        INDArray t = uniform(4, rows, classes, 0, 1);
        t.diviColumnVector(t.sum(true, 1));   // each row a distribution
        INDArray mask = masked ? exampleWeights(5, rows) : null;
        float[] cw = classWeights(classes);
        assertMatchesDl4j(new FusedCrossEntropy(cw), t, new LossMCXENT(Nd4j.create(cw)), t, x, SOFTMAX, mask);
    }

    @ParameterizedTest(name = "{0}x{1} weighted={2} mask={3}")
    @CsvSource({"37,11,false,false", "37,11,true,true", "256,300,true,false"})
    void classIndicesMatchLossSparseMCXENT(int rows, int classes, boolean weighted, boolean masked) {
        INDArray x = uniform(rows + classes, rows, classes, -4, 4);
        INDArray y = column(classIndices(rows, rows, classes));
        INDArray mask = masked ? exampleWeights(rows, rows) : null;
        float[] cw = weighted ? classWeights(classes) : null;
        assertMatchesDl4j(weighted ? new FusedCrossEntropy(cw) : new FusedCrossEntropy(), y,
                new LossSparseMCXENT(weighted ? Nd4j.create(cw) : null), y, x, SOFTMAX, mask);
    }

    /** What DL4J lacks (smoothing, z-loss, soft-cap, ignored rows) against the core's Java reference. */
    @ParameterizedTest(name = "class indices={0}")
    @CsvSource({"true", "false"})
    void smoothingZLossSoftCapAndIgnoreIndexMatchTheReference(boolean indices) {
        int rows = 50;
        int classes = 13;
        INDArray x = uniform(11, rows, classes, -6, 6);
        int[] y = classIndices(12, rows, classes);
        if (indices) {
            y[3] = -1;
            y[17] = -1;   // ignored
        }
        Supplier<CrossEntropy.Builder> settings = () -> CrossEntropy.builder().classWeights(classWeights(classes))
                .ignoreIndex(-1).labelSmoothing(0.1).zLoss(1e-3).softCap(5);
        INDArray labels = indices ? column(y) : oneHot(y, classes);
        assertMatchesReference(new FusedCrossEntropy(settings.get().build()), labels, indices ? y : null,
                r -> settings.get().reduction(r).computeGradient(r != Reduction.NONE).backend("java").build(),
                x, SOFTMAX, exampleWeights(13, rows));
    }
}
