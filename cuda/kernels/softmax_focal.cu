/*
 * softmax_focal.cu: softmax focal loss, l = alpha[y] (1 - p_y)^gamma (-log p_y), loss and
 * gradient in one pass over the logits (the row engine of softmax_rows.cuh). alpha is a factor
 * inside the term, so the effective weight (MEAN denominator) is the sample weight alone.
 * Same launch shapes as cross-entropy: _small, _warp, _block, _cluster.
 */
#include "softmax_rows.cuh"

using namespace flc;

/* The request's softmax focal options as the row engine takes them. */
template <int THREADS, int GT, int E, int CLUSTER, int ER = E>
__device__ __forceinline__ void focal_dispatch(const fl_request& r, void* ws, double* result) {
    const fl_softmax_focal_options& o = r.options.softmax_focal;
    RowArgs a{r.rows, r.cols, r.predictions, r.labels, nullptr, (int)r.ignore_index, o.alpha, r.sample_weights,
              r.sample_weight_stride, 0.f, 0.f, 0.f, (float)o.gamma, r.upstream, r.gradient, r.per_term, ws,
              result};
    __shared__ RowKernelShared<THREADS, GT, E, ER> shared;
    softmax_rows_kernel<FOCAL, THREADS, GT, E, CLUSTER, ER>(a, shared);
}

extern "C" __global__ void __launch_bounds__(FLC_SMALL_THREADS)
flc_softmax_focal_small(FLC_ROW_PARAMS) {
    focal_dispatch<FLC_SMALL_THREADS, FLC_SMALL_LANES, FLC_SMALL_MAX_C / FLC_SMALL_LANES, 1>(
        request, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_WARP_THREADS)
flc_softmax_focal_warp(FLC_ROW_PARAMS) {
    focal_dispatch<FLC_WARP_THREADS, 32, FLC_WARP_MAX_C / 32, 1>(
        request, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_BLOCK_THREADS, FLC_BLOCK_MIN_BLOCKS)
flc_softmax_focal_block(FLC_ROW_PARAMS) {
    focal_dispatch<FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS, 1,
                 FLC_FOCAL_REG_SLOTS>(
        request, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_BLOCK_THREADS, FLC_BLOCK_MIN_BLOCKS) FLC_CLUSTER_ATTR
flc_softmax_focal_cluster(FLC_ROW_PARAMS) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    focal_dispatch<FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS,
                   FLC_CLUSTER_SIZE, FLC_FOCAL_REG_SLOTS>(
        request, ws, result);
#else
    cluster_unsupported(result, ws);
#endif
}
