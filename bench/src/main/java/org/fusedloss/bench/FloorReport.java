package org.fusedloss.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.fusedloss.Backends;

/**
 * Every loss at every PEERS.md shape, on each instruction set and on 1 and 2 threads, against its
 * two floors and its peers, in one command:
 *
 * <pre>
 * java -Xmx3g --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.fusedloss.bench.FloorReport
 * </pre>
 *
 * <ul>
 * <li>Rounds: every selected cell (loss, shape, instruction set, thread count) is measured once per
 * round, the rounds one after the other. This VM's memory speed drifts by 10-50 % within minutes, so
 * one pass moved cells near the target across it from run to run; with the rounds apart, a slow
 * phase hits a cell in some of its rounds only. Each figure of a cell is the median over its rounds,
 * and x floor the median of the rounds' own ratios (each round's call over the copy paired with it
 * in that round and the streaming gain native_check measured at that round's start, so no ratio
 * mixes a fast memory phase with a slow one; and over the compute floor: the least of the rounds'
 * measurements, since L1-resident math has no memory phase and a slower measurement only means the
 * CPU was shared, which once made one round's floor 1.4x the others' and its ratio look 1.4x
 * better); the table shows the range of the rounds' ratios.
 * <li>The time of a call (the weighted one, through the Java API, gradient into a heap array) and
 * the weighted / unweighted ratio come from {@link PairedTiming}: the two calls alternated in this
 * JVM, median of the per-pair ratios.
 * <li>The bandwidth floor: a copy of the same bytes (the call's own logits into its own gradient,
 * {@code System.arraycopy}, the same threads), paired with the call, each timed in its own steady
 * state (right after a call of its own kind; see {@link #steady}); then scaled by what
 * non-temporal stores gain on this machine at that size (the native driver's paired ratio of a
 * streaming copy to memcpy, when below 1). {@code System.arraycopy} and memcpy store ordinarily,
 * so every destination line is read before it is written: three bytes move for every two a kernel
 * must move. The softmax losses write large gradients with non-temporal stores, so their honest
 * yardstick is the streaming copy (at 1024 x 128256 about 1.5x faster than an ordinary one: this
 * is why JMH's direct-buffer copy fork on JDK 25, whose direct copies stream, ran at 66 GB/s while
 * an {@code arraycopy} and a C STREAM copy ran at 43 and 41).
 * <li>The compute floor: the loss's own math over L1-resident data (native_check --floor,
 * native/test/compute_floor.cpp), per instruction set and thread count.
 * <li>The peers: the fastest of {@code <peers>/results_*.json} (shared/peers/run_all.sh, run in the
 * same sitting; 2 threads), else the PEERS.md table.
 * </ul>
 * Options: {@code --driver PATH} (native_check; default java/target/cmake/bin/native_check, then
 * build/bin/native_check), {@code --peers DIR} (default /tmp/fusedloss-peers), {@code --rounds N}
 * (default 3), {@code --seconds S} per pair per round (default 0.5; the 1024 x 128256 shape takes
 * twice that), {@code --only REGEX} (losses whose name matches), {@code --isa LIST} and
 * {@code --threads LIST} (comma-separated).
 */
public final class FloorReport {
    /** The targets of issue 18. */
    static final double FLOOR_TARGET = 1.5;
    static final double PEER_TARGET = 5;
    static final double WEIGHTED_TARGET = 0.05;

    private interface Factory {
        LossUnderTest create(String shape, boolean weighted, String backend, int threads);
    }

    private record Case(String loss, String shape, Factory factory) {
    }

    /** A case on one instruction set and thread count: what one line of the report measures. */
    private record Cell(Case c, String isa, int threads) {
    }

    private static final List<Case> CASES = List.of(
            new Case("CrossEntropy", "65536x10", CrossEntropyBench::create),
            new Case("CrossEntropy", "4096x1000", CrossEntropyBench::create),
            new Case("CrossEntropy", "256x32000", CrossEntropyBench::create),
            new Case("CrossEntropy", "1024x128256", CrossEntropyBench::create),
            new Case("SoftmaxFocal", "65536x10", SoftmaxFocalBench::create),
            new Case("SoftmaxFocal", "4096x1000", SoftmaxFocalBench::create),
            new Case("SoftmaxFocal", "256x32000", SoftmaxFocalBench::create),
            new Case("SoftmaxFocal", "1024x128256", SoftmaxFocalBench::create),
            new Case("BinaryCrossEntropy", "65536x100", BinaryCrossEntropyBench::create),
            new Case("MeanSquaredError", "65536x100", MeanSquaredErrorBench::create),
            new Case("SigmoidFocal", "65536x100", SigmoidFocalBench::create));

