/*
 * common.cuh: device helpers shared by every fusedloss kernel.
 *
 * - the workspace header and partial arrays (layout in fusedloss_cuda.h),
 * - the error word: first bad input, found by an integer atomicMax (deterministic: the smallest
 *   (code, index) wins whatever the block order),
 * - fixed-order double reductions (warp shuffle tree, then one warp over the warp sums) and the
 *   "last block finishes" pattern: every block writes its partial, bumps an integer counter,
 *   and the block that arrives last reduces all partials in index order. The order of every
 *   floating-point addition depends only on the grid and block sizes, never on timing, so the
 *   results are bit-identical run to run without float atomics.
 */
#ifndef FLC_COMMON_CUH
#define FLC_COMMON_CUH

#include <stdint.h>
#include <math.h>
#include "fusedloss.h"
#include "fusedloss_cuda.h"
#include "math.cuh"

/* Tuning knobs of the _block / _cluster shapes (not part of the ABI; override with -D to
 * experiment, e.g. FUSEDLOSS_NVCC_FLAGS="-DFLC_BLOCK_MIN_BLOCKS=1 -DFLC_CE_REG_SLOTS=32"):
 * of the 32 slots a thread keeps of its row chunk, this many live in registers and the rest in
 * shared memory, so that FLC_BLOCK_MIN_BLOCKS blocks fit per SM (one loads while the other
 * computes). Cross-entropy has more live values than softmax focal, hence fewer registers.
 * *_REG_SLOTS: a multiple of 4 from 12 to 32 (below 12 the slots left to shared memory pass the
 * 48 KB of static shared memory a block may have: a static_assert in softmax_rows.cuh says so). */
#ifndef FLC_BLOCK_MIN_BLOCKS
#define FLC_BLOCK_MIN_BLOCKS 2
#endif
#ifndef FLC_FOCAL_REG_SLOTS
#define FLC_FOCAL_REG_SLOTS 16
#endif
#ifndef FLC_CE_REG_SLOTS
#define FLC_CE_REG_SLOTS 12
#endif

namespace flc {

constexpr unsigned FULL_MASK = 0xffffffffu;

/* Workspace header (FLC_WORKSPACE_HEADER_BYTES). All zero between calls. */
struct Header {
    unsigned long long err_inv;  /* ~((code << 56) | index) of the first error; 0 = none */
    unsigned int prep_done;      /* blocks of the prep launch that finished */
    unsigned int main_done;      /* blocks of the main launch that finished */
    double grad_factor;          /* gradient_scale / denominator (0 if that overflows) */
    double denominator;          /* denominator used for the reduced loss */
    double weight_sum;           /* sum of the effective weights of the counted terms */
    double counted;
    double masked;
    int reduction;
    int prep_ran;                /* 1 once the prep launch finished; the main launch checks it */
};
static_assert(sizeof(Header) <= FLC_WORKSPACE_HEADER_BYTES, "header too large");

__device__ __forceinline__ Header* header(void* ws) { return reinterpret_cast<Header*>(ws); }
__device__ __forceinline__ double* prep_partials(void* ws) {
    return reinterpret_cast<double*>(static_cast<char*>(ws) + FLC_WORKSPACE_HEADER_BYTES);
}
__device__ __forceinline__ double* main_partials(void* ws) {
    return reinterpret_cast<double*>(static_cast<char*>(ws) + FLC_WORKSPACE_HEADER_BYTES
                                     + FLC_PREP_MAX_BLOCKS * 32);
}

/* ---- error word ------------------------------------------------------------------------- */

__device__ __forceinline__ void record_error(Header* h, int code, long long index) {
    unsigned long long key = ((unsigned long long)code << 56)
                           | ((unsigned long long)index & ((1ull << 56) - 1));
    atomicMax(&h->err_inv, ~key);  /* max of ~key = min of key: first code, then first index */
}

/* A sample / element weight: NaN is "missing" (masked), negative or infinite is an error. */
__device__ __forceinline__ bool bad_weight(float w) { return w < 0.f || isinf(w); }
/* A class weight, alpha, pos_weight: must be a finite number >= 0. */
__device__ __forceinline__ bool bad_class_weight(float w) { return !(w >= 0.f) || isinf(w); }

/* Where the main kernel's last block reads the value named by the error word. */
struct ErrSources {
    const int* labels;
    const float* class_weights;
    const float* pos_weight;
    const float* binary_class_weights;
    const float* sample_weights;
    long long sample_weight_stride;
    const float* element_weights;
    const float* targets;
};

__device__ inline double error_value(const ErrSources& s, int code, long long i) {
    switch (code) {
    case FLC_ERR_LABEL: return s.labels ? (double)s.labels[i] : 0.0;
    case FLC_ERR_CLASS_WEIGHT: return s.class_weights ? (double)s.class_weights[i] : 0.0;
    case FLC_ERR_POS_WEIGHT: return s.pos_weight ? (double)s.pos_weight[i] : 0.0;
    case FLC_ERR_BINARY_CLASS_WEIGHT:
        return s.binary_class_weights ? (double)s.binary_class_weights[i] : 0.0;
    case FLC_ERR_SAMPLE_WEIGHT:
        return s.sample_weights ? (double)s.sample_weights[i * s.sample_weight_stride] : 0.0;
    case FLC_ERR_ELEMENT_WEIGHT: return s.element_weights ? (double)s.element_weights[i] : 0.0;
    case FLC_ERR_TARGET: return s.targets ? (double)s.targets[i] : 0.0;
    default: return 0.0;
    }
}

/* ---- fixed-order reductions ------------------------------------------------------------- */

__device__ __forceinline__ double warp_sum(double v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(FULL_MASK, v, o);
    return v;  /* complete in lane 0 */
}

/* Sum over the block, complete in thread 0. sh: 32 doubles. Ends with a barrier, so it can be
 * called again right away. */
__device__ inline double block_sum(double v, double* sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nw ? sh[lane] : 0.0;
        v = warp_sum(v);
    }
    __syncthreads();
    return v;
}

