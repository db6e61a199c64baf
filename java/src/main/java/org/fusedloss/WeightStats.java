package org.fusedloss;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.fusedloss.internal.nativecpu.NativeEngine;

/**
 * One pass over the labels and weights of a batch, before any computation: it rejects bad values
 * (with the argument, the index and the value) and sums what the reductions divide by.
 */
final class WeightStats {
    /**
     * From this many terms on, a call on the native backend makes this pass in native code (a
     * tenth of the Java loop's time, which at small C was a tenth of the whole call).
     */
    static final long NATIVE_MIN_TERMS = 4096;

    double weightSum;
    long counted;
    long masked;

    /** The native pass's result, or null where it found a bad value (the Java pass then names it). */
    private static WeightStats fromNative(double[] sums) {
        if (sums == null) {
            return null;
        }
        WeightStats s = new WeightStats();
        s.weightSum = sums[0];
        s.counted = (long) sums[1];
        s.masked = (long) sums[2];
        return s;
    }

    /** Row-wise losses, on the backend {@code on}: natively where that backend is the native one. */
    static WeightStats rows(Batch b, boolean withLabels, int ignoreIndex, float[] rowWeights, Backend on) {
        if (on instanceof NativeEngine nb && nb.isAvailable() && b.rows >= NATIVE_MIN_TERMS) {
            WeightStats s = fromNative(nb.weightSums(b.rows, b.cols, withLabels ? b.labels.ints(b.rows) : null,
                    ignoreIndex, rowWeights, sampleWeights(b), b.sampleWeightStride, null));
            if (s != null) {
                return s;
            }
        }
        return rows(b, withLabels, ignoreIndex, rowWeights);
    }

    /** Element-wise losses, on the backend {@code on}: natively where that backend is the native one. */
    static WeightStats elements(Batch b, Backend on) {
        boolean weighted = b.sampleWeights != null || b.elementWeights != null;
        long terms = b.elementWeights != null ? (long) b.rows * b.cols : b.rows;
        if (weighted && on instanceof NativeEngine nb && nb.isAvailable() && terms >= NATIVE_MIN_TERMS) {
            WeightStats s = fromNative(nb.weightSums(b.rows, b.cols, null, 0, null, sampleWeights(b),
                    b.sampleWeightStride,
                    b.elementWeights == null ? null : b.elementWeights.floats((long) b.rows * b.cols)));
            if (s != null) {
                if (b.elementWeights == null) {  // one term per row: each stands for its row's cols elements
                    s.weightSum *= b.cols;
                    s.counted *= b.cols;
                    s.masked *= b.cols;
                }
                return s;
            }
        }
        return elements(b);
    }

    /**
     * Row-wise losses: checks the labels (if any) and sample weights; a row counts unless its label
     * is the ignore index or its weight is NaN. Its effective weight is
     * {@code rowWeights[label] * sampleWeight} ({@code rowWeights} null: the sample weight alone).
     */
    static WeightStats rows(Batch b, boolean withLabels, int ignoreIndex, float[] rowWeights) {
        IntBuffer labels = withLabels ? b.labels.ints(b.rows) : null;
        FloatBuffer sw = sampleWeights(b);
        // Locals, not fields, in the loop: this pass runs before every call and must stay cheap.
        double weightSum = 0;
        long counted = 0;
        long masked = 0;
        final int stride = b.sampleWeightStride;
        // Heap weights are read straight from the array: through a FloatBuffer view this pass cost
        // as much as a tenth of a small-C cross-entropy call.
        final float[] swArray = b.sampleWeights != null && b.sampleWeights.array != null
                ? (float[]) b.sampleWeights.array : null;
        final int swOffset = swArray != null ? b.sampleWeights.offset : 0;
        for (int i = 0; i < b.rows; i++) {
            float w = 1f;
            if (sw != null) {
                w = swArray != null ? swArray[swOffset + i * stride] : sw.get(i * stride);
                if (!(w >= 0f && w < Float.POSITIVE_INFINITY) && !Float.isNaN(w)) {
                    // a bad label anywhere comes first (SEMANTICS.md: the order the GPU reports too)
                    firstBadLabel(labels, b.rows, b.cols, ignoreIndex);
                    checkedWeight("sampleWeights", w, i);  // throws, naming the index and value
                }
            }
            int y = 0;
            if (labels != null) {
                y = labels.get(i);
                if (y == ignoreIndex) {
                    continue;
                }
                if (y < 0 || y >= b.cols) {
                    throw badLabel(i, y, b.cols, ignoreIndex);
                }
            }
            if (Float.isNaN(w)) {
                masked++;
                continue;
            }
            counted++;
            weightSum += rowWeights == null ? w : (double) rowWeights[y] * w;
        }
        WeightStats s = new WeightStats();
        s.weightSum = weightSum;
        s.counted = counted;
        s.masked = masked;
        return s;
    }

