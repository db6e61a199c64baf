package org.fusedloss.spark;

import dev.ludovic.netlib.blas.BLAS;

/**
 * The block products through the BLAS Spark ML itself calls (dev.ludovic.netlib: a native BLAS
 * where one is installed, else the Vector API or plain Java): the fallback of {@link BlockMath}.
 */
final class BlasBlockMath extends BlockMath {
    private static final BLAS BLAS_INSTANCE = BLAS.getInstance();
    private final String why;

    BlasBlockMath(String why) {
        this.why = why;
    }

    @Override
    String describe() {
        return "blas (" + BLAS_INSTANCE.getClass().getSimpleName() + "; " + why + ")";
    }

    @Override
    void logits(double[] x, int rows, int d, double[] coefficients, boolean intercept, int outputs,
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

    @Override
    void accumulate(double[] g, double[] x, int rows, int d, int outputs, boolean intercept,
                    double[] gradient) {
        if (rows > 0 && d > 0) {
            // Column-major view: W-gradient^T (d x outputs) += x^T (d x rows) g (rows x outputs).
            BLAS_INSTANCE.dgemm("N", "T", d, outputs, rows, 1.0, x, d, g, outputs, 1.0, gradient, d);
        }
        if (intercept) {
            interceptSums(g, rows, outputs, d, gradient);
        }
    }

    /** The intercepts' gradient: the column sums of g, row by row. */
    static void interceptSums(double[] g, int rows, int outputs, int d, double[] gradient) {
        int at = outputs * d;
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < outputs; c++) {
                gradient[at + c] += g[i * outputs + c];
            }
        }
    }
}
