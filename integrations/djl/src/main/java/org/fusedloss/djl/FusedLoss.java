package org.fusedloss.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.stream.LongStream;
import org.fusedloss.Batch;
import org.fusedloss.LossResult;
import org.fusedloss.Reduction;

/**
 * A DJL {@link Loss} computed by a configured fusedloss loss: the value and the gradient come from
 * one fused call, and {@link #evaluate} returns the value as an NDArray that the engine's autograd
 * differentiates into exactly that gradient, so {@code Trainer}, {@code EasyTrain.fit} and every
 * optimizer work unchanged.
 *
 * <p><b>Labels</b> ({@code NDList}): {@code [labels]} or {@code [labels, sampleWeights]}. The labels
 * are class indices (any integer type, or floats holding whole numbers) of the predictions' shape
 * without the class axis, or dense targets of the predictions' shape (size-1 axes aside, so
 * {@code (N)} and {@code (N, 1)} both fit). The optional sample weights hold one weight per term row:
 * per position for the softmax losses (the predictions' shape without the class axis), per example
 * (the first axis) for the element-wise ones; NaN marks a missing weight (the row is masked). Class
 * weights, alpha, pos_weight and the reduction are settings of the wrapped loss.
 *
 * <p><b>Predictions</b> must be FLOAT32 (the kernels' type); the class axis of the softmax losses is
 * the last one. Everything is checked, by this class and by the core, before anything is written;
 * bad input throws {@link IllegalArgumentException}.
 *
 * <p><b>The gradient.</b> With {@code g} the fused gradient (a constant to the engine) and {@code v}
 * the fused loss, the returned array is {@code (d - stopGradient(d)) + v} with
 * {@code d = dot(predictions, g)}: its value is exactly {@code v}, and the engine differentiates it
 * into {@code upstream * g}. DJL has no public custom-autograd function, so this costs the engine one
 * dot product (a read of the predictions and of {@code g}) in the forward pass and one
 * {@code upstream * g} array in the backward pass; no softmax or other loss math runs in DJL. For
 * {@link Reduction#NONE} the per-term losses come back with the same construction per term.
 *
 * <p><b>Copies</b> (see {@link Evaluation#copies()}): float32 arrays in host memory on an engine that
 * hands out direct buffers (PyTorch: every contiguous CPU tensor) are read in place, and the gradient
 * is written straight into the engine array autograd uses: no copy. Class indices other than INT32 are
 * converted once (N values). An array on a GPU is copied to the host once and the gradient back once:
 * DJL's public API exposes no device pointer, so the core's CUDA backend cannot be used on it.
 */
