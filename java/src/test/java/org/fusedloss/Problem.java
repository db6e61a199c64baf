package org.fusedloss;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;

/**
 * The data of one test call: n x c predictions, labels or targets, optional sample / element
 * weights and an upstream gradient (used with {@link Reduction#NONE} only). Arrays are contiguous
 * and start at 0; {@link #batch} wraps them, {@link #batchAtOffsets} and {@link #batchInBuffers}
 * place copies at an offset or in direct buffers.
 */
public final class Problem {
    public final int n;
    public final int c;
    public final float[] x;
    final int[] labels;
    final float[] targets;
    final float[] sw;
    final float[] ew;
    final float[] upstream;

    Problem(int n, int c, float[] x, int[] labels, float[] targets, float[] sw, float[] ew, float[] upstream) {
        this.n = n;
        this.c = c;
        this.x = x;
        this.labels = labels;
        this.targets = targets;
        this.sw = sw;
        this.ew = ew;
        this.upstream = upstream;
    }

    public int terms(LossSpec spec) {
        return spec.kind().perRow() ? n : n * c;
    }

    Problem withX(float[] newX) {
        return new Problem(n, c, newX, labels, targets, sw, ew, upstream);
    }

    Problem withSampleWeights(float[] w) {
        return new Problem(n, c, x, labels, targets, w, ew, upstream);
    }

    Problem withElementWeights(float[] w) {
        return new Problem(n, c, x, labels, targets, sw, w, upstream);
    }

    Problem withLabels(int[] l) {
        return new Problem(n, c, x, l, targets, sw, ew, upstream);
    }

    Problem withTargets(float[] t) {
        return new Problem(n, c, x, labels, t, sw, ew, upstream);
    }

    Problem withUpstream(float[] u) {
        return new Problem(n, c, x, labels, targets, sw, ew, u);
    }

    /** The rows listed, in that order (repeats allowed): every per-row and per-element input follows. */
    Problem rows(LossSpec spec, int... which) {
        int m = which.length;
        float[] nx = new float[m * c];
        int[] nl = labels == null ? null : new int[m];
        float[] nt = targets == null ? null : new float[m * c];
        float[] nsw = sw == null ? null : new float[m];
        float[] nEw = ew == null ? null : new float[m * c];
        boolean perRowUpstream = spec.kind().perRow();
        float[] nu = upstream == null ? null : new float[perRowUpstream ? m : m * c];
        for (int r = 0; r < m; r++) {
            int i = which[r];
            System.arraycopy(x, i * c, nx, r * c, c);
            if (nl != null) {
                nl[r] = labels[i];
            }
            if (nt != null) {
                System.arraycopy(targets, i * c, nt, r * c, c);
            }
            if (nsw != null) {
                nsw[r] = sw[i];
            }
            if (nEw != null) {
                System.arraycopy(ew, i * c, nEw, r * c, c);
            }
            if (nu != null) {
                if (perRowUpstream) {
                    nu[r] = upstream[i];
                } else {
                    System.arraycopy(upstream, i * c, nu, r * c, c);
                }
            }
        }
        return new Problem(m, c, nx, nl, nt, nsw, nEw, nu);
    }

    double[] xDouble() {
        return TestData.toDouble(x);
    }

    /** A batch over these arrays; upstream only with NONE; gradient and perTerm may be null. */
    Batch batch(Reduction r, float[] gradient, float[] perTerm) {
        return batch(x, r, gradient, perTerm);
    }

    /** The same with other predictions (e.g. the gradient array itself, for in-place). */
    public Batch batch(float[] predictions, Reduction r, float[] gradient, float[] perTerm) {
        Batch b = Batch.of(predictions, n, c);
        if (labels != null) {
            b.labels(labels);
        }
        if (targets != null) {
            b.targets(targets);
        }
        if (sw != null) {
            b.sampleWeights(sw);
        }
        if (ew != null) {
            b.elementWeights(ew);
        }
        if (r == Reduction.NONE && upstream != null) {
            b.upstream(upstream);
        }
        if (gradient != null) {
            b.gradient(gradient);
        }
        if (perTerm != null) {
            b.perTerm(perTerm);
        }
        return b;
    }

