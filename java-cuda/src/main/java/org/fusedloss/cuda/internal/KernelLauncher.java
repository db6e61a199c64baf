package org.fusedloss.cuda.internal;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import org.fusedloss.internal.LossKind;

/**
 * The kernel table of cuda/fusedloss_cuda.h, mirrored exactly: kernel names, flat parameter lists
 * (in order and type), launch configurations, workspace and result layout, error codes. One call
 * is two launches on one stream: prep (validates labels and weights, computes the denominator and
 * the gradient factor), then the loss kernel. Nothing here allocates or synchronizes; the backend
 * owns memory, streams and the context.
 */
final class KernelLauncher {

    // ---- launch configuration (FLC_* of fusedloss_cuda.h) ----
    static final int PREP_THREADS = 256;
    static final int PREP_MAX_BLOCKS = 1024;
    static final int SMALL_THREADS = 256;
    static final int SMALL_LANES = 4;
    static final int SMALL_ROWS_PER_BLOCK = 64;
    static final int SMALL_MAX_C = 32;
    static final int WARP_THREADS = 256;
    static final int WARP_ROWS_PER_BLOCK = 8;
    static final int WARP_MAX_C = 1024;
    static final int BLOCK_THREADS = 512;
    static final int BLOCK_MAX_C = 16384;
    static final int CLUSTER_SIZE = 8;
    static final int CLUSTER_MAX_C = 131072;
    static final int ELEM_THREADS = 256;
    static final int ELEM_PER_BLOCK = 1024;
    static final int MAX_PARTIALS = 4096;

    // ---- workspace and result ----
    static final int WORKSPACE_HEADER_BYTES = 256;
    static final int WORKSPACE_BYTES = WORKSPACE_HEADER_BYTES + PREP_MAX_BLOCKS * 32 + MAX_PARTIALS * 16;
    static final int RESULT_DOUBLES = 16;
    static final int R_LOSS = 0;
    static final int R_LOSS_SUM = 1;
    static final int R_DENOMINATOR = 2;
    static final int R_COUNTED = 3;
    static final int R_MASKED = 4;
    static final int R_NONFINITE = 5;
    static final int R_ERROR_CODE = 6;
    static final int R_ERROR_INDEX = 7;
    static final int R_ERROR_VALUE = 8;
    static final int R_GRAD_FACTOR = 9;
    static final int R_WEIGHT_SUM = 10;

    // ---- reductions (same values as the Java enum order) ----
    static final int NONE = 0;
    static final int SUM = 1;
    static final int MEAN = 2;
    static final int BATCH_MEAN = 3;

    // ---- error codes ----
    static final int ERR_LABEL = 1;
    static final int ERR_CLASS_WEIGHT = 2;
    static final int ERR_POS_WEIGHT = 3;
    static final int ERR_BINARY_CLASS_WEIGHT = 4;
    static final int ERR_SAMPLE_WEIGHT = 5;
    static final int ERR_ELEMENT_WEIGHT = 6;
    static final int ERR_TARGET = 7;
    static final int ERR_LAUNCH = 8;
    static final int ERR_UNSUPPORTED = 9;
    static final int ERR_GRAD_SCALE = 10;

    static final String ROWS_PREP = "flc_rows_prep";
    static final String ELEMS_PREP = "flc_elems_prep";

    /** The launch shapes of the softmax kernels (every one is correct for every C; they differ in speed). */
    enum Variant {
        SMALL, WARP, BLOCK, CLUSTER;

        String suffix() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * For tests: forces one softmax variant (null: pick by C and the device as the header says).
     * The cluster variant is only ever launched on compute capability 9.0 or newer.
     */
    static volatile Variant forcedVariant;

    /** Every kernel of the fatbin, prep first. */
    static List<String> kernelNames() {
        List<String> names = new ArrayList<>(List.of(ROWS_PREP, ELEMS_PREP));
        for (String base : List.of("flc_cross_entropy", "flc_softmax_focal")) {
            for (Variant v : Variant.values()) {
                names.add(base + "_" + v.suffix());
            }
        }
        names.addAll(List.of("flc_binary_cross_entropy", "flc_mean_squared_error", "flc_sigmoid_focal"));
        return names;
    }

