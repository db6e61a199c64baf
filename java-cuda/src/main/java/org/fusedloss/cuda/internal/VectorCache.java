package org.fusedloss.cuda.internal;

import java.util.Iterator;
import java.util.LinkedHashMap;
import jcuda.driver.CUdeviceptr;

/**
 * Device copies of the loss objects' host vectors (class weights, alpha, pos weight, binary
 * class weights), keyed by the array's identity: a loss keeps its (private, immutable) arrays for
 * life, so each is uploaded once. Least-recently-used entries beyond {@link #MAX} are freed
 * when no call is using them. The cache's monitor guards the map only: a first upload runs
 * under its entry's own monitor, so it holds up the calls that need that vector and no other.
 */
final class VectorCache {
    static final int MAX = 64;

    /** Copies a vector to new device memory, complete when it returns. */
    interface Uploader {
        CUdeviceptr upload(float[] v);
    }

    private static final class Entry {
        CUdeviceptr memory;  // guarded by the entry; null until uploaded
        int users;           // guarded by the cache
    }

    private final Uploader uploader;
    private final java.util.function.Consumer<CUdeviceptr> free;
    // float[] has identity equals / hashCode, which is what we want.
    private final LinkedHashMap<float[], Entry> entries = new LinkedHashMap<>(16, 0.75f, true);

    VectorCache(Uploader uploader, java.util.function.Consumer<CUdeviceptr> free) {
        this.uploader = uploader;
        this.free = free;
    }

    /** Device copies of the vectors (null for null), held until {@link #releaseAll}. */
    CUdeviceptr[] acquireAll(float[]... vectors) {
        CUdeviceptr[] out = new CUdeviceptr[vectors.length];
        int i = 0;
        try {
            for (; i < vectors.length; i++) {
                out[i] = acquire(vectors[i]);
            }
            return out;
        } catch (RuntimeException | Error e) {
            releaseAll(java.util.Arrays.copyOf(vectors, i));
            throw e;
        }
    }

    synchronized void releaseAll(float[]... vectors) {
        for (float[] v : vectors) {
            release(v);
        }
    }

    private CUdeviceptr acquire(float[] v) {
        if (v == null) {
            return null;
        }
        Entry e;
        synchronized (this) {
            e = entries.computeIfAbsent(v, k -> new Entry());
            e.users++;  // from here on not evicted
        }
        try {
            synchronized (e) {
                if (e.memory == null) {
                    e.memory = uploader.upload(v);
                }
                return e.memory;
            }
        } catch (RuntimeException | Error t) {
            releaseAll(v);
            throw t;
        }
    }

    private void release(float[] v) {
        if (v == null) {
            return;
        }
        Entry e = entries.get(v);
        if (e != null) {
            e.users--;
        }
        if (entries.size() > MAX) {
            for (Iterator<Entry> it = entries.values().iterator(); it.hasNext() && entries.size() > MAX; ) {
                Entry old = it.next();
                if (old.users == 0) {
                    synchronized (old) {  // no upload in flight: users == 0
                        if (old.memory != null) {
                            free.accept(old.memory);
                        }
                    }
                    it.remove();
                }
            }
        }
    }
}
