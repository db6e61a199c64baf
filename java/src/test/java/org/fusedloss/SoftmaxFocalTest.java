package org.fusedloss;

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
 * Softmax focal loss: the contract of {@link LossContract} for several gamma (0, 1/2, 1, 2, 3, 7/2, 4:
 * the integral ones up to 4 take the short-row path at C <= 16) and
 * every weight combination, gamma 0 against cross-entropy with class weights alpha, and closed forms.
 */
class SoftmaxFocalTest extends LossContract {
    private static final LossSpec FOCAL = LossSpec.of(LossKind.SOFTMAX_FOCAL);
    private static final LossSpec CE = LossSpec.of(LossKind.CROSS_ENTROPY);

    @Override
    LossKind kind() {
        return LossKind.SOFTMAX_FOCAL;
    }

    @Override
    List<LossSpec> optionSpecs() {
        return List.of(FOCAL, FOCAL.withGamma(0), FOCAL.withGamma(0.5), FOCAL.withGamma(1),
                FOCAL.withGamma(3), FOCAL.withGamma(4), FOCAL.withGamma(3.5).withIgnoreIndex(-1));
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

    /**
     * SEMANTICS.md: with gamma 0 the NONE and SUM results equal the cross-entropy with class
     * weights alpha; MEAN differs in its denominator only (focal divides by the sample weights,
     * CE by cw[y] * sw), so focal MEAN = CE SUM / sum of sample weights.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void gammaZeroEqualsCrossEntropyWithClassWeightsAlpha(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("gamma0");
        TestBackends.Tol tol = TestBackends.tol(b);
        for (int[] shape : new int[][] {{1, 1}, {7, 2}, {13, 5}, {4, 129}}) {
            Case k = random(FOCAL.withGamma(0), combo(SAMPLE, CLASS, MASK, IGNORE), shape[0], shape[1], rng);
            Problem p = k.problem();
            LossSpec ce = CE.withClassWeights(k.spec().classWeights());
            String what = k + " on " + b.name() + ": gamma 0 vs CE with class weights alpha";
            for (Reduction r : List.of(Reduction.NONE, Reduction.SUM)) {
                Checks.Run f = Checks.run(k.spec(), p, r, b);
                Checks.Run c = Checks.run(ce, p, r, b);
                Checks.sameRuns(c, f, tol.term(), what + " " + r);
            }
            Checks.Run sum = Checks.run(ce, p, Reduction.SUM, b);
            Checks.Run mean = Checks.run(k.spec(), p, Reduction.MEAN, b);
            double sw = 0;
            for (int i = 0; i < p.n; i++) {
                if (p.labels[i] != k.spec().ignoreIndex() && !Float.isNaN(p.sw[i])) {
                    sw += p.sw[i];
                }
            }
            Checks.close(sw, mean.result().denominator(), 1e-12, 1e-300, what + ": MEAN denominator is the sample weight sum");
            Checks.close(sw == 0 ? 0 : sum.result().loss() / sw, mean.result().loss(), tol.term(), 1e-12,
                    what + ": MEAN = CE SUM / sum sw");
        }
    }

    /**
     * By hand: logits (0, ln 3), label 1, so p = 3/4, m = 1 - p = 1/4, gamma 2, alpha (1/2, 2):
     * loss = 2 (1/4)^2 ln(4/3) = ln(4/3) / 8. Gradient: with f(p) = m^gamma (-ln p),
     * d/dz_c = f'(p) p ([c == y] - p_c) = alpha (m^2 - 2 m p ln p)(p_c - [c == y]),
     * F = 2 (1/16 - (3/8) ln(3/4)), gradient F (1/4, -1/4).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aCaseWorkedByHand(TestPath b) {
        TestBackends.require(b);
        Problem p = new Problem(1, 2, new float[] {0, (float) Math.log(3)}, new int[] {1}, null, null, null, null);
        LossSpec spec = FOCAL.withClassWeights(new float[] {0.5f, 2f});
        Checks.Run run = Checks.run(spec, p, Reduction.MEAN, b);
        String what = spec + " on " + b.name() + ": logits (0, ln 3), label 1";
        Checks.close(Math.log(4.0 / 3) / 8, run.result().loss(), 1e-6, 0, what + ": loss");
        double f = 2 * (1.0 / 16 - 0.375 * Math.log(0.75));
        Checks.gradientClose(new double[] {f / 4, -f / 4}, run.gradient(), 1e-6, what + ": gradient");
    }

    /** alpha[y] = 0 drops the row, NaN or +inf logits included ({@link #assertDropped}). */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aZeroAlphaDropsTheRowEvenWithNonFiniteLogits(TestPath b) {
        TestBackends.require(b);
        float[] x = {Float.NaN, 1, 2, Float.POSITIVE_INFINITY, 0, 1, 0.5f, -1, 2, 1, 2, 3};
        Problem p = new Problem(4, 3, x, new int[] {0, 0, 0, 1}, null, null, null, null);
        for (double gamma : new double[] {0, 0.5, 2}) {
            assertDropped(FOCAL.withGamma(gamma).withClassWeights(new float[] {0, 1, 2}), p, new int[] {0, 1, 2}, b,
                    "alpha 0 for rows 0 (NaN), 1 (+inf), 2 (finite)");
        }
    }

    /** Equal logits: p_y = 1/C, each term (1 - 1/C)^gamma log C, also at C = 262 144. */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void equalLogitsGiveTheClosedForm(TestPath b) {
        TestBackends.require(b);
        SplittableRandom rng = rng("equal");
        for (int c : new int[] {1, 2, 5, 1000, 262_144}) {
            for (double gamma : new double[] {0, 0.5, 2}) {
                Case k = random(FOCAL.withGamma(gamma), combo(), 2, c, rng);
                Problem p = k.problem().withX(TestData.filled(2 * c, -1.25f));
                double term = (gamma == 0 ? 1 : Math.pow(1 - 1.0 / c, gamma)) * Math.log(c);
                String what = k + " on " + b.name() + ": equal logits";
                Checks.Run run = Checks.run(k.spec(), p, Reduction.NONE, b);
                Checks.termsClose(new double[] {term, term}, new double[] {1, 1}, run.perTerm(), TestBackends.tol(b),
                        what + ": perTerm");
                Checks.close(term, Checks.run(k.spec(), p, Reduction.MEAN, b).result().loss(),
                        TestBackends.tol(b).loss(), 1e-12, what + ": MEAN");
            }
        }
    }

    /**
     * A NaN logit makes the row NaN and counted even where a GPU thread holds it alone (C = 5:
     * the CUDA _small shape's fourth lane holds x[3] only; issue 17, item 1).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aNaNLogitMakesItsRowNaN(TestPath b) {
        TestBackends.require(b);
        float[] x = {0, 0, 0, Float.NaN, 0, 0, 1, 2, 0.5f, 0};
        Problem p = new Problem(2, 5, x, new int[] {0, 2}, null, null, null, null);
        String what = "softmax focal on " + b.name() + ": x = (0, 0, 0, NaN, 0)";
        Checks.Run run = Checks.run(FOCAL, p, Reduction.NONE, b);
        assertEquals(1, run.result().nonFinite(), () -> Checks.ctx(what + ": nonFinite"));
        assertTrue(Float.isNaN(run.perTerm()[0]), () -> Checks.ctx(what + ": perTerm[0] = " + run.perTerm()[0]));
        assertTrue(Float.isFinite(run.perTerm()[1]), () -> Checks.ctx(what + ": perTerm[1]"));
    }

    /**
     * Confident rows keep the relative accuracy of their tiny terms m^2 (-log p) and of the label's
     * gradient -F m, F = m^2 + 2 m p (-log p), m = 1 - p (issue 17, item 4: on the GPU ~3x worse
     * than cross-entropy's before). 1e-5 relative, no absolute floor.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void confidentRowsKeepTheirRelativeAccuracy(TestPath b) {
        TestBackends.require(b);
        for (int c : new int[] {2, 3, 1000, 20000}) {
            for (float margin : new float[] {10, 12}) {
                float[] x = new float[c];
                for (int j = 0; j < c; j++) {
                    x[j] = (float) Math.cos(j) * 0.5f;
                }
                int y = c - 1;
                x[y] = margin;
                double others = 0;
                for (int j = 0; j < c; j++) {
                    others += j == y ? 0 : Math.exp((double) x[j] - x[y]);
                }
                double nll = Math.log1p(others);
                double m = others / (1 + others);
                double f = m * m + 2 * m * (1 - m) * nll;
                Problem p = new Problem(1, c, x, new int[] {y}, null, null, null, null);
                String what = "softmax focal gamma 2 on " + b.name() + ": C = " + c + ", margin " + margin;
                Checks.Run run = Checks.run(FOCAL, p, Reduction.NONE, b);
                Checks.close(m * m * nll, run.perTerm()[0], 1e-5, 0, what + ": term");
                Checks.close(-f * m, run.gradient()[y], 1e-5, 0, what + ": gradient at the label");
            }
        }
    }

    /**
     * A label on a -inf logit: with alpha 0 there the term is 0, not 0 * inf (issue 17, item 5);
     * with alpha 1 it is +inf (counted), the label's gradient 0 (SEMANTICS.md: a -inf logit gets 0),
     * and the others' F p_c with F = alpha = 1 (m = 1, p = 0).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aLabelOnANegativeInfiniteLogit(TestPath b) {
        TestBackends.require(b);
        Problem p = new Problem(1, 3, new float[] {1, Float.NEGATIVE_INFINITY, 2}, new int[] {1}, null, null, null,
                null);
        Checks.Run zero = Checks.run(FOCAL.withClassWeights(new float[] {1, 0, 1}), p, Reduction.NONE, b);
        String what = "softmax focal on " + b.name() + ": label on a -inf logit";
        assertEquals(0, zero.result().nonFinite(), () -> Checks.ctx(what + ", alpha 0: nonFinite"));
        assertEquals(0f, zero.perTerm()[0], () -> Checks.ctx(what + ", alpha 0: perTerm"));
        Checks.gradientClose(new double[3], zero.gradient(), 0, what + ", alpha 0: gradient");
        Checks.Run one = Checks.run(FOCAL, p, Reduction.NONE, b);
        assertEquals(1, one.result().nonFinite(), () -> Checks.ctx(what + ": nonFinite"));
        assertEquals(Float.POSITIVE_INFINITY, one.perTerm()[0], () -> Checks.ctx(what + ": perTerm"));
        double s = Math.exp(1) + Math.exp(2);
        Checks.gradientClose(new double[] {Math.exp(1) / s, 0, Math.exp(2) / s}, one.gradient(), 1e-5,
                what + ": gradient");
        assertEquals(0f, one.gradient()[1], () -> Checks.ctx(what + ": gradient at the label"));
    }
}
