// vmath.h: float vector exp / log / log1p / tanh / reciprocal, generic over simd.h (compiled once
// per ISA).
//
// exp() and log(): Cody-Waite range reduction plus short minimax polynomials (the classic Cephes
// single-precision coefficients), about 1-2 ulp. Special values: exp(-inf) = 0, exp(+inf) = inf,
// NaN propagates, log(0) = -inf, log(x < 0) = NaN, denormal arguments and results are handled.
// The hot loops use shorter forms where their arguments allow: exp_short (a single FMA reduction;
// the softmax's and, split in two, the sigmoid's), log_normal (no special values), log1p_unit (an
// atanh series for log(1 + e), e in [0, 1]) and reciprocal_1_4 (the hardware estimate and a Newton
// step), each with its accuracy stated where it is defined.
#pragma once

#include "simd.h"

namespace FL_NS {
namespace simd {

// The polynomials are evaluated in Estrin's scheme (pairs, then powers of r^2): the kernels are
// latency-bound on these chains, and Estrin halves their depth compared with Horner.

// e^r for |r| <= ln(2) / 2.
inline vf exp_poly(vf r) {
    const vf r2 = mul(r, r);
    const vf a = fmadd(set1(1.9875691500e-4f), r, set1(1.3981999507e-3f));
    const vf b = fmadd(set1(8.3334519073e-3f), r, set1(4.1665795894e-2f));
    const vf c = fmadd(set1(1.6666665459e-1f), r, set1(5.0000001201e-1f));
    const vf p = fmadd(fmadd(a, r2, b), r2, c);
    return add(fmadd(p, r2, r), set1(1.0f));
}

// x = n * ln2 + r with n integral (returned as float and as int), |r| <= ln2 / 2.
// Valid for |x| < 2^21; n is rounded by the 1.5 * 2^23 trick (no SSE4.1 round needed).
inline vf exp_reduce(vf x, vi& n) {
    const vf magic = set1(12582912.0f);
    vf t = fmadd(x, set1(1.44269504088896341f), magic);
    vf nf = sub(t, magic);
    n = sub_i(as_int(t), as_int(magic));
    vf r = fnmadd(nf, set1(0.693359375f), x);  // ln2 split in a short high part and the rest
    return fnmadd(nf, set1(-2.12194440e-4f), r);
}

inline vf pow2i(vi n) { return as_float(shl_i<23>(add_i(n, set1_i(127)))); }  // -126 <= n <= 127

// exp(x) for x <= 88 (softmax: logit minus a reference at most 64 below the max). Results
// below FLT_MIN flush to 0, exp(-inf) = 0, NaN stays NaN; exp(0) is exactly 1.
// The hot loop of the softmax losses, so it is cut to the bone: x * log2(e) = n + f with one
// rounding (an FMA, no Cody-Waite split: the float log2(e) adds ~1.5e-8 * |x| relative error,
// at most ~1.3e-6 at x = 64 and less where the terms matter), and 2^f on [-1/2, 1/2] by a
// degree-5 minimax polynomial (7e-8 relative): 12 operations against 17 for exp().
template <bool Split>
inline vf exp_short(vf x) {
    // 1.5 * 2^23 + 127: adding it rounds to an integer, and leaves n + 127 (the biased exponent
    // of 2^n) in the low bits of t, so 2^n is just those bits shifted into the exponent field
    const vf magic = set1(12583039.0f);
    const vf xc = max(set1(-88.0f), x);  // keeps n >= -127, which builds the float 0
    const vf t = fmadd(xc, set1(1.44269504088896341f), magic);
    vf f = fmadd(xc, set1(1.44269504088896341f), sub(magic, t));  // x log2(e) - n
    if (Split) f = fmadd(xc, set1(1.9259629911e-8f), f);  // log2(e) - (float)log2(e)
    const vf f2 = mul(f, f);
    const vf p01 = fmadd(set1(0.6931465864181519f), f, set1(1.0f));
    const vf p23 = fmadd(set1(0.055510472506284714f), f, set1(0.24022166430950165f));
    const vf p45 = fmadd(set1(0.0013202981790527701f), f, set1(0.009674952365458012f));
    const vf p = fmadd(fmadd(p45, f2, p23), f2, p01);
    return mul(p, as_float(shl_i<23>(as_int(t))));
}
inline vf exp_softmax(vf x) { return exp_short<false>(x); }

// exp(x) over the whole float range, denormal results included.
inline vf exp(vf x) {
    vf xc = min(set1(88.72283f), max(set1(-104.0f), x));
    vi n;
    vf r = exp_reduce(xc, n);
    vf p = exp_poly(r);
    // 2^n in two normal factors, so results down to the denormals are rounded correctly.
    vi n1 = sra_i<1>(n);
    vi n2 = sub_i(n, n1);
    vf y = mul(mul(p, pow2i(n1)), pow2i(n2));
    y = select(gt(x, set1(88.72283f)), set1(INFINITY), y);
    return select(lt(x, set1(-103.9f)), zero(), y);
}

// log((1 + f) * 2^e) for f in [sqrt(1/2) - 1, sqrt(2) - 1].
inline vf log_reduced(vf f, vf e) {
    const vf f2 = mul(f, f), f4 = mul(f2, f2);
    const vf q0 = fmadd(set1(7.0376836292e-2f), f, set1(-1.1514610310e-1f));
    const vf q1 = fmadd(set1(1.1676998740e-1f), f, set1(-1.2420140846e-1f));
    const vf q2 = fmadd(set1(1.4249322787e-1f), f, set1(-1.6668057665e-1f));
    const vf q3 = fmadd(set1(2.0000714765e-1f), f, set1(-2.4999993993e-1f));
    const vf p7 = fmadd(fmadd(q0, f2, q1), f4, fmadd(q2, f2, q3));
    const vf p = fmadd(p7, f, set1(3.3333331174e-1f));
    vf y = mul(mul(p, f), f2);
    y = fmadd(e, set1(-2.12194440e-4f), y);
    y = fnmadd(set1(0.5f), f2, y);
    return fmadd(e, set1(0.693359375f), add(f, y));
}

// log(u) for u in [1, 2] (no special values to handle).
inline vf log_1_2(vf u) {
    const vmask big = gt(u, set1(1.41421356f));
    const vf m = select(big, mul(u, set1(0.5f)), u);
    return log_reduced(sub(m, set1(1.0f)), select(big, set1(1.0f), zero()));
}

// Natural log of a positive normal finite float (no special value to handle).
inline vf log_normal(vf x) {
    const vi bits = as_int(x);
    vf e = to_float(sub_i(shr_i<23>(bits), set1_i(127)));
    vf m = as_float(or_i(and_i(bits, set1_i(0x007fffff)), set1_i(0x3f800000)));  // [1, 2)
    const vmask big = gt(m, set1(1.41421356f));  // keep m in [sqrt(1/2), sqrt(2)]
    m = select(big, mul(m, set1(0.5f)), m);
    e = select(big, add(e, set1(1.0f)), e);
    return log_reduced(sub(m, set1(1.0f)), e);
}

// Natural log over the whole float range.
inline vf log(vf x) {
    vmask tiny = lt(x, set1(FLT_MIN));  // denormals: scale into the normal range first
    vf xs = select(tiny, mul(x, set1(8388608.0f)), x);
    vi bits = as_int(xs);
    vf e = to_float(sub_i(shr_i<23>(bits), set1_i(127)));
    e = select(tiny, sub(e, set1(23.0f)), e);
    vf m = as_float(or_i(and_i(bits, set1_i(0x007fffff)), set1_i(0x3f800000)));  // [1, 2)
    vmask big = gt(m, set1(1.41421356f));  // keep m in [sqrt(1/2), sqrt(2)]
    m = select(big, mul(m, set1(0.5f)), m);
    e = select(big, add(e, set1(1.0f)), e);
    vf r = log_reduced(sub(m, set1(1.0f)), e);
    r = select(eq(x, zero()), set1(-INFINITY), r);
    r = select(eq(x, set1(INFINITY)), x, r);
    return select(ge(x, zero()), r, set1(NAN));  // negative or NaN
}

// 1 / u for u in [1, 4] (no special values): the hardware's estimate and one Newton step, within
// about 1 ulp: a division's accuracy is not needed where the result is a factor of the loss.
FL_INLINE vf reciprocal_1_4(vf u) {
    const vf r = rcp_estimate(u);
    return mul(r, fnmadd(u, r, set1(2.0f)));
}

// log(1 + e) for e in [0, 1], accurate for tiny e (about 2e-7 relative): 2 atanh(s) with
// s = e / (2 + e) in [0, 1/3], as 2 s (1 + s^2 h(s^2)), h a cubic fitted to the relative error.
FL_INLINE vf log1p_unit(vf e) {
    const vf s = mul(e, reciprocal_1_4(add(set1(2.0f), e)));
    const vf z = mul(s, s), z2 = mul(z, z);
    const vf h = fmadd(fmadd(set1(0.1400599628686905f), z, set1(0.14000901579856873f)), z2,
                       fmadd(set1(0.2001076340675354f), z, set1(0.3333320915699005f)));
    return mul(add(s, s), fmadd(z, h, set1(1.0f)));
}

// exp(x) for x <= 0 or NaN, denormal results included: the short exp where every lane is above
// -87 (the result is a normal float), the full one otherwise (rare: far from the decision
// boundary). The short exp's reduction is split in two here: the element-wise losses take x down
// to -87, where one rounding of log2(e) would cost 1.3e-6 relative, and the focal power multiplies it.
// (The scalar unit has no FMA: its reduction would round x log2(e) first, 3e-6 at x = -68.)
FL_INLINE vf exp_nonpositive(vf x) {
    if (kLanes == 1) return exp(x);
    return any(lt(x, set1(-87.0f))) ? exp(x) : exp_short<true>(x);
}

// tanh: odd polynomial near 0, 1 - 2 / (exp(2|x|) + 1) elsewhere.
inline vf tanh(vf x) {
    vf a = abs(x);
    vf far = fnmadd(set1(2.0f), div(set1(1.0f), add(exp(add(a, a)), set1(1.0f))), set1(1.0f));
    vf x2 = mul(x, x);
    vf p = set1(-5.70498872745e-3f);
    p = fmadd(p, x2, set1(2.06390887954e-2f));
    p = fmadd(p, x2, set1(-5.37397155531e-2f));
    p = fmadd(p, x2, set1(1.33314422036e-1f));
    p = fmadd(p, x2, set1(-3.33332819422e-1f));
    vf near = fmadd(mul(p, x2), x, x);
    return select(lt(a, set1(0.625f)), near, copysign(far, x));
}

// Logistic sigmoid of x and of -x without cancellation, plus the pieces the binary losses share.
struct Sigmoid {
    vf s;       // sigmoid(x)
    vf s_neg;   // sigmoid(-x) = 1 - s, computed directly
    vf log1p_e; // log(1 + exp(-|x|)), so softplus(x) = max(x, 0) + log1p_e
};
FL_INLINE Sigmoid sigmoid(vf x) {
    const vf e = exp_nonpositive(sub(zero(), abs(x)));  // in [0, 1]; NaN for a NaN x
    const vf inv = reciprocal_1_4(add(set1(1.0f), e));  // sigmoid(|x|)
    const vf small = mul(e, inv);                          // sigmoid(-|x|)
    const vmask pos = ge(x, zero());
    Sigmoid r;
    r.s = select(pos, inv, small);
    r.s_neg = select(pos, small, inv);
    r.log1p_e = log1p_unit(e);
    return r;
}

}  // namespace simd
}  // namespace FL_NS
