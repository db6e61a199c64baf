// Softmax cross-entropy: class indices or dense targets, class / sample weights, label smoothing,
// z-loss, logit soft-capping. Formulas: fusedloss.h. Compiled once per ISA.
#include "softmax_row.h"

namespace FL_NS {

namespace {

template <Extra X, bool Capped>
void cross_entropy_impl(const fl::SoftmaxArgs& a, int64_t row_begin, int64_t row_end,
                        float* scratch, fl::BlockSum* out) {
    const int64_t c = a.c;
    const double eps = a.smoothing, eps_c = eps / (double)c, zl = a.z_loss;
    RowInput in;
    in.c = c;
    in.cw = a.class_weights;
    in.eps = a.smoothing;
    in.cap = a.soft_cap;
    in.buf = scratch;
    in.refs = scratch + (c + 15) / 16 * 16;
    in.keep = a.grad != nullptr;
    in.t = nullptr;
    double total = 0.0;
    int64_t nonfinite = 0;
    for (int64_t i = row_begin; i < row_end; ++i) {
        float* g = a.grad ? a.grad + i * c : nullptr;
        float* per_term = a.per_term ? a.per_term + i : nullptr;
        const int32_t y = a.labels ? a.labels[i] : -1;
        const float sw = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
        if ((a.labels && y == a.ignore_index) || sw != sw) {
            masked_row(g, c, per_term);
            continue;
        }
        in.x = a.logits + i * c;
        if (a.targets && !a.labels) in.t = a.targets + i * c;
        in.label = y;
        const RowStats st = softmax_pass1<X, Capped>(in);

        const double M = st.max, log_s = ::log(st.sum), lse = M + log_s;
        const double cwy = a.labels && a.class_weights ? a.class_weights[y] : 1.0;
        double loss, q_sum;  // sum_c q_c (lse - z_c) and sum_c q_c
        double nll = 0.0;    // lse - z_y (class indices)
        if (a.labels) {
            nll = (M - st.z_label) + log_s;
            if (X == Extra::smoothing) {
                loss = (1.0 - eps) * cwy * nll + eps_c * (st.weight * log_s + st.gap);
                q_sum = (1.0 - eps) * cwy + eps_c * st.weight;
            } else {
                loss = cwy * nll;
                q_sum = cwy;
            }
        } else {
            // all targets 0 on an all -inf row: an empty sum, not 0 * -inf
            loss = (st.weight == 0.0 && log_s == -INFINITY ? 0.0 : st.weight * log_s) + st.gap;
            q_sum = st.weight;
        }
        // z-loss, weighted by cw[y] for class indices (1 for dense targets)
        double z_term = 0.0, z_grad = 0.0;
        if (zl != 0.0) {
            z_term = cwy * zl * lse * lse;
            z_grad = 2.0 * cwy * zl * lse;
        }
        const double term = sw * (loss + z_term);
        if (per_term) *per_term = (float)term;
        total += term;
        if (!isfinite(term)) ++nonfinite;
        if (!g) continue;

        const double coef = a.grad_scale * (a.upstream ? (double)a.upstream[i] : 1.0);
        const double big_g = sw * (q_sum + z_grad);  // multiplies p_c
        const double coef_p = coef * big_g / st.sum;
        const double coef_q = X == Extra::smoothing ? coef * sw * eps_c : coef * sw;
        softmax_pass2<X, Capped>(in, st, coef_p, (float)coef_q, g, a.stream_grad);
        if (a.labels) {
            // The label's element, with its [c == y] share, from m = 1 - p_y:
            // G p_y - q_y = (G - q_y) - G m.
            double gy = 0.0;  // a label on a -inf (masked) logit gets 0, as any masked class
            if (st.z_label != -INFINITY) {
                const double m = one_minus_p_label(st, nll);
                const double q_y = sw * ((1.0 - eps) * cwy + (X == Extra::smoothing ? eps_c * cwy : 0.0));
                gy = coef * ((big_g - q_y) - big_g * m);
                if (Capped) {
                    const double zc = (double)st.z_label / a.soft_cap;
                    gy *= 1.0 - zc * zc;
                }
            }
            g[y] = (float)gy;
        }
    }
    if (a.grad && a.stream_grad) stream_fence();
    out->sum = total;
    out->nonfinite = nonfinite;
}

template <Extra X>
void cross_entropy_cap(const fl::SoftmaxArgs& a, int64_t r0, int64_t r1, float* scratch,
                       fl::BlockSum* out) {
    if (a.soft_cap > 0.0f)
        cross_entropy_impl<X, true>(a, r0, r1, scratch, out);
    else
        cross_entropy_impl<X, false>(a, r0, r1, scratch, out);
}

}  // namespace

void cross_entropy_rows(const fl::SoftmaxArgs& a, int64_t r0, int64_t r1, float* scratch,
                        fl::BlockSum* out) {
    if (!a.labels)
        cross_entropy_cap<Extra::dense>(a, r0, r1, scratch, out);
    else if (a.smoothing != 0.0f)
        cross_entropy_cap<Extra::smoothing>(a, r0, r1, scratch, out);
    else
        cross_entropy_cap<Extra::none>(a, r0, r1, scratch, out);
}

}  // namespace FL_NS