    /** Every input copied into a larger heap array at {@code offset}; outputs likewise (read back by the caller). */
    Batch batchAtOffsets(Reduction r, int offset, float[] gradientAt, float[] perTermAt) {
        Batch b = Batch.of(placed(x, offset), offset, n, c);
        if (labels != null) {
            int[] l = new int[labels.length + offset + 3];
            java.util.Arrays.fill(l, 999_999);
            System.arraycopy(labels, 0, l, offset, labels.length);
            b.labels(l, offset);
        }
        if (targets != null) {
            b.targets(placed(targets, offset), offset);
        }
        if (sw != null) {
            b.sampleWeights(placed(sw, offset), offset, 1);
        }
        if (ew != null) {
            b.elementWeights(placed(ew, offset), offset);
        }
        if (r == Reduction.NONE && upstream != null) {
            b.upstream(placed(upstream, offset), offset);
        }
        if (gradientAt != null) {
            b.gradient(gradientAt, offset);
        }
        if (perTermAt != null) {
            b.perTerm(perTermAt, offset);
        }
        return b;
    }

    /**
     * Every input in a buffer whose position is {@code position}: direct native-order buffers, or
     * heap buffers wrapping larger arrays; the outputs are the caller's.
     */
    Batch batchInBuffers(Reduction r, int position, FloatBuffer gradient, FloatBuffer perTerm, boolean direct) {
        Batch b = Batch.of(buffer(x, position, direct), n, c);
        if (labels != null) {
            IntBuffer l = direct ? ByteBuffer.allocateDirect(4 * (labels.length + position + 2))
                    .order(ByteOrder.nativeOrder()).asIntBuffer() : IntBuffer.allocate(labels.length + position + 2);
            for (int i = 0; i < l.capacity(); i++) {
                l.put(i, 999_999);
            }
            for (int i = 0; i < labels.length; i++) {
                l.put(position + i, labels[i]);
            }
            l.position(position);
            b.labels(l);
        }
        if (targets != null) {
            b.targets(buffer(targets, position, direct));
        }
        if (sw != null) {
            b.sampleWeights(buffer(sw, position, direct), 1);
        }
        if (ew != null) {
            b.elementWeights(buffer(ew, position, direct));
        }
        if (r == Reduction.NONE && upstream != null) {
            b.upstream(buffer(upstream, position, direct));
        }
        if (gradient != null) {
            b.gradient(gradient);
        }
        if (perTerm != null) {
            b.perTerm(perTerm);
        }
        return b;
    }

    /** A copy of {@code a} at {@code offset} in a larger array whose other entries are garbage (NaN). */
    static float[] placed(float[] a, int offset) {
        float[] p = TestData.filled(a.length + offset + 3, Float.NaN);
        System.arraycopy(a, 0, p, offset, a.length);
        return p;
    }

    /** A direct native-order buffer holding {@code a} from {@code position}, NaN elsewhere. */
    static FloatBuffer direct(float[] a, int position) {
        return buffer(a, position, true);
    }

    /** A direct native-order or heap buffer holding {@code a} from {@code position}, NaN elsewhere. */
    static FloatBuffer buffer(float[] a, int position, boolean direct) {
        FloatBuffer f = direct ? directBuffer(a.length + position + 3, Float.NaN)
                : FloatBuffer.wrap(TestData.filled(a.length + position + 3, Float.NaN));
        for (int i = 0; i < a.length; i++) {
            f.put(position + i, a[i]);
        }
        f.position(position);
        return f;
    }

    static FloatBuffer directBuffer(int size, float fill) {
        return buffer(size, fill, true);
    }

    static FloatBuffer buffer(int size, float fill, boolean direct) {
        FloatBuffer f = direct ? ByteBuffer.allocateDirect(4 * size).order(ByteOrder.nativeOrder()).asFloatBuffer()
                : FloatBuffer.allocate(size);
        for (int i = 0; i < size; i++) {
            f.put(i, fill);
        }
        return f;
    }

    static float[] read(FloatBuffer f, int from, int count) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) {
            a[i] = f.get(from + i);
        }
        return a;
    }
}
