package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.fusedloss.TestData.W.CLASS;
import static org.fusedloss.TestData.W.IGNORE;
import static org.fusedloss.TestData.W.MASK;
import static org.fusedloss.TestData.W.SAMPLE;
import static org.fusedloss.TestData.combo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.fusedloss.TestData.Case;
import org.fusedloss.TestData.W;
import org.fusedloss.internal.LossKind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Softmax cross-entropy (class indices and dense targets): the contract of {@link LossContract}
 * over every option (smoothing, z-loss, soft-cap, ignore index) and weight combination, plus
 * closed forms (equal logits give log C; two classes give BCE on the logit difference) and cases
 * worked out by hand.
 */
class CrossEntropyTest extends LossContract {
    private static final LossSpec CE = LossSpec.of(LossKind.CROSS_ENTROPY);
    private static final LossSpec DENSE = LossSpec.of(LossKind.CROSS_ENTROPY_DENSE);

    @Override
    LossKind kind() {
        return LossKind.CROSS_ENTROPY;
    }

    @Override
    List<LossSpec> optionSpecs() {
        return List.of(CE, CE.withSmoothing(0.125), CE.withZLoss(0.0625), CE.withSoftCap(4),
                CE.withSmoothing(0.25).withZLoss(0.03125).withSoftCap(3).withIgnoreIndex(-1), CE.withSmoothing(1),
                DENSE, DENSE.withSmoothing(0.25).withZLoss(0.03125).withSoftCap(3));
    }

    @Override
    List<Set<W>> weightCombos() {
        return List.of(combo(), combo(SAMPLE), combo(CLASS), combo(SAMPLE, CLASS), combo(IGNORE),
                combo(SAMPLE, CLASS, MASK, IGNORE));
    }

    @Override
    Set<W> weightedCombo() {
        return combo(SAMPLE, CLASS);
    }

    @Override
    LossSpec withUnitClassWeights(LossSpec spec, int c) {
        return spec.withClassWeights(TestData.filled(c, 1f));
    }

    /** p_c = 1/C for equal logits, so every term is log C (plus z lse^2 with lse = a + log C). */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void equalLogitsGiveLogC(TestPath b) {
        TestBackends.require(b);
        TestBackends.Tol tol = TestBackends.tol(b);
        SplittableRandom rng = rng("logC");
        for (int c : new int[] {1, 2, 3, 10, 1000, 262_144}) {
            int n = 3;
            boolean large = c > 1000;
            for (float a : large ? new float[] {7.5f} : new float[] {0f, 7.5f, -3f}) {
                for (LossSpec spec : large ? List.of(CE, DENSE.withSmoothing(0.5).withZLoss(0.0625))
                        : List.of(CE, CE.withSmoothing(0.25), CE.withZLoss(0.0625), DENSE.withSmoothing(0.5))) {
                    Case k = random(spec, combo(SAMPLE, CLASS), n, c, rng);
                    Problem p = k.problem().withX(TestData.filled(n * c, a));
                    float[] cw = k.spec().classWeights();
                    double logC = Math.log(c);
                    double lse = a + logC;
                    double weightSum = 0;
                    double sum = 0;
                    double[] rowWeight = new double[n];
                    double[] perTerm = new double[n];
                    double cwSum = 0;
                    for (float w : cw) {
                        cwSum += w;
                    }
                    for (int i = 0; i < n; i++) {
                        double eps = spec.eps();
                        double z = spec.zLoss();
                        double per;
                        if (spec.kind() == LossKind.CROSS_ENTROPY) {
                            double cwy = cw[p.labels[i]];
                            // (1-eps) cw[y] log C + (eps/C) sum_c cw[c] log C + cw[y] z lse^2
                            per = (1 - eps) * cwy * logC + eps / c * cwSum * logC + cwy * z * lse * lse;
                            rowWeight[i] = cwy * p.sw[i];
                        } else {
                            double tw = 0;
                            for (int j = 0; j < c; j++) {
                                tw += cw[j] * ((1 - eps) * p.targets[i * c + j] + eps / c);
                            }
                            per = tw * logC + z * lse * lse;
                            rowWeight[i] = p.sw[i];
                        }
                        perTerm[i] = p.sw[i] * per;
                        sum += perTerm[i];
                        weightSum += rowWeight[i];
                    }
                    for (Reduction r : Reduction.values()) {
                        String what = spec + " " + r + " on " + b.name() + ": equal logits " + a + ", C=" + c;
                        Checks.Run run = Checks.run(k.spec(), p, r, b);
                        double expected = switch (r) {
                            case NONE, SUM -> sum;
                            case MEAN -> weightSum == 0 ? 0 : sum / weightSum;  // 0, not NaN, when all weights are 0
                            case BATCH_MEAN -> sum / n;
                        };
                        Checks.close(expected, run.result().loss(), tol.loss(), 0, what + ": loss");
                        if (r == Reduction.NONE) {
                            Checks.termsClose(perTerm, rowWeight, run.perTerm(), tol, what + ": perTerm");
                        }
                        if (r == Reduction.MEAN && spec.eps() == 0 && spec.zLoss() == 0 && weightSum > 0
                                && spec.kind() == LossKind.CROSS_ENTROPY) {
                            // a weighted average of identical values is that value
                            Checks.close(logC, run.result().loss(), tol.loss(), 1e-300, what + ": MEAN is log C");
                            // dL/dx_ic = w_i (1/C - [c == y_i]) / sum w
                            double[] g = new double[n * c];
                            for (int i = 0; i < n; i++) {
                                for (int j = 0; j < c; j++) {
                                    g[i * c + j] = rowWeight[i] * (1.0 / c - (j == p.labels[i] ? 1 : 0)) / weightSum;
                                }
                            }
                            Checks.gradientClose(g, run.gradient(), tol.gradient(), what + ": gradient");
                        }
                    }
                }
            }
        }
    }

