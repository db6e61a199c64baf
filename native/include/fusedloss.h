/*
 * fusedloss.h: the whole ABI of the native CPU kernels, and the request the CUDA kernels take too.
 *
 * The functions are defined in docs/SEMANTICS.md; this header states what each field means at
 * this boundary. One call is one fl_request: the loss, the shape, the inputs and outputs, the
 * reduction, the gradient scale and the denominator, and the loss's own options, every field 8
 * bytes in the order below (Java writes it field by field: org.fusedloss.internal.AbiRequest).
 * The arguments (shapes, labels, weights) have been validated before the call, in Java or through
 * fl_weight_sums; the kernels re-check only what would make them touch memory they do not own,
 * and report it through the return code.
 *
 * Conventions shared by every loss:
 * - Matrices are row-major, rows by cols (classes or outputs), contiguous.
 * - Optional inputs are NULL when absent: labels or targets (the one the loss does not take),
 *   sample / element weights, upstream, and the option vectors (class weights, alpha, pos_weight).
 * - sample_weights[i * sample_weight_stride] is row i's sample weight (one column of an
 *   n x outputs matrix can be passed without copying). NaN marks a missing weight: that row
 *   (or element, for element weights) is masked: no loss, zero gradient, not counted.
 * - A row whose label is ignore_index is ignored the same way.
 * - gradient_scale is the caller's factor on the gradient; denominator is what MEAN and
 *   BATCH_MEAN divide by (>= 0: the caller's or Java's; negative: fl_compute makes the weight
 *   pass itself). NONE and SUM divide by 1. With grad_factor = gradient_scale / denominator (0 when
 *   the denominator is 0) the kernel writes
 *     gradient = grad_factor * upstream[term] * weight * d(term loss)/d(prediction),
 *   final in the single pass; gradient may alias the predictions (in place). The CUDA kernels
 *   (cuda/include/fusedloss_cuda.h) take the same three fields with the same meaning.
 * - upstream (NONE reduction only): one float per term (per row for the softmax losses, per
 *   element otherwise); NULL means all ones.
 * - per_term (any reduction): receives each term's weighted loss (0 for masked terms), not
 *   divided by the denominator.
 * - gradient NULL: no gradient is written.
 * - result[FL_R_LOSS_SUM] = sum over counted terms of the weighted loss, accumulated in double in
 *   fixed row blocks combined in a fixed order (bit-identical for any thread count); a weighted
 *   term beyond float range counts as +inf (terms are float32; the element-wise losses also form
 *   the unweighted term and derivative in float); result[FL_R_NONFINITE] = number of counted
 *   terms whose weighted loss is not finite (NaN / inf); FL_R_LOSS the reduced loss.
 * - Scalar options are doubles, as the caller gave them: the native and CUDA kernels round each
 *   to float once (a smoothing of 0.1 is used as 0.1f); the Java reference keeps them in double.
 * - A factor of 0 among a term's class weight, alpha, pos_weight, binary class weight or target
 *   drops that part of the term and of its gradient, even where the predictions are NaN or inf.
 *   A softmax row with no target mass and no z-loss left is 0 with a zero gradient. (A zero sample
 *   or element weight multiplies the term: times NaN or inf it is NaN.)
 * - grad_factor may be any finite double: it meets the weights in double where its float would not
 *   be a normal float, so the gradient neither overflows nor loses its bits there.
 * - Pointers need no alignment: a float may start at any byte (non-temporal stores are used only
 *   where the gradient is 4-byte aligned).
 * - Return 0 on success, a nonzero FL_ERR_* code otherwise; fl_last_error() then describes it.
 *
 * The per-term losses, with weights (p = softmax(z), s = sigmoid(x), lse = log sum_c exp z_c):
 * - FL_CROSS_ENTROPY, class indices, smoothing eps, class weights cw (1 if NULL),
 *   soft cap (z = cap * tanh(x / cap) if cap > 0, else z = x), z-loss coefficient zl:
 *     q_c   = (1 - eps) * cw[y] * [c == y] + (eps / C) * cw[c]      (target mass per class)
 *     term  = sw * ( sum_c q_c * (lse - z_c) + cw[y] * zl * lse^2 )
 *     dterm/dz_c = sw * ( (sum_k q_k + 2 * cw[y] * zl * lse) * p_c - q_c )
 *   i.e. the z-loss is weighted like the rest of the row: by the effective weight cw[y] * sw.
 * - FL_CROSS_ENTROPY_DENSE, dense targets, t~ = (1 - eps) * t + eps / C:
 *     q_c   = cw[c] * t~_c
 *     term  = sw * ( sum_c q_c * (lse - z_c) + zl * lse^2 )
 *     dterm/dz_c = sw * ( (sum_k q_k + 2 * zl * lse) * p_c - q_c )
 *   For both: dz/dx = 1 - (z / cap)^2 when capped. A class whose (capped) logit is -inf is a
 *   masked class (vocabulary padding): the smoothing mass eps / C on it is dropped (its q_c is
 *   (1 - eps) * cw * t_c or (1 - eps) * cw[y] * [c == y] only), so the loss stays finite unless
 *   the target itself sits on a -inf logit. Its gradient is 0, also then (the term is +inf, and
 *   the other classes' gradient counts that mass in sum_k q_k); the same for softmax focal.
 * - FL_BINARY_CROSS_ENTROPY, pos_weight pw (per column, 1 if NULL), binary class weights
 *   bcw = {w0, w1} picked by the hard 0/1 target (1 if NULL):
 *     term  = w * bcw[t] * ( pw * t * softplus(-x) + (1 - t) * softplus(x) )
 *     dterm/dx = w * bcw[t] * ( (1 - t) * s - pw * t * (1 - s) )
 *   with softplus(x) = max(x, 0) + log1p(exp(-|x|)) and w = sw[row] * ew[row, col].
 * - FL_MEAN_SQUARED_ERROR:  term = w * (x - t)^2,  dterm/dx = w * 2 * (x - t).
 * - FL_SIGMOID_FOCAL (torchvision sigmoid_focal_loss; no alpha factor when alpha < 0):
 *     p_t = s * t + (1 - s) * (1 - t),  m = 1 - p_t,  a_t = alpha * t + (1 - alpha) * (1 - t),
 *     ce  = softplus(x) - x * t,  term = w * a_t * m^gamma * ce
 *     dterm/dx = w * a_t * ( m^gamma * (s - t) - gamma * m^(gamma - 1) * s * (1 - s) * (2t - 1) * ce )
 *   (the second part is 0 when gamma == 0 or m == 0). A target outside [0, 1] (or NaN) gives a NaN
 *   term and derivative: (1 - p_t)^gamma has no real value there.
 * - FL_SOFTMAX_FOCAL, per-class alpha (1 if NULL), gamma; effective weight is sw alone:
 *     p = p_y,  lp = log p = z_y - lse,  m = 1 - p  (computed as -expm1(lp) for accuracy)
 *     term  = sw * alpha[y] * m^gamma * (-lp)
 *     dterm/dz_c = sw * F * (p_c - [c == y]),  F = alpha[y] * ( m^gamma - gamma * m^(gamma - 1) * p * lp )
 *   (the second part of F is 0 when gamma == 0 or m == 0).
 */