    /** The losses with a term per element (a targets array as large as the predictions). */
    static final Set<String> ELEMENTWISE = Set.of("BinaryCrossEntropy", "MeanSquaredError", "SigmoidFocal");

    /** One measured case. */
    record Row(String loss, String shape, String isa, int threads, double ms, double unweightedMs,
               double weightedRatio, double copyMs, double streamGain, double computeFloorMs) {
        /**
         * The softmax losses read the logits and write the gradient, with non-temporal stores when it
         * is large: the copy sped up by the streaming gain. The element-wise losses also read their
         * targets and store ordinarily: 4 line transfers (x, t, the gradient's read for ownership and
         * its write) for the copy's 3, so the copy times 4 / 3.
         */
        double bandwidthFloorMs() {
            if (ELEMENTWISE.contains(loss)) {
                return copyMs * 4 / 3;
            }
            return copyMs * Math.min(1, Double.isNaN(streamGain) ? 1 : streamGain);
        }

        /** This round with another compute floor. */
        Row withComputeFloor(double floorMs) {
            return new Row(loss, shape, isa, threads, ms, unweightedMs, weightedRatio, copyMs, streamGain, floorMs);
        }

        /** The larger of the two floors (the bandwidth floor alone where the compute floor is unknown). */
        double floorMs() {
            return Double.isNaN(computeFloorMs) ? bandwidthFloorMs() : Math.max(bandwidthFloorMs(), computeFloorMs);
        }

        /** The call's time over the larger floor (issue 18's target: at most 1.5). */
        double xFloor() {
            return ms / floorMs();
        }
    }

    /**
     * A cell over its rounds: each figure the median of the rounds' figures, and x floor the median
     * of the rounds' own x floor, with its range. Not the medians' ratio: the median ms and the
     * median copy ms may come from rounds in different memory phases.
     */
    record CellResult(Row median, double xFloor, double minXFloor, double maxXFloor, int rounds) {
        static CellResult of(List<Row> measured) {
            double leastCompute = measured.stream().mapToDouble(Row::computeFloorMs).filter(f -> !Double.isNaN(f))
                    .min().orElse(Double.NaN);
            List<Row> rounds = measured.stream().map(r -> r.withComputeFloor(leastCompute)).toList();
            Row first = rounds.get(0);
            Row median = new Row(first.loss, first.shape, first.isa, first.threads, median(rounds, Row::ms),
                    median(rounds, Row::unweightedMs), median(rounds, Row::weightedRatio), median(rounds, Row::copyMs),
                    median(rounds, Row::streamGain), median(rounds, Row::computeFloorMs));
            List<Double> x = rounds.stream().map(Row::xFloor).toList();
            return new CellResult(median, PairedTiming.median(x), Collections.min(x), Collections.max(x), rounds.size());
        }

        private static double median(List<Row> rounds, Function<Row, Double> figure) {
            return PairedTiming.median(rounds.stream().map(figure).toList());
        }
    }

    private FloorReport() {
    }

    public static void main(String[] args) throws Exception {
        Path driver = null;
        Path peersDir = Path.of("/tmp/fusedloss-peers");
        int rounds = 3;
        double seconds = 0.5;
        Pattern only = null;
        List<String> isas = null;
        List<Integer> threadCounts = List.of(1, 2);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--driver" -> driver = Path.of(args[++i]);
                case "--peers" -> peersDir = Path.of(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--only" -> only = Pattern.compile(args[++i]);
                case "--isa" -> isas = List.of(args[++i].split(","));
                case "--threads" -> threadCounts = Stream.of(args[++i].split(",")).map(Integer::parseInt).toList();
                default -> {
                    System.err.println("usage: FloorReport [--driver PATH] [--peers DIR] [--rounds N] [--seconds S]"
                            + " [--only REGEX] [--isa avx512,avx2] [--threads 1,2]");
                    System.exit(2);
                }
            }
        }
        if (rounds < 1) {
            System.err.println("--rounds " + rounds + ": at least 1");
            System.exit(2);
        }
        var nativeCpu = Backends.nativeCpu();
        System.out.println("fusedloss floor report, " + Instant.now());
        System.out.println("machine: " + Summary.cpuModel() + ", " + Runtime.getRuntime().availableProcessors()
                + " cpus; JDK " + System.getProperty("java.version"));
        if (!nativeCpu.isAvailable()) {
            System.out.println("native backend not available: " + nativeCpu.unavailabilityReason().orElse(""));
            System.exit(1);
        }
        if (isas == null) {
            isas = Stream.of("avx512", "avx2").filter(nativeCpu::isaSupported).toList();
        }
        // the backend as loaded (its default ISA and thread count), then what this report sets per cell
        System.out.println("native : " + nativeCpu.describe() + "; measured here: " + String.join(", ", isas)
                + " on " + threadCounts.stream().map(String::valueOf).collect(Collectors.joining(", ")) + " thread(s)");
        System.out.println("load average at the start: " + Summary.loadAverage()
                + " (2 cores: above ~1 other work shares the CPUs)");

