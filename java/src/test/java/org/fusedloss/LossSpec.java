package org.fusedloss;

import java.util.Arrays;
import org.fusedloss.internal.LossKind;

/**
 * Which loss a test runs and with which options: one description that both builds the library's
 * {@link Loss} and tells the {@link Oracle} what to compute. Most option values are exactly
 * representable in float, so that the float kernels (which round them once) and the double
 * reference compute the same function; the Java backend and the {@link Oracle} take the doubles as
 * given (CrossEntropyTest checks options that are no float).
 *
 * @param kind        the loss
 * @param classWeights class weights (cross-entropy) or per-class alpha (softmax focal), or null
 * @param posWeight   BCE pos_weight per output, or null
 * @param binaryClassWeights BCE {w0, w1}, or null
 * @param eps         label smoothing
 * @param zLoss       z-loss coefficient
 * @param softCap     logit soft cap (0: off)
 * @param gamma       focal gamma
 * @param focalAlpha  sigmoid focal alpha (negative: off)
 * @param ignoreIndex ignored label
 */
public record LossSpec(LossKind kind, float[] classWeights, float[] posWeight, float[] binaryClassWeights,
                double eps, double zLoss, double softCap, double gamma, double focalAlpha, int ignoreIndex) {

    /** The loss with the library's defaults (focal: gamma 2; sigmoid focal: alpha 0.25). */
    public static LossSpec of(LossKind kind) {
        double gamma = kind == LossKind.SOFTMAX_FOCAL || kind == LossKind.SIGMOID_FOCAL ? 2 : 0;
        double alpha = kind == LossKind.SIGMOID_FOCAL ? 0.25 : -1;
        return new LossSpec(kind, null, null, null, 0, 0, 0, gamma, alpha, -100);
    }

    public LossSpec withClassWeights(float[] w) {
        return new LossSpec(kind, w, posWeight, binaryClassWeights, eps, zLoss, softCap, gamma, focalAlpha, ignoreIndex);
    }

    public LossSpec withPosWeight(float[] pw) {
        return new LossSpec(kind, classWeights, pw, binaryClassWeights, eps, zLoss, softCap, gamma, focalAlpha, ignoreIndex);
    }

    public LossSpec withBinaryClassWeights(float w0, float w1) {
        return new LossSpec(kind, classWeights, posWeight, new float[] {w0, w1}, eps, zLoss, softCap, gamma, focalAlpha,
                ignoreIndex);
    }

    public LossSpec withSmoothing(double e) {
        return new LossSpec(kind, classWeights, posWeight, binaryClassWeights, e, zLoss, softCap, gamma, focalAlpha, ignoreIndex);
    }

    public LossSpec withZLoss(double z) {
        return new LossSpec(kind, classWeights, posWeight, binaryClassWeights, eps, z, softCap, gamma, focalAlpha, ignoreIndex);
    }

    public LossSpec withSoftCap(double cap) {
        return new LossSpec(kind, classWeights, posWeight, binaryClassWeights, eps, zLoss, cap, gamma, focalAlpha, ignoreIndex);
    }

    public LossSpec withGamma(double g) {
        return new LossSpec(kind, classWeights, posWeight, binaryClassWeights, eps, zLoss, softCap, g, focalAlpha, ignoreIndex);
    }

    public LossSpec withFocalAlpha(double a) {
        return new LossSpec(kind, classWeights, posWeight, binaryClassWeights, eps, zLoss, softCap, gamma, a, ignoreIndex);
    }

    public LossSpec withIgnoreIndex(int label) {
        return new LossSpec(kind, classWeights, posWeight, binaryClassWeights, eps, zLoss, softCap, gamma, focalAlpha, label);
    }

    public Loss build(Reduction reduction) {
        return build(reduction, 1.0, true);
    }

    /** The library's loss for this spec. */
    public Loss build(Reduction reduction, double gradientScale, boolean gradient) {
        return switch (kind) {
            case CROSS_ENTROPY, CROSS_ENTROPY_DENSE -> {
                CrossEntropy.Builder b = CrossEntropy.builder().reduction(reduction).gradientScale(gradientScale)
                        .computeGradient(gradient).ignoreIndex(ignoreIndex).labelSmoothing(eps).zLoss(zLoss).softCap(softCap);
                if (classWeights != null) {
                    b.classWeights(classWeights);
                }
                yield b.build();
            }
            case SOFTMAX_FOCAL -> {
                SoftmaxFocal.Builder b = SoftmaxFocal.builder().reduction(reduction).gradientScale(gradientScale)
                        .computeGradient(gradient).ignoreIndex(ignoreIndex).gamma(gamma);
                if (classWeights != null) {
                    b.alpha(classWeights);
                }
                yield b.build();
            }
            case BINARY_CROSS_ENTROPY -> {
                BinaryCrossEntropy.Builder b = BinaryCrossEntropy.builder().reduction(reduction)
                        .gradientScale(gradientScale).computeGradient(gradient);
                if (posWeight != null) {
                    b.posWeight(posWeight);
                }
                if (binaryClassWeights != null) {
                    b.binaryClassWeights(binaryClassWeights[0], binaryClassWeights[1]);
                }
                yield b.build();
            }
            case MEAN_SQUARED_ERROR -> MeanSquaredError.builder().reduction(reduction).gradientScale(gradientScale)
                    .computeGradient(gradient).build();
            case SIGMOID_FOCAL -> SigmoidFocal.builder().reduction(reduction).gradientScale(gradientScale)
                    .computeGradient(gradient).alpha(focalAlpha).gamma(gamma).build();
        };
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(kind.toString()).append('{');
        if (classWeights != null) {
            sb.append(kind == LossKind.SOFTMAX_FOCAL ? " alpha=" : " classWeights=").append(show(classWeights));
        }
        if (posWeight != null) {
            sb.append(" posWeight=").append(show(posWeight));
        }
        if (binaryClassWeights != null) {
            sb.append(" binaryClassWeights=").append(show(binaryClassWeights));
        }
        if (eps != 0) {
            sb.append(" eps=").append(eps);
        }
        if (zLoss != 0) {
            sb.append(" zLoss=").append(zLoss);
        }
        if (softCap != 0) {
            sb.append(" softCap=").append(softCap);
        }
        if (kind == LossKind.SOFTMAX_FOCAL || kind == LossKind.SIGMOID_FOCAL) {
            sb.append(" gamma=").append(gamma);
        }
        if (kind == LossKind.SIGMOID_FOCAL) {
            sb.append(" alpha=").append(focalAlpha);
        }
        if (kind.takesLabels() && ignoreIndex != -100) {
            sb.append(" ignoreIndex=").append(ignoreIndex);
        }
        return sb.append(" }").toString();
    }

    /** A vector for a message: all of it when short, else its length and first entries. */
    private static String show(float[] v) {
        if (v.length <= 8) {
            return Arrays.toString(v);
        }
        return Arrays.toString(Arrays.copyOf(v, 4)).replace("]", ", ... (" + v.length + " entries)]");
    }
}