#ifndef FUSEDLOSS_H
#define FUSEDLOSS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The losses, in the order of their fl_loss values (Java's LossKind has the same order): the
 * value's name, the kernel that computes it (native/<kernel>.cpp, cuda/<kernel>.cu) and its
 * family (softmax: a term per row; elementwise: a term per element). This one list makes the
 * enum below, the kernels' declarations and the dispatch tables (native/kernels/kernels.h, dispatch.cpp). */
#define FL_LOSSES(X)                                           \
    X(CROSS_ENTROPY, cross_entropy, softmax)                   \
    X(CROSS_ENTROPY_DENSE, cross_entropy, softmax)             \
    X(SOFTMAX_FOCAL, softmax_focal, softmax)                   \
    X(BINARY_CROSS_ENTROPY, binary_cross_entropy, elementwise) \
    X(MEAN_SQUARED_ERROR, mean_squared_error, elementwise)     \
    X(SIGMOID_FOCAL, sigmoid_focal, elementwise)

typedef enum fl_loss {
#define FL_LOSS_VALUE(name, kernel, family) FL_##name,
    FL_LOSSES(FL_LOSS_VALUE)
#undef FL_LOSS_VALUE
    FL_LOSS_COUNT
} fl_loss;

/* Reductions (the order of Java's Reduction). */
enum { FL_NONE = 0, FL_SUM = 1, FL_MEAN = 2, FL_BATCH_MEAN = 3 };

