/*
 * fusedloss_cuda.h: the ABI of the CUDA kernels in fusedloss.fatbin (plain C, no CUDA headers).
 *
 * The kernels compute exactly the functions of native/include/fusedloss.h (see its top comment and
 * SEMANTICS.md): loss AND gradient in one pass. They are launched by name through the driver
 * API (cuModuleLoadData + cuModuleGetFunction + cuLaunchKernel), one pointer per parameter, so
 * every kernel takes the call's fl_request by value, then the workspace (and the result).
 * A NULL device pointer means "absent", as on the CPU side.
 *
 * ---------------------------------------------------------------------------------------------
 * One call = two launches on the same stream, sharing one workspace:
 *
 *   1. prep   flc_rows_prep (cross-entropy, softmax focal) or flc_elems_prep (BCE, MSE, sigmoid
 *             focal). Validates labels and weights that live in device memory, counts the
 *             counted / masked terms, sums the effective weights (the MEAN denominator) and
 *             stores grad_factor = gradient_scale / denominator in the workspace. Its last block
 *             reduces the per-block partials in a fixed order.
 *   2. main   the loss kernel: loss + gradient in one read of the predictions, per-block partial
 *             loss sums in double; its last block reduces them in a fixed order and writes the
 *             result (below). The gradient uses the grad_factor from step 1, so it is final.
 *
 * No float atomics anywhere: every sum is a fixed-order tree over a grid whose size depends only
 * on the shape, so identical input gives bit-identical output on every run. (The only atomics are
 * integer: a block counter and an atomicMax on the error word.)
 *
 * Workspace: FLC_WORKSPACE_BYTES of device memory per stream (16-byte aligned, cuMemAlloc is).
 * Zero it once after allocating (cuMemsetD8). The kernels leave its header zero again at the end
 * of every main launch; if a launch failed or a prep was not followed by its main launch, zero
 * it again (cuMemsetD8Async(ws, 0, FLC_WORKSPACE_HEADER_BYTES) is enough).
 * Calls sharing a workspace must be ordered (same stream).
 *
 * Result: `double result[FLC_RESULT_DOUBLES]` in device memory, written by the main launch
 * (indices FLC_R_*). When result[FLC_R_ERROR_CODE] != 0, an input was invalid: the other outputs
 * (grad, per_term, the loss) hold unspecified values, but nothing outside them was touched.
 *
 * ---------------------------------------------------------------------------------------------
 * Launch configuration (grid depends only on the shape: that is what makes runs bit-identical).
 * All launches: blockDim = (FLC_*_THREADS, 1, 1), gridDim = (grid, 1, 1), no dynamic shared
 * memory. "cdiv(a, b)" = (a + b - 1) / b, all in 64-bit, max(1, ...) so that n == 0 still runs
 * (it writes a zero result).
 *
 *   prep, rows:      threads FLC_PREP_THREADS (256),
 *                    grid = max(1, min(cdiv(max(n, c), 256), FLC_PREP_MAX_BLOCKS))
 *   prep, elements:  threads 256, items = (element_weights ? n * k : n),
 *                    grid = max(1, min(cdiv(max(items, k, 2), 256), FLC_PREP_MAX_BLOCKS))
 *   softmax losses (flc_cross_entropy_*, flc_softmax_focal_*), pick by C and the device:
 *     _small    C <= FLC_SMALL_MAX_C (32): 4 lanes per row, 64 rows per block.
 *               threads 256, grid = max(1, min(cdiv(n, 64), FLC_MAX_PARTIALS))
 *     _warp     C <= FLC_WARP_MAX_C (1024): one warp per row, 8 rows per block.
 *               threads 256, grid = max(1, min(cdiv(n, 8), FLC_MAX_PARTIALS))
 *     _cluster  compute capability >= 9.0 and C > FLC_BLOCK_MAX_C (16384): a cluster of 8
 *               blocks per row (the row stays in registers across the 8 SMs; read once).
 *               Only where the device can schedule such a cluster (the Java side: the device
 *               attribute CLUSTER_LAUNCH; cuda_check: cudaOccupancyMaxActiveClusters > 0). A
 *               cluster launch that fails anyway (an MPS client's SM limit, a small MIG slice)
 *               may be followed by the _block kernel on the same prep: it starts nothing.
 *               threads 512, grid = 8 * max(1, min(n, FLC_MAX_PARTIALS))
 *               (compiled with __cluster_dims__(8,1,1): a plain cuLaunchKernel works; the grid
 *               must be a multiple of 8. On sm_80 it only reports FLC_ERR_UNSUPPORTED.)
 *     _block    otherwise: one block per row.
 *               threads 512, grid = max(1, min(n, FLC_MAX_PARTIALS))
 *     Every variant is correct for every C; the choice is about speed. A row that does not fit
 *     the registers (C > 32 for _small, 1024 for _warp, 16384 for _block, 131072 for
 *     _cluster) or that has a soft cap is streamed: read twice (the second read mostly from L2).
 *   element-wise losses: threads FLC_ELEM_THREADS (256),
 *                    grid = max(1, min(cdiv(n * k, 1024), FLC_MAX_PARTIALS))
 *
 * ---------------------------------------------------------------------------------------------
 * Kernels (all extern "C" __global__). Every kernel takes the call's fl_request (fusedloss.h) by
 * value: the same struct, field for field, that the CPU ABI's fl_compute takes, with device
 * pointers. Its reduction, gradient_scale and denominator mean what they mean there: the prep
 * launch computes the denominator where it is negative (the MEAN weight sum or the BATCH_MEAN
 * count), and grad_factor = gradient_scale / denominator (0 when the denominator is 0). c
 * (classes) must be < 2^31 (labels are int32); rows * cols is 64-bit. JCuda: one pointer to the
 * struct's 192 bytes (Pointer.to(byte[])) for the request, Pointer.to(devicePtr) for a pointer.
 *
 * flc_rows_prep(const fl_request request, void* ws)
 *     the softmax losses (FL_CROSS_ENTROPY, FL_CROSS_ENTROPY_DENSE, FL_SOFTMAX_FOCAL): labels
 *     (none for dense targets: every row counts), the per-class vector (class weights, alpha,
 *     validated: >= 0, finite), sample weights. MEAN divides by sum cw[y] * sw with class
 *     indices (FL_CROSS_ENTROPY), by sum sw otherwise.
 *
 * flc_elems_prep(const fl_request request, void* ws)
 *     the element-wise losses: sample and element weights; BCE's pos_weight (cols floats) and
 *     binary class weights {w0, w1}, validated.
 *
 * flc_<softmax kernel>_{small,warp,block,cluster}(const fl_request request, void* ws, double* result)
 *     the kernel of each softmax loss of FL_LOSSES (fusedloss.h), in each launch shape:
 *     flc_cross_entropy_small (FL_CROSS_ENTROPY and FL_CROSS_ENTROPY_DENSE), flc_softmax_focal_warp, ...
 *
 * flc_<elementwise kernel>(const fl_request request, void* ws, double* result)
 *     the kernel of each element-wise loss of FL_LOSSES: flc_binary_cross_entropy, ...
 *
 * A loss's kernel is flc_<kernel>, the kernel name of its FL_LOSSES entry (fusedloss.h), with the
 * launch shape's suffix for the softmax losses; the prep is that of its family. Each loss's .cu
 * defines its kernel with FLC_ROW_PARAMS (softmax_rows.cuh) or FLC_ELEM_PARAMS (elementwise.cuh).
 *
 * Common to the main kernels: gradient NULL = no gradient; gradient may equal predictions (in
 * place). per_term (rows floats for the softmax losses, rows * cols otherwise) is written when
 * not NULL, with any reduction.
 * upstream (same length as per_term) scales each term's gradient when not NULL (NONE only).
 * The gradient written is grad_factor * upstream[term] * d(weighted term)/d(prediction), with
 * grad_factor from the prep launch (gradient_scale / denominator, 1 for NONE and SUM, or 0 when
 * the denominator is 0; FLC_ERR_GRAD_SCALE where it overflows a double). grad_factor is a
 * double and meets the weights in double where it, or its products with a row's factors, is no
 * normal float (weights of 1e-40 with MEAN, a caller denominator of 1e-300), as on the CPU.
 * As on the CPU (SEMANTICS.md): a term whose parts all have no mass (a zero class weight / alpha
 * at the label without smoothing or z-loss, a dense row of zero targets without z-loss, a zero
 * binary class weight, pos_weight or alpha_t on its part) is 0 with a zero gradient whatever
 * the predictions; a weighted term beyond float range is +inf; a sigmoid focal target outside
 * [0, 1] gives a NaN term and gradient (counted in FLC_R_NONFINITE).
 * Vectorised float4 paths are used when c (or k) is a multiple of 4
 * and the float pointers are 16-byte aligned; anything else takes the scalar path.
 */
