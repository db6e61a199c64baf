package org.fusedloss.bench;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.fusedloss.Backend;
import org.fusedloss.Backends;
import org.fusedloss.Batch;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.CrossEntropy;
import org.fusedloss.Loss;
import org.fusedloss.LossResult;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.Reduction;
import org.fusedloss.SigmoidFocal;
import org.fusedloss.SoftmaxFocal;
import org.fusedloss.nativecpu.NativeBackend;

/**
 * The README's first command: a quick cross-check of every available backend against the
 * double-precision Java reference, on fresh random data (the seed is printed; {@code --seed N}
 * repeats a run), for every loss with its options, every reduction and a few shapes (odd sizes,
 * C = 1). Per case: the largest per-term error, the loss's relative error, the gradient's relative
 * norm error, PASS / FAIL against SEMANTICS.md's 1e-5, and the time per call. The native backend
 * runs on every instruction set this CPU has, on 1 and 2 threads, and must give bit-identical
 * results on both. Exits 1 if anything fails.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.fusedloss.bench.Report
 * </pre>
 */
public final class Report {
    private static final int[][] SOFTMAX_SHAPES = {{5, 1}, {3, 2}, {257, 1001}, {17, 32003}};
    private static final int[][] ELEMENTWISE_SHAPES = {{1, 1}, {1000, 1}, {257, 33}, {64, 1031}};

    private Report() {
    }

    /** One case: a configured loss on its inputs. */
    record Case(String loss, String options, int rows, int cols, Loss built, Inputs inputs, boolean inPlace) {
        String shape() {
            return rows + "x" + cols;
        }

        /** Runs it on a backend into fresh output arrays (in place: over a fresh copy of the logits). */
        CrossCheck.Outcome run(Backend backend) {
            float[] x = inPlace ? inputs.logits.clone() : inputs.logits;
            float[] gradient = inPlace ? x : new float[rows * cols];
            boolean perRow = loss.equals("CrossEntropy") || loss.equals("SoftmaxFocal");
            float[] perTerm = built.reduction() == Reduction.NONE ? new float[perRow ? rows : rows * cols] : null;
            LossResult result = built.compute(inputs.batch(x, rows, cols, gradient, perTerm), backend);
            return new CrossCheck.Outcome(result, gradient, perTerm);
        }
    }

    /** The inputs of a case; absent ones are null. */
    static final class Inputs {
        float[] logits;
        int[] labels;
        float[] targets;
        float[] sampleWeights;
        int sampleWeightStride = 1;
        float[] elementWeights;
        float[] upstream;
        double denominator = Double.NaN;

        Batch batch(float[] x, int rows, int cols, float[] gradient, float[] perTerm) {
            Batch b = Batch.of(x, rows, cols).gradient(gradient);
            if (labels != null) {
                b.labels(labels);
            }
            if (targets != null) {
                b.targets(targets);
            }
            if (sampleWeights != null) {
                b.sampleWeights(sampleWeights, 0, sampleWeightStride);
            }
            if (elementWeights != null) {
                b.elementWeights(elementWeights);
            }
            if (upstream != null) {
                b.upstream(upstream);
            }
            if (perTerm != null) {
                b.perTerm(perTerm);
            }
            if (!Double.isNaN(denominator)) {
                b.denominator(denominator);
            }
            return b;
        }
    }

    /** A backend set up one way: the native backend on one ISA and thread count, or CUDA. */
    record Config(Backend backend, String isa, int threads) {
        void apply() {
            if (backend instanceof NativeBackend nb) {
                nb.setIsa(isa);
                nb.setThreads(threads);
            }
        }

        String label() {
            return isa == null ? backend.describe() : backend.name() + " " + isa + ", " + threads + " thread"
                    + (threads == 1 ? "" : "s");
        }
    }

