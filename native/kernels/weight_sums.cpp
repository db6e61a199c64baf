// The weight pass before every loss call (fl_weight_sums in fusedloss.h): checks labels and
// weights and sums the effective weights the MEAN reduction divides by. Compiled once per ISA:
// at small C this pass is a noticeable share of the whole call, so contiguous weights are read
// a vector at a time.
#include <string.h>

#include "kernels.h"
#include "simd.h"

namespace FL_NS {

using namespace simd;

namespace {

using fl::weight_ok;

// Lanes holding a bad weight: a number (not NaN) outside [0, FLT_MAX]; -0 is fine, it compares >= 0.
inline vmask bad_weights(vf w, vmask number) {
    return mask_andnot(mask_and(ge(w, zero()), le(w, set1(FLT_MAX))), number);
}

// Sums w[0, n) in double, NaN (missing) weights left out and counted. False at a bad weight.
bool sum_contiguous(const float* w, int64_t n, double& sum, int64_t& masked) {
    dacc acc;
    int64_t nan_lanes = 0;
    vmask bad = no_lanes();
    for_each_vector(0, n, [&](int64_t j, int len) FL_INLINE_LAMBDA {
        const vf v = load_n(w + j, len, zero());
        const vmask number = eq(v, v);
        bad = mask_or(bad, bad_weights(v, number));
        nan_lanes += count(mask_andnot(number, all_lanes()));
        acc.add(select(number, v, zero()));
    });
    if (any(bad)) return false;
    sum += acc.total();
    masked += nan_lanes;
    return true;
}

// Weights of the terms [begin, end) by weight_of(t): >= 0 when the term counts, -1 when it is
// ignored, NaN when masked, -2 when bad. Four partial sums (terms t mod 4, added in a fixed
// order), so that consecutive adds do not wait on each other. False at a bad term.
template <class WeightOf>
bool sum_terms(int64_t begin, int64_t end, WeightOf weight_of, double& sum, int64_t& masked,
               int64_t& ignored) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t m = 0, ig = 0, t = begin;
    for (; t + 4 <= end; t += 4) {
        const double w0 = weight_of(t), w1 = weight_of(t + 1), w2 = weight_of(t + 2), w3 = weight_of(t + 3);
        if (w0 < -1.5 || w1 < -1.5 || w2 < -1.5 || w3 < -1.5) return false;
        s0 += w0 >= 0.0 ? w0 : 0.0;
        s1 += w1 >= 0.0 ? w1 : 0.0;
        s2 += w2 >= 0.0 ? w2 : 0.0;
        s3 += w3 >= 0.0 ? w3 : 0.0;
        m += (w0 != w0) + (w1 != w1) + (w2 != w2) + (w3 != w3);
        ig += (w0 < 0.0) + (w1 < 0.0) + (w2 < 0.0) + (w3 < 0.0);
    }
    for (; t < end; ++t) {
        const double w = weight_of(t);
        if (w < -1.5) return false;
        s0 += w >= 0.0 ? w : 0.0;
        m += w != w;
        ig += w < 0.0;
    }
    sum += (s0 + s1) + (s2 + s3);
    masked += m;
    ignored += ig;
    return true;
}

// Labelled rows [r0, r1) a vector at a time, up to the last whole vector; r0 moves past them.
// Contiguous sample weights (or none) only. False at a bad label or weight.
bool labelled_rows(const fl::WeightArgs& a, int64_t& r0, int64_t r1, double& sum, int64_t& masked,
                   int64_t& ignored) {
    dacc acc;
    int64_t nan_lanes = 0, ignored_lanes = 0;
    vmask bad = no_lanes();
    const vi ignore = set1_i(a.ignore_index), minus_one = set1_i(-1), c = set1_i((int32_t)a.c);
    // Up to 16 classes: the class weights in a padded table, read by permutes (lookup16) instead of
    // a gather, which at small C was a large share of this pass.
    alignas(64) float cw_table[16] = {};
    const bool cw_in_table = a.class_weights && a.c <= 16;
    if (cw_in_table) memcpy(cw_table, a.class_weights, (size_t)a.c * sizeof(float));
    int64_t i = r0;
    for (; i + kLanes <= r1; i += kLanes) {
        const vi y = load_i(a.labels + i);
        const vmask skip = eq_i(y, ignore);
        const vmask in_range = mask_and(gt_i(y, minus_one), gt_i(c, y));
        const vf w = a.sample_weights ? load(a.sample_weights + i) : set1(1.0f);
        const vmask number = eq(w, w);
        // bad: a label neither ignored nor in [0, c), or a weight outside [0, FLT_MAX]
        bad = mask_or(bad, mask_andnot(mask_or(skip, in_range), all_lanes()));
        bad = mask_or(bad, bad_weights(w, number));
        const vmask live = mask_andnot(skip, in_range);
        const vmask counts = mask_and(live, number);
        ignored_lanes += count(skip);
        nan_lanes += count(mask_andnot(number, live));
        const vf cw = !a.class_weights ? set1(1.0f)
                      : cw_in_table ? select(counts, lookup16(cw_table, y), zero())
                                    : gather(a.class_weights, y, counts);
        acc.add_product(select(counts, w, zero()), cw);
    }
    if (any(bad)) return false;
    sum += acc.total();
    masked += nan_lanes;
    ignored += ignored_lanes;
    r0 = i;
    return true;
}

// Rows [r0, r1) of a row-wise batch: one term per row.
bool row_terms(const fl::WeightArgs& a, int64_t r0, int64_t r1, double& sum, int64_t& masked,
               int64_t& ignored) {
    if (!a.labels && !a.sample_weights) {  // every row counts, weight 1 (dense CE 65536 x 10: 6 % of the call)
        sum += (double)(r1 - r0);
        return true;
    }
    if (!a.labels && a.sample_weights && a.sample_weight_stride == 1)
        return sum_contiguous(a.sample_weights + r0, r1 - r0, sum, masked);
    if (a.labels && a.c <= INT32_MAX && (!a.sample_weights || a.sample_weight_stride == 1) &&
        !labelled_rows(a, r0, r1, sum, masked, ignored))
        return false;
    auto row_weight = [&](int64_t i) -> double {
        const float sw = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
        if (!weight_ok(sw)) return -2.0;
        if (!a.labels) return sw;
        const int32_t y = a.labels[i];
        if (y == a.ignore_index) return -1.0;
        if (y < 0 || (int64_t)y >= a.c) return -2.0;
        return a.class_weights ? (double)a.class_weights[y] * sw : (double)sw;
    };
    return sum_terms(r0, r1, row_weight, sum, masked, ignored);
}

}  // namespace

