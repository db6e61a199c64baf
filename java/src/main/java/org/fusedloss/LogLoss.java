package org.fusedloss;

import java.nio.FloatBuffer;
import java.util.function.IntToDoubleFunction;

/**
 * Weighted log loss from probabilities, as scikit-learn's {@code log_loss} with
 * {@code sample_weight}: probabilities clipped to {@code [eps, 1 - eps]} (eps the double machine
 * epsilon) and each row renormalised, so a zero probability on the true class gives a large finite
 * value, not infinity. {@code compute} is the weighted mean ({@code normalize=True}),
 * {@code sum} the weighted sum ({@code normalize=False}). Probabilities come as {@code float[]},
 * {@code double[]} or a {@link FloatBuffer} (read from its position), row-major. For evaluation:
 * measure unweighted ({@code sampleWeights} null) or with weights that match the deployment
 * distribution.
 */
public final class LogLoss {
    /** The clipping bound: the double machine epsilon, 2^-52. */
    public static final double EPS = Math.ulp(1.0);

    private LogLoss() {
    }

    /**
     * Mean of {@code -log p[i, labels[i]]} over rows weighted by {@code sampleWeights} (null: all 1),
     * for {@code rows x cols} probabilities.
     *
     * @param probabilities rows x cols class probabilities, row-major
     * @param rows the number of rows
     * @param cols the number of classes
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted mean log loss
     */
    public static double compute(float[] probabilities, int rows, int cols, int[] labels, float[] sampleWeights) {
        return mean(of(probabilities), rows, cols, labels, sampleWeights);
    }

    /**
     * {@link #compute(float[], int, int, int[], float[])} for probabilities in double.
     *
     * @param probabilities rows x cols class probabilities, row-major
     * @param rows the number of rows
     * @param cols the number of classes
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted mean log loss
     */
    public static double compute(double[] probabilities, int rows, int cols, int[] labels, float[] sampleWeights) {
        return mean(of(probabilities), rows, cols, labels, sampleWeights);
    }

    /**
     * {@link #compute(float[], int, int, int[], float[])} for probabilities in a buffer, from its position.
     *
     * @param probabilities rows x cols class probabilities, row-major, from the buffer's position
     * @param rows the number of rows
     * @param cols the number of classes
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted mean log loss
     */
    public static double compute(FloatBuffer probabilities, int rows, int cols, int[] labels, float[] sampleWeights) {
        return mean(of(probabilities), rows, cols, labels, sampleWeights);
    }

    /**
     * The weighted sum of {@code -log p[i, labels[i]]}, not divided by the weights (scikit-learn's
     * {@code normalize=False}): 0 when every weight is 0.
     *
     * @param probabilities rows x cols class probabilities, row-major
     * @param rows the number of rows
     * @param cols the number of classes
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted sum of the per-row log losses
     */
    public static double sum(float[] probabilities, int rows, int cols, int[] labels, float[] sampleWeights) {
        return sums(of(probabilities), rows, cols, labels, sampleWeights)[0];
    }

    /**
     * {@link #sum(float[], int, int, int[], float[])} for probabilities in double.
     *
     * @param probabilities rows x cols class probabilities, row-major
     * @param rows the number of rows
     * @param cols the number of classes
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted sum of the per-row log losses
     */
    public static double sum(double[] probabilities, int rows, int cols, int[] labels, float[] sampleWeights) {
        return sums(of(probabilities), rows, cols, labels, sampleWeights)[0];
    }

    /**
     * {@link #sum(float[], int, int, int[], float[])} for probabilities in a buffer, from its position.
     *
     * @param probabilities rows x cols class probabilities, row-major, from the buffer's position
     * @param rows the number of rows
     * @param cols the number of classes
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted sum of the per-row log losses
     */
    public static double sum(FloatBuffer probabilities, int rows, int cols, int[] labels, float[] sampleWeights) {
        return sums(of(probabilities), rows, cols, labels, sampleWeights)[0];
    }

    /**
     * Binary case: {@code probabilityOfOne[i]} is P(label 1), labels are 0 or 1; the weighted mean.
     *
     * @param probabilityOfOne the predicted probability of label 1, one per row
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted mean binary log loss
     */
    public static double computeBinary(float[] probabilityOfOne, int[] labels, float[] sampleWeights) {
        requireNonNull(probabilityOfOne, "probabilityOfOne");
        return mean(binary(of(probabilityOfOne)), probabilityOfOne.length, 2, labels, sampleWeights);
    }

