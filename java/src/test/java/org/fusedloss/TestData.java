package org.fusedloss;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.fusedloss.internal.LossKind;

/**
 * Random test data and the seed it comes from.
 *
 * <p>The seed is {@code System.nanoTime()} unless {@code -Dfusedloss.seed=...} fixes it; it is
 * printed once and every assertion message carries it (through {@link Checks#ctx}), so a failure
 * on random data can be replayed. Each test draws from its own stream derived from the seed and
 * the test's name, so the order the tests run in does not change their data.
 */
public final class TestData {
    static final long SEED;

    static {
        String s = System.getProperty("fusedloss.seed");
        SEED = s == null || s.isBlank() ? System.nanoTime() : Long.parseLong(s.trim());
        System.out.println("[fusedloss tests] random seed " + SEED + " (replay with -Dfusedloss.seed=" + SEED + ")");
    }

    private TestData() {
    }

    /** The seed as it goes into assertion messages. */
    static String seedNote() {
        return "seed " + SEED + ", replay with -Dfusedloss.seed=" + SEED;
    }

    /** A random stream for one test, derived from the seed and the test's name. */
    static SplittableRandom rng(String name) {
        return new SplittableRandom(SEED * 0x9E3779B97F4A7C15L + name.hashCode());
    }

    /** The weight inputs a case has (what combination of weights it exercises). */
    public enum W {
        /** Sample weights in [0, 3), some exactly 0. */
        SAMPLE,
        /** Class weights (CE), per-class alpha (softmax focal), binary class weights {w0, w1} (BCE). */
        CLASS,
        /** Element weights in [0, 2), some exactly 0 (element-wise losses). */
        ELEMENT,
        /** pos_weight per output (BCE). */
        POS,
        /** Some sample (and element) weights NaN: masked terms. */
        MASK,
        /** Some labels are the ignore index. */
        IGNORE
    }

    public static Set<W> combo(W... ws) {
        return ws.length == 0 ? EnumSet.noneOf(W.class) : EnumSet.of(ws[0], ws);
    }

    /** A random problem: the spec with the weights the combination asks for, and matching data. */
    public record Case(LossSpec spec, Problem problem, Set<W> weights) {
        @Override
        public String toString() {
            return spec + " weights " + weights + " n=" + problem.n + " c=" + problem.c;
        }
    }

