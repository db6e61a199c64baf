package org.fusedloss.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.classification.LogisticRegression;
import org.apache.spark.ml.classification.LogisticRegressionModel;
import org.apache.spark.ml.linalg.Matrix;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.fusedloss.CrossEntropy;
import org.fusedloss.SigmoidFocal;
import org.fusedloss.SoftmaxFocal;
import org.fusedloss.Weights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The estimator against Spark ML's own LogisticRegression, on local[2]. */
class FusedLogisticRegressionTest {
    private static SparkSession spark;
    private static final TestData DATA = TestData.imbalanced(21, 2000, 5, 3);
    private static Dataset<Row> dataset;

    @BeforeAll
    static void start() {
        spark = TestSpark.local();
        dataset = DATA.dataset(spark, 2).cache();
    }

    @AfterAll
    static void release() {
        dataset.unpersist();
    }

    private static LogisticRegression sparkLogisticRegression() {
        return new LogisticRegression().setFamily("multinomial").setStandardization(false)
                .setMaxIter(500).setTol(1e-10).setWeightCol("weight");
    }

    private static FusedLogisticRegression fused() {
        return new FusedLogisticRegression().setMaxIter(500).setTol(1e-10).setWeightCol("weight");
    }

    /**
     * Weighted cross-entropy, no class weights, no regularisation, standardisation off: the same
     * coefficients as Spark ML (within 1e-3 relative) and the same objective value.
     */
    @Test
    void sameCoefficientsAndObjectiveAsSparkLogisticRegression() {
        LogisticRegressionModel expected = sparkLogisticRegression().setRegParam(0).fit(dataset);
        FusedLogisticRegressionModel actual = fused().fit(dataset);
        assertSameModel(expected, actual, 1e-3);

        double[] sparkHistory = expected.summary().objectiveHistory();
        double sparkObjective = sparkHistory[sparkHistory.length - 1];
        double[] history = actual.objectiveHistory();
        LinearObjectiveTest.assertClose(sparkObjective, history[history.length - 1], 1e-6, "objective at the optimum");
        // Our objective at Spark's coefficients is Spark's objective: the two define the same function.
        double atSpark = DATA.singleMachine(CrossEntropy.builder().build(), coefficients(expected), 3, true, null)
                .value();
        LinearObjectiveTest.assertClose(sparkObjective, atSpark, 1e-6, "our loss at Spark's coefficients");
        assertEquals(java.util.Map.of("native", 2L), actual.backendBlocks(), "2 partitions of 1000 rows: a block each");
    }

    /** L2 regularisation: Spark's regParam with elasticNetParam 0 and standardisation off. */
    @Test
    void sameRegularisedModelAsSpark() {
        LogisticRegressionModel expected = sparkLogisticRegression().setRegParam(0.05).setElasticNetParam(0).fit(dataset);
        FusedLogisticRegressionModel actual = fused().setRegParam(0.05).fit(dataset);
        assertSameModel(expected, actual, 1e-3);
    }

    /** Class weights in cross-entropy weigh a row by classWeight[y] * weight: Spark with that product as its weight. */
    @Test
    void classWeightsActAsRowWeights() {
        double[] cw = {0.5, 2.0, 3.0};
        Dataset<Row> weighted = dataset.withColumn("classWeighted", functions.col("weight").multiply(
                functions.array(functions.lit(cw[0]), functions.lit(cw[1]), functions.lit(cw[2]))
                        .getItem(functions.col("label").cast("int"))));
        LogisticRegressionModel expected = sparkLogisticRegression().setWeightCol("classWeighted").fit(weighted);
        FusedLogisticRegressionModel actual = fused().setClassWeights(cw).fit(dataset);
        assertSameModel(expected, actual, 1e-3);
    }

    /** Balanced class weights are scikit-learn's (the core's Weights.balancedClassWeights on the labels). */
    @Test
    void balancedClassWeightsAreTheCoresRule() {
        float[] cw = Weights.balancedClassWeights(DATA.labels, 3);
        double[] asDouble = {cw[0], cw[1], cw[2]};
        FusedLogisticRegressionModel balanced = fused().setBalancedClassWeights(true).fit(dataset);
        FusedLogisticRegressionModel given = fused().setClassWeights(asDouble).fit(dataset);
        assertArrayEquals(given.coefficientMatrix().toArray(), balanced.coefficientMatrix().toArray(), 0.0);
        assertArrayEquals(given.interceptVector().toArray(), balanced.interceptVector().toArray(), 0.0);
    }

    /**
     * Label smoothing and the focal losses: at the fitted coefficients the gradient of the
     * single-machine loss (the core, all rows in one call) is close to zero, far below its value at zero.
     */
    @Test
    void otherLossesReachTheirOwnOptimum() {
        assertOptimal(fused().setLabelSmoothing(0.1).fit(dataset),
                CrossEntropy.builder().labelSmoothing(0.1).build(), 3, null);
        assertOptimal(fused().setLoss("softmaxFocal").setFocalGamma(2).setClassWeights(new double[] {1, 2, 3})
                .fit(dataset), SoftmaxFocal.builder().gamma(2).alpha(new float[] {1, 2, 3}).build(), 3, null);
        assertOptimal(fused().setLoss("sigmoidFocal").fit(dataset), SigmoidFocal.builder().build(), 3, DATA.oneHot());
    }

