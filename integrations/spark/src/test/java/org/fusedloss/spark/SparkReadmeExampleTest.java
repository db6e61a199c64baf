package org.fusedloss.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.fusedloss.ReadmeExample;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles the example of README.md's Apache Spark section as it stands and runs its main, as
 * spark-submit would (on local[2], with a Parquet file of weighted rows), so the README cannot rot.
 */
class SparkReadmeExampleTest {

    @Test
    void readmeExampleTrainsOnTheNativeBackendAndSavesTheModel(@TempDir Path dir) throws Exception {
        String source = ReadmeExample.javaBlock(ReadmeExample.readme("fusedloss.readme", "../../README.md"),
                "## Apache Spark");

        // The input it expects: features, label and weight columns, as Parquet.
        String data = dir.resolve("train.parquet").toString();
        String model = dir.resolve("model").toString();
        TestData.imbalanced(31, 1500, 4, 3).dataset(TestSpark.local(), 2).write().parquet(data);

        String out;
        System.setProperty("spark.master", "local[2]");  // what spark-submit --master would set
        try {
            out = ReadmeExample.compileAndRun(source, dir.resolve("src"), getClass().getClassLoader(), data, model);
        } finally {
            System.clearProperty("spark.master");
        }
        Matcher line = Pattern.compile("objective (\\d+\\.\\d+) after (\\d+) iterations, blocks per backend \\{native=\\d+\\}")
                .matcher(out);
        assertTrue(line.find(), "unexpected output of the README example: " + out);
        assertTrue(Double.parseDouble(line.group(1)) > 0);
        TestSpark.local();  // the example stopped its session
        FusedLogisticRegressionModel loaded = FusedLogisticRegressionModel.load(model);
        assertEquals(3, loaded.numClasses());
        assertEquals(4, loaded.numFeatures());
    }
}
