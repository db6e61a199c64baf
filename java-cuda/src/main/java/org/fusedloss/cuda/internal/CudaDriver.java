package org.fusedloss.cuda.internal;

import static jcuda.driver.JCudaDriver.cuDriverGetVersion;

import jcuda.driver.CUresult;

/**
 * The NVIDIA driver as the CUDA backend meets it: JCuda's binding, loaded once per JVM with the
 * reason it did not load, the driver's error codes as exceptions, its version numbers.
 */
final class CudaDriver {
    private CudaDriver() {
    }

    /** Throws {@link IllegalStateException} naming the call and the error unless it is CUDA_SUCCESS. */
    static void check(int result, String what) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuda: " + what + " failed: " + CUresult.stringFor(result));
        }
    }

    /** Why the backend cannot run here; its message is the reason. */
    static final class Unavailable extends Exception {
        Unavailable(String reason) {
            super(reason);
        }
    }

    /** Loads JCuda's driver binding once per JVM (its static initializer loads libcuda.so). */
    static final class Library {
        static final String FAILURE = load();

        private static String load() {
            try {
                int[] version = new int[1];
                cuDriverGetVersion(version);  // first touch of JCudaDriver: loads the native library
                return null;
            } catch (LinkageError e) {
                return describeLoadFailure(e);
            } catch (Throwable t) {
                return "the NVIDIA driver did not answer cuDriverGetVersion: " + t;
            }
        }

        /** JCuda's message is a page of nested stack traces; keep the line that says what is missing. */
        private static String describeLoadFailure(Throwable t) {
            String message = String.valueOf(t.getMessage());
            StringBuilder chain = new StringBuilder(message);
            for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
                chain.append('\n').append(c.getMessage());  // a second attempt's cause holds the first's text
            }
            int at = chain.indexOf("libcuda");
            if (at >= 0) {
                int end = chain.indexOf("\n", at);
                return "no NVIDIA driver: " + chain.substring(at, end < 0 ? chain.length() : end).trim()
                        + " (JCuda's driver binding needs the driver's libcuda.so)";
            }
            int end = message.indexOf('\n');
            return "JCuda's driver binding (libJCudaDriver) did not load: " + t.getClass().getName() + ": "
                    + (end < 0 ? message : message.substring(0, end)).trim();
        }
    }

    /** A driver API version as CUDA writes it: 13000 -> "13.0". */
    static String version(int v) {
        return v / 1000 + "." + (v % 1000) / 10;
    }
}
