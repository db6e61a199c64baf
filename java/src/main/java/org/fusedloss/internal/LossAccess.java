package org.fusedloss.internal;

import java.util.function.BiFunction;
import org.fusedloss.Loss;

/**
 * Gives the library's other modules (fusedloss-cuda's DeviceBatch) the loss's own validation,
 * which the API keeps package-private: {@link Loss} registers it when its class initializes, which
 * happens before any loss exists. A batch in device memory is checked by the same code, with the
 * same messages, as one in host memory.
 */
public final class LossAccess {
    private static volatile BiFunction<Loss, BatchData, LossRequest> deviceRequest;

    private LossAccess() {
    }

    /** Called once, by {@link Loss}'s static initializer. */
    public static void register(BiFunction<Loss, BatchData, LossRequest> validation) {
        if (deviceRequest != null) {
            throw new IllegalStateException("LossAccess is registered once, by Loss");
        }
        deviceRequest = validation;
    }

    /**
     * The validated request of a batch in device memory: shapes, which inputs are present, the
     * options against the shape, overlaps; the values are the kernel's to check. Its denominator
     * is the caller's, or negative (computed on the device). A loss exists, so its class has
     * registered the validation.
     */
    public static LossRequest deviceRequest(Loss loss, BatchData data) {
        return deviceRequest.apply(loss, data);
    }
}
