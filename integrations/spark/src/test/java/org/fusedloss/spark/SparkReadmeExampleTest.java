package org.fusedloss.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles the example of README.md's Apache Spark section as it stands and runs its main, as
 * spark-submit would (on local[2], with a Parquet file of weighted rows), so the README cannot rot.
 */
class SparkReadmeExampleTest {

    @Test
    void readmeExampleTrainsOnTheNativeBackendAndSavesTheModel(@TempDir Path dir) throws Exception {
        String text = Files.readString(Path.of(System.getProperty("fusedloss.readme", "../../README.md")));
        int section = text.indexOf("\n## Apache Spark");
        assertTrue(section >= 0, "README.md has no '## Apache Spark' section");
        Matcher block = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(text);
        assertTrue(block.find(section), "the Apache Spark section has no ```java block");
        String source = block.group(1);
        Matcher cls = Pattern.compile("public (?:final )?class (\\w+)").matcher(source);
        assertTrue(cls.find(), "the example declares no public class");
        String name = cls.group(1);

        Path src = dir.resolve("src");
        Files.createDirectories(src);
        Path file = src.resolve(name + ".java");
        Files.writeString(file, source);
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        int rc = javac.run(null, null, errors, "-cp", classPath, "-d", src.toString(), file.toString());
        assertEquals(0, rc, "the README example does not compile:\n" + errors);

        // The input it expects: features, label and weight columns, as Parquet.
        String data = dir.resolve("train.parquet").toString();
        String model = dir.resolve("model").toString();
        TestData.imbalanced(31, 1500, 4, 3).dataset(TestSpark.local(), 2).write().parquet(data);

        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setProperty("spark.master", "local[2]");  // what spark-submit --master would set
        try (URLClassLoader loader = new URLClassLoader(new URL[] {src.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            loader.loadClass(name).getMethod("main", String[].class).invoke(null, (Object) new String[] {data, model});
        } finally {
            System.setOut(stdout);
            System.clearProperty("spark.master");
        }
        String out = printed.toString(StandardCharsets.UTF_8);
        System.out.print("README example printed: " + out);
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