/* Every block calls this once, after writing its partial; returns true in the last block to
 * arrive (in all its threads). Every thread fences its own global writes first. */
__device__ inline bool arrive_last(unsigned int* counter) {
    __shared__ int last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counter, 1u) == gridDim.x - 1;
    __syncthreads();
    if (last) __threadfence();
    return last != 0;
}

/* Sum of partial[j * stride + field] for j < count, in a fixed order (thread t takes j = t,
 * t + blockDim, ..., then the block tree). __ldcg: read from L2, never a stale L1 line. */
__device__ inline double sum_partials(const double* p, int count, int stride, int field,
                                      double* sh) {
    double v = 0.0;
    for (int j = threadIdx.x; j < count; j += blockDim.x) v += __ldcg(p + (long long)j * stride + field);
    return block_sum(v, sh);
}

/* ---- prep: validation + MEAN denominator -------------------------------------------------- */

/* All blocks of a prep kernel end here with their local sums. The last block combines the
 * partials and stores the gradient factor for the main launch. */
__device__ inline void prep_finish(void* ws, double wsum, double counted, double masked,
                                   int reduction, double gradient_scale, double denominator) {
    __shared__ double sh[32];
    Header* h = header(ws);
    double* parts = prep_partials(ws);
    wsum = block_sum(wsum, sh);
    counted = block_sum(counted, sh);
    masked = block_sum(masked, sh);
    if (threadIdx.x == 0) {
        parts[4 * blockIdx.x + 0] = wsum;
        parts[4 * blockIdx.x + 1] = counted;
        parts[4 * blockIdx.x + 2] = masked;
    }
    if (!arrive_last(&h->prep_done)) return;
    const int nb = (int)gridDim.x;
    wsum = sum_partials(parts, nb, 4, 0, sh);
    counted = sum_partials(parts, nb, 4, 1, sh);
    masked = sum_partials(parts, nb, 4, 2, sh);
    if (threadIdx.x == 0) {
        double den, factor;
        if (!grad_factor_of(reduction, gradient_scale, denominator, wsum, counted, den, factor)) {
            record_error(h, FLC_ERR_GRAD_SCALE, 0);  /* the value: the denominator (main_finish) */
            factor = 0.0;
        }
        h->grad_factor = factor;
        h->denominator = den;
        h->weight_sum = wsum;
        h->counted = counted;
        h->masked = masked;
        h->reduction = reduction;
        h->prep_ran = 1;
        h->prep_done = 0;  /* every block has arrived: the counter is free for the next call */
        __threadfence();
    }
}

