package org.fusedloss.dl4j;

import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How the losses reach ND4J's memory. A float32 array whose elements lie row-major and contiguous
 * (C order, no gaps: a fresh array, or a view of whole rows of one) is handed to the kernels as a
 * direct buffer over ND4J's own memory: nothing is copied. Any other array (a strided view, F order,
 * another data type) is first copied, once, into a fresh float32 C-order array, which the kernels
 * then read.
 */
final class Nd4jArrays {
    /** The most floats a direct buffer can map (2 GiB). */
    static final long MAX_ELEMENTS = Integer.MAX_VALUE / Float.BYTES;

    private Nd4jArrays() {
    }

    /** {@code a} itself when it is float32, row-major and contiguous; otherwise such a copy of it. */
    static INDArray rowMajorFloats(INDArray a) {
        INDArray f = a.dataType() == DataType.FLOAT ? a : a.castTo(DataType.FLOAT);
        return isRowMajorContiguous(f) ? f : f.dup('c');
    }

    /** True when the elements lie in row-major order with no gaps (dimensions of size 1 may have any stride). */
    static boolean isRowMajorContiguous(INDArray a) {
        long[] shape = a.shape();
        long[] stride = a.stride();
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && stride[d] != expected) {
                return false;
            }
            expected *= shape[d];
        }
        return true;
    }

    /**
     * A direct buffer over the memory of a float32, row-major, contiguous array, positioned at its
     * first element (ND4J's {@code asNioFloat} counts the view's offset, checked here). The caller
     * must keep {@code a} reachable while the buffer is in use.
     */
    static FloatBuffer buffer(INDArray a) {
        if (a.dataType() != DataType.FLOAT || !isRowMajorContiguous(a)) {
            throw new IllegalStateException("not a float32 row-major contiguous array: " + a.shapeInfoToString());
        }
        FloatBuffer b = a.data().asNioFloat();
        if (!b.isDirect() || b.position() != a.offset() || b.remaining() < a.length()) {
            throw new IllegalStateException("ND4J gave no direct buffer over " + a.length() + " floats at offset "
                    + a.offset() + " (direct " + b.isDirect() + ", position " + b.position() + ", remaining "
                    + b.remaining() + ")");
        }
        return b;
    }

    /** A new float32 C-order array in the current workspace, if one is open (as DL4J's own losses allocate). */
    static INDArray newFloats(long rows, long cols) {
        return Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, cols}, 'c');
    }

    /** Rejects what a direct buffer cannot map, naming the argument. */
    static void checkSize(String name, INDArray a) {
        if (a.length() > MAX_ELEMENTS) {
            throw new IllegalArgumentException(name + ": " + Arrays.toString(a.shape()) + " has " + a.length()
                    + " elements, more than a direct buffer maps (" + MAX_ELEMENTS + " floats, 2 GiB); "
                    + "split the mini-batch");
        }
    }
}
