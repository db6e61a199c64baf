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
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
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
import org.fusedloss.LossResult;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Settings;
import org.fusedloss.internal.Span;

/** Everything that exists once the kernels are loaded: the device, its context, the caches. */
final class Gpu {
    final int ordinal;
    final CUdevice device;
    final CUcontext context;
    final KernelLauncher launcher;
    final String name;
    final int ccMajor;
    final int ccMinor;
    final int multiprocessors;
    final int driverVersion;

    private final Map<Workspace.Key, Workspace> workspaces = new HashMap<>();  // guarded by itself
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
                + " SMs, driver CUDA " + CudaDriver.version(driverVersion);
    }

    static Gpu open(Supplier<byte[]> fatbinSource) throws CudaDriver.Unavailable, Settings.Invalid {
        Optional<Settings.Value> disable = Settings.read(CudaBackend.DISABLE_PROPERTY);
        if (disable.isPresent() && disable.get().bool()) {
            throw new CudaDriver.Unavailable(disable.get() + " turns the CUDA backend off");
        }
        Optional<Settings.Value> deviceSetting = Settings.read(CudaBackend.DEVICE_PROPERTY);
        int wanted = deviceSetting.isPresent() ? deviceSetting.get().integer(0, Integer.MAX_VALUE) : 0;
        byte[] fatbin = fatbinSource.get();
        if (fatbin == null || fatbin.length == 0) {
            throw new CudaDriver.Unavailable("the jar has no CUDA fatbin: it was built without nvcc, or with "
                    + "-Dfusedloss.skipFatbin=true");
        }
        if (CudaDriver.Library.FAILURE != null) {
            throw new CudaDriver.Unavailable(CudaDriver.Library.FAILURE);
        }
        int rc = cuInit(0);
        if (rc == CUresult.CUDA_ERROR_NO_DEVICE) {
            throw new CudaDriver.Unavailable("no GPU: cuInit found no CUDA device (CUDA_ERROR_NO_DEVICE)");
        }
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new CudaDriver.Unavailable("cuInit failed: " + CUresult.stringFor(rc) + " (the NVIDIA driver is not "
                    + "usable; the kernels need a driver for CUDA 13.0 / R580 or newer)");
        }
        int[] value = new int[1];
        CudaDriver.check(cuDriverGetVersion(value), "cuDriverGetVersion");
        int driver = value[0];
        if (driver < CudaBackend.MIN_DRIVER_VERSION) {
            throw new CudaDriver.Unavailable("the NVIDIA driver supports CUDA " + CudaDriver.version(driver) + " (driver API "
                    + driver + "), but the kernels in the jar were built by nvcc 13 and need a driver for "
                    + "CUDA 13.0 (R580) or newer");
        }
        CudaDriver.check(cuDeviceGetCount(value), "cuDeviceGetCount");
        int count = value[0];
        if (count == 0) {
            throw new CudaDriver.Unavailable("no GPU: the NVIDIA driver sees no CUDA device");
        }
        if (wanted >= count) {
            throw deviceSetting.get().invalid("but the driver sees " + count + " device" + (count == 1 ? "" : "s"));
        }
        int ordinal = wanted;
        CUdevice device = new CUdevice();
        CudaDriver.check(cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] nameBytes = new byte[256];
        CudaDriver.check(cuDeviceGetName(nameBytes, nameBytes.length, device), "cuDeviceGetName");
        String name = new String(nameBytes, StandardCharsets.US_ASCII).trim();
        int zero = name.indexOf('\0');
        name = zero >= 0 ? name.substring(0, zero) : name;
        int major = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        int minor = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        int sms = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);

        // The primary context: the one the runtime API and other libraries in the process use.
        CUcontext context = new CUcontext();
        CudaDriver.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        boolean loaded = false;
        int pushed = cuCtxPushCurrent(context);
        try {
            CudaDriver.check(pushed, "cuCtxPushCurrent");
            CUmodule module = new CUmodule();
            rc = cuModuleLoadData(module, fatbin);
            if (rc != CUresult.CUDA_SUCCESS) {
                throw new CudaDriver.Unavailable("the CUDA kernels did not load on " + name + " (sm_" + major + minor
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
                throw new CudaDriver.Unavailable("the fatbin does not match this library: " + e.getMessage());
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
        CudaDriver.check(cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute(" + attribute + ")");
        return v[0];
    }

    /** Makes the primary context current on this thread for one call (popped by {@link #exit()}). */
    void enter() {
        CudaDriver.check(cuCtxPushCurrent(context), "cuCtxPushCurrent");
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
        CudaDriver.check(cuMemAlloc(m, bytes), "cuMemAlloc(vector)");
        try {
            if (v.length > 0) {
                // a direct buffer: JCuda's asynchronous copies take no Java arrays
                ByteBuffer host = ByteBuffer.allocateDirect(v.length * Float.BYTES).order(ByteOrder.nativeOrder());
                host.asFloatBuffer().put(v);
                CUstream stream = uploadStream();
                CudaDriver.check(cuMemcpyHtoDAsync(m, Pointer.toBuffer(host), v.length * (long) Float.BYTES, stream),
                        "cuMemcpyHtoDAsync(vector)");
                CudaDriver.check(cuStreamSynchronize(stream), "cuStreamSynchronize(upload)");
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
                CudaDriver.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(upload)");
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
                r = execute(q, memory(v, vectors, Span::deviceAddress), stream);
            } finally {
                this.vectors.releaseAll(vectors);
            }
            if (r[KernelLauncher.R_ERROR_CODE] != 0) {
                throw KernelLauncher.error(r, q.kind(), q.cols(), q.options().ignoreIndex(), q.gradientScale());
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
            Map<Span, CUdeviceptr> staged = new java.util.IdentityHashMap<>();
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
                double[] res = execute(r, memory(v, vectors, span -> DeviceAddress.of(staged.get(span))), null);
                if (res[KernelLauncher.R_ERROR_CODE] != 0) {
                    throw KernelLauncher.error(res, r.kind(), r.cols(), r.options().ignoreIndex(), r.gradientScale());
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

    private void stage(Map<Span, CUdeviceptr> staged, int slot, Span host, long count) {
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

    /** The device addresses of a call: its spans through {@code spans}, the vectors' device copies. */
    private static KernelLauncher.Memory memory(CUdeviceptr[] copies, float[][] vectors,
                                                java.util.function.ToLongFunction<Span> spans) {
        return new KernelLauncher.Memory() {
            @Override
            public long of(Span span) {
                return span == null ? 0 : spans.applyAsLong(span);
            }

            @Override
            public long of(float[] vector) {
                for (int i = 0; vector != null && i < vectors.length; i++) {
                    if (vectors[i] == vector) {
                        return DeviceAddress.of(copies[i]);
                    }
                }
                return 0;
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
        Workspace.Key key = Workspace.Key.of(stream);
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
