package org.fusedloss.bench;

import org.fusedloss.Batch;
import org.fusedloss.SoftmaxFocal;
import org.openjdk.jmh.annotations.Param;

/** Softmax focal loss, gamma 2, MEAN, on the cross-entropy shapes (PEERS.md has no peer for it); weighted = alpha (the class weights) + sample weights. */
public class SoftmaxFocalBench extends LossBench {
    @Param({"65536x10", "4096x1000", "256x32000", "1024x128256"})
    public String shape;

    @Override
    LossUnderTest create() {
        return create(shape, weighted, backend, threads);
    }

    /** The checked call of one case (Summary's paired timings build theirs here too). */
    static LossUnderTest create(String shape, boolean weighted, String backend, int threads) {
        PeerData data = PeerData.of(shape);
        SoftmaxFocal.Builder builder = SoftmaxFocal.builder().gamma(2);
        Batch batch = Batch.of(data.logits(), data.rows, data.cols).labels(data.labels())
                .gradient(data.gradient());
        if (weighted) {
            builder.alpha(data.classWeights());
            batch.sampleWeights(data.sampleWeights());
        }
        return LossUnderTest.checked("SoftmaxFocal", weighted, data, builder.build(), batch, backend, threads);
    }
}
