package org.fusedloss.dl4j;

import static org.fusedloss.dl4j.Dl4jCheck.classIndices;
import static org.fusedloss.dl4j.Dl4jCheck.oneHot;
import static org.fusedloss.dl4j.Dl4jCheck.uniform;
import static org.fusedloss.dl4j.Dl4jCheck.zeroOne;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.List;
import org.fusedloss.Backends;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.CrossEntropy;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.Reduction;
import org.junit.jupiter.api.Test;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** What the five losses share: the backend that runs, memory (zero copy, views, copies), activations, settings. */
class FusedLossFunctionTest {

    private static List<FusedLossFunction> everyLoss() {
        return List.of(new FusedCrossEntropy(), new FusedSoftmaxFocal(), new FusedBinaryCrossEntropy(),
                new FusedMeanSquaredError(), new FusedSigmoidFocal());
    }

    /** The core's native library and ND4J's load in one JVM, and the losses run on the native backend. */
    @Test
    void runsOnTheNativeBackendBesideNd4j() {
        assertTrue(Backends.nativeCpu().isAvailable(), () -> "the native backend did not load beside ND4J: "
                + Backends.nativeCpu().unavailabilityReason().orElse(""));
        assertEquals("CpuBackend", Nd4j.getBackend().getClass().getSimpleName());
        INDArray x = uniform(1, 64, 10, -3, 3);
        INDArray y = oneHot(classIndices(2, 64, 10), 10);
        for (FusedLossFunction loss : everyLoss()) {
            assertEquals("native", loss.backend().name(), loss.toString());
        }
        // The same loss pinned to the Java reference gives the same numbers (float against double).
        FusedCrossEntropy onJava = new FusedCrossEntropy(CrossEntropy.builder().backend("java").build());
        assertEquals("java", onJava.backend().name());
        Pair<Double, INDArray> nativeResult = new FusedCrossEntropy()
                .computeGradientAndScore(y, x, new ActivationSoftmax(), null, false);
        Pair<Double, INDArray> javaResult = onJava.computeGradientAndScore(y, x, new ActivationSoftmax(), null, false);
        Dl4jCheck.assertClose("score, native against java", javaResult.getFirst(), nativeResult.getFirst());
        Dl4jCheck.assertClose("gradient, native against java", javaResult.getSecond(), nativeResult.getSecond());
    }

