package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.array;
import static org.fusedloss.djl.Harness.assertClose;
import static org.fusedloss.djl.Harness.classes;
import static org.fusedloss.djl.Harness.longs;
import static org.fusedloss.djl.Harness.normal;
import static org.fusedloss.djl.Harness.reference;
import static org.fusedloss.djl.Harness.run;
import static org.fusedloss.djl.Harness.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import java.util.Random;
import org.fusedloss.Batch;
import org.fusedloss.CrossEntropy;
import org.fusedloss.LossResult;
import org.fusedloss.Reduction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** FusedCrossEntropyLoss against DJL's SoftmaxCrossEntropyLoss and against the core's Java reference. */
class FusedCrossEntropyLossTest extends WithManager {
    @ParameterizedTest(name = "{0} x {1}")
    @CsvSource({"1, 2", "7, 3", "64, 10", "33, 1000", "4, 40000"})
    void sparseLabelsMatchDjlsSoftmaxCrossEntropy(int n, int c) {
        Random rnd = new Random(n * 31L + c);
        NDArray x = array(manager, normal(rnd, n * c, 3), n, c);
        int[] y = classes(rnd, n, c);
        // DJL's default label type (INT64), as (N) and as (N, 1), and float labels as DJL datasets give them
        NDArray[] labelForms = {
            manager.create(longs(y)), manager.create(longs(y), new Shape(n, 1)),
            manager.create(y).toType(DataType.FLOAT32, false), manager.create(y)};
        Harness.Run djl = run(new SoftmaxCrossEntropyLoss(), x, new NDList(labelForms[0]));
        for (NDArray labels : labelForms) {
            Harness.Run fused = run(new FusedCrossEntropyLoss(), x, new NDList(labels));
            assertClose(djl.loss(), fused.loss(), 1e-5, "loss, labels " + labels.getDataType() + " " + labels.getShape());
            assertClose(djl.gradient(), fused.gradient(), 1e-5, "gradient, labels " + labels.getShape());
        }
    }

    @ParameterizedTest(name = "{0} x {1}")
    @CsvSource({"7, 3", "64, 10", "33, 1000"})
    void denseTargetsMatchDjlsSoftmaxCrossEntropy(int n, int c) {
        Random rnd = new Random(n * 17L + c);
        NDArray x = array(manager, normal(rnd, n * c, 3), n, c);
        // soft targets (rows of probabilities) and one-hot ones
        NDArray soft = array(manager, uniform(rnd, n * c, 0, 1), n, c);
        soft = soft.div(soft.sum(new int[] {1}, true));
        NDArray oneHot = manager.create(classes(rnd, n, c)).oneHot(c).toType(DataType.FLOAT32, false);
        for (NDArray t : new NDArray[] {soft, oneHot}) {
            SoftmaxCrossEntropyLoss djlLoss = new SoftmaxCrossEntropyLoss("ce", 1, -1, false, true);
            Harness.Run djl = run(djlLoss, x, new NDList(t));
            Harness.Run fused = run(new FusedCrossEntropyLoss(CrossEntropy.builder().build(), false), x, new NDList(t));
            assertClose(djl.loss(), fused.loss(), 1e-5, "loss");
            assertClose(djl.gradient(), fused.gradient(), 1e-5, "gradient");
        }
    }

    @ParameterizedTest(name = "{0} x {1}, smoothing {2}")
    @CsvSource({"64, 10, 0", "33, 1000, 0.1", "5, 70000, 0"})
    void classAndSampleWeightsMatchTheJavaReference(int n, int c, double smoothing) {
        Random rnd = new Random(n + 7L * c);
        float[] logits = normal(rnd, n * c, 3);
        int[] y = classes(rnd, n, c);
        y[0] = -100;   // ignored row
        float[] cw = uniform(rnd, c, 0.5, 2);
        float[] sw = uniform(rnd, n, 0.25, 2);
        CrossEntropy ce = CrossEntropy.builder().classWeights(cw).labelSmoothing(smoothing).zLoss(1e-3).build();
        FusedCrossEntropyLoss loss = new FusedCrossEntropyLoss(ce);

        Harness.Run fused = run(loss, array(manager, logits, n, c),
                new NDList(manager.create(longs(y)), manager.create(sw)));
        float[] grad = new float[n * c];
        LossResult ref = reference(ce, Batch.of(logits, n, c).labels(y).sampleWeights(sw).gradient(grad));
        assertClose(ref.loss(), fused.loss(), 1e-5, "loss");
        assertClose(grad, fused.gradient(), 1e-5, "gradient");
        assertEquals(n - 1, loss.lastEvaluation().result().counted(), "the ignored row is not counted");

        // without sample weights, dense targets with class weights
        Harness.Run unweighted = run(loss, array(manager, logits, n, c), new NDList(manager.create(longs(y))));
        LossResult ref2 = reference(ce, Batch.of(logits, n, c).labels(y).gradient(grad));
        assertClose(ref2.loss(), unweighted.loss(), 1e-5, "loss without sample weights");
        assertClose(grad, unweighted.gradient(), 1e-5, "gradient without sample weights");
    }

