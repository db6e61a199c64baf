package org.fusedloss.dl4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.CrossEntropy;
import org.fusedloss.SigmoidFocal;
import org.fusedloss.SoftmaxFocal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/** DL4J's JSON and YAML configurations, its model files and Java serialization keep each loss and its settings. */
class SerializationTest {
    private static final int CLASSES = 4;

    /** Each loss with every setting away from its default, and the activation it fuses. */
    private static List<Object[]> configured() {
        return List.of(
                new Object[] {new FusedCrossEntropy(CrossEntropy.builder().classWeights(new float[] {1f, 2.5f, 0.5f, 3f})
                        .ignoreIndex(-1).labelSmoothing(0.1).zLoss(1e-4).softCap(30).build()), Activation.SOFTMAX},
                new Object[] {new FusedSoftmaxFocal(SoftmaxFocal.builder().alpha(new float[] {0.25f, 1f, 1f, 2f})
                        .gamma(1.5).ignoreIndex(7).build()), Activation.SOFTMAX},
                new Object[] {new FusedBinaryCrossEntropy(BinaryCrossEntropy.builder()
                        .posWeight(new float[] {1f, 2f, 3f, 4f}).binaryClassWeights(0.5f, 2f).build()),
                        Activation.SIGMOID},
                new Object[] {new FusedMeanSquaredError(), Activation.IDENTITY},
                new Object[] {new FusedSigmoidFocal(SigmoidFocal.builder().alpha(0.4).gamma(3).build()),
                        Activation.SIGMOID});
    }

    private static MultiLayerConfiguration network(ILossFunction loss, Activation activation) {
        return new NeuralNetConfiguration.Builder().seed(7).list()
                .layer(new DenseLayer.Builder().nIn(5).nOut(6).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(loss).activation(activation).nIn(6).nOut(CLASSES).build())
                .build();
    }

    private static ILossFunction lossOf(MultiLayerConfiguration conf) {
        return ((OutputLayer) conf.getConf(1).getLayer()).getLossFn();
    }

    @Test
    void jsonAndYamlConfigurationsRoundTrip() {
        for (Object[] c : configured()) {
            FusedLossFunction loss = (FusedLossFunction) c[0];
            MultiLayerConfiguration conf = network(loss, (Activation) c[1]);
            String json = conf.toJson();
            assertTrue(json.contains(loss.getClass().getName()), json);
            MultiLayerConfiguration fromJson = MultiLayerConfiguration.fromJson(json);
            MultiLayerConfiguration fromYaml = MultiLayerConfiguration.fromYaml(conf.toYaml());
            for (MultiLayerConfiguration back : new MultiLayerConfiguration[] {fromJson, fromYaml}) {
                assertEquals(loss, lossOf(back));
                assertEquals(loss.toString(), lossOf(back).toString());
                assertEquals(conf, back);
            }
        }
        // equals sees the settings: a different one is a different loss.
        assertNotEquals(new FusedSigmoidFocal(), configured().get(4)[0]);
    }

    @Test
    void aSavedModelLoadsAndScoresTheSame(@TempDir Path dir) throws Exception {
        FusedCrossEntropy loss = (FusedCrossEntropy) configured().get(0)[0];
        MultiLayerNetwork net = new MultiLayerNetwork(network(loss, Activation.SOFTMAX));
        net.init();
        DataSet data = new DataSet(Dl4jCheck.uniform(1, 12, 5, -1, 1),
                Dl4jCheck.oneHot(Dl4jCheck.classIndices(2, 12, CLASSES), CLASSES));
        net.fit(data);
        File file = dir.resolve("model.zip").toFile();
        ModelSerializer.writeModel(net, file, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(file);
        assertEquals(loss, lossOf(restored.getLayerWiseConfigurations()));
        assertEquals(net.params(), restored.params());
        assertEquals(net.score(data), restored.score(data));
    }

    @Test
    void javaSerializationKeepsTheSettings() throws Exception {
        INDArray x = Dl4jCheck.uniform(3, 9, CLASSES, -2, 2);
        INDArray y = Dl4jCheck.oneHot(Dl4jCheck.classIndices(4, 9, CLASSES), CLASSES);
        for (Object[] c : configured()) {
            FusedLossFunction loss = (FusedLossFunction) c[0];
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(loss);
            }
            FusedLossFunction back;
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                back = (FusedLossFunction) in.readObject();
            }
            assertEquals(loss, back);
            var activation = ((Activation) c[1]).getActivationFunction();
            assertEquals(loss.computeScore(y, x, activation, null, true), back.computeScore(y, x, activation, null, true));
            assertArrayEquals(loss.computeGradient(y, x, activation, null).data().asFloat(),
                    back.computeGradient(y, x, activation, null).data().asFloat());
        }
    }
}
