package org.fusedloss;

import java.nio.FloatBuffer;
import java.util.Objects;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.KernelOptions;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossAccess;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossRequest;

/**
 * A configured loss: immutable, thread-safe and reusable. {@link #compute(Batch)} validates the
 * batch completely, computes the denominator of the reduction, and hands the request to a
 * {@link Backend}, which computes the loss and writes the gradient in one pass.
 *
 * <p>The subclasses are the losses of docs/SEMANTICS.md: {@link CrossEntropy}, {@link SoftmaxFocal},
 * {@link BinaryCrossEntropy}, {@link MeanSquaredError} and {@link SigmoidFocal}.
 */
public abstract sealed class Loss
        permits CrossEntropy, SoftmaxFocal, BinaryCrossEntropy, MeanSquaredError, SigmoidFocal {

    private final Reduction reduction;
    private final double gradientScale;
    private final boolean computeGradient;
    private final Backend backend;
    final KernelOptions options;

    static {
        // The CUDA module's device path reads a loss's options (the same arrays, not copies).
        LossAccess.register(loss -> loss.options);
    }

    Loss(Builder<?> builder, KernelOptions options) {
        this.reduction = builder.reduction;
        this.gradientScale = builder.gradientScale;
        this.computeGradient = builder.computeGradient;
        this.backend = builder.backend;
        this.options = options;
    }

    /** {@return the reduction} */
    public Reduction reduction() {
        return reduction;
    }

    /** {@return the factor every gradient is multiplied by} */
    public double gradientScale() {
        return gradientScale;
    }

    /** {@return whether the gradient is computed (it needs a gradient buffer in the batch)} */
    public boolean computesGradient() {
        return computeGradient;
    }

    /** {@return the backend this loss was built for, or the best available one ({@link Backends#best()})} */
    public Backend backend() {
        return backend != null ? backend : Backends.best();
    }

    /**
     * Computes the loss and (unless turned off) its gradient on this loss's backend.
     *
     * @param batch the data, the gradient buffer and the optional inputs
     * @return the reduced loss and what it was computed over
     * @throws IllegalArgumentException naming the argument, index and value, before anything is written
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public final LossResult compute(Batch batch) {
        return compute(batch, backend());
    }

    /**
     * Computes the loss and its gradient on the given backend.
     *
     * @param batch the data, the gradient buffer and the optional inputs
     * @param backend one of {@link Backends#all()}
     * @return the reduced loss and what it was computed over
     * @throws IllegalArgumentException naming the argument, index and value, before anything is written
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public final LossResult compute(Batch batch, Backend backend) {
        Objects.requireNonNull(batch, "batch");
        KernelBackend on = KernelBackend.of(Objects.requireNonNull(backend, "backend"));
        LossKind kind = kindOf(batch);
        long terms = kind.perRow() ? batch.rows : (long) batch.rows * batch.cols;
        long elements = (long) batch.rows * batch.cols;
        checkCommon(batch, kind, terms, elements);
        WeightStats stats = checkInputs(batch, kind, on);

        double denominator = denominator(batch, stats);
        double gradScale = denominator == 0 ? 0 : gradientScale / denominator;
        LossRequest request = new LossRequest(kind, batch.rows, batch.cols,
                batch.predictions.floats(elements),
                batch.labels == null ? null : batch.labels.ints(batch.rows),
                batch.targets == null ? null : batch.targets.floats(elements),
                batch.sampleWeights == null ? null
                        : batch.sampleWeights.floats(sampleWeightSpan(batch)),
                batch.sampleWeightStride,
                batch.elementWeights == null ? null : batch.elementWeights.floats(elements),
                batch.upstream == null ? null : batch.upstream.floats(terms),
                computeGradient ? batch.gradient.floats(elements) : null,
                batch.perTerm == null ? null : batch.perTerm.floats(terms),
                options.classWeights(), options.alpha(), options.posWeight(), options.binaryClassWeights(),
                options.ignoreIndex(), options.labelSmoothing(), options.zLoss(), options.softCap(),
                options.focalAlpha(), options.gamma(), gradScale);
        if (!on.isAvailable()) {
            throw new IllegalStateException("the " + on.name() + " backend is not available: "
                    + on.unavailabilityReason().orElse("unknown reason"));
        }
        if (denominator == 0) {
            // Every term ignored or masked, or a caller denominator of 0: loss and gradient are 0, not NaN.
            fill(request.gradient(), elements);
            fill(request.perTerm(), terms);
            return new LossResult(0, 0, stats.weightSum, stats.counted, stats.masked, 0, on.name());
        }
        KernelSums sums = on.run(request);
        double loss = reduction == Reduction.MEAN || reduction == Reduction.BATCH_MEAN
                ? sums.lossSum() / denominator : sums.lossSum();
        return new LossResult(loss, denominator, stats.weightSum, stats.counted, stats.masked,
                sums.nonFinite(), on.name());
    }

    /** Which kernel this batch needs (cross-entropy picks by labels or targets). */
    abstract LossKind kindOf(Batch batch);

    /**
     * Checks the loss-specific inputs (labels, targets, weights) and sums the effective weights
     * (in native code when {@code on} is the native backend and the batch is not small).
     */
    abstract WeightStats checkInputs(Batch batch, LossKind kind, Backend on);

    private void checkCommon(Batch b, LossKind kind, long terms, long elements) {
        b.predictions.check(elements, false);
        if (computeGradient) {
            if (b.gradient == null) {
                throw new IllegalArgumentException("gradient: no gradient buffer given; pass one with "
                        + "Batch.gradient(...) or build the loss with gradient(false)");
            }
            b.gradient.check(elements, true);
        }
        if (reduction == Reduction.NONE) {
            if (b.perTerm != null) {
                b.perTerm.check(terms, true);
            }
            if (b.upstream != null) {
                b.upstream.check(terms, false);
            }
        } else {
            if (b.perTerm != null) {
                throw new IllegalArgumentException("perTerm: per-term losses are written only with reduction NONE, "
                        + "this loss reduces with " + reduction);
            }
            if (b.upstream != null) {
                throw new IllegalArgumentException("upstream: a per-term upstream gradient applies only to "
                        + "reduction NONE (use gradientScale for one factor), this loss reduces with " + reduction);
            }
        }
        if (b.hasDenominator) {
            if (reduction != Reduction.MEAN && reduction != Reduction.BATCH_MEAN) {
                throw new IllegalArgumentException("denominator: a caller denominator applies to MEAN or "
                        + "BATCH_MEAN, this loss reduces with " + reduction);
            }
            if (!(b.denominator >= 0) || Double.isInfinite(b.denominator)) {
                throw new IllegalArgumentException("denominator = " + b.denominator
                        + " must be finite and not negative");
            }
        }
        if (b.sampleWeights != null) {
            if (b.sampleWeightStride < 1) {
                throw new IllegalArgumentException("sampleWeights: stride = " + b.sampleWeightStride
                        + " must be at least 1");
            }
            b.sampleWeights.check(sampleWeightSpan(b), false);
        }
        if (b.elementWeights != null) {
            if (kind.perRow()) {
                throw new IllegalArgumentException("elementWeights: element weights apply to the element-wise "
                        + "losses (BCE, MSE, sigmoid focal), not to " + kind);
            }
            b.elementWeights.check(elements, false);
        }
    }

    private static long sampleWeightSpan(Batch b) {
        return b.rows == 0 ? 0 : (long) (b.rows - 1) * b.sampleWeightStride + 1;
    }

    private double denominator(Batch b, WeightStats stats) {
        return switch (reduction) {
            case NONE, SUM -> 1.0;
            case MEAN -> b.hasDenominator ? b.denominator : stats.weightSum;
            case BATCH_MEAN -> b.hasDenominator ? b.denominator : stats.counted;
        };
    }

    private static void fill(FloatBuffer out, long n) {
        if (out != null) {
            for (int i = 0; i < n; i++) {
                out.put(i, 0f);
            }
        }
    }

    /** Settings every loss has. */
    public abstract static sealed class Builder<B extends Builder<B>>
            permits CrossEntropy.Builder, SoftmaxFocal.Builder, BinaryCrossEntropy.Builder,
                    MeanSquaredError.Builder, SigmoidFocal.Builder {
        private Reduction reduction = Reduction.MEAN;
        private double gradientScale = 1.0;
        private boolean computeGradient = true;
        private Backend backend;

        Builder() {
        }

        abstract B self();

        /**
         * The reduction (default {@link Reduction#MEAN}).
         *
         * @param reduction the reduction
         * @return this builder
         */
        public B reduction(Reduction reduction) {
            this.reduction = Objects.requireNonNull(reduction, "reduction");
            return self();
        }

        /**
         * A factor on the gradient: an upstream scalar, {@code 1 / accumulationSteps}, a head's weight.
         *
         * @param scale the factor, finite
         * @return this builder
         */
        public B gradientScale(double scale) {
            if (!Double.isFinite(scale)) {
                throw new IllegalArgumentException("gradientScale = " + scale + " must be finite");
            }
            this.gradientScale = scale;
            return self();
        }

        /**
         * Whether to compute the gradient (default true; false computes the loss alone).
         *
         * @param compute false to compute the loss alone
         * @return this builder
         */
        public B gradient(boolean compute) {
            this.computeGradient = compute;
            return self();
        }

        /**
         * Always run on this backend (default: the best available at each call).
         *
         * @param backend the backend
         * @return this builder
         */
        public B backend(Backend backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
            return self();
        }

        /**
         * Always run on the backend of this name: {@code "java"}, {@code "native"} or {@code "cuda"}.
         *
         * @param name {@code "java"}, {@code "native"} or {@code "cuda"}
         * @return this builder
         */
        public B backend(String name) {
            return backend(Backends.byName(name));
        }
    }
}
