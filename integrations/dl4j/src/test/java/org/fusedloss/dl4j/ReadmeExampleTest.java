package org.fusedloss.dl4j;

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
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * Compiles and runs the example of this module's README as it stands, and checks that the top
 * README's Deeplearning4j section shows the same block, so neither can rot.
 */
class ReadmeExampleTest {
    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);

    @Test
    void theExampleTrainsAndTheTopReadmeShowsTheSameOne() throws Exception {
        Matcher block = JAVA_BLOCK.matcher(Files.readString(Path.of(System.getProperty("fusedloss.dl4j.readme"))));
        assertTrue(block.find(), "integrations/dl4j/README.md has no ```java block");
        String source = block.group(1);
        String top = Files.readString(Path.of(System.getProperty("fusedloss.readme")));
        String section = top.substring(top.indexOf("## Deeplearning4j"));
        Matcher topBlock = JAVA_BLOCK.matcher(section);
        assertTrue(topBlock.find(), "README.md's Deeplearning4j section has no ```java block");
        assertEquals(source, topBlock.group(1), "README.md's Deeplearning4j example differs from the module's");

        Path dir = Files.createTempDirectory("dl4j-readme-example");
        Path file = dir.resolve("Dl4jExample.java");
        Files.writeString(file, source);
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, errors, "-cp",
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                "-d", dir.toString(), file.toString());
        assertEquals(0, rc, "the example does not compile:\n" + errors);
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            loader.loadClass("Dl4jExample").getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(stdout);
        }
        String out = printed.toString(StandardCharsets.UTF_8);
        System.out.print("README example printed: " + out);
        Matcher scores = Pattern.compile("score (\\d+\\.\\d+) -> (\\d+\\.\\d+) with class weights").matcher(out);
        assertTrue(scores.find(), "unexpected output of the example: " + out);
        double before = Double.parseDouble(scores.group(1));
        double after = Double.parseDouble(scores.group(2));
        assertTrue(after < 0.8 * before, "training did not lower the score: " + out);
    }
}
