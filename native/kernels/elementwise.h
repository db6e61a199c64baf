// elementwise.h: the element loop shared by the element-wise losses (binary cross-entropy, MSE,
// sigmoid focal), generic over simd.h.
//
// A loss is a small struct with
//   const float* column_weights() const   (a weight per column inside the term, e.g. pos_weight; NULL: none)
//   template <bool Careful> void eval(vf x, vf t, vf cw, vf& term, vf& deriv) const
// giving the unweighted term and d term / dx of one vector of elements, cw holding each lane's
// column weight (1 without them). eval<false> may assume every x is finite; where its weighted
// term is not finite, this loop evaluates the vector again with eval<true>, which keeps every
// rule for inf and NaN (a zero factor drops its part, 0 * inf included), and counts the
// non-finite terms there: a finite term means finite x, where both agree. This loop applies the
// sample / element weights and the masks, writes per_term and the gradient, and sums the terms
// in double.
//
// Short rows (n x 1 for binary labels and regression, up to a vector of columns) are
// one flat run of elements, whole vectors across row ends, so they cost no per-row overhead and
// no partial vector: each vector knows the row and column of its first lane, and its lanes' sample
// and column weights are permuted from the rows' and the columns'. Longer rows go one at a time
// from the row's start.
#pragma once

#include <string.h>

#include <type_traits>

#include "kernels.h"
#include "vmath.h"

