package org.fusedloss.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.fusedloss.Batch;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;

/**
 * A synthetic, imbalanced classification data set drawn from a known softmax model, kept both as
 * Spark rows ({@code features}, {@code label}, {@code weight}) and as arrays for single-machine
 * references. Weights are multiples of 1/4, so float and double see the same numbers.
 */
final class TestData {
    static final StructType SCHEMA = new StructType()
            .add("features", SQLDataTypes.VectorType(), true)
            .add("label", DataTypes.DoubleType, true)
            .add("weight", DataTypes.DoubleType, true);

    final int rows;
    final int features;
    final int classes;
    final double[] x;
    final int[] labels;
    final float[] weights;

    private TestData(int rows, int features, int classes, double[] x, int[] labels, float[] weights) {
        this.rows = rows;
        this.features = features;
        this.classes = classes;
        this.x = x;
        this.labels = labels;
        this.weights = weights;
    }

    /** Rows from a random softmax model whose intercepts make class 0 common and the last rare. */
    static TestData imbalanced(long seed, int rows, int features, int classes) {
        Random r = new Random(seed);
        double[] w = new double[classes * features];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextGaussian();
        }
        double[] x = new double[rows * features];
        int[] y = new int[rows];
        float[] sw = new float[rows];
        double[] p = new double[classes];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < features; j++) {
                x[i * features + j] = r.nextGaussian();
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                double z = 1.5 - 1.2 * c;  // imbalance
                for (int j = 0; j < features; j++) {
                    z += w[c * features + j] * x[i * features + j];
                }
                p[c] = Math.exp(z);
                sum += p[c];
            }
            double u = r.nextDouble() * sum;
            int label = 0;
            while (label < classes - 1 && (u -= p[label]) > 0) {
                label++;
            }
            y[i] = label;
            sw[i] = 0.25f * (1 + r.nextInt(8));
        }
        return new TestData(rows, features, classes, x, y, sw);
    }

    List<Row> toRows() {
        List<Row> out = new ArrayList<>(rows);
        for (int i = 0; i < rows; i++) {
            double[] f = java.util.Arrays.copyOfRange(x, i * features, (i + 1) * features);
            out.add(RowFactory.create(Vectors.dense(f), (double) labels[i], (double) weights[i]));
        }
        return out;
    }

    /** The rows in {@code partitions} partitions (in order: parallelize slices a list in order). */
    Dataset<Row> dataset(SparkSession spark, int partitions) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return spark.createDataFrame(sc.parallelize(toRows(), partitions), SCHEMA);
    }

    /** Random coefficients (classes x features, then intercepts) of about unit size. */
    double[] randomCoefficients(long seed, int outputs, boolean intercept) {
        Random r = new Random(seed);
        double[] c = new double[outputs * features + (intercept ? outputs : 0)];
        for (int i = 0; i < c.length; i++) {
            c[i] = r.nextGaussian() * 0.5;
        }
        return c;
    }

    /** One-hot targets over the classes (for the sigmoid losses). */
    float[] oneHot() {
        float[] t = new float[rows * classes];
        for (int i = 0; i < rows; i++) {
            t[i * classes + labels[i]] = 1f;
        }
        return t;
    }

    /**
     * The single-machine loss and gradient: the logits of all rows at once, ONE call of the core on
     * all of them (its own MEAN denominator), and the gradient's matrix product in plain loops.
     */
    Lbfgs.Point singleMachine(Loss loss, double[] coefficients, int outputs, boolean intercept, float[] targets) {
        int d = features;
        double[] z = new double[rows * outputs];
        BlockMath.get().logits(x, rows, d, coefficients, intercept, outputs, z);
        float[] g = new float[rows * outputs];
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) z[i];
        }
        Batch batch = Batch.of(g, rows, outputs).sampleWeights(weights).gradient(g);
        if (targets == null) {
            batch.labels(labels);
        } else {
            batch.targets(targets);
        }
        LossResult r = loss.compute(batch);
        double[] gradient = new double[coefficients.length];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < outputs; c++) {
                double gic = g[i * outputs + c];
                for (int j = 0; j < d; j++) {
                    gradient[c * d + j] += gic * x[i * d + j];
                }
                if (intercept) {
                    gradient[outputs * d + c] += gic;
                }
            }
        }
        return new Lbfgs.Point(r.loss(), gradient);
    }
}