        driver = driver != null ? driver : defaultDriver();
        Peers peers = Peers.read(peersDir);
        System.out.println("peers  : " + peers.source);
        System.out.println();

        List<Cell> cells = new ArrayList<>();
        for (Case c : CASES) {
            if (only == null || only.matcher(c.loss).find()) {
                for (String isa : isas) {
                    for (int threads : threadCounts) {
                        cells.add(new Cell(c, isa, threads));
                    }
                }
            }
        }
        System.out.printf(Locale.ROOT, "rounds : %d, every cell once per round; %s s per pair per round%n",
                rounds, seconds);
        List<List<Row>> measured = new ArrayList<>();
        cells.forEach(c -> measured.add(new ArrayList<>()));
        for (int round = 1; round <= rounds; round++) {
            // each round its own floors, so that a round's ratios are all of one time
            Driver floors = Driver.run(driver, round, rounds);
            for (int i = 0; i < cells.size(); i++) {
                Cell cell = cells.get(i);
                System.out.printf(Locale.ROOT, "%-18s %-11s %-6s %d thread(s) round %d/%d ... ", cell.c.loss,
                        cell.c.shape, cell.isa, cell.threads, round, rounds);
                System.out.flush();
                Row r = measure(cell, seconds, floors);
                measured.get(i).add(r);
                System.out.printf(Locale.ROOT, "%s ms, %.2fx this round's floor%n", SummaryTables.ms(r.ms), r.xFloor());
            }
        }
        List<CellResult> results = measured.stream().map(CellResult::of).toList();
        System.out.println("load average at the end: " + Summary.loadAverage());
        System.out.println();
        printTable(results, peers);
        printTargets(results, rounds, peers);
        System.out.println();
        printMarkdown(results, peers);
    }

    /**
     * One round of a cell: the weighted call paired with the unweighted one, then with a copy of its
     * own bytes. The calls and the copy are made afresh and the copy torn down, so no more memory is
     * held than one cell's.
     */
    private static Row measure(Cell cell, double seconds, Driver floors) throws Exception {
        Case c = cell.c;
        double s = c.shape.equals("1024x128256") ? 2 * seconds : seconds;
        Backends.nativeCpu().setIsa(cell.isa);
        LossUnderTest weighted = c.factory.create(c.shape, true, "native", cell.threads);
        LossUnderTest unweighted = c.factory.create(c.shape, false, "native", cell.threads);
        CopyBench copy = new CopyBench();
        copy.shape = c.shape;
        copy.memory = "heap";
        copy.threads = cell.threads;
        copy.setup();
        PairedTiming.Result wu;
        PairedTiming.Result lc;
        try {
            wu = PairedTiming.measure(weighted::call, unweighted::call, s);
            lc = PairedTiming.measureSelfTimed(() -> steady(weighted::call, false), () -> steady(copy::copy, true), s);
        } finally {
            copy.tearDown();
        }
        // the copy's time at the loss's time of this round: loss ms / (loss / copy)
        double ms = wu.msA();
        return new Row(c.loss, c.shape, cell.isa, cell.threads, ms, ms / wu.ratio(), wu.ratio(), ms / lc.ratio(),
                floors.streamGain(cell.threads, c.shape), floors.computeMs(cell.isa, cell.threads, c.loss, c.shape));
    }

    /**
     * A call in its own steady state, as a loop of it runs: made once untimed, then timed. The copy
     * first waits past the time the library's pool workers spin after a call (thread_pool.cpp,
     * 200 us), so its second thread does not share a CPU with a spinning worker. Alternated call by
     * call, the copy came right after the loss one time in two and after a copy the other: on an
     * Intel Xeon (KVM, 2 threads) the 256 x 32000 copy ran 1.2 ms after a copy and 1.9 ms after the
     * loss, whose non-temporal stores had taken the gradient out of the caches, and the rounds'
     * copies of a cell spread 0.84-1.73 ms while the loss held 1.38-1.44 (bench/MEASURED.md).
     */
    private static long steady(PairedTiming.Call call, boolean afterPause) throws Exception {
        if (afterPause) {
            Thread.sleep(1);
        }
        call.run();
        long t = System.nanoTime();
        call.run();
        return System.nanoTime() - t;
    }

    // ---------------------------------------------------------------- the native driver's figures

    /** native_check as the build leaves it (java/target/cmake), or a by-hand CMake build (build/); null if neither. */
    static Path defaultDriver() {
        return Stream.of("java/target/cmake/bin/native_check", "build/bin/native_check")
                .map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
    }

    /** What native_check --floor printed: compute floors and the streaming copy's gain. */
    record Driver(Map<String, Double> computeMs, Map<String, Double> streamRatio) {
        double computeMs(String isa, int threads, String loss, String shape) {
            return computeMs.getOrDefault(isa + " " + threads + " " + loss + " " + shape, Double.NaN);
        }

        double streamGain(int threads, String shape) {
            return streamRatio.getOrDefault(threads + " " + shape, Double.NaN);
        }

        static Driver run(Path driver) throws IOException, InterruptedException {
            return run(driver, 1, 1);
        }

        /** native_check --floor for round {@code round} of {@code rounds} (named so in the output when several). */
        static Driver run(Path driver, int round, int rounds) throws IOException, InterruptedException {
            Map<String, Double> compute = new HashMap<>();
            Map<String, Double> stream = new HashMap<>();
            if (driver == null) {
                if (round > 1) {
                    return new Driver(compute, stream);
                }
                System.out.println("floors : native_check not found (build it, or pass --driver): compute floors and"
                        + " the streaming copy are not measured; the bandwidth floor is the arraycopy alone");
                return new Driver(compute, stream);
            }
            System.out.println("floors : " + driver + " --floor (compute floors, copies)"
                    + (rounds > 1 ? ", round " + round + "/" + rounds : "") + " ...");
            Process p = new ProcessBuilder(driver.toString(), "--floor").redirectErrorStream(true).start();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    String[] f = line.trim().split("\\s+");
                    if (f[0].equals("floor") && f.length >= 6) {  // floor <isa> <threads> <loss> <shape> <ms> ...
                        compute.put(f[1] + " " + f[2] + " " + f[3] + " " + f[4], Double.parseDouble(f[5]));
                    } else if (f[0].equals("copy") && f.length >= 6) {  // copy <threads> <shape> <memcpy> <stream> <ratio>
                        stream.put(f[1] + " " + f[2], Double.parseDouble(f[5]));
                    }
                }
            }
            if (p.waitFor() != 0 || compute.isEmpty()) {
                throw new IOException(driver + " --floor failed (exit " + p.exitValue() + ")");
            }
            return new Driver(compute, stream);
        }
    }

    // ---------------------------------------------------------------- peers

    /** The fastest peer per PEERS.md case and shape, and where the figures come from. */
    private record Peers(Map<String, Double> ms, Map<String, String> name, String source) {
        double ms(String peerCase, String shape) {
            return peerCase == null ? Double.NaN : ms.getOrDefault(peerCase + " " + shape, Double.NaN);
        }

        String name(String peerCase, String shape) {
            return peerCase == null ? null : name.get(peerCase + " " + shape);
        }

        /**
         * The peers' own results files (shared/peers/run_all.sh), each {"results": [{"peer": ..,
         * "case": .., "N": .., "C": .., "ms_median": ..}, ...]}; else PEERS.md's table (PeerData).
         */
        static Peers read(Path dir) throws IOException {
            Map<String, Double> ms = new HashMap<>();
            Map<String, String> name = new HashMap<>();
            List<Path> files = new ArrayList<>();
            if (Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    s.filter(f -> f.getFileName().toString().matches("results_.*\\.json"))
                            .filter(f -> !f.getFileName().toString().contains("stream")).sorted().forEach(files::add);
                }
            }
            Pattern object = Pattern.compile("\\{[^{}]*\"ms_median\"[^{}]*\\}");
            for (Path f : files) {
                Matcher m = object.matcher(Files.readString(f));
                while (m.find()) {
                    String o = m.group();
                    String peer = field(o, "peer");
                    String peerCase = field(o, "case");
                    String n = field(o, "N");
                    String c = field(o, "C");
                    String t = field(o, "ms_median");
                    if (peer == null || peerCase == null || n == null || c == null || t == null) {
                        continue;
                    }
                    String key = peerCase + " " + n + "x" + c;
                    double v = Double.parseDouble(t);
                    if (!(ms.getOrDefault(key, Double.POSITIVE_INFINITY) <= v)) {
                        ms.put(key, v);
                        name.put(key, peer);
                    }
                }
            }
            if (!ms.isEmpty()) {
                return new Peers(ms, name, files.size() + " results files in " + dir
                        + " (shared/peers/run_all.sh; check they are from this sitting)");
            }
            for (Case c : CASES) {
                for (boolean w : new boolean[] {true, false}) {
                    String peerCase = PeerData.peerCase(c.loss, w);
                    double v = PeerData.fastestPeerMs(peerCase, c.shape);
                    if (!Double.isNaN(v)) {
                        ms.put(peerCase + " " + c.shape, v);
                        name.put(peerCase + " " + c.shape, PeerData.fastestPeerName(peerCase, c.shape));
                    }
                }
            }
            return new Peers(ms, name, "none in " + dir + ": PEERS.md's table (ANOTHER run; run"
                    + " shared/peers/run_all.sh in the same sitting for a fair x peer)");
        }

        private static String field(String object, String key) {
            Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\"?([^\",}]+)\"?").matcher(object);
            return m.find() ? m.group(1).trim() : null;
        }
    }

    /** The peer case of a row: the weighted call, or for sigmoid focal (whose peer case is unweighted) that. */
    private static String peerCase(Row r) {
        String weighted = PeerData.peerCase(r.loss, true);
        return weighted != null ? weighted : PeerData.peerCase(r.loss, false);
    }

    private static double peerCallMs(Row r) {
        return PeerData.peerCase(r.loss, true) != null ? r.ms : r.unweightedMs;
    }

    // ---------------------------------------------------------------- output

    private static void printTable(List<CellResult> results, Peers peers) {
        System.out.println("ms = the weighted call (class + sample weights for CE, pos_weight for BCE, sample weights for"
                + " MSE and sigmoid focal, alpha + sample weights for softmax focal), paired medians.");
        System.out.println("bw floor = arraycopy of the logits into the gradient x the streaming-copy gain (when below 1;"
                + " element-wise losses, which also read targets and store ordinarily: x 4/3); compute floor ="
                + " native_check --floor; x floor = ms / the larger floor (target <= " + FLOOR_TARGET + ").");
        System.out.println("Each figure is the median over the rounds; x floor is the median of the rounds' own ratios"
                + " (so not always ms / floor of this table); range = the lowest and the highest of them.");
        String head = String.format(Locale.ROOT,
                "%-18s %-11s %-6s %3s %9s %6s %9s %6s %9s %9s %6s %6s %8s %-11s %9s %7s", "loss", "shape", "isa", "thr",
                "ms", "w/unw", "copy ms", "stream", "bw floor", "cmp floor", "%bw", "%cmp", "x floor", "range",
                "peer ms", "x peer");
        System.out.println(head);
        System.out.println("-".repeat(head.length()));
        for (CellResult cell : results) {
            Row r = cell.median();
            String pc = peerCase(r);
            double peer = r.threads == 2 ? peers.ms(pc, r.shape) : Double.NaN;
            System.out.printf(Locale.ROOT,
                    "%-18s %-11s %-6s %3d %9s %6.3f %9s %6s %9s %9s %6s %6s %8.2f %-11s %9s %7s%n",
                    r.loss, r.shape, r.isa, r.threads, SummaryTables.ms(r.ms), r.weightedRatio, SummaryTables.ms(r.copyMs),
                    Double.isNaN(r.streamGain) ? "-" : String.format(Locale.ROOT, "%.2f", r.streamGain),
                    SummaryTables.ms(r.bandwidthFloorMs()), SummaryTables.ms(r.computeFloorMs), percent(r.bandwidthFloorMs() / r.ms),
                    percent(r.computeFloorMs / r.ms), cell.xFloor(), range(cell),
                    Double.isNaN(peer) ? "" : SummaryTables.ms(peer),
                    Double.isNaN(peer) ? "" : String.format(Locale.ROOT, "%.1f", peer / peerCallMs(r)));
        }
        System.out.println();
    }

    private static void printTargets(List<CellResult> results, int rounds, Peers peers) {
        System.out.println("Targets (issue 18; ratios within this run, medians over " + rounds + " rounds):");
        for (CellResult cell : results) {
            Row r = cell.median();
            double x = cell.xFloor();
            System.out.printf(Locale.ROOT, "  %-4s %-18s %-11s %-6s %d thr: %s ms = %.2fx the larger floor (%s ms, %s;"
                            + " range %s), target <= %.1fx%n", x <= FLOOR_TARGET ? "MET" : "MISS", r.loss, r.shape,
                    r.isa, r.threads, SummaryTables.ms(r.ms), x, SummaryTables.ms(r.floorMs()),
                    r.floorMs() == r.computeFloorMs ? "compute" : "bandwidth", range(cell), FLOOR_TARGET);
        }
        for (CellResult cell : results) {
            Row r = cell.median();
            boolean ok = Math.abs(r.weightedRatio - 1) <= WEIGHTED_TARGET;
            System.out.printf(Locale.ROOT, "  %-4s %-18s %-11s %-6s %d thr: weighted / unweighted %.3f, target within 5 %%%n",
                    ok ? "MET" : "MISS", r.loss, r.shape, r.isa, r.threads, r.weightedRatio);
        }
        for (CellResult cell : results) {
            Row r = cell.median();
            String pc = peerCase(r);
            double peer = peers.ms(pc, r.shape);
            if (r.threads != 2 || Double.isNaN(peer)) {
                continue;
            }
            double x = peer / peerCallMs(r);
            // Where the floor itself is within 5x of the peer, no kernel can be 5x faster: the target is the floor.
            boolean floorBound = peer / r.floorMs() < PEER_TARGET;
            String verdict = x >= PEER_TARGET ? "MET" : floorBound ? "n/a" : "MISS";
            System.out.printf(Locale.ROOT, "  %-4s %-12s %-11s %-6s 2 thr: %sx the fastest peer (%s %s ms), target >= %.0fx%s%n",
                    verdict, pc, r.shape, r.isa, String.format(Locale.ROOT, "%.1f", x), peers.name(pc, r.shape),
                    SummaryTables.ms(peer), PEER_TARGET, floorBound
                            ? String.format(Locale.ROOT, " (the floor itself is only %.1fx the peer)", peer / r.floorMs())
                            : "");
        }
    }

    /** The same figures as a Markdown table, for README.md and bench/MEASURED.md. */
    private static void printMarkdown(List<CellResult> results, Peers peers) {
        System.out.println("| loss | shape | ISA | threads | ms | w/unw | bandwidth floor ms | % of it | compute floor ms"
                + " | % of it | x larger floor (range) | fastest peer ms | x peer |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (CellResult cell : results) {
            Row r = cell.median();
            String pc = peerCase(r);
            double peer = r.threads == 2 ? peers.ms(pc, r.shape) : Double.NaN;
            String xFloor = String.format(Locale.ROOT, "%.2f", cell.xFloor())
                    + (cell.rounds() > 1 ? " (" + range(cell) + ")" : "");
            System.out.printf(Locale.ROOT, "| %s | %s | %s | %d | %s | %.3f | %s | %s | %s | %s | %s | %s | %s |%n",
                    r.loss, r.shape, r.isa, r.threads, SummaryTables.ms(r.ms), r.weightedRatio, SummaryTables.ms(r.bandwidthFloorMs()),
                    percent(r.bandwidthFloorMs() / r.ms), SummaryTables.ms(r.computeFloorMs), percent(r.computeFloorMs / r.ms),
                    xFloor, Double.isNaN(peer) ? "" : SummaryTables.ms(peer) + " (" + peers.name(pc, r.shape) + ")",
                    Double.isNaN(peer) ? "" : String.format(Locale.ROOT, "%.1f", peer / peerCallMs(r)));
        }
    }

    /** The lowest and highest x floor of a cell's rounds, e.g. {@code 1.38-1.47}. */
    private static String range(CellResult cell) {
        return String.format(Locale.ROOT, "%.2f-%.2f", cell.minXFloor(), cell.maxXFloor());
    }

    private static String percent(double fraction) {
        return Double.isNaN(fraction) ? "-" : String.format(Locale.ROOT, "%.0f%%", fraction * 100);
    }

}
