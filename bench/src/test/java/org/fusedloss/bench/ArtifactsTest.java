package org.fusedloss.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * What the published artifacts carry, checked on the jars the reactor built before this module
 * (mvn verify / package; skipped where they were not built): licence files, the module name,
 * sources and Javadoc jars with the public API only, the CUDA module's service entry, and the
 * pom's metadata.
 */
class ArtifactsTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    private static Path built(String module, String artifact, String classifier) throws Exception {
        String version = System.getProperty("fusedloss.version", "0.1.0-SNAPSHOT");
        Path jar = ROOT.resolve(module + "/target/" + artifact + "-" + version
                + (classifier.isEmpty() ? "" : "-" + classifier) + ".jar");
        Assumptions.assumeTrue(Files.exists(jar), jar + " was not built (run mvn verify)");
        return jar;
    }

    @Test
    void theCoreJarIsANamedModuleWithItsLicenceAndNativeLibrary() throws Exception {
        try (JarFile jar = new JarFile(built("java", "fusedloss", "").toFile())) {
            assertNotNull(jar.getEntry("module-info.class"), "module-info.class");
            assertNotNull(jar.getEntry("META-INF/LICENSE"), "META-INF/LICENSE");
            assertNotNull(jar.getEntry("META-INF/NOTICE"), "META-INF/NOTICE");
            assertNotNull(jar.getEntry("org/fusedloss/internal/nativecpu/linux-x86_64/libjniNativeKernels.so"),
                    "the native library");
            assertTrue(jar.stream().noneMatch(e -> e.getName().contains("fatbin") || e.getName().contains("jcuda")),
                    "the core jar carries nothing of CUDA");
        }
        try (JarFile sources = new JarFile(built("java", "fusedloss", "sources").toFile())) {
            assertNotNull(sources.getEntry("org/fusedloss/CrossEntropy.java"), "sources jar");
        }
        try (JarFile javadoc = new JarFile(built("java", "fusedloss", "javadoc").toFile())) {
            assertTrue(javadoc.stream().anyMatch(e -> e.getName().endsWith("org/fusedloss/CrossEntropy.html")),
                    "javadoc jar documents the API");
            assertFalse(javadoc.stream().anyMatch(e -> e.getName().contains("/internal/")
                    || e.getName().endsWith("LossRequest.html") || e.getName().endsWith("NativeKernels.html")),
                    "javadoc jar shows no plumbing");
        }
    }

    @Test
    void theCudaJarIsFoundByTheCoreAndCarriesItsLicence() throws Exception {
        try (JarFile jar = new JarFile(built("java-cuda", "fusedloss-cuda", "").toFile())) {
            assertEquals("org.fusedloss.cuda", jar.getManifest().getMainAttributes().getValue("Automatic-Module-Name"));
            assertNotNull(jar.getEntry("META-INF/services/org.fusedloss.internal.KernelBackend"), "service entry");
            assertNotNull(jar.getEntry("META-INF/LICENSE"), "META-INF/LICENSE");
            assertNotNull(jar.getEntry("org/fusedloss/cuda/DeviceBatch.class"), "DeviceBatch");
            // The fatbin nvcc built (java-cuda/pom.xml, cuda/CMakeLists.txt) is the one in the jar,
            // unless this build skipped it (then an older one may lie in target/cmake).
            Path fatbin = ROOT.resolve("java-cuda/target/cmake/lib/fusedloss.fatbin");
            if (!Boolean.getBoolean("fusedloss.skipFatbin") && Files.exists(fatbin)) {
                JarEntry packed = jar.getJarEntry("org/fusedloss/cuda/fusedloss.fatbin");
                assertNotNull(packed, "the fatbin is in the CUDA jar");
                try (InputStream in = jar.getInputStream(packed)) {
                    assertArrayEquals(Files.readAllBytes(fatbin), in.readAllBytes(),
                            "the jar's fatbin is the one built");
                }
            }
        }
        built("java-cuda", "fusedloss-cuda", "sources");
        built("java-cuda", "fusedloss-cuda", "javadoc");
    }

    @Test
    void thePomHasTheMetadataARepositoryAsksFor() throws Exception {
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        for (String tag : new String[] {"<url>", "<licenses>", "<name>Apache-2.0</name>", "<developers>", "<scm>",
            "<description>"}) {
            assertTrue(pom.contains(tag), "pom.xml has no " + tag);
        }
        assertTrue(Files.readString(ROOT.resolve("LICENSE")).contains("Apache License"), "LICENSE");
        assertTrue(Files.exists(ROOT.resolve("NOTICE")), "NOTICE");
    }
}
