/*
 * binary_cross_entropy.cu: binary cross-entropy with logits, loss and gradient fused per
 * element (elementwise.cuh): pos_weight per column, binary class weights {w0, w1} picked by the
 * hard 0/1 target (a target in device memory that is not 0 or 1 is reported through the error
 * word), sample and element weights. One exp and one log1p per element, shared by the loss
 * (stable softplus form) and the gradient (sigmoid).
 */
#include "math.cuh"
#if defined(__CUDACC__)  /* cuda/test/host_check.cpp includes this file for the term alone */
#include "elementwise.cuh"
#endif

using namespace flc;

namespace {
struct Bce {
    const float* pos_weight;
    const float* bcw;
    FLC_HD bool bad_target(float t) const {
        return bcw != nullptr && t != 0.f && t != 1.f;
    }
    FLC_HD float eval(float x, float t, long long col, float& d) const {
        const float e = expf(-fabsf(x));
        const float inv = 1.f / (1.f + e);
        const float s = x >= 0.f ? inv : e * inv;       /* sigmoid(x) */
        const float s1 = x >= 0.f ? e * inv : inv;      /* 1 - sigmoid(x), without cancellation */
        const float sp_pos = softplus_e(x, e);          /* -log(1 - s) */
        const float sp_neg = softplus_e(-x, e);         /* -log s */
        const float pw_t = (pos_weight ? pos_weight[col] : 1.f) * t;
        /* a part whose factor is 0 (a target of 0 or 1, a pos_weight or binary class weight of
         * 0) is dropped, NaN or infinite x included: x = -inf with t = 0 is 0, not 0 * inf */
        d = times_unless_zero(1.f - t, s) - times_unless_zero(pw_t, s1);   /* (1 - t) s - pw t (1 - s) */
        float term = times_unless_zero(pw_t, sp_neg) + times_unless_zero(1.f - t, sp_pos);
        if (bcw) {
            const float cw = bcw[t == 1.f ? 1 : 0];
            d = times_unless_zero(cw, d);
            term = times_unless_zero(cw, term);
        }
        return term;
    }
};
}  // namespace

#if defined(__CUDACC__)
extern "C" __global__ void __launch_bounds__(FLC_ELEM_THREADS)
flc_binary_cross_entropy(FLC_ELEM_PARAMS) {
    const fl_binary_cross_entropy_options& o = request.options.binary_cross_entropy;
    ErrSources src = err_sources(request);
    src.pos_weight = o.pos_weight;
    src.binary_class_weights = o.binary_class_weights;
    elementwise_kernel(Bce{o.pos_weight, o.binary_class_weights}, elem_args(request, ws, result), o.pos_weight, src);
}
#endif
