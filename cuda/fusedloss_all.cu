/*
 * fusedloss_all.cu: the one translation unit compiled into fusedloss.fatbin (see
 * CMakeLists.txt). Each loss lives in its own file; including them here gives one module that
 * the Java side loads once and whose kernels it looks up by name (fusedloss_cuda.h).
 */
#include "prep.cu"
#include "cross_entropy.cu"
#include "softmax_focal.cu"
#include "binary_cross_entropy.cu"
#include "mean_squared_error.cu"
#include "sigmoid_focal.cu"
