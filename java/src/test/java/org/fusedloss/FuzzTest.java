package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.fusedloss.TestData.W;
import org.fusedloss.internal.Settings;
import org.fusedloss.nativecpu.NativeBackend;
import org.fusedloss.internal.LossKind;
import org.junit.jupiter.api.Test;

/**
 * The project's fuzz test: seeded random calls of every loss, option, reduction and buffer kind on
 * the native backend, on each instruction set this CPU runs, in child JVMs (under
 * {@code -Xcheck:jni}), so that a crash is a test failure with the seed and a replay command.
 *
 * <p>A batch is a few dozen calls drawn from one seed. Valid calls (every loss and option, shapes
 * from 1 x 1 to the sizes written with non-temporal stores, inputs in heap arrays at offsets, heap
 * buffers, direct buffers at any byte address, read-only direct buffers, the gradient in place,
 * special logits, extreme and zero weights, 1 to 4 threads, concurrent callers) are compared with
 * the Java reference by the contract of docs/SEMANTICS.md. Invalid calls (one defect each) must
 * throw {@link IllegalArgumentException} naming the argument and leave every output as it was.
 *
 * <p>Budget: {@code -Dfusedloss.fuzz.seconds} (default 40) per test run, shared by the
 * instruction sets; {@code -Dfusedloss.fuzz.seconds=1800} runs half an hour. A failure prints
 * {@code -Dfusedloss.fuzz.replay=isa:seed:batch}, which runs that batch alone.
 */
class FuzzTest {
    static final String SECONDS_PROPERTY = "fusedloss.fuzz.seconds";
    static final String REPLAY_PROPERTY = "fusedloss.fuzz.replay";
    /** Calls per batch. */
    static final int CALLS = 40;

    // ------------------------------------------------------------------------------ parent

    @Test
    void randomCallsOnEveryInstructionSetMatchTheReferenceOrAreRejected() throws Exception {
        NativeBackend nat = Backends.nativeCpu();
        TestBackends.require(nat);
        String replay = System.getProperty(REPLAY_PROPERTY);
        if (replay != null && !replay.isBlank()) {
            String[] p = replay.trim().split(":");
            runChild(p[0], Long.parseLong(p[1]), Integer.parseInt(p[2]), 1, 600);
            return;
        }
        List<String> isas = nat.supportedIsas();
        double seconds = Double.parseDouble(System.getProperty(SECONDS_PROPERTY, "40"));
        long seed = TestData.SEED;
        int batches = 0;
        for (String isa : isas) {
            batches += runChild(isa, seed, 0, Integer.MAX_VALUE, seconds / isas.size());
        }
        System.out.println("[FuzzTest] " + batches + " batches of " + CALLS + " calls on " + isas + ", seed " + seed
                + " (" + SECONDS_PROPERTY + "=" + seconds + ")");
    }

