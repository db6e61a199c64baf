package org.fusedloss;

import static org.fusedloss.TestData.W.CLASS;
import static org.fusedloss.TestData.W.ELEMENT;
import static org.fusedloss.TestData.W.MASK;
import static org.fusedloss.TestData.W.POS;
import static org.fusedloss.TestData.W.SAMPLE;
import static org.fusedloss.TestData.combo;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
 * Binary cross-entropy with logits: the contract of {@link LossContract} with sample, element,
 * pos_weight and binary class weights, hand-worked values, and binary class weights against the
 * element weights they stand for.
 */
class BinaryCrossEntropyTest extends LossContract {
    private static final LossSpec BCE = LossSpec.of(LossKind.BINARY_CROSS_ENTROPY);

    @Override
    LossKind kind() {
        return LossKind.BINARY_CROSS_ENTROPY;
    }

    @Override
    List<LossSpec> optionSpecs() {
        return List.of(BCE);
    }

    @Override
    List<Set<W>> weightCombos() {
        return List.of(combo(), combo(SAMPLE), combo(ELEMENT), combo(POS), combo(CLASS),
                combo(SAMPLE, ELEMENT, POS, CLASS), combo(SAMPLE, ELEMENT, POS, MASK));
    }

    @Override
    Set<W> weightedCombo() {
        return combo(SAMPLE, ELEMENT, POS, CLASS);
    }

    @Override
    LossSpec withUnitClassWeights(LossSpec spec, int c) {
        return spec.withPosWeight(TestData.filled(c, 1f)).withBinaryClassWeights(1, 1);
    }

    @Override
    Case unitWeightCase(LossSpec spec, int n, int c, SplittableRandom rng) {
        // hard targets, so that binary class weights {1, 1} are allowed; the spec stays unweighted
        Case k = random(spec, combo(CLASS), n, c, rng);
        return new Case(spec, k.problem(), combo());
    }

