package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.fusedloss.TestData.Case;
import org.fusedloss.TestData.W;
import org.fusedloss.internal.LossKind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every loss must satisfy, run by each loss's test class on every backend: values against
 * the {@link Oracle} on random data of many shapes for every option and weight combination the
 * subclass lists, gradients against finite differences, and the properties and edge cases of
 * docs/SEMANTICS.md. The subclasses add the closed forms and hand-worked cases of their loss.
 */
@org.junit.jupiter.api.Tag(LossContract.TAG)
abstract class LossContract {
    /** The tag of the contract tests (every loss's test class), by which other modules select them. */
    static final String TAG = "contract";

    /** Every path a loss is computed on ({@link TestPaths}): java, native on each ISA, CUDA where there is one. */
    static final String PATHS = "org.fusedloss.TestPaths#paths";
    static final String PATHS_AND_REDUCTIONS = "org.fusedloss.TestPaths#pathsAndReductions";
    /** The earlier names of the same sources (a test taking a {@code Backend} gets the paths: each is one). */
    static final String BACKENDS = PATHS;
    static final String BACKENDS_AND_REDUCTIONS = PATHS_AND_REDUCTIONS;

    /** Shapes (rows, columns) of the random sweep: N = 1, C = 1, C = 2, odd sizes, vector tails. */
    static final int[][] SHAPES = {{1, 1}, {1, 2}, {2, 1}, {3, 2}, {2, 3}, {5, 4}, {7, 7}, {4, 16}, {9, 31},
        {3, 64}, {2, 129}, {33, 9}, {1, 300}};
    /** Shapes small enough for a full finite-difference gradient. */
    static final int[][] SMALL = {{1, 1}, {1, 2}, {3, 1}, {2, 3}, {4, 5}, {3, 8}, {5, 2}};
    /** Up to this many predictions, the random sweep checks the gradient by finite differences too. */
    static final int FD_LIMIT = 64;

    /** The loss under test. */
    abstract LossKind kind();

    /** The option settings to sweep; the first is the loss with its defaults. */
    abstract List<LossSpec> optionSpecs();

    /** The weight combinations to sweep; the last one is the richest (with masking). */
    abstract List<Set<W>> weightCombos();

    /** The richest combination without masked or ignored terms. */
    abstract Set<W> weightedCombo();

    LossSpec plain() {
        return optionSpecs().get(0);
    }

    Set<W> richestCombo() {
        List<Set<W>> all = weightCombos();
        return all.get(all.size() - 1);
    }

    /** The spec with every class-like weight present and equal to 1 (same as absent). */
    abstract LossSpec withUnitClassWeights(LossSpec spec, int c);

    /** Whether logits of +-1e30 and -inf are in this loss's domain (not for MSE: 1e30 squared overflows float). */
    boolean takesExtremeLogits() {
        return true;
    }

    SplittableRandom rng(String test, Object... params) {
        return TestData.rng(getClass().getSimpleName() + "." + test + Arrays.toString(params));
    }

    Case random(LossSpec spec, Set<W> weights, int n, int c, SplittableRandom rng) {
        return TestData.random(spec, weights, n, c, rng);
    }

