package org.fusedloss;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.fusedloss.internal.BatchData;
import org.fusedloss.internal.Span;

/**
 * The data of one call: predictions (n x c, row-major), labels or targets, optional weights, and
 * the buffers the gradient and per-term losses go to.
 *
 * <p>Each array is a heap array (with an offset) or a {@link FloatBuffer} / {@link IntBuffer},
 * read from the position it has when it is set; direct buffers must be in native byte order. Nothing is copied: the
 * backends read the caller's memory. A batch is a small mutable description meant to be built
 * for one call (it is cheap); it is not thread-safe. The loss validates it completely before any
 * computation, and on bad input throws {@link IllegalArgumentException} without writing anything.
 *
 * <pre>{@code
 * Batch b = Batch.of(logits, rows, classes).labels(labels).sampleWeights(w).gradient(grad);
 * }</pre>
 */
public final class Batch {
    /** What was set, as the loss validates it. */
    final BatchData data;

    private Batch(Span predictions, int rows, int cols) {
        this.data = new BatchData("Batch", predictions, rows, cols);
    }

    /**
     * Predictions (logits, or plain predictions for MSE) of {@code rows x cols} floats from index 0.
     *
     * @param predictions the logits (or predictions for MSE): rows x cols floats, row-major
     * @param rows the number of rows (samples), at least 0
     * @param cols classes (softmax losses) or outputs (element-wise losses) per row, at least 1
     * @return a new batch, nothing else set
     */
    public static Batch of(float[] predictions, int rows, int cols) {
        return of(predictions, 0, rows, cols);
    }

    /**
     * Predictions of {@code rows x cols} floats starting at {@code offset}.
     *
     * @param predictions the logits (or predictions for MSE): rows x cols floats, row-major
     * @param offset the index of the first value in the array
     * @param rows the number of rows (samples), at least 0
     * @param cols classes (softmax losses) or outputs (element-wise losses) per row, at least 1
     * @return a new batch, nothing else set
     */
    public static Batch of(float[] predictions, int offset, int rows, int cols) {
        return new Batch(Span.heap("predictions", predictions, offset), rows, cols);
    }

    /**
     * Predictions of {@code rows x cols} floats from the buffer's position.
     *
     * @param predictions the logits (or predictions for MSE): rows x cols floats, row-major
     * @param rows the number of rows (samples), at least 0
     * @param cols classes (softmax losses) or outputs (element-wise losses) per row, at least 1
     * @return a new batch, nothing else set
     */
    public static Batch of(FloatBuffer predictions, int rows, int cols) {
        return new Batch(Span.buffer("predictions", predictions), rows, cols);
    }

    /** {@return the number of rows (samples)} */
    public int rows() {
        return data.rows;
    }

    /** {@return the number of columns: classes for the softmax losses, outputs for the element-wise ones} */
    public int cols() {
        return data.cols;
    }

    /**
     * Class indices, one per row ({@code 0 <= y < cols}, or the loss's ignore index).
     *
     * @param labels class indices, one per row ({@code 0 <= y < cols}, or the ignore index)
     * @return this batch
     */
    public Batch labels(int[] labels) {
        return labels(labels, 0);
    }

    /**
     * Class indices, one per row, starting at {@code offset}.
     *
     * @param labels class indices, one per row ({@code 0 <= y < cols}, or the ignore index)
     * @param offset the index of the first value in the array
     * @return this batch
     */
    public Batch labels(int[] labels, int offset) {
        data.labels = Span.heap("labels", labels, offset);
        return this;
    }

    /**
     * Class indices, one per row, from the buffer's position.
     *
     * @param labels class indices, one per row ({@code 0 <= y < cols}, or the ignore index)
     * @return this batch
     */
    public Batch labels(IntBuffer labels) {
        data.labels = Span.buffer("labels", labels);
        return this;
    }

    /**
     * Dense targets of the predictions' shape (probabilities, one-hot or 0/1 labels, regression targets).
     *
     * @param targets dense targets of the predictions' shape
     * @return this batch
     */
    public Batch targets(float[] targets) {
        return targets(targets, 0);
    }

    /**
     * Dense targets starting at {@code offset}.
     *
     * @param targets dense targets of the predictions' shape
     * @param offset the index of the first value in the array
     * @return this batch
     */
    public Batch targets(float[] targets, int offset) {
        data.targets = Span.heap("targets", targets, offset);
        return this;
    }

    /**
     * Dense targets from the buffer's position.
     *
     * @param targets dense targets of the predictions' shape
     * @return this batch
     */
    public Batch targets(FloatBuffer targets) {
        data.targets = Span.buffer("targets", targets);
        return this;
    }

    /**
     * One weight per row; NaN marks a missing weight (the row is masked).
     *
     * @param weights one weight per row; NaN marks a missing weight
     * @return this batch
     */
    public Batch sampleWeights(float[] weights) {
        return sampleWeights(weights, 0, 1);
    }

    /**
     * One weight per row, row {@code i}'s at {@code weights[offset + i * stride]}: one column of an
     * {@code n x outputs} matrix (Keras multi-output {@code sample_weights}) without a copy.
     *
     * @param weights one weight per row; NaN marks a missing weight
     * @param offset the index of the first value in the array
     * @param stride the distance in elements from one row's weight to the next (at least 1)
     * @return this batch
     */
    public Batch sampleWeights(float[] weights, int offset, int stride) {
        data.sampleWeights = Span.heap("sampleWeights", weights, offset);
        data.sampleWeightStride = stride;
        return this;
    }

