package org.fusedloss.cuda;

import java.util.Objects;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.fusedloss.Backend;
import org.fusedloss.Backends;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.Reduction;
import org.fusedloss.SoftmaxFocal;
import org.fusedloss.cuda.internal.CudaBackend;
import org.fusedloss.cuda.internal.DeviceRequest;
import org.fusedloss.internal.KernelOptions;
import org.fusedloss.internal.LossAccess;
import org.fusedloss.internal.LossKind;

/**
 * The data of one call on the GPU, already in device memory: the {@link org.fusedloss.Batch} of the
 * CUDA backend (module fusedloss-cuda),
 * with device addresses instead of arrays. Each argument is a JCuda {@link CUdeviceptr} or a raw
 * device address ({@code long}, e.g. a tensor's {@code data_ptr()}), pointing at float32 data
 * (int32 for labels), row-major and contiguous, allocated on the device the CUDA backend uses
 * ({@code -Dfusedloss.cuda.device}) and reachable from its primary context (memory from the CUDA
 * runtime, PyTorch or cuMemAlloc in the primary context is).
 *
 * <pre>{@code
 * LossResult r = DeviceBatch.of(logitsPtr, n, c).labels(labelsPtr)
 *         .gradient(gradPtr).stream(stream).compute(ce);
 * }</pre>
 *
 * <p>Nothing is copied. Shapes, which inputs are present, and whether an output (gradient,
 * per-term losses) overlaps another argument in device memory (only the gradient exactly over the
 * logits is allowed) are checked before any launch; the labels and weights, which cannot be read
 * without a copy, are checked by the kernel in its own pass, and a bad one throws the same
 * {@link IllegalArgumentException} as on the CPU (the outputs then hold unspecified values). The sizes cannot be checked: each buffer must hold what its shape
 * needs, as with any CUDA kernel. The call launches on the batch's stream (default: the default
 * stream) and returns after reading back the small result, which waits for that stream.
 * A batch is a small mutable description meant to be built for one call; it is not thread-safe.
 */
public final class DeviceBatch {
    final int rows;
    final int cols;
    final CUdeviceptr predictions;
    CUdeviceptr labels;
    CUdeviceptr targets;
    CUdeviceptr sampleWeights;
    long sampleWeightStride = 1;
    CUdeviceptr elementWeights;
    CUdeviceptr upstream;
    CUdeviceptr gradient;
    CUdeviceptr perTerm;
    double denominator;
    boolean hasDenominator;
    CUstream stream;

    private DeviceBatch(CUdeviceptr predictions, int rows, int cols) {
        if (rows < 0) {
            throw new IllegalArgumentException("rows = " + rows + " is negative");
        }
        if (cols < 1) {
            throw new IllegalArgumentException("cols = " + cols + " must be at least 1");
        }
        this.predictions = predictions;
        this.rows = rows;
        this.cols = cols;
    }

    /**
     * Logits (or predictions for MSE) of {@code rows x cols} floats at a raw device address.
     *
     * @param logitsAddress the device address of the logits (or predictions for MSE), not 0
     * @param rows the number of rows (samples), at least 0
     * @param cols classes (softmax losses) or outputs (element-wise losses) per row, at least 1
     * @return a new batch, nothing else set
     */
    public static DeviceBatch of(long logitsAddress, int rows, int cols) {
        return new DeviceBatch(address("logits", logitsAddress), rows, cols);
    }

    /**
     * Logits (or predictions for MSE) of {@code rows x cols} floats in device memory.
     *
     * @param logits the logits (or predictions for MSE), rows x cols float32 in device memory
     * @param rows the number of rows (samples), at least 0
     * @param cols classes (softmax losses) or outputs (element-wise losses) per row, at least 1
     * @return a new batch, nothing else set
     */
    public static DeviceBatch of(CUdeviceptr logits, int rows, int cols) {
        return new DeviceBatch(pointer("logits", logits), rows, cols);
    }