    /**
     * By hand, sigmoid(ln 3) = 3/4: x = 0 gives ln 2 for any target; x = ln 3 gives ln(4/3) for
     * t = 1, ln 4 for t = 0, 1/4 ln(4/3) + 3/4 ln 4 for t = 1/4; pos_weight 2 doubles the
     * positive part. Gradient (1 - t) s - pw t (1 - s): 1/2 - t at x = 0, 3/4 - 1/4 (t = 1/4, pw 1).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void casesWorkedByHand(TestPath b) {
        TestBackends.require(b);
        float l3 = (float) Math.log(3);
        float[] x = {0, 0, l3, l3, l3, l3};
        float[] t = {1, 0.25f, 1, 0, 0.25f, 1};
        Problem p = new Problem(3, 2, x, null, t, null, null, null);
        double[] expected = {2 * Math.log(2), Math.log(2), 2 * Math.log(4.0 / 3), Math.log(4),
            0.5 * Math.log(4.0 / 3) + 0.75 * Math.log(4), Math.log(4.0 / 3)};
        LossSpec spec = BCE.withPosWeight(new float[] {2, 1});
        Checks.Run run = Checks.run(spec, p, Reduction.NONE, b);
        String what = spec + " by hand on " + b.name();
        Checks.gradientClose(expected, run.perTerm(), 1e-6, what + ": perTerm");
        // column 0 has pw 2, column 1 pw 1: (1 - t) s - pw t (1 - s)
        double[] g = {-1, 0.75 * 0.5 - 0.25 * 0.5, -0.5, 0.75, 0.75 * 0.75 - 2 * 0.25 * 0.25, -0.25};
        Checks.gradientClose(g, run.gradient(), 1e-6, what + ": gradient");
    }

    /**
     * Binary class weights {w0, w1} are the element weights w_t picked by the hard target: the
     * same terms and gradient (NONE, SUM); but they live inside the term, so MEAN divides by the
     * number of terms (the sample x element weight sum), not by the sum of w_t.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void binaryClassWeightsAreElementWeightsPickedByTheTarget(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("bcw");
        TestBackends.Tol tol = TestBackends.tol(b);
        for (int[] shape : new int[][] {{1, 1}, {6, 5}, {3, 67}}) {
            Case k = random(BCE, combo(CLASS, POS), shape[0], shape[1], rng);
            Problem p = k.problem();
            float[] bcw = k.spec().binaryClassWeights();
            float[] ew = new float[p.targets.length];
            for (int i = 0; i < ew.length; i++) {
                ew[i] = bcw[(int) p.targets[i]];
            }
            LossSpec picked = BCE.withPosWeight(k.spec().posWeight());
            Problem weighted = p.withElementWeights(ew);
            String what = k + " on " + b.name() + ": binary class weights vs element weights";
            for (Reduction r : List.of(Reduction.NONE, Reduction.SUM)) {
                Checks.Run a = Checks.run(k.spec(), p, r, b);
                Checks.Run e = Checks.run(picked, weighted, r, b);
                Checks.sameRuns(e, a, tol.term(), what + " " + r);
            }
            Checks.Run sum = Checks.run(k.spec(), p, Reduction.SUM, b);
            Checks.Run mean = Checks.run(k.spec(), p, Reduction.MEAN, b);
            Checks.close(p.n * p.c, mean.result().denominator(), 0, 0, what + ": MEAN denominator");
            Checks.close(sum.result().loss() / (p.n * p.c), mean.result().loss(), 1e-12, 0, what + ": MEAN");
        }
    }

    /**
     * A binary class weight of 0 drops the elements of its target, and a pos_weight of 0 the
     * positive part, NaN or infinite logits included ({@link #assertDropped}).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aZeroClassWeightOrPosWeightDropsItsPartEvenWithNonFiniteLogits(TestPath b) {
        TestBackends.require(b);
        float nan = Float.NaN;
        float inf = Float.POSITIVE_INFINITY;
        float[] x = {nan, inf, -inf, 0.5f, -1, 2};
        float[] t = {0, 0, 0, 0, 1, 1};
        Problem p = new Problem(2, 3, x, null, t, null, null, null);
        assertDropped(BCE.withBinaryClassWeights(0, 2), p, new int[] {0, 1, 2, 3}, b,
                "binary class weights {0, 2}, targets 0 at NaN, +inf, -inf, 0.5");
        float[] positive = {1, 1, 1, 1, 1, 1};
        float[] xs = {nan, -inf, 1, nan, -inf, 1};
        Problem q = new Problem(2, 3, xs, null, positive, null, null, null);
        assertDropped(BCE.withPosWeight(new float[] {0, 0, 0}), q, new int[] {0, 1, 2, 3, 4, 5}, b,
                "pos_weight 0, targets 1 at NaN, -inf, 1");
    }

    /** pos_weight scales the positive part only: with every target 0 it changes nothing. */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void posWeightLeavesNegativeTargetsAlone(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("pw0");
        Case k = random(BCE, combo(SAMPLE, POS), 5, 7, rng);
        Problem p = k.problem().withTargets(new float[35]);
        Checks.Run with = Checks.run(k.spec(), p, Reduction.MEAN, b);
        Checks.Run without = Checks.run(BCE, p, Reduction.MEAN, b);
        String what = k + " on " + b.name() + ": all targets 0, pos_weight vs none";
        Checks.same(without.result().loss(), with.result().loss(), TestBackends.tol(b).same(), what + ": loss");
        Checks.same(without.gradient(), with.gradient(), TestBackends.tol(b).same(), what + ": gradient");
    }

    /**
     * BCE takes any float target, so a term can be negative, down to -inf from finite inputs
     * ((1 - t) softplus(x) with t = x = 1e30): counted as non-finite whatever the row width (one
     * row to a lane, rows across vectors, rows one by one), as any other non-finite term.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aTermOfMinusInfinityIsCounted(TestPath b) {
        TestBackends.require(b);
        for (int c : new int[] {1, 20, 300}) {
            int n = 4;
            float[] x = new float[n * c];
            float[] t = new float[n * c];
            Arrays.fill(x, 0.5f);
            Arrays.fill(t, 1f);
            int at = c + c / 2;  // row 1
            x[at] = 1e30f;
            t[at] = 1e30f;
            Problem p = new Problem(n, c, x, null, t, null, null, null);
            Checks.Run run = Checks.run(BCE, p, Reduction.SUM, b);
            String what = "BCE " + n + " x " + c + ", t = x = 1e30 at one element, on " + b.name();
            assertEquals(1, run.result().nonFinite(), () -> what + ": nonFinite");
            assertEquals(Double.NEGATIVE_INFINITY, run.result().loss(), () -> what + ": loss");
        }
    }

    /** Certain and right (LossContract#infiniteLogitsOfCertainTargets), pos_weight (2, 0.5, 1, 3). */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void infiniteLogitsOfCertainTargets(TestPath b) {
        infiniteLogitsOfCertainTargets(BCE.withPosWeight(new float[] {2, 0.5f, 1, 3}), b);
    }
}
