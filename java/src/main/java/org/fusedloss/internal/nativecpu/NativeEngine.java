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
import org.fusedloss.internal.AbiRequest;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Settings;
import org.fusedloss.internal.Span;
import org.fusedloss.internal.WeightPass;
import org.fusedloss.internal.WeightStats;
import org.fusedloss.nativecpu.NativeBackend;

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
            Optional<Settings.Value> threadsSetting = Settings.read(Settings.NATIVE_THREADS);
            int threads = threadsSetting.isPresent() ? threadsSetting.get().integer(1, NativeBackend.MAX_THREADS)
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
            if (isaSetting.isPresent()) {
                String isa = isaSetting.get().oneOf(isas().toArray(new String[0]));  // the library's names
                if (NativeKernels.setIsa(isa) != 0) {
                    return isaSetting.get() + ": " + NativeKernels.lastError();
                }
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

    /** Every instruction set the library has kernels for, best first (avx512, avx2, scalar). */
    public static java.util.List<String> isas() {
        java.util.List<String> names = new java.util.ArrayList<>();
        for (int i = 0, n = NativeKernels.isaCount(); i < n; i++) {
            names.add(NativeKernels.isaName(i));
        }
        return java.util.List.copyOf(names);
    }

    /** The instruction sets this CPU runs, best first. */
    public java.util.List<String> supportedIsas() {
        ensureAvailable();
        return isas().stream().filter(this::isaSupported).toList();
    }

    /** The layout the library expects: where each {@code fl_request} field lies, and each loss's kernel. */
    public static long requestOffset(String field) {
        return NativeKernels.requestOffset(field);
    }

    /** The kernel name of an {@code fl_loss} value, null outside the list. */
    public static String lossName(int loss) {
        return NativeKernels.lossName(loss);
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

    /** Sets the number of worker threads (1 to NativeBackend.MAX_THREADS). Results are bit-identical for any count. */
    public void setThreads(int threads) {
        ensureAvailable();
        setThreadsChecked(threads);
    }

    private static void setThreadsChecked(int threads) {
        if (threads < 1 || threads > NativeBackend.MAX_THREADS) {
            throw new IllegalArgumentException("threads = " + threads + " must be in [1, " + NativeBackend.MAX_THREADS + "]");
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
        Scratch scratch = Scratch.get();
        int code = compute(r, scratch);
        if (code != 0) {
            String message = "native " + r.kind() + " failed (code " + code + "): " + NativeKernels.lastError();
            throw code == 3 ? new IllegalStateException(message) : new IllegalArgumentException(message);
        }
        return scratch.sums();
    }

    /** {@code fl_compute} of the request through this thread's scratch; its return code. */
    private static int compute(LossRequest r, Scratch scratch) {
        AbiRequest.write(scratch.request, 0, r, scratch);
        LossRequest.Inputs in = r.inputs();
        LossRequest.Outputs out = r.outputs();
        return NativeKernels.compute(scratch.requestAddress, floats(in.predictions()), ints(in.labels()),
                floats(in.targets()), floats(in.sampleWeights()), floats(in.elementWeights()), floats(in.upstream()),
                floats(out.gradient()), floats(out.perTerm()), scratch.resultAddress);
    }

    /**
     * From this many terms on, the pass over labels and weights runs in native code (a tenth of the
     * Java loop's time, which at small C was a tenth of the whole call).
     */
    public static final long NATIVE_MIN_TERMS = 4096;

    /**
     * The pass over labels and weights (fusedloss.h, {@code fl_weight_sums}) in vector code from
     * {@link #NATIVE_MIN_TERMS} terms on; where it finds a bad label or weight, or the batch is
     * small, the Java pass runs, and names the bad value.
     */
    @Override
    public WeightStats weightStats(LossRequest r) {
        if (isAvailable() && nativeWeightPass(r)) {
            WeightStats s = nativeWeightStats(r);
            if (s != null) {
                return s;
            }
        }
        return WeightPass.run(r);
    }

    /** Whether {@link #weightStats} makes its pass in native code (else in Java). */
    private static boolean nativeWeightPass(LossRequest r) {
        LossRequest.Inputs in = r.inputs();
        boolean weighted = in.sampleWeights() != null || in.elementWeights() != null;
        long terms = in.elementWeights() != null ? r.elements() : r.rows();
        return (r.kind().perRow() || weighted) && terms >= NATIVE_MIN_TERMS;
    }

    /**
     * Where the weight pass is native ({@link #weightStats}), one {@code fl_compute} with the
     * denominator to find makes it and the loss: one call and one pass over the labels fewer than
     * the two steps (whose second checks the labels again), with the same code, so the same
     * results (CE 65536 x 10: 1.5-4 % of the call, Zen 4).
     */
    @Override
    public WeighedSums weighAndRun(LossRequest r) {
        if (!isAvailable() || !nativeWeightPass(r)) {
            return null;
        }
        Scratch scratch = Scratch.get();
        int code = compute(r, scratch);
        if (code == 3) {
            throw new IllegalStateException("native " + r.kind() + " failed (code 3): " + NativeKernels.lastError());
        }
        if (code != 0) {
            return null;  // a bad label or weight, or a gradient factor beyond a double: nothing written
        }
        return new WeighedSums(scratch.weightStats(), scratch.result(AbiRequest.R_DENOMINATOR), scratch.sums());
    }

    /** The native pass alone: its result, or null where it found a bad label or weight. */
    public WeightStats nativeWeightStats(LossRequest r) {
        ensureAvailable();
        Scratch scratch = Scratch.get();
        AbiRequest.write(scratch.request, 0, r, scratch);
        LossRequest.Inputs in = r.inputs();
        int code = NativeKernels.weightSums(scratch.requestAddress, ints(in.labels()), floats(in.sampleWeights()),
                floats(in.elementWeights()), scratch.resultAddress);
        if (code != 0) {
            return null;
        }
        return scratch.weightStats();
    }

    // A span as the binding takes it (NativeKernels): its heap array and the offset of its first
    // element there, or no array and the address of its first element in a direct buffer. The
    // loss classes accept only these two kinds (direct, or backed by an accessible array).

    private static float[] floats(Span s) {
        return s == null ? null : (float[]) s.heapArray();
    }

    private static int[] ints(Span s) {
        return s == null ? null : (int[]) s.heapArray();
    }

    private static long at(Span s) {
        if (s == null) {
            return 0;
        }
        if (s.heapArray() != null) {
            return s.offset();
        }
        Buffer b = s.directBuffer();
        long address = b instanceof IntBuffer ints ? NativeKernels.address(ints) : NativeKernels.address((FloatBuffer) b);
        return direct(address) + 4L * (s.offset() - b.position());  // the position it had when set
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

    /**
     * One thread's request (an {@code fl_request}) and result, in direct memory, and how spans and
     * vectors become its fields: a heap array's offset (the array goes beside), or an address.
     */
    private static final class Scratch implements AbiRequest.Pointers {
        private static final ThreadLocal<Scratch> PER_THREAD = ThreadLocal.withInitial(Scratch::new);

        final ByteBuffer request = ByteBuffer.allocateDirect(AbiRequest.BYTES).order(ByteOrder.nativeOrder());
        final ByteBuffer results = ByteBuffer.allocateDirect(AbiRequest.RESULT_DOUBLES * Double.BYTES)
                .order(ByteOrder.nativeOrder());
        final long requestAddress = direct(NativeKernels.address(request.asFloatBuffer()));
        final long resultAddress = direct(NativeKernels.address(results.asFloatBuffer()));

        static Scratch get() {
            return PER_THREAD.get();
        }

        double result(int i) {
            return results.getDouble(i * Double.BYTES);
        }

        /** What the last fl_compute summed. */
        KernelSums sums() {
            return new KernelSums(result(AbiRequest.R_LOSS_SUM), (long) result(AbiRequest.R_NONFINITE));
        }

        /** What the last weight pass (fl_weight_sums, or fl_compute making it) found. */
        WeightStats weightStats() {
            return new WeightStats(result(AbiRequest.R_WEIGHT_SUM), (long) result(AbiRequest.R_COUNTED),
                    (long) result(AbiRequest.R_MASKED));
        }

        @Override
        public long of(Span span) {
            return at(span);
        }

        @Override
        public long of(float[] vector) {
            return vector(vector);
        }
    }

    private static long direct(long address) {
        if (address == 0) {
            throw new IllegalArgumentException("a buffer is neither direct nor backed by an accessible array");
        }
        return address;
    }
}
