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
// Rows of up to 16 vectors (kFlatRowMax: n x 1 for binary labels and regression, 65536 x 100) are
// one flat run of elements, whole vectors across row ends, so they cost no per-row loop and no
// partial vector (elementwise_flat_rows). Longer rows go one at a time from the row's start.
#pragma once

#include <string.h>

#include <initializer_list>
#include <type_traits>

#include "kernels.h"
#include "vmath.h"

namespace FL_NS {

using namespace simd;

// The gradient's paths through elementwise_long_rows and elementwise_flat_rows (see there).
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

// Terms of a magnitude below this may go to float partial sums (16 of them a lane stay below the
// float maximum, 2^128): terms are >= 0 for valid weights except BCE's with targets outside
// [0, 1], so partial sums of a few vectors lose nothing that matters (about 1e-7 relative).
constexpr float kFloatSumBound = 0x1p124f;

// One vector's weighted terms w * term (0 outside `active`) and derivatives, untested against the
// bound: the first step of weighted_terms below, and alone for a run of whole vectors inside a row
// whose float sum the caller tests once (a sum below the bound had no NaN or infinite term and never
// overflowed, and leaves room for the row's last vector; else the run is done again with
// weighted_terms).
template <class Loss>
FL_INLINE vf weighted_terms_unchecked(const Loss& loss, vf xv, vf tv, vf cwv, vf w, vmask active, vf& deriv) {
    vf term;
    loss.template eval<false>(xv, tv, cwv, term, deriv);
    return select(active, mul(w, term), zero());
}

// One vector's weighted terms w * term (0 outside `active`) and derivatives. Where a term's
// magnitude is not below `bound` (NaN included: rare, inf / NaN predictions or a huge term), the
// vector is evaluated again with eval<true>, its non-finite terms are counted, and those terms
// go to `sum` at once. Returns the terms; `summed` gets those below the bound, for the caller.
template <class Loss>
FL_INLINE vf weighted_terms(const Loss& loss, vf xv, vf tv, vf cwv, vf w, vmask active, vf bound, dacc& sum,
                            int64_t& nonfinite, vf& deriv, vf& summed) {
    vf term = weighted_terms_unchecked(loss, xv, tv, cwv, w, active, deriv);
    summed = term;
    vmask below = lt(abs(term), bound);  // false for NaN
    if (!all(below)) {
        loss.template eval<true>(xv, tv, cwv, term, deriv);
        term = select(active, mul(w, term), zero());
        nonfinite += count(mask_andnot(finite_mask(term), all_lanes()));
        below = lt(abs(term), bound);
        sum.add(select(below, zero(), term));
        summed = select(below, term, zero());
    }
    return term;
}

// Rows of more than kFlatRowMax columns, one at a time from the row's start, so each row's float partial
// sums have the same lanes whatever rows come before it (a masked row reads as an absent one);
// they go to one double accumulator per block, with no horizontal sum per row.
template <class Loss>
inline void elementwise_long_rows(const fl::ElementwiseArgs& a, const Loss loss, int64_t row_begin,
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
        // float partial sums over 8 vectors (weighted_terms), then double
        const vf bound = set1(kFloatSumBound);
        vf part = zero();
        // path, a compile-time copy of the loop: kFloat; kChecked (upstream or element weights:
        // each vector's factor checked); kWide (the rare rows whose factor is no float)
        auto body = [&](int64_t j, int n, auto path) FL_INLINE_LAMBDA {
            vmask active = n == kLanes ? all_lanes() : first_n(n);
            vf w, e;
            lane_weights(ew, j, n, set1(sw), active, w, e);
            vf deriv, summed;
            const vf xv = load_n(x + j, n, zero()), tv = load_n(t + j, n, zero());
            const vf cwv = colw ? load_n(colw + j, n, set1(1.0f)) : set1(1.0f);
            const vf term = weighted_terms(loss, xv, tv, cwv, w, active, bound, row_sum, nonfinite, deriv, summed);
            part = add(part, summed);
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

// Rows of up to kFlatRowMax columns are one flat run of elements, whole vectors across row ends,
// so no row pays for a partial last vector or a loop of its own (Zen 4, 1 thread, AVX-512 / AVX2:
// BCE 409600 x 16 9.4 -> 6.2 ms as short rows, 65536 x 100 0.83 / 0.89 as mid rows, 204800 x 20
// 0.54 / 0.67).
// - Short rows (k <= kLanes, e.g. n x 1 for binary labels and regression): each vector's lanes
//   take their row (relative to the row of its first lane) and column from tables indexed by the
//   first lane's column c0, and their sample and column weights by a permute. Each vector's terms
//   go to the double sum: a float partial sum across rows would make a row's rounding depend on
//   its neighbours, and NaN weights must read as absent rows.
// - Mid rows (kLanes < k <= kFlatRowMax): a vector holds at most two rows, the lanes [0, k - c0)
//   the current row's; column weights come from a copy of the row's twice over (an unaligned load
//   at c0, no gather), sample weights by a select where the row ends. A row's terms sum in float,
//   lane by lane, and go to double where the row ends: lane l of a row always holds the columns
//   j = l - offset (mod kLanes), added in the same order wherever the row starts, so its float sums
//   do not depend on the rows before it (a masked row still reads as an absent one).
// The gradient factor is grad_factor (a normal float within [2^-64, 2^64], else every factor meets
// in double) times the sample weight, upstream and element weight in float, checked per vector as
// in the long rows' kChecked path.
constexpr int64_t kFlatRowMax = kLanes > 1 ? 16 * kLanes : 0;  // 16 vectors: float sums of 16 terms a lane
// Where ElementwiseArgs::read_ahead, the predictions and targets are asked for this many floats
// (2 KiB) ahead, a prefetch per vector (an Intel Xeon, 1 thread, BCE / sigmoid focal 65536 x 100:
// 0.91-0.97 of the time without; 1 or 4 KiB ahead no better).
constexpr int64_t kElementAhead = 512;

template <class Loss, bool Short, bool kReadAhead>
inline void elementwise_flat_rows(const fl::ElementwiseArgs& a, const Loss loss, int64_t row_begin,
                                  int64_t row_end, fl::BlockSum* out) {
    const int64_t k = a.k, base = row_begin * k, elements = (row_end - row_begin) * k;
    // locals, not loads through `a` after every float store (-fno-strict-aliasing); `loss` too, taken
    // by value: through a reference its fields were loaded again for every vector
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
    // short rows: every term to the double sum (the finite ones by the caller); mid rows: float sums
    const vf bound = set1(Short ? INFINITY : kFloatSumBound);
    dacc sum;
    int64_t nonfinite = 0;
    // One vector at flat offset p (n lanes), its lanes' sample weights swv and column weights cwv:
    // writes per_term and the gradient, returns the terms.
    // live_row (a type): the lanes are one row's whole vector and its sample weight is no NaN;
    // row_factor is then that row's grad_factor * sample weight (unused otherwise).
    // checked (a type): the terms tested against the bound here, else by the caller (the run of
    // whole vectors inside a row: its float sum tested once).
    auto body = [&](int64_t p, int n, vf swv, vf cwv, vf row_factor, auto path, auto live_row, auto checked)
                    FL_INLINE_LAMBDA {
        vmask active = decltype(live_row)::value ? all_lanes()
                                                 : mask_and(n == kLanes ? all_lanes() : first_n(n), eq(swv, swv));  // NaN sw: masked row
        vf w, e;
        lane_weights(ew, p, n, swv, active, w, e);
        vf deriv, summed;  // summed: what the caller sums
        if (kReadAhead) {  // a prefetch never faults: it may look past the arrays' end
            prefetch_t0(x + p + kElementAhead);
            prefetch_t0(t + p + kElementAhead);
        }
        const vf xv = load_n(x + p, n, zero()), tv = load_n(t + p, n, zero());
        vf term;
        if (decltype(checked)::value) {
            term = weighted_terms(loss, xv, tv, cwv, w, active, bound, sum, nonfinite, deriv, summed);
        } else {
            term = weighted_terms_unchecked(loss, xv, tv, cwv, w, active, deriv);
            summed = term;
        }
        if (per_term) store_n(per_term + p, n, term);
        if (!g) return summed;
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
            // a whole vector of a row: the row's factor, formed once per row
            vf factor = decltype(live_row)::value ? row_factor : sw ? mul(vgf, swv) : vgf;
            if (up) factor = mul(factor, u);
            if (ew) factor = mul(factor, e);
            gv = mul(factor, deriv);
            if (decltype(path)::value == kChecked) {
                const vmask parts = mask_and(mask_and(neq(swv, zero()), neq(u, zero())), neq(e, zero()));
                if (any(factor_left_floats(factor, mask_and(active, parts)))) gv = in_double_lanes();
            }
        }
        store_n(g + p, n, select(active, gv, zero()));
        return summed;
    };
    auto sample_weight = [&](int64_t row) { return sw && row < row_end ? sw[row * stride] : 1.0f; };
    // Whether the runs of whole vectors inside a row test their terms once, by their float sum,
    // instead of vector by vector: for losses whose arithmetic makes the test per vector costly
    // (BCE 512 x 100 in cache: ~6 % with AVX2 on an Intel Xeon; MSE's runs were slower so), in rows
    // of at least 4 vectors (BCE 409600 x 16 with AVX2, runs of one vector: 1.05 slower), and only
    // where no output overlaps an input that a run done again would read (a gradient in place).
    auto outputs_apart = [&] {
        for (const float* out : {(const float*)g, (const float*)per_term})
            for (const float* in : {x, t, ew, up})
                if (out && in && !disjoint(out, in, elements)) return false;
        return true;
    };
    const bool test_per_run = Loss::kTermsTestedPerRun && k >= 4 * kLanes && outputs_apart();
    auto sweep = [&](auto path) FL_INLINE_LAMBDA {
        if constexpr (Short) {
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
                sum.add(body(p, n, swv, cwv, vgf, path, std::false_type{}, std::true_type{}));
                c0 += rem;
                row += q;
                if (c0 >= k) {
                    c0 -= k;
                    ++row;
                }
            }
        } else {
            alignas(64) float colw_twice[2 * (kFlatRowMax > 0 ? kFlatRowMax : 1)];
            if (colw)
                for (int64_t c = 0; c < 2 * k; ++c) colw_twice[c] = colw[c < k ? c : c - k];
            auto column_weights = [&](int64_t c0) FL_INLINE_LAMBDA { return colw ? load(colw_twice + c0) : set1(1.0f); };
            int64_t row = row_begin, c0 = 0, p = 0;  // a vector's row, its first lane's column, its offset
            float sw_row = sample_weight(row), sw_next = sample_weight(row + 1);
            vf row_part = zero();  // the current row's float sums, lane by lane
            while (p < elements) {
                const vf sw_vec = set1(sw_row), row_factor = set1((float)gf * sw_row);
                if (sw_row == sw_row) {  // the whole vectors inside the row
                    bool each_vector = !test_per_run;
                    if (test_per_run) {  // their float sum tested once against the bound
                        const int64_t c0_run = c0, p_run = p;
                        const vf part_run = row_part;
                        for (; k - c0 > kLanes; c0 += kLanes, p += kLanes)
                            row_part = add(row_part, body(p, kLanes, sw_vec, column_weights(c0), row_factor, path,
                                                          std::true_type{}, std::false_type{}));
                        if (!all(lt(abs(row_part), bound))) {  // a NaN, infinite or huge term: again
                            c0 = c0_run;
                            p = p_run;
                            row_part = part_run;
                            each_vector = true;
                        }
                    }
                    if (each_vector)
                        for (; k - c0 > kLanes; c0 += kLanes, p += kLanes)
                            row_part = add(row_part, body(p, kLanes, sw_vec, column_weights(c0), row_factor, path,
                                                          std::true_type{}, std::true_type{}));
                } else {  // a missing sample weight masks the row: zeros
                    for (; k - c0 > kLanes; c0 += kLanes, p += kLanes) {
                        if (g) store(g + p, zero());
                        if (per_term) store(per_term + p, zero());
                    }
                }
                // the vector where the row ends: lanes [0, left) the row's, the rest the next row's
                const int left = (int)(k - c0), n = elements - p < kLanes ? (int)(elements - p) : kLanes;
                const vmask current = first_n(left);
                const vf swv = left < kLanes ? select(current, sw_vec, set1(sw_next)) : sw_vec;
                const vf term = body(p, n, swv, column_weights(c0), vgf, path, std::false_type{}, std::true_type{});
                sum.add(add(row_part, select(current, term, zero())));
                row_part = select(current, zero(), term);
                p += kLanes;
                c0 += kLanes - k;
                ++row;
                sw_row = sw_next;
                sw_next = sample_weight(row + 1);
            }
        }
    };
    // Whether every row's factor grad_factor * sw is a normal float (or 0, or a masked row's): then
    // the vectors need no check for sample weights alone. Mid rows only: for short rows this
    // would be a scalar pass over as many weights as elements.
    auto row_factors_fit = [&] {
        if (Short) return !sw;
        int64_t r = row_begin;
        if (sw && stride == 1) {  // a vector at a time (scalar: 2-4 % of MSE 65536 x 100, Intel Xeon)
            vmask misfit = no_lanes();
            for (; r + kLanes <= row_end; r += kLanes) {
                const vf s = load(sw + r), f = abs(mul(vgf, s));
                const vmask fits = mask_and(ge(f, set1(FLT_MIN)), le(f, set1(FLT_MAX)));
                misfit = mask_or(misfit, mask_andnot(fits, mask_and(neq(s, zero()), eq(s, s))));
            }
            if (any(misfit)) return false;
        }
        for (; sw && r < row_end; ++r) {
            const float s = sw[r * stride], f = fabsf((float)gf * s);
            if (s != 0.0f && s == s && !(f >= FLT_MIN && f <= FLT_MAX)) return false;
        }
        return true;
    };
    if (wide)
        sweep(std::integral_constant<int, kWide>{});
    else if (up || ew || !row_factors_fit())
        sweep(std::integral_constant<int, kChecked>{});
    else
        sweep(std::integral_constant<int, kFloat>{});
    out->sum = sum.total();
    out->nonfinite = nonfinite;
}

// The rows [row_begin, row_end) of a block: up to kFlatRowMax columns as one flat run, longer rows
// one by one.
template <class Loss>
inline void elementwise_rows(const fl::ElementwiseArgs& a, const Loss& loss, int64_t row_begin,
                             int64_t row_end, fl::BlockSum* out) {
    // the read-ahead a compiled choice: a test per vector cost the loop up to 6 % where it was off
    if (a.k <= kLanes && a.read_ahead)
        elementwise_flat_rows<Loss, true, true>(a, loss, row_begin, row_end, out);
    else if (a.k <= kLanes)
        elementwise_flat_rows<Loss, true, false>(a, loss, row_begin, row_end, out);
    else if (a.k <= kFlatRowMax && a.read_ahead)
        elementwise_flat_rows<Loss, false, true>(a, loss, row_begin, row_end, out);
    else if (a.k <= kFlatRowMax)
        elementwise_flat_rows<Loss, false, false>(a, loss, row_begin, row_end, out);
    else
        elementwise_long_rows(a, loss, row_begin, row_end, out);
}

// softplus(x) and softplus(-x) from the shared sigmoid pieces: max(+-x, 0) + log1p(exp(-|x|)).
// a * b, but 0 where a == 0 even for an infinite b: a target of exactly 0 (or 1) takes no part
// of the other side's softplus, so x = -inf with t = 0 gives 0, not 0 * inf = NaN.
FL_INLINE vf times_unless_zero(vf a, vf b) { return select(eq(a, zero()), zero(), mul(a, b)); }
// A term and its derivative times a class weight or alpha factor: a factor of 0 drops the term,
// NaN or infinite predictions included (SEMANTICS.md), in the loss and in the gradient.
FL_INLINE void weigh_unless_zero(vf factor, vf& term, vf& deriv) {
    term = times_unless_zero(factor, term);
    deriv = times_unless_zero(factor, deriv);
}
FL_INLINE vf softplus_pos(vf x, const Sigmoid& sg) { return add(max(x, zero()), sg.log1p_e); }
FL_INLINE vf softplus_neg(vf x, const Sigmoid& sg) { return add(max(sub(zero(), x), zero()), sg.log1p_e); }

}  // namespace FL_NS
