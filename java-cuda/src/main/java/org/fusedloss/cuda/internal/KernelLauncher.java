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
import org.fusedloss.internal.AbiRequest;
import org.fusedloss.internal.Errors;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossRequest;

/**
 * The kernel table of cuda/include/fusedloss_cuda.h, mirrored exactly: kernel names (from
 * {@link LossKind#kernel()}), parameters (the call's {@code fl_request} by value, written by
 * {@link AbiRequest} as for the CPU, then the workspace and the result), launch configurations,
 * workspace and result layout, error codes. One call is two launches on one stream: prep
 * (validates labels and weights, computes the denominator and the gradient factor), then the loss
 * kernel. Nothing here allocates or synchronizes: the backend owns memory, streams and the context.
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

    /** Every kernel of the fatbin, prep first: {@code flc_<kernel>} of each loss, a softmax one per launch shape. */
    static List<String> kernelNames() {
        List<String> names = new ArrayList<>(List.of(ROWS_PREP, ELEMS_PREP));
        for (LossKind kind : LossKind.values()) {
            String base = "flc_" + kind.kernel();
            for (Variant v : kind.perRow() ? Variant.values() : new Variant[0]) {
                names.add(base + "_" + v.suffix());
            }
            if (!kind.perRow()) {
                names.add(base);
            }
        }
        return List.copyOf(new java.util.LinkedHashSet<>(names));
    }

    /**
     * Where the kernels find a request's data: the device addresses of its spans and of the loss's
     * vectors, as the request's pointer fields hold them.
     */
    interface Memory extends AbiRequest.Pointers {
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
            CudaDriver.check(cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
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
    void launch(LossRequest call, Memory memory, CUdeviceptr workspace, CUdeviceptr result, CUstream stream) {
        boolean clusters = clusterCapable;
        List<Launch> plan = plan(call, memory, workspace, result, clusters);
        launchOrThrow(plan.get(0), stream);
        Launch main = plan.get(1);
        int rc = driver.launch(main, stream);
        if (rc != CUresult.CUDA_SUCCESS && main.kernel().endsWith("_" + Variant.CLUSTER.suffix())) {
            Launch block = main(call, memory, workspace, result, false);
            if (driver.launch(block, stream) == CUresult.CUDA_SUCCESS) {
                clusterCapable = false;
                return;
            }
        }
        CudaDriver.check(rc, describe(main));
    }

    private void launchOrThrow(Launch l, CUstream stream) {
        CudaDriver.check(driver.launch(l, stream), describe(l));
    }

    private static String describe(Launch l) {
        return "cuLaunchKernel(" + l.kernel() + ", grid " + l.grid() + ", block " + l.threads() + ")";
    }

    // ---------------------------------------------------------------------------------------------
    // The launches of one call: pure functions of the call, tested without a GPU.

    static List<Launch> plan(LossRequest call, Memory memory, CUdeviceptr workspace, CUdeviceptr result,
                             boolean clusterCapable) {
        return List.of(prep(call, memory, workspace), main(call, memory, workspace, result, clusterCapable));
    }

    static long cdiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private static int clamp(long blocks, long max) {
        return (int) Math.max(1, Math.min(blocks, max));
    }

    /** The call's {@code fl_request}, by value: the same bytes the CPU library reads, with device addresses. */
    static byte[] request(LossRequest q, Memory m) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(AbiRequest.BYTES).order(java.nio.ByteOrder.nativeOrder());
        AbiRequest.write(b, 0, q, m);
        return b.array();
    }

    static Launch prep(LossRequest q, Memory m, CUdeviceptr ws) {
        Args a = new Args().struct(request(q, m)).ptr(ws);
        long n = q.rows();
        long c = q.cols();
        if (q.kind().perRow()) {
            int grid = clamp(cdiv(Math.max(n, c), PREP_THREADS), PREP_MAX_BLOCKS);
            return new Launch(ROWS_PREP, grid, PREP_THREADS, a);
        }
        long items = q.inputs().elementWeights() != null ? n * c : n;
        int grid = clamp(cdiv(Math.max(Math.max(items, c), 2), PREP_THREADS), PREP_MAX_BLOCKS);
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

    static Launch main(LossRequest q, Memory m, CUdeviceptr ws, CUdeviceptr result, boolean clusterCapable) {
        Args a = new Args().struct(request(q, m)).ptr(ws).ptr(result);
        String kernel = "flc_" + q.kind().kernel();
        return q.kind().perRow() ? softmaxLaunch(kernel, q, a, clusterCapable) : elementLaunch(kernel, q, a);
    }

    private static Launch softmaxLaunch(String base, LossRequest q, Args a, boolean clusterCapable) {
        long n = q.rows();
        Variant v = variant(q.cols(), clusterCapable);
        return switch (v) {
            case SMALL -> new Launch(base + "_small",
                    clamp(cdiv(n, SMALL_ROWS_PER_BLOCK), MAX_PARTIALS), SMALL_THREADS, a);
            case WARP -> new Launch(base + "_warp",
                    clamp(cdiv(n, WARP_ROWS_PER_BLOCK), MAX_PARTIALS), WARP_THREADS, a);
            case CLUSTER -> new Launch(base + "_cluster",
                    CLUSTER_SIZE * clamp(n, MAX_PARTIALS), BLOCK_THREADS, a);
            case BLOCK -> new Launch(base + "_block", clamp(n, MAX_PARTIALS), BLOCK_THREADS, a);
        };
    }

    private static Launch elementLaunch(String name, LossRequest q, Args a) {
        return new Launch(name, clamp(cdiv(q.elements(), ELEM_PER_BLOCK), MAX_PARTIALS), ELEM_THREADS, a);
    }

    // ---------------------------------------------------------------------------------------------
    // Error word -> the exception the CPU side throws for the same input.

    /**
     * The exception for a nonzero {@code result[FLC_R_ERROR_CODE]}, worded as on the CPU side
     * ({@link Errors}; {@code gradientScale}: the loss's own, named by the message of a gradient
     * factor that overflows a double).
     */
    static RuntimeException error(double[] r, LossKind kind, long cols, int ignoreIndex, double gradientScale) {
        int code = (int) r[R_ERROR_CODE];
        long index = (long) r[R_ERROR_INDEX];
        double value = r[R_ERROR_VALUE];
        return switch (code) {
            case ERR_LABEL -> Errors.badLabel(index, (long) value, cols, ignoreIndex);
            case ERR_CLASS_WEIGHT -> vectorError(kind == LossKind.SOFTMAX_FOCAL ? "alpha" : "classWeights",
                    index, value);
            case ERR_POS_WEIGHT -> vectorError("posWeight", index, value);
            case ERR_BINARY_CLASS_WEIGHT -> vectorError("binaryClassWeights", index, value);
            case ERR_SAMPLE_WEIGHT -> Errors.badWeight("sampleWeights", index, (float) value);
            case ERR_ELEMENT_WEIGHT -> Errors.badWeight("elementWeights", index, (float) value);
            case ERR_TARGET -> Errors.notHardTarget(index, (float) value);
            case ERR_LAUNCH -> new IllegalStateException("cuda: a grid larger than the workspace allows ("
                    + index + " blocks): the launch configuration does not match the kernels");
            case ERR_UNSUPPORTED -> new IllegalStateException("cuda: the cluster kernel ran on a device below "
                    + "compute capability 9.0");
            // the host path's message, with the denominator the device summed
            case ERR_GRAD_SCALE -> Errors.gradFactorOverflow(gradientScale, value);
            default -> new IllegalStateException("cuda: unknown error code " + code + " (index " + index
                    + ", value " + value + ")");
        };
    }

    private static IllegalArgumentException vectorError(String name, long index, double value) {
        float w = (float) value;
        return Float.isNaN(w) ? Errors.nanInVector(name, index) : Errors.badWeight(name, index, w);
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * A kernel argument list: one host pointer per parameter, as cuLaunchKernel wants, and its
     * signature (S a struct by value, J long long, I int, F float, D double, P pointer) so tests can
     * check it against the header.
     */
    static final class Args {
        private final List<Pointer> values = new ArrayList<>();
        private final StringBuilder signature = new StringBuilder();

        /** A struct passed by value: its bytes. */
        Args struct(byte[] bytes) {
            values.add(Pointer.to(bytes));
            signature.append('S');
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
