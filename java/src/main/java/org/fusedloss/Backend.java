package org.fusedloss;

import java.util.Optional;

/**
 * Something that computes the losses: the pure-Java reference, the native CPU kernels, or CUDA.
 * {@link Backends} holds one of each and picks the best available; only the library implements
 * this interface.
 */
public interface Backend {

    /**
     * Short name.
     *
     * @return {@code "java"}, {@code "native"} or {@code "cuda"}
     */
    String name();

    /**
     * Whether this backend can compute here.
     *
     * @return true when its library loaded and its device was found
     */
    boolean isAvailable();

    /**
     * Why it is not available.
     *
     * @return the reason, or empty when it is available
     */
    Optional<String> unavailabilityReason();

    /**
     * What runs, in one line.
     *
     * @return e.g. {@code "native (avx2, 2 threads, ...)"} or {@code "native (unavailable: ...)"}
     */
    String describe();
}
