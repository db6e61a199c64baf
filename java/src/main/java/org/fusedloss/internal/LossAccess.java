package org.fusedloss.internal;

import java.util.function.Function;
import org.fusedloss.Loss;

/**
 * Gives the library's other modules (fusedloss-cuda) a loss's {@link KernelOptions}, which the API
 * keeps package-private: {@link Loss} registers the accessor when its class initializes, which
 * happens before any loss exists.
 */
public final class LossAccess {
    private static volatile Function<Loss, KernelOptions> options;

    private LossAccess() {
    }

    /** Called once, by {@link Loss}'s static initializer. */
    public static void register(Function<Loss, KernelOptions> accessor) {
        if (options != null) {
            throw new IllegalStateException("LossAccess is registered once, by Loss");
        }
        options = accessor;
    }

    /** The options of a loss, as its kernels see them (the loss's own arrays: do not modify). */
    public static KernelOptions options(Loss loss) {
        return options.apply(loss);
    }
}
