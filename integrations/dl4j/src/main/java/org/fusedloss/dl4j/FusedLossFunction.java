package org.fusedloss.dl4j;

import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.Objects;
import org.fusedloss.Backend;
import org.fusedloss.Backends;
import org.fusedloss.Batch;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;
import org.fusedloss.Reduction;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * A fusedloss loss as a DL4J {@link ILossFunction}: the score and the gradient with respect to the
 * pre-activation output ({@code preOutput}) in one fused pass, for the activation the loss fuses
 * (softmax, sigmoid or identity; any other is rejected with an {@link IllegalArgumentException}).
 *
 * <p><b>What DL4J's rules make of it.</b> The score is the sum over the examples of each example's
 * weighted loss (for {@link FusedMeanSquaredError}, the mean over its outputs, as {@code LossMSE});
 * {@code average = true} divides it by the number of examples N, the rows of {@code preOutput} with
 * masked ones included, exactly as DL4J's own losses do. The gradient is that of the sum, never
 * averaged: DL4J's output layer calls {@code computeScore(..., false)} and divides by the mini-batch
 * size itself, and its updater divides the gradient by it. The wrapped loss's reduction is
 * therefore DL4J's, not its own; a loss built with another reduction, a gradient scale or the
 * gradient turned off is rejected.
 *
 * <p><b>Masks are weights.</b> A per-example mask {@code [N,1]} is the examples' sample weight: it
 * multiplies each example's loss and gradient, so a 0 excludes the example (as in DL4J); it still
 * counts in N when averaging. A per-output mask {@code [N,K]} weighs each output of the element-wise
 * losses (binary cross-entropy, sigmoid focal, MSE); the softmax losses reject it, as DL4J's
 * {@code LossMCXENT} does. Mask values must be finite and not negative; NaN marks a missing weight
 * and excludes its term too. With 0/1 masks every number equals DL4J's; with fractional per-output
 * masks DL4J's own BCE and MSE scale the gradient by the mask squared, these by the mask, consistent
 * with the score.
 *
 * <p><b>Memory.</b> A float32 array in C order with contiguous rows ({@code preOutput}, dense labels,
 * masks) reaches the kernels as a direct buffer over ND4J's own memory: no copy. A strided view, an
 * F-order or a double array is first copied once into a float32 C-order array; the gradient then
 * comes back in {@code preOutput}'s data type. The gradient is a new array, allocated where DL4J's
 * own losses allocate theirs (the current workspace, if any); {@code preOutput} is never written.
 * Labels given as class indices are read into an {@code int[]} (N values).
 *
 * <p>Immutable and thread-safe. The settings (never the backend, which is the running JVM's choice,
 * {@code -Dfusedloss.backend}) are saved with DL4J's JSON and YAML configurations and by Java
 * serialization.
 */
