package org.fusedloss.cuda;

import java.util.Objects;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.fusedloss.Backend;
import org.fusedloss.Backends;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;
import org.fusedloss.Reduction;
import org.fusedloss.cuda.internal.CudaBackend;
import org.fusedloss.cuda.internal.DeviceAddress;
import org.fusedloss.internal.BatchData;
import org.fusedloss.internal.LossAccess;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;

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
 * {@link IllegalArgumentException} as on the CPU (the outputs then hold unspecified values). The
 * sizes cannot be checked: each buffer must hold what its shape needs, as with any CUDA kernel.
 * The call launches on the batch's stream (default: the default stream) and returns after reading
 * back the small result, which waits for that stream.
 * A batch is a small mutable description meant to be built for one call; it is not thread-safe.
 */
public final class DeviceBatch {
    /** What was set, as the loss validates it (the same code as for a host batch). */
    private final BatchData data;
    private CUstream stream;

    private DeviceBatch(long logits, int rows, int cols) {
        Span.device("logits", logits);  // a 0 address is refused naming the parameter
        // the loss's messages name it "predictions", as for a host Batch
        this.data = new BatchData("DeviceBatch", Span.device("predictions", logits), rows, cols);
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
        return new DeviceBatch(logitsAddress, rows, cols);
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
        return new DeviceBatch(address("logits", logits), rows, cols);
    }

    /** {@return the number of rows (samples)} */
    public int rows() {
        return data.rows;
    }

    /** {@return the number of columns: classes for the softmax losses, outputs for the element-wise ones} */
    public int cols() {
        return data.cols;
    }

    /**
     * Class indices, {@code rows} int32 values ({@code 0 <= y < cols}, or the ignore index).
     *
     * @param address the device address of the labels (int32, one per row), not 0
     * @return this batch
     */
    public DeviceBatch labels(long address) {
        data.labels = Span.device("labels", address);
        return this;
    }

    /**
     * Class indices, {@code rows} int32 values.
     *
     * @param labels the labels: int32 class indices, one per row, in device memory
     * @return this batch
     */
    public DeviceBatch labels(CUdeviceptr labels) {
        data.labels = Span.device("labels", address("labels", labels));
        return this;
    }

    /**
     * Dense targets of the logits' shape.
     *
     * @param address the device address of the dense targets (the logits' shape), not 0
     * @return this batch
     */
    public DeviceBatch targets(long address) {
        data.targets = Span.device("targets", address);
        return this;
    }

    /**
     * Dense targets of the logits' shape.
     *
     * @param targets the dense targets (the logits' shape) in device memory
     * @return this batch
     */
    public DeviceBatch targets(CUdeviceptr targets) {
        data.targets = Span.device("targets", address("targets", targets));
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
        data.sampleWeights = Span.device("sampleWeights", address);
        data.sampleWeightStride = stride;
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
        data.sampleWeights = Span.device("sampleWeights", address("sampleWeights", weights));
        data.sampleWeightStride = stride;
        return this;
    }

    /**
     * Weights of the logits' shape (element-wise losses only); NaN masks an element.
     *
     * @param address the device address of the element weights (the logits' shape), not 0
     * @return this batch
     */
    public DeviceBatch elementWeights(long address) {
        data.elementWeights = Span.device("elementWeights", address);
        return this;
    }

    /**
     * Weights of the logits' shape (element-wise losses only).
     *
     * @param weights the weights in device memory; NaN marks a missing one
     * @return this batch
     */
    public DeviceBatch elementWeights(CUdeviceptr weights) {
        data.elementWeights = Span.device("elementWeights", address("elementWeights", weights));
        return this;
    }

    /**
     * For {@link Reduction#NONE}: the upstream gradient of each term (rows for softmax losses, elements otherwise).
     *
     * @param address the device address of the upstream gradient of each term, not 0
     * @return this batch
     */
    public DeviceBatch upstream(long address) {
        data.upstream = Span.device("upstream", address);
        return this;
    }

    /**
     * For {@link Reduction#NONE}: the upstream gradient of each term.
     *
     * @param upstream the upstream gradient of each term in device memory
     * @return this batch
     */
    public DeviceBatch upstream(CUdeviceptr upstream) {
        data.upstream = Span.device("upstream", address("upstream", upstream));
        return this;
    }

    /**
     * Where the gradient goes (the logits' shape); it may be the logits themselves (in place).
     *
     * @param address the device address of the gradient output (the logits' shape), not 0
     * @return this batch
     */
    public DeviceBatch gradient(long address) {
        data.gradient = Span.device("gradient", address);
        return this;
    }

    /**
     * Where the gradient goes (the logits' shape); it may be the logits themselves (in place).
     *
     * @param gradient where the gradient goes in device memory (may be the logits)
     * @return this batch
     */
    public DeviceBatch gradient(CUdeviceptr gradient) {
        data.gradient = Span.device("gradient", address("gradient", gradient));
        return this;
    }

    /**
     * Where each term's weighted loss goes, with any reduction (see {@link org.fusedloss.Batch#perTerm(float[])}).
     *
     * @param address the device address of the per-term losses output, not 0
     * @return this batch
     */
    public DeviceBatch perTerm(long address) {
        data.perTerm = Span.device("perTerm", address);
        return this;
    }

    /**
     * Where each term's weighted loss goes, with any reduction.
     *
     * @param perTerm where the per-term losses go in device memory
     * @return this batch
     */
    public DeviceBatch perTerm(CUdeviceptr perTerm) {
        data.perTerm = Span.device("perTerm", address("perTerm", perTerm));
        return this;
    }

    /**
     * For MEAN and BATCH_MEAN: divide by this instead of the local weight sum or count (see {@link org.fusedloss.Batch#denominator(double)}).
     *
     * @param denominator what MEAN or BATCH_MEAN divide by, finite and not negative
     * @return this batch
     */
    public DeviceBatch denominator(double denominator) {
        data.denominator = denominator;
        data.hasDenominator = true;
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

    private static long address(String name, CUdeviceptr p) {
        if (p == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        return DeviceAddress.of(p);
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
        LossRequest request = LossAccess.deviceRequest(Objects.requireNonNull(loss, "loss"), data);
        Backend found = Backends.cuda();
        if (!found.isAvailable() || !(found instanceof CudaBackend cuda)) {
            throw new IllegalStateException("the cuda backend is not available: "
                    + found.unavailabilityReason().orElse("Backends.cuda() is not this module's CUDA backend"));
        }
        return cuda.runOnDevice(request, stream);
    }
}
