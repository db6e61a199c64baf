package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.array;
import static org.fusedloss.djl.Harness.classes;
import static org.fusedloss.djl.Harness.longs;
import static org.fusedloss.djl.Harness.normal;
import static org.fusedloss.djl.Harness.run;
import static org.fusedloss.djl.Harness.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;
import org.fusedloss.CrossEntropy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What a step copies: nothing for float32 host arrays; each copy of the other paths is counted. */
class CopiesTest extends WithManager {
    private static final int N = 50;
    private static final int C = 20;
    private static float[] logits;
    private static int[] y;
    private static float[] sw;

    @BeforeAll
    static void start() {
        Random rnd = new Random(11);
        logits = normal(rnd, N * C, 2);
        y = classes(rnd, N, C);
        sw = uniform(rnd, N, 0.5, 2);
    }

    @Test
    void djlsDirectBufferIsTheArraysOwnMemory() {
        // What the in-place path rests on (DJL documents it; PyTorch gives it for contiguous CPU tensors).
        NDArray a = manager.zeros(new Shape(3, 4));
        ByteBuffer b = a.toByteBuffer(true);
        assertTrue(b.isDirect(), "PyTorch hands out direct buffers");
        b.order(ByteOrder.nativeOrder()).putFloat(5 * Float.BYTES, 7.25f);
        assertEquals(7.25f, a.toFloatArray()[5], "a write through the buffer reaches the array");
    }

    @Test
    void float32HostArraysAreReadAndWrittenInPlace() {
        FusedLoss loss = new FusedCrossEntropyLoss(CrossEntropy.builder().classWeights(uniform(new Random(1), C, 1, 2)).build());
        run(loss, array(manager, logits, N, C), new NDList(manager.create(y), manager.create(sw)));
        assertEquals(List.of(), loss.lastEvaluation().copies(), "INT32 labels, float32 predictions and weights");
        assertEquals(0, loss.lastEvaluation().copiedBytes());
        assertEquals("cpu()", loss.lastEvaluation().device());
    }

    @Test
    void int64LabelsAreNarrowedOnce() {
        FusedLoss loss = new FusedCrossEntropyLoss();
        run(loss, array(manager, logits, N, C), new NDList(manager.create(longs(y))));
        assertEquals(List.of("labels: int64 -> int32 (" + N * 4 + " bytes)"), loss.lastEvaluation().copies());
    }

    @Test
    void theGpuPathCopiesInOnceAndOutOnceWithTheSameResult() {
        NDList labels = new NDList(manager.create(y), manager.create(sw));
        FusedLoss inPlace = new FusedCrossEntropyLoss();
        Harness.Run a = run(inPlace, array(manager, logits, N, C), labels);
        FusedLoss staged = new FusedCrossEntropyLoss();
        staged.stageThroughHost(true);
        Harness.Run b = run(staged, array(manager, logits, N, C), labels);
        assertEquals(a.loss(), b.loss());
        assertArrayEquals(a.gradient(), b.gradient(), "the same kernel on the same data: bit for bit");
        List<String> copies = staged.lastEvaluation().copies();
        assertEquals(1, copies.stream().filter(s -> s.startsWith("predictions: cpu() -> host")).count(), copies.toString());
        assertEquals(1, copies.stream().filter(s -> s.startsWith("gradient: host -> cpu()")).count(), copies.toString());
        assertEquals(4, copies.size(), "predictions, labels, weights in; gradient out: " + copies);
        assertEquals(2L * N * C * 4 + 2L * N * 4, staged.lastEvaluation().copiedBytes());
    }

    @Test
    void nonContiguousPredictionsGiveTheSameResult() {
        NDArray transposedView = array(manager, logits, C, N).transpose();   // (N, C), column-major in memory
        NDArray contiguous = manager.create(transposedView.toFloatArray(), new Shape(N, C));
        NDList labels = new NDList(manager.create(y));
        Harness.Run a = run(new FusedCrossEntropyLoss(), contiguous, labels);
        Harness.Run b = run(new FusedCrossEntropyLoss(), transposedView, labels);
        assertEquals(a.loss(), b.loss());
        assertArrayEquals(a.gradient(), b.gradient());
    }
}
