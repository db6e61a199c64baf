package org.fusedloss.bench;

import org.fusedloss.Batch;
import org.fusedloss.BinaryCrossEntropy;
import org.openjdk.jmh.annotations.Param;

/** Binary cross-entropy with logits, 0/1 targets, MEAN over N x K; weighted = pos_weight (PEERS.md bce_posw). */
public class BinaryCrossEntropyBench extends LossBench {
    @Param({"65536x100"})
    public String shape;

    @Override
    LossUnderTest create() {
        return create(shape, weighted, backend, threads);
    }

    /** The checked call of one case (Summary's paired timings build theirs here too). */
    static LossUnderTest create(String shape, boolean weighted, String backend, int threads) {
        PeerData data = PeerData.of(shape);
        BinaryCrossEntropy.Builder builder = BinaryCrossEntropy.builder();
        if (weighted) {
            builder.posWeight(data.posWeight());
        }
        Batch batch = Batch.of(data.logits(), data.rows, data.cols).targets(data.binaryTargets())
                .gradient(data.gradient());
        return LossUnderTest.checked("BinaryCrossEntropy", weighted, data, builder.build(), batch, backend, threads);
    }
}