public abstract sealed class FusedLossFunction implements ILossFunction
        permits FusedCrossEntropy, FusedSoftmaxFocal, FusedBinaryCrossEntropy, FusedMeanSquaredError,
                FusedSigmoidFocal {
    private static final long serialVersionUID = 1L;

    /** The activation a loss fuses into itself, and what to tell a user who configured another one. */
    enum Fused {
        SOFTMAX(ActivationSoftmax.class, "softmax", "Activation.SOFTMAX"),
        SIGMOID(ActivationSigmoid.class, "sigmoid", "Activation.SIGMOID"),
        IDENTITY(ActivationIdentity.class, "identity", "Activation.IDENTITY");

        final Class<? extends IActivation> type;
        final String description;
        final String constant;

        Fused(Class<? extends IActivation> type, String description, String constant) {
            this.type = type;
            this.description = description;
            this.constant = constant;
        }
    }

    /** The labels a loss takes besides dense ones of preOutput's shape. */
    enum Labels {
        /** Dense labels only (the element-wise losses). */
        DENSE,
        /** Dense labels (soft or one-hot), or a column of class indices. */
        DENSE_OR_INDICES,
        /** Class indices: a column of them, or one-hot rows, converted to indices. */
        INDICES
    }

    private enum Call {
        GRADIENT_AND_SCORE(0), SCORE(1), SCORE_PER_EXAMPLE(2);

        final int variant;

        Call(int variant) {
            this.variant = variant;
        }
    }

    /** The activation this loss fuses. */
    private final Fused fused;
    /** The labels this loss takes. */
    private final Labels takes;
    /** The wrapped loss as the user gave it; null after Java deserialization (then rebuilt from the settings). */
    private final transient Loss configured;
    /** The core losses one call needs: [gradient and score, score, per-term scores]; built on first use. */
    private transient volatile Loss[] variants;

    FusedLossFunction(Loss configured, Fused fused, Labels takes) {
        this.configured = configured;
        this.fused = fused;
        this.takes = takes;
    }

    /** A core loss with this loss's settings and the given reduction and gradient switch. */
    abstract Loss build(Reduction reduction, boolean gradient);

    /** The label of ignored examples (class-index losses; the others never see one). */
    int ignoreLabel() {
        return -100;
    }

    /** What an example's summed terms are divided by: 1, or the number of outputs (MSE's mean). */
    double perExampleDivisor(int outputs) {
        return 1;
    }

    /**
     * Checks that a core loss leaves to DL4J what DL4J decides: the reduction (the default MEAN, which
     * these losses replace by DL4J's rule), the gradient scale (1) and the gradient (on).
     */
    static <L extends Loss> L checked(L loss, String wrapper) {
        Objects.requireNonNull(loss, "loss");
        String leave = "; DL4J decides it (the output layer divides the score by the mini-batch size and the "
                + "updater the gradient): build the loss with the default";
        if (loss.reduction() != Reduction.MEAN) {
            throw new IllegalArgumentException(wrapper + ": the loss reduces with " + loss.reduction() + leave);
        }
        if (loss.gradientScale() != 1) {
            throw new IllegalArgumentException(wrapper + ": the loss scales its gradient by " + loss.gradientScale()
                    + leave);
        }
        if (!loss.computesGradient()) {
            throw new IllegalArgumentException(wrapper + ": the loss was built with computeGradient(false); DL4J needs "
                    + "the gradient: build the loss with the default");
        }
        return loss;
    }

    /** The wrapped core loss (rebuilt from the settings when this one was deserialized). */
    public Loss loss() {
        return configured != null ? configured : variant(Call.GRADIENT_AND_SCORE);
    }

    /** The backend the fused call runs on: the wrapped loss's ({@link Backends#best()} unless it named one). */
    public Backend backend() {
        return configured != null ? configured.backend() : Backends.best();
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        Result r = run(labels, preOutput, activationFn, mask, Call.SCORE);
        return average ? r.score / preOutput.size(0) : r.score;
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        return run(labels, preOutput, activationFn, mask, Call.SCORE_PER_EXAMPLE).array;
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        return run(labels, preOutput, activationFn, mask, Call.GRADIENT_AND_SCORE).array;
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
                                                          IActivation activationFn, INDArray mask, boolean average) {
        Result r = run(labels, preOutput, activationFn, mask, Call.GRADIENT_AND_SCORE);
        return new Pair<>(average ? r.score / preOutput.size(0) : r.score, r.array);
    }

    @Override
    public String name() {
        return toString();
    }

    /** The score (a sum over the examples), and the gradient or the per-example scores. */
    private record Result(double score, INDArray array) {
    }

    /** Checks the arguments as DL4J passes them, then makes the one fused call. */
    private Result run(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask, Call call) {
        String loss = getClass().getSimpleName();
        checkActivation(loss, activationFn);
        if (preOutput == null || labels == null) {
            throw new IllegalArgumentException(loss + ": " + (preOutput == null ? "preOutput" : "labels") + " is null");
        }
        if (preOutput.rank() != 2) {
            throw new IllegalArgumentException(loss + ": preOutput must be 2-D [examples, outputs]; its shape is "
                    + Arrays.toString(preOutput.shape()));
        }
        Nd4jArrays.checkSize("preOutput", preOutput);
        int rows = Math.toIntExact(preOutput.size(0));
        int cols = Math.toIntExact(preOutput.size(1));
        boolean indices = takes != Labels.DENSE && cols > 1 && labels.length() == rows
                && (labels.rank() == 1 || labels.rank() == 2 && labels.size(1) == 1);
        if (!indices && !Arrays.equals(labels.shape(), preOutput.shape())) {
            throw new IllegalArgumentException(loss + ": labels of shape " + Arrays.toString(labels.shape())
                    + " do not match preOutput of shape " + Arrays.toString(preOutput.shape())
                    + (takes == Labels.DENSE ? "" : " (labels are dense, of preOutput's shape, or a column "
                    + "of class indices [" + rows + ",1])"));
        }
        boolean perExampleMask = mask != null && mask.rank() == 2 && mask.size(0) == rows && mask.size(1) == 1;
        if (mask != null && !perExampleMask) {
            if (!Arrays.equals(mask.shape(), preOutput.shape())) {
                throw new IllegalArgumentException(loss + ": a mask is per example [" + rows + ",1] or per output "
                        + Arrays.toString(preOutput.shape()) + "; this one is " + Arrays.toString(mask.shape()));
            }
            if (fused == Fused.SOFTMAX) {
                throw new IllegalArgumentException(loss + ": a per-output mask " + Arrays.toString(mask.shape())
                        + " does not apply to a softmax loss (DL4J's LossMCXENT rejects it too); give a "
                        + "per-example mask [" + rows + ",1]");
            }
        }
        if (rows == 0) {
            return new Result(0, call == Call.SCORE_PER_EXAMPLE ? preOutput.ulike().reshape(0, 1)
                    : call == Call.GRADIENT_AND_SCORE ? preOutput.ulike() : null);
        }

        INDArray x = Nd4jArrays.rowMajorFloats(preOutput);
        INDArray t = null;
        INDArray m = null;
        INDArray out = null;
        Batch batch = Batch.of(Nd4jArrays.buffer(x), rows, cols);
        try {
            t = Nd4jArrays.rowMajorFloats(labels);
            if (indices) {
                batch.labels(ClassIndices.fromColumn(Nd4jArrays.buffer(t), rows));
            } else {
                if (takes == Labels.INDICES) {
                    batch.labels(ClassIndices.fromOneHot(Nd4jArrays.buffer(t), rows, cols, ignoreLabel(), loss));
                } else {
                    batch.targets(Nd4jArrays.buffer(t));
                }
            }
            if (mask != null) {
                m = Nd4jArrays.rowMajorFloats(mask);
                if (perExampleMask) {
                    batch.sampleWeights(Nd4jArrays.buffer(m), 1);
                } else {
                    batch.elementWeights(Nd4jArrays.buffer(m));
                }
            }
            double divisor = perExampleDivisor(cols);
            if (call == Call.SCORE_PER_EXAMPLE) {
                out = Nd4jArrays.newFloats(rows, fused == Fused.SOFTMAX ? 1 : cols);
                batch.perTerm(Nd4jArrays.buffer(out));
            } else {
                batch.denominator(divisor);   // a MEAN over this divisor: the sum itself, or MSE's mean per example
                if (call == Call.GRADIENT_AND_SCORE) {
                    out = Nd4jArrays.newFloats(rows, cols);
                    batch.gradient(Nd4jArrays.buffer(out));
                }
            }
            LossResult r = variant(call).compute(batch, backend());
            if (call == Call.SCORE_PER_EXAMPLE) {
                INDArray perExample = out.columns() == 1 ? out : out.sum(true, 1);
                if (divisor != 1) {
                    perExample.divi(divisor);
                }
                return new Result(r.loss(), perExample.castTo(preOutput.dataType()));
            }
            return new Result(r.loss(), out == null ? null : out.castTo(preOutput.dataType()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(loss + ": " + inDl4jTerms(e.getMessage()), e);
        } finally {
            // The kernels read these arrays through buffers that do not keep them alive.
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(t);
            Reference.reachabilityFence(m);
            Reference.reachabilityFence(out);
        }
    }

    private void checkActivation(String loss, IActivation activationFn) {
        Fused f = fused;
        if (!f.type.isInstance(activationFn)) {
            throw new IllegalArgumentException(loss + " fuses the " + f.description + " into the loss and takes "
                    + "the gradient with respect to the output before it, but the layer's activation is "
                    + activationFn + "; set .activation(" + f.constant + ") on the output layer");
        }
    }

    private Loss variant(Call call) {
        Loss[] v = variants;
        if (v == null) {
            v = new Loss[] {build(Reduction.MEAN, true), build(Reduction.MEAN, false), build(Reduction.NONE, false)};
            variants = v;
        }
        return v[call.variant];
    }

    /** The core names a batch's arguments; a DL4J user knows them by DL4J's names. */
    private static String inDl4jTerms(String message) {
        String[][] names = {{"predictions", "preOutput"}, {"targets", "labels"}, {"sampleWeights", "mask"},
                {"elementWeights", "mask"}};
        for (String[] n : names) {
            if (message != null && message.startsWith(n[0])) {
                return n[1] + message.substring(n[0].length());
            }
        }
        return message;
    }
}
