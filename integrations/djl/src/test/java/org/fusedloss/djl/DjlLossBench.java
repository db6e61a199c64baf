package org.fusedloss.djl;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.training.GradientCollector;
import ai.djl.training.loss.L2Loss;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SigmoidBinaryCrossEntropyLoss;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.fusedloss.Backends;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.CrossEntropy;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.bench.PairedTiming;
import org.fusedloss.bench.PeerData;

/**
 * DJL's own loss against the fused one, forward + backward through a GradientCollector, on the data
 * of shared/PEERS.md, paired in one JVM ({@link PairedTiming}: the median of per-pair ratios).
 *
 * <p>Run: {@code mvn -B -q -pl integrations/djl -am verify -DskipTests -Pdjl-bench}
 * ({@code -Ddjl.bench.args="--only ce_mean --seconds 5"} to narrow it). Both sides run 2 threads
 * (libtorch's intra-op pool and the native backend's). Each rep: a fresh leaf copy of the logits that
 * requires a gradient (untimed); timed: the loss, backward, reading the loss value, freeing the rep's
 * arrays (DJL's intermediates; the fused loss's gradient array), as the PEERS.md DJL peer does.
 *
 * <p>"DJL" is DJL's loss class where DJL has one ({@code SoftmaxCrossEntropyLoss},
 * {@code SigmoidBinaryCrossEntropyLoss}, {@code L2Loss}), else the PEERS.md peer's composition of
 * DJL NDArray ops (weighted CE, BCE with pos_weight, weighted MSE, sigmoid focal). Before timing, each
 * side's loss is checked against the PEERS.md reference value and the two gradients against each other.
 */
public final class DjlLossBench {
    /** A loss as the benchmark calls it: labels and predictions in, the loss array out. */
    private interface LossFn {
        NDArray apply(NDList labels, NDArray predictions);
    }

    private record Row(String name, String shape, PairedTiming.Result timing, double coreMs, double surrogateMs,
                       String copies) {
        /** The most the fused path can gain through DJL's public API: DJL / (core call + surrogate alone). */
        double ceiling() {
            return timing.msA() / (coreMs + surrogateMs);
        }
    }

    private static final List<Row> ROWS = new ArrayList<>();
    private static double seconds = 3;

    private DjlLossBench() {
    }

