package org.fusedloss.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.ml.classification.ProbabilisticClassifier;
import org.apache.spark.ml.linalg.DenseMatrix;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleArrayParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReadable;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.fusedloss.CrossEntropy;
import org.fusedloss.SigmoidFocal;
import org.fusedloss.SoftmaxFocal;

/**
 * Logistic regression (a linear model) trained on a fused, weighted loss of fusedloss, in Spark
 * ML's style: an estimator whose {@link #fit} gives a {@link FusedLogisticRegressionModel}.
 *
 * <p>The objective is the loss's MEAN over the whole data set (divided by the global weight sum,
 * see {@link LinearObjective}) plus {@code regParam / 2 * ||W||^2} (intercepts not penalised, no
 * standardisation: Spark ML's LogisticRegression with {@code standardization = false} and
 * {@code elasticNetParam = 0} minimises the same), minimised by Breeze's L-BFGS from zero.
 *
 * <ul>
 *   <li>{@code crossEntropy}: softmax cross-entropy over the classes, with class weights and
 *       label smoothing (the core's {@link CrossEntropy}); MEAN divides by
 *       {@code sum classWeight[y] * weight}.</li>
 *   <li>{@code softmaxFocal}: softmax focal loss; class weights are its per-class alpha, inside
 *       the term, so MEAN divides by the sum of the row weights (the core's {@link SoftmaxFocal}).</li>
 *   <li>{@code sigmoidFocal}: one sigmoid output per class, one-hot targets (one output for two
 *       classes); class weights multiply the row weights, and MEAN divides by the sum of the
 *       weights over all outputs (the core's {@link SigmoidFocal}).</li>
 * </ul>
 *
 * <p>Without regularisation the softmax losses do not pin a constant added to every class's
 * coefficients; the fitted coefficients and intercepts are centred over the classes, as Spark ML
 * does.
 */
