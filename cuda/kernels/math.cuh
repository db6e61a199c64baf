/*
 * math.cuh: small float helpers shared by the kernels and cuda/test/host_check.cpp. Everything here
 * (and in row_math.cuh, and the element-wise losses' terms) is plain C++ as well as CUDA: FLC_HD
 * makes it __host__ __device__ under nvcc and inline under a host compiler, so the host check
 * runs the kernels' own float arithmetic on the CPU, no GPU needed.
 */
#ifndef FLC_MATH_CUH
#define FLC_MATH_CUH

#include <math.h>

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

}  // namespace flc

#endif /* FLC_MATH_CUH */
