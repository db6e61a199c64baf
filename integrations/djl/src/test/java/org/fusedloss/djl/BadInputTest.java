package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.array;
import static org.fusedloss.djl.Harness.normal;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import java.util.function.Function;
import org.fusedloss.CrossEntropy;
import org.fusedloss.MeanSquaredError;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad input throws IllegalArgumentException naming what is wrong, before anything is written: the
 * predictions keep their values, no gradient reaches them, and the last evaluation is unchanged.
 */
class BadInputTest extends WithManager {
    private static final int N = 6;
    private static final int C = 4;
    private static float[] logits;

    @BeforeAll
    static void start() {
        logits = normal(new Random(1), N * C, 2);
    }

    /** Runs the loss on fresh leaf predictions (made by {@code makePredictions}) and checks the rejection. */
    private static void rejects(FusedLoss loss, Function<NDManager, NDArray> makePredictions,
                                Function<NDManager, NDList> makeLabels, String mustSay) {
        // a good call first, so that "unchanged" is a real evaluation
        NDList goodLabels = loss instanceof FusedMeanSquaredErrorLoss ? new NDList(manager.zeros(new Shape(N, C)))
                : new NDList(manager.create(new int[N]));
        Harness.run(loss, array(manager, logits, N, C), goodLabels);
        FusedLoss.Evaluation before = loss.lastEvaluation();
        try (NDManager step = manager.newSubManager()) {
            NDArray x = makePredictions.apply(step);
            float[] values = x.toType(DataType.FLOAT32, false).toFloatArray();
            x.setRequiresGradient(true);
            NDList labels = makeLabels.apply(step);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> loss.evaluate(labels, new NDList(x)));
                assertTrue(e.getMessage().contains(mustSay), "message '" + e.getMessage() + "' should say " + mustSay);
            }
            assertArrayEquals(values, x.toType(DataType.FLOAT32, false).toFloatArray(), "predictions changed");
            assertArrayEquals(new float[values.length], x.getGradient().toType(DataType.FLOAT32, false).toFloatArray(),
                    "a gradient reached the predictions");
            assertSame(before, loss.lastEvaluation(), "the last evaluation changed");
        }
    }

    private static NDArray good(NDManager m) {
        return array(m, logits, N, C);
    }

    private static NDList labels(NDManager m, long... y) {
        return new NDList(m.create(y));
    }

    @Test
    void predictionsOtherThanFloat32() {
        rejects(new FusedCrossEntropyLoss(), m -> good(m).toType(DataType.FLOAT64, false),
                m -> labels(m, 0, 1, 2, 3, 0, 1), "FLOAT32");
    }

    @Test
    void labelsOfTheWrongShape() {
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good, m -> labels(m, 0, 1, 2, 3, 0), "do not fit");
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good,
                m -> new NDList(m.zeros(new Shape(N, C))), "do not fit");   // dense targets, sparseLabel true
        rejects(new FusedMeanSquaredErrorLoss(), BadInputTest::good,
                m -> new NDList(m.zeros(new Shape(C, N))), "do not fit");   // transposed targets
    }

    @Test
    void classIndexOutOfRange() {
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good, m -> labels(m, 0, 1, 2, 3, 4, 1), "labels");
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good, m -> labels(m, 0, 1, -2, 3, 0, 1), "labels");
    }

    @Test
    void classIndicesThatAreNotWholeNumbersOrInts() {
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good,
                m -> new NDList(m.create(new float[] {0, 1, 2.5f, 3, 0, 1})), "not a class index");
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good,
                m -> labels(m, 0, 1, (1L << 32) + 1, 3, 0, 1), "outside the int range");
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good,
                m -> new NDList(m.create(new boolean[N])), "not numbers");
    }

    @Test
    void badSampleWeights() {
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good,
                m -> new NDList(m.create(new long[N]), m.ones(new Shape(N + 1))), "sampleWeights");
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good,
                m -> new NDList(m.create(new long[N]), m.create(new float[] {1, 1, -1, 1, 1, 1})), "sampleWeights");
        rejects(new FusedMeanSquaredErrorLoss(), BadInputTest::good,
                m -> new NDList(m.zeros(new Shape(N, C)), m.ones(new Shape(N, C))), "sampleWeights");
    }

    @Test
    void wrongNumberOfArrays() {
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good,
                m -> new NDList(m.create(new long[N]), m.ones(new Shape(N)), m.ones(new Shape(N))), "labels must be");
        rejects(new FusedCrossEntropyLoss(), BadInputTest::good, m -> new NDList(), "labels must be");
    }

    @Test
    void aScalarPrediction() {
        rejects(new FusedMeanSquaredErrorLoss(), m -> m.create(1f), m -> new NDList(m.create(1f)), "scalar");
    }

    @Test
    void aLossBuiltWithoutItsGradient() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new FusedCrossEntropyLoss(CrossEntropy.builder().computeGradient(false).build()));
        assertTrue(e.getMessage().contains("computeGradient(false)"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new FusedMeanSquaredErrorLoss(MeanSquaredError.builder().computeGradient(false).build()));
    }

    @Test
    void twoPredictionArrays() {
        FusedLoss loss = new FusedCrossEntropyLoss();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loss.evaluate(labels(manager, 0, 1, 2, 3, 0, 1), new NDList(good(manager), good(manager))));
        assertTrue(e.getMessage().contains("one array"), e.getMessage());
    }
}
