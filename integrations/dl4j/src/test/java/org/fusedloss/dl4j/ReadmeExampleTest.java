package org.fusedloss.dl4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.fusedloss.ReadmeExample;
import org.junit.jupiter.api.Test;

/**
 * Compiles and runs the example of this module's README as it stands, and checks that the top
 * README's Deeplearning4j section shows the same block, so neither can rot.
 */
class ReadmeExampleTest {
    @Test
    void theExampleTrainsAndTheTopReadmeShowsTheSameOne() throws Exception {
        String source = ReadmeExample.javaBlock(ReadmeExample.readme("fusedloss.dl4j.readme", "README.md"), null);
        String top = ReadmeExample.javaBlock(ReadmeExample.readme("fusedloss.readme", "../../README.md"),
                "## Deeplearning4j");
        assertEquals(source, top, "README.md's Deeplearning4j example differs from the module's");
        String out = ReadmeExample.compileAndRun(source, Files.createTempDirectory("dl4j-readme-example"),
                getClass().getClassLoader());
        Matcher scores = Pattern.compile("score (\\d+\\.\\d+) -> (\\d+\\.\\d+) with class weights").matcher(out);
        assertTrue(scores.find(), "unexpected output of the example: " + out);
        double before = Double.parseDouble(scores.group(1));
        double after = Double.parseDouble(scores.group(2));
        assertTrue(after < 0.8 * before, "training did not lower the score: " + out);
    }
}
