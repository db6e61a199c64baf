package org.fusedloss.nativecpu;

import java.nio.Buffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Optional;
import org.bytedeco.javacpp.Loader;
import org.fusedloss.Backend;
import org.fusedloss.KernelSums;
import org.fusedloss.LossRequest;

/**
 * The native CPU backend: the C++ kernels of native/ (AVX-512, AVX2 or scalar, picked once from
 * CPUID), multi-threaded over rows, bound through JavaCPP. Loading is attempted once, on first
 * use; if it fails (another OS or CPU, a missing library) the backend reports itself unavailable
 * with the reason, and {@link org.fusedloss.Backends#best()} falls back to the Java backend.
 *
 * <p>System properties read at load: {@code fusedloss.native.isa} (scalar, avx2, avx512: force a
 * lower instruction set) and {@code fusedloss.native.threads}. The environment variables
 * {@code FUSEDLOSS_ISA} and {@code FUSEDLOSS_THREADS} do the same from outside the JVM.
 */
public final class NativeBackend implements Backend {
    /** System property that forces an instruction set: scalar, avx2 or avx512. */
    public static final String ISA_PROPERTY = "fusedloss.native.isa";
    /** System property that sets the number of worker threads. */
    public static final String THREADS_PROPERTY = "fusedloss.native.threads";
    /** The most worker threads {@link #setThreads} takes (native/thread_pool.h, kMaxThreads). */
    public static final int MAX_THREADS = 1024;
    /** System property that turns the native backend off (a kill switch): {@code true}. */
    public static final String DISABLE_PROPERTY = "fusedloss.native.disable";

    private final String unavailable;

    public NativeBackend() {
        this.unavailable = load();
    }

    /** Loads the library and applies the properties; returns why it failed, or null. */
    private static String load() {
        if (Boolean.getBoolean(DISABLE_PROPERTY)) {
            return "turned off by -D" + DISABLE_PROPERTY + "=true";
        }
        String platform = Loader.getPlatform();
        if (!"linux-x86_64".equals(platform)) {
            return "the jar carries the native library for linux-x86_64 only, this is " + platform;
        }
        try {
            Loader.load(NativeKernels.class);
        } catch (Throwable t) {
            return "the native library did not load: " + t;
        }
        String isa = System.getProperty(ISA_PROPERTY);
        if (isa != null && NativeKernels.setIsa(isa) != 0) {
            return "-D" + ISA_PROPERTY + "=" + isa + ": " + NativeKernels.lastError();
        }
        String threads = System.getProperty(THREADS_PROPERTY);
        if (threads != null) {
            try {
                setThreadsChecked(Integer.parseInt(threads.trim()));
            } catch (IllegalArgumentException e) {
                return "-D" + THREADS_PROPERTY + "=" + threads + ": " + e.getMessage();
            }
        }
        return null;
    }

    @Override
    public String name() {
        return "native";
    }

    @Override
    public boolean isAvailable() {
        return unavailable == null;
    }

    @Override
    public Optional<String> unavailabilityReason() {
        return Optional.ofNullable(unavailable);
    }

    @Override
    public String describe() {
        return isAvailable() ? "native (" + isa() + ", " + threads() + " threads, " + NativeKernels.version() + ")"
                : "native (unavailable: " + unavailable + ")";
    }

    /** The instruction set in use: avx512, avx2 or scalar. */
    public String isa() {
        ensureAvailable();
        return NativeKernels.isa();
    }

    /** Whether this CPU can run the named instruction set. */
    public boolean isaSupported(String isa) {
        ensureAvailable();
        return NativeKernels.isaSupported(isa) == 1;
    }

    /** Forces an instruction set (for tests and benchmarks); an unknown or unsupported one is an error. */
    public void setIsa(String isa) {
        ensureAvailable();
        if (NativeKernels.setIsa(isa) != 0) {
            throw new IllegalArgumentException("isa = " + isa + ": " + NativeKernels.lastError());
        }
    }

    /** The number of worker threads. */
    public int threads() {
        ensureAvailable();
        return NativeKernels.threads();
    }

    /**
     * Sets the number of worker threads, 1 to {@link #MAX_THREADS}; a call starts no more of them
     * than it has row blocks. Results are bit-identical for any count.
     */
    public void setThreads(int threads) {
        ensureAvailable();
        setThreadsChecked(threads);
    }

