package org.fusedloss.nativecpu;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JavaCPP binding of native/fusedloss.h: one Java method per C function, nothing else.
 *
 * <p>Every array crosses as a {@link FloatBuffer} or {@link IntBuffer}: a direct buffer passes its
 * address, a heap buffer ({@code FloatBuffer.wrap(array)}) its array. {@link CriticalRegion} makes
 * JavaCPP pin heap arrays with {@code GetPrimitiveArrayCritical} instead of copying them
 * ({@code GetFloatArrayElements} copies); the kernels call no JNI while they hold them.
 * Only {@link NativeBackend} calls these, after the arguments were validated in Java.
 */
@Platform(value = "linux-x86_64", include = "fusedloss.h", link = "fusedloss",
        compiler = {"default", "cpp17"})
@CriticalRegion
public final class NativeKernels {
    private NativeKernels() {
    }

    @Name("fl_cross_entropy")
    static native int crossEntropy(long n, long c, FloatBuffer logits,
            IntBuffer labels, FloatBuffer targets, int ignoreIndex,
            FloatBuffer classWeights, FloatBuffer sampleWeights, long sampleWeightStride,
            float labelSmoothing, float zLoss, float softCap,
            FloatBuffer upstream, double gradScale, FloatBuffer grad, FloatBuffer perTerm, double[] result);

    @Name("fl_softmax_focal")
    static native int softmaxFocal(long n, long c, FloatBuffer logits,
            IntBuffer labels, int ignoreIndex, FloatBuffer alpha, float gamma,
            FloatBuffer sampleWeights, long sampleWeightStride,
            FloatBuffer upstream, double gradScale, FloatBuffer grad, FloatBuffer perTerm, double[] result);

    @Name("fl_binary_cross_entropy")
    static native int binaryCrossEntropy(long n, long k, FloatBuffer logits, FloatBuffer targets,
            FloatBuffer posWeight, FloatBuffer binaryClassWeights,
            FloatBuffer sampleWeights, long sampleWeightStride, FloatBuffer elementWeights,
            FloatBuffer upstream, double gradScale, FloatBuffer grad, FloatBuffer perTerm, double[] result);

    @Name("fl_mean_squared_error")
    static native int meanSquaredError(long n, long k, FloatBuffer predictions, FloatBuffer targets,
            FloatBuffer sampleWeights, long sampleWeightStride, FloatBuffer elementWeights,
            FloatBuffer upstream, double gradScale, FloatBuffer grad, FloatBuffer perTerm, double[] result);

    @Name("fl_sigmoid_focal")
    static native int sigmoidFocal(long n, long k, FloatBuffer logits, FloatBuffer targets,
            float alpha, float gamma,
            FloatBuffer sampleWeights, long sampleWeightStride, FloatBuffer elementWeights,
            FloatBuffer upstream, double gradScale, FloatBuffer grad, FloatBuffer perTerm, double[] result);

    @Name("fl_weight_sums")
    static native int weightSums(long n, long c, IntBuffer labels, int ignoreIndex, FloatBuffer classWeights,
            FloatBuffer sampleWeights, long sampleWeightStride, FloatBuffer elementWeights, double[] result);

    @Name("fl_isa")
    static native @Cast("const char*") String isa();

    @Name("fl_isa_supported")
    static native int isaSupported(String name);

    @Name("fl_set_isa")
    static native int setIsa(String name);

    @Name("fl_threads")
    static native int threads();

    @Name("fl_set_threads")
    static native int setThreads(int threads);

    @Name("fl_version")
    static native @Cast("const char*") String version();

    @Name("fl_last_error")
    static native @Cast("const char*") String lastError();
}
