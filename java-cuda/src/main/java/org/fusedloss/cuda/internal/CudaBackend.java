package org.fusedloss.cuda.internal;

import static jcuda.driver.JCudaDriver.cuCtxPopCurrent;
import static jcuda.driver.JCudaDriver.cuCtxPushCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import jcuda.runtime.cudaStream_t;
import org.fusedloss.LossResult;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Settings;
import org.fusedloss.internal.Span;

/**
 * The CUDA backend: the kernels of cuda/ (loaded from the fatbin inside the jar) launched through
 * JCuda's driver API. Users need an NVIDIA driver, not a CUDA toolkit.
 *
 * <p>Whether it is available is decided on first use and cached: the jar must carry the fatbin,
 * JCuda's native library must load (it needs the driver's libcuda.so), {@code cuInit} must find a
 * device, the driver must support CUDA 13.0 or newer (the fatbin is built by nvcc 13), and the
 * kernels must load on the device. Where any of that fails, {@link #isAvailable()} is false and
 * {@link #unavailabilityReason()} says why; nothing throws at class-load time.
 *
 * <p>It works in the device's <em>primary</em> context ({@code cuDevicePrimaryCtxRetain}), the one
 * the CUDA runtime and most libraries (PyTorch, cuBLAS) use, so device pointers and streams from
 * them can be passed directly. The context is pushed for the duration of each call and popped
 * after, so whatever context the calling thread had stays current.
 *
 * <p>Two ways to call it:
 * <ul>
 *   <li>Data in device memory: {@link org.fusedloss.cuda.DeviceBatch#compute(org.fusedloss.Loss)} (which calls
 *       {@link #runOnDevice(LossRequest, CUstream)}). Launches on the batch's stream and then waits for
 *       that stream to read the small result back.</li>
 *   <li>Data in host memory ({@link #run(LossRequest)}, used by
 *       {@code loss.compute(batch, Backends.cuda())}): a convenience that <em>copies</em> the inputs
 *       to the device, computes on the default stream, and copies the gradient and per-term losses
 *       back. The copies usually cost more than the kernels; it exists for tests and for callers
 *       that have host data only.</li>
 * </ul>
 *
 * <p>Settings (system property or environment variable, {@link Settings}), read once:
 * {@code fusedloss.cuda.device} (device index, default 0) and {@code fusedloss.cuda.disable=true}
 * (report unavailable without touching the driver).
 */
public final class CudaBackend implements KernelBackend {
    /** Setting: the index of the device to use (default 0). */
    public static final String DEVICE_PROPERTY = Settings.CUDA_DEVICE;
    /** Setting that turns the CUDA backend off: {@code true}. */
    public static final String DISABLE_PROPERTY = Settings.CUDA_DISABLE;
    /** Where the build puts the fatbin inside the jar. */
    public static final String FATBIN_RESOURCE = "/org/fusedloss/cuda/fusedloss.fatbin";
    /** The oldest driver API version the fatbin runs on: nvcc 13 output needs CUDA 13.0 (R580). */
    public static final int MIN_DRIVER_VERSION = 13000;

    private final Supplier<byte[]> fatbin;
    private final Object initLock = new Object();
    private volatile boolean initialized;
    private String unavailable;  // written before `initialized` (volatile) is set
    private Gpu gpu;

    /** The backend of {@link org.fusedloss.Backends#cuda()}; nothing is loaded until first use. */
    public CudaBackend() {
        this(CudaBackend::readFatbin);
    }

