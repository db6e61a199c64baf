package org.fusedloss.cuda.internal;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import java.nio.Buffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import org.fusedloss.internal.Span;

/** Device buffers of the host path, one per argument, reused and grown as needed. */
final class Staging {
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
            CudaDriver.check(cuMemAlloc(m, need), "cuMemAlloc(" + name + ", " + need + " bytes)");
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
            CudaDriver.check(cuMemcpyHtoD(d, hostPointer(host), bytes), "cuMemcpyHtoD(" + host.name() + ")");
        }
        return d;
    }

    /** The slot's device buffer for an output of {@code count} elements (checked by the loss). */
    CUdeviceptr output(int slot, Span host, long count) {
        return reserve(slot, host.name(), count * 4);
    }

    static void download(Span host, CUdeviceptr d, long count) {
        if (count > 0) {
            CudaDriver.check(cuMemcpyDtoH(hostPointer(host), d, count * 4), "cuMemcpyDtoH(" + host.name() + ")");
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
