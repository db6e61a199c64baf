package org.fusedloss;

import org.fusedloss.internal.LossKind;

/** What the element-wise losses (BCE, MSE, sigmoid focal) share: dense targets, no labels. */
final class ElementWise {
    private ElementWise() {
    }

    static LossKind kindOf(Batch b, LossKind kind) {
        if (b.labels != null) {
            throw new IllegalArgumentException("labels: " + kind + " takes dense targets (Batch.targets), "
                    + "not class indices");
        }
        if (b.targets == null) {
            throw new IllegalArgumentException("targets: " + kind + " needs dense targets (Batch.targets)");
        }
        return kind;
    }
}
