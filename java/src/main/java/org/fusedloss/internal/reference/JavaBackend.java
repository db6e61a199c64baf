package org.fusedloss.internal.reference;

import java.util.Optional;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.KernelSums;
import org.fusedloss.internal.LossRequest;

/**
 * The pure-Java backend: every loss in double precision, one row at a time. It is the fallback
 * wherever the native library does not load and the reference every other backend is checked
 * against, so it favours being obviously right over being fast.
 */
public final class JavaBackend implements KernelBackend {

    @Override
    public String name() {
        return "java";
    }

    @Override
    public boolean isAvailable() {
        return true;
    }

    @Override
    public Optional<String> unavailabilityReason() {
        return Optional.empty();
    }

    @Override
    public String describe() {
        return "java (double-precision reference, 1 thread)";
    }

    @Override
    public KernelSums run(LossRequest r) {
        return switch (r.kind()) {
            case CROSS_ENTROPY, CROSS_ENTROPY_DENSE -> CrossEntropyKernel.run(r);
            case SOFTMAX_FOCAL -> SoftmaxFocalKernel.run(r);
            case BINARY_CROSS_ENTROPY -> ElementWiseKernel.binaryCrossEntropy(r);
            case MEAN_SQUARED_ERROR -> ElementWiseKernel.meanSquaredError(r);
            case SIGMOID_FOCAL -> ElementWiseKernel.sigmoidFocal(r);
        };
    }
}
