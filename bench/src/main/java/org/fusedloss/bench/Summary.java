package org.fusedloss.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
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
 * Runs the JMH benchmarks on the PEERS.md data and prints one table: per loss, shape, backend,
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
        // The bandwidth floor: the heap copy sped up by what non-temporal stores gain (see copyFloorGbs).
        FloorReport.Driver floors = new FloorReport.Driver(Map.of(), Map.of());
        if (nativeUp) {
            try {
                floors = FloorReport.Driver.run(FloorReport.defaultDriver());
            } catch (Exception e) {
                failures.add("native_check --floor: " + e);
            }
        }
        System.out.println();
        printLossTable(rows, floors);
        printCopyTable(rows);
        printPaired(paired);
        printTargets(rows, paired, nativeUp, floors);
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

    // ---------------------------------------------------------------- lookups

    private static Optional<Row> find(List<Row> rows, Predicate<Row> p) {
        return rows.stream().filter(p).findFirst();
    }

    /** The faster of the heap and direct copies of the same bytes on the same number of threads. */
    static Optional<Row> bestCopy(List<Row> rows, String shape, int threads) {
        return rows.stream().filter(r -> r.bench.equals("CopyBench") && r.shape.equals(shape) && r.threads == threads)
                .min(Comparator.comparingDouble(Row::ms));
    }

    /**
     * The bandwidth floor of a shape on a thread count, in GB/s of {@code 2*N*C*4} bytes: the heap copy
     * ({@code System.arraycopy}: ordinary stores on every JDK, so every destination line is also read,
     * three bytes moved for the kernel's two) sped up by what non-temporal stores gain at that size on
     * this machine (native_check --floor, where below 1), as the softmax losses store large gradients.
     * Not the faster of the heap and direct copies: JDK 25's direct copy streams and JDK 17's does not,
     * so that yardstick moved by 1.5x with the JDK (bench/README.md, "The floors"). Without the driver's
     * figure, the faster copy.
     */
    static Optional<Double> copyFloorGbs(List<Row> rows, String shape, int threads, FloorReport.Driver floors) {
        double gain = floors.streamGain(threads, shape);
        if (Double.isNaN(gain)) {
            return bestCopy(rows, shape, threads).map(Row::gbPerSecond);
        }
        return find(rows, r -> r.bench.equals("CopyBench") && r.shape.equals(shape) && r.threads == threads
                && r.variant.equals("heap")).map(r -> r.gbPerSecond() / Math.min(1, gain));
    }

    private static Optional<Row> javaTwin(List<Row> rows, Row r) {
        return find(rows, o -> o.bench.equals(r.bench) && o.shape.equals(r.shape) && o.backend.equals("java")
                && o.variant.equals(r.variant));
    }

    private static Optional<Row> unweightedTwin(List<Row> rows, Row r) {
        return find(rows, o -> o.bench.equals(r.bench) && o.shape.equals(r.shape) && o.backend.equals(r.backend)
                && o.threads == r.threads && o.variant.equals("unweighted"));
    }

    private static boolean isLoss(Row r) {
        return !r.bench.equals("CopyBench") && !r.bench.equals("HeapVsDirectBench");
    }

    // ---------------------------------------------------------------- tables

    private static void printLossTable(List<Row> rows, FloorReport.Driver floors) {
        System.out.println("Losses, forward + backward (gradient into a preallocated heap array): ms per call, median of"
                + " the JMH iterations; spread = (slowest - fastest) / median of the iterations.");
        System.out.println("GB/s = 2*N*C*4 bytes / time (element-wise losses also read an N x K target array,"
                + " not counted); copy = that GB/s over the bandwidth floor: the heap copy of the same bytes on the"
                + " same thread count, this run, sped up by what non-temporal stores gain (native_check --floor); x java = java ms / ms; w/unw = weighted ms / unweighted ms;"
                + " peer = fastest PEERS.md peer (2 threads, ANOTHER run and machine), x peer = peer ms / ms.");
        String head = String.format(Locale.ROOT, "%-20s %-12s %-11s %-7s %3s %-10s %9s %7s %7s %6s %8s %6s %9s %7s",
                "loss", "peer case", "shape", "backend", "thr", "weights", "ms", "spread", "GB/s", "copy", "x java",
                "w/unw", "peer ms", "x peer");
        System.out.println(head);
        System.out.println("-".repeat(head.length()));
        List<Row> losses = rows.stream().filter(Summary::isLoss)
                .sorted(Comparator.comparing(Row::bench).thenComparing(r -> PeerData.of(r.shape).cols)
                        .thenComparing(Row::variant, Comparator.reverseOrder())
                        .thenComparing(Row::backend, Comparator.reverseOrder()).thenComparingInt(Row::threads))
                .toList();
        for (Row r : losses) {
            String peerCase = PeerData.peerCase(r.loss(), r.weighted());
            double peerMs = PeerData.fastestPeerMs(peerCase, r.shape);
            Optional<Double> copy = copyFloorGbs(rows, r.shape, r.threads, floors);
            Optional<Row> java = javaTwin(rows, r);
            Optional<Row> unweighted = r.weighted() ? unweightedTwin(rows, r) : Optional.empty();
            System.out.printf(Locale.ROOT, "%-20s %-12s %-11s %-7s %3d %-10s %9s %7s %7.2f %6s %8s %6s %9s %7s%n",
                    r.loss(), peerCase == null ? "-" : peerCase, r.shape, r.backend, r.threads, r.variant,
                    ms(r.ms), percent(r.spread), r.gbPerSecond(),
                    copy.map(c -> percent(r.gbPerSecond() / c)).orElse("-"),
                    java.map(j -> ratio(j.ms / r.ms)).orElse("-"),
                    unweighted.map(u -> ratio(r.ms / u.ms)).orElse(""),
                    Double.isNaN(peerMs) ? "" : ms(peerMs),
                    Double.isNaN(peerMs) ? "" : ratio(peerMs / r.ms));
        }
        System.out.println();
    }

    private static void printCopyTable(List<Row> rows) {
        System.out.println("Copy of N*C floats (reads and writes 2*N*C*4 bytes, like a fused kernel), this run:");
        String head = String.format(Locale.ROOT, "%-11s %10s %-7s %3s %9s %7s %7s", "shape", "MB moved", "memory",
                "thr", "ms", "spread", "GB/s");
        System.out.println(head);
        System.out.println("-".repeat(head.length()));
        rows.stream().filter(r -> r.bench.equals("CopyBench"))
                .sorted(Comparator.comparingLong(Row::bytes).thenComparing(Row::variant).thenComparingInt(Row::threads))
                .forEach(r -> System.out.printf(Locale.ROOT, "%-11s %10.1f %-7s %3d %9s %7s %7.2f%n", r.shape,
                        r.bytes() / 1e6, r.variant, r.threads, ms(r.ms), percent(r.spread), r.gbPerSecond()));
        System.out.println();
        List<Row> heapDirect = rows.stream().filter(r -> r.bench.equals("HeapVsDirectBench"))
                .sorted(Comparator.comparing(Row::variant, Comparator.reverseOrder()).thenComparingInt(Row::threads))
                .toList();
        if (!heapDirect.isEmpty()) {
            System.out.println("The same native weighted CE call at 1024x128256 on heap float[] and on direct"
                    + " FloatBuffers (JMH; the paired ratio below is steadier):");
            heapDirect.forEach(r -> System.out.printf(Locale.ROOT, "  %-6s %d thread(s) %9s ms, spread %s%n",
                    r.variant, r.threads, ms(r.ms), percent(r.spread)));
            System.out.println();
        }
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

    private static void printPaired(List<Paired> paired) {
        if (paired.isEmpty()) {
            return;
        }
        System.out.println("Paired ratios: the two calls alternated in this JVM, median of the per-pair ratios"
                + " (steadier than ratios of the table's separate forks; the targets below use these):");
        String head = String.format(Locale.ROOT, "%-12s %-20s %-11s %3s %-7s %7s %9s %9s %6s", "ratio", "loss",
                "shape", "thr", "against", "ratio", "ms a", "ms b", "pairs");
        System.out.println(head);
        System.out.println("-".repeat(head.length()));
        for (Paired p : paired) {
            System.out.printf(Locale.ROOT, "%-12s %-20s %-11s %3d %-7s %7.3f %9s %9s %6d%n", p.kind, p.loss(),
                    p.shape, p.threads, p.detail, p.result.ratio(), ms(p.result.msA()), ms(p.result.msB()),
                    p.result.pairs());
        }
        System.out.println();
    }

    private static void printTargets(List<Row> rows, List<Paired> paired, boolean nativeUp, FloorReport.Driver floors) {
        System.out.println("Targets (ratios within this run; the peer times are from PEERS.md, another run):");
        if (!nativeUp) {
            System.out.println("  native backend not available: " + Backends.nativeCpu().unavailabilityReason()
                    .orElse("") + "; no target can be measured");
            return;
        }
        // 1. CE weighted at 1024 x 128256 vs the bandwidth floor, 2 threads (paired with the heap copy, which
        // is scaled by the streaming gain; without it, the stricter of the heap and direct pairs).
        double gain = Math.min(1, floors.streamGain(2, "1024x128256"));
        paired.stream().filter(p -> p.kind.equals("loss/copy") && p.threads == 2)
                .filter(p -> Double.isNaN(gain) || p.detail.equals("heap"))
                .max(Comparator.comparingDouble(p -> p.result.ratio()))
                .ifPresent(p -> {
                    double floorMs = p.result.msB() * (Double.isNaN(gain) ? 1 : gain);
                    double fraction = (Double.isNaN(gain) ? 1 : gain) / p.result.ratio();  // floor / loss, paired
                    double floorGbs = PeerData.of(p.shape).bytesMoved() / (floorMs * 1e6);
                    String yardstick = Double.isNaN(gain) ? p.detail + " copy" : String.format(Locale.ROOT,
                            "heap copy %s ms x streaming gain %.2f", ms(p.result.msB()), gain);
                    System.out.printf(Locale.ROOT, "  %-4s CE weighted 1024x128256, 2 threads: %s of the bandwidth"
                                    + " floor (CE %s ms vs %s = %s ms, %.1f GB/s), target >= 80 %%%s%n",
                            verdict(fraction >= 0.80), percent(fraction), ms(p.result.msA()), yardstick, ms(floorMs),
                            floorGbs, fraction >= 0.80 ? "" : String.format(Locale.ROOT,
                                    "; MISSES by %.0f points: needs <= %s ms at this floor",
                                    (0.80 - fraction) * 100, ms(floorMs / 0.80)));
                });
        // 2. Every PEERS.md case >= 3x faster than its fastest peer (peers ran on 2 threads).
        rows.stream().filter(r -> isLoss(r) && r.backend.equals("native") && r.threads == 2)
                .filter(r -> !Double.isNaN(PeerData.fastestPeerMs(PeerData.peerCase(r.loss(), r.weighted()), r.shape)))
                .sorted(Comparator.comparing(Row::bench).thenComparing(r -> PeerData.of(r.shape).cols))
                .forEach(r -> {
                    String peerCase = PeerData.peerCase(r.loss(), r.weighted());
                    double peer = PeerData.fastestPeerMs(peerCase, r.shape);
                    double speedUp = peer / r.ms;
                    System.out.printf(Locale.ROOT, "  %-4s %-12s %-11s 2 threads: %s ms vs %s %s ms = %sx, target"
                                    + " >= 3x%s%n", verdict(speedUp >= 3), peerCase, r.shape, ms(r.ms),
                            PeerData.fastestPeerName(peerCase, r.shape), ms(peer), ratio(speedUp),
                            speedUp >= 3 ? "" : String.format(Locale.ROOT, "; MISSES: needs <= %s ms", ms(peer / 3)));
                });
        // 3. Weighted within 5 % of unweighted (paired).
        paired.stream().filter(p -> p.kind.equals("w/unw")).forEach(p -> {
            double ratio = p.result.ratio();
            System.out.printf(Locale.ROOT, "  %-4s %-20s %-11s %d thread(s): weighted/unweighted %.3f (%s / %s ms),"
                            + " target within 5 %%%n", verdict(Math.abs(ratio - 1) <= 0.05), p.loss(), p.shape,
                    p.threads, ratio, ms(p.result.msA()), ms(p.result.msB()));
        });
        // 4. Heap arrays are not copied (paired).
        paired.stream().filter(p -> p.kind.equals("heap/direct")).forEach(p -> {
            double ratio = p.result.ratio();
            // Copying the logits and gradient in and out (JNI Get/Release<Float>ArrayElements) would be 4 more
            // copies of 525 MB, each as slow as the copy above: the heap call would take 2-3x as long.
            System.out.printf(Locale.ROOT, "  %-4s heap float[] vs direct FloatBuffer, CE weighted 1024x128256, %d"
                            + " thread(s): heap/direct %.3f (%s / %s ms): %s%n", verdict(ratio < 1.5), p.threads,
                    ratio, ms(p.result.msA()), ms(p.result.msB()), ratio < 1.5
                            ? "no copy (copying in and out would make heap 2-3x slower)"
                            : "heap much SLOWER: the arrays look copied");
        });
        // 5. Native vs the Java reference: reported, no target.
        rows.stream().filter(r -> isLoss(r) && r.backend.equals("native"))
                .sorted(Comparator.comparing(Row::bench).thenComparing(r -> PeerData.of(r.shape).cols)
                        .thenComparing(Row::variant, Comparator.reverseOrder()).thenComparingInt(Row::threads))
                .forEach(r -> javaTwin(rows, r).ifPresent(j -> System.out.printf(Locale.ROOT,
                        "  info %-20s %-11s %-10s native %d thread(s) is %sx the java reference (%s vs %s ms)%n",
                        r.loss(), r.shape, r.variant, r.threads, ratio(j.ms / r.ms), ms(r.ms), ms(j.ms))));
    }

    // ---------------------------------------------------------------- formatting

    private static String verdict(boolean ok) {
        return ok ? "MET" : "MISS";
    }

    static String ms(double ms) {
        if (Double.isNaN(ms)) {
            return "-";
        }
        return String.format(Locale.ROOT, ms >= 100 ? "%.0f" : ms >= 10 ? "%.1f" : ms >= 1 ? "%.2f" : "%.3f", ms);
    }

    private static String ratio(double x) {
        return String.format(Locale.ROOT, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x);
    }

    private static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.0f%%", fraction * 100);
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
