package org.fusedloss;

import static org.fusedloss.TestData.W.ELEMENT;
import static org.fusedloss.TestData.W.MASK;
import static org.fusedloss.TestData.W.SAMPLE;
import static org.fusedloss.TestData.combo;

import java.util.List;
import java.util.Set;
import org.fusedloss.TestData.W;
import org.fusedloss.internal.LossKind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Squared error: the contract of {@link LossContract} with sample and element weights, and a case by hand. */
class MeanSquaredErrorTest extends LossContract {
    private static final LossSpec MSE = LossSpec.of(LossKind.MEAN_SQUARED_ERROR);

    @Override
    LossKind kind() {
        return LossKind.MEAN_SQUARED_ERROR;
    }

    @Override
    List<LossSpec> optionSpecs() {
        return List.of(MSE);
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

    @Override
    boolean takesExtremeLogits() {
        return false;
    }

    /**
     * The cases of issue 11, where the gradient scale 1 / denominator leaves float range: weights
     * {1e-40, 1e-40} (sample or element weights) with MEAN give the gradient 2 (x - t) / 2 =
     * (1, 2), not (inf, inf); predictions equal to the targets with a caller denominator of 1e-300
     * give a zero gradient, not NaN (1e300 * 0).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aGradientScaleBeyondFloatRangeStaysInDouble(TestPath b) {
        TestBackends.require(b);
        float[] x = {1, 2};
        float[] t = {0, 0};
        float[] tiny = {1e-40f, 1e-40f};
        for (boolean element : new boolean[] {false, true}) {
            Problem p = element ? new Problem(1, 2, x, null, t, null, tiny, null)
                    : new Problem(2, 1, x, null, t, tiny, null, null);
            String what = "MSE MEAN, " + (element ? "element" : "sample") + " weights 1e-40, on " + b.name();
            Checks.Run run = Checks.run(MSE, p, Reduction.MEAN, b);
            Checks.gradientClose(new double[] {1, 2}, run.gradient(), 1e-6, what + ": gradient");
            Checks.close(2.5, run.result().loss(), 1e-5, 0, what + ": loss");
        }
        Problem same = new Problem(1, 2, x, null, x, null, null, null);
        Checks.Run run = Checks.run(MSE, same, Reduction.MEAN, b, 1.0, 1e-300);
        Checks.allZero(run.gradient(), "MSE x == t, denominator 1e-300, on " + b.name() + ": gradient");
        org.junit.jupiter.api.Assertions.assertEquals(0.0, run.result().loss(),
                () -> Checks.ctx("MSE x == t, denominator 1e-300, on " + b.name() + ": loss"));
    }

    /**
     * Terms are float32: a squared error beyond float range (predictions of +-1e30 against targets
     * of -+1e30: 4e60) is +inf on every backend, counted in nonFinite, and a zero weight times it is
     * NaN, as for any infinite term (the reference used to keep 4e60 in double, and 0 * 4e60 = 0).
     * The gradient 2 w (x - t) = +-4e30 fits a float and is finite everywhere.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aTermBeyondFloatRangeIsInfinite(TestPath b) {
        TestBackends.require(b);
        float[] x = {1e30f, -1e30f, 1};
        float[] t = {-1e30f, 1e30f, 0};
        for (float w : new float[] {1, 0}) {
            Problem p = new Problem(1, 3, x, null, t, new float[] {w}, null, null);
            String what = "MSE of +-1e30, sample weight " + w + ", on " + b.name();
            Checks.Run run = Checks.run(MSE, p, Reduction.NONE, b);
            float expected = w == 0 ? Float.NaN : Float.POSITIVE_INFINITY;
            org.junit.jupiter.api.Assertions.assertEquals(2, run.result().nonFinite(), () -> Checks.ctx(what + ": nonFinite"));
            org.junit.jupiter.api.Assertions.assertEquals(expected, run.perTerm()[0], () -> Checks.ctx(what + ": perTerm[0]"));
            org.junit.jupiter.api.Assertions.assertEquals(expected, run.perTerm()[1], () -> Checks.ctx(what + ": perTerm[1]"));
            org.junit.jupiter.api.Assertions.assertEquals((double) expected, run.result().loss(),
                    () -> Checks.ctx(what + ": loss"));
            Checks.gradientClose(new double[] {4e30 * w, -4e30 * w, 2 * w}, run.gradient(), 1e-7, what + ": gradient");
        }
    }

    /**
     * Terms within float range whose sum is not: 40 squared errors of 1.5e19^2 = 2.25e38 (each
     * below the float maximum 3.4e38) add up to 9e39, which the sums in double hold on every
     * backend, with nothing counted as non-finite. (The native kernels once added up to 8 terms per
     * lane in float before going to double, and gave +inf: found by FuzzTest.)
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void termsNearTheFloatMaximumAddUpInDouble(Backend b) {
        TestBackends.require(b);
        int k = 40;
        float[] x = new float[k];
        float[] t = new float[k];
        java.util.Arrays.fill(x, 1.5e19f);
        double term = (double) (1.5e19f * 1.5e19f);
        Problem p = new Problem(1, k, x, null, t, null, null, null);
        for (Reduction reduction : new Reduction[] {Reduction.SUM, Reduction.NONE}) {
            String what = "MSE of 40 terms of 2.25e38, " + reduction + ", on " + b.name();
            Checks.Run run = Checks.run(MSE, p, reduction, b);
            Checks.close(k * term, run.result().loss(), 1e-6, 0, what + ": loss");
            org.junit.jupiter.api.Assertions.assertEquals(0, run.result().nonFinite(), () -> Checks.ctx(what + ": nonFinite"));
        }
    }

    /**
     * By hand: predictions ((1, 2), (3, 4)), targets ((0, 2), (5, 4.5)), squared errors
     * ((1, 0), (4, 1/4)), sample weights (2, 1/2): SUM = 2 + 2.125 = 4.125, MEAN = 4.125 / 5,
     * BATCH_MEAN = 4.125 / 4, MEAN gradient w 2 (x - t) / 5 = ((0.8, 0), (-0.4, -0.1)).
     * Element weights ((1, 3), (0, NaN)): SUM = 1 (element (1, 1) masked), MEAN = 1 / (1 + 3 + 0).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(PATHS)
    void aCaseWorkedByHand(TestPath b) {
        TestBackends.require(b);
        float[] x = {1, 2, 3, 4};
        float[] t = {0, 2, 5, 4.5f};
        Problem p = new Problem(2, 2, x, null, t, new float[] {2, 0.5f}, null, null);
        for (Reduction r : Reduction.values()) {
            String what = "MSE by hand, " + r + " on " + b.name();
            Checks.Run run = Checks.run(MSE, p, r, b);
            double expected = switch (r) {
                case NONE, SUM -> 4.125;
                case MEAN -> 4.125 / 5;
                case BATCH_MEAN -> 4.125 / 4;
            };
            Checks.close(expected, run.result().loss(), 1e-12, 0, what + ": loss");
            if (r == Reduction.NONE) {
                Checks.gradientClose(new double[] {2, 0, 2, 0.125}, run.perTerm(), 1e-7, what + ": perTerm");
            }
            if (r == Reduction.MEAN) {
                Checks.gradientClose(new double[] {0.8, 0, -0.4, -0.1}, run.gradient(), 1e-7, what + ": gradient");
            }
        }
        Problem e = new Problem(2, 2, x, null, t, null, new float[] {1, 3, 0, Float.NaN}, null);
        Checks.Run sum = Checks.run(MSE, e, Reduction.SUM, b);
        Checks.close(1, sum.result().loss(), 1e-12, 0, "MSE by hand, element weights, SUM on " + b.name());
        Checks.Run mean = Checks.run(MSE, e, Reduction.MEAN, b);
        Checks.close(0.25, mean.result().loss(), 1e-12, 0, "MSE by hand, element weights, MEAN on " + b.name());
        Checks.gradientClose(new double[] {0.5, 0, 0, 0}, mean.gradient(), 1e-7,
                "MSE by hand, element weights, MEAN gradient on " + b.name());
        org.junit.jupiter.api.Assertions.assertEquals(1, mean.result().masked(),
                () -> Checks.ctx("MSE by hand, element weights: masked"));
    }
}