    /**
     * {@link #computeBinary(float[], int[], float[])} for probabilities in double.
     *
     * @param probabilityOfOne the predicted probability of label 1, one per row
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted mean binary log loss
     */
    public static double computeBinary(double[] probabilityOfOne, int[] labels, float[] sampleWeights) {
        requireNonNull(probabilityOfOne, "probabilityOfOne");
        return mean(binary(of(probabilityOfOne)), probabilityOfOne.length, 2, labels, sampleWeights);
    }

    /**
     * Binary case, the weighted sum ({@code normalize=False}).
     *
     * @param probabilityOfOne the predicted probability of label 1, one per row
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted sum of the per-row binary log losses
     */
    public static double sumBinary(float[] probabilityOfOne, int[] labels, float[] sampleWeights) {
        requireNonNull(probabilityOfOne, "probabilityOfOne");
        return sums(binary(of(probabilityOfOne)), probabilityOfOne.length, 2, labels, sampleWeights)[0];
    }

    /** Probabilities as read by index; {@code length} is -1 where it is not known. */
    private record Values(IntToDoubleFunction at, long length) {
    }

    private static Values of(float[] p) {
        requireNonNull(p, "probabilities");
        return new Values(i -> p[i], p.length);
    }

    private static Values of(double[] p) {
        requireNonNull(p, "probabilities");
        return new Values(i -> p[i], p.length);
    }

    private static Values of(FloatBuffer p) {
        requireNonNull(p, "probabilities");
        FloatBuffer view = p.slice();
        return new Values(view::get, view.remaining());
    }

    /** Two columns, 1 - p and p, from the probabilities of label 1. */
    private static Values binary(Values one) {
        return new Values(i -> (i & 1) == 0 ? 1 - one.at().applyAsDouble(i >> 1) : one.at().applyAsDouble(i >> 1),
                2 * one.length());
    }

    private static double mean(Values p, int rows, int cols, int[] labels, float[] sampleWeights) {
        double[] s = sums(p, rows, cols, labels, sampleWeights);
        if (s[1] == 0) {
            throw new IllegalArgumentException("sampleWeights: they sum to 0, the weighted mean is undefined");
        }
        return s[0] / s[1];
    }

    /** {weighted sum of the row losses, sum of the weights}. */
    private static double[] sums(Values p, int rows, int cols, int[] labels, float[] sampleWeights) {
        requireNonNull(labels, "labels");
        if (rows < 1 || cols < 1 || (long) rows * cols != p.length()) {
            throw new IllegalArgumentException("probabilities: has " + p.length() + " values, not rows x cols = "
                    + rows + " x " + cols);
        }
        if (labels.length != rows || (sampleWeights != null && sampleWeights.length != rows)) {
            throw new IllegalArgumentException((labels.length != rows ? "labels" : "sampleWeights")
                    + ": needs one entry per row (" + rows + ")");
        }
        double sum = 0;
        double weightSum = 0;
        for (int i = 0; i < rows; i++) {
            int y = labels[i];
            if (y < 0 || y >= cols) {
                throw new IllegalArgumentException("labels[" + i + "] = " + y + " is outside [0, " + cols + ")");
            }
            double w = sampleWeights == null ? 1 : sampleWeights[i];
            if (!(w >= 0) || Double.isInfinite(w)) {
                throw new IllegalArgumentException("sampleWeights[" + i + "] = " + w + " must be finite and not negative");
            }
            double rowSum = 0;
            for (int c = 0; c < cols; c++) {
                rowSum += clipped(p, i * cols + c);
            }
            sum += w * -Math.log(clipped(p, i * cols + y) / rowSum);
            weightSum += w;
        }
        return new double[] {sum, weightSum};
    }

    private static double clipped(Values p, int at) {
        double v = p.at().applyAsDouble(at);
        if (!(v >= 0 && v <= 1)) {
            throw new IllegalArgumentException("probabilities[" + at + "] = " + v + " is not a probability in [0, 1]");
        }
        return Math.min(Math.max(v, EPS), 1 - EPS);
    }

    private static void requireNonNull(Object o, String name) {
        if (o == null) {
            throw new IllegalArgumentException(name + " is null");
        }
    }
}