#ifndef FUSEDLOSS_CUDA_H
#define FUSEDLOSS_CUDA_H

#include "fusedloss.h" /* fl_request, the loss list and the result layout (FLC_R_* = FL_R_*) */

/* reductions (the values of fusedloss.h's FL_NONE .. FL_BATCH_MEAN, and of the Java enum order) */
#define FLC_NONE 0
#define FLC_SUM 1
#define FLC_MEAN 2
#define FLC_BATCH_MEAN 3

/* launch configuration */
#define FLC_PREP_THREADS 256
#define FLC_PREP_MAX_BLOCKS 1024
#define FLC_SMALL_THREADS 256    /* 64 rows (groups of 4 lanes) per block */
#define FLC_SMALL_LANES 4
#define FLC_SMALL_ROWS_PER_BLOCK 64
#define FLC_SMALL_MAX_C 32       /* 4 lanes x 8 registers */
#define FLC_WARP_THREADS 256     /* 8 rows (warps) per block */
#define FLC_WARP_ROWS_PER_BLOCK 8
#define FLC_WARP_MAX_C 1024      /* 32 lanes x 32 registers */
#define FLC_BLOCK_THREADS 512
#define FLC_BLOCK_MAX_C 16384    /* 512 threads x 32 slots (registers + shared memory) */
#define FLC_CLUSTER_SIZE 8
#define FLC_CLUSTER_MAX_C 131072 /* 8 x 16384 */
#define FLC_ELEM_THREADS 256
#define FLC_ELEM_PER_BLOCK 1024  /* grid = cdiv(n * k, 1024), capped */
#define FLC_MAX_PARTIALS 4096    /* cap on the grid of the main kernels (clusters for _cluster) */

