package org.fusedloss.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * The benchmark data of shared/PEERS.md, bit for bit, so our figures compare with the peers'; the
 * reference loss values PEERS.md gives for it; and the peers' median times: all read from
 * bench/peers.txt (in the jar beside this class), the one file the C++ and Python benchmarks read
 * too. What "weighted" means per loss is fixed here, once, as the PEERS.md cases define it: CE =
 * class + sample weights, BCE = pos_weight, MSE = sample weights, sigmoid focal = sample weights
 * (its peer case is unweighted), softmax focal = alpha (the class weights) + sample weights.
 */
public final class PeerData {
    /** The shapes PEERS.md benchmarks the softmax losses on. */
    public static final String[] SOFTMAX_SHAPES = {"65536x10", "4096x1000", "256x32000", "1024x128256"};
    /** The shape PEERS.md benchmarks the element-wise losses on. */
    public static final String ELEMENTWISE_SHAPE = "65536x100";

    public final int rows;
    public final int cols;

    // The large arrays, made once per instance: the weighted and the unweighted call of a paired
    // timing then read and write the same memory, so their ratio measures the weights and not
    // where each call's arrays happened to land (page sizes, cache sets).
    private float[] logits;
    private float[] binaryTargets;
    private float[] regressionTargets;
    private float[] gradient;
    private FloatBuffer directLogits;
    private FloatBuffer directGradient;

    /** The last shape asked for, kept so that consecutive calls of a shape share its arrays. */
    private static PeerData last;

    private PeerData(int rows, int cols) {
        this.rows = rows;
        this.cols = cols;
    }

    /**
     * The data of a shape written {@code "NxC"}, e.g. {@code "4096x1000"}. Consecutive calls for the
     * same shape return the same instance, whose large arrays (logits, targets, gradient) are made
     * once and shared; callers must not change the inputs.
     */
    public static synchronized PeerData of(String shape) {
        String[] parts = shape.toLowerCase().split("x");
        if (parts.length != 2) {
            throw new IllegalArgumentException("shape = " + shape + " is not of the form NxC");
        }
        int rows = Integer.parseInt(parts[0].trim());
        int cols = Integer.parseInt(parts[1].trim());
        if (last == null || last.rows != rows || last.cols != cols) {
            last = new PeerData(rows, cols);   // the previous shape's arrays can be collected
        }
        return last;
    }

    /** {@link #logits()} in a direct buffer (native byte order), made once. */
    public synchronized FloatBuffer directLogits() {
        if (directLogits == null) {
            float[] x = logits();
            directLogits = ByteBuffer.allocateDirect(x.length * Float.BYTES).order(ByteOrder.nativeOrder())
                    .asFloatBuffer().put(x).flip();
        }
        return directLogits;
    }

    /** A direct gradient buffer of this shape, shared like {@link #gradient()}. */
    public synchronized FloatBuffer directGradient() {
        if (directGradient == null) {
            directGradient = ByteBuffer.allocateDirect(Math.toIntExact(elements()) * Float.BYTES)
                    .order(ByteOrder.nativeOrder()).asFloatBuffer();
            for (int i = 0; i < directGradient.capacity(); i++) {
                directGradient.put(i, 0f);   // every page touched before anything is timed
            }
        }
        return directGradient;
    }

    /** The gradient buffer of this shape, N x C, shared by the calls on it (an output only). */
    public synchronized float[] gradient() {
        if (gradient == null) {
            gradient = new float[Math.toIntExact(elements())];
        }
        return gradient;
    }

    public long elements() {
        return (long) rows * cols;
    }

    /** The bytes a fused kernel must move at the least: read the logits, write the gradient. */
    public long bytesMoved() {
        return 2L * elements() * Float.BYTES;
    }

    public String shape() {
        return rows + "x" + cols;
    }

    /** Logits (or MSE predictions), N x C. Filled in parallel: 131 M values at the largest shape. */
    public synchronized float[] logits() {
        if (logits == null) {
            logits = FILE.uniform("logits", elements());
        }
        return logits;
    }

    /** Class indices, one per row ({@code labels} of peers.txt). */
    public int[] labels() {
        int[] y = new int[rows];
        for (int n = 0; n < rows; n++) {
            y[n] = (int) ((n * FILE.labelMultiplier + FILE.labelAddend) % cols);
        }
        return y;
    }

    /** Class weights, one per class. */
    public float[] classWeights() {
        return FILE.periodic("class_weights", cols);
    }

    /** Sample weights, one per row. */
    public float[] sampleWeights() {
        return FILE.periodic("sample_weights", rows);
    }

    /** Binary targets (0 or 1), N x K. */
    public synchronized float[] binaryTargets() {
        if (binaryTargets == null) {
            binaryTargets = FILE.bits("binary_targets", elements());
        }
        return binaryTargets;
    }

    /** pos_weight, one per output column. */
    public float[] posWeight() {
        return FILE.periodic("pos_weight", cols);
    }

    /** Regression targets, N x K. */
    public synchronized float[] regressionTargets() {
        if (regressionTargets == null) {
            regressionTargets = FILE.uniform("regression_targets", elements());
        }
        return regressionTargets;
    }

    // ---- What PEERS.md says: reference loss values and peer times (another run, another machine) ----

    /** The PEERS.md case a benchmark corresponds to, e.g. {@code ce_weighted}, or null when it has none. */
    public static String peerCase(String loss, boolean weighted) {
        return switch (loss) {
            case "CrossEntropy" -> weighted ? "ce_weighted" : "ce_mean";
            case "BinaryCrossEntropy" -> weighted ? "bce_posw" : null;
            case "MeanSquaredError" -> weighted ? "mse_weighted" : null;
            case "SigmoidFocal" -> weighted ? null : "focal";
            default -> null;
        };
    }