    /** Float32 C-order rows, whole or a range of them, are ND4J's own memory behind the buffer. */
    @Test
    void contiguousFloatArraysAreNotCopied() {
        INDArray a = uniform(3, 20, 7, -1, 1);
        INDArray rows = a.get(NDArrayIndex.interval(5, 12), NDArrayIndex.all());
        for (INDArray array : new INDArray[] {a, rows}) {
            assertSame(array, Nd4jArrays.rowMajorFloats(array));
            FloatBuffer b = Nd4jArrays.buffer(array);
            assertTrue(b.isDirect());
            b.put(b.position() + 8, 42f);   // written through the buffer, seen by ND4J
            assertEquals(42f, array.getFloat(1, 1));
        }
        assertEquals(42f, a.getFloat(6, 1));
        INDArray fOrder = a.dup('f');
        INDArray columns = a.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 4));
        INDArray doubles = a.castTo(DataType.DOUBLE);
        for (INDArray array : new INDArray[] {fOrder, columns, doubles}) {
            INDArray copy = Nd4jArrays.rowMajorFloats(array);
            assertNotSame(array, copy);
            assertEquals(array.castTo(DataType.FLOAT), copy);
        }
    }

    /**
     * A view of rows, a strided view of columns, F order and double give the numbers of the plain
     * float32 array (the same floats reach the kernels); the gradient comes back in preOutput's type.
     */
    @Test
    void viewsFOrderAndDoubleGiveTheSameNumbers() {
        int n = 30;
        int k = 6;
        INDArray x = uniform(4, n, k, -4, 4);
        INDArray t = zeroOne(5, n, k);
        INDArray mask = zeroOne(6, n, k);
        INDArray wide = uniform(7, n + 10, 3 * k, 0, 1);
        wide.get(NDArrayIndex.interval(4, 4 + n), NDArrayIndex.interval(k, 2 * k)).assign(x);
        INDArray strided = wide.get(NDArrayIndex.interval(4, 4 + n), NDArrayIndex.interval(k, 2 * k));
        INDArray tall = uniform(8, 3 * n, k, 0, 1);
        tall.get(NDArrayIndex.interval(n, 2 * n), NDArrayIndex.all()).assign(x);
        INDArray rowView = tall.get(NDArrayIndex.interval(n, 2 * n), NDArrayIndex.all());
        FusedBinaryCrossEntropy loss = new FusedBinaryCrossEntropy();
        IActivation sigmoid = new ActivationSigmoid();
        Pair<Double, INDArray> plain = loss.computeGradientAndScore(t, x, sigmoid, mask, true);
        for (INDArray variant : new INDArray[] {rowView, strided, x.dup('f'), x.castTo(DataType.DOUBLE)}) {
            Pair<Double, INDArray> r = loss.computeGradientAndScore(t.dup('f'), variant, sigmoid,
                    mask.castTo(DataType.DOUBLE), true);
            assertEquals(plain.getFirst(), r.getFirst(), variant.shapeInfoToString());
            assertEquals(variant.dataType(), r.getSecond().dataType());
            assertArrayEquals(plain.getSecond().data().asFloat(), r.getSecond().castTo(DataType.FLOAT).dup('c')
                    .data().asFloat(), variant.shapeInfoToString());
        }
    }

    /** The gradient is a new array, in the open workspace as DL4J's own losses allocate theirs. */
    @Test
    void theGradientIsAFreshArrayInTheCurrentWorkspace() {
        INDArray x = uniform(9, 16, 5, -2, 2);
        INDArray y = oneHot(classIndices(10, 16, 5), 5);
        WorkspaceConfiguration conf = WorkspaceConfiguration.builder().initialSize(1 << 20).build();
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(conf, "FusedLossFunctionTest")) {
            INDArray g = new FusedCrossEntropy().computeGradient(y, x, new ActivationSoftmax(), null);
            assertTrue(g.isAttached());
            assertFalse(g.data().address() == x.data().address());
        }
        assertFalse(new FusedCrossEntropy().computeGradient(y, x, new ActivationSoftmax(), null).isAttached());
    }

    /** Each loss takes the activation it fuses and rejects any other, naming it and what to use. */
    @Test
    void otherActivationsAreRejected() {
        INDArray x = uniform(11, 4, 3, -1, 1);
        INDArray y = oneHot(new int[] {0, 1, 2, 1}, 3);
        for (FusedLossFunction loss : everyLoss()) {
            IActivation wrong = loss instanceof FusedMeanSquaredError ? new ActivationTanH() : new ActivationReLU();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> loss.computeGradientAndScore(y, x, wrong, null, true));
            assertTrue(e.getMessage().contains(wrong.toString()) && e.getMessage().contains("Activation."),
                    e.getMessage());
        }
        assertThrows(IllegalArgumentException.class,
                () -> new FusedMeanSquaredError().computeScore(y, x, new ActivationSoftmax(), null, true));
        new FusedMeanSquaredError().computeScore(y, x, new ActivationIdentity(), null, true);
    }

    /** An empty mini-batch scores 0 and has an empty gradient of its shape. */
    @Test
    void anEmptyMiniBatch() {
        INDArray x = Nd4j.create(DataType.FLOAT, 0, 4);
        INDArray y = Nd4j.create(DataType.FLOAT, 0, 4);
        FusedCrossEntropy ce = new FusedCrossEntropy();
        Pair<Double, INDArray> r = ce.computeGradientAndScore(y, x, new ActivationSoftmax(), null, false);
        assertEquals(0.0, r.getFirst());
        assertArrayEquals(new long[] {0, 4}, r.getSecond().shape());
        assertArrayEquals(new long[] {0, 1}, ce.computeScoreArray(y, x, new ActivationSoftmax(), null).shape());
        assertEquals(0.0, ce.computeScore(y, x, new ActivationSoftmax(), null, false));
    }

    /** What DL4J decides (the reduction, gradient scale and switch) must be left at the core's defaults. */
    @Test
    void aLossThatReducesOrScalesItselfIsRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> new FusedCrossEntropy(CrossEntropy.builder().reduction(Reduction.SUM).build()));
        assertThrows(IllegalArgumentException.class,
                () -> new FusedBinaryCrossEntropy(BinaryCrossEntropy.builder().gradientScale(0.5).build()));
        assertThrows(IllegalArgumentException.class,
                () -> new FusedMeanSquaredError(MeanSquaredError.builder().computeGradient(false).build()));
    }
}