    private static void setThreadsChecked(int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads = " + threads + " must be in [1, " + MAX_THREADS + "]");
        }
        if (NativeKernels.setThreads(threads) != 0) {
            throw new IllegalArgumentException("threads = " + threads + ": " + NativeKernels.lastError());
        }
    }

    private void ensureAvailable() {
        if (unavailable != null) {
            throw new IllegalStateException("the native backend is not available: " + unavailable);
        }
    }

    @Override
    public KernelSums run(LossRequest r) {
        ensureAvailable();
        double[] result = new double[2];
        FloatBuffer x = r.predictions(), t = r.targets(), sw = r.sampleWeights(), ew = r.elementWeights();
        FloatBuffer up = r.upstream(), g = r.gradient(), pt = r.perTerm();
        IntBuffer y = r.labels();
        long sws = r.sampleWeightStride();
        int code = switch (r.kind()) {
            case CROSS_ENTROPY, CROSS_ENTROPY_DENSE -> NativeKernels.crossEntropy(r.rows(), r.cols(),
                    array(x), at(x), array(y), at(y), array(t), at(t), r.ignoreIndex(), r.classWeights(),
                    array(sw), at(sw), sws, r.labelSmoothing(), r.zLoss(), r.softCap(),
                    array(up), at(up), r.gradScale(), array(g), at(g), array(pt), at(pt), result);
            case SOFTMAX_FOCAL -> NativeKernels.softmaxFocal(r.rows(), r.cols(), array(x), at(x), array(y), at(y),
                    r.ignoreIndex(), r.alpha(), r.gamma(), array(sw), at(sw), sws,
                    array(up), at(up), r.gradScale(), array(g), at(g), array(pt), at(pt), result);
            case BINARY_CROSS_ENTROPY -> NativeKernels.binaryCrossEntropy(r.rows(), r.cols(), array(x), at(x),
                    array(t), at(t), r.posWeight(), r.binaryClassWeights(), array(sw), at(sw), sws,
                    array(ew), at(ew), array(up), at(up), r.gradScale(), array(g), at(g), array(pt), at(pt),
                    result);
            case MEAN_SQUARED_ERROR -> NativeKernels.meanSquaredError(r.rows(), r.cols(), array(x), at(x),
                    array(t), at(t), array(sw), at(sw), sws, array(ew), at(ew), array(up), at(up),
                    r.gradScale(), array(g), at(g), array(pt), at(pt), result);
            case SIGMOID_FOCAL -> NativeKernels.sigmoidFocal(r.rows(), r.cols(), array(x), at(x), array(t), at(t),
                    r.focalAlpha(), r.gamma(), array(sw), at(sw), sws, array(ew), at(ew), array(up), at(up),
                    r.gradScale(), array(g), at(g), array(pt), at(pt), result);
        };
        if (code != 0) {
            String message = "native " + r.kind() + " failed (code " + code + "): " + NativeKernels.lastError();
            throw code == 3 ? new IllegalStateException(message) : new IllegalArgumentException(message);
        }
        return new KernelSums(result[0], (long) result[1]);
    }

    /**
     * The pass the loss classes make over labels and weights before each call (fusedloss.h,
     * {@code fl_weight_sums}), natively: {weight sum, counted, masked}, or null where it found a bad
     * label or weight, which the caller's Java pass then reports by argument, index and value.
     * Internal to the loss classes; the arguments have been range-checked against the batch.
     */
    public double[] weightSums(long rows, long cols, IntBuffer labels, int ignoreIndex, float[] classWeights,
                               FloatBuffer sampleWeights, long sampleWeightStride, FloatBuffer elementWeights) {
        ensureAvailable();
        double[] result = new double[3];
        int code = NativeKernels.weightSums(rows, cols, array(labels), at(labels), ignoreIndex, classWeights,
                array(sampleWeights), at(sampleWeights), sampleWeightStride, array(elementWeights),
                at(elementWeights), result);
        return code == 0 ? result : null;
    }

    // A buffer as the binding takes it (NativeKernels): its heap array and the offset of its
    // position there, or no array and the address of its position in a direct buffer. The loss
    // classes accept only these two kinds (direct, or backed by an accessible array).

    private static float[] array(FloatBuffer b) {
        return b != null && b.hasArray() ? b.array() : null;
    }

    private static int[] array(IntBuffer b) {
        return b != null && b.hasArray() ? b.array() : null;
    }

    private static long at(Buffer b) {
        if (b == null) {
            return 0;
        }
        if (b.hasArray()) {
            return b.arrayOffset() + b.position();
        }
        return direct(b instanceof IntBuffer ints ? NativeKernels.address(ints)
                : NativeKernels.address((FloatBuffer) b));
    }

    private static long direct(long address) {
        if (address == 0) {
            throw new IllegalArgumentException("a buffer is neither direct nor backed by an accessible array");
        }
        return address;
    }
}
