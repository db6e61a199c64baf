package org.fusedloss;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.provider.Arguments;

/**
 * The backends every value, gradient and property test runs on, for {@code @MethodSource}:
 * the Java backend always; the native backend always listed, and on linux-x86_64 it must be
 * available (a test on it fails with the reason it did not load: it never skips silently);
 * elsewhere it is skipped with the reason. The one exception is an explicit
 * {@code -Dfusedloss.skipNative=true} build, which does not build the native library at all: then
 * native tests are skipped (reported as skipped, with that reason). CUDA is listed when available.
 */
public final class TestBackends {
    /** The platform the jar carries a native library for. */
    static final String NATIVE_PLATFORM = "linux-x86_64";

    private TestBackends() {
    }

    static List<Backend> list() {
        List<Backend> list = new ArrayList<>();
        list.add(Backends.java());
        list.add(Backends.nativeCpu());
        if (Backends.cuda().isAvailable()) {
            list.add(Backends.cuda());
        }
        return list;
    }

    /** Every backend, for a test with one parameter. */
    static Stream<Arguments> backends() {
        return list().stream().map(b -> Arguments.of(Named.of(b.name(), b)));
    }

    /** Every backend x every reduction. */
    static Stream<Arguments> backendsAndReductions() {
        return list().stream().flatMap(b -> Stream.of(Reduction.values())
                .map(r -> Arguments.of(Named.of(b.name(), b), r)));
    }

    /** True when the build skipped the native library on purpose. */
    static boolean nativeSkipped() {
        return Boolean.getBoolean("fusedloss.skipNative");
    }

    /**
     * Call first in every test that runs on a backend: fails when the native backend is not
     * available where it must be, skips (with the reason) where it cannot be.
     */
    static void require(Backend b) {
        if (b.isAvailable()) {
            return;
        }
        String reason = b.unavailabilityReason().orElse("no reason given");
        if (backendOf(b) == Backends.nativeCpu() && !Backends.nativeCpu().isAvailable()) {
            if (nativeSkipped()) {
                Assumptions.abort("native backend skipped: built with -Dfusedloss.skipNative=true (" + reason + ")");
            }
            if (NATIVE_PLATFORM.equals(Loader.getPlatform())) {
                Assertions.fail("the native backend must be available on " + NATIVE_PLATFORM + " but is not: " + reason);
            }
        }
        Assumptions.abort(b.name() + " backend not available here: " + reason);
    }

    /** The backend behind a test path, or the backend itself. */
    static Backend backendOf(Backend b) {
        return b instanceof TestPath p ? p.backend() : b;
    }

    /** True for the Java backend (the double-precision reference) and its path. */
    static boolean isJava(Backend b) {
        return backendOf(b) == Backends.java();
    }

    /** Tolerances against the double-precision oracle (and, for native, against the Java backend). */
    public record Tol(double term, double termAbs, double loss, double gradient, double gradientAbs, double same) {
    }

    /**
     * The Java backend computes in double and rounds each output to float once: its per-term
     * values are within float rounding (6e-8) of the oracle and its reduced loss within ~1e-12;
     * its gradient is limited by float rounding and the finite differences (~1e-8). Float backends
     * get the contract's 1e-5 (per-term relative, with an absolute floor of 1e-6 times the term's
     * weight for terms so close to 0 that float cancellation rules out a relative bound; likewise
     * {@code gradientAbs} times the gradient's natural size, for gradients that are 0 in exact
     * arithmetic, e.g. C = 1), and {@code same} is how far two computations that should agree
     * exactly may drift.
     */
    public static Tol tol(Backend b) {
        if (isJava(b)) {
            return new Tol(2e-7, 1e-12, 1e-10, 1e-6, 1e-9, 0);
        }
        return new Tol(1e-5, 1e-6, 1e-5, 1e-5, 1e-6, 1e-6);
    }
}
