package org.fusedloss.bench;

import org.fusedloss.Batch;
import org.fusedloss.CrossEntropy;
import org.openjdk.jmh.annotations.Param;

/** Softmax cross-entropy, class indices, MEAN; weighted = class + sample weights (PEERS.md ce_weighted). */
public class CrossEntropyBench extends LossBench {
    @Param({"65536x10", "4096x1000", "256x32000", "1024x128256"})
    public String shape;

    @Override
    LossUnderTest create() {
        return create(shape, weighted, backend, threads);
    }

    /** The checked call of one case (Summary's paired timings build theirs here too). */
    static LossUnderTest create(String shape, boolean weighted, String backend, int threads) {
        PeerData data = PeerData.of(shape);
        CrossEntropy.Builder builder = CrossEntropy.builder();
        Batch batch = Batch.of(data.logits(), data.rows, data.cols).labels(data.labels())
                .gradient(data.gradient());
        if (weighted) {
            builder.classWeights(data.classWeights());
            batch.sampleWeights(data.sampleWeights());
        }
        return LossUnderTest.checked("CrossEntropy", weighted, data, builder.build(), batch, backend, threads);
    }
}
