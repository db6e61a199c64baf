package org.fusedloss;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.fusedloss.internal.KernelBackend;
import org.fusedloss.internal.MissingBackend;
import org.fusedloss.internal.Settings;
import org.fusedloss.internal.nativecpu.NativeEngine;
import org.fusedloss.internal.reference.JavaBackend;
import org.fusedloss.nativecpu.NativeBackend;

/**
 * The registry of backends: one of each, created on first use. Loading a native library or a GPU
 * driver happens then, never at class-load time, and nothing here throws on the way: a backend
 * that cannot run says why ({@link Backend#unavailabilityReason()}, {@link #report()}).
 *
 * <p>{@link #best()} picks, for data in host memory, the native CPU backend when it loaded and the
 * Java backend otherwise. The setting {@code fusedloss.backend} (system property, or the
 * environment variable {@code FUSEDLOSS_BACKEND}: {@code auto}, {@code java}, {@code native},
 * {@code cuda}) overrides the choice; a backend asked for by name that is not available fails
 * loudly instead of falling back. The CUDA backend lives in the separate artifact
 * {@code org.fusedloss:fusedloss-cuda}, found at run time when it is on the class or module path.
 */
public final class Backends {
    /** The setting (system property) that names the backend {@link #best()} returns. */
    public static final String PROPERTY = Settings.BACKEND;

    private Backends() {
    }

    private static final class JavaHolder {
        static final Backend INSTANCE = new JavaBackend();
    }

    private static final class NativeHolder {
        static final NativeBackend INSTANCE = new NativeBackend();
    }

    private static final class CudaHolder {
        static final Backend INSTANCE = findCuda();
    }

    /**
     * The pure-Java, double-precision reference backend.
     *
     * @return the Java backend, always available
     */
    public static Backend java() {
        return JavaHolder.INSTANCE;
    }

    /**
     * The native CPU backend.
     *
     * @return the native backend (check {@link Backend#isAvailable()})
     */
    public static NativeBackend nativeCpu() {
        return NativeHolder.INSTANCE;
    }

    /**
     * The CUDA backend, from the fusedloss-cuda artifact when it is present.
     *
     * @return the CUDA backend (check {@link Backend#isAvailable()}); without fusedloss-cuda, one that
     *     says so
     */
    public static Backend cuda() {
        return CudaHolder.INSTANCE;
    }

    /**
     * Every backend, best first for host data.
     *
     * @return native, java, cuda
     */
    public static List<Backend> all() {
        return List.of(nativeCpu(), java(), cuda());
    }

    /**
     * The engine behind one of the library's backends (the native backend's public face delegates
     * to its engine); any other implementation of {@link Backend} is an error.
     */
    static KernelBackend engine(Backend b) {
        if (b instanceof KernelBackend k) {
            return k;
        }
        if (b instanceof NativeBackend) {
            return NativeEngine.get();
        }
        throw new IllegalArgumentException("backend " + b.name() + " (" + b.getClass().getName()
                + ") is not one of this library's backends (Backends.all())");
    }

    /**
     * The backend of this name.
     *
     * @param name {@code "java"}, {@code "native"} or {@code "cuda"}, in any case
     * @return that backend
     * @throws IllegalArgumentException for another name
     */
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
     * The backend for data in host memory: the one the setting {@code fusedloss.backend} names, else
     * native if it loaded, else java.
     *
     * @return the backend to use
     * @throws IllegalStateException when the setting names a backend that is not available (with its
     *     reason), or has a value that is not a backend
     */
    public static Backend best() {
        Optional<Settings.Value> forced = Settings.read(PROPERTY);
        if (forced.isPresent()) {
            String name;
            try {
                name = forced.get().oneOf("auto", "java", "native", "cuda");
            } catch (Settings.Invalid e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
            if (!name.equals("auto")) {
                Backend b = byName(name);
                if (!b.isAvailable()) {
                    throw new IllegalStateException(forced.get() + " but that backend is not available: "
                            + b.unavailabilityReason().orElse("unknown reason"));
                }
                return b;
            }
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

    /**
     * One line per backend, available or why not, and the one {@link #best()} picks. Never throws.
     *
     * @return the lines, each ending in a line separator
     */
    public static String report() {
        StringBuilder sb = new StringBuilder();
        for (Backend b : all()) {
            sb.append(String.format("%-7s %s%n", b.name(), b.describe()));
        }
        String best;
        try {
            best = best().name();
        } catch (RuntimeException e) {
            best = "none: " + e.getMessage();
        }
        sb.append(String.format("%-7s %s%n", "best", best));
        return sb.toString();
    }

    /** The CUDA backend of fusedloss-cuda, through ServiceLoader, or one that says why there is none. */
    private static Backend findCuda() {
        try {
            for (KernelBackend b : ServiceLoader.load(KernelBackend.class, Backends.class.getClassLoader())) {
                if (b.name().equals("cuda")) {
                    return b;
                }
            }
            return new MissingBackend("cuda", "the fusedloss-cuda artifact (org.fusedloss:fusedloss-cuda) is not "
                    + "on the class path or module path");
        } catch (ServiceConfigurationError | LinkageError | RuntimeException e) {
            return new MissingBackend("cuda", "fusedloss-cuda is present but did not load: " + e);
        }
    }
}
