package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The native backend keeps the JNI rules: run under {@code -Xcheck:jni}, calls with heap arrays,
 * direct buffers and both mixed print no JNI warning (the JavaCPP glue must not call other JNI
 * functions while it holds arrays pinned with GetPrimitiveArrayCritical).
 */
class JniRulesTest {
    /** Runs in the child JVM: every loss on heap, direct and mixed memory, on the native backend. */
    public static void main(String[] args) {
        Backend nat = Backends.nativeCpu();
        if (!nat.isAvailable()) {
            throw new IllegalStateException("native backend unavailable: " + nat.unavailabilityReason());
        }
        int n = 5000;
        int c = 3;
        float[] x = new float[n * c];
        float[] w = new float[n];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % c;
            w[i] = 1 + i % 3;
        }
        float[] t = new float[n * c];  // targets in [0, 1], as sigmoid focal needs
        for (int i = 0; i < x.length; i++) {
            x[i] = (i % 7) * 0.25f;
            t[i] = (i % 5) * 0.25f;
        }
        for (boolean directX : new boolean[] {false, true}) {
            for (boolean directRest : new boolean[] {false, true}) {
                Batch ce = (directX ? Batch.of(direct(x), n, c) : Batch.of(x, n, c)).labels(y)
                        .sampleWeights(directRest ? direct(w) : FloatBuffer.wrap(w), 1)
                        .gradient(directRest ? direct(new float[n * c]) : FloatBuffer.wrap(new float[n * c]));
                check(CrossEntropy.builder().classWeights(new float[] {1, 2, 3}).build().compute(ce, nat));
                check(SoftmaxFocal.builder().gamma(2).build().compute(ce, nat));
                Batch el = (directX ? Batch.of(direct(x), n, c) : Batch.of(x, n, c))
                        .targets(directRest ? direct(t) : FloatBuffer.wrap(t))
                        .sampleWeights(directRest ? direct(w) : FloatBuffer.wrap(w), 1)
                        .elementWeights(directRest ? direct(x) : FloatBuffer.wrap(x))
                        .gradient(directRest ? direct(new float[n * c]) : FloatBuffer.wrap(new float[n * c]));
                check(MeanSquaredError.builder().build().compute(el, nat));
                check(SigmoidFocal.builder().build().compute(el, nat));
            }
        }
        System.out.println("jni-rules-ok");
    }

    private static void check(LossResult r) {
        if (!"native".equals(r.backend()) || !Double.isFinite(r.loss())) {
            throw new IllegalStateException("unexpected result " + r);
        }
    }

    private static FloatBuffer direct(float[] a) {
        return ByteBuffer.allocateDirect(a.length * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer()
                .put(a).flip();
    }

    @Test
    void noJniWarningUnderXcheckJni() throws Exception {
        TestBackends.require(Backends.nativeCpu());
        List<String> cmd = new ArrayList<>();
        cmd.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        cmd.add("-Xcheck:jni");
        if (Runtime.version().feature() >= 22) {
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(JniRulesTest.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), () -> ctx("the -Xcheck:jni run did not finish"));
        assertEquals(0, p.exitValue(), () -> ctx("the -Xcheck:jni run failed:\n" + out));
        assertTrue(out.contains("jni-rules-ok"), () -> ctx("the -Xcheck:jni run did not complete:\n" + out));
        assertFalse(out.contains("JNI"), () -> ctx("JNI warnings under -Xcheck:jni:\n"
                + out.lines().limit(20).reduce("", (a, b) -> a + b + "\n")));
    }
}
