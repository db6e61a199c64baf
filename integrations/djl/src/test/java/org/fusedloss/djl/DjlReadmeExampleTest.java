package org.fusedloss.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.fusedloss.ReadmeExample;
import org.junit.jupiter.api.Test;

/** Compiles and runs the Trainer example of README.md's DJL section as it stands. */
class DjlReadmeExampleTest {

    @Test
    void readmeTrainerExampleCompilesRunsAndTrainsOnTheNativeBackend() throws Exception {
        String source = ReadmeExample.javaBlock(ReadmeExample.readme("fusedloss.readme", "../../README.md"), "## DJL");
        String out = ReadmeExample.compileAndRun(source, Files.createTempDirectory("djl-readme-example"),
                getClass().getClassLoader());
        Matcher line = Pattern.compile("train loss (\\d+\\.\\d+), computed on the (\\w+) backend").matcher(out);
        assertTrue(line.find(), "unexpected output: " + out);
        double loss = Double.parseDouble(line.group(1));
        assertTrue(loss > 0 && loss < 1.5, "train loss " + loss);
        assertEquals("native", line.group(2));
    }
}