    private static void assertOptimal(FusedLogisticRegressionModel model, org.fusedloss.Loss loss, int outputs,
                                      float[] targets) {
        double[] at = coefficients(model.coefficientMatrix(), model.interceptVector());
        double[] g = DATA.singleMachine(loss, at, outputs, true, targets).gradient();
        double[] g0 = DATA.singleMachine(loss, new double[at.length], outputs, true, targets).gradient();
        assertTrue(norm(g) < 1e-3 * norm(g0), model.getLoss() + ": |gradient| = " + norm(g)
                + " at the fit, " + norm(g0) + " at zero");
        assertTrue(model.iterations() > 0);
    }

    /** transform: probability and prediction columns, as Spark's model gives them. */
    @Test
    void transformGivesSparksPredictionsAndProbabilities() {
        LogisticRegressionModel expected = sparkLogisticRegression().fit(dataset);
        FusedLogisticRegressionModel actual = fused().fit(dataset);
        List<Row> a = actual.transform(dataset).select("probability", "prediction").collectAsList();
        List<Row> e = expected.transform(dataset).select("probability", "prediction").collectAsList();
        int agree = 0;
        for (int i = 0; i < a.size(); i++) {
            double[] p = ((Vector) a.get(i).get(0)).toArray();
            double[] q = ((Vector) e.get(i).get(0)).toArray();
            assertEquals(1.0, p[0] + p[1] + p[2], 1e-12);
            assertArrayEquals(q, p, 1e-3, "row " + i);
            agree += a.get(i).getDouble(1) == e.get(i).getDouble(1) ? 1 : 0;
        }
        assertTrue(agree >= a.size() - 2, agree + " of " + a.size() + " predictions agree with Spark's");
    }

    /** One sigmoid output for two classes: rawPrediction (-m, m), probability (1 - s, s). */
    @Test
    void binarySigmoidFocalHasOneOutput() {
        Dataset<Row> binary = dataset.withColumn("label", functions.when(functions.col("label").equalTo(0), 0.0)
                .otherwise(1.0));
        FusedLogisticRegressionModel model = fused().setLoss("sigmoidFocal").fit(binary);
        assertEquals(1, model.coefficientMatrix().numRows());
        assertEquals(2, model.numClasses());
        Row r = model.transform(binary).select("rawPrediction", "probability", "prediction").head();
        double[] raw = ((Vector) r.get(0)).toArray();
        double[] p = ((Vector) r.get(1)).toArray();
        assertEquals(-raw[0], raw[1], 0.0);
        assertEquals(1 / (1 + Math.exp(-raw[1])), p[1], 1e-15);
        assertEquals(raw[1] > 0 ? 1.0 : 0.0, r.getDouble(2));
    }

    /** ML persistence: the model, the estimator, and both inside a Pipeline, saved and loaded. */
    @Test
    void saveAndLoad(@TempDir Path dir) throws Exception {
        FusedLogisticRegression estimator = fused().setClassWeights(new double[] {1, 2, 3}).setMaxIter(30);
        FusedLogisticRegressionModel model = estimator.fit(dataset);
        model.write().overwrite().save(dir.resolve("model").toString());
        FusedLogisticRegressionModel loaded = FusedLogisticRegressionModel.load(dir.resolve("model").toString());
        assertEquals(model.uid(), loaded.uid());
        assertArrayEquals(model.coefficientMatrix().toArray(), loaded.coefficientMatrix().toArray(), 0.0);
        assertArrayEquals(model.interceptVector().toArray(), loaded.interceptVector().toArray(), 0.0);
        assertEquals(model.transform(dataset).select("probability").collectAsList(),
                loaded.transform(dataset).select("probability").collectAsList());

        estimator.save(dir.resolve("estimator").toString());
        FusedLogisticRegression back = FusedLogisticRegression.load(dir.resolve("estimator").toString());
        assertEquals(estimator.uid(), back.uid());
        assertArrayEquals(new double[] {1, 2, 3}, back.getClassWeights(), 0.0);
        assertEquals(30, back.getMaxIter());
        assertEquals("weight", back.getWeightCol());

        PipelineModel pipeline = new Pipeline().setStages(new PipelineStage[] {estimator}).fit(dataset);
        pipeline.write().overwrite().save(dir.resolve("pipeline").toString());
        PipelineModel pipelineBack = PipelineModel.load(dir.resolve("pipeline").toString());
        assertEquals(pipeline.transform(dataset).select("prediction").collectAsList(),
                pipelineBack.transform(dataset).select("prediction").collectAsList());
        assertTrue(Files.exists(dir.resolve("model").resolve("data")));
    }

    private static void assertSameModel(LogisticRegressionModel expected, FusedLogisticRegressionModel actual,
                                        double relative) {
        double[] e = coefficients(expected);
        double[] a = coefficients(actual.coefficientMatrix(), actual.interceptVector());
        double[] diff = new double[e.length];
        for (int i = 0; i < e.length; i++) {
            diff[i] = a[i] - e[i];
        }
        assertTrue(norm(diff) <= relative * norm(e), "coefficients differ by " + norm(diff) / norm(e)
                + " relative:\n Spark " + java.util.Arrays.toString(e) + "\n fused " + java.util.Arrays.toString(a));
    }

    private static double[] coefficients(LogisticRegressionModel m) {
        return coefficients(m.coefficientMatrix(), m.interceptVector());
    }

    /** Our layout: the matrix row-major, then the intercepts. */
    private static double[] coefficients(Matrix w, Vector b) {
        double[] out = new double[w.numRows() * w.numCols() + b.size()];
        for (int c = 0; c < w.numRows(); c++) {
            for (int j = 0; j < w.numCols(); j++) {
                out[c * w.numCols() + j] = w.apply(c, j);
            }
        }
        System.arraycopy(b.toArray(), 0, out, w.numRows() * w.numCols(), b.size());
        return out;
    }

    private static double norm(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }
}