    /**
     * One weight per row, row {@code i}'s at {@code position + i * stride}.
     *
     * @param weights one weight per row; NaN marks a missing weight
     * @param stride the distance in elements from one row's weight to the next (at least 1)
     * @return this batch
     */
    public Batch sampleWeights(FloatBuffer weights, int stride) {
        data.sampleWeights = Span.buffer("sampleWeights", weights);
        data.sampleWeightStride = stride;
        return this;
    }

    /**
     * Weights of the predictions' shape (element-wise losses only); NaN masks an element.
     *
     * @param weights weights of the predictions' shape; NaN masks an element
     * @return this batch
     */
    public Batch elementWeights(float[] weights) {
        return elementWeights(weights, 0);
    }

    /**
     * Element weights starting at {@code offset}.
     *
     * @param weights weights of the predictions' shape; NaN masks an element
     * @param offset the index of the first value in the array
     * @return this batch
     */
    public Batch elementWeights(float[] weights, int offset) {
        data.elementWeights = Span.heap("elementWeights", weights, offset);
        return this;
    }

    /**
     * Element weights from the buffer's position.
     *
     * @param weights weights of the predictions' shape; NaN masks an element
     * @return this batch
     */
    public Batch elementWeights(FloatBuffer weights) {
        data.elementWeights = Span.buffer("elementWeights", weights);
        return this;
    }

    /**
     * For {@link Reduction#NONE}: the upstream gradient of each term (what an autograd engine passes
     * back), one per row for the softmax losses and one per element otherwise. Absent means all ones.
     *
     * @param upstream the upstream gradient of each term (rows for the softmax losses, elements otherwise)
     * @return this batch
     */
    public Batch upstream(float[] upstream) {
        return upstream(upstream, 0);
    }

    /**
     * Upstream gradient per term, starting at {@code offset}.
     *
     * @param upstream the upstream gradient of each term (rows for the softmax losses, elements otherwise)
     * @param offset the index of the first value in the array
     * @return this batch
     */
    public Batch upstream(float[] upstream, int offset) {
        data.upstream = Span.heap("upstream", upstream, offset);
        return this;
    }

    /**
     * Upstream gradient per term, from the buffer's position.
     *
     * @param upstream the upstream gradient of each term (rows for the softmax losses, elements otherwise)
     * @return this batch
     */
    public Batch upstream(FloatBuffer upstream) {
        data.upstream = Span.buffer("upstream", upstream);
        return this;
    }

    /**
     * Where the gradient goes (the predictions' shape). It may be the predictions array itself.
     *
     * @param gradient where the gradient goes (the predictions' shape); it may be the predictions themselves
     * @return this batch
     */
    public Batch gradient(float[] gradient) {
        return gradient(gradient, 0);
    }

    /**
     * Where the gradient goes, starting at {@code offset}.
     *
     * @param gradient where the gradient goes (the predictions' shape); it may be the predictions themselves
     * @param offset the index of the first value in the array
     * @return this batch
     */
    public Batch gradient(float[] gradient, int offset) {
        data.gradient = Span.heap("gradient", gradient, offset);
        return this;
    }

    /**
     * Where the gradient goes, from the buffer's position.
     *
     * @param gradient where the gradient goes (the predictions' shape); it may be the predictions themselves
     * @return this batch
     */
    public Batch gradient(FloatBuffer gradient) {
        data.gradient = Span.buffer("gradient", gradient);
        return this;
    }

    /**
     * Where each term's weighted loss goes (0 for masked terms), with any reduction: the terms
     * are not divided by the denominator, so per-term values and a reduced loss and gradient
     * (a MEAN, say) come from one pass.
     *
     * @param perTerm where each term's weighted loss goes
     * @return this batch
     */
    public Batch perTerm(float[] perTerm) {
        return perTerm(perTerm, 0);
    }

    /**
     * Per-term losses, starting at {@code offset}.
     *
     * @param perTerm where each term's weighted loss goes
     * @param offset the index of the first value in the array
     * @return this batch
     */
    public Batch perTerm(float[] perTerm, int offset) {
        data.perTerm = Span.heap("perTerm", perTerm, offset);
        return this;
    }

    /**
     * Per-term losses, from the buffer's position.
     *
     * @param perTerm where each term's weighted loss goes
     * @return this batch
     */
    public Batch perTerm(FloatBuffer perTerm) {
        data.perTerm = Span.buffer("perTerm", perTerm);
        return this;
    }

    /**
     * For {@link Reduction#MEAN} and {@link Reduction#BATCH_MEAN}: divide by this instead of the
     * local weight sum or count (gradient accumulation, data-parallel shards that must all divide by
     * the global weight sum). Must be finite and not negative; 0 gives a zero loss and gradient.
     *
     * @param denominator what MEAN or BATCH_MEAN divide by, finite and not negative
     * @return this batch
     */
    public Batch denominator(double denominator) {
        data.denominator = denominator;
        data.hasDenominator = true;
        return this;
    }
}
