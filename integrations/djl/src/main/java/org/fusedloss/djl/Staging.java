package org.fusedloss.djl;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hands NDArrays to the core as buffers, and makes the arrays the core writes, with as few copies as
 * DJL's public API allows; every copy it makes is recorded.
 *
 * <p>In place: an NDArray in host memory whose engine returns a direct buffer from
 * {@link NDArray#toByteBuffer(boolean) toByteBuffer(true)} is read where it lies (DJL documents that
 * such a buffer shares the array's native memory; PyTorch returns one for every contiguous CPU
 * tensor), and an output is an uninitialised NDArray of the engine written through the same kind of
 * buffer, once a probe has shown that writes through it reach the array. Otherwise (an array on a
 * GPU, an engine without direct buffers): inputs are copied to the host once, outputs are written
 * into a host buffer and handed to the engine once ({@link NDManager#create(java.nio.Buffer, Shape,
 * DataType)}, which moves them to the device).
 */
final class Staging implements AutoCloseable {
    /** Engines whose direct buffers write through to the array (probed once per engine). */
    private static final Map<String, Boolean> WRITES_IN_PLACE = new ConcurrentHashMap<>();

    private final NDManager scratch;
    private final boolean copyAll;
    private final List<String> copies = new ArrayList<>();
    private long copiedBytes;

    /**
     * @param owner   the manager of the predictions: temporaries live in a sub-manager of it, closed
     *                with this staging; outputs are attached to it
     * @param copyAll take the copying path even for host arrays (the path a GPU array takes)
     */
    Staging(NDManager owner, boolean copyAll) {
        this.scratch = owner.newSubManager(Device.cpu());
        this.copyAll = copyAll;
    }

    /** What was copied, one line per copy. */
    List<String> copies() {
        return List.copyOf(copies);
    }

    long copiedBytes() {
        return copiedBytes;
    }

    private void copied(String what, long bytes) {
        copies.add(what + " (" + bytes + " bytes)");
        copiedBytes += bytes;
    }

    private static boolean onHost(NDArray a) {
        return Device.Type.CPU.equals(a.getDevice().getDeviceType());
    }

    /** The array in host memory: itself, or a copy (counted) of an array on a device. */
    private NDArray host(NDArray a, String name) {
        if (onHost(a) && !copyAll) {
            return a;
        }
        NDArray detached = a.stopGradient();   // a view: the copy below stays out of any autograd graph
        detached.attach(scratch);
        NDArray h = detached.toDevice(Device.cpu(), true);
        h.attach(scratch);
        copied(name + ": " + a.getDevice() + " -> host", bytes(a));
        return h;
    }

    private static long bytes(NDArray a) {
        return a.size() * a.getDataType().getNumOfBytes();
    }

    /** The array's float32 values, read in place where possible (converted once from another type). */
    FloatBuffer floats(NDArray a, String name) {
        if (a.size() == 0) {
            return FloatBuffer.allocate(0);
        }
        NDArray h = host(a, name);
        if (h.getDataType() != DataType.FLOAT32) {
            h = h.toType(DataType.FLOAT32, true);
            h.attach(scratch);
            copied(name + ": " + a.getDataType() + " -> FLOAT32", a.size() * Float.BYTES);
        }
        ByteBuffer bytes = h.toByteBuffer(true);
        if (bytes.isDirect()) {
            return bytes.order(ByteOrder.nativeOrder()).asFloatBuffer();
        }
        // The engine copied the data into a heap buffer; the core needs a float[] or a direct buffer.
        float[] values = new float[Math.toIntExact(a.size())];
        bytes.order(ByteOrder.nativeOrder()).asFloatBuffer().get(values);
        copied(name + ": engine's heap copy -> float[]", a.size() * Float.BYTES);
        return FloatBuffer.wrap(values);
    }

