/*
 * softmax_rows.cuh: the row engine shared by cross-entropy (class indices and dense targets)
 * and softmax focal loss. What is fused: softmax, loss term, weights, smoothing, z-loss,
 * soft-cap and the gradient, for one row at a time, reading the logits from DRAM once.
 *
 * A "group" of GT threads owns a row: one warp (GT = 32), one block, or, with CLUSTER > 1, the
 * CLUSTER blocks of a thread-block cluster (sm_90), each owning a contiguous chunk of the row.
 * Each thread keeps up to E logits of its chunk on chip (registers; for the block-per-row shapes
 * part of them in shared memory, so that two blocks fit per SM and one loads while the other
 * computes: FLC_*_REG_SLOTS in common.cuh):
 *   1. load the chunk (float4 when aligned), apply the soft cap, take the thread's max m_t;
 *   2. e = exp(z - m_t) (the only exp per element, kept in the registers), and the thread's
 *      partial sums: S = 1 + o (o: the sum of e but the max's own 1), B = sum w_c (m_t - z_c),
 *      W = sum w_c (smoothing / dense mass);
 *   3. combine the partials over the group (warp shuffles, shared memory, cluster DSMEM), each
 *      rescaled to the row max M: that gives lse = M + log1p(o) and the row's loss term;
 *   4. gradient from the registers: grad_c = G * (P * e_c * exp(m_t - M) / S - q_c), the
 *      label's own element from 1 - p_y = -expm1(-nll) (accurate when p_y is close to 1).
 * B is a sum of non-negative terms (no cancellation between sum q_c * lse and sum q_c * z_c).
 * A chunk longer than GT * E does not fit: it is streamed twice instead (online max/sum in the
 * first pass, gradient in the second), correct for any C, 12 instead of 8 bytes per element.
 * The arithmetic of each step is in row_math.cuh (plain C++ too: cuda/test/host_check.cpp runs it).
 */
#ifndef FLC_SOFTMAX_ROWS_CUH
#define FLC_SOFTMAX_ROWS_CUH

#include <type_traits>

#include "common.cuh"
#include "row_math.cuh"

/* The parameters of every softmax kernel (each launch shape): the request by value
 * (fusedloss.h), the workspace and the result. */
#define FLC_ROW_PARAMS const fl_request request, void* ws, double* result
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#include <cooperative_groups.h>
#endif

