package org.fusedloss.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.fusedloss.Backends;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the JMH benchmarks on the PEERS.md data, and the paired timings, and prints
 * ({@link SummaryTables}) one table: per loss, shape, backend,
 * thread count and weighting, the time, the bandwidth ({@code 2*N*C*4} bytes / time), its fraction
 * of a copy of the same bytes measured in this run, the speed-up over the Java reference, the
 * weighted / unweighted ratio and the ratio to the fastest PEERS.md peer; then the targets.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.fusedloss.bench.Summary --quick
 * </pre>
 * Options: {@code --quick} (default; about 7 minutes on 2 cores) or {@code --full} (every shape
 * on java too, longer iterations), {@code --logs DIR} (JMH's own output, one file per run),
 * {@code --only REGEX} (only the loss benchmarks whose class name matches; the copy always runs).
 * {@code -Dfusedloss.*} properties (e.g. {@code -Dfusedloss.native.isa=avx2}) are passed to the forks.
 */
public final class Summary {
    private static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

    /** One JMH invocation: a benchmark class with some of its parameter values. */
    private record Plan(Class<?> bench, String backend, List<String> shapes, List<String> threads,
                        String otherParam, List<String> otherValues) {
        int combinations() {
            return shapes.size() * threads.size() * otherValues.size();
        }

        String label() {
            return bench.getSimpleName() + (backend == null ? "" : " " + backend) + " shapes " + shapes
                    + " threads " + threads + " " + otherParam + " " + otherValues;
        }
    }

    /** One measured case. {@code variant} is "weighted"/"unweighted", or the memory kind. */
    record Row(String bench, String shape, String backend, int threads, String variant, double ms, double spread) {
        long bytes() {
            return PeerData.of(shape).bytesMoved();
        }

        double gbPerSecond() {
            return bytes() / (ms * 1e6);
        }

        boolean weighted() {
            return variant.equals("weighted");
        }

        String loss() {
            return bench.replace("Bench", "");
        }
    }

    private Summary() {
    }

    public static void main(String[] args) throws RunnerException, IOException {
        boolean full = false;
        Path logs = null;
        Pattern only = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> full = false;
                case "--full" -> full = true;
                case "--logs" -> logs = Path.of(args[++i]);
                case "--only" -> only = Pattern.compile(args[++i]);
                default -> {
                    System.err.println("usage: Summary [--quick | --full] [--logs DIR] [--only REGEX]");
                    System.exit(2);
                }
            }
        }
        if (logs == null) {
            logs = Files.createTempDirectory("fusedloss-bench-");
        }
        Files.createDirectories(logs);

        boolean nativeUp = Backends.nativeCpu().isAvailable();
        System.out.println("fusedloss benchmark summary (" + (full ? "full" : "quick") + "), " + Instant.now());
        System.out.println("machine: " + cpuModel() + ", " + Runtime.getRuntime().availableProcessors()
                + " cpus; JDK " + System.getProperty("java.version"));
        System.out.println("native : " + Backends.nativeCpu().describe());
        System.out.println("JMH logs: " + logs);
        System.out.println("load average at the start: " + loadAverage()
                + " (2 cores: above ~1 other work is running and every figure is slowed by it)");
        System.out.println();

        List<Plan> plans = plans(full, nativeUp);
        if (only != null) {
            // The copy stays: it is the yardstick of the bandwidth fractions.
            Pattern keep = only;
            plans.removeIf(p -> p.bench != CopyBench.class && !keep.matcher(p.bench.getSimpleName()).find());
            List<String> shapes = plans.stream().filter(p -> p.bench != CopyBench.class)
                    .flatMap(p -> p.shapes.stream()).distinct().toList();
            plans.replaceAll(p -> p.bench != CopyBench.class ? p
                    : new Plan(CopyBench.class, null, shapes, p.threads, p.otherParam, p.otherValues));
            plans.removeIf(p -> p.shapes.isEmpty());
        }
        List<Row> rows = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        int done = 0;
        for (Plan plan : plans) {
            done++;
            long start = System.nanoTime();
            System.out.printf(Locale.ROOT, "[%d/%d] %s ... ", done, plans.size(), plan.label());
            System.out.flush();
            List<Row> got = run(plan, full, logs.resolve(String.format(Locale.ROOT, "%02d-%s-%s.log", done,
                    plan.bench.getSimpleName(), plan.backend == null ? "all" : plan.backend)));
            rows.addAll(got);
            System.out.printf(Locale.ROOT, "%d/%d cases, %.0f s%n", got.size(), plan.combinations(),
                    (System.nanoTime() - start) / 1e9);
            if (got.size() < plan.combinations()) {
                failures.add(plan.label() + ": " + (plan.combinations() - got.size())
                        + " case(s) failed (a setup check or the call threw); see the log in " + logs);
            }
        }
        List<Paired> paired = new ArrayList<>();
        if (nativeUp) {
            long start = System.nanoTime();
            System.out.print("paired timings (in this JVM) ... ");
            System.out.flush();
            try {
                paired = pairedTimings(plans);
            } catch (Exception e) {
                failures.add("paired timings: " + e);
            }
            System.out.printf(Locale.ROOT, "%d pairs, %.0f s%n", paired.size(), (System.nanoTime() - start) / 1e9);
        }
        System.out.println("load average at the end: " + loadAverage());
        // The bandwidth floor: the heap copy sped up by what non-temporal stores gain (SummaryTables.copyFloorGbs).
        FloorReport.Driver floors = new FloorReport.Driver(Map.of(), Map.of());
        if (nativeUp) {
            try {
                floors = FloorReport.Driver.run(FloorReport.defaultDriver());
            } catch (Exception e) {
                failures.add("native_check --floor: " + e);
            }
        }
        System.out.println();
        SummaryTables.printLossTable(rows, floors);
        SummaryTables.printCopyTable(rows);
        SummaryTables.printPaired(paired);
        SummaryTables.printTargets(rows, paired, nativeUp, floors);
        if (!failures.isEmpty()) {
            System.out.println();
            System.out.println("FAILED runs:");
            failures.forEach(f -> System.out.println("  " + f));
            System.exit(1);
        }
    }

    // ---------------------------------------------------------------- what runs

    private static List<Plan> plans(boolean full, boolean nativeUp) {
        List<String> softmaxShapes = List.of(PeerData.SOFTMAX_SHAPES);
        // The Java reference takes seconds per call at 1024 x 128256: only the full run times it there.
        List<String> javaSoftmaxShapes = full ? softmaxShapes : softmaxShapes.subList(0, 3);
        // Softmax focal has no PEERS.md value, so its setup checks against the Java reference (slow at large C).
        List<String> focalShapes = full ? softmaxShapes : List.of("4096x1000", "256x32000");
        List<String> elementwise = List.of(PeerData.ELEMENTWISE_SHAPE);
        List<String> bothThreads = List.of("1", "2");
        List<String> weighted = List.of("true", "false");

        List<Plan> plans = new ArrayList<>();
        if (nativeUp) {
            plans.add(new Plan(CrossEntropyBench.class, "native", softmaxShapes, bothThreads, "weighted", weighted));
        }
        plans.add(new Plan(CrossEntropyBench.class, "java", javaSoftmaxShapes, List.of("1"), "weighted", weighted));
        for (Class<?> bench : List.of(BinaryCrossEntropyBench.class, MeanSquaredErrorBench.class,
                SigmoidFocalBench.class)) {
            if (nativeUp) {
                plans.add(new Plan(bench, "native", elementwise, bothThreads, "weighted", weighted));
            }
            plans.add(new Plan(bench, "java", elementwise, List.of("1"), "weighted", weighted));
        }
        if (nativeUp) {
            plans.add(new Plan(SoftmaxFocalBench.class, "native", focalShapes, bothThreads, "weighted", weighted));
        }
        plans.add(new Plan(SoftmaxFocalBench.class, "java", focalShapes.subList(0, full ? 3 : 1), List.of("1"),
                "weighted", weighted));
        List<String> copyShapes = new ArrayList<>(softmaxShapes);
        copyShapes.add(PeerData.ELEMENTWISE_SHAPE);
        plans.add(new Plan(CopyBench.class, null, copyShapes, bothThreads, "memory", List.of("heap", "direct")));
        if (nativeUp) {
            plans.add(new Plan(HeapVsDirectBench.class, null, List.of("1024x128256"), bothThreads, "memory",
                    List.of("heap", "direct")));
        }
        return plans;
    }

    private static List<Row> run(Plan plan, boolean full, Path log) throws RunnerException {
        List<String> jvmArgs = new ArrayList<>(List.of(NATIVE_ACCESS));
        if (Runtime.version().feature() >= 23) {
            jvmArgs.add("--sun-misc-unsafe-memory-access=allow");   // JMH itself uses Unsafe; JDK 17 lacks the flag
        }
        // The forks are fresh JVMs: hand them the fusedloss settings this one was started with.
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("fusedloss."))
                .sorted().forEach(k -> jvmArgs.add("-D" + k + "=" + System.getProperty(k)));
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("^" + Pattern.quote(plan.bench.getName()) + "\\.")
                .forks(1)
                .jvmArgsAppend(jvmArgs.toArray(new String[0]))
                .param("shape", plan.shapes.toArray(new String[0]))
                .param("threads", plan.threads.toArray(new String[0]))
                .param(plan.otherParam, plan.otherValues.toArray(new String[0]))
                .shouldFailOnError(false)
                .output(log.toString());
        if (plan.backend != null) {
            options.param("backend", plan.backend);
        }
        if (full) {
            options.warmupIterations(3).warmupTime(TimeValue.seconds(1))
                    .measurementIterations(5).measurementTime(TimeValue.seconds(1));
        } else {
            // The Java reference (up to seconds per call) is informative only: fewer iterations for it.
            options.warmupIterations(2).warmupTime(TimeValue.milliseconds(500))
                    .measurementIterations("java".equals(plan.backend) ? 3 : 5)
                    .measurementTime(TimeValue.milliseconds(500));
        }
        List<Row> rows = new ArrayList<>();
        for (RunResult r : new Runner(options.build()).run()) {
            BenchmarkParams p = r.getParams();
            String variant = p.getParam("weighted") != null
                    ? (Boolean.parseBoolean(p.getParam("weighted")) ? "weighted" : "unweighted")
                    : p.getParam("memory");
            String backend = p.getParam("backend") != null ? p.getParam("backend")
                    : plan.bench == HeapVsDirectBench.class ? "native" : "copy";
            rows.add(new Row(plan.bench.getSimpleName(), p.getParam("shape"), backend,
                    Integer.parseInt(p.getParam("threads")), variant, medianIteration(r), spread(r)));
        }
        return rows;
    }

    /** (slowest - fastest) / median of the measurement iterations: how noisy this case was. */
    private static double spread(RunResult r) {
        double[] scores = iterationScores(r);
        return scores.length < 2 ? 0 : (scores[scores.length - 1] - scores[0]) / medianIteration(r);
    }

    private static double[] iterationScores(RunResult r) {
        return r.getBenchmarkResults().stream().flatMap(b -> b.getIterationResults().stream())
                .mapToDouble(i -> i.getPrimaryResult().getScore()).sorted().toArray();
    }

    /** The median of the measurement iterations' means: one iteration disturbed by a noisy neighbour moves it least. */
    private static double medianIteration(RunResult r) {
        double[] scores = iterationScores(r);
        if (scores.length == 0) {
            return r.getPrimaryResult().getScore();
        }
        int m = scores.length / 2;
        return scores.length % 2 == 1 ? scores[m] : (scores[m - 1] + scores[m]) / 2;
    }

    // ---------------------------------------------------------------- paired timings

    /** A ratio from {@link PairedTiming}: {@code kind} is "w/unw", "loss/copy" or "heap/direct". */
    record Paired(String kind, String bench, String shape, int threads, String detail, PairedTiming.Result result) {
        String loss() {
            return bench.replace("Bench", "");
        }
    }

    private interface LossFactory {
        LossUnderTest create(String shape, boolean weighted, String backend, int threads);
    }

    private static final Map<Class<?>, LossFactory> FACTORIES = Map.of(
            CrossEntropyBench.class, CrossEntropyBench::create,
            BinaryCrossEntropyBench.class, BinaryCrossEntropyBench::create,
            MeanSquaredErrorBench.class, MeanSquaredErrorBench::create,
            SigmoidFocalBench.class, SigmoidFocalBench::create,
            SoftmaxFocalBench.class, SoftmaxFocalBench::create);

    /**
     * The ratios the targets are judged on, each from two calls alternated in this JVM: weighted over
     * unweighted for every native case, the big CE over the copy of the same bytes, heap over direct.
     */
    private static List<Paired> pairedTimings(List<Plan> plans) throws Exception {
        List<Paired> out = new ArrayList<>();
        for (Plan plan : plans) {
            LossFactory factory = FACTORIES.get(plan.bench);
            if (factory == null || !"native".equals(plan.backend)) {
                continue;
            }
            for (String shape : plan.shapes) {
                double seconds = shape.equals("1024x128256") ? 3 : 1.5;
                for (String t : plan.threads) {
                    int threads = Integer.parseInt(t);
                    LossUnderTest weighted = factory.create(shape, true, "native", threads);
                    LossUnderTest unweighted = factory.create(shape, false, "native", threads);
                    out.add(new Paired("w/unw", plan.bench.getSimpleName(), shape, threads, "",
                            PairedTiming.measure(weighted::call, unweighted::call, seconds)));
                }
            }
        }
        boolean bigCe = plans.stream().anyMatch(p -> p.bench == CrossEntropyBench.class
                && "native".equals(p.backend) && p.shapes.contains("1024x128256"));
        if (bigCe) {
            for (int threads : new int[] {2, 1}) {
                for (String memory : List.of("heap", "direct")) {
                    // the loss and the copy on the same memory: heap arrays, or direct buffers
                    LossUnderTest ce = memory.equals("heap")
                            ? CrossEntropyBench.create("1024x128256", true, "native", threads)
                            : HeapVsDirectBench.create("1024x128256", "direct", threads);
                    CopyBench copy = new CopyBench();
                    copy.shape = "1024x128256";
                    copy.memory = memory;
                    copy.threads = threads;
                    copy.setup();
                    try {
                        out.add(new Paired("loss/copy", "CrossEntropyBench", "1024x128256", threads, memory,
                                PairedTiming.measure(ce::call, copy::copy, 6)));
                    } finally {
                        copy.tearDown();
                    }
                }
            }
        }
        if (plans.stream().anyMatch(p -> p.bench == HeapVsDirectBench.class)) {
            for (int threads : new int[] {2, 1}) {
                LossUnderTest heap = HeapVsDirectBench.create("1024x128256", "heap", threads);
                LossUnderTest direct = HeapVsDirectBench.create("1024x128256", "direct", threads);
                out.add(new Paired("heap/direct", "HeapVsDirectBench", "1024x128256", threads, "",
                        PairedTiming.measure(heap::call, direct::call, 3)));
            }
        }
        return out;
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2] + " (1, 5, 15 min)";
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown cpu");
        } catch (IOException | RuntimeException e) {
            return "unknown cpu";
        }
    }
}