    /** Runs batches [first, first + count) in a child JVM for about {@code seconds}; returns how many passed. */
    private static int runChild(String isa, long seed, int first, int count, double seconds) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        cmd.add("-Xcheck:jni");
        cmd.add("-Xmx1g");
        // a crash report goes to the temporary directory, not into the working tree
        cmd.add("-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + File.separator + "fusedloss-fuzz-hs_err_%p.log");
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.add("-D" + Settings.NATIVE_ISA + "=" + isa);
        cmd.add("-Dfusedloss.seed=" + seed);  // what the child's messages print
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(FuzzTest.class.getName());
        cmd.addAll(List.of(isa, Long.toString(seed), Integer.toString(first), Integer.toString(count),
                Double.toString(seconds)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Deque<String> tail = new ArrayDeque<>();  // the last lines, for the failure message
        int[] progress = {0, -1};  // batches passed, the batch running
        boolean[] jniWarning = {false};
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    synchronized (tail) {
                        if (line.startsWith("batch ") && line.endsWith(" start")) {
                            progress[1] = Integer.parseInt(line.split(" ")[1]);
                        } else if (line.startsWith("batch ") && line.endsWith(" ok")) {
                            progress[0]++;
                        } else if (line.contains("JNI") || line.contains("in native method")) {
                            jniWarning[0] = true;  // -Xcheck:jni reports a broken JNI rule
                        }
                        tail.addLast(line);
                        if (tail.size() > 40) {
                            tail.removeFirst();
                        }
                    }
                }
            } catch (IOException e) {
                // the child is gone; its exit code says why
            }
        });
        reader.start();
        boolean finished = p.waitFor((long) seconds + 300, TimeUnit.SECONDS);  // a hang is a failure too
        if (!finished) {
            p.destroyForcibly().waitFor();
        }
        reader.join();
        int passed = progress[0];
        int running = progress[1];
        int code = finished ? p.exitValue() : -1;
        if (code != 0 || jniWarning[0]) {
            String why = !finished ? "did not finish" : code > 128 ? "died with signal " + (code - 128)
                    : jniWarning[0] ? "printed a JNI warning" : "exited with " + code;
            fail(ctx("fuzz child on " + isa + " " + why + " in batch " + running + " of seed " + seed + "\n"
                    + "replay: mvn -B -pl java test -Dfusedloss.skipNativeTests=true -Dtest=FuzzTest -D"
                    + REPLAY_PROPERTY + "=" + isa + ":" + seed + ":" + running + "\n"
                    + "   or: " + String.join(" ", cmd.subList(0, cmd.size() - 5)) + " " + isa + " " + seed + " "
                    + running + " 1 600\n--- last lines of its output ---\n" + String.join("\n", tail)));
        }
        return passed;
    }

    // ------------------------------------------------------------------------------- child

    /** The child: {@code isa seed firstBatch batchCount seconds}. */
    public static void main(String[] args) {
        String isa = args[0];
        long seed = Long.parseLong(args[1]);
        int first = Integer.parseInt(args[2]);
        int count = Integer.parseInt(args[3]);
        long deadline = System.nanoTime() + (long) (Double.parseDouble(args[4]) * 1e9);
        NativeBackend nat = Backends.nativeCpu();
        if (!nat.isAvailable() || !nat.isa().equals(isa)) {
            System.out.println("the native backend is not on " + isa + ": " + nat.describe());
            System.exit(3);
        }
        int done = 0;
        for (int b = first; b - first < count && (done == 0 || System.nanoTime() < deadline); b++) {
            System.out.println("batch " + b + " start");
            System.out.flush();
            long batchSeed = seed * 0x9E3779B97F4A7C15L + isa.hashCode() * 31L + b;
            try {
                new Fuzzer(new SplittableRandom(batchSeed), nat).batch();
            } catch (Throwable t) {
                System.out.println("batch " + b + " FAILED on " + isa + ": " + t);
                t.printStackTrace(System.out);
                System.exit(1);
            }
            System.out.println("batch " + b + " ok");
            done++;
        }
        System.exit(0);
    }

    /** One batch of random calls. */
    static final class Fuzzer {
        private final SplittableRandom rng;
        private final NativeBackend nat;
        private final Backend java = Backends.java();
        private final StringBuilder log = new StringBuilder();

        Fuzzer(SplittableRandom rng, NativeBackend nat) {
            this.rng = rng;
            this.nat = nat;
        }

        void batch() throws Exception {
            boolean bigDone = false;
            for (int i = 0; i < CALLS; i++) {
                nat.setThreads(1 + rng.nextInt(4));
                Call call = randomCall(!bigDone && rng.nextInt(CALLS) < 2);
                bigDone |= call.big();
                log.setLength(0);
                log.append("call ").append(i).append(": ").append(call);
                try {
                    if (rng.nextInt(6) == 0) {
                        invalid(call);
                    } else {
                        valid(call);
                    }
                } catch (AssertionError | RuntimeException e) {
                    throw new AssertionError(log + "\n  " + e.getMessage(), e);
                }
            }
        }

        // ------------------------------------------------------------------ random calls

        /** A call: the loss, its data, the reduction and how each argument is laid out. */
        record Call(LossSpec spec, Problem p, Reduction r, double scale, Double denominator, boolean gradient,
                    Place[] places, int stride, boolean inPlace) {
            boolean big() {
                return (long) p.n * p.c >= 1 << 22;
            }

            @Override
            public String toString() {
                return spec + " n=" + p.n + " c=" + p.c + " " + r + " scale=" + scale
                        + (denominator != null ? " denominator=" + denominator : "") + (gradient ? "" : " no gradient")
                        + " stride=" + stride + (inPlace ? " in place" : "") + " places=" + Arrays.toString(places)
                        + " weights " + (p.sw != null) + "/" + (p.ew != null);
            }
        }

        /** Where an argument lives. */
        enum Place { ARRAY, HEAP_BUFFER, DIRECT, DIRECT_ODD_BYTE, DIRECT_READ_ONLY }

        // argument slots of Call.places
        static final int X = 0, LABELS = 1, TARGETS = 2, SW = 3, EW = 4, UP = 5, GRAD = 6, TERMS = 7;

        Call randomCall(boolean big) {
            LossKind kind = LossKind.values()[rng.nextInt(LossKind.values().length)];
            int n;
            int c;
            if (big) {  // n * c >= 4 Mi: rows of at least 1536 classes write it with non-temporal stores
                int[][] shapes = {{4096, 1024}, {160, 32_001}, {2049, 2048}, {65_536, 64}, {33, 128_256}};
                int[] s = shapes[rng.nextInt(shapes.length)];
                n = s[0];
                c = s[1];
            } else if (rng.nextInt(8) == 0) {
                n = 1 + rng.nextInt(12);
                c = 1 + rng.nextInt(rng.nextBoolean() ? 5000 : 300);
            } else {
                n = rng.nextInt(40);
                c = 1 + rng.nextInt(rng.nextBoolean() ? 40 : 20);
            }
            LossSpec spec = randomSpec(kind, c);
            Set<W> weights = EnumSet.noneOf(W.class);
            for (W w : W.values()) {
                if (rng.nextInt(3) == 0 && applies(w, kind)) {
                    weights.add(w);
                }
            }
            TestData.Case k = TestData.random(spec, weights, n, c, rng);
            Problem p = k.problem();
            p = perturb(k.spec(), p);
            Reduction r = Reduction.values()[rng.nextInt(4)];
            double scale = rng.nextInt(3) == 0 ? Math.scalb(1 + rng.nextDouble(), rng.nextInt(-60, 60))
                    : rng.nextBoolean() ? 1 : 0.5 + rng.nextDouble();
            Double denominator = (r == Reduction.MEAN || r == Reduction.BATCH_MEAN) && rng.nextInt(5) == 0
                    ? (rng.nextInt(6) == 0 ? 0.0 : Math.scalb(1 + rng.nextDouble(), rng.nextInt(-100, 100))) : null;
            Place[] places = new Place[8];
            for (int i = 0; i < places.length; i++) {
                Place[] all = Place.values();
                places[i] = all[rng.nextInt(i >= GRAD ? all.length - 1 : all.length)];  // outputs are writable
            }
            boolean gradient = rng.nextInt(8) != 0;
            boolean inPlace = gradient && rng.nextInt(6) == 0 && places[X] != Place.DIRECT_READ_ONLY;
            int stride = rng.nextInt(4) == 0 ? 1 + rng.nextInt(4) : 1;
            return new Call(k.spec(), p, r, scale, denominator, gradient, places, stride, inPlace);
        }

        private static boolean applies(W w, LossKind kind) {
            return switch (w) {
                case SAMPLE, MASK -> true;
                case CLASS -> kind.perRow() || kind == LossKind.BINARY_CROSS_ENTROPY;  // class weights, alpha, {w0, w1}
                case ELEMENT -> !kind.perRow();
                case POS -> kind == LossKind.BINARY_CROSS_ENTROPY;
                case IGNORE -> kind.takesLabels();
            };
        }

        private LossSpec randomSpec(LossKind kind, int c) {
            LossSpec s = LossSpec.of(kind);
            switch (kind) {
                case CROSS_ENTROPY, CROSS_ENTROPY_DENSE -> {
                    if (rng.nextInt(3) == 0) {
                        s = s.withSmoothing(new double[] {0.0625, 0.25, 1}[rng.nextInt(3)]);
                    }
                    if (rng.nextInt(4) == 0) {
                        s = s.withZLoss(Math.scalb(1.0, -rng.nextInt(2, 14)));
                    }
                    if (rng.nextInt(4) == 0) {
                        s = s.withSoftCap(1 + rng.nextInt(30));
                    }
                    if (kind == LossKind.CROSS_ENTROPY && rng.nextInt(6) == 0) {
                        s = s.withIgnoreIndex(rng.nextInt(c));
                    }
                }
                case SOFTMAX_FOCAL -> s = s.withGamma(new double[] {0, 0.5, 1, 2, 3.5}[rng.nextInt(5)]);
                case SIGMOID_FOCAL -> s = s.withGamma(new double[] {0, 0.5, 2, 3.5}[rng.nextInt(4)])
                        .withFocalAlpha(new double[] {-1, 0, 0.25, 0.75, 1}[rng.nextInt(5)]);
                default -> {
                }
            }
            return s;
        }

        /** Special logits, zero and extreme weights, sometimes. */
        private Problem perturb(LossSpec spec, Problem p) {
            int c = p.c;
            float[] x = p.x.clone();
            float[] t = p.targets == null ? null : p.targets.clone();
            boolean perRow = spec.kind().perRow();
            int mode = rng.nextInt(10);
            if (mode == 0 || mode == 1) {  // +-1e30 (MSE: 1e18), -inf on classes that are not targets
                float big = spec.kind() == LossKind.MEAN_SQUARED_ERROR ? 1e18f : 1e30f;
                for (int at = 0; at < x.length; at++) {
                    int roll = rng.nextInt(6);
                    int i = at / c;
                    boolean target = p.labels != null ? p.labels[i] == at % c : perRow && t[at] != 0;
                    if (roll == 0) {
                        x[at] = rng.nextBoolean() ? big : -big;
                    } else if (roll == 1 && mode == 1 && !target && (c > 1 || !perRow)
                            && spec.kind() != LossKind.MEAN_SQUARED_ERROR) {
                        x[at] = Float.NEGATIVE_INFINITY;
                        if (!perRow) {
                            t[at] = 0;
                        }
                    }
                }
            } else if (mode == 2) {  // NaN and +inf here and there: non-finite terms, counted
                for (int k = 0; k < 1 + x.length / 50; k++) {
                    if (x.length > 0) {
                        x[rng.nextInt(x.length)] = rng.nextBoolean() ? Float.NaN : Float.POSITIVE_INFINITY;
                    }
                }
            } else if (mode == 3 && x.length > 0) {  // large logits, a wide spread
                for (int at = 0; at < x.length; at++) {
                    x[at] *= 1 + rng.nextInt(40);
                }
            }
            if (spec.kind() == LossKind.SIGMOID_FOCAL && rng.nextInt(8) == 0 && t.length > 0) {
                t[rng.nextInt(t.length)] = new float[] {1.5f, -0.25f, Float.NaN}[rng.nextInt(3)];  // a NaN term
            }
            Problem q = p.withX(x);
            if (t != null) {
                q = q.withTargets(t);
            }
            if (rng.nextInt(8) == 0 && q.sw != null) {  // all sample weights scaled by 2^e, kept normal
                q = q.withSampleWeights(scaled(q.sw, rng.nextInt(-120, 40)));
            } else if (rng.nextInt(8) == 0 && q.ew != null) {
                q = q.withElementWeights(scaled(q.ew, rng.nextInt(-120, 40)));
            }
            return q;
        }

        private static float[] scaled(float[] w, int e) {
            float[] s = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                float v = Math.scalb(w[i], e);
                s[i] = Math.abs(v) < Float.MIN_NORMAL ? 0 : v;  // the contract's domain: normal floats
            }
            return s;
        }

        // ------------------------------------------------------------------- valid calls

        private void valid(Call call) throws Exception {
            Problem p = call.p();
            Loss loss = call.spec().build(call.r(), call.scale(), call.gradient());
            Loss ref = call.spec().build(call.r(), call.scale(), call.gradient());
            int terms = p.terms(call.spec());
            float[] gRef = TestData.filled(p.n * p.c, Float.NaN);
            float[] tRef = TestData.filled(terms, Float.NaN);  // per-term losses come with every reduction
            Batch refBatch = p.batch(call.r(), call.gradient() ? gRef : null, tRef);
            if (call.denominator() != null) {
                refBatch.denominator(call.denominator());
            }
            LossResult want = ref.compute(refBatch, java);
            // which terms are finite (their gradients are compared): the reference's per-term losses
            float[] refTerms = tRef;

            Built got = build(call, null);
            LossResult res = loss.compute(got.batch, nat);
            compare(call, want, gRef, tRef, refTerms, res, got.gradient(), got.perTerm());

            if (rng.nextInt(12) == 0 && !call.inPlace()) {  // concurrent callers: the same bits
                LossResult[] results = new LossResult[3];
                Built[] builds = new Built[3];
                Thread[] threads = new Thread[3];
                Throwable[] errors = new Throwable[3];
                for (int i = 0; i < 3; i++) {
                    builds[i] = build(call, null);
                    final int k = i;
                    threads[i] = new Thread(() -> {
                        try {
                            results[k] = loss.compute(builds[k].batch, nat);
                        } catch (Throwable e) {
                            errors[k] = e;
                        }
                    });
                }
                for (Thread th : threads) {
                    th.start();
                }
                for (int i = 0; i < 3; i++) {
                    threads[i].join();
                    if (errors[i] != null) {
                        throw new AssertionError("concurrent caller " + i + " failed", errors[i]);
                    }
                    assertEquals(Double.doubleToLongBits(res.loss()), Double.doubleToLongBits(results[i].loss()),
                            "concurrent caller " + i + ": loss");
                    if (call.gradient()) {
                        Checks.sameBits(got.gradient(), builds[i].gradient(), "concurrent caller " + i + ": gradient");
                    }
                }
            }
        }

        /** The native result against the reference's, by the contract's tolerances. */
        private void compare(Call call, LossResult want, float[] gRef, float[] tRef, float[] refTerms, LossResult got,
                             float[] g, float[] t) {
            Problem p = call.p();
            assertEquals(want.counted(), got.counted(), "counted");
            assertEquals(want.masked(), got.masked(), "masked");
            assertEquals(want.nonFinite(), got.nonFinite(), "nonFinite");
            Checks.close(want.denominator(), got.denominator(), 1e-12, 0, "denominator");
            assertEquals(Double.isFinite(want.loss()), Double.isFinite(got.loss()),
                    "loss " + got.loss() + ", reference " + want.loss());
            Floors f = floors(call);
            if (Double.isFinite(want.loss())) {  // terms are >= 0: 1e-5 of each is 1e-5 of the sum
                boolean mean = call.r() == Reduction.MEAN || call.r() == Reduction.BATCH_MEAN;
                double d = mean && want.denominator() != 0 ? want.denominator() : 1;
                Checks.close(want.loss(), got.loss(), 1e-5, f.termFloorSum / d, "loss");
            }
            int per = call.spec().kind().perRow() ? p.c : 1;
            boolean[] finiteTerm = new boolean[p.terms(call.spec())];
            for (int i = 0; i < finiteTerm.length; i++) {
                finiteTerm[i] = Float.isFinite(refTerms[i]);
            }
            if (tRef != null) {
                for (int i = 0; i < tRef.length; i++) {
                    assertEquals(Float.isFinite(tRef[i]), Float.isFinite(t[i]),
                            "perTerm[" + i + "] = " + t[i] + ", reference " + tRef[i]);
                    if (Float.isFinite(tRef[i])) {
                        double err = Math.abs(t[i] - tRef[i]);
                        double tol = 1e-5 * Math.abs(tRef[i]) + f.termFloor[i];
                        if (!(err <= tol)) {
                            fail("perTerm[" + i + "] = " + t[i] + ", reference " + tRef[i] + " (tolerance " + tol + ")");
                        }
                    }
                }
            }
            if (!call.gradient()) {
                return;
            }
            double diff = 0;
            double norm = 0;
            for (int term = 0; term < finiteTerm.length; term++) {
                boolean finite = finiteTerm[term];
                for (int j = term * per; finite && j < (term + 1) * per; j++) {
                    finite = Float.isFinite(gRef[j]);
                }
                if (!finite) {
                    continue;  // a non-finite term: counted; its gradient is not compared
                }
                for (int j = term * per; j < (term + 1) * per; j++) {
                    if (!Float.isFinite(g[j])) {
                        fail("gradient[" + j + "] = " + g[j] + ", reference " + gRef[j] + "; " + inputs(call, j));
                    }
                    double e = (double) g[j] - gRef[j];
                    diff += e * e;
                    norm += (double) gRef[j] * gRef[j];
                }
            }
            if (!(Math.sqrt(diff) <= 1e-5 * Math.sqrt(norm) + f.gradientFloor)) {
                fail("||g - g_ref|| = " + Math.sqrt(diff) + " > 1e-5 ||g_ref|| (" + Math.sqrt(norm) + ") + "
                        + f.gradientFloor);
            }
        }

        /** The inputs of element j, for a failure message. */
        private static String inputs(Call call, int j) {
            Problem p = call.p();
            int row = j / p.c;
            return "x = " + p.x[j] + (p.targets != null ? ", t = " + p.targets[j] : "")
                    + (p.labels != null ? ", label = " + p.labels[row] : "")
                    + (p.sw != null ? ", sample weight = " + p.sw[row] : "")
                    + (p.ew != null ? ", element weight = " + p.ew[j] : "");
        }

        /**
         * The absolute floors of the comparison, as native_check and the suite use them: float
         * rounding of terms near 0 (1e-6 times the term's weight), the z-loss where lse = M + log S
         * cancels (2 z |lse| times a few ulps of the cancelled magnitude), and the gradient's own
         * size for gradients that are 0 in exact arithmetic.
         */
        static final class Floors {
            double[] termFloor;
            double termFloorSum;
            double gradientFloor;
        }

        private Floors floors(Call call) {
            Problem p = call.p();
            LossSpec s = call.spec();
            boolean perRow = s.kind().perRow();
            int terms = p.terms(s);
            Floors f = new Floors();
            f.termFloor = new double[terms];
            double natural = 0;
            double classMax = 1;
            for (float[] v : new float[][] {s.classWeights(), s.posWeight(), s.binaryClassWeights()}) {
                if (v != null) {
                    for (float w : v) {
                        classMax = Math.max(classMax, w);
                    }
                }
            }
            for (int i = 0; i < terms; i++) {
                int row = perRow ? i : i / p.c;
                double w = p.sw == null ? 1 : p.sw[row];
                if (!perRow && p.ew != null) {
                    w *= p.ew[i];
                }
                if (Double.isNaN(w) || (p.labels != null && p.labels[row] == s.ignoreIndex())) {
                    continue;
                }
                double zPart = 0;
                double size = 1;
                if (perRow) {
                    double[] ml = maxAndLogSum(p, row, s.softCap());
                    double lse = ml[0] + ml[1];
                    double cancelled = Math.abs(ml[0]) + Math.abs(ml[1]) - Math.abs(lse);
                    zPart = 2e-6 * s.zLoss() * Math.abs(lse) * (cancelled + 1);
                    size = 1 + 2 * s.zLoss() * Math.abs(lse);
                    if (Double.isFinite(ml[0]) && Math.abs(ml[0]) > 1e6) {
                        size = 1;  // the term is then beyond the z-loss's float range: non-finite, not compared
                    }
                }
                double cw = classMax;
                f.termFloor[i] = (1e-6 + (Double.isFinite(zPart) ? zPart : 0)) * (1 + Math.abs(w) * cw);
                f.termFloorSum += f.termFloor[i];
                double u = call.r() == Reduction.NONE && p.upstream != null ? p.upstream[i] : 1;
                double g = u * w * cw * (Double.isFinite(size) ? size : 1);
                natural += g * g;
            }
            double d = call.r() == Reduction.MEAN || call.r() == Reduction.BATCH_MEAN ? denominatorOf(call) : 1;
            double gradScale = d == 0 ? 0 : call.scale() / d;
            f.gradientFloor = 2e-6 * Math.abs(gradScale) * Math.sqrt(natural) + 1e-30;
            return f;
        }

        private double denominatorOf(Call call) {
            if (call.denominator() != null) {
                return call.denominator();
            }
            Problem p = call.p();
            LossSpec s = call.spec();
            double sum = 0;
            for (int i = 0; i < p.terms(s); i++) {
                int row = s.kind().perRow() ? i : i / p.c;
                double w = p.sw == null ? 1 : p.sw[row];
                if (!s.kind().perRow() && p.ew != null) {
                    w *= p.ew[i];
                }
                if (Double.isNaN(w) || (p.labels != null && p.labels[row] == s.ignoreIndex())) {
                    continue;
                }
                if (call.r() == Reduction.BATCH_MEAN) {
                    sum += 1;
                } else {
                    double cw = s.kind() == LossKind.CROSS_ENTROPY && s.classWeights() != null
                            ? s.classWeights()[p.labels[row]] : 1;
                    sum += w * cw;
                }
            }
            return sum;
        }

        /** {max, log sum exp(z - max)} of row i's (capped) logits, in double. */
        private static double[] maxAndLogSum(Problem p, int i, double cap) {
            double max = Double.NEGATIVE_INFINITY;
            double[] z = new double[p.c];
            for (int k = 0; k < p.c; k++) {
                double x = p.x[i * p.c + k];
                z[k] = cap > 0 ? cap * Math.tanh(x / cap) : x;
                max = Math.max(max, z[k]);
            }
            double s = 0;
            for (int k = 0; k < p.c; k++) {
                s += Math.exp(z[k] - max);
            }
            return new double[] {max, Math.log(s)};
        }

        // ----------------------------------------------------------------- invalid calls

        /** One defect; the call must throw IllegalArgumentException naming it and write nothing. */
        private void invalid(Call call) throws Exception {
            Problem p = call.p();
            LossSpec s = call.spec();
            List<String> defects = new ArrayList<>(List.of("short predictions", "short gradient", "read-only gradient",
                    "byte order", "negative sample weight", "infinite sample weight", "stride 0",
                    "negative denominator", "offset outside", "class weights length"));
            if ((long) p.n * p.c > 1 && call.places()[X] != Place.DIRECT_READ_ONLY) {
                defects.add("overlap");
            }
            if (p.labels != null) {
                defects.add("label out of range");
            }
            if (p.ew != null) {
                defects.add("negative element weight");
            }
            if (s.binaryClassWeights() != null) {
                defects.add("soft target with binary class weights");
            }
            if (p.n == 0) {
                defects.removeAll(List.of("negative sample weight", "infinite sample weight", "label out of range",
                        "negative element weight", "soft target with binary class weights",
                        "short predictions", "short gradient"));
            }
            String defect = defects.get(rng.nextInt(defects.size()));
            log.append(" INVALID: ").append(defect);
            Problem bad = p;
            LossSpec badSpec = s;
            String expect;
            switch (defect) {
                case "label out of range" -> {
                    int[] l = p.labels.clone();
                    int at = rng.nextInt(p.n);
                    l[at] = rng.nextBoolean() ? p.c + rng.nextInt(3) : -1 - rng.nextInt(3);
                    if (l[at] == s.ignoreIndex()) {
                        l[at] = p.c;
                    }
                    bad = p.withLabels(l);
                    expect = "labels[" + at + "]";
                }
                case "negative sample weight", "infinite sample weight" -> {
                    float[] w = p.sw == null ? TestData.filled(p.n, 1) : p.sw.clone();
                    int at = rng.nextInt(p.n);
                    w[at] = defect.startsWith("negative") ? -0.5f : Float.POSITIVE_INFINITY;
                    bad = p.withSampleWeights(w);
                    expect = "sampleWeights[" + at + "]";
                }
                case "negative element weight" -> {
                    float[] w = p.ew.clone();
                    int at = rng.nextInt(w.length);
                    w[at] = -2;
                    bad = p.withElementWeights(w);
                    expect = "elementWeights[" + at + "]";
                }
                case "soft target with binary class weights" -> {
                    float[] tt = p.targets.clone();
                    int at = rng.nextInt(tt.length);
                    tt[at] = 0.5f;
                    bad = p.withTargets(tt);
                    expect = "targets[" + at + "]";
                }
                case "class weights length" -> {
                    if (s.kind() == LossKind.BINARY_CROSS_ENTROPY) {
                        badSpec = s.withPosWeight(TestData.filled(p.c + 1, 1));
                        expect = "posWeight";
                    } else if (s.kind() == LossKind.CROSS_ENTROPY || s.kind() == LossKind.CROSS_ENTROPY_DENSE) {
                        badSpec = s.withClassWeights(TestData.filled(p.c + 1, 1));
                        expect = "classWeights";
                    } else if (s.kind() == LossKind.SOFTMAX_FOCAL) {
                        badSpec = s.withClassWeights(TestData.filled(p.c + 1, 1));
                        expect = "alpha";
                    } else {
                        defect = "stride 0";
                        expect = "sampleWeights";
                    }
                }
                default -> expect = null;
            }
            final Problem problem = bad;
            Call badCall = new Call(badSpec, problem, call.r(), call.scale(), call.denominator(), true, call.places(),
                    call.stride(), false);
            Loss loss = badSpec.build(call.r(), call.scale(), true);
            Built built = build(badCall, defect);
            if (expect == null) {
                expect = built.expect;
            }
            final Batch batch = built.batch;
            if (defect.equals("stride 0")) {
                batch.sampleWeights(TestData.filled(p.n, 1), 0, 0);
                expect = "stride";
            }
            if (defect.equals("negative denominator")) {
                if (call.r() == Reduction.MEAN || call.r() == Reduction.BATCH_MEAN) {
                    batch.denominator(rng.nextBoolean() ? -1 : Double.NaN);
                    expect = "denominator";
                } else {
                    batch.denominator(1);
                    expect = "denominator";
                }
            }
            float[] gBefore = built.gradient();
            float[] tBefore = built.perTerm();
            float[] xBefore = built.predictions();
            String fragment = expect;
            IllegalArgumentException e = null;
            try {
                loss.compute(batch, nat);
            } catch (IllegalArgumentException thrown) {
                e = thrown;
            }
            if (e == null) {
                fail("no IllegalArgumentException for " + defect + " (expected one naming " + fragment + ")");
            }
            if (!String.valueOf(e.getMessage()).contains(fragment)) {
                fail("the message \"" + e.getMessage() + "\" does not name " + fragment);
            }
            Checks.sameBits(gBefore, built.gradient(), "gradient after a rejected call");
            Checks.sameBits(tBefore, built.perTerm(), "perTerm after a rejected call");
            Checks.sameBits(xBefore, built.predictions(), "predictions after a rejected call");
        }

        // ------------------------------------------------------------------ layouts

        /** A batch in the call's layout, and how to read its outputs back. */
        record Built(Batch batch, Slot gradSlot, Slot termSlot, Slot xSlot, String expect) {
            float[] gradient() {
                return gradSlot == null ? new float[0] : gradSlot.read();
            }

            float[] perTerm() {
                return termSlot == null ? new float[0] : termSlot.read();
            }

            float[] predictions() {
                return xSlot.read();
            }
        }

        /** One float argument as placed: a heap array at an offset, or a buffer from its position. */
        static final class Slot {
            float[] array;
            int offset;
            FloatBuffer buffer;
            int length;

            float[] read() {
                float[] a = new float[length];
                if (array != null) {
                    System.arraycopy(array, offset, a, 0, length);
                } else {
                    for (int i = 0; i < length; i++) {
                        a[i] = buffer.get(buffer.position() + i);
                    }
                }
                return a;
            }
        }

        private static final float GARBAGE = -3.5e33f;

        /** The data placed as {@code place} asks, with garbage before and after. */
        private Slot place(float[] data, Place place, int stride) {
            int length = data.length == 0 ? 0 : (data.length - 1) * stride + 1;
            int pad = rng.nextInt(5);
            Slot s = new Slot();
            s.length = length;
            switch (place) {
                case ARRAY -> {
                    s.array = TestData.filled(pad + length + 2 + rng.nextInt(3), GARBAGE);
                    s.offset = pad;
                    for (int i = 0; i < data.length; i++) {
                        s.array[pad + i * stride] = data[i];
                    }
                }
                case HEAP_BUFFER -> {
                    float[] a = TestData.filled(pad + length + 2, GARBAGE);
                    for (int i = 0; i < data.length; i++) {
                        a[pad + i * stride] = data[i];
                    }
                    s.buffer = rng.nextBoolean() ? FloatBuffer.wrap(a).position(pad)
                            : FloatBuffer.wrap(a, pad, length).slice();
                }
                default -> {
                    int bytes = place == Place.DIRECT_ODD_BYTE ? 1 + rng.nextInt(3) : 0;
                    ByteBuffer mem = ByteBuffer.allocateDirect(4 * (pad + length + 2) + bytes);
                    FloatBuffer f = mem.position(bytes).slice().order(ByteOrder.nativeOrder()).asFloatBuffer();
                    for (int i = 0; i < f.capacity(); i++) {
                        f.put(i, GARBAGE);
                    }
                    for (int i = 0; i < data.length; i++) {
                        f.put(pad + i * stride, data[i]);
                    }
                    f.position(pad);
                    s.buffer = place == Place.DIRECT_READ_ONLY ? f.asReadOnlyBuffer() : f;
                }
            }
            return s;
        }

        private IntBuffer placeInts(int[] data, Place place) {
            int pad = rng.nextInt(5);
            if (place == Place.ARRAY || place == Place.HEAP_BUFFER) {
                int[] a = new int[pad + data.length + 1];
                System.arraycopy(data, 0, a, pad, data.length);
                return IntBuffer.wrap(a).position(pad);
            }
            int bytes = place == Place.DIRECT_ODD_BYTE ? 1 + rng.nextInt(3) : 0;
            IntBuffer b = ByteBuffer.allocateDirect(4 * (pad + data.length + 1) + bytes).position(bytes).slice()
                    .order(ByteOrder.nativeOrder()).asIntBuffer();
            for (int i = 0; i < data.length; i++) {
                b.put(pad + i, data[i]);
            }
            b.position(pad);
            return place == Place.DIRECT_READ_ONLY ? b.asReadOnlyBuffer() : b;
        }

        /** Passes the slot to the batch setter for its kind: (array, offset) or a buffer. */
        private static void attach(Slot s, BiConsumer<float[], Integer> atOffset, Consumer<FloatBuffer> buffer) {
            if (s.array != null) {
                atOffset.accept(s.array, s.offset);
            } else {
                buffer.accept(s.buffer);
            }
        }

        /**
         * The call's batch in its layout. {@code defect} (invalid calls) changes one argument; the
         * returned {@code expect} is the name the exception must carry where the defect is a layout one.
         */
        private Built build(Call call, String defect) {
            Problem p = call.p();
            Place[] pl = call.places();
            String expect = null;
            boolean none = call.r() == Reduction.NONE;
            int elements = p.n * p.c;
            Place xPlace = call.inPlace() && pl[X] == Place.DIRECT_READ_ONLY ? Place.DIRECT : pl[X];
            Slot x = place(p.x, xPlace, 1);
            Batch b;
            if ("short predictions".equals(defect)) {  // one float short, exactly
                b = rng.nextBoolean() ? Batch.of(Arrays.copyOf(p.x, elements - 1), p.n, p.c)
                        : Batch.of(Problem.directBuffer(elements - 1, 0), p.n, p.c);
                expect = "predictions";
            } else if ("byte order".equals(defect)) {
                FloatBuffer wrong = ByteBuffer.allocateDirect(4 * elements + 4).order(
                        ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN)
                        .asFloatBuffer();
                b = Batch.of(wrong, p.n, p.c);
                expect = "predictions";
            } else if ("offset outside".equals(defect)) {
                b = Batch.of(p.x, p.x.length + 1 + rng.nextInt(3), p.n, p.c);
                expect = "predictions";
            } else {
                b = x.array != null ? Batch.of(x.array, x.offset, p.n, p.c) : Batch.of(x.buffer, p.n, p.c);
            }
            if (p.labels != null) {
                IntBuffer l = placeInts(p.labels, pl[LABELS]);
                if (pl[LABELS] == Place.ARRAY) {
                    b.labels(l.array(), l.position());
                } else {
                    b.labels(l);
                }
            }
            final Batch batch = b;
            if (p.targets != null) {
                attach(place(p.targets, pl[TARGETS], 1), batch::targets, batch::targets);
            }
            if (p.sw != null) {
                Slot s = place(p.sw, pl[SW], call.stride());
                if (s.array != null) {
                    batch.sampleWeights(s.array, s.offset, call.stride());
                } else {
                    batch.sampleWeights(s.buffer, call.stride());
                }
            }
            if (p.ew != null) {
                attach(place(p.ew, pl[EW], 1), batch::elementWeights, batch::elementWeights);
            }
            if (none && p.upstream != null) {
                attach(place(p.upstream, pl[UP], 1), batch::upstream, batch::upstream);
            }
            Slot g = null;
            if (call.gradient()) {
                if (call.inPlace()) {
                    g = x;
                    if (x.array != null) {
                        batch.gradient(x.array, x.offset);
                    } else {
                        batch.gradient(x.buffer.duplicate());
                    }
                } else {
                    g = place(TestData.filled(elements, Float.NaN), pl[GRAD], 1);
                    if ("read-only gradient".equals(defect)) {
                        g = place(TestData.filled(elements, Float.NaN), Place.DIRECT_READ_ONLY, 1);
                        expect = "gradient";
                    }
                    if ("short gradient".equals(defect)) {  // one float short, exactly
                        g = new Slot();
                        g.array = TestData.filled(elements - 1, Float.NaN);
                        g.length = elements - 1;
                        expect = "gradient";
                    }
                    attach(g, batch::gradient, batch::gradient);
                }
            }
            if ("overlap".equals(defect)) {  // the gradient one float into the predictions' memory
                if (x.array != null) {
                    batch.gradient(x.array, x.offset + 1);
                } else if (x.buffer.hasArray()) {
                    batch.gradient(FloatBuffer.wrap(x.buffer.array(), x.buffer.arrayOffset() + x.buffer.position() + 1,
                            elements).slice());
                } else {
                    batch.gradient(x.buffer.duplicate().position(x.buffer.position() + 1).slice());
                }
                expect = "gradient overlaps predictions";
            }
            Slot t = null;
            t = place(TestData.filled(p.terms(call.spec()), Float.NaN), pl[TERMS], 1);
            attach(t, batch::perTerm, batch::perTerm);
            if (call.denominator() != null && (call.r() == Reduction.MEAN || call.r() == Reduction.BATCH_MEAN)) {
                batch.denominator(call.denominator());
            }
            return new Built(batch, g, t, x, expect);
        }
    }
}
