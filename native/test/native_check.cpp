// native_check: tests the native kernels against a plain double-precision reference written here
// straight from the formulas in fusedloss.h, and times them (--bench).
//
//   native_check [--quick] [--seed N]   correctness (every ISA this CPU runs), exit 1 on failure
//   native_check --bench [--quick] [--peers FILE]
//                                       timings at the PEERS.md shapes with the PEERS.md data
//                                       (bench/peers.txt)
//   native_check --floor                 the compute floor of each loss at those shapes, per ISA
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

#include <dirent.h>
#include <xmmintrin.h>

#include "compute_floor.h"
#include "fusedloss.h"
#include "peer_data.h"

namespace {

// ----------------------------------------------------------------------------- random data
struct Rng {
    uint64_t s;
    uint64_t next() {  // splitmix64
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
    float range(double lo, double hi) { return (float)(lo + (hi - lo) * uniform()); }
    int64_t below(int64_t n) { return (int64_t)(next() % (uint64_t)n); }
    bool chance(double p) { return uniform() < p; }
};

enum Loss { CE, SOFTMAX_FOCAL, BCE, MSE, SIGMOID_FOCAL };
const char* kLossNames[] = {"cross_entropy", "softmax_focal", "binary_cross_entropy",
                            "mean_squared_error", "sigmoid_focal"};
bool is_softmax(Loss l) { return l == CE || l == SOFTMAX_FOCAL; }

enum Special { NONE, NEG_INF, HUGE_1E30, NAN_LOGIT, POS_INF };

// One call's options.
struct Options {
    Loss loss = CE;
    int64_t n = 1, c = 1;
    bool dense = false;          // CE dense targets
    bool class_weights = false;  // CE class weights, softmax focal alpha, BCE pos_weight
    bool binary_cw = false;      // BCE {w0, w1}
    bool sample_weights = false;
    int64_t stride = 1;
    bool element_weights = false;
    bool ignore = false;
    float eps = 0, z_loss = 0, cap = 0;
    float alpha = -1, gamma = 0;
    bool upstream = false;
    bool in_place = false;
    bool grad = true;
    bool per_term = false;
    double scale = 1.0;
    Special special = NONE;
    double spread = 4.0;  // logits uniform in [-spread, spread]

