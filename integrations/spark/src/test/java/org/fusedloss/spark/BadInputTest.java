package org.fusedloss.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Reduction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Bad rows fail the job with a message naming the value and where it is; Spark goes on working. */
class BadInputTest {
    private static SparkSession spark;
    private static final TestData DATA = TestData.imbalanced(5, 600, 3, 3);

    @BeforeAll
    static void start() {
        spark = TestSpark.local();
    }

    /** The data set with row {@code index} replaced, in 2 partitions of 300 rows. */
    private static Dataset<Row> withRow(int index, Row row) {
        List<Row> rows = new ArrayList<>(DATA.toRows());
        rows.set(index, row);
        return spark.createDataFrame(JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(rows, 2),
                TestData.SCHEMA);
    }

    private static Row row(Object features, Object label, Object weight) {
        return RowFactory.create(features, label, weight);
    }

    private static String failure(Dataset<Row> data) {
        Exception e = assertThrows(Exception.class, () -> LinearObjective.builder(() -> CrossEntropy.builder().build())
                .weightCol("weight").numOutputs(3).build(data).close());
        assertEquals(600, DATA.dataset(spark, 2).count(), "Spark still runs jobs");
        return e.getMessage();
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + p + "' not in: " + message);
        }
    }

    @Test
    void labelOutsideTheClassesGivesTheCoresMessage() {
        String m = failure(withRow(310, row(Vectors.dense(1, 2, 3), 5.0, 1.0)));
        // Row 310 is the partition's row 10, in its first block: the core names it labels[10].
        assertContains(m, "partition 1, rows 0..299 of the partition: labels[10] = 5 is outside [0, 3)");
    }

    @Test
    void negativeWeightGivesTheCoresMessage() {
        assertContains(failure(withRow(42, row(Vectors.dense(1, 2, 3), 1.0, -0.5))),
                "partition 0, rows 0..299 of the partition: sampleWeights[42] = -0.5 is negative");
    }

    @Test
    void nullFeaturesAreNamed() {
        assertContains(failure(withRow(7, row(null, 1.0, 1.0))), "partition 0, row 7: the features vector is null");
    }

    @Test
    void nonFiniteFeaturesAndWrongSizesAreNamed() {
        assertContains(failure(withRow(8, row(Vectors.dense(1, Double.NaN, 3), 1.0, 1.0))),
                "partition 0, row 8: features[1] = NaN is not finite");
        assertContains(failure(withRow(9, row(Vectors.dense(1, 2), 1.0, 1.0))),
                "partition 0, row 9: the features vector has 2 entries, the model 3 features");
    }

    @Test
    void labelsThatAreNotClassIndicesAreNamed() {
        assertContains(failure(withRow(11, row(Vectors.dense(1, 2, 3), 1.5, 1.0))),
                "partition 0, row 11: label = 1.5 is not a class index");
        assertContains(failure(withRow(12, row(Vectors.dense(1, 2, 3), null, 1.0))),
                "partition 0, row 12: the label is null");
    }

    /** The estimator fails the same way, before its first L-BFGS step. */
    @Test
    void estimatorReportsBadWeights() {
        Exception e = assertThrows(Exception.class, () -> new FusedLogisticRegression().setWeightCol("weight")
                .fit(withRow(5, row(Vectors.dense(1, 2, 3), 1.0, Double.POSITIVE_INFINITY))));
        assertContains(e.getMessage(), "sampleWeights[5] = Infinity is infinite");
        assertThrows(IllegalArgumentException.class, () -> new FusedLogisticRegression().setLoss("hinge"));
    }

    /** Settings that cannot work are refused on the driver, before any job. */
    @Test
    void badSettingsAreRefused() {
        Dataset<Row> data = DATA.dataset(spark, 1);
        assertThrows(IllegalArgumentException.class, () -> LinearObjective.builder(
                () -> CrossEntropy.builder().reduction(Reduction.NONE).build()).numOutputs(3).build(data));
        assertThrows(IllegalArgumentException.class, () -> LinearObjective.builder(
                () -> CrossEntropy.builder().build()).build(data), "numOutputs is required");
        try (LinearObjective objective = LinearObjective.builder(() -> CrossEntropy.builder().build())
                .numOutputs(3).build(data)) {
            assertThrows(IllegalArgumentException.class, () -> objective.evaluate(new double[5]));
        }
        assertThrows(IllegalArgumentException.class, () -> new FusedLogisticRegression().setLoss("softmaxFocal")
                .setLabelSmoothing(0.1).fit(data));
        assertThrows(IllegalArgumentException.class, () -> new FusedLogisticRegression()
                .setClassWeights(new double[] {1, 2, 3}).setBalancedClassWeights(true).fit(data));
    }
}
