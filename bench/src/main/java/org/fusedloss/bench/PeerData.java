package org.fusedloss.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The benchmark data of shared/PEERS.md, bit for bit, so our figures compare with the peers'; the
 * reference loss values PEERS.md gives for it; and the peers' median times.
 *
 * <p>{@code h1(i) = (i*2654435761 + 12345) mod 2^32}, {@code h2(i) = (i*2246822519 + 7) mod 2^32},
 * {@code i} the flat row-major index. What "weighted" means per loss is fixed here, once, as the
 * PEERS.md cases define it: CE = class + sample weights, BCE = pos_weight, MSE = sample weights,
 * sigmoid focal = sample weights (its peer case is unweighted), softmax focal = alpha (the class
 * weights) + sample weights.
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

    static long h1(long i) {
        return (i * 2654435761L + 12345L) & 0xFFFFFFFFL;
    }

    static long h2(long i) {
        return (i * 2246822519L + 7L) & 0xFFFFFFFFL;
    }

    /** Uniform in [-4, 4): {@code (float)(h/2^32*8 - 4)}, computed in double as PEERS.md writes it. */
    private static float uniform(long h) {
        return (float) (h / 4294967296.0 * 8 - 4);
    }

    /** Logits (or MSE predictions), N x C. Filled in parallel: 131 M values at the largest shape. */
    public synchronized float[] logits() {
        if (logits != null) {
            return logits;
        }
        float[] x = logits = new float[Math.toIntExact(elements())];
        IntStream.range(0, x.length).parallel().forEach(i -> x[i] = uniform(h1(i)));
        return x;
    }

    /** Class indices {@code y[n] = (n*7919 + 13) mod C}. */
    public int[] labels() {
        int[] y = new int[rows];
        for (int n = 0; n < rows; n++) {
            y[n] = (int) (((long) n * 7919 + 13) % cols);
        }
        return y;
    }

    /** Class weights {@code 0.5 + (c mod 7) * 0.25}. */
    public float[] classWeights() {
        float[] w = new float[cols];
        for (int c = 0; c < cols; c++) {
            w[c] = 0.5f + (c % 7) * 0.25f;
        }
        return w;
    }

    /** Sample weights {@code 0.25 + (n mod 5) * 0.25}. */
    public float[] sampleWeights() {
        float[] w = new float[rows];
        for (int n = 0; n < rows; n++) {
            w[n] = 0.25f + (n % 5) * 0.25f;
        }
        return w;
    }

    /** Binary targets {@code h2(i) >> 31}, N x K. */
    public synchronized float[] binaryTargets() {
        if (binaryTargets != null) {
            return binaryTargets;
        }
        float[] t = binaryTargets = new float[Math.toIntExact(elements())];
        IntStream.range(0, t.length).parallel().forEach(i -> t[i] = h2(i) >>> 31);
        return t;
    }

    /** pos_weight {@code 1 + (k mod 4) * 0.5}, one per output column. */
    public float[] posWeight() {
        float[] w = new float[cols];
        for (int k = 0; k < cols; k++) {
            w[k] = 1f + (k % 4) * 0.5f;
        }
        return w;
    }

    /** Regression targets {@code (float)(h2(i)/2^32*8 - 4)}, N x K. */
    public synchronized float[] regressionTargets() {
        if (regressionTargets != null) {
            return regressionTargets;
        }
        float[] m = regressionTargets = new float[Math.toIntExact(elements())];
        IntStream.range(0, m.length).parallel().forEach(i -> m[i] = uniform(h2(i)));
        return m;
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

    private static final Map<String, Double> REFERENCE_LOSS = Map.ofEntries(
            Map.entry("ce_weighted 4096x1000", 8.826467),
            Map.entry("ce_weighted 256x32000", 12.415470),
            Map.entry("ce_weighted 65536x10", 4.179278),
            Map.entry("ce_weighted 1024x128256", 13.696568),
            Map.entry("ce_mean 4096x1000", 8.821210),
            Map.entry("ce_mean 256x32000", 12.324988),
            Map.entry("ce_mean 65536x10", 4.179576),
            Map.entry("ce_mean 1024x128256", 13.689886),
            Map.entry("bce_posw 65536x100", 1.651441),
            Map.entry("mse_weighted 65536x100", 10.666798),
            Map.entry("focal 65536x100", 0.447684));

    /** The loss value PEERS.md gives (PyTorch = DJL = naive Java, ~7 digits), or null. */
    public static Double referenceLoss(String peerCase, String shape) {
        return peerCase == null ? null : REFERENCE_LOSS.get(peerCase + " " + shape);
    }

    /**
     * Median ms, fwd + bwd: PyTorch CPU, DJL, DL4J/ND4J, naive Java (null where PEERS.md has none), as
     * PEERS.md gives them for the AMD EPYC (Zen 5) machine, 2026-12-05. A run of shared/peers/run_all.sh
     * in the same sitting is fairer: FloorReport reads its results files.
     */
    private static final Map<String, Double[]> PEER_MS = Map.ofEntries(
            Map.entry("ce_weighted 65536x10", new Double[] {3.94, 7.92, 14.5, 12.2}),
            Map.entry("ce_weighted 4096x1000", new Double[] {3.63, 4.81, 42.4, 78.3}),
            Map.entry("ce_weighted 256x32000", new Double[] {11.4, 9.95, 80.6, 146.8}),
            Map.entry("ce_weighted 1024x128256", new Double[] {3015.0, 3745.0, 1264.0, 2471.0}),
            Map.entry("ce_mean 1024x128256", new Double[] {3143.0, 4185.0, 985.0, null}),
            Map.entry("bce_posw 65536x100", new Double[] {34.2, 127.3, 109.5, 160.6}),
            Map.entry("mse_weighted 65536x100", new Double[] {6.33, 11.9, 11.0, 6.95}),
            Map.entry("focal 65536x100", new Double[] {62.6, 161.6, null, 289.3}));

    private static final String[] PEER_NAMES = {"PyTorch", "DJL", "DL4J", "naive Java"};

    /** The fastest peer's median ms for this case and shape, or NaN when PEERS.md has none. */
    public static double fastestPeerMs(String peerCase, String shape) {
        Double[] times = peerCase == null ? null : PEER_MS.get(peerCase + " " + shape);
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
        Double[] times = peerCase == null ? null : PEER_MS.get(peerCase + " " + shape);
        double best = fastestPeerMs(peerCase, shape);
        if (times != null) {
            for (int i = 0; i < times.length; i++) {
                if (times[i] != null && times[i] == best) {
                    return PEER_NAMES[i];
                }
            }
        }
        return null;
    }
}
