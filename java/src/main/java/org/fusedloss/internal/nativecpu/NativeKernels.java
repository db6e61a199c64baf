package org.fusedloss.internal.nativecpu;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JavaCPP binding of native/include/fusedloss.h: one Java method per C function, nothing else.
 *
 * <p>A call's request crosses as the address of an {@code fl_request} in direct memory; every
 * array in it is a heap array (passed beside it) plus an offset, or a direct buffer's address
 * (native/include/fusedloss_jni.h says why). {@link CriticalRegion} makes JavaCPP pin heap arrays with
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

    // The request (fl_request, written by AbiRequest) is in direct memory; its data fields hold a
    // direct buffer's address, or the element offset into the heap array passed as the matching
    // argument (native/include/fusedloss_jni.h). Heap arrays are pinned with GetPrimitiveArrayCritical
    // (@CriticalRegion), not copied, and the glue makes no other JNI call while they are pinned.

    @Name("fl_jni_compute")
    static native int compute(long request, float[] predictions, int[] labels, float[] targets,
            float[] sampleWeights, float[] elementWeights, float[] upstream, float[] gradient, float[] perTerm,
            long result);

    @Name("fl_jni_weight_sums")
    static native int weightSums(long request, int[] labels, float[] sampleWeights, float[] elementWeights,
            long result);

    /** The address of a direct buffer's current position (a call of its own, nothing pinned). */
    @Name("fl_jni_address_f")
    static native long address(FloatBuffer direct);

    /** The address of a direct buffer's current position (a call of its own, nothing pinned). */
    @Name("fl_jni_address_i")
    static native long address(IntBuffer direct);

    @Name("fl_isa_count")
    static native int isaCount();

    @Name("fl_isa_name")
    static native @Cast("const char*") String isaName(int index);

    @Name("fl_loss_name")
    static native @Cast("const char*") String lossName(int loss);

    @Name("fl_request_offset")
    static native long requestOffset(String field);

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
