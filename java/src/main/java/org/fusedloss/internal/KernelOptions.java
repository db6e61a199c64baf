package org.fusedloss.internal;

/** The configuration of a loss as the kernels see it; fixed when the loss is built. */
public record KernelOptions(float[] classWeights, float[] alpha, float[] posWeight, float[] binaryClassWeights,
                     int ignoreIndex, float labelSmoothing, float zLoss, float softCap,
                     float focalAlpha, float gamma) {

    /** PyTorch's default ignore index. */
    public static final int DEFAULT_IGNORE_INDEX = -100;

    /** No option set. */
    public static KernelOptions none() {
        return new KernelOptions(null, null, null, null, DEFAULT_IGNORE_INDEX, 0f, 0f, 0f, -1f, 0f);
    }
}
