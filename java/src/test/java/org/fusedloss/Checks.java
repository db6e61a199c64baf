package org.fusedloss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.function.Supplier;
import org.junit.jupiter.api.function.Executable;

/**
 * The suite's assertion helpers (each written once, here) and the helper that runs a spec on a
 * problem. Every message carries the random seed ({@link #ctx}).
 */
public final class Checks {
    private Checks() {
    }

    /** A message with the case and the seed. */
    static String ctx(Object what) {
        return what + " [" + TestData.seedNote() + "]";
    }

    /** What one call produced: the result, the gradient and (NONE) the per-term losses. */
    public record Run(LossResult result, float[] gradient, float[] perTerm) {
    }

    /**
     * Computes on the backend (a {@link TestPath}: its way) and asserts that the result says it
     * came from that backend.
     */
    static LossResult compute(Loss loss, Batch batch, Backend backend, Object what) {
        LossResult r = backend instanceof TestPath p ? p.compute(loss, batch) : loss.compute(batch, backend);
        assertEquals(TestBackends.backendOf(backend).name(), r.backend(), () -> ctx(what + ": result.backend()"));
        return r;
    }

    static Run run(LossSpec spec, Problem p, Reduction r, Backend b) {
        return run(spec, p, r, b, 1.0, null);
    }

    /**
     * Runs the spec on the problem with plain arrays; the gradient and per-term buffers start as
     * NaN, so an element the kernel forgot to write shows up.
     */
    public static Run run(LossSpec spec, Problem p, Reduction r, Backend b, double scale, Double denominator) {
        Loss loss = spec.build(r, scale, true);
        float[] g = TestData.filled(p.n * p.c, Float.NaN);
        float[] pt = r == Reduction.NONE ? TestData.filled(p.terms(spec), Float.NaN) : null;
        Batch batch = p.batch(r, g, pt);
        if (denominator != null) {
            batch.denominator(denominator);
        }
        LossResult res = compute(loss, batch, b, spec + " " + r);
        return new Run(res, g, pt);
    }

    /**
     * The full check of one case: counts, denominator and loss against the oracle, the per-term
     * losses (NONE) term by term, and (when {@code gradient}) the gradient against finite
     * differences of the oracle; otherwise at least that every gradient element was written and is finite.
     * Returns the run, whose result has then been checked against the oracle.
     */
    static Run againstOracle(TestData.Case k, Reduction r, Backend b, double scale, Double denominator,
                             boolean gradient) {
        LossSpec spec = k.spec();
        Problem p = k.problem();
        String what = k + " " + r + " on " + b.name() + (scale != 1 ? " gradientScale=" + scale : "")
                + (denominator != null ? " denominator=" + denominator : "");
        Run run = run(spec, p, r, b, scale, denominator);
        Oracle.Terms t = Oracle.terms(spec, p);
        TestBackends.Tol tol = TestBackends.tol(b);
        LossResult res = run.result();
        assertEquals(t.count(), res.counted(), () -> ctx(what + ": counted"));
        assertEquals(t.masked(), res.masked(), () -> ctx(what + ": masked"));
        close(t.weightSum(), res.weightSum(), 1e-12, 1e-300, what + ": weightSum");
        close(t.denominator(r, denominator), res.denominator(), 1e-12, 1e-300, what + ": denominator");
        assertEquals(0, res.nonFinite(), () -> ctx(what + ": nonFinite"));
        double d = t.denominator(r, denominator);
        double floor = 0;
        for (int i = 0; i < t.value().length; i++) {
            if (t.counted()[i]) {
                floor += tol.termAbs() * (1 + Math.abs(t.weight()[i]));
            }
        }
        close(t.loss(r, denominator), res.loss(), tol.loss(), d == 0 ? 0 : floor / d, what + ": loss");
        if (r == Reduction.NONE) {
            termsClose(t.value(), t.weight(), run.perTerm(), tol, what + ": perTerm");
        }
        if (gradient) {
            double[] expected = FiniteDifference.ofOracle(spec, p, r, denominator, scale);
            gradientClose(expected, run.gradient(), tol.gradient(), tol.gradientAbs() * naturalSize(k, r, scale, d),
                    what + ": gradient");
        } else {
            allFinite(run.gradient(), what + ": gradient");
        }
        return run;
    }

