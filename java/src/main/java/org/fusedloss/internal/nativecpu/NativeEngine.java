package org.fusedloss.internal.nativecpu;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;
import org.bytedeco.javacpp.Loader;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Settings;

/**
 * The native CPU backend's engine: the C++ kernels of native/ (AVX-512, AVX2 or scalar, picked
 * once from CPUID), multi-threaded over rows, bound through JavaCPP. Loading is attempted once, on
 * first use; if it fails (another OS or CPU, a missing library, JavaCPP absent, a setting with a
 * bad value) the backend reports itself unavailable with the reason, and
 * {@link org.fusedloss.Backends#best()} falls back to the Java backend. Nothing here throws while
 * loading: {@link org.fusedloss.nativecpu.NativeBackend}, the public face, delegates to it.
 *
 * <p>Settings read at load ({@link Settings}): {@code fusedloss.native.disable},
 * {@code fusedloss.native.isa} (scalar, avx2, avx512: force a lower instruction set) and
 * {@code fusedloss.native.threads} (default: {@link Runtime#availableProcessors()}, which honours
 * CPU affinity and container quotas).
 */
public final class NativeEngine implements KernelBackend {
    /** The most worker threads a setting may ask for. */
    static final int MAX_THREADS_SETTING = 4096;

    private static final class Holder {
        static final NativeEngine INSTANCE = new NativeEngine();
    }

    private final String unavailable;

    private NativeEngine() {
        this.unavailable = load();
    }

    /** The one engine (the library's state is per process). */
    public static NativeEngine get() {
        return Holder.INSTANCE;
    }