namespace flc {

__device__ __forceinline__ RowAcc shfl_xor_acc(const RowAcc& a, int o, unsigned mask) {
    RowAcc r;
    r.m = __shfl_xor_sync(mask, a.m, o);
    r.o = __shfl_xor_sync(mask, a.o, o);
    r.b = __shfl_xor_sync(mask, a.b, o);
    r.w = __shfl_xor_sync(mask, a.w, o);
    r.inf_mass = __shfl_xor_sync(mask, a.inf_mass, o);
    return r;
}

/* Butterfly over aligned groups of W lanes (W = 32: the warp). Groups of one warp may diverge
 * (different rows masked or not), so each uses the mask of its own lanes. */
template <int W = 32>
__device__ __forceinline__ unsigned lane_group_mask() {
    if (W >= 32) return FULL_MASK;
    const int lane = threadIdx.x & 31;
    return ((1u << (W & 31)) - 1) << (lane & ~(W - 1));
}

template <int W = 32>
__device__ __forceinline__ RowAcc warp_reduce_acc(RowAcc a) {
    const unsigned mask = lane_group_mask<W>();
    #pragma unroll
    for (int o = W / 2; o > 0; o >>= 1) {
        const RowAcc b = shfl_xor_acc(a, o, mask);
        acc_combine(a, b);
    }
    return a;
}

/* Shared memory of the row engine. */
template <int THREADS, int GPC>
struct RowShared {
    RowAcc warp_acc[THREADS / 32];
    RowAcc block_acc;
    RowAcc cluster_slot[2];     /* double-buffered per row: read by the other blocks (DSMEM) */
    double lead_loss[GPC];      /* per group (row in flight) of the block */
    double lead_nonfinite[GPC];
};

/* Group reduction over the block (GT == THREADS). Ends with the result visible to all. */
template <int THREADS, class Shared>
__device__ __forceinline__ RowAcc block_reduce_acc(RowAcc a, Shared& sh) {
    constexpr int NW = THREADS / 32;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    a = warp_reduce_acc(a);
    if (lane == 0) sh.warp_acc[warp] = a;
    __syncthreads();
    if (warp == 0) {
        a = lane < NW ? sh.warp_acc[lane] : acc_identity();
        a = warp_reduce_acc(a);
        if (lane == 0) sh.block_acc = a;
    }
    __syncthreads();
    return sh.block_acc;
}

/* A thread's slots: the first ER in registers, the others (E - ER) in shared memory at a stride
 * of the block size (private to the thread, no barrier needed). The slot index is a constant
 * in every unrolled loop, so each access resolves to a register or one shared memory word. */
#define FLC_SLOT_GET(i) ((i) < ER ? v[(i) < ER ? (i) : 0] : vs[((i) < ER ? 0 : (i) - ER) * THREADS])
#define FLC_SLOT_SET(i, val)                                                  \
    do {                                                                      \
        if ((i) < ER) v[(i) < ER ? (i) : 0] = (val);                          \
        else vs[((i) < ER ? 0 : (i) - ER) * THREADS] = (val);                 \
    } while (0)

/* ---- the row loop ----------------------------------------------------------------------- */

template <int KIND, int THREADS, int GT, int E, int CLUSTER, bool VEC, int ER>
__device__ void softmax_rows(const RowArgs& a, RowShared<THREADS, THREADS / GT>& sh,
                             float* slot_smem) {
    float* const vs = slot_smem + threadIdx.x;  /* this thread's slots ER..E-1 */
    constexpr int GPC = THREADS / GT;  /* groups (rows in flight) per block */
    const int t = threadIdx.x % GT;
    const int gib = threadIdx.x / GT;
    int rank = 0;
    long long group, ngroups;
    if (CLUSTER > 1) {
        rank = blockIdx.x % CLUSTER;   /* == cluster block rank for __cluster_dims__(CLUSTER,1,1) */
        group = blockIdx.x / CLUSTER;
        ngroups = gridDim.x / CLUSTER;
    } else {
        group = (long long)blockIdx.x * GPC + gib;
        ngroups = (long long)gridDim.x * GPC;
    }
    const long long C = a.c;
    long long chunk = (C + CLUSTER - 1) / CLUSTER;
    chunk = (chunk + 3) & ~3ll;  /* chunks start on a float4 boundary */
    const long long lo = (long long)rank * chunk;
    long long len64 = C - lo;
    len64 = len64 < 0 ? 0 : (len64 > chunk ? chunk : len64);
    const int len = (int)len64;  /* labels are int32: C < 2^31 */
    /* The soft cap (tanh per element, and its derivative needing z) takes the streaming path:
     * it is a rare option, and keeping it out of the unrolled register code keeps that lean. */
    const bool in_regs = len <= GT * E && !(a.cap > 0.f);
    const int nvalid = in_regs ? valid_slots<VEC, GT, E>(len, t) : 0;
    const bool leader = t == 0 && rank == 0;
    const float eps_c = (float)((double)a.eps / (double)C);
    const bool smooth_idx = KIND == CE_INDEX && a.eps != 0.f;
    double loss_acc = 0.0, nonfinite_acc = 0.0;
    [[maybe_unused]] int synced = 0;  /* rows that went through the cluster exchange (parity) */

    for (long long row = group; row < a.n; row += ngroups) {
        const long long off = row * C + lo;
        const float* xr = a.x + off;
        float* gr = a.grad ? a.grad + off : nullptr;
        const float* tr = KIND == CE_DENSE ? a.targets + off : nullptr;

        /* the row's logits first: independent of the label, so their latency overlaps the
         * label -> z_y chain below */
        float v[ER];
        if (in_regs) {
            if (VEC) {
                #pragma unroll
                for (int i = 0; i < E; i += 4) {
                    if (i >= nvalid) break;
                    const float4 q = *reinterpret_cast<const float4*>(xr + slot_pos<true, GT>(t, i));
                    FLC_SLOT_SET(i, q.x); FLC_SLOT_SET(i + 1, q.y);
                    FLC_SLOT_SET(i + 2, q.z); FLC_SLOT_SET(i + 3, q.w);
                }
            } else {
                #pragma unroll
                for (int i = 0; i < E; ++i) {
                    if (i >= nvalid) break;
                    FLC_SLOT_SET(i, (xr[slot_pos<false, GT>(t, i)]));
                }
            }
        }

        /* ---- row setup: label, weights, masking (uniform over the group) ---- */
        int y = -1;
        bool counted = true;
        if (KIND != CE_DENSE) {
            y = a.labels[row];
            if (y == a.ignore_index || y < 0 || y >= C) counted = false;  /* bad: prep reports */
        }
        const float sw = sample_weight(a.sw, a.sw_stride, row);
        if (isnan(sw)) counted = false;
        /* a masked row's gradient, or a dropped one's: zeros, whatever the logits */
        auto zero_gradient = [&] {
            if (gr) for (int j = t; j < len; j += GT) gr[j] = 0.f;
        };
        if (!counted) {
            zero_gradient();
            if (leader && a.per_term) a.per_term[row] = 0.f;
            continue;
        }
        /* z_y and its class weight, read before any thread of the row writes its gradient
         * (grad may alias the logits) */
        float zy = 0.f, cwy = 1.f;
        if (KIND != CE_DENSE) {
            zy = soft_cap(a.x[row * C + y], a.cap);
            if (a.cw) cwy = a.cw[y];
        }
        const float up = a.upstream ? a.upstream[row] : 1.f;
        const int yrel = (KIND != CE_DENSE && y >= lo && y < lo + len) ? (int)(y - lo) : -1;
        const float* cwc = a.cw ? a.cw + lo : nullptr;  /* this chunk's class weights */

        /* ---- pass 1: statistics ---- */
        RowAcc acc = acc_identity();
        float mt = -INFINITY;
        if (in_regs) {
            #pragma unroll
            for (int i = 0; i < E; ++i) {
                if (i >= nvalid) break;
                mt = fmaxf(mt, FLC_SLOT_GET(i));
            }
            acc = acc_kept_begin(mt);
            int ties = 0;
            #pragma unroll
            for (int i = 0; i < E; ++i) {
                if (i >= nvalid) break;
                const int j = slot_pos<VEC, GT>(t, i);
                /* keeps e; -0.0 marks z == -inf so the gradient loop still knows which classes
                 * are masked */
                const float kept = acc_add_kept<KIND>(acc, ties, FLC_SLOT_GET(i), mt, cwc, tr, j,
                                                      a.eps, eps_c, smooth_idx);
                FLC_SLOT_SET(i, kept);
            }
            acc_kept_end(acc, ties);
        } else {
            const int step = VEC ? 4 * GT : GT;
            for (int j0 = VEC ? 4 * t : t; j0 < len; j0 += step) {
                float zz[4];
                int cnt = 1;
                if (VEC) {
                    const float4 q = *reinterpret_cast<const float4*>(xr + j0);
                    zz[0] = q.x; zz[1] = q.y; zz[2] = q.z; zz[3] = q.w;
                    cnt = 4;
                } else {
                    zz[0] = xr[j0];
                }
                for (int u = 0; u < cnt; ++u)
                    acc_add_streamed<KIND>(acc, soft_cap(zz[u], a.cap), cwc, tr, j0 + u, a.eps, eps_c,
                                           smooth_idx);
            }
        }

        /* ---- combine over the group ---- */
        RowAcc r;
        if (GT <= 32) {
            r = warp_reduce_acc<GT <= 32 ? GT : 32>(acc);
            /* orders every lane's read of z_y before any lane's gradient store */
            __syncwarp(lane_group_mask<GT <= 32 ? GT : 32>());
        } else {
            r = block_reduce_acc<THREADS>(acc, sh);
        }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
        if (CLUSTER > 1) {
            namespace cg = cooperative_groups;
            cg::cluster_group cl = cg::this_cluster();
            const int slot = synced & 1;
            if (threadIdx.x == 0) sh.cluster_slot[slot] = r;
            cl.sync();
            if (threadIdx.x == 0) {
                /* every block folds the same partials in rank order: identical bits */
                RowAcc f = *cl.map_shared_rank(&sh.cluster_slot[slot], 0);
                for (int q = 1; q < CLUSTER; ++q) acc_combine(f, *cl.map_shared_rank(&sh.cluster_slot[slot], q));
                sh.block_acc = f;
            }
            __syncthreads();
            r = sh.block_acc;
            ++synced;
        }
#endif
        /* G = grad factor x upstream x sample weight, in double (row_coef); the factor is read
         * here, not held in registers across the row */
        const RowCoef k = row_coef<KIND>(a, r, zy, cwy, sw, grad_factor(a.ws) * (double)up * (double)sw);
        if (leader) {
            loss_acc += k.term;
            if (!isfinite(k.term)) nonfinite_acc += 1.0;
            if (a.per_term) a.per_term[row] = (float)k.term;
        }

        /* ---- pass 2: gradient ---- */
        /* A streamed chunk is read again from memory; so is a kept one whose factors are no
         * normal floats (k.wide, rare: that loop scales each element back in double, and keeps
         * the common loop lean). Each thread reads only the elements it writes, so in place too. */
        auto stream_pass2 = [&](auto wide) {
            const int step = VEC ? 4 * GT : GT;
            for (int j0 = VEC ? 4 * t : t; j0 < len; j0 += step) {
                float xx[4], gg[4];
                int cnt = 1;
                if (VEC) {
                    const float4 q = *reinterpret_cast<const float4*>(xr + j0);
                    xx[0] = q.x; xx[1] = q.y; xx[2] = q.z; xx[3] = q.w;
                    cnt = 4;
                } else {
                    xx[0] = xr[j0];
                }
                for (int u = 0; u < cnt; ++u)
                    gg[u] = grad_streamed<KIND, decltype(wide)::value>(k, soft_cap(xx[u], a.cap), a.cap, cwc, tr,
                                                                       j0 + u, yrel, smooth_idx);
                if (VEC) *reinterpret_cast<float4*>(gr + j0) = make_float4(gg[0], gg[1], gg[2], gg[3]);
                else gr[j0] = gg[0];
            }
        };
        if (k.dropped) {
            zero_gradient();
        } else if (gr) {
            if (k.wide) {
                stream_pass2(std::true_type{});
            } else if (in_regs) {
                /* e was taken relative to the thread max m_t */
                const float ps = mt == -INFINITY ? 0.f : k.pscale * expf(mt - k.M);
                constexpr int W = VEC ? 4 : 1;
                #pragma unroll
                for (int i = 0; i < E; i += W) {
                    if (i >= nvalid) break;
                    const int j0 = slot_pos<VEC, GT>(t, i);
                    float gq[W];
                    #pragma unroll
                    for (int u = 0; u < W; ++u)
                        gq[u] = grad_kept<KIND>(k, ps, FLC_SLOT_GET(i + u), cwc, tr, j0 + u, yrel, smooth_idx);
                    if (VEC) *reinterpret_cast<float4*>(gr + j0) = make_float4(gq[0], gq[W > 1 ? 1 : 0], gq[W > 2 ? 2 : 0], gq[W > 3 ? 3 : 0]);
                    else gr[j0] = gq[0];
                }
            } else {
                stream_pass2(std::false_type{});
            }
        }
    }

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    /* no block may exit while another can still read its shared memory */
    if (CLUSTER > 1) cooperative_groups::this_cluster().sync();
#endif

    /* ---- this block's partial: group leaders' sums in group order ---- */
    if (t == 0) {
        sh.lead_loss[gib] = loss_acc;
        sh.lead_nonfinite[gib] = nonfinite_acc;
    }
    __syncthreads();
    if (threadIdx.x == 0 && rank == 0) {
        double l = 0.0, nf = 0.0;
        for (int q = 0; q < GPC; ++q) { l += sh.lead_loss[q]; nf += sh.lead_nonfinite[q]; }
        const long long part = CLUSTER > 1 ? blockIdx.x / CLUSTER : blockIdx.x;
        double* parts = main_partials(a.ws);
        parts[2 * part] = l;
        parts[2 * part + 1] = nf;
    }
}

/* Thread-block clusters exist from sm_90 on: the _cluster kernels carry the cluster shape
 * only there (so a plain cuLaunchKernel launches clusters); elsewhere they report it. */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define FLC_CLUSTER_ATTR __cluster_dims__(FLC_CLUSTER_SIZE, 1, 1)
#else
#define FLC_CLUSTER_ATTR
#endif

__device__ inline void cluster_unsupported(double* result, void* ws) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        for (int i = 0; i < FLC_RESULT_DOUBLES; ++i) result[i] = 0.0;
        result[FLC_R_ERROR_CODE] = FLC_ERR_UNSUPPORTED;
        Header* h = header(ws);  /* leave the workspace clean for the next call */
        h->err_inv = 0;
        h->main_done = 0;
        h->prep_ran = 0;
    }
}

