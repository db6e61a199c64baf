package org.fusedloss.internal;

import org.fusedloss.Backend;

/**
 * A backend as the loss classes drive it: {@link Backend} plus the calls that compute a validated
 * {@link LossRequest}. The Java backend, the native engine and the CUDA backend (module
 * fusedloss-cuda, found through {@link java.util.ServiceLoader}) implement it; it is plumbing, not API.
 * A backend overrides what it does differently: the native one makes the weight pass in vector code.
 */
public interface KernelBackend extends Backend {

    /**
     * Checks the labels and weights of a request in host memory and sums what the reductions
     * divide by; a bad value throws {@link IllegalArgumentException} naming it ({@link Errors}).
     * The default is the Java pass, {@link WeightPass}.
     */
    default WeightStats weightStats(LossRequest request) {
        return WeightPass.run(request);
    }

    /**
     * Computes the weighted loss sum of a validated request in host memory whose denominator is
     * known, and writes its gradient and per-term losses. Throws {@link IllegalStateException}
     * with the reason when not available.
     */
    KernelSums run(LossRequest request);

    /**
     * {@link #weightStats} and {@link #run} in one call, for a request in host memory whose
     * reduction divides by a weight sum or count still to be found (its denominator negative),
     * where the backend does both at once; the results are those of the two steps, bit for bit.
     * Returns null where it does not, and where it found a bad label or weight (nothing written:
     * the two steps then name it). The default does not.
     */
    default WeighedSums weighAndRun(LossRequest request) {
        return null;
    }

    /**
     * What {@link #weighAndRun} finds.
     *
     * @param stats       what {@link #weightStats} gives
     * @param denominator what the reduction divided by
     * @param sums        what {@link #run} gives (0 where the denominator is 0)
     */
    record WeighedSums(WeightStats stats, double denominator, KernelSums sums) {
    }
}
