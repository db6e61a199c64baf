/*
 * softmax_focal.cu: softmax focal loss, l = alpha[y] (1 - p_y)^gamma (-log p_y), loss and
 * gradient in one pass over the logits (the row engine of softmax_rows.cuh). alpha is a factor
 * inside the term, so the effective weight (MEAN denominator) is the sample weight alone.
 * Same launch shapes as cross-entropy: _small, _warp, _block, _cluster.
 */
#include "softmax_rows.cuh"

using namespace flc;

#define FLC_FOCAL_PARAMS                                                                       \
    long long n, long long c, const float* logits, const int* labels, int ignore_index,       \
        const float* alpha, float gamma, const float* sample_weights,                         \
        long long sample_weight_stride, const float* upstream, float* grad, float* per_term,  \
        void* ws, double* result

template <int THREADS, int GT, int E, int CLUSTER, int ER = E>
__device__ __forceinline__ void focal_dispatch(FLC_FOCAL_PARAMS) {
    RowArgs a{n, c, logits, labels, nullptr, ignore_index, alpha, sample_weights,
              sample_weight_stride, 0.f, 0.f, 0.f, gamma, upstream, grad, per_term, ws, result};
    __shared__ RowKernelShared<THREADS, GT, E, ER> shared;
    softmax_rows_kernel<FOCAL, THREADS, GT, E, CLUSTER, ER>(a, shared);
}

extern "C" __global__ void __launch_bounds__(FLC_SMALL_THREADS)
flc_softmax_focal_small(FLC_FOCAL_PARAMS) {
    focal_dispatch<FLC_SMALL_THREADS, FLC_SMALL_LANES, FLC_SMALL_MAX_C / FLC_SMALL_LANES, 1>(
        n, c, logits, labels, ignore_index, alpha, gamma, sample_weights, sample_weight_stride,
        upstream, grad, per_term, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_WARP_THREADS)
flc_softmax_focal_warp(FLC_FOCAL_PARAMS) {
    focal_dispatch<FLC_WARP_THREADS, 32, FLC_WARP_MAX_C / 32, 1>(
        n, c, logits, labels, ignore_index, alpha, gamma, sample_weights, sample_weight_stride,
        upstream, grad, per_term, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_BLOCK_THREADS, FLC_BLOCK_MIN_BLOCKS)
flc_softmax_focal_block(FLC_FOCAL_PARAMS) {
    focal_dispatch<FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS, 1,
                 FLC_FOCAL_REG_SLOTS>(
        n, c, logits, labels, ignore_index, alpha, gamma, sample_weights, sample_weight_stride,
        upstream, grad, per_term, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_BLOCK_THREADS, FLC_BLOCK_MIN_BLOCKS) FLC_CLUSTER_ATTR
flc_softmax_focal_cluster(FLC_FOCAL_PARAMS) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    focal_dispatch<FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS,
                   FLC_CLUSTER_SIZE, FLC_FOCAL_REG_SLOTS>(
        n, c, logits, labels, ignore_index, alpha, gamma, sample_weights, sample_weight_stride,
        upstream, grad, per_term, ws, result);
#else
    cluster_unsupported(result, ws);
#endif
}
