/*
 * mean_squared_error.cu: weighted squared error, term and gradient fused per element
 * (elementwise.cuh), sample and element weights.
 */
#include "math.cuh"
#if defined(__CUDACC__)  /* cuda/host_check.cpp includes this file for the term alone */
#include "elementwise.cuh"
#endif

using namespace flc;

namespace {
struct Mse {
    FLC_HD bool bad_target(float) const { return false; }
    FLC_HD float eval(float x, float t, long long, float& d) const {
        const float r = x - t;
        d = 2.f * r;
        return r * r;
    }
};
}  // namespace

#if defined(__CUDACC__)
extern "C" __global__ void __launch_bounds__(FLC_ELEM_THREADS)
flc_mean_squared_error(long long n, long long k, const float* predictions, const float* targets,
                       const float* sample_weights, long long sample_weight_stride,
                       const float* element_weights, const float* upstream,
                       float* grad, float* per_term, void* ws, double* result) {
    ElemArgs a{n, k, predictions, targets, sample_weights, sample_weight_stride, element_weights,
               upstream, grad, per_term, ws, result};
    ErrSources src{nullptr, nullptr, nullptr, nullptr, sample_weights, sample_weight_stride,
                   element_weights, targets};
    elementwise_kernel(Mse{}, a, nullptr, src);
}
#endif
