package org.fusedloss;

import java.util.Optional;
import java.util.function.Supplier;

/**
 * One way the tests compute a loss: a backend, and how a call reaches it. The Java backend, the
 * native backend on each instruction set ({@code native@avx512}, {@code native@avx2},
 * {@code native@scalar}), CUDA on host arrays, and, from the fusedloss-cuda module's tests,
 * {@code cuda-device} (the data uploaded, {@code DeviceBatch}, the outputs read back). It is a
 * {@link Backend} for the tests' helpers, named after the path; {@link Checks#compute} sends a
 * call through {@link #compute} and checks that the result came from {@link #backend()}.
 * {@link TestPaths} lists them.
 */
public final class TestPath implements Backend {
    /** Computes a loss on a batch the path's way. */
    public interface Computation {
        LossResult compute(Loss loss, Batch batch);
    }

    /** Extra paths a module's tests add (ServiceLoader, META-INF/services/org.fusedloss.TestPath$Provider). */
    public interface Provider {
        java.util.List<TestPath> paths();
    }

    private final String name;
    private final Backend backend;
    private final Supplier<Optional<String>> unavailable;
    private final Computation computation;

    /**
     * A path called {@code name} on {@code backend}: {@code unavailable} says why it cannot run here
     * (beyond the backend's own reason), {@code computation} makes a call.
     */
    public TestPath(String name, Backend backend, Supplier<Optional<String>> unavailable, Computation computation) {
        this.name = name;
        this.backend = backend;
        this.unavailable = unavailable;
        this.computation = computation;
    }

    /** A path that calls {@code loss.compute(batch, backend)}. */
    static TestPath direct(Backend backend) {
        return new TestPath(backend.name(), backend, Optional::empty, (loss, batch) -> loss.compute(batch, backend));
    }

    /** {@return the backend the results must come from} */
    public Backend backend() {
        return backend;
    }

    /** Computes the loss on the batch this path's way. */
    public LossResult compute(Loss loss, Batch batch) {
        return computation.compute(loss, batch);
    }

    /** {@return the batch's arguments, for a path that moves them elsewhere (cuda-device)} */
    public static org.fusedloss.internal.BatchData data(Batch batch) {
        return batch.data;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean isAvailable() {
        return unavailabilityReason().isEmpty();
    }

    @Override
    public Optional<String> unavailabilityReason() {
        Optional<String> why = backend.unavailabilityReason();
        return why.isPresent() ? why : unavailable.get();
    }

    @Override
    public String describe() {
        return name + " (" + backend.describe() + ")";
    }

    @Override
    public String toString() {
        return name;
    }
}
