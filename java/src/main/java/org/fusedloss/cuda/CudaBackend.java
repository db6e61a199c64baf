package org.fusedloss.cuda;

import java.util.Optional;
import org.fusedloss.Backend;
import org.fusedloss.KernelSums;
import org.fusedloss.LossRequest;

/** The CUDA backend (JCuda driver API, kernels from the fatbin in the jar). */
public final class CudaBackend implements Backend {
    private final String unavailable = "the CUDA backend is not wired yet";

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public boolean isAvailable() {
        return unavailable == null;
    }

    @Override
    public Optional<String> unavailabilityReason() {
        return Optional.ofNullable(unavailable);
    }

    @Override
    public String describe() {
        return "cuda (unavailable: " + unavailable + ")";
    }

    @Override
    public KernelSums run(LossRequest request) {
        throw new IllegalStateException("the cuda backend is not available: " + unavailable);
    }
}
