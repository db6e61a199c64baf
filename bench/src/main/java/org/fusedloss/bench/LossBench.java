package org.fusedloss.bench;

import java.util.concurrent.TimeUnit;
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
 * What the five loss benchmarks share: the JMH settings, every parameter but the shape (each loss
 * runs on its own PEERS.md shapes, a {@code shape} parameter of its subclass), and the timed call,
 * one forward + backward. JMH runs each subclass as its own benchmark
 * ({@code <Subclass>.lossAndGradient}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public abstract class LossBench {
    @Param({"native", "java"})
    public String backend;
    @Param({"true", "false"})
    public boolean weighted;
    @Param({"1", "2"})
    public int threads;

    private LossUnderTest call;

    /** The checked call of this benchmark's parameters. */
    abstract LossUnderTest create();

    @Setup
    public void setup() {
        call = create();
    }

    @Benchmark
    public double lossAndGradient() {
        return call.call();
    }
}
