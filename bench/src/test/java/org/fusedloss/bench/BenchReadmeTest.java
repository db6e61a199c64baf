package org.fusedloss.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The raw JMH example of bench/README.md selects exactly the benchmark class it names. */
class BenchReadmeTest {

    /** Every benchmark of this jar as JMH names it: {@code package.Class.method} (META-INF/BenchmarkList). */
    private static List<String> benchmarks() throws Exception {
        try (InputStream in = BenchReadmeTest.class.getResourceAsStream("/META-INF/BenchmarkList")) {
            assertNotNull(in, "no META-INF/BenchmarkList: the JMH annotation processor did not run");
            String list = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            // Each line: JMH S <len> <class> S <len> <generated class> S <len> <method> ...
            return list.lines().filter(l -> l.startsWith("JMH ")).map(l -> l.split(" "))
                    .map(t -> t[3] + "." + t[9]).toList();
        }
    }

    @Test
    void theRawJmhExampleSelectsExactlyTheBenchmarkItNames() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("java -jar bench/target/benchmarks\\.jar '([^']+)'").matcher(readme);
        assertFalse(!m.find(), "bench/README.md has no raw JMH example with a quoted pattern");
        String regex = m.group(1);
        String named = regex.replaceAll("[^A-Za-z]", "");
        // JMH includes a benchmark when the pattern is found anywhere in its name.
        List<String> selected = benchmarks().stream().filter(b -> Pattern.compile(regex).matcher(b).find())
                .map(b -> b.substring(0, b.lastIndexOf('.'))).distinct().toList();
        assertEquals(List.of("org.fusedloss.bench." + named), selected, "'" + regex + "' selects " + selected);
    }
}
