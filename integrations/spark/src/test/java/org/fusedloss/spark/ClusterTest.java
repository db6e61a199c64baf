package org.fusedloss.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.fusedloss.Backends;
import org.fusedloss.CrossEntropy;
import org.fusedloss.nativecpu.NativeBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Executors in JVMs of their own: Spark's local-cluster master (a standalone master and two
 * workers inside this JVM, each worker launching an executor process). The native library must
 * load there from the jar on the classpath, with nothing installed.
 */
class ClusterTest {
    private static SparkSession spark;

    @BeforeAll
    static void start() throws Exception {
        TestSpark.stopAny();
        // The workers' launcher wants SPARK_HOME (set by the POM) to have a jars directory; the
        // executors get this JVM's classpath instead.
        Files.createDirectories(new File(System.getenv("SPARK_HOME"), "jars").toPath());
        spark = TestSpark.base().master("local-cluster[2,1,1024]")
                .config("spark.executor.memory", "512m")
                .config("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                .config("spark.executorEnv.SPARK_SCALA_VERSION", "2.13")
                .getOrCreate();
        // Jobs start as soon as one executor is up; wait for both (the driver counts as one more).
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (spark.sparkContext().getExecutorMemoryStatus().size() < 3) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the two executors did not register within 2 minutes");
            }
            Thread.sleep(100);
        }
    }

    @AfterAll
    static void stop() {
        TestSpark.stopAny();
    }

    /** Each partition reports its process, backend and where the native code came from. */
    @Test
    void theNativeBackendRunsOnEveryExecutor() {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<String> reports = sc.parallelize(List.of(0, 1, 2, 3), 4).mapPartitions(it -> {
            String where = NativeBackend.class.getProtectionDomain().getCodeSource().getLocation().getPath();
            return List.of(ProcessHandle.current().pid() + " " + Backends.best().name() + " " + where).iterator();
        }).collect();
        long driver = ProcessHandle.current().pid();
        Set<String> pids = new TreeSet<>();
        String driverCode = NativeBackend.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        for (String r : reports) {
            String[] f = r.split(" ", 3);
            assertNotEquals(String.valueOf(driver), f[0], "a partition ran in the driver's JVM");
            assertEquals("native", f[1], "backend on executor " + f[0]);
            assertEquals(driverCode, f[2], "the executor loaded the kernels from another place");
            pids.add(f[0]);
        }
        assertEquals(2, pids.size(), "two executor processes: " + reports);

        // The objective itself: every block of every partition on the native backend.
        TestData data = TestData.imbalanced(3, 1200, 4, 3);
        try (LinearObjective objective = LinearObjective.builder(() -> CrossEntropy.builder().build())
                .weightCol("weight").numOutputs(3).blockRows(100).build(data.dataset(spark, 4))) {
            LinearObjective.Evaluation e = objective.evaluate(data.randomCoefficients(1, 3, true));
            assertEquals(Map.of("native", 12L), e.backendBlocks());
            Lbfgs.Point single = data.singleMachine(CrossEntropy.builder().build(),
                    data.randomCoefficients(1, 3, true), 3, true, null);
            LinearObjectiveTest.assertClose(single.value(), e.loss(), 1e-12, "loss on the cluster");
        }
    }

    /** Bad input fails the job with the core's message; the executors live on and run the next job. */
    @Test
    void badInputFailsTheJobNotTheExecutors() {
        TestData data = TestData.imbalanced(4, 400, 3, 3);
        List<org.apache.spark.sql.Row> rows = new ArrayList<>(data.toRows());
        rows.set(123, org.apache.spark.sql.RowFactory.create(rows.get(123).get(0), 1.0, -2.0));
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        SparkException e = assertThrows(SparkException.class, () -> LinearObjective
                .builder(() -> CrossEntropy.builder().build()).weightCol("weight").numOutputs(3)
                .build(spark.createDataFrame(sc.parallelize(rows, 2), TestData.SCHEMA)));
        assertTrue(e.getMessage().contains("sampleWeights[123] = -2.0 is negative"), e.getMessage());
        assertTrue(!e.getMessage().contains("ExecutorLostFailure"), e.getMessage());
        assertEquals(2, spark.sparkContext().getExecutorMemoryStatus().size() - 1, "executors still registered");
        assertEquals(400, data.dataset(spark, 2).count());
    }
}
