// native_check's random cases: the data of one case (logits, targets, weights, special values)
// and random options per loss.
#include <math.h>
#include <stdio.h>

#include "native_check.h"

namespace fl_check {
namespace {

const char* kLossNames[] = {"cross_entropy", "softmax_focal", "binary_cross_entropy",
                            "mean_squared_error", "sigmoid_focal"};

}  // namespace

std::string Options::describe() const {
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

}  // namespace fl_check
