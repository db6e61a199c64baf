package org.fusedloss.spark;

import breeze.linalg.DenseVector;
import breeze.linalg.DenseVector$;
import breeze.optimize.FirstOrderMinimizer;
import breeze.optimize.LBFGS;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import scala.Tuple2;
import scala.reflect.ClassTag$;

/**
 * Breeze's L-BFGS, the optimizer Spark ML's LogisticRegression runs (Spark ships Breeze), driven
 * from Java: the same memory (10 corrections) and convergence test (relative improvement or
 * gradient norm below {@code tol}).
 */
final class Lbfgs {
    private Lbfgs() {
    }

    /** A function to minimise: its value and gradient at {@code x}. */
    @FunctionalInterface
    interface Function {
        Point at(double[] x);
    }

    /** A value and its gradient. */
    record Point(double value, double[] gradient) {
    }

    /** The solution, the objective after each iteration (as Spark ML's objectiveHistory), and the iterations run. */
    record Result(double[] solution, double[] objectiveHistory, int iterations) {
    }

    static Result minimize(Function f, double[] start, int maxIter, double tol) {
        LBFGS<DenseVector<Object>> lbfgs = new LBFGS<>(maxIter, 10, tol, DenseVector$.MODULE$.space_Double());
        Cache cache = new Cache(f);
        scala.collection.Iterator<FirstOrderMinimizer.State<DenseVector<Object>, Object, Object>> states =
                cast(lbfgs.iterations(cast(new BreezeDiffFunction(cache::at)), new DenseVector<Object>(start.clone())));
        List<Double> history = new ArrayList<>();
        FirstOrderMinimizer.State<DenseVector<Object>, Object, Object> last = null;
        while (states.hasNext()) {
            last = states.next();
            history.add(last.adjustedValue());
        }
        if (last == null) {
            throw new IllegalStateException("L-BFGS returned no state");
        }
        double[] solution = last.x().toArray$mcD$sp(ClassTag$.MODULE$.Double());
        return new Result(solution, history.stream().mapToDouble(Double::doubleValue).toArray(), last.iter());
    }

    @SuppressWarnings("unchecked")
    private static <T> T cast(Object o) {
        return (T) o;
    }

    /**
     * Keeps the last point: L-BFGS evaluates the point a line search accepted once more (Spark ML
     * wraps its loss in CachedDiffFunction for the same reason), and each evaluation is a Spark job.
     */
    private static final class Cache {
        private final Function f;
        private double[] lastX;
        private Point last;

        Cache(Function f) {
            this.f = f;
        }

        Tuple2<Object, double[]> at(double[] x) {
            if (lastX == null || !Arrays.equals(x, lastX)) {
                last = f.at(x);
                lastX = x.clone();
            }
            return new Tuple2<>(last.value(), last.gradient().clone());
        }
    }
}
