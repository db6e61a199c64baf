package org.fusedloss.internal;

import org.fusedloss.Backend;
import org.fusedloss.nativecpu.NativeBackend;

/**
 * A backend as the loss classes drive it: {@link Backend} plus the call that computes a validated
 * {@link LossRequest}. The Java backend, the native engine and the CUDA backend (module
 * fusedloss-cuda, found through {@link java.util.ServiceLoader}) implement it; it is plumbing, not API.
 */
public interface KernelBackend extends Backend {

    /**
     * Computes the weighted loss sum of a validated request and writes its gradient and per-term
     * losses. Throws {@link IllegalStateException} with the reason when not available.
     */
    KernelSums run(LossRequest request);

    /** The engine behind one of the library's backends; another implementation of {@link Backend} is an error. */
    static KernelBackend of(Backend b) {
        if (b instanceof KernelBackend k) {
            return k;
        }
        if (b instanceof NativeBackend) {
            return org.fusedloss.internal.nativecpu.NativeEngine.get();
        }
        throw new IllegalArgumentException("backend " + b.name() + " (" + b.getClass().getName()
                + ") is not one of this library's backends (Backends.all())");
    }
}
