package org.fusedloss.internal;

/**
 * What a caller set on a batch, before any check: the shape and one {@link Span} per argument.
 * {@code org.fusedloss.Batch} (host memory) and {@code org.fusedloss.cuda.DeviceBatch} (device
 * memory) are two faces of it; the loss validates it, once, into a {@link LossRequest}.
 */
public final class BatchData {
    /** The largest Java array: a batch in host memory must fit one. */
    public static final long MAX_HOST_ELEMENTS = Integer.MAX_VALUE - 8;

    /** How messages name the setters: {@code "Batch"} or {@code "DeviceBatch"}. */
    public final String api;
    public final int rows;
    public final int cols;
    public final Span predictions;
    public Span labels;
    public Span targets;
    public Span sampleWeights;
    public long sampleWeightStride = 1;
    public Span elementWeights;
    public Span upstream;
    public Span gradient;
    public Span perTerm;
    public double denominator;
    public boolean hasDenominator;

    /** Checks the shape; a batch in host memory must also fit one Java array. */
    public BatchData(String api, Span predictions, int rows, int cols) {
        if (rows < 0) {
            throw new IllegalArgumentException("rows = " + rows + " is negative");
        }
        if (cols < 1) {
            throw new IllegalArgumentException("cols = " + cols + " must be at least 1");
        }
        if (!predictions.onDevice() && (long) rows * cols > MAX_HOST_ELEMENTS) {
            throw new IllegalArgumentException("rows * cols = " + (long) rows * cols
                    + " is larger than the largest Java array (" + MAX_HOST_ELEMENTS + ")");
        }
        this.api = api;
        this.predictions = predictions;
        this.rows = rows;
        this.cols = cols;
    }

    /** {@return true when the data live in device memory} */
    public boolean onDevice() {
        return predictions.onDevice();
    }
}
