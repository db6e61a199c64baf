package org.fusedloss;

import static org.fusedloss.TestData.W.ELEMENT;
import static org.fusedloss.TestData.W.MASK;
import static org.fusedloss.TestData.W.SAMPLE;
import static org.fusedloss.TestData.combo;

import java.util.List;
import java.util.Set;
import org.fusedloss.TestData.W;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Squared error: the contract of {@link LossContract} with sample and element weights, and a case by hand. */
class MeanSquaredErrorTest extends LossContract {
    private static final LossSpec MSE = LossSpec.of(LossSpec.Kind.MEAN_SQUARED_ERROR);

    @Override
    LossSpec.Kind kind() {
        return LossSpec.Kind.MEAN_SQUARED_ERROR;
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
     * By hand: predictions ((1, 2), (3, 4)), targets ((0, 2), (5, 4.5)), squared errors
     * ((1, 0), (4, 1/4)), sample weights (2, 1/2): SUM = 2 + 2.125 = 4.125, MEAN = 4.125 / 5,
     * BATCH_MEAN = 4.125 / 4, MEAN gradient w 2 (x - t) / 5 = ((0.8, 0), (-0.4, -0.1)).
     * Element weights ((1, 3), (0, NaN)): SUM = 1 (element (1, 1) masked), MEAN = 1 / (1 + 3 + 0).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource(BACKENDS)
    void aCaseWorkedByHand(Backend b) {
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
