package org.fusedloss.internal;

import java.util.Locale;
import java.util.Optional;

/**
 * The one rule every setting follows (README, "Settings"): a setting is a system property
 * ({@code fusedloss.native.threads}) or the environment variable of the same name in capitals with
 * underscores ({@code FUSEDLOSS_NATIVE_THREADS}); the property wins when both are set, and an
 * empty value counts as unset. A value the setting does not accept makes the backend it belongs to
 * unavailable, with a reason that names the setting and the value ({@link Invalid}); booleans are
 * {@code true} or {@code false} in any case.
 */
public final class Settings {
    /** {@code fusedloss.backend}: the backend {@code Backends.best()} returns. */
    public static final String BACKEND = "fusedloss.backend";
    /** {@code fusedloss.native.disable}: turns the native backend off. */
    public static final String NATIVE_DISABLE = "fusedloss.native.disable";
    /** {@code fusedloss.native.isa}: forces an instruction set (scalar, avx2, avx512). */
    public static final String NATIVE_ISA = "fusedloss.native.isa";
    /** {@code fusedloss.native.threads}: the native backend's worker threads. */
    public static final String NATIVE_THREADS = "fusedloss.native.threads";
    /** {@code fusedloss.cuda.disable}: turns the CUDA backend off. */
    public static final String CUDA_DISABLE = "fusedloss.cuda.disable";
    /** {@code fusedloss.cuda.device}: the index of the GPU the CUDA backend uses. */
    public static final String CUDA_DEVICE = "fusedloss.cuda.device";

    private Settings() {
    }

    /** A value that a setting does not accept; the message names the setting, where it came from, and the value. */
    public static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(Value v, String why) {
            super(v + " " + why);
        }
    }

    /**
     * A setting's raw value and where it came from.
     *
     * @param setting the property name
     * @param source  {@code "-Dfusedloss.x.y"} or {@code "FUSEDLOSS_X_Y"}
     * @param raw     the value as given (trimmed)
     */
    public record Value(String setting, String source, String raw) {
        @Override
        public String toString() {
            return source + "=" + raw;
        }

        /** {@code true} or {@code false}, in any case. */
        public boolean bool() throws Invalid {
            return switch (raw.toLowerCase(Locale.ROOT)) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new Invalid(this, "is not a boolean (true or false)");
            };
        }

        /** A decimal integer in [min, max]. */
        public int integer(int min, int max) throws Invalid {
            int v;
            try {
                v = Integer.parseInt(raw);
            } catch (NumberFormatException e) {
                throw new Invalid(this, "is not an integer");
            }
            if (v < min || v > max) {
                throw new Invalid(this, "is outside [" + min + ", " + max + "]");
            }
            return v;
        }

        /** One of the given names (compared in lower case); returns it in lower case. */
        public String oneOf(String... names) throws Invalid {
            String v = raw.toLowerCase(Locale.ROOT);
            for (String n : names) {
                if (n.equals(v)) {
                    return n;
                }
            }
            throw new Invalid(this, "is not one of " + String.join(", ", names));
        }

        /** A reason built on this value, for a valid value the backend cannot use. */
        public Invalid invalid(String why) {
            return new Invalid(this, why);
        }
    }

    /** The environment variable of a setting: its property name in capitals, dots as underscores. */
    public static String environmentVariable(String setting) {
        return setting.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    /** The setting's value: the system property if set, else the environment variable, else empty. */
    public static Optional<Value> read(String setting) {
        String p = System.getProperty(setting);
        if (p != null && !p.isBlank()) {
            return Optional.of(new Value(setting, "-D" + setting, p.trim()));
        }
        String env = environmentVariable(setting);
        String e = System.getenv(env);
        if (e != null && !e.isBlank()) {
            return Optional.of(new Value(setting, env, e.trim()));
        }
        return Optional.empty();
    }

    /** A boolean setting, false when unset. */
    public static boolean flag(String setting) throws Invalid {
        Optional<Value> v = read(setting);
        return v.isPresent() && v.get().bool();
    }
}
