package org.fusedloss.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.classification.ProbabilisticClassificationModel;
import org.apache.spark.ml.linalg.DenseMatrix;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.Matrix;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReadable;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.Tuple3;

/**
 * A linear model fitted by {@link FusedLogisticRegression}: {@code coefficientMatrix}
 * (outputs x features) and {@code interceptVector}, as Spark ML's LogisticRegressionModel.
 * {@code transform} adds {@code rawPrediction} (the logits; {@code (-m, m)} for one sigmoid
 * output), {@code probability} and {@code prediction}. The probability is the softmax of the
 * logits for the softmax losses; for {@code sigmoidFocal} it is {@code (1 - s, s)} with one output
 * and, with one sigmoid per class, the sigmoids scaled to sum to 1.
 */
public class FusedLogisticRegressionModel
        extends ProbabilisticClassificationModel<Vector, FusedLogisticRegressionModel>
        implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;

    /** Assigned on the first call of uid(), during the superclass constructor (see PendingUid). */
    private String uid;
    private final Param<String> loss = FusedParams.loss(this);

    private Matrix coefficientMatrix;
    private Vector interceptVector;
    private int numClasses;
    private transient double[] objectiveHistory;
    private transient int iterations;
    private transient Map<String, Long> backendBlocks;

    /** A model without coefficients yet: ML persistence creates it, then {@link #load} fills it. */
    public FusedLogisticRegressionModel(String uid) {
        this(PendingUid.of(uid));
    }

    private FusedLogisticRegressionModel(PendingUid pending) {
        uid();
        setDefault(loss, FusedParams.CROSS_ENTROPY);
    }

    FusedLogisticRegressionModel(String uid, Matrix coefficientMatrix, Vector interceptVector, int numClasses) {
        this(uid);
        setCoefficients(coefficientMatrix, interceptVector, numClasses);
    }

    private void setCoefficients(Matrix coefficients, Vector intercepts, int classes) {
        if (coefficients.numRows() != intercepts.size()) {
            throw new IllegalArgumentException("coefficientMatrix has " + coefficients.numRows() + " rows, "
                    + "interceptVector " + intercepts.size() + " entries");
        }
        this.coefficientMatrix = coefficients;
        this.interceptVector = intercepts;
        this.numClasses = classes;
    }

    void setTrainingSummary(double[] history, int iterationsRun, Map<String, Long> backends) {
        this.objectiveHistory = history;
        this.iterations = iterationsRun;
        this.backendBlocks = backends;
    }

    @Override
    public String uid() {
        if (uid == null) {
            uid = PendingUid.take();
        }
        return uid;
    }

    /** The loss the model was trained with (which decides softmax or sigmoid). */
    public Param<String> loss() {
        return loss;
    }

    public String getLoss() {
        return $(loss);
    }

    /** Outputs x features: a row per class (one row for a single sigmoid output). */
    public Matrix coefficientMatrix() {
        return requireCoefficients();
    }

    /** One intercept per output (zeros when fitted without). */
    public Vector interceptVector() {
        requireCoefficients();
        return interceptVector;
    }

    @Override
    public int numClasses() {
        requireCoefficients();
        return numClasses;
    }

    @Override
    public int numFeatures() {
        return requireCoefficients().numCols();
    }

    /** The objective (loss + regularisation) after each L-BFGS iteration; null for a loaded model. */
    public double[] objectiveHistory() {
        return objectiveHistory == null ? null : objectiveHistory.clone();
    }

    /** The L-BFGS iterations the fit ran (0 for a loaded model). */
    public int iterations() {
        return iterations;
    }

    /** The blocks each fusedloss backend computed in the fit's last evaluation; null for a loaded model. */
    public Map<String, Long> backendBlocks() {
        return backendBlocks;
    }

    @Override
    public Vector predictRaw(Vector features) {
        Matrix w = requireCoefficients();
        if (features.size() != w.numCols()) {
            throw new IllegalArgumentException("features: the vector has " + features.size() + " entries, the model "
                    + w.numCols() + " features");
        }
        double[] margins = w.multiply(features).toArray();
        for (int c = 0; c < margins.length; c++) {
            margins[c] += interceptVector.apply(c);
        }
        if (margins.length == 1) {
            return Vectors.dense(-margins[0], margins[0]);
        }
        return Vectors.dense(margins);
    }

    @Override
    public Vector raw2probabilityInPlace(Vector rawPrediction) {
        double[] v = ((DenseVector) rawPrediction).values();
        if (FusedParams.isSoftmax(getLoss())) {
            double max = Double.NEGATIVE_INFINITY;
            for (double x : v) {
                max = Math.max(max, x);
            }
            double sum = 0;
            for (int c = 0; c < v.length; c++) {
                v[c] = Math.exp(v[c] - max);
                sum += v[c];
            }
            for (int c = 0; c < v.length; c++) {
                v[c] /= sum;
            }
        } else if (requireCoefficients().numRows() == 1) {
            v[1] = 1.0 / (1.0 + Math.exp(-v[1]));
            v[0] = 1.0 - v[1];
        } else {
            double sum = 0;
            for (int c = 0; c < v.length; c++) {
                v[c] = 1.0 / (1.0 + Math.exp(-v[c]));
                sum += v[c];
            }
            for (int c = 0; c < v.length; c++) {
                v[c] /= sum;
            }
        }
        return rawPrediction;
    }

    private Matrix requireCoefficients() {
        if (coefficientMatrix == null) {
            throw new IllegalStateException("this model has no coefficients yet: fit one with "
                    + "FusedLogisticRegression or load one with FusedLogisticRegressionModel.load");
        }
        return coefficientMatrix;
    }

    @Override
    public FusedLogisticRegressionModel copy(ParamMap extra) {
        FusedLogisticRegressionModel copy = copyValues(
                new FusedLogisticRegressionModel(uid(), coefficientMatrix, interceptVector, numClasses), extra);
        copy.setTrainingSummary(objectiveHistory, iterations, backendBlocks);
        return copy.setParent(parent());
    }

    /**
     * Both Scala superclasses declare this with return types Java cannot reconcile; Spark's own
     * implementation (ProbabilisticClassificationModel's) is the one that runs.
     */
    @SuppressWarnings("rawtypes")
    @Override
    public Tuple3 findSummaryModel() {
        return super.findSummaryModel();
    }

    @Override
    public String toString() {
        return "FusedLogisticRegressionModel: uid=" + uid() + ", loss=" + getLoss() + ", numClasses="
                + (coefficientMatrix == null ? "?" : numClasses) + ", numFeatures="
                + (coefficientMatrix == null ? "?" : coefficientMatrix.numCols());
    }

    /** ML persistence: Spark's metadata and params, then the coefficients as Parquet in {@code data/}. */
    @Override
    public MLWriter write() {
        return new Writer(this);
    }

    private MLWriter paramsWriter() {
        return DefaultParamsWritable.super.write();
    }

    /** The reader of ML persistence (a Pipeline finds it by this name). */
    public static MLReader<FusedLogisticRegressionModel> read() {
        return new Reader();
    }

    /** Loads a model saved with {@code save(path)}. */
    public static FusedLogisticRegressionModel load(String path) {
        return read().load(path);
    }

    private static final StructType DATA_SCHEMA = new StructType()
            .add("numClasses", DataTypes.IntegerType, false)
            .add("numFeatures", DataTypes.IntegerType, false)
            .add("coefficients", DataTypes.createArrayType(DataTypes.DoubleType, false), false)
            .add("intercepts", DataTypes.createArrayType(DataTypes.DoubleType, false), false);

    private static final class Writer extends MLWriter {
        private final FusedLogisticRegressionModel model;

        Writer(FusedLogisticRegressionModel model) {
            this.model = model;
        }

        @Override
        public void saveImpl(String path) {
            try {
                model.paramsWriter().session(sparkSession()).save(path);  // path/metadata, as Spark ML writes it
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Matrix w = model.requireCoefficients();
            double[] rowMajor = new double[w.numRows() * w.numCols()];
            for (int c = 0; c < w.numRows(); c++) {
                for (int j = 0; j < w.numCols(); j++) {
                    rowMajor[c * w.numCols() + j] = w.apply(c, j);
                }
            }
            Row data = RowFactory.create(model.numClasses, w.numCols(), toList(rowMajor),
                    toList(model.interceptVector.toArray()));
            sparkSession().createDataFrame(List.of(data), DATA_SCHEMA).repartition(1).write().parquet(path + "/data");
        }

        private static List<Double> toList(double[] values) {
            return java.util.Arrays.stream(values).boxed().toList();
        }
    }

    private static final class Reader extends MLReader<FusedLogisticRegressionModel> {
        @Override
        public FusedLogisticRegressionModel load(String path) {
            FusedLogisticRegressionModel model = new DefaultParamsReadable<FusedLogisticRegressionModel>() {
            }.read().session(sparkSession()).load(path);
            Row data = sparkSession().read().parquet(path + "/data").head();
            int classes = data.getInt(data.fieldIndex("numClasses"));
            int features = data.getInt(data.fieldIndex("numFeatures"));
            double[] w = data.getList(data.fieldIndex("coefficients")).stream()
                    .mapToDouble(x -> (Double) x).toArray();
            double[] b = data.getList(data.fieldIndex("intercepts")).stream()
                    .mapToDouble(x -> (Double) x).toArray();
            model.setCoefficients(new DenseMatrix(b.length, features, w, true), Vectors.dense(b), classes);
            return model;
        }
    }
}