/* Each loss's own options, one 8-byte field each (fields the loss lacks stay 0). */
typedef struct fl_cross_entropy_options {    /* FL_CROSS_ENTROPY, FL_CROSS_ENTROPY_DENSE */
    const float* class_weights;              /* cols floats, or NULL */
    double label_smoothing;                  /* eps in [0, 1] */
    double z_loss;                           /* 0: off */
    double soft_cap;                         /* 0: off */
} fl_cross_entropy_options;

typedef struct fl_softmax_focal_options {    /* FL_SOFTMAX_FOCAL */
    const float* alpha;                      /* cols floats, or NULL (1) */
    double gamma;
} fl_softmax_focal_options;

typedef struct fl_binary_cross_entropy_options {  /* FL_BINARY_CROSS_ENTROPY */
    const float* pos_weight;                 /* cols floats, or NULL (1) */
    const float* binary_class_weights;       /* {w0, w1}, or NULL */
} fl_binary_cross_entropy_options;

typedef struct fl_sigmoid_focal_options {    /* FL_SIGMOID_FOCAL */
    double alpha;                            /* < 0: no alpha factor */
    double gamma;
} fl_sigmoid_focal_options;

#define FL_OPTION_SLOTS 8
typedef union fl_options {
    fl_cross_entropy_options cross_entropy;
    fl_softmax_focal_options softmax_focal;
    fl_binary_cross_entropy_options binary_cross_entropy;
    fl_sigmoid_focal_options sigmoid_focal;
    int64_t slots[FL_OPTION_SLOTS];          /* the union's size; MSE has no options */
} fl_options;

/* One call. Every field is 8 bytes, in this order (24 fields, 192 bytes). */
typedef struct fl_request {
    int64_t loss;                  /* fl_loss */
    int64_t rows, cols;
    const float* predictions;      /* rows x cols logits (predictions for MSE) */
    const int32_t* labels;         /* rows class indices (losses with labels), else NULL */
    int64_t ignore_index;          /* the label of ignored rows */
    const float* targets;          /* rows x cols dense targets (losses without labels), else NULL */
    const float* sample_weights;   /* row i's at [i * sample_weight_stride], or NULL */
    int64_t sample_weight_stride;  /* >= 1 */
    const float* element_weights;  /* rows x cols (element-wise losses), or NULL */
    const float* upstream;         /* one per term (NONE), or NULL */
    float* gradient;               /* rows x cols, or NULL: no gradient */
    float* per_term;               /* one per term, or NULL */
    int64_t reduction;             /* FL_NONE, FL_SUM, FL_MEAN, FL_BATCH_MEAN */
    double gradient_scale;         /* the caller's factor on the gradient */
    double denominator;            /* MEAN / BATCH_MEAN: >= 0 given, < 0 computed here */
    fl_options options;
} fl_request;

