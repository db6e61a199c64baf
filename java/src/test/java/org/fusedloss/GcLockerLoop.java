package org.fusedloss;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * A training loop that counts the garbage collections the GCLocker started: a JNI critical region
 * (a pinned heap array) held by a loss call makes a collection wait for it, and HotSpot then runs
 * one with the cause "GCLocker Initiated GC" (JDK 17's G1, Parallel and Serial). Each step writes
 * fresh logits (the forward pass), computes a weighted cross-entropy and its gradient, and reads
 * the gradient back (the backward pass), while a data-loader thread allocates batches.
 *
 * <pre>
 * java -cp CLASSPATH org.fusedloss.GcLockerLoop heap|direct SECONDS [ROWS COLS]
 * </pre>
 *
 * prints {@code steps=..., gcs=..., gclocker_gcs=...}, counted after 20 warm-up steps (while classes
 * load from jars, the JDK's own inflater pins arrays too). Public API only, so the same source runs
 * against older builds. CriticalRegionTest runs it for a few seconds.
 */
public final class GcLockerLoop {
    private GcLockerLoop() {
    }

    public static void main(String[] args) throws Exception {
        boolean direct = args[0].equals("direct");
        long seconds = Long.parseLong(args[1]);
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int c = args.length > 3 ? Integer.parseInt(args[3]) : 8192;
        AtomicLong gcs = new AtomicLong();
        AtomicLong locker = new AtomicLong();
        SplittableRandom rng = new SplittableRandom(12);
        float[] classWeights = new float[c];
        for (int j = 0; j < c; j++) {
            classWeights[j] = 0.5f + rng.nextInt(4) * 0.25f;
        }
        FloatBuffer logits = floats(n * c, direct);
        FloatBuffer grad = floats(n * c, direct);
        IntBuffer labels = direct ? ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asIntBuffer()
                : IntBuffer.allocate(n);
        CrossEntropy ce = CrossEntropy.builder().classWeights(classWeights).build();
        Thread loader = new Thread(() -> {
            byte[][] keep = new byte[64][];
            for (int i = 0; !Thread.currentThread().isInterrupted(); i++) {
                keep[i & 63] = new byte[256 * 1024];  // the next batches, decoded
            }
        }, "loader");
        loader.setDaemon(true);
        loader.start();
        long steps = 0;
        double sum = 0;
        long warmUp = 20;
        long end = Long.MAX_VALUE;
        while (System.nanoTime() < end) {
            if (steps == warmUp) {
                countCollections(gcs, locker);
                end = System.nanoTime() + seconds * 1_000_000_000L;
            }
            for (int i = 0; i < n; i++) {
                labels.put(i, rng.nextInt(c));
            }
            float shift = (float) rng.nextDouble();
            for (int i = 0; i < n * c; i += 7) {
                logits.put(i, shift + (i % 13) * 0.1f);
            }
            LossResult r = ce.compute(Batch.of(logits, n, c).labels(labels).gradient(grad));
            sum += r.loss() + grad.get((int) (steps % (n * c)));
            steps++;
        }
        loader.interrupt();
        System.out.println("backend=" + Backends.best().name() + " memory=" + (direct ? "direct" : "heap")
                + " shape=" + n + "x" + c + " seconds=" + seconds + " checksum=" + (float) sum);
        System.out.println("steps=" + (steps - warmUp));
        System.out.println("gcs=" + gcs.get());
        System.out.println("gclocker_gcs=" + locker.get());
    }

    /** Counts every collection from now on, and those the GCLocker started. */
    private static void countCollections(AtomicLong gcs, AtomicLong locker) {
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((NotificationEmitter) gc).addNotificationListener((notification, handback) -> {
                if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) {
                    var info = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData());
                    gcs.incrementAndGet();
                    if (info.getGcCause().contains("GCLocker")) {
                        locker.incrementAndGet();
                    }
                }
            }, null, null);
        }
    }

    private static FloatBuffer floats(int count, boolean direct) {
        return direct ? ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder()).asFloatBuffer()
                : FloatBuffer.allocate(count);
    }
}