    // ---------------------------------------------------------------- values and gradients

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource(PATHS_AND_REDUCTIONS)
    void matchesTheOracleOnRandomData(TestPath b, Reduction r) {
        TestBackends.require(b);
        SplittableRandom rng = rng("oracle", r);
        for (LossSpec spec : optionSpecs()) {
            for (Set<W> weights : weightCombos()) {
                for (int[] shape : SHAPES) {
                    Case k = random(spec, weights, shape[0], shape[1], rng);
                    Checks.againstOracle(k, r, b, 1.0, null, shape[0] * shape[1] <= FD_LIMIT);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource(PATHS_AND_REDUCTIONS)
    void gradientMatchesFiniteDifferencesWithScaleUpstreamAndDenominator(TestPath b, Reduction r) {
        TestBackends.require(b);
        SplittableRandom rng = rng("fd", r);
        for (LossSpec spec : optionSpecs()) {
            for (Set<W> weights : weightCombos()) {
                for (int[] shape : SMALL) {
                    Case k = random(spec, weights, shape[0], shape[1], rng);
                    Checks.againstOracle(k, r, b, 0.75, null, true);
                    Checks.againstOracle(k, r, b, -2.0, null, true);
                    if (r == Reduction.MEAN || r == Reduction.BATCH_MEAN) {
                        Checks.againstOracle(k, r, b, 0.75, 2.5, true);
                    }
                    if (r == Reduction.NONE) {
                        // no upstream means all ones: the gradient of the plain sum of the terms
                        Case ones = new Case(k.spec(), k.problem().withUpstream(null), k.weights());
                        Checks.againstOracle(ones, r, b, 1.0, null, true);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void largeRowsMatchTheOracle(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("large");
        boolean perRow = kind().perRow();
        int n = perRow ? 2 : 1;
        int c = 262_144;
        List<LossSpec> specs = optionSpecs();
        for (LossSpec spec : List.of(specs.get(0), specs.get(specs.size() - 1))) {
            Case k = random(spec, weightedCombo(), n, c, rng);
            float[] x = k.problem().x;
            if (perRow) {
                // A long tail of small probabilities under one large logit: a float running sum of
                // the exponentials drops or rounds most of the tail.
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (-6 + 9 * rng.nextDouble());
                }
                for (int i = 0; i < n; i++) {
                    x[i * c + rng.nextInt(c)] = 10;
                }
            }
            for (Reduction r : List.of(Reduction.NONE, Reduction.MEAN)) {
                Checks.Run run = Checks.againstOracle(k, r, b, 1.0, null, false);
                checkGradientAt(k, r, b, run, sampleCoordinates(k, rng));
            }
        }
    }

    /**
     * The short rows: for C up to 64 (32 with dense targets) the native softmax losses hold one row
     * per lane (8 with AVX2, 16 with AVX-512) for the row math, four batches of rows at a time, with
     * a tail for the last rows. Row counts below, at and above one, two and four vectors of rows, C
     * on both sides of 16, 32 and 64, every option setting and weight combination: the same as the
     * Java reference.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void shortRowsMatchTheReference(TestPath b) {
        TestBackends.require(b);
        skipTheReference(b);
        SplittableRandom rng = rng("shortRows", b.name());
        for (LossSpec spec : optionSpecs()) {
            for (Set<W> weights : weightCombos()) {
                for (int c : new int[] {1, 2, 3, 15, 16, 17, 32, 33, 64, 65}) {
                    for (int n : new int[] {1, 7, 16, 17, 33, 65, 130}) {
                        Checks.againstReference(withoutCancellingGradients(random(spec, weights, n, c, rng)), b);
                    }
                }
            }
        }
    }

    /**
     * Outside the contract's domain (SEMANTICS.md): a dense-target or label-smoothed row whose gradient element
     * {@code p_c Q - q_c} cancels to below 1/16 of its parts, where float32 arithmetic alone (an exp
     * of 1 ulp) moves it by more than 1e-5. Such a row's logit of that class is moved down until
     * none cancels so far (row counts from 1, C = 2 drew such rows often enough to fail a run), by a
     * step that grows with each try: with C = 2 a class that holds most of the target mass cancels
     * below 1/16 whenever its p is near 1, and equal steps could move the two logits in turn
     * forever (seed 23354096349146: 64 tries, the row still cancelling 2000-fold). Likewise an
     * element of BCE or sigmoid focal with a target strictly between 0 and 1 whose derivative's
     * parts cancel so far (seed 55464315372560: a sigmoid focal element cancelling 359-fold, 1.1e-4
     * off on AVX2, 2.5 float ulps of its parts); its logit is moved the same way.
     */
    static Case withoutCancellingGradients(Case k) {
        LossSpec spec = k.spec();
        Problem p = k.problem();
        if (spec.kind() == LossKind.BINARY_CROSS_ENTROPY || spec.kind() == LossKind.SIGMOID_FOCAL) {
            for (int e = 0; e < p.n * p.c; e++) {
                for (int tries = 0; tries < 64 && cancellingElement(spec, p, e); tries++) {
                    p.x[e] -= 1f + tries / 4f;
                }
            }
            return k;
        }
        boolean spread = spec.kind() == LossKind.CROSS_ENTROPY_DENSE
                || (spec.kind() == LossKind.CROSS_ENTROPY && spec.eps() > 0);
        if (!spread) {
            return k;
        }
        for (int i = 0; i < p.n; i++) {
            for (int tries = 0, j; tries < 64 && (j = cancellingClass(spec, p, i)) >= 0; tries++) {
                p.x[i * p.c + j] -= 1f + tries / 4f;
            }
        }
        return k;
    }

    /**
     * Whether element e (BCE or sigmoid focal, a target strictly between 0 and 1, a finite logit) has
     * a derivative whose parts (fusedloss.h) cancel below 1/16 of their sum: BCE {@code (1 - t) s}
     * and {@code pw t (1 - s)}; sigmoid focal {@code m^g s}, {@code m^g t} and
     * {@code g m^(g-1) s (1 - s) (2t - 1) ce}.
     */
    private static boolean cancellingElement(LossSpec spec, Problem p, int e) {
        double x = p.x[e];
        double t = p.targets[e];
        if (!(t > 0 && t < 1) || !Double.isFinite(x)) {
            return false;
        }
        double s = 1 / (1 + Math.exp(-x));
        double[] parts;
        if (spec.kind() == LossKind.BINARY_CROSS_ENTROPY) {
            double pw = spec.posWeight() == null ? 1 : spec.posWeight()[e % p.c];
            parts = new double[] {(1 - t) * s, -pw * t * (1 - s)};
        } else {
            double g = spec.gamma();
            double m = 1 - (s * t + (1 - s) * (1 - t));
            double ce = Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))) - x * t;
            double mg = Math.pow(m, g);
            double focal = g == 0 || m == 0 ? 0 : g * Math.pow(m, g - 1) * s * (1 - s) * (2 * t - 1) * ce;
            parts = new double[] {mg * s, -mg * t, -focal};
        }
        double sum = 0;
        double size = 0;
        for (double part : parts) {
            sum += part;
            size += Math.abs(part);
        }
        return Math.abs(sum) < size / 16;
    }

    /** The first class of row i (dense or smoothed) whose gradient cancels below 1/16 of its parts, or -1. */
    private static int cancellingClass(LossSpec spec, Problem p, int i) {
        int c = p.c;
        double[] z = new double[c];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < c; j++) {
            double x = p.x[i * c + j];
            z[j] = spec.softCap() > 0 ? spec.softCap() * Math.tanh(x / spec.softCap()) : x;
            max = Math.max(max, z[j]);
        }
        if (!Double.isFinite(max)) {
            return -1;
        }
        double sum = 0;
        double bigQ = 0;
        double[] q = new double[c];
        for (int j = 0; j < c; j++) {
            sum += Math.exp(z[j] - max);
            double target = p.labels != null ? (p.labels[i] == j ? 1 : 0) : p.targets[i * c + j];
            double t = target * (1 - spec.eps()) + spec.eps() / c;
            q[j] = (spec.classWeights() == null ? 1.0 : spec.classWeights()[j]) * t;
            bigQ += q[j];
        }
        for (int j = 0; j < c; j++) {
            double pq = Math.exp(z[j] - max) / sum * bigQ;
            if (Math.abs(pq - q[j]) < (pq + q[j]) / 16) {
                return j;
            }
        }
        return -1;
    }

    /** A few coordinates: per row the label and the largest logit, and random ones. */
    static int[] sampleCoordinates(Case k, SplittableRandom rng) {
        Problem p = k.problem();
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < p.n; i++) {
            if (p.labels != null && p.labels[i] >= 0) {
                at.add(i * p.c + p.labels[i]);
            }
            int max = i * p.c;
            for (int j = 0; j < p.c; j++) {
                if (p.x[i * p.c + j] > p.x[max]) {
                    max = i * p.c + j;
                }
            }
            at.add(max);
            for (int j = 0; j < 4; j++) {
                at.add(i * p.c + rng.nextInt(p.c));
            }
        }
        return at.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The gradient at the given coordinates against finite differences, relative to the largest of
     * them. Only the coordinate's own term depends on it, so the difference is taken of that term
     * alone (one row, or one element), times its upstream factor, over the full problem's denominator
     * (the run's, already checked against the oracle's).
     */
    static void checkGradientAt(Case k, Reduction r, Backend b, Checks.Run run, int[] coordinates) {
        Problem p = k.problem();
        LossSpec spec = k.spec();
        double d = run.result().denominator();
        double[] expected = new double[coordinates.length];
        float[] actual = new float[coordinates.length];
        for (int j = 0; j < coordinates.length; j++) {
            int at = coordinates[j];
            int row = at / p.c;
            int term = spec.kind().perRow() ? row : at;
            double u = r == Reduction.NONE && p.upstream != null ? p.upstream[term] : 1;
            Problem one;
            LossSpec oneSpec = spec;
            int local;
            if (spec.kind().perRow()) {
                one = p.rows(spec, row);
                local = at - row * p.c;
            } else {
                int col = at % p.c;
                one = new Problem(1, 1, new float[] {p.x[at]}, null, new float[] {p.targets[at]},
                        p.sw == null ? null : new float[] {p.sw[row]}, p.ew == null ? null : new float[] {p.ew[at]}, null);
                if (spec.posWeight() != null) {
                    oneSpec = spec.withPosWeight(new float[] {spec.posWeight()[col]});
                }
                local = 0;
            }
            LossSpec fs = oneSpec;
            Problem fp = one;
            expected[j] = d == 0 ? 0 : u / d * FiniteDifference.partial(
                    v -> Oracle.terms(fs, fp, v).loss(Reduction.SUM, null), one.xDouble(), local);
            actual[j] = run.gradient()[at];
        }
        Checks.gradientClose(expected, actual, TestBackends.tol(b).gradient(),
                k + " " + r + " on " + b.name() + ": gradient at " + Arrays.toString(coordinates));
    }

    /** Every C where the vector loops change shape: 1 to 33 (tails of 4, 8 and 16 lanes), and 127-129, 1023-1025. */
    static int[] vectorSizes() {
        List<Integer> c = new ArrayList<>();
        for (int i = 1; i <= 33; i++) {
            c.add(i);
        }
        for (int i : new int[] {127, 128, 129, 1023, 1024, 1025}) {
            c.add(i);
        }
        return c.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * At every C where the vector loops change shape, every option setting, unweighted and with the
     * richest weights, NONE (per-term losses, upstream gradient) and MEAN: the same as the Java
     * reference within the contract's tolerances (on the Java path there is nothing to compare).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void matchesTheReferenceWhereTheVectorLoopsChangeShape(TestPath b) {
        TestBackends.require(b);
        skipTheReference(b);
        SplittableRandom rng = rng("vectors", b.name());
        for (int c : vectorSizes()) {
            int n = c < 200 ? 7 : 3;
            for (LossSpec spec : optionSpecs()) {
                for (Set<W> weights : List.of(TestData.combo(), richestCombo())) {
                    Checks.againstReference(withoutCancellingGradients(random(spec, weights, n, c, rng)), b);
                }
            }
        }
    }

    /**
     * Logits of +-1e30 and -inf on non-target classes / elements (MSE: +-1e18) at C = 1, 8, 9, 37:
     * every option setting without z-loss (whose lse^2 overflows), the same as the Java reference.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void extremeLogitsMatchTheReference(TestPath b) {
        TestBackends.require(b);
        skipTheReference(b);
        SplittableRandom rng = rng("extreme", b.name());
        for (int c : new int[] {1, 8, 9, 37}) {
            for (LossSpec spec : optionSpecs()) {
                if (spec.zLoss() != 0) {
                    continue;
                }
                for (Set<W> weights : List.of(TestData.combo(), richestCombo())) {
                    Case k = random(spec, weights, 5, c, rng);
                    Checks.againstReference(TestData.extreme(k, rng, takesExtremeLogits()), b);
                }
            }
        }
    }

    /** The Java backend is the reference the others are compared with. */
    static void skipTheReference(TestPath b) {
        if (TestBackends.isJava(b)) {
            org.junit.jupiter.api.Assumptions.abort("the Java backend is the reference itself");
        }
    }

    // ---------------------------------------------------------------- properties

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void allWeightsOneEqualsUnweighted(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("ones");
        double same = TestBackends.tol(b).same();
        for (LossSpec spec : optionSpecs()) {
            Case k = unitWeightCase(spec, 6, 9, rng);
            Problem plain = k.problem();
            Problem ones = plain.withSampleWeights(TestData.filled(plain.n, 1f));
            if (!kind().perRow()) {
                ones = ones.withElementWeights(TestData.filled(plain.n * plain.c, 1f));
            }
            LossSpec unit = withUnitClassWeights(spec, plain.c);
            for (Reduction r : Reduction.values()) {
                String what = spec + " " + r + " on " + b.name() + ": all weights 1 vs none";
                Checks.Run a = Checks.run(spec, plain, r, b);
                Checks.Run w = Checks.run(unit, ones, r, b);
                Checks.same(a.result().loss(), w.result().loss(), same, what + ": loss");
                Checks.same(a.gradient(), w.gradient(), same, what + ": gradient");
                if (r == Reduction.NONE) {
                    Checks.same(a.perTerm(), w.perTerm(), same, what + ": perTerm");
                }
                assertEquals(a.result().denominator(), w.result().denominator(), () -> ctx(what + ": denominator"));
            }
        }
    }

    /**
     * The domain of the accuracy promise (SEMANTICS.md, numerical promises): MEAN divides by the
     * weights, so weights all equal to w give the unweighted MEAN, for w from the smallest normal
     * float 2^-126 to 2^100, and the gradient still for subnormal w down to 2^-149 (outside the
     * promise, where each weighted term carries only the bits a subnormal float has, but the
     * gradient factor gradScale x weight is formed in double, so it neither overflows nor loses
     * precision; before that fix 1 / denominator overflowed float: an infinite or NaN gradient).
     * Sample weights for every loss; element weights for the element-wise losses; class weights
     * for cross-entropy with class indices, where they make the MEAN denominator too.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void equalWeightsOfAnySizeGiveTheUnweightedMean(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("equal weights");
        TestBackends.Tol tol = TestBackends.tol(b);
        Case k = unitWeightCase(plain(), 6, 9, rng);
        Problem p = k.problem();
        Checks.Run unweighted = Checks.run(plain(), p, Reduction.MEAN, b);
        for (int e = -149; e <= 100; e += e < -120 ? 3 : 25) {
            float w = Math.scalb(1f, e);
            boolean normal = w >= Float.MIN_NORMAL;
            List<String> kinds = new ArrayList<>(List.of("sample"));
            if (!kind().perRow()) {
                kinds.add("element");
            }
            if (kind() == LossKind.CROSS_ENTROPY) {
                kinds.add("class");
            }
            for (String which : kinds) {
                LossSpec spec = which.equals("class") ? plain().withClassWeights(TestData.filled(p.c, w)) : plain();
                Problem q = switch (which) {
                    case "sample" -> p.withSampleWeights(TestData.filled(p.n, w));
                    case "element" -> p.withElementWeights(TestData.filled(p.n * p.c, w));
                    default -> p;
                };
                String what = spec + " MEAN on " + b.name() + ": " + which + " weights all 2^" + e;
                Checks.Run run = Checks.run(spec, q, Reduction.MEAN, b);
                assertTrue(Double.isFinite(run.result().loss()), () -> ctx(what + ": loss " + run.result().loss()));
                if (normal || TestBackends.isJava(b)) {
                    Checks.close(unweighted.result().loss(), run.result().loss(), tol.loss(), 1e-12, what + ": loss");
                }
                Checks.gradientClose(unweighted.gradient(), run.gradient(), tol.gradient(), what + ": gradient");
            }
        }
    }

    /**
     * The rule "a zero class weight, alpha or target drops its part of a term" (SEMANTICS.md) where
     * the predictions are NaN or infinite: on every backend the listed terms are exactly 0, not
     * counted as non-finite, and their gradient (a row of c for the softmax losses, else the
     * element) is exactly 0; every other term matches the same problem without the dropped ones.
     * Before, the reference formed 0 * NaN (NaN, counted) where the native kernels gave 0, and the
     * native gradient of a dropped softmax row was NaN.
     */
    static void assertDropped(LossSpec spec, Problem p, int[] dropped, Backend b, String what) {
        int per = spec.kind().perRow() ? p.c : 1;
        for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.SUM}) {
            String w = spec + " " + r + " on " + b.name() + ": " + what;
            Checks.Run run = Checks.run(spec, p, r, b);
            assertEquals(0, run.result().nonFinite(), () -> ctx(w + ": nonFinite"));
            assertTrue(Double.isFinite(run.result().loss()), () -> ctx(w + ": loss " + run.result().loss()));
            double expected = 0;
            for (int t = 0; t < p.terms(spec); t++) {
                final int term0 = t;
                boolean drop = Arrays.stream(dropped).anyMatch(d -> d == term0);
                if (drop) {
                    Checks.zeroRange(run.gradient(), t * per, (t + 1) * per, w + ": gradient of dropped term " + t);
                    if (r == Reduction.NONE) {
                        final int term = t;
                        assertEquals(0f, run.perTerm()[t], () -> ctx(w + ": perTerm[" + term + "]"));
                    }
                    continue;
                }
                if (r == Reduction.NONE) {
                    expected += run.perTerm()[t];
                    assertTrue(Float.isFinite(run.perTerm()[t]), () -> ctx(w + ": a live term is not finite"));
                }
            }
            if (r == Reduction.NONE) {
                Checks.close(expected, run.result().loss(), 1e-5, 1e-6, w + ": loss = the sum of the live terms");
            }
        }
    }

    /**
     * A small, normal sample weight (1e-20) on a confidently wrong row (one logit 60 above the
     * label's): with SUM the gradient is about 1e-20 and must match the reference. The softmax
     * kernels keep e up to e^60 against the label's logit, so the row's factor 1e-20 / e^60 is
     * below float range; it used to round to 0 there (the largest element 0 instead of 1e-20).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aSmallWeightOnAConfidentlyWrongRowKeepsItsGradient(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("small weight, wrong row");
        for (int c : new int[] {5, 40, 3000, 5000}) {
            Case k = random(plain(), TestData.combo(W.SAMPLE), 3, c, rng);
            Problem p = k.problem();
            float[] x = new float[3 * c];
            for (int i = 0; i < 3; i++) {
                x[i * c + 1] = 60;
            }
            Problem q = p.withX(x).withSampleWeights(TestData.filled(3, 1e-20f));
            if (p.labels != null) {
                q = q.withLabels(new int[3]);
            }
            String what = k + " SUM on " + b.name() + ": sample weight 1e-20, a logit 60 above the label's";
            Checks.Run want = Checks.run(k.spec(), q, Reduction.SUM, Backends.java());
            Checks.Run got = Checks.run(k.spec(), q, Reduction.SUM, b);
            double[] expected = TestData.toDouble(want.gradient());
            float[] actual = got.gradient().clone();
            for (int i = 0; i < actual.length; i++) {  // to O(1): the comparison's absolute floor is 1e-8
                expected[i] *= 1e20;
                actual[i] *= 1e20f;
            }
            Checks.gradientClose(expected, actual, TestBackends.tol(b).gradient(), what + ": gradient x 1e20");
        }
    }

    /** Data for {@link #allWeightsOneEqualsUnweighted}: the plain spec's data (BCE needs hard targets). */
    Case unitWeightCase(LossSpec spec, int n, int c, SplittableRandom rng) {
        return random(spec, TestData.combo(), n, c, rng);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void upweightingARowByKEqualsKCopies(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("copies");
        for (LossSpec spec : optionSpecs()) {
            for (int[] shape : new int[][] {{5, 7}, {4, 33}}) {
                Case k = random(spec, weightedCombo(), shape[0], shape[1], rng);
                Problem p = k.problem();
                int c = p.c;
                int row = 2;
                int times = 3;
                float[] sw = p.sw == null ? TestData.uniform(rng, p.n, 0.5, 2) : p.sw.clone();
                sw[row] = 1.5f;
                Problem base = p.withSampleWeights(sw);
                float[] up = sw.clone();
                up[row] = 1.5f * times;
                Problem upweighted = base.withSampleWeights(up);
                Problem copies = base.rows(k.spec(), 0, 1, 2, 2, 2, 3);
                for (Reduction r : List.of(Reduction.SUM, Reduction.MEAN)) {
                    String what = k + " " + r + " on " + b.name() + ": row " + row + " x" + times + " vs " + times + " copies";
                    Checks.Run a = Checks.run(k.spec(), upweighted.rows(k.spec(), 0, 1, 2, 3), r, b);
                    Checks.Run m = Checks.run(k.spec(), copies, r, b);
                    Checks.close(m.result().loss(), a.result().loss(), 1e-6, 1e-12, what + ": loss");
                    Checks.close(m.result().weightSum(), a.result().weightSum(), 1e-12, 0, what + ": weightSum");
                    float[] folded = new float[4 * c];
                    for (int j = 0; j < c; j++) {
                        folded[j] = m.gradient()[j];
                        folded[c + j] = m.gradient()[c + j];
                        folded[2 * c + j] = (float) ((double) m.gradient()[2 * c + j] + m.gradient()[3 * c + j]
                                + m.gradient()[4 * c + j]);
                        folded[3 * c + j] = m.gradient()[5 * c + j];
                    }
                    Checks.gradientClose(folded, a.gradient(), 1e-6, what + ": gradient (copies summed)");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void meanTimesDenominatorEqualsSum(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("mean");
        for (LossSpec spec : optionSpecs()) {
            Case k = random(spec, richestCombo(), 11, 6, rng);
            Oracle.Terms t = Oracle.terms(k.spec(), k.problem());
            Checks.Run sum = Checks.run(k.spec(), k.problem(), Reduction.SUM, b);
            Checks.Run mean = Checks.run(k.spec(), k.problem(), Reduction.MEAN, b);
            Checks.Run batchMean = Checks.run(k.spec(), k.problem(), Reduction.BATCH_MEAN, b);
            String what = k + " on " + b.name();
            Checks.close(t.weightSum(), mean.result().denominator(), 1e-12, 0, what + ": MEAN denominator = weight sum");
            assertEquals((double) t.count(), batchMean.result().denominator(),
                    () -> ctx(what + ": BATCH_MEAN denominator = counted terms"));
            for (Checks.Run m : List.of(mean, batchMean)) {
                double d = m.result().denominator();
                Checks.close(sum.result().loss(), m.result().loss() * d, 1e-12, 1e-300, what + ": mean x denominator == SUM");
                float[] scaled = new float[m.gradient().length];
                for (int i = 0; i < scaled.length; i++) {
                    scaled[i] = (float) (m.gradient()[i] * d);
                }
                Checks.gradientClose(sum.gradient(), scaled, 1e-6, what + ": mean gradient x denominator == SUM gradient");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aCallerDenominatorReplacesTheLocalOne(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("denominator");
        Case k = random(plain(), richestCombo(), 9, 5, rng);
        Checks.Run sum = Checks.run(k.spec(), k.problem(), Reduction.SUM, b);
        for (Reduction r : List.of(Reduction.MEAN, Reduction.BATCH_MEAN)) {
            for (double d : new double[] {7.25, k.problem().n, 0.5}) {
                String what = k + " " + r + " denominator " + d + " on " + b.name();
                Checks.Run m = Checks.run(k.spec(), k.problem(), r, b, 1.0, d);
                assertEquals(d, m.result().denominator(), () -> ctx(what + ": result.denominator()"));
                Checks.close(sum.result().loss() / d, m.result().loss(), 1e-12, 1e-300, what + ": loss == SUM / d");
                float[] expected = new float[sum.gradient().length];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = (float) (sum.gradient()[i] / d);
                }
                Checks.gradientClose(expected, m.gradient(), 1e-6, what + ": gradient == SUM gradient / d");
            }
            String what = k + " " + r + " denominator 0 on " + b.name();
            Checks.Run zero = Checks.run(k.spec(), k.problem(), r, b, 1.0, 0.0);
            assertEquals(0.0, zero.result().loss(), () -> ctx(what + ": loss"));
            Checks.allZero(zero.gradient(), what + ": gradient");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void theGradientCanOverwriteThePredictions(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("inplace");
        for (LossSpec spec : optionSpecs()) {
            Case k = random(spec, richestCombo(), 7, 13, rng);
            for (Reduction r : Reduction.values()) {
                String what = k + " " + r + " on " + b.name() + ": in place";
                Checks.Run separate = Checks.run(k.spec(), k.problem(), r, b);
                float[] inPlace = k.problem().x.clone();
                float[] pt = r == Reduction.NONE ? new float[k.problem().terms(k.spec())] : null;
                LossResult res = Checks.compute(k.spec().build(r), k.problem().batch(inPlace, r, inPlace, pt), b, what);
                assertEquals(separate.result().loss(), res.loss(), () -> ctx(what + ": loss"));
                Checks.sameBits(separate.gradient(), inPlace, what + ": gradient");
                if (pt != null) {
                    Checks.sameBits(separate.perTerm(), pt, what + ": perTerm");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void sampleWeightsAreReadThroughAStride(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("stride");
        Case k = random(plain(), richestCombo(), 8, 6, rng);
        Problem p = k.problem();
        int n = p.n;
        // An n x 3 matrix whose column 1 holds the weights; the other columns hold other weights.
        float[] matrix = TestData.uniform(rng, 3 * n + 2, 5, 9);
        for (int i = 0; i < n; i++) {
            matrix[1 + 3 * i] = p.sw[i];
        }
        FloatBuffer direct = Problem.direct(matrix, 0);
        direct.position(1);
        for (Reduction r : List.of(Reduction.NONE, Reduction.MEAN)) {
            String what = k + " " + r + " on " + b.name() + ": sample weights at stride 3";
            Checks.Run contiguous = Checks.run(k.spec(), p, r, b);
            for (boolean heap : new boolean[] {true, false}) {
                float[] g = new float[n * p.c];
                float[] pt = r == Reduction.NONE ? new float[p.terms(k.spec())] : null;
                Batch batch = p.batch(r, g, pt);
                if (heap) {
                    batch.sampleWeights(matrix, 1, 3);
                } else {
                    batch.sampleWeights(direct, 3);
                }
                String w = what + (heap ? " (heap array, offset 1)" : " (direct buffer, position 1)");
                LossResult res = Checks.compute(k.spec().build(r), batch, b, w);
                assertEquals(contiguous.result().loss(), res.loss(), () -> ctx(w + ": loss"));
                assertEquals(contiguous.result().masked(), res.masked(), () -> ctx(w + ": masked"));
                Checks.sameBits(contiguous.gradient(), g, w + ": gradient");
                if (pt != null) {
                    Checks.sameBits(contiguous.perTerm(), pt, w + ": perTerm");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void heapOffsetsAndDirectBuffersGiveTheSameResults(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("buffers");
        Case k = random(optionSpecs().get(optionSpecs().size() - 1), richestCombo(), 6, 11, rng);
        Problem p = k.problem();
        int size = p.n * p.c;
        int terms = p.terms(k.spec());
        float sentinel = -12345f;
        for (Reduction r : List.of(Reduction.NONE, Reduction.MEAN, Reduction.SUM)) {
            String what = k + " " + r + " on " + b.name();
            Checks.Run plain = Checks.run(k.spec(), p, r, b);
            boolean none = r == Reduction.NONE;

            int offset = 5;
            float[] g = TestData.filled(size + offset + 4, sentinel);
            float[] pt = none ? TestData.filled(terms + offset + 4, sentinel) : null;
            LossResult atOffset = Checks.compute(k.spec().build(r), p.batchAtOffsets(r, offset, g, pt), b, what);
            String w1 = what + ": heap arrays at offset " + offset;
            assertEquals(plain.result().loss(), atOffset.loss(), () -> ctx(w1 + ": loss"));
            Checks.sameBits(plain.gradient(), Arrays.copyOfRange(g, offset, offset + size), w1 + ": gradient");
            Checks.unchanged(Arrays.copyOfRange(g, 0, offset), sentinel, w1 + ": gradient before the offset");
            Checks.unchanged(Arrays.copyOfRange(g, offset + size, g.length), sentinel, w1 + ": gradient after the end");
            if (none) {
                Checks.sameBits(plain.perTerm(), Arrays.copyOfRange(pt, offset, offset + terms), w1 + ": perTerm");
                Checks.unchanged(Arrays.copyOfRange(pt, offset + terms, pt.length), sentinel, w1 + ": perTerm after the end");
            }

            int position = 3;
            for (boolean isDirect : new boolean[] {true, false}) {
                FloatBuffer dg = Problem.buffer(size + position + 4, sentinel, isDirect);
                dg.position(position);
                FloatBuffer dpt = none ? Problem.buffer(terms + position + 4, sentinel, isDirect) : null;
                if (none) {
                    dpt.position(position);
                }
                LossResult direct = Checks.compute(k.spec().build(r), p.batchInBuffers(r, position, dg, dpt, isDirect), b,
                        what);
                String w2 = what + ": " + (isDirect ? "direct" : "heap") + " buffers at position " + position;
                assertEquals(plain.result().loss(), direct.loss(), () -> ctx(w2 + ": loss"));
                Checks.sameBits(plain.gradient(), Problem.read(dg, position, size), w2 + ": gradient");
                Checks.unchanged(Problem.read(dg, 0, position), sentinel, w2 + ": gradient before the position");
                Checks.unchanged(Problem.read(dg, position + size, 4), sentinel, w2 + ": gradient after the end");
                if (none) {
                    Checks.sameBits(plain.perTerm(), Problem.read(dpt, position, terms), w2 + ": perTerm");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void theLossAloneEqualsTheLossComputedWithItsGradient(TestPath b) {
        TestBackends.require(b);
        Case k = random(plain(), richestCombo(), 6, 7, rng("nogradient"));
        for (Reduction r : Reduction.values()) {
            String what = k + " " + r + " on " + b.name() + ": computeGradient(false)";
            Checks.Run with = Checks.run(k.spec(), k.problem(), r, b);
            float[] pt = r == Reduction.NONE ? new float[k.problem().terms(k.spec())] : null;
            LossResult alone = Checks.compute(k.spec().build(r, 1.0, false), k.problem().batch(r, null, pt), b, what);
            assertEquals(with.result().loss(), alone.loss(), () -> ctx(what + ": loss"));
            if (pt != null) {
                Checks.sameBits(with.perTerm(), pt, what + ": perTerm");
            }
            // a gradient buffer given anyway is left alone
            float[] g = TestData.filled(k.problem().n * k.problem().c, -3.5f);
            LossResult ignored = Checks.compute(k.spec().build(r, 1.0, false), k.problem().batch(r, g, null), b, what);
            assertEquals(with.result().loss(), ignored.loss(), () -> ctx(what + " with a gradient buffer: loss"));
            Checks.unchanged(g, -3.5f, what + ": the gradient buffer");
        }
    }

    /**
     * The per-term buffer may come with any reduction: one pass gives the weighted terms (those of
     * NONE, not divided by the denominator) and the reduced loss and gradient (those of the same
     * call without it), bit for bit; masked and ignored terms get 0.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void perTermValuesComeWithEveryReductionInOnePass(TestPath b) {
        TestBackends.require(b);
        Case k = random(plain(), richestCombo(), 6, 7, rng("pertermreduced"));
        Problem p = k.problem().withUpstream(null);
        Checks.Run none = Checks.run(k.spec(), p, Reduction.NONE, b);
        for (Reduction r : new Reduction[] {Reduction.SUM, Reduction.MEAN, Reduction.BATCH_MEAN}) {
            String what = k + " " + r + " with a per-term buffer on " + b.name();
            Checks.Run without = Checks.run(k.spec(), p, r, b);
            float[] g = TestData.filled(p.n * p.c, Float.NaN);
            float[] pt = TestData.filled(p.terms(k.spec()), Float.NaN);
            LossResult res = Checks.compute(k.spec().build(r), p.batch(r, g, pt), b, what);
            assertEquals(without.result(), res, () -> ctx(what + ": result"));
            Checks.sameBits(without.gradient(), g, what + ": gradient");
            Checks.sameBits(none.perTerm(), pt, what + ": perTerm");
        }
    }

    // ---------------------------------------------------------------- edge cases

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void everyTermMaskedOrIgnoredGivesZeroNotNaN(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("allmasked");
        Case k = random(plain(), weightedCombo(), 5, 6, rng);
        Problem p = k.problem();
        List<Problem> variants = new ArrayList<>();
        List<String> names = new ArrayList<>();
        variants.add(p.withSampleWeights(TestData.filled(p.n, Float.NaN)));
        names.add("every sample weight NaN");
        if (!kind().perRow()) {
            variants.add(p.withSampleWeights(null).withElementWeights(TestData.filled(p.n * p.c, Float.NaN)));
            names.add("every element weight NaN");
        }
        if (kind().takesLabels()) {
            int[] ignored = new int[p.n];
            Arrays.fill(ignored, k.spec().ignoreIndex());
            variants.add(p.withLabels(ignored).withSampleWeights(null));
            names.add("every row ignored");
        }
        int terms = p.terms(k.spec());
        for (int v = 0; v < variants.size(); v++) {
            boolean ignoredRows = names.get(v).contains("ignored");
            for (Reduction r : Reduction.values()) {
                String what = k + " " + r + " on " + b.name() + ": " + names.get(v);
                Checks.Run run = Checks.run(k.spec(), variants.get(v), r, b);
                assertEquals(0.0, run.result().loss(), () -> ctx(what + ": loss"));
                assertEquals(0, run.result().counted(), () -> ctx(what + ": counted"));
                assertEquals(ignoredRows ? 0 : terms, run.result().masked(), () -> ctx(what + ": masked"));
                assertEquals(0.0, run.result().weightSum(), () -> ctx(what + ": weightSum"));
                assertEquals(r == Reduction.NONE || r == Reduction.SUM ? 1.0 : 0.0, run.result().denominator(),
                        () -> ctx(what + ": denominator"));
                assertTrue(run.result().isFinite(), () -> ctx(what + ": isFinite"));
                Checks.allZero(run.gradient(), what + ": gradient");
                if (run.perTerm() != null) {
                    Checks.allZero(run.perTerm(), what + ": perTerm");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void everyWeightZeroGivesZero(TestPath b) {
        TestBackends.require(b);
        Case k = random(plain(), TestData.combo(), 5, 6, rng("allzero"));
        Problem p = k.problem().withSampleWeights(new float[k.problem().n]);
        int terms = p.terms(k.spec());
        for (Reduction r : Reduction.values()) {
            String what = k + " " + r + " on " + b.name() + ": every sample weight 0";
            Checks.Run run = Checks.run(k.spec(), p, r, b);
            assertEquals(0.0, run.result().loss(), () -> ctx(what + ": loss"));
            assertEquals(terms, run.result().counted(), () -> ctx(what + ": counted (a zero weight still counts)"));
            assertEquals(0, run.result().masked(), () -> ctx(what + ": masked"));
            double expectedDenominator = switch (r) {
                case NONE, SUM -> 1;
                case MEAN -> 0;
                case BATCH_MEAN -> terms;
            };
            assertEquals(expectedDenominator, run.result().denominator(), () -> ctx(what + ": denominator"));
            Checks.allZero(run.gradient(), what + ": gradient");
            if (run.perTerm() != null) {
                Checks.allZero(run.perTerm(), what + ": perTerm");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void nanWeightsMaskRowsAsIfTheyWereAbsent(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("nan");
        double same = TestBackends.tol(b).same();
        // 5 columns: short rows (several to a vector); 37: rows that straddle vectors (the native
        // element-wise losses' flat run of mid-sized rows)
        for (int cols : new int[] {5, 37}) {
            for (LossSpec spec : optionSpecs()) {
                Case k = random(spec, weightedCombo(), 7, cols, rng);
                Problem p = k.problem();
                float[] sw = p.sw == null ? TestData.uniform(rng, p.n, 0.5, 2) : p.sw.clone();
                sw[1] = Float.NaN;
                sw[4] = Float.NaN;
                Problem masked = p.withSampleWeights(sw);
                Problem absent = masked.rows(k.spec(), 0, 2, 3, 5, 6);
                int c = p.c;
                int per = kind().perRow() ? 1 : c;
                for (Reduction r : Reduction.values()) {
                    String what = k + " " + r + " on " + b.name() + ": rows 1 and 4 with NaN weights vs removed";
                    Checks.Run m = Checks.run(k.spec(), masked, r, b);
                    Checks.Run a = Checks.run(k.spec(), absent, r, b);
                    assertEquals(2L * per, m.result().masked(), () -> ctx(what + ": masked"));
                    assertEquals(a.result().counted(), m.result().counted(), () -> ctx(what + ": counted"));
                    Checks.close(a.result().loss(), m.result().loss(), 1e-12, 1e-300, what + ": loss");
                    Checks.close(a.result().denominator(), m.result().denominator(), 1e-12, 0, what + ": denominator");
                    Checks.zeroRange(m.gradient(), c, 2 * c, what + ": gradient of row 1");
                    Checks.zeroRange(m.gradient(), 4 * c, 5 * c, what + ": gradient of row 4");
                    float[] kept = new float[5 * c];
                    int[] rows = {0, 2, 3, 5, 6};
                    for (int i = 0; i < rows.length; i++) {
                        System.arraycopy(m.gradient(), rows[i] * c, kept, i * c, c);
                    }
                    Checks.same(a.gradient(), kept, same, what + ": gradient of the other rows");
                    if (r == Reduction.NONE) {
                        Checks.zeroRange(m.perTerm(), per, 2 * per, what + ": perTerm of row 1");
                        Checks.zeroRange(m.perTerm(), 4 * per, 5 * per, what + ": perTerm of row 4");
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void nonFinitePredictionsAreCounted(TestPath b) {
        TestBackends.require(b);
        Case k = random(plain(), TestData.combo(W.SAMPLE), 6, 5, rng("nonfinite"));
        Problem p = k.problem();
        int c = p.c;
        float[] x = p.x.clone();
        float[] sw = p.sw.clone();
        x[c + 2] = Float.NaN;            // row 1
        x[4 * c] = Float.POSITIVE_INFINITY;  // row 4
        sw[1] = 1;
        sw[4] = 1;
        Problem bad = p.withX(x).withSampleWeights(sw);
        if (p.targets != null) {
            float[] t = p.targets.clone();
            t[c + 2] = 0;
            t[4 * c] = 0;
            bad = bad.withTargets(t);
        }
        if (p.labels != null) {
            int[] l = p.labels.clone();
            l[4] = 1 % c;  // +inf on a class that is not the target
            bad = bad.withLabels(l);
        }
        for (Reduction r : Reduction.values()) {
            String what = k + " " + r + " on " + b.name() + ": NaN at (1, 2), +inf at (4, 0)";
            Checks.Run run = Checks.run(k.spec(), bad, r, b);
            assertEquals(2, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            assertFalse(run.result().isFinite(), () -> ctx(what + ": isFinite"));
            assertFalse(Double.isFinite(run.result().loss()), () -> ctx(what + ": loss " + run.result().loss()));
            if (r == Reduction.NONE) {
                int per = kind().perRow() ? 1 : c;
                int[] badTerms = kind().perRow() ? new int[] {1, 4} : new int[] {c + 2, 4 * c};
                for (int t = 0; t < run.perTerm().length; t++) {
                    final int term = t;
                    boolean isBad = t == badTerms[0] || t == badTerms[1];
                    assertEquals(!isBad, Float.isFinite(run.perTerm()[t]),
                            () -> ctx(what + ": perTerm[" + term + "] = " + run.perTerm()[term]));
                }
                assertEquals(per == 1 ? p.n : p.n * c, run.perTerm().length, () -> ctx(what));
            }
        }
    }

    /**
     * Logits of +-1e30 (MSE: predictions of +-1e18, whose squares still fit a float) and -inf on
     * classes / elements that are not targets give finite losses and gradients that match the
     * oracle, and a -inf logit gets a gradient of exactly 0.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void hugeAndNegativeInfiniteLogitsGiveFiniteLossAndGradient(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("extreme");
        for (LossSpec spec : optionSpecs()) {
            if (spec.zLoss() != 0) {
                continue;  // z * lse^2 of 1e30 overflows float: a true overflow, not a kernel bug
            }
            for (Set<W> weights : weightCombos()) {
                Case e = TestData.extreme(random(spec, weights, 6, 9, rng), rng, takesExtremeLogits());
                float[] x = e.problem().x;
                for (Reduction r : Reduction.values()) {
                    Checks.againstOracle(e, r, b, 1.0, null, false);
                    Checks.Run run = Checks.run(e.spec(), e.problem(), r, b);
                    for (int at = 0; at < x.length; at++) {
                        if (x[at] == Float.NEGATIVE_INFINITY && run.gradient()[at] != 0f) {
                            final int a = at;
                            org.junit.jupiter.api.Assertions.fail(ctx(e + " " + r + " on " + b.name()
                                    + ": gradient at a -inf logit (" + a + ") is " + run.gradient()[a] + ", expected 0"));
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void anEmptyBatchGivesZero(TestPath b) {
        TestBackends.require(b);
        Case k = random(plain(), richestCombo(), 0, 3, rng("empty"));
        for (Reduction r : Reduction.values()) {
            String what = k + " " + r + " on " + b.name() + ": no rows";
            Checks.Run run = Checks.run(k.spec(), k.problem(), r, b);
            assertEquals(0.0, run.result().loss(), () -> ctx(what + ": loss"));
            assertEquals(0, run.result().counted(), () -> ctx(what + ": counted"));
        }
    }

    /**
     * Binary losses, certain and right: x = -inf with t = 0 and x = +inf with t = 1 have loss 0 and
     * gradient 0 (a target of 0 takes no part of softplus(-x), not 0 * inf = NaN; issue 17, item 2);
     * the wrong ones, x = -inf with t = 1 and +inf with t = 0, are +inf and counted.
     */
    static void infiniteLogitsOfCertainTargets(LossSpec spec, Backend b) {
        TestBackends.require(b);
        float inf = Float.POSITIVE_INFINITY;
        Problem p = new Problem(2, 4, new float[] {-inf, inf, -inf, inf, -inf, inf, 1, -1}, null,
                new float[] {0, 1, 0, 1, 1, 0, 0.5f, 0.5f}, null, null, null);
        String what = spec + " on " + b.name() + ": infinite logits";
        Checks.Run run = Checks.run(spec, p, Reduction.NONE, b);
        for (int i = 0; i < 4; i++) {
            final int at = i;
            assertEquals(0f, run.perTerm()[i], () -> ctx(what + ": perTerm[" + at + "]"));
            assertEquals(0f, run.gradient()[i], () -> ctx(what + ": gradient[" + at + "]"));
        }
        assertEquals(inf, run.perTerm()[4], () -> ctx(what + ": perTerm[4]"));
        assertEquals(inf, run.perTerm()[5], () -> ctx(what + ": perTerm[5]"));
        assertEquals(2, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
    }
}
