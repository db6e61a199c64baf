package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.fusedloss.internal.Settings;
import org.junit.jupiter.api.Test;

/** The README's settings table and build notes match the code and the build. */
class BuildDocsTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    @Test
    void everySettingIsInTheReadmeTableWithItsEnvironmentVariable() throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"));
        int settings = 0;
        for (Field f : Settings.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                String name = (String) f.get(null);
                String row = "| `" + name + "` | `" + Settings.environmentVariable(name) + "` |";
                assertTrue(readme.contains(row), ctx("README's settings table has no row " + row));
                settings++;
            }
        }
        assertTrue(settings >= 6, ctx("settings found: " + settings));
    }

    @Test
    void theFatbinIsTheCudaModulesAndOneSwitchSkipsIt() throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"));
        String corePom = Files.readString(ROOT.resolve("java/pom.xml"));
        String cudaPom = Files.readString(ROOT.resolve("java-cuda/pom.xml"));
        assertTrue(corePom.contains("-DFUSEDLOSS_CUDA=OFF") && !corePom.contains("fatbin</include>"),
                ctx("the core module must not build or carry the fatbin"));
        assertTrue(cudaPom.contains("<skip>${fusedloss.skipFatbin}</skip>") && cudaPom.contains("fusedloss_fatbin"),
                ctx("the CUDA module builds the fatbin unless -Dfusedloss.skipFatbin=true"));
        assertTrue(readme.contains("-Dfusedloss.skipFatbin=true"), ctx("README documents the switch"));
        assertFalse(corePom.contains("<artifactId>jcuda"), ctx("the core depends on JavaCPP alone"));
    }

    @Test
    void theReadmeSaysHowLongTheFirstCommandTakesOnTwoCores() throws Exception {
        String readme = Files.readString(ROOT.resolve("README.md"));
        assertTrue(Pattern.compile("2-core machine it\\s+takes about \\d+ minutes").matcher(readme).find(),
                ctx("README: how long the first command takes on 2 cores"));
        assertTrue(readme.contains("[fusedloss]"), ctx("README shows what the step lines look like"));
    }
}
