package org.fusedloss.bench;

import java.util.concurrent.TimeUnit;
import org.fusedloss.Batch;
import org.fusedloss.SigmoidFocal;
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

/** Sigmoid focal loss, alpha 0.25, gamma 2, MEAN over N x K (PEERS.md focal, unweighted); weighted = sample weights. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SigmoidFocalBench {
    @Param({"65536x100"})
    public String shape;
    @Param({"native", "java"})
    public String backend;
    @Param({"true", "false"})
    public boolean weighted;
    @Param({"1", "2"})
    public int threads;

    private LossUnderTest call;

    @Setup
    public void setup() {
        call = create(shape, weighted, backend, threads);
    }

    /** The checked call of one case (Summary's paired timings build theirs here too). */
    static LossUnderTest create(String shape, boolean weighted, String backend, int threads) {
        PeerData data = PeerData.of(shape);
        Batch batch = Batch.of(data.logits(), data.rows, data.cols).targets(data.binaryTargets())
                .gradient(data.gradient());
        if (weighted) {
            batch.sampleWeights(data.sampleWeights());
        }
        SigmoidFocal loss = SigmoidFocal.builder().alpha(0.25).gamma(2).build();
        return LossUnderTest.checked("SigmoidFocal", weighted, data, loss, batch, backend, threads);
    }

    @Benchmark
    public double lossAndGradient() {
        return call.call();
    }
}
