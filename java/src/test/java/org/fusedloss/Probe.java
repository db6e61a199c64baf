package org.fusedloss;

/**
 * The program the deployment and settings tests run in a child JVM: what the backends say, the one
 * {@link Backends#best()} picks, and a small cross-entropy computed on it, as {@code key=value}
 * lines. Uses the public API only and never lets an exception escape, so that its output always
 * says what happened.
 */
public final class Probe {
    private Probe() {
    }

    public static void main(String[] args) {
        System.out.println("cpus=" + Runtime.getRuntime().availableProcessors());
        System.out.print(Backends.report());
        var nat = Backends.nativeCpu();
        System.out.println("native.available=" + nat.isAvailable());
        System.out.println("native.reason=" + nat.unavailabilityReason().orElse("-"));
        System.out.println("native.threads=" + (nat.isAvailable() ? nat.threads() : -1));
        System.out.println("cuda.reason=" + Backends.cuda().unavailabilityReason().orElse("-"));
        try {
            System.out.println("best=" + Backends.best().name());
        } catch (RuntimeException e) {
            System.out.println("best.error=" + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        try {
            float[] logits = {2f, 0.5f, -1f, 0f, 1f, 0f};
            LossResult r = CrossEntropy.builder().build().compute(Batch.of(logits, 2, 3).labels(new int[] {0, 1})
                    .gradient(new float[6]));
            System.out.println("loss=" + r.loss());
            System.out.println("loss.backend=" + r.backend());
        } catch (RuntimeException | LinkageError e) {
            System.out.println("loss.error=" + e);
        }
    }
}
