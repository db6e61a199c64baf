// elementwise.h: the row loop shared by the element-wise losses (binary cross-entropy, MSE,
// sigmoid focal), generic over simd.h.
//
// A loss is a small struct with
//   template <bool Careful> void eval(vf x, vf t, int64_t col, int n, vf& term, vf& deriv) const
// giving the unweighted term and d term / dx of the n (<= kLanes) elements at columns
// [col, col + n) (class weights that live inside the term, such as pos_weight, are its own
// business). eval<false> may assume every x is finite; where its weighted term is not finite,
// this loop evaluates the vector again with eval<true>, which keeps every rule for inf and NaN
// (a zero factor drops its part, 0 * inf included), and counts the non-finite terms there: a
// finite term means finite x, where both agree. This loop applies the sample / element weights
// and the masks, writes per_term and the gradient, and sums the terms of each row in double.
#pragma once

#include <string.h>

#include <type_traits>

#include "kernels.h"
#include "vmath.h"

namespace FL_NS {

using namespace simd;

// The gradient's paths through elementwise_rows (see there).
enum : int { kFloat, kChecked, kWide };

template <class Loss>
inline void elementwise_rows(const fl::ElementwiseArgs& a, const Loss& loss, int64_t row_begin,
                             int64_t row_end, fl::BlockSum* out) {
    const int64_t k = a.k;
    double total = 0.0;
    int64_t nonfinite = 0;
    for (int64_t i = row_begin; i < row_end; ++i) {
        const int64_t at = i * k;
        float* g = a.grad ? a.grad + at : nullptr;
        float* per_term = a.per_term ? a.per_term + at : nullptr;
        const float sw = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
        if (sw != sw) {  // missing sample weight: the whole row is masked
            if (g) memset(g, 0, (size_t)k * sizeof(float));
            if (per_term) memset(per_term, 0, (size_t)k * sizeof(float));
            continue;
        }
        const float* x = a.x + at;
        const float* t = a.t + at;
        const float* ew = a.element_weights ? a.element_weights + at : nullptr;
        const float* up = a.upstream ? a.upstream + at : nullptr;
        // The row's gradient factor, kept in double until it meets the element's: grad_factor
        // (1 / denominator) alone can be beyond float range where the product is not (weights of
        // 1e-40 with MEAN). Beyond [2^-64, 2^64] every factor meets in double; within, the float
        // products factor * upstream * element weight stay normal while those two lie within
        // [2^-60, 2^60] (SEMANTICS.md), so the gradient is rounded once, at the end.
        const double row_scale = a.grad_factor * (double)sw, abs_scale = fabs(row_scale);
        const bool wide = !(row_scale == 0.0 || (abs_scale >= 0x1p-64 && abs_scale <= 0x1p64));
        const vf vscale = set1((float)row_scale);
        // Terms are >= 0 for valid weights, so float partial sums over 8 vectors lose nothing
        // that matters (about 1e-7 relative) before they go to double. Only terms below 2^124 go
        // there (8 of them per lane stay below the float maximum, 2^128); a larger, infinite or
        // NaN term (rare) goes to the double sum at once and a non-finite one is counted.
        const vf kFloatSumBound = set1(0x1p124f);
        dacc row_sum;
        vf part = zero();
        // path, a compile-time copy of the loop: kFloat; kChecked (upstream or element weights:
        // each vector's factor checked); kWide (the rare rows whose factor is no float)
        auto body = [&](int64_t j, int n, auto path) FL_INLINE_LAMBDA {
            vmask active = n == kLanes ? all_lanes() : first_n(n);
            vf w = set1(sw), e = set1(1.0f);
            if (ew) {
                e = load_n(ew + j, n, zero());
                active = mask_and(active, eq(e, e));  // NaN element weight: masked
                w = mul(w, e);
            }
            vf term, deriv;
            const vf xv = load_n(x + j, n, zero()), tv = load_n(t + j, n, zero());
            loss.template eval<false>(xv, tv, j, n, term, deriv);
            term = select(active, mul(w, term), zero());
            vmask small = lt(term, kFloatSumBound);  // false for NaN
            if (any(mask_andnot(small, all_lanes()))) {  // rare: inf / NaN predictions, or a huge term
                loss.template eval<true>(xv, tv, j, n, term, deriv);
                term = select(active, mul(w, term), zero());
                small = lt(term, kFloatSumBound);
                row_sum.add(select(small, zero(), term));
                nonfinite += count(mask_andnot(finite_mask(term), all_lanes()));
            }
            part = add(part, select(small, term, zero()));
            if (per_term) store_n(per_term + j, n, term);
            if (g) {
                const vf u = up ? load_n(up + j, n, zero()) : set1(1.0f);
                vf gv;
                if (decltype(path)::value == kWide) {
                    gv = in_double(u, e, deriv, [&](double ul, double el, double dl) { return row_scale * ul * el * dl; });
                } else {
                    const vf coef = up ? mul(vscale, u) : vscale;
                    const vf factor = ew ? mul(coef, e) : coef;
                    gv = mul(factor, deriv);
                    // upstream * element weight far outside [2^-60, 2^60] (beyond SEMANTICS.md's
                    // domain): a factor that left the normal floats (or underflowed to 0 from
                    // nonzero parts) is formed in double instead
                    // (without either, the factor is the row's, a normal float where not wide)
                    const vf af = abs(factor);
                    if (decltype(path)::value == kChecked &&
                        any(mask_and(mask_and(neq(u, zero()), neq(e, zero())),
                                     mask_or(lt(af, set1(FLT_MIN)), gt(af, set1(FLT_MAX))))))
                        gv = in_double(u, e, deriv, [&](double ul, double el, double dl) { return row_scale * ul * el * dl; });
                }
                store_n(g + j, n, select(active, gv, zero()));
            }
        };
        constexpr int kBlock = 8;
        auto sweep = [&](auto path) FL_INLINE_LAMBDA {
            int64_t j = 0;
            for (; j + kBlock * kLanes <= k; j += kBlock * kLanes) {
                for (int u = 0; u < kBlock; ++u) body(j + u * kLanes, kLanes, path);
                row_sum.add(part);
                part = zero();
            }
            for_each_vector(j, k, [&](int64_t jv, int n) FL_INLINE_LAMBDA { body(jv, n, path); });
        };
        if (wide)
            sweep(std::integral_constant<int, kWide>{});
        else if (up || ew)
            sweep(std::integral_constant<int, kChecked>{});
        else
            sweep(std::integral_constant<int, kFloat>{});
        row_sum.add(part);
        total += row_sum.total();
    }
    out->sum = total;
    out->nonfinite = nonfinite;
}

// softplus(x) and softplus(-x) from the shared sigmoid pieces: max(+-x, 0) + log1p(exp(-|x|)).
// a * b, but 0 where a == 0 even for an infinite b: a target of exactly 0 (or 1) takes no part
// of the other side's softplus, so x = -inf with t = 0 gives 0, not 0 * inf = NaN.
inline vf times_unless_zero(vf a, vf b) { return select(eq(a, zero()), zero(), mul(a, b)); }
// A term and its derivative times a class weight or alpha factor: a factor of 0 drops the term,
// NaN or infinite predictions included (SEMANTICS.md), in the loss and in the gradient.
inline void weigh_unless_zero(vf factor, vf& term, vf& deriv) {
    term = times_unless_zero(factor, term);
    deriv = times_unless_zero(factor, deriv);
}
inline vf softplus_pos(vf x, const Sigmoid& sg) { return add(max(x, zero()), sg.log1p_e); }
inline vf softplus_neg(vf x, const Sigmoid& sg) { return add(max(sub(zero(), x), zero()), sg.log1p_e); }

}  // namespace FL_NS