/* result[FL_RESULT_DOUBLES] of a call (the CUDA kernels write the same layout, FLC_R_*). */
enum {
    FL_R_LOSS = 0,          /* the reduced loss: the sum for NONE / SUM, sum / denominator for the means */
    FL_R_LOSS_SUM = 1,      /* sum of the weighted terms of the counted terms */
    FL_R_DENOMINATOR = 2,   /* what the sum was divided by (1 for NONE and SUM) */
    FL_R_COUNTED = 3,       /* counted terms (fl_weight_sums, or fl_compute when it made the pass; else -1) */
    FL_R_MASKED = 4,        /* terms masked by a NaN weight (likewise) */
    FL_R_NONFINITE = 5,     /* counted terms whose weighted loss is NaN or infinite */
    FL_R_GRAD_FACTOR = 9,   /* gradient_scale / denominator, 0 when the denominator is 0 */
    FL_R_WEIGHT_SUM = 10,   /* sum of the effective weights of the counted terms (likewise) */
    FL_RESULT_DOUBLES = 16
};

enum {
    FL_OK = 0,
    FL_ERR_ARGUMENT = 1,   /* an argument the kernel cannot work with (NULL, negative size, bad weight) */
    FL_ERR_LABEL = 2,      /* a label outside [0, C) that is not ignore_index */
    FL_ERR_INTERNAL = 3    /* out of memory, a thread that could not start */
};

/* Computes one request: the loss and (gradient != NULL) its gradient in one pass. A negative
 * denominator of MEAN / BATCH_MEAN makes it run fl_weight_sums first. When the denominator is 0
 * the loss and the gradient are 0 (and per_term 0); where gradient_scale / denominator overflows
 * a double it returns FL_ERR_ARGUMENT, nothing written. result: FL_RESULT_DOUBLES doubles. */
int fl_compute(const fl_request* request, double* result);

/* The pass Java makes over labels and weights before every loss call, for the denominator:
 * checks them and sums the effective weights, in fixed blocks combined in a fixed order. It reads
 * loss, rows, cols, labels, ignore_index, sample and element weights, reduction, denominator and
 * the class weights of FL_CROSS_ENTROPY (the only loss whose MEAN weighs rows by class). A term
 * counts unless its label is ignore_index or its sample (or element) weight is NaN; its weight is
 * class_weights[label] * sw (FL_CROSS_ENTROPY), sw * ew (element weights), else sw (a factor that
 * is absent counts as 1). result[FL_R_WEIGHT_SUM], [FL_R_COUNTED], [FL_R_MASKED], and
 * [FL_R_DENOMINATOR] (the request's, or the weight sum / count its reduction divides by).
 * Returns FL_ERR_LABEL for a label outside [0, c) that is not ignore_index, FL_ERR_ARGUMENT for a
 * negative or infinite weight. */
int fl_weight_sums(const fl_request* request, double* result);

/* The losses by value: "cross_entropy", ... (the kernel names of FL_LOSSES), NULL outside
 * [0, FL_LOSS_COUNT). And where each request field lies (offsetof; -1 for an unknown name):
 * Java checks its writer against both. */
const char* fl_loss_name(int loss);
int64_t fl_request_offset(const char* field);

/* Instruction sets, best first (fl_isa_name(0) .. fl_isa_name(fl_isa_count() - 1): "avx512",
 * "avx2", "scalar"). The best one the CPU supports is chosen once, at the first call, unless
 * fl_set_isa chose another. The library reads no environment variable: its caller applies the
 * settings (README, "Settings"). */
int fl_isa_count(void);
const char* fl_isa_name(int index);       /* NULL outside [0, fl_isa_count()) */
const char* fl_isa(void);                 /* the one in use */
int fl_isa_supported(const char* name);   /* 1 if this CPU can run it, 0 if not, -1 if unknown */
int fl_set_isa(const char* name);         /* 0, or FL_ERR_ARGUMENT (unknown or unsupported) */

/* Worker threads over rows, started as calls need them (never more than a call's row blocks) and
 * stopped only by fl_set_threads. Default: the number of online cores; the Java side sets the
 * JVM's count (affinity, quotas). */
int fl_threads(void);
int fl_set_threads(int threads);          /* 0, or FL_ERR_ARGUMENT outside [1, 1024] */

const char* fl_version(void);
const char* fl_last_error(void);          /* message of the calling thread's last failure */

#ifdef __cplusplus
}
#endif

#endif /* FUSEDLOSS_H */
