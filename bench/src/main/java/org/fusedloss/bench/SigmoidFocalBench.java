package org.fusedloss.bench;

import org.fusedloss.Batch;
import org.fusedloss.SigmoidFocal;
import org.openjdk.jmh.annotations.Param;

/** Sigmoid focal loss, alpha 0.25, gamma 2, MEAN over N x K (PEERS.md focal, unweighted); weighted = sample weights. */
public class SigmoidFocalBench extends LossBench {
    @Param({"65536x100"})
    public String shape;

    @Override
    LossUnderTest create() {
        return create(shape, weighted, backend, threads);
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
}
