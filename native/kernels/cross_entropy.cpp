// Softmax cross-entropy: class indices or dense targets, class / sample weights, label smoothing,
// z-loss, logit soft-capping. Formulas: fusedloss.h. Compiled once per ISA.
#include "softmax_row.h"

namespace FL_NS {

namespace {

// Rows are taken in small groups, one phase at a time (pass 1 of each, the row math, pass 2 of
// each), so that the latency chains of short rows overlap; the row sums are still added in row
// order. kGroup 1: rows of more than 512 classes, one at a time, compiled as such (the group's
// arrays then hold one row each, which the compiler keeps in registers).
template <Extra X, bool Capped, int kGroup = fl::kSoftmaxGroupMax>
void cross_entropy_impl(const fl::SoftmaxArgs& a, int64_t row_begin, int64_t row_end,
                        float* scratch, fl::BlockSum* out) {
    const int64_t c = a.c;
    const int group = kGroup == 1 ? 1 : fl::softmax_group(c);
    const size_t row_scratch = fl::softmax_scratch_floats(c);
    const double eps = a.smoothing, eps_c = eps / (double)c, zl = a.z_loss;
    double total = 0.0;
    int64_t nonfinite = 0;
    RowInput in[kGroup];
    RowStats st[kGroup] = {};
    for (int r = 0; r < group; ++r) {
        in[r].c = c;
        in[r].cw = a.class_weights;
        in[r].eps = a.smoothing;
        in[r].cap = a.soft_cap;
        in[r].buf = scratch + r * row_scratch;
        in[r].refs = in[r].buf + (c + 15) / 16 * 16;
        in[r].keep = a.grad != nullptr;
        in[r].read_ahead_nta = a.read_ahead_nta;
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
    // Rows of one chunk keep their e in the gradient row (e_in_gradient, softmax_row.h): CE 4096 x
    // 1000 ran 3-15 % faster that way (Zen 4).
    const bool in_grad = kSingle && e_in_gradient(a, interleave);
    for (int64_t i0 = row_begin; i0 < row_end; i0 += group) {
        const int rows = (int)min64(group, row_end - i0);
        bool live[kGroup], dropped[kGroup] = {};
        double coef_p[kGroup], coef_q[kGroup], g_label[kGroup] = {};
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
            if (in_grad) in[r].buf = a.grad + i * c;
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

            const double coef = a.grad_factor * (a.upstream ? (double)a.upstream[i] : 1.0);
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

// Short rows with class indices (softmax_row.h, SmallRows); a batch it cannot take goes row by row
// through the general path.
void cross_entropy_small(const fl::SoftmaxArgs& a, int64_t row_begin, int64_t row_end,
                         float* scratch, fl::BlockSum* out) {
    auto general = [&](int64_t r0, int64_t r1, float* s, fl::BlockSum* o) {
        cross_entropy_impl<Extra::none, false>(a, r0, r1, s, o);
    };
    small_rows(a, 0.0f, false, general, row_begin, row_end, scratch, out);
}

// Short rows (2 <= c <= kMaxC <= kSmallDenseRowMax) with dense targets and no smoothing, cap or
// z-loss (one-hot targets from frameworks that have no class indices): each row is loaded into
// one vector (up to four when c > kLanes), and the row reductions (the max, the sum of e, the
// target mass Q, the gap sum q (M - z)) are transposed horizontal reductions with row r in lane
// r, kLanes rows at a time; the row math is then one vector operation for kLanes rows. A batch
// with a NaN or +inf logit, a row all -inf, a non-finite target or term, or a factor that is no
// normal float goes through the general path, row by row.
template <int kMaxC>
struct SmallDenseRows {
    static constexpr int kMaxParts = (kMaxC + kLanes - 1) / kLanes;  // vectors per row
    const fl::SoftmaxArgs& a;
    int c, parts;
    vf cw[kMaxParts];
    vmask last_part;  // the lanes of a row's last vector
    dacc terms;
    double fallback_sum = 0.0;
    int64_t nonfinite = 0;

    explicit SmallDenseRows(const fl::SoftmaxArgs& args) : a(args), c((int)args.c) {
        parts = (c + kLanes - 1) / kLanes;
        last_part = first_n(c - (parts - 1) * kLanes);
        for (int p = 0; p < parts; ++p)
            cw[p] = a.class_weights ? load_n(a.class_weights + p * kLanes, (int)min64(kLanes, c - p * kLanes), zero())
                                    : set1(1.0f);
    }

    // One batch of rows [i0, i0 + rows); false, with nothing written, where it needs the general path.
    FL_INLINE bool batch(int64_t i0, int rows) {
        const int64_t stride = a.sample_weight_stride;
        const int cc = c, np = parts;
        const vf neg_inf = set1(-INFINITY);
        alignas(64) float sw_lanes[kLanes], up_lanes[kLanes];
        bool live[kLanes];
        for (int r = 0; r < kLanes; ++r) {
            sw_lanes[r] = r < rows && a.sample_weights ? a.sample_weights[(i0 + r) * stride] : 1.0f;
            up_lanes[r] = r < rows && a.upstream ? a.upstream[i0 + r] : 1.0f;
            live[r] = r < rows && sw_lanes[r] == sw_lanes[r];
            if (!live[r]) sw_lanes[r] = 0.0f;
        }
        // the rows, one (or two) vectors each; the lanes past a row's end hold -inf and 0
        vf z[kLanes][kMaxParts], t[kLanes][kMaxParts], row_max[kLanes];
        vmask bad = no_lanes();
        bool any_masked_class = false;
        for (int r = 0; r < kLanes; ++r) {
            const float* xr = a.logits + (i0 + r) * cc;
            const float* tr = a.targets + (i0 + r) * cc;
            vf m = neg_inf;
            for (int p = 0; p < np; ++p) {
                const int n = (int)min64(kLanes, cc - p * kLanes);
                if (live[r]) {
                    z[r][p] = load_n(xr + p * kLanes, n, neg_inf);
                    t[r][p] = load_n(tr + p * kLanes, n, zero());
                    // NaN or +inf logits, non-finite targets: the general path's rules
                    bad = mask_or(bad, mask_or(neq(z[r][p], z[r][p]), eq(z[r][p], set1(INFINITY))));
                    bad = mask_or(bad, mask_andnot(finite_mask(t[r][p]), all_lanes()));
                    any_masked_class |= any(mask_and(first_n(n), eq(z[r][p], neg_inf)));
                } else {
                    z[r][p] = zero();
                    t[r][p] = zero();
                }
                m = max(m, z[r][p]);
            }
            row_max[r] = m;
        }
        if (any(bad)) return false;
        const vf big_m = max_lanes_of(row_max);  // M, row r in lane r
        if (!all(finite_mask(big_m))) return false;  // a row all -inf
        // The max's own e is exactly 1: the others are summed apart from it (a float 1 + small
        // would lose a confident row's loss), and log S = log1p(others); ties at the max add 1 each.
        vf e_rows[kLanes], q_rows[kLanes], gap_rows[kLanes];
        vf e[kLanes][kMaxParts], q[kLanes][kMaxParts];
        alignas(64) float ties[kLanes];
        for (int r = 0; r < kLanes; ++r) {
            const vf mr = permute(big_m, set1_i(r));
            e_rows[r] = q_rows[r] = gap_rows[r] = zero();
            int at_max = 0;
            for (int p = 0; p < np; ++p) {
                const vmask lanes = p == np - 1 ? last_part : all_lanes();
                e[r][p] = exp_softmax(sub(z[r][p], mr));  // 0 for a -inf (masked) class
                q[r][p] = select(lanes, mul(cw[p], t[r][p]), zero());
                // no target mass, no part of the loss: 0, not 0 * inf at a masked class
                const vf gap = select(eq(q[r][p], zero()), zero(), mul(q[r][p], sub(mr, z[r][p])));
                const vmask is_max = mask_and(lanes, eq(z[r][p], mr));
                at_max += count(is_max);
                e_rows[r] = add(e_rows[r], select(mask_andnot(is_max, lanes), e[r][p], zero()));
                q_rows[r] = add(q_rows[r], q[r][p]);
                gap_rows[r] = add(gap_rows[r], gap);
            }
            ties[r] = live[r] ? (float)(at_max - 1) : 0.0f;
        }
        const vf others = add(sum_lanes_of(e_rows), load(ties));
        const vf big_q = sum_lanes_of(q_rows), big_gap = sum_lanes_of(gap_rows);
        const vf u = add(set1(1.0f), others), inv_s = div(set1(1.0f), u);  // S = 1 + others
        const vf log_s = fmadd(sub(others, sub(u, set1(1.0f))), inv_s, log_normal(u));
        const vf swv = load(sw_lanes);
        // loss = Q log S + sum q (M - z); an empty target mass gives 0
        const vf loss = select(eq(big_q, zero()), zero(), fmadd(big_q, log_s, big_gap));
        const vf term = mul(swv, loss);
        if (!all_finite(term)) return false;  // inf / NaN terms: the general path counts them
        // coef_q = grad_factor * upstream * sw rounded once; coef_p = coef_q * Q / S
        bool fits = true;
        const vf coef_q = product_in_double(a.grad_factor, load(up_lanes), swv, set1(1.0f), fits);
        const vf coef_p = mul(coef_q, mul(big_q, inv_s));
        if (!fits || !all(mask_or(eq(coef_p, zero()), ge(abs(coef_p), set1(FLT_MIN)))))
            return false;
        terms.add(term);
        if (a.per_term) store_n(a.per_term + i0, rows, term);
        if (!a.grad) return true;
        for (int r = 0; r < rows; ++r) {
            float* gr = a.grad + (i0 + r) * cc;
            const vf kp = permute(coef_p, set1_i(r)), kq = permute(coef_q, set1_i(r));
            for (int p = 0; p < np; ++p) {
                vf g = live[r] ? fnmadd(kq, q[r][p], mul(kp, e[r][p])) : zero();
                if (any_masked_class) g = select(eq(z[r][p], neg_inf), zero(), g);  // masked class: 0
                const int n = (int)min64(kLanes, cc - p * kLanes);
                // a whole vector may run into the next rows of this batch (written next, loaded
                // already), not past the batch's end
                if (n < kLanes && (int64_t)r * cc + p * kLanes + kLanes <= (int64_t)rows * cc)
                    store(gr + p * kLanes, g);
                else
                    store_n(gr + p * kLanes, n, g);
            }
        }
        return true;
    }

    void run(int64_t row_begin, int64_t row_end, float* scratch, fl::BlockSum* out) {
        for (int64_t i0 = row_begin; i0 < row_end; i0 += kLanes) {
            const int rows = (int)min64(kLanes, row_end - i0);
            if (batch(i0, rows)) continue;
            for (int r = 0; r < rows; ++r) {
                fl::BlockSum row;
                cross_entropy_impl<Extra::dense, false>(a, i0 + r, i0 + r + 1, scratch, &row);
                fallback_sum += row.sum;
                nonfinite += row.nonfinite;
            }
        }
        out->sum = terms.total() + fallback_sum;
        out->nonfinite = nonfinite;
    }
};

template <Extra X>
void cross_entropy_cap(const fl::SoftmaxArgs& a, int64_t r0, int64_t r1, float* scratch,
                       fl::BlockSum* out) {
    if (a.soft_cap > 0.0f)
        cross_entropy_impl<X, true>(a, r0, r1, scratch, out);
    else if (fl::softmax_group(a.c) == 1)  // a group of one, known as such: CE 4096 x 1000 0.92-0.93
        cross_entropy_impl<X, false, 1>(a, r0, r1, scratch, out);
    else
        cross_entropy_impl<X, false>(a, r0, r1, scratch, out);
}

}  // namespace

void cross_entropy_rows(const fl::SoftmaxArgs& a, int64_t r0, int64_t r1, float* scratch,
                        fl::BlockSum* out) {
    if (kLanes > 1 && a.labels && a.c <= fl::kSmallRowMax && a.smoothing == 0.0f &&
        !(a.soft_cap > 0.0f) && a.z_loss == 0.0f)
        cross_entropy_small(a, r0, r1, scratch, out);
    else if (kLanes > 1 && !a.labels && a.c >= 2 && a.c <= fl::kSmallDenseRowMax && a.smoothing == 0.0f &&
             !(a.soft_cap > 0.0f) && a.z_loss == 0.0f) {
        // arrays sized for 16 classes where they do: sized for 32 they cost rows of up to 16 classes
        // 4-20 % (Zen 4)
        if (a.c <= 16)
            SmallDenseRows<16>(a).run(r0, r1, scratch, out);
        else
            SmallDenseRows<(int)fl::kSmallDenseRowMax>(a).run(r0, r1, scratch, out);
    } else if (!a.labels)
        cross_entropy_cap<Extra::dense>(a, r0, r1, scratch, out);
    else if (a.smoothing != 0.0f)
        cross_entropy_cap<Extra::smoothing>(a, r0, r1, scratch, out);
    else
        cross_entropy_cap<Extra::none>(a, r0, r1, scratch, out);
}

}  // namespace FL_NS
