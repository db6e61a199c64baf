package org.fusedloss.spark;

import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.Params;

/** The param that the estimator and the model share: which loss (and so which link function). */
final class FusedParams {
    static final String CROSS_ENTROPY = "crossEntropy";
    static final String SOFTMAX_FOCAL = "softmaxFocal";
    static final String SIGMOID_FOCAL = "sigmoidFocal";

    private FusedParams() {
    }

    static Param<String> loss(Params owner) {
        return new Param<>(owner, "loss", "the loss: " + CROSS_ENTROPY + " (softmax), " + SOFTMAX_FOCAL
                + " (softmax) or " + SIGMOID_FOCAL + " (a sigmoid per class)",
                ParamValidators.inArray(new String[] {CROSS_ENTROPY, SOFTMAX_FOCAL, SIGMOID_FOCAL}));
    }

    /** Whether the loss puts a softmax over the classes (else a sigmoid per output). */
    static boolean isSoftmax(String loss) {
        return !SIGMOID_FOCAL.equals(loss);
    }
}