    /** Throws for the first label outside [0, cols) that is not the ignore index, if any. */
    private static void firstBadLabel(IntBuffer labels, int rows, int cols, int ignoreIndex) {
        for (int i = 0; labels != null && i < rows; i++) {
            int y = labels.get(i);
            if (y != ignoreIndex && (y < 0 || y >= cols)) {
                throw badLabel(i, y, cols, ignoreIndex);
            }
        }
    }

    private static IllegalArgumentException badLabel(int i, int y, int cols, int ignoreIndex) {
        return new IllegalArgumentException("labels[" + i + "] = " + y + " is outside [0, " + cols
                + ") and is not the ignore index " + ignoreIndex);
    }

    /** Element-wise losses: checks sample and element weights; an element counts unless one is NaN. */
    static WeightStats elements(Batch b) {
        WeightStats s = new WeightStats();
        FloatBuffer sw = sampleWeights(b);
        FloatBuffer ew = b.elementWeights == null ? null : b.elementWeights.floats((long) b.rows * b.cols);
        if (sw == null && ew == null) {
            s.counted = (long) b.rows * b.cols;
            s.weightSum = s.counted;
            return s;
        }
        for (int i = 0; i < b.rows; i++) {
            float w = sw == null ? 1f : checkedWeight("sampleWeights", sw.get(i * b.sampleWeightStride), i);
            if (ew == null) {  // a row's weight holds for all its elements: no need to visit them
                if (Float.isNaN(w)) {
                    s.masked += b.cols;
                } else {
                    s.counted += b.cols;
                    s.weightSum += (double) w * b.cols;
                }
                continue;
            }
            for (int j = 0; j < b.cols; j++) {
                int at = i * b.cols + j;
                float e = ew.get(at);
                if (!(e >= 0f && e < Float.POSITIVE_INFINITY) && !Float.isNaN(e)) {
                    // a bad sample weight of a later row comes first (SEMANTICS.md)
                    for (int r = i + 1; sw != null && r < b.rows; r++) {
                        checkedWeight("sampleWeights", sw.get(r * b.sampleWeightStride), r);
                    }
                    checkedWeight("elementWeights", e, at);
                }
                if (Float.isNaN(w) || Float.isNaN(e)) {
                    s.masked++;
                } else {
                    s.counted++;
                    s.weightSum += (double) w * e;
                }
            }
        }
        return s;
    }

    /** Binary class weights pick the weight by the label, so the targets must be exactly 0 or 1. */
    static void checkHardTargets(Batch b) {
        FloatBuffer t = b.targets.floats((long) b.rows * b.cols);
        for (int i = 0, n = b.rows * b.cols; i < n; i++) {
            float v = t.get(i);
            if (v != 0f && v != 1f) {
                throw new IllegalArgumentException("targets[" + i + "] = " + v
                        + ": binary class weights need hard 0/1 targets");
            }
        }
    }

    private static FloatBuffer sampleWeights(Batch b) {
        return b.sampleWeights == null ? null
                : b.sampleWeights.floats(b.rows == 0 ? 0 : (long) (b.rows - 1) * b.sampleWeightStride + 1);
    }

    private static float checkedWeight(String name, float w, long index) {
        if (w < 0f) {
            throw new IllegalArgumentException(name + "[" + index + "] = " + w + " is negative");
        }
        if (Float.isInfinite(w)) {
            throw new IllegalArgumentException(name + "[" + index + "] = " + w + " is infinite");
        }
        return w;
    }

    /** Checks a configured per-class or per-output vector: finite, not negative. */
    static float[] checkedVector(String name, float[] v) {
        if (v == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        float[] copy = v.clone();
        for (int i = 0; i < copy.length; i++) {
            if (Float.isNaN(copy[i])) {
                throw new IllegalArgumentException(name + "[" + i + "] = NaN; NaN marks a missing weight only "
                        + "for sample and element weights");
            }
            checkedWeight(name, copy[i], i);
        }
        return copy;
    }
}