    @Test
    void denseTargetsWithClassAndSampleWeightsMatchTheJavaReference() {
        int n = 40;
        int c = 12;
        Random rnd = new Random(5);
        float[] logits = normal(rnd, n * c, 2);
        float[] t = uniform(rnd, n * c, 0, 1);
        float[] cw = uniform(rnd, c, 0.5, 2);
        float[] sw = uniform(rnd, n, 0.25, 2);
        CrossEntropy ce = CrossEntropy.builder().classWeights(cw).build();
        Harness.Run fused = run(new FusedCrossEntropyLoss(ce, false), array(manager, logits, n, c),
                new NDList(array(manager, t, n, c), array(manager, sw, n, 1)));
        float[] grad = new float[n * c];
        LossResult ref = reference(ce, Batch.of(logits, n, c).targets(t).sampleWeights(sw).gradient(grad));
        assertClose(ref.loss(), fused.loss(), 1e-5, "loss");
        assertClose(grad, fused.gradient(), 1e-5, "gradient");
    }

    @Test
    void sequencesOfLogitsAreRowsOfTheLastAxis() {
        int b = 3;
        int steps = 5;
        int c = 11;
        Random rnd = new Random(9);
        float[] logits = normal(rnd, b * steps * c, 2);
        int[] y = classes(rnd, b * steps, c);
        float[] sw = uniform(rnd, b * steps, 0, 2);
        CrossEntropy ce = CrossEntropy.builder().build();
        Harness.Run fused = run(new FusedCrossEntropyLoss(ce), array(manager, logits, b, steps, c),
                new NDList(manager.create(longs(y), new Shape(b, steps)), array(manager, sw, b, steps)));
        float[] grad = new float[logits.length];
        LossResult ref = reference(ce, Batch.of(logits, b * steps, c).labels(y).sampleWeights(sw).gradient(grad));
        assertClose(ref.loss(), fused.loss(), 1e-5, "loss");
        assertClose(grad, fused.gradient(), 1e-5, "gradient");
    }

    @Test
    void reductionNoneGivesPerRowLossesAndTheirUpstreamWeightedGradient() {
        int n = 20;
        int c = 7;
        Random rnd = new Random(3);
        float[] logits = normal(rnd, n * c, 2);
        int[] y = classes(rnd, n, c);
        float[] sw = uniform(rnd, n, 0.5, 2);
        float[] upstream = normal(rnd, n, 1);
        CrossEntropy ce = CrossEntropy.builder().reduction(Reduction.NONE).classWeights(uniform(rnd, c, 1, 2)).build();
        Harness.Run fused = run(new FusedCrossEntropyLoss(ce), array(manager, logits, n, c),
                new NDList(manager.create(y), manager.create(sw)), upstream);
        float[] grad = new float[n * c];
        float[] perTerm = new float[n];
        reference(ce, Batch.of(logits, n, c).labels(y).sampleWeights(sw).upstream(upstream).perTerm(perTerm)
                .gradient(grad));
        assertClose(perTerm, fused.value(), 1e-5, "per-row losses");
        assertClose(grad, fused.gradient(), 1e-5, "gradient of sum(upstream * loss)");
    }

    @Test
    void djlsLossMetricGetsTheSameValueWithoutTheGradient() {
        int n = 30;
        int c = 6;
        Random rnd = new Random(12);
        NDArray x = array(manager, normal(rnd, n * c, 2), n, c);
        NDList labels = new NDList(manager.create(classes(rnd, n, c)), manager.create(uniform(rnd, n, 0.5, 2)));
        FusedCrossEntropyLoss loss = new FusedCrossEntropyLoss(CrossEntropy.builder().labelSmoothing(0.05).build());
        float value = loss.evaluate(labels, new NDList(x)).getFloat();
        loss.addAccumulator("train");
        loss.updateAccumulators(new String[] {"train"}, labels, new NDList(x));
        loss.updateAccumulators(new String[] {"train"}, labels, new NDList(x));
        assertEquals(value, loss.getAccumulator("train"), 1e-6f * Math.abs(value));
    }

    @Test
    void anEmptyBatchGivesAZeroLossAndAnEmptyGradient() {
        NDArray x = manager.create(new float[0], new Shape(0, 5));
        Harness.Run fused = run(new FusedCrossEntropyLoss(), x, new NDList(manager.create(new long[0])));
        assertEquals(0f, fused.loss());
        assertEquals(0, fused.gradient().length);
    }
}