public class FusedLogisticRegression
        extends ProbabilisticClassifier<Vector, FusedLogisticRegression, FusedLogisticRegressionModel>
        implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;

    /** Above this many classes inferred from the largest label, Spark asks for them in the label's metadata. */
    private static final int MAX_INFERRED_CLASSES = 1 << 20;

    /** Assigned on the first call of uid(), during the superclass constructor (see PendingUid). */
    private String uid;

    private final Param<String> loss = FusedParams.loss(this);
    private final Param<String> weightCol = new Param<>(this, "weightCol",
            "column of sample weights (none: every row weighs 1; NaN marks a missing weight)");
    private final DoubleArrayParam classWeights = new DoubleArrayParam(this, "classWeights",
            "one weight per class, finite and not negative");
    private final BooleanParam balancedClassWeights = new BooleanParam(this, "balancedClassWeights",
            "class weights n / (numClasses * count(class)), as scikit-learn's 'balanced'");
    private final DoubleParam labelSmoothing = new DoubleParam(this, "labelSmoothing",
            "label smoothing eps in [0, 1] (crossEntropy)", ParamValidators.inRange(0.0, 1.0));
    private final DoubleParam focalGamma = new DoubleParam(this, "focalGamma",
            "focusing exponent gamma of the focal losses, not negative", ParamValidators.gtEq(0.0));
    private final DoubleParam focalAlpha = new DoubleParam(this, "focalAlpha",
            "alpha of sigmoidFocal, at most 1 (negative: no alpha factor)", ParamValidators.ltEq(1.0));
    private final IntParam maxIter = new IntParam(this, "maxIter", "maximum number of L-BFGS iterations",
            ParamValidators.gtEq(0));
    private final DoubleParam regParam = new DoubleParam(this, "regParam",
            "L2 regularisation: regParam / 2 * ||W||^2, intercepts not penalised", ParamValidators.gtEq(0.0));
    private final DoubleParam tol = new DoubleParam(this, "tol", "L-BFGS convergence tolerance",
            ParamValidators.gtEq(0.0));
    private final BooleanParam fitIntercept = new BooleanParam(this, "fitIntercept",
            "whether to fit an intercept per output");
    private final IntParam blockRows = new IntParam(this, "blockRows",
            "rows per block: one fused loss call each", ParamValidators.gt(0));
    private final IntParam aggregationDepth = new IntParam(this, "aggregationDepth",
            "depth of treeAggregate", ParamValidators.gtEq(1));

    /** An estimator with a new uid and the defaults below. */
    public FusedLogisticRegression() {
        this(Identifiable$.MODULE$.randomUID("fusedLogReg"));
    }

    /** An estimator with this uid (ML persistence and {@code copy} use it). */
    public FusedLogisticRegression(String uid) {
        this(PendingUid.of(uid));
    }

    private FusedLogisticRegression(PendingUid pending) {
        uid();
        setDefault(loss, FusedParams.CROSS_ENTROPY);
        setDefault(balancedClassWeights, false);
        setDefault(labelSmoothing, 0.0);
        setDefault(focalGamma, 2.0);
        setDefault(focalAlpha, 0.25);
        setDefault(maxIter, 100);
        setDefault(regParam, 0.0);
        setDefault(tol, 1e-6);
        setDefault(fitIntercept, true);
        setDefault(blockRows, 4096);
        setDefault(aggregationDepth, 2);
    }

    @Override
    public String uid() {
        if (uid == null) {
            uid = PendingUid.take();
        }
        return uid;
    }

    // Params are found by reflection through public no-argument methods, as Scala's vals are.

    /** The loss: crossEntropy (default), softmaxFocal or sigmoidFocal. */
    public Param<String> loss() {
        return loss;
    }

    public Param<String> weightCol() {
        return weightCol;
    }

    public DoubleArrayParam classWeights() {
        return classWeights;
    }

    public BooleanParam balancedClassWeights() {
        return balancedClassWeights;
    }

    public DoubleParam labelSmoothing() {
        return labelSmoothing;
    }

    public DoubleParam focalGamma() {
        return focalGamma;
    }

    public DoubleParam focalAlpha() {
        return focalAlpha;
    }

    public IntParam maxIter() {
        return maxIter;
    }

    public DoubleParam regParam() {
        return regParam;
    }

    public DoubleParam tol() {
        return tol;
    }

    public BooleanParam fitIntercept() {
        return fitIntercept;
    }

    public IntParam blockRows() {
        return blockRows;
    }

    public IntParam aggregationDepth() {
        return aggregationDepth;
    }

    public String getLoss() {
        return $(loss);
    }

    /** The weight column, or null when none is set. */
    public String getWeightCol() {
        return isDefined(weightCol) && !$(weightCol).isEmpty() ? $(weightCol) : null;
    }

    /** The class weights, or null when none are set. */
    public double[] getClassWeights() {
        return isDefined(classWeights) ? $(classWeights) : null;
    }

    public boolean getBalancedClassWeights() {
        return (Boolean) $(balancedClassWeights);
    }

    public double getLabelSmoothing() {
        return (Double) $(labelSmoothing);
    }

    public double getFocalGamma() {
        return (Double) $(focalGamma);
    }

    public double getFocalAlpha() {
        return (Double) $(focalAlpha);
    }

    public int getMaxIter() {
        return (Integer) $(maxIter);
    }

    public double getRegParam() {
        return (Double) $(regParam);
    }

    public double getTol() {
        return (Double) $(tol);
    }

    public boolean getFitIntercept() {
        return (Boolean) $(fitIntercept);
    }

    public int getBlockRows() {
        return (Integer) $(blockRows);
    }

    public int getAggregationDepth() {
        return (Integer) $(aggregationDepth);
    }

    public FusedLogisticRegression setLoss(String value) {
        return (FusedLogisticRegression) set(loss, value);
    }

    public FusedLogisticRegression setWeightCol(String value) {
        return (FusedLogisticRegression) set(weightCol, value);
    }

    public FusedLogisticRegression setClassWeights(double[] value) {
        return (FusedLogisticRegression) set(classWeights, value.clone());
    }

    public FusedLogisticRegression setBalancedClassWeights(boolean value) {
        return (FusedLogisticRegression) set(balancedClassWeights, value);
    }

    public FusedLogisticRegression setLabelSmoothing(double value) {
        return (FusedLogisticRegression) set(labelSmoothing, value);
    }

    public FusedLogisticRegression setFocalGamma(double value) {
        return (FusedLogisticRegression) set(focalGamma, value);
    }

    public FusedLogisticRegression setFocalAlpha(double value) {
        return (FusedLogisticRegression) set(focalAlpha, value);
    }

    public FusedLogisticRegression setMaxIter(int value) {
        return (FusedLogisticRegression) set(maxIter, value);
    }

    public FusedLogisticRegression setRegParam(double value) {
        return (FusedLogisticRegression) set(regParam, value);
    }

    public FusedLogisticRegression setTol(double value) {
        return (FusedLogisticRegression) set(tol, value);
    }

    public FusedLogisticRegression setFitIntercept(boolean value) {
        return (FusedLogisticRegression) set(fitIntercept, value);
    }

    public FusedLogisticRegression setBlockRows(int value) {
        return (FusedLogisticRegression) set(blockRows, value);
    }

    public FusedLogisticRegression setAggregationDepth(int value) {
        return (FusedLogisticRegression) set(aggregationDepth, value);
    }

    @Override
    public FusedLogisticRegression copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** Called by {@link #fit} (Spark's Predictor casts the label and weight columns to double first). */
    @Override
    public FusedLogisticRegressionModel train(Dataset<?> dataset) {
        String lossName = getLoss();
        boolean softmax = FusedParams.isSoftmax(lossName);
        if (getLabelSmoothing() != 0 && !lossName.equals(FusedParams.CROSS_ENTROPY)) {
            throw new IllegalArgumentException("labelSmoothing applies to crossEntropy, not to " + lossName);
        }
        int numClasses = getNumClasses(dataset, MAX_INFERRED_CLASSES);  // label metadata, else max label + 1
        float[] cw = classWeights(dataset, numClasses);
        int outputs = softmax || numClasses > 2 ? numClasses : 1;  // sigmoid: one output for two classes
        Dataset<Row> rows = dataset.toDF();
        String weights = getWeightCol();
        if (!softmax && cw != null) {
            // The sigmoid loss has no class-indexed term: class weights scale the row weights. A
            // label outside the classes keeps its row weight here and fails its own check later.
            Column classWeight = functions.coalesce(functions.array(toLiterals(cw))
                    .getItem(col(getLabelCol()).cast(DataTypes.IntegerType)), lit(1.0));
            rows = rows.withColumn("fusedloss_row_weight", weights == null ? classWeight
                    : col(weights).multiply(classWeight));
            weights = "fusedloss_row_weight";
        }
        LinearObjective.Builder builder = LinearObjective.builder(lossFactory(lossName, cw))
                .featuresCol(getFeaturesCol()).labelCol(getLabelCol()).weightCol(weights)
                .numOutputs(outputs).fitIntercept(getFitIntercept()).blockRows(getBlockRows())
                .aggregationDepth(getAggregationDepth());
        if (outputs == 1) {
            builder.binaryLabels();  // the 0/1 label is the target: refuse anything else
        }
        try (LinearObjective objective = builder.build(rows)) {
            int d = objective.numFeatures();
            AtomicReference<Map<String, Long>> backends = new AtomicReference<>();
            Lbfgs.Result result = Lbfgs.minimize(penalised(objective, getRegParam(), backends),
                    new double[objective.numCoefficients()], getMaxIter(), getTol());
            double[] w = Arrays.copyOf(result.solution(), outputs * d);
            double[] b = getFitIntercept() ? Arrays.copyOfRange(result.solution(), outputs * d, (d + 1) * outputs)
                    : new double[outputs];
            if (softmax && getRegParam() == 0) {
                center(w, b, outputs, d, getFitIntercept());
            }
            FusedLogisticRegressionModel model = new FusedLogisticRegressionModel(uid(),
                    new DenseMatrix(outputs, d, w, true), Vectors.dense(b), numClasses);
            model.setTrainingSummary(result.objectiveHistory(), result.iterations(), backends.get());
            return copyValues(model, extractParamMap()).setParent(this);
        }
    }

    /** The core loss of {@code lossName}, built on each executor (class weights: see the class comment). */
    private LossFactory lossFactory(String lossName, float[] cw) {
        double gamma = getFocalGamma();
        if (lossName.equals(FusedParams.CROSS_ENTROPY)) {
            double eps = getLabelSmoothing();
            // No label may be ignored: the ignore index is one that no class index can be.
            return () -> {
                CrossEntropy.Builder b = CrossEntropy.builder().labelSmoothing(eps).ignoreIndex(Integer.MIN_VALUE);
                return (cw == null ? b : b.classWeights(cw)).build();
            };
        }
        if (lossName.equals(FusedParams.SOFTMAX_FOCAL)) {
            return () -> {
                SoftmaxFocal.Builder b = SoftmaxFocal.builder().gamma(gamma).ignoreIndex(Integer.MIN_VALUE);
                return (cw == null ? b : b.alpha(cw)).build();
            };
        }
        double alpha = getFocalAlpha();
        return () -> SigmoidFocal.builder().alpha(alpha).gamma(gamma).build();
    }

    /** The objective L-BFGS minimises: the loss plus {@code reg / 2 * ||W||^2} (not the intercepts). */
    private static Lbfgs.Function penalised(LinearObjective objective, double reg,
                                            AtomicReference<Map<String, Long>> backends) {
        int penalised = objective.numOutputs() * objective.numFeatures();
        return x -> {
            LinearObjective.Evaluation e = objective.evaluate(x);
            if (e.nonFinite() > 0) {
                throw new IllegalStateException(e.nonFinite() + " loss terms are not finite at an iterate with "
                        + "|W| = " + Math.sqrt(sumOfSquares(x, penalised)) + "; the optimisation cannot go on");
            }
            backends.set(e.backendBlocks());
            double[] g = e.gradient().clone();
            for (int i = 0; i < penalised && reg > 0; i++) {
                g[i] += reg * x[i];
            }
            return new Lbfgs.Point(e.loss() + 0.5 * reg * sumOfSquares(x, penalised), g);
        };
    }

    /** The class weights to use: as set, balanced from the label counts, or none (null). */
    private float[] classWeights(Dataset<?> dataset, int numClasses) {
        double[] given = getClassWeights();
        if (given != null && getBalancedClassWeights()) {
            throw new IllegalArgumentException("classWeights and balancedClassWeights are both set; choose one");
        }
        if (given != null) {
            if (given.length != numClasses) {
                throw new IllegalArgumentException("classWeights: has " + given.length + " entries, the data "
                        + numClasses + " classes");
            }
            float[] cw = new float[numClasses];
            for (int c = 0; c < numClasses; c++) {
                cw[c] = (float) given[c];
            }
            return cw;
        }
        if (!getBalancedClassWeights()) {
            return null;
        }
        // scikit-learn's rule, as Weights.balancedClassWeights: n / (numClasses * count(c)), over
        // the rows' labels (not their weights); a class that never appears has no finite weight.
        long[] counts = new long[numClasses];
        long n = 0;
        for (Row r : dataset.groupBy(col(getLabelCol())).agg(count(lit(1))).collectAsList()) {
            if (r.isNullAt(0)) {
                continue;  // the census reports a null label with its row
            }
            double label = r.getDouble(0);
            if (label >= 0 && label < numClasses && label == Math.rint(label)) {
                counts[(int) label] = r.getLong(1);
                n += r.getLong(1);
            }
        }
        float[] cw = new float[numClasses];
        for (int c = 0; c < numClasses; c++) {
            if (counts[c] == 0) {
                throw new IllegalArgumentException("class " + c + " never appears in the labels: its balanced "
                        + "weight would be infinite (drop the class or set classWeights)");
            }
            cw[c] = (float) ((double) n / ((double) numClasses * counts[c]));
        }
        return cw;
    }

    private static Column[] toLiterals(float[] values) {
        Column[] out = new Column[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = lit((double) values[i]);
        }
        return out;
    }

    /** Subtracts each feature's mean over the classes (and the intercepts' mean), as Spark ML does. */
    private static void center(double[] w, double[] b, int classes, int d, boolean intercept) {
        for (int j = 0; j < d; j++) {
            double mean = 0;
            for (int c = 0; c < classes; c++) {
                mean += w[c * d + j];
            }
            mean /= classes;
            for (int c = 0; c < classes; c++) {
                w[c * d + j] -= mean;
            }
        }
        if (intercept) {
            double mean = Arrays.stream(b).sum() / classes;
            for (int c = 0; c < classes; c++) {
                b[c] -= mean;
            }
        }
    }

    private static double sumOfSquares(double[] x, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += x[i] * x[i];
        }
        return s;
    }

    /** The reader of ML persistence: {@code FusedLogisticRegression.load(path)} in a pipeline. */
    public static MLReader<FusedLogisticRegression> read() {
        return new DefaultParamsReadable<FusedLogisticRegression>() {
        }.read();
    }

    /** Loads an estimator saved with {@code save(path)}. */
    public static FusedLogisticRegression load(String path) {
        return read().load(path);
    }
}