    /** {@return the number of rows (samples)} */
    public int rows() {
        return rows;
    }

    /** {@return the number of columns: classes for the softmax losses, outputs for the element-wise ones} */
    public int cols() {
        return cols;
    }

    /**
     * Class indices, {@code rows} int32 values ({@code 0 <= y < cols}, or the ignore index).
     *
     * @param address the device address of the labels (int32, one per row), not 0
     * @return this batch
     */
    public DeviceBatch labels(long address) {
        this.labels = address("labels", address);
        return this;
    }

    /**
     * Class indices, {@code rows} int32 values.
     *
     * @param labels the labels: int32 class indices, one per row, in device memory
     * @return this batch
     */
    public DeviceBatch labels(CUdeviceptr labels) {
        this.labels = pointer("labels", labels);
        return this;
    }

    /**
     * Dense targets of the logits' shape.
     *
     * @param address the device address of the dense targets (the logits' shape), not 0
     * @return this batch
     */
    public DeviceBatch targets(long address) {
        this.targets = address("targets", address);
        return this;
    }

    /**
     * Dense targets of the logits' shape.
     *
     * @param targets the dense targets (the logits' shape) in device memory
     * @return this batch
     */
    public DeviceBatch targets(CUdeviceptr targets) {
        this.targets = pointer("targets", targets);
        return this;
    }

    /**
     * One weight per row, contiguous; NaN marks a missing weight.
     *
     * @param address the device address of the sample weights, not 0
     * @return this batch
     */
    public DeviceBatch sampleWeights(long address) {
        return sampleWeights(address, 1);
    }

    /**
     * One weight per row, row {@code i}'s at element {@code i * stride} (one column of an n x outputs matrix).
     *
     * @param address the device address of the sample weights, not 0
     * @param stride the distance in elements from one row's weight to the next (at least 1)
     * @return this batch
     */
    public DeviceBatch sampleWeights(long address, long stride) {
        this.sampleWeights = address("sampleWeights", address);
        this.sampleWeightStride = stride;
        return this;
    }

    /**
     * One weight per row, contiguous; NaN marks a missing weight.
     *
     * @param weights the weights in device memory; NaN marks a missing one
     * @return this batch
     */
    public DeviceBatch sampleWeights(CUdeviceptr weights) {
        return sampleWeights(weights, 1);
    }

    /**
     * One weight per row, row {@code i}'s at element {@code i * stride}.
     *
     * @param weights the weights in device memory; NaN marks a missing one
     * @param stride the distance in elements from one row's weight to the next (at least 1)
     * @return this batch
     */
    public DeviceBatch sampleWeights(CUdeviceptr weights, long stride) {
        this.sampleWeights = pointer("sampleWeights", weights);
        this.sampleWeightStride = stride;
        return this;
    }

    /**
     * Weights of the logits' shape (element-wise losses only); NaN masks an element.
     *
     * @param address the device address of the element weights (the logits' shape), not 0
     * @return this batch
     */
    public DeviceBatch elementWeights(long address) {
        this.elementWeights = address("elementWeights", address);
        return this;
    }

    /**
     * Weights of the logits' shape (element-wise losses only).
     *
     * @param weights the weights in device memory; NaN marks a missing one
     * @return this batch
     */
    public DeviceBatch elementWeights(CUdeviceptr weights) {
        this.elementWeights = pointer("elementWeights", weights);
        return this;
    }

    /**
     * For {@link Reduction#NONE}: the upstream gradient of each term (rows for softmax losses, elements otherwise).
     *
     * @param address the device address of the upstream gradient of each term, not 0
     * @return this batch
     */
    public DeviceBatch upstream(long address) {
        this.upstream = address("upstream", address);
        return this;
    }

    /**
     * For {@link Reduction#NONE}: the upstream gradient of each term.
     *
     * @param upstream the upstream gradient of each term in device memory
     * @return this batch
     */
    public DeviceBatch upstream(CUdeviceptr upstream) {
        this.upstream = pointer("upstream", upstream);
        return this;
    }

