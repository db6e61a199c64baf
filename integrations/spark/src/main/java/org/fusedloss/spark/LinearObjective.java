package org.fusedloss.spark;

import static org.apache.spark.sql.functions.col;

import java.util.Map;
import java.util.Objects;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.attribute.AttributeGroup;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.storage.StorageLevel;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Loss;
import org.fusedloss.Reduction;
import org.fusedloss.SoftmaxFocal;

/**
 * The loss of a linear model over a {@code Dataset<Row>} and its gradient, computed data-parallel:
 * each partition turns its rows into blocks (cached), computes the logits {@code x W^T + b} of each
 * block, the loss and its gradient with respect to the logits in one fused call of the core, and
 * the gradient with respect to W and b; {@code treeAggregate} combines the partitions.
 *
 * <p>The reduction is global. For {@link Reduction#MEAN} every block divides by the weight sum of
 * the WHOLE data set (the core's caller-given denominator), which a first pass (the census) asks
 * the loss itself for, so the result is the single-machine loss and gradient whatever the
 * partitioning: equal to about 1e-15 relative (sums in another order), and bit-identical run to
 * run for a given partitioning. {@link Reduction#BATCH_MEAN} divides by the global count,
 * {@link Reduction#SUM} by nothing.
 *
 * <pre>{@code
 * try (LinearObjective objective = LinearObjective.builder(() -> CrossEntropy.builder().build())
 *         .labelCol("label").weightCol("weight").numOutputs(10).build(dataset)) {
 *     LinearObjective.Evaluation e = objective.evaluate(coefficients);  // e.loss(), e.gradient()
 * }
 * }</pre>
 *
 * <p>Coefficients and gradient are laid out as Spark ML's {@code coefficientMatrix} (outputs x
 * features, row-major), followed by the intercepts when there are any.
 */
public final class LinearObjective implements AutoCloseable {
    private final LossFactory lossFactory;
    private final RowBlock.Layout layout;
    private final boolean fitIntercept;
    private final int aggregationDepth;
    private final Reduction reduction;
    private final JavaRDD<RowBlock> blocks;
    private final double denominator;
    private final PartialSums census;

    private LinearObjective(Builder b, Loss probe, Dataset<Row> dataset) {
        this.lossFactory = b.lossFactory;
        this.fitIntercept = b.fitIntercept;
        this.aggregationDepth = b.aggregationDepth;
        this.reduction = probe.reduction();

        StructField label = dataset.schema().apply(b.labelCol);
        boolean vectorLabel = label.dataType().equals(SQLDataTypes.VectorType());
        if (!vectorLabel && !(label.dataType() instanceof NumericType)) {
            throw new IllegalArgumentException("labelCol: column " + b.labelCol + " is " + label.dataType()
                    + ", not a number or a vector");
        }
        StructField features = dataset.schema().apply(b.featuresCol);
        if (!features.dataType().equals(SQLDataTypes.VectorType())) {
            throw new IllegalArgumentException("featuresCol: column " + b.featuresCol + " is "
                    + features.dataType() + ", not a vector");
        }
        boolean classIndices = !vectorLabel && (probe instanceof CrossEntropy || probe instanceof SoftmaxFocal);
        boolean weighted = b.weightCol != null && !b.weightCol.isEmpty();
        Column labelColumn = vectorLabel ? col(b.labelCol) : col(b.labelCol).cast(DataTypes.DoubleType);
        Dataset<Row> selected = weighted
                ? dataset.select(col(b.featuresCol), labelColumn, col(b.weightCol).cast(DataTypes.DoubleType))
                : dataset.select(col(b.featuresCol), labelColumn);
        int numFeatures = b.numFeatures > 0 ? b.numFeatures : numFeatures(features, selected);
        this.layout = new RowBlock.Layout(numFeatures, b.numOutputs, classIndices, b.binaryLabels, weighted, b.blockRows);

        RowBlock.Layout l = layout;
        this.blocks = selected.toJavaRDD()
                .mapPartitionsWithIndex((partition, rows) -> RowBlock.blocks(rows, partition, l), true)
                .persist(b.storageLevel)
                .setName("fusedloss: training blocks (" + b.blockRows + " rows)");

        // The census: the loss's own weight sum and counts over all the data. It validates every
        // label and weight (the core's messages) before any optimisation starts.
        BlockEvaluator counter = BlockEvaluator.census(lossFactory, layout);
        this.census = aggregate(counter);
        this.denominator = switch (reduction) {
            case MEAN -> census.weightSum;
            case BATCH_MEAN -> census.counted;
            case SUM -> Double.NaN;
            case NONE -> throw new AssertionError("checked in build");
        };
    }

