package org.fusedloss.spark;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;
import org.fusedloss.LossResult;

/**
 * What {@code treeAggregate} carries: the loss and gradient sums of some blocks, with the core's
 * counts and the backend that computed each block.
 *
 * <p>Within a partition the blocks are added in order, in double. Partitions are merged in
 * whatever order their tasks finish, so the merge keeps each sum as a double-double (an error-free
 * two-sum leaves the rounding error beside the sum): the merge order then moves a result by about
 * 1e-32 relative, below the last bit of the double it returns. A fixed partitioning thus gives the
 * same bits on every run.
 */
final class PartialSums implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The gradient sum (high part); null until a block has been added. */
    double[] gradient;
    /** The low part of the gradient sum (merges only), or null. */
    private double[] gradientLow;
    double loss;
    private double lossLow;
    double weightSum;
    private double weightSumLow;
    long rows;
    long counted;
    long masked;
    long nonFinite;
    /** Blocks computed per backend name. */
    final TreeMap<String, Long> backendBlocks = new TreeMap<>();

    /** Adds one block's result (its gradient is already in {@link #gradient}). */
    void addBlock(int blockRows, LossResult r) {
        loss += r.loss();
        weightSum += r.weightSum();
        rows += blockRows;
        counted += r.counted();
        masked += r.masked();
        nonFinite += r.nonFinite();
        backendBlocks.merge(r.backend(), 1L, Long::sum);
    }

    /** The gradient sum for a block to add to, allocated on first use. */
    double[] gradient(int size) {
        if (gradient == null) {
            gradient = new double[size];
        }
        return gradient;
    }

    /** Adds {@code other} (partials of other partitions) into this one and returns this. */
    PartialSums merge(PartialSums other) {
        if (other.gradient != null) {
            if (gradient == null) {
                gradient = new double[other.gradient.length];
            }
            if (gradientLow == null) {
                gradientLow = new double[gradient.length];
            }
            for (int i = 0; i < gradient.length; i++) {
                double otherLow = other.gradientLow == null ? 0.0 : other.gradientLow[i];
                double[] s = twoSum(gradient[i], gradientLow[i], other.gradient[i], otherLow);
                gradient[i] = s[0];
                gradientLow[i] = s[1];
            }
        }
        double[] l = twoSum(loss, lossLow, other.loss, other.lossLow);
        loss = l[0];
        lossLow = l[1];
        double[] w = twoSum(weightSum, weightSumLow, other.weightSum, other.weightSumLow);
        weightSum = w[0];
        weightSumLow = w[1];
        rows += other.rows;
        counted += other.counted;
        masked += other.masked;
        nonFinite += other.nonFinite;
        for (Map.Entry<String, Long> e : other.backendBlocks.entrySet()) {
            backendBlocks.merge(e.getKey(), e.getValue(), Long::sum);
        }
        return this;
    }

    /**
     * (aHigh + aLow) + (bHigh + bLow) as a normalised double-double {high, low}: Knuth's two-sum
     * gives the exact rounding error of the high parts; high is the sum rounded to a double.
     */
    private static double[] twoSum(double aHigh, double aLow, double bHigh, double bLow) {
        double s = aHigh + bHigh;
        if (!Double.isFinite(s)) {
            return new double[] {s, 0.0};  // an infinite or NaN sum stays as it is
        }
        double bVirtual = s - aHigh;
        double error = (aHigh - (s - bVirtual)) + (bHigh - bVirtual);
        double low = error + aLow + bLow;
        double high = s + low;
        return new double[] {high, low - (high - s)};
    }
}
