package org.fusedloss.bench;

import java.nio.FloatBuffer;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A STREAM-like copy of N x C floats: it reads and writes exactly the {@code 2 * N * C * 4} bytes a
 * fused loss kernel must move, so "fraction of copy bandwidth" compares like with like, measured in
 * the same run. Heap: {@code System.arraycopy}; direct: a direct-to-direct {@code FloatBuffer.put},
 * which the JVM does as one memory copy. With 2 threads each copies one half.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CopyBench {
    @Param({"65536x10", "4096x1000", "256x32000", "1024x128256", "65536x100"})
    public String shape;
    @Param({"heap", "direct"})
    public String memory;
    @Param({"1", "2"})
    public int threads;

    private int length;
    private float[] sourceArray;
    private float[] destinationArray;
    private FloatBuffer sourceBuffer;
    private FloatBuffer destinationBuffer;
    private ExecutorService secondThread;

    @Setup(Level.Trial)
    public void setup() {
        length = Math.toIntExact(PeerData.of(shape).elements());
        if (threads < 1 || threads > 2) {
            throw new IllegalArgumentException("threads = " + threads + ": the copy runs on 1 or 2 threads");
        }
        // The logits into the gradient buffer of the shape, the very memory the loss benchmarks read
        // and write (PeerData shares it), both sides written once before, so no page is first
        // touched while timing.
        PeerData data = PeerData.of(shape);
        if (memory.equals("heap")) {
            sourceArray = data.logits();
            destinationArray = data.gradient();
        } else if (memory.equals("direct")) {
            sourceBuffer = data.directLogits();
            destinationBuffer = data.directGradient();
        } else {
            throw new IllegalArgumentException("memory = " + memory + " is not heap or direct");
        }
        if (threads == 2) {
            secondThread = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "copy-2nd-thread");
                t.setDaemon(true);
                return t;
            });
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (secondThread != null) {
            secondThread.shutdownNow();
        }
    }

    @Benchmark
    public void copy() throws InterruptedException, ExecutionException {
        if (threads == 1) {
            copyRange(0, length);
            return;
        }
        int half = (length / 2) & ~15;   // split on a 64-byte line: no line is written by both threads
        Future<?> other = secondThread.submit(() -> copyRange(half, length));
        copyRange(0, half);
        other.get();
    }

    private void copyRange(int from, int to) {
        if (sourceArray != null) {
            System.arraycopy(sourceArray, from, destinationArray, from, to - from);
        } else {
            destinationBuffer.put(from, sourceBuffer, from, to - from);
        }
    }
}
