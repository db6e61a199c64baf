package org.fusedloss.internal;

import java.util.Optional;

/** A backend that cannot run here at all, e.g. CUDA when the fusedloss-cuda module is absent. */
public final class MissingBackend implements KernelBackend {
    private final String name;
    private final String reason;

    /** A backend called {@code name} that is unavailable for {@code reason}. */
    public MissingBackend(String name, String reason) {
        this.name = name;
        this.reason = reason;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean isAvailable() {
        return false;
    }

    @Override
    public Optional<String> unavailabilityReason() {
        return Optional.of(reason);
    }

    @Override
    public String describe() {
        return name + " (unavailable: " + reason + ")";
    }

    @Override
    public KernelSums run(LossRequest request) {
        throw new IllegalStateException("the " + name + " backend is not available: " + reason);
    }
}
