package org.fusedloss.internal.nativecpu;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JavaCPP binding of native/fusedloss.h: one Java method per C function, nothing else.
 *
 * <p>Every array crosses as a heap array plus an offset, or as a direct buffer's address
 * (native/fusedloss_jni.h says why). {@link CriticalRegion} makes JavaCPP pin heap arrays with
 * {@code GetPrimitiveArrayCritical} instead of copying them ({@code GetFloatArrayElements} copies);
 * the kernels call no JNI while they hold them.
 * The loss's own vectors (class weights, alpha, pos_weight) and the result cross as addresses of
 * direct memory, so a call on direct buffers passes no heap array and enters no critical region.
 * Only {@link NativeEngine} calls these, after the arguments were validated in Java.
 */
@Platform(value = "linux-x86_64", include = {"fusedloss.h", "fusedloss_jni.h"}, link = "fusedloss",
        compiler = {"default", "cpp17"})
@CriticalRegion
public final class NativeKernels {
    private NativeKernels() {
    }

    // Each array argument is a pair (native/fusedloss_jni.h): a heap array and the element offset
    // of its first value, or null and a direct buffer's address (from address()). Heap arrays are
    // pinned with GetPrimitiveArrayCritical (@CriticalRegion), not copied, and the glue makes no
    // other JNI call while they are pinned.

    @Name("fl_jni_cross_entropy")
    static native int crossEntropy(long n, long c, float[] logits, long logitsAt, int[] labels, long labelsAt,
            float[] targets, long targetsAt, int ignoreIndex, long classWeights,
            float[] sampleWeights, long sampleWeightsAt, long sampleWeightStride,
            float labelSmoothing, float zLoss, float softCap, float[] upstream, long upstreamAt,
            double gradScale, float[] grad, long gradAt, float[] perTerm, long perTermAt, long result);

    @Name("fl_jni_softmax_focal")
    static native int softmaxFocal(long n, long c, float[] logits, long logitsAt, int[] labels, long labelsAt,
            int ignoreIndex, long alpha, float gamma, float[] sampleWeights, long sampleWeightsAt,
            long sampleWeightStride, float[] upstream, long upstreamAt, double gradScale,
            float[] grad, long gradAt, float[] perTerm, long perTermAt, long result);

    @Name("fl_jni_binary_cross_entropy")
    static native int binaryCrossEntropy(long n, long k, float[] logits, long logitsAt, float[] targets,
            long targetsAt, long posWeight, long binaryClassWeights, float[] sampleWeights,
            long sampleWeightsAt, long sampleWeightStride, float[] elementWeights, long elementWeightsAt,
            float[] upstream, long upstreamAt, double gradScale, float[] grad, long gradAt,
            float[] perTerm, long perTermAt, long result);

    @Name("fl_jni_mean_squared_error")
    static native int meanSquaredError(long n, long k, float[] predictions, long predictionsAt, float[] targets,
            long targetsAt, float[] sampleWeights, long sampleWeightsAt, long sampleWeightStride,
            float[] elementWeights, long elementWeightsAt, float[] upstream, long upstreamAt, double gradScale,
            float[] grad, long gradAt, float[] perTerm, long perTermAt, long result);

    @Name("fl_jni_sigmoid_focal")
    static native int sigmoidFocal(long n, long k, float[] logits, long logitsAt, float[] targets, long targetsAt,
            float alpha, float gamma, float[] sampleWeights, long sampleWeightsAt, long sampleWeightStride,
            float[] elementWeights, long elementWeightsAt, float[] upstream, long upstreamAt, double gradScale,
            float[] grad, long gradAt, float[] perTerm, long perTermAt, long result);

    @Name("fl_jni_weight_sums")
    static native int weightSums(long n, long c, int[] labels, long labelsAt, int ignoreIndex,
            long classWeights, float[] sampleWeights, long sampleWeightsAt, long sampleWeightStride,
            float[] elementWeights, long elementWeightsAt, long result);

    /** The address of a direct buffer's current position (a call of its own, nothing pinned). */
    @Name("fl_jni_address_f")
    static native long address(FloatBuffer direct);

    /** The address of a direct buffer's current position (a call of its own, nothing pinned). */
    @Name("fl_jni_address_i")
    static native long address(IntBuffer direct);

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