    std::string describe() const {
        char b[512];
        snprintf(b, sizeof b,
                 "%s n=%lld c=%lld dense=%d cw=%d bcw=%d sw=%d stride=%lld ew=%d ignore=%d eps=%g "
                 "zl=%g cap=%g alpha=%g gamma=%g up=%d inplace=%d grad=%d per_term=%d scale=%g "
                 "special=%d spread=%g",
                 kLossNames[loss], (long long)n, (long long)c, dense, class_weights, binary_cw,
                 sample_weights, (long long)stride, element_weights, ignore, eps, z_loss, cap, alpha,
                 gamma, upstream, in_place, grad, per_term, scale, (int)special, spread);
        return b;
    }
};

const int32_t kIgnore = -100;

// The sanitizer build (check.sh): UBSan's alignment check rejects the float pointers at odd
// addresses that the library accepts (x86-64 loads and stores them; the kernels' vector accesses
// are unaligned ones and non-temporal stores are skipped there), so those cases run unsanitized only.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

struct Data {
    std::vector<float> x, t, cw, sw, ew, up, bcw;
    std::vector<int32_t> labels;
};

Data make_data(const Options& o, Rng& rng) {
    Data d;
    const int64_t nc = o.n * o.c;
    d.x.resize(nc);
    for (auto& v : d.x) v = rng.range(-o.spread, o.spread);
    const bool hard = o.binary_cw || rng.chance(0.5);
    if (is_softmax(o.loss) && !o.dense) {
        d.labels.resize(o.n);
        for (auto& y : d.labels) y = o.ignore && rng.chance(0.2) ? kIgnore : (int32_t)rng.below(o.c);
    } else {
        d.t.resize(nc);
        if (o.loss == CE) {  // probabilities per row, some rows one-hot
            for (int64_t i = 0; i < o.n; ++i) {
                double s = 0;
                const bool one_hot = rng.chance(0.3);
                const int64_t hot = rng.below(o.c);
                for (int64_t j = 0; j < o.c; ++j) {
                    float v = one_hot ? (j == hot ? 1.0f : 0.0f) : (rng.chance(0.2) ? 0.0f : rng.range(0, 1));
                    d.t[i * o.c + j] = v;
                    s += v;
                }
                if (s > 0)
                    for (int64_t j = 0; j < o.c; ++j) d.t[i * o.c + j] = (float)(d.t[i * o.c + j] / s);
            }
        } else if (o.loss == MSE) {
            for (auto& v : d.t) v = rng.range(-4, 4);
        } else {
            for (auto& v : d.t) v = hard ? (rng.chance(0.5) ? 1.0f : 0.0f) : rng.range(0, 1);
        }
    }
    if (o.class_weights) {
        d.cw.resize(o.c);
        for (auto& v : d.cw) v = rng.chance(0.1) ? 0.0f : rng.range(0.25, 3);
    }
    if (o.binary_cw) d.bcw = {rng.range(0.2, 2), rng.range(0.2, 4)};
    if (o.sample_weights) {
        d.sw.resize(o.n * o.stride);
        for (auto& v : d.sw) {
            const double u = rng.uniform();
            v = u < 0.1 ? NAN : u < 0.2 ? 0.0f : rng.range(0.1, 3);
        }
    }
    if (o.element_weights) {
        d.ew.resize(nc);
        for (auto& v : d.ew) {
            const double u = rng.uniform();
            v = u < 0.1 ? NAN : u < 0.2 ? 0.0f : rng.range(0.1, 3);
        }
    }
    if (o.upstream) {
        d.up.resize(is_softmax(o.loss) ? o.n : nc);
        for (auto& v : d.up) v = rng.range(-1, 2);
    }
    // special logits
    for (int64_t i = 0; i < o.n; ++i) {
        const int32_t y = d.labels.empty() ? -1 : d.labels[i];
        for (int64_t j = 0; j < o.c; ++j) {
            float& v = d.x[i * o.c + j];
            switch (o.special) {
                case NEG_INF:  // vocabulary padding on non-target classes
                    if (j != y && rng.chance(0.3)) {
                        v = -INFINITY;
                        if (o.dense) d.t[i * o.c + j] = 0.0f;
                    }
                    break;
                case HUGE_1E30:
                    if (rng.chance(0.3)) v = rng.chance(0.5) ? 1e30f : -1e30f;
                    break;
                case NAN_LOGIT:
                    if (rng.chance(0.02)) v = NAN;
                    break;
                case POS_INF:
                    if (rng.chance(0.02)) v = rng.chance(0.5) ? INFINITY : -INFINITY;
                    break;
                default:
                    break;
            }
        }
    }
    return d;
}

// ------------------------------------------------------------------ double-precision reference
const double kTol = 1e-5;  // SEMANTICS.md: per-term relative error, gradient relative norm

struct Output {
    std::vector<double> term;  // weighted term per row (softmax) or element
    // An absolute allowance per term beyond kTol * |term| (empty: none), where the term is
    // ill-conditioned in float inputs (the z-loss when lse = M + log S nearly cancels)
    std::vector<double> floor;
    std::vector<double> grad;
    double sum = 0;
    int64_t nonfinite = 0;
};

double softplus(double x) { return std::max(x, 0.0) + log1p(exp(-fabs(x))); }
// a * b with 0 * inf = 0: a target of exactly 0 or 1 takes no part of the other softplus.
double times_unless_zero(double a, double b) { return a == 0 ? 0 : a * b; }
double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
// A term as the float the library reports: beyond float range it is infinite (fusedloss.h).
double as_float(double t) { return fabs(t) > FLT_MAX ? copysign(INFINITY, t) : t; }

Output reference(const Options& o, const Data& d) {
    Output r;
    const int64_t n = o.n, c = o.c;
    r.grad.assign(n * c, 0.0);
    r.term.assign(is_softmax(o.loss) ? n : n * c, 0.0);
    auto count = [&](double term) {
        r.sum += term;
        if (!std::isfinite(term)) ++r.nonfinite;
    };
    for (int64_t i = 0; i < n; ++i) {
        const double sw = d.sw.empty() ? 1.0 : d.sw[i * o.stride];
        if (is_softmax(o.loss)) {
            const int32_t y = d.labels.empty() ? -1 : d.labels[i];
            if ((y == kIgnore && !o.dense) || std::isnan(sw)) continue;
            const double up = d.up.empty() ? 1.0 : d.up[i];
            std::vector<double> z(c);
            double M = -INFINITY;
            for (int64_t j = 0; j < c; ++j) {
                const double x = d.x[i * c + j];
                z[j] = o.cap > 0 ? o.cap * tanh(x / o.cap) : x;
                if (z[j] > M) M = z[j];
            }
            double S = 0;
            for (int64_t j = 0; j < c; ++j) S += exp(z[j] - M);
            const double log_s = log(S), lse = M + log_s;
            auto p_of = [&](int64_t j) { return exp((z[j] - M) - log_s); };
            if (o.loss == SOFTMAX_FOCAL) {
                const double nll = (M - z[y]) + log_s, lp = -nll, p = exp(lp), m = -expm1(lp);
                const double alpha = d.cw.empty() ? 1.0 : d.cw[y];
                const double mg = o.gamma == 0 ? 1.0 : pow(m, (double)o.gamma);
                const double term = alpha == 0 ? 0.0 : as_float(sw * alpha * mg * nll);
                r.term[i] = term;
                count(term);
                if (alpha == 0) continue;  // a dropped row: gradient 0 too
                double second = 0;
                if (o.gamma != 0 && m != 0 && p != 0) second = o.gamma * pow(m, o.gamma - 1.0) * p * lp;
                const double f = alpha * (mg - second);
                for (int64_t j = 0; j < c; ++j)
                    r.grad[i * c + j] = z[j] == -INFINITY ? 0.0 : o.scale * up * sw * f * (p_of(j) - (j == y));
                continue;
            }
            // cross-entropy
            const double eps = o.eps;
            const double cwy = (!o.dense && !d.cw.empty()) ? d.cw[y] : 1.0;
            std::vector<double> q(c);
            double Q = 0, loss = 0;
            for (int64_t j = 0; j < c; ++j) {
                const bool masked = z[j] == -INFINITY;
                const double w = d.cw.empty() ? 1.0 : d.cw[j];
                if (o.dense)
                    q[j] = w * ((1 - eps) * d.t[i * c + j] + (masked ? 0.0 : eps / c));
                else
                    q[j] = (1 - eps) * cwy * (j == y) + (masked ? 0.0 : eps / c * w);
                Q += q[j];
                if (q[j] != 0) loss += q[j] * ((M - z[j]) + log_s);  // no mass: adds nothing
            }
            double zt = 0, zg = 0;
            if (o.z_loss != 0 && cwy != 0) {
                zt = cwy * o.z_loss * lse * lse;
                zg = 2 * cwy * o.z_loss * lse;
            }
            const double term = as_float(sw * (loss + zt));
            r.term[i] = term;
            count(term);
            if (Q == 0 && zg == 0) continue;  // no target mass, no z-loss: a dropped row, gradient 0
            if (zt != 0) {
                // A float kernel knows M and log S to a few ulps (1e-6: about 8), so where they
                // cancel (lse near 0) the z-loss z lse^2 carries 2 z |lse| times that error of the
                // cancelled magnitude: no float kernel meets 1e-5 of the term there.
                const double cancelled = fabs(M) + fabs(log_s) - fabs(lse);
                r.floor.resize(n, 0.0);
                r.floor[i] = 1e-6 * fabs(sw) * 2 * fabs(cwy * o.z_loss * lse) * cancelled;
            }
            const double G = sw * (Q + zg);
            for (int64_t j = 0; j < c; ++j) {
                if (z[j] == -INFINITY) continue;
                double g = o.scale * up * (G * p_of(j) - sw * q[j]);
                if (o.cap > 0) g *= 1 - (z[j] / o.cap) * (z[j] / o.cap);
                r.grad[i * c + j] = g;
            }
            continue;
        }
        if (std::isnan(sw)) continue;
        for (int64_t j = 0; j < c; ++j) {
            const int64_t at = i * c + j;
            const double ew = d.ew.empty() ? 1.0 : d.ew[at];
            if (std::isnan(ew)) continue;
            const double w = sw * ew, x = d.x[at], t = d.t[at];
            const double up = d.up.empty() ? 1.0 : d.up[at];
            double term, deriv;
            if (o.loss == MSE) {
                term = (x - t) * (x - t);
                deriv = 2 * (x - t);
            } else {
                const double s = sigmoid(x), s_neg = sigmoid(-x);
                if (o.loss == BCE) {
                    const double pw = d.cw.empty() ? 1.0 : d.cw[j];
                    const double b = d.bcw.empty() ? 1.0 : d.bcw[t >= 0.5 ? 1 : 0];
                    // a zero class weight, pos_weight or target drops its part
                    term = times_unless_zero(b, times_unless_zero(pw * t, softplus(-x)) + times_unless_zero(1 - t, softplus(x)));
                    deriv = times_unless_zero(b, times_unless_zero(1 - t, s) - times_unless_zero(pw * t, s_neg));
                } else {
                    const double m = t * s_neg + (1 - t) * s;  // 1 - p_t
                    const double a_t = o.alpha >= 0 ? o.alpha * t + (1 - o.alpha) * (1 - t) : 1.0;
                    const double ce = times_unless_zero(1 - t, softplus(x)) + times_unless_zero(t, softplus(-x));  // softplus(x) - x t
                    const double mg = o.gamma == 0 ? 1.0 : pow(m, (double)o.gamma);
                    term = times_unless_zero(a_t, mg * ce);
                    double second = 0;
                    if (o.gamma != 0 && m != 0) second = o.gamma * pow(m, o.gamma - 1.0) * s * s_neg * (2 * t - 1) * ce;
                    deriv = times_unless_zero(a_t, mg * ((1 - t) * s - t * s_neg) - second);
                    if (!(t >= 0 && t <= 1)) term = deriv = NAN;  // no focal weight outside [0, 1]
                }
            }
            // the unweighted term and derivative are floats in the kernels, then the weight
            term = as_float(w * as_float(term));
            deriv = w * as_float(deriv);
            r.term[at] = term;
            count(term);
            r.grad[at] = o.scale * up * deriv;
        }
    }
    return r;
}

// ------------------------------------------------------------------------- the library call
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

struct Result {
    int rc = 0;
    std::vector<float> grad, term;
    double res[2] = {0, 0};
};

// offset_bytes: the gradient buffer starts this many bytes into its allocation (alignment tests;
// Java's direct buffers can start at any byte, so a float pointer need not be 4-byte aligned).
Result call(const Options& o, const Data& d, int offset_bytes = 0) {
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

// ------------------------------------------------------------------------------ comparisons
int g_failures = 0;
int64_t g_checks = 0;
double g_worst_term = 0, g_worst_grad = 0;
std::string g_worst_term_case, g_worst_grad_case;

void failure(const Options& o, const std::string& isa, const std::string& what) {
    if (++g_failures <= 25) printf("FAIL [%s] %s\n  %s\n", isa.c_str(), what.c_str(), o.describe().c_str());
}


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

bool same_bits(const Result& a, const Result& b) {
    return a.rc == b.rc && memcmp(a.res, b.res, sizeof a.res) == 0 && a.grad.size() == b.grad.size() &&
           (a.grad.empty() || memcmp(a.grad.data(), b.grad.data(), a.grad.size() * 4) == 0) &&
           a.term.size() == b.term.size() &&
           (a.term.empty() || memcmp(a.term.data(), b.term.data(), a.term.size() * 4) == 0);
}

std::vector<std::string> g_isas;  // the ISAs this CPU runs, scalar first

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

Options random_options(Loss loss, int64_t n, int64_t c, Rng& rng, bool all_on) {
    Options o;
    o.loss = loss;
    o.n = n;
    o.c = c;
    auto on = [&](double p) { return all_on || rng.chance(p); };
    o.sample_weights = on(0.5);
    o.stride = on(0.3) ? 3 : 1;
    o.upstream = on(0.4);
    o.per_term = true;
    o.in_place = !all_on && rng.chance(0.2);
    o.grad = o.in_place || !rng.chance(0.15);
    o.scale = rng.chance(0.5) ? 1.0 : rng.range(0.01, 3);
    o.spread = rng.chance(0.3) ? 20.0 : 4.0;
    switch (loss) {
        case CE:
            o.dense = rng.chance(0.35);
            o.class_weights = on(0.5);
            o.ignore = !o.dense && on(0.4);
            o.eps = on(0.4) ? rng.range(0.01, 0.3) : 0.0f;
            o.z_loss = on(0.3) ? rng.range(1e-4, 0.1) : 0.0f;
            o.cap = on(0.3) ? rng.range(2, 30) : 0.0f;
            break;
        case SOFTMAX_FOCAL:
            o.class_weights = on(0.5);
            o.ignore = on(0.4);
            o.gamma = rng.chance(0.25) ? 0.0f : rng.chance(0.4) ? 2.0f : rng.range(0.3, 4);
            break;
        case BCE:
            o.class_weights = on(0.5);  // pos_weight
            o.binary_cw = on(0.3);
            o.element_weights = on(0.4);
            break;
        case MSE:
            o.element_weights = on(0.4);
            break;
        case SIGMOID_FOCAL:
            o.element_weights = on(0.4);
            o.alpha = rng.chance(0.3) ? -1.0f : rng.range(0.05, 0.95);
            o.gamma = rng.chance(0.25) ? 0.0f : rng.chance(0.4) ? 2.0f : rng.range(0.3, 4);
            break;
    }
    return o;
}

// Results must not depend on the thread count, the run, or the gradient buffer's alignment.
void check_determinism(const Options& o, Rng& rng) {
    const Data d = make_data(o, rng);
    for (const std::string& isa : g_isas) {
        fl_set_isa(isa.c_str());
        fl_set_threads(1);
        const Result base = call(o, d);
        ++g_checks;
        if (base.rc != 0) {
            failure(o, isa, "determinism base call failed");
            continue;
        }
        for (int threads : {2, 3, 1}) {
            fl_set_threads(threads);
            if (!same_bits(base, call(o, d)))
                failure(o, isa, "results differ with " + std::to_string(threads) + " threads");
        }
        if (o.grad && !o.in_place) {
            fl_set_threads(2);
            for (int bytes : {4, 1, 2, 3}) {
                if (bytes % 4 && kSanitized) continue;  // UBSan flags every misaligned float access
                if (!same_bits(base, call(o, d, bytes)))
                    failure(o, isa, "results differ with the gradient buffer " + std::to_string(bytes) +
                                        " bytes off its alignment");
            }
        }
    }
}

void check_api() {
    char msg[256];
    Options o;
    auto expect = [&](bool ok, const char* what) {
        ++g_checks;
        if (!ok) failure(o, "api", what);
    };
    expect(fl_isa_supported("scalar") == 1, "scalar supported");
    expect(fl_isa_supported("bogus") == -1, "unknown ISA gives -1");
    expect(fl_set_isa("bogus") == FL_ERR_ARGUMENT && strstr(fl_last_error(), "bogus"),
           "fl_set_isa(bogus) fails with a message");
    if (fl_isa_supported("avx512") == 0)
        expect(fl_set_isa("avx512") == FL_ERR_ARGUMENT && strstr(fl_last_error(), "not supported"),
               "fl_set_isa(avx512) fails on this CPU");
    expect(fl_set_isa("scalar") == 0 && strcmp(fl_isa(), "scalar") == 0, "fl_set_isa(scalar)");
    expect(fl_set_threads(0) == FL_ERR_ARGUMENT, "fl_set_threads(0) fails");
    expect(fl_isa_count() == 3 && !strcmp(fl_isa_name(0), "avx512") && !strcmp(fl_isa_name(2), "scalar") &&
               fl_isa_name(3) == nullptr && fl_isa_name(-1) == nullptr,
           "fl_isa_count and fl_isa_name list the ISAs best first");
    expect(!strcmp(fl_loss_name(FL_CROSS_ENTROPY_DENSE), "cross_entropy") &&
               !strcmp(fl_loss_name(FL_SIGMOID_FOCAL), "sigmoid_focal") && fl_loss_name(FL_LOSS_COUNT) == nullptr,
           "fl_loss_name gives each loss's kernel");
    expect(fl_request_offset("loss") == 0 && fl_request_offset("options") == 128 && fl_request_offset("bogus") == -1,
           "fl_request_offset");
    // labels out of range: FL_ERR_LABEL, nothing written
    float x[6] = {1, 2, 3, 4, 5, 6}, g[6];
    for (float& v : g) v = 42;
    int32_t bad[2] = {0, 3};
    double res[FL_RESULT_DOUBLES] = {-1, -1};
    float pt[2] = {42, 42};
    fl_request q{};
    q.loss = FL_CROSS_ENTROPY;
    q.rows = 2;
    q.cols = 3;
    q.predictions = x;
    q.labels = bad;
    q.ignore_index = -100;
    q.gradient = g;
    q.per_term = pt;
    q.reduction = FL_SUM;
    q.gradient_scale = 1.0;
    q.denominator = 1.0;
    int rc = fl_compute(&q, res);
    snprintf(msg, sizeof msg, "label out of range gives FL_ERR_LABEL (rc=%d, %s)", rc, fl_last_error());
    expect(rc == FL_ERR_LABEL && g[0] == 42 && pt[0] == 42 && res[0] == -1, msg);
    bad[1] = -1;
    fl_request focal = q;
    focal.loss = FL_SOFTMAX_FOCAL;
    focal.options.softmax_focal.gamma = 2;
    rc = fl_compute(&focal, res);
    expect(rc == FL_ERR_LABEL, "softmax focal: negative label gives FL_ERR_LABEL");
    fl_request no_labels = q;
    no_labels.labels = nullptr;
    rc = fl_compute(&no_labels, res);
    expect(rc == FL_ERR_ARGUMENT, "cross-entropy without labels gives FL_ERR_ARGUMENT");
    fl_request bad_loss = q;
    bad_loss.loss = FL_LOSS_COUNT;
    expect(fl_compute(&bad_loss, res) == FL_ERR_ARGUMENT && strstr(fl_last_error(), "loss"),
           "a loss outside fl_loss gives FL_ERR_ARGUMENT");
    fl_request bad_reduction = q;
    bad_reduction.reduction = 4;
    expect(fl_compute(&bad_reduction, res) == FL_ERR_ARGUMENT, "a reduction outside FL_NONE .. FL_BATCH_MEAN fails");
    expect(fl_compute(nullptr, res) == FL_ERR_ARGUMENT && fl_compute(&q, nullptr) == FL_ERR_ARGUMENT,
           "a NULL request or result fails");
    fl_request mse{};
    mse.loss = FL_MEAN_SQUARED_ERROR;
    mse.rows = -1;
    mse.cols = 3;
    mse.predictions = x;
    mse.targets = x;
    mse.reduction = FL_SUM;
    rc = fl_compute(&mse, res);
    expect(rc == FL_ERR_ARGUMENT, "negative rows gives FL_ERR_ARGUMENT");
    mse.rows = 0;
    mse.predictions = mse.targets = nullptr;
    rc = fl_compute(&mse, res);
    expect(rc == 0 && res[FL_R_LOSS_SUM] == 0 && res[FL_R_NONFINITE] == 0, "rows = 0 is an empty sum");
    // MEAN with a negative denominator: the call makes the weight pass; a denominator of 0 gives 0
    float sw[2] = {1.0f, 3.0f};
    int32_t y[2] = {0, 2};
    fl_request mean = q;
    mean.labels = y;
    mean.sample_weights = sw;
    mean.sample_weight_stride = 1;
    mean.reduction = FL_MEAN;
    mean.denominator = -1.0;
    fl_request sum = mean;
    sum.reduction = FL_SUM;
    double rs[FL_RESULT_DOUBLES];
    rc = fl_compute(&mean, res) | fl_compute(&sum, rs);
    expect(rc == 0 && res[FL_R_DENOMINATOR] == 4.0 && res[FL_R_WEIGHT_SUM] == 4.0 && res[FL_R_COUNTED] == 2.0 &&
               res[FL_R_LOSS] == rs[FL_R_LOSS_SUM] / 4.0 && res[FL_R_GRAD_FACTOR] == 0.25,
           "MEAN without a denominator divides by the weight sum of its own pass");
    mean.denominator = 0.0;
    rc = fl_compute(&mean, res);
    expect(rc == 0 && res[FL_R_LOSS] == 0 && g[0] == 0 && pt[0] == 0, "a denominator of 0 gives 0 everywhere");
    // Only -inf masks a class: a NaN logit keeps its smoothing share eps / C, so a row whose only
    // target mass is that share gets a NaN term, counted, not the 0 of a row without mass.
    const float nan_row[3] = {0, NAN, 1}, zero_targets[3] = {0, 0, 0};
    for (const std::string& isa : g_isas) {
        fl_set_isa(isa.c_str());
        for (int64_t c : {1, 3}) {
            double r[FL_RESULT_DOUBLES];
            float term = 0;
            fl_request dense{};
            dense.loss = FL_CROSS_ENTROPY_DENSE;
            dense.rows = 1;
            dense.cols = c;
            dense.predictions = c == 1 ? nan_row + 1 : nan_row;
            dense.targets = zero_targets;
            dense.per_term = &term;
            dense.reduction = FL_SUM;
            dense.gradient_scale = 1.0;
            dense.options.cross_entropy.label_smoothing = 0.25;
            rc = fl_compute(&dense, r);
            snprintf(msg, sizeof msg, "[%s] dense C=%lld, NaN logit, targets 0, eps 0.25: NaN term (rc=%d, term %g, "
                     "nonfinite %g)", isa.c_str(), (long long)c, rc, term, r[FL_R_NONFINITE]);
            expect(rc == 0 && std::isnan(term) && r[FL_R_NONFINITE] == 1, msg);
        }
    }
    expect(fl_version() && *fl_version(), "fl_version");
}

// Weights that scale out: element weights (element-wise losses) or class weights (cross-entropy
// with smoothing or dense targets) times 2^-140 and the gradient scale times 2^140 give the same
// gradient. 2^140 is beyond float range, so the kernels must keep that factor in double until it
// meets the weight (in_double); a float factor was infinite. The weights are rounded to 1/64 first,
// so that times 2^-140 (subnormal) they are still exact.
void check_scale_out(Rng& rng) {
    const double k = ldexp(1.0, 140);
    auto exact = [](std::vector<float>& v) {
        for (float& w : v)
            if (w == w) w = roundf(w * 64) / 64;
    };
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
            exact(li == CE ? d.cw : d.ew);
            Options big = o;
            big.scale = o.scale * k;
            Data tiny = d;
            for (float& w : li == CE ? tiny.cw : tiny.ew) w = (float)(w / k);
            for (const std::string& isa : g_isas) {
                fl_set_isa(isa.c_str());
                const Result want = call(o, d), got = call(big, tiny);
                double diff = 0, norm = 0;
                for (size_t j = 0; j < want.grad.size(); ++j) {
                    const double e = (double)got.grad[j] - want.grad[j];
                    if (std::isfinite(want.grad[j])) {
                        diff += e * e;
                        norm += (double)want.grad[j] * want.grad[j];
                    }
                }
                ++g_checks;
                if (!(sqrt(diff) <= 1e-6 * sqrt(norm) + 1e-30))
                    failure(o, isa, "weights x 2^-140 with the gradient scale x 2^140: gradient error " +
                                        std::to_string(sqrt(diff)) + " of " + std::to_string(sqrt(norm)));
            }
        }
    }
}

// The number of OS threads of this process (Linux: the entries of /proc/self/task), -1 if unknown.
int64_t os_threads() {
    DIR* d = opendir("/proc/self/task");
    if (!d) return -1;
    int64_t count = 0;
    while (const dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++count;
    closedir(d);
    return count;
}

// fl_set_threads takes 1..1024, and a call starts no more worker threads than it has row blocks
// beyond the caller (it used to start every configured one at the first call).
void check_threads() {
    Options o;
    auto expect = [&](bool ok, const std::string& what) {
        ++g_checks;
        if (!ok) failure(o, "threads", what);
    };
    expect(fl_set_threads(1025) == FL_ERR_ARGUMENT && strstr(fl_last_error(), "1024"), "fl_set_threads(1025) fails");
    expect(fl_set_threads(-1) == FL_ERR_ARGUMENT, "fl_set_threads(-1) fails");
    expect(fl_set_threads(1024) == 0 && fl_threads() == 1024, "fl_set_threads(1024)");
    // 4096 x 12 = 49 152 elements: 4 blocks of at most 16 384 rows' worth, over the inline limit
    const int64_t n = 4096, c = 12;
    std::vector<float> x(n * c, 0.5f), g(n * c);
    std::vector<int32_t> y(n, 3);
    double r[FL_RESULT_DOUBLES];
    fl_request q{};
    q.loss = FL_CROSS_ENTROPY;
    q.rows = n;
    q.cols = c;
    q.predictions = x.data();
    q.labels = y.data();
    q.ignore_index = -100;
    q.gradient = g.data();
    q.reduction = FL_SUM;
    q.gradient_scale = 1.0;
    const int64_t before = os_threads();
    const int rc = fl_compute(&q, r);
    const int64_t after = os_threads();
    if (before >= 0)
        expect(rc == 0 && after - before <= 3, "a call of 4 row blocks with 1024 threads set started " +
                                                   std::to_string(after - before) + " threads");
    fl_set_threads(2);
    // joined threads can stay listed in /proc a moment after pthread_join returns
    bool stopped = false;
    for (int wait = 0; wait < 200 && !stopped; ++wait) {
        stopped = os_threads() <= before;
        if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    expect(stopped, "fl_set_threads(2) stops the workers");
}

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


double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// ----------------------------------------------------------------------------- compute floor
// The compute floor (compute_floor.cpp): each loss's own math over L1-resident data, rows across
// the lanes, timed here per ISA and scaled to a shape. Every thread runs the floor kernel at once
// on its own data (two threads share what the machine shares: the L3, the memory bus, the host),
// and the per-thread CPU time is taken, so a busy machine's waiting for the CPU does not count.
enum class FloorKind { softmax, softmax_focal, bce, sigmoid_focal, mse };

struct FloorFns {
    float (*softmax)(float*, int, bool);
    float (*elementwise)(FloorLoss, const float*, const float*, float*, int);
    int (*lanes)();
};

FloorFns floor_fns(const std::string& isa) {
    if (isa == "avx512") return {fl_avx512::floor_softmax, fl_avx512::floor_elementwise, fl_avx512::floor_lanes};
    if (isa == "avx2") return {fl_avx2::floor_softmax, fl_avx2::floor_elementwise, fl_avx2::floor_lanes};
    return {fl_scalar::floor_softmax, fl_scalar::floor_elementwise, fl_scalar::floor_lanes};
}

double thread_cpu_ns() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

constexpr int kFloorCols = 256;        // softmax block: lanes x 256 columns (16 KiB with AVX-512)
constexpr int kFloorElements = 2048;   // element-wise: x, t and g of 8 KiB each

// CPU ns of one floor call on one thread, while `threads` threads run it: the median of 15
// batches of ~2 ms each, averaged over the threads.
double floor_call_ns(const std::string& isa, FloorKind kind, int cols, int threads) {
    const FloorFns f = floor_fns(isa);
    auto one_thread = [&](double* out) {
        const int lanes = f.lanes();
        std::vector<float> block((size_t)lanes * kFloorCols), x(kFloorElements), t(kFloorElements), g(kFloorElements);
        Rng rng{12345};
        auto refill = [&] {  // the softmax floor works in place: fresh logits for each call
            for (auto& v : block) v = rng.range(-4, 4);
        };
        for (int i = 0; i < kFloorElements; ++i) {
            x[i] = rng.range(-4, 4);
            t[i] = kind == FloorKind::mse ? rng.range(-4, 4) : (float)(rng.next() >> 63);
        }
        refill();
        std::vector<float> fresh = block;
        volatile float sink = 0;
        auto call = [&] {
            switch (kind) {
                case FloorKind::softmax:
                case FloorKind::softmax_focal:
                    memcpy(block.data(), fresh.data(), (size_t)lanes * cols * sizeof(float));
                    sink = sink + f.softmax(block.data(), cols, kind == FloorKind::softmax_focal);
                    break;
                case FloorKind::bce:
                    sink = sink + f.elementwise(FloorLoss::bce, x.data(), t.data(), g.data(), kFloorElements);
                    break;
                case FloorKind::sigmoid_focal:
                    sink = sink + f.elementwise(FloorLoss::sigmoid_focal, x.data(), t.data(), g.data(), kFloorElements);
                    break;
                case FloorKind::mse:
                    sink = sink + f.elementwise(FloorLoss::mse, x.data(), t.data(), g.data(), kFloorElements);
                    break;
            }
        };
        // the copy that restores the softmax block is timed apart and taken off
        auto restore_only = [&] { memcpy(block.data(), fresh.data(), (size_t)lanes * cols * sizeof(float)); };
        auto batch_ns = [&](auto&& fn) {
            int calls = 0;
            const double t0 = thread_cpu_ns();
            double t1 = t0;
            while (t1 - t0 < 2e6) {
                for (int k = 0; k < 16; ++k) fn();
                calls += 16;
                t1 = thread_cpu_ns();
            }
            return (t1 - t0) / calls;
        };
        for (int w = 0; w < 3; ++w) batch_ns(call);  // warm-up
        std::vector<double> per_call;
        for (int b = 0; b < 15; ++b) {
            double ns = batch_ns(call);
            if (kind == FloorKind::softmax || kind == FloorKind::softmax_focal) ns -= batch_ns(restore_only);
            per_call.push_back(ns);
        }
        std::sort(per_call.begin(), per_call.end());
        *out = per_call[per_call.size() / 2];
    };
    std::vector<double> ns(threads);
    std::vector<std::thread> pool;
    for (int k = 1; k < threads; ++k) pool.emplace_back(one_thread, &ns[k]);
    one_thread(&ns[0]);
    for (auto& th : pool) th.join();
    double sum = 0;
    for (double v : ns) sum += v;
    return sum / threads;
}

// The floor of a whole call at n x c on `threads` threads, in ms.
double floor_ms(const std::string& isa, FloorKind kind, int64_t n, int64_t c, int threads) {
    const int lanes = floor_fns(isa).lanes();
    if (kind == FloorKind::softmax || kind == FloorKind::softmax_focal) {
        const int cols = (int)std::min<int64_t>(c, kFloorCols);
        const double blocks = (double)n / lanes * ((double)c / cols);  // a block: lanes rows x cols classes
        return blocks * floor_call_ns(isa, kind, cols, threads) / threads / 1e6;
    }
    return (double)n * c / kFloorElements * floor_call_ns(isa, kind, 0, threads) / threads / 1e6;
}

struct FloorCase {
    const char* loss;  // as the Java summary names it
    FloorKind kind;
    int64_t n, c;
};

const std::vector<FloorCase>& floor_cases() {
    static const std::vector<FloorCase> cases = {
        {"CrossEntropy", FloorKind::softmax, 65536, 10},         {"CrossEntropy", FloorKind::softmax, 4096, 1000},
        {"CrossEntropy", FloorKind::softmax, 256, 32000},        {"CrossEntropy", FloorKind::softmax, 1024, 128256},
        {"SoftmaxFocal", FloorKind::softmax_focal, 4096, 1000},  {"SoftmaxFocal", FloorKind::softmax_focal, 256, 32000},
        {"SoftmaxFocal", FloorKind::softmax_focal, 65536, 10},   {"SoftmaxFocal", FloorKind::softmax_focal, 1024, 128256},
        {"BinaryCrossEntropy", FloorKind::bce, 65536, 100},      {"SigmoidFocal", FloorKind::sigmoid_focal, 65536, 100},
        {"MeanSquaredError", FloorKind::mse, 65536, 100},
    };
    return cases;
}

// A copy with non-temporal stores (baseline SSE: movntps), the head stored plainly until 16-byte
// aligned: it reads and writes the same bytes as a copy, without the read-for-ownership of the
// destination lines, the way the softmax losses write a large gradient.
void stream_copy(float* dst, const float* src, int64_t count) {
    int64_t i = 0;
    for (; i < count && (uintptr_t)(dst + i) % 16; ++i) dst[i] = src[i];
    for (; i + 4 <= count; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
    for (; i < count; ++i) dst[i] = src[i];
    _mm_sfence();
}

// The bandwidth yardstick at n x c on `threads` threads: memcpy (ordinary stores at these sizes:
// every destination line is read before it is written) and stream_copy, alternated, 15 pairs;
// "copy <threads> <n>x<c> <memcpy ms> <stream ms> <median of the stream / memcpy ratios>".
void print_copy(int64_t n, int64_t c, int threads) {
    const int64_t count = n * c;
    std::vector<float> src(count, 1.0f), dst(count, 0.0f);
    auto split = [&](void (*copy)(float*, const float*, int64_t)) {
        if (threads == 1) return copy(dst.data(), src.data(), count);
        const int64_t half = count / 2 / 16 * 16;  // whole 64-byte lines per thread
        std::thread other([&] { copy(dst.data() + half, src.data() + half, count - half); });
        copy(dst.data(), src.data(), half);
        other.join();
    };
    auto plain = [](float* d, const float* s, int64_t k) { memcpy(d, s, (size_t)k * sizeof(float)); };
    std::vector<double> tp, ts, ratio;
    for (int r = 0; r < 17; ++r) {
        const double t0 = now_ms();
        split(plain);
        const double t1 = now_ms();
        split(stream_copy);
        const double t2 = now_ms();
        if (r < 2) continue;  // warm-up: first touch, caches
        tp.push_back(t1 - t0);
        ts.push_back(t2 - t1);
        ratio.push_back((t2 - t1) / (t1 - t0));
    }
    std::sort(tp.begin(), tp.end());
    std::sort(ts.begin(), ts.end());
    std::sort(ratio.begin(), ratio.end());
    printf("copy %d %lldx%lld %.5f %.5f %.4f\n", threads, (long long)n, (long long)c, tp[tp.size() / 2],
           ts[ts.size() / 2], ratio[ratio.size() / 2]);
    fflush(stdout);
}

// One line per ISA, thread count and case: "floor <isa> <threads> <loss> <n>x<c> <ms> <ns per element per thread>".
void print_floors() {
    printf("compute floor: each loss's own math over L1-resident data, rows across lanes (compute_floor.cpp);\n"
           "ms for the whole shape on that many threads, from the per-thread CPU time with every thread busy\n");
    for (const char* isa : {"avx512", "avx2", "scalar"}) {
        if (fl_isa_supported(isa) != 1) continue;
        for (int threads : {1, 2})
            for (const FloorCase& fc : floor_cases()) {
                const double ms = floor_ms(isa, fc.kind, fc.n, fc.c, threads);
                printf("floor %s %d %s %lldx%lld %.5f %.4f\n", isa, threads, fc.loss, (long long)fc.n, (long long)fc.c, ms,
                       ms * 1e6 * threads / ((double)fc.n * fc.c));
                fflush(stdout);
            }
    }
    printf("copies: memcpy and a non-temporal-store copy of the same bytes (x -> grad), ms, and their paired ratio\n");
    for (int64_t n_c : {65536LL * 10, 4096LL * 1000, 256LL * 32000, 1024LL * 128256, 65536LL * 100})
        for (int threads : {1, 2}) {
            const FloorCase* fc = nullptr;
            for (const FloorCase& f : floor_cases())
                if (f.n * f.c == n_c) fc = &f;
            print_copy(fc->n, fc->c, threads);
        }
}

// ----------------------------------------------------------------------------------- bench

double cpu_ms() {  // CPU time of the whole process (all threads)
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Median wall time of f; *cpu receives the median CPU time (all threads) per run. On a shared,
// busy machine the CPU time is the steadier figure.
template <class F>
double median_ms(F f, double budget_ms, double* cpu = nullptr) {
    f();  // warm up
    std::vector<double> t, c;
    const double start = now_ms();
    while (t.size() < 5 || (t.size() < 31 && now_ms() - start < budget_ms)) {
        const double t0 = now_ms(), c0 = cpu_ms();
        f();
        t.push_back(now_ms() - t0);
        c.push_back(cpu_ms() - c0);
    }
    std::sort(t.begin(), t.end());
    std::sort(c.begin(), c.end());
    if (cpu) *cpu = c[c.size() / 2];
    return t[t.size() / 2];
}

// STREAM-like copy: memcpy (glibc picks non-temporal stores for large sizes) or a plain loop
// (STREAM's own kernel), split over `threads` threads.
void copy_threads(float* dst, const float* src, int64_t count, int threads, bool plain_loop) {
    auto copy = [=](int64_t a, int64_t b) {
        if (plain_loop)
            for (int64_t i = a; i < b; ++i) dst[i] = src[i];
        else
            memcpy(dst + a, src + a, (b - a) * 4);
    };
    if (threads == 1) return copy(0, count);
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) pool.emplace_back(copy, count * k / threads, count * (k + 1) / threads);
    for (auto& th : pool) th.join();
}

struct PeerData {
    std::vector<float> x, t, cw, sw, pw;
    std::vector<int32_t> labels;
};

// The PEERS.md data of one shape, by the formulas of bench/peers.txt.
PeerData peer_data(const PeersFile& f, int64_t n, int64_t c, bool binary, bool regression) {
    PeerData d;
    d.x.resize(n * c);
    for (int64_t i = 0; i < n * c; ++i) d.x[i] = f.uniform("logits", i);
    d.labels.resize(n);
    for (int64_t i = 0; i < n; ++i) d.labels[i] = f.label(i, c);
    d.cw.resize(c);
    for (int64_t j = 0; j < c; ++j) d.cw[j] = f.periodic.at("class_weights")(j);
    d.sw.resize(n);
    for (int64_t i = 0; i < n; ++i) d.sw[i] = f.periodic.at("sample_weights")(i);
    if (binary || regression) {
        d.t.resize(n * c);
        for (int64_t i = 0; i < n * c; ++i)
            d.t[i] = binary ? f.bit("binary_targets", i) : f.uniform("regression_targets", i);
    }
    d.pw.resize(c);
    for (int64_t j = 0; j < c; ++j) d.pw[j] = f.periodic.at("pos_weight")(j);
    return d;
}

void bench(bool quick, const std::string& peers) {
    const PeersFile file = PeersFile::read(peers);
    printf("timing mode: median of >= 5 runs, loss + gradient, float32; copy = the faster of memcpy and\n"
           "a plain copy loop of the same bytes (x -> grad), same threads; GB/s counts 2 * N * C * 4 bytes;\n"
           "isa %s\n\n", fl_isa());
    printf("%-14s %-13s %3s %9s %9s %8s %9s %6s %9s %9s\n", "case", "N x C", "thr", "ms", "cpu ms", "GB/s",
           "copy GB/s", "frac", "loss", "expected");
    struct Case {
        const char* name;
        int64_t n, c;
        const char* peer;  // the case's name in bench/peers.txt
    };
    std::vector<Case> cases = {
        {"ce_weighted", 65536, 10, "ce_weighted"},    {"ce_mean", 65536, 10, "ce_mean"},
        {"ce_weighted", 4096, 1000, "ce_weighted"},   {"ce_mean", 4096, 1000, "ce_mean"},
        {"ce_weighted", 256, 32000, "ce_weighted"},   {"ce_mean", 256, 32000, "ce_mean"},
        {"ce_weighted", 1024, 128256, "ce_weighted"}, {"ce_mean", 1024, 128256, "ce_mean"},
        {"bce_posw", 65536, 100, "bce_posw"},         {"mse_weighted", 65536, 100, "mse_weighted"},
        {"sigmoid_focal", 65536, 100, "focal"},
    };
    for (const Case& cs : cases) {
        if (quick && cs.c == 128256) continue;
        const std::string name = cs.name;
        const bool binary = name == "bce_posw" || name == "sigmoid_focal";
        PeerData d = peer_data(file, cs.n, cs.c, binary, name == "mse_weighted");
        std::vector<float> grad(cs.n * cs.c);
        double denom = 0;
        if (name == "ce_weighted")
            for (int64_t i = 0; i < cs.n; ++i) denom += (double)d.cw[d.labels[i]] * d.sw[i];
        else if (name == "ce_mean")
            denom = (double)cs.n;
        else if (name == "mse_weighted")
            for (int64_t i = 0; i < cs.n; ++i) denom += (double)d.sw[i] * cs.c;
        else
            denom = (double)cs.n * cs.c;
        double res[FL_RESULT_DOUBLES];
        fl_request q{};
        q.rows = cs.n;
        q.cols = cs.c;
        q.predictions = d.x.data();
        q.ignore_index = -100;
        q.gradient = grad.data();
        q.reduction = FL_SUM;
        q.gradient_scale = 1.0 / denom;
        q.denominator = 1.0;
        if (name == "ce_weighted" || name == "ce_mean") {
            q.loss = FL_CROSS_ENTROPY;
            q.labels = d.labels.data();
            if (name == "ce_weighted") {
                q.options.cross_entropy.class_weights = d.cw.data();
                q.sample_weights = d.sw.data();
                q.sample_weight_stride = 1;
            }
        } else if (name == "bce_posw") {
            q.loss = FL_BINARY_CROSS_ENTROPY;
            q.targets = d.t.data();
            q.options.binary_cross_entropy.pos_weight = d.pw.data();
        } else if (name == "mse_weighted") {
            q.loss = FL_MEAN_SQUARED_ERROR;
            q.targets = d.t.data();
            q.sample_weights = d.sw.data();
            q.sample_weight_stride = 1;
        } else {
            q.loss = FL_SIGMOID_FOCAL;
            q.targets = d.t.data();
            q.options.sigmoid_focal = {0.25, 2.0};
        }
        auto run = [&] {
            if (fl_compute(&q, res)) {
                printf("error: %s\n", fl_last_error());
                exit(1);
            }
        };
        const double bytes = 2.0 * cs.n * cs.c * 4;
        for (int threads : {1, 2}) {
            fl_set_threads(threads);
            double cpu = 0;
            const double ms = median_ms(run, quick ? 200 : 800, &cpu);
            // the faster of the two copies is the reference
            const double copy_ms = std::min(
                median_ms([&] { copy_threads(grad.data(), d.x.data(), cs.n * cs.c, threads, false); }, quick ? 100 : 300),
                median_ms([&] { copy_threads(grad.data(), d.x.data(), cs.n * cs.c, threads, true); }, quick ? 100 : 300));
            const double gbs = bytes / ms / 1e6, copy_gbs = bytes / copy_ms / 1e6;
            printf("%-14s %6lldx%-6lld %3d %9.3f %9.3f %8.2f %9.2f %6.2f %9.6f %9.6f\n", cs.name, (long long)cs.n,
                   (long long)cs.c, threads, ms, cpu, gbs, copy_gbs, gbs / copy_gbs, res[FL_R_LOSS_SUM] / denom, file.expected_loss(cs.peer, cs.n, cs.c));
            fflush(stdout);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, do_bench = false, do_floor = false;
    std::string peers = FL_PEERS_FILE;
    uint64_t seed = (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count();
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--bench"))
            do_bench = true;
        else if (!strcmp(argv[i], "--floor"))
            do_floor = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], nullptr, 0);
        else if (!strcmp(argv[i], "--peers") && i + 1 < argc)
            peers = argv[++i];
        else {
            printf("usage: %s [--quick] [--seed N] [--bench [--peers FILE]] [--floor]\n", argv[0]);
            return 2;
        }
    }
    printf("fusedloss %s, default isa %s, %d threads\n", fl_version(), fl_isa(), fl_threads());
    if (do_floor) {
        print_floors();
        return 0;
    }
    if (do_bench) {
        bench(quick, peers);
        return 0;
    }
    for (int i = fl_isa_count() - 1; i >= 0; --i) {  // the library's list, best first: scalar first here
        const char* isa = fl_isa_name(i);
        if (fl_isa_supported(isa) == 1)
            g_isas.push_back(isa);
        else
            printf("isa %s: not run (this CPU does not support it)\n", isa);
    }
    printf("isas run:");
    for (auto& s : g_isas) printf(" %s", s.c_str());
    printf("\nseed %llu (rerun with --seed %llu)%s\n", (unsigned long long)seed, (unsigned long long)seed,
           quick ? ", quick" : "");
    Rng rng{seed};
    const double t0 = now_ms();

    check_api();

    // Shapes: every C in 1..33 and around the powers of two, N = 1, 2, 7, 33.
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
    printf("small shapes done (%.1f s)\n", (now_ms() - t0) / 1000);

    // The short-row paths (C <= 16; cross-entropy with class indices or dense targets and no
    // smoothing, cap or z-loss; softmax focal with gamma 0..4: the row math across the lanes):
    // every C, row counts around the lane counts and odd, every special value, in place, weights
    // with NaN, strided sample weights.
    for (int64_t c = 1; c <= 16; ++c)
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
    printf("short rows done (%.1f s)\n", (now_ms() - t0) / 1000);

    // Large rows: vocabulary sizes, fewer combinations.
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
    auto single_sweep = [&](int64_t n, int64_t c, bool all_on) {
        Options o = random_options(CE, n, c, rng, all_on);
        o.dense = false;
        o.eps = 0;
        o.cap = 0;
        return o;
    };
    for (auto [n, c] : long_rows)
        for (int k = 0; k < 3; ++k) {
            Options o = single_sweep(n, c, k == 0);
            if (k > 0) o.special = k == 1 ? NEG_INF : HUGE_1E30;
            o.in_place = k == 1;  // a row's gradient over its logits, the next row's still to read
            if (o.in_place) o.grad = true;
            if (o.special == HUGE_1E30) o.z_loss = 0;
            run_case(o, rng);
        }
    printf("large rows done (%.1f s)\n", (now_ms() - t0) / 1000);

    // Thread-count, run-to-run and alignment independence (sizes above the inline threshold;
    // the 33 x 128256 CE gradient is large enough for non-temporal stores).
    for (int li = CE; li <= SIGMOID_FOCAL; ++li) {
        const Loss loss = (Loss)li;
        if (is_softmax(loss)) {
            check_determinism(random_options(loss, 600, 129, rng, true), rng);
            check_determinism(random_options(loss, 5003, 10, rng, false), rng);  // short rows
            if (loss == CE)
                for (int64_t c : {1, 3, 10, 16}) {  // the rows-across-lanes paths, several row blocks
                    Options o = random_options(CE, 20011, c, rng, c == 3);
                    o.dense = c == 10;
                    o.eps = o.cap = o.z_loss = 0;
                    check_determinism(o, rng);
                }
            check_determinism(random_options(loss, 21, 4097, rng, false), rng);
            if (loss == CE) check_determinism(single_sweep(70, 4097, true), rng);  // interleaved
            if (!quick) check_determinism(random_options(loss, 33, 128256, rng, true), rng);
        } else {
            check_determinism(random_options(loss, 3000, 33, rng, true), rng);
            check_determinism(random_options(loss, 70, 1000, rng, false), rng);
        }
    }
    // Gradients at any byte address at the sizes written with non-temporal stores (n * c >= 4 Mi):
    // plain, interleaved long rows, smoothing, dense, focal.
    if (!kSanitized) {
        auto with_grad = [](Options o) {
            o.in_place = false;
            o.grad = true;
            return o;
        };
        Options nt = with_grad(single_sweep(4096, 1024, false));
        check_determinism(nt, rng);
        check_determinism(with_grad(single_sweep(160, 32001, true)), rng);
        nt.eps = 0.1f;
        check_determinism(nt, rng);
        nt.dense = true;
        check_determinism(nt, rng);
        nt.loss = SOFTMAX_FOCAL;
        nt.dense = false;
        nt.eps = 0;
        nt.gamma = 2;
        check_determinism(nt, rng);
        Options focal_long = with_grad(random_options(SOFTMAX_FOCAL, 160, 32001, rng, true));  // interleaved
        check_determinism(focal_long, rng);
    } else {
        printf("gradients at odd byte addresses: not run under the sanitizers (see kSanitized)\n");
    }
    fl_set_threads(2);
    printf("determinism done (%.1f s)\n", (now_ms() - t0) / 1000);

    check_scale_out(rng);
    check_threads();
    check_weight_sums(rng, quick);
    printf("weight pass done (%.1f s)\n", (now_ms() - t0) / 1000);

    printf("%lld checks; worst relative error where it is above the absolute floors: per term %.3g, "
           "gradient norm %.3g\n",
           (long long)g_checks, g_worst_term, g_worst_grad);
    printf("  worst term: %s\n  worst gradient: %s\n", g_worst_term_case.c_str(), g_worst_grad_case.c_str());
    if (g_failures) {
        printf("FAILED: %d failures (seed %llu)\n", g_failures, (unsigned long long)seed);
        return 1;
    }
    printf("OK (%.1f s)\n", (now_ms() - t0) / 1000);
    return 0;
}
