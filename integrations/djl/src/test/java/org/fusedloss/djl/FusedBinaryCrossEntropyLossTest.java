package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.array;
import static org.fusedloss.djl.Harness.assertClose;
import static org.fusedloss.djl.Harness.binary;
import static org.fusedloss.djl.Harness.normal;
import static org.fusedloss.djl.Harness.reference;
import static org.fusedloss.djl.Harness.run;
import static org.fusedloss.djl.Harness.uniform;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.loss.SigmoidBinaryCrossEntropyLoss;
import java.util.Random;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.Batch;
import org.fusedloss.LossResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** FusedBinaryCrossEntropyLoss against DJL's SigmoidBinaryCrossEntropyLoss and the core's Java reference. */
class FusedBinaryCrossEntropyLossTest extends WithManager {
    @ParameterizedTest(name = "{0} x {1}")
    @CsvSource({"1, 1", "50, 1", "64, 10", "300, 37"})
    void matchesDjlsSigmoidBinaryCrossEntropy(int n, int k) {
        Random rnd = new Random(n * 13L + k);
        var x = array(manager, normal(rnd, n * k, 4), n, k);
        var t = array(manager, binary(rnd, n * k), n, k);
        Harness.Run djl = run(new SigmoidBinaryCrossEntropyLoss(), x, new NDList(t));
        Harness.Run fused = run(new FusedBinaryCrossEntropyLoss(), x, new NDList(t));
        assertClose(djl.loss(), fused.loss(), 1e-5, "loss");
        assertClose(djl.gradient(), fused.gradient(), 1e-5, "gradient");
        // integer 0/1 labels are converted (one copy), with the same result
        Harness.Run intLabels = run(new FusedBinaryCrossEntropyLoss(), x, new NDList(t.toType(DataType.INT32, false)));
        assertClose(djl.gradient(), intLabels.gradient(), 1e-5, "gradient, INT32 targets");
    }

    @Test
    void oneLogitPerExampleAsDjlShapesIt() {
        Random rnd = new Random(2);
        var x = array(manager, normal(rnd, 40, 3), 40);
        var t = array(manager, binary(rnd, 40), 40, 1);
        Harness.Run djl = run(new SigmoidBinaryCrossEntropyLoss(), x, new NDList(t));
        Harness.Run fused = run(new FusedBinaryCrossEntropyLoss(), x, new NDList(t));
        assertClose(djl.loss(), fused.loss(), 1e-5, "loss");
        assertClose(djl.gradient(), fused.gradient(), 1e-5, "gradient");
    }

    @ParameterizedTest(name = "soft targets {0}")
    @CsvSource({"false", "true"})
    void posWeightAndSampleWeightsMatchTheJavaReference(boolean soft) {
        int n = 120;
        int k = 9;
        Random rnd = new Random(soft ? 1 : 0);
        float[] x = normal(rnd, n * k, 3);
        float[] t = soft ? uniform(rnd, n * k, 0, 1) : binary(rnd, n * k);
        float[] pw = uniform(rnd, k, 1, 4);
        float[] sw = uniform(rnd, n, 0.25, 2);
        sw[3] = Float.NaN;   // a missing weight masks the example
        BinaryCrossEntropy bce = BinaryCrossEntropy.builder().posWeight(pw).build();
        for (boolean weighted : new boolean[] {false, true}) {
            NDList labels = weighted ? new NDList(array(manager, t, n, k), manager.create(sw))
                    : new NDList(array(manager, t, n, k));
            Harness.Run fused = run(new FusedBinaryCrossEntropyLoss(bce), array(manager, x, n, k), labels);
            float[] grad = new float[n * k];
            Batch batch = Batch.of(x, n, k).targets(t).gradient(grad);
            LossResult ref = reference(bce, weighted ? batch.sampleWeights(sw) : batch);
            assertClose(ref.loss(), fused.loss(), 1e-5, "loss, weighted " + weighted);
            assertClose(grad, fused.gradient(), 1e-5, "gradient, weighted " + weighted);
        }
    }
}
