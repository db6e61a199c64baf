/*
 * fusedloss_cuda.h: the ABI of the CUDA kernels in fusedloss.fatbin (plain C, no CUDA headers).
 *
 * The kernels compute exactly the functions of ../native/fusedloss.h (see its top comment and
 * SEMANTICS.md): loss AND gradient in one pass. They are launched by name through the driver
 * API (cuModuleLoadData + cuModuleGetFunction + cuLaunchKernel), one pointer per parameter, so
 * every parameter is flat: device pointers, long long sizes, float / double / int scalars.
 * A NULL device pointer means "absent", as on the CPU side.
 *
 * ---------------------------------------------------------------------------------------------
 * One call = two launches on the same stream, sharing one workspace:
 *
 *   1. prep   flc_rows_prep (cross-entropy, softmax focal) or flc_elems_prep (BCE, MSE, sigmoid
 *             focal). Validates labels and weights that live in device memory, counts the
 *             counted / masked terms, sums the effective weights (the MEAN denominator) and
 *             stores grad_factor = grad_scale / denominator in the workspace. Its last block
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
 * Kernels (all extern "C" __global__). `int` is int32, `long long` int64. reduction: FLC_NONE,
 * FLC_SUM, FLC_MEAN, FLC_BATCH_MEAN. c (classes) must be < 2^31 (labels are int32); n * c is
 * 64-bit. JCuda: Pointer.to(new long[]{n}) for a long long, Pointer.to(new int[]{..}),
 * Pointer.to(new float[]{..}), Pointer.to(new double[]{..}), Pointer.to(devicePtr) for a
 * pointer (a CUdeviceptr of 0 for NULL).
 *
 * flc_rows_prep(long long n, long long c, const int* labels, int ignore_index,
 *               const float* class_weights, int class_weight_in_denominator,
 *               const float* sample_weights, long long sample_weight_stride,
 *               int reduction, double grad_scale, double denominator, void* ws)
 *     labels: NULL for dense targets (then every row counts). class_weights: the per-class
 *     vector of the loss (CE class weights, softmax-focal alpha), validated (>= 0, finite);
 *     class_weight_in_denominator = 1 for CE with class indices (MEAN divides by
 *     sum cw[y] * sw), 0 for dense targets and softmax focal (sum sw).
 *     denominator >= 0: the caller's own MEAN / BATCH_MEAN denominator; < 0 (or NaN): computed.
 *
 * flc_elems_prep(long long n, long long k, const float* sample_weights,
 *                long long sample_weight_stride, const float* element_weights,
 *                const float* column_weights, const float* binary_class_weights,
 *                int reduction, double grad_scale, double denominator, void* ws)
 *     column_weights: BCE pos_weight (k floats) or NULL; binary_class_weights: {w0, w1} or NULL.
 *
 * flc_cross_entropy_{small,warp,block,cluster}(long long n, long long c, const float* logits,
 *               const int* labels, const float* targets, int ignore_index,
 *               const float* class_weights, const float* sample_weights,
 *               long long sample_weight_stride, float label_smoothing, float z_loss,
 *               float soft_cap, const float* upstream, float* grad, float* per_term,
 *               void* ws, double* result)
 *     labels != NULL: class indices; else targets (n x c dense). soft_cap <= 0: off.
 *
 * flc_softmax_focal_{small,warp,block,cluster}(long long n, long long c, const float* logits,
 *               const int* labels, int ignore_index, const float* alpha, float gamma,
 *               const float* sample_weights, long long sample_weight_stride,
 *               const float* upstream, float* grad, float* per_term, void* ws, double* result)
 *
 * flc_binary_cross_entropy(long long n, long long k, const float* logits, const float* targets,
 *               const float* pos_weight, const float* binary_class_weights,
 *               const float* sample_weights, long long sample_weight_stride,
 *               const float* element_weights, const float* upstream,
 *               float* grad, float* per_term, void* ws, double* result)
 *
 * flc_mean_squared_error(long long n, long long k, const float* predictions,
 *               const float* targets, const float* sample_weights,
 *               long long sample_weight_stride, const float* element_weights,
 *               const float* upstream, float* grad, float* per_term, void* ws, double* result)
 *
 * flc_sigmoid_focal(long long n, long long k, const float* logits, const float* targets,
 *               float alpha, float gamma, const float* sample_weights,
 *               long long sample_weight_stride, const float* element_weights,
 *               const float* upstream, float* grad, float* per_term, void* ws, double* result)
 *
 * Common to the main kernels: grad NULL = no gradient; grad may equal logits (in place).
 * per_term (n floats for the softmax losses, n*k otherwise) is written when not NULL (NONE).
 * upstream (same length as per_term) scales each term's gradient when not NULL (NONE only).
 * The gradient written is grad_factor * upstream[term] * d(weighted term)/d(prediction), with
 * grad_factor from the prep launch (grad_scale, or grad_scale / denominator for the means, or 0
 * when that denominator is 0; FLC_ERR_GRAD_SCALE where it overflows a double). grad_factor is a
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

/* reductions (same values as the Java enum order) */
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
#define FLC_ERR_GRAD_SCALE 10     /* grad_scale / denominator overflows a double; index 0, value:
                                     the denominator (outputs unspecified, as for any error) */

#endif /* FUSEDLOSS_CUDA_H */