void weight_sums_rows(const fl::WeightArgs& a, int64_t r0, int64_t r1, fl::BlockSum* out) {
    double sum = 0.0;
    int64_t masked = 0, ignored = 0;
    if (!a.element_weights) {
        if (!row_terms(a, r0, r1, sum, masked, ignored)) {
            for (int64_t i = r0; i < r1; ++i) {  // find the first bad row
                double s = 0.0;
                int64_t m = 0, ig = 0;
                if (!row_terms(a, i, i + 1, s, m, ig)) {
                    out->first_bad = i;
                    return;
                }
            }
        }
    } else {
        // n x c terms, weight sw[i] * ew[i, j]: sw[i] times the row's sum of element weights
        for (int64_t i = r0; i < r1; ++i) {
            const float sw = a.sample_weights ? a.sample_weights[i * a.sample_weight_stride] : 1.0f;
            double row_sum = 0.0;
            int64_t row_masked = 0;
            if (!weight_ok(sw) || !sum_contiguous(a.element_weights + i * a.c, a.c, row_sum, row_masked)) {
                out->first_bad = i;
                return;
            }
            if (sw != sw) {  // a missing sample weight masks the whole row
                masked += a.c;
            } else {
                sum += (double)sw * row_sum;
                masked += row_masked;
            }
        }
    }
    out->sum = sum;
    out->nonfinite = masked;
    out->ignored = ignored;
}

}  // namespace FL_NS
