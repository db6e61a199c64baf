package org.fusedloss.spark

import breeze.linalg.DenseVector
import breeze.optimize.DiffFunction

/**
 * A Java function as Breeze's DiffFunction, so Lbfgs (Java) can run Breeze's L-BFGS: Java cannot
 * implement that trait itself, because its `apply` needs a bridge method only scalac writes.
 * `f` maps a point to its value and gradient.
 */
private[spark] final class BreezeDiffFunction(f: java.util.function.Function[Array[Double], (Double, Array[Double])])
    extends DiffFunction[DenseVector[Double]] {

  override def calculate(x: DenseVector[Double]): (Double, DenseVector[Double]) = {
    val (value, gradient) = f(x.toArray)
    (value, DenseVector(gradient))
  }
}
