package org.fusedloss.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Reduction;
import org.fusedloss.SigmoidFocal;
import org.fusedloss.SoftmaxFocal;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The data-parallel objective on local[2]: equal to the single-machine loss whatever the partitioning. */
class LinearObjectiveTest {
    private static SparkSession spark;
    private static final TestData DATA = TestData.imbalanced(7, 3000, 6, 4);
    private static final float[] CLASS_WEIGHTS = {0.5f, 1f, 2f, 4f};

    @BeforeAll
    static void start() {
        spark = TestSpark.local();
    }

    private static LinearObjective objective(LossFactory loss, int partitions, int outputs) {
        return LinearObjective.builder(loss).weightCol("weight").numOutputs(outputs).blockRows(256)
                .build(DATA.dataset(spark, partitions));
    }

    /** 1, 2 and 7 partitions (blocks of 256 rows): the single-machine result to 1e-12, and the same bits on a rerun. */
    @Test
    void partitionCountDoesNotChangeLossOrGradient() {
        LossFactory loss = () -> CrossEntropy.builder().classWeights(CLASS_WEIGHTS).labelSmoothing(0.05).build();
        double[] coefficients = DATA.randomCoefficients(11, 4, true);
        Lbfgs.Point single = DATA.singleMachine(loss.create(), coefficients, 4, true, null);
        for (int partitions : new int[] {1, 2, 7}) {
            try (LinearObjective objective = objective(loss, partitions, 4)) {
                LinearObjective.Evaluation first = objective.evaluate(coefficients);
                LinearObjective.Evaluation again = objective.evaluate(coefficients);
                assertEquals(first.loss(), again.loss(), 0.0, partitions + " partitions: a rerun changed the loss");
                assertArrayEquals(first.gradient(), again.gradient(), 0.0,
                        partitions + " partitions: a rerun changed the gradient");
                assertClose(single.value(), first.loss(), 1e-12, partitions + " partitions, loss");
                assertClose(single.gradient(), first.gradient(), 1e-12, partitions + " partitions, gradient");
                assertEquals(Map.of("native", (long) blocks(partitions)), first.backendBlocks(),
                        "every block ran on the native backend");
            }
        }
    }

    /** The rows each partition of parallelize(rows, p) holds, in blocks of 256. */
    private static int blocks(int partitions) {
        int total = 0;
        for (int p = 0; p < partitions; p++) {
            long start = (long) p * DATA.rows / partitions;
            long end = (long) (p + 1) * DATA.rows / partitions;
            total += (int) ((end - start + 255) / 256);
        }
        return total;
    }

    /** MEAN divides every block by the weight sum of the whole data set: sum of classWeight[y] * weight. */
    @Test
    void meanDividesByTheGlobalWeightSum() {
        double expected = 0;
        for (int i = 0; i < DATA.rows; i++) {
            expected += (double) CLASS_WEIGHTS[DATA.labels[i]] * DATA.weights[i];
        }
        try (LinearObjective objective = objective(() -> CrossEntropy.builder().classWeights(CLASS_WEIGHTS).build(),
                3, 4)) {
            assertEquals(expected, objective.denominator(), 1e-9 * expected);
            assertEquals(expected, objective.weightSum(), 1e-9 * expected);
            assertEquals(DATA.rows, objective.rows());
            assertEquals(DATA.rows, objective.counted());
        }
    }

    /**
     * Both block products of both implementations against plain loops, on shapes around the
     * vector widths (a transposed BLAS argument or a wrong tail would fail here); and the vector
     * logits of a row are the same bits wherever the row starts in its block.
     */
    @Test
    void blockMathMatchesPlainLoops() {
        java.util.Random random = new java.util.Random(9);
        BlockMath[] all = {new BlasBlockMath("test"), new VectorBlockMath()};
        for (int rows : new int[] {1, 3, 4, 5, 16, 17, 33}) {
            for (int d : new int[] {1, 4, 7, 8, 9, 100}) {
                for (int k : new int[] {1, 3, 4, 5, 10}) {
                    for (boolean intercept : new boolean[] {true, false}) {
                        double[] x = gaussian(random, rows * d);
                        double[] w = gaussian(random, k * d + (intercept ? k : 0));
                        double[] g = gaussian(random, rows * k);
                        double[] z0 = new double[rows * k];
                        double[] grad0 = gaussian(random, w.length);
                        for (int i = 0; i < rows; i++) {
                            for (int c = 0; c < k; c++) {
                                double s = intercept ? w[k * d + c] : 0;
                                for (int j = 0; j < d; j++) {
                                    s += w[c * d + j] * x[i * d + j];
                                }
                                z0[i * k + c] = s;
                            }
                        }
                        double[] gradExpected = grad0.clone();
                        for (int i = 0; i < rows; i++) {
                            for (int c = 0; c < k; c++) {
                                for (int j = 0; j < d; j++) {
                                    gradExpected[c * d + j] += g[i * k + c] * x[i * d + j];
                                }
                                if (intercept) {
                                    gradExpected[k * d + c] += g[i * k + c];
                                }
                            }
                        }
                        for (BlockMath math : all) {
                            String what = math.describe() + " rows " + rows + " d " + d + " k " + k;
                            double[] z = new double[rows * k];
                            math.logits(x, rows, d, w, intercept, k, z);
                            assertArrayEquals(z0, z, 1e-12 * (1 + d), what + ": logits");
                            double[] grad = grad0.clone();
                            math.accumulate(g, x, rows, d, k, intercept, grad);
                            assertArrayEquals(gradExpected, grad, 1e-12 * (1 + rows), what + ": gradient");
                        }
                        // Rows 1.. as a block of their own: the same logits bits (vector implementation).
                        if (rows > 1) {
                            double[] all2 = new double[rows * k];
                            double[] rest = new double[(rows - 1) * k];
                            all[1].logits(x, rows, d, w, intercept, k, all2);
                            all[1].logits(java.util.Arrays.copyOfRange(x, d, rows * d), rows - 1, d, w, intercept, k,
                                    rest);
                            assertArrayEquals(java.util.Arrays.copyOfRange(all2, k, rows * k), rest, 0.0,
                                    "a row's logits depend on its place in the block");
                        }
                    }
                }
            }
        }
    }

