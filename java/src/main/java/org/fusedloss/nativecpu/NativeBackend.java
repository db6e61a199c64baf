package org.fusedloss.nativecpu;

import java.util.Optional;
import org.fusedloss.Backend;
import org.fusedloss.internal.nativecpu.NativeEngine;

/**
 * The native CPU backend ({@link org.fusedloss.Backends#nativeCpu()}): C++ kernels for AVX-512,
 * AVX2 or baseline x86-64, picked once from CPUID, multi-threaded over rows, in a library inside
 * the jar (linux-x86_64, glibc 2.28 or later). It loads on first use; where it cannot (another OS
 * or CPU, JavaCPP missing, a setting with an invalid value) it reports itself unavailable with the
 * reason and {@link org.fusedloss.Backends#best()} uses the Java backend.
 *
 * <p>Its settings (system property or environment variable, README "Settings"):
 * {@code fusedloss.native.disable}, {@code fusedloss.native.isa} and {@code fusedloss.native.threads}
 * (default: {@link Runtime#availableProcessors()}, which honours CPU affinity and container
 * quotas). The library's state is per process: every instance of this class controls the same
 * kernels and thread pool.
 */
public final class NativeBackend implements Backend {
    /** The most worker threads {@link #setThreads} takes (native/src/thread_pool.h, kMaxThreads). */
    public static final int MAX_THREADS = 1024;


    /** The backend of {@link org.fusedloss.Backends#nativeCpu()}; nothing loads until first use. */
    public NativeBackend() {
    }

    private static NativeEngine engine() {
        return NativeEngine.get();
    }

    @Override
    public String name() {
        return "native";
    }

    @Override
    public boolean isAvailable() {
        return engine().isAvailable();
    }

    @Override
    public Optional<String> unavailabilityReason() {
        return engine().unavailabilityReason();
    }

    @Override
    public String describe() {
        return engine().describe();
    }

    /**
     * The instruction set in use.
     *
     * @return {@code "avx512"}, {@code "avx2"} or {@code "scalar"}
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public String isa() {
        return engine().isa();
    }

    /**
     * Every instruction set the library has kernels for, best first, as the library lists them.
     *
     * @return {@code ["avx512", "avx2", "scalar"]}
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public java.util.List<String> isas() {
        engine().isa();  // throws with the reason when not available
        return NativeEngine.isas();
    }

    /**
     * The instruction sets this CPU and OS run, best first ({@link #setIsa(String)} accepts each).
     *
     * @return a tail of {@link #isas()}, {@code "scalar"} always included
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public java.util.List<String> supportedIsas() {
        return engine().supportedIsas();
    }

    /**
     * Whether this CPU and OS can run an instruction set.
     *
     * @param isa {@code "avx512"}, {@code "avx2"} or {@code "scalar"}
     * @return true when {@link #setIsa(String)} would accept it
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public boolean isaSupported(String isa) {
        return engine().isaSupported(isa);
    }

    /**
     * Forces an instruction set (for tests and benchmarks).
     *
     * @param isa {@code "avx512"}, {@code "avx2"} or {@code "scalar"}
     * @throws IllegalArgumentException when the name is unknown or this CPU cannot run it
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public void setIsa(String isa) {
        engine().setIsa(isa);
    }

    /**
     * The number of worker threads (the caller's thread included).
     *
     * @return at least 1
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public int threads() {
        return engine().threads();
    }

    /**
     * Sets the number of worker threads; a call starts no more of them than it has row blocks.
     * Results are bit-identical for any count.
     *
     * @param threads 1 to {@link #MAX_THREADS}
     * @throws IllegalArgumentException when the count is not accepted
     * @throws IllegalStateException with the reason, when the backend is not available
     */
    public void setThreads(int threads) {
        engine().setThreads(threads);
    }
}