    /** Logits (or predictions) of standard deviation {@code scale}. */
    static float[] normal(SplittableRandom rng, int size, double scale) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (scale * gaussian(rng));
        }
        return a;
    }

    static double gaussian(SplittableRandom rng) {
        // Box-Muller; SplittableRandom has no nextGaussian on JDK 17.
        double u = 1 - rng.nextDouble();
        double v = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    static float[] uniform(SplittableRandom rng, int size, double lo, double hi) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = (float) (lo + (hi - lo) * rng.nextDouble());
        }
        return a;
    }

    public static float[] filled(int size, float value) {
        float[] a = new float[size];
        Arrays.fill(a, value);
        return a;
    }

    /** A random case of n rows and c columns for the spec, with the weights of the combination. */
    public static Case random(LossSpec base, Set<W> weights, int n, int c, SplittableRandom rng) {
        LossKind kind = base.kind();
        LossSpec spec = base;
        boolean hardTargets = false;
        if (weights.contains(W.CLASS)) {
            switch (kind) {
                case CROSS_ENTROPY, CROSS_ENTROPY_DENSE, SOFTMAX_FOCAL ->
                        spec = spec.withClassWeights(uniform(rng, c, 0.2, 3));
                case BINARY_CROSS_ENTROPY -> {
                    spec = spec.withBinaryClassWeights((float) (0.2 + 2 * rng.nextDouble()),
                            (float) (0.5 + 3 * rng.nextDouble()));
                    hardTargets = true;
                }
                default -> throw new IllegalArgumentException(kind + " has no class weights");
            }
        }
        if (weights.contains(W.POS)) {
            spec = spec.withPosWeight(uniform(rng, c, 0.2, 4));
        }
        float[] x = normal(rng, n * c, kind == LossKind.MEAN_SQUARED_ERROR ? 2 : 2.5);
        int[] labels = null;
        float[] targets = null;
        if (kind.takesLabels()) {
            labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = weights.contains(W.IGNORE) && rng.nextInt(4) == 0 ? spec.ignoreIndex() : rng.nextInt(c);
            }
        } else {
            targets = targets(kind, rng, n, c, hardTargets);
        }
        float[] sw = null;
        if (weights.contains(W.SAMPLE) || weights.contains(W.MASK)) {
            sw = weightsWithZeros(rng, n, 3);
            if (weights.contains(W.MASK)) {
                for (int i = 0; i < n; i++) {
                    boolean ignored = labels != null && labels[i] == spec.ignoreIndex();
                    if (!ignored && rng.nextInt(5) == 0) {
                        sw[i] = Float.NaN;
                    }
                }
            }
        }
        float[] ew = null;
        if (weights.contains(W.ELEMENT)) {
            ew = weightsWithZeros(rng, n * c, 2);
            if (weights.contains(W.MASK)) {
                for (int i = 0; i < ew.length; i++) {
                    if (rng.nextInt(8) == 0) {
                        ew[i] = Float.NaN;
                    }
                }
            }
        }
        int terms = kind.perRow() ? n : n * c;
        float[] upstream = normal(rng, terms, 1);
        for (int i = 0; i < terms; i++) {
            if (rng.nextInt(10) == 0) {
                upstream[i] = 0;
            }
        }
        return new Case(spec, new Problem(n, c, x, labels, targets, sw, ew, upstream), weights);
    }

    static float[] weightsWithZeros(SplittableRandom rng, int size, double hi) {
        float[] w = uniform(rng, size, 0, hi);
        for (int i = 0; i < size; i++) {
            if (rng.nextInt(10) == 0) {
                w[i] = 0;
            }
        }
        return w;
    }

    /** Dense targets: probability rows (some one-hot) for CE, normal for MSE, [0, 1] (some hard) for the others. */
    static float[] targets(LossKind kind, SplittableRandom rng, int n, int c, boolean hard) {
        float[] t = new float[n * c];
        switch (kind) {
            case CROSS_ENTROPY_DENSE -> {
                for (int i = 0; i < n; i++) {
                    if (rng.nextInt(3) == 0) {
                        t[i * c + rng.nextInt(c)] = 1;
                        continue;
                    }
                    double sum = 0;
                    double[] e = new double[c];
                    for (int k = 0; k < c; k++) {
                        e[k] = Math.exp(gaussian(rng));
                        sum += e[k];
                    }
                    for (int k = 0; k < c; k++) {
                        t[i * c + k] = (float) (e[k] / sum);
                    }
                }
            }
            case MEAN_SQUARED_ERROR -> {
                return normal(rng, n * c, 2);
            }
            default -> {  // the other element-wise losses: labels in [0, 1], half of them hard
                if (kind.takesLabels()) {
                    throw new IllegalArgumentException(kind + " takes class indices");
                }
                for (int i = 0; i < t.length; i++) {
                    t[i] = hard || rng.nextBoolean() ? rng.nextInt(2) : (float) rng.nextDouble();
                }
            }
        }
        return t;
    }

    /**
     * The case with a quarter of its logits at +1e30, a quarter at -1e30 and (where {@code logits})
     * a quarter of the others at -inf on a class or element that is not a target (a target of 0 for
     * the element-wise losses); without {@code logits} (MSE) +-1e18, whose square still fits a float.
     */
    static Case extreme(Case k, SplittableRandom rng, boolean logits) {
        Problem p = k.problem();
        int c = p.c;
        float big = logits ? 1e30f : 1e18f;
        float[] x = p.x.clone();
        float[] t = p.targets == null ? null : p.targets.clone();
        boolean perRow = k.spec().kind().perRow();
        for (int i = 0; i < p.n; i++) {
            boolean ignored = p.labels != null && p.labels[i] == k.spec().ignoreIndex();
            for (int j = 0; j < c; j++) {
                int at = i * c + j;
                int roll = rng.nextInt(4);
                boolean target = p.labels != null ? p.labels[i] == j : perRow && t[at] != 0;
                if (roll == 0) {
                    x[at] = big;
                } else if (roll == 1) {
                    x[at] = -big;
                } else if (roll == 2 && logits && !target && !ignored && (c > 1 || !perRow)) {
                    x[at] = Float.NEGATIVE_INFINITY;
                    if (!perRow) {
                        t[at] = 0;  // -inf with target 0: a certain, correct negative
                    }
                }
            }
        }
        Problem e = p.withX(x);
        return new Case(k.spec(), t == null ? e : e.withTargets(t), k.weights());
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
