package org.fusedloss.djl;

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

/** Compiles and runs the Trainer example of README.md's DJL section as it stands. */
class DjlReadmeExampleTest {

    @Test
    void readmeTrainerExampleCompilesRunsAndTrainsOnTheNativeBackend() throws Exception {
        String text = Files.readString(Path.of(System.getProperty("fusedloss.readme", "../../README.md")));
        int section = text.indexOf("\n## DJL");
        assertTrue(section >= 0, "README.md has no DJL section");
        Matcher block = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(text);
        assertTrue(block.find(section), "the DJL section has no ```java block");
        String source = block.group(1);
        Matcher cls = Pattern.compile("public class (\\w+)").matcher(source);
        assertTrue(cls.find(), "the example declares no public class");
        String name = cls.group(1);

        Path dir = Files.createTempDirectory("djl-readme-example");
        Path file = dir.resolve(name + ".java");
        Files.writeString(file, source);
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        int rc = javac.run(null, null, errors, "-cp", classPath, "-d", dir.toString(), file.toString());
        assertEquals(0, rc, "the README example does not compile:\n" + errors);

        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            loader.loadClass(name).getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(stdout);
        }
        String out = printed.toString(StandardCharsets.UTF_8);
        System.out.print("README DJL example printed: " + out);
        Matcher line = Pattern.compile("train loss (\\d+\\.\\d+), computed on the (\\w+) backend").matcher(out);
        assertTrue(line.find(), "unexpected output: " + out);
        double loss = Double.parseDouble(line.group(1));
        assertTrue(loss > 0 && loss < 1.5, "train loss " + loss);
        assertEquals("native", line.group(2));
    }
}