namespace FL_NS {

using namespace simd;

// The gradient's paths through elementwise_long_rows and elementwise_short_rows (see there).
enum : int { kFloat, kChecked, kWide };

// A vector's weights: w = sample weight sw * element weight, e the element weights (1 without
// them), and the lanes of `active` less those whose element weight is NaN (masked).
FL_INLINE void lane_weights(const float* ew, int64_t at, int n, vf sw, vmask& active, vf& w, vf& e) {
    w = sw;
    e = set1(1.0f);
    if (ew) {
        e = load_n(ew + at, n, zero());
        active = mask_and(active, eq(e, e));
        w = mul(sw, e);
    }
}

// The lanes of `parts` (those whose factors are all nonzero) where their product `factor` left the
// normal floats (or underflowed to 0): such lanes are formed in double instead.
FL_INLINE vmask factor_left_floats(vf factor, vmask parts) {
    const vf af = abs(factor);
    return mask_and(parts, mask_or(lt(af, set1(FLT_MIN)), gt(af, set1(FLT_MAX))));
}

// Rows of up to a vector are short (elementwise_short_rows): a row's own loop costs more than the
// lanes' tables and the double sums (Zen 4, 1 thread: BCE 409600 x 16 9.4 -> 6.2 ms with AVX-512,
// 819200 x 8 16.2 -> 10.6 ms with AVX2). Beyond, the column weights need a gather and the rows'
// loop wins again (BCE 136533 x 48: 6.7 ms a row at a time, 7.6 as one run).
constexpr int64_t kShortRow = kLanes + 1;

// Rows of at least a vector, one at a time from the row's start, so each row's float partial
// sums have the same lanes whatever rows come before it (a masked row reads as an absent one);
// they go to one double accumulator per block, with no horizontal sum per row.
template <class Loss>
inline void elementwise_long_rows(const fl::ElementwiseArgs& a, const Loss& loss, int64_t row_begin,
                                  int64_t row_end, fl::BlockSum* out) {
    const int64_t k = a.k;
    const float* const colw = loss.column_weights();
    dacc row_sum;  // every row's sums
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
        vf part = zero();
        // path, a compile-time copy of the loop: kFloat; kChecked (upstream or element weights:
        // each vector's factor checked); kWide (the rare rows whose factor is no float)
        auto body = [&](int64_t j, int n, auto path) FL_INLINE_LAMBDA {
            vmask active = n == kLanes ? all_lanes() : first_n(n);
            vf w, e;
            lane_weights(ew, j, n, set1(sw), active, w, e);
            vf term, deriv;
            const vf xv = load_n(x + j, n, zero()), tv = load_n(t + j, n, zero());
            const vf cwv = colw ? load_n(colw + j, n, set1(1.0f)) : set1(1.0f);
            loss.template eval<false>(xv, tv, cwv, term, deriv);
            term = select(active, mul(w, term), zero());
            vmask small = lt(term, kFloatSumBound);  // false for NaN
            if (any(mask_andnot(small, all_lanes()))) {  // rare: inf / NaN predictions, or a huge term
                loss.template eval<true>(xv, tv, cwv, term, deriv);
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
                    if (decltype(path)::value == kChecked &&
                        any(factor_left_floats(factor, mask_and(neq(u, zero()), neq(e, zero())))))
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
    }
    out->sum = row_sum.total();
    out->nonfinite = nonfinite;
}

// Short rows (k <= kLanes): one flat run of elements, whole vectors across row ends. Each vector's
// lanes take their row (relative to the row of its first lane) and column from tables indexed by
// the first lane's column c0, and their sample and column weights by a permute. The gradient factor is grad_factor (a normal float within [2^-64, 2^64], else every
// factor meets in double) times the sample weight, upstream and element weight in float, checked
// per vector as in the long rows' kChecked path. Each vector's terms go to the double sum: a
// float partial sum across rows would make a row's rounding depend on its neighbours, and NaN
// weights must read as absent rows.
template <class Loss>
inline void elementwise_short_rows(const fl::ElementwiseArgs& a, const Loss& loss, int64_t row_begin,
                                   int64_t row_end, fl::BlockSum* out) {
    const int64_t k = a.k, base = row_begin * k, elements = (row_end - row_begin) * k;
    // locals, not loads through `a` after every float store (-fno-strict-aliasing)
    const float* const x = a.x + base;
    const float* const t = a.t + base;
    const float* const ew = a.element_weights ? a.element_weights + base : nullptr;
    const float* const up = a.upstream ? a.upstream + base : nullptr;
    float* const g = a.grad ? a.grad + base : nullptr;
    float* const per_term = a.per_term ? a.per_term + base : nullptr;
    const float* const sw = a.sample_weights;
    const int64_t stride = a.sample_weight_stride;
    const float* const colw = loss.column_weights();
    const double gf = a.grad_factor, abs_gf = fabs(gf);
    const bool wide = !(gf == 0.0 || (abs_gf >= 0x1p-64 && abs_gf <= 0x1p64));
    const vf vgf = set1((float)gf);
    alignas(64) int32_t rel_row[kLanes * kLanes], col_of[kLanes * kLanes];
    for (int c0 = 0; c0 < (int)k; ++c0)
        for (int l = 0, r = 0, c = c0; l < kLanes; ++l, ++c) {
            if (c == (int)k) {
                c = 0;
                ++r;
            }
            rel_row[c0 * kLanes + l] = r;
            col_of[c0 * kLanes + l] = c;
        }
    const vf colw_row = colw ? load_n(colw, (int)k, set1(1.0f)) : set1(1.0f);  // lane j: column j
    dacc sum;
    int64_t nonfinite = 0;
    // One vector at flat offset p (n lanes), its lanes' sample weights swv and column weights cwv.
    auto body = [&](int64_t p, int n, vf swv, vf cwv, auto path) FL_INLINE_LAMBDA {
        vmask active = mask_and(n == kLanes ? all_lanes() : first_n(n), eq(swv, swv));  // NaN sw: masked row
        vf w, e;
        lane_weights(ew, p, n, swv, active, w, e);
        vf term, deriv;
        const vf xv = load_n(x + p, n, zero()), tv = load_n(t + p, n, zero());
        loss.template eval<false>(xv, tv, cwv, term, deriv);
        term = select(active, mul(w, term), zero());
        if (!all_finite(term)) {  // rare: inf / NaN predictions, or a term beyond float range
            loss.template eval<true>(xv, tv, cwv, term, deriv);
            term = select(active, mul(w, term), zero());
            nonfinite += count(mask_andnot(finite_mask(term), all_lanes()));
        }
        sum.add(term);
        if (per_term) store_n(per_term + p, n, term);
        if (!g) return;
        const vf u = up ? load_n(up + p, n, zero()) : set1(1.0f);
        auto in_double_lanes = [&] {  // (float)(grad_factor * sw * upstream * element weight * deriv)
            alignas(64) float sl[kLanes], ul[kLanes], el[kLanes], dl[kLanes], gl[kLanes];
            store(sl, swv);
            store(ul, u);
            store(el, e);
            store(dl, deriv);
            for (int l = 0; l < kLanes; ++l) gl[l] = (float)(gf * sl[l] * ul[l] * el[l] * dl[l]);
            return load(gl);
        };
        vf gv;
        if (decltype(path)::value == kWide) {
            gv = in_double_lanes();
        } else {
            vf factor = sw ? mul(vgf, swv) : vgf;
            if (up) factor = mul(factor, u);
            if (ew) factor = mul(factor, e);
            gv = mul(factor, deriv);
            if (decltype(path)::value == kChecked) {
                const vmask parts = mask_and(mask_and(neq(swv, zero()), neq(u, zero())), neq(e, zero()));
                if (any(factor_left_floats(factor, mask_and(active, parts)))) gv = in_double_lanes();
            }
        }
        store_n(g + p, n, select(active, gv, zero()));
    };
    auto sweep = [&](auto path) FL_INLINE_LAMBDA {
        int64_t row = row_begin, c0 = 0;  // the row and column of the vector's first lane
        const int64_t q = kLanes / k, rem = kLanes % k;  // its step: q rows and rem columns
        for (int64_t p = 0; p < elements; p += kLanes) {
            const int n = elements - p < kLanes ? (int)(elements - p) : kLanes;
            const vi rel = load_i(rel_row + c0 * kLanes);
            vf swv = set1(1.0f);
            const int64_t rows_left = row_end - row;
            const int rows = rows_left < kLanes ? (int)rows_left : kLanes;
            if (sw && stride == 1) {
                swv = permute(load_n(sw + row, rows, set1(1.0f)), rel);
            } else if (sw) {
                alignas(64) float rows_sw[kLanes];
                for (int r = 0; r < kLanes; ++r) rows_sw[r] = r < rows ? sw[(row + r) * stride] : 1.0f;
                swv = permute(load(rows_sw), rel);
            }
            const vf cwv = colw ? permute(colw_row, load_i(col_of + c0 * kLanes)) : set1(1.0f);
            body(p, n, swv, cwv, path);
            c0 += rem;
            row += q;
            if (c0 >= k) {
                c0 -= k;
                ++row;
            }
        }
    };
    if (wide)
        sweep(std::integral_constant<int, kWide>{});
    else if (sw || up || ew)  // sample weights vary across a vector's lanes: checked too
        sweep(std::integral_constant<int, kChecked>{});
    else
        sweep(std::integral_constant<int, kFloat>{});
    out->sum = sum.total();
    out->nonfinite = nonfinite;
}

// The rows [row_begin, row_end) of a block: short rows as one flat run, longer ones row by row.
template <class Loss>
inline void elementwise_rows(const fl::ElementwiseArgs& a, const Loss& loss, int64_t row_begin,
                             int64_t row_end, fl::BlockSum* out) {
    if (a.k < kShortRow)
        elementwise_short_rows(a, loss, row_begin, row_end, out);
    else
        elementwise_long_rows(a, loss, row_begin, row_end, out);
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
