/*
 * elementwise.cuh: the engine of the element-wise losses (BCE, MSE, sigmoid focal): each
 * element's weighted term and its gradient in one read of predictions and targets and one
 * write of the gradient (8 + 4 bytes per element, plus the element weights when given).
 *
 * Threads walk the n*k elements grid-stride, four at a time (float4) when k % 4 == 0 and the
 * pointers are 16-byte aligned, so the four share a row and its sample weight. Each thread
 * sums its terms in double; the block sums in a fixed tree; the last block sums the blocks in
 * index order (common.cuh). The grid depends only on n*k, so the sums are bit-identical.
 * A loss is a functor with  float eval(float x, float t, long long col, float& dterm)
 * returning the unweighted term and its derivative, and  bool bad_target(float t).
 */
#ifndef FLC_ELEMENTWISE_CUH
#define FLC_ELEMENTWISE_CUH

#include "common.cuh"

namespace flc {

struct ElemArgs {
    long long n, k;
    const float* x;
    const float* t;
    const float* sw;
    long long sw_stride;
    const float* ew;
    const float* upstream;
    float* grad;
    float* per_term;
    void* ws;
    double* result;
};

/* The parameters of every element-wise kernel: the request by value (fusedloss.h), the
 * workspace and the result. */
#define FLC_ELEM_PARAMS const fl_request request, void* ws, double* result

/* The request's common fields as the element-wise loop takes them. */
__device__ __forceinline__ ElemArgs elem_args(const fl_request& r, void* ws, double* result) {
    return ElemArgs{r.rows, r.cols, r.predictions, r.targets, r.sample_weights, r.sample_weight_stride,
                    r.element_weights, r.upstream, r.gradient, r.per_term, ws, result};
}

/* Where the error word's values are read: the request's weights and targets (a loss with
 * vectors of its own adds them). */
__device__ __forceinline__ ErrSources err_sources(const fl_request& r) {
    return ErrSources{nullptr, nullptr, nullptr, nullptr, r.sample_weights, r.sample_weight_stride,
                      r.element_weights, r.targets};
}

/* One element: returns the weighted term (0 when masked), writes the gradient. The arithmetic
 * is elem_term_grad (math.cuh, run on the CPU by cuda/test/host_check.cpp). */
template <class Loss>
__device__ __forceinline__ float elem_one(const Loss& L, const ElemArgs& a, float x, float t, float sw,
                                          float ew, float up, double row_scale, bool wide, long long col,
                                          long long idx, float& g, bool& counted) {
    if (L.bad_target(t)) {  /* whatever the weight, as the host path checks every target */
        record_error(header(a.ws), FLC_ERR_TARGET, idx);
        counted = false;
        g = 0.f;
        return 0.f;
    }
    return elem_term_grad(L, x, t, col, sw, ew, up, row_scale, wide, g, counted);
}

template <class Loss, bool VEC>
__device__ void elementwise(const Loss& L, const ElemArgs& a, double& loss, double& nonfinite) {
    const long long total = a.n * a.k;
    const long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long nthreads = (long long)gridDim.x * blockDim.x;
    /* in double: 1 / a tiny weight sum may lie beyond float range where its products do not */
    const double gf = grad_factor(a.ws);
    const bool small = total < (1ll << 31);  /* 32-bit division for the row index */
    if (VEC) {
        const long long nv = total / 4;
        for (long long v = tid; v < nv; v += nthreads) {
            const long long i = 4 * v;
            const long long row = small ? (long long)((unsigned)i / (unsigned)a.k) : i / a.k;
            const long long col = i - row * a.k;
            const float sw = sample_weight(a.sw, a.sw_stride, row);
            const double row_scale = gf * (double)sw;  /* the row's gradient factor (native/kernels/elementwise.h) */
            const bool wide = wide_row_scale(row_scale);
            const float4 x4 = *reinterpret_cast<const float4*>(a.x + i);
            const float4 t4 = *reinterpret_cast<const float4*>(a.t + i);
            float4 e4 = make_float4(1.f, 1.f, 1.f, 1.f);
            if (a.ew) e4 = *reinterpret_cast<const float4*>(a.ew + i);
            float4 u4 = make_float4(1.f, 1.f, 1.f, 1.f);
            if (a.upstream) u4 = *reinterpret_cast<const float4*>(a.upstream + i);
            const float xs[4] = {x4.x, x4.y, x4.z, x4.w}, ts[4] = {t4.x, t4.y, t4.z, t4.w};
            const float es[4] = {e4.x, e4.y, e4.z, e4.w}, us[4] = {u4.x, u4.y, u4.z, u4.w};
            float g[4], tm[4];
            #pragma unroll
            for (int u = 0; u < 4; ++u) {
                bool counted;
                tm[u] = elem_one(L, a, xs[u], ts[u], sw, es[u], us[u], row_scale, wide, col + u, i + u, g[u],
                                 counted);
                if (counted) {
                    loss += (double)tm[u];
                    if (!isfinite(tm[u])) nonfinite += 1.0;
                }
            }
            if (a.grad) *reinterpret_cast<float4*>(a.grad + i) = make_float4(g[0], g[1], g[2], g[3]);
            if (a.per_term) *reinterpret_cast<float4*>(a.per_term + i) = make_float4(tm[0], tm[1], tm[2], tm[3]);
        }
    } else {
        for (long long i = tid; i < total; i += nthreads) {
            const long long row = small ? (long long)((unsigned)i / (unsigned)a.k) : i / a.k;
            const long long col = i - row * a.k;
            const float sw = sample_weight(a.sw, a.sw_stride, row);
            const double row_scale = gf * (double)sw;
            const float ew = a.ew ? a.ew[i] : 1.f;
            const float up = a.upstream ? a.upstream[i] : 1.f;
            float g;
            bool counted;
            const float tm = elem_one(L, a, a.x[i], a.t[i], sw, ew, up, row_scale, wide_row_scale(row_scale), col,
                                      i, g, counted);
            if (counted) {
                loss += (double)tm;
                if (!isfinite(tm)) nonfinite += 1.0;
            }
            if (a.grad) a.grad[i] = g;
            if (a.per_term) a.per_term[i] = tm;
        }
    }
}

/* Kernel body shared by the three element-wise losses. `col_vec`: a per-column vector the
 * float4 path reads four at a time (pos_weight), checked for alignment too. */
template <class Loss>
__device__ __forceinline__ void elementwise_kernel(const Loss& L, const ElemArgs& a,
                                                   const float* col_vec, const ErrSources& src) {
    __shared__ double sh[32];
    if (!main_grid_ok(a.ws, (int)gridDim.x, a.result)) return;
    const bool vec = a.k % 4 == 0 && aligned16(a.x) && aligned16(a.t) && aligned16(a.ew)
                     && aligned16(a.upstream) && aligned16(a.grad) && aligned16(a.per_term)
                     && aligned16(col_vec);
    double loss = 0.0, nonfinite = 0.0;
    if (vec) elementwise<Loss, true>(L, a, loss, nonfinite);
    else elementwise<Loss, false>(L, a, loss, nonfinite);
    loss = block_sum(loss, sh);
    nonfinite = block_sum(nonfinite, sh);
    if (threadIdx.x == 0) {
        double* parts = main_partials(a.ws);
        parts[2 * blockIdx.x] = loss;
        parts[2 * blockIdx.x + 1] = nonfinite;
    }
    main_finish(a.ws, (int)gridDim.x, a.result, src);
}

}  // namespace flc

#endif /* FLC_ELEMENTWISE_CUH */
