package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.array;
import static org.fusedloss.djl.Harness.normal;
import static org.fusedloss.djl.Harness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Random;
import org.fusedloss.Backends;
import org.junit.jupiter.api.Test;

/**
 * The fused losses run on the native CPU backend inside the JVM that runs DJL's PyTorch engine: both
 * native libraries load side by side, and nothing passes on the Java fallback unnoticed.
 */
class NativeBackendInDjlTest {

    @Test
    void everyLossRanOnTheNativeBackendBesideLibtorch() {
        assertEquals("PyTorch", Engine.getInstance().getEngineName());
        assertTrue(Backends.nativeCpu().isAvailable(), "the native backend did not load inside the DJL JVM: "
                + Backends.nativeCpu().unavailabilityReason().orElse("?"));
        assertEquals("true", System.getProperty("ai.djl.offline"), "the tests must not download anything");
        List<FusedLoss> losses = List.of(new FusedCrossEntropyLoss(), new FusedSoftmaxFocalLoss(),
                new FusedBinaryCrossEntropyLoss(), new FusedMeanSquaredErrorLoss(), new FusedSigmoidFocalLoss());
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] x = normal(new Random(1), 8 * 5, 1);
            for (FusedLoss loss : losses) {
                NDList labels = loss instanceof FusedCrossEntropyLoss || loss instanceof FusedSoftmaxFocalLoss
                        ? new NDList(manager.create(new int[] {0, 1, 2, 3, 4, 0, 1, 2}))
                        : new NDList(manager.zeros(new ai.djl.ndarray.types.Shape(8, 5)));
                run(loss, array(manager, x, 8, 5), labels);
                assertEquals("native", loss.lastEvaluation().result().backend(), loss.getName());
            }
        }
    }
}
