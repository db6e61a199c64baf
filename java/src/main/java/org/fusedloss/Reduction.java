package org.fusedloss;

/** How the per-term losses are combined into the returned value (docs/SEMANTICS.md, "Reductions"). */
public enum Reduction {
    /** One weighted loss per term, written to the batch's per-term buffer; the result's loss is their sum. */
    NONE,
    /** The sum of the weighted terms. */
    SUM,
    /** The sum of the weighted terms divided by the sum of the effective weights of the counted terms. */
    MEAN,
    /** The sum of the weighted terms divided by the number of counted terms (Keras SUM_OVER_BATCH_SIZE). */
    BATCH_MEAN
}
