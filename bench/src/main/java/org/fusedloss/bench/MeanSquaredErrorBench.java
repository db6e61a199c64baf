package org.fusedloss.bench;

import org.fusedloss.Batch;
import org.fusedloss.MeanSquaredError;
import org.openjdk.jmh.annotations.Param;

/** Squared error, MEAN; weighted = sample weights (PEERS.md mse_weighted). */
public class MeanSquaredErrorBench extends LossBench {
    @Param({"65536x100"})
    public String shape;

    @Override
    LossUnderTest create() {
        return create(shape, weighted, backend, threads);
    }

    /** The checked call of one case (Summary's paired timings build theirs here too). */
    static LossUnderTest create(String shape, boolean weighted, String backend, int threads) {
        PeerData data = PeerData.of(shape);
        Batch batch = Batch.of(data.logits(), data.rows, data.cols).targets(data.regressionTargets())
                .gradient(data.gradient());
        if (weighted) {
            batch.sampleWeights(data.sampleWeights());
        }
        return LossUnderTest.checked("MeanSquaredError", weighted, data, MeanSquaredError.builder().build(), batch,
                backend, threads);
    }
}