    private static double[] gaussian(java.util.Random random, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = random.nextGaussian();
        }
        return v;
    }

    /**
     * The gradient with respect to the coefficients against central differences of the objective,
     * on the Java backend (double precision inside; the logits are floats, hence the allowance).
     */
    @Test
    void gradientMatchesCentralDifferences() {
        LossFactory loss = () -> CrossEntropy.builder().classWeights(CLASS_WEIGHTS).backend("java").build();
        double[] c = DATA.randomCoefficients(5, 4, true);
        try (LinearObjective objective = objective(loss, 2, 4)) {
            double[] g = objective.evaluate(c).gradient();
            double h = 1e-3;
            double norm = Math.sqrt(java.util.Arrays.stream(g).map(v -> v * v).sum());
            for (int i = 0; i < c.length; i += 5) {
                double[] plus = c.clone();
                double[] minus = c.clone();
                plus[i] += h;
                minus[i] -= h;
                double fd = (objective.evaluate(plus).loss() - objective.evaluate(minus).loss()) / (2 * h);
                assertEquals(fd, g[i], 1e-4 * norm, "coefficient " + i);
            }
        }
    }

    /** The other losses and reductions against the single-machine result. */
    @Test
    void otherLossesAndReductionsMatchTheSingleMachineResult() {
        double[] c4 = DATA.randomCoefficients(13, 4, true);
        check(() -> SoftmaxFocal.builder().alpha(CLASS_WEIGHTS).gamma(2).build(), c4, 4, null);
        check(() -> CrossEntropy.builder().reduction(Reduction.SUM).build(), c4, 4, null);
        check(() -> CrossEntropy.builder().reduction(Reduction.BATCH_MEAN).zLoss(1e-3).build(), c4, 4, null);
        // Class indices become one-hot targets over sigmoid outputs.
        check(() -> SigmoidFocal.builder().build(), c4, 4, DATA.oneHot());
        check(() -> BinaryCrossEntropy.builder().posWeight(CLASS_WEIGHTS).build(), c4, 4, DATA.oneHot());
    }

    private static void check(LossFactory loss, double[] coefficients, int outputs, float[] targets) {
        Lbfgs.Point single = DATA.singleMachine(loss.create(), coefficients, outputs, true, targets);
        try (LinearObjective objective = objective(loss, 3, outputs)) {
            LinearObjective.Evaluation e = objective.evaluate(coefficients);
            String what = loss.create().getClass().getSimpleName() + " " + loss.create().reduction();
            assertClose(single.value(), e.loss(), 1e-12, what + ", loss");
            assertClose(single.gradient(), e.gradient(), 1e-12, what + ", gradient");
        }
    }

    /** Multilabel: a vector label column holds the targets of every output. */
    @Test
    void vectorLabelsAreDenseTargets() {
        float[] targets = DATA.oneHot();
        java.util.List<org.apache.spark.sql.Row> rows = new java.util.ArrayList<>();
        for (int i = 0; i < DATA.rows; i++) {
            double[] t = new double[4];
            for (int c = 0; c < 4; c++) {
                t[c] = targets[i * 4 + c];
            }
            double[] f = java.util.Arrays.copyOfRange(DATA.x, i * DATA.features, (i + 1) * DATA.features);
            rows.add(org.apache.spark.sql.RowFactory.create(org.apache.spark.ml.linalg.Vectors.dense(f),
                    org.apache.spark.ml.linalg.Vectors.dense(t), (double) DATA.weights[i]));
        }
        org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType()
                .add("features", org.apache.spark.ml.linalg.SQLDataTypes.VectorType())
                .add("label", org.apache.spark.ml.linalg.SQLDataTypes.VectorType())
                .add("weight", org.apache.spark.sql.types.DataTypes.DoubleType);
        LossFactory loss = () -> BinaryCrossEntropy.builder().build();
        double[] c = DATA.randomCoefficients(17, 4, false);
        Lbfgs.Point single = DATA.singleMachine(loss.create(), c, 4, false, targets);
        try (LinearObjective objective = LinearObjective.builder(loss).weightCol("weight").numOutputs(4)
                .fitIntercept(false).blockRows(500).build(spark.createDataFrame(rows, schema).repartition(3))) {
            LinearObjective.Evaluation e = objective.evaluate(c);
            assertClose(single.value(), e.loss(), 1e-12, "multilabel BCE, loss");
            assertClose(single.gradient(), e.gradient(), 1e-12, "multilabel BCE, gradient");
        }
    }

    static void assertClose(double expected, double actual, double relative, String what) {
        assertTrue(Math.abs(expected - actual) <= relative * Math.abs(expected),
                what + ": expected " + expected + ", got " + actual + " (relative "
                        + Math.abs(expected - actual) / Math.abs(expected) + ")");
    }

    /** Relative to the largest entry: the gradient's small entries are sums that cancel. */
    static void assertClose(double[] expected, double[] actual, double relative, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 0;
        for (double v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= relative * scale, what + "[" + i + "]: expected "
                    + expected[i] + ", got " + actual[i] + " (relative to the largest " + scale + ")");
        }
    }
}
