/*
 * mean_squared_error.cu: weighted squared error, term and gradient fused per element
 * (elementwise.cuh), sample and element weights.
 */
#include "math.cuh"
#if defined(__CUDACC__)  /* cuda/test/host_check.cpp includes this file for the term alone */
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
flc_mean_squared_error(FLC_ELEM_PARAMS) {
    elementwise_kernel(Mse{}, elem_args(request, ws, result), nullptr, err_sources(request));
}
#endif
