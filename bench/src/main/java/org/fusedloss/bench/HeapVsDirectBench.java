package org.fusedloss.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.concurrent.TimeUnit;
import org.fusedloss.Batch;
import org.fusedloss.CrossEntropy;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The same weighted cross-entropy call on the native backend with heap {@code float[]} arrays and
 * with direct {@code FloatBuffer}s. JavaCPP copies a plain array in and out unless told otherwise
 * (it pins them here); copying the 525 MB logits and the 525 MB gradient in and out would be four
 * more copies of 525 MB and make the heap case 2-3x slower, so equal times show that nothing is copied.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class HeapVsDirectBench {
    @Param({"1024x128256"})
    public String shape;
    @Param({"heap", "direct"})
    public String memory;
    @Param({"1", "2"})
    public int threads;

    private LossUnderTest call;

    @Setup
    public void setup() {
        call = create(shape, memory, threads);
    }

    /** The checked call of one case (Summary's paired timings build theirs here too). */
    static LossUnderTest create(String shape, String memory, int threads) {
        PeerData data = PeerData.of(shape);
        Batch batch;
        if (memory.equals("heap")) {
            batch = Batch.of(data.logits(), data.rows, data.cols).labels(data.labels())
                    .sampleWeights(data.sampleWeights()).gradient(data.gradient());
        } else if (memory.equals("direct")) {
            batch = Batch.of(data.directLogits(), data.rows, data.cols).labels(direct(data.labels()))
                    .sampleWeights(direct(data.sampleWeights()), 1).gradient(data.directGradient());
        } else {
            throw new IllegalArgumentException("memory = " + memory + " is not heap or direct");
        }
        CrossEntropy loss = CrossEntropy.builder().classWeights(data.classWeights()).build();
        return LossUnderTest.checked("CrossEntropy", true, data, loss, batch, "native", threads);
    }

    private static FloatBuffer direct(float[] values) {
        FloatBuffer b = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        b.put(values).flip();
        return b;
    }

    private static IntBuffer direct(int[] values) {
        IntBuffer b = ByteBuffer.allocateDirect(values.length * Integer.BYTES).order(ByteOrder.nativeOrder())
                .asIntBuffer();
        b.put(values).flip();
        return b;
    }

    @Benchmark
    public double lossAndGradient() {
        return call.call();
    }
}
