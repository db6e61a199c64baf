package org.fusedloss.spark;

import java.io.Serializable;
import org.fusedloss.Loss;

/**
 * Builds the loss on each executor: a serializable recipe, since a configured {@link Loss} holds
 * its backend and is built where it runs. Any of the core's losses with a reduction other than
 * NONE, for example
 * {@code () -> CrossEntropy.builder().classWeights(cw).labelSmoothing(0.1).build()}.
 */
@FunctionalInterface
public interface LossFactory extends Serializable {
    /** A new loss (called once per task, on the executor, and once on the driver to check it). */
    Loss create();
}
