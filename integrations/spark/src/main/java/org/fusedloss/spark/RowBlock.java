package org.fusedloss.spark;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Row;

/**
 * Up to {@code blockRows} rows of one partition, in the layout the block math and the loss kernels
 * read: features as a dense row-major {@code rows x features} matrix of doubles (Spark ML's own
 * precision; {@code InstanceBlock} stores the same), class indices or dense float targets, and
 * float sample weights. Blocks are built once per fit and cached.
 */
final class RowBlock implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Where the block came from, for error messages: the partition and its first row there. */
    final int partition;
    final long firstRow;
    final int rows;
    final double[] features;
    /** Class indices (softmax losses), else null. */
    final int[] labels;
    /** Dense targets, {@code rows x outputs} (sigmoid and element-wise losses), else null. */
    final float[] targets;
    /** Sample weights, or null when there is no weight column. */
    final float[] weights;

    private RowBlock(int partition, long firstRow, int rows, double[] features, int[] labels, float[] targets,
                     float[] weights) {
        this.partition = partition;
        this.firstRow = firstRow;
        this.rows = rows;
        this.features = features;
        this.labels = labels;
        this.targets = targets;
        this.weights = weights;
    }

    /** Names the block's rows in a message: "partition 3, rows 4096..8191". */
    String where() {
        return "partition " + partition + ", rows " + firstRow + ".." + (firstRow + rows - 1);
    }

    /**
     * How rows become blocks: the rows hold the features (column 0), the label (column 1) and,
     * when {@code weighted}, the weight (column 2), as {@link LinearObjective} selects them.
     */
    record Layout(int features, int outputs, boolean classIndices, boolean binaryLabels, boolean weighted,
                  int blockRows)
            implements Serializable {
    }

    /** The blocks of one partition's rows, built lazily, {@code layout.blockRows()} rows at a time. */
    static Iterator<RowBlock> blocks(Iterator<Row> rows, int partition, Layout layout) {
        return new Iterator<>() {
            private long next;

            @Override
            public boolean hasNext() {
                return rows.hasNext();
            }

            @Override
            public RowBlock next() {
                if (!rows.hasNext()) {
                    throw new NoSuchElementException();
                }
                RowBlock block = read(rows, partition, next, layout);
                next += block.rows;
                return block;
            }
        };
    }

    private static RowBlock read(Iterator<Row> source, int partition, long firstRow, Layout layout) {
        int d = layout.features();
        int k = layout.outputs();
        int capacity = layout.blockRows();
        double[] x = new double[capacity * d];
        int[] labels = layout.classIndices() ? new int[capacity] : null;
        float[] targets = layout.classIndices() ? null : new float[capacity * k];
        float[] weights = layout.weighted() ? new float[capacity] : null;
        int n = 0;
        while (n < capacity && source.hasNext()) {
            Row row = source.next();
            long at = firstRow + n;
            copyFeatures(row, d, x, n * d, partition, at);
            if (labels != null) {
                labels[n] = classIndex(row, partition, at);
            } else {
                copyTargets(row, layout, targets, n * k, partition, at);
            }
            if (weights != null) {
                if (row.isNullAt(2)) {
                    throw rowError(partition, at, "the weight is null (give every row a weight; NaN marks a "
                            + "missing weight, which masks the row)");
                }
                weights[n] = (float) row.getDouble(2);
            }
            n++;
        }
        if (n < capacity) {  // the partition's last block: trim to its rows
            x = Arrays.copyOf(x, n * d);
            labels = labels == null ? null : Arrays.copyOf(labels, n);
            targets = targets == null ? null : Arrays.copyOf(targets, n * k);
            weights = weights == null ? null : Arrays.copyOf(weights, n);
        }
        return new RowBlock(partition, firstRow, n, x, labels, targets, weights);
    }

    private static void copyFeatures(Row row, int d, double[] x, int offset, int partition, long at) {
        if (row.isNullAt(0)) {
            throw rowError(partition, at, "the features vector is null");
        }
        Vector v = (Vector) row.get(0);
        if (v.size() != d) {
            throw rowError(partition, at, "the features vector has " + v.size() + " entries, the model "
                    + d + " features");
        }
        if (v instanceof DenseVector dense) {
            System.arraycopy(dense.values(), 0, x, offset, d);
        } else {  // sparse: the block's zeros are already there
            SparseVector sparse = (SparseVector) v;
            int[] index = sparse.indices();
            double[] values = sparse.values();
            for (int i = 0; i < index.length; i++) {
                x[offset + index[i]] = values[i];
            }
        }
        for (int j = 0; j < d; j++) {
            if (!Double.isFinite(x[offset + j])) {
                throw rowError(partition, at, "features[" + j + "] = " + x[offset + j] + " is not finite");
            }
        }
    }

    /**
     * A label as a class index for the softmax losses. The range check is the loss's own (its
     * message names the index and the classes); here only what cannot become an int is refused.
     */
    private static int classIndex(Row row, int partition, long at) {
        if (row.isNullAt(1)) {
            throw rowError(partition, at, "the label is null");
        }
        double label = row.getDouble(1);
        if (label != Math.rint(label) || label <= Integer.MIN_VALUE || label > Integer.MAX_VALUE) {
            throw rowError(partition, at, "label = " + label + " is not a class index (a whole number)");
        }
        return (int) label;
    }

    /**
     * Dense targets: a vector label of {@code k} entries (multilabel, multi-output), a number when
     * {@code k = 1} (binary 0/1, or a regression target; only 0 or 1 with {@code binaryLabels}), or a class index one-hot encoded over
     * {@code k} sigmoid outputs (one-vs-rest).
     */
    private static void copyTargets(Row row, Layout layout, float[] t, int offset, int partition, long at) {
        int k = layout.outputs();
        if (row.isNullAt(1)) {
            throw rowError(partition, at, "the label is null");
        }
        Object label = row.get(1);
        if (label instanceof Vector v) {
            if (v.size() != k) {
                throw rowError(partition, at, "the label vector has " + v.size() + " entries, the model "
                        + k + " outputs");
            }
            for (int j = 0; j < k; j++) {
                t[offset + j] = (float) v.apply(j);
            }
            return;
        }
        double y = ((Number) label).doubleValue();
        if (k == 1) {
            if (layout.binaryLabels() && y != 0 && y != 1) {
                throw rowError(partition, at, "label = " + y + " is not a class in [0, 2)");
            }
            t[offset] = (float) y;
            return;
        }
        if (y != Math.rint(y) || y < 0 || y >= k) {
            throw rowError(partition, at, "label = " + y + " is not a class in [0, " + k + ")");
        }
        t[offset + (int) y] = 1f;
    }

    private static IllegalArgumentException rowError(int partition, long at, String what) {
        return new IllegalArgumentException("partition " + partition + ", row " + at + ": " + what);
    }
}
