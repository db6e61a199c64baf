package org.fusedloss.dl4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.fusedloss.Backends;
import org.fusedloss.bench.PairedTiming;
import org.fusedloss.bench.PeerData;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;
import org.nd4j.linalg.lossfunctions.impl.LossSparseMCXENT;

/**
 * DL4J's own losses against the fused ones on the data of shared/PEERS.md: {@code
 * computeGradientAndScore} of each on the same arrays, timed alternately in one JVM
 * ({@link PairedTiming}: the ratio is the median of the per-pair ratios DL4J / fused), 2 threads on
 * both sides, each call in a workspace as in training; then one training iteration
 * ({@code MultiLayerNetwork.fit}) of {@link TrainingTest}'s network and of a wider one. Before
 * timing, each pair's numbers are checked against each other (gradient 1e-4, score 1e-2: ND4J sums
 * in float) and against the PEERS.md reference loss (1e-5) where there is one; a wrong result is
 * not timed.
 *
 * <pre>
 * mvn -B -q -pl integrations/dl4j -am verify -DskipTests -Pdl4j-bench     (about 2 minutes)
 * </pre>
 * {@code -Ddl4j.bench.seconds=N} sets the seconds per pair (default 4).
 */
public final class Dl4jBench {
    private static final int THREADS = 2;
    private static final WorkspaceConfiguration WORKSPACE = WorkspaceConfiguration.builder()
            .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.FIRST_LOOP).build();

    /** What one side of a pair calls: a loss on its labels, or a network's fit. */
    private record Side(String workspace, PairedTiming.Call call) {
    }

    private record Row(String what, String shape, PairedTiming.Result result) {
    }

    private static double sink;

    private Dl4jBench() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = Double.parseDouble(System.getProperty("dl4j.bench.seconds", "4"));
        Nd4j.getEnvironment().setMaxThreads(THREADS);
        Nd4j.factory().blas().setMaxThreads(THREADS);
        Backends.nativeCpu().setThreads(THREADS);
        System.out.println("fusedloss " + Backends.nativeCpu().describe() + "; ND4J " + Nd4j.getBackend().getClass()
                .getSimpleName() + ", " + Nd4j.getEnvironment().maxThreads() + " threads; CPU " + cpu());
        System.out.println("load average at the start: " + loadAverage());
        List<Row> rows = new ArrayList<>();
        for (String shape : new String[] {"65536x10", "4096x1000", "256x32000"}) {
            PeerData d = PeerData.of(shape);
            INDArray x = matrix(d.logits(), d);
            INDArray mask = column(d.sampleWeights());
            float[] cw = d.classWeights();
            INDArray oneHot = Dl4jCheck.oneHot(d.labels(), d.cols);
            INDArray indices = Dl4jCheck.column(d.labels());
            double weightSum = 0;
            for (int i = 0; i < d.rows; i++) {
                weightSum += (double) cw[d.labels()[i]] * d.sampleWeights()[i];
            }
            double reference = PeerData.referenceLoss("ce_weighted", shape);
            rows.add(pair("CE, one-hot labels: LossMCXENT(w)", shape, new LossMCXENT(Nd4j.create(cw)), oneHot,
                    new FusedCrossEntropy(cw), oneHot, x, new ActivationSoftmax(), mask, reference, weightSum, seconds));
            rows.add(pair("CE, class indices: LossSparseMCXENT(w)", shape, new LossSparseMCXENT(Nd4j.create(cw)),
                    indices, new FusedCrossEntropy(cw), indices, x, new ActivationSoftmax(), mask, reference, weightSum,
                    seconds));
        }
        PeerData e = PeerData.of(PeerData.ELEMENTWISE_SHAPE);
        INDArray x = matrix(e.logits(), e);
        INDArray binary = matrix(e.binaryTargets(), e);
        rows.add(pair("BCE: LossBinaryXENT", e.shape(), new LossBinaryXENT(), binary, new FusedBinaryCrossEntropy(),
                binary, x, new ActivationSigmoid(), null, Double.NaN, 1, seconds));
        INDArray sw = column(e.sampleWeights());
        double swSum = sw.sumNumber().doubleValue();
        INDArray regression = matrix(e.regressionTargets(), e);
        rows.add(pair("MSE, sample weights as mask: LossMSE", e.shape(), new LossMSE(), regression,
                new FusedMeanSquaredError(), regression, x, new ActivationIdentity(), sw,
                PeerData.referenceLoss("mse_weighted", e.shape()), swSum, seconds));

        int[] y = TrainingTest.imbalancedLabels();
        rows.add(training("training iteration, TrainingTest's network", y.length + "x" + TrainingTest.CLASSES,
                new DataSet(TrainingTest.features(y, 1), Dl4jCheck.oneHot(y, TrainingTest.CLASSES)),
                TrainingTest.FEATURES, 32, TrainingTest.CLASSES, seconds));
        PeerData wide = PeerData.of("4096x1000");
        rows.add(training("training iteration, 256 -> 256 -> 1000 classes", wide.shape(),
                new DataSet(Dl4jCheck.uniform(5, wide.rows, 256, -1, 1), Dl4jCheck.oneHot(wide.labels(), wide.cols)),
                256, 256, wide.cols, seconds));

        System.out.println();
        System.out.println("| DL4J's own against fused (computeGradientAndScore; fit) | N x C | DL4J ms | fused ms "
                + "| DL4J / fused (paired median) | pairs |");
        System.out.println("|---|---|---|---|---|---|");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "| %s | %s | %.2f | %.2f | %.2f | %d |%n", r.what, r.shape, r.result.msA(),
                    r.result.msB(), r.result.ratio(), r.result.pairs());
        }
        System.out.println("load average at the end: " + loadAverage());
        if (sink == 42) {
            System.out.println();   // keeps the results alive
        }
    }

    /**
     * Checks, then times DL4J's loss against ours. {@code reference} is PEERS.md's loss (NaN: none),
     * which is our summed score divided by {@code denominator}.
     */
    private static Row pair(String what, String shape, ILossFunction theirs, INDArray theirLabels, ILossFunction ours,
                            INDArray ourLabels, INDArray x, IActivation activation, INDArray mask, double reference,
                            double denominator, double seconds) throws Exception {
        // DL4J's sigmoid and identity backprop write the gradient over preOutput: its own copy, made once
        // (in training its preOutput is a fresh array each time; what it leaves there does not change its speed).
        INDArray theirX = x.dup();
        Pair<Double, INDArray> a = theirs.computeGradientAndScore(theirLabels, theirX, activation, mask, false);
        Pair<Double, INDArray> b = ours.computeGradientAndScore(ourLabels, x, activation, mask, false);
        double gradientError = a.getSecond().sub(b.getSecond()).amaxNumber().doubleValue()
                / a.getSecond().amaxNumber().doubleValue();
        double scoreError = Math.abs(a.getFirst() - b.getFirst()) / Math.abs(a.getFirst());
        double referenceError = Math.abs(b.getFirst() / denominator - reference) / reference;
        if (!(gradientError <= 1e-4 && scoreError <= 1e-2) || referenceError > 1e-5) {
            throw new AssertionError(what + " " + shape + ": the fused loss disagrees (gradient " + gradientError
                    + ", score " + scoreError + " against DL4J, " + referenceError + " against PEERS.md)");
        }
        Side dl4j = new Side("dl4j", () -> sink += theirs.computeGradientAndScore(theirLabels, theirX, activation, mask,
                false).getFirst());
        Side fused = new Side("fused", () -> sink += ours.computeGradientAndScore(ourLabels, x, activation, mask,
                false).getFirst());
        Row r = new Row(what, shape, PairedTiming.measure(inWorkspace(dl4j), inWorkspace(fused), seconds));
        System.out.printf(Locale.ROOT, "%s %s: DL4J / fused %.2f (score differs by %.1e, gradient by %.1e%s)%n",
                what, shape, r.result.ratio(), scoreError, gradientError,
                Double.isNaN(reference) ? "" : String.format(Locale.ROOT, "; %.1e from PEERS.md", referenceError));
        return r;
    }

    private static PairedTiming.Call inWorkspace(Side side) {
        return () -> {
            try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORKSPACE, side.workspace)) {
                side.call.run();
            }
        };
    }

    /** One fit() of two networks that differ in their loss only (first checked to score alike). */
    private static Row training(String what, String shape, DataSet data, int features, int hidden, int classes,
                                double seconds) throws Exception {
        MultiLayerNetwork theirs = TrainingTest.network(new LossMCXENT(), features, hidden, classes);
        MultiLayerNetwork ours = TrainingTest.network(new FusedCrossEntropy(), features, hidden, classes);
        theirs.fit(data);
        ours.fit(data);
        double error = Math.abs(theirs.score() - ours.score()) / theirs.score();
        if (!(error <= 1e-4)) {
            throw new AssertionError(what + ": scores differ by " + error);
        }
        Row r = new Row(what, shape, PairedTiming.measure(() -> theirs.fit(data), () -> ours.fit(data), seconds));
        System.out.printf(Locale.ROOT, "%s %s: DL4J / fused %.2f%n", what, shape, r.result.ratio());
        return r;
    }

    private static INDArray matrix(float[] values, PeerData d) {
        return Nd4j.create(values, new long[] {d.rows, d.cols}, 'c');
    }

    private static INDArray column(float[] values) {
        return Nd4j.create(values, new long[] {values.length, 1}, 'c');
    }

    private static String cpu() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?")
                    + ", " + Runtime.getRuntime().availableProcessors() + " cores";
        } catch (Exception e) {
            return "?";
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "?";
        }
    }
}
