package org.fusedloss;

import static org.fusedloss.TestData.W.CLASS;
import static org.fusedloss.TestData.W.ELEMENT;
import static org.fusedloss.TestData.W.MASK;
import static org.fusedloss.TestData.W.SAMPLE;
import static org.fusedloss.TestData.combo;

import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.fusedloss.TestData.Case;
import org.fusedloss.TestData.W;
import org.fusedloss.internal.LossKind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sigmoid focal loss (torchvision): the contract of {@link LossContract} for several alpha and
 * gamma, gamma 0 against BCE (no alpha: plain BCE; alpha on hard targets: BCE with binary class
 * weights {1 - alpha, alpha}), and values by hand.
 */
class SigmoidFocalTest extends LossContract {
    private static final LossSpec FOCAL = LossSpec.of(LossKind.SIGMOID_FOCAL);
    private static final LossSpec BCE = LossSpec.of(LossKind.BINARY_CROSS_ENTROPY);

    @Override
    LossKind kind() {
        return LossKind.SIGMOID_FOCAL;
    }

    @Override
    List<LossSpec> optionSpecs() {
        return List.of(FOCAL, FOCAL.withFocalAlpha(-1), FOCAL.withFocalAlpha(0.75).withGamma(0),
                FOCAL.withFocalAlpha(0.5).withGamma(0.5), FOCAL.withFocalAlpha(1).withGamma(1),
                FOCAL.withFocalAlpha(0).withGamma(3), FOCAL.withFocalAlpha(-1).withGamma(1.5));
    }

    @Override
    List<Set<W>> weightCombos() {
        return List.of(combo(), combo(SAMPLE), combo(ELEMENT), combo(SAMPLE, ELEMENT), combo(SAMPLE, ELEMENT, MASK));
    }

    @Override
    Set<W> weightedCombo() {
        return combo(SAMPLE, ELEMENT);
    }

    @Override
    LossSpec withUnitClassWeights(LossSpec spec, int c) {
        return spec;
    }

    /** Gamma 0 and no alpha factor is BCE; every reduction, values and gradient. */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void gammaZeroWithoutAlphaEqualsBinaryCrossEntropy(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("bce");
        TestBackends.Tol tol = TestBackends.tol(b);
        for (int[] shape : new int[][] {{1, 1}, {5, 3}, {4, 67}}) {
            Case k = random(FOCAL.withGamma(0).withFocalAlpha(-1), combo(SAMPLE, ELEMENT, MASK), shape[0], shape[1], rng);
            compare(k.spec(), BCE, k.problem(), b, tol, k + " vs BCE");
        }
    }

    /** Gamma 0 with alpha on hard targets is BCE with binary class weights {1 - alpha, alpha}. */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void gammaZeroWithAlphaEqualsBinaryCrossEntropyWithClassWeights(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("bcw");
        TestBackends.Tol tol = TestBackends.tol(b);
        for (double alpha : new double[] {0.25, 0.75}) {
            Case k = random(BCE, combo(SAMPLE, ELEMENT, CLASS), 6, 9, rng);
            LossSpec focal = FOCAL.withGamma(0).withFocalAlpha(alpha);
            LossSpec bce = BCE.withBinaryClassWeights((float) (1 - alpha), (float) alpha);
            compare(focal, bce, k.problem(), b, tol, focal + " vs " + bce + " on hard targets");
        }
    }

