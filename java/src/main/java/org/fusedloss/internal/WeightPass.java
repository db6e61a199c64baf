package org.fusedloss.internal;

/**
 * The pass over the labels and weights of a request before any computation, in Java: it rejects
 * bad values (naming the argument, the index and the value, in docs/SEMANTICS.md's order) and sums
 * what the reductions divide by. Every backend runs it ({@link KernelBackend#weightStats}); the
 * native one runs its vector version first on large batches and comes here only to name a bad value.
 */
public final class WeightPass {
    private WeightPass() {
    }

    /** Checks the request's labels and weights and sums the effective weights of the counted terms. */
    public static WeightStats run(LossRequest r) {
        LossKind kind = r.kind();
        if (!kind.perRow()) {
            return elements(r);
        }
        return rows(r, kind.takesLabels(), r.options().ignoreIndex(),
                kind.classWeightsInDenominator() ? r.options().denominatorClassWeights() : null);
    }

    /**
     * Row-wise losses: checks the labels (if any) and sample weights; a row counts unless its label
     * is the ignore index or its weight is NaN. Its effective weight is
     * {@code rowWeights[label] * sampleWeight} ({@code rowWeights} null: the sample weight alone).
     */
    static WeightStats rows(LossRequest r, boolean withLabels, int ignoreIndex, float[] rowWeights) {
        final int rows = r.rows();
        final int cols = r.cols();
        final Span labels = withLabels ? r.inputs().labels() : null;
        final Span sw = r.inputs().sampleWeights();
        final int stride = (int) r.inputs().sampleWeightStride();
        // Locals, not fields, in the loop, and heap arrays read straight: this pass runs before
        // every call, and through a buffer view it cost as much as a tenth of a small-C call.
        final float[] swArray = sw == null ? null : (float[]) sw.heapArray();
        final int swOffset = sw == null ? 0 : sw.offset();
        final int[] yArray = labels == null ? null : (int[]) labels.heapArray();
        final int yOffset = labels == null ? 0 : labels.offset();
        double weightSum = 0;
        long counted = 0;
        long masked = 0;
        for (int i = 0; i < rows; i++) {
            float w = 1f;
            if (sw != null) {
                w = swArray != null ? swArray[swOffset + i * stride] : sw.getFloat((long) i * stride);
                if (!Errors.weightOk(w)) {
                    // a bad label anywhere comes first (SEMANTICS.md: the order the GPU reports too)
                    firstBadLabel(labels, rows, cols, ignoreIndex);
                    throw Errors.badWeight("sampleWeights", i, w);
                }
            }
            int y = 0;
            if (labels != null) {
                y = yArray != null ? yArray[yOffset + i] : labels.getInt(i);
                if (y == ignoreIndex) {
                    continue;
                }
                if (y < 0 || y >= cols) {
                    throw Errors.badLabel(i, y, cols, ignoreIndex);
                }
            }
            if (Float.isNaN(w)) {
                masked++;
                continue;
            }
            counted++;
            weightSum += rowWeights == null ? w : (double) rowWeights[y] * w;
        }
        return new WeightStats(weightSum, counted, masked);
    }

    /** Throws for the first label outside [0, cols) that is not the ignore index, if any. */
    private static void firstBadLabel(Span labels, int rows, int cols, int ignoreIndex) {
        for (int i = 0; labels != null && i < rows; i++) {
            int y = labels.getInt(i);
            if (y != ignoreIndex && (y < 0 || y >= cols)) {
                throw Errors.badLabel(i, y, cols, ignoreIndex);
            }
        }
    }

    /** Element-wise losses: checks sample and element weights; an element counts unless one is NaN. */
    static WeightStats elements(LossRequest r) {
        final int rows = r.rows();
        final int cols = r.cols();
        final Span sw = r.inputs().sampleWeights();
        final Span ew = r.inputs().elementWeights();
        final long stride = r.inputs().sampleWeightStride();
        if (sw == null && ew == null) {
            long all = (long) rows * cols;
            return new WeightStats(all, all, 0);
        }
        double weightSum = 0;
        long counted = 0;
        long masked = 0;
        for (int i = 0; i < rows; i++) {
            float w = sw == null ? 1f : Errors.checkedWeight("sampleWeights", sw.getFloat(i * stride), i);
            if (ew == null) {  // a row's weight holds for all its elements: no need to visit them
                if (Float.isNaN(w)) {
                    masked += cols;
                } else {
                    counted += cols;
                    weightSum += (double) w * cols;
                }
                continue;
            }
            for (int j = 0; j < cols; j++) {
                long at = (long) i * cols + j;
                float e = ew.getFloat(at);
                if (!Errors.weightOk(e)) {
                    // a bad sample weight of a later row comes first (SEMANTICS.md)
                    for (int later = i + 1; sw != null && later < rows; later++) {
                        Errors.checkedWeight("sampleWeights", sw.getFloat(later * stride), later);
                    }
                    throw Errors.badWeight("elementWeights", at, e);
                }
                if (Float.isNaN(w) || Float.isNaN(e)) {
                    masked++;
                } else {
                    counted++;
                    weightSum += (double) w * e;
                }
            }
        }
        return new WeightStats(weightSum, counted, masked);
    }

    /** Binary class weights pick the weight by the target, so the targets must be exactly 0 or 1. */
    public static void checkHardTargets(LossRequest r) {
        Span t = r.inputs().targets();
        for (long i = 0, n = r.elements(); i < n; i++) {
            float v = t.getFloat(i);
            if (v != 0f && v != 1f) {
                throw Errors.notHardTarget(i, v);
            }
        }
    }
}
