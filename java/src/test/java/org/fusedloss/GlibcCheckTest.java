package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native library loads on glibc 2.28 with no system libstdc++: native/test/check_glibc.sh (which the
 * build runs on it) passes on the built library and fails on a library that needs a newer glibc
 * symbol (pthread_create@GLIBC_2.34 on a glibc 2.34+ build machine) or libstdc++.
 */
class GlibcCheckTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private static final Path CHECK = ROOT.resolve("native/test/check_glibc.sh");

    private static ProcessResult run(Path dir, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), ctx(String.join(" ", cmd) + " did not finish"));
        return new ProcessResult(p.exitValue(), out);
    }

    private record ProcessResult(int exit, String out) {
    }

    @Test
    void theBuiltLibraryNeedsNothingNewerThanGlibc228() throws Exception {
        TestBackends.require(Backends.nativeCpu());
        Path lib = ChildJvm.mainClasses().resolve("org/fusedloss/internal/nativecpu/linux-x86_64/libjniNativeKernels.so");
        ProcessResult r = run(ROOT, "bash", CHECK.toString(), lib.toString());
        assertEquals(0, r.exit(), () -> ctx(r.out()));
        assertTrue(r.out().contains("loads on glibc 2.28+"), () -> ctx(r.out()));
    }

    @Test
    void theCheckFailsOnANewerSymbolOrOnLibstdcxx(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/g++")), "no g++ here");
        Files.writeString(dir.resolve("t.cpp"), """
                #include <pthread.h>
                #include <string>
                static void* f(void*) { return nullptr; }
                extern "C" int start() { pthread_t t; return pthread_create(&t, nullptr, f, nullptr); }
                extern "C" unsigned long size(const char* s) { return std::string(s).size(); }
                """);
        ProcessResult cc = run(dir, "g++", "-shared", "-fPIC", "-O1", "-o", "libt.so", "t.cpp", "-pthread");
        assertEquals(0, cc.exit(), () -> ctx(cc.out()));
        ProcessResult r = run(dir, "bash", CHECK.toString(), dir.resolve("libt.so").toString());
        assertEquals(1, r.exit(), () -> ctx("the check must refuse this library:\n" + r.out()));
        assertTrue(r.out().contains("GLIBCXX_"), () -> ctx(r.out()));
        ProcessResult glibc = run(dir, "bash", "-c", "ldd --version | head -1");
        if (glibc.out().matches("(?s).* 2\\.(3[4-9]|[4-9][0-9])\\s*")) {  // pthread_create@GLIBC_2.34 exists here
            assertTrue(r.out().contains("GLIBC_2.34 pthread_create"), () -> ctx(r.out()));
        }
    }
}