    /**
     * Where the gradient goes (the logits' shape); it may be the logits themselves (in place).
     *
     * @param address the device address of the gradient output (the logits' shape), not 0
     * @return this batch
     */
    public DeviceBatch gradient(long address) {
        this.gradient = address("gradient", address);
        return this;
    }

    /**
     * Where the gradient goes (the logits' shape); it may be the logits themselves (in place).
     *
     * @param gradient where the gradient goes in device memory (may be the logits)
     * @return this batch
     */
    public DeviceBatch gradient(CUdeviceptr gradient) {
        this.gradient = pointer("gradient", gradient);
        return this;
    }

    /**
     * For {@link Reduction#NONE}: where each term's weighted loss goes.
     *
     * @param address the device address of the per-term losses output, not 0
     * @return this batch
     */
    public DeviceBatch perTerm(long address) {
        this.perTerm = address("perTerm", address);
        return this;
    }

    /**
     * For {@link Reduction#NONE}: where each term's weighted loss goes.
     *
     * @param perTerm where the per-term losses go in device memory
     * @return this batch
     */
    public DeviceBatch perTerm(CUdeviceptr perTerm) {
        this.perTerm = pointer("perTerm", perTerm);
        return this;
    }

    /**
     * For MEAN and BATCH_MEAN: divide by this instead of the local weight sum or count (see {@link org.fusedloss.Batch#denominator(double)}).
     *
     * @param denominator what MEAN or BATCH_MEAN divide by, finite and not negative
     * @return this batch
     */
    public DeviceBatch denominator(double denominator) {
        this.denominator = denominator;
        this.hasDenominator = true;
        return this;
    }

    /**
     * The stream to launch on (null: the default stream); it must belong to the primary context.
     *
     * @param stream a stream of the primary context, or null for the default stream
     * @return this batch
     */
    public DeviceBatch stream(CUstream stream) {
        this.stream = stream;
        return this;
    }

    /**
     * A raw CUstream / cudaStream_t handle to launch on (0: the default stream).
     *
     * @param handle a raw CUstream / cudaStream_t handle, or 0 for the default stream
     * @return this batch
     */
    public DeviceBatch stream(long handle) {
        this.stream = CudaBackend.stream(handle);
        return this;
    }

    private static CUdeviceptr address(String name, long address) {
        if (address == 0) {
            throw new IllegalArgumentException(name + ": the device address is 0 (NULL)");
        }
        return CudaBackend.pointer(address);
    }

