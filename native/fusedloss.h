/*
 * fusedloss.h: the whole ABI between Java (bound through JavaCPP) and the native CPU kernels.
 *
 * The functions are defined in ../../shared/SEMANTICS.md (copied into docs/SEMANTICS.md); this
 * header states what each argument means at this boundary. Every argument (shapes, labels,
 * weights) has been validated before a loss call, in Java or through fl_weight_sums; the kernels
 * re-check only what would make them touch memory they do not own, and report it through the
 * return code.
 *
 * Conventions shared by every loss function:
 * - Matrices are row-major, n rows by c columns (classes or outputs), contiguous.
 * - Optional inputs are NULL when absent: class / pos / element / sample weights, upstream.
 * - sample_weights[i * sample_weight_stride] is row i's sample weight (one column of an
 *   n x outputs matrix can be passed without copying). NaN marks a missing weight: that row
 *   (or element, for element weights) is masked: no loss, zero gradient, not counted.
 * - A row whose label is ignore_index is ignored the same way.
 * - grad_scale already folds together the caller's gradient scale and 1 / denominator, so the
 *   kernel writes  grad = grad_scale * upstream[term] * weight * d(term loss)/d(prediction).
 *   The denominator is computed before the call (in Java, by fl_weight_sums, or on the GPU), so
 *   the gradient is final in the single pass; grad may alias the predictions (in-place).
 * - upstream (NONE reduction only): one float per term (per row for the softmax losses, per
 *   element otherwise); NULL means all ones.
 * - per_term (NONE reduction only): receives each term's weighted loss (0 for masked terms).
 * - grad NULL: no gradient is written.
 * - result[0] = sum over counted terms of the weighted loss, accumulated in double in fixed row
 *   blocks combined in a fixed order (bit-identical for any thread count); a weighted term beyond
 *   float range counts as +inf (terms are float32; the element-wise losses also form the
 *   unweighted term and derivative in float);
 *   result[1] = number of counted terms whose weighted loss is not finite (NaN / inf).
 * - A factor of 0 among a term's class weight, alpha, pos_weight, binary class weight or target
 *   drops that part of the term and of its gradient, even where the predictions are NaN or inf.
 *   A softmax row with no target mass and no z-loss left is 0 with a zero gradient. (A zero sample
 *   or element weight multiplies the term: times NaN or inf it is NaN.)
 * - grad_scale may be any finite double: it meets the weights in double where its float would not
 *   be a normal float, so the gradient neither overflows nor loses its bits there.
 * - Pointers need no alignment: a float may start at any byte (non-temporal stores are used only
 *   where the gradient is 4-byte aligned).
 * - Return 0 on success, a nonzero FL_ERR_* code otherwise; fl_last_error() then describes it.
 *
 * The per-term losses, with weights (p = softmax(z), s = sigmoid(x), lse = log sum_c exp z_c):
 * - fl_cross_entropy, class indices (labels != NULL), smoothing eps, class weights cw (1 if NULL),
 *   soft cap (z = cap * tanh(x / cap) if cap > 0, else z = x), z-loss coefficient zl:
 *     q_c   = (1 - eps) * cw[y] * [c == y] + (eps / C) * cw[c]      (target mass per class)
 *     term  = sw * ( sum_c q_c * (lse - z_c) + cw[y] * zl * lse^2 )
 *     dterm/dz_c = sw * ( (sum_k q_k + 2 * cw[y] * zl * lse) * p_c - q_c )
 *   i.e. the z-loss is weighted like the rest of the row: by the effective weight cw[y] * sw.
 * - fl_cross_entropy, dense targets (targets != NULL, labels == NULL), t~ = (1 - eps) * t + eps / C:
 *     q_c   = cw[c] * t~_c
 *     term  = sw * ( sum_c q_c * (lse - z_c) + zl * lse^2 )
 *     dterm/dz_c = sw * ( (sum_k q_k + 2 * zl * lse) * p_c - q_c )
 *   For both: dz/dx = 1 - (z / cap)^2 when capped. A class whose (capped) logit is -inf is a
 *   masked class (vocabulary padding): the smoothing mass eps / C on it is dropped (its q_c is
 *   (1 - eps) * cw * t_c or (1 - eps) * cw[y] * [c == y] only), so the loss stays finite unless
 *   the target itself sits on a -inf logit. Its gradient is 0, also then (the term is +inf, and
 *   the other classes' gradient counts that mass in sum_k q_k); the same for softmax focal.
 * - fl_binary_cross_entropy, pos_weight pw (per column, 1 if NULL), binary class weights
 *   bcw = {w0, w1} picked by the hard 0/1 target (1 if NULL):
 *     term  = w * bcw[t] * ( pw * t * softplus(-x) + (1 - t) * softplus(x) )
 *     dterm/dx = w * bcw[t] * ( (1 - t) * s - pw * t * (1 - s) )
 *   with softplus(x) = max(x, 0) + log1p(exp(-|x|)) and w = sw[row] * ew[row, col].
 * - fl_mean_squared_error:  term = w * (x - t)^2,  dterm/dx = w * 2 * (x - t).
 * - fl_sigmoid_focal (torchvision sigmoid_focal_loss; no alpha factor when alpha < 0):
 *     p_t = s * t + (1 - s) * (1 - t),  m = 1 - p_t,  a_t = alpha * t + (1 - alpha) * (1 - t),
 *     ce  = softplus(x) - x * t,  term = w * a_t * m^gamma * ce
 *     dterm/dx = w * a_t * ( m^gamma * (s - t) - gamma * m^(gamma - 1) * s * (1 - s) * (2t - 1) * ce )
 *   (the second part is 0 when gamma == 0 or m == 0). A target outside [0, 1] (or NaN) gives a NaN
 *   term and derivative: (1 - p_t)^gamma has no real value there.
 * - fl_softmax_focal, per-class alpha (1 if NULL), gamma; effective weight is sw alone:
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

enum {
    FL_OK = 0,
    FL_ERR_ARGUMENT = 1,   /* an argument the kernel cannot work with (NULL, negative size) */
    FL_ERR_LABEL = 2,      /* a label outside [0, C) that is not ignore_index */
    FL_ERR_INTERNAL = 3    /* out of memory, a thread that could not start */
};

