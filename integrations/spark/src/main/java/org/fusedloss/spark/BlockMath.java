package org.fusedloss.spark;

/**
 * The linear model's two matrix products on a block: the logits {@code z = x W^T + b} and the
 * gradient {@code g^T x} (and the column sums of g for the intercepts). Coefficients are laid out
 * as Spark ML's {@code coefficientMatrix} (outputs x features, row-major) followed by the
 * intercepts; x, z and g are row-major.
 *
 * <p>Two implementations: {@link VectorBlockMath} (the JDK's Vector API, which Spark's launcher
 * enables with {@code --add-modules=jdk.incubator.vector}) and {@link BlasBlockMath} (the BLAS
 * Spark ML itself calls), used where the Vector API is missing. The first computes each row's
 * logits by one fixed sequence of operations wherever the row sits in its block, so a row's
 * logits have the same bits in any partitioning; a BLAS may block its loops by position (it
 * then moves a logit by a double rounding, which its float copy almost never shows).
 * {@code -Dfusedloss.spark.blockMath=blas|vector} forces one.
 */
abstract class BlockMath {
    /** System property that forces an implementation: {@code vector} or {@code blas}. */
    static final String PROPERTY = "fusedloss.spark.blockMath";

    /** z (rows x outputs) = x (rows x d) W^T + b. */
    abstract void logits(double[] x, int rows, int d, double[] coefficients, boolean intercept, int outputs,
                         double[] z);

    /** gradient += g^T x, and the intercepts' part += the column sums of g (rows x outputs). */
    abstract void accumulate(double[] g, double[] x, int rows, int d, int outputs, boolean intercept,
                             double[] gradient);

    /** A line saying which implementation runs, and why. */
    abstract String describe();

    /** The implementation in use (chosen once per JVM). */
    static BlockMath get() {
        return Holder.INSTANCE;
    }

    private static final class Holder {
        static final BlockMath INSTANCE = choose();
    }

    private static BlockMath choose() {
        String forced = System.getProperty(PROPERTY);
        if ("blas".equals(forced)) {
            return new BlasBlockMath("forced by -D" + PROPERTY + "=blas");
        }
        if (forced != null && !"vector".equals(forced)) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + forced + " is not one of vector, blas");
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            if (forced != null) {
                throw new IllegalStateException("-D" + PROPERTY + "=vector but the JVM runs without "
                        + "--add-modules=jdk.incubator.vector");
            }
            return new BlasBlockMath("the JVM runs without --add-modules=jdk.incubator.vector");
        }
        try {
            // By name: this class must not link against the Vector API when the module is absent.
            return (BlockMath) Class.forName("org.fusedloss.spark.VectorBlockMath").getDeclaredConstructor()
                    .newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            if (forced != null) {
                throw new IllegalStateException("-D" + PROPERTY + "=vector but the Vector API did not load", e);
            }
            return new BlasBlockMath("the Vector API did not load: " + e);
        }
    }
}
