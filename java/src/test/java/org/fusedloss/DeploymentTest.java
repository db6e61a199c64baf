package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library as a user's program sees it, each in a child JVM of the JDK running the suite (17, and
 * 25 in the second run): on the module path, on the class path without JavaCPP, and under a CPU mask.
 */
class DeploymentTest {
    private static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";

    /** The loss Probe computes, on the Java backend of this JVM. */
    private static double expectedLoss() {
        float[] logits = {2f, 0.5f, -1f, 0f, 1f, 0f};
        return CrossEntropy.builder().build().compute(Batch.of(logits, 2, 3).labels(new int[] {0, 1})
                .gradient(new float[6]), Backends.java()).loss();
    }

    private static void computedTheLoss(ChildJvm.Result r, String backend) {
        assertEquals(backend, r.value("loss.backend"), () -> ctx("backend that computed:\n" + r.out()));
        assertEquals(expectedLoss(), Double.parseDouble(r.value("loss")), 1e-6, () -> ctx(r.out()));
    }

    /**
     * A modular program ({@code requires org.fusedloss}) on the module path with JavaCPP beside it,
     * no {@code --add-modules}: the native backend loads and computes; CUDA says its module is absent.
     */
    @Test
    void aModularProgramRunsOnTheModulePath(@TempDir Path dir) throws Exception {
        TestBackends.require(Backends.nativeCpu());
        Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("app"));
        Files.writeString(src.resolve("module-info.java"), "module app { requires org.fusedloss; }\n");
        Files.writeString(src.resolve("app/Main.java"), """
                package app;
                import org.fusedloss.*;
                public class Main {
                    public static void main(String[] args) {
                        System.out.print(Backends.report());
                        System.out.println("module=" + Backends.class.getModule().getName());
                        float[] logits = {2f, 0.5f, -1f, 0f, 1f, 0f};
                        LossResult r = CrossEntropy.builder().build().compute(Batch.of(logits, 2, 3)
                                .labels(new int[] {0, 1}).gradient(new float[6]));
                        System.out.println("loss=" + r.loss());
                        System.out.println("loss.backend=" + r.backend());
                    }
                }
                """);
        String modulePath = ChildJvm.mainClasses() + File.pathSeparator + ChildJvm.jar("javacpp");
        Path out = dir.resolve("out");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, ctx("this JDK has no compiler"));
        int rc = javac.run(null, null, null, "-d", out.toString(), "--module-path", modulePath,
                src.resolve("module-info.java").toString(), src.resolve("app/Main.java").toString());
        assertEquals(0, rc, ctx("the modular program did not compile"));
        ChildJvm.Result r = new ChildJvm().option("--enable-native-access=org.bytedeco.javacpp")
                .run("--module-path", modulePath + File.pathSeparator + out, "-m", "app/app.Main");
        assertEquals(0, r.exit(), () -> ctx(r.out()));
        assertEquals("org.fusedloss", r.value("module"), () -> ctx(r.out()));
        computedTheLoss(r, "native");
        assertTrue(r.out().contains("fusedloss-cuda"), () -> ctx("cuda says why it is absent:\n" + r.out()));
    }

    /** The class path without JavaCPP: nothing throws, Java computes, and native says JavaCPP is missing. */
    @Test
    void withoutJavaCppTheJavaBackendRunsAndNativeSaysWhy() throws Exception {
        String cp = ChildJvm.classPathWithout("javacpp", "junit", "opentest4j", "apiguardian");
        ChildJvm.Result r = new ChildJvm().option(NATIVE_ACCESS).run("-cp", cp, Probe.class.getName());
        assertEquals(0, r.exit(), () -> ctx(r.out()));
        assertEquals("false", r.value("native.available"), () -> ctx(r.out()));
        assertTrue(r.value("native.reason").contains("JavaCPP"), () -> ctx(r.out()));
        assertTrue(r.out().contains("native  native (unavailable: JavaCPP"), () -> ctx("report:\n" + r.out()));
        assertEquals("java", r.value("best"), () -> ctx(r.out()));
        computedTheLoss(r, "java");
    }

    /**
     * The default thread count is what the JVM sees ({@link Runtime#availableProcessors()}, which
     * honours affinity and container quotas), not the machine's online cores.
     */
    @Test
    void theDefaultThreadCountFollowsTheCpusTheJvmMaySee() throws Exception {
        TestBackends.require(Backends.nativeCpu());
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/taskset")), "taskset is not installed");
        ChildJvm.Result one = new ChildJvm().under("/usr/bin/taskset", "-c", "0").option(NATIVE_ACCESS)
                .run("-cp", System.getProperty("java.class.path"), Probe.class.getName());
        assertEquals(0, one.exit(), () -> ctx(one.out()));
        assertEquals("1", one.value("cpus"), () -> ctx(one.out()));
        assertEquals("1", one.value("native.threads"), () -> ctx("under taskset -c 0:\n" + one.out()));
        assertTrue(one.out().contains("1 threads"), () -> ctx("report:\n" + one.out()));
        ChildJvm.Result quota = new ChildJvm().option(NATIVE_ACCESS, "-XX:ActiveProcessorCount=3")
                .run("-cp", System.getProperty("java.class.path"), Probe.class.getName());
        assertEquals("3", quota.value("native.threads"), () -> ctx("with 3 CPUs for the JVM:\n" + quota.out()));
        for (ChildJvm.Result r : List.of(one, quota)) {
            computedTheLoss(r, "native");
        }
    }
}
