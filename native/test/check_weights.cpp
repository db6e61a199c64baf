// native_check's weight-pass checks: fl_weight_sums against a double loop, bad values, threads.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "native_check.h"

namespace fl_check {
namespace {

// ------------------------------------------------------------------------------ weight pass
// fl_weight_sums against a double loop written from its definition in fusedloss.h.
struct WeightCase {
    int64_t n = 1, c = 1, stride = 1;
    bool labels = false, class_weights = false, sample_weights = false, element_weights = false;
    bool elementwise = false;  // an element-wise loss: cols terms per row (with or without element weights)
    int32_t ignore_index = -100;
    std::vector<int32_t> y;
    std::vector<float> cw, sw, ew;
    std::string describe() const {
        char b[200];
        snprintf(b, sizeof b, "weight pass n=%lld c=%lld labels=%d cw=%d sw=%d stride=%lld ew=%d elementwise=%d "
                 "ignore=%d", (long long)n, (long long)c, labels, class_weights, sample_weights, (long long)stride,
                 element_weights, elementwise, ignore_index);
        return b;
    }
    // r: {weight sum, counted, masked}
    int call(double* r) const {
        fl_request q{};
        q.loss = elementwise ? FL_MEAN_SQUARED_ERROR : labels ? FL_CROSS_ENTROPY : FL_CROSS_ENTROPY_DENSE;
        q.rows = n;
        q.cols = c;
        q.labels = labels ? y.data() : nullptr;
        q.ignore_index = ignore_index;
        q.sample_weights = sample_weights ? sw.data() : nullptr;
        q.sample_weight_stride = stride;
        q.element_weights = element_weights ? ew.data() : nullptr;
        q.reduction = FL_MEAN;
        q.denominator = -1.0;
        q.options.cross_entropy.class_weights = class_weights ? cw.data() : nullptr;
        double res[FL_RESULT_DOUBLES];
        const int rc = fl_weight_sums(&q, res);
        if (rc == 0) {
            r[0] = res[FL_R_WEIGHT_SUM];
            r[1] = res[FL_R_COUNTED];
            r[2] = res[FL_R_MASKED];
        }
        return rc;
    }
};

WeightCase random_weight_case(int64_t n, int64_t c, bool elements, Rng& rng) {
    WeightCase w;
    w.n = n;
    w.c = c;
    w.element_weights = elements;
    w.labels = !elements && rng.chance(0.7);
    w.elementwise = elements || (!w.labels && rng.chance(0.5));
    w.class_weights = w.labels && rng.chance(0.6);
    w.sample_weights = elements ? rng.chance(0.6) : rng.chance(0.8);
    w.stride = rng.chance(0.3) ? 3 : 1;
    w.ignore_index = rng.chance(0.5) ? -100 : (int32_t)rng.below(c);
    const double nan_rate = rng.chance(0.5) ? 0.05 : 0.0;
    for (int64_t i = 0; i < n; ++i) w.y.push_back(rng.chance(0.1) ? w.ignore_index : (int32_t)rng.below(c));
    for (int64_t j = 0; j < c; ++j) w.cw.push_back(rng.range(0, 3));
    for (int64_t i = 0; i < n * w.stride; ++i) w.sw.push_back(rng.chance(nan_rate) ? NAN : rng.range(0, 2));
    if (elements)
        for (int64_t i = 0; i < n * c; ++i) w.ew.push_back(rng.chance(nan_rate) ? NAN : rng.range(0, 2));
    return w;
}

void weight_reference(const WeightCase& w, double* r) {
    double sum = 0;
    int64_t counted = 0, masked = 0;
    for (int64_t i = 0; i < w.n; ++i) {
        const double sw = w.sample_weights ? w.sw[i * w.stride] : 1.0;
        if (w.element_weights) {
            for (int64_t j = 0; j < w.c; ++j) {
                const double e = w.ew[i * w.c + j];
                if (sw != sw || e != e) {
                    ++masked;
                } else {
                    ++counted;
                    sum += sw * e;
                }
            }
            continue;
        }
        if (w.labels && w.y[i] == w.ignore_index) continue;
        const int64_t terms = w.elementwise ? w.c : 1;  // an element-wise row without element weights
        if (sw != sw) {
            masked += terms;
            continue;
        }
        counted += terms;
        sum += (w.class_weights ? (double)w.cw[w.y[i]] : 1.0) * sw * terms;
    }
    r[0] = sum;
    r[1] = (double)counted;
    r[2] = (double)masked;
}

}  // namespace

void check_weight_sums(Rng& rng, bool quick) {
    Options none;
    auto expect = [&](bool ok, const std::string& isa, const std::string& what) {
        ++g_checks;
        if (!ok) failure(none, isa, what);
    };
    std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1}, {7, 3}, {8, 10}, {9, 1}, {33, 17},
                                                       {1000, 5}, {40000, 3}, {70001, 2}};
    for (const std::string& isa : g_isas) {
        fl_set_isa(isa.c_str());
        for (auto [n, c] : shapes)
            for (bool elements : {false, true})
                for (int k = 0; k < (quick ? 2 : 4); ++k) {
                    const WeightCase w = random_weight_case(n, elements && n > 1000 ? 7 : c, elements, rng);
                    double got[3] = {-1, -1, -1}, want[3];
                    weight_reference(w, want);
                    const int rc = w.call(got);
                    const bool ok = rc == 0 && got[1] == want[1] && got[2] == want[2] &&
                                    fabs(got[0] - want[0]) <= 1e-12 * fabs(want[0]);
                    char msg[300];
                    snprintf(msg, sizeof msg, "%s: rc %d, got {%.17g, %g, %g}, want {%.17g, %g, %g}",
                             w.describe().c_str(), rc, got[0], got[1], got[2], want[0], want[1], want[2]);
                    expect(ok, isa, msg);
                    // one bad value, anywhere: a label, a negative or infinite weight
                    WeightCase bad = w;
                    const int64_t at = rng.below(n);
                    int want_rc = FL_ERR_ARGUMENT;
                    const int kind = (int)rng.below(3);
                    if (kind == 0 && bad.labels) {
                        bad.y[at] = rng.chance(0.5) ? (int32_t)c : -1 - (int32_t)rng.below(5);
                        if (bad.y[at] == bad.ignore_index) bad.y[at] = (int32_t)c;
                        want_rc = FL_ERR_LABEL;
                    } else if (kind == 1 && bad.element_weights) {
                        bad.ew[at * c + rng.below(c)] = rng.chance(0.5) ? -0.5f : INFINITY;
                    } else {
                        bad.sample_weights = true;
                        bad.sw[at * bad.stride] = rng.chance(0.5) ? -1e-3f : INFINITY;
                    }
                    const int bad_rc = bad.call(got);
                    expect(bad_rc == want_rc, isa, bad.describe() + ": a bad value at row " + std::to_string(at) +
                                                       " gives rc " + std::to_string(bad_rc) + ", want " +
                                                       std::to_string(want_rc));
                }
        // thread counts: large enough for the workers, bit-identical sums
        const WeightCase big = random_weight_case(3000, 700, true, rng);
        double base[3];
        fl_set_threads(1);
        big.call(base);
        for (int threads : {2, 3}) {
            fl_set_threads(threads);
            double r[3];
            big.call(r);
            expect(memcmp(r, base, sizeof r) == 0, isa,
                   "weight pass differs with " + std::to_string(threads) + " threads");
        }
        fl_set_threads(2);
    }
    double r[FL_RESULT_DOUBLES];
    fl_request q{};
    q.loss = FL_CROSS_ENTROPY_DENSE;
    q.rows = 2;
    q.cols = 3;
    q.reduction = FL_MEAN;
    q.denominator = -1.0;
    expect(fl_weight_sums(&q, nullptr) == FL_ERR_ARGUMENT, "api", "fl_weight_sums without result fails");
    q.loss = FL_CROSS_ENTROPY;
    expect(fl_weight_sums(&q, r) == FL_ERR_ARGUMENT, "api", "a loss with labels but no labels fails");
    q.loss = FL_CROSS_ENTROPY_DENSE;
    q.rows = 0;
    expect(fl_weight_sums(&q, r) == 0 && r[FL_R_WEIGHT_SUM] == 0 && r[FL_R_COUNTED] == 0 && r[FL_R_MASKED] == 0 &&
               r[FL_R_DENOMINATOR] == 0,
           "api", "n = 0 is an empty sum");
}

}  // namespace fl_check