    /** The loss value PEERS.md gives (PyTorch = DJL = naive Java, ~7 digits), or null. */
    public static Double referenceLoss(String peerCase, String shape) {
        return peerCase == null ? null : FILE.expected.get(peerCase + " " + shape);
    }

    /** The fastest peer's median ms for this case and shape, or NaN when PEERS.md has none. */
    public static double fastestPeerMs(String peerCase, String shape) {
        Double[] times = peerCase == null ? null : FILE.peerMs.get(peerCase + " " + shape);
        double best = Double.NaN;
        if (times != null) {
            for (Double t : times) {
                if (t != null && !(t >= best)) {
                    best = t;
                }
            }
        }
        return best;
    }

    /** The name of the fastest peer for this case and shape, or null. */
    public static String fastestPeerName(String peerCase, String shape) {
        Double[] times = peerCase == null ? null : FILE.peerMs.get(peerCase + " " + shape);
        double best = fastestPeerMs(peerCase, shape);
        if (times != null) {
            for (int i = 0; i < times.length; i++) {
                if (times[i] != null && times[i] == best) {
                    return FILE.peerNames.get(i);
                }
            }
        }
        return null;
    }

    // ---- bench/peers.txt ----

    private static final PeersFile FILE = PeersFile.read();

    /** What bench/peers.txt says, parsed once. */
    private static final class PeersFile {
        final Map<String, long[]> hashes = new HashMap<>();         // name -> {multiplier, addend}
        final Map<String, String[]> uniforms = new HashMap<>();     // name -> {hash, span, low}
        final Map<String, String[]> bits = new HashMap<>();         // name -> {hash, shift}
        final Map<String, double[]> periodic = new HashMap<>();     // name -> {base, period, step}
        final Map<String, Double> expected = new HashMap<>();       // "case shape" -> loss
        final Map<String, Double[]> peerMs = new HashMap<>();       // "case shape" -> ms per peer
        final List<String> peerNames = List.of("PyTorch", "DJL", "DL4J", "naive Java");
        long labelMultiplier;
        long labelAddend;

        static PeersFile read() {
            try (InputStream in = PeerData.class.getResourceAsStream("peers.txt")) {
                if (in == null) {
                    throw new IllegalStateException("peers.txt is not in the jar beside PeerData");
                }
                PeersFile f = new PeersFile();
                for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                    String l = line.replaceFirst("#.*", "").trim();
                    if (!l.isEmpty()) {
                        f.add(l.split("\\s+"));
                    }
                }
                return f;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private void add(String[] t) {
            switch (t[0]) {
                case "hash" -> hashes.put(t[1], new long[] {Long.parseLong(t[2]), Long.parseLong(t[3])});
                case "uniform" -> uniforms.put(t[1], new String[] {t[2], t[3], t[4]});
                case "bit" -> bits.put(t[1], new String[] {t[2], t[3]});
                case "labels" -> {
                    labelMultiplier = Long.parseLong(t[1]);
                    labelAddend = Long.parseLong(t[2]);
                }
                case "periodic" -> periodic.put(t[1], new double[] {Double.parseDouble(t[2]), Double.parseDouble(t[3]),
                    Double.parseDouble(t[4])});
                case "expected" -> expected.put(t[1] + " " + t[2], Double.parseDouble(t[3]));
                case "peer" -> {
                    Double[] ms = new Double[t.length - 3];
                    for (int i = 0; i < ms.length; i++) {
                        ms[i] = t[i + 3].equals("-") ? null : Double.parseDouble(t[i + 3]);
                    }
                    peerMs.put(t[1] + " " + t[2], ms);
                }
                default -> throw new IllegalStateException("peers.txt: unknown line " + String.join(" ", t));
            }
        }

        private long[] hash(String name) {
            return Objects.requireNonNull(hashes.get(name), "peers.txt has no hash " + name);
        }

        /** {@code (float)(hash(i) / 2^32 * span + low)}, in parallel. */
        float[] uniform(String name, long length) {
            String[] u = Objects.requireNonNull(uniforms.get(name), "peers.txt has no uniform " + name);
            long[] h = hash(u[0]);
            double span = Double.parseDouble(u[1]);
            double low = Double.parseDouble(u[2]);
            float[] a = new float[Math.toIntExact(length)];
            IntStream.range(0, a.length).parallel()
                    .forEach(i -> a[i] = (float) (((i * h[0] + h[1]) & 0xFFFFFFFFL) / 4294967296.0 * span + low));
            return a;
        }

        /** {@code hash(i) >> shift}, in parallel. */
        float[] bits(String name, long length) {
            String[] b = Objects.requireNonNull(bits.get(name), "peers.txt has no bit " + name);
            long[] h = hash(b[0]);
            int shift = Integer.parseInt(b[1]);
            float[] a = new float[Math.toIntExact(length)];
            IntStream.range(0, a.length).parallel().forEach(i -> a[i] = ((i * h[0] + h[1]) & 0xFFFFFFFFL) >>> shift);
            return a;
        }

        /** {@code base + (j mod period) * step}. */
        float[] periodic(String name, int length) {
            double[] p = Objects.requireNonNull(periodic.get(name), "peers.txt has no periodic " + name);
            float[] w = new float[length];
            for (int j = 0; j < length; j++) {
                w[j] = (float) (p[0] + (j % (int) p[1]) * p[2]);
            }
            return w;
        }
    }
}
