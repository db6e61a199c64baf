package org.fusedloss.cuda.internal;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import org.fusedloss.Backends;
import org.fusedloss.Batch;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.CrossEntropy;
import org.fusedloss.cuda.DeviceBatch;
import org.fusedloss.Loss;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;
import org.fusedloss.LossResult;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.Reduction;
import org.fusedloss.SigmoidFocal;
import org.fusedloss.SoftmaxFocal;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What only the CUDA backend has (every loss's values are the contract's: the core's
 * {@code LossContract} runs in this module on the paths {@code cuda}, host arrays copied, and
 * {@code cuda-device}, {@link org.fusedloss.cuda.CudaDevicePath}). Where no GPU (or no driver, or
 * no fatbin) is present, every GPU test is skipped with the reason printed, and
 * {@link #unavailablePathBehaves()} checks that the backend says so cleanly. Where one is present
 * (the seed is printed; {@code -Dfusedloss.test.seed=...} replays it): every softmax launch variant
 * against the Java reference up to C = 140000, bit-identical repeated runs and in place, streams,
 * raw addresses, concurrent callers, the vector cache, and bad device inputs giving the CPU's
 * exception.
 */
class CudaBackendTest {
    private static final double TOLERANCE = 1e-5;
    private static final int IGNORE = -100;

    private static boolean available;
    private static String reason;
    private static long seed;

    private static CUcontext primary;  // the device's primary context, current on the test's threads

    private final List<CUdeviceptr> allocations = java.util.Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void setUp() {
        CudaBackend cuda = (CudaBackend) Backends.cuda();
        available = cuda.isAvailable();
        reason = cuda.unavailabilityReason().orElse("");
        seed = Long.getLong("fusedloss.test.seed", System.nanoTime());
        System.out.println("CudaBackendTest: " + cuda.describe() + (available ? ", seed = " + seed
                : " -> the GPU tests are skipped: " + reason));
        if (available) {
            // The test's own allocations and copies need the primary context current on this thread.
            ok(cuInit(0));
            CUdevice device = new CUdevice();
            ok(cuDeviceGet(device, Integer.getInteger(CudaBackend.DEVICE_PROPERTY, 0)));
            CUcontext context = new CUcontext();
            ok(cuDevicePrimaryCtxRetain(context, device));
            ok(cuCtxSetCurrent(context));
            primary = context;
        }
    }

    /** A loss on device data: {@link DeviceBatch#compute(Loss)}. */
    private static LossResult onDevice(Loss loss, DeviceBatch batch) {
        return batch.compute(loss);
    }

    @AfterEach
    void tearDown() {
        freeDeviceMemory();
        KernelLauncher.forcedVariant = null;
    }

    private void freeDeviceMemory() {
        for (CUdeviceptr p : allocations) {
            cuMemFree(p);
        }
        allocations.clear();
    }

    private static void assumeGpu() {
        assumeTrue(available, "no CUDA backend here: " + reason);
    }

    // ---------------------------------------------------------------------------------------------
    // Runs everywhere: without a GPU the backend reports why, and nothing throws or crashes.

    @Test
    void unavailablePathBehaves() {
        CudaBackend cuda = (CudaBackend) Backends.cuda();
        assertEquals("cuda", cuda.name());
        assertNotNull(cuda.describe());
        if (available) {
            assertTrue(cuda.unavailabilityReason().isEmpty());
            assertTrue(cuda.describe().contains("sm_"), cuda.describe());
            return;
        }
        assertFalse(cuda.isAvailable());
        assertFalse(reason.isBlank(), "an unavailable backend must say why");
        assertTrue(cuda.describe().contains(reason), cuda.describe());

        // The host path: validation first, then the backend says why it cannot run.
        float[] logits = new float[12];
        float[] grad = new float[12];
        CrossEntropy ce = CrossEntropy.builder().build();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ce.compute(Batch.of(logits, 3, 4).labels(new int[3]).gradient(grad), cuda));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        LossRequest request = new LossRequest(LossKind.CROSS_ENTROPY, 3, 4,
                new LossRequest.Inputs(Span.heap("predictions", logits, 0), Span.heap("labels", new int[3], 0),
                        null, null, 1, null, null),
                new LossRequest.Outputs(null, null),
                new LossOptions.CrossEntropyOptions(null, IGNORE, 0, 0, 0), Reduction.SUM, 1.0, 1.0);
        e = assertThrows(IllegalStateException.class, () -> cuda.run(request));
        assertTrue(e.getMessage().contains(reason), e.getMessage());

        // The device path: the same, after the checks that need no device memory.
        e = assertThrows(IllegalStateException.class, () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4)
                .labels(0x2000).gradient(0x3000)));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertThrows(IllegalStateException.class, () -> cuda.computeCapability());

        // Private instances take the other roads to "unavailable" (no fatbin; a driver that is
        // missing here, or on a GPU machine, an image that does not load) without throwing.
        CudaBackend noFatbin = new CudaBackend(() -> null);
        assertFalse(noFatbin.isAvailable());
        assertEquals("the jar has no CUDA fatbin: it was built without nvcc, or with -Dfusedloss.skipFatbin=true", noFatbin.unavailabilityReason().get());
        CudaBackend badImage = new CudaBackend(() -> new byte[] {1, 2, 3, 4});
        assertFalse(badImage.isAvailable());
        String why = badImage.unavailabilityReason().orElseThrow();
        System.out.println("CudaBackendTest: with a fake fatbin: " + why);
        assertFalse(why.isBlank());
        assertFalse(badImage.isAvailable(), "the answer is cached");
        assertEquals(why, badImage.unavailabilityReason().get());
    }

    @Test
    void deviceBatchChecksNeedNoDevice() {
        CrossEntropy ce = CrossEntropy.builder().build();
        assertMessage("labels: cross-entropy needs", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).gradient(0x3000)));
        assertMessage("labels and targets", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).labels(0x2000)
                .targets(0x2000).gradient(0x3000)));
        assertMessage("gradient: no gradient buffer", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).labels(0x2000)));
        assertMessage("gradient overlaps perTerm", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000).perTerm(0x3004)));
        assertMessage("upstream: a per-term upstream", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000).upstream(0x4000)));
        assertMessage("sampleWeights: stride = 0", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000).sampleWeights(0x4000, 0)));
        assertMessage("elementWeights: element weights apply", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000).elementWeights(0x4000)));
        assertMessage("denominator = -1.0", () -> onDevice(ce, DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000).denominator(-1)));
        CrossEntropy sum = CrossEntropy.builder().reduction(Reduction.SUM).build();
        assertMessage("denominator: a caller denominator applies", () -> onDevice(sum, DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000).denominator(2)));
        CrossEntropy weighted = CrossEntropy.builder().classWeights(new float[] {1, 2, 3}).build();
        assertMessage("classWeights: has 3 entries but the batch has 4 classes", () -> onDevice(weighted, DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000)));
        assertMessage("alpha: has 2 entries", () -> onDevice(SoftmaxFocal.builder().alpha(new float[] {1, 1}).build(), DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000)));
        assertMessage("posWeight: has 1 entries", () -> onDevice(BinaryCrossEntropy.builder().posWeight(new float[] {1})
                .build(), DeviceBatch.of(0x1000, 3, 4).targets(0x2000).gradient(0x3000)));
        assertMessage("targets: softmax focal loss takes class indices", () -> onDevice(SoftmaxFocal.builder().build(), DeviceBatch.of(0x1000, 3, 4).labels(0x2000).targets(0x2000).gradient(0x3000)));
        assertMessage("labels: MEAN_SQUARED_ERROR takes dense targets", () -> onDevice(MeanSquaredError.builder().build(), DeviceBatch.of(0x1000, 3, 4).labels(0x2000).gradient(0x3000)));
        assertMessage("logits: the device address is 0", () -> DeviceBatch.of(0L, 3, 4));
        assertMessage("logits is null", () -> DeviceBatch.of((CUdeviceptr) null, 3, 4));
        assertMessage("cols = 0", () -> DeviceBatch.of(0x1000, 3, 0));
        assertMessage("rows = -1", () -> DeviceBatch.of(0x1000, -1, 3));
        // Raw stream handles are wrapped without a driver call.
        assertEquals(0x1234L, handleOf(CudaBackend.stream(0x1234)));
        assertEquals(null, CudaBackend.stream(0));
        assertEquals(0x5000L, addressOf(CudaBackend.pointer(0x5000)));
    }

    /**
     * Issue 11, item 5: an output that overlaps another argument in device memory is rejected
     * naming both, as {@code Batch} does for host memory, before any driver call (so this runs
     * without a GPU); exactly in place stays allowed. The addresses are made up: nothing is launched.
     */
    @Test
    void deviceOutputsThatOverlapAnotherArgumentAreRejectedBeforeAnyDriverCall() {
        CrossEntropy ce = CrossEntropy.builder().build();
        CrossEntropy none = CrossEntropy.builder().reduction(Reduction.NONE).build();
        MeanSquaredError mse = MeanSquaredError.builder().reduction(Reduction.NONE).build();
        long x = 0x10000;  // 3 x 4 floats: [0x10000, 0x10030)
        // the gradient over the logits shifted by one float, and ending inside them
        assertMessage("gradient overlaps predictions in device memory",
                () -> onDevice(ce, DeviceBatch.of(x, 3, 4).labels(0x20000).gradient(x + 4)));
        assertMessage("gradient overlaps predictions", () -> onDevice(ce, DeviceBatch.of(x, 3, 4).labels(0x20000)
                .gradient(x - 44)));
        // over the labels (3 int32: [0x20000, 0x2000c)), its last byte only; over strided sample weights
        assertMessage("gradient overlaps labels", () -> onDevice(ce, DeviceBatch.of(x, 3, 4).labels(0x20000)
                .gradient(0x20000 + 11)));
        assertMessage("gradient overlaps sampleWeights", () -> onDevice(ce, DeviceBatch.of(x, 3, 4).labels(0x20000)
                .sampleWeights(0x30000, 8).gradient(0x30000 + 4 * 16)));
        // per-term losses over the upstream gradient, over the gradient, over the targets
        assertMessage("perTerm overlaps upstream", () -> onDevice(none, DeviceBatch.of(x, 3, 4).labels(0x20000)
                .gradient(0x40000).upstream(0x50000).perTerm(0x50008)));
        assertMessage("gradient overlaps perTerm", () -> onDevice(none, DeviceBatch.of(x, 3, 4).labels(0x20000)
                .gradient(0x40000).perTerm(0x40000 + 44)));
        assertMessage("perTerm overlaps targets", () -> onDevice(mse, DeviceBatch.of(x, 3, 4).targets(0x20000)
                .gradient(0x40000).perTerm(0x20000 + 20)));
        assertMessage("gradient overlaps elementWeights", () -> onDevice(mse, DeviceBatch.of(x, 3, 4)
                .targets(0x20000).elementWeights(CudaBackend.pointer(0x30000).withByteOffset(8)).gradient(0x30000)));
        // the same through CUdeviceptr objects (native pointer plus byte offset)
        CUdeviceptr logits = CudaBackend.pointer(x);
        assertMessage("gradient overlaps predictions", () -> onDevice(ce, DeviceBatch.of(logits, 3, 4)
                .labels(0x20000).gradient(logits.withByteOffset(12))));
        // an unallocated pointer is NULL, which the kernels read as "absent": rejected
        assertMessage("gradient: the device address is 0", () -> DeviceBatch.of(logits, 3, 4).gradient(new CUdeviceptr()));

        // Allowed: exactly in place, inputs sharing memory, a gradient buffer the loss does not write,
        // buffers that touch without overlapping. Without a GPU these get as far as "not available".
        if (!available) {
            CrossEntropy noGradient = CrossEntropy.builder().computeGradient(false).build();
            for (Runnable allowed : List.<Runnable>of(
                    () -> onDevice(ce, DeviceBatch.of(x, 3, 4).labels(0x20000).gradient(x)),
                    () -> onDevice(mse, DeviceBatch.of(x, 3, 4).targets(x).elementWeights(x).upstream(x)
                            .gradient(0x40000).perTerm(0x40000 + 48)),
                    () -> onDevice(noGradient, DeviceBatch.of(x, 3, 4).labels(0x20000).gradient(x + 4)),
                    () -> onDevice(ce, DeviceBatch.of(x, 3, 4).labels(x + 48).gradient(x + 48 + 12)))) {
                IllegalStateException e = assertThrows(IllegalStateException.class, allowed::run);
                assertTrue(e.getMessage().contains(reason), e.getMessage());
            }
        }
    }

    /**
     * Issue 11, item 4: a caller denominator with which gradientScale / denominator overflows a
     * double is rejected as on the host path, with its message, before any driver call.
     */
    @Test
    void aGradientScaleThatOverflowsOverTheCallersDenominatorIsRejected() {
        CrossEntropy huge = CrossEntropy.builder().gradientScale(1e300).build();
        String host = assertThrows(IllegalArgumentException.class, () -> huge.compute(Batch.of(new float[12], 3, 4)
                .labels(new int[3]).gradient(new float[12]).denominator(1e-300), Backends.java())).getMessage();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> onDevice(huge,
                DeviceBatch.of(0x10000, 3, 4).labels(0x20000).gradient(0x30000).denominator(1e-300)));
        assertEquals(host, e.getMessage());
        // a denominator of 0 is not an overflow: loss and gradient 0 (without a GPU: "not available")
        if (!available) {
            assertThrows(IllegalStateException.class, () -> onDevice(huge, DeviceBatch.of(0x10000, 3, 4)
                    .labels(0x20000).gradient(0x30000).denominator(0)));
        }
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "expected \"" + expected + "\" in: " + e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------
    // GPU: every loss x option x reduction x shape against the Java reference.

    /** The loss families: what data they take. */
    enum Family { CE_LABELS, CE_DENSE, SOFTMAX_FOCAL, BCE, BCE_HARD, MSE, SIGMOID_FOCAL }

    /** A loss configuration, built for a reduction and a number of classes. */
    record Config(String name, Family family, BiFunction<Reduction, Integer, Loss> build) {
    }

    static List<Config> configs() {
        List<Config> c = new ArrayList<>();
        c.add(new Config("ce", Family.CE_LABELS, (r, k) -> CrossEntropy.builder().reduction(r).build()));
        c.add(new Config("ce+classWeights", Family.CE_LABELS,
                (r, k) -> CrossEntropy.builder().reduction(r).classWeights(positive(k, 11)).build()));
        c.add(new Config("ce+smoothing", Family.CE_LABELS,
                (r, k) -> CrossEntropy.builder().reduction(r).labelSmoothing(0.1).build()));
        c.add(new Config("ce+zLoss+softCap", Family.CE_LABELS,
                (r, k) -> CrossEntropy.builder().reduction(r).zLoss(1e-3).softCap(5).build()));
        c.add(new Config("ce+everything", Family.CE_LABELS, (r, k) -> CrossEntropy.builder().reduction(r)
                .classWeights(positive(k, 12)).labelSmoothing(0.05).zLoss(1e-4).softCap(30).ignoreIndex(-1)
                .gradientScale(0.5).build()));
        c.add(new Config("ce-dense", Family.CE_DENSE, (r, k) -> CrossEntropy.builder().reduction(r).build()));
        c.add(new Config("ce-dense+classWeights+smoothing", Family.CE_DENSE, (r, k) -> CrossEntropy.builder()
                .reduction(r).classWeights(positive(k, 13)).labelSmoothing(0.2).zLoss(1e-3).build()));
        c.add(new Config("softmaxFocal", Family.SOFTMAX_FOCAL,
                (r, k) -> SoftmaxFocal.builder().reduction(r).build()));
        c.add(new Config("softmaxFocal+alpha", Family.SOFTMAX_FOCAL,
                (r, k) -> SoftmaxFocal.builder().reduction(r).alpha(positive(k, 14)).gamma(1.5).build()));
        c.add(new Config("softmaxFocal gamma 0", Family.SOFTMAX_FOCAL,
                (r, k) -> SoftmaxFocal.builder().reduction(r).gamma(0).gradientScale(3).build()));
        c.add(new Config("bce", Family.BCE, (r, k) -> BinaryCrossEntropy.builder().reduction(r).build()));
        c.add(new Config("bce+posWeight", Family.BCE,
                (r, k) -> BinaryCrossEntropy.builder().reduction(r).posWeight(positive(k, 15)).build()));
        c.add(new Config("bce+binaryClassWeights", Family.BCE_HARD, (r, k) -> BinaryCrossEntropy.builder()
                .reduction(r).binaryClassWeights(0.5f, 3f).posWeight(positive(k, 16)).build()));
        c.add(new Config("mse", Family.MSE, (r, k) -> MeanSquaredError.builder().reduction(r).build()));
        c.add(new Config("sigmoidFocal", Family.SIGMOID_FOCAL,
                (r, k) -> SigmoidFocal.builder().reduction(r).build()));
        c.add(new Config("sigmoidFocal no alpha gamma 0.5", Family.SIGMOID_FOCAL,
                (r, k) -> SigmoidFocal.builder().reduction(r).alpha(-1).gamma(0.5).build()));
        c.add(new Config("sigmoidFocal hard gamma 0", Family.BCE_HARD,
                (r, k) -> SigmoidFocal.builder().reduction(r).alpha(0.75).gamma(0).build()));
        return c;
    }

    @Test
    void everySoftmaxVariantMatchesTheReference() {
        assumeGpu();
        Random rnd = new Random(seed + 1);
        boolean cluster = ((CudaBackend) Backends.cuda()).computeCapability() >= 90;
        for (KernelLauncher.Variant v : KernelLauncher.Variant.values()) {
            if (v == KernelLauncher.Variant.CLUSTER && !cluster) {
                System.out.println("CudaBackendTest: no cluster variant below sm_90");
                continue;
            }
            KernelLauncher.forcedVariant = v;
            for (Config config : configs()) {
                if (config.family() != Family.CE_LABELS && config.family() != Family.CE_DENSE
                        && config.family() != Family.SOFTMAX_FOCAL) {
                    continue;
                }
                for (int[] shape : new int[][] {{1, 1}, {9, 3}, {70, 32}, {11, 1023}, {5, 3000}, {3, 17000}, {2, 140000}}) {
                    Data d = Data.random(config.family(), shape[0], shape[1], rnd);
                    Loss loss = config.build().apply(Reduction.NONE, shape[1]);
                    String where = v + " " + config.name() + " " + shape[0] + "x" + shape[1] + " seed " + seed;
                    assertMatches(where, d, loss, d.runHost(loss, Backends.java()), d.runDevice(loss, this, false));
                    freeDeviceMemory();
                }
            }
        }
    }

    @Test
    void repeatedRunsAreBitIdenticalAndInPlaceWorks() {
        assumeGpu();
        Random rnd = new Random(seed + 2);
        for (int[] shape : new int[][] {{300, 10}, {64, 5000}, {4, 128256}}) {
            for (Config config : List.of(configs().get(4), configs().get(8), configs().get(12))) {
                Data d = Data.random(config.family(), shape[0], shape[1], rnd);
                Loss loss = config.build().apply(Reduction.MEAN, shape[1]);
                Outputs first = d.runDevice(loss, this, false);
                Outputs second = d.runDevice(loss, this, false);
                String where = config.name() + " " + shape[0] + "x" + shape[1] + " seed " + seed;
                assertEquals(first.result(), second.result(), where + ": repeated run");
                assertArrayEquals(first.gradient(), second.gradient(), where + ": repeated gradient");
                Outputs inPlace = d.runDevice(loss, this, true);
                assertEquals(first.result(), inPlace.result(), where + ": in place");
                assertArrayEquals(first.gradient(), inPlace.gradient(), where + ": in-place gradient");
                assertMatches(where + " in place", d, loss, d.runHost(loss, Backends.java()), inPlace);
            }
        }
    }

    @Test
    void badInputsInDeviceMemoryThrowTheCpuException() {
        assumeGpu();
        int n = 8;
        int c = 10;
        float[] logits = new float[n * c];
        int[] labels = new int[n];
        labels[5] = 12;
        CrossEntropy ce = CrossEntropy.builder().build();
        CUdeviceptr x = upload(logits);
        CUdeviceptr g = upload(new float[n * c]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> onDevice(ce, DeviceBatch.of(x, n, c).labels(upload(labels)).gradient(g)));
        assertEquals("labels[5] = 12 is outside [0, 10) and is not the ignore index -100", e.getMessage());

        float[] sw = {1, 1, 1, -1, 1, 1, 1, 1};
        e = assertThrows(IllegalArgumentException.class, () -> onDevice(ce, DeviceBatch.of(x, n, c)
                .labels(upload(new int[n])).sampleWeights(upload(sw)).gradient(g)));
        assertEquals("sampleWeights[3] = -1.0 is negative", e.getMessage());

        float[] ew = new float[n * c];
        ew[17] = Float.POSITIVE_INFINITY;
        e = assertThrows(IllegalArgumentException.class, () -> onDevice(MeanSquaredError.builder().build(), DeviceBatch.of(x, n, c).targets(upload(new float[n * c])).elementWeights(upload(ew))
                        .gradient(g)));
        assertEquals("elementWeights[17] = Infinity is infinite", e.getMessage());

        float[] soft = new float[n * c];
        soft[9] = 0.5f;
        e = assertThrows(IllegalArgumentException.class, () -> onDevice(BinaryCrossEntropy.builder().binaryClassWeights(1, 2)
                .build(), DeviceBatch.of(x, n, c).targets(upload(soft)).gradient(g)));
        assertEquals("targets[9] = 0.5: binary class weights need hard 0/1 targets", e.getMessage());

        // After an error the workspace is clean: the next call is right.
        Data d = Data.random(Family.CE_LABELS, n, c, new Random(seed + 3));
        assertMatches("after errors", d, ce, d.runHost(ce, Backends.java()), d.runDevice(ce, this, false));
    }

    @Test
    void rawAddressesStreamsAndCallerDenominators() {
        assumeGpu();
        Random rnd = new Random(seed + 4);
        Data d = Data.random(Family.CE_LABELS, 50, 300, rnd);
        CrossEntropy ce = CrossEntropy.builder().classWeights(positive(300, 5)).build();
        Outputs ref = d.runHost(ce, Backends.java());
        CUstream stream = new CUstream();
        ok(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING));
        try {
            // Raw long addresses and a raw stream handle.
            CUdeviceptr x = upload(d.logits);
            CUdeviceptr y = upload(d.labelsFor(ce));
            CUdeviceptr g = upload(new float[d.logits.length]);
            DeviceBatch b = DeviceBatch.of(addressOf(x), d.n, d.c).labels(addressOf(y)).gradient(addressOf(g))
                    .stream(handleOf(stream));
            if (d.sampleWeights != null) {
                b.sampleWeights(addressOf(upload(d.sampleWeights)), d.stride);
            }
            LossResult r = onDevice(ce, b);
            assertEquals("cuda", r.backend());
            assertMatches("raw addresses on a stream", d, ce, ref, new Outputs(r, download(g, d.logits.length), null));
            // The same on the CUstream object, and with a caller denominator.
            Outputs onStream = d.runDevice(ce, this, false, stream, -1);
            assertMatches("on a CUstream", d, ce, ref, onStream);
            Outputs scaled = d.runDevice(ce, this, false, null, 2 * ref.result().denominator());
            assertEquals(ref.result().loss() / 2, scaled.result().loss(), 1e-5 * Math.abs(ref.result().loss()));
            Outputs zero = d.runDevice(ce, this, false, null, 0);
            assertEquals(0, zero.result().loss(), 0.0);
            for (float v : zero.gradient()) {
                assertEquals(0f, v, 0f);  // +0 or -0 (0 times a negative difference)
            }
        } finally {
            cuStreamDestroy(stream);
        }
    }

    @Test
    void concurrentCallsOnTheDefaultStream() throws Exception {
        assumeGpu();
        Random rnd = new Random(seed + 5);
        List<Data> data = new ArrayList<>();
        List<Outputs> refs = new ArrayList<>();
        CrossEntropy ce = CrossEntropy.builder().labelSmoothing(0.1).build();
        for (int i = 0; i < 16; i++) {
            Data d = Data.random(Family.CE_LABELS, 20 + i, 500 + 37 * i, rnd);
            data.add(d);
            refs.add(d.runHost(ce, Backends.java()));
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Outputs>> futures = new ArrayList<>();
            for (Data d : data) {
                futures.add(pool.submit(() -> d.runHost(ce, Backends.cuda())));
            }
            for (int i = 0; i < futures.size(); i++) {
                assertMatches("concurrent call " + i, data.get(i), ce, refs.get(i), futures.get(i).get());
            }
        } finally {
            pool.shutdown();
        }
    }

    /**
     * Runs everywhere (its uploads stand in for the device's): a first upload of a weight vector
     * holds up only the calls that need that vector, not the cache (issue 17, item 11: it used to
     * synchronize the legacy stream under the cache's monitor); a vector is uploaded once however
     * many threads want it at once; a failed upload is retried by the next call; idle entries
     * beyond the cache's size are freed, entries in use are not.
     */
    @Test
    void vectorCacheUploadsHoldUpOnlyTheirOwnVector() throws Exception {
        java.util.concurrent.CountDownLatch slowStarted = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        float[] slow = {1, 2, 3};
        float[] fast = {4, 5};
        float[] failing = {6};
        java.util.Map<float[], Integer> uploads = new java.util.concurrent.ConcurrentHashMap<>();
        List<CUdeviceptr> freed = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicBoolean failOnce = new java.util.concurrent.atomic.AtomicBoolean(true);
        VectorCache cache = new VectorCache(v -> {
            uploads.merge(v, 1, Integer::sum);
            if (v == slow) {
                slowStarted.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
            if (v == failing && failOnce.getAndSet(false)) {
                throw new IllegalStateException("cuda: cuMemcpyHtoDAsync(vector) failed: a test's failure");
            }
            return new CUdeviceptr();
        }, freed::add);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            Future<CUdeviceptr[]> first = pool.submit(() -> cache.acquireAll(slow));
            assertTrue(slowStarted.await(10, java.util.concurrent.TimeUnit.SECONDS), "the slow upload started");
            Future<CUdeviceptr[]> second = pool.submit(() -> cache.acquireAll(slow));
            CUdeviceptr[] other = pool.submit(() -> cache.acquireAll(fast, null))
                    .get(10, java.util.concurrent.TimeUnit.SECONDS);  // not held up by the slow upload
            assertNotNull(other[0]);
            assertEquals(null, other[1]);
            cache.releaseAll(fast, null);
            Thread.sleep(50);
            assertFalse(second.isDone(), "a call that needs the vector being uploaded waits for it");
            release.countDown();
            CUdeviceptr a = first.get(10, java.util.concurrent.TimeUnit.SECONDS)[0];
            CUdeviceptr b = second.get(10, java.util.concurrent.TimeUnit.SECONDS)[0];
            assertTrue(a == b, "both calls got the one device copy");
            assertEquals(1, uploads.get(slow), "uploaded once");
            cache.releaseAll(slow);
            cache.releaseAll(slow);
        } finally {
            release.countDown();
            pool.shutdownNow();
        }
        assertThrows(IllegalStateException.class, () -> cache.acquireAll(fast, failing));  // releases fast itself
        CUdeviceptr[] retried = cache.acquireAll(failing);
        assertNotNull(retried[0]);
        assertEquals(2, uploads.get(failing), "the failed upload was tried again");
        cache.releaseAll(failing);

        // More idle vectors than the cache keeps: the least recently used idle ones are freed.
        float[] held = {7};
        CUdeviceptr heldCopy = cache.acquireAll(held)[0];
        for (int i = 0; i < VectorCache.MAX + 10; i++) {
            float[] v = {i};
            cache.acquireAll(v);
            cache.releaseAll(v);
        }
        assertFalse(freed.isEmpty(), "idle entries beyond the cache's size are freed");
        // identity: JCuda's equals compares addresses, and these stand-ins all have address 0
        assertFalse(freed.stream().anyMatch(f -> f == heldCopy), "an entry in use is not freed");
        cache.releaseAll(held);
    }

    /**
     * Several bad values in device memory: the device path names the same one as the host path
     * (SEMANTICS.md's order: labels, sample weights, element weights, targets), also where a NaN
     * weight masks the bad value (issue 17, item 8).
     */
    @Test
    void severalBadInputsGiveTheHostPathsException() {
        assumeGpu();
        int n = 4;
        int c = 3;
        float[] x = new float[n * c];
        float[] hard = {0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0};
        CUdeviceptr dx = upload(x);
        CUdeviceptr dg = upload(new float[n * c]);
        CrossEntropy ce = CrossEntropy.builder().build();
        int[] labels = {0, 2, 1, 7};
        float[] sw = {1, -1, 1, 1};
        sameException("CE: a bad sample weight in row 1, a bad label in row 3",
                () -> ce.compute(Batch.of(x, n, c).labels(labels).sampleWeights(sw), Backends.java()),
                () -> DeviceBatch.of(dx, n, c).labels(upload(labels)).sampleWeights(upload(sw)).gradient(dg)
                        .compute(ce));
        MeanSquaredError mse = MeanSquaredError.builder().build();
        float[] ew = new float[n * c];
        java.util.Arrays.fill(ew, 1);
        ew[0] = -1;
        float[] swInf = {1, 1, Float.POSITIVE_INFINITY, 1};
        sameException("MSE: a bad element weight in row 0, a bad sample weight in row 2",
                () -> mse.compute(Batch.of(x, n, c).targets(hard).elementWeights(ew).sampleWeights(swInf), Backends.java()),
                () -> DeviceBatch.of(dx, n, c).targets(upload(hard)).elementWeights(upload(ew))
                        .sampleWeights(upload(swInf)).gradient(dg).compute(mse));
        float[] swNaN = {Float.NaN, 1, 1, 1};
        float[] ewRow0 = ew.clone();
        ewRow0[0] = 1;
        ewRow0[2] = -1;
        sameException("MSE: a bad element weight under a NaN sample weight",
                () -> mse.compute(Batch.of(x, n, c).targets(hard).elementWeights(ewRow0).sampleWeights(swNaN),
                        Backends.java()),
                () -> DeviceBatch.of(dx, n, c).targets(upload(hard)).elementWeights(upload(ewRow0))
                        .sampleWeights(upload(swNaN)).gradient(dg).compute(mse));
        BinaryCrossEntropy bce = BinaryCrossEntropy.builder().binaryClassWeights(1, 3).build();
        float[] soft0 = hard.clone();
        soft0[0] = 0.5f;
        float[] swBad3 = {1, 1, 1, -1};
        sameException("BCE: a soft target in row 0, a bad sample weight in row 3",
                () -> bce.compute(Batch.of(x, n, c).targets(soft0).sampleWeights(swBad3), Backends.java()),
                () -> DeviceBatch.of(dx, n, c).targets(upload(soft0)).sampleWeights(upload(swBad3))
                        .gradient(dg).compute(bce));
        float[] soft1 = hard.clone();
        soft1[1] = 0.5f;
        sameException("BCE: a soft target under a NaN sample weight",
                () -> bce.compute(Batch.of(x, n, c).targets(soft1).sampleWeights(swNaN), Backends.java()),
                () -> DeviceBatch.of(dx, n, c).targets(upload(soft1)).sampleWeights(upload(swNaN))
                        .gradient(dg).compute(bce));
    }

    /**
     * Issue 11 on the GPU, through both paths, against the reference: dropped rows and elements
     * (term 0, not counted, gradient 0 with NaN / inf predictions), sigmoid focal targets outside
     * [0, 1] (NaN, counted), weighted terms beyond float range (+inf), weights of 1e-40 with MEAN,
     * a caller denominator of 1e-300, and a gradient scale that overflows over the weight sum the
     * device computes (the host path's exception). cuda_host_check proves the same arithmetic on
     * the CPU.
     */
    @Test
    void issue11ContractOnTheDevice() {
        assumeGpu();
        for (Issue11Case k : issue11Cases()) {
            Outputs ref = k.data().runHost(k.loss(), Backends.java());
            assertSameWithNonFinite(k.name() + ", host path", ref, k.data().runHost(k.loss(), Backends.cuda()));
            assertSameWithNonFinite(k.name() + ", device path", ref, k.data().runDevice(k.loss(), this, false));
            freeDeviceMemory();
        }
        // weights of 1e-40 with MEAN: the gradient of the unweighted mean, [1, 2] (issue 11, item 3)
        Data tiny = Data.of(Family.MSE, 2, 1, new float[] {1, 2}, null, new float[] {0, 0}, new float[] {1e-40f, 1e-40f});
        float[] g = tiny.runDevice(MeanSquaredError.builder().build(), this, false).gradient();
        assertEquals(1f, g[0], 1e-6f);
        assertEquals(2f, g[1], 2e-6f);
        // gradientScale / (the weight sum the device computes) overflows a double: the host path's exception
        MeanSquaredError huge = MeanSquaredError.builder().gradientScale(1e300).build();
        sameException("a gradient scale of 1e300 over weights of 1e-40",
                () -> tiny.runHost(huge, Backends.java()), () -> tiny.runDevice(huge, this, false));
    }

    record Issue11Case(String name, Data data, Loss loss) {
    }

    static List<Issue11Case> issue11Cases() {
        List<Issue11Case> cases = new ArrayList<>();
        float nan = Float.NaN;
        float inf = Float.POSITIVE_INFINITY;
        Random rnd = new Random(11);
        for (int c : new int[] {5, 40, 2000, 20001}) {
            // rows 0-2 dropped (class weight / alpha 0 at the label): a NaN, a +inf, a -inf label logit
            float[] x = new float[4 * c];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            x[1] = nan;
            x[c + 2] = inf;
            x[2 * c] = Float.NEGATIVE_INFINITY;
            int[] y = {0, 0, 0, 1};
            float[] cw = positive(c, 17);
            cw[0] = 0;
            Data rows = Data.of(Family.CE_LABELS, 4, c, x, y, null, null);
            String at = " (C = " + c + ")";
            cases.add(new Issue11Case("dropped rows, class weight 0" + at, rows,
                    CrossEntropy.builder().classWeights(cw).reduction(Reduction.NONE).build()));
            cases.add(new Issue11Case("dropped rows, class weight 0, z-loss" + at, rows,
                    CrossEntropy.builder().classWeights(cw).zLoss(1e-3).build()));
            cases.add(new Issue11Case("dropped rows, class weight 0, soft cap" + at, rows,
                    CrossEntropy.builder().classWeights(cw).softCap(20).reduction(Reduction.SUM).build()));
            cases.add(new Issue11Case("dropped rows, alpha 0" + at, Data.of(Family.SOFTMAX_FOCAL, 4, c, x, y, null, null),
                    SoftmaxFocal.builder().alpha(cw).reduction(Reduction.NONE).build()));
            float[] t = new float[4 * c];  // rows 0 and 1 without target mass
            t[2 * c + 3] = 1;
            t[3 * c + 1] = 1;
            cases.add(new Issue11Case("dropped rows, dense targets of 0" + at, Data.of(Family.CE_DENSE, 4, c, x, null, t,
                    null), CrossEntropy.builder().reduction(Reduction.NONE).build()));
        }
        float[] xb = {nan, inf, Float.NEGATIVE_INFINITY, 3, nan, nan, inf, Float.NEGATIVE_INFINITY};
        float[] tb = {0, 0, 0, 0, 1, 1, 1, 1};
        cases.add(new Issue11Case("BCE, binary class weight 0", Data.of(Family.BCE_HARD, 2, 4, xb, null, tb, null),
                BinaryCrossEntropy.builder().binaryClassWeights(0, 2).reduction(Reduction.NONE).build()));
        cases.add(new Issue11Case("BCE, pos_weight 0", Data.of(Family.BCE, 2, 4, xb, null, tb, null),
                BinaryCrossEntropy.builder().posWeight(new float[] {1, 0, 0, 2}).reduction(Reduction.NONE).build()));
        // (infinite x only where dropped: the gradient of an infinite focal term is NaN on the
        // kernels, a one-sided limit in the reference; the contract leaves it open)
        cases.add(new Issue11Case("sigmoid focal, alpha 0 at t = 1", Data.of(Family.SIGMOID_FOCAL, 2, 4,
                new float[] {nan, 2, -1, 3, nan, nan, inf, Float.NEGATIVE_INFINITY}, null, tb, null),
                SigmoidFocal.builder().alpha(0).reduction(Reduction.NONE).build()));
        cases.add(new Issue11Case("sigmoid focal, alpha 1 at t = 0", Data.of(Family.SIGMOID_FOCAL, 2, 4,
                new float[] {nan, inf, Float.NEGATIVE_INFINITY, 3, nan, -2, 1, 0.5f}, null, tb, null),
                SigmoidFocal.builder().alpha(1).gamma(1.5).reduction(Reduction.NONE).build()));
        float[] xs = {0.5f, -1, 2, 0, 3, -2, 0.5f, -1, 2, 0, 3, -2};
        float[] outside = {-0.5f, 1.5f, nan, inf, Float.NEGATIVE_INFINITY, 1.0000001f, 0, 1, 0.3f, -0f, 1e-30f, 0.999999f};
        for (double gamma : new double[] {0, 2, 1.5}) {
            cases.add(new Issue11Case("sigmoid focal targets outside [0, 1], gamma " + gamma,
                    Data.of(Family.SIGMOID_FOCAL, 2, 6, xs, null, outside, new float[] {1, 0}),
                    SigmoidFocal.builder().gamma(gamma).reduction(Reduction.NONE).build()));
        }
        // weighted terms beyond float range: 1e40 and 1e39 are +inf, 3e38 is a float
        float[] xw = new float[18];
        int[] yw = {0, 0, 0};
        float[] tw = new float[18];
        for (int i = 0; i < 3; i++) {
            xw[6 * i + 1] = 1e10f;
            tw[6 * i] = 1;
        }
        float[] big = {1e30f, 3e28f, 1e29f};
        for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.SUM}) {
            cases.add(new Issue11Case("CE, terms beyond float range, " + r, Data.of(Family.CE_LABELS, 3, 6, xw, yw,
                    null, big), CrossEntropy.builder().reduction(r).build()));
            cases.add(new Issue11Case("dense CE, terms beyond float range, " + r, Data.of(Family.CE_DENSE, 3, 6, xw,
                    null, tw, big), CrossEntropy.builder().reduction(r).build()));
            cases.add(new Issue11Case("softmax focal, terms beyond float range, " + r, Data.of(Family.SOFTMAX_FOCAL, 3,
                    6, xw, yw, null, big), SoftmaxFocal.builder().gamma(0).reduction(r).build()));
        }
        cases.add(new Issue11Case("MSE beyond float range", Data.of(Family.MSE, 3, 2,
                new float[] {1e30f, 1e19f, 1e19f, 2, 1e30f, 3}, null, new float[] {-1e30f, 0, 0, 1, -1e30f, 1},
                new float[] {1, 10, 0}), MeanSquaredError.builder().reduction(Reduction.NONE).build()));
        // sample weights of ~1e-40 with MEAN; a caller denominator of 1e-300
        float[] tinyWeights = {1e-40f, 3e-40f, 2e-39f};
        for (Family f : Family.values()) {
            boolean rows = f == Family.CE_LABELS || f == Family.CE_DENSE || f == Family.SOFTMAX_FOCAL;
            int c = rows ? 300 : 5;
            Data d = Data.random(f, 3, c, rnd);
            if (d.labels != null) {
                d.labels = new int[] {1, 2, 3};
            }
            d.sampleWeights = tinyWeights;
            d.stride = 1;
            d.elementWeights = null;
            d.upstream = null;
            Loss loss = configs().stream().filter(k -> k.family() == f).findFirst().orElseThrow().build()
                    .apply(Reduction.MEAN, c);
            cases.add(new Issue11Case(f + ", sample weights ~1e-40, MEAN", d, loss));
            Data h = Data.random(f, 2, rows ? 5 : 3, rnd);
            if (h.labels != null) {
                h.labels = new int[] {0, 4};
            }
            if (f == Family.MSE) {
                h.targets = h.logits.clone();  // x == t: a zero gradient, not inf x 0 = NaN
            }
            h.elementWeights = null;
            h.upstream = null;
            h.callerDenominator = 1e-300;
            cases.add(new Issue11Case(f + ", denominator 1e-300", h, configs().stream().filter(k -> k.family() == f)
                    .findFirst().orElseThrow().build().apply(Reduction.MEAN, rows ? 5 : 3)));
        }
        return cases;
    }

    /**
     * As {@link #assertMatches} where everything is finite; a non-finite per-term loss, gradient
     * element or loss must be the same non-finite value (NaN as NaN, inf with its sign).
     */
    static void assertSameWithNonFinite(String where, Outputs ref, Outputs got) {
        assertEquals(ref.result().nonFinite(), got.result().nonFinite(), where + ": nonFinite");
        assertEquals(ref.result().counted(), got.result().counted(), where + ": counted");
        assertEquals(ref.result().masked(), got.result().masked(), where + ": masked");
        assertSameValue(where + ": loss", ref.result().loss(), got.result().loss());
        assertSameValue(where + ": denominator", ref.result().denominator(), got.result().denominator());
        if (ref.perTerm() != null) {
            for (int i = 0; i < ref.perTerm().length; i++) {
                assertSameValue(where + ": perTerm[" + i + "]", ref.perTerm()[i], got.perTerm()[i]);
            }
        }
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < ref.gradient().length; i++) {
            float e = ref.gradient()[i];
            float a = got.gradient()[i];
            if (!Float.isFinite(e) || !Float.isFinite(a)) {
                assertTrue(Float.compare(e, a) == 0 || (Float.isNaN(e) && Float.isNaN(a)),
                        where + ": gradient[" + i + "] = " + a + ", reference " + e);
                continue;
            }
            diff += ((double) a - e) * ((double) a - e);
            norm += (double) e * e;
        }
        assertTrue(Math.sqrt(diff) <= TOLERANCE * Math.sqrt(norm) + 1e-30,
                where + ": ||g - g_ref|| / ||g_ref|| = " + Math.sqrt(diff / norm));
    }

    private static void assertSameValue(String what, double expected, double actual) {
        if (!Double.isFinite(expected) || !Double.isFinite(actual)) {
            assertTrue(Double.compare(expected, actual) == 0 || (Double.isNaN(expected) && Double.isNaN(actual)),
                    what + ": expected " + expected + " but was " + actual);
            return;
        }
        assertTrue(Math.abs(expected - actual) <= TOLERANCE * Math.abs(expected) + 1e-30 * (1 + Math.abs(expected)),
                what + ": expected " + expected + " but was " + actual);
    }

    private static void sameException(String what, org.junit.jupiter.api.function.Executable host,
                                      org.junit.jupiter.api.function.Executable device) {
        String expected = assertThrows(IllegalArgumentException.class, host, what + ": host").getMessage();
        String actual = assertThrows(IllegalArgumentException.class, device, what + ": device").getMessage();
        assertEquals(expected, actual, what);
    }

    /**
     * First uses of many weight vectors at once, each call on its own non-blocking stream: every
     * upload is complete before a kernel on another stream reads it (issue 17, item 11: the upload
     * no longer waits on the legacy stream, so it must wait on its own).
     */
    @Test
    void firstUsesOfWeightVectorsOnManyStreams() throws Exception {
        assumeGpu();
        Random rnd = new Random(seed + 6);
        int threads = 8;
        List<Data> data = new ArrayList<>();
        List<CrossEntropy> losses = new ArrayList<>();
        List<Outputs> refs = new ArrayList<>();
        for (int i = 0; i < 2 * threads; i++) {
            Data d = Data.random(Family.CE_LABELS, 30 + i, 4000 + 101 * i, rnd);
            CrossEntropy ce = CrossEntropy.builder().classWeights(positive(d.c, 100 + i)).build();  // a new vector
            data.add(d);
            losses.add(ce);
            refs.add(d.runHost(ce, Backends.java()));
        }
        List<CUstream> streams = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int i = 0; i < 2 * threads; i++) {
                CUstream st = new CUstream();
                ok(cuStreamCreate(st, CUstream_flags.CU_STREAM_NON_BLOCKING));
                streams.add(st);
            }
            List<Future<Outputs>> futures = new ArrayList<>();
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            for (int i = 0; i < 2 * threads; i++) {
                final int k = i;
                futures.add(pool.submit(() -> {
                    go.await();
                    ok(cuCtxSetCurrent(primary));
                    return data.get(k).runDevice(losses.get(k), this, false, streams.get(k), -1);
                }));
            }
            go.countDown();
            for (int i = 0; i < futures.size(); i++) {
                assertMatches("first use of a weight vector on stream " + i, data.get(i), losses.get(i), refs.get(i),
                        futures.get(i).get());
            }
        } finally {
            pool.shutdown();
            for (CUstream st : streams) {
                cuStreamDestroy(st);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** What one call produced. */
    record Outputs(LossResult result, float[] gradient, float[] perTerm) {
    }

    /** Random inputs of one case, on the host, with helpers to run them on either path. */
    static final class Data {
        final Family family;
        final int n;
        final int c;
        float[] logits;
        int[] labels;
        float[] targets;
        float[] sampleWeights;
        int stride = 1;
        float[] elementWeights;
        float[] upstream;
        double callerDenominator = -1;  // MEAN / BATCH_MEAN: the caller's denominator where >= 0

        private Data(Family family, int n, int c) {
            this.family = family;
            this.n = n;
            this.c = c;
        }

        /** Given data (null: absent); no element weights or upstream. */
        static Data of(Family family, int n, int c, float[] logits, int[] labels, float[] targets,
                       float[] sampleWeights) {
            Data d = new Data(family, n, c);
            d.logits = logits;
            d.labels = labels;
            d.targets = targets;
            d.sampleWeights = sampleWeights;
            return d;
        }

        /** Random data; the optional inputs (sample weights with stride 1 or 2, element weights, upstream) at random. */
        static Data random(Family family, int n, int c, Random rnd) {
            int options = rnd.nextInt(16);
            Data d = new Data(family, n, c);
            int elements = n * c;
            d.logits = new float[elements];
            for (int i = 0; i < elements; i++) {
                d.logits[i] = (float) (rnd.nextGaussian() * 3);
            }
            boolean rows = family == Family.CE_LABELS || family == Family.CE_DENSE || family == Family.SOFTMAX_FOCAL;
            if (family == Family.CE_LABELS || family == Family.SOFTMAX_FOCAL) {
                d.labels = new int[n];
                for (int i = 0; i < n; i++) {
                    // About one row in ten ignored (IGNORE becomes the loss's own ignore index).
                    d.labels[i] = rnd.nextInt(10) == 0 ? IGNORE : rnd.nextInt(c);
                }
            } else {
                d.targets = new float[elements];
                for (int i = 0; i < n; i++) {
                    double sum = 0;
                    for (int j = 0; j < c; j++) {
                        int at = i * c + j;
                        d.targets[at] = switch (family) {
                            case CE_DENSE -> (float) rnd.nextDouble();
                            case BCE, SIGMOID_FOCAL -> (float) rnd.nextDouble();
                            case BCE_HARD -> rnd.nextInt(3) == 0 ? 1f : 0f;
                            case MSE -> (float) rnd.nextGaussian();
                            default -> 0f;
                        };
                        sum += d.targets[at];
                    }
                    if (family == Family.CE_DENSE && sum > 0) {
                        for (int j = 0; j < c; j++) {
                            d.targets[i * c + j] = (float) (d.targets[i * c + j] / sum);
                        }
                    }
                }
            }
            if ((options & 3) != 0) {
                d.stride = (options & 3) == 3 ? 2 : 1;
                d.sampleWeights = new float[Math.max(1, n * d.stride)];
                for (int i = 0; i < d.sampleWeights.length; i++) {
                    d.sampleWeights[i] = rnd.nextInt(12) == 0 ? Float.NaN : (float) (rnd.nextDouble() * 2);
                }
            }
            if (!rows && (options & 4) != 0) {
                d.elementWeights = new float[elements];
                for (int i = 0; i < elements; i++) {
                    d.elementWeights[i] = rnd.nextInt(20) == 0 ? Float.NaN : (float) (rnd.nextDouble() * 2);
                }
            }
            int terms = rows ? n : elements;
            if ((options & 8) != 0) {
                d.upstream = new float[terms];
                for (int i = 0; i < terms; i++) {
                    d.upstream[i] = (float) (rnd.nextDouble() * 2 - 0.5);
                }
            }
            return d;
        }

        private int terms() {
            return family == Family.CE_LABELS || family == Family.CE_DENSE || family == Family.SOFTMAX_FOCAL
                    ? n : n * c;
        }

        /**
         * An upper bound of each term's effective weight (sample x element weight x the loss's
         * largest class weight / alpha / pos weight; masked terms 0), for the absolute floors.
         */
        double[] termWeights(Loss loss) {
            double factor = 1;
            float[][] vectors = loss instanceof CrossEntropy ce ? new float[][] {ce.classWeights()}
                    : loss instanceof SoftmaxFocal f ? new float[][] {f.alpha()}
                    : loss instanceof BinaryCrossEntropy bce ? new float[][] {bce.posWeight(), bce.binaryClassWeights()}
                    : new float[0][];
            for (float[] v : vectors) {
                if (v != null) {
                    for (float x : v) {
                        factor = Math.max(factor, x);
                    }
                }
            }
            if (loss instanceof BinaryCrossEntropy bce && bce.posWeight() != null && bce.binaryClassWeights() != null) {
                factor = 0;
                for (float x : bce.posWeight()) {
                    factor = Math.max(factor, x);
                }
                factor = Math.max(1, factor) * Math.max(bce.binaryClassWeights()[0], bce.binaryClassWeights()[1]);
            }
            double[] w = new double[terms()];
            for (int i = 0; i < w.length; i++) {
                int row = terms() == n ? i : i / c;
                double s = sampleWeights == null ? 1 : sampleWeights[row * stride];
                double e = elementWeights == null ? 1 : elementWeights[i];
                double v = Math.abs(s * e) * factor;
                w[i] = Double.isNaN(v) ? 0 : v;
            }
            return w;
        }

        /** The labels with IGNORE replaced by the loss's ignore index. */
        int[] labelsFor(Loss loss) {
            int ignore = loss instanceof CrossEntropy ce ? ce.ignoreIndex() : ((SoftmaxFocal) loss).ignoreIndex();
            int[] out = labels.clone();
            for (int i = 0; i < out.length; i++) {
                out[i] = out[i] == IGNORE ? ignore : out[i];
            }
            return out;
        }

        String describe() {
            return (sampleWeights != null ? "sample weights stride " + stride : "no sample weights")
                    + (elementWeights != null ? ", element weights" : "") + (upstream != null ? ", upstream" : "");
        }

        /** Through {@link Loss#compute(Batch, org.fusedloss.Backend)}: the reference, or the CUDA host-copy path. */
        Outputs runHost(Loss loss, org.fusedloss.Backend on) {
            float[] grad = new float[n * c];
            float[] perTerm = loss.reduction() == Reduction.NONE ? new float[terms()] : null;
            Batch b = Batch.of(logits, n, c).gradient(grad);
            if (labels != null) {
                b.labels(labelsFor(loss));
            } else {
                b.targets(targets);
            }
            if (sampleWeights != null) {
                b.sampleWeights(sampleWeights, 0, stride);
            }
            if (elementWeights != null) {
                b.elementWeights(elementWeights);
            }
            if (loss.reduction() == Reduction.NONE) {
                b.perTerm(perTerm);
                if (upstream != null) {
                    b.upstream(upstream);
                }
            }
            if (callerDenominator >= 0) {
                b.denominator(callerDenominator);
            }
            return new Outputs(loss.compute(b, on), grad, perTerm);
        }

        Outputs runDevice(Loss loss, CudaBackendTest t, boolean inPlace) {
            return runDevice(loss, t, inPlace, null, callerDenominator);
        }

        /** Through {@link DeviceBatch#compute(Loss)} on device copies of the inputs. */
        Outputs runDevice(Loss loss, CudaBackendTest t, boolean inPlace, CUstream stream, double denominator) {
            CUdeviceptr x = t.upload(logits);
            CUdeviceptr g = inPlace ? x : t.upload(new float[n * c]);
            CUdeviceptr pt = loss.reduction() == Reduction.NONE ? t.upload(new float[terms()]) : null;
            DeviceBatch b = DeviceBatch.of(x, n, c).gradient(g).stream(stream);
            if (labels != null) {
                b.labels(t.upload(labelsFor(loss)));
            } else {
                b.targets(t.upload(targets));
            }
            if (sampleWeights != null) {
                b.sampleWeights(t.upload(sampleWeights), stride);
            }
            if (elementWeights != null) {
                b.elementWeights(t.upload(elementWeights));
            }
            if (pt != null) {
                b.perTerm(pt);
                if (upstream != null) {
                    b.upstream(t.upload(upstream));
                }
            }
            if (denominator >= 0) {
                b.denominator(denominator);
            }
            LossResult r = onDevice(loss, b);
            assertEquals("cuda", r.backend());
            return new Outputs(r, download(g, n * c), pt == null ? null : download(pt, terms()));
        }
    }

    /**
     * The contract's criteria (as the suite's float backends are held to): per-term relative 1e-5
     * with an absolute floor of 1e-6 x (1 + the term's weight) for terms that float cancellation
     * puts near 0; gradient ||g - g_ref|| <= 1e-5 ||g_ref|| + 1e-6 x its natural size (for
     * gradients that are 0 in exact arithmetic, e.g. C = 1); the loss within the sum of the
     * per-term floors over the denominator; counts exact.
     */
    static void assertMatches(String where, Data d, Loss loss, Outputs ref, Outputs got) {
        LossResult a = ref.result();
        LossResult b = got.result();
        assertEquals("java", a.backend());
        assertEquals("cuda", b.backend(), where);
        double[] w = d.termWeights(loss);
        double den = a.denominator();
        double lossFloor = 0;
        double natural = 0;
        for (int i = 0; i < w.length; i++) {
            lossFloor += 1e-6 * (1 + w[i]);
            double u = loss.reduction() == Reduction.NONE && d.upstream != null ? d.upstream[i] : 1;
            natural += u * u * w[i] * w[i];
        }
        lossFloor = den == 0 ? 0 : lossFloor / den;
        natural = den == 0 ? 0 : Math.abs(loss.gradientScale()) / den * Math.sqrt(natural);
        assertClose(where + ": loss", a.loss(), b.loss(), lossFloor);
        assertClose(where + ": denominator", a.denominator(), b.denominator(), 0);
        assertClose(where + ": weightSum", a.weightSum(), b.weightSum(), 0);
        assertEquals(a.counted(), b.counted(), where + ": counted");
        assertEquals(a.masked(), b.masked(), where + ": masked");
        assertEquals(a.nonFinite(), b.nonFinite(), where + ": nonFinite");
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < ref.gradient().length; i++) {
            assertTrue(Float.isFinite(got.gradient()[i]), where + ": gradient[" + i + "] = " + got.gradient()[i]);
            double e = (double) got.gradient()[i] - ref.gradient()[i];
            diff += e * e;
            norm += (double) ref.gradient()[i] * ref.gradient()[i];
        }
        diff = Math.sqrt(diff);
        norm = Math.sqrt(norm);
        assertTrue(diff <= TOLERANCE * norm + Math.max(1e-6 * natural, 1e-8),
                where + ": ||g - g_ref|| / ||g_ref|| = " + diff / norm + " (||g_ref|| = " + norm + ")");
        if (ref.perTerm() != null) {
            for (int i = 0; i < ref.perTerm().length; i++) {
                assertClose(where + ": perTerm[" + i + "]", ref.perTerm()[i], got.perTerm()[i], 1e-6 * (1 + w[i]));
            }
        }
    }

    private static void assertClose(String what, double expected, double actual, double floor) {
        double tolerance = TOLERANCE * Math.abs(expected) + floor;
        assertTrue(Math.abs(expected - actual) <= tolerance || expected == actual,
                what + ": expected " + expected + " but was " + actual);
    }

    static float[] positive(int n, long salt) {
        Random r = new Random(salt * 31 + n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (0.2 + r.nextDouble() * 2);
        }
        return v;
    }

    // ---- device memory of the tests ----

    CUdeviceptr upload(float[] a) {
        CUdeviceptr p = alloc(a.length * 4L);
        if (a.length > 0) {
            ok(cuMemcpyHtoD(p, Pointer.to(a), a.length * 4L));
        }
        return p;
    }

    CUdeviceptr upload(int[] a) {
        CUdeviceptr p = alloc(a.length * 4L);
        if (a.length > 0) {
            ok(cuMemcpyHtoD(p, Pointer.to(a), a.length * 4L));
        }
        return p;
    }

    private CUdeviceptr alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        ok(cuMemAlloc(p, Math.max(bytes, 256)));
        allocations.add(p);
        return p;
    }

    static float[] download(CUdeviceptr p, int n) {
        float[] out = new float[n];
        if (n > 0) {
            ok(cuMemcpyDtoH(Pointer.to(out), p, n * 4L));
        }
        return out;
    }

    private static void ok(int result) {
        assertEquals(CUresult.CUDA_SUCCESS, result, CUresult.stringFor(result));
    }

    /** The raw address of a JCuda device pointer (tests only: JCuda keeps it private). */
    static long addressOf(CUdeviceptr p) {
        return field(p, NativePointerObject.class, "nativePointer") + field(p, Pointer.class, "byteOffset");
    }

    static long handleOf(CUstream s) {
        return field(s, NativePointerObject.class, "nativePointer");
    }

    private static long field(Object o, Class<?> owner, String name) {
        try {
            Field f = owner.getDeclaredField(name);
            f.setAccessible(true);
            return f.getLong(o);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }
}