    /**
     * alpha 1 gives the negatives (t = 0) an alpha factor of 0, alpha 0 the positives: those
     * elements are dropped, NaN or infinite logits included ({@link #assertDropped}).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aZeroAlphaFactorDropsTheElementEvenWithNonFiniteLogits(TestPath b) {
        TestBackends.require(b);
        float nan = Float.NaN;
        float[] t = {0, 0, 0, 1, 1, 1};
        Problem badNegatives = new Problem(2, 3, new float[] {nan, Float.POSITIVE_INFINITY, 0.5f, 0.25f, -2, 1}, null,
                t, null, null, null);
        Problem badPositives = new Problem(2, 3, new float[] {0.25f, -1, 0.5f, nan, Float.NEGATIVE_INFINITY, 1}, null,
                t, null, null, null);
        for (double gamma : new double[] {0, 2, 1.5}) {
            assertDropped(FOCAL.withFocalAlpha(1).withGamma(gamma), badNegatives, new int[] {0, 1, 2}, b,
                    "alpha 1, targets 0 at NaN, +inf, 0.5");
            assertDropped(FOCAL.withFocalAlpha(0).withGamma(gamma), badPositives, new int[] {3, 4, 5}, b,
                    "alpha 0, targets 1 at NaN, -inf, 1");
        }
    }

    /**
     * A target outside [0, 1] (or NaN) has no focal weight ((1 - p_t)^gamma of a negative base): on
     * every backend its term and gradient are NaN and counted in nonFinite, like a non-finite
     * prediction, and the other elements are what they are without it. (The native kernels used to
     * give NaN where the reference gave a finite value for gamma 3 or 2.)
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aTargetOutsideZeroToOneGivesANaNTermOnEveryBackend(TestPath b) {
        TestBackends.require(b);
        float[] x = {0.5f, -1, 2, 0.25f, 3, -2};
        for (float bad : new float[] {1.5f, -0.25f, 2, Float.NaN, Float.POSITIVE_INFINITY}) {
            float[] t = {0, 1, 0.25f, bad, 1, 0};
            Problem p = new Problem(2, 3, x, null, t, null, null, null);
            Problem ok = p.withTargets(new float[] {0, 1, 0.25f, 1, 1, 0});
            for (LossSpec spec : List.of(FOCAL, FOCAL.withGamma(3), FOCAL.withGamma(1.5).withFocalAlpha(-1),
                    FOCAL.withGamma(0).withFocalAlpha(0.25))) {
                String what = spec + " on " + b.name() + ": target " + bad + " at element 3";
                Checks.Run run = Checks.run(spec, p, Reduction.NONE, b);
                Checks.Run clean = Checks.run(spec, ok, Reduction.NONE, b);
                org.junit.jupiter.api.Assertions.assertEquals(1, run.result().nonFinite(),
                        () -> Checks.ctx(what + ": nonFinite"));
                org.junit.jupiter.api.Assertions.assertTrue(Float.isNaN(run.perTerm()[3]) && Float.isNaN(run.gradient()[3]),
                        () -> Checks.ctx(what + ": term " + run.perTerm()[3] + ", gradient " + run.gradient()[3]));
                for (int i : new int[] {0, 1, 2, 4, 5}) {
                    org.junit.jupiter.api.Assertions.assertEquals(clean.perTerm()[i], run.perTerm()[i],
                            () -> Checks.ctx(what + ": another term"));
                    org.junit.jupiter.api.Assertions.assertEquals(clean.gradient()[i], run.gradient()[i],
                            () -> Checks.ctx(what + ": another gradient element"));
                }
            }
        }
    }

    private static void compare(LossSpec a, LossSpec e, Problem p, Backend b, TestBackends.Tol tol, String what) {
        for (Reduction r : Reduction.values()) {
            String w = what + " " + r + " on " + b.name();
            Checks.Run x = Checks.run(a, p, r, b);
            Checks.Run y = Checks.run(e, p, r, b);
            Checks.sameRuns(y, x, tol.term(), w);
            org.junit.jupiter.api.Assertions.assertEquals(y.result().denominator(), x.result().denominator(),
                    () -> Checks.ctx(w + ": denominator"));
        }
    }

    /**
     * By hand, alpha 1/4, gamma 2: x = 0, t = 1: p_t = 1/2, loss 1/4 (1/2)^2 ln 2 = ln 2 / 16;
     * t = 0: 3/4 (1/4) ln 2 = 3 ln 2 / 16; x = ln 3, t = 1: p_t = 3/4, loss 1/4 (1/16) ln(4/3).
     * Gradient at x = 0, t = 1 (header formula, m = 1/2, s (1 - s) = 1/4, ce = ln 2):
     * 1/4 (m^2 (s - t) - 2 m s (1 - s) (2t - 1) ce) = 1/4 (-1/8 - ln 2 / 4).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void casesWorkedByHand(TestPath b) {
        TestBackends.require(b);
        Problem p = new Problem(1, 3, new float[] {0, 0, (float) Math.log(3)}, null, new float[] {1, 0, 1},
                null, null, null);
        Checks.Run run = Checks.run(FOCAL, p, Reduction.NONE, b);
        String what = FOCAL + " by hand on " + b.name();
        Checks.gradientClose(new double[] {Math.log(2) / 16, 3 * Math.log(2) / 16, Math.log(4.0 / 3) / 64},
                run.perTerm(), 1e-6, what + ": perTerm");
        Checks.close(0.25 * (-0.125 - Math.log(2) / 4), run.gradient()[0], 1e-6, 0, what + ": gradient at x = 0, t = 1");
        // t = 0 mirrors t = 1 with alpha 3/4: 3/4 (1/8 + ln 2 / 4)
        Checks.close(0.75 * (0.125 + Math.log(2) / 4), run.gradient()[1], 1e-6, 0, what + ": gradient at x = 0, t = 0");
    }

    /** Certain and right (LossContract#infiniteLogitsOfCertainTargets), alpha 0.25, gamma 2. */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void infiniteLogitsOfCertainTargets(TestPath b) {
        infiniteLogitsOfCertainTargets(FOCAL, b);
    }
}
