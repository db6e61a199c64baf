package org.fusedloss.internal;

import java.nio.Buffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;

/**
 * One argument of a call as the caller gave it, never copied: a heap array and the index of its
 * first element, a buffer read from its position (heap-backed or direct), or an address in device
 * memory. Every backend reads the caller's memory through it: the Java backend element by element,
 * the native backend as (array, offset) or a direct address, the CUDA backend as a device address.
 */
public final class Span {
    private final String name;
    private final Object array;    // float[] or int[]: a heap array, or a heap buffer's backing array
    private final int offset;      // the index of the first element in array
    private final Buffer buffer;   // the caller's buffer (heap or direct), or null
    private final long device;     // a device address, or 0

    private Span(String name, Object array, int offset, Buffer buffer, long device) {
        this.name = name;
        this.array = array;
        this.offset = offset;
        this.buffer = buffer;
        this.device = device;
    }

    /** A heap {@code float[]} or {@code int[]} from index {@code offset}. */
    public static Span heap(String name, Object array, int offset) {
        if (array == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        return new Span(name, array, offset, null, 0);
    }

    /** A {@link FloatBuffer} or {@link IntBuffer} from its position (its later moves do not matter). */
    public static Span buffer(String name, Buffer buffer) {
        if (buffer == null) {
            throw new IllegalArgumentException(name + " is null");
        }
        if (!buffer.isDirect() && buffer.hasArray()) {
            return new Span(name, buffer.array(), buffer.arrayOffset() + buffer.position(), buffer, 0);
        }
        return new Span(name, null, buffer.position(), buffer, 0);
    }

    /** An address in device memory (not 0). */
    public static Span device(String name, long address) {
        if (address == 0) {
            throw new IllegalArgumentException(name + ": the device address is 0 (NULL)");
        }
        return new Span(name, null, 0, null, address);
    }

    /** {@return the argument's name, as messages use it} */
    public String name() {
        return name;
    }

    /** {@return true for device memory} */
    public boolean onDevice() {
        return device != 0;
    }

    /** {@return the heap array this span reads ({@code float[]} or {@code int[]}), or null} */
    public Object heapArray() {
        return array;
    }

    /** {@return the index of the first element in {@link #heapArray()}, or a direct buffer's position} */
    public int offset() {
        return offset;
    }

    /** {@return the direct buffer this span reads from its {@link #offset()}, or null} */
    public Buffer directBuffer() {
        return array == null && buffer != null ? buffer : null;
    }

    /** {@return the device address, or 0} */
    public long deviceAddress() {
        return device;
    }

    /**
     * Checks that {@code needed} elements are there (and writable for an output). Device memory
     * cannot be checked: its caller vouches for the length.
     */
    public void check(long needed, boolean output) {
        if (device != 0) {
            return;
        }
        if (buffer == null) {
            int length = array instanceof float[] f ? f.length : ((int[]) array).length;
            if (offset < 0 || offset > length) {
                throw new IllegalArgumentException(name + ": offset " + offset
                        + " is outside the array of length " + length);
            }
            if (length - (long) offset < needed) {
                throw new IllegalArgumentException(name + ": needs " + needed + " elements from offset "
                        + offset + " but the array of length " + length + " has " + (length - offset));
            }
            return;
        }
        int remaining = buffer.limit() - position();
        if (remaining < needed) {
            throw new IllegalArgumentException(name + ": needs " + needed + " elements from position "
                    + position() + " but the buffer has " + remaining + " remaining");
        }
        if (output && buffer.isReadOnly()) {
            throw new IllegalArgumentException(name + ": the buffer is read-only");
        }
        if (buffer.isDirect()) {
            ByteOrder order = buffer instanceof FloatBuffer f ? f.order() : ((IntBuffer) buffer).order();
            if (order != ByteOrder.nativeOrder()) {
                throw new IllegalArgumentException(name + ": a direct buffer must be in native byte order ("
                        + ByteOrder.nativeOrder() + "), this one is " + order
                        + "; create it with ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder())");
            }
        } else if (array == null) {
            throw new IllegalArgumentException(name + ": a buffer must be direct or backed by an accessible "
                    + "array (this one is a view of a heap ByteBuffer, or read-only)");
        }
    }

    /** The buffer's position when the span was made (a heap buffer's is folded into {@link #offset()}). */
    private int position() {
        return array != null ? offset - buffer.arrayOffset() : offset;
    }

    // Element access for the Java backend and the weight pass (host memory only, after check()).

    /** Float element {@code i} (0 is the first). */
    public float getFloat(long i) {
        return array != null ? ((float[]) array)[offset + (int) i] : ((FloatBuffer) buffer).get(offset + (int) i);
    }

    /** Int element {@code i} (0 is the first). */
    public int getInt(long i) {
        return array != null ? ((int[]) array)[offset + (int) i] : ((IntBuffer) buffer).get(offset + (int) i);
    }

    /** Writes float element {@code i} (0 is the first). */
    public void putFloat(long i, float v) {
        if (array != null) {
            ((float[]) array)[offset + (int) i] = v;
        } else {
            ((FloatBuffer) buffer).put(offset + (int) i, v);
        }
    }

    /**
     * The bytes the first {@code needed} elements (4 bytes each) occupy: in a heap array, at a
     * native address for a direct buffer, or at a device address; null where a direct buffer's
     * address is unknown.
     */
    public Range range(long needed) {
        if (device != 0) {
            // 4 bytes per element (int32 labels too), saturated at the top of the (unsigned) address space
            long bytes = needed > Long.MAX_VALUE / 4 ? Long.MAX_VALUE : 4 * needed;
            return new Range(DEVICE, device, Long.compareUnsigned(device, -1L - bytes) > 0 ? -1L : device + bytes);
        }
        if (array != null) {
            return new Range(array, 4L * offset, 4L * (offset + needed));
        }
        long address = BufferAddress.of(buffer, offset);
        return address < 0 ? null : new Range(null, address, address + 4 * needed);
    }

    /** What device ranges are compared with: another device range only. */
    private static final Object DEVICE = new Object();

    /**
     * A byte range [from, to) in a heap array, in host memory ({@code memory} null), or on the
     * device; addresses compare unsigned.
     */
    public record Range(Object memory, long from, long to) {
        /** {@return true when both lie in the same memory and share a byte} */
        public boolean overlaps(Range other) {
            return other != null && memory == other.memory && Long.compareUnsigned(from, other.to) < 0
                    && Long.compareUnsigned(other.from, to) < 0;
        }
    }
}
