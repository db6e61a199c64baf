package org.fusedloss.spark;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The block products with the JDK's Vector API (loaded by {@link BlockMath} only where the JVM has
 * {@code --add-modules=jdk.incubator.vector}, as Spark's launcher gives it). Both loops keep their
 * operands in L1: the logits work on a tile of {@code 2 * lanes} rows transposed into a small
 * buffer, the gradient on four rows at a time against the gradient matrix (outputs x features, a
 * few to a hundred KB).
 *
 * <p>Each row's logit is {@code b_c} followed by one fused multiply-add per feature, in feature
 * order, in a lane of its own (rows past the block's end are zeros in their lanes), so it does not
 * depend on where the row sits. Each gradient entry adds the rows' products in row order.
 */
final class VectorBlockMath extends BlockMath {
    // SPECIES_MAX, as the BLAS that Spark ML runs in the same JVM (dev.ludovic.netlib VectorBLAS): with
    // one vector class the JIT inlines the Vector API calls; mixing shapes leaves them as slow calls.
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_MAX;
    private static final int LANES = S.length();
    /** Rows per logits tile: two vectors of them. */
    private static final int TILE = 2 * LANES;
    /** The gradient rows one pass over a block's rows updates: 16 KB, a third of a small L1. */
    private static final int OUTPUT_GROUP_BYTES = 16 * 1024;

    @Override
    String describe() {
        return "vector (" + S + ")";
    }

    @Override
    void logits(double[] x, int rows, int d, double[] w, boolean intercept, int outputs, double[] z) {
        double[] tile = new double[d * TILE];  // tile[j * TILE + r]: feature j of the tile's row r
        double[] lanes = new double[TILE];
        for (int i0 = 0; i0 < rows; i0 += TILE) {
            int n = Math.min(TILE, rows - i0);
            for (int r = 0; r < TILE; r++) {
                for (int j = 0; j < d; j++) {
                    tile[j * TILE + r] = r < n ? x[(i0 + r) * d + j] : 0.0;
                }
            }
            int c = 0;
            for (; c + 4 <= outputs; c += 4) {  // four outputs at once: each tile vector is loaded once for four
                DoubleVector a0 = start(w, intercept, outputs, d, c);
                DoubleVector a1 = start(w, intercept, outputs, d, c + 1);
                DoubleVector a2 = start(w, intercept, outputs, d, c + 2);
                DoubleVector a3 = start(w, intercept, outputs, d, c + 3);
                DoubleVector b0 = a0;
                DoubleVector b1 = a1;
                DoubleVector b2 = a2;
                DoubleVector b3 = a3;
                for (int j = 0; j < d; j++) {
                    DoubleVector lo = DoubleVector.fromArray(S, tile, j * TILE);
                    DoubleVector hi = DoubleVector.fromArray(S, tile, j * TILE + LANES);
                    DoubleVector w0 = DoubleVector.broadcast(S, w[c * d + j]);
                    DoubleVector w1 = DoubleVector.broadcast(S, w[(c + 1) * d + j]);
                    DoubleVector w2 = DoubleVector.broadcast(S, w[(c + 2) * d + j]);
                    DoubleVector w3 = DoubleVector.broadcast(S, w[(c + 3) * d + j]);
                    a0 = lo.fma(w0, a0);
                    b0 = hi.fma(w0, b0);
                    a1 = lo.fma(w1, a1);
                    b1 = hi.fma(w1, b1);
                    a2 = lo.fma(w2, a2);
                    b2 = hi.fma(w2, b2);
                    a3 = lo.fma(w3, a3);
                    b3 = hi.fma(w3, b3);
                }
                store(a0, b0, lanes, z, i0, n, outputs, c);
                store(a1, b1, lanes, z, i0, n, outputs, c + 1);
                store(a2, b2, lanes, z, i0, n, outputs, c + 2);
                store(a3, b3, lanes, z, i0, n, outputs, c + 3);
            }
            for (; c < outputs; c++) {  // the same operations, one output at a time
                DoubleVector a = start(w, intercept, outputs, d, c);
                DoubleVector b = a;
                for (int j = 0; j < d; j++) {
                    DoubleVector wj = DoubleVector.broadcast(S, w[c * d + j]);
                    a = DoubleVector.fromArray(S, tile, j * TILE).fma(wj, a);
                    b = DoubleVector.fromArray(S, tile, j * TILE + LANES).fma(wj, b);
                }
                store(a, b, lanes, z, i0, n, outputs, c);
            }
        }
    }

    private static DoubleVector start(double[] w, boolean intercept, int outputs, int d, int c) {
        return DoubleVector.broadcast(S, intercept ? w[outputs * d + c] : 0.0);
    }

    private static void store(DoubleVector lo, DoubleVector hi, double[] lanes, double[] z, int i0, int n,
                              int outputs, int c) {
        lo.intoArray(lanes, 0);
        hi.intoArray(lanes, LANES);
        for (int r = 0; r < n; r++) {
            z[(i0 + r) * outputs + c] = lanes[r];
        }
    }

    @Override
    void accumulate(double[] g, double[] x, int rows, int d, int outputs, boolean intercept, double[] gradient) {
        int full = d - d % LANES;  // the features past the last full vector take the scalar loop
        // Outputs in groups whose gradient rows stay in L1 while all the block's rows go by.
        int group = Math.max(4, (OUTPUT_GROUP_BYTES / (8 * Math.max(d, 1))) / 4 * 4);
        for (int c0 = 0; c0 < outputs; c0 += group) {
            int c1 = Math.min(outputs, c0 + group);
            int i = 0;
            for (; i + 4 <= rows; i += 4) {  // four rows
                int c = c0;
                for (; c + 4 <= c1; c += 4) {  // times four outputs: each row vector is loaded once for four
                    rowsTimesFour(g, x, i, c, d, full, outputs, gradient);
                }
                for (; c < c1; c++) {
                    rowsTimesOne(g, x, i, 4, c, d, full, outputs, gradient);
                }
            }
            for (; i < rows; i++) {  // the last rows, one at a time
                for (int c = c0; c < c1; c++) {
                    rowsTimesOne(g, x, i, 1, c, d, full, outputs, gradient);
                }
            }
        }
        if (intercept) {
            BlasBlockMath.interceptSums(g, rows, outputs, d, gradient);
        }
    }

    /** gradient rows c..c+3 += the products of rows i..i+3, added row after row. */
    private static void rowsTimesFour(double[] g, double[] x, int i, int c, int d, int full, int outputs,
                                      double[] gradient) {
        int x0 = i * d;
        int x1 = x0 + d;
        int x2 = x1 + d;
        int x3 = x2 + d;
        int r0 = i * outputs + c;
        int r1 = r0 + outputs;
        int r2 = r1 + outputs;
        int r3 = r2 + outputs;
        // g of row r, output c + o, as a vector: gRO
        DoubleVector g00 = DoubleVector.broadcast(S, g[r0]);
        DoubleVector g10 = DoubleVector.broadcast(S, g[r1]);
        DoubleVector g20 = DoubleVector.broadcast(S, g[r2]);
        DoubleVector g30 = DoubleVector.broadcast(S, g[r3]);
        DoubleVector g01 = DoubleVector.broadcast(S, g[r0 + 1]);
        DoubleVector g11 = DoubleVector.broadcast(S, g[r1 + 1]);
        DoubleVector g21 = DoubleVector.broadcast(S, g[r2 + 1]);
        DoubleVector g31 = DoubleVector.broadcast(S, g[r3 + 1]);
        DoubleVector g02 = DoubleVector.broadcast(S, g[r0 + 2]);
        DoubleVector g12 = DoubleVector.broadcast(S, g[r1 + 2]);
        DoubleVector g22 = DoubleVector.broadcast(S, g[r2 + 2]);
        DoubleVector g32 = DoubleVector.broadcast(S, g[r3 + 2]);
        DoubleVector g03 = DoubleVector.broadcast(S, g[r0 + 3]);
        DoubleVector g13 = DoubleVector.broadcast(S, g[r1 + 3]);
        DoubleVector g23 = DoubleVector.broadcast(S, g[r2 + 3]);
        DoubleVector g33 = DoubleVector.broadcast(S, g[r3 + 3]);
        int a0 = c * d;
        int a1 = a0 + d;
        int a2 = a1 + d;
        int a3 = a2 + d;
        for (int j = 0; j < full; j += LANES) {
            DoubleVector v0 = DoubleVector.fromArray(S, x, x0 + j);
            DoubleVector v1 = DoubleVector.fromArray(S, x, x1 + j);
            DoubleVector v2 = DoubleVector.fromArray(S, x, x2 + j);
            DoubleVector v3 = DoubleVector.fromArray(S, x, x3 + j);
            v3.fma(g30, v2.fma(g20, v1.fma(g10, v0.fma(g00, DoubleVector.fromArray(S, gradient, a0 + j)))))
                    .intoArray(gradient, a0 + j);
            v3.fma(g31, v2.fma(g21, v1.fma(g11, v0.fma(g01, DoubleVector.fromArray(S, gradient, a1 + j)))))
                    .intoArray(gradient, a1 + j);
            v3.fma(g32, v2.fma(g22, v1.fma(g12, v0.fma(g02, DoubleVector.fromArray(S, gradient, a2 + j)))))
                    .intoArray(gradient, a2 + j);
            v3.fma(g33, v2.fma(g23, v1.fma(g13, v0.fma(g03, DoubleVector.fromArray(S, gradient, a3 + j)))))
                    .intoArray(gradient, a3 + j);
        }
        for (int o = 0; o < 4; o++) {  // the features past the last full vector, the same sums in scalars
            int at = (c + o) * d;
            for (int j = full; j < d; j++) {
                double acc = gradient[at + j];
                acc = Math.fma(x[x0 + j], g[r0 + o], acc);
                acc = Math.fma(x[x1 + j], g[r1 + o], acc);
                acc = Math.fma(x[x2 + j], g[r2 + o], acc);
                acc = Math.fma(x[x3 + j], g[r3 + o], acc);
                gradient[at + j] = acc;
            }
        }
    }

    /** gradient row c += the products of rows i..i+n-1 (n = 1 or 4), added row after row. */
    private static void rowsTimesOne(double[] g, double[] x, int i, int n, int c, int d, int full, int outputs,
                                     double[] gradient) {
        int at = c * d;
        for (int r = i; r < i + n; r++) {
            double s = g[r * outputs + c];
            DoubleVector gr = DoubleVector.broadcast(S, s);
            int xr = r * d;
            for (int j = 0; j < full; j += LANES) {
                DoubleVector.fromArray(S, x, xr + j).fma(gr, DoubleVector.fromArray(S, gradient, at + j))
                        .intoArray(gradient, at + j);
            }
            for (int j = full; j < d; j++) {
                gradient[at + j] = Math.fma(x[xr + j], s, gradient[at + j]);
            }
        }
    }
}
