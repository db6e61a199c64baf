package org.fusedloss.internal;

/**
 * What a backend returns for one request.
 *
 * @param lossSum   sum of the weighted terms over the counted terms
 * @param nonFinite counted terms whose weighted loss is NaN or infinite
 */
public record KernelSums(double lossSum, long nonFinite) {
}
