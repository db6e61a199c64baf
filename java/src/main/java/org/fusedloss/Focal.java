package org.fusedloss;

/** Checks shared by the two focal losses. */
final class Focal {
    private Focal() {
    }

    static double checkedGamma(double gamma) {
        if (!(gamma >= 0) || Double.isInfinite(gamma)) {
            throw new IllegalArgumentException("gamma = " + gamma + " must be finite and not negative");
        }
        return gamma;
    }
}
