package org.fusedloss;

/**
 * Weighted log loss from probabilities, as scikit-learn's {@code log_loss} with
 * {@code sample_weight}: probabilities clipped to {@code [eps, 1 - eps]} (eps the double machine
 * epsilon) and each row renormalised, so a zero probability on the true class gives a large finite
 * value, not infinity. For evaluation: measure unweighted ({@code sampleWeights} null) or with
 * weights that match the deployment distribution.
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
        if (probabilities == null || labels == null) {
            throw new IllegalArgumentException((probabilities == null ? "probabilities" : "labels") + " is null");
        }
        if (rows < 1 || cols < 1 || (long) rows * cols != probabilities.length) {
            throw new IllegalArgumentException("probabilities: has " + probabilities.length + " values, not rows x cols = "
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
                rowSum += clipped(probabilities, i * cols + c);
            }
            sum += w * -Math.log(clipped(probabilities, i * cols + y) / rowSum);
            weightSum += w;
        }
        if (weightSum == 0) {
            throw new IllegalArgumentException("sampleWeights: they sum to 0, the weighted mean is undefined");
        }
        return sum / weightSum;
    }

    /**
     * Binary case: {@code probabilityOfOne[i]} is P(label 1), labels are 0 or 1.
     *
     * @param probabilityOfOne the predicted probability of label 1, one per row
     * @param labels the true class of each row
     * @param sampleWeights one weight per row, or null for all 1
     * @return the weighted mean binary log loss
     */
    public static double computeBinary(float[] probabilityOfOne, int[] labels, float[] sampleWeights) {
        if (probabilityOfOne == null) {
            throw new IllegalArgumentException("probabilityOfOne is null");
        }
        float[] two = new float[2 * probabilityOfOne.length];
        for (int i = 0; i < probabilityOfOne.length; i++) {
            two[2 * i] = 1 - probabilityOfOne[i];
            two[2 * i + 1] = probabilityOfOne[i];
        }
        return compute(two, probabilityOfOne.length, 2, labels, sampleWeights);
    }

    private static double clipped(float[] p, int at) {
        double v = p[at];
        if (!(v >= 0 && v <= 1)) {
            throw new IllegalArgumentException("probabilities[" + at + "] = " + v + " is not a probability in [0, 1]");
        }
        return Math.min(Math.max(v, EPS), 1 - EPS);
    }
}