public abstract sealed class FusedLoss extends Loss
        permits FusedCrossEntropyLoss, FusedSoftmaxFocalLoss, FusedBinaryCrossEntropyLoss,
                FusedMeanSquaredErrorLoss, FusedSigmoidFocalLoss {

    /** Set while DJL's training listener re-evaluates the loss for its metric: the value alone is needed. */
    private static final ThreadLocal<Boolean> VALUE_ONLY = new ThreadLocal<>();

    private final org.fusedloss.Loss loss;
    private final boolean perRow;
    private final boolean classIndices;
    private volatile boolean throughHost;
    private volatile Evaluation last;

    /**
     * What the most recent {@link #evaluate} of this loss (on any thread) did.
     *
     * @param result      the core's result: loss, denominator, weight sum, counted / masked / non-finite
     *                    terms and the backend that ran
     * @param device      the predictions' device
     * @param copies      each copy this loss made of an input or output, with its size; empty when
     *                    everything was read and written in place
     * @param copiedBytes the bytes of those copies
     */
    public record Evaluation(LossResult result, String device, List<String> copies, long copiedBytes) {
    }

    FusedLoss(String name, org.fusedloss.Loss loss, boolean perRow, boolean classIndices) {
        super(name);
        this.loss = Objects.requireNonNull(loss, "loss");
        if (!loss.computesGradient()) {
            throw new IllegalArgumentException(name + ": the fusedloss loss was built with computeGradient(false); "
                    + "a DJL loss is trained through, so it needs the gradient");
        }
        this.perRow = perRow;
        this.classIndices = classIndices;
    }

    /** The fusedloss loss that computes this one. */
    public org.fusedloss.Loss fusedLoss() {
        return loss;
    }

    /** What the most recent evaluation did (null before the first). */
    public Evaluation lastEvaluation() {
        return last;
    }

    /**
     * Takes the path an array on a GPU takes even for host arrays: inputs copied to the host, outputs
     * written to a host buffer and handed to the engine. For the tests of that path on a CPU.
     */
    void stageThroughHost(boolean on) {
        this.throughHost = on;
    }

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        return compute(labels, predictions, VALUE_ONLY.get() == null);
    }

    /** DJL's training listener evaluates the loss again after the step, for its metric: value alone. */
    @Override
    public void updateAccumulators(String[] keys, NDList labels, NDList predictions) {
        VALUE_ONLY.set(Boolean.TRUE);
        try {
            super.updateAccumulators(keys, labels, predictions);
        } finally {
            VALUE_ONLY.remove();
        }
    }

    /**
     * The loss; with {@code graph}, differentiable into the fused gradient, else the value alone.
     * {@link #evaluate} always asks for the graph: DJL's {@code hasGradient()} is false for a
     * network's output (not a leaf), so whether autograd will want the gradient cannot be told here.
     */
    private NDArray compute(NDList labels, NDList predictions, boolean graph) {
        NDArray pred = single(predictions);
        Layout layout = layout(pred);
        NDArray target = labelArray(labels, layout);
        NDArray weights = labels.size() == 2 ? weightArray(labels.get(1), layout) : null;
        boolean none = loss.reduction() == Reduction.NONE;

        try (Staging staging = new Staging(pred.getManager(), throughHost)) {
            Batch batch = Batch.of(staging.floats(pred, "predictions"), layout.rows, layout.cols);
            if (classIndices) {
                batch.labels(staging.classIndices(target, "labels"));
            } else {
                batch.targets(staging.floats(target, "targets"));
            }
            if (weights != null) {
                batch.sampleWeights(staging.floats(weights, "sampleWeights"), 1);
            }
            Staging.Output gradient = staging.output(pred, pred.getShape(), "gradient");
            Staging.Output perTerm = none ? staging.output(pred, layout.terms, "perTerm") : null;
            batch.gradient(gradient.buffer);
            if (perTerm != null) {
                batch.perTerm(perTerm.buffer);
            }
            LossResult result;
            try {
                result = loss.compute(batch);
            } catch (RuntimeException e) {
                gradient.discard();
                if (perTerm != null) {
                    perTerm.discard();
                }
                throw e;
            }
            NDArray out = none ? perTermLosses(pred, gradient, perTerm.array(), graph)
                    : reducedLoss(pred, gradient, (float) result.loss(), graph);
            last = new Evaluation(result, pred.getDevice().toString(), staging.copies(), staging.copiedBytes());
            return out;
        }
    }

    /** {@code (d - stopGradient(d)) + value}, {@code d = dot(pred, g)}: the value, differentiated into g. */
    private static NDArray reducedLoss(NDArray pred, Staging.Output gradient, float value, boolean graph) {
        if (!graph) {
            gradient.discard();
            return pred.getManager().create(value).toDevice(pred.getDevice(), false);
        }
        NDArray d = pred.flatten().dot(gradient.array().flatten());
        return d.sub(d.stopGradient()).add(value);
    }

    /** Per term: {@code (s - stopGradient(s)) + term}, {@code s} the term's part of {@code pred * g}. */
    private NDArray perTermLosses(NDArray pred, Staging.Output gradient, NDArray terms, boolean graph) {
        if (!graph) {
            gradient.discard();
            return terms;
        }
        NDArray s = pred.mul(gradient.array());
        if (perRow) {
            s = s.sum(new int[] {-1});
        }
        return s.sub(s.stopGradient()).add(terms);
    }

    // ---- checks: all before anything is read or written ----

    /** Rows x cols of the kernel call, the shape of one weight per row, and the shape of the terms. */
    private record Layout(int rows, int cols, Shape predictions, Shape rowShape, Shape terms) {
    }

    private NDArray single(NDList predictions) {
        if (predictions == null || predictions.size() != 1) {
            throw new IllegalArgumentException(getName() + ": predictions must hold one array, not "
                    + (predictions == null ? "null" : predictions.size()));
        }
        NDArray pred = predictions.get(0);
        if (pred.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(getName() + ": predictions are " + pred.getDataType()
                    + "; the fused kernels take FLOAT32 (cast the model's output with toType)");
        }
        return pred;
    }

    private Layout layout(NDArray pred) {
        Shape shape = pred.getShape();
        if (shape.dimension() == 0) {
            throw new IllegalArgumentException(getName() + ": predictions are a scalar; expected "
                    + (perRow ? "(N, classes)" : "(N) or (N, outputs...)"));
        }
        long size = shape.size();
        if (size * Float.BYTES > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(getName() + ": predictions of shape " + shape + " take "
                    + size * Float.BYTES + " bytes; DJL hands an array over as one ByteBuffer of at most 2 GiB, "
                    + "so split the batch");
        }
        long cols;
        Shape rowShape;
        Shape terms;
        if (perRow) {
            cols = shape.get(shape.dimension() - 1);
            rowShape = shape.slice(0, shape.dimension() - 1);
            terms = rowShape;
        } else {
            cols = shape.slice(1).size();
            rowShape = shape.slice(0, 1);
            terms = shape;
        }
        if (cols < 1) {
            throw new IllegalArgumentException(getName() + ": predictions of shape " + shape + " have no "
                    + (perRow ? "classes" : "outputs"));
        }
        return new Layout(Math.toIntExact(size / cols), Math.toIntExact(cols), shape, rowShape, terms);
    }

    private NDArray labelArray(NDList labels, Layout layout) {
        if (labels == null || labels.isEmpty() || labels.size() > 2) {
            throw new IllegalArgumentException(getName() + ": labels must be [labels] or [labels, sampleWeights], "
                    + "not " + (labels == null ? "null" : labels.size() + " arrays"));
        }
        NDArray target = labels.get(0);
        String name = classIndices ? "labels (class indices)" : "labels (dense targets)";
        checkNumeric(target, name);
        checkShape(target, classIndices ? layout.rowShape : layout.predictions, name, layout);
        return target;
    }

    private NDArray weightArray(NDArray weights, Layout layout) {
        checkNumeric(weights, "sampleWeights");
        checkShape(weights, layout.rowShape, "sampleWeights", layout);
        return weights;
    }

    private void checkNumeric(NDArray a, String name) {
        DataType type = a.getDataType();
        if (!type.isFloating() && !type.isInteger()) {
            throw new IllegalArgumentException(getName() + ": " + name + " are " + type + ", not numbers");
        }
    }

    /** The shapes must be equal once size-1 axes are dropped: (N) and (N, 1) both fit N rows. */
    private void checkShape(NDArray a, Shape expected, String name, Layout layout) {
        if (!Arrays.equals(withoutOnes(a.getShape()), withoutOnes(expected))) {
            throw new IllegalArgumentException(getName() + ": " + name + " of shape " + a.getShape()
                    + " do not fit predictions of shape " + layout.predictions + ": expected " + expected
                    + " (size-1 axes aside)");
        }
    }

    private static long[] withoutOnes(Shape shape) {
        return LongStream.of(shape.getShape()).filter(d -> d != 1).toArray();
    }
}