    private static CUdeviceptr pointer(String name, CUdeviceptr p) {
        if (p == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (Address.of(p) == 0) {  // NULL means "absent" to the kernels: an output would be skipped silently
            throw new IllegalArgumentException(name + ": the device address is 0 (NULL; not allocated?)");
        }
        return p;
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * Computes a loss and (unless the loss turns it off) its gradient on the GPU, from this data in
     * device memory, on the CUDA backend whatever the loss was built for. Shapes and which inputs
     * are present are checked first, with the messages of the host path; labels and weights are
     * checked by the kernel in its pass, and a bad one throws the same
     * {@link IllegalArgumentException} as on the CPU. Launches on this batch's stream and returns
     * after reading back the result, which synchronizes that stream.
     *
     * @param loss the configured loss
     * @return the reduced loss and what it was computed over
     * @throws IllegalArgumentException for a bad shape, a missing input, an output that overlaps another argument
     *         in device memory, a gradient scale over the denominator that overflows a double, or a bad label or
     *         weight
     * @throws IllegalStateException with the reason, where CUDA is not available
     */
    public LossResult compute(Loss loss) {
        LossKind kind = kindOf(loss);
        KernelOptions o = LossAccess.options(loss);
        Reduction reduction = loss.reduction();
        boolean withGradient = loss.computesGradient();
        if (withGradient && gradient == null) {
            throw new IllegalArgumentException("gradient: no gradient buffer given; pass one with "
                    + "DeviceBatch.gradient(...) or build the loss with gradient(false)");
        }
        if (reduction != Reduction.NONE) {
            if (perTerm != null) {
                throw new IllegalArgumentException("perTerm: per-term losses are written only with reduction NONE, "
                        + "this loss reduces with " + reduction);
            }
            if (upstream != null) {
                throw new IllegalArgumentException("upstream: a per-term upstream gradient applies only to "
                        + "reduction NONE (use gradientScale for one factor), this loss reduces with " + reduction);
            }
        }
        if (hasDenominator) {
            if (reduction != Reduction.MEAN && reduction != Reduction.BATCH_MEAN) {
                throw new IllegalArgumentException("denominator: a caller denominator applies to MEAN or "
                        + "BATCH_MEAN, this loss reduces with " + reduction);
            }
            if (!(denominator >= 0) || Double.isInfinite(denominator)) {
                throw new IllegalArgumentException("denominator = " + denominator
                        + " must be finite and not negative");
            }
        }
        if (sampleWeights != null && sampleWeightStride < 1) {
            throw new IllegalArgumentException("sampleWeights: stride = " + sampleWeightStride
                    + " must be at least 1");
        }
        if (elementWeights != null && kind.perRow()) {
            throw new IllegalArgumentException("elementWeights: element weights apply to the element-wise "
                    + "losses (BCE, MSE, sigmoid focal), not to " + kind);
        }
        checkVector("classWeights", o.classWeights(), "classes", kind == LossKind.CROSS_ENTROPY
                || kind == LossKind.CROSS_ENTROPY_DENSE);
        checkVector("alpha", o.alpha(), "classes", kind == LossKind.SOFTMAX_FOCAL);
        checkVector("posWeight", o.posWeight(), "outputs", kind == LossKind.BINARY_CROSS_ENTROPY);
        checkOverlaps(withGradient, kind.perRow() ? rows : (long) rows * cols);
        // a caller denominator is known here; a computed one is checked by the kernel (the same message)
        if (hasDenominator && denominator != 0 && Double.isInfinite(loss.gradientScale() / denominator)) {
            throw new IllegalArgumentException("gradientScale / denominator = " + loss.gradientScale() + " / "
                    + denominator + " overflows a double");
        }

        Backend found = Backends.cuda();
        if (!found.isAvailable() || !(found instanceof CudaBackend cuda)) {
            throw new IllegalStateException("the cuda backend is not available: "
                    + found.unavailabilityReason().orElse("Backends.cuda() is not this module's CUDA backend"));
        }
        DeviceRequest request = new DeviceRequest(kind, rows, cols, predictions,
                kind == LossKind.CROSS_ENTROPY || kind == LossKind.SOFTMAX_FOCAL ? labels : null,
                kind == LossKind.CROSS_ENTROPY || kind == LossKind.SOFTMAX_FOCAL ? null : targets,
                sampleWeights, sampleWeightStride, elementWeights,
                upstream, withGradient ? gradient : null, perTerm,
                o.classWeights(), o.alpha(), o.posWeight(), o.binaryClassWeights(),
                o.ignoreIndex(), o.labelSmoothing(), o.zLoss(), o.softCap(), o.focalAlpha(), o.gamma(),
                reduction, loss.gradientScale(), hasDenominator ? denominator : -1.0, stream);
        return cuda.runOnDevice(request);
    }

    /**
     * Rejects an output (gradient, per-term losses) whose device memory overlaps another argument,
     * naming both, as {@code Batch} does for host memory: the kernels would read what they have
     * already overwritten. The gradient exactly over the logits (in place) is allowed. Inputs may
     * share memory. Pure Java: the addresses and lengths alone, before any driver call.
     */
    private void checkOverlaps(boolean withGradient, long terms) {
        long elements = (long) rows * cols;
        String[] names = {"predictions", "labels", "targets", "sampleWeights", "elementWeights", "upstream",
            "gradient", "perTerm"};
        CUdeviceptr[] pointers = {predictions, labels, targets, sampleWeights, elementWeights, upstream,
            withGradient ? gradient : null, perTerm};
        long[] counts = {elements, rows, elements, rows == 0 ? 0 : (rows - 1) * sampleWeightStride + 1, elements,
            terms, elements, terms};
        long[] from = new long[names.length];
        long[] to = new long[names.length];
        for (int i = 0; i < names.length; i++) {
            if (pointers[i] != null && counts[i] > 0) {
                from[i] = Address.of(pointers[i]);
                // 4 bytes per element (int32 labels too), saturated at the top of the address space
                long bytes = counts[i] > Long.MAX_VALUE / 4 ? Long.MAX_VALUE : 4 * counts[i];
                to[i] = Long.compareUnsigned(from[i], -1L - bytes) > 0 ? -1L : from[i] + bytes;
            }
        }
        for (int out : new int[] {6, 7}) {  // gradient, perTerm
            for (int other = 0; other < names.length; other++) {
                boolean bothThere = from[out] != to[out] && from[other] != to[other];
                if (other == out || !bothThere || Long.compareUnsigned(from[out], to[other]) >= 0
                        || Long.compareUnsigned(from[other], to[out]) >= 0) {
                    continue;
                }
                boolean inPlace = out == 6 && other == 0 && from[out] == from[other];
                if (!inPlace) {
                    throw new IllegalArgumentException(names[out] + " overlaps " + names[other]
                            + " in device memory: an output (gradient, perTerm) may not share memory with another "
                            + "argument; only the gradient may lie exactly over the predictions (in place)");
                }
            }
        }
    }

    /** The device address a JCuda pointer holds: its native pointer plus its byte offset (no driver call). */
    private static final class Address extends CUdeviceptr {
        private Address(CUdeviceptr p) {
            super(p);
        }

        static long of(CUdeviceptr p) {
            Address a = new Address(p);
            return a.getNativePointer() + a.getByteOffset();
        }
    }

    private void checkVector(String name, float[] v, String what, boolean applies) {
        if (applies && v != null && v.length != cols) {
            throw new IllegalArgumentException(name + ": has " + v.length + " entries but the batch has "
                    + cols + " " + what);
        }
    }

    /** Which kernel this batch needs: the same rules (and messages) as {@code Loss.kindOf(Batch)}. */
    private LossKind kindOf(Loss loss) {
        Objects.requireNonNull(loss, "loss");
        if (loss instanceof CrossEntropy) {
            if (labels != null && targets != null) {
                throw new IllegalArgumentException("labels and targets: give class indices or dense targets, "
                        + "not both");
            }
            if (labels == null && targets == null) {
                throw new IllegalArgumentException("labels: cross-entropy needs class indices (DeviceBatch.labels) "
                        + "or dense targets (DeviceBatch.targets)");
            }
            return labels != null ? LossKind.CROSS_ENTROPY : LossKind.CROSS_ENTROPY_DENSE;
        }
        if (loss instanceof SoftmaxFocal) {
            if (labels == null) {
                throw new IllegalArgumentException("labels: softmax focal loss needs class indices "
                        + "(DeviceBatch.labels)");
            }
            if (targets != null) {
                throw new IllegalArgumentException("targets: softmax focal loss takes class indices, "
                        + "not dense targets");
            }
            return LossKind.SOFTMAX_FOCAL;
        }
        LossKind kind = loss instanceof BinaryCrossEntropy ? LossKind.BINARY_CROSS_ENTROPY
                : loss instanceof MeanSquaredError ? LossKind.MEAN_SQUARED_ERROR : LossKind.SIGMOID_FOCAL;
        if (labels != null) {
            throw new IllegalArgumentException("labels: " + kind + " takes dense targets (DeviceBatch.targets), "
                    + "not class indices");
        }
        if (targets == null) {
            throw new IllegalArgumentException("targets: " + kind + " needs dense targets (DeviceBatch.targets)");
        }
        return kind;
    }
}