    /**
     * Worked by hand. Row 0: logits (0, ln 3, ln 4), p = (1/8, 3/8, 4/8), label 0: ln 8.
     * Row 1: logits (ln 2, 0, ln 5), p = (2/8, 1/8, 5/8), label 2: ln(8/5). Sample weights (2, 1):
     * SUM = 2 ln 8 + ln(8/5), MEAN = SUM / 3, BATCH_MEAN = SUM / 2, and the MEAN gradient
     * w_i (p - onehot) / 3 = (-7/12, 1/4, 1/3) and (1/12, 1/24, -1/8).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aCaseWorkedByHand(TestPath b) {
        TestBackends.require(b);
        float[] x = {0f, (float) Math.log(3), (float) Math.log(4), (float) Math.log(2), 0f, (float) Math.log(5)};
        Problem p = new Problem(2, 3, x, new int[] {0, 2}, null, new float[] {2, 1}, null, null);
        double sum = 2 * Math.log(8) + Math.log(8.0 / 5);
        for (Reduction r : Reduction.values()) {
            String what = "hand-worked CE " + r + " on " + b.name();
            Checks.Run run = Checks.run(CE, p, r, b);
            double expected = switch (r) {
                case NONE, SUM -> sum;
                case MEAN -> sum / 3;
                case BATCH_MEAN -> sum / 2;
            };
            Checks.close(expected, run.result().loss(), 1e-6, 0, what + ": loss");
            if (r == Reduction.NONE) {
                Checks.gradientClose(new double[] {2 * Math.log(8), Math.log(8.0 / 5)}, run.perTerm(), 1e-6,
                        what + ": perTerm");
            }
            if (r == Reduction.MEAN) {
                Checks.gradientClose(new double[] {-7.0 / 12, 1.0 / 4, 1.0 / 3, 1.0 / 12, 1.0 / 24, -1.0 / 8},
                        run.gradient(), 1e-6, what + ": gradient");
            }
        }
    }

    /**
     * With two classes, softmax CE with label y equals BCE with logits on x1 - x0 and target y
     * (and with dense targets (1-t, t), BCE with target t); the gradient on x1 is BCE's, on x0 its
     * negative. Both sides come from the library, through two different kernels.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void twoClassSoftmaxEqualsBinaryCrossEntropyOnTheLogitDifference(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("twoclass");
        TestBackends.Tol tol = TestBackends.tol(b);
        int n = 41;
        float[] x = new float[2 * n];
        float[] diff = new float[n];
        int[] labels = new int[n];
        float[] hard = new float[n];
        float[] soft = new float[n];
        float[] softPair = new float[2 * n];
        for (int i = 0; i < n; i++) {
            // multiples of 1/1024 in [-8, 8]: their difference is exact in float
            x[2 * i] = (float) (rng.nextInt(-8192, 8193) / 1024.0);
            x[2 * i + 1] = (float) (rng.nextInt(-8192, 8193) / 1024.0);
            diff[i] = x[2 * i + 1] - x[2 * i];
            labels[i] = rng.nextInt(2);
            hard[i] = labels[i];
            soft[i] = (float) (rng.nextInt(257) / 256.0);
            softPair[2 * i] = 1 - soft[i];
            softPair[2 * i + 1] = soft[i];
        }
        float[] sw = TestData.weightsWithZeros(rng, n, 3);
        LossSpec bce = LossSpec.of(LossKind.BINARY_CROSS_ENTROPY);
        for (boolean dense : new boolean[] {false, true}) {
            Problem ce = new Problem(n, 2, x, dense ? null : labels, dense ? softPair : null, sw, null, null);
            Problem bin = new Problem(n, 1, diff, null, dense ? soft : hard, sw, null, null);
            for (Reduction r : Reduction.values()) {
                String what = (dense ? "dense " : "") + "two-class CE vs BCE on x1 - x0, " + r + " on " + b.name();
                Checks.Run a = Checks.run(dense ? DENSE : CE, ce, r, b);
                Checks.Run e = Checks.run(bce, bin, r, b);
                Checks.close(e.result().loss(), a.result().loss(), tol.term(), 1e-12, what + ": loss");
                if (r == Reduction.NONE) {
                    Checks.termsClose(TestData.toDouble(e.perTerm()), TestData.toDouble(sw), a.perTerm(), tol,
                            what + ": perTerm");
                }
                float[] expected = new float[2 * n];
                for (int i = 0; i < n; i++) {
                    expected[2 * i] = -e.gradient()[i];
                    expected[2 * i + 1] = e.gradient()[i];
                }
                Checks.gradientClose(expected, a.gradient(), Math.max(tol.gradient(), 1e-6), what + ": gradient");
            }
        }
    }

    /**
     * The header's masked-class rule, by hand: logits (0, 0, -inf, -inf), label 0, eps 1/4, so
     * p = (1/2, 1/2, 0, 0); the smoothing mass eps/C = 1/16 goes on the two finite classes only:
     * q = (3/4 + 1/16, 1/16, 0, 0), loss = (13/16 + 1/16) ln 2 = 7/8 ln 2, gradient
     * (sum q) p - q = (7/16 - 13/16, 7/16 - 1/16, 0, 0) = (-3/8, 3/8, 0, 0).
     * A label on a -inf logit is an infinite loss (counted as non-finite).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void labelSmoothingDropsTheMassOfNegativeInfiniteClasses(TestPath b) {
        TestBackends.require(b);
        float ninf = Float.NEGATIVE_INFINITY;
        float[] x = {0, 0, ninf, ninf, 0, 0, ninf, ninf};
        for (boolean dense : new boolean[] {false, true}) {
            Problem p = new Problem(2, 4, x, dense ? null : new int[] {0, 0},
                    dense ? new float[] {1, 0, 0, 0, 1, 0, 0, 0} : null, null, null, null);
            LossSpec spec = (dense ? DENSE : CE).withSmoothing(0.25);
            String what = spec + " on " + b.name() + ": logits (0, 0, -inf, -inf)";
            Checks.Run run = Checks.run(spec, p, Reduction.SUM, b);
            Checks.close(2 * 7.0 / 8 * Math.log(2), run.result().loss(), 1e-6, 0, what + ": loss");
            assertEquals(0, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            Checks.gradientClose(new double[] {-0.375, 0.375, 0, 0, -0.375, 0.375, 0, 0}, run.gradient(), 1e-6,
                    what + ": gradient");
            Checks.zeroRange(run.gradient(), 2, 4, what + ": gradient of the -inf classes");
        }
        Problem onMasked = new Problem(2, 4, x, new int[] {0, 2}, null, null, null, null);
        String what = "CE eps 0.25 on " + b.name() + ": row 1's label on a -inf logit";
        Checks.Run run = Checks.run(CE.withSmoothing(0.25), onMasked, Reduction.NONE, b);
        assertEquals(1, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
        assertEquals(Float.POSITIVE_INFINITY, run.perTerm()[1], () -> ctx(what + ": perTerm[1]"));
        Checks.close(7.0 / 8 * Math.log(2), run.perTerm()[0], 1e-6, 0, what + ": perTerm[0]");
    }

    /**
     * Only -inf masks a class: a NaN logit keeps its smoothing mass eps/C, so a row whose only
     * target mass is that share still gets a NaN term (counted), not the 0 of an empty row.
     * Rows: one class (logit NaN, target 0); three classes (0, NaN, 1), targets all 0.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aNaNLogitKeepsItsSmoothingMass(TestPath b) {
        TestBackends.require(b);
        float nan = Float.NaN;
        Problem[] problems = {
            new Problem(1, 1, new float[] {nan}, null, new float[] {0}, null, null, null),
            new Problem(1, 3, new float[] {0, nan, 1}, null, new float[] {0, 0, 0}, null, null, null)};
        for (Problem p : problems) {
            String what = "dense CE eps 0.25 on " + b.name() + ", C = " + p.c + ", NaN logit, targets 0";
            Checks.Run run = Checks.run(DENSE.withSmoothing(0.25), p, Reduction.NONE, b);
            assertEquals(1, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            assertTrue(Float.isNaN(run.perTerm()[0]), () -> ctx(what + ": perTerm[0] = " + run.perTerm()[0]));
        }
    }

    /**
     * Class indices whose class weight is 0 (with z-loss too, weighted by cw[y], and a soft cap)
     * and dense target rows that are all 0 drop their row, NaN or +inf logits included
     * ({@link #assertDropped}).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aZeroClassWeightOrTargetRowDropsTheRowEvenWithNonFiniteLogits(TestPath b) {
        TestBackends.require(b);
        float nan = Float.NaN;
        float inf = Float.POSITIVE_INFINITY;
        float[] x = {nan, 1, 2, inf, 0, 1, 0.5f, -1, 2, 1, 2, 3};
        Problem labels = new Problem(4, 3, x, new int[] {0, 0, 0, 1}, null, null, null, null);
        for (LossSpec spec : List.of(CE, CE.withZLoss(0.125), CE.withSoftCap(3), CE.withZLoss(0.5).withSoftCap(2))) {
            assertDropped(spec.withClassWeights(new float[] {0, 1, 2}), labels, new int[] {0, 1, 2}, b,
                    "class weight 0 for rows 0 (NaN), 1 (+inf), 2 (finite)");
        }
        float[] targets = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0.25f, 0.75f, 0};
        Problem dense = new Problem(4, 3, x, null, targets, null, null, null);
        for (LossSpec spec : List.of(DENSE, DENSE.withSoftCap(3), DENSE.withClassWeights(new float[] {2, 1, 0.5f}))) {
            assertDropped(spec, dense, new int[] {0, 1, 2}, b, "targets 0 for rows 0 (NaN), 1 (+inf), 2 (finite)");
        }
    }

    /**
     * Class weights of any size scale out of MEAN, subnormal ones too (2^-140 {1, 2, 3}): with
     * smoothing and dense targets the gradient equals that of {1, 2, 3}. The target mass's factor
     * gradScale x sampleWeight x eps / C alone is then beyond float range (2^140); it used to be
     * rounded to float before it met the class weight: an infinite gradient.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void subnormalClassWeightsScaleOutOfTheMean(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("subnormal class weights");
        float[] unit = {1, 2, 3};
        float[] tiny = {Math.scalb(1f, -140), Math.scalb(2f, -140), Math.scalb(3f, -140)};
        for (LossSpec spec : List.of(CE.withSmoothing(0.9), CE.withSmoothing(1), CE.withSmoothing(0.25).withSoftCap(4))) {
            Case k = random(spec, combo(), 6, 3, rng);
            String what = spec + " MEAN on " + b.name() + ": class weights 2^-140 {1, 2, 3} vs {1, 2, 3}";
            Checks.Run want = Checks.run(spec.withClassWeights(unit), k.problem(), Reduction.MEAN, b);
            Checks.Run got = Checks.run(spec.withClassWeights(tiny), k.problem(), Reduction.MEAN, b);
            assertTrue(Double.isFinite(got.result().loss()), () -> ctx(what + ": loss " + got.result().loss()));
            Checks.gradientClose(want.gradient(), got.gradient(), TestBackends.tol(b).gradient(), what + ": gradient");
        }
        // dense targets: MEAN divides by the sample weights, so a caller denominator scaled with the
        // class weights gives the same gradient
        Case k = random(DENSE.withSmoothing(0.5), combo(), 6, 3, rng);
        String what = "dense CE eps 0.5 MEAN on " + b.name() + ": class weights 2^-140 {1, 2, 3}, denominator 6 x 2^-140";
        Checks.Run want = Checks.run(DENSE.withSmoothing(0.5).withClassWeights(unit), k.problem(), Reduction.MEAN, b,
                1.0, 6.0);
        Checks.Run got = Checks.run(DENSE.withSmoothing(0.5).withClassWeights(tiny), k.problem(), Reduction.MEAN, b,
                1.0, Math.scalb(6.0, -140));
        assertTrue(Double.isFinite(got.result().loss()), () -> ctx(what + ": loss " + got.result().loss()));
        Checks.gradientClose(want.gradient(), got.gradient(), TestBackends.tol(b).gradient(), what + ": gradient");
    }

    /**
     * A weighted term beyond float range (a sample weight of 1e30 on a term of 2e30) is +inf on
     * every backend and counted in nonFinite: terms are float32 (the native kernels sum in double,
     * and so did the reference, so such a loss used to be a finite 2e60 with nonFinite 0).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aWeightedTermBeyondFloatRangeIsInfinite(TestPath b) {
        TestBackends.require(b);
        Problem p = new Problem(2, 2, new float[] {1e30f, -1e30f, 0, 1}, new int[] {1, 0}, null,
                new float[] {1e30f, 1}, null, null);
        for (LossSpec spec : List.of(CE, LossSpec.of(LossKind.SOFTMAX_FOCAL).withGamma(0))) {
            String what = spec + " on " + b.name() + ": a weighted term of 2e60";
            Checks.Run run = Checks.run(spec, p, Reduction.NONE, b);
            assertEquals(1, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            assertEquals(Double.POSITIVE_INFINITY, run.result().loss(), () -> ctx(what + ": loss"));
            assertEquals(Float.POSITIVE_INFINITY, run.perTerm()[0], () -> ctx(what + ": perTerm[0]"));
            Checks.close(Math.log(1 + Math.E), run.perTerm()[1], 1e-6, 0, what + ": perTerm[1]");
        }
    }

    /** One class: p = 1, so the loss and gradient are 0; with z-loss lse = x, term z x^2, gradient 2 z x. */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void oneClassGivesZeroLossOrPureZLoss(TestPath b) {
        TestBackends.require(b);
        float[] x = {3f, -2f, 0.5f};
        Problem p = new Problem(3, 1, x, new int[] {0, 0, 0}, null, null, null, null);
        for (LossSpec spec : List.of(CE, CE.withSmoothing(0.5), CE.withSoftCap(2))) {
            Checks.Run run = Checks.run(spec, p, Reduction.SUM, b);
            String what = spec + " on " + b.name() + ": C = 1";
            assertEquals(0.0, run.result().loss(), 1e-7, () -> ctx(what + ": loss"));
            Checks.gradientClose(new double[3], run.gradient(), 0, what + ": gradient");
        }
        Checks.Run run = Checks.run(CE.withZLoss(0.25), p, Reduction.SUM, b);
        String what = "CE zLoss 0.25 on " + b.name() + ": C = 1";
        Checks.close(0.25 * (9 + 4 + 0.25), run.result().loss(), 1e-6, 0, what + ": loss");
        Checks.gradientClose(new double[] {1.5, -1, 0.25}, run.gradient(), 1e-6, what + ": gradient");
        // Dense targets: the same, and G p - q cancels exactly, so small logits leave a z-loss
        // gradient far below the target mass (1): it must not be float rounding of that mass.
        float[] small = {0.01f, -0.02f, 0.003f};
        Problem dense = new Problem(3, 1, small, null, new float[] {1, 1, 1}, null, null, null);
        Checks.Run zl = Checks.run(DENSE.withZLoss(1e-3), dense, Reduction.SUM, b);
        String whatDense = "dense CE zLoss 1e-3 on " + b.name() + ": C = 1, logits " + java.util.Arrays.toString(small);
        double[] expected = new double[3];
        double loss = 0;
        for (int i = 0; i < 3; i++) {
            expected[i] = 2e-3 * small[i];
            loss += 1e-3 * small[i] * small[i];
        }
        Checks.close(loss, zl.result().loss(), 1e-6, 0, whatDense + ": loss");
        Checks.gradientClose(expected, zl.gradient(), 1e-6, whatDense + ": gradient");
    }

