package org.fusedloss.spark;

import java.io.Serializable;
import org.apache.spark.broadcast.Broadcast;
import org.fusedloss.Batch;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;

/**
 * One block's share, on an executor: the logits of the linear model, the loss and its gradient
 * with respect to the logits in one fused call of the core, and the gradient with respect to the
 * coefficients. Each task deserializes its own copy, so the scratch arrays are the task's own.
 */
final class BlockEvaluator implements Serializable {
    private static final long serialVersionUID = 1L;

    private final LossFactory lossFactory;
    private final RowBlock.Layout layout;
    private final boolean fitIntercept;
    /** What every block divides by (the global one), or NaN to let the loss reduce on its own. */
    private final double denominator;
    /** The coefficients, or null for the census: zero logits, only the loss's counts are wanted. */
    private final Broadcast<double[]> coefficients;

    private transient Loss loss;
    private transient double[] z;
    private transient float[] logits;

    BlockEvaluator(LossFactory lossFactory, RowBlock.Layout layout, boolean fitIntercept, double denominator,
                   Broadcast<double[]> coefficients) {
        this.lossFactory = lossFactory;
        this.layout = layout;
        this.fitIntercept = fitIntercept;
        this.denominator = denominator;
        this.coefficients = coefficients;
    }

    /** The census: the loss's own weight sum and counts of each block, at zero logits. */
    static BlockEvaluator census(LossFactory lossFactory, RowBlock.Layout layout) {
        return new BlockEvaluator(lossFactory, layout, false, Double.NaN, null);
    }

    /** Adds the block's loss, gradient and counts to {@code sums}. */
    PartialSums add(PartialSums sums, RowBlock block) {
        int n = block.rows;
        int k = layout.outputs();
        int d = layout.features();
        if (logits == null) {
            loss = lossFactory.create();
            z = new double[layout.blockRows() * k];
            logits = new float[layout.blockRows() * k];
        }
        if (coefficients != null) {
            BlockMath.get().logits(block.features, n, d, coefficients.value(), fitIntercept, k, z);
            for (int i = 0; i < n * k; i++) {
                logits[i] = (float) z[i];
            }
        } else {
            java.util.Arrays.fill(logits, 0f);
        }
        Batch batch = Batch.of(logits, n, k).gradient(logits);  // the gradient overwrites the logits
        if (block.labels != null) {
            batch.labels(block.labels);
        } else {
            batch.targets(block.targets);
        }
        if (block.weights != null) {
            batch.sampleWeights(block.weights);
        }
        if (!Double.isNaN(denominator)) {
            batch.denominator(denominator);
        }
        LossResult r;
        try {
            r = loss.compute(batch);
        } catch (IllegalArgumentException e) {
            // The core's message names the index within the block; say which rows the block holds.
            throw new IllegalArgumentException(block.where() + " of the partition: " + e.getMessage(), e);
        }
        if (coefficients != null) {
            for (int i = 0; i < n * k; i++) {
                z[i] = logits[i];
            }
            int size = k * d + (fitIntercept ? k : 0);
            BlockMath.get().accumulate(z, block.features, n, d, k, fitIntercept, sums.gradient(size));
        }
        sums.addBlock(n, r);
        return sums;
    }
}