/* workspace: header, then the prep partials (4 doubles each), then the main partials (2 each) */
#define FLC_WORKSPACE_HEADER_BYTES 256
#define FLC_WORKSPACE_BYTES (FLC_WORKSPACE_HEADER_BYTES + FLC_PREP_MAX_BLOCKS * 32 + FLC_MAX_PARTIALS * 16) /* 98560 */

/* result layout: double result[FLC_RESULT_DOUBLES] */
#define FLC_RESULT_DOUBLES 16
#define FLC_R_LOSS 0          /* the reduced loss: SUM and NONE: loss_sum; MEAN / BATCH_MEAN:
                                 loss_sum / denominator, 0 when the denominator is 0 */
#define FLC_R_LOSS_SUM 1      /* sum of the weighted terms of the counted terms */
#define FLC_R_DENOMINATOR 2   /* denominator used: MEAN weight sum / BATCH_MEAN count / the
                                 caller's; 1 for SUM and NONE */
#define FLC_R_COUNTED 3       /* counted terms (not ignored, weight not NaN) */
#define FLC_R_MASKED 4        /* terms masked by a NaN sample / element weight */
#define FLC_R_NONFINITE 5     /* counted terms whose weighted loss is NaN or +-inf */
#define FLC_R_ERROR_CODE 6    /* FLC_ERR_*, 0 = inputs valid */
#define FLC_R_ERROR_INDEX 7   /* first bad index (row, class, or flat element index) */
#define FLC_R_ERROR_VALUE 8   /* the bad value (a label as a double, or a weight / target) */
#define FLC_R_GRAD_FACTOR 9   /* factor the gradient was scaled with */
#define FLC_R_WEIGHT_SUM 10   /* sum of the effective weights of the counted terms (always) */

/* error codes; when several inputs are bad, the smallest code wins, then the smallest index */
#define FLC_ERR_LABEL 1           /* label outside [0, c) and != ignore_index; index = row */
#define FLC_ERR_CLASS_WEIGHT 2    /* class weight / alpha < 0, inf or NaN; index = class */
#define FLC_ERR_POS_WEIGHT 3      /* pos_weight < 0, inf or NaN; index = column */
#define FLC_ERR_BINARY_CLASS_WEIGHT 4 /* {w0, w1} entry < 0, inf or NaN; index = 0 or 1 */
#define FLC_ERR_SAMPLE_WEIGHT 5   /* sample weight < 0 or +-inf (NaN = masked); index = row */
#define FLC_ERR_ELEMENT_WEIGHT 6  /* element weight < 0 or +-inf; index = flat n*k index */
#define FLC_ERR_TARGET 7          /* target not exactly 0 or 1 with binary class weights */
#define FLC_ERR_LAUNCH 8          /* grid larger than the workspace allows (see formulas), or a
                                     block size other than the kernel's; index: that number */
#define FLC_ERR_UNSUPPORTED 9     /* _cluster kernel launched on a device below sm_90 */
#define FLC_ERR_GRAD_SCALE 10     /* gradient_scale / denominator overflows a double; index 0, value:
                                     the denominator (outputs unspecified, as for any error) */

#endif /* FUSEDLOSS_CUDA_H */
