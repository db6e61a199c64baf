// Softmax cross-entropy: class indices or dense targets, class / sample weights, label smoothing,
// z-loss, logit soft-capping. Formulas: fusedloss.h. Compiled once per ISA.
#include "softmax_row.h"

namespace FL_NS {

namespace {

// Rows are taken in small groups, one phase at a time (pass 1 of each, the row math, pass 2 of
// each), so that the latency chains of short rows overlap; the row sums are still added in row
// order.
template <Extra X, bool Capped>
void cross_entropy_impl(const fl::SoftmaxArgs& a, int64_t row_begin, int64_t row_end,
                        float* scratch, fl::BlockSum* out) {
    const int64_t c = a.c;
    const int group = fl::softmax_group(c);
    const size_t row_scratch = fl::softmax_scratch_floats(c);
    const double eps = a.smoothing, eps_c = eps / (double)c, zl = a.z_loss;
    double total = 0.0;
    int64_t nonfinite = 0;
    RowInput in[fl::kSoftmaxGroupMax];
    RowStats st[fl::kSoftmaxGroupMax];
    for (int r = 0; r < group; ++r) {
        in[r].c = c;
        in[r].cw = a.class_weights;
        in[r].eps = a.smoothing;
        in[r].cap = a.soft_cap;
        in[r].buf = scratch + r * row_scratch;
        in[r].refs = in[r].buf + (c + 15) / 16 * 16;
        in[r].keep = a.grad != nullptr;
        in[r].t = nullptr;
    }
    // Long rows with a single sweep (see GradWriter): a row's gradient is written during the next
    // row's pass 1, so the row's chunk factors and the next row's references use the two arrays
    // of the scratch in turn.
    constexpr bool kSingle = X == Extra::none && !Capped;
    const bool interleave = kSingle && a.grad && group == 1 && c >= fl::kLongRow;
    float* other_refs = in[0].refs + fl::softmax_chunks(c);
    GradWriter<X, Capped> pending;  // the previous row's gradient, written as the next row is read
    double pending_g_label = 0.0;   // and its label's element
    auto lead = [&](int64_t column) FL_INLINE_LAMBDA { pending.run_to(column); };
    auto finish_pending = [&] {
        if (!pending.g) return;
        pending.run_to(c);
        if (a.labels) pending.g[pending.in.label] = (float)pending_g_label;
        pending = GradWriter<X, Capped>();
    };
    for (int64_t i0 = row_begin; i0 < row_end; i0 += group) {
        const int rows = (int)min64(group, row_end - i0);
        bool live[fl::kSoftmaxGroupMax], dropped[fl::kSoftmaxGroupMax] = {};
        double coef_p[fl::kSoftmaxGroupMax], coef_q[fl::kSoftmaxGroupMax], g_label[fl::kSoftmaxGroupMax];
        // Phase 1: masks and pass 1.
        for (int r = 0; r < rows; ++r) {
            const int64_t i = i0 + r;
            const int32_t y = a.labels ? a.labels[i] : -1;
            const float sw = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
            live[r] = !((a.labels && y == a.ignore_index) || sw != sw);
            if (!live[r]) continue;
            in[r].x = a.logits + i * c;
            if (a.targets && !a.labels) in[r].t = a.targets + i * c;
            in[r].label = y;
            if (interleave)
                st[r] = softmax_pass1<X, Capped>(in[r], lead);
            else
                st[r] = softmax_pass1<X, Capped>(in[r]);
        }
        finish_pending();
        // Phase 2: the row's loss and gradient coefficients, in row order.
        for (int r = 0; r < rows; ++r) {
            const int64_t i = i0 + r;
            float* per_term = a.per_term ? a.per_term + i : nullptr;
            if (!live[r]) {
                if (per_term) *per_term = 0.0f;
                continue;
            }
            const int32_t y = (int32_t)in[r].label;
            const double sw = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
            const RowStats& s = st[r];
            const double M = s.max, log_s = row_log_sum(s), lse = M + log_s;
            const double cwy = a.labels && a.class_weights ? a.class_weights[y] : 1.0;
            double loss, q_sum;  // sum_c q_c (lse - z_c) and sum_c q_c
            double nll = 0.0;    // lse - z_y (class indices)
            if (a.labels) {
                nll = (M - s.z_label) + log_s;
                // A class with no target mass adds nothing, even where its log-probability is
                // not finite (a zero class weight, a masked class): 0, not 0 * inf.
                const double label_q = (1.0 - eps) * cwy;
                const double label_loss = label_q == 0.0 ? 0.0 : label_q * nll;
                if (X == Extra::smoothing) {
                    loss = label_loss + eps_c * (s.weight == 0.0 ? 0.0 : s.weight * log_s + s.gap);
                    q_sum = label_q + eps_c * s.weight;
                } else {
                    loss = label_loss;
                    q_sum = cwy;
                }
            } else {
                // no target mass at all (e.g. all targets 0): an empty sum, not 0 * inf
                loss = s.weight == 0.0 ? 0.0 : s.weight * log_s + s.gap;
                q_sum = s.weight;
            }
            // z-loss, weighted by cw[y] for class indices (1 for dense targets)
            double z_term = 0.0, z_grad = 0.0;
            if (zl != 0.0 && cwy != 0.0) {  // weighted by cw[y]: nothing for a zero weight
                z_term = cwy * zl * lse * lse;
                z_grad = 2.0 * cwy * zl * lse;
            }
            const double term = as_float_term(sw * (loss + z_term));
            if (per_term) *per_term = (float)term;
            total += term;
            if (!isfinite(term)) ++nonfinite;
            // No target mass and no z-loss: every part of the row is dropped, and so is its
            // gradient, even where the logits are not finite (not 0 * NaN).
            dropped[r] = q_sum == 0.0 && z_grad == 0.0;
            if (!a.grad) continue;

            const double coef = a.grad_scale * (a.upstream ? (double)a.upstream[i] : 1.0);
            const double big_g = sw * (q_sum + z_grad);  // multiplies p_c
            if (X == Extra::dense && c == 1 && s.sum == 1.0) {
                // One class: p = 1 and q = Q, so G p - q is the z-loss part alone. Taken apart, it
                // does not drown in the float rounding of G p and q (which cancel exactly).
                coef_p[r] = coef * sw * z_grad;
                coef_q[r] = 0.0;
            } else {
                coef_p[r] = coef * big_g / s.sum;
                coef_q[r] = X == Extra::smoothing ? coef * sw * eps_c : coef * sw;
            }
            if (a.labels) {
                // The label's element, with its [c == y] share, from m = 1 - p_y:
                // G p_y - q_y = (G - q_y) - G m.
                double gy = 0.0;  // a label on a -inf (masked) logit gets 0, as any masked class
                if (s.z_label != -INFINITY) {
                    const double m = one_minus_p_label(s, nll);
                    const double q_y = sw * ((1.0 - eps) * cwy + (X == Extra::smoothing ? eps_c * cwy : 0.0));
                    gy = coef * ((big_g - q_y) - big_g * m);
                    if (Capped) {
                        const double zc = (double)s.z_label / a.soft_cap;
                        gy *= 1.0 - zc * zc;
                    }
                }
                g_label[r] = gy;
            }
        }
        if (!a.grad) continue;
        // Phase 3: pass 2 writes the gradient rows.
        for (int r = 0; r < rows; ++r) {
            float* g = a.grad + (i0 + r) * c;
            if (!live[r] || dropped[r]) {
                masked_row(g, c, nullptr);
                continue;
            }
            if (interleave) {  // written during the next row's pass 1, or below
                pending = GradWriter<X, Capped>(in[r], st[r], coef_p[r], coef_q[r], g, a.stream_grad);
                pending_g_label = g_label[r];
                float* const refs = in[r].refs;
                in[r].refs = other_refs;
                other_refs = refs;
                continue;
            }
            softmax_pass2<X, Capped>(in[r], st[r], coef_p[r], coef_q[r], g, a.stream_grad);
            if (a.labels) g[in[r].label] = (float)g_label[r];
        }
    }
    finish_pending();
    if (a.grad && a.stream_grad) stream_fence();
    out->sum = total;
    out->nonfinite = nonfinite;
}

// Short rows (c <= kSmallRowMax) with class indices and no smoothing, cap or z-loss, kLanes rows
// per batch: the per-row overhead, not the elements, is what costs here. Each row's
// e = exp(z - z_y) (the label's logit as reference, as the general single sweep) goes to the
// scratch batch laid out like the gradient, rows back to back. Then the row math runs once per
// batch with row r in lane r (one log1p for kLanes rows), and the gradient is written as whole
// vectors over the batch: g = e * k_row, the label's e replaced by -(sum of the others), so
// g_y = -k * others = -coef * sw * cw[y] * (1 - p_y) without cancellation. A batch with a row
// the single sweep cannot take (a logit more than 64 above the label's, or inf / NaN) goes
// through the general path, row by row.
void cross_entropy_small(const fl::SoftmaxArgs& a, int64_t row_begin, int64_t row_end,
                         float* scratch, fl::BlockSum* out) {
    constexpr float kMaxAbove = 64.0f;  // as the general single sweep
    const int64_t c = a.c;
    const int nv = (int)((c + kLanes - 1) / kLanes);  // vectors per row
    int32_t row_of[fl::kSmallRowMax * kLanes];  // flat lane of the batch -> its row
    for (int64_t l = 0; l < c * kLanes; ++l) row_of[l] = (int32_t)(l / c);
    float column[fl::kSmallRowMax + kLanes];    // lane -> column, per vector of a row
    for (int l = 0; l < fl::kSmallRowMax + kLanes; ++l) column[l] = (float)l;
    const vf neg_inf = set1(-INFINITY);
    double total = 0.0;
    int64_t nonfinite = 0;
    bool streamed = false;
    for (int64_t i0 = row_begin; i0 < row_end; i0 += kLanes) {
        const int rows = (int)min64(kLanes, row_end - i0);
        float w[kLanes], sw[kLanes], cwy[kLanes];  // w = coef * sw * cw[y], 0 for a masked row
        int32_t label[kLanes];
        bool live[kLanes];
        vf others[kLanes];
        vmask ok = all_lanes();
        for (int r = 0; r < kLanes; ++r) {
            float* e = scratch + r * c;
            others[r] = zero();
            w[r] = 0.0f;
            live[r] = false;
            if (r >= rows) continue;
            const int64_t i = i0 + r;
            const int32_t y = a.labels[i];
            sw[r] = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
            label[r] = y;
            live[r] = !(y == a.ignore_index || sw[r] != sw[r]);
            if (!live[r]) {
                for (int v = 0; v < nv; ++v) store(e + v * kLanes, zero());
                continue;
            }
            cwy[r] = a.class_weights ? a.class_weights[y] : 1.0f;
            const double coef = a.grad_scale * (a.upstream ? (double)a.upstream[i] : 1.0);
            const double wd = coef * sw[r] * cwy[r];
            w[r] = (float)wd;
            if (!fits_float(wd)) ok = mask_andnot(all_lanes(), all_lanes());  // the general path keeps it in double
            const float* x = a.logits + i * c;
            const vf zy = set1(x[y]), vy = set1((float)y);
            // a whole-vector load past the row end stays inside this block's rows (their lanes
            // are dropped); at the block's end, a masked load
            const bool over_read = i * c + nv * kLanes <= row_end * c;
            vf sum = zero();
            for (int v = 0; v < nv; ++v) {
                const int n = (int)min64(kLanes, c - v * kLanes);
                vf z;
                if (n == kLanes)
                    z = load(x + v * kLanes);
                else if (over_read)
                    z = select(first_n(n), load(x + v * kLanes), neg_inf);
                else
                    z = load_partial(x + v * kLanes, n, neg_inf);
                const vf d = sub(z, zy);
                ok = mask_and(ok, le(d, set1(kMaxAbove)));  // false for NaN
                // the label's own e (exactly 1) is kept apart from the sum of the others
                const vf ev = select(eq(load(column + v * kLanes), vy), zero(), exp_softmax(d));
                store(e + v * kLanes, ev);  // the next row's store overwrites the tail lanes
                sum = add(sum, ev);
            }
            others[r] = sum;
        }
        // k = w / S below must be a float that keeps its bits (w tiny against an S up to e^64
        // would make it subnormal): otherwise the general path, whose factors stay in double
        const vf o = sum_lanes_of(others), u = add(set1(1.0f), o), inv_u = div(set1(1.0f), u);
        const vf wv = load(w), kv = mul(wv, inv_u);
        ok = mask_and(ok, mask_or(eq(wv, zero()), ge(abs(wv), mul(set1(FLT_MIN), u))));  // k >= FLT_MIN
        if (any(mask_andnot(ok, all_lanes()))) {
            for (int r = 0; r < rows; ++r) {
                fl::BlockSum row;
                cross_entropy_impl<Extra::none, false>(a, i0 + r, i0 + r + 1, scratch, &row);
                total += row.sum;
                nonfinite += row.nonfinite;
            }
            continue;
        }
        // Row math, row r in lane r: S = 1 + others, log S = log1p(others), k = w / S.
        float log_s[kLanes], k[kLanes], oth[kLanes];
        store(log_s, fmadd(sub(o, sub(u, set1(1.0f))), inv_u, log(u)));
        store(k, kv);
        store(oth, o);
        for (int r = 0; r < rows; ++r) {
            const int64_t i = i0 + r;
            float* per_term = a.per_term ? a.per_term + i : nullptr;
            if (!live[r]) {
                if (per_term) *per_term = 0.0f;
                continue;
            }
            const double term = (double)sw[r] * ((double)cwy[r] * (double)log_s[r]);
            if (per_term) *per_term = (float)term;
            total += term;
            if (!isfinite(term)) ++nonfinite;
            scratch[r * c + label[r]] = -oth[r];
        }
        if (!a.grad) continue;
        float* g = a.grad + i0 * c;
        const int64_t len = rows * c;
        // a whole batch is kLanes * c floats, so an aligned block start keeps every batch aligned
        const bool nt = a.stream_grad && (uintptr_t)g % (uintptr_t)kStreamAlign == 0;
        streamed |= nt;
        for (int64_t j = 0; j < len; j += kLanes) {
            const vf gv = mul(load(scratch + j), permute(kv, load_i(row_of + j)));
            const int n = (int)min64(kLanes, len - j);
            if (n == kLanes && nt)
                stream(g + j, gv);
            else
                store_n(g + j, n, gv);
        }
    }
    if (streamed) stream_fence();
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
    if (kLanes > 1 && a.labels && a.c <= fl::kSmallRowMax && a.smoothing == 0.0f &&
        !(a.soft_cap > 0.0f) && a.z_loss == 0.0f)
        cross_entropy_small(a, r0, r1, scratch, out);
    else if (!a.labels)
        cross_entropy_cap<Extra::dense>(a, r0, r1, scratch, out);
    else if (a.smoothing != 0.0f)
        cross_entropy_cap<Extra::smoothing>(a, r0, r1, scratch, out);
    else
        cross_entropy_cap<Extra::none>(a, r0, r1, scratch, out);
}

}  // namespace FL_NS