int fl_cross_entropy(int64_t n, int64_t c, const float* logits,
                     const int32_t* labels, const float* targets, int32_t ignore_index,
                     const float* class_weights,
                     const float* sample_weights, int64_t sample_weight_stride,
                     float label_smoothing, float z_loss, float soft_cap,
                     const float* upstream, double grad_scale,
                     float* grad, float* per_term, double* result);

int fl_softmax_focal(int64_t n, int64_t c, const float* logits,
                     const int32_t* labels, int32_t ignore_index,
                     const float* alpha, float gamma,
                     const float* sample_weights, int64_t sample_weight_stride,
                     const float* upstream, double grad_scale,
                     float* grad, float* per_term, double* result);

int fl_binary_cross_entropy(int64_t n, int64_t k, const float* logits, const float* targets,
                            const float* pos_weight, const float* binary_class_weights,
                            const float* sample_weights, int64_t sample_weight_stride,
                            const float* element_weights,
                            const float* upstream, double grad_scale,
                            float* grad, float* per_term, double* result);

int fl_mean_squared_error(int64_t n, int64_t k, const float* predictions, const float* targets,
                          const float* sample_weights, int64_t sample_weight_stride,
                          const float* element_weights,
                          const float* upstream, double grad_scale,
                          float* grad, float* per_term, double* result);

int fl_sigmoid_focal(int64_t n, int64_t k, const float* logits, const float* targets,
                     float alpha, float gamma,
                     const float* sample_weights, int64_t sample_weight_stride,
                     const float* element_weights,
                     const float* upstream, double grad_scale,
                     float* grad, float* per_term, double* result);

/* The pass Java makes over labels and weights before every loss call, for the denominator:
 * checks them and sums the effective weights, in fixed blocks combined in a fixed order.
 * - element_weights NULL: one term per row. Row i counts unless labels[i] == ignore_index
 *   (labels NULL: no labels) or its sample weight is NaN; its weight is
 *   class_weights[labels[i]] * sw[i] (a factor that is NULL counts as 1).
 * - element_weights != NULL (labels must be NULL): n x c terms, weight sw[i] * ew[i, j]; a term
 *   is masked when either is NaN.
 * result[0] = sum of the weights of the counted terms, result[1] = counted terms,
 * result[2] = masked terms (NaN weight). Returns FL_ERR_LABEL for a label outside [0, c) that is
 * not ignore_index, FL_ERR_ARGUMENT for a negative or infinite weight. */
int fl_weight_sums(int64_t n, int64_t c, const int32_t* labels, int32_t ignore_index,
                   const float* class_weights, const float* sample_weights,
                   int64_t sample_weight_stride, const float* element_weights, double* result);

/* Instruction sets, best first: "avx512", "avx2", "scalar". The best one the CPU supports is
 * chosen once, at the first call, unless fl_set_isa chose another. The library reads no
 * environment variable: its caller applies the settings (README, "Settings"). */
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
