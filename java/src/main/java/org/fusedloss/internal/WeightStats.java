package org.fusedloss.internal;

/**
 * What the pass over labels and weights before each call finds: what the reductions divide by.
 *
 * @param weightSum sum of the effective weights of the counted terms
 * @param counted   terms that take part (not ignored, weight not missing)
 * @param masked    terms whose sample or element weight is NaN (missing)
 */
public record WeightStats(double weightSum, long counted, long masked) {
}