    /**
     * Soft-capping at 5: logits (+1e6, -1e6) become (5, -5); label 1 gives log(1 + e^10), and the
     * saturated tanh passes no gradient (1 - (z/cap)^2 = 0).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void softCapSaturatesHugeLogits(TestPath b) {
        TestBackends.require(b);
        Problem p = new Problem(1, 2, new float[] {1e6f, -1e6f}, new int[] {1}, null, null, null, null);
        Checks.Run run = Checks.run(CE.withSoftCap(5), p, Reduction.SUM, b);
        String what = "CE softCap 5 on " + b.name() + ": logits (1e6, -1e6)";
        Checks.close(Math.log1p(Math.exp(10)), run.result().loss(), 1e-6, 0, what + ": loss");
        Checks.gradientClose(new double[2], run.gradient(), 0, what + ": gradient");
    }

    /**
     * Dense one-hot targets are class indices: the same terms and gradient for NONE and SUM; MEAN
     * differs only in the denominator (sum of sample weights, not of cw[y] * sw). Not with z-loss
     * and class weights: the header weights the z-loss by cw[y] for labels but not for dense targets.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void oneHotTargetsEqualClassIndices(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("onehot");
        TestBackends.Tol tol = TestBackends.tol(b);
        for (LossSpec spec : List.of(CE, CE.withSmoothing(0.125).withSoftCap(4), CE.withZLoss(0.0625))) {
            Case k = random(spec, spec.zLoss() == 0 ? combo(SAMPLE, CLASS) : combo(SAMPLE), 9, 7, rng);
            Problem p = k.problem();
            float[] oneHot = new float[p.n * p.c];
            double swSum = 0;
            for (int i = 0; i < p.n; i++) {
                oneHot[i * p.c + p.labels[i]] = 1;
                swSum += p.sw[i];
            }
            Problem dense = p.withLabels(null).withTargets(oneHot);
            LossSpec denseSpec = LossSpec.of(LossKind.CROSS_ENTROPY_DENSE).withClassWeights(k.spec().classWeights())
                    .withSmoothing(spec.eps()).withZLoss(spec.zLoss()).withSoftCap(spec.softCap());
            for (Reduction r : List.of(Reduction.NONE, Reduction.SUM)) {
                String what = k + " " + r + " on " + b.name() + ": labels vs one-hot targets";
                Checks.Run a = Checks.run(k.spec(), p, r, b);
                Checks.Run d = Checks.run(denseSpec, dense, r, b);
                Checks.sameRuns(a, d, tol.term(), what);
                if (r == Reduction.SUM) {
                    Checks.Run mean = Checks.run(denseSpec, dense, Reduction.MEAN, b);
                    Checks.close(swSum, mean.result().denominator(), 1e-12, 0, what + ": dense MEAN denominator");
                    Checks.close(d.result().loss() / swSum, mean.result().loss(), 1e-12, 0, what + ": dense MEAN");
                }
            }
        }
    }

    /**
     * The rows of a softmax gradient sum to 0 ((sum q) sum_c p_c - sum_c q_c with sum p = 1; not
     * with soft-capping or z-loss, which change the factor per class or add 2 z lse): at
     * C = 262 144 with a long tail of small probabilities, a float accumulation of the softmax sum
     * shows up here as a row sum far from 0.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void gradientRowsSumToZeroAtLargeVocabularies(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("rowsum");
        int n = 2;
        int c = 262_144;
        for (LossSpec spec : List.of(CE, CE.withSmoothing(0.125), DENSE.withSmoothing(0.25))) {
            Case k = random(spec, combo(SAMPLE, CLASS), n, c, rng);
            float[] x = k.problem().x;
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (-6 + 9 * rng.nextDouble());
            }
            for (int i = 0; i < n; i++) {
                x[i * c + rng.nextInt(c)] = 10;
            }
            k.problem().sw[0] = 1.5f;
            Checks.Run run = Checks.run(k.spec(), k.problem(), Reduction.SUM, b);
            for (int i = 0; i < n; i++) {
                double sum = 0;
                double abs = 0;
                for (int j = 0; j < c; j++) {
                    sum += run.gradient()[i * c + j];
                    abs += Math.abs(run.gradient()[i * c + j]);
                }
                final int row = i;
                final double s = sum;
                final double a = abs;
                org.junit.jupiter.api.Assertions.assertTrue(Math.abs(sum) <= 1e-5 * abs,
                        () -> ctx(k + " on " + b.name() + ": gradient row " + row + " sums to " + s
                                + " (sum of |g| " + a + ")"));
            }
        }
    }
    /**
     * Long rows (C >= 4096) go several to a row block, and the native kernel writes a row's
     * gradient during the next row's pass over the logits (class indices, no smoothing or cap):
     * every row's gradient must still be its own, with an odd C moving each row's alignment.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void longRowsWrittenDuringTheNextRowMatchTheOracle(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("long rows");
        for (LossSpec spec : List.of(CE, CE.withZLoss(0.0625))) {
            for (Reduction r : List.of(Reduction.NONE, Reduction.MEAN)) {
                Case k = random(spec, combo(SAMPLE, CLASS, IGNORE), 70, 4097, rng);
                Checks.Run run = Checks.againstOracle(k, r, b, 1.0, null, false);
                checkGradientAt(k, r, b, run, sampleCoordinates(k, rng));
            }
        }
    }

    /**
     * An ignore index inside [0, C) ignores the rows of that class: the same loss and gradient as
     * the batch without them (their gradient rows 0), for labels and softmax focal alike.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void anIgnoreIndexInsideTheClassesIgnoresThatClass(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("ignoreinside");
        for (LossSpec spec : List.of(CE.withIgnoreIndex(1).withSmoothing(0.125), LossSpec.of(LossKind.SOFTMAX_FOCAL)
                .withIgnoreIndex(1))) {
            Case k = random(spec, combo(SAMPLE, CLASS), 8, 4, rng);
            int[] labels = {1, 0, 2, 1, 3, 1, 0, 2};
            Problem p = k.problem().withLabels(labels);
            Problem kept = p.rows(spec, 1, 2, 4, 6, 7);
            for (Reduction r : Reduction.values()) {
                String what = k + " " + r + " on " + b.name() + ": ignore index 1";
                Checks.Run all = Checks.run(k.spec(), p, r, b);
                Checks.Run without = Checks.run(k.spec(), kept, r, b);
                Checks.close(without.result().loss(), all.result().loss(), 1e-12, 1e-300, what + ": loss");
                assertEquals(5, all.result().counted(), () -> ctx(what + ": counted"));
                for (int row : new int[] {0, 3, 5}) {
                    Checks.zeroRange(all.gradient(), row * 4, row * 4 + 4, what + ": gradient of ignored row " + row);
                }
                float[] keptGradient = new float[20];
                int[] rows = {1, 2, 4, 6, 7};
                for (int i = 0; i < rows.length; i++) {
                    System.arraycopy(all.gradient(), rows[i] * 4, keptGradient, i * 4, 4);
                }
                Checks.same(without.gradient(), keptGradient, TestBackends.tol(b).same(), what + ": other rows");
            }
        }
    }

    /**
     * A NaN logit makes its row's term NaN (counted) and the gradient NaN at the row's finite
     * logits, wherever it sits: also where a GPU thread holds it alone or beside -inf logits only
     * (C = 5: the CUDA _small shape's fourth lane holds x[3] alone; C = 40: the _warp shape's tenth
     * lane holds x[36..39]; C = 2000: the _block shape's second thread holds x[4..7]). Issue 17,
     * item 1: such a thread's NaN sum was dropped there. The second row is clean.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aNaNLogitMakesItsRowNaNWhereverItSits(TestPath b) {
        TestBackends.require(b);
        int[][] layouts = {{5, 3}, {40, 36, 37, 38, 39}, {2000, 4, 5, 6, 7}};  // C, then -inf..., NaN last
        for (int[] layout : layouts) {
            int c = layout[0];
            float[] x = new float[2 * c];
            for (int j = 0; j < 2 * c; j++) {
                x[j] = (j % 7) * 0.25f;
            }
            for (int k = 1; k < layout.length; k++) {
                x[layout[k]] = k == layout.length - 1 ? Float.NaN : Float.NEGATIVE_INFINITY;
            }
            for (LossSpec spec : List.of(CE, CE.withSmoothing(0.125), DENSE)) {
                boolean dense = spec.kind() == LossKind.CROSS_ENTROPY_DENSE;
                float[] t = new float[2 * c];
                t[0] = 1;
                t[c] = 1;
                Problem p = new Problem(2, c, x, dense ? null : new int[] {0, 1}, dense ? t : null, null, null, null);
                String what = spec + " on " + b.name() + ": C = " + c + ", NaN at " + layout[layout.length - 1];
                Checks.Run run = Checks.run(spec, p, Reduction.NONE, b);
                assertEquals(1, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
                assertTrue(Float.isNaN(run.perTerm()[0]), () -> ctx(what + ": perTerm[0] = " + run.perTerm()[0]));
                assertTrue(Float.isFinite(run.perTerm()[1]), () -> ctx(what + ": perTerm[1] = " + run.perTerm()[1]));
                for (int j = 0; j < c; j++) {
                    final int at = j;
                    if (Float.isFinite(x[j])) {
                        assertTrue(Float.isNaN(run.gradient()[j]), () -> ctx(what + ": gradient[" + at + "] = "
                                + run.gradient()[at] + " in the NaN row"));
                    }
                }
                Checks.allFinite(java.util.Arrays.copyOfRange(run.gradient(), c, 2 * c), what + ": the clean row");
            }
        }
    }

    /**
     * Confident rows (p_y close to 1, the usual case late in training) keep the relative accuracy
     * of their small terms and of the label's gradient: per term 1e-5 relative, no absolute floor
     * (issue 17, item 4: log S of S = 1 + small in float kept only an absolute 6e-8). The values in
     * double: -log p_y = log1p(sum_{c != y} exp(z_c - z_y)), d/dz_y = -(1 - p_y).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void confidentRowsKeepTheirRelativeAccuracy(TestPath b) {
        TestBackends.require(b);
        for (int c : new int[] {2, 3, 1000, 20000}) {
            for (float margin : new float[] {10, 12, 16}) {
                float[] x = new float[c];
                for (int j = 0; j < c; j++) {
                    x[j] = (float) Math.sin(j) * 0.5f;
                }
                int y = c / 2;
                x[y] = margin;
                Problem p = new Problem(1, c, x, new int[] {y}, null, null, null, null);
                double others = 0;
                for (int j = 0; j < c; j++) {
                    others += j == y ? 0 : Math.exp((double) x[j] - x[y]);
                }
                String what = "CE on " + b.name() + ": C = " + c + ", the label " + margin + " above the others";
                Checks.Run run = Checks.run(CE, p, Reduction.NONE, b);
                Checks.close(Math.log1p(others), run.perTerm()[0], 1e-5, 0, what + ": term");
                Checks.close(-others / (1 + others), run.gradient()[y], 1e-5, 0, what + ": gradient at the label");
            }
        }
    }

    /**
     * One class, class indices, z-loss: the gradient is the z-loss part 2 z x alone, small beside
     * the label's mass 1; it must not be the float rounding of (1 + 2 z x) - 1 (issue 17, item 3).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void oneClassZLossGradientIsNotTheRoundingOfTheLabelMass(TestPath b) {
        TestBackends.require(b);
        float[] small = {0.01f, -0.02f, 0.003f};
        Problem p = new Problem(3, 1, small, new int[] {0, 0, 0}, null, null, null, null);
        for (LossSpec spec : List.of(CE.withZLoss(1e-3), CE.withZLoss(1e-4).withSmoothing(0.25))) {
            Checks.Run run = Checks.run(spec, p, Reduction.SUM, b);
            double[] expected = new double[3];
            for (int i = 0; i < 3; i++) {
                expected[i] = 2 * (float) spec.zLoss() * small[i];
            }
            Checks.gradientClose(expected, run.gradient(), 1e-5, spec + " on " + b.name() + ": C = 1, small logits");
        }
    }

    /**
     * A part of a term with no mass adds nothing even where its log-probability is infinite: a
     * label on a -inf logit with class weight 0, or with smoothing 1 (issue 17, item 5). Logits
     * (1, -inf, 2), label 1: with cw = (1, 0, 1) the term and gradient are 0; with eps = 1 the term
     * is the smoothing part over the two finite classes, ((lse - 1) + (lse - 2)) / 3.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void noMassOnAnInfiniteTermAddsNothing(TestPath b) {
        TestBackends.require(b);
        float ninf = Float.NEGATIVE_INFINITY;
        Problem p = new Problem(1, 3, new float[] {1, ninf, 2}, new int[] {1}, null, null, null, null);
        for (LossSpec spec : List.of(CE.withClassWeights(new float[] {1, 0, 1}),
                CE.withClassWeights(new float[] {1, 0, 1}).withZLoss(1e-3))) {
            String what = spec + " on " + b.name() + ": label on a -inf logit, class weight 0";
            Checks.Run run = Checks.run(spec, p, Reduction.NONE, b);
            assertEquals(0, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            assertEquals(0f, run.perTerm()[0], () -> ctx(what + ": perTerm"));
            Checks.gradientClose(new double[3], run.gradient(), 0, what + ": gradient");
        }
        double lse = Math.log(Math.exp(1) + Math.exp(2));
        Checks.Run run = Checks.run(CE.withSmoothing(1), p, Reduction.NONE, b);
        String what = "CE eps 1 on " + b.name() + ": label on a -inf logit";
        assertEquals(0, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
        Checks.close(((lse - 1) + (lse - 2)) / 3, run.perTerm()[0], 1e-6, 0, what + ": perTerm");
    }

    /**
     * Target mass on a -inf logit (SEMANTICS.md): the term is +inf and counted, the gradient at
     * that logit is 0 (not -q, PyTorch's limit), and the other classes get G (Q p_c - q_c) with the
     * mass on the masked class counted in Q. Logits (1, -inf, 0.5, 2); dense targets
     * (0.5, 0.3, 0.2, 0), and the label 1.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void massOnANegativeInfiniteLogitGetsNoGradient(TestPath b) {
        TestBackends.require(b);
        float[] x = {1, Float.NEGATIVE_INFINITY, 0.5f, 2};
        double s = Math.exp(1) + Math.exp(0.5) + Math.exp(2);
        double[] prob = {Math.exp(1) / s, 0, Math.exp(0.5) / s, Math.exp(2) / s};
        float[] t = {0.5f, 0.3f, 0.2f, 0};
        Problem dense = new Problem(1, 4, x, null, t, null, null, null);
        Problem label = new Problem(1, 4, x, new int[] {1}, null, null, null, null);
        for (Problem p : List.of(dense, label)) {
            LossSpec spec = p == dense ? DENSE : CE;
            String what = spec + " on " + b.name() + ": target mass on a -inf logit";
            Checks.Run run = Checks.run(spec, p, Reduction.NONE, b);
            assertEquals(1, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            assertEquals(Float.POSITIVE_INFINITY, run.perTerm()[0], () -> ctx(what + ": perTerm"));
            double[] expected = new double[4];
            for (int j = 0; j < 4; j++) {
                double q = p == dense ? t[j] : (j == 1 ? 1 : 0);
                expected[j] = j == 1 ? 0 : prob[j] - q;  // Q = 1
            }
            Checks.gradientClose(expected, run.gradient(), 1e-5, what + ": gradient");
            assertEquals(0f, run.gradient()[1], () -> ctx(what + ": gradient at the -inf logit"));
        }
    }

    /**
     * Options that are no float (smoothing 0.3, z-loss 0.01, cap 2.7) are kept as given: the
     * getters return them, and the Java backend computes with the doubles, so it meets the double
     * oracle at its own tolerance (1e-10 on the loss; rounded to float they would miss it by about
     * 1e-8); the float backends round them once and stay within the contract's 1e-5.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void optionsThatAreNoFloatAreKeptAsGiven(TestPath b) {
        TestBackends.require(b);
        LossSpec spec = CE.withSmoothing(0.3).withZLoss(0.01).withSoftCap(2.7);
        CrossEntropy ce = (CrossEntropy) spec.build(Reduction.MEAN);
        assertEquals(0.3, ce.labelSmoothing(), 0.0, () -> ctx("labelSmoothing()"));
        assertEquals(0.01, ce.zLoss(), 0.0, () -> ctx("zLoss()"));
        assertEquals(2.7, ce.softCap(), 0.0, () -> ctx("softCap()"));
        SplittableRandom rng = rng("doubleoptions");
        for (LossSpec s : List.of(spec, DENSE.withSmoothing(0.3).withZLoss(0.01).withSoftCap(2.7))) {
            for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.MEAN}) {
                Checks.againstOracle(random(s, combo(SAMPLE, CLASS), 5, 7, rng), r, b, 1.0, null, true);
            }
        }
    }

    /**
     * The z-loss z lse^2 of logits near 3e19 passes the float range (lse^2 = 9e38) while the term
     * does not (issue 17, item 7): formed in double, SUM 1e-4 x (3e19)^2 = 9e34, finite, nothing
     * counted as non-finite. At 1e22 the term itself, 1e40, is beyond float range: +inf, counted
     * (issue 11: terms are float32). The gradient, 2 z lse p, stays finite in both.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void zLossOfHugeLogitsIsFormedInDouble(TestPath b) {
        TestBackends.require(b);
        for (float big : new float[] {3e19f, 1e22f}) {
            Problem p = new Problem(1, 3, new float[] {big, 0, -big}, new int[] {0}, null, null, null, null);
            Checks.Run run = Checks.run(CE.withZLoss(1e-4), p, Reduction.SUM, b);
            String what = "CE zLoss 1e-4 on " + b.name() + ": logits (" + big + ", 0, " + -big + ")";
            double lse = big;
            double term = (float) 1e-4 * lse * lse;
            boolean fits = term <= Float.MAX_VALUE;
            Checks.close(fits ? term : Double.POSITIVE_INFINITY, run.result().loss(), 1e-5, 0, what + ": loss");
            assertEquals(fits ? 0 : 1, run.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            Checks.allFinite(run.gradient(), what + ": gradient");
        }
    }
}