    /** For tests: a backend that loads the given fatbin bytes (null: none in the jar). */
    CudaBackend(Supplier<byte[]> fatbin) {
        this.fatbin = fatbin;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public boolean isAvailable() {
        init();
        return unavailable == null;
    }

    @Override
    public Optional<String> unavailabilityReason() {
        init();
        return Optional.ofNullable(unavailable);
    }

    @Override
    public String describe() {
        init();
        return unavailable == null ? "cuda (" + gpu.description() + ")" : "cuda (unavailable: " + unavailable + ")";
    }

    /** The device's compute capability as major * 10 + minor (90 for an H100). */
    public int computeCapability() {
        Gpu g = ensureAvailable();
        return g.ccMajor * 10 + g.ccMinor;
    }

    /**
     * Host-memory convenience: copies the request's inputs to the device, runs prep + loss kernel
     * on the default stream with the request's reduction, gradient scale and denominator (the
     * host's: the kernels divide by it as they would by their own), copies the gradient and
     * per-term losses back, and returns the loss sum. Device buffers are reused across calls (grown when a larger batch
     * comes). Throws {@link IllegalStateException} with the reason when not available.
     */
    @Override
    public KernelSums run(LossRequest request) {
        return ensureAvailable().runHost(request);
    }

    /**
     * Computes a loss on data already in device memory, on the given stream (null: the default
     * stream). Returns after reading back the small result, which synchronizes that stream: the
     * gradient and per-term losses are complete when this returns. A bad label or weight found by
     * the kernel throws the same {@link IllegalArgumentException} as on the CPU (the outputs then
     * hold unspecified values). Usually called through
     * {@link org.fusedloss.cuda.DeviceBatch#compute(org.fusedloss.Loss)}, which checks the shapes first.
     */
    public LossResult runOnDevice(LossRequest request, CUstream stream) {
        return ensureAvailable().runDevice(request, stream);
    }

    /** A {@link CUdeviceptr} for a raw device address (e.g. {@code tensor.data_ptr()}). */
    public static CUdeviceptr pointer(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    /**
     * A {@link CUstream} for a raw stream handle (e.g. {@code torch.cuda.current_stream().cuda_stream});
     * 0 is the default stream (returned as null). JCuda has no public constructor for this, so it is
     * made reflectively; pure Java, no driver call.
     */
    public static CUstream stream(long handle) {
        if (handle == 0) {
            return null;
        }
        try {
            Constructor<CUstream> c = CUstream.class.getDeclaredConstructor(long.class);
            c.setAccessible(true);
            return c.newInstance(handle);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalArgumentException("stream: cannot wrap the raw handle 0x" + Long.toHexString(handle)
                    + " in a JCuda CUstream (" + e + "); pass a CUstream instead", e);
        }
    }

    // ---------------------------------------------------------------------------------------------

    private Gpu ensureAvailable() {
        init();
        if (unavailable != null) {
            throw new IllegalStateException("the cuda backend is not available: " + unavailable);
        }
        return gpu;
    }

    private void init() {
        if (initialized) {
            return;
        }
        synchronized (initLock) {
            if (initialized) {
                return;
            }
            try {
                gpu = Gpu.open(fatbin);
            } catch (Unavailable | Settings.Invalid e) {
                unavailable = e.getMessage();
            } catch (Throwable t) {
                // Never let a loader or driver problem escape: the backend is then just unavailable.
                unavailable = "the CUDA backend failed to start: " + t;
            }
            initialized = true;
        }
    }

    private static byte[] readFatbin() {
        try (InputStream in = CudaBackend.class.getResourceAsStream(FATBIN_RESOURCE)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    /** Throws {@link IllegalStateException} naming the call and the error unless it is CUDA_SUCCESS. */
    static void check(int result, String what) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuda: " + what + " failed: " + CUresult.stringFor(result));
        }
    }

    /** Why the backend cannot run here; its message is the reason. */
    private static final class Unavailable extends Exception {
        Unavailable(String reason) {
            super(reason);
        }
    }

    /** Loads JCuda's driver binding once per JVM (its static initializer loads libcuda.so). */
    private static final class DriverLibrary {
        static final String FAILURE = load();

        private static String load() {
            try {
                int[] version = new int[1];
                cuDriverGetVersion(version);  // first touch of JCudaDriver: loads the native library
                return null;
            } catch (LinkageError e) {
                return describeLoadFailure(e);
            } catch (Throwable t) {
                return "the NVIDIA driver did not answer cuDriverGetVersion: " + t;
            }
        }

        /** JCuda's message is a page of nested stack traces; keep the line that says what is missing. */
        private static String describeLoadFailure(Throwable t) {
            String message = String.valueOf(t.getMessage());
            StringBuilder chain = new StringBuilder(message);
            for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
                chain.append('\n').append(c.getMessage());  // a second attempt's cause holds the first's text
            }
            int at = chain.indexOf("libcuda");
            if (at >= 0) {
                int end = chain.indexOf("\n", at);
                return "no NVIDIA driver: " + chain.substring(at, end < 0 ? chain.length() : end).trim()
                        + " (JCuda's driver binding needs the driver's libcuda.so)";
            }
            int end = message.indexOf('\n');
            return "JCuda's driver binding (libJCudaDriver) did not load: " + t.getClass().getName() + ": "
                    + (end < 0 ? message : message.substring(0, end)).trim();
        }
    }

    private static String version(int v) {
        return v / 1000 + "." + (v % 1000) / 10;
    }

    // ---------------------------------------------------------------------------------------------

    /** Everything that exists once the kernels are loaded: the device, its context, the caches. */
    private static final class Gpu {
        final int ordinal;
        final CUdevice device;
        final CUcontext context;
        final KernelLauncher launcher;
        final String name;
        final int ccMajor;
        final int ccMinor;
        final int multiprocessors;
        final int driverVersion;

        private final Map<StreamKey, Workspace> workspaces = new HashMap<>();  // guarded by itself
        private final VectorCache vectors = new VectorCache(this::upload, JCudaDriver::cuMemFree);
        private CUstream uploadStream;  // created on first use, guarded by uploadLock
        private final Object uploadLock = new Object();
        private final ReentrantLock hostLock = new ReentrantLock();           // guards staging
        private final Staging staging = new Staging();

        private Gpu(int ordinal, CUdevice device, CUcontext context, KernelLauncher launcher, String name,
                    int ccMajor, int ccMinor, int multiprocessors, int driverVersion) {
            this.ordinal = ordinal;
            this.device = device;
            this.context = context;
            this.launcher = launcher;
            this.name = name;
            this.ccMajor = ccMajor;
            this.ccMinor = ccMinor;
            this.multiprocessors = multiprocessors;
            this.driverVersion = driverVersion;
        }

        String description() {
            return name + ", device " + ordinal + ", sm_" + ccMajor + ccMinor + ", " + multiprocessors
                    + " SMs, driver CUDA " + version(driverVersion);
        }

        static Gpu open(Supplier<byte[]> fatbinSource) throws Unavailable, Settings.Invalid {
            Optional<Settings.Value> disable = Settings.read(DISABLE_PROPERTY);
            if (disable.isPresent() && disable.get().bool()) {
                throw new Unavailable(disable.get() + " turns the CUDA backend off");
            }
            Optional<Settings.Value> deviceSetting = Settings.read(DEVICE_PROPERTY);
            int wanted = deviceSetting.isPresent() ? deviceSetting.get().integer(0, Integer.MAX_VALUE) : 0;
            byte[] fatbin = fatbinSource.get();
            if (fatbin == null || fatbin.length == 0) {
                throw new Unavailable("the jar has no CUDA fatbin: it was built without nvcc, or with "
                        + "-Dfusedloss.skipFatbin=true");
            }
            if (DriverLibrary.FAILURE != null) {
                throw new Unavailable(DriverLibrary.FAILURE);
            }
            int rc = cuInit(0);
            if (rc == CUresult.CUDA_ERROR_NO_DEVICE) {
                throw new Unavailable("no GPU: cuInit found no CUDA device (CUDA_ERROR_NO_DEVICE)");
            }
            if (rc != CUresult.CUDA_SUCCESS) {
                throw new Unavailable("cuInit failed: " + CUresult.stringFor(rc) + " (the NVIDIA driver is not "
                        + "usable; the kernels need a driver for CUDA 13.0 / R580 or newer)");
            }
            int[] value = new int[1];
            check(cuDriverGetVersion(value), "cuDriverGetVersion");
            int driver = value[0];
            if (driver < MIN_DRIVER_VERSION) {
                throw new Unavailable("the NVIDIA driver supports CUDA " + version(driver) + " (driver API "
                        + driver + "), but the kernels in the jar were built by nvcc 13 and need a driver for "
                        + "CUDA 13.0 (R580) or newer");
            }
            check(cuDeviceGetCount(value), "cuDeviceGetCount");
            int count = value[0];
            if (count == 0) {
                throw new Unavailable("no GPU: the NVIDIA driver sees no CUDA device");
            }
            if (wanted >= count) {
                throw deviceSetting.get().invalid("but the driver sees " + count + " device" + (count == 1 ? "" : "s"));
            }
            int ordinal = wanted;
            CUdevice device = new CUdevice();
            check(cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
            byte[] nameBytes = new byte[256];
            check(cuDeviceGetName(nameBytes, nameBytes.length, device), "cuDeviceGetName");
            String name = new String(nameBytes, StandardCharsets.US_ASCII).trim();
            int zero = name.indexOf('\0');
            name = zero >= 0 ? name.substring(0, zero) : name;
            int major = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
            int minor = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
            int sms = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);

            // The primary context: the one the runtime API and other libraries in the process use.
            CUcontext context = new CUcontext();
            check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
            boolean loaded = false;
            int pushed = cuCtxPushCurrent(context);
            try {
                check(pushed, "cuCtxPushCurrent");
                CUmodule module = new CUmodule();
                rc = cuModuleLoadData(module, fatbin);
                if (rc != CUresult.CUDA_SUCCESS) {
                    throw new Unavailable("the CUDA kernels did not load on " + name + " (sm_" + major + minor
                            + "): cuModuleLoadData returned " + CUresult.stringFor(rc)
                            + (rc == CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU
                                    ? " (the fatbin has no code for this GPU)" : ""));
                }
                KernelLauncher launcher;
                try {
                    // Clusters from sm_90 on, where the device says it launches them (a failed
                    // cluster launch still falls back to the block kernel: KernelLauncher.launch)
                    boolean clusters = major >= 9
                            && attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH) == 1;
                    launcher = new KernelLauncher(module, clusters);
                } catch (IllegalStateException e) {
                    cuModuleUnload(module);
                    throw new Unavailable("the fatbin does not match this library: " + e.getMessage());
                }
                loaded = true;
                return new Gpu(ordinal, device, context, launcher, name, major, minor, sms, driver);
            } finally {
                if (pushed == CUresult.CUDA_SUCCESS) {
                    cuCtxPopCurrent(new CUcontext());
                }
                if (!loaded) {
                    cuDevicePrimaryCtxRelease(device);
                }
            }
        }

        private static int attribute(CUdevice device, int attribute) {
            int[] v = new int[1];
            check(cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute(" + attribute + ")");
            return v[0];
        }

        /** Makes the primary context current on this thread for one call (popped by {@link #exit()}). */
        void enter() {
            check(cuCtxPushCurrent(context), "cuCtxPushCurrent");
        }

        void exit() {
            cuCtxPopCurrent(new CUcontext());
        }

        /**
         * A vector's device copy, complete when this returns: copied on a stream of its own and
         * waited for there, so no other stream (the legacy default stream included) is waited on.
         * Called with the context current.
         */
        private CUdeviceptr upload(float[] v) {
            CUdeviceptr m = new CUdeviceptr();
            long bytes = Math.max(1, v.length) * (long) Float.BYTES;
            check(cuMemAlloc(m, bytes), "cuMemAlloc(vector)");
            try {
                if (v.length > 0) {
                    // a direct buffer: JCuda's asynchronous copies take no Java arrays
                    ByteBuffer host = ByteBuffer.allocateDirect(v.length * Float.BYTES).order(ByteOrder.nativeOrder());
                    host.asFloatBuffer().put(v);
                    CUstream stream = uploadStream();
                    check(cuMemcpyHtoDAsync(m, Pointer.toBuffer(host), v.length * (long) Float.BYTES, stream),
                            "cuMemcpyHtoDAsync(vector)");
                    check(cuStreamSynchronize(stream), "cuStreamSynchronize(upload)");
                }
                return m;
            } catch (RuntimeException e) {
                cuMemFree(m);
                throw e;
            }
        }

        private CUstream uploadStream() {
            synchronized (uploadLock) {
                if (uploadStream == null) {
                    CUstream stream = new CUstream();
                    check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(upload)");
                    uploadStream = stream;
                }
                return uploadStream;
            }
        }

        // ---- device memory path ----

        LossResult runDevice(LossRequest q, CUstream stream) {
            enter();
            try {
                float[][] vectors = vectorsOf(q);
                CUdeviceptr[] v = this.vectors.acquireAll(vectors);
                double[] r;
                try {
                    r = execute(q, memory(v, vectors, span -> pointer(span.deviceAddress())), stream);
                } finally {
                    this.vectors.releaseAll(vectors);
                }
                if (r[KernelLauncher.R_ERROR_CODE] != 0) {
                    throw KernelLauncher.error(r, q.kind(), q.cols(), q.options().ignoreIndex());
                }
                return new LossResult(r[KernelLauncher.R_LOSS], r[KernelLauncher.R_DENOMINATOR],
                        r[KernelLauncher.R_WEIGHT_SUM], (long) r[KernelLauncher.R_COUNTED],
                        (long) r[KernelLauncher.R_MASKED], (long) r[KernelLauncher.R_NONFINITE], "cuda");
            } finally {
                exit();
            }
        }

        // ---- host memory path ----

        KernelSums runHost(LossRequest r) {
            long n = r.rows();
            long elements = r.elements();
            long terms = r.terms();
            LossRequest.Inputs in = r.inputs();
            LossRequest.Outputs out = r.outputs();
            enter();
            hostLock.lock();
            try {
                java.util.Map<Span, CUdeviceptr> staged = new java.util.IdentityHashMap<>();
                staged.put(in.predictions(), staging.upload(Staging.PREDICTIONS, in.predictions(), elements));
                stage(staged, Staging.LABELS, in.labels(), n);
                stage(staged, Staging.TARGETS, in.targets(), elements);
                stage(staged, Staging.SAMPLE_WEIGHTS, in.sampleWeights(), r.sampleWeightSpan());
                stage(staged, Staging.ELEMENT_WEIGHTS, in.elementWeights(), elements);
                stage(staged, Staging.UPSTREAM, in.upstream(), terms);
                CUdeviceptr grad = out.gradient() == null ? null
                        : staging.output(Staging.GRADIENT, out.gradient(), elements);
                CUdeviceptr perTerm = out.perTerm() == null ? null
                        : staging.output(Staging.PER_TERM, out.perTerm(), terms);
                staged.put(out.gradient(), grad);
                staged.put(out.perTerm(), perTerm);
                float[][] vectors = vectorsOf(r);
                CUdeviceptr[] v = this.vectors.acquireAll(vectors);
                try {
                    double[] res = execute(r, memory(v, vectors, staged::get), null);
                    if (res[KernelLauncher.R_ERROR_CODE] != 0) {
                        throw KernelLauncher.error(res, r.kind(), r.cols(), r.options().ignoreIndex());
                    }
                    // The stream was synchronized when the result came back: the outputs are final.
                    if (grad != null) {
                        Staging.download(out.gradient(), grad, elements);
                    }
                    if (perTerm != null) {
                        Staging.download(out.perTerm(), perTerm, terms);
                    }
                    return new KernelSums(res[KernelLauncher.R_LOSS_SUM], (long) res[KernelLauncher.R_NONFINITE]);
                } finally {
                    this.vectors.releaseAll(vectors);
                }
            } finally {
                hostLock.unlock();
                exit();
            }
        }

        private void stage(java.util.Map<Span, CUdeviceptr> staged, int slot, Span host, long count) {
            if (host != null) {
                staged.put(host, staging.upload(slot, host, count));
            }
        }

        /** The loss's vectors the kernels read (class weights / alpha / pos weight / binary class weights). */
        private static float[][] vectorsOf(LossRequest q) {
            LossOptions o = q.options();
            if (o instanceof LossOptions.CrossEntropyOptions ce) {
                return new float[][] {ce.classWeights()};
            }
            if (o instanceof LossOptions.SoftmaxFocalOptions sf) {
                return new float[][] {sf.alpha()};
            }
            if (o instanceof LossOptions.BinaryCrossEntropyOptions bce) {
                return new float[][] {bce.posWeight(), bce.binaryClassWeights()};
            }
            return new float[0][];
        }

        /** The device pointers of a call: its spans through {@code spans}, the vectors' device copies. */
        private static KernelLauncher.Memory memory(CUdeviceptr[] copies, float[][] vectors,
                                                    java.util.function.Function<Span, CUdeviceptr> spans) {
            return new KernelLauncher.Memory() {
                @Override
                public CUdeviceptr of(Span span) {
                    return span == null ? null : spans.apply(span);
                }

                @Override
                public CUdeviceptr of(float[] vector) {
                    for (int i = 0; vector != null && i < vectors.length; i++) {
                        if (vectors[i] == vector) {
                            return copies[i];
                        }
                    }
                    return null;
                }
            };
        }

        // ---- one call on one stream ----

        /**
         * Launches prep + main on the stream with that stream's workspace, copies the result back and
         * synchronizes the stream. Calls on the same stream are serialized (they share a workspace).
         */
        private double[] execute(LossRequest call, KernelLauncher.Memory memory, CUstream stream) {
            Workspace w = acquireWorkspace(stream);
            w.lock.lock();
            try {
                return w.run(launcher, call, memory, stream);
            } finally {
                w.lock.unlock();
                releaseWorkspace(w);
            }
        }

        private Workspace acquireWorkspace(CUstream stream) {
            StreamKey key = StreamKey.of(stream);
            synchronized (workspaces) {
                Workspace w = workspaces.get(key);
                if (w == null) {
                    evictIdleWorkspaces();
                    w = new Workspace();
                    workspaces.put(key, w);
                }
                w.users++;
                return w;
            }
        }

        private void releaseWorkspace(Workspace w) {
            synchronized (workspaces) {
                w.users--;
            }
        }

        /** Streams come and go; keep at most a few idle workspaces (each ~100 KB of device memory). */
        private void evictIdleWorkspaces() {
            if (workspaces.size() < Workspace.MAX_CACHED) {
                return;
            }
            for (Iterator<Workspace> it = workspaces.values().iterator(); it.hasNext(); ) {
                Workspace w = it.next();
                if (w.users == 0) {
                    w.free();  // idle: its last call synchronized its stream
                    it.remove();
                }
            }
        }
    }

    /** Workspaces are per stream; the per-thread default stream is one stream per thread. */
    private record StreamKey(CUstream stream, long thread) {
        @SuppressWarnings("deprecation")
        static StreamKey of(CUstream s) {
            // A private copy: the caller's CUstream object may later be re-pointed at another stream.
            CUstream copy = s == null ? new CUstream() : new CUstream(new cudaStream_t(s));
            boolean perThread = copy.equals(JCudaDriver.CU_STREAM_PER_THREAD);
            return new StreamKey(copy, perThread ? Thread.currentThread().getId() : 0);
        }
    }

    /** FLC_WORKSPACE_BYTES of device memory, the result array after it, and a pinned host copy of it. */
    private static final class Workspace {
        static final int MAX_CACHED = 32;
        static final int RESULT_BYTES = KernelLauncher.RESULT_DOUBLES * Double.BYTES;

        final ReentrantLock lock = new ReentrantLock();
        int users;                 // guarded by the workspaces map
        private CUdeviceptr memory;  // WORKSPACE_BYTES (a multiple of 256) then the result
        private CUdeviceptr result;
        private Pointer pinned;
        private ByteBuffer pinnedBytes;

        double[] run(KernelLauncher launcher, LossRequest call, KernelLauncher.Memory data, CUstream stream) {
            if (memory == null) {
                allocate(stream);  // throws if it cannot: nothing launched yet
            }
            boolean clean = false;
            try {
                launcher.launch(call, data, memory, result, stream);
                // Pinned memory: the copy is truly asynchronous and we wait for this stream only.
                check(cuMemcpyDtoHAsync(pinned, result, RESULT_BYTES, stream), "cuMemcpyDtoHAsync(result)");
                check(cuStreamSynchronize(stream), "cuStreamSynchronize");
                double[] r = new double[KernelLauncher.RESULT_DOUBLES];
                pinnedBytes.asDoubleBuffer().get(r);
                clean = r[KernelLauncher.R_ERROR_CODE] == 0;
                return r;
            } finally {
                if (!clean) {
                    // A failed launch or a reported error may leave the header dirty: zero it (ordered
                    // before the next call on this stream). Best effort: after a sticky error it fails too.
                    try {
                        cuMemsetD8Async(memory, (byte) 0, KernelLauncher.WORKSPACE_HEADER_BYTES, stream);
                    } catch (RuntimeException ignored) {
                        // keep the original exception
                    }
                }
            }
        }

        private void allocate(CUstream stream) {
            CUdeviceptr m = new CUdeviceptr();
            check(cuMemAlloc(m, KernelLauncher.WORKSPACE_BYTES + RESULT_BYTES), "cuMemAlloc(workspace)");
            Pointer host = new Pointer();
            boolean hostAllocated = false;
            try {
                check(cuMemHostAlloc(host, RESULT_BYTES, 0), "cuMemHostAlloc(result)");
                hostAllocated = true;
                ByteBuffer bytes = host.getByteBuffer(0, RESULT_BYTES);
                if (bytes == null) {
                    throw new IllegalStateException("cuda: JCuda gave no host view of the pinned result buffer");
                }
                // Zeroed on the stream that uses it, so the launches that follow are ordered after it.
                check(cuMemsetD8Async(m, (byte) 0, KernelLauncher.WORKSPACE_BYTES, stream),
                        "cuMemsetD8Async(workspace)");
                memory = m;
                result = m.withByteOffset(KernelLauncher.WORKSPACE_BYTES);
                pinned = host;
                pinnedBytes = bytes.order(ByteOrder.nativeOrder());
            } finally {
                if (memory == null) {
                    cuMemFree(m);
                    if (hostAllocated) {
                        cuMemFreeHost(host);
                    }
                }
            }
        }

        void free() {
            if (memory != null) {
                cuMemFree(memory);
                cuMemFreeHost(pinned);
                memory = null;
                result = null;
                pinned = null;
                pinnedBytes = null;
            }
        }
    }

    /**
     * Device copies of the loss objects' host vectors (class weights, alpha, pos weight, binary
     * class weights), keyed by the array's identity: a loss keeps its (private, immutable) arrays for
     * life, so each is uploaded once. Least-recently-used entries beyond {@link #MAX} are freed
     * when no call is using them. The cache's monitor guards the map only: a first upload runs
     * under its entry's own monitor, so it holds up the calls that need that vector and no other.
     */
    static final class VectorCache {
        static final int MAX = 64;

        /** Copies a vector to new device memory, complete when it returns. */
        interface Uploader {
            CUdeviceptr upload(float[] v);
        }

        private static final class Entry {
            CUdeviceptr memory;  // guarded by the entry; null until uploaded
            int users;           // guarded by the cache
        }

        private final Uploader uploader;
        private final java.util.function.Consumer<CUdeviceptr> free;
        // float[] has identity equals / hashCode, which is what we want.
        private final LinkedHashMap<float[], Entry> entries = new LinkedHashMap<>(16, 0.75f, true);

        VectorCache(Uploader uploader, java.util.function.Consumer<CUdeviceptr> free) {
            this.uploader = uploader;
            this.free = free;
        }

        /** Device copies of the vectors (null for null), held until {@link #releaseAll}. */
        CUdeviceptr[] acquireAll(float[]... vectors) {
            CUdeviceptr[] out = new CUdeviceptr[vectors.length];
            int i = 0;
            try {
                for (; i < vectors.length; i++) {
                    out[i] = acquire(vectors[i]);
                }
                return out;
            } catch (RuntimeException | Error e) {
                releaseAll(java.util.Arrays.copyOf(vectors, i));
                throw e;
            }
        }

        synchronized void releaseAll(float[]... vectors) {
            for (float[] v : vectors) {
                release(v);
            }
        }

        private CUdeviceptr acquire(float[] v) {
            if (v == null) {
                return null;
            }
            Entry e;
            synchronized (this) {
                e = entries.computeIfAbsent(v, k -> new Entry());
                e.users++;  // from here on not evicted
            }
            try {
                synchronized (e) {
                    if (e.memory == null) {
                        e.memory = uploader.upload(v);
                    }
                    return e.memory;
                }
            } catch (RuntimeException | Error t) {
                releaseAll(v);
                throw t;
            }
        }

        private void release(float[] v) {
            if (v == null) {
                return;
            }
            Entry e = entries.get(v);
            if (e != null) {
                e.users--;
            }
            if (entries.size() > MAX) {
                for (Iterator<Entry> it = entries.values().iterator(); it.hasNext() && entries.size() > MAX; ) {
                    Entry old = it.next();
                    if (old.users == 0) {
                        synchronized (old) {  // no upload in flight: users == 0
                            if (old.memory != null) {
                                free.accept(old.memory);
                            }
                        }
                        it.remove();
                    }
                }
            }
        }
    }

    /** Device buffers of the host path, one per argument, reused and grown as needed. */
    private static final class Staging {
        static final int PREDICTIONS = 0;
        static final int LABELS = 1;
        static final int TARGETS = 2;
        static final int SAMPLE_WEIGHTS = 3;
        static final int ELEMENT_WEIGHTS = 4;
        static final int UPSTREAM = 5;
        static final int GRADIENT = 6;
        static final int PER_TERM = 7;

        private final CUdeviceptr[] buffers = new CUdeviceptr[8];
        private final long[] capacity = new long[8];

        /** A device buffer of at least {@code bytes} (never NULL: present means non-NULL to the kernels). */
        private CUdeviceptr reserve(int slot, String name, long bytes) {
            long need = Math.max(256, bytes);
            if (capacity[slot] < need) {
                if (buffers[slot] != null) {
                    cuMemFree(buffers[slot]);  // the previous call synchronized: it is idle
                    buffers[slot] = null;
                    capacity[slot] = 0;
                }
                CUdeviceptr m = new CUdeviceptr();
                check(cuMemAlloc(m, need), "cuMemAlloc(" + name + ", " + need + " bytes)");
                buffers[slot] = m;
                capacity[slot] = need;
            }
            return buffers[slot];
        }

        /** Copies {@code count} elements of a host span to the slot's device buffer. */
        CUdeviceptr upload(int slot, Span host, long count) {
            long bytes = count * 4;
            CUdeviceptr d = reserve(slot, host.name(), bytes);
            if (bytes > 0) {
                // Synchronous copy on the default stream, which the launches use too.
                check(cuMemcpyHtoD(d, hostPointer(host), bytes), "cuMemcpyHtoD(" + host.name() + ")");
            }
            return d;
        }

        /** The slot's device buffer for an output of {@code count} elements (checked by the loss). */
        CUdeviceptr output(int slot, Span host, long count) {
            return reserve(slot, host.name(), count * 4);
        }

        static void download(Span host, CUdeviceptr d, long count) {
            if (count > 0) {
                check(cuMemcpyDtoH(hostPointer(host), d, count * 4), "cuMemcpyDtoH(" + host.name() + ")");
            }
        }

        /** A JCuda pointer at the span's first element (a heap array at its offset, or direct memory). */
        private static Pointer hostPointer(Span host) {
            Object array = host.heapArray();
            if (array instanceof float[] f) {
                return Pointer.toBuffer(FloatBuffer.wrap(f, host.offset(), f.length - host.offset()).slice());
            }
            if (array instanceof int[] i) {
                return Pointer.toBuffer(IntBuffer.wrap(i, host.offset(), i.length - host.offset()).slice());
            }
            Buffer direct = host.directBuffer();
            if (direct instanceof FloatBuffer f) {
                return Pointer.toBuffer(f.duplicate().position(host.offset()).slice());
            }
            return Pointer.toBuffer(((IntBuffer) direct).duplicate().position(host.offset()).slice());
        }
    }
}
