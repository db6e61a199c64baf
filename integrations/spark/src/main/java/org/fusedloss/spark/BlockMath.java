package org.fusedloss.spark;

import dev.ludovic.netlib.blas.BLAS;

/**
 * The linear model's two matrix products on a block, through the BLAS Spark ML itself uses
 * (dev.ludovic.netlib: a native BLAS where one is installed, else the JDK's Vector API, which
 * Spark's launcher enables, else plain Java). Coefficients are laid out as Spark ML's
 * {@code coefficientMatrix} (outputs x features, row-major) followed by the intercepts.
 */
final class BlockMath {
    private static final BLAS BLAS_INSTANCE = BLAS.getInstance();

    private BlockMath() {
    }

    /** {@code z = x W^T + b}: {@code rows x outputs}, row-major, from {@code rows x d} features. */
    static void logits(double[] x, int rows, int d, double[] coefficients, boolean intercept, int outputs,
                       double[] z) {
        int n = rows * outputs;
        if (intercept) {
            for (int i = 0; i < rows; i++) {
                System.arraycopy(coefficients, outputs * d, z, i * outputs, outputs);
            }
        } else {
            java.util.Arrays.fill(z, 0, n, 0.0);
        }
        if (rows > 0 && d > 0) {
            // Column-major view: z^T (outputs x rows) += W (outputs x d) x^T (d x rows).
            BLAS_INSTANCE.dgemm("T", "N", outputs, rows, d, 1.0, coefficients, d, x, d, 1.0, z, outputs);
        }
    }

    /** {@code gradient += g^T x} (and the column sums of g for the intercepts), g {@code rows x outputs}. */
    static void accumulate(double[] g, double[] x, int rows, int d, int outputs, boolean intercept,
                           double[] gradient) {
        if (rows > 0 && d > 0) {
            // Column-major view: W-gradient^T (d x outputs) += x^T (d x rows) g (rows x outputs).
            BLAS_INSTANCE.dgemm("N", "T", d, outputs, rows, 1.0, x, d, g, outputs, 1.0, gradient, d);
        }
        if (intercept) {
            int at = outputs * d;
            for (int i = 0; i < rows; i++) {
                for (int c = 0; c < outputs; c++) {
                    gradient[at + c] += g[i * outputs + c];
                }
            }
        }
    }
}
