package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.array;
import static org.fusedloss.djl.Harness.assertClose;
import static org.fusedloss.djl.Harness.normal;
import static org.fusedloss.djl.Harness.reference;
import static org.fusedloss.djl.Harness.run;
import static org.fusedloss.djl.Harness.scaled;
import static org.fusedloss.djl.Harness.uniform;

import ai.djl.ndarray.NDList;
import ai.djl.training.loss.L2Loss;
import java.util.Random;
import org.fusedloss.Batch;
import org.fusedloss.LossResult;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.Reduction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** FusedMeanSquaredErrorLoss against DJL's L2Loss (which is half the squared error) and the Java reference. */
class FusedMeanSquaredErrorLossTest extends WithManager {
    @ParameterizedTest(name = "{0} x {1}")
    @CsvSource({"1, 1", "64, 1", "64, 10", "257, 31"})
    void isTwiceDjlsL2Loss(int n, int k) {
        Random rnd = new Random(n * 3L + k);
        var x = array(manager, normal(rnd, n * k, 2), n, k);
        var t = array(manager, normal(rnd, n * k, 2), n, k);
        Harness.Run djl = run(new L2Loss(), x, new NDList(t));   // mean(1/2 (t - x)^2)
        Harness.Run fused = run(new FusedMeanSquaredErrorLoss(), x, new NDList(t));
        assertClose(2 * djl.loss(), fused.loss(), 1e-5, "loss = 2 x L2Loss");
        assertClose(scaled(djl.gradient(), 2), fused.gradient(), 1e-5, "gradient = 2 x L2Loss's");
    }

    @Test
    void sampleWeightsMatchTheJavaReference() {
        int n = 90;
        int h = 4;
        int w = 5;   // (N, H, W): a row is an example, its H x W outputs the columns
        Random rnd = new Random(4);
        float[] x = normal(rnd, n * h * w, 2);
        float[] t = normal(rnd, n * h * w, 2);
        float[] sw = uniform(rnd, n, 0, 3);
        for (Reduction r : new Reduction[] {Reduction.MEAN, Reduction.SUM, Reduction.BATCH_MEAN}) {
            MeanSquaredError mse = MeanSquaredError.builder().reduction(r).build();
            Harness.Run fused = run(new FusedMeanSquaredErrorLoss(mse), array(manager, x, n, h, w),
                    new NDList(array(manager, t, n, h, w), manager.create(sw)));
            float[] grad = new float[x.length];
            LossResult ref = reference(mse, Batch.of(x, n, h * w).targets(t).sampleWeights(sw).gradient(grad));
            assertClose(ref.loss(), fused.loss(), 1e-5, r + " loss");
            assertClose(grad, fused.gradient(), 1e-5, r + " gradient");
        }
    }

    @Test
    void reductionNoneGivesPerElementLossesAndTheirUpstreamWeightedGradient() {
        int n = 30;
        int k = 6;
        Random rnd = new Random(8);
        float[] x = normal(rnd, n * k, 2);
        float[] t = normal(rnd, n * k, 2);
        float[] sw = uniform(rnd, n, 0, 3);
        float[] upstream = normal(rnd, n * k, 1);
        MeanSquaredError mse = MeanSquaredError.builder().reduction(Reduction.NONE).build();
        Harness.Run fused = run(new FusedMeanSquaredErrorLoss(mse), array(manager, x, n, k),
                new NDList(array(manager, t, n, k), manager.create(sw)), upstream);
        float[] grad = new float[n * k];
        float[] perTerm = new float[n * k];
        reference(mse, Batch.of(x, n, k).targets(t).sampleWeights(sw).upstream(upstream).perTerm(perTerm)
                .gradient(grad));
        assertClose(perTerm, fused.value(), 1e-5, "per-element losses");
        assertClose(grad, fused.gradient(), 1e-5, "gradient of sum(upstream * loss)");
    }
}
