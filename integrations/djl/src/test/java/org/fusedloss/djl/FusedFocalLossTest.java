package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.array;
import static org.fusedloss.djl.Harness.assertClose;
import static org.fusedloss.djl.Harness.binary;
import static org.fusedloss.djl.Harness.classes;
import static org.fusedloss.djl.Harness.longs;
import static org.fusedloss.djl.Harness.normal;
import static org.fusedloss.djl.Harness.reference;
import static org.fusedloss.djl.Harness.run;
import static org.fusedloss.djl.Harness.uniform;

import ai.djl.ndarray.NDList;
import java.util.Random;
import org.fusedloss.Batch;
import org.fusedloss.LossResult;
import org.fusedloss.SigmoidFocal;
import org.fusedloss.SoftmaxFocal;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The two focal losses, which DJL lacks, against the core's Java reference, with and without weights. */
class FusedFocalLossTest extends WithManager {
    @ParameterizedTest(name = "{0} x {1}, gamma {2}")
    @CsvSource({"64, 10, 2", "33, 1000, 0.5", "100, 3, 0"})
    void softmaxFocalMatchesTheJavaReference(int n, int c, double gamma) {
        Random rnd = new Random(n + 3L * c);
        float[] x = normal(rnd, n * c, 3);
        int[] y = classes(rnd, n, c);
        float[] alpha = uniform(rnd, c, 0.1, 1);
        float[] sw = uniform(rnd, n, 0.25, 2);
        SoftmaxFocal focal = SoftmaxFocal.builder().alpha(alpha).gamma(gamma).build();
        for (boolean weighted : new boolean[] {false, true}) {
            NDList labels = weighted ? new NDList(manager.create(longs(y)), manager.create(sw))
                    : new NDList(manager.create(longs(y)));
            Harness.Run fused = run(new FusedSoftmaxFocalLoss(focal), array(manager, x, n, c), labels);
            float[] grad = new float[n * c];
            Batch batch = Batch.of(x, n, c).labels(y).gradient(grad);
            LossResult ref = reference(focal, weighted ? batch.sampleWeights(sw) : batch);
            assertClose(ref.loss(), fused.loss(), 1e-5, "loss, weighted " + weighted);
            assertClose(grad, fused.gradient(), 1e-5, "gradient, weighted " + weighted);
        }
    }

    @ParameterizedTest(name = "{0} x {1}, alpha {2}, gamma {3}")
    @CsvSource({"64, 10, 0.25, 2", "200, 7, -1, 1.5", "1, 1, 0.5, 0"})
    void sigmoidFocalMatchesTheJavaReference(int n, int k, double alpha, double gamma) {
        Random rnd = new Random(n + 5L * k);
        float[] x = normal(rnd, n * k, 3);
        float[] t = binary(rnd, n * k);
        float[] sw = uniform(rnd, n, 0.25, 2);
        SigmoidFocal focal = SigmoidFocal.builder().alpha(alpha).gamma(gamma).build();
        for (boolean weighted : new boolean[] {false, true}) {
            NDList labels = weighted ? new NDList(array(manager, t, n, k), manager.create(sw))
                    : new NDList(array(manager, t, n, k));
            Harness.Run fused = run(new FusedSigmoidFocalLoss(focal), array(manager, x, n, k), labels);
            float[] grad = new float[n * k];
            Batch batch = Batch.of(x, n, k).targets(t).gradient(grad);
            LossResult ref = reference(focal, weighted ? batch.sampleWeights(sw) : batch);
            assertClose(ref.loss(), fused.loss(), 1e-5, "loss, weighted " + weighted);
            assertClose(grad, fused.gradient(), 1e-5, "gradient, weighted " + weighted);
        }
    }
}
