package org.fusedloss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Compiles and runs the usage example of README.md as it stands, so the README cannot rot. */
class ReadmeExampleTest {

    @Test
    void readmeExampleCompilesRunsAndPrintsTheLoss() throws Exception {
        String source = ReadmeExample.javaBlock(ReadmeExample.readme("fusedloss.readme", "../README.md"), null);
        String out = ReadmeExample.compileAndRun(source, Files.createTempDirectory("readme-example"),
                getClass().getClassLoader());
        Matcher line = Pattern.compile("loss (\\d+\\.\\d+) over (\\d+) rows on (\\w+)").matcher(out);
        assertTrue(line.find(), "unexpected output of the README example: " + out);
        double loss = Double.parseDouble(line.group(1));
        assertTrue(loss > 0 && Double.isFinite(loss), "loss " + loss);
        assertEquals("3", line.group(2), "the example ignores one of its four rows");
        assertTrue(List.of("native", "java").contains(line.group(3)), "backend " + line.group(3));
    }
}