    /**
     * One call, every pointer a device pointer (null: absent). Class weights / alpha / pos weight /
     * binary class weights are the device copies of the loss's vectors.
     */
    record Call(LossKind kind, long n, long c,
                CUdeviceptr predictions, CUdeviceptr labels, CUdeviceptr targets,
                CUdeviceptr sampleWeights, long sampleWeightStride, CUdeviceptr elementWeights,
                CUdeviceptr upstream, CUdeviceptr gradient, CUdeviceptr perTerm,
                CUdeviceptr classWeights, CUdeviceptr alpha, CUdeviceptr posWeight, CUdeviceptr binaryClassWeights,
                int ignoreIndex, float labelSmoothing, float zLoss, float softCap, float focalAlpha, float gamma,
                int reduction, double gradScale, double denominator) {
    }

    /** One kernel launch: name, 1-D grid and block, and the flat argument list. */
    record Launch(String kernel, int grid, int threads, Args args) {
    }

    /** Puts one launch on a stream and returns the CUresult (cuLaunchKernel; a test's stand-in). */
    interface Driver {
        int launch(Launch launch, CUstream stream);
    }

    private final Driver driver;
    // Cleared, for good, when a cluster launch fails and the block kernel then runs: a cluster of
    // 8 blocks cannot be scheduled here (an MPS client's SM limit, a small MIG slice).
    private volatile boolean clusterCapable;