    /** A builder for the objective of the loss {@code lossFactory} builds. */
    public static Builder builder(LossFactory lossFactory) {
        return new Builder(lossFactory);
    }

    /**
     * The loss and its gradient at {@code coefficients} (outputs x features row-major, then the
     * intercepts): one Spark job over the cached blocks.
     */
    public Evaluation evaluate(double[] coefficients) {
        Objects.requireNonNull(coefficients, "coefficients");
        if (coefficients.length != numCoefficients()) {
            throw new IllegalArgumentException("coefficients: has " + coefficients.length + " entries, the model "
                    + numCoefficients() + " (" + layout.outputs() + " x " + layout.features()
                    + (fitIntercept ? " + " + layout.outputs() + " intercepts)" : ")"));
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(blocks.context());
        Broadcast<double[]> broadcast = sc.broadcast(coefficients.clone());
        try {
            PartialSums sums = aggregate(new BlockEvaluator(lossFactory, layout, fitIntercept, denominator, broadcast));
            double[] gradient = sums.gradient != null ? sums.gradient : new double[numCoefficients()];
            return new Evaluation(sums.loss, gradient, sums.weightSum, sums.counted, sums.masked, sums.nonFinite,
                    Map.copyOf(sums.backendBlocks));
        } finally {
            broadcast.destroy();
        }
    }

    private PartialSums aggregate(BlockEvaluator evaluator) {
        return blocks.treeAggregate(new PartialSums(), evaluator::add, PartialSums::merge, aggregationDepth);
    }

    /** The number of features (columns of W). */
    public int numFeatures() {
        return layout.features();
    }

    /** The number of outputs (rows of W): classes for the softmax losses, sigmoid or regression outputs otherwise. */
    public int numOutputs() {
        return layout.outputs();
    }

    /** Whether the model has intercepts. */
    public boolean fitIntercept() {
        return fitIntercept;
    }

    /** The length of the coefficient and gradient arrays. */
    public int numCoefficients() {
        return layout.outputs() * layout.features() + (fitIntercept ? layout.outputs() : 0);
    }

    /** The loss's reduction. */
    public Reduction reduction() {
        return reduction;
    }

    /** What the loss is divided by: the global weight sum (MEAN), count (BATCH_MEAN), or 1 (SUM). */
    public double denominator() {
        return Double.isNaN(denominator) ? 1.0 : denominator;
    }

    /** The number of rows. */
    public long rows() {
        return census.rows;
    }

    /** The terms that count (not ignored, weight not missing), as the loss counts them. */
    public long counted() {
        return census.counted;
    }

    /** The terms masked by a missing (NaN) weight. */
    public long masked() {
        return census.masked;
    }

    /** The sum of the effective weights of the counted terms over the whole data set. */
    public double weightSum() {
        return census.weightSum;
    }

    /** Drops the cached blocks. */
    @Override
    public void close() {
        blocks.unpersist(false);
    }

    private static int numFeatures(StructField features, Dataset<Row> selected) {
        int size = AttributeGroup.fromStructField(features).size();
        if (size >= 0) {
            return size;
        }
        Row[] first = (Row[]) selected.select(selected.columns()[0]).where(col(selected.columns()[0]).isNotNull())
                .head(1);
        if (first.length == 0) {
            throw new IllegalArgumentException("the data set has no row with features: the number of features is "
                    + "unknown (give it with numFeatures)");
        }
        return ((Vector) first[0].get(0)).size();
    }

    /**
     * One evaluation: the reduced loss over the whole data set, its gradient with respect to the
     * coefficients, and the loss's counts.
     *
     * @param loss          the reduced loss (MEAN: divided by the global weight sum)
     * @param gradient      its gradient, laid out as the coefficients
     * @param weightSum     the sum of the effective weights of the counted terms
     * @param counted       terms that took part
     * @param masked        terms masked by a missing (NaN) weight
     * @param nonFinite     counted terms whose loss is not finite
     * @param backendBlocks the number of blocks each backend computed (e.g. {@code {native=245}})
     */
    public record Evaluation(double loss, double[] gradient, double weightSum, long counted, long masked,
                             long nonFinite, Map<String, Long> backendBlocks) {
    }

    /** The columns, shapes and Spark settings of an objective. */
    public static final class Builder {
        private final LossFactory lossFactory;
        private String featuresCol = "features";
        private String labelCol = "label";
        private String weightCol;
        private int numOutputs = -1;
        private int numFeatures = -1;
        private boolean fitIntercept = true;
        private int blockRows = 4096;
        private int aggregationDepth = 2;
        private StorageLevel storageLevel = StorageLevel.MEMORY_AND_DISK();
        private boolean binaryLabels;

        private Builder(LossFactory lossFactory) {
            this.lossFactory = Objects.requireNonNull(lossFactory, "lossFactory");
        }

        /** The column of Spark ML vectors (default {@code features}). */
        public Builder featuresCol(String name) {
            this.featuresCol = Objects.requireNonNull(name, "featuresCol");
            return this;
        }

        /**
         * The label column (default {@code label}): a class index for the softmax losses; for the
         * others a vector of the outputs' targets, a number when there is one output, or a class
         * index that becomes a one-hot target over the outputs.
         */
        public Builder labelCol(String name) {
            this.labelCol = Objects.requireNonNull(name, "labelCol");
            return this;
        }

        /** The column of sample weights (default none: every row weighs 1). */
        public Builder weightCol(String name) {
            this.weightCol = name;
            return this;
        }

        /** The number of outputs: classes for the softmax losses, targets per row otherwise (required). */
        public Builder numOutputs(int outputs) {
            if (outputs < 1) {
                throw new IllegalArgumentException("numOutputs = " + outputs + " must be at least 1");
            }
            this.numOutputs = outputs;
            return this;
        }

        /** The number of features (default: from the column's metadata, else the first row). */
        public Builder numFeatures(int features) {
            if (features < 0) {
                throw new IllegalArgumentException("numFeatures = " + features + " is negative");
            }
            this.numFeatures = features;
            return this;
        }

        /** Whether the model has one intercept per output (default true). */
        public Builder fitIntercept(boolean fit) {
            this.fitIntercept = fit;
            return this;
        }

        /** Rows per block, one fused loss call each (default 4096). */
        public Builder blockRows(int rows) {
            if (rows < 1) {
                throw new IllegalArgumentException("blockRows = " + rows + " must be at least 1");
            }
            this.blockRows = rows;
            return this;
        }

        /** The depth of {@code treeAggregate} (default 2, as Spark ML). */
        public Builder aggregationDepth(int depth) {
            if (depth < 1) {
                throw new IllegalArgumentException("aggregationDepth = " + depth + " must be at least 1");
            }
            this.aggregationDepth = depth;
            return this;
        }

        /** Where the blocks are cached (default MEMORY_AND_DISK, as Spark ML's training blocks). */
        public Builder storageLevel(StorageLevel level) {
            this.storageLevel = Objects.requireNonNull(level, "storageLevel");
            return this;
        }

        /** For the estimator: a number label of a one-output sigmoid model must be a class, 0 or 1. */
        Builder binaryLabels() {
            this.binaryLabels = true;
            return this;
        }

        /**
         * Converts the rows to cached blocks and runs the census (one Spark job), which checks every
         * label and weight and sums the global denominator. Bad input fails that job with the core's
         * message, naming the partition and rows.
         */
        public LinearObjective build(Dataset<Row> dataset) {
            Objects.requireNonNull(dataset, "dataset");
            if (numOutputs < 1) {
                throw new IllegalArgumentException("numOutputs: not set (the classes, or outputs, of the model)");
            }
            Loss probe = lossFactory.create();
            if (probe == null) {
                throw new IllegalArgumentException("lossFactory: returned null");
            }
            if (probe.reduction() == Reduction.NONE) {
                throw new IllegalArgumentException("reduction: the objective needs one value; this loss reduces "
                        + "with NONE (use MEAN, BATCH_MEAN or SUM)");
            }
            if (!probe.computesGradient()) {
                throw new IllegalArgumentException("the loss is built with computeGradient(false); the objective needs "
                        + "its gradient");
            }
            return new LinearObjective(this, probe, dataset);
        }
    }
}
