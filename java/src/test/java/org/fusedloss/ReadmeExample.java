package org.fusedloss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.ToolProvider;

/**
 * A README's Java example as a test (part of the test kit: the framework modules use it too): the
 * block read as it stands, compiled against the test class path, its {@code main} run and what it
 * printed returned, so no README example can rot.
 */
public final class ReadmeExample {
    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern PUBLIC_CLASS = Pattern.compile("public (?:final )?class (\\w+)");

    private ReadmeExample() {
    }

    /** The README's path: the system property {@code property} (the module's pom sets it), else {@code fallback}. */
    public static Path readme(String property, String fallback) {
        return Path.of(System.getProperty(property, fallback));
    }

    /**
     * The first {@code ```java} block of a Markdown file, in the section whose heading line starts
     * with {@code heading}, or the file's first block for a null heading.
     */
    public static String javaBlock(Path markdown, String heading) throws IOException {
        String text = Files.readString(markdown);
        int from = 0;
        if (heading != null) {
            from = text.indexOf("\n" + heading);
            assertTrue(from >= 0, markdown + " has no '" + heading + "' section");
        }
        Matcher block = JAVA_BLOCK.matcher(text);
        assertTrue(block.find(from), markdown + (heading == null ? "" : "'s " + heading + " section")
                + " has no ```java block");
        return block.group(1);
    }

    /**
     * Compiles {@code source} into {@code dir} with the test class path, runs its public class's
     * {@code main(args)} with {@code parent} as the class loader above it, and returns what it
     * printed (also echoed to the test's output).
     */
    public static String compileAndRun(String source, Path dir, ClassLoader parent, String... args)
            throws Exception {
        Matcher cls = PUBLIC_CLASS.matcher(source);
        assertTrue(cls.find(), "the README example declares no public class");
        String name = cls.group(1);
        Files.createDirectories(dir);
        Path file = dir.resolve(name + ".java");
        Files.writeString(file, source);
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, errors, "-cp", classPath,
                "-d", dir.toString(), file.toString());
        assertEquals(0, rc, "the README example does not compile:\n" + errors);

        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, parent)) {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            loader.loadClass(name).getMethod("main", String[].class).invoke(null, (Object) args);
        } finally {
            System.setOut(stdout);
        }
        String out = printed.toString(StandardCharsets.UTF_8);
        System.out.print("README example " + name + " printed: " + out);
        return out;
    }
}