    /**
     * A case on a backend against the Java reference, NONE (per-term losses, upstream gradient) and
     * MEAN: the same counts, the same denominator (to 1e-12), no non-finite term, the loss, the
     * gradient (by norm) and the per-term losses within the backend's tolerances.
     */
    static void againstReference(TestData.Case k, Backend b) {
        TestBackends.Tol tol = TestBackends.tol(b);
        for (Reduction r : new Reduction[] {Reduction.NONE, Reduction.MEAN}) {
            String what = k + " " + r + " on " + b.name() + " vs java";
            Run ref = run(k.spec(), k.problem(), r, Backends.java());
            Run got = run(k.spec(), k.problem(), r, b);
            assertEquals(ref.result().counted(), got.result().counted(), () -> ctx(what + ": counted"));
            assertEquals(ref.result().masked(), got.result().masked(), () -> ctx(what + ": masked"));
            // a weight sum in double: the native weight pass sums a row's element weights first,
            // the reference element by element, so long rows may differ in the last bits
            close(ref.result().denominator(), got.result().denominator(), 1e-12, 1e-300, what + ": denominator");
            assertEquals(0, got.result().nonFinite(), () -> ctx(what + ": nonFinite"));
            close(ref.result().loss(), got.result().loss(), tol.loss(), 1e-6, what + ": loss");
            gradientClose(ref.gradient(), got.gradient(), tol.gradient(), what + ": gradient");
            if (r == Reduction.NONE) {
                double[] weight = Oracle.terms(k.spec(), k.problem()).weight();
                termsClose(TestData.toDouble(ref.perTerm()), weight, got.perTerm(), tol, what + ": perTerm");
            }
        }
    }

    /**
     * Two runs that must agree (an identity between two losses): the loss and the gradient within
     * {@code rel} (relative, the gradient by norm), and the per-term losses when both have them.
     */
    static void sameRuns(Run expected, Run actual, double rel, Object what) {
        close(expected.result().loss(), actual.result().loss(), rel, 1e-12, what + ": loss");
        gradientClose(expected.gradient(), actual.gradient(), rel, what + ": gradient");
        if (expected.perTerm() != null && actual.perTerm() != null) {
            gradientClose(expected.perTerm(), actual.perTerm(), rel, what + ": perTerm");
        }
    }

    /**
     * The size a gradient of this case has (what float rounding is relative to even where the exact
     * gradient is 0): |scale| / denominator * sqrt(sum over terms of (upstream * weight)^2), times
     * the largest class weight / pos_weight.
     */
    static double naturalSize(TestData.Case k, Reduction r, double scale, double d) {
        Problem p = k.problem();
        Oracle.Terms t = Oracle.terms(k.spec(), p);
        double factor = 1;
        for (float[] v : new float[][] {k.spec().classWeights(), k.spec().posWeight(), k.spec().binaryClassWeights()}) {
            if (v != null) {
                for (float w : v) {
                    factor = Math.max(factor, w);
                }
            }
        }
        double s = 0;
        for (int i = 0; i < t.value().length; i++) {
            if (t.counted()[i]) {
                double u = r == Reduction.NONE && p.upstream != null ? p.upstream[i] : 1;
                double w = u * t.weight()[i];
                s += w * w;
            }
        }
        return d == 0 ? 0 : Math.abs(scale) / d * Math.sqrt(s) * factor;
    }

    /** |actual - expected| <= rel * |expected| + abs, or both equal (infinities too): the one criterion. */
    public static boolean within(double expected, double actual, double rel, double abs) {
        return Math.abs(actual - expected) <= rel * Math.abs(expected) + abs || expected == actual;
    }

