package org.fusedloss;

import java.util.List;
import java.util.Locale;
import org.fusedloss.cuda.CudaBackend;
import org.fusedloss.nativecpu.NativeBackend;
import org.fusedloss.reference.JavaBackend;

/**
 * The registry of backends: one of each, created on first use (loading a native library or a GPU
 * driver happens then, never at class-load time, and never throws).
 *
 * <p>{@link #best()} picks, for data in host memory, the native CPU backend when it loaded and the
 * Java backend otherwise. The system property {@code fusedloss.backend} ({@code java},
 * {@code native}, {@code cuda}) overrides the choice; a backend asked for by name that is not
 * available fails loudly instead of falling back.
 */
public final class Backends {
    /** System property that names the backend {@link #best()} returns. */
    public static final String PROPERTY = "fusedloss.backend";

    private Backends() {
    }

    private static final class JavaHolder {
        static final Backend INSTANCE = new JavaBackend();
    }

    private static final class NativeHolder {
        static final NativeBackend INSTANCE = new NativeBackend();
    }

    private static final class CudaHolder {
        static final CudaBackend INSTANCE = new CudaBackend();
    }

    /** The pure-Java, double-precision reference backend (always available). */
    public static Backend java() {
        return JavaHolder.INSTANCE;
    }

    /** The native CPU backend (check {@link Backend#isAvailable()}). */
    public static NativeBackend nativeCpu() {
        return NativeHolder.INSTANCE;
    }

    /** The CUDA backend (check {@link Backend#isAvailable()}). */
    public static CudaBackend cuda() {
        return CudaHolder.INSTANCE;
    }

    /** Every backend, best first for host data: native, java, cuda. */
    public static List<Backend> all() {
        return List.of(nativeCpu(), java(), cuda());
    }

    /** The backend of this name; an unknown name is an error. */
    public static Backend byName(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "java" -> java();
            case "native" -> nativeCpu();
            case "cuda" -> cuda();
            default -> throw new IllegalArgumentException("backend = " + name
                    + " is not one of java, native, cuda");
        };
    }

    /**
     * The backend for data in host memory: the one {@code -Dfusedloss.backend} names (which must be
     * available), else native if it loaded, else java.
     */
    public static Backend best() {
        String forced = System.getProperty(PROPERTY);
        if (forced != null && !forced.isBlank() && !forced.trim().equalsIgnoreCase("auto")) {
            Backend b = byName(forced);
            if (!b.isAvailable()) {
                throw new IllegalStateException("-D" + PROPERTY + "=" + forced + " but that backend is not available: "
                        + b.unavailabilityReason().orElse("unknown reason"));
            }
            return b;
        }
        if (nativeCpu().isAvailable()) {
            return nativeCpu();
        }
        FallbackNotice.logOnce(nativeCpu().unavailabilityReason().orElse("unknown reason"));
        return java();
    }

    /** Says once per JVM, through System.Logger, why the native backend is not the one running. */
    private static final class FallbackNotice {
        private static final java.util.concurrent.atomic.AtomicBoolean LOGGED =
                new java.util.concurrent.atomic.AtomicBoolean();

        static void logOnce(String reason) {
            if (LOGGED.compareAndSet(false, true)) {
                System.getLogger("org.fusedloss").log(System.Logger.Level.WARNING,
                        "fusedloss: the native backend is not available ({0}); using the java backend", reason);
            }
        }
    }

    /** One line per backend: available or why not. */
    public static String report() {
        StringBuilder sb = new StringBuilder();
        for (Backend b : all()) {
            sb.append(String.format("%-7s %s%n", b.name(), b.describe()));
        }
        return sb.toString();
    }
}
