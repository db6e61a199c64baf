package org.fusedloss.spark;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.feature.Instance;
import org.apache.spark.ml.feature.InstanceBlock;
import org.apache.spark.ml.linalg.DenseVector;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.optim.aggregator.MultinomialLogisticBlockAggregator;
import org.apache.spark.ml.optim.loss.RDDLossFunction;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.fusedloss.Backends;
import org.fusedloss.CrossEntropy;
import scala.Tuple2;
import scala.reflect.ClassTag$;

/**
 * One full gradient evaluation (an epoch of a batch optimizer) of Spark ML's own multinomial
 * logistic-regression loss (MultinomialLogisticBlockAggregator through RDDLossFunction, exactly
 * what LogisticRegression.fit runs per L-BFGS step) against LinearObjective, on the same rows
 * (PEERS.md's hashed features, labels and sample weights), each cached in its own block format,
 * on local[2]. The two are checked against each other first (loss and gradient at the same
 * point), then timed alternately, and the ratio of medians is printed per shape and partition count.
 *
 * <pre>
 * mvn -B -q -pl integrations/spark -am verify -DskipTests -Pspark-bench
 * mvn -B -q -pl integrations/spark -am verify -DskipTests -Pspark-bench -Dbench.args="rows=200000 classes=10 partitions=2 repeats=3"
 * </pre>
 */
public final class SparkGradientBench {
    private int rows = 1_000_000;
    private int features = 100;
    private int[] classes = {10, 100};
    private int[] partitions = {2, 4, 8};
    private int repeats = 5;

    public static void main(String[] args) throws Exception {
        SparkGradientBench bench = new SparkGradientBench();
        for (String a : args) {
            String[] kv = a.split("=", 2);
            switch (kv[0]) {
                case "rows" -> bench.rows = Integer.parseInt(kv[1]);
                case "features" -> bench.features = Integer.parseInt(kv[1]);
                case "classes" -> bench.classes = ints(kv[1]);
                case "partitions" -> bench.partitions = ints(kv[1]);
                case "repeats" -> bench.repeats = Integer.parseInt(kv[1]);
                default -> throw new IllegalArgumentException("unknown argument " + a
                        + " (rows=, features=, classes=10,100, partitions=2,4,8, repeats=)");
            }
        }
        bench.run();
    }

