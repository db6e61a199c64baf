// native_check's double-precision reference, written straight from the formulas in fusedloss.h.
#include <float.h>
#include <math.h>

#include <algorithm>

#include "native_check.h"

namespace fl_check {
namespace {

double softplus(double x) { return std::max(x, 0.0) + log1p(exp(-fabs(x))); }
// a * b with 0 * inf = 0: a target of exactly 0 or 1 takes no part of the other softplus.
double times_unless_zero(double a, double b) { return a == 0 ? 0 : a * b; }
double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
// A term as the float the library reports: beyond float range it is infinite (fusedloss.h).
double as_float(double t) { return fabs(t) > FLT_MAX ? copysign(INFINITY, t) : t; }

}  // namespace

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

}  // namespace fl_check
