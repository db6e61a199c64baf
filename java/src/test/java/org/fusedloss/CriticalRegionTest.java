package org.fusedloss;

import static org.fusedloss.Checks.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A native call on direct buffers holds no JNI critical region (no heap array of the caller's, and
 * none of the library's own: the results and the class weights go through direct memory), so a
 * training loop on direct buffers causes no GCLocker-initiated collection. The same loop on heap
 * arrays, which are pinned on purpose, shows that the count can see them. Child JVMs with the
 * Parallel collector (its GCLocker is the same on JDK 17 and 25; G1 pins regions since JDK 22).
 */
class CriticalRegionTest {

    private static long gcLockerGcs(String memory, int seconds) throws Exception {
        ChildJvm.Result r = new ChildJvm().option("--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-XX:+UseParallelGC").run("-cp", System.getProperty("java.class.path"),
                GcLockerLoop.class.getName(), memory, String.valueOf(seconds));
        assertEquals(0, r.exit(), () -> ctx(r.out()));
        assertTrue(r.out().contains("backend=native"), () -> ctx(r.out()));
        assertTrue(Long.parseLong(r.value("gcs")) > 0, () -> ctx("no collection at all:\n" + r.out()));
        System.out.println("[CriticalRegionTest] " + memory + ": " + r.out().replace('\n', ' '));
        return Long.parseLong(r.value("gclocker_gcs"));
    }

    @Test
    void aLoopOnDirectBuffersCausesNoGcLockerCollection() throws Exception {
        TestBackends.require(Backends.nativeCpu());
        long heap = gcLockerGcs("heap", 3);
        Assumptions.assumeTrue(heap > 0, "this JVM's collector started no GCLocker collection even for pinned "
                + "heap arrays, so it cannot tell");
        assertEquals(0, gcLockerGcs("direct", 3), ctx("GCLocker-initiated collections with direct buffers only"));
    }
}