    /** Looks every kernel up in the module (the context that holds it must be current). */
    KernelLauncher(CUmodule module, boolean clusterCapable) {
        Map<String, CUfunction> functions = new LinkedHashMap<>();
        for (String name : kernelNames()) {
            CUfunction f = new CUfunction();
            CudaBackend.check(cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
            functions.put(name, f);
        }
        this.driver = (l, stream) -> cuLaunchKernel(functions.get(l.kernel()),
                l.grid(), 1, 1, l.threads(), 1, 1, 0, stream, l.args().pointer(), null);
        this.clusterCapable = clusterCapable;
    }

    /** For tests: launches through {@code driver}. */
    KernelLauncher(boolean clusterCapable, Driver driver) {
        this.driver = driver;
        this.clusterCapable = clusterCapable;
    }

    /** Whether the softmax losses still use the cluster kernels for long rows. */
    boolean clusterCapable() {
        return clusterCapable;
    }

    /**
     * Launches prep then main on the stream (null: the default stream); asynchronous. A cluster
     * launch that fails (the device cannot schedule a cluster of {@link #CLUSTER_SIZE} blocks)
     * is replaced by the block kernel, which reads the same prep results; if that runs, clusters
     * are not tried again.
     */
    void launch(Call call, CUdeviceptr workspace, CUdeviceptr result, CUstream stream) {
        boolean clusters = clusterCapable;
        List<Launch> plan = plan(call, workspace, result, clusters);
        launchOrThrow(plan.get(0), stream);
        Launch main = plan.get(1);
        int rc = driver.launch(main, stream);
        if (rc != CUresult.CUDA_SUCCESS && main.kernel().endsWith("_" + Variant.CLUSTER.suffix())) {
            Launch block = main(call, workspace, result, false);
            if (driver.launch(block, stream) == CUresult.CUDA_SUCCESS) {
                clusterCapable = false;
                return;
            }
        }
        CudaBackend.check(rc, describe(main));
    }

    private void launchOrThrow(Launch l, CUstream stream) {
        CudaBackend.check(driver.launch(l, stream), describe(l));
    }

    private static String describe(Launch l) {
        return "cuLaunchKernel(" + l.kernel() + ", grid " + l.grid() + ", block " + l.threads() + ")";
    }

    // ---------------------------------------------------------------------------------------------
    // The launches of one call: pure functions of the call, tested without a GPU.

    static List<Launch> plan(Call call, CUdeviceptr workspace, CUdeviceptr result, boolean clusterCapable) {
        return List.of(prep(call, workspace), main(call, workspace, result, clusterCapable));
    }

    static long cdiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private static int clamp(long blocks, long max) {
        return (int) Math.max(1, Math.min(blocks, max));
    }

    static Launch prep(Call q, CUdeviceptr ws) {
        Args a = new Args();
        if (q.kind().perRow()) {
            // flc_rows_prep(n, c, labels, ignore_index, class_weights, class_weight_in_denominator,
            //               sample_weights, sample_weight_stride, reduction, grad_scale, denominator, ws)
            boolean indices = q.kind() != LossKind.CROSS_ENTROPY_DENSE;
            CUdeviceptr rowVector = q.kind() == LossKind.SOFTMAX_FOCAL ? q.alpha() : q.classWeights();
            int inDenominator = q.kind() == LossKind.CROSS_ENTROPY ? 1 : 0;
            a.longLong(q.n()).longLong(q.c()).ptr(indices ? q.labels() : null).int32(q.ignoreIndex())
                    .ptr(rowVector).int32(inDenominator)
                    .ptr(q.sampleWeights()).longLong(q.sampleWeightStride())
                    .int32(q.reduction()).float64(q.gradScale()).float64(q.denominator()).ptr(ws);
            int grid = clamp(cdiv(Math.max(q.n(), q.c()), PREP_THREADS), PREP_MAX_BLOCKS);
            return new Launch(ROWS_PREP, grid, PREP_THREADS, a);
        }
        // flc_elems_prep(n, k, sample_weights, sample_weight_stride, element_weights, column_weights,
        //                binary_class_weights, reduction, grad_scale, denominator, ws)
        boolean bce = q.kind() == LossKind.BINARY_CROSS_ENTROPY;
        a.longLong(q.n()).longLong(q.c()).ptr(q.sampleWeights()).longLong(q.sampleWeightStride())
                .ptr(q.elementWeights()).ptr(bce ? q.posWeight() : null).ptr(bce ? q.binaryClassWeights() : null)
                .int32(q.reduction()).float64(q.gradScale()).float64(q.denominator()).ptr(ws);
        long items = q.elementWeights() != null ? q.n() * q.c() : q.n();
        int grid = clamp(cdiv(Math.max(Math.max(items, q.c()), 2), PREP_THREADS), PREP_MAX_BLOCKS);
        return new Launch(ELEMS_PREP, grid, PREP_THREADS, a);
    }

    /**
     * The softmax variant for C on this device (header: small up to 32, warp up to 1024, cluster
     * above 16384 on sm_90+, block otherwise).
     */
    static Variant variant(long c, boolean clusterCapable) {
        Variant forced = forcedVariant;
        if (forced != null && (forced != Variant.CLUSTER || clusterCapable)) {
            return forced;
        }
        if (c <= SMALL_MAX_C) {
            return Variant.SMALL;
        }
        if (c <= WARP_MAX_C) {
            return Variant.WARP;
        }
        return clusterCapable && c > BLOCK_MAX_C ? Variant.CLUSTER : Variant.BLOCK;
    }

    static Launch main(Call q, CUdeviceptr ws, CUdeviceptr result, boolean clusterCapable) {
        Args a = new Args();
        switch (q.kind()) {
            case CROSS_ENTROPY, CROSS_ENTROPY_DENSE -> {
                // (n, c, logits, labels, targets, ignore_index, class_weights, sample_weights,
                //  sample_weight_stride, label_smoothing, z_loss, soft_cap, upstream, grad, per_term, ws, result)
                boolean indices = q.kind() == LossKind.CROSS_ENTROPY;
                a.longLong(q.n()).longLong(q.c()).ptr(q.predictions())
                        .ptr(indices ? q.labels() : null).ptr(indices ? null : q.targets())
                        .int32(q.ignoreIndex()).ptr(q.classWeights()).ptr(q.sampleWeights())
                        .longLong(q.sampleWeightStride()).float32(q.labelSmoothing()).float32(q.zLoss())
                        .float32(q.softCap()).ptr(q.upstream()).ptr(q.gradient()).ptr(q.perTerm())
                        .ptr(ws).ptr(result);
                return softmaxLaunch("flc_cross_entropy", q, a, clusterCapable);
            }
            case SOFTMAX_FOCAL -> {
                // (n, c, logits, labels, ignore_index, alpha, gamma, sample_weights, sample_weight_stride,
                //  upstream, grad, per_term, ws, result)
                a.longLong(q.n()).longLong(q.c()).ptr(q.predictions()).ptr(q.labels()).int32(q.ignoreIndex())
                        .ptr(q.alpha()).float32(q.gamma()).ptr(q.sampleWeights()).longLong(q.sampleWeightStride())
                        .ptr(q.upstream()).ptr(q.gradient()).ptr(q.perTerm()).ptr(ws).ptr(result);
                return softmaxLaunch("flc_softmax_focal", q, a, clusterCapable);
            }
            case BINARY_CROSS_ENTROPY -> {
                // (n, k, logits, targets, pos_weight, binary_class_weights, sample_weights,
                //  sample_weight_stride, element_weights, upstream, grad, per_term, ws, result)
                a.longLong(q.n()).longLong(q.c()).ptr(q.predictions()).ptr(q.targets()).ptr(q.posWeight())
                        .ptr(q.binaryClassWeights()).ptr(q.sampleWeights()).longLong(q.sampleWeightStride())
                        .ptr(q.elementWeights()).ptr(q.upstream()).ptr(q.gradient()).ptr(q.perTerm())
                        .ptr(ws).ptr(result);
                return elementLaunch("flc_binary_cross_entropy", q, a);
            }
            case MEAN_SQUARED_ERROR -> {
                // (n, k, predictions, targets, sample_weights, sample_weight_stride, element_weights,
                //  upstream, grad, per_term, ws, result)
                a.longLong(q.n()).longLong(q.c()).ptr(q.predictions()).ptr(q.targets()).ptr(q.sampleWeights())
                        .longLong(q.sampleWeightStride()).ptr(q.elementWeights()).ptr(q.upstream())
                        .ptr(q.gradient()).ptr(q.perTerm()).ptr(ws).ptr(result);
                return elementLaunch("flc_mean_squared_error", q, a);
            }
            case SIGMOID_FOCAL -> {
                // (n, k, logits, targets, alpha, gamma, sample_weights, sample_weight_stride,
                //  element_weights, upstream, grad, per_term, ws, result)
                a.longLong(q.n()).longLong(q.c()).ptr(q.predictions()).ptr(q.targets()).float32(q.focalAlpha())
                        .float32(q.gamma()).ptr(q.sampleWeights()).longLong(q.sampleWeightStride())
                        .ptr(q.elementWeights()).ptr(q.upstream()).ptr(q.gradient()).ptr(q.perTerm())
                        .ptr(ws).ptr(result);
                return elementLaunch("flc_sigmoid_focal", q, a);
            }
            default -> throw new IllegalStateException("no CUDA kernel for " + q.kind());
        }
    }

    private static Launch softmaxLaunch(String base, Call q, Args a, boolean clusterCapable) {
        Variant v = variant(q.c(), clusterCapable);
        return switch (v) {
            case SMALL -> new Launch(base + "_small",
                    clamp(cdiv(q.n(), SMALL_ROWS_PER_BLOCK), MAX_PARTIALS), SMALL_THREADS, a);
            case WARP -> new Launch(base + "_warp",
                    clamp(cdiv(q.n(), WARP_ROWS_PER_BLOCK), MAX_PARTIALS), WARP_THREADS, a);
            case CLUSTER -> new Launch(base + "_cluster",
                    CLUSTER_SIZE * clamp(q.n(), MAX_PARTIALS), BLOCK_THREADS, a);
            case BLOCK -> new Launch(base + "_block", clamp(q.n(), MAX_PARTIALS), BLOCK_THREADS, a);
        };
    }

    private static Launch elementLaunch(String name, Call q, Args a) {
        return new Launch(name, clamp(cdiv(q.n() * q.c(), ELEM_PER_BLOCK), MAX_PARTIALS), ELEM_THREADS, a);
    }

    // ---------------------------------------------------------------------------------------------
    // Error word -> the exception the CPU side throws for the same input.

    /**
     * The exception for a nonzero {@code result[FLC_R_ERROR_CODE]}, worded as on the CPU side
     * ({@code gradientScale}: the loss's own, named by the message of a gradient factor that
     * overflows a double).
     */
    static RuntimeException error(double[] r, LossKind kind, long cols, int ignoreIndex, double gradientScale) {
        int code = (int) r[R_ERROR_CODE];
        long index = (long) r[R_ERROR_INDEX];
        double value = r[R_ERROR_VALUE];
        return switch (code) {
            case ERR_LABEL -> new IllegalArgumentException("labels[" + index + "] = " + (long) value
                    + " is outside [0, " + cols + ") and is not the ignore index " + ignoreIndex);
            case ERR_CLASS_WEIGHT -> vectorError(kind == LossKind.SOFTMAX_FOCAL ? "alpha" : "classWeights",
                    index, value);
            case ERR_POS_WEIGHT -> vectorError("posWeight", index, value);
            case ERR_BINARY_CLASS_WEIGHT -> vectorError("binaryClassWeights", index, value);
            case ERR_SAMPLE_WEIGHT -> weightError("sampleWeights", index, value);
            case ERR_ELEMENT_WEIGHT -> weightError("elementWeights", index, value);
            case ERR_TARGET -> new IllegalArgumentException("targets[" + index + "] = " + (float) value
                    + ": binary class weights need hard 0/1 targets");
            case ERR_LAUNCH -> new IllegalStateException("cuda: a grid larger than the workspace allows ("
                    + index + " blocks): the launch configuration does not match the kernels");
            case ERR_UNSUPPORTED -> new IllegalStateException("cuda: the cluster kernel ran on a device below "
                    + "compute capability 9.0");
            // the host path's message (Loss.compute), with the denominator the device summed
            case ERR_GRAD_SCALE -> new IllegalArgumentException("gradientScale / denominator = " + gradientScale
                    + " / " + value + " overflows a double");
            default -> new IllegalStateException("cuda: unknown error code " + code + " (index " + index
                    + ", value " + value + ")");
        };
    }

    private static IllegalArgumentException weightError(String name, long index, double value) {
        float w = (float) value;
        return new IllegalArgumentException(name + "[" + index + "] = " + w
                + (Float.isInfinite(w) ? " is infinite" : " is negative"));
    }

    private static IllegalArgumentException vectorError(String name, long index, double value) {
        float w = (float) value;
        if (Float.isNaN(w)) {
            return new IllegalArgumentException(name + "[" + index + "] = NaN; NaN marks a missing weight only "
                    + "for sample and element weights");
        }
        return weightError(name, index, value);
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * A flat kernel argument list: one host pointer per parameter, as cuLaunchKernel wants, and its
     * signature (J long long, I int, F float, D double, P pointer) so tests can check it against
     * the header.
     */
    static final class Args {
        private final List<Pointer> values = new ArrayList<>();
        private final StringBuilder signature = new StringBuilder();

        Args longLong(long v) {
            values.add(Pointer.to(new long[] {v}));
            signature.append('J');
            return this;
        }

        Args int32(int v) {
            values.add(Pointer.to(new int[] {v}));
            signature.append('I');
            return this;
        }

        Args float32(float v) {
            values.add(Pointer.to(new float[] {v}));
            signature.append('F');
            return this;
        }

        Args float64(double v) {
            values.add(Pointer.to(new double[] {v}));
            signature.append('D');
            return this;
        }

        /** A device pointer; null is the NULL device pointer ("absent"). */
        Args ptr(CUdeviceptr p) {
            values.add(Pointer.to(p == null ? new CUdeviceptr() : p));
            signature.append('P');
            return this;
        }

        String signature() {
            return signature.toString();
        }

        Pointer pointer() {
            return Pointer.to(values.toArray(new Pointer[0]));
        }
    }
}
