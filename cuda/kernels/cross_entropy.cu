/*
 * cross_entropy.cu: softmax cross-entropy, loss and gradient in one pass over the logits.
 * Class indices (with ignore_index) or dense targets; class weights, sample weights with a
 * stride, label smoothing, z-loss and logit soft-capping, all inside the same row pass
 * (softmax_rows.cuh), so the logits are read from DRAM once and the gradient written once,
 * optionally over the logits themselves.
 * Four launch shapes of the same code (fusedloss_cuda.h says which to pick):
 *   _small: 4 lanes per row (C <= 32), _warp: a warp per row (C <= 1024),
 *   _block: a block per row, _cluster: 8 blocks per row (sm_90).
 */
#include "softmax_rows.cuh"

using namespace flc;

/* The request's cross-entropy options (FL_CROSS_ENTROPY: class indices; FL_CROSS_ENTROPY_DENSE:
 * dense targets) as the row engine takes them. */
template <int THREADS, int GT, int E, int CLUSTER, int ER = E>
__device__ __forceinline__ void ce_dispatch(const fl_request& r, void* ws, double* result) {
    const fl_cross_entropy_options& o = r.options.cross_entropy;
    const bool indices = r.loss == FL_CROSS_ENTROPY;
    RowArgs a{r.rows, r.cols, r.predictions, indices ? r.labels : nullptr, indices ? nullptr : r.targets,
              (int)r.ignore_index, o.class_weights, r.sample_weights, r.sample_weight_stride,
              (float)o.label_smoothing, (float)o.z_loss, (float)o.soft_cap, 0.f,
              r.upstream, r.gradient, r.per_term, ws, result};
    __shared__ RowKernelShared<THREADS, GT, E, ER> shared;
    if (indices) softmax_rows_kernel<CE_INDEX, THREADS, GT, E, CLUSTER, ER>(a, shared);
    else softmax_rows_kernel<CE_DENSE, THREADS, GT, E, CLUSTER, ER>(a, shared);
}

extern "C" __global__ void __launch_bounds__(FLC_SMALL_THREADS)
flc_cross_entropy_small(FLC_ROW_PARAMS) {
    ce_dispatch<FLC_SMALL_THREADS, FLC_SMALL_LANES, FLC_SMALL_MAX_C / FLC_SMALL_LANES, 1>(
        request, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_WARP_THREADS)
flc_cross_entropy_warp(FLC_ROW_PARAMS) {
    ce_dispatch<FLC_WARP_THREADS, 32, FLC_WARP_MAX_C / 32, 1>(
        request, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_BLOCK_THREADS, FLC_BLOCK_MIN_BLOCKS)
flc_cross_entropy_block(FLC_ROW_PARAMS) {
    ce_dispatch<FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS, 1,
                 FLC_CE_REG_SLOTS>(
        request, ws, result);
}

extern "C" __global__ void __launch_bounds__(FLC_BLOCK_THREADS, FLC_BLOCK_MIN_BLOCKS) FLC_CLUSTER_ATTR
flc_cross_entropy_cluster(FLC_ROW_PARAMS) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    ce_dispatch<FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS,
                FLC_CLUSTER_SIZE, FLC_CE_REG_SLOTS>(
        request, ws, result);
#else
    cluster_unsupported(result, ws);
#endif
}
