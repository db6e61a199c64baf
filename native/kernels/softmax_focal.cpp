// Softmax focal loss: class indices, per-class alpha inside the term, gamma, sample weights.
// Formulas: fusedloss.h. Compiled once per ISA.
#include "softmax_row.h"

namespace FL_NS {

namespace {
// Row by row: any gamma, any C.
void softmax_focal_general(const fl::SoftmaxArgs& a, int64_t row_begin, int64_t row_end,
                           float* scratch, fl::BlockSum* out) {
    const int64_t c = a.c;
    const double gamma = a.gamma;
    RowInput in;
    in.c = c;
    in.cw = nullptr;
    in.t = nullptr;
    in.eps = 0.0f;
    in.cap = 0.0f;
    in.buf = scratch;
    in.refs = scratch + (c + 15) / 16 * 16;
    in.keep = a.grad != nullptr;
    in.read_ahead_nta = a.read_ahead_nta;
    double total = 0.0;
    int64_t nonfinite = 0;
    // Long rows, as cross-entropy's (GradWriter): a row's gradient is written during the next
    // row's pass 1, so the row's chunk factors and the next row's references use the two arrays
    // of the scratch in turn; the label's element is written after the rest of its row.
    const bool interleave = a.grad && c >= fl::kLongRow;
    float* other_refs = in.refs + fl::softmax_chunks(c);
    GradWriter<Extra::none, false> pending;
    float* pending_label = nullptr;
    float pending_label_value = 0.0f;
    auto lead = [&](int64_t column) FL_INLINE_LAMBDA { pending.run_to(column); };
    auto finish_pending = [&] {
        if (!pending.g) return;
        pending.run_to(c);
        *pending_label = pending_label_value;
        pending = GradWriter<Extra::none, false>();
    };
    // Rows of one chunk keep their e in the gradient row (e_in_gradient, softmax_row.h).
    const bool in_grad = e_in_gradient(a, interleave);
    for (int64_t i = row_begin; i < row_end; ++i) {
        float* g = a.grad ? a.grad + i * c : nullptr;
        float* per_term = a.per_term ? a.per_term + i : nullptr;
        const int32_t y = a.labels[i];
        const float sw = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
        if (y == a.ignore_index || sw != sw) {
            finish_pending();
            masked_row(g, c, per_term);
            continue;
        }
        in.x = a.logits + i * c;
        in.label = y;
        if (in_grad) in.buf = g;
        const RowStats st = interleave ? softmax_pass1<Extra::none, false>(in, lead) : softmax_pass1<Extra::none, false>(in);
        finish_pending();

        const double nll = ((double)st.max - st.z_label) + row_log_sum(st);  // -log p_y
        const double lp = -nll, m = one_minus_p_label(st, nll);
        const double p = st.others >= 0.0 ? 1.0 / st.sum : ::exp(lp);
        const double alpha = a.class_weights ? a.class_weights[y] : 1.0;
        const double m_g = gamma == 0.0 ? 1.0 : gamma == 2.0 ? m * m : ::pow(m, gamma);
        const double term = alpha == 0.0 ? 0.0 : as_float_term(sw * alpha * m_g * nll);  // as CE: 0, not 0 * inf
        if (per_term) *per_term = (float)term;
        total += term;
        if (!isfinite(term)) ++nonfinite;
        if (!g) continue;
        if (alpha == 0.0) {  // the row is dropped, its gradient too, even for non-finite logits
            masked_row(g, c, nullptr);
            continue;
        }

        // F = alpha (m^g - g m^(g-1) p lp); the second part is 0 when gamma == 0 or m == 0,
        // and p lp -> 0 as p -> 0.
        double second = 0.0;
        if (gamma != 0.0 && m != 0.0 && p != 0.0)
            second = gamma * (gamma == 2.0 ? m : ::pow(m, gamma - 1.0)) * p * lp;
        const double f = alpha * (m_g - second);
        const double coef = a.grad_factor * (a.upstream ? (double)a.upstream[i] : 1.0) * sw * f;
        const float g_label = st.z_label == -INFINITY ? 0.0f : (float)(-coef * m);  // coef * (p_y - 1)
        if (interleave) {  // written during the next row's pass 1, or below
            pending = GradWriter<Extra::none, false>(in, st, coef / st.sum, 0.0, g, a.stream_grad);
            pending_label = g + y;
            pending_label_value = g_label;
            float* const refs = in.refs;
            in.refs = other_refs;
            other_refs = refs;
            continue;
        }
        softmax_pass2<Extra::none, false>(in, st, coef / st.sum, 0.0f, g, a.stream_grad);
        g[y] = g_label;
    }
    finish_pending();
    if (a.grad && a.stream_grad) stream_fence();
    out->sum = total;
    out->nonfinite = nonfinite;
}
}  // namespace

void softmax_focal_rows(const fl::SoftmaxArgs& a, int64_t row_begin, int64_t row_end,
                        float* scratch, fl::BlockSum* out) {
    // Short rows with an integral gamma up to 4 (m^g by multiplication: a float pow would lose
    // g |log m| ulps): the rows across the lanes (softmax_row.h, SmallRows).
    const bool integral = a.gamma >= 0.0f && a.gamma <= 4.0f && a.gamma == (float)(int)a.gamma;
    if (kLanes > 1 && a.c <= fl::kSmallRowMax && integral) {
        auto general = [&](int64_t r0, int64_t r1, float* s, fl::BlockSum* o) {
            softmax_focal_general(a, r0, r1, s, o);
        };
        small_rows(a, a.gamma, true, general, row_begin, row_end, scratch, out);
    } else {
        softmax_focal_general(a, row_begin, row_end, scratch, out);
    }
}

}  // namespace FL_NS