    /** Loads the library and applies the settings; returns why it failed, or null. Never throws. */
    private static String load() {
        try {
            Optional<Settings.Value> disable = Settings.read(Settings.NATIVE_DISABLE);
            if (disable.isPresent() && disable.get().bool()) {
                return disable.get() + " turns the native backend off";
            }
            Optional<Settings.Value> isaSetting = Settings.read(Settings.NATIVE_ISA);
            String isa = isaSetting.isPresent() ? isaSetting.get().oneOf("avx512", "avx2", "scalar") : null;
            Optional<Settings.Value> threadsSetting = Settings.read(Settings.NATIVE_THREADS);
            int threads = threadsSetting.isPresent() ? threadsSetting.get().integer(1, MAX_THREADS_SETTING)
                    : Runtime.getRuntime().availableProcessors();
            String platform;
            try {
                platform = Loader.getPlatform();
            } catch (LinkageError e) {
                return "JavaCPP (org.bytedeco:javacpp) is missing: not on the class path, or not in the module "
                        + "graph (" + e + ")";
            }
            if (!"linux-x86_64".equals(platform)) {
                return "the jar carries the native library for linux-x86_64 only, this is " + platform;
            }
            try {
                Loader.load(NativeKernels.class);
            } catch (Throwable t) {
                return "the native library did not load: " + t;
            }
            if (isa != null && NativeKernels.setIsa(isa) != 0) {
                return isaSetting.get() + ": " + NativeKernels.lastError();
            }
            try {
                setThreadsChecked(threads);
            } catch (IllegalArgumentException e) {
                return (threadsSetting.isPresent() ? threadsSetting.get().toString()
                        : "threads = " + threads + " (Runtime.availableProcessors())") + ": " + e.getMessage();
            }
            return null;
        } catch (Settings.Invalid e) {
            return e.getMessage();
        } catch (Throwable t) {
            return "the native backend failed to start: " + t;
        }
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

    /** Sets the number of worker threads (at least 1). Results are bit-identical for any count. */
    public void setThreads(int threads) {
        ensureAvailable();
        setThreadsChecked(threads);
    }

    private static void setThreadsChecked(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads = " + threads + " must be at least 1");
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
        Scratch result = Scratch.get();
        FloatBuffer x = r.predictions(), t = r.targets(), sw = r.sampleWeights(), ew = r.elementWeights();
        FloatBuffer up = r.upstream(), g = r.gradient(), pt = r.perTerm();
        IntBuffer y = r.labels();
        long sws = r.sampleWeightStride();
        int code = switch (r.kind()) {
            case CROSS_ENTROPY, CROSS_ENTROPY_DENSE -> NativeKernels.crossEntropy(r.rows(), r.cols(),
                    array(x), at(x), array(y), at(y), array(t), at(t), r.ignoreIndex(), vector(r.classWeights()),
                    array(sw), at(sw), sws, r.labelSmoothing(), r.zLoss(), r.softCap(),
                    array(up), at(up), r.gradScale(), array(g), at(g), array(pt), at(pt), result.address);
            case SOFTMAX_FOCAL -> NativeKernels.softmaxFocal(r.rows(), r.cols(), array(x), at(x), array(y), at(y),
                    r.ignoreIndex(), vector(r.alpha()), r.gamma(), array(sw), at(sw), sws,
                    array(up), at(up), r.gradScale(), array(g), at(g), array(pt), at(pt), result.address);
            case BINARY_CROSS_ENTROPY -> NativeKernels.binaryCrossEntropy(r.rows(), r.cols(), array(x), at(x),
                    array(t), at(t), vector(r.posWeight()), vector(r.binaryClassWeights()), array(sw), at(sw), sws,
                    array(ew), at(ew), array(up), at(up), r.gradScale(), array(g), at(g), array(pt), at(pt),
                    result.address);
            case MEAN_SQUARED_ERROR -> NativeKernels.meanSquaredError(r.rows(), r.cols(), array(x), at(x),
                    array(t), at(t), array(sw), at(sw), sws, array(ew), at(ew), array(up), at(up),
                    r.gradScale(), array(g), at(g), array(pt), at(pt), result.address);
            case SIGMOID_FOCAL -> NativeKernels.sigmoidFocal(r.rows(), r.cols(), array(x), at(x), array(t), at(t),
                    r.focalAlpha(), r.gamma(), array(sw), at(sw), sws, array(ew), at(ew), array(up), at(up),
                    r.gradScale(), array(g), at(g), array(pt), at(pt), result.address);
        };
        if (code != 0) {
            String message = "native " + r.kind() + " failed (code " + code + "): " + NativeKernels.lastError();
            throw code == 3 ? new IllegalStateException(message) : new IllegalArgumentException(message);
        }
        return new KernelSums(result.get(0), (long) result.get(1));
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
        Scratch result = Scratch.get();
        int code = NativeKernels.weightSums(rows, cols, array(labels), at(labels), ignoreIndex, vector(classWeights),
                array(sampleWeights), at(sampleWeights), sampleWeightStride, array(elementWeights),
                at(elementWeights), result.address);
        return code == 0 ? new double[] {result.get(0), result.get(1), result.get(2)} : null;
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

    // No heap array of the library's own crosses JNI: a heap array makes the glue enter a JNI
    // critical region (GetPrimitiveArrayCritical), which blocks garbage collection for the call
    // (GCLocker). The results come back through a per-thread direct buffer and the loss's small
    // vectors (class weights, alpha, pos_weight) through direct copies made once per loss, so a
    // call on direct buffers pins nothing.

    /** Direct copies of the losses' vectors, keyed by the (private, immutable) array's identity. */
    private static final Map<float[], FloatBuffer> VECTORS = new WeakHashMap<>();

    private static long vector(float[] v) {
        if (v == null) {
            return 0;
        }
        FloatBuffer copy;
        synchronized (VECTORS) {
            copy = VECTORS.computeIfAbsent(v, k -> ByteBuffer.allocateDirect(Math.max(1, k.length) * Float.BYTES)
                    .order(ByteOrder.nativeOrder()).asFloatBuffer().put(k).flip());
        }
        // The map keeps the copy alive while the loss (which holds v) is in use.
        return direct(NativeKernels.address(copy));
    }

    /** Where a native call writes its few result doubles: one direct buffer per thread. */
    private static final class Scratch {
        private static final ThreadLocal<Scratch> PER_THREAD = ThreadLocal.withInitial(Scratch::new);

        final ByteBuffer bytes = ByteBuffer.allocateDirect(4 * Double.BYTES).order(ByteOrder.nativeOrder());
        final long address = direct(NativeKernels.address(bytes.asFloatBuffer()));

        static Scratch get() {
            return PER_THREAD.get();
        }

        double get(int i) {
            return bytes.getDouble(i * Double.BYTES);
        }
    }

    private static long direct(long address) {
        if (address == 0) {
            throw new IllegalArgumentException("a buffer is neither direct nor backed by an accessible array");
        }
        return address;
    }
}
