package org.fusedloss.cuda.internal;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.locks.ReentrantLock;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import jcuda.runtime.cudaStream_t;
import org.fusedloss.internal.LossRequest;

/** FLC_WORKSPACE_BYTES of device memory, the result array after it, and a pinned host copy of it. */
final class Workspace {
    /** Workspaces are per stream; the per-thread default stream is one stream per thread. */
    record Key(CUstream stream, long thread) {
        @SuppressWarnings("deprecation")
        static Key of(CUstream s) {
            // A private copy: the caller's CUstream object may later be re-pointed at another stream.
            CUstream copy = s == null ? new CUstream() : new CUstream(new cudaStream_t(s));
            boolean perThread = copy.equals(JCudaDriver.CU_STREAM_PER_THREAD);
            return new Key(copy, perThread ? Thread.currentThread().getId() : 0);
        }
    }

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
            CudaDriver.check(cuMemcpyDtoHAsync(pinned, result, RESULT_BYTES, stream), "cuMemcpyDtoHAsync(result)");
            CudaDriver.check(cuStreamSynchronize(stream), "cuStreamSynchronize");
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
        CudaDriver.check(cuMemAlloc(m, KernelLauncher.WORKSPACE_BYTES + RESULT_BYTES), "cuMemAlloc(workspace)");
        Pointer host = new Pointer();
        boolean hostAllocated = false;
        try {
            CudaDriver.check(cuMemHostAlloc(host, RESULT_BYTES, 0), "cuMemHostAlloc(result)");
            hostAllocated = true;
            ByteBuffer bytes = host.getByteBuffer(0, RESULT_BYTES);
            if (bytes == null) {
                throw new IllegalStateException("cuda: JCuda gave no host view of the pinned result buffer");
            }
            // Zeroed on the stream that uses it, so the launches that follow are ordered after it.
            CudaDriver.check(cuMemsetD8Async(m, (byte) 0, KernelLauncher.WORKSPACE_BYTES, stream),
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