/* The kernel body: checks the grid, picks the float4 path when everything is aligned, runs
 * the rows, then the last block writes the result. */
/* Shared memory of a row kernel, declared once per kernel (by the caller), however many row
 * kinds the kernel dispatches to. */
template <int THREADS, int GT, int E, int ER>
struct RowKernelShared {
    RowShared<THREADS, THREADS / GT> sh;
    float slots[E > ER ? (E - ER) * THREADS : 1];
};

template <int KIND, int THREADS, int GT, int E, int CLUSTER, int ER>
__device__ __forceinline__ void softmax_rows_kernel(const RowArgs& a,
                                                    RowKernelShared<THREADS, GT, E, ER>& shared) {
    static_assert(ER % 4 == 0 && ER <= E, "register slots: a multiple of 4, at most E");
    static_assert(sizeof(RowKernelShared<THREADS, GT, E, ER>) + 512 <= 48 * 1024,
                  "FLC_CE_REG_SLOTS / FLC_FOCAL_REG_SLOTS too small: the slots left to shared memory "
                  "pass the 48 KB of static shared memory of a block (use 12 or more)");
    if (blockDim.x != THREADS) {  /* the thread layout is compiled in: any other block size is wrong */
        launch_error(a.ws, a.result, blockDim.x);
        return;
    }
    auto& sh = shared.sh;
    float* slot_smem = shared.slots;
    const int npart = CLUSTER > 1 ? (int)(gridDim.x / CLUSTER) : (int)gridDim.x;
    if (CLUSTER > 1 && gridDim.x % CLUSTER != 0) {  /* cannot happen with __cluster_dims__ */
        launch_error(a.ws, a.result, gridDim.x);
        return;
    }
    if (!main_grid_ok(a.ws, npart, a.result)) return;
    const bool vec = (a.c % 4 == 0) && aligned16(a.x) && aligned16(a.grad)
                     && (KIND != CE_DENSE || aligned16(a.targets));
    if (vec) softmax_rows<KIND, THREADS, GT, E, CLUSTER, true, ER>(a, sh, slot_smem);
    else softmax_rows<KIND, THREADS, GT, E, CLUSTER, false, ER>(a, sh, slot_smem);
    ErrSources src{a.labels, a.cw, nullptr, nullptr, a.sw, a.sw_stride, nullptr, a.targets};
    main_finish(a.ws, npart, a.result, src);
}

}  // namespace flc

#endif /* FLC_SOFTMAX_ROWS_CUH */