    /**
     * Class indices as int32: an INT32 array is read in place; INT64 is narrowed and any other
     * numeric type must hold whole numbers (one copy of the labels, which are small). A value that
     * is not a whole number, or outside the int range, throws here; the core checks the class range.
     */
    IntBuffer classIndices(NDArray a, String name) {
        DataType type = a.getDataType();
        if (a.size() == 0) {
            return IntBuffer.allocate(0);
        }
        NDArray h = host(a, name);
        if (type == DataType.INT32) {
            ByteBuffer bytes = h.toByteBuffer(true);
            if (bytes.isDirect()) {
                return bytes.order(ByteOrder.nativeOrder()).asIntBuffer();
            }
            int[] values = new int[Math.toIntExact(a.size())];
            bytes.order(ByteOrder.nativeOrder()).asIntBuffer().get(values);
            copied(name + ": engine's heap copy -> int[]", a.size() * Integer.BYTES);
            return IntBuffer.wrap(values);
        }
        int[] out = new int[Math.toIntExact(a.size())];
        if (type == DataType.INT64) {
            LongBuffer values = h.toByteBuffer(true).order(ByteOrder.nativeOrder()).asLongBuffer();
            for (int i = 0; i < out.length; i++) {
                long v = values.get(i);
                if (v != (int) v) {
                    throw new IllegalArgumentException(name + "[" + i + "] = " + v
                            + " is not a class index (outside the int range)");
                }
                out[i] = (int) v;
            }
        } else {
            NDArray wide = h.toType(DataType.FLOAT64, true);   // exact for every int and float label
            wide.attach(scratch);
            DoubleBuffer values = wide.toByteBuffer(true).order(ByteOrder.nativeOrder()).asDoubleBuffer();
            for (int i = 0; i < out.length; i++) {
                double v = values.get(i);
                if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException(name + "[" + i + "] = " + v
                            + " is not a class index (a whole number in the int range); the labels are " + type);
                }
                out[i] = (int) v;
            }
        }
        copied(name + ": " + type + " -> int32", a.size() * Integer.BYTES);
        return IntBuffer.wrap(out);
    }

    /** An output of the core: its buffer now, its NDArray (on the predictions' device) after the call. */
    Output output(NDArray like, Shape shape, String name) {
        NDManager owner = like.getManager();
        boolean hostManager = Device.Type.CPU.equals(owner.getDevice().getDeviceType());
        if (onHost(like) && hostManager && !copyAll && shape.size() > 0 && writesInPlace(owner)) {
            NDArray array = owner.create(shape, DataType.FLOAT32);   // uninitialised: the core writes all of it
            return new Output(array, array.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer(),
                    null, shape, owner, like.getDevice(), name);
        }
        ByteBuffer host = ByteBuffer.allocateDirect(Math.toIntExact(shape.size() * Float.BYTES))
                .order(ByteOrder.nativeOrder());
        return new Output(null, host.asFloatBuffer(), host, shape, owner, like.getDevice(), name);
    }

    /** Whether a direct buffer of this engine's arrays writes through to the array (probed once). */
    private static boolean writesInPlace(NDManager manager) {
        return WRITES_IN_PLACE.computeIfAbsent(manager.getEngine().getEngineName(), name -> {
            try (NDManager probe = manager.newSubManager(Device.cpu())) {
                NDArray a = probe.zeros(new Shape(1), DataType.FLOAT32);
                ByteBuffer b = a.toByteBuffer(true);
                if (!b.isDirect()) {
                    return false;
                }
                b.order(ByteOrder.nativeOrder()).putFloat(0, 42.5f);
                return a.getFloat() == 42.5f;
            }
        });
    }

    @Override
    public void close() {
        scratch.close();
    }

    /** An array the core writes: an engine array written in place, or a host buffer handed over after. */
    final class Output {
        private NDArray array;
        final FloatBuffer buffer;
        private final ByteBuffer host;
        private final Shape shape;
        private final NDManager owner;
        private final Device device;
        private final String name;

        private Output(NDArray array, FloatBuffer buffer, ByteBuffer host, Shape shape, NDManager owner,
                       Device device, String name) {
            this.name = name;
            this.array = array;
            this.buffer = buffer;
            this.host = host;
            this.shape = shape;
            this.owner = owner;
            this.device = device;
        }

        /** The written values as an NDArray on the predictions' device (the one copy of the copying path). */
        NDArray array() {
            if (array == null) {
                NDArray made = owner.create(host, shape, DataType.FLOAT32);
                if (shape.size() > 0) {
                    copied(name + ": host -> " + device, shape.size() * Float.BYTES);
                }
                if (!made.getDevice().equals(device)) {   // a manager of another device than its array's
                    NDArray moved = made.toDevice(device, false);
                    made.close();
                    made = moved;
                }
                array = made;
            }
            return array;
        }

        /** Frees an engine array that will not be used (an exception, or no gradient wanted). */
        void discard() {
            if (array != null) {
                array.close();
            }
        }
    }
}
