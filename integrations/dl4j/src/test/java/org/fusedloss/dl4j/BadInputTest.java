package org.fusedloss.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Bad input in a network and in direct calls: a clear IllegalArgumentException that names what is
 * wrong, and the network's parameters as they were.
 */
class BadInputTest {
    private static final int N = 8;
    private static final int CLASSES = 5;

    private static MultiLayerNetwork network(Activation outputActivation) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(6).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(new FusedCrossEntropy()).activation(outputActivation).nIn(6)
                        .nOut(CLASSES).build())
                .build());
        net.init();
        return net;
    }

    /** Fitting throws an IllegalArgumentException whose message holds {@code expected}; the parameters stay. */
    private static void assertRejected(MultiLayerNetwork net, INDArray labels, INDArray labelMask, String expected) {
        INDArray before = net.params().dup();
        INDArray x = Dl4jCheck.uniform(1, N, 4, -1, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> net.fit(x, labels, null, labelMask));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertEquals(before, net.params());
    }

    @Test
    void labelsOfAnotherShape() {
        assertRejected(network(Activation.SOFTMAX), Dl4jCheck.oneHot(new int[N], CLASSES + 1), null,
                "labels of shape [8, 6] do not match preOutput of shape [8, 5]");
    }

    @Test
    void aClassIndexOutOfRange() {
        int[] y = {0, 1, 2, 3, 4, 5, 0, 1};
        assertRejected(network(Activation.SOFTMAX), Dl4jCheck.column(y), null, "labels[5] = 5 is outside [0, 5)");
    }

    @Test
    void aClassIndexThatIsNotAWholeNumber() {
        INDArray y = Dl4jCheck.column(new int[N]);
        y.putScalar(3, 0, 2.5);
        assertRejected(network(Activation.SOFTMAX), y, null, "labels[3] = 2.5 is not a class index");
        y.putScalar(3, 0, Double.NaN);
        assertRejected(network(Activation.SOFTMAX), y, null, "labels[3] = NaN is not a class index");
    }

    @Test
    void anActivationTheLossDoesNotFuse() {
        assertRejected(network(Activation.RELU), Dl4jCheck.oneHot(new int[N], CLASSES), null,
                "the layer's activation is relu; set .activation(Activation.SOFTMAX)");
    }

    @Test
    void badMasks() {
        INDArray y = Dl4jCheck.oneHot(new int[N], CLASSES);
        INDArray negative = Nd4j.ones(N, 1);
        negative.putScalar(2, 0, -1);
        assertRejected(network(Activation.SOFTMAX), y, negative, "mask[2] = -1.0 is negative");
        assertRejected(network(Activation.SOFTMAX), y, Nd4j.ones(N, CLASSES),
                "a per-output mask [8, 5] does not apply to a softmax loss");
    }

    @Test
    void directCalls() {
        INDArray x = Dl4jCheck.uniform(2, N, CLASSES, -1, 1);
        INDArray y = Dl4jCheck.oneHot(new int[N], CLASSES);
        ActivationSoftmax softmax = new ActivationSoftmax();
        assertThrows(IllegalArgumentException.class, () -> new FusedCrossEntropy().computeGradient(null, x, softmax, null));
        assertThrows(IllegalArgumentException.class, () -> new FusedCrossEntropy().computeGradient(y, null, softmax, null));
        assertThrows(IllegalArgumentException.class,
                () -> new FusedCrossEntropy().computeGradient(y.reshape(N, 1, CLASSES), x.reshape(N, 1, CLASSES),
                        softmax, null));
        assertThrows(IllegalArgumentException.class,
                () -> new FusedCrossEntropy(new float[CLASSES + 1]).computeScore(y, x, softmax, null, true));
        // (In a network DL4J rejects a mask of another shape itself, before the loss sees it.)
        IllegalArgumentException mask = assertThrows(IllegalArgumentException.class,
                () -> new FusedCrossEntropy().computeScore(y, x, softmax, Nd4j.ones(N, 2), true));
        assertTrue(mask.getMessage().contains("a mask is per example [8,1] or per output"), mask.getMessage());
        // Element-wise losses take dense labels only; soft labels are not one-hot for the focal loss.
        assertThrows(IllegalArgumentException.class, () -> new FusedBinaryCrossEntropy()
                .computeScore(Dl4jCheck.column(new int[N]), x, new ActivationSigmoid(), null, true));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new FusedSoftmaxFocal()
                .computeScore(y.mul(0.5), x, softmax, null, true));
        assertTrue(e.getMessage().contains("not one-hot"), e.getMessage());
    }
}
