package org.fusedloss.bench;

import org.fusedloss.Backend;
import org.fusedloss.Backends;
import org.fusedloss.Batch;
import org.fusedloss.Checks;
import org.fusedloss.Loss;
import org.fusedloss.TestBackends;

/**
 * One benchmarked call: a loss, its batch (gradient into a preallocated buffer) and the backend,
 * checked once before anything is timed. Every loss benchmark's setup builds one of these.
 */
final class LossUnderTest {
    private final Loss loss;
    private final Batch batch;
    private final Backend backend;

    private LossUnderTest(Loss loss, Batch batch, Backend backend) {
        this.loss = loss;
        this.batch = batch;
        this.backend = backend;
    }

    /**
     * Picks the backend ({@code native} with {@code threads} workers, or {@code java}), then checks
     * the loss value against PEERS.md's reference where it has one, else against the Java reference
     * backend on the same data; throws (and so nothing is timed) when it is off.
     */
    static LossUnderTest checked(String lossName, boolean weighted, PeerData data, Loss loss, Batch batch,
                                 String backendName, int threads) {
        Backend backend = backend(backendName, threads);
        Double expected = PeerData.referenceLoss(PeerData.peerCase(lossName, weighted), data.shape());
        String source = "PEERS.md";
        if (expected == null) {
            expected = loss.compute(batch, Backends.java()).loss();
            source = "the java reference";
        }
        double got = loss.compute(batch, backend).loss();
        // the contract's tolerance on a float backend's loss (PEERS.md gives its values to 7 digits)
        double tolerance = TestBackends.tol(Backends.nativeCpu()).loss();
        if (!Checks.within(expected, got, tolerance, 0)) {
            throw new IllegalStateException(lossName + " " + data.shape() + " weighted=" + weighted + " on "
                    + backend.describe() + " vs " + source + ": loss " + got + " but expected " + expected
                    + " (relative tolerance " + tolerance + "): not timing a wrong result");
        }
        return new LossUnderTest(loss, batch, backend);
    }

    /** The timed call: loss and gradient in one pass. Returns the loss so JMH consumes it. */
    double call() {
        return loss.compute(batch, backend).loss();
    }

    /** The named backend, available, with the thread count applied (java runs on 1 thread only). */
    static Backend backend(String name, int threads) {
        Backend backend = Backends.byName(name);
        if (!backend.isAvailable()) {
            throw new IllegalStateException("backend " + name + " is not available: "
                    + backend.unavailabilityReason().orElse("unknown reason"));
        }
        if (backend == Backends.nativeCpu()) {
            Backends.nativeCpu().setThreads(threads);
        } else if (threads != 1) {
            throw new IllegalArgumentException("backend " + name + " runs on 1 thread; run it with -p threads=1");
        }
        return backend;
    }
}