    /** |actual - expected| <= rel * |expected| + abs. */
    static void close(double expected, double actual, double rel, double abs, Object what) {
        double err = Math.abs(actual - expected);
        if (!within(expected, actual, rel, abs)) {
            fail(ctx(what + ": expected " + expected + " but was " + actual + " (relative error "
                    + (err / Math.abs(expected)) + ", tolerance " + rel + " relative + " + abs + ")"));
        }
    }

    /** Per-term values: relative tolerance, with the backend's absolute floor scaled by each term's weight. */
    static void termsClose(double[] expected, double[] weight, float[] actual, TestBackends.Tol tol, Object what) {
        assertEquals(expected.length, actual.length, () -> ctx(what + ": length"));
        for (int i = 0; i < expected.length; i++) {
            double abs = tol.termAbs() * (1 + Math.abs(weight[i]));
            double err = Math.abs(actual[i] - expected[i]);
            if (!within(expected[i], actual[i], tol.term(), abs)) {
                fail(ctx(what + ": term " + i + " expected " + expected[i] + " but was " + actual[i]
                        + " (relative error " + err / Math.abs(expected[i]) + ", tolerance " + tol.term() + ")"));
            }
        }
    }

    /** ||actual - expected|| <= rel * ||expected|| + 1e-8 (the contract's gradient criterion). */
    static void gradientClose(double[] expected, float[] actual, double rel, Object what) {
        gradientClose(expected, actual, rel, 0, what);
    }

