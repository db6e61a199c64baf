package org.fusedloss.dl4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.fusedloss.Weights;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossSparseMCXENT;

/**
 * A MultiLayerNetwork trains the same with the fused loss as with DL4J's own: same seed, same data,
 * the scores of every iteration and the parameters at the end within 1e-4 (relative).
 */
class TrainingTest {
    static final int FEATURES = 20;
    static final int CLASSES = 10;
    static final double TOLERANCE = 1e-4;

    /** 10 classes whose counts grow geometrically from 4 to 400 (1:100), around class-dependent means. */
    static int[] imbalancedLabels() {
        int total = 0;
        int[] counts = new int[CLASSES];
        for (int c = 0; c < CLASSES; c++) {
            counts[c] = (int) Math.round(4 * Math.pow(100, c / (CLASSES - 1.0)));
            total += counts[c];
        }
        int[] y = new int[total];
        for (int c = 0, i = 0; c < CLASSES; c++) {
            for (int j = 0; j < counts[c]; j++) {
                y[i++] = c;
            }
        }
        return y;
    }

    static INDArray features(int[] y, long seed) {
        Random r = new Random(seed);
        double[][] means = new double[CLASSES][FEATURES];
        for (double[] m : means) {
            for (int f = 0; f < FEATURES; f++) {
                m[f] = r.nextGaussian();
            }
        }
        float[] x = new float[y.length * FEATURES];
        for (int i = 0; i < y.length; i++) {
            for (int f = 0; f < FEATURES; f++) {
                x[i * FEATURES + f] = (float) (means[y[i]][f] + r.nextGaussian());
            }
        }
        return Nd4j.create(x, new long[] {y.length, FEATURES}, 'c');
    }

    /** Two dense layers; the output layer's loss is the only difference between two networks. */
    static MultiLayerNetwork network(ILossFunction loss) {
        return network(loss, FEATURES, 32, CLASSES);
    }

    /** The same network at other sizes (Dl4jBench times a wider one). */
    static MultiLayerNetwork network(ILossFunction loss, int features, int hidden, int classes) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(12345).weightInit(WeightInit.XAVIER)
                .updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().nIn(features).nOut(hidden).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(loss).activation(Activation.SOFTMAX).nIn(hidden).nOut(classes).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    @Test
    void classWeightedTrainingMatchesLossMCXENT() {
        int[] y = imbalancedLabels();
        float[] classWeights = Weights.balancedClassWeights(y, CLASSES);
        DataSet data = new DataSet(features(y, 1), Dl4jCheck.oneHot(y, CLASSES));
        assertTrainsAlike(network(new LossMCXENT(Nd4j.create(classWeights))),
                network(new FusedCrossEntropy(classWeights)), data, 20);
    }

    /** Class indices and a per-example label mask (every fifth example masked), as LossSparseMCXENT takes them. */
    @Test
    void sparseLabelsWithAMaskMatchLossSparseMCXENT() {
        int[] y = imbalancedLabels();
        float[] classWeights = Weights.balancedClassWeights(y, CLASSES);
        float[] m = new float[y.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = i % 5 == 0 ? 0f : 1f;
        }
        DataSet data = new DataSet(features(y, 2), Dl4jCheck.column(y), null,
                Nd4j.create(m, new long[] {y.length, 1}, 'c'));
        assertTrainsAlike(network(new LossSparseMCXENT(Nd4j.create(classWeights))),
                network(new FusedCrossEntropy(classWeights)), data, 5);
    }

    private static void assertTrainsAlike(MultiLayerNetwork theirs, MultiLayerNetwork ours, DataSet data,
                                          int iterations) {
        assertTrue(theirs.params().equals(ours.params()), "the same seed gives the same initial parameters");
        for (int it = 0; it < iterations; it++) {
            theirs.fit(data);
            ours.fit(data);
            double expected = theirs.score();
            double actual = ours.score();
            assertTrue(Math.abs(expected - actual) <= TOLERANCE * Math.abs(expected),
                    "iteration " + it + ": score " + actual + ", DL4J's " + expected);
        }
        INDArray a = theirs.params();
        INDArray b = ours.params();
        double worst = a.sub(b).amaxNumber().doubleValue();
        double scale = a.amaxNumber().doubleValue();
        System.out.printf("TrainingTest: %d iterations, last score %.6f, parameters differ by up to %.3g (largest %.3g)%n",
                iterations, ours.score(), worst, scale);
        assertTrue(worst <= TOLERANCE * scale, "parameters differ by up to " + worst + " (largest " + scale + ")");
    }
}
