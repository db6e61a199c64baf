package org.fusedloss;

/**
 * The independent oracle: each loss written straight from docs/SEMANTICS.md and the formulas at
 * the top of native/include/fusedloss.h, in double precision, one term at a time, with no attempt at
 * speed. It computes loss values only; gradients are checked against finite differences of
 * {@link Terms#objective}. It deliberately shares no code with the library (not even the
 * reference backend's helpers).
 *
 * <p>Written from the contract:
 * <ul>
 * <li>CE, labels: {@code (1-eps) cw[y] (-log p_y) + (eps/C) sum_c cw[c] (-log p_c) + cw[y] z lse^2},
 *     with {@code p = softmax(z)}, {@code z = cap tanh(x / cap)} when capped; the smoothing mass of
 *     a class whose logit is -inf is dropped (the header's masked-class rule).</li>
 * <li>CE, dense: {@code -sum_c cw[c] t~_c log p_c + z lse^2}, {@code t~ = (1-eps) t + eps/C} (eps/C
 *     dropped on -inf classes).</li>
 * <li>Softmax focal: {@code alpha[y] (1-p_y)^gamma (-log p_y)}.</li>
 * <li>BCE: {@code -(pw t log s + (1-t) log(1-s))}, times {w0, w1}[t] when given.</li>
 * <li>MSE: {@code (x-t)^2}. Sigmoid focal: {@code alpha_t (1-p_t)^gamma BCE(x, t)}.</li>
 * </ul>
 * Each term is multiplied by its sample (and element) weight. Ignored rows and rows / elements
 * with a NaN weight are not counted.
 */
final class Oracle {
    private Oracle() {
    }

    /**
     * The weighted terms of one problem and what the reductions divide by.
     *
     * @param value   weighted loss of each term (0 when not counted)
     * @param weight  effective weight of each term (the MEAN denominator sums these over counted terms)
     * @param counted whether each term takes part
     * @param masked  terms skipped for a NaN weight
     */
    record Terms(double[] value, double[] weight, boolean[] counted, long masked) {
        long count() {
            long k = 0;
            for (boolean b : counted) {
                k += b ? 1 : 0;
            }
            return k;
        }

        double weightSum() {
            double s = 0;
            for (int i = 0; i < value.length; i++) {
                if (counted[i]) {
                    s += weight[i];
                }
            }
            return s;
        }

        /** What the reduction divides by (a caller denominator, if not null, replaces it). */
        double denominator(Reduction r, Double caller) {
            return switch (r) {
                case NONE, SUM -> 1;
                case MEAN -> caller != null ? caller : weightSum();
                case BATCH_MEAN -> caller != null ? caller : count();
            };
        }

        /** The reduced loss the result reports (NONE: the sum of the terms). */
        double loss(Reduction r, Double caller) {
            return objective(r, caller, null);
        }

        /** The function whose gradient the kernel writes: sum(upstream * terms) / denominator (0 when it is 0). */
        double objective(Reduction r, Double caller, float[] upstream) {
            double d = denominator(r, caller);
            if (d == 0) {
                return 0;
            }
            double s = 0;
            for (int i = 0; i < value.length; i++) {
                if (counted[i]) {
                    s += (upstream == null || r != Reduction.NONE ? 1.0 : upstream[i]) * value[i];
                }
            }
            return s / d;
        }
    }

    /** The terms of the spec on the problem, with predictions {@code x} (double, so they can be perturbed). */
    static Terms terms(LossSpec spec, Problem p, double[] x) {
        return spec.kind().perRow() ? rowTerms(spec, p, x) : elementTerms(spec, p, x);
    }

    static Terms terms(LossSpec spec, Problem p) {
        return terms(spec, p, p.xDouble());
    }

