package org.fusedloss.bench;

import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;
import org.fusedloss.Backends;
import org.fusedloss.bench.Summary.Paired;
import org.fusedloss.bench.Summary.Row;

/**
 * What {@link Summary} prints from its measurements: the loss table, the copy table, the paired
 * ratios and the targets, and how figures are written.
 */
final class SummaryTables {
    private SummaryTables() {
    }

    // ---------------------------------------------------------------- lookups

    private static Optional<Row> find(List<Row> rows, Predicate<Row> p) {
        return rows.stream().filter(p).findFirst();
    }

    /** The faster of the heap and direct copies of the same bytes on the same number of threads. */
    static Optional<Row> bestCopy(List<Row> rows, String shape, int threads) {
        return rows.stream().filter(r -> r.bench().equals("CopyBench") && r.shape().equals(shape) && r.threads() == threads)
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
        return find(rows, r -> r.bench().equals("CopyBench") && r.shape().equals(shape) && r.threads() == threads
                && r.variant().equals("heap")).map(r -> r.gbPerSecond() / Math.min(1, gain));
    }

    private static Optional<Row> javaTwin(List<Row> rows, Row r) {
        return find(rows, o -> o.bench().equals(r.bench()) && o.shape().equals(r.shape()) && o.backend().equals("java")
                && o.variant().equals(r.variant()));
    }

    private static Optional<Row> unweightedTwin(List<Row> rows, Row r) {
        return find(rows, o -> o.bench().equals(r.bench()) && o.shape().equals(r.shape()) && o.backend().equals(r.backend())
                && o.threads() == r.threads() && o.variant().equals("unweighted"));
    }

    private static boolean isLoss(Row r) {
        return !r.bench().equals("CopyBench") && !r.bench().equals("HeapVsDirectBench");
    }

    // ---------------------------------------------------------------- tables

    static void printLossTable(List<Row> rows, FloorReport.Driver floors) {
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
        List<Row> losses = rows.stream().filter(SummaryTables::isLoss)
                .sorted(Comparator.comparing(Row::bench).thenComparing(r -> PeerData.of(r.shape()).cols)
                        .thenComparing(Row::variant, Comparator.reverseOrder())
                        .thenComparing(Row::backend, Comparator.reverseOrder()).thenComparingInt(Row::threads))
                .toList();
        for (Row r : losses) {
            String peerCase = PeerData.peerCase(r.loss(), r.weighted());
            double peerMs = PeerData.fastestPeerMs(peerCase, r.shape());
            Optional<Double> copy = copyFloorGbs(rows, r.shape(), r.threads(), floors);
            Optional<Row> java = javaTwin(rows, r);
            Optional<Row> unweighted = r.weighted() ? unweightedTwin(rows, r) : Optional.empty();
            System.out.printf(Locale.ROOT, "%-20s %-12s %-11s %-7s %3d %-10s %9s %7s %7.2f %6s %8s %6s %9s %7s%n",
                    r.loss(), peerCase == null ? "-" : peerCase, r.shape(), r.backend(), r.threads(), r.variant(),
                    ms(r.ms()), percent(r.spread()), r.gbPerSecond(),
                    copy.map(c -> percent(r.gbPerSecond() / c)).orElse("-"),
                    java.map(j -> ratio(j.ms() / r.ms())).orElse("-"),
                    unweighted.map(u -> ratio(r.ms() / u.ms())).orElse(""),
                    Double.isNaN(peerMs) ? "" : ms(peerMs),
                    Double.isNaN(peerMs) ? "" : ratio(peerMs / r.ms()));
        }
        System.out.println();
    }

    static void printCopyTable(List<Row> rows) {
        System.out.println("Copy of N*C floats (reads and writes 2*N*C*4 bytes, like a fused kernel), this run:");
        String head = String.format(Locale.ROOT, "%-11s %10s %-7s %3s %9s %7s %7s", "shape", "MB moved", "memory",
                "thr", "ms", "spread", "GB/s");
        System.out.println(head);
        System.out.println("-".repeat(head.length()));
        rows.stream().filter(r -> r.bench().equals("CopyBench"))
                .sorted(Comparator.comparingLong(Row::bytes).thenComparing(Row::variant).thenComparingInt(Row::threads))
                .forEach(r -> System.out.printf(Locale.ROOT, "%-11s %10.1f %-7s %3d %9s %7s %7.2f%n", r.shape(),
                        r.bytes() / 1e6, r.variant(), r.threads(), ms(r.ms()), percent(r.spread()), r.gbPerSecond()));
        System.out.println();
        List<Row> heapDirect = rows.stream().filter(r -> r.bench().equals("HeapVsDirectBench"))
                .sorted(Comparator.comparing(Row::variant, Comparator.reverseOrder()).thenComparingInt(Row::threads))
                .toList();
        if (!heapDirect.isEmpty()) {
            System.out.println("The same native weighted CE call at 1024x128256 on heap float[] and on direct"
                    + " FloatBuffers (JMH; the paired ratio below is steadier):");
            heapDirect.forEach(r -> System.out.printf(Locale.ROOT, "  %-6s %d thread(s) %9s ms, spread %s%n",
                    r.variant(), r.threads(), ms(r.ms()), percent(r.spread())));
            System.out.println();
        }
    }

