package org.fusedloss.cuda.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.driver.CUdeviceptr;
import org.fusedloss.Backends;
import org.fusedloss.BinaryCrossEntropy;
import org.fusedloss.Batch;
import org.fusedloss.CrossEntropy;
import org.fusedloss.internal.LossKind;
import org.fusedloss.internal.LossOptions;
import org.fusedloss.internal.LossRequest;
import org.fusedloss.internal.Span;
import org.fusedloss.MeanSquaredError;
import org.fusedloss.Reduction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Checks, without a GPU, that the Java launcher mirrors cuda/include/fusedloss_cuda.h exactly: every
 * constant, every kernel name and parameter list (the request by value, the workspace, the
 * result), the grid formulas, and that the kernel's error word turns into the same exception
 * text as the CPU-side checks. With {@code -Dfusedloss.cuda.ptx}, against what nvcc compiled too.
 */
class KernelTableTest {

    private static final Path HEADER = Path.of("..", "cuda", "include", "fusedloss_cuda.h");
    private static final Path ABI = Path.of("..", "native", "include", "fusedloss.h");

    @AfterEach
    void resetVariant() {
        KernelLauncher.forcedVariant = null;
    }

    private static String header() throws IOException {
        assumeTrue(Files.isRegularFile(HEADER), "no " + HEADER.toAbsolutePath() + " (tests run outside the repository)");
        return Files.readString(HEADER);
    }

