package org.fusedloss.internal;

/**
 * The messages of the input errors, each written once: the Java checks, the native weight pass
 * and the CUDA kernels' error word all report a bad value through these, so the same input gives
 * the same {@link IllegalArgumentException} on every backend (docs/SEMANTICS.md, "Effective weight").
 */
public final class Errors {
    private Errors() {
    }

    /** A label outside [0, cols) that is not the ignore index. */
    public static IllegalArgumentException badLabel(long row, long label, long cols, int ignoreIndex) {
        return new IllegalArgumentException("labels[" + row + "] = " + label + " is outside [0, " + cols
                + ") and is not the ignore index " + ignoreIndex);
    }

    /** A sample or element weight (or a configured vector's entry) that is negative or infinite. */
    public static IllegalArgumentException badWeight(String name, long index, float w) {
        return new IllegalArgumentException(name + "[" + index + "] = " + w
                + (Float.isInfinite(w) ? " is infinite" : " is negative"));
    }

    /** A NaN in a configured vector (class weights, alpha, pos_weight): only sample and element weights may be missing. */
    public static IllegalArgumentException nanInVector(String name, long index) {
        return new IllegalArgumentException(name + "[" + index + "] = NaN; NaN marks a missing weight only "
                + "for sample and element weights");
    }

    /** A target other than 0 or 1 where binary class weights pick the weight by the target. */
    public static IllegalArgumentException notHardTarget(long index, float value) {
        return new IllegalArgumentException("targets[" + index + "] = " + value
                + ": binary class weights need hard 0/1 targets");
    }

    /** A gradient factor gradientScale / denominator beyond the range of a double. */
    public static IllegalArgumentException gradFactorOverflow(double gradientScale, double denominator) {
        return new IllegalArgumentException("gradientScale / denominator = " + gradientScale + " / " + denominator
                + " overflows a double");
    }

    /** True for a sample or element weight the losses accept: >= 0 and finite, or NaN (missing). */
    public static boolean weightOk(float w) {
        return (w >= 0f && w < Float.POSITIVE_INFINITY) || Float.isNaN(w);
    }

    /** Returns {@code w} when it is a weight the losses accept, else throws naming it. */
    public static float checkedWeight(String name, float w, long index) {
        if (!weightOk(w)) {
            throw badWeight(name, index, w);
        }
        return w;
    }

    /** A checked copy of a configured per-class or per-output vector: finite, not negative, not NaN. */
    public static float[] checkedVector(String name, float[] v) {
        if (v == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        float[] copy = v.clone();
        for (int i = 0; i < copy.length; i++) {
            if (Float.isNaN(copy[i])) {
                throw nanInVector(name, i);
            }
            checkedWeight(name, copy[i], i);
        }
        return copy;
    }

    /** Checks that a per-class or per-output vector (null: absent) has one entry per column. */
    public static void checkLength(String name, float[] v, int cols, String what) {
        if (v != null && v.length != cols) {
            throw new IllegalArgumentException(name + ": has " + v.length + " entries but the batch has " + cols
                    + " " + what);
        }
    }
}
