package org.fusedloss.cuda.internal;

import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.util.Optional;
import java.util.function.Supplier;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.fusedloss.LossResult;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Settings;

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
 * <p>The pieces, each in its file: {@link CudaDriver} (JCuda's binding, errors, versions),
 * {@link Gpu} (the device, its primary context, the loaded kernels, the two call paths),
 * {@link Workspace} (a stream's workspace and result), {@link VectorCache} (device copies of the
 * losses' vectors), {@link Staging} (the host path's device buffers) and {@link KernelLauncher}
 * (the launches of one call).
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
            } catch (CudaDriver.Unavailable | Settings.Invalid e) {
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
}
