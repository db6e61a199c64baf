package org.fusedloss.spark;

import org.apache.spark.sql.SparkSession;

/** The tests' Spark: one local[2] session per test JVM (ClusterTest stops it to start its own). */
final class TestSpark {
    private TestSpark() {
    }

    static synchronized SparkSession local() {
        SparkSession active = SparkSession.getActiveSession().getOrElse(() -> null);
        if (active != null && !active.sparkContext().isStopped() && active.sparkContext().master().equals("local[2]")) {
            return active;
        }
        stopAny();
        return base().master("local[2]").getOrCreate();
    }

    static SparkSession.Builder base() {
        return SparkSession.builder().appName("fusedloss-spark tests")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1");
    }

    static synchronized void stopAny() {
        SparkSession.getActiveSession().foreach(s -> {
            s.stop();
            return null;
        });
        SparkSession.getDefaultSession().foreach(s -> {
            s.stop();
            return null;
        });
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
    }
}
