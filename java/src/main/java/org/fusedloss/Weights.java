package org.fusedloss;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * Weighting helpers (docs/SEMANTICS.md, "Weighting helpers"). Every method returns a new array and
 * leaves its inputs as they were. A NaN weight means "missing", as in the losses: it is skipped by
 * the statistics and kept as NaN by the transformations. Negative or infinite weights are rejected.
 */
public final class Weights {
    private Weights() {
    }

    /**
     * scikit-learn's {@code compute_class_weight("balanced")} for classes {@code 0 .. numClasses-1}:
     * {@code n_samples / (numClasses * count(c))}, ready for {@code CrossEntropy.Builder.classWeights}.
     * A class that never appears is rejected (its weight would be infinite), as scikit-learn does.
     *
     * @param labels the class of each sample
     * @param numClasses the number of classes
     * @return one weight per class
     */
    public static float[] balancedClassWeights(int[] labels, int numClasses) {
        if (numClasses < 1) {
            throw new IllegalArgumentException("numClasses = " + numClasses + " must be at least 1");
        }
        int[] classes = new int[numClasses];
        Arrays.setAll(classes, c -> c);
        return balancedClassWeights(labels, classes);
    }

    /**
     * Balanced weights for the given classes, which need not be contiguous ({@code {3, 7, 42}}):
     * entry {@code k} is the weight of {@code classes[k]}. Every label must be one of the classes and
     * every class must appear.
     *
     * @param labels the class of each sample
     * @param classes the classes, distinct
     * @return one weight per class
     */
    public static float[] balancedClassWeights(int[] labels, int[] classes) {
        requireNonNull(labels, "labels");
        requireNonNull(classes, "classes");
        Map<Integer, Integer> position = new TreeMap<>();
        for (int k = 0; k < classes.length; k++) {
            if (position.put(classes[k], k) != null) {
                throw new IllegalArgumentException("classes[" + k + "] = " + classes[k] + " is listed twice");
            }
        }
        long[] counts = new long[classes.length];
        for (int i = 0; i < labels.length; i++) {
            Integer k = position.get(labels[i]);
            if (k == null) {
                throw new IllegalArgumentException("labels[" + i + "] = " + labels[i] + " is not one of the classes "
                        + Arrays.toString(classes));
            }
            counts[k]++;
        }
        float[] weights = new float[classes.length];
        for (int k = 0; k < classes.length; k++) {
            if (counts[k] == 0) {
                throw new IllegalArgumentException("class " + classes[k] + " never appears in the labels: its "
                        + "balanced weight would be infinite (drop the class or pass weights of your own)");
            }
            weights[k] = (float) ((double) labels.length / ((double) classes.length * counts[k]));
        }
        return weights;
    }

    /**
     * Balanced weights for exactly the classes that appear in the labels (scikit-learn with
     * {@code classes = np.unique(y)}), as a map from label to weight; {@link
     * #sampleWeightsFromClassWeights(int[], Map)} turns it into sample weights.
     *
     * @param labels the class of each sample
     * @return one weight per class
     */
    public static Map<Integer, Float> balancedClassWeights(int[] labels) {
        requireNonNull(labels, "labels");
        int[] classes = Arrays.stream(labels).distinct().sorted().toArray();
        float[] w = balancedClassWeights(labels, classes);
        Map<Integer, Float> map = new TreeMap<>();
        for (int k = 0; k < classes.length; k++) {
            map.put(classes[k], w[k]);
        }
        return map;
    }

    /**
     * scikit-learn's {@code compute_sample_weight}: {@code classWeights[labels[i]]} for each row.
     *
     * @param labels the class of each sample
     * @param classWeights one weight per class
     * @return one weight per sample
     */
    public static float[] sampleWeightsFromClassWeights(int[] labels, float[] classWeights) {
        return sampleWeightsFromClassWeights(labels, classWeights, null);
    }

    /**
     * {@code classWeights[labels[i]] * existing[i]} for each row ({@code existing} may be null).
     *
     * @param labels the class of each sample
     * @param classWeights one weight per class
     * @param existing sample weights to multiply, or null
     * @return one weight per sample
     */
    public static float[] sampleWeightsFromClassWeights(int[] labels, float[] classWeights, float[] existing) {
        requireNonNull(labels, "labels");
        checkWeights("classWeights", classWeights);
        if (existing != null) {
            checkWeights("existing", existing);
            if (existing.length != labels.length) {
                throw new IllegalArgumentException("existing: has " + existing.length + " weights for "
                        + labels.length + " labels");
            }
        }
        float[] out = new float[labels.length];
        for (int i = 0; i < labels.length; i++) {
            int y = labels[i];
            if (y < 0 || y >= classWeights.length) {
                throw new IllegalArgumentException("labels[" + i + "] = " + y + " is outside [0, "
                        + classWeights.length + ")");
            }
            out[i] = existing == null ? classWeights[y] : classWeights[y] * existing[i];
        }
        return out;
    }

