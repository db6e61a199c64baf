/*
 * sigmoid_focal.cu: torchvision's sigmoid_focal_loss with weights, term and gradient fused per
 * element (elementwise.cuh). One exp and one log1p per element serve the BCE part, the
 * modulating factor (1 - p_t)^gamma and the gradient. alpha < 0: no alpha factor.
 */
#include "math.cuh"
#if defined(__CUDACC__)  /* cuda/test/host_check.cpp includes this file for the term alone */
#include "elementwise.cuh"
#endif

using namespace flc;

namespace {
struct SigmoidFocal {
    float alpha, gamma;
    FLC_HD bool bad_target(float) const { return false; }
    FLC_HD float eval(float x, float t, long long, float& d) const {
        /* a target outside [0, 1] (or NaN) has no focal weight ((1 - p_t)^gamma of a negative
         * base): as NaN it makes the term and derivative NaN, counted as non-finite (the CPU too) */
        if (!(t >= 0.f && t <= 1.f)) t = NAN;
        const float e = expf(-fabsf(x));
        const float inv = 1.f / (1.f + e);
        const float s = x >= 0.f ? inv : e * inv;
        const float s1 = x >= 0.f ? e * inv : inv;
        /* ce = softplus(x) - x t, written without cancellation; t = 0 (1) takes no part of
         * softplus(-x) (softplus(x)), so x = -inf with t = 0 gives 0, not 0 * inf */
        const float ce = times_unless_zero(t, softplus_e(-x, e)) + times_unless_zero(1.f - t, softplus_e(x, e));
        const float m = s * (1.f - t) + s1 * t;          /* 1 - p_t */
        const float at = alpha >= 0.f ? alpha * t + (1.f - alpha) * (1.f - t) : 1.f;
        const float mg = pow_gamma(m, gamma);
        float dd = mg * (s * (1.f - t) - s1 * t);         /* m^g (s - t) */
        if (gamma != 0.f && m != 0.f)
            dd -= gamma * pow_gamma(m, gamma - 1.f) * s * s1 * (2.f * t - 1.f) * ce;
        /* an alpha factor of 0 (alpha 0 or 1 at a hard target) drops the element, NaN x included */
        d = times_unless_zero(at, dd);
        return times_unless_zero(at, mg * ce);
    }
};
}  // namespace

#if defined(__CUDACC__)
extern "C" __global__ void __launch_bounds__(FLC_ELEM_THREADS)
flc_sigmoid_focal(FLC_ELEM_PARAMS) {
    const fl_sigmoid_focal_options& o = request.options.sigmoid_focal;
    elementwise_kernel(SigmoidFocal{(float)o.alpha, (float)o.gamma}, elem_args(request, ws, result), nullptr,
                       err_sources(request));
}
#endif
