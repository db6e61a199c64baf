package org.fusedloss.djl;

import static org.fusedloss.djl.Harness.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Weights;
import org.junit.jupiter.api.Test;

/** A small MLP trained in DJL's Trainer with the fused loss: as with DJL's own loss, and with class weights. */
class TrainerTest {
    private static final int FEATURES = 8;
    private static final int CLASSES = 5;

    private static Model mlp(int classes) {
        Model model = Model.newInstance("mlp");
        model.setBlock(new SequentialBlock()
                .add(Linear.builder().setUnits(32).build())
                .add(Activation::relu)
                .add(Linear.builder().setUnits(classes).build()));
        return model;
    }

    private static Trainer trainer(Model model, Loss loss, float learningRate, int features, int batch) {
        DefaultTrainingConfig config = new DefaultTrainingConfig(loss)
                .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(learningRate)).build())
                .addTrainingListeners(TrainingListener.Defaults.basic());
        Trainer trainer = model.newTrainer(config);
        Engine.getInstance().setRandomSeed(1234);   // the same initial parameters for both runs
        trainer.initialize(new Shape(batch, features));
        return trainer;
    }

    private static List<float[]> parameters(Model model) {
        List<float[]> values = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
            values.add(p.getValue().getArray().toFloatArray());
        }
        return values;
    }

    /** Runs {@code steps} SGD steps; returns the loss of each step and the parameters after each. */
    private static List<float[]> train(Loss loss, float[] x, long[] y, int n, int steps, float[] losses) {
        List<float[]> trace = new ArrayList<>();
        try (Model model = mlp(CLASSES);
             Trainer trainer = trainer(model, loss, 0.5f, FEATURES, n)) {
            trace.addAll(parameters(model));
            NDManager m = trainer.getManager();
            for (int s = 0; s < steps; s++) {
                try (NDManager step = m.newSubManager()) {
                    NDList data = new NDList(step.create(x, new Shape(n, FEATURES)));
                    NDList labels = new NDList(step.create(y));
                    try (GradientCollector collector = trainer.newGradientCollector()) {
                        NDList preds = trainer.forward(data, labels);
                        NDArray value = trainer.getLoss().evaluate(labels, preds);   // what EasyTrain.trainBatch does
                        collector.backward(value);
                        losses[s] = value.getFloat();
                    }
                    trainer.step();
                }
                trace.addAll(parameters(model));
            }
        }
        return trace;
    }

    @Test
    void trainerStepsMatchDjlsSoftmaxCrossEntropy() {
        int n = 64;
        int steps = 6;
        Random rnd = new Random(21);
        float[] x = Harness.normal(rnd, n * FEATURES, 1);
        long[] y = Harness.longs(Harness.classes(rnd, n, CLASSES));
        float[] djlLosses = new float[steps];
        float[] fusedLosses = new float[steps];
        List<float[]> djl = train(new SoftmaxCrossEntropyLoss(), x, y, n, steps, djlLosses);
        FusedCrossEntropyLoss fusedLoss = new FusedCrossEntropyLoss();
        List<float[]> fused = train(fusedLoss, x, y, n, steps, fusedLosses);

        int perStep = djl.size() / (steps + 1);
        for (int i = 0; i < perStep; i++) {
            assertArrayEquals(djl.get(i), fused.get(i), "the same initial parameters");
        }
        for (int s = 0; s < steps; s++) {
            assertClose(djlLosses[s], fusedLosses[s], 1e-4, "loss of step " + s);
            for (int i = 0; i < perStep; i++) {
                float[] before = djl.get(s * perStep + i);
                float[] updateDjl = minus(djl.get((s + 1) * perStep + i), before);
                float[] updateFused = minus(fused.get((s + 1) * perStep + i), fused.get(s * perStep + i));
                assertClose(updateDjl, updateFused, 1e-4, "update of parameter " + i + " at step " + s);
            }
        }
        assertTrue(fusedLosses[steps - 1] < fusedLosses[0], "the loss went down: " + fusedLosses[0]
                + " -> " + fusedLosses[steps - 1]);
        assertEquals("native", fusedLoss.lastEvaluation().result().backend());
    }

    private static float[] minus(float[] a, float[] b) {
        float[] d = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i] - b[i];
        }
        return d;
    }

    @Test
    void classWeightsRaiseBalancedAccuracyOnAnImbalancedSet() throws Exception {
        // Three overlapping 2-D blobs, 90 / 8 / 2 %: unweighted training mostly predicts the majority.
        // (The Bayes classifiers of this data: 0.53 balanced accuracy with the priors, 0.78 without.)
        int[] counts = {1800, 160, 40};
        Random rnd = new Random(3);
        int n = counts[0] + counts[1] + counts[2];
        float[] x = new float[n * 2];
        int[] y = new int[n];
        double[][] centres = {{0, 0}, {2, 0}, {0, 2}};
        int[] order = new int[n];   // the classes interleaved, in a fixed random order
        for (int c = 0, i = 0; c < 3; c++) {
            for (int k = 0; k < counts[c]; k++) {
                order[i++] = c;
            }
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < n; i++) {
            int c = order[i];
            x[2 * i] = (float) (centres[c][0] + rnd.nextGaussian());
            x[2 * i + 1] = (float) (centres[c][1] + rnd.nextGaussian());
            y[i] = c;
        }
        // a balanced test set from the same blobs
        int perClass = 500;
        float[] xt = new float[3 * perClass * 2];
        int[] yt = new int[3 * perClass];
        for (int j = 0; j < yt.length; j++) {
            int c = j % 3;
            xt[2 * j] = (float) (centres[c][0] + rnd.nextGaussian());
            xt[2 * j + 1] = (float) (centres[c][1] + rnd.nextGaussian());
            yt[j] = c;
        }
        float[] classWeights = Weights.balancedClassWeights(y, 3);
        double unweighted = balancedAccuracy(new FusedCrossEntropyLoss(), x, y, xt, yt);
        double weighted = balancedAccuracy(
                new FusedCrossEntropyLoss(CrossEntropy.builder().classWeights(classWeights).build()), x, y, xt, yt);
        System.out.printf("balanced accuracy: unweighted %.3f, class-weighted %.3f%n", unweighted, weighted);
        assertTrue(weighted > unweighted + 0.1, "class weights should raise the balanced accuracy: unweighted "
                + unweighted + ", weighted " + weighted);
    }

    /** Trains with EasyTrain.fit and returns the balanced accuracy (mean recall) on the test set. */
    private static double balancedAccuracy(Loss loss, float[] x, int[] y, float[] xt, int[] yt) throws Exception {
        int batch = 200;
        try (Model model = mlp(3);
             Trainer trainer = trainer(model, loss, 0.5f, 2, batch)) {
            NDManager m = trainer.getManager();
            ArrayDataset data = new ArrayDataset.Builder()
                    .setData(m.create(x, new Shape(y.length, 2)))
                    .optLabels(m.create(y))
                    .setSampling(batch, false)
                    .build();
            EasyTrain.fit(trainer, 10, data, null);
            Float trainLoss = trainer.getTrainingResult().getTrainLoss();   // DJL's metric, from updateAccumulators
            assertTrue(trainLoss != null && trainLoss > 0 && Float.isFinite(trainLoss), "train loss " + trainLoss);
            NDArray predicted = trainer.evaluate(new NDList(m.create(xt, new Shape(yt.length, 2))))
                    .singletonOrThrow().argMax(1);
            long[] p = predicted.toLongArray();
            double[] hits = new double[3];
            double[] total = new double[3];
            for (int j = 0; j < yt.length; j++) {
                total[yt[j]]++;
                if (p[j] == yt[j]) {
                    hits[yt[j]]++;
                }
            }
            return (hits[0] / total[0] + hits[1] / total[1] + hits[2] / total[2]) / 3;
        }
    }
}
