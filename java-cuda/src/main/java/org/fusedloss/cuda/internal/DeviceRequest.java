package org.fusedloss.cuda.internal;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.fusedloss.internal.LossKind;
import org.fusedloss.Reduction;

/**
 * A request on data in device memory: the device counterpart of {@link org.fusedloss.internal.LossRequest}.
 * {@link org.fusedloss.cuda.DeviceBatch#compute(org.fusedloss.Loss)} builds it after the checks that need
 * no device memory (shapes, which inputs are present); the kernel checks the labels and weights in
 * its own pass. Absent inputs are null. Unlike a {@code LossRequest}, the reduction happens on the
 * device: {@code gradientScale} is the loss's own factor, and the denominator is computed there
 * unless the caller gave one.
 *
 * @param kind               which loss
 * @param rows               rows n
 * @param cols               classes or outputs per row
 * @param predictions        n x cols logits (or predictions for MSE)
 * @param labels             n int32 class indices, or null
 * @param targets            n x cols dense targets, or null
 * @param sampleWeights      sample weights read at {@code i * sampleWeightStride}, or null
 * @param sampleWeightStride stride of the sample weights in elements (at least 1)
 * @param elementWeights     n x cols element weights, or null
 * @param upstream           upstream gradient per term ({@link Reduction#NONE} only), or null
 * @param gradient           n x cols gradient output (may equal predictions), or null for none
 * @param perTerm            per-term weighted losses ({@link Reduction#NONE} only), or null
 * @param classWeights       per-class weights (cross-entropy), host copy, or null
 * @param alpha              per-class alpha (softmax focal), host copy, or null
 * @param posWeight          per-output pos_weight (BCE), host copy, or null
 * @param binaryClassWeights {w0, w1} (BCE), host copy, or null
 * @param ignoreIndex        label of rows to ignore
 * @param labelSmoothing     label smoothing eps
 * @param zLoss              z-loss coefficient (0: off)
 * @param softCap            logit soft-cap (0: off)
 * @param focalAlpha         sigmoid focal alpha (negative: off)
 * @param gamma              focal gamma
 * @param reduction          the reduction, done on the device
 * @param gradientScale      the loss's gradient scale (the device divides by the denominator)
 * @param denominator        the caller's denominator for MEAN / BATCH_MEAN, or negative to compute it
 * @param stream             the stream to launch on, or null for the default stream
 */
public record DeviceRequest(LossKind kind, int rows, int cols,
                            CUdeviceptr predictions, CUdeviceptr labels, CUdeviceptr targets,
                            CUdeviceptr sampleWeights, long sampleWeightStride, CUdeviceptr elementWeights,
                            CUdeviceptr upstream, CUdeviceptr gradient, CUdeviceptr perTerm,
                            float[] classWeights, float[] alpha, float[] posWeight, float[] binaryClassWeights,
                            int ignoreIndex, float labelSmoothing, float zLoss, float softCap,
                            float focalAlpha, float gamma,
                            Reduction reduction, double gradientScale, double denominator, CUstream stream) {
}
