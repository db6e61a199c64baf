package org.fusedloss;

import java.util.function.ToDoubleFunction;

/**
 * Central finite differences in double precision, the source of every expected gradient:
 * {@code (f(x + h e_j) - f(x - h e_j)) / 2h} with {@code h = 1e-4 * max(1, |x_j|)}; truncation
 * and rounding errors are then around 1e-8 relative for the smooth, O(1) losses tested here.
 * A coordinate that is not finite (a -inf logit) has no difference; it is reported as 0, which is
 * what the kernels must write there.
 */
final class FiniteDifference {
    private FiniteDifference() {
    }

    static double[] gradient(ToDoubleFunction<double[]> f, double[] x) {
        double[] g = new double[x.length];
        double[] probe = x.clone();
        for (int j = 0; j < x.length; j++) {
            g[j] = partial(f, probe, j);
        }
        return g;
    }

    /** The partial derivative along coordinate j ({@code x} is restored afterwards). */
    static double partial(ToDoubleFunction<double[]> f, double[] x, int j) {
        double v = x[j];
        if (!Double.isFinite(v)) {
            return 0;
        }
        double h = 1e-4 * Math.max(1, Math.abs(v));
        x[j] = v + h;
        double up = f.applyAsDouble(x);
        x[j] = v - h;
        double down = f.applyAsDouble(x);
        x[j] = v;
        return (up - down) / (2 * h);
    }

    /** The gradient of the oracle's objective (times a gradient scale) for this spec, problem and reduction. */
    static double[] ofOracle(LossSpec spec, Problem p, Reduction r, Double callerDenominator, double scale) {
        return gradient(x -> scale * Oracle.terms(spec, p, x).objective(r, callerDenominator, p.upstream), p.xDouble());
    }
}
