package org.fusedloss;

import java.util.Optional;

/**
 * Something that computes the losses: the pure-Java reference, the native CPU kernels, or CUDA.
 * {@link Backends} holds one of each and picks the best available.
 */
public interface Backend {

    /** Short name: {@code "java"}, {@code "native"} or {@code "cuda"}. */
    String name();

    /** True when this backend can compute here (its library loaded, its device found). */
    boolean isAvailable();

    /** Why it is not available, or empty when it is. */
    Optional<String> unavailabilityReason();

    /** A line saying what runs, e.g. {@code "native (avx2, 2 threads)"}. */
    String describe();

    /**
     * Computes the weighted loss sum of a validated request and writes its gradient and per-term
     * losses. Throws {@link IllegalStateException} with the reason when not available.
     */
    KernelSums run(LossRequest request);
}
