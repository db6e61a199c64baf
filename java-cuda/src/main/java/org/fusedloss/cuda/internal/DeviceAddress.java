package org.fusedloss.cuda.internal;

import jcuda.Pointer;

/**
 * The raw device address a JCuda pointer holds (its native pointer plus its byte offset), which
 * JCuda keeps protected: a subclass's copy constructor reads it, without reflection. The CUDA
 * path works on raw addresses ({@link org.fusedloss.internal.Span#device}), so that overlaps
 * between device buffers can be checked like those of host buffers.
 */
public final class DeviceAddress extends Pointer {
    private DeviceAddress(Pointer p) {
        super(p);
    }

    /** {@return the device address {@code p} points at} */
    public static long of(Pointer p) {
        DeviceAddress copy = new DeviceAddress(p);
        return copy.getNativePointer() + copy.getByteOffset();
    }
}
