package org.fusedloss.bench;

import static org.fusedloss.TestData.W.CLASS;
import static org.fusedloss.TestData.W.ELEMENT;
import static org.fusedloss.TestData.W.IGNORE;
import static org.fusedloss.TestData.W.MASK;
import static org.fusedloss.TestData.W.POS;
import static org.fusedloss.TestData.W.SAMPLE;
import static org.fusedloss.TestData.combo;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.fusedloss.Backend;
import org.fusedloss.Backends;
import org.fusedloss.Checks;
import org.fusedloss.LossSpec;
import org.fusedloss.Reduction;
import org.fusedloss.TestBackends;
import org.fusedloss.TestData;
import org.fusedloss.internal.LossKind;
import org.fusedloss.nativecpu.NativeBackend;

/**
 * The README's first command: a quick cross-check of every available backend against the
 * double-precision Java reference, on fresh random data (the seed is printed; {@code --seed N}
 * repeats a run), for every loss with its options, every reduction and a few shapes (odd sizes,
 * C = 1). It is made of the core's test kit: the settings ({@link LossSpec}), the data
 * ({@link TestData#random}), the runs and the measures and tolerances of the contract tests
 * ({@link Checks#errors}, {@link TestBackends#tol}). Per case: the largest per-term error, the
 * loss's relative error, the gradient's relative norm error, PASS / FAIL, and the time per call.
 * The native backend runs on every instruction set this CPU has, on 1 and 2 threads, and must
 * give bit-identical results on both. Exits 1 if anything fails.
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

    /** One setting of a loss: its options, the weights to draw, the reduction, scale and denominator. */
    record Setting(String options, LossSpec spec, Set<TestData.W> weights, Reduction reduction, double scale,
                   Double denominator) {
        Setting(String options, LossSpec spec, Set<TestData.W> weights, Reduction reduction) {
            this(options, spec, weights, reduction, 1.0, null);
        }
    }

    /** One case: a setting on its random data. */
    record Case(String loss, Setting setting, TestData.Case data) {
        String shape() {
            return data.problem().n + "x" + data.problem().c;
        }

        Checks.Run run(Backend backend) {
            return Checks.run(data.spec(), data.problem(), setting.reduction(), backend, setting.scale(),
                    setting.denominator());
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
        List<Case> cases = cases(new SplittableRandom(seed));
        TestBackends.Tol tol = TestBackends.tol(Backends.nativeCpu());
        System.out.println("Tolerances (SEMANTICS.md, the contract tests'): term = the largest |t - t_ref| / |t_ref|"
                + " over terms above an absolute floor of " + tol.termAbs() + " x (1 + weight), below " + tol.term()
                + " (reduction NONE only); loss = |L - L_ref| / |L_ref| below " + tol.loss() + "; grad = ||g - g_ref||"
                + " / ||g_ref|| below " + tol.gradient() + ". ms = fastest of 3 calls after a first one.");
        System.out.println();

        // The reference first, then every configuration on the same inputs.
        Map<Config, List<Checks.Run>> outcomes = new LinkedHashMap<>();
        Map<Config, List<Checks.Errors>> errors = new LinkedHashMap<>();
        Map<Config, double[]> millis = new LinkedHashMap<>();
        List<Checks.Run> reference = new ArrayList<>();
        double[] referenceMillis = new double[cases.size()];
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            reference.add(c.run(Backends.java()));
            referenceMillis[i] = fastestMillis(() -> c.run(Backends.java()));
        }
        for (Config config : configs) {
            config.apply();
            List<Checks.Run> got = new ArrayList<>();
            List<Checks.Errors> err = new ArrayList<>();
            double[] ms = new double[cases.size()];
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                Checks.Run o;
                try {
                    o = c.run(config.backend());
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("  " + config.label() + " " + c.loss() + " " + c.setting().options() + " "
                            + c.shape() + " THREW " + e);
                    o = null;
                }
                got.add(o);
                err.add(o == null ? new Checks.Errors(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY,
                        Double.POSITIVE_INFINITY, false) : Checks.errors(c.data(), reference.get(i), o, config.backend()));
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
                Checks.Errors e = errors.get(config).get(i);
                System.out.printf(Locale.ROOT, "%-18s %-48s %-9s %9s %9s %9s %9s %9s %6s%n", c.loss(),
                        c.setting().options(), c.shape(), error(e.term()), error(e.loss()), error(e.gradient()),
                        SummaryTables.ms(millis.get(config)[i]), SummaryTables.ms(referenceMillis[i]), e.pass() ? "PASS" : "FAIL");
            }
            System.out.println();
        }

        System.out.println("Every configuration (" + cases.size() + " cases each):");
        for (Config config : configs) {
            List<Checks.Errors> err = errors.get(config);
            long passed = err.stream().filter(Checks.Errors::pass).count();
            allPass &= passed == cases.size();
            String determinism = determinism(config, configs, outcomes);
            System.out.printf(Locale.ROOT, "  %-4s %-28s %d/%d pass; worst term %s, loss %s, grad %s; %s ms for"
                            + " all cases (java %s ms)%s%n", passed == cases.size() ? "PASS" : "FAIL", config.label(),
                    passed, cases.size(), error(worst(err, Checks.Errors::term)),
                    error(worst(err, Checks.Errors::loss)), error(worst(err, Checks.Errors::gradient)),
                    SummaryTables.ms(Arrays.stream(millis.get(config)).sum()),
                    SummaryTables.ms(Arrays.stream(referenceMillis).sum()), determinism);
            if (determinism.contains("DIFFER")) {
                allPass = false;
            }
        }
        if (configs.isEmpty()) {
            System.out.println("  (none: only the java reference is available here, nothing to cross-check)");
            System.out.println("  java reference, ms per call:");
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                System.out.printf(Locale.ROOT, "  %-18s %-48s %-9s %9s%n", c.loss(), c.setting().options(), c.shape(),
                        SummaryTables.ms(referenceMillis[i]));
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "[fusedloss] report: %s in %.1f s%n", allPass ? "ALL PASS" : "FAILURES (see FAIL above)",
                (System.nanoTime() - start) / 1e9);
        return allPass;
    }

    /** For a native configuration on 2 threads: whether it matched the same ISA on 1 thread bit for bit. */
    private static String determinism(Config config, List<Config> configs, Map<Config, List<Checks.Run>> all) {
        if (config.isa() == null || config.threads() == 1) {
            return "";
        }
        Config single = new Config(config.backend(), config.isa(), 1);
        if (!configs.contains(single)) {
            return "";
        }
        List<Checks.Run> a = all.get(config);
        List<Checks.Run> b = all.get(single);
        int differ = 0;
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) == null || b.get(i) == null || !identical(a.get(i), b.get(i))) {
                differ++;
            }
        }
        return differ == 0 ? "; bit-identical to 1 thread" : "; " + differ + " case(s) DIFFER from 1 thread";
    }

    private static boolean identical(Checks.Run a, Checks.Run b) {
        return Double.doubleToLongBits(a.result().loss()) == Double.doubleToLongBits(b.result().loss())
                && Arrays.equals(a.gradient(), b.gradient()) && Arrays.equals(a.perTerm(), b.perTerm());
    }

    private static double worst(List<Checks.Errors> errors, java.util.function.ToDoubleFunction<Checks.Errors> f) {
        return errors.stream().mapToDouble(f).filter(e -> !Double.isNaN(e)).max().orElse(Double.NaN);
    }

    /** Native: every ISA this CPU has, best first, on 2 then 1 threads; CUDA when available. */
    private static List<Config> configs() {
        List<Config> configs = new ArrayList<>();
        NativeBackend nb = Backends.nativeCpu();
        if (nb.isAvailable()) {
            for (String isa : nb.supportedIsas()) {
                configs.add(new Config(nb, isa, 2));
                configs.add(new Config(nb, isa, 1));
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

    private static final LossSpec CE = LossSpec.of(LossKind.CROSS_ENTROPY);
    private static final LossSpec DENSE = LossSpec.of(LossKind.CROSS_ENTROPY_DENSE);
    private static final LossSpec SMF = LossSpec.of(LossKind.SOFTMAX_FOCAL);
    private static final LossSpec BCE = LossSpec.of(LossKind.BINARY_CROSS_ENTROPY);
    private static final LossSpec MSE = LossSpec.of(LossKind.MEAN_SQUARED_ERROR);
    private static final LossSpec SGF = LossSpec.of(LossKind.SIGMOID_FOCAL);

    private static final List<Setting> CROSS_ENTROPY = List.of(
            new Setting("plain, MEAN", CE, combo(), Reduction.MEAN),
            new Setting("class + sample weights, MEAN", CE, combo(CLASS, SAMPLE), Reduction.MEAN),
            new Setting("class + sample weights, SUM", CE, combo(CLASS, SAMPLE), Reduction.SUM),
            new Setting("class + sample weights, BATCH_MEAN", CE, combo(CLASS, SAMPLE), Reduction.BATCH_MEAN),
            new Setting("class + sample weights, NONE + upstream", CE, combo(CLASS, SAMPLE), Reduction.NONE),
            new Setting("smoothing 0.1, class weights, MEAN", CE.withSmoothing(0.1), combo(CLASS), Reduction.MEAN),
            new Setting("z-loss 1e-3, sample weights, MEAN", CE.withZLoss(1e-3), combo(SAMPLE), Reduction.MEAN),
            new Setting("soft-cap 5, MEAN", CE.withSoftCap(5), combo(), Reduction.MEAN),
            new Setting("smooth+z-loss+cap+weights, NONE + upstream", CE.withSmoothing(0.05).withZLoss(1e-4)
                    .withSoftCap(10), combo(CLASS, SAMPLE), Reduction.NONE),
            new Setting("ignored rows + NaN weights, MEAN", CE, combo(CLASS, SAMPLE, MASK, IGNORE), Reduction.MEAN),
            new Setting("grad scale 0.25, caller denominator, MEAN", CE, combo(SAMPLE), Reduction.MEAN, 0.25, 100.0),
            new Setting("dense targets, class weights, smooth, MEAN", DENSE.withSmoothing(0.1), combo(CLASS, SAMPLE),
                    Reduction.MEAN),
            new Setting("dense targets, z-loss, cap, NONE + upstream", DENSE.withZLoss(1e-3).withSoftCap(8),
                    combo(SAMPLE), Reduction.NONE));

    private static final List<Setting> SOFTMAX_FOCAL = List.of(
            new Setting("gamma 2, MEAN", SMF, combo(), Reduction.MEAN),
            new Setting("gamma 2, alpha + sample weights, MEAN", SMF, combo(CLASS, SAMPLE), Reduction.MEAN),
            new Setting("gamma 0.5, NONE + upstream", SMF.withGamma(0.5), combo(), Reduction.NONE),
            new Setting("gamma 0, alpha, SUM", SMF.withGamma(0), combo(CLASS), Reduction.SUM),
            new Setting("gamma 3, ignored rows + NaN weights, BATCH_MEAN", SMF.withGamma(3),
                    combo(SAMPLE, MASK, IGNORE), Reduction.BATCH_MEAN));

    private static final List<Setting> BINARY_CROSS_ENTROPY = List.of(
            new Setting("plain, MEAN", BCE, combo(), Reduction.MEAN),
            new Setting("pos_weight, MEAN", BCE, combo(POS), Reduction.MEAN),
            new Setting("class weights {w0, w1} + sample weights, SUM", BCE, combo(CLASS, SAMPLE), Reduction.SUM),
            new Setting("element weights, NONE + upstream", BCE, combo(ELEMENT), Reduction.NONE),
            new Setting("pos_weight, BATCH_MEAN", BCE, combo(POS), Reduction.BATCH_MEAN),
            new Setting("NaN element weights (masked), MEAN", BCE, combo(ELEMENT, MASK), Reduction.MEAN));

    private static final List<Setting> MEAN_SQUARED_ERROR = List.of(
            new Setting("plain, MEAN", MSE, combo(), Reduction.MEAN),
            new Setting("sample weights, MEAN", MSE, combo(SAMPLE), Reduction.MEAN),
            new Setting("element weights, NONE + upstream", MSE, combo(ELEMENT), Reduction.NONE),
            new Setting("SUM, grad scale 0.5", MSE, combo(), Reduction.SUM, 0.5, null),
            new Setting("NaN sample weights, BATCH_MEAN", MSE, combo(SAMPLE, MASK), Reduction.BATCH_MEAN));

    private static final List<Setting> SIGMOID_FOCAL = List.of(
            new Setting("alpha 0.25, gamma 2, MEAN", SGF, combo(), Reduction.MEAN),
            new Setting("no alpha, gamma 0, SUM", SGF.withFocalAlpha(-1).withGamma(0), combo(), Reduction.SUM),
            new Setting("gamma 1.5, sample weights, NONE + upstream", SGF.withGamma(1.5), combo(SAMPLE),
                    Reduction.NONE),
            new Setting("element weights, BATCH_MEAN", SGF, combo(ELEMENT), Reduction.BATCH_MEAN),
            new Setting("alpha 0.75, gamma 3, MEAN", SGF.withFocalAlpha(0.75).withGamma(3), combo(), Reduction.MEAN));

    private static List<Case> cases(SplittableRandom rng) {
        List<Case> cases = new ArrayList<>();
        for (int[] s : SOFTMAX_SHAPES) {
            add(cases, "CrossEntropy", CROSS_ENTROPY, s, rng);
            add(cases, "SoftmaxFocal", SOFTMAX_FOCAL, s, rng);
        }
        for (int[] s : ELEMENTWISE_SHAPES) {
            add(cases, "BinaryCrossEntropy", BINARY_CROSS_ENTROPY, s, rng);
            add(cases, "MeanSquaredError", MEAN_SQUARED_ERROR, s, rng);
            add(cases, "SigmoidFocal", SIGMOID_FOCAL, s, rng);
        }
        return cases;
    }

    private static void add(List<Case> cases, String loss, List<Setting> settings, int[] shape, SplittableRandom rng) {
        for (Setting s : settings) {
            cases.add(new Case(loss, s, TestData.random(s.spec(), s.weights(), shape[0], shape[1], rng)));
        }
    }
}