    static void printPaired(List<Paired> paired) {
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
            System.out.printf(Locale.ROOT, "%-12s %-20s %-11s %3d %-7s %7.3f %9s %9s %6d%n", p.kind(), p.loss(),
                    p.shape(), p.threads(), p.detail(), p.result().ratio(), ms(p.result().msA()), ms(p.result().msB()),
                    p.result().pairs());
        }
        System.out.println();
    }

    static void printTargets(List<Row> rows, List<Paired> paired, boolean nativeUp, FloorReport.Driver floors) {
        System.out.println("Targets (ratios within this run; the peer times are from PEERS.md, another run):");
        if (!nativeUp) {
            System.out.println("  native backend not available: " + Backends.nativeCpu().unavailabilityReason()
                    .orElse("") + "; no target can be measured");
            return;
        }
        // 1. CE weighted at 1024 x 128256 vs the bandwidth floor, 2 threads (paired with the heap copy, which
        // is scaled by the streaming gain; without it, the stricter of the heap and direct pairs).
        double gain = Math.min(1, floors.streamGain(2, "1024x128256"));
        paired.stream().filter(p -> p.kind().equals("loss/copy") && p.threads() == 2)
                .filter(p -> Double.isNaN(gain) || p.detail().equals("heap"))
                .max(Comparator.comparingDouble(p -> p.result().ratio()))
                .ifPresent(p -> {
                    double scale = Double.isNaN(gain) ? 1 : gain;
                    double floorMs = p.result().msB() * scale;
                    double fraction = scale / p.result().ratio();  // floor / loss, paired
                    double floorGbs = PeerData.of(p.shape()).bytesMoved() / (floorMs * 1e6);
                    String yardstick = Double.isNaN(gain) ? p.detail() + " copy" : String.format(Locale.ROOT,
                            "heap copy %s ms x streaming gain %.2f", ms(p.result().msB()), gain);
                    System.out.printf(Locale.ROOT, "  %-4s CE weighted 1024x128256, 2 threads: %s of the bandwidth"
                                    + " floor (CE %s ms vs %s = %s ms, %.1f GB/s), target >= 80 %%%s%n",
                            verdict(fraction >= 0.80), percent(fraction), ms(p.result().msA()), yardstick, ms(floorMs),
                            floorGbs, fraction >= 0.80 ? "" : String.format(Locale.ROOT,
                                    "; MISSES by %.0f points: needs <= %s ms at this floor",
                                    (0.80 - fraction) * 100, ms(floorMs / 0.80)));
                });
        // 2. Every PEERS.md case >= 3x faster than its fastest peer (peers ran on 2 threads).
        rows.stream().filter(r -> isLoss(r) && r.backend().equals("native") && r.threads() == 2)
                .filter(r -> !Double.isNaN(PeerData.fastestPeerMs(PeerData.peerCase(r.loss(), r.weighted()), r.shape())))
                .sorted(Comparator.comparing(Row::bench).thenComparing(r -> PeerData.of(r.shape()).cols))
                .forEach(r -> {
                    String peerCase = PeerData.peerCase(r.loss(), r.weighted());
                    double peer = PeerData.fastestPeerMs(peerCase, r.shape());
                    double speedUp = peer / r.ms();
                    System.out.printf(Locale.ROOT, "  %-4s %-12s %-11s 2 threads: %s ms vs %s %s ms = %sx, target"
                                    + " >= 3x%s%n", verdict(speedUp >= 3), peerCase, r.shape(), ms(r.ms()),
                            PeerData.fastestPeerName(peerCase, r.shape()), ms(peer), ratio(speedUp),
                            speedUp >= 3 ? "" : String.format(Locale.ROOT, "; MISSES: needs <= %s ms", ms(peer / 3)));
                });
        // 3. Weighted within 5 % of unweighted (paired).
        paired.stream().filter(p -> p.kind().equals("w/unw")).forEach(p -> {
            double ratio = p.result().ratio();
            System.out.printf(Locale.ROOT, "  %-4s %-20s %-11s %d thread(s): weighted/unweighted %.3f (%s / %s ms),"
                            + " target within 5 %%%n", verdict(Math.abs(ratio - 1) <= 0.05), p.loss(), p.shape(),
                    p.threads(), ratio, ms(p.result().msA()), ms(p.result().msB()));
        });
        // 4. Heap arrays are not copied (paired).
        paired.stream().filter(p -> p.kind().equals("heap/direct")).forEach(p -> {
            double ratio = p.result().ratio();
            // Copying the logits and gradient in and out (JNI Get/Release<Float>ArrayElements) would be 4 more
            // copies of 525 MB, each as slow as the copy above: the heap call would take 2-3x as long.
            System.out.printf(Locale.ROOT, "  %-4s heap float[] vs direct FloatBuffer, CE weighted 1024x128256, %d"
                            + " thread(s): heap/direct %.3f (%s / %s ms): %s%n", verdict(ratio < 1.5), p.threads(),
                    ratio, ms(p.result().msA()), ms(p.result().msB()), ratio < 1.5
                            ? "no copy (copying in and out would make heap 2-3x slower)"
                            : "heap much SLOWER: the arrays look copied");
        });
        // 5. Native vs the Java reference: reported, no target.
        rows.stream().filter(r -> isLoss(r) && r.backend().equals("native"))
                .sorted(Comparator.comparing(Row::bench).thenComparing(r -> PeerData.of(r.shape()).cols)
                        .thenComparing(Row::variant, Comparator.reverseOrder()).thenComparingInt(Row::threads))
                .forEach(r -> javaTwin(rows, r).ifPresent(j -> System.out.printf(Locale.ROOT,
                        "  info %-20s %-11s %-10s native %d thread(s) is %sx the java reference (%s vs %s ms)%n",
                        r.loss(), r.shape(), r.variant(), r.threads(), ratio(j.ms() / r.ms()), ms(r.ms()), ms(j.ms()))));
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
}