/* Prep launched with more blocks than the workspace holds: report it, write nothing else. */
__device__ inline bool prep_grid_ok(void* ws) {
    if (gridDim.x <= FLC_PREP_MAX_BLOCKS) return true;
    if (threadIdx.x == 0 && blockIdx.x == 0) record_error(header(ws), FLC_ERR_LAUNCH, gridDim.x);
    return false;
}

/* ---- main: final reduction and result ---------------------------------------------------- */

/* The main kernel's blocks end here, after block (or cluster rank 0) `part` wrote
 * main_partials[2 * part + {0, 1}] = {loss sum, nonfinite count} (npart partials in all).
 * The last block writes the result and clears the header for the next call. */
__device__ inline void main_finish(void* ws, int npart, double* result, const ErrSources& src) {
    __shared__ double sh[32];
    Header* h = header(ws);
    if (!arrive_last(&h->main_done)) return;
    const double* parts = main_partials(ws);
    double loss = sum_partials(parts, npart, 2, 0, sh);
    double nonfinite = sum_partials(parts, npart, 2, 1, sh);
    if (threadIdx.x == 0) {
        const unsigned long long inv = atomicAdd(&h->err_inv, 0ull);
        int code = 0;
        long long index = 0;
        double value = 0.0;
        if (inv != 0) {
            const unsigned long long key = ~inv;
            code = (int)(key >> 56);
            index = (long long)(key & ((1ull << 56) - 1));
            value = code == FLC_ERR_GRAD_SCALE ? h->denominator : error_value(src, code, index);
        } else if (!h->prep_ran) {
            code = FLC_ERR_LAUNCH;  /* the prep launch did not run (or failed) */
        }
        const double den = h->denominator;
        const int red = h->reduction;
        double reduced = loss;
        if (red == FLC_MEAN || red == FLC_BATCH_MEAN) reduced = den != 0.0 ? loss / den : 0.0;
        for (int i = 0; i < FLC_RESULT_DOUBLES; ++i) result[i] = 0.0;
        result[FLC_R_LOSS] = reduced;
        result[FLC_R_LOSS_SUM] = loss;
        result[FLC_R_DENOMINATOR] = den;
        result[FLC_R_COUNTED] = h->counted;
        result[FLC_R_MASKED] = h->masked;
        result[FLC_R_NONFINITE] = nonfinite;
        result[FLC_R_ERROR_CODE] = code;
        result[FLC_R_ERROR_INDEX] = (double)index;
        result[FLC_R_ERROR_VALUE] = value;
        result[FLC_R_GRAD_FACTOR] = h->grad_factor;
        result[FLC_R_WEIGHT_SUM] = h->weight_sum;
        /* leave the header zero for the next call */
        h->err_inv = 0;
        h->main_done = 0;
        h->prep_ran = 0;
        h->grad_factor = 0.0;
        h->denominator = 0.0;
        h->weight_sum = 0.0;
        h->counted = 0.0;
        h->masked = 0.0;
        h->reduction = 0;
        __threadfence();
    }
}

/* A launch the kernel cannot run as configured: block 0 reports it (index: the offending
 * number), clears the header; nothing else is written. */
__device__ inline void launch_error(void* ws, double* result, long long index) {
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        for (int i = 0; i < FLC_RESULT_DOUBLES; ++i) result[i] = 0.0;
        result[FLC_R_ERROR_CODE] = FLC_ERR_LAUNCH;
        result[FLC_R_ERROR_INDEX] = (double)index;
        Header* h = header(ws);
        h->err_inv = 0;
        h->main_done = 0;
        h->prep_ran = 0;
    }
}

/* Main kernel launched with more partials than the workspace holds. */
__device__ inline bool main_grid_ok(void* ws, int npart, double* result) {
    if (npart <= FLC_MAX_PARTIALS) return true;
    launch_error(ws, result, npart);
    return false;
}

/* Grad factor of this call, from the prep launch: a double, which may lie beyond float range
 * (1 / a tiny weight sum) where its products with the weights do not. */
__device__ __forceinline__ double grad_factor(void* ws) {
    return header(ws)->grad_factor;
}

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

/* Sample weight of a row (1 when absent). */
__device__ __forceinline__ float sample_weight(const float* sw, long long stride, long long row) {
    return sw ? sw[row * stride] : 1.f;
}

}  // namespace flc

#endif /* FLC_COMMON_CUH */