    /** ||actual - expected|| <= rel * ||expected|| + max(abs, 1e-8). */
    static void gradientClose(double[] expected, float[] actual, double rel, double abs, Object what) {
        assertEquals(expected.length, actual.length, () -> ctx(what + ": length"));
        double diff = 0;
        double norm = 0;
        int worst = -1;
        double worstErr = -1;
        for (int i = 0; i < expected.length; i++) {
            if (!Float.isFinite(actual[i])) {
                fail(ctx(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]));
            }
            double e = actual[i] - expected[i];
            diff += e * e;
            norm += expected[i] * expected[i];
            if (Math.abs(e) > worstErr) {
                worstErr = Math.abs(e);
                worst = i;
            }
        }
        diff = Math.sqrt(diff);
        norm = Math.sqrt(norm);
        if (!gradientWithin(diff, norm, rel, abs)) {
            fail(ctx(what + ": ||g - g_ref|| / ||g_ref|| = " + diff / norm + " > " + rel + " (||g_ref|| = " + norm
                    + "); worst element " + worst + ": expected " + expected[worst] + " but was " + actual[worst]));
        }
    }

    /** The contract's gradient criterion on ||g - g_ref|| and ||g_ref||: diff <= rel * norm + max(abs, 1e-8). */
    static boolean gradientWithin(double diff, double norm, double rel, double abs) {
        return diff <= rel * norm + Math.max(abs, 1e-8);
    }

    /**
     * How far a run is from the reference run of the same case, by {@link #againstReference}'s
     * measures and tolerances: the largest per-term relative error above the backend's absolute
     * floor (NONE), the loss's relative error, the gradient's relative norm error (infinite when an
     * element is not finite), NaN where there is nothing to compare; and whether all pass.
     *
     * @param term     the largest per-term relative error, or NaN
     * @param loss     the loss's relative error
     * @param gradient {@code ||g - g_ref|| / ||g_ref||}, or NaN
     * @param pass     every measure within the backend's tolerance, and the same counts
     */
    public record Errors(double term, double loss, double gradient, boolean pass) {
    }

    /** {@link Errors} of {@code got} against {@code ref} for the case {@code k} on backend {@code b}. */
    public static Errors errors(TestData.Case k, Run ref, Run got, Backend b) {
        TestBackends.Tol tol = TestBackends.tol(b);
        LossResult want = ref.result();
        LossResult have = got.result();
        // the denominator to rounding: the native weight pass sums in vector lanes (from 4096 terms on)
        boolean pass = want.counted() == have.counted() && want.masked() == have.masked()
                && within(want.denominator(), have.denominator(), 1e-12, 0) && have.nonFinite() == want.nonFinite();
        double loss = want.loss() == have.loss() ? 0 : Math.abs(have.loss() - want.loss()) / Math.abs(want.loss());
        pass &= within(want.loss(), have.loss(), tol.loss(), 1e-6);
        double gradient = Double.NaN;
        if (ref.gradient() != null && got.gradient() != null) {
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < ref.gradient().length; i++) {
                double e = (double) got.gradient()[i] - ref.gradient()[i];
                diff += Float.isFinite(got.gradient()[i]) ? e * e : Double.POSITIVE_INFINITY;
                norm += (double) ref.gradient()[i] * ref.gradient()[i];
            }
            diff = Math.sqrt(diff);
            norm = Math.sqrt(norm);
            gradient = norm == 0 ? diff : diff / norm;
            pass &= gradientWithin(diff, norm, tol.gradient(), 0);
        }
        double term = Double.NaN;
        if (ref.perTerm() != null && got.perTerm() != null) {
            double[] weight = Oracle.terms(k.spec(), k.problem()).weight();
            term = 0;
            for (int i = 0; i < ref.perTerm().length; i++) {
                double abs = tol.termAbs() * (1 + Math.abs(weight[i]));
                double err = Math.abs((double) got.perTerm()[i] - ref.perTerm()[i]);
                pass &= within(ref.perTerm()[i], got.perTerm()[i], tol.term(), abs);
                if (!(err >= 0)) {
                    term = Double.POSITIVE_INFINITY;  // one is NaN and the other not
                } else if (err > abs) {
                    term = Math.max(term, err / Math.abs(ref.perTerm()[i]));
                }
            }
        }
        return new Errors(term, loss, gradient, pass);
    }

    /** Same as {@link #gradientClose(double[], float[], double, Object)} for a float reference. */
    static void gradientClose(float[] expected, float[] actual, double rel, Object what) {
        gradientClose(TestData.toDouble(expected), actual, rel, what);
    }

    /** Equal within {@code rel} of the larger norm, or bit for bit when {@code rel} is 0. */
    static void same(float[] expected, float[] actual, double rel, Object what) {
        if (rel == 0) {
            sameBits(expected, actual, what);
        } else {
            gradientClose(expected, actual, rel, what);
        }
    }

    static void same(double expected, double actual, double rel, Object what) {
        if (rel == 0) {
            assertEquals(expected, actual, 0.0, () -> ctx(what));
        } else {
            close(expected, actual, rel, 1e-300, what);
        }
    }

    /** Bit-identical float arrays (NaN equals NaN), reporting the first difference. */
    static void sameBits(float[] expected, float[] actual, Object what) {
        assertEquals(expected.length, actual.length, () -> ctx(what + ": length"));
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                fail(ctx(what + ": element " + i + " differs: " + expected[i] + " vs " + actual[i]));
            }
        }
    }

    static void allFinite(float[] a, Object what) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                fail(ctx(what + ": element " + i + " is " + a[i]));
            }
        }
    }

    /** Every element exactly 0 (+0 or -0; not NaN). */
    static void allZero(float[] a, Object what) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] != 0f) {
                fail(ctx(what + ": element " + i + " is " + a[i] + ", expected 0"));
            }
        }
    }

    /** Elements [from, to) exactly 0. */
    static void zeroRange(float[] a, int from, int to, Object what) {
        allZero(Arrays.copyOfRange(a, from, to), what + " [" + from + ", " + to + ")");
    }

    /** Every element still the sentinel. */
    static void unchanged(float[] a, float sentinel, Object what) {
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(sentinel)) {
                fail(ctx(what + ": element " + i + " was written (" + a[i] + ") although the call was rejected"));
            }
        }
    }

    /**
     * Asserts an {@link IllegalArgumentException} whose message contains every fragment
     * (the argument's name, and the index and value where there is one).
     */
    static IllegalArgumentException rejects(Executable call, Object what, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, () -> ctx(what));
        String m = String.valueOf(e.getMessage());
        for (String f : fragments) {
            assertTrue(m.contains(f), () -> ctx(what + ": message \"" + m + "\" does not mention \"" + f + "\""));
        }
        return e;
    }
}
