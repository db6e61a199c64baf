package org.fusedloss.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * Times two calls alternately in one JVM and gives the median of the per-pair time ratios. On a
 * shared, noisy machine the slow phases then hit both sides of each pair alike, so a ratio (weighted
 * over unweighted, loss over copy, heap over direct) comes out far steadier than from two JMH
 * forks run a minute apart. Public for the integrations' own harnesses (integrations/dl4j, djl).
 */
public final class PairedTiming {
    /** A timed call. */
    public interface Call {
        void run() throws Exception;
    }

    /** A call that times itself, leaving its own setup out, and returns the nanoseconds it measured. */
    public interface SelfTimedCall {
        long run() throws Exception;
    }

    /** The median of the per-pair ratios a / b, the median times of each side, and how many pairs. */
    public record Result(double ratio, double msA, double msB, int pairs) {
    }

    private PairedTiming() {
    }

    /** Alternates a and b (after a warm-up) for about {@code seconds}, at least 7 pairs. */
    public static Result measure(Call a, Call b, double seconds) throws Exception {
        return measureSelfTimed(() -> nanos(a), () -> nanos(b), seconds);
    }

    /** As {@link #measure}, for calls that time themselves (a setup each time that must not count). */
    public static Result measureSelfTimed(SelfTimedCall a, SelfTimedCall b, double seconds) throws Exception {
        for (int i = 0; i < 3; i++) {   // warm-up: JIT, caches, the native thread pool
            a.run();
            b.run();
        }
        List<Double> ta = new ArrayList<>();
        List<Double> tb = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (ratios.size() < 7 || (System.nanoTime() < end && ratios.size() < 5000)) {
            boolean aFirst = ratios.size() % 2 == 0;   // neither side always runs first
            double x;
            double y;
            if (aFirst) {
                x = millis(a);
                y = millis(b);
            } else {
                y = millis(b);
                x = millis(a);
            }
            ta.add(x);
            tb.add(y);
            ratios.add(x / y);
        }
        return new Result(median(ratios), median(ta), median(tb), ratios.size());
    }

    private static double millis(SelfTimedCall c) throws Exception {
        return c.run() / 1e6;
    }

    private static long nanos(Call c) throws Exception {
        long t = System.nanoTime();
        c.run();
        return System.nanoTime() - t;
    }

    /** The middle value, or the mean of the two middle values of an even count. */
    static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int m = v.length / 2;
        return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }
}
