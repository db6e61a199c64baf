package org.fusedloss;

import java.util.Objects;
import org.fusedloss.internal.BatchData;
import org.fusedloss.internal.Errors;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossAccess;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;
import org.fusedloss.internal.WeightStats;

/**
 * A configured loss: immutable, thread-safe and reusable. {@link #compute(Batch)} validates the
 * batch completely (here, once, for every backend), computes the denominator of the reduction,
 * and hands the request to a {@link Backend}, which computes the loss and writes the gradient in
 * one pass.
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
    private final LossKind kind;
    private final LossOptions options;

    static {
        // The CUDA module's DeviceBatch is validated here too: the same checks and messages.
        LossAccess.register(Loss::deviceRequest);
    }

    Loss(Builder<?> builder, LossKind kind, LossOptions options) {
        this.reduction = builder.reduction;
        this.gradientScale = builder.gradientScale;
        this.computeGradient = builder.computeGradient;
        this.backend = builder.backend;
        this.kind = kind;
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
        KernelBackend on = Backends.engine(Objects.requireNonNull(backend, "backend"));
        LossRequest request = validate(batch.data);
        boolean divides = reduction == Reduction.MEAN || reduction == Reduction.BATCH_MEAN;
        String overlap = overlap(request);  // thrown after the weight pass, whose errors come first
        if (divides && !batch.data.hasDenominator && !checksValues() && overlap == null && on.isAvailable()) {
            // the weight pass and the loss in one call where the backend can (same results; a bad
            // value, where it finds one, is named by the steps below)
            KernelBackend.WeighedSums w = on.weighAndRun(withDenominator(request, -1));
            if (w != null) {
                WeightStats s = w.stats();
                double loss = w.denominator() == 0 ? 0 : w.sums().lossSum() / w.denominator();
                return new LossResult(loss, w.denominator(), s.weightSum(), s.counted(), s.masked(),
                        w.sums().nonFinite(), on.name());
            }
        }
        WeightStats stats = on.weightStats(request);  // labels and weights: the values, checked once
        checkValues(request);
        if (overlap != null) {
            throw new IllegalArgumentException(overlap);
        }
        double denominator = switch (reduction) {
            case NONE, SUM -> 1.0;
            case MEAN -> batch.data.hasDenominator ? batch.data.denominator : stats.weightSum();
            case BATCH_MEAN -> batch.data.hasDenominator ? batch.data.denominator : stats.counted();
        };
        request = withDenominator(request, denominator);
        if (!on.isAvailable()) {
            throw new IllegalStateException("the " + on.name() + " backend is not available: "
                    + on.unavailabilityReason().orElse("unknown reason"));
        }
        if (denominator == 0) {
            // Every term ignored or masked, or a caller denominator of 0: loss and gradient are 0, not NaN.
            zero(request.outputs().gradient(), request.elements());
            zero(request.outputs().perTerm(), request.terms());
            return new LossResult(0, 0, stats.weightSum(), stats.counted(), stats.masked(), 0, on.name());
        }
        KernelSums sums = on.run(request);
        double loss = divides ? sums.lossSum() / denominator : sums.lossSum();
        return new LossResult(loss, denominator, stats.weightSum(), stats.counted(), stats.masked(),
                sums.nonFinite(), on.name());
    }

    /**
     * The request of a batch in device memory (the CUDA module's DeviceBatch): the same checks as
     * on the host, except the values, which the kernel checks; the denominator is the caller's or
     * negative (computed on the device).
     */
    private LossRequest deviceRequest(BatchData data) {
        LossRequest request = validate(data);
        checkOverlaps(request);
        return withDenominator(request, data.hasDenominator ? data.denominator : -1);
    }

    /** Which kernel this batch needs; by default the loss's own, whose inputs the batch must have. */
    LossKind kindOf(BatchData b) {
        if (kind.takesLabels()) {
            if (b.labels == null) {
                throw new IllegalArgumentException("labels: " + kind.title() + " needs class indices ("
                        + b.api + ".labels)");
            }
            if (b.targets != null) {
                throw new IllegalArgumentException("targets: " + kind.title()
                        + " takes class indices, not dense targets");
            }
        } else {
            if (b.labels != null) {
                throw new IllegalArgumentException("labels: " + kind.title() + " takes dense targets ("
                        + b.api + ".targets), not class indices");
            }
            if (b.targets == null) {
                throw new IllegalArgumentException("targets: " + kind.title() + " needs dense targets ("
                        + b.api + ".targets)");
            }
        }
        return kind;
    }

    /** Checks of the loss's own on the values, after the weight pass (host memory only). */
    void checkValues(LossRequest request) {
    }

    /** Whether {@link #checkValues} checks anything (then it runs between the weight pass and the call). */
    boolean checksValues() {
        return false;
    }

    /**
     * Everything that needs no value of the data: which inputs are present, the lengths, the
     * options against the shape. Returns the request with its denominator still unknown (NaN).
     */
    LossRequest validate(BatchData b) {
        LossKind k = kindOf(b);
        long elements = (long) b.rows * b.cols;
        long terms = k.perRow() ? b.rows : elements;
        b.predictions.check(elements, false);
        Span gradient = null;
        if (computeGradient) {
            if (b.gradient == null) {
                throw new IllegalArgumentException("gradient: no gradient buffer given; pass one with "
                        + b.api + ".gradient(...) or build the loss with computeGradient(false)");
            }
            b.gradient.check(elements, true);
            gradient = b.gradient;
        }
        if (b.perTerm != null) {
            b.perTerm.check(terms, true);
        }
        if (b.upstream != null) {
            if (reduction != Reduction.NONE) {
                throw new IllegalArgumentException("upstream: a per-term upstream gradient applies only to "
                        + "reduction NONE (use gradientScale for one factor), this loss reduces with " + reduction);
            }
            b.upstream.check(terms, false);
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
            b.sampleWeights.check(LossRequest.sampleWeightSpan(b.rows, b.sampleWeightStride), false);
        }
        if (b.elementWeights != null) {
            if (k.perRow()) {
                throw new IllegalArgumentException("elementWeights: element weights apply to the element-wise "
                        + "losses (BCE, MSE, sigmoid focal), not to " + k);
            }
            b.elementWeights.check(elements, false);
        }
        options.checkColumns(b.cols);
        if (k.takesLabels()) {
            b.labels.check(b.rows, false);
        } else {
            b.targets.check(elements, false);
        }
        return new LossRequest(k, b.rows, b.cols,
                new LossRequest.Inputs(b.predictions, k.takesLabels() ? b.labels : null,
                        k.takesLabels() ? null : b.targets, b.sampleWeights,
                        b.sampleWeights == null ? 1 : b.sampleWeightStride, b.elementWeights, b.upstream),
                new LossRequest.Outputs(gradient, b.perTerm), options, reduction, gradientScale, Double.NaN);
    }

    private static LossRequest withDenominator(LossRequest request, double denominator) {
        LossRequest r = request.withDenominator(denominator);
        if (Double.isInfinite(r.gradFactor())) {
            throw Errors.gradFactorOverflow(r.gradientScale(), denominator);
        }
        return r;
    }

    /**
     * Rejects an output (gradient, per-term losses) that shares memory with another argument: the
     * kernels would read what they have already overwritten, and the result would depend on the
     * order of the writes (and on the thread count). The gradient exactly over the predictions is
     * allowed: every backend reads a row before it writes that row's gradient. Inputs may share
     * memory with each other. Called after the lengths were checked.
     */
    private static void checkOverlaps(LossRequest r) {
        String overlap = overlap(r);
        if (overlap != null) {
            throw new IllegalArgumentException(overlap);
        }
    }

    /** {@link #checkOverlaps}'s message, or null where no output overlaps another argument. */
    private static String overlap(LossRequest r) {
        LossRequest.Inputs in = r.inputs();
        LossRequest.Outputs out = r.outputs();
        long elements = r.elements();
        long terms = r.terms();
        Span[] spans = {in.predictions(), in.labels(), in.targets(), in.sampleWeights(), in.elementWeights(),
            in.upstream(), out.gradient(), out.perTerm()};
        long[] lengths = {elements, r.rows(), elements, r.sampleWeightSpan(), elements, terms, elements, terms};
        Span.Range[] ranges = new Span.Range[spans.length];
        for (int i = 0; i < spans.length; i++) {
            ranges[i] = spans[i] == null || lengths[i] == 0 ? null : spans[i].range(lengths[i]);
        }
        for (int o : new int[] {6, 7}) {  // gradient, perTerm
            for (int other = 0; other < spans.length; other++) {
                if (other == o || ranges[o] == null || !ranges[o].overlaps(ranges[other])) {
                    continue;
                }
                boolean inPlace = o == 6 && other == 0 && ranges[o].from() == ranges[other].from();
                if (!inPlace) {
                    return spans[o].name() + " overlaps " + spans[other].name()
                            + (spans[o].onDevice() ? " in device memory" : " in memory") + ": an output (gradient, perTerm) may not share memory with another "
                            + "argument; only the gradient may lie exactly over the predictions (in place)";
                }
            }
        }
        return null;
    }

    private static void zero(Span out, long n) {
        if (out != null) {
            for (long i = 0; i < n; i++) {
                out.putFloat(i, 0f);
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
         * Whether to compute the gradient (default true; false computes the loss alone, and the
         * batch needs no gradient buffer).
         *
         * @param compute false to compute the loss alone
         * @return this builder
         */
        public B computeGradient(boolean compute) {
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
