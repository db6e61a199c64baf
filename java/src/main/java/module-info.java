/**
 * fusedloss: fused, weighted losses (loss and gradient in one pass) for the JVM, on a Java
 * reference backend, a native CPU backend (through JavaCPP) and, with the fusedloss-cuda module,
 * a CUDA backend. The API is the package {@code org.fusedloss}; {@code org.fusedloss.nativecpu}
 * holds the native backend's controls.
 */
module org.fusedloss {
    requires org.bytedeco.javacpp;

    exports org.fusedloss;
    exports org.fusedloss.nativecpu;
    // Plumbing the CUDA module builds on; not API.
    exports org.fusedloss.internal to org.fusedloss.cuda;

    uses org.fusedloss.internal.KernelBackend;
}
