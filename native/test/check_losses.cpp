// native_check's loss checks: each case on every ISA against the double reference and against
// the scalar result, over shapes, options and special values.
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>

#include "native_check.h"

namespace fl_check {
namespace {

fl_loss abi_loss(const Options& o) {
    switch (o.loss) {
        case CE: return o.dense ? FL_CROSS_ENTROPY_DENSE : FL_CROSS_ENTROPY;
        case SOFTMAX_FOCAL: return FL_SOFTMAX_FOCAL;
        case BCE: return FL_BINARY_CROSS_ENTROPY;
        case MSE: return FL_MEAN_SQUARED_ERROR;
        default: return FL_SIGMOID_FOCAL;
    }
}

const float* opt(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

// One call as a request: SUM with o.scale as the gradient scale, so the gradient factor is o.scale.
fl_request request(const Options& o, const Data& d, const float* x, float* g, float* pt) {
    fl_request r{};
    r.loss = abi_loss(o);
    r.rows = o.n;
    r.cols = o.c;
    r.predictions = x;
    const bool labels = is_softmax(o.loss) && !o.dense;
    r.labels = labels ? d.labels.data() : nullptr;
    r.ignore_index = kIgnore;
    r.targets = labels ? nullptr : d.t.data();
    r.sample_weights = opt(d.sw);
    r.sample_weight_stride = o.stride;
    r.element_weights = opt(d.ew);
    r.upstream = opt(d.up);
    r.gradient = g;
    r.per_term = pt;
    r.reduction = FL_SUM;
    r.gradient_scale = o.scale;
    r.denominator = 1.0;
    switch (o.loss) {
        case CE: r.options.cross_entropy = {opt(d.cw), o.eps, o.z_loss, o.cap}; break;
        case SOFTMAX_FOCAL: r.options.softmax_focal = {opt(d.cw), o.gamma}; break;
        case BCE: r.options.binary_cross_entropy = {opt(d.cw), opt(d.bcw)}; break;
        case SIGMOID_FOCAL: r.options.sigmoid_focal = {o.alpha, o.gamma}; break;
        default: break;
    }
    return r;
}

}  // namespace

Result call(const Options& o, const Data& d, int offset_bytes, int past_logits) {
    Result r;
    const int64_t nc = o.n * o.c;
    std::vector<float> grad_buf;
    std::vector<float> logits_copy;
    const float* x = d.x.data();
    float* g = nullptr;
    if (o.in_place) {
        logits_copy = d.x;
        x = logits_copy.data();
        g = logits_copy.data();
    } else if (o.grad && past_logits >= 0) {
        grad_buf.assign(nc + 1024, 12345.0f);
        g = grad_buf.data();
        while (((uintptr_t)g - (uintptr_t)x) % 4096 != (uintptr_t)past_logits % 4096) ++g;
    } else if (o.grad) {
        grad_buf.assign(nc + offset_bytes / 4 + 1, 12345.0f);
        g = (float*)((char*)grad_buf.data() + offset_bytes);
    }
    std::vector<float> term;
    if (o.per_term) term.assign(is_softmax(o.loss) ? o.n : nc, 777.0f);
    float* pt = o.per_term ? term.data() : nullptr;
    const fl_request q = request(o, d, x, g, pt);
    double res[FL_RESULT_DOUBLES];
    r.rc = fl_compute(&q, res);
    r.res[0] = res[FL_R_LOSS_SUM];
    r.res[1] = res[FL_R_NONFINITE];
    if (g) {  // memcpy: g may be misaligned
        r.grad.resize(nc);
        memcpy(r.grad.data(), g, (size_t)nc * sizeof(float));
    }
    r.term = term;
    return r;
}

namespace {

// ------------------------------------------------------------------------------ comparisons
// Compares a result with expected values (the reference, or another ISA's result as doubles).
void compare(const Options& o, const std::string& isa, const Result& got, const Output& want) {
    ++g_checks;
    char msg[256];
    if (got.rc != 0) {
        snprintf(msg, sizeof msg, "rc=%d (%s)", got.rc, fl_last_error());
        return failure(o, isa, msg);
    }
    const int64_t rows = o.n, per_row = is_softmax(o.loss) ? 1 : o.c;
    // result[1]: the count of non-finite terms must match exactly
    if ((int64_t)got.res[1] != want.nonfinite) {
        snprintf(msg, sizeof msg, "nonfinite count %g, expected %lld", got.res[1], (long long)want.nonfinite);
        return failure(o, isa, msg);
    }
    // result[0]
    double abs_sum = 0, floors = 0;
    for (double t : want.term)
        if (std::isfinite(t)) abs_sum += fabs(t);
    for (double f : want.floor) floors += f;
    // softmax rows: the same ~1e-16 absolute floor per row as for the terms below
    const double sum_floor = (is_softmax(o.loss) ? 1e-14 * (double)o.n : 1e-30) + floors;
    if (std::isfinite(want.sum) != std::isfinite(got.res[0]) ||
        (std::isfinite(want.sum) && fabs(got.res[0] - want.sum) > kTol * abs_sum + sum_floor)) {
        snprintf(msg, sizeof msg, "sum %.9g, expected %.9g", got.res[0], want.sum);
        return failure(o, isa, msg);
    }
    // per-term relative error
    if (o.per_term) {
        for (int64_t i = 0; i < (int64_t)want.term.size(); ++i) {
            const double w = want.term[i], g = got.term[i];
            if (!std::isfinite(w)) {
                if (std::isfinite(g)) {
                    snprintf(msg, sizeof msg, "term %lld = %g, expected %g", (long long)i, g, w);
                    return failure(o, isa, msg);
                }
                continue;
            }
            // softmax terms: log S in double has an absolute error of ~1e-16 (S is near 1 for a
            // confident row, in the reference too), so terms below ~1e-11 get an absolute floor
            const double floor = (is_softmax(o.loss) ? 1e-14 : 1e-36) + (want.floor.empty() ? 0.0 : want.floor[i]);
            const double err = fabs(g - w), tol = kTol * fabs(w) + floor;
            if (!(err <= tol)) {
                snprintf(msg, sizeof msg, "term %lld = %.9g, expected %.9g", (long long)i, g, w);
                return failure(o, isa, msg);
            }
            if (kTol * fabs(w) > 10 * floor && err / fabs(w) > g_worst_term) {
                g_worst_term = err / fabs(w);
                g_worst_term_case = isa + " " + o.describe();
            }
        }
    }
    // gradient norm, over the terms whose expected value is finite
    if (o.grad || o.in_place) {
        double diff = 0, norm = 0;
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t jt = 0; jt < per_row; ++jt) {
                const int64_t term_at = i * per_row + jt;
                if (!std::isfinite(want.term[term_at])) continue;
                const int64_t j0 = is_softmax(o.loss) ? i * o.c : term_at;
                const int64_t j1 = is_softmax(o.loss) ? j0 + o.c : j0 + 1;
                // a zero-weight term can be finite (0) over a non-finite gradient (NaN logits)
                bool finite_grad = true;
                for (int64_t j = j0; j < j1; ++j) finite_grad = finite_grad && std::isfinite(want.grad[j]);
                if (!finite_grad) continue;
                for (int64_t j = j0; j < j1; ++j) {
                    const double e = (double)got.grad[j] - want.grad[j];
                    diff += e * e;
                    norm += want.grad[j] * want.grad[j];
                }
            }
        diff = sqrt(diff);
        norm = sqrt(norm);
        // a gradient that cancels to ~0 (C = 1, dense one-hot on a certain class) is compared with
        // an absolute floor of float rounding on O(1) terms
        const double floor = 2e-6 * sqrt((double)got.grad.size()) * fabs(o.scale);
        if (!(diff <= kTol * norm + floor)) {
            snprintf(msg, sizeof msg, "gradient error %g relative to norm %g", diff, norm);
            return failure(o, isa, msg);
        }
        if (kTol * norm > 10 * floor && diff / norm > g_worst_grad) {
            g_worst_grad = diff / norm;
            g_worst_grad_case = isa + " " + o.describe();
        }
    }
}

Output as_output(const Options& o, const Result& r, const Output& ref) {
    Output out;
    out.sum = r.res[0];
    out.nonfinite = (int64_t)r.res[1];
    out.term = ref.term;  // keep the reference's finite mask; values from r where present
    out.floor = ref.floor;
    if (o.per_term)
        for (size_t i = 0; i < out.term.size(); ++i) out.term[i] = r.term[i];
    out.grad.assign(r.grad.begin(), r.grad.end());
    return out;
}

// Runs a case on every ISA, compares each with the reference and with the scalar result.
void run_case(const Options& o, Rng& rng) {
    const Data d = make_data(o, rng);
    const Output want = reference(o, d);
    Result scalar;
    for (const std::string& isa : g_isas) {
        fl_set_isa(isa.c_str());
        const Result got = call(o, d);
        compare(o, isa, got, want);
        if (isa == "scalar") {
            scalar = got;
        } else if (got.rc == 0 && scalar.rc == 0) {
            // the scalar result, as the expectation (finite masks from the reference)
            Output s = as_output(o, scalar, want);
            if (!o.grad && !o.in_place) s.grad.clear();
            Options oo = o;
            compare(oo, isa + " vs scalar", got, s);
        }
    }
}

}  // namespace

// Shapes: every C in 1..33 and around the powers of two, N = 1, 2, 7, 33.
void check_small_shapes(Rng& rng, bool quick) {
    std::vector<int64_t> cs;
    for (int64_t c = 1; c <= 33; ++c) cs.push_back(c);
    for (int64_t c : {127, 128, 129, 255, 256, 257, 1023, 1024, 1025}) cs.push_back(c);
    std::vector<int64_t> ns = {1, 2, 7, 33};
    const int per_shape = quick ? 2 : 5;
    for (int li = CE; li <= SIGMOID_FOCAL; ++li) {
        const Loss loss = (Loss)li;
        for (int64_t n : ns)
            for (int64_t c : cs) {
                if (quick && c > 33 && n > 7) continue;
                for (int k = 0; k < per_shape; ++k) run_case(random_options(loss, n, c, rng, k == 0), rng);
                // special values
                for (Special sp : {NEG_INF, HUGE_1E30, NAN_LOGIT, POS_INF}) {
                    if (quick && c % 4 != 1) break;
                    if (sp == NEG_INF && !is_softmax(loss)) continue;
                    if (sp == HUGE_1E30 && loss == MSE) continue;  // (1e30)^2 overflows float
                    Options o = random_options(loss, n, c, rng, false);
                    o.special = sp;
                    if (sp == HUGE_1E30) o.z_loss = 0;  // z * (1e30)^2 is no float
                    run_case(o, rng);
                }
            }
    }
}

// The short-row paths (C <= 64 with class indices, C <= 32 with dense targets; cross-entropy with
// no smoothing, cap or z-loss; softmax focal with gamma 0..4: the row math across the lanes):
// every C up to 33 and C around 48 and 64 (SmallRows' two sizes), row counts around the lane
// counts and odd, every special value, in place, weights with NaN, strided sample weights.
void check_short_rows(Rng& rng, bool quick) {
    std::vector<int64_t> cs;
    for (int64_t c = 1; c <= 33; ++c) cs.push_back(c);
    for (int64_t c : {40, 47, 48, 49, 63, 64, 65}) cs.push_back(c);
    for (int64_t c : cs)
        for (int64_t n : {1, 7, 15, 16, 17, 33, 63, 65, 1001}) {
            if (quick && n > 17 && n != 1001 && c % 3) continue;
            for (int k = 0; k < (quick ? 2 : 4); ++k) {
                Options o = random_options(CE, n, c, rng, k == 0);
                o.dense = k % 2 == 1;  // the dense-target short-row path too
                o.eps = 0;
                o.cap = 0;
                o.z_loss = 0;
                o.special = k == 0 ? NONE : (Special)rng.below(5);
                run_case(o, rng);
                // softmax focal's short-row path: integral gamma 0..4
                Options f = random_options(SOFTMAX_FOCAL, n, c, rng, k == 0);
                f.gamma = (float)rng.below(5);
                f.special = o.special;
                run_case(f, rng);
            }
        }
}

Options single_sweep(int64_t n, int64_t c, bool all_on, Rng& rng) {
    Options o = random_options(CE, n, c, rng, all_on);
    o.dense = false;
    o.eps = 0;
    o.cap = 0;
    return o;
}

// Large rows: vocabulary sizes, fewer combinations.
void check_large_rows(Rng& rng, bool quick) {
    std::vector<int64_t> big = {4097, 32000, 128256};
    if (!quick) big.push_back(262144);
    for (int64_t c : big)
        for (int li = CE; li <= SIGMOID_FOCAL; ++li) {
            const int64_t n = c > 100000 ? 2 : 3;
            const int combos = quick ? 1 : 3;
            for (int k = 0; k < combos; ++k) run_case(random_options((Loss)li, n, c, rng, k == 0), rng);
            if (is_softmax((Loss)li)) {
                Options o = random_options((Loss)li, n, c, rng, false);
                o.special = c % 2 ? NEG_INF : HUGE_1E30;
                o.z_loss = 0;
                run_case(o, rng);
            }
        }
    // Long rows, several to a row block: CE (class indices, no smoothing, no cap) writes a row's
    // gradient during the next row's pass 1. An odd C moves each gradient row's alignment, and
    // 160 x 32001 is large enough for non-temporal stores; 1e30 makes pass 1 redo a chunk.
    const std::vector<std::pair<int64_t, int64_t>> long_rows = {{70, 4097}, {160, 32001}};
    for (auto [n, c] : long_rows)
        for (int k = 0; k < 3; ++k) {
            Options o = single_sweep(n, c, k == 0, rng);
            if (k > 0) o.special = k == 1 ? NEG_INF : HUGE_1E30;
            o.in_place = k == 1;  // a row's gradient over its logits, the next row's still to read
            if (o.in_place) o.grad = true;
            if (o.special == HUGE_1E30) o.z_loss = 0;
            run_case(o, rng);
        }
}

namespace {

// Weights rounded to 1/64 (NaN, a missing weight, kept), so that scaled by a power of two, even
// into the subnormals, they stay exact.
void round_to_64ths(std::vector<float>& weights) {
    for (float& w : weights)
        if (w == w) w = roundf(w * 64) / 64;
}

// A call whose weights and scale were scaled by powers of two against the same call unscaled:
// its gradient must be the unscaled one times 2^shift, to `tolerance` of the gradient's norm.
void check_scaled_gradient(const Options& o, const std::string& isa, const Result& want, const Result& got,
                           int shift, const std::string& what, double tolerance = 1e-6) {
    double diff = 0, norm = 0;
    for (size_t j = 0; j < want.grad.size(); ++j) {
        const double e = ldexp((double)got.grad[j], -shift) - want.grad[j];
        if (std::isfinite(want.grad[j])) {
            diff += e * e;
            norm += (double)want.grad[j] * want.grad[j];
        }
    }
    ++g_checks;
    if (!(sqrt(diff) <= tolerance * sqrt(norm) + 1e-30))
        failure(o, isa, what + ": gradient error " + std::to_string(sqrt(diff)) + " of " + std::to_string(sqrt(norm)));
}

}  // namespace

// Weights that scale out: element weights (element-wise losses) or class weights (cross-entropy
// with smoothing or dense targets) times 2^-140 and the gradient scale times 2^140 give the same
// gradient. 2^140 is beyond float range, so the kernels must keep that factor in double until it
// meets the weight (in_double); a float factor was infinite. The weights are rounded to 1/64 first,
// so that times 2^-140 (subnormal) they are still exact.
void check_scale_out(Rng& rng) {
    const double k = ldexp(1.0, 140);
    for (int li = CE; li <= SIGMOID_FOCAL; ++li) {
        if (li == SOFTMAX_FOCAL) continue;  // alpha meets its factor in double already
        for (int64_t c : {1, 7, 33, 300}) {
            Options o = random_options((Loss)li, 5, c, rng, false);
            o.grad = true;
            o.in_place = false;
            o.special = NONE;
            if (li == CE) {
                o.class_weights = true;
                if (!o.dense && o.eps == 0) o.eps = 0.5f;
                if (o.dense) o.z_loss = 0;  // weighted by 1, not by the class weights: it does not scale out
            } else {
                o.element_weights = true;
            }
            Data d = make_data(o, rng);
            round_to_64ths(li == CE ? d.cw : d.ew);
            Options big = o;
            big.scale = o.scale * k;
            Data tiny = d;
            for (float& w : li == CE ? tiny.cw : tiny.ew) w = (float)(w / k);
            for (const std::string& isa : g_isas) {
                fl_set_isa(isa.c_str());
                check_scaled_gradient(o, isa, call(o, d), call(big, tiny), 0,
                                      "weights x 2^-140 with the gradient scale x 2^140");
            }
        }
    }
}

// Short rows (class indices, up to 64 classes) whose factors leave the range where their product
// may be formed in float, scaled by powers of two that the gradient must show exactly:
// - sample weights x 2^-135 (subnormal), class weights (CE) or alpha (softmax focal) x 2^125 and
//   the gradient scale x 2^-10: in float, scale x sample weight would be deeply subnormal;
// - sample and class weights x 2^29 (in range) and the gradient scale x 2^-140: no normal float.
// Such batches form the product in double. The weights are rounded to 1/64 first, so that scaled
// they are still exact.
void check_short_row_weights(Rng& rng) {
    struct Scaling {
        int sw, cw, scale;  // powers of two
        const char* what;
    };
    const Scaling scalings[] = {{-135, 125, -10, "sample weights x 2^-135, class weights x 2^125, scale x 2^-10"},
                                {29, 29, -140, "sample and class weights x 2^29, scale x 2^-140"}};
    for (const Scaling& sc : scalings)
        for (int li = CE; li <= SOFTMAX_FOCAL; ++li)
            for (int64_t c : {2, 7, 10, 33, 64}) {
                Options o = random_options((Loss)li, 37, c, rng, false);
                o.grad = true;
                o.in_place = false;
                o.special = NONE;
                o.sample_weights = true;
                o.class_weights = true;
                o.dense = false;  // class indices, no smoothing, cap or z-loss: the short rows' path
                o.eps = o.z_loss = o.cap = 0;
                if (li == SOFTMAX_FOCAL) o.gamma = 2;
                Data d = make_data(o, rng);
                round_to_64ths(d.sw);
                round_to_64ths(d.cw);
                Options scaled = o;
                scaled.scale = ldexp(o.scale, sc.scale);
                Data extreme = d;
                for (float& w : extreme.sw) w = (float)ldexp(w, sc.sw);
                for (float& w : extreme.cw) w = (float)ldexp(w, sc.cw);
                const int shift = sc.sw + sc.cw + sc.scale;  // the gradient's
                for (const std::string& isa : g_isas) {
                    fl_set_isa(isa.c_str());
                    check_scaled_gradient(o, isa, call(o, d), call(scaled, extreme), shift, sc.what);
                }
            }
}

// Element-wise rows whose factor gradient scale x sample weight is no normal float while the
// gradient is: MSE with predictions and targets x 2^50 (the derivative 2 (x - t) x 2^50), sample
// weights x 2^-80 and the scale x 2^-60 (within 2^+-64, so not the wide path of the whole call):
// scale x weight is near 2^-140 (subnormal) and the gradient the unscaled one x 2^-90. The flat
// rows test every row's factor before they take the float path (row_factors_fit, a vector at a
// time for contiguous weights); a factor formed in float loses about 2^-9 of the gradient. Powers
// of two, with weights rounded to 1/64: every scaling is exact.
void check_row_factor_range(Rng& rng) {
    for (int64_t n : {48, 37})  // 48: whole vectors of weights only, no scalar rest to catch a misfit
        for (int64_t c : {1, 7, 33, 100, 300})
            for (int64_t stride : {1, 3}) {
                Options o = random_options(MSE, n, c, rng, false);
                o.grad = true;
                o.in_place = false;
                o.special = NONE;
                o.sample_weights = true;
                o.stride = stride;
                o.element_weights = o.upstream = false;  // those take the checked path anyway
                Data d = make_data(o, rng);
                round_to_64ths(d.sw);
                Options scaled = o;
                scaled.scale = ldexp(o.scale, -60);
                Data extreme = d;
                for (float& v : extreme.x) v = ldexpf(v, 50);
                for (float& v : extreme.t) v = ldexpf(v, 50);
                for (float& w : extreme.sw) w = ldexpf(w, -80);
                for (const std::string& isa : g_isas) {
                    fl_set_isa(isa.c_str());
                    check_scaled_gradient(o, isa, call(o, d), call(scaled, extreme), -90,
                                          "MSE, x and t x 2^50, sample weights x 2^-80, scale x 2^-60");
                }
            }
}

// Soft-capped cross-entropy rows whose gradient scale brings the largest gradient element near
// float's maximum: the row's coefficient then exceeds it (dz/dx = 1 - (z / cap)^2 is small where
// z nears the cap), so the difference p Q - q must meet dz/dx in double, not be rounded to float
// (infinite) first. The scaled gradient must be the unscaled one times 2^shift.
void check_capped_scale_up(Rng& rng) {
    for (bool dense : {false, true})
        for (int64_t c : {7, 33, 300}) {
            Options o = random_options(CE, 5, c, rng, false);
            o.dense = dense;
            o.cap = 1.0f;
            o.grad = true;
            o.in_place = false;
            o.special = NONE;
            Data d = make_data(o, rng);
            for (float& x : d.x) x *= 8;  // z close to the cap: dz/dx far below 1
            for (const std::string& isa : g_isas) {
                fl_set_isa(isa.c_str());
                const Result want = call(o, d);
                double largest = 0;
                for (float g : want.grad) largest = std::max(largest, fabs((double)g));
                if (!(largest > 0)) continue;
                const int shift = (int)floor(log2(FLT_MAX / largest)) - 1;
                Options big = o;
                big.scale = ldexp(o.scale, shift);
                // the contract's 1e-5, not 1e-6: unscaled, p Q - q is formed in float, scaled (a
                // coefficient beyond float range) in double, and where the two nearly cancel the
                // float one is off by more (seed 1190818987: 1.4e-6 of the norm)
                check_scaled_gradient(o, isa, want, call(big, d), shift, "capped rows, gradient near float's maximum",
                                      1e-5);
            }
        }
}

}  // namespace fl_check
