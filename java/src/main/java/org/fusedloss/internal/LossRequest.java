package org.fusedloss.internal;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.fusedloss.Reduction;

/**
 * A validated request that a {@link KernelBackend} computes: every buffer is a view whose index 0 is
 * the first element, already checked for length; absent inputs are null. The loss objects build
 * it after validation and after computing the denominator, so {@code gradScale} is final:
 * {@code gradient = gradScale * upstream[term] * weight * d(term)/d(prediction)}.
 *
 * @param kind               which loss
 * @param rows               rows n
 * @param cols               classes or outputs per row
 * @param predictions        n x cols logits (or predictions for MSE)
 * @param labels             n class indices, or null
 * @param targets            n x cols dense targets, or null
 * @param sampleWeights      sample weights read at {@code i * sampleWeightStride}, or null
 * @param sampleWeightStride stride of the sample weights (at least 1)
 * @param elementWeights     n x cols element weights, or null
 * @param upstream           upstream gradient per term ({@link Reduction#NONE} only), or null
 * @param gradient           n x cols gradient output, or null for no gradient
 * @param perTerm            per-term weighted losses output ({@link Reduction#NONE} only), or null
 * @param classWeights       per-class weights (cross-entropy), or null
 * @param alpha              per-class alpha (softmax focal), or null
 * @param posWeight          per-output pos_weight (BCE), or null
 * @param binaryClassWeights {w0, w1} picked by the hard target (BCE), or null
 * @param ignoreIndex        label of rows to ignore
 * @param labelSmoothing     label smoothing eps in [0, 1]
 * @param zLoss              z-loss coefficient (0: off)
 * @param softCap            logit soft-cap (0: off)
 * @param focalAlpha         sigmoid focal alpha (negative: no alpha factor)
 * @param gamma              focal gamma
 * @param gradScale          the caller's gradient scale divided by the denominator
 */
public record LossRequest(LossKind kind, int rows, int cols,
                          FloatBuffer predictions, IntBuffer labels, FloatBuffer targets,
                          FloatBuffer sampleWeights, int sampleWeightStride, FloatBuffer elementWeights,
                          FloatBuffer upstream, FloatBuffer gradient, FloatBuffer perTerm,
                          float[] classWeights, float[] alpha, float[] posWeight, float[] binaryClassWeights,
                          int ignoreIndex, float labelSmoothing, float zLoss, float softCap,
                          float focalAlpha, float gamma, double gradScale) {

    /** Number of terms: rows for the softmax losses, elements otherwise. */
    public long terms() {
        return kind.perRow() ? rows : (long) rows * cols;
    }
}
