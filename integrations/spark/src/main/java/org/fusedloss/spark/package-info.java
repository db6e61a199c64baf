/** fusedloss for Apache Spark. */
package org.fusedloss.spark;