    private static Terms rowTerms(LossSpec spec, Problem p, double[] x) {
        int n = p.n;
        int c = p.c;
        double[] value = new double[n];
        double[] weight = new double[n];
        boolean[] counted = new boolean[n];
        long masked = 0;
        for (int i = 0; i < n; i++) {
            double sw = p.sw == null ? 1.0 : (double) p.sw[i];
            int y = p.labels == null ? -1 : p.labels[i];
            if (p.labels != null && y == spec.ignoreIndex()) {
                continue;
            }
            if (Double.isNaN(sw)) {
                masked++;
                continue;
            }
            counted[i] = true;
            double[] z = new double[c];
            for (int k = 0; k < c; k++) {
                double v = x[i * c + k];
                z[k] = spec.softCap() > 0 ? spec.softCap() * Math.tanh(v / spec.softCap()) : v;
            }
            // -log p_c = (max - z_c) + log sum exp(z - max): exact for huge logits too (1e30 + log 3
            // would lose the log 3); the sums are compensated so a row of 262 144 classes loses nothing.
            double max = max(z);
            double logS = logSumExpShifted(z, max);
            double lse = max + logS;
            double loss;
            switch (spec.kind()) {
                case CROSS_ENTROPY -> {
                    double eps = spec.eps();
                    double cwy = cw(spec, y);
                    Sum sum = new Sum();
                    sum.add(times((1 - eps) * cwy, negLogP(z[y], max, logS)));
                    for (int k = 0; k < c; k++) {
                        if (z[k] != Double.NEGATIVE_INFINITY) {
                            sum.add(times(eps / c * cw(spec, k), negLogP(z[k], max, logS)));
                        }
                    }
                    sum.add(cwy * spec.zLoss() * lse * lse);
                    loss = sum.value();
                    weight[i] = cwy * sw;
                }
                case CROSS_ENTROPY_DENSE -> {
                    double eps = spec.eps();
                    Sum sum = new Sum();
                    for (int k = 0; k < c; k++) {
                        double smoothed = (1 - eps) * p.targets[i * c + k]
                                + (z[k] == Double.NEGATIVE_INFINITY ? 0 : eps / c);
                        sum.add(times(cw(spec, k) * smoothed, negLogP(z[k], max, logS)));
                    }
                    sum.add(spec.zLoss() * lse * lse);
                    loss = sum.value();
                    weight[i] = sw;
                }
                case SOFTMAX_FOCAL -> {
                    double logP = -negLogP(z[y], max, logS);
                    double oneMinusP = -Math.expm1(logP);
                    double gamma = spec.gamma();
                    loss = times(cw(spec, y) * (gamma == 0 ? 1 : Math.pow(oneMinusP, gamma)), -logP);
                    weight[i] = sw;
                }
                default -> throw new IllegalStateException(spec.kind().toString());
            }
            value[i] = times(sw, loss);
        }
        return new Terms(value, weight, counted, masked);
    }

    private static Terms elementTerms(LossSpec spec, Problem p, double[] x) {
        int n = p.n;
        int c = p.c;
        double[] value = new double[n * c];
        double[] weight = new double[n * c];
        boolean[] counted = new boolean[n * c];
        long masked = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < c; j++) {
                int at = i * c + j;
                double w = (p.sw == null ? 1.0 : (double) p.sw[i]) * (p.ew == null ? 1.0 : (double) p.ew[at]);
                if (Double.isNaN(w)) {
                    masked++;
                    continue;
                }
                counted[at] = true;
                weight[at] = w;
                double v = x[at];
                double t = p.targets[at];
                double loss = switch (spec.kind()) {
                    case BINARY_CROSS_ENTROPY -> {
                        double pw = spec.posWeight() == null ? 1 : spec.posWeight()[j];
                        double cls = spec.binaryClassWeights() == null ? 1 : spec.binaryClassWeights()[t == 1 ? 1 : 0];
                        yield cls * -(times(pw * t, logSigmoid(v)) + times(1 - t, logSigmoid(-v)));
                    }
                    case MEAN_SQUARED_ERROR -> (v - t) * (v - t);
                    case SIGMOID_FOCAL -> {
                        double s = sigmoid(v);
                        double oneMinusS = sigmoid(-v);
                        double m = t * oneMinusS + (1 - t) * s;   // 1 - p_t
                        double alpha = spec.focalAlpha();
                        double at_ = alpha < 0 ? 1 : alpha * t + (1 - alpha) * (1 - t);
                        double gamma = spec.gamma();
                        double ce = -(times(t, logSigmoid(v)) + times(1 - t, logSigmoid(-v)));
                        yield times(at_ * (gamma == 0 ? 1 : Math.pow(m, gamma)), ce);
                    }
                    default -> throw new IllegalStateException(spec.kind().toString());
                };
                value[at] = times(w, loss);
            }
        }
        return new Terms(value, weight, counted, masked);
    }

    private static double cw(LossSpec spec, int k) {
        return spec.classWeights() == null ? 1 : spec.classWeights()[k];
    }

    /** a * b, where a coefficient of 0 contributes nothing even against an infinite b (a class with no mass). */
    private static double times(double a, double b) {
        return a == 0 ? 0 : a * b;
    }

    static double max(double[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);   // NaN propagates
        }
        return max;
    }

    /** log sum_c exp(z_c - max), the sum compensated. */
    static double logSumExpShifted(double[] z, double max) {
        if (!Double.isFinite(max)) {
            return max == Double.NEGATIVE_INFINITY ? Double.NaN : max - max;  // no finite class / NaN / +inf
        }
        Sum s = new Sum();
        for (double v : z) {
            s.add(Math.exp(v - max));
        }
        return Math.log(s.value());
    }

    static double logSumExp(double[] z) {
        double max = max(z);
        return max + logSumExpShifted(z, max);
    }

    /** -log p = lse - z, computed as (max - z) + log s. */
    private static double negLogP(double z, double max, double logS) {
        return (max - z) + logS;
    }

    /** Neumaier's compensated sum. */
    static final class Sum {
        private double sum;
        private double comp;

        void add(double v) {
            double t = sum + v;
            comp += Math.abs(sum) >= Math.abs(v) ? (sum - t) + v : (v - t) + sum;
            sum = t;
        }

        double value() {
            return Double.isFinite(sum) ? sum + comp : sum;  // an infinite term: no compensation
        }
    }

    /** log(sigmoid(v)), without overflow in either tail. */
    static double logSigmoid(double v) {
        return v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v));
    }

    static double sigmoid(double v) {
        return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
    }
}