    private static int[] ints(String list) {
        return Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    private void run() throws Exception {
        SparkSession spark = SparkSession.builder().master("local[2]").appName("fusedloss spark bench")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        System.out.printf("%s; %s; JDK %s; BLAS %s; load average %s%n", cpu(), Backends.nativeCpu().describe(),
                Runtime.version(), dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName(), load());
        System.out.printf("one full gradient evaluation, %d rows x %d features, local[2], median of %d, ms%n",
                rows, features, repeats);
        System.out.printf("%8s %11s %12s %12s %9s %14s %14s%n", "classes", "partitions", "Spark ML", "fused",
                "ratio", "loss (Spark)", "loss (fused)");
        for (int k : classes) {
            for (int p : partitions) {
                measure(spark, sc, k, p);
            }
        }
        System.out.printf("load average after: %s%n", load());
        spark.stop();
    }

    private void measure(SparkSession spark, JavaSparkContext sc, int k, int p) {
        Dataset<Row> data = data(spark, sc, rows, features, p, k);

        // Spark ML's path, as LogisticRegression.trainImpl sets it up (features scaled by 1/std:
        // here std 1, so the scaled data are the data; fitWithMean as with an intercept).
        JavaRDD<Instance> instances = data.toJavaRDD().map(r -> new Instance(r.getDouble(1), r.getDouble(2),
                (Vector) r.get(0)));
        RDD<InstanceBlock> blocks = InstanceBlock.blokifyWithMaxMemUsage(instances.rdd(), 1024L * 1024L)
                .persist(StorageLevel.MEMORY_AND_DISK());
        blocks.count();
        double[] ones = new double[features];
        Arrays.fill(ones, 1.0);
        Broadcast<double[]> inverseStd = sc.broadcast(ones);
        Broadcast<double[]> scaledMean = sc.broadcast(new double[features]);
        scala.Function1<Broadcast<Vector>, MultinomialLogisticBlockAggregator> aggregator =
                c -> new MultinomialLogisticBlockAggregator(inverseStd, scaledMean, true, true, c);
        RDDLossFunction<InstanceBlock, MultinomialLogisticBlockAggregator> sparkLoss = new RDDLossFunction<>(blocks,
                aggregator, scala.Option.empty(), 2, ClassTag$.MODULE$.apply(InstanceBlock.class),
                ClassTag$.MODULE$.apply(MultinomialLogisticBlockAggregator.class));

        LinearObjective fused = LinearObjective.builder(() -> CrossEntropy.builder().build()).weightCol("weight")
                .numOutputs(k).numFeatures(features).build(data);

        // The same point in both layouts: ours row-major (class x feature) then intercepts, Spark's
        // column-major (feature x class) then intercepts.
        double[] ours = new double[k * features + k];
        java.util.Random r = new java.util.Random(42);
        for (int i = 0; i < ours.length; i++) {
            ours[i] = r.nextGaussian() * 0.01;
        }
        double[] theirs = new double[ours.length];
        for (int c = 0; c < k; c++) {
            for (int j = 0; j < features; j++) {
                theirs[j * k + c] = ours[c * features + j];
            }
            theirs[k * features + c] = ours[k * features + c];
        }

        List<Double> sparkMs = new ArrayList<>();
        List<Double> fusedMs = new ArrayList<>();
        double sparkLossValue = 0;
        double fusedLossValue = 0;
        for (int rep = 0; rep <= repeats; rep++) {  // the first round warms up and checks
            long t0 = System.nanoTime();
            Tuple2<Object, breeze.linalg.DenseVector<Object>> s =
                    sparkLoss.calculate(new breeze.linalg.DenseVector<Object>(theirs.clone()));
            long t1 = System.nanoTime();
            LinearObjective.Evaluation f = fused.evaluate(ours);
            long t2 = System.nanoTime();
            sparkLossValue = (Double) s._1();
            fusedLossValue = f.loss();
            if (rep == 0) {
                check(sparkLossValue, s._2().toArray$mcD$sp(ClassTag$.MODULE$.Double()), f, k);
            } else {
                sparkMs.add((t1 - t0) / 1e6);
                fusedMs.add((t2 - t1) / 1e6);
            }
        }
        double sm = median(sparkMs);
        double fm = median(fusedMs);
        System.out.printf("%8d %11d %12.1f %12.1f %8.2fx %14.8f %14.8f%n", k, p, sm, fm, sm / fm, sparkLossValue,
                fusedLossValue);
        fused.close();
        blocks.unpersist(false);
        inverseStd.destroy();
        scaledMean.destroy();
    }

    /** The two must agree before they are timed: loss to 1e-6 and gradient to 1e-5 (float logits). */
    private void check(double sparkLoss, double[] sparkGradient, LinearObjective.Evaluation f, int k) {
        if (Math.abs(sparkLoss - f.loss()) > 1e-6 * Math.abs(sparkLoss)) {
            throw new IllegalStateException("losses differ: Spark " + sparkLoss + ", fused " + f.loss());
        }
        double diff = 0;
        double norm = 0;
        for (int c = 0; c < k; c++) {
            for (int j = 0; j <= features; j++) {
                double theirs = j < features ? sparkGradient[j * k + c] : sparkGradient[k * features + c];
                double ours = j < features ? f.gradient()[c * features + j] : f.gradient()[k * features + c];
                diff += (theirs - ours) * (theirs - ours);
                norm += theirs * theirs;
            }
        }
        if (Math.sqrt(diff) > 1e-5 * Math.sqrt(norm)) {
            throw new IllegalStateException("gradients differ: |difference| / |gradient| = " + Math.sqrt(diff / norm));
        }
    }

    /**
     * PEERS.md's data: feature {@code (i, j)} is {@code h1(i * features + j) / 2^32 * 8 - 4}, label
     * {@code (i * 7919 + 13) mod k}, weight {@code 0.25 + (i mod 5) * 0.25}; generated on the fly in
     * {@code partitions} slices (each trainer caches its own blocks of them).
     */
    private static Dataset<Row> data(SparkSession spark, JavaSparkContext sc, int n, int d, int partitions, int k) {
        List<Integer> slices = new ArrayList<>();
        for (int s = 0; s < partitions; s++) {
            slices.add(s);
        }
        JavaRDD<Row> rdd = sc.parallelize(slices, partitions).mapPartitions((Iterator<Integer> it) -> {
            int s = it.next();
            long begin = (long) s * n / partitions;
            long end = (long) (s + 1) * n / partitions;
            return new Iterator<Row>() {
                long i = begin;

                @Override
                public boolean hasNext() {
                    return i < end;
                }

                @Override
                public Row next() {
                    double[] x = new double[d];
                    for (int j = 0; j < d; j++) {
                        long h = ((i * d + j) * 2654435761L + 12345L) & 0xFFFFFFFFL;
                        x[j] = (float) (h / 4294967296.0 * 8 - 4);
                    }
                    Row row = RowFactory.create(new DenseVector(x), (double) ((i * 7919 + 13) % k),
                            0.25 + (i % 5) * 0.25);
                    i++;
                    return row;
                }
            };
        });
        return spark.createDataFrame(rdd, TestData.SCHEMA);
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static String cpu() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("cpu ?")
                    + ", " + Runtime.getRuntime().availableProcessors() + " cores";
        } catch (Exception e) {
            return "cpu ?";
        }
    }
}