    public static void main(String[] args) throws Exception {
        String only = "";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--only" -> only = args[++i];
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (--only name,name  --seconds s)");
            }
        }
        List<String> wanted = only.isBlank() ? List.of() : List.of(only.split(","));
        Backends.nativeCpu().setThreads(2);
        String startLoad = loadAverage();
        System.out.println("# DJL " + Engine.getDjlVersion() + ", engine " + Engine.getInstance().getEngineName() + " "
                + Engine.getInstance().getVersion() + ", libtorch threads " + System.getProperty("ai.djl.pytorch.num_threads"));
        System.out.print("# fusedloss backends:\n" + Backends.report().replaceAll("(?m)^", "#   "));
        System.out.println("# CPU: " + cpuModel() + ", JDK " + System.getProperty("java.version"));
        System.out.println("# load average at start: " + startLoad);

        try (NDManager root = NDManager.newBaseManager()) {
            for (String shape : PeerData.SOFTMAX_SHAPES) {
                if (want(wanted, "ce_weighted")) {
                    crossEntropy(root, shape, true);
                }
                if (want(wanted, "ce_mean")) {
                    crossEntropy(root, shape, false);
                }
            }
            elementWise(root, wanted);
        }
        System.out.println("# load average at end: " + loadAverage());
        System.out.println();
        System.out.println("| case | N x C | DJL ms | fused ms | DJL / fused (paired) | pairs | core call alone ms"
                + " | surrogate alone ms | ceiling: DJL / (core + surrogate) | fused path's copies |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        for (Row r : ROWS) {
            System.out.printf(Locale.ROOT, "| %s | %s | %.2f | %.2f | **%.1fx** | %d | %.2f | %.2f | %.1fx | %s |%n",
                    r.name, r.shape, r.timing.msA(), r.timing.msB(), r.timing.ratio(), r.timing.pairs(), r.coreMs,
                    r.surrogateMs, r.ceiling(), r.copies);
        }
    }

    private static boolean want(List<String> wanted, String name) {
        return wanted.isEmpty() || wanted.contains(name);
    }

    private static void crossEntropy(NDManager root, String shape, boolean weighted) throws Exception {
        PeerData d = PeerData.of(shape);
        int n = d.rows;
        try (NDManager m = root.newSubManager()) {
            NDArray x = m.create(d.logits(), new Shape(n, d.cols));
            NDArray y = m.create(longs(d.labels()), new Shape(n, 1));
            NDArray cw = m.create(d.classWeights());
            NDArray sw = m.create(d.sampleWeights());
            String name = weighted ? "ce_weighted" : "ce_mean";
            if (weighted) {
                // DJL's SoftmaxCrossEntropyLoss has one scalar weight: the peer's composition of DJL ops
                LossFn djl = (labels, p) -> {
                    NDArray w = labels.get(1).mul(cw.gather(labels.get(0).reshape(n), 0));
                    NDArray picked = p.logSoftmax(1).gather(labels.get(0), 1).reshape(n);
                    return picked.mul(w).sum().neg().div(w.sum());
                };
                FusedCrossEntropyLoss fused = new FusedCrossEntropyLoss(
                        CrossEntropy.builder().classWeights(d.classWeights()).build());
                compare(name + " (DJL ops)", shape, x, new NDList(y, sw), new NDList(cw), djl, fused, 1f,
                        PeerData.referenceLoss(name, shape),
                        () -> fused.fusedLoss().compute(org.fusedloss.Batch.of(d.logits(), n, d.cols)
                                .labels(d.labels()).sampleWeights(d.sampleWeights()).gradient(d.gradient())));
            } else {
                FusedCrossEntropyLoss fused = new FusedCrossEntropyLoss();
                compare(name + " (SoftmaxCrossEntropyLoss)", shape, x, new NDList(y), new NDList(),
                        djlLoss(new SoftmaxCrossEntropyLoss()),
                        fused, 1f, PeerData.referenceLoss(name, shape),
                        () -> fused.fusedLoss().compute(org.fusedloss.Batch.of(d.logits(), n, d.cols)
                                .labels(d.labels()).gradient(d.gradient())));
            }
        }
    }

    private static void elementWise(NDManager root, List<String> wanted) throws Exception {
        PeerData d = PeerData.of(PeerData.ELEMENTWISE_SHAPE);
        int n = d.rows;
        int k = d.cols;
        String shape = d.shape();
        try (NDManager m = root.newSubManager()) {
            NDArray x = m.create(d.logits(), new Shape(n, k));
            NDArray t = m.create(d.binaryTargets(), new Shape(n, k));
            NDArray target = m.create(d.regressionTargets(), new Shape(n, k));
            NDArray pw = m.create(d.posWeight());
            NDArray sw = m.create(d.sampleWeights());
            if (want(wanted, "bce_posw")) {
                LossFn djl = (labels, p) -> {   // torch's BCEWithLogits(pos_weight), in DJL ops
                    NDArray tt = labels.get(0);
                    NDArray lw = pw.sub(1).mul(tt).add(1);
                    return tt.neg().add(1).mul(p).add(lw.mul(Activation.softPlus(p.neg()))).mean();
                };
                FusedBinaryCrossEntropyLoss fused = new FusedBinaryCrossEntropyLoss(
                        BinaryCrossEntropy.builder().posWeight(d.posWeight()).build());
                compare("bce_posw (DJL ops)", shape, x, new NDList(t), new NDList(pw), djl, fused, 1f,
                        PeerData.referenceLoss("bce_posw", shape),
                        () -> fused.fusedLoss().compute(org.fusedloss.Batch.of(d.logits(), n, k)
                                .targets(d.binaryTargets()).gradient(d.gradient())));
            }
            if (want(wanted, "bce")) {
                FusedBinaryCrossEntropyLoss fused = new FusedBinaryCrossEntropyLoss();
                compare("bce (SigmoidBinaryCrossEntropyLoss)", shape, x, new NDList(t), new NDList(),
                        djlLoss(new SigmoidBinaryCrossEntropyLoss()), fused, 1f, null,
                        () -> fused.fusedLoss().compute(org.fusedloss.Batch.of(d.logits(), n, k)
                                .targets(d.binaryTargets()).gradient(d.gradient())));
            }
            if (want(wanted, "mse_weighted")) {
                LossFn djl = (labels, p) -> {
                    NDArray s = labels.get(1);
                    return p.sub(labels.get(0)).square().mul(s.expandDims(1)).sum().div(s.sum().mul(k));
                };
                FusedMeanSquaredErrorLoss fused = new FusedMeanSquaredErrorLoss();
                compare("mse_weighted (DJL ops)", shape, x, new NDList(target, sw), new NDList(), djl, fused, 1f,
                        PeerData.referenceLoss("mse_weighted", shape),
                        () -> fused.fusedLoss().compute(org.fusedloss.Batch.of(d.logits(), n, k)
                                .targets(d.regressionTargets()).sampleWeights(d.sampleWeights()).gradient(d.gradient())));
            }
            if (want(wanted, "l2")) {
                FusedMeanSquaredErrorLoss fused = new FusedMeanSquaredErrorLoss(MeanSquaredError.builder().build());
                compare("mse vs L2Loss (x2)", shape, x, new NDList(target), new NDList(), djlLoss(new L2Loss()), fused,
                        2f, null,
                        () -> fused.fusedLoss().compute(org.fusedloss.Batch.of(d.logits(), n, k)
                                .targets(d.regressionTargets()).gradient(d.gradient())));
            }
            if (want(wanted, "focal")) {
                LossFn djl = (labels, p) -> {   // torchvision's sigmoid_focal_loss(alpha 0.25, gamma 2), mean
                    NDArray tt = labels.get(0);
                    NDArray prob = Activation.sigmoid(p);
                    NDArray ce = Activation.softPlus(p).sub(tt.mul(p));
                    NDArray pt = prob.mul(tt).add(prob.neg().add(1).mul(tt.neg().add(1)));
                    NDArray at = tt.mul(0.25).add(tt.neg().add(1).mul(0.75));
                    return at.mul(ce.mul(pt.neg().add(1).pow(2))).mean();
                };
                FusedSigmoidFocalLoss fused = new FusedSigmoidFocalLoss();
                compare("focal (DJL ops)", shape, x, new NDList(t), new NDList(), djl, fused, 1f,
                        PeerData.referenceLoss("focal", shape),
                        () -> fused.fusedLoss().compute(org.fusedloss.Batch.of(d.logits(), n, k)
                                .targets(d.binaryTargets()).gradient(d.gradient())));
            }
        }
    }

    private static LossFn djlLoss(Loss loss) {
        return (labels, p) -> loss.evaluate(labels, new NDList(p));
    }

    /**
     * Checks both sides (loss against the reference value, the fused gradient against DJL's times
     * {@code factor}), then times them paired, and the core call alone on heap arrays. {@code constants}
     * are the other arrays a loss function reads: during a rep they and the labels are attached to the
     * rep's manager, so that what DJL derives from them is freed with the rep, as the peer does.
     */
    private static void compare(String name, String shape, NDArray x, NDList labels, NDList constants, LossFn djl,
                                FusedLoss fused, float factor, Double reference, PairedTiming.Call coreAlone)
            throws Exception {
        NDList inputs = new NDList(labels);
        inputs.addAll(constants);
        LossFn fusedFn = (l, p) -> fused.evaluate(l, new NDList(p));
        LossFn surrogateFn;
        try (NDManager check = x.getManager().newSubManager()) {
            inputs.tempAttach(check);
            NDArray[] a = lossAndGradient(check, x, labels, djl);
            NDArray[] b = lossAndGradient(check, x, labels, fusedFn);
            float la = a[0].getFloat() * factor;
            float lb = b[0].getFloat();
            if (reference != null && (Math.abs(la - reference) > 2e-5 * reference || Math.abs(lb - reference) > 2e-5 * reference)) {
                throw new IllegalStateException(name + " " + shape + ": loss DJL " + la + ", fused " + lb
                        + ", PEERS.md " + reference);
            }
            if (Math.abs(la - lb) > 2e-5 * Math.abs(la)) {
                throw new IllegalStateException(name + " " + shape + ": loss DJL " + la + " vs fused " + lb);
            }
            float scale = a[1].abs().max().getFloat() * factor;
            float err = a[1].mul(factor).sub(b[1]).abs().max().getFloat();
            if (!(err <= 1e-4 * scale)) {
                throw new IllegalStateException(name + " " + shape + ": gradients differ by " + err + " (max " + scale + ")");
            }
            // What DJL's autograd costs the fused path whatever the kernel does: the surrogate that
            // hands it g (FusedLoss.reducedLoss), timed alone with g already computed.
            NDArray g = b[1].flatten().duplicate();
            g.attach(x.getManager());
            surrogateFn = (l, p) -> {
                NDArray dot = p.flatten().dot(g);
                return dot.sub(dot.stopGradient()).add(lb);
            };
        }
        String copies = fused.lastEvaluation().copies().isEmpty() ? "none"
                : String.join("; ", fused.lastEvaluation().copies());
        System.out.printf(Locale.ROOT, "# %-36s %-12s checked; timing...%n", name, shape);
        PairedTiming.Result r = PairedTiming.measureSelfTimed(() -> timedStep(x, labels, inputs, djl),
                () -> timedStep(x, labels, inputs, fusedFn), seconds);
        double core = medianMs(coreAlone, Math.max(5, r.pairs()));
        LossFn surrogate = surrogateFn;
        double surrogateMs = medianStepMs(x, labels, inputs, surrogate, Math.max(5, r.pairs()));
        ROWS.add(new Row(name, shape, r, core, surrogateMs, copies));
        System.out.printf(Locale.ROOT, "# %-36s %-12s DJL %.2f ms, fused %.2f ms, ratio %.2f over %d pairs; core alone %.2f ms,"
                + " surrogate alone %.2f ms%n", name, shape, r.msA(), r.msB(), r.ratio(), r.pairs(), core, surrogateMs);
    }

    /** The loss and the gradient autograd gives a leaf copy of x (arrays of {@code m}). */
    private static NDArray[] lossAndGradient(NDManager m, NDArray x, NDList labels, LossFn f) {
        NDArray leaf = x.duplicate();
        leaf.attach(m);
        leaf.setRequiresGradient(true);
        NDArray loss;
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            loss = f.apply(labels, leaf);
            collector.backward(loss);
        }
        return new NDArray[] {loss, leaf.getGradient()};
    }

    /**
     * One rep. The leaf copy is made before the clock starts; the timed part is what a training step
     * spends on the loss: forward, backward, reading the value, freeing the step's arrays.
     */
    private static long timedStep(NDArray x, NDList labels, NDList inputs, LossFn f) {
        NDManager step = x.getManager().newSubManager();
        inputs.tempAttach(step);
        NDArray leaf = x.duplicate();
        leaf.attach(step);
        leaf.setRequiresGradient(true);
        long start = System.nanoTime();
        float value;
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray loss = f.apply(labels, leaf);
            collector.backward(loss);
            value = loss.getFloat();
        }
        step.close();
        long nanos = System.nanoTime() - start;
        if (!Float.isFinite(value)) {
            throw new IllegalStateException("non-finite loss " + value);
        }
        return nanos;
    }

    private static double medianMs(PairedTiming.Call call, int reps) throws Exception {
        double[] t = new double[reps];
        call.run();
        for (int i = 0; i < reps; i++) {
            long s = System.nanoTime();
            call.run();
            t[i] = (System.nanoTime() - s) / 1e6;
        }
        return median(t);
    }

    /** The median of timedStep's own measure (the leaf copy left out), in ms. */
    private static double medianStepMs(NDArray x, NDList labels, NDList inputs, LossFn f, int reps) {
        double[] t = new double[reps];
        timedStep(x, labels, inputs, f);
        for (int i = 0; i < reps; i++) {
            t[i] = timedStep(x, labels, inputs, f) / 1e6;
        }
        return median(t);
    }

    private static double median(double[] t) {
        java.util.Arrays.sort(t);
        int n = t.length;
        return n % 2 == 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    }

    private static long[] longs(int[] y) {
        long[] out = new long[y.length];
        for (int i = 0; i < y.length; i++) {
            out[i] = y[i];
        }
        return out;
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown");
        } catch (Exception e) {
            return "unknown";
        }
    }
}
