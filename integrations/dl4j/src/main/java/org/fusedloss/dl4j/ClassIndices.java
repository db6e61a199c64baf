package org.fusedloss.dl4j;

import java.nio.FloatBuffer;

/**
 * Class indices from the labels DL4J passes: a column of indices ({@code LossSparseMCXENT}'s layout,
 * {@code [N,1]} or {@code [N]}), or one-hot rows. N ints, a small copy; the range is checked by the
 * core loss, which names the row.
 */
final class ClassIndices {
    private ClassIndices() {
    }

    /**
     * The indices of a column of float32 row-major labels, read from its buffer; each must be a whole
     * number (the ignore index included). Float32 holds every index below 2^24 exactly.
     */
    static int[] fromColumn(FloatBuffer labels, int rows) {
        int[] y = new int[rows];
        int base = labels.position();
        for (int i = 0; i < rows; i++) {
            float v = labels.get(base + i);
            if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("labels[" + i + "] = " + v + " is not a class index "
                        + "(labels of shape [N,1] hold one class index per example, as LossSparseMCXENT takes them)");
            }
            y[i] = (int) v;
        }
        return y;
    }

    /**
     * The index of the 1 in each one-hot row of a float32 row-major {@code rows x cols} buffer; a row of
     * zeros (padding, as DL4J's cross-entropy scores it: 0) becomes {@code ignoreIndex}.
     */
    static int[] fromOneHot(FloatBuffer labels, int rows, int cols, int ignoreIndex, String loss) {
        int[] y = new int[rows];
        int base = labels.position();
        for (int i = 0; i < rows; i++) {
            int hot = -1;
            for (int c = 0; c < cols; c++) {
                float v = labels.get(base + i * cols + c);
                if (v == 1f && hot < 0) {
                    hot = c;
                } else if (v != 0f) {
                    throw new IllegalArgumentException("labels[" + i + ", " + c + "] = " + v + ": " + loss
                            + " takes class indices ([N,1]) or one-hot rows, and row " + i + " is not one-hot");
                }
            }
            y[i] = hot < 0 ? ignoreIndex : hot;
        }
        return y;
    }
}