    public static void main(String[] args) {
        long seed = new Random().nextLong() >>> 16;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--seed") && i + 1 < args.length) {
                seed = Long.parseLong(args[++i]);
            } else {
                System.err.println("usage: Report [--seed N]");
                System.exit(2);
            }
        }
        System.exit(run(seed) ? 0 : 1);
    }

    /** Prints the report; true when every check passed. */
    static boolean run(long seed) {
        long start = System.nanoTime();
        System.out.println("[fusedloss] report: every available backend against the double-precision java reference");
        System.out.println(Instant.now() + ", " + Summary.cpuModel() + ", " + Runtime.getRuntime().availableProcessors()
                + " cpus, JDK " + System.getProperty("java.version"));
        System.out.println("seed " + seed + " (repeat with --seed " + seed + ")");
        System.out.println();
        System.out.println("Backends:");
        for (Backend b : Backends.all()) {
            System.out.printf(Locale.ROOT, "  %-7s %s%n", b.name(), b.isAvailable() ? "available: " + b.describe()
                    : "UNAVAILABLE: " + b.unavailabilityReason().orElse("unknown reason"));
        }
        System.out.println();

        List<Config> configs = configs();
        List<Case> cases = cases(new Random(seed));
        System.out.println("Tolerance (SEMANTICS.md): each error below " + CrossCheck.TOLERANCE + ". term = max over"
                + " terms of |t - t_ref| / max(|t_ref|, mean |t_ref|) (reduction NONE only); loss = |L - L_ref| /"
                + " |L_ref|; grad = ||g - g_ref|| / ||g_ref||. ms = fastest of 3 calls after a first one.");
        System.out.println();

        // The reference first, then every configuration on the same inputs.
        Map<Config, List<CrossCheck.Outcome>> outcomes = new LinkedHashMap<>();
        Map<Config, List<CrossCheck.Errors>> errors = new LinkedHashMap<>();
        Map<Config, double[]> millis = new LinkedHashMap<>();
        List<CrossCheck.Outcome> reference = new ArrayList<>();
        double[] referenceMillis = new double[cases.size()];
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            reference.add(c.run(Backends.java()));
            referenceMillis[i] = fastestMillis(() -> c.run(Backends.java()));
        }
        for (Config config : configs) {
            config.apply();
            List<CrossCheck.Outcome> got = new ArrayList<>();
            List<CrossCheck.Errors> err = new ArrayList<>();
            double[] ms = new double[cases.size()];
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                CrossCheck.Outcome o;
                try {
                    o = c.run(config.backend());
                } catch (RuntimeException e) {
                    System.out.println("  " + config.label() + " " + c.loss() + " " + c.options() + " " + c.shape()
                            + " THREW " + e);
                    o = null;
                }
                got.add(o);
                err.add(o == null ? new CrossCheck.Errors(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY,
                        Double.POSITIVE_INFINITY) : CrossCheck.compare(o, reference.get(i)));
                ms[i] = o == null ? Double.NaN : fastestMillis(() -> c.run(config.backend()));
            }
            outcomes.put(config, got);
            errors.put(config, err);
            millis.put(config, ms);
        }

        boolean allPass = true;
        // The full table for each backend's first configuration (native: its best ISA on 2 threads).
        List<Backend> tabled = new ArrayList<>();
        for (Config config : configs) {
            if (tabled.contains(config.backend())) {
                continue;
            }
            tabled.add(config.backend());
            System.out.println(config.label() + " vs java:");
            String head = String.format(Locale.ROOT, "%-18s %-48s %-9s %9s %9s %9s %9s %9s %6s", "loss", "options",
                    "shape", "term err", "loss err", "grad err", "ms", "java ms", "result");
            System.out.println(head);
            System.out.println("-".repeat(head.length()));
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                CrossCheck.Errors e = errors.get(config).get(i);
                System.out.printf(Locale.ROOT, "%-18s %-48s %-9s %9s %9s %9s %9s %9s %6s%n", c.loss(), c.options(),
                        c.shape(), error(e.maxTerm()), error(e.loss()), error(e.gradient()),
                        Summary.ms(millis.get(config)[i]), Summary.ms(referenceMillis[i]), e.pass() ? "PASS" : "FAIL");
            }
            System.out.println();
        }

        System.out.println("Every configuration (" + cases.size() + " cases each):");
        for (Config config : configs) {
            List<CrossCheck.Errors> err = errors.get(config);
            long passed = err.stream().filter(CrossCheck.Errors::pass).count();
            allPass &= passed == cases.size();
            System.out.printf(Locale.ROOT, "  %-4s %-28s %d/%d pass; worst term %s, loss %s, grad %s; %s ms for"
                            + " all cases (java %s ms)%s%n", passed == cases.size() ? "PASS" : "FAIL", config.label(),
                    passed, cases.size(), error(worst(err, CrossCheck.Errors::maxTerm)),
                    error(worst(err, CrossCheck.Errors::loss)), error(worst(err, CrossCheck.Errors::gradient)),
                    Summary.ms(Arrays.stream(millis.get(config)).sum()),
                    Summary.ms(Arrays.stream(referenceMillis).sum()), determinism(config, configs, outcomes));
            if (determinism(config, configs, outcomes).contains("DIFFER")) {
                allPass = false;
            }
        }
        if (configs.isEmpty()) {
            System.out.println("  (none: only the java reference is available here, nothing to cross-check)");
            System.out.println("  java reference, ms per call:");
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                System.out.printf(Locale.ROOT, "  %-18s %-48s %-9s %9s%n", c.loss(), c.options(), c.shape(),
                        Summary.ms(referenceMillis[i]));
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "[fusedloss] report: %s in %.1f s%n", allPass ? "ALL PASS" : "FAILURES (see FAIL above)",
                (System.nanoTime() - start) / 1e9);
        return allPass;
    }

    /** For a native configuration on 2 threads: whether it matched the same ISA on 1 thread bit for bit. */
    private static String determinism(Config config, List<Config> configs, Map<Config, List<CrossCheck.Outcome>> all) {
        if (config.isa() == null || config.threads() == 1) {
            return "";
        }
        Config single = new Config(config.backend(), config.isa(), 1);
        if (!configs.contains(single)) {
            return "";
        }
        List<CrossCheck.Outcome> a = all.get(config);
        List<CrossCheck.Outcome> b = all.get(single);
        int differ = 0;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) == null || b.get(i) == null || !identical(a.get(i), b.get(i))) {
                differ++;
            }
        }
        return differ == 0 ? "; bit-identical to 1 thread" : "; " + differ + " case(s) DIFFER from 1 thread";
    }

    private static boolean identical(CrossCheck.Outcome a, CrossCheck.Outcome b) {
        return Double.doubleToLongBits(a.result().loss()) == Double.doubleToLongBits(b.result().loss())
                && Arrays.equals(a.gradient(), b.gradient()) && Arrays.equals(a.perTerm(), b.perTerm());
    }

    private static double worst(List<CrossCheck.Errors> errors, java.util.function.ToDoubleFunction<CrossCheck.Errors> f) {
        return errors.stream().mapToDouble(f).filter(e -> !Double.isNaN(e)).max().orElse(Double.NaN);
    }

    /** Native: every ISA this CPU has, best first, on 2 then 1 threads; CUDA when available. */
    private static List<Config> configs() {
        List<Config> configs = new ArrayList<>();
        NativeBackend nb = Backends.nativeCpu();
        if (nb.isAvailable()) {
            for (String isa : List.of("avx512", "avx2", "scalar")) {
                if (nb.isaSupported(isa)) {
                    configs.add(new Config(nb, isa, 2));
                    configs.add(new Config(nb, isa, 1));
                }
            }
        }
        if (Backends.cuda().isAvailable()) {
            configs.add(new Config(Backends.cuda(), null, 0));
        }
        return configs;
    }

    private static double fastestMillis(Supplier<?> call) {
        double best = Double.POSITIVE_INFINITY;
        for (int i = 0; i < 3; i++) {
            long t = System.nanoTime();
            call.get();
            best = Math.min(best, (System.nanoTime() - t) / 1e6);
        }
        return best;
    }

    private static String error(double e) {
        return Double.isNaN(e) ? "-" : e == 0 ? "0" : String.format(Locale.ROOT, "%.1e", e);
    }

    // ---------------------------------------------------------------- the cases

    private static List<Case> cases(Random rnd) {
        List<Case> cases = new ArrayList<>();
        for (int[] s : SOFTMAX_SHAPES) {
            Gen g = new Gen(rnd, s[0], s[1]);
            int n = s[0];
            int c = s[1];
            cases.add(ce(g, "plain, MEAN", CrossEntropy.builder(), g.softmax(4, 0, false)));
            cases.add(ce(g, "class + sample weights, MEAN", CrossEntropy.builder().classWeights(g.weights(c)),
                    g.softmax(4, 0, true)));
            cases.add(ce(g, "class + sample weights, SUM", CrossEntropy.builder().classWeights(g.weights(c))
                    .reduction(Reduction.SUM), g.softmax(4, 0, true)));
            cases.add(ce(g, "class + sample weights, BATCH_MEAN", CrossEntropy.builder().classWeights(g.weights(c))
                    .reduction(Reduction.BATCH_MEAN), g.softmax(4, 0, true)));
            cases.add(ce(g, "class + sample weights, NONE + upstream", CrossEntropy.builder()
                    .classWeights(g.weights(c)).reduction(Reduction.NONE), g.upstream(g.softmax(4, 0, true), n)));
            cases.add(ce(g, "smoothing 0.1, class weights, MEAN", CrossEntropy.builder().labelSmoothing(0.1)
                    .classWeights(g.weights(c)), g.softmax(4, 0, false)));
            cases.add(ce(g, "z-loss 1e-3, sample weights, MEAN", CrossEntropy.builder().zLoss(1e-3),
                    g.softmax(8, 0, true)));
            cases.add(ce(g, "soft-cap 5 (logits +-15), MEAN", CrossEntropy.builder().softCap(5),
                    g.softmax(15, 0, false)));
            cases.add(ce(g, "smooth+z-loss+cap+weights, NONE + upstream", CrossEntropy.builder().labelSmoothing(0.05)
                    .zLoss(1e-4).softCap(10).classWeights(g.weights(c)).reduction(Reduction.NONE),
                    g.upstream(g.softmax(20, 0, true), n)));
            cases.add(ce(g, "ignored rows + NaN weights, MEAN", CrossEntropy.builder().classWeights(g.weights(c)),
                    g.softmax(4, 0.2, true)));
            Inputs scaled = g.softmax(4, 0, true);
            scaled.denominator = 100;
            cases.add(ce(g, "grad scale 0.25, caller denominator, MEAN", CrossEntropy.builder().gradientScale(0.25),
                    scaled));
            cases.add(ce(g, "dense targets, class weights, smooth, MEAN", CrossEntropy.builder()
                    .classWeights(g.weights(c)).labelSmoothing(0.1), g.dense(4, true)));
            cases.add(ce(g, "dense targets, z-loss, cap, NONE + upstream", CrossEntropy.builder().zLoss(1e-3)
                    .softCap(8).reduction(Reduction.NONE), g.upstream(g.dense(12, true), n)));
            cases.add(new Case("CrossEntropy", "weights, in place (gradient over logits)", n, c,
                    CrossEntropy.builder().classWeights(g.weights(c)).build(), g.softmax(4, 0, true), true));

            cases.add(sf(g, "gamma 2, MEAN", SoftmaxFocal.builder(), g.softmax(4, 0, false)));
            cases.add(sf(g, "gamma 2, alpha + sample weights, MEAN", SoftmaxFocal.builder().alpha(g.weights(c)),
                    g.softmax(4, 0, true)));
            cases.add(sf(g, "gamma 0.5, NONE + upstream", SoftmaxFocal.builder().gamma(0.5)
                    .reduction(Reduction.NONE), g.upstream(g.softmax(6, 0, false), n)));
            cases.add(sf(g, "gamma 0, alpha, SUM", SoftmaxFocal.builder().gamma(0).alpha(g.weights(c))
                    .reduction(Reduction.SUM), g.softmax(4, 0, false)));
            cases.add(sf(g, "gamma 3, ignored rows + NaN weights, BATCH_MEAN", SoftmaxFocal.builder().gamma(3)
                    .reduction(Reduction.BATCH_MEAN), g.softmax(4, 0.2, true)));
        }
        for (int[] s : ELEMENTWISE_SHAPES) {
            Gen g = new Gen(rnd, s[0], s[1]);
            int k = s[1];
            int terms = s[0] * s[1];
            cases.add(bce(g, "plain, MEAN", BinaryCrossEntropy.builder(), g.binary(4, false)));
            cases.add(bce(g, "pos_weight, MEAN", BinaryCrossEntropy.builder().posWeight(g.weights(k)),
                    g.binary(4, false)));
            cases.add(bce(g, "class weights {0.3, 2} + sample weights, SUM", BinaryCrossEntropy.builder()
                    .binaryClassWeights(0.3f, 2f).reduction(Reduction.SUM), g.sampleWeights(g.binary(6, false), 1, 0)));
            cases.add(bce(g, "element weights, NONE + upstream", BinaryCrossEntropy.builder()
                    .reduction(Reduction.NONE), g.upstream(g.elementWeights(g.binary(6, false), 0), terms)));
            cases.add(bce(g, "soft targets, pos_weight, BATCH_MEAN", BinaryCrossEntropy.builder()
                    .posWeight(g.weights(k)).reduction(Reduction.BATCH_MEAN), g.binary(4, true)));
            cases.add(bce(g, "NaN element weights (masked), MEAN", BinaryCrossEntropy.builder(),
                    g.elementWeights(g.binary(4, false), 0.2)));
            cases.add(bce(g, "sample weights, stride 3, MEAN", BinaryCrossEntropy.builder(),
                    g.sampleWeights(g.binary(4, false), 3, 0)));

            cases.add(mse(g, "plain, MEAN", MeanSquaredError.builder(), g.regression()));
            cases.add(mse(g, "sample weights, MEAN", MeanSquaredError.builder(), g.sampleWeights(g.regression(), 1, 0)));
            cases.add(mse(g, "element weights, NONE + upstream", MeanSquaredError.builder().reduction(Reduction.NONE),
                    g.upstream(g.elementWeights(g.regression(), 0), terms)));
            cases.add(mse(g, "SUM, grad scale 0.5", MeanSquaredError.builder().reduction(Reduction.SUM)
                    .gradientScale(0.5), g.regression()));
            cases.add(mse(g, "NaN sample weights, BATCH_MEAN", MeanSquaredError.builder()
                    .reduction(Reduction.BATCH_MEAN), g.sampleWeights(g.regression(), 1, 0.2)));

            cases.add(sig(g, "alpha 0.25, gamma 2, MEAN", SigmoidFocal.builder(), g.binary(4, false)));
            cases.add(sig(g, "no alpha, gamma 0, SUM", SigmoidFocal.builder().alpha(-1).gamma(0)
                    .reduction(Reduction.SUM), g.binary(4, false)));
            cases.add(sig(g, "gamma 1.5, sample weights, NONE + upstream", SigmoidFocal.builder().gamma(1.5)
                    .reduction(Reduction.NONE), g.upstream(g.sampleWeights(g.binary(6, false), 1, 0), terms)));
            cases.add(sig(g, "soft targets, element weights, BATCH_MEAN", SigmoidFocal.builder()
                    .reduction(Reduction.BATCH_MEAN), g.elementWeights(g.binary(4, true), 0)));
            cases.add(sig(g, "alpha 0.75, gamma 3, logits +-20, MEAN", SigmoidFocal.builder().alpha(0.75).gamma(3),
                    g.binary(20, false)));
        }
        return cases;
    }

    private static Case ce(Gen g, String options, CrossEntropy.Builder b, Inputs in) {
        return new Case("CrossEntropy", options, g.rows, g.cols, b.build(), in, false);
    }

    private static Case sf(Gen g, String options, SoftmaxFocal.Builder b, Inputs in) {
        return new Case("SoftmaxFocal", options, g.rows, g.cols, b.build(), in, false);
    }

    private static Case bce(Gen g, String options, BinaryCrossEntropy.Builder b, Inputs in) {
        return new Case("BinaryCrossEntropy", options, g.rows, g.cols, b.build(), in, false);
    }

    private static Case mse(Gen g, String options, MeanSquaredError.Builder b, Inputs in) {
        return new Case("MeanSquaredError", options, g.rows, g.cols, b.build(), in, false);
    }

    private static Case sig(Gen g, String options, SigmoidFocal.Builder b, Inputs in) {
        return new Case("SigmoidFocal", options, g.rows, g.cols, b.build(), in, false);
    }

    /** Fresh random inputs of one shape. */
    private static final class Gen {
        final Random rnd;
        final int rows;
        final int cols;

        Gen(Random rnd, int rows, int cols) {
            this.rnd = rnd;
            this.rows = rows;
            this.cols = cols;
        }

        float[] uniform(int length, double lo, double hi) {
            float[] a = new float[length];
            for (int i = 0; i < length; i++) {
                a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
            }
            return a;
        }

        /** Positive weights in [0.2, 2). */
        float[] weights(int length) {
            return uniform(length, 0.2, 2);
        }

        /** Logits in [-scale, scale), labels (a fraction ignored), optionally sample weights (as many NaN). */
        Inputs softmax(double scale, double ignored, boolean sampleWeights) {
            Inputs in = new Inputs();
            in.logits = uniform(rows * cols, -scale, scale);
            in.labels = new int[rows];
            for (int i = 0; i < rows; i++) {
                in.labels[i] = rnd.nextDouble() < ignored ? -100 : rnd.nextInt(cols);
            }
            return sampleWeights ? sampleWeights(in, 1, ignored) : in;
        }

        /** Logits and dense target rows that sum to 1. */
        Inputs dense(double scale, boolean sampleWeights) {
            Inputs in = new Inputs();
            in.logits = uniform(rows * cols, -scale, scale);
            in.targets = new float[rows * cols];
            for (int i = 0; i < rows; i++) {
                double sum = 0;
                for (int k = 0; k < cols; k++) {
                    sum += in.targets[i * cols + k] = (float) Math.exp(4 * rnd.nextDouble());
                }
                for (int k = 0; k < cols; k++) {
                    in.targets[i * cols + k] /= (float) sum;
                }
            }
            return sampleWeights ? sampleWeights(in, 1, 0) : in;
        }

        /** Logits in [-scale, scale) and 0/1 (or soft, in [0, 1]) targets. */
        Inputs binary(double scale, boolean soft) {
            Inputs in = new Inputs();
            in.logits = uniform(rows * cols, -scale, scale);
            in.targets = new float[rows * cols];
            for (int i = 0; i < in.targets.length; i++) {
                in.targets[i] = soft ? rnd.nextFloat() : rnd.nextInt(2);
            }
            return in;
        }

        /** Predictions and targets in [-4, 4). */
        Inputs regression() {
            Inputs in = new Inputs();
            in.logits = uniform(rows * cols, -4, 4);
            in.targets = uniform(rows * cols, -4, 4);
            return in;
        }

        /** Sample weights read with a stride (one column of a rows x stride matrix), a fraction NaN. */
        Inputs sampleWeights(Inputs in, int stride, double missing) {
            in.sampleWeights = uniform(rows * stride, 0, 2);
            in.sampleWeightStride = stride;
            for (int i = 0; i < rows; i++) {
                if (rnd.nextDouble() < missing) {
                    in.sampleWeights[i * stride] = Float.NaN;
                }
            }
            return in;
        }

        Inputs elementWeights(Inputs in, double missing) {
            in.elementWeights = uniform(rows * cols, 0, 2);
            for (int i = 0; i < in.elementWeights.length; i++) {
                if (rnd.nextDouble() < missing) {
                    in.elementWeights[i] = Float.NaN;
                }
            }
            return in;
        }

        Inputs upstream(Inputs in, int terms) {
            in.upstream = uniform(terms, -1, 2);
            return in;
        }
    }
}