    @Test
    void everyHeaderConstantHasTheSameValueInJava() throws Exception {
        Map<String, Long> header = new TreeMap<>();
        Pattern define = Pattern.compile("^#define\\s+FLC_(\\w+)\\s+(.+?)\\s*(/\\*.*)?$");
        for (String line : header().split("\n")) {
            Matcher m = define.matcher(line.trim());
            if (m.matches()) {
                header.put(m.group(1), evaluate(m.group(2), header));
            }
        }
        assertTrue(header.size() >= 43, "parsed only " + header.size() + " constants: " + header);
        Map<String, Long> java = new HashMap<>();
        for (Field f : KernelLauncher.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                f.setAccessible(true);
                java.put(f.getName(), (long) f.getInt(null));
            }
        }
        for (Map.Entry<String, Long> e : header.entrySet()) {
            assertTrue(java.containsKey(e.getKey()), "KernelLauncher lacks FLC_" + e.getKey());
            assertEquals(e.getValue(), java.get(e.getKey()), "FLC_" + e.getKey());
        }
        for (Reduction r : Reduction.values()) {
            assertEquals((long) r.ordinal(), header.get(r.name()), "FLC_" + r.name() + " vs the Java enum order");
        }
    }

    /** Family -> the kernels of FL_LOSSES (native/include/fusedloss.h) of that family, in order. */
    private static Map<String, List<String>> lossKernels() throws IOException {
        assumeTrue(Files.isRegularFile(ABI), "no " + ABI.toAbsolutePath());
        Map<String, List<String>> out = new TreeMap<>();
        Matcher m = Pattern.compile("X\\(([A-Z_0-9]+), ([a-z_0-9]+), ([a-z]+)\\)").matcher(Files.readString(ABI));
        while (m.find()) {
            List<String> kernels = out.computeIfAbsent(m.group(3), f -> new ArrayList<>());
            if (!kernels.contains(m.group(2))) {
                kernels.add(m.group(2));
            }
        }
        return out;
    }

    @Test
    void everyKernelSignatureMatchesTheHeader() throws Exception {
        Map<String, String> header = headerSignatures(header(), lossKernels());
        Map<String, String> java = javaSignatures();
        System.out.println("kernel signatures (S fl_request by value, J long long, I int, F float, D double, P pointer): " + java);
        assertEquals(new TreeSet<>(header.keySet()), new TreeSet<>(KernelLauncher.kernelNames()),
                "kernel names of the header vs KernelLauncher.kernelNames()");
        assertEquals(new TreeMap<>(header), new TreeMap<>(java));
    }

    /**
     * Opt-in, against what nvcc really compiled: {@code -Dfusedloss.cuda.ptx=all.ptx} from
     * {@code nvcc -ptx -std=c++17 -arch=compute_90 -Inative/include -Icuda/include -Icuda/kernels -o all.ptx <build>/cuda/fusedloss_all.cu}
     * (the unit cuda/CMakeLists.txt generates). PTX types
     * pointers as .u64 like long long, so pointers compare as 8-byte integers there.
     */
    @Test
    void everyKernelSignatureMatchesThePtx() throws IOException {
        String ptxPath = System.getProperty("fusedloss.cuda.ptx");
        assumeTrue(ptxPath != null, "-Dfusedloss.cuda.ptx=<file.ptx> not given");
        String ptx = Files.readString(Path.of(ptxPath));
        Map<String, String> compiled = new TreeMap<>();
        Matcher entry = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\((.*?)\\)", Pattern.DOTALL).matcher(ptx);
        while (entry.find()) {
            StringBuilder sig = new StringBuilder();
            Matcher param = Pattern.compile("\\.param\\s+(?:\\.align\\s+\\d+\\s+)?\\.(\\w+)\\s+\\w+(\\[\\d+\\])?")
                    .matcher(entry.group(2));
            while (param.find()) {
                String t = param.group(1);
                if (param.group(2) != null) {  // the request by value: as many bytes as Java writes
                    assertEquals("[" + org.fusedloss.internal.AbiRequest.BYTES + "]", param.group(2),
                            entry.group(1) + ": the size of fl_request");
                }
                sig.append(param.group(2) != null ? 'S' : t.endsWith("64") && !t.startsWith("f") ? 'J'
                        : t.startsWith("f64") ? 'D' : t.startsWith("f32") ? 'F' : 'I');
            }
            compiled.put(entry.group(1), sig.toString());
        }
        Map<String, String> java = new TreeMap<>();
        javaSignatures().forEach((name, sig) -> java.put(name, sig.replace('P', 'J')));
        assertEquals(java, compiled);
    }

    /**
     * Kernel name -> signature, from the comment block of the header: names with {a,b} expanded,
     * and {@code flc_<family kernel>} for each kernel of that family in {@code kernels}.
     */
    static Map<String, String> headerSignatures(String text, Map<String, List<String>> kernels) {
        StringBuilder flat = new StringBuilder();
        for (String line : text.split("\n")) {
            flat.append(line.replaceFirst("^\\s*\\*(?!/)\\s?", "")).append(' ');
        }
        Map<String, String> out = new TreeMap<>();
        Matcher m = Pattern.compile("(flc_(?:<(\\w+) kernel>(_?)|\\w+?))(\\{([\\w,]+)\\})?\\(([^)]*)\\)").matcher(flat);
        while (m.find()) {
            StringBuilder sig = new StringBuilder();
            for (String param : m.group(6).split(",")) {
                String p = param.trim();
                if (p.startsWith("const fl_request")) {
                    sig.append('S');
                } else if (p.contains("*")) {
                    sig.append('P');
                } else if (p.startsWith("long long")) {
                    sig.append('J');
                } else if (p.startsWith("int")) {
                    sig.append('I');
                } else if (p.startsWith("float")) {
                    sig.append('F');
                } else if (p.startsWith("double")) {
                    sig.append('D');
                } else {
                    throw new AssertionError("unknown parameter type in " + m.group() + ": " + p);
                }
            }
            List<String> bases = new ArrayList<>();
            if (m.group(2) == null) {
                bases.add(m.group(1));
            } else {
                for (String kernel : kernels.getOrDefault(m.group(2), List.of())) {
                    bases.add("flc_" + kernel + m.group(3));
                }
            }
            List<String> names = new ArrayList<>();
            for (String base : bases) {
                if (m.group(5) == null) {
                    names.add(base);
                } else {
                    for (String v : m.group(5).split(",")) {
                        names.add(base + v.trim());
                    }
                }
            }
            for (String name : names) {
                String before = out.put(name, sig.toString());
                assertTrue(before == null || before.equals(sig.toString()), "two signatures for " + name);
            }
        }
        return out;
    }

    /** Kernel name -> signature of the argument lists the launcher builds, every kind and variant. */
    static Map<String, String> javaSignatures() {
        Map<String, String> out = new TreeMap<>();
        CUdeviceptr p = new CUdeviceptr();
        for (KernelLauncher.Variant v : KernelLauncher.Variant.values()) {
            KernelLauncher.forcedVariant = v;
            for (LossKind kind : LossKind.values()) {
                for (KernelLauncher.Launch l : KernelLauncher.plan(call(kind, 10, 3000, true), MEMORY, p, p, true)) {
                    String before = out.put(l.kernel(), l.args().signature());
                    assertTrue(before == null || before.equals(l.args().signature()), "two signatures for "
                            + l.kernel());
                }
            }
        }
        KernelLauncher.forcedVariant = null;
        return out;
    }

    /**
     * A call with every input present (or absent), dummy device pointers; the options of the
     * losses with vectors (another loss's options only fill the request's scalar slots, which
     * neither the signatures nor the grids depend on).
     */
    static LossRequest call(LossKind kind, long n, long c, boolean everything) {
        Span p = Span.device("x", 0x7000_0000_0000L);
        Span q = everything ? p : null;
        float[] vector = everything ? new float[(int) c] : null;
        LossOptions options = switch (kind) {
            case CROSS_ENTROPY, CROSS_ENTROPY_DENSE -> new LossOptions.CrossEntropyOptions(vector, -100, 0.1, 1e-4, 30);
            case SOFTMAX_FOCAL -> new LossOptions.SoftmaxFocalOptions(vector, 2, -100);
            case BINARY_CROSS_ENTROPY -> new LossOptions.BinaryCrossEntropyOptions(vector,
                    everything ? new float[2] : null);
            default -> new LossOptions.SigmoidFocalOptions(0.25, 2);
        };
        return new LossRequest(kind, (int) n, (int) c,
                new LossRequest.Inputs(p, kind.takesLabels() ? q : null, kind.takesLabels() ? null : q, q, 1,
                        kind.perRow() ? null : q, q),
                new LossRequest.Outputs(q, q), options, Reduction.MEAN, 1.0, -1.0);
    }

    /** Dummy device addresses: a span's own, and one address for any of the loss's vectors. */
    static final KernelLauncher.Memory MEMORY = new KernelLauncher.Memory() {
        @Override
        public long of(Span span) {
            return span == null ? 0 : span.deviceAddress();
        }

        @Override
        public long of(float[] vector) {
            return vector == null ? 0 : 0x7100_0000_0000L;
        }
    };

    @Test
    void gridsFollowTheHeaderFormulas() {
        CUdeviceptr p = new CUdeviceptr();
        // prep, rows: max(1, min(cdiv(max(n, c), 256), 1024))
        assertGrid(KernelLauncher.prep(call(LossKind.CROSS_ENTROPY, 5000, 10, true), MEMORY, p), "flc_rows_prep", 20, 256);
        assertGrid(KernelLauncher.prep(call(LossKind.SOFTMAX_FOCAL, 4, 128256, true), MEMORY, p), "flc_rows_prep", 501, 256);
        assertGrid(KernelLauncher.prep(call(LossKind.CROSS_ENTROPY_DENSE, 1_000_000, 10, true), MEMORY, p),
                "flc_rows_prep", 1024, 256);
        assertGrid(KernelLauncher.prep(call(LossKind.CROSS_ENTROPY, 0, 1, true), MEMORY, p), "flc_rows_prep", 1, 256);
        // prep, elements: items = element weights ? n * k : n; cdiv(max(items, k, 2), 256)
        assertGrid(KernelLauncher.prep(call(LossKind.BINARY_CROSS_ENTROPY, 10, 300, true), MEMORY, p),
                "flc_elems_prep", 12, 256);
        assertGrid(KernelLauncher.prep(call(LossKind.BINARY_CROSS_ENTROPY, 10, 300, false), MEMORY, p),
                "flc_elems_prep", 2, 256);
        assertGrid(KernelLauncher.prep(call(LossKind.MEAN_SQUARED_ERROR, 1, 1, false), MEMORY, p), "flc_elems_prep", 1, 256);
        // softmax: warp for C <= 1024 (8 rows a block), block above, cluster above 16384 on sm_90+
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 100, 1024, true), MEMORY, p, p, true),
                "flc_cross_entropy_warp", 13, 256);
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 1_000_000, 33, true), MEMORY, p, p, true),
                "flc_cross_entropy_warp", 4096, 256);
        // small for C <= 32 (64 rows a block)
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 1_000_000, 1, true), MEMORY, p, p, true),
                "flc_cross_entropy_small", 4096, 256);
        assertGrid(KernelLauncher.main(call(LossKind.SOFTMAX_FOCAL, 100, 32, true), MEMORY, p, p, true),
                "flc_softmax_focal_small", 2, 256);
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 0, 32, true), MEMORY, p, p, false),
                "flc_cross_entropy_small", 1, 256);
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 3, 1025, true), MEMORY, p, p, true),
                "flc_cross_entropy_block", 3, 512);
        assertGrid(KernelLauncher.main(call(LossKind.SOFTMAX_FOCAL, 3, 16384, true), MEMORY, p, p, true),
                "flc_softmax_focal_block", 3, 512);
        assertGrid(KernelLauncher.main(call(LossKind.SOFTMAX_FOCAL, 3, 16385, true), MEMORY, p, p, true),
                "flc_softmax_focal_cluster", 24, 512);
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 10_000, 128256, true), MEMORY, p, p, true),
                "flc_cross_entropy_cluster", 8 * 4096, 512);
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 10_000, 128256, true), MEMORY, p, p, false),
                "flc_cross_entropy_block", 4096, 512);
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 0, 128256, true), MEMORY, p, p, true),
                "flc_cross_entropy_cluster", 8, 512);
        // element-wise: cdiv(n * k, 1024), capped at 4096
        assertGrid(KernelLauncher.main(call(LossKind.SIGMOID_FOCAL, 5, 1000, true), MEMORY, p, p, true),
                "flc_sigmoid_focal", 5, 256);
        assertGrid(KernelLauncher.main(call(LossKind.MEAN_SQUARED_ERROR, 100_000, 1000, true), MEMORY, p, p, true),
                "flc_mean_squared_error", 4096, 256);
        assertGrid(KernelLauncher.main(call(LossKind.BINARY_CROSS_ENTROPY, 0, 7, true), MEMORY, p, p, true),
                "flc_binary_cross_entropy", 1, 256);
        // A forced cluster variant never reaches a device below sm_90.
        KernelLauncher.forcedVariant = KernelLauncher.Variant.CLUSTER;
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 3, 10, true), MEMORY, p, p, false),
                "flc_cross_entropy_small", 1, 256);
        assertGrid(KernelLauncher.main(call(LossKind.CROSS_ENTROPY, 3, 10, true), MEMORY, p, p, true),
                "flc_cross_entropy_cluster", 24, 512);
    }

    /**
     * A cluster launch the device refuses (an MPS client's SM limit, a small MIG slice: no cluster
     * of 8 blocks can be scheduled) is replaced by the block kernel on the same stream, after the
     * same prep, and clusters are not tried again (issue 17, item 9). A launcher whose driver fails
     * every launch of a *_cluster kernel stands in for such a device; one whose block launch fails
     * too reports the cluster launch's error and keeps trying clusters.
     */
    @Test
    void aClusterLaunchThatFailsFallsBackToTheBlockKernel() {
        CUdeviceptr p = new CUdeviceptr();
        List<String> launched = new ArrayList<>();
        KernelLauncher launcher = new KernelLauncher(true, (l, stream) -> {
            launched.add(l.kernel());
            return l.kernel().endsWith("_cluster") ? jcuda.driver.CUresult.CUDA_ERROR_INVALID_CLUSTER_SIZE
                    : jcuda.driver.CUresult.CUDA_SUCCESS;
        });
        launcher.launch(call(LossKind.CROSS_ENTROPY, 4, 20000, true), MEMORY, p, p, null);
        assertEquals(List.of("flc_rows_prep", "flc_cross_entropy_cluster", "flc_cross_entropy_block"), launched);
        assertTrue(!launcher.clusterCapable(), "clusters are given up after the block kernel ran");
        launched.clear();
        launcher.launch(call(LossKind.SOFTMAX_FOCAL, 4, 20000, true), MEMORY, p, p, null);
        assertEquals(List.of("flc_rows_prep", "flc_softmax_focal_block"), launched);

        launched.clear();
        KernelLauncher broken = new KernelLauncher(true, (l, stream) -> {
            launched.add(l.kernel());
            return l.kernel().equals("flc_rows_prep") ? jcuda.driver.CUresult.CUDA_SUCCESS
                    : jcuda.driver.CUresult.CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
        });
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> broken.launch(call(LossKind.CROSS_ENTROPY, 4, 20000, true), MEMORY, p, p, null));
        assertTrue(e.getMessage().contains("flc_cross_entropy_cluster"), e.getMessage());
        assertTrue(broken.clusterCapable(), "the block kernel did not run either: nothing learnt about clusters");
        assertEquals(List.of("flc_rows_prep", "flc_cross_entropy_cluster", "flc_cross_entropy_block"), launched);
    }

    private static void assertGrid(KernelLauncher.Launch l, String kernel, int grid, int threads) {
        assertEquals(kernel, l.kernel());
        assertEquals(grid, l.grid(), kernel + " grid");
        assertEquals(threads, l.threads(), kernel + " threads");
    }

    @Test
    void kernelErrorsReadLikeTheCpuChecks() {
        float[] logits = new float[40];
        int[] labels = new int[4];
        labels[2] = 12;
        CrossEntropy ce = CrossEntropy.builder().reduction(Reduction.SUM).computeGradient(false).build();
        String cpu = assertThrows(IllegalArgumentException.class,
                () -> ce.compute(Batch.of(logits, 4, 10).labels(labels), Backends.java())).getMessage();
        assertEquals(cpu, kernelMessage(KernelLauncher.ERR_LABEL, 2, 12, LossKind.CROSS_ENTROPY, 10, -100));

        float[] sw = {1, 1, 1, -1};
        cpu = assertThrows(IllegalArgumentException.class, () -> ce.compute(Batch.of(logits, 4, 10)
                .labels(new int[4]).sampleWeights(sw), Backends.java())).getMessage();
        assertEquals(cpu, kernelMessage(KernelLauncher.ERR_SAMPLE_WEIGHT, 3, -1, LossKind.CROSS_ENTROPY, 10, -100));

        MeanSquaredError mse = MeanSquaredError.builder().computeGradient(false).build();
        float[] ew = new float[40];
        ew[17] = Float.POSITIVE_INFINITY;
        cpu = assertThrows(IllegalArgumentException.class, () -> mse.compute(Batch.of(logits, 4, 10)
                .targets(new float[40]).elementWeights(ew), Backends.java())).getMessage();
        assertEquals(cpu, kernelMessage(KernelLauncher.ERR_ELEMENT_WEIGHT, 17, Double.POSITIVE_INFINITY,
                LossKind.MEAN_SQUARED_ERROR, 10, -100));

        BinaryCrossEntropy bce = BinaryCrossEntropy.builder().binaryClassWeights(1, 3).computeGradient(false).build();
        float[] t = new float[40];
        t[9] = 0.5f;
        cpu = assertThrows(IllegalArgumentException.class,
                () -> bce.compute(Batch.of(logits, 4, 10).targets(t), Backends.java())).getMessage();
        assertEquals(cpu, kernelMessage(KernelLauncher.ERR_TARGET, 9, 0.5, LossKind.BINARY_CROSS_ENTROPY, 10, -100));

        // issue 11: gradientScale / denominator beyond a double, the denominator summed on the device
        float[] tiny = {1e-40f, 1e-40f, 1e-40f, 1e-40f};
        MeanSquaredError huge = MeanSquaredError.builder().gradientScale(1e300).build();
        cpu = assertThrows(IllegalArgumentException.class, () -> huge.compute(Batch.of(logits, 4, 10)
                .targets(new float[40]).sampleWeights(tiny).gradient(new float[40]), Backends.java())).getMessage();
        assertEquals(cpu, kernelMessage(KernelLauncher.ERR_GRAD_SCALE, 0, 10 * 4 * (double) 1e-40f,
                LossKind.MEAN_SQUARED_ERROR, 10, -100, 1e300));

        assertTrue(KernelLauncher.error(result(KernelLauncher.ERR_UNSUPPORTED, 0, 0), LossKind.CROSS_ENTROPY, 10, -100, 1.0)
                instanceof IllegalStateException);
        assertTrue(KernelLauncher.error(result(KernelLauncher.ERR_LAUNCH, 5000, 0), LossKind.CROSS_ENTROPY, 10, -100, 1.0)
                instanceof IllegalStateException);
    }

    private static String kernelMessage(int code, long index, double value, LossKind kind, long cols, int ignore) {
        return kernelMessage(code, index, value, kind, cols, ignore, 1.0);
    }

    private static String kernelMessage(int code, long index, double value, LossKind kind, long cols, int ignore,
                                        double gradientScale) {
        RuntimeException e = KernelLauncher.error(result(code, index, value), kind, cols, ignore, gradientScale);
        assertTrue(e instanceof IllegalArgumentException, e.toString());
        return e.getMessage();
    }

    private static double[] result(int code, long index, double value) {
        double[] r = new double[KernelLauncher.RESULT_DOUBLES];
        r[KernelLauncher.R_ERROR_CODE] = code;
        r[KernelLauncher.R_ERROR_INDEX] = index;
        r[KernelLauncher.R_ERROR_VALUE] = value;
        return r;
    }

    // A tiny evaluator for the header's constant expressions: integers, names, + - *, parentheses.
    private static long evaluate(String expression, Map<String, Long> known) {
        Evaluator e = new Evaluator(expression.replace(" ", ""), known);
        long v = e.sum();
        if (e.at != e.s.length()) {
            throw new AssertionError("cannot evaluate " + expression);
        }
        return v;
    }

    private static final class Evaluator {
        final String s;
        final Map<String, Long> known;
        int at;

        Evaluator(String s, Map<String, Long> known) {
            this.s = s;
            this.known = known;
        }

        long sum() {
            long v = product();
            while (at < s.length() && (s.charAt(at) == '+' || s.charAt(at) == '-')) {
                char op = s.charAt(at++);
                long w = product();
                v = op == '+' ? v + w : v - w;
            }
            return v;
        }

        long product() {
            long v = atom();
            while (at < s.length() && s.charAt(at) == '*') {
                at++;
                v *= atom();
            }
            return v;
        }

        long atom() {
            if (s.charAt(at) == '(') {
                at++;
                long v = sum();
                at++;  // ')'
                return v;
            }
            int start = at;
            while (at < s.length() && (Character.isLetterOrDigit(s.charAt(at)) || s.charAt(at) == '_')) {
                at++;
            }
            String token = s.substring(start, at);
            if (Character.isDigit(token.charAt(0))) {
                return Long.decode(token);
            }
            Long v = known.get(token.replaceFirst("^FLC_", ""));
            if (v == null) {
                throw new AssertionError("unknown name " + token);
            }
            return v;
        }
    }
}