    /**
     * scikit-learn's {@code compute_sample_weight("balanced", y)} in one call: each sample's weight
     * is its class's balanced weight, {@code n_samples / (n_classes * count(label))}, over the
     * classes that appear in the labels (so every class has a finite weight).
     *
     * @param labels the class of each sample (any ints)
     * @return one weight per sample
     */
    public static float[] balancedSampleWeights(int[] labels) {
        return sampleWeightsFromClassWeights(labels, balancedClassWeights(labels));
    }

    /**
     * {@code classWeights.get(labels[i])} for each row: the map of {@link #balancedClassWeights(int[])}
     * (or any map from label to weight) applied to the samples.
     *
     * @param labels the class of each sample
     * @param classWeights a weight for every label that occurs
     * @return one weight per sample
     */
    public static float[] sampleWeightsFromClassWeights(int[] labels, Map<Integer, Float> classWeights) {
        requireNonNull(labels, "labels");
        requireNonNull(classWeights, "classWeights");
        float[] out = new float[labels.length];
        for (int i = 0; i < labels.length; i++) {
            Float w = classWeights.get(labels[i]);
            if (w == null) {
                throw new IllegalArgumentException("labels[" + i + "] = " + labels[i] + " has no class weight (the map "
                        + "has " + classWeights.keySet() + ")");
            }
            if (w < 0 || w.isInfinite() || w.isNaN()) {
                throw new IllegalArgumentException("classWeights(" + labels[i] + ") = " + w
                        + " must be finite and not negative");
            }
            out[i] = w;
        }
        return out;
    }

    /**
     * Kish's effective sample size {@code (sum w)^2 / sum w^2}; 0 when every weight is 0 or missing.
     *
     * @param weights the weights; NaN marks a missing one
     * @return the effective sample size
     */
    public static double effectiveSampleSize(float[] weights) {
        checkWeights("weights", weights);
        double sum = 0;
        double squares = 0;
        for (float w : weights) {
            if (!Float.isNaN(w)) {
                sum += w;
                squares += (double) w * w;
            }
        }
        return squares == 0 ? 0 : sum * sum / squares;
    }

    /**
     * Caps each weight at {@code multiple} times the median of the (non-missing) weights.
     *
     * @param weights the weights; NaN marks a missing one
     * @param multiple the cap as a multiple of the median, positive
     * @return a clipped copy of the weights
     */
    public static float[] clipToMedianMultiple(float[] weights, double multiple) {
        if (!(multiple >= 0) || Double.isInfinite(multiple)) {
            throw new IllegalArgumentException("multiple = " + multiple + " must be finite and not negative");
        }
        return clip(weights, multiple * percentile(present(weights), 50));
    }

    /**
     * Caps each weight at the given percentile (0 to 100, linear interpolation as numpy's default).
     *
     * @param weights the weights; NaN marks a missing one
     * @param percentile the percentile of the cap, 0 to 100
     * @return a clipped copy of the weights
     */
    public static float[] clipToPercentile(float[] weights, double percentile) {
        if (!(percentile >= 0 && percentile <= 100)) {
            throw new IllegalArgumentException("percentile = " + percentile + " must be in [0, 100]");
        }
        return clip(weights, percentile(present(weights), percentile));
    }

    /**
     * Rescales the weights to mean 1 over the non-missing ones (self-normalised importance weights).
     *
     * @param weights the weights; NaN marks a missing one
     * @return a rescaled copy of the weights
     */
    public static float[] normalizeToMeanOne(float[] weights) {
        double[] w = present(weights);
        double mean = Arrays.stream(w).sum() / w.length;
        if (!(mean > 0)) {
            throw new IllegalArgumentException("weights: their mean is " + mean + ", they cannot be scaled to mean 1");
        }
        float[] out = new float[weights.length];
        for (int i = 0; i < weights.length; i++) {
            out[i] = (float) (weights[i] / mean);
        }
        return out;
    }

    private static float[] clip(float[] weights, double cap) {
        float[] out = weights.clone();
        for (int i = 0; i < out.length; i++) {
            if (out[i] > cap) {
                out[i] = (float) cap;
            }
        }
        return out;
    }

    /** The non-missing weights, checked, in double; at least one is needed. */
    private static double[] present(float[] weights) {
        checkWeights("weights", weights);
        double[] w = new double[weights.length];
        int n = 0;
        for (float x : weights) {
            if (!Float.isNaN(x)) {
                w[n++] = x;
            }
        }
        if (n == 0) {
            throw new IllegalArgumentException("weights: no weight is present (all are missing or there are none)");
        }
        return Arrays.copyOf(w, n);
    }

    private static double percentile(double[] w, double p) {
        double[] sorted = w.clone();
        Arrays.sort(sorted);
        double rank = p / 100 * (sorted.length - 1);
        int lo = (int) Math.floor(rank);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
    }

    private static void checkWeights(String name, float[] w) {
        requireNonNull(w, name);
        for (int i = 0; i < w.length; i++) {
            if (w[i] < 0 || Float.isInfinite(w[i])) {
                throw new IllegalArgumentException(name + "[" + i + "] = " + w[i] + " must be finite and not negative");
            }
        }
    }

    private static void requireNonNull(Object o, String name) {
        if (o == null) {
            throw new IllegalArgumentException(name + " is null");
        }
    }
}
