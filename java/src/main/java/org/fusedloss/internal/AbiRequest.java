package org.fusedloss.internal;

import java.nio.ByteBuffer;

/**
 * Writes a {@link LossRequest} as the ABI's {@code fl_request} (native/include/fusedloss.h): 24 fields
 * of 8 bytes in the header's order, the loss's options in the last 8 ({@link LossOptions#encode}).
 * The native backend writes it into direct memory and passes its address; where each field lies
 * is checked against the library ({@code fl_request_offset}) by the tests.
 */
public final class AbiRequest {
    /** The field offsets of {@code fl_request}. */
    public static final int LOSS = 0;
    public static final int ROWS = 8;
    public static final int COLS = 16;
    public static final int PREDICTIONS = 24;
    public static final int LABELS = 32;
    public static final int IGNORE_INDEX = 40;
    public static final int TARGETS = 48;
    public static final int SAMPLE_WEIGHTS = 56;
    public static final int SAMPLE_WEIGHT_STRIDE = 64;
    public static final int ELEMENT_WEIGHTS = 72;
    public static final int UPSTREAM = 80;
    public static final int GRADIENT = 88;
    public static final int PER_TERM = 96;
    public static final int REDUCTION = 104;
    public static final int GRADIENT_SCALE = 112;
    public static final int DENOMINATOR = 120;
    public static final int OPTIONS = 128;
    /** The option slots ({@code FL_OPTION_SLOTS}). */
    public static final int OPTION_SLOTS = 8;
    /** {@code sizeof(fl_request)}. */
    public static final int BYTES = OPTIONS + 8 * OPTION_SLOTS;

    /** The result doubles of a call ({@code FL_RESULT_DOUBLES}) and where each value lies ({@code FL_R_*}). */
    public static final int RESULT_DOUBLES = 16;
    public static final int R_LOSS = 0;
    public static final int R_LOSS_SUM = 1;
    public static final int R_DENOMINATOR = 2;
    public static final int R_COUNTED = 3;
    public static final int R_MASKED = 4;
    public static final int R_NONFINITE = 5;
    public static final int R_GRAD_FACTOR = 9;
    public static final int R_WEIGHT_SUM = 10;

    /** The offsets by the header's field names, for the layout check. */
    public static final java.util.Map<String, Integer> FIELDS = java.util.Map.ofEntries(
            java.util.Map.entry("loss", LOSS), java.util.Map.entry("rows", ROWS), java.util.Map.entry("cols", COLS),
            java.util.Map.entry("predictions", PREDICTIONS), java.util.Map.entry("labels", LABELS),
            java.util.Map.entry("ignore_index", IGNORE_INDEX), java.util.Map.entry("targets", TARGETS),
            java.util.Map.entry("sample_weights", SAMPLE_WEIGHTS),
            java.util.Map.entry("sample_weight_stride", SAMPLE_WEIGHT_STRIDE),
            java.util.Map.entry("element_weights", ELEMENT_WEIGHTS), java.util.Map.entry("upstream", UPSTREAM),
            java.util.Map.entry("gradient", GRADIENT), java.util.Map.entry("per_term", PER_TERM),
            java.util.Map.entry("reduction", REDUCTION), java.util.Map.entry("gradient_scale", GRADIENT_SCALE),
            java.util.Map.entry("denominator", DENOMINATOR), java.util.Map.entry("options", OPTIONS));

    /** What the pointer fields hold: a span's and a vector's value as the receiving side reads it. */
    public interface Pointers {
        /** The field value of a span: an address, or an offset into an array passed beside; 0 for null. */
        long of(Span span);

        /** The address of one of the loss's vectors; 0 for null. */
        long of(float[] vector);
    }

    private AbiRequest() {
    }

    /** Writes {@code r} at {@code at} in {@code out} (native byte order). */
    public static void write(ByteBuffer out, int at, LossRequest r, Pointers p) {
        LossRequest.Inputs in = r.inputs();
        LossRequest.Outputs o = r.outputs();
        out.putLong(at + LOSS, r.kind().ordinal());
        out.putLong(at + ROWS, r.rows());
        out.putLong(at + COLS, r.cols());
        out.putLong(at + PREDICTIONS, p.of(in.predictions()));
        out.putLong(at + LABELS, in.labels() == null ? 0 : p.of(in.labels()));
        out.putLong(at + IGNORE_INDEX, r.options().ignoreIndex());
        out.putLong(at + TARGETS, in.targets() == null ? 0 : p.of(in.targets()));
        out.putLong(at + SAMPLE_WEIGHTS, in.sampleWeights() == null ? 0 : p.of(in.sampleWeights()));
        out.putLong(at + SAMPLE_WEIGHT_STRIDE, in.sampleWeightStride());
        out.putLong(at + ELEMENT_WEIGHTS, in.elementWeights() == null ? 0 : p.of(in.elementWeights()));
        out.putLong(at + UPSTREAM, in.upstream() == null ? 0 : p.of(in.upstream()));
        out.putLong(at + GRADIENT, o.gradient() == null ? 0 : p.of(o.gradient()));
        out.putLong(at + PER_TERM, o.perTerm() == null ? 0 : p.of(o.perTerm()));
        out.putLong(at + REDUCTION, r.reduction().ordinal());
        out.putDouble(at + GRADIENT_SCALE, r.gradientScale());
        out.putDouble(at + DENOMINATOR, r.denominator() >= 0 ? r.denominator() : -1.0);
        for (int i = 0; i < OPTION_SLOTS; i++) {
            out.putLong(at + OPTIONS + 8 * i, 0);
        }
        r.options().encode(new LossOptions.Slots() {
            private int next = at + OPTIONS;

            @Override
            public LossOptions.Slots vector(float[] v) {
                out.putLong(slot(), v == null ? 0 : p.of(v));
                return this;
            }

            @Override
            public LossOptions.Slots integer(long v) {
                out.putLong(slot(), v);
                return this;
            }

            @Override
            public LossOptions.Slots real(double v) {
                out.putDouble(slot(), v);
                return this;
            }

            private int slot() {
                if (next >= at + BYTES) {
                    throw new IllegalStateException("more options than the ABI's " + OPTION_SLOTS + " slots");
                }
                int s = next;
                next += 8;
                return s;
            }
        });
    }
}
