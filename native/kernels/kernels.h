// kernels.h: the internal interface between the dispatcher (dispatch.cpp, baseline flags) and the
// kernels compiled once per ISA. Plain structs and function pointers only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "fusedloss.h"

namespace fl {

// Softmax row chunk: a row is processed in chunks of this many floats (8 KiB, they stay in L1
// between the sweeps over a chunk). A multiple of every ISA's lane count.
constexpr int64_t kSoftmaxChunk = 2048;

static inline int64_t softmax_chunks(int64_t c) { return (c + kSoftmaxChunk - 1) / kSoftmaxChunk; }

// Per-row scratch for the softmax losses: the row's exponentials (or capped logits), then one
// float per chunk, twice (a long row's chunk factors stay while the next row's pass 1 runs).
static inline size_t softmax_scratch_floats(int64_t c) {
    return (size_t)((c + 15) / 16 * 16 + 2 * softmax_chunks(c) + 16);
}

// Rows of at least this many classes are long: cross-entropy writes such a row's gradient during
// the next row's pass 1 (GradWriter in softmax_row.h), so they go several to a row block.
constexpr int64_t kLongRow = 1536;

// Short rows are processed a few at a time (their latency chains overlap); each needs its own
// scratch row, so a worker's scratch is softmax_group(c) * softmax_scratch_floats(c) floats.
constexpr int kSoftmaxGroupMax = 4;
static inline int softmax_group(int64_t c) { return c <= 512 ? kSoftmaxGroupMax : 1; }

// Cross-entropy rows of at most this many classes (class indices, no smoothing, cap or z-loss)
// take a batched path: one row per lane for the per-row math (one log per kLanes rows), the
// gradient written as whole vectors over the batch, kSmallBatches batches at a time (their
// latency chains overlap). Its scratch: per batch kLanes rows plus a vector (16 lanes at most),
// then the general path's rows (for the batches it takes over).
// 64: on the general path a row costs ~45 ns beyond its elements, so rows of 17 to 64 classes ran
// up to 3.7x slower per element than rows of 16 (Zen 4, AVX-512: CE 240941 x 17 3.0 ns per element
// against 0.82 at 16, 1.69 at 33, 0.94 at 64). Across the lanes, paired, 1 thread, AVX-512 / AVX2:
// CE at 33 classes 0.55 / 0.50, 48 0.68 / 0.81, 64 0.79 / 1.03; softmax focal 0.44 / 0.42, 0.77 /
// 0.77, 0.74 / 0.95. Dense targets: kSmallDenseRowMax.
constexpr int64_t kSmallRowMax = 64;
// Rows of at most this many classes with dense targets take cross-entropy's SmallDenseRows. 32:
// dense CE ran 3.5 ns per element at 17 classes against 1.24 at 16 (Zen 4, AVX-512); across the
// lanes, paired, 1 thread, AVX-512 / AVX2: 17 classes 0.53 / 0.43, 20 0.51 / 0.44, 32 0.63 / 0.50.
constexpr int64_t kSmallDenseRowMax = 32;
constexpr int kSmallBatches = 4;
static inline size_t small_batch_floats(int64_t c) { return (size_t)(16 * c + 16); }

// A worker's scratch for the softmax losses.
static inline size_t softmax_worker_floats(int64_t c) {
    const size_t rows = softmax_scratch_floats(c) * (size_t)softmax_group(c);
    const size_t batches = c <= kSmallRowMax ? kSmallBatches * small_batch_floats(c) : 0;
    return rows + batches;
}

// The loss sum and non-finite count of one block of rows (the weight pass, fl_weight_sums,
// uses the same block: weight sum, masked, ignored, and its first bad term).
struct BlockSum {
    double sum;
    int64_t nonfinite;
    int64_t ignored = 0;
    int64_t first_bad = -1;
};

// A sample or element weight the losses accept: >= 0 and finite, or NaN (missing). static: each
// unit keeps its own copy, compiled with its own flags.
static inline bool weight_ok(float w) { return (w >= 0.0f && w <= 3.40282347e+38f) || w != w; }

// fl_weight_sums.
struct WeightArgs {
    int64_t n, c;
    const int32_t* labels;
    int32_t ignore_index;
    const float* class_weights;
    const float* sample_weights;
    int64_t sample_weight_stride;
    const float* element_weights;
};

// The softmax losses (the FL_LOSSES of family softmax). dispatch.cpp fills the fields below from
// the request; a new loss may read its own options from `options` instead.
struct SoftmaxArgs {
    int64_t n, c;
    const float* logits;
    const int32_t* labels;        // NULL: dense targets
    const float* targets;
    int32_t ignore_index;
    const float* class_weights;   // CE: class weights; focal: alpha
    const float* sample_weights;
    int64_t sample_weight_stride;
    float smoothing, z_loss, soft_cap, gamma;
    const float* upstream;
    double grad_factor;           // the request's gradient_scale / its denominator (fusedloss.h)
    float* grad;
    float* per_term;
    bool stream_grad;             // write the gradient with non-temporal stores
    bool read_ahead_nta;          // read the logits ahead with non-temporal prefetches (AMD)
    const fl_options* options;    // the request's options (fusedloss.h)
};

// The element-wise losses (the FL_LOSSES of family elementwise). dispatch.cpp fills the fields
// below from the request; a new loss may read its own options from `options` instead.
struct ElementwiseArgs {
    int64_t n, k;
    const float* x;
    const float* t;
    const float* pos_weight;            // BCE
    const float* binary_class_weights;  // BCE
    const float* sample_weights;
    int64_t sample_weight_stride;
    const float* element_weights;
    float alpha, gamma;                 // sigmoid focal
    const float* upstream;
    double grad_factor;                 // the request's gradient_scale / its denominator (fusedloss.h)
    float* grad;
    float* per_term;
    bool read_ahead;                    // ask for x and t ahead (flat rows; not on AMD, unmeasured there)
    const fl_options* options;          // the request's options (fusedloss.h)
};

using SoftmaxRowsFn = void (*)(const SoftmaxArgs&, int64_t row_begin, int64_t row_end,
                               float* scratch, BlockSum* out);
using ElementwiseRowsFn = void (*)(const ElementwiseArgs&, int64_t row_begin, int64_t row_end,
                                   BlockSum* out);
using WeightRowsFn = void (*)(const WeightArgs&, int64_t row_begin, int64_t row_end, BlockSum* out);

// One instruction set's kernels, indexed by fl_loss (dispatch.cpp builds one per ISA from
// FL_LOSSES): a softmax loss has its entry in `softmax`, an element-wise one in `elementwise`.
struct KernelTable {
    const char* name;
    SoftmaxRowsFn softmax[FL_LOSS_COUNT];
    ElementwiseRowsFn elementwise[FL_LOSS_COUNT];
    WeightRowsFn weight_sums;
};

}  // namespace fl

// The declarations of one ISA's kernels, from FL_LOSSES: <kernel>_rows with its family's
// arguments (a kernel that serves two losses, like cross_entropy, is declared twice: harmless).
#define FL_ROWS_softmax(kernel) \
    void kernel##_rows(const fl::SoftmaxArgs&, int64_t, int64_t, float*, fl::BlockSum*);
#define FL_ROWS_elementwise(kernel) \
    void kernel##_rows(const fl::ElementwiseArgs&, int64_t, int64_t, fl::BlockSum*);
#define FL_DECLARE_ROWS(name, kernel, family) FL_ROWS_##family(kernel)
#define FL_DECLARE_KERNELS(ns)                                                     \
    namespace ns {                                                                 \
    FL_LOSSES(FL_DECLARE_ROWS)                                                     \
    void weight_sums_rows(const fl::WeightArgs&, int64_t, int64_t, fl::BlockSum*); \
    }

FL_DECLARE_KERNELS(fl_scalar)
FL_DECLARE_KERNELS(fl_avx2)
FL_DECLARE_KERNELS(fl_avx512)
