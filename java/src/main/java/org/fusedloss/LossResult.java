package org.fusedloss;

/**
 * What one call computed, besides the gradient written to the caller's buffer.
 *
 * @param loss        the reduced loss; for {@link Reduction#NONE} the sum of the per-term losses
 * @param denominator what the sum was divided by (1 for SUM and NONE; 0 means loss and gradient are 0)
 * @param weightSum   sum of the effective weights of the counted terms
 * @param counted     terms that took part (not ignored, weight not missing); a zero weight still counts
 * @param masked      terms skipped because their sample or element weight was NaN (missing)
 * @param nonFinite   counted terms whose weighted loss is NaN or infinite (non-finite predictions)
 * @param backend     name of the backend that computed it
 */
public record LossResult(double loss, double denominator, double weightSum, long counted, long masked,
                         long nonFinite, String backend) {

    /** {@return true when every counted term was finite, so the step can be applied} */
    public boolean isFinite() {
        return nonFinite == 0 && Double.isFinite(loss);
    }
}
