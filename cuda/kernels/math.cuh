/*
 * math.cuh: small float helpers shared by the kernels and cuda/test/host_check.cpp. Everything here
 * (and in row_math.cuh, and the element-wise losses' terms) is plain C++ as well as CUDA: FLC_HD
 * makes it __host__ __device__ under nvcc and inline under a host compiler, so the host check
 * runs the kernels' own float arithmetic on the CPU, no GPU needed.
 */
#ifndef FLC_MATH_CUH
#define FLC_MATH_CUH

#include <float.h>
#include <math.h>

#include "fusedloss_cuda.h"

#if defined(__CUDACC__)
#define FLC_HD __host__ __device__ __forceinline__
#else
#define FLC_HD inline
#endif

namespace flc {

/* m^g with the exact shortcuts of the common exponents (g = 0, 1, 2). */
FLC_HD float pow_gamma(float m, float g) {
    if (g == 0.f) return 1.f;
    if (g == 1.f) return m;
    if (g == 2.f) return m * m;
    return powf(m, g);
}

/* log(1 + exp(x)) without overflow, from e = exp(-|x|) */
FLC_HD float softplus_e(float x, float e) { return fmaxf(x, 0.f) + log1pf(e); }

/* a * b, but 0 where a == 0 even for an infinite b: a part of a term with no mass (a zero
 * target, class weight or alpha) adds nothing, not 0 * inf = NaN (as on the CPU). */
FLC_HD float times_unless_zero(float a, float b) { return a == 0.f ? 0.f : a * b; }

/* Whether a factor converts to float without leaving its range: 0 or a normal float (NaN: no).
 * One that does not (1 / a tiny denominator, a huge gradient scale) meets the others in double. */
FLC_HD bool fits_float(double f) {
    const double a = fabs(f);
    return f == 0.0 || (a >= (double)FLT_MIN && a <= (double)FLT_MAX);
}
/* The same of a float (a product formed in float): not subnormal, infinite or NaN. */
FLC_HD bool fits_float(float f) {
    const float a = fabsf(f);
    return f == 0.f || (a >= FLT_MIN && a <= FLT_MAX);
}

/* A weighted term as the float it is reported as: beyond float range it is +-inf, so that the
 * double sums count it as non-finite (SEMANTICS.md: terms are float32), as on the CPU. */
FLC_HD double as_float_term(double t) { return fabs(t) > (double)FLT_MAX ? copysign((double)INFINITY, t) : t; }

/* ---- the element-wise losses: an element's weighted term and gradient (elementwise.cuh) ---- */

/* Whether a row's gradient factor (grad factor x sample weight, double) meets an element's
 * factors in double: outside [2^-64, 2^64] (native/kernels/elementwise.h). Within, its float
 * products with upstream and element weight stay normal while those lie in [2^-60, 2^60]
 * (SEMANTICS.md). */
FLC_HD bool wide_row_scale(double row_scale) {
    const double a = fabs(row_scale);
    return !(row_scale == 0.0 || (a >= 0x1p-64 && a <= 0x1p64));
}

/* One element of an element-wise loss L (functor: eval(x, t, col, d) gives the unweighted term
 * and its derivative, formed in float), in the CPU's order: the weighted term (sw ew) term in
 * float; the gradient ((row_scale up) ew) d, in float unless `wide`, then in double and rounded
 * once. A NaN sample x element weight masks the element: term and gradient 0, not counted. */
template <class Loss>
FLC_HD float elem_term_grad(const Loss& L, float x, float t, long long col, float sw, float ew, float up,
                            double row_scale, bool wide, float& g, bool& counted) {
    const float w = sw * ew;
    counted = !isnan(w);
    if (!counted) {
        g = 0.f;
        return 0.f;
    }
    float d;
    const float term = w * L.eval(x, t, col, d);
    g = wide ? (float)(row_scale * (double)up * (double)ew * (double)d) : (float)row_scale * up * ew * d;
    return term;
}

/* ---- the reduction's gradient factor (prep.cu) -------------------------------------------- */

/* The denominator of the reduced loss and the factor of every gradient: gradient_scale /
 * denominator, the denominator 1 for NONE and SUM, for the means the caller's when >= 0, else the
 * weight sum or the count (factor 0 when it is 0: every term masked). Returns false where that
 * quotient overflows a double (a huge scale over a tiny weight sum), which the call reports as an
 * error, as the host path rejects it (Loss, Errors.gradFactorOverflow). */
FLC_HD bool grad_factor_of(int reduction, double gradient_scale, double denominator, double weight_sum,
                           double counted, double& den, double& factor) {
    den = 1.0;
    factor = gradient_scale;
    if (reduction == FLC_MEAN || reduction == FLC_BATCH_MEAN) {
        den = denominator >= 0.0 ? denominator : (reduction == FLC_MEAN ? weight_sum : counted);
        factor = den != 0.0 ? gradient_scale / den : 0.0;
    }
    return !isinf(factor);
}

}  // namespace flc

#endif /* FLC_MATH_CUH */
