package org.fusedloss.cuda;

import static jcuda.driver.JCudaDriver.cuCtxPopCurrent;
import static jcuda.driver.JCudaDriver.cuCtxPushCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import java.nio.Buffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import org.fusedloss.Backends;
import org.fusedloss.Batch;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;
import org.fusedloss.SoftmaxFocal;
import org.fusedloss.TestPath;
import org.fusedloss.cuda.internal.CudaBackend;
import org.fusedloss.internal.BatchData;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;

/**
 * The contract's {@code cuda-device} path: every argument of a test's batch is copied into device
 * memory of its own (outputs too, so an element the kernel does not write keeps the test's
 * sentinel), the loss runs through {@link DeviceBatch#compute(Loss)}, and the gradient and
 * per-term losses are copied back into the test's arrays. An exception leaves them as they were.
 * A gradient exactly over the predictions (in place) shares their device copy. Without a GPU the
 * path is unavailable and every contract test on it is skipped with the CUDA backend's reason.
 */
public final class CudaDevicePath implements TestPath.Provider {

    @Override
    public List<TestPath> paths() {
        return List.of(new TestPath("cuda-device", Backends.cuda(), Optional::empty, CudaDevicePath::compute));
    }

    private static LossResult compute(Loss loss, Batch batch) {
        BatchData b = TestPath.data(batch);
        long elements = (long) b.rows * b.cols;
        long terms = loss instanceof CrossEntropy || loss instanceof SoftmaxFocal ? b.rows : elements;
        try (Device d = new Device()) {
            DeviceBatch db = DeviceBatch.of(d.upload(b.predictions, elements), b.rows, b.cols);
            if (b.labels != null) {
                db.labels(d.upload(b.labels, b.rows));
            }
            if (b.targets != null) {
                db.targets(d.upload(b.targets, elements));
            }
            if (b.sampleWeights != null) {
                db.sampleWeights(d.upload(b.sampleWeights, LossRequest.sampleWeightSpan(b.rows, b.sampleWeightStride)),
                        b.sampleWeightStride);
            }
            if (b.elementWeights != null) {
                db.elementWeights(d.upload(b.elementWeights, elements));
            }
            if (b.upstream != null) {
                db.upstream(d.upload(b.upstream, terms));
            }
            CUdeviceptr gradient = null;
            if (b.gradient != null) {
                gradient = sameFirstElement(b.gradient, b.predictions) ? d.of(b.predictions) : d.upload(b.gradient, elements);
                db.gradient(gradient);
            }
            CUdeviceptr perTerm = b.perTerm == null ? null : d.upload(b.perTerm, terms);
            if (perTerm != null) {
                db.perTerm(perTerm);
            }
            if (b.hasDenominator) {
                db.denominator(b.denominator);
            }
            LossResult r = db.compute(loss);
            if (gradient != null && loss.computesGradient()) {
                d.download(gradient, b.gradient, elements);
            }
            if (perTerm != null) {
                d.download(perTerm, b.perTerm, terms);
            }
            return r;
        }
    }

    private static boolean sameFirstElement(Span a, Span b) {
        return a.heapArray() != null ? a.heapArray() == b.heapArray() && a.offset() == b.offset()
                : a.directBuffer() != null && b.directBuffer() != null
                        && a.range(1).equals(b.range(1));
    }

    /** The device copies of one call, in the primary context of the CUDA backend's device; freed on close. */
    private static final class Device implements AutoCloseable {
        private final CUcontext context = new CUcontext();
        private final List<CUdeviceptr> allocations = new ArrayList<>();
        private final List<Span> spans = new ArrayList<>();

        Device() {
            CUdevice device = new CUdevice();
            ok(cuDeviceGet(device, Integer.getInteger(CudaBackend.DEVICE_PROPERTY, 0)), "cuDeviceGet");
            ok(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
            ok(cuCtxPushCurrent(context), "cuCtxPushCurrent");
        }

        /** A device copy of the first {@code count} elements of a host span. */
        CUdeviceptr upload(Span host, long count) {
            CUdeviceptr p = new CUdeviceptr();
            ok(cuMemAlloc(p, Math.max(4, 4 * count)), "cuMemAlloc");
            allocations.add(p);
            spans.add(host);
            if (count > 0) {
                ok(cuMemcpyHtoD(p, pointer(host), 4 * count), "cuMemcpyHtoD(" + host.name() + ")");
            }
            return p;
        }

        /** The device copy of a span uploaded before. */
        CUdeviceptr of(Span host) {
            return allocations.get(spans.indexOf(host));
        }

        void download(CUdeviceptr device, Span host, long count) {
            if (count > 0) {
                ok(cuMemcpyDtoH(pointer(host), device, 4 * count), "cuMemcpyDtoH(" + host.name() + ")");
            }
        }

        /** A JCuda host pointer at the span's first element. */
        private static Pointer pointer(Span s) {
            Object array = s.heapArray();
            if (array instanceof float[] f) {
                return Pointer.toBuffer(FloatBuffer.wrap(f, s.offset(), f.length - s.offset()).slice());
            }
            if (array instanceof int[] i) {
                return Pointer.toBuffer(IntBuffer.wrap(i, s.offset(), i.length - s.offset()).slice());
            }
            Buffer direct = s.directBuffer();
            return direct instanceof FloatBuffer f ? Pointer.toBuffer(f.duplicate().position(s.offset()).slice())
                    : Pointer.toBuffer(((IntBuffer) direct).duplicate().position(s.offset()).slice());
        }

        @Override
        public void close() {
            for (CUdeviceptr p : allocations) {
                cuMemFree(p);
            }
            cuCtxPopCurrent(new CUcontext());
        }

        private static void ok(int result, String what) {
            if (result != CUresult.CUDA_SUCCESS) {
                throw new IllegalStateException("cuda-device path: " + what + " failed: " + CUresult.stringFor(result));
            }
        }
    }
}
