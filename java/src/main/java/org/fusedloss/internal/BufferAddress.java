package org.fusedloss.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.Buffer;

/**
 * The native address of a direct buffer's position, for the overlap check of a call ({@link Span#range}): two
 * direct buffers share memory when their address ranges meet, and Java has no other way to tell.
 * On JDK 22 and later it comes from {@code java.lang.foreign.MemorySegment.ofBuffer(b).address()};
 * before, from the field {@code java.nio.Buffer.address} read through {@code sun.misc.Unsafe}
 * (what JNI's {@code GetDirectBufferAddress} returns). Neither needs a JVM flag. Where neither
 * works, {@link #of} returns -1 and direct buffers are not compared.
 */
final class BufferAddress {
    /** JDK 22+: (Buffer) -> long, the address of the buffer's position; null before. */
    private static final MethodHandle SEGMENT_ADDRESS = segmentAddress();
    /** Before JDK 22: (Buffer) -> long, the field Buffer.address, the address of element 0. */
    private static final MethodHandle FIELD_ADDRESS = SEGMENT_ADDRESS == null ? fieldAddress() : null;

    private BufferAddress() {
    }

    /** The address of element {@code index} of a direct float or int buffer, or -1 if unknown. */
    static long of(Buffer direct, int index) {
        if (!direct.isDirect()) {
            return -1;
        }
        try {
            if (SEGMENT_ADDRESS != null) {  // the address of the position
                return (long) SEGMENT_ADDRESS.invokeExact(direct) + 4L * (index - direct.position());
            }
            if (FIELD_ADDRESS != null) {
                return (long) FIELD_ADDRESS.invokeExact(direct) + 4L * index;  // floats or ints
            }
        } catch (Throwable t) {
            // unknown: fall through
        }
        return -1;
    }

    private static MethodHandle segmentAddress() {
        if (Runtime.version().feature() < 22) {
            return null;
        }
        try {
            Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            MethodHandle ofBuffer = lookup.findStatic(segment, "ofBuffer", MethodType.methodType(segment, Buffer.class));
            MethodHandle address = lookup.findVirtual(segment, "address", MethodType.methodType(long.class));
            return MethodHandles.filterReturnValue(ofBuffer, address);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    private static MethodHandle fieldAddress() {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            Field theUnsafe = unsafeClass.getDeclaredField("theUnsafe");
            theUnsafe.setAccessible(true);
            Object unsafe = theUnsafe.get(null);
            long offset = (long) unsafeClass.getMethod("objectFieldOffset", Field.class)
                    .invoke(unsafe, Buffer.class.getDeclaredField("address"));
            MethodHandle getLong = MethodHandles.publicLookup()
                    .findVirtual(unsafeClass, "getLong", MethodType.methodType(long.class, Object.class, long.class));
            return MethodHandles.insertArguments(getLong.bindTo(unsafe), 1, offset)
                    .asType(MethodType.methodType(long.class, Buffer.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
