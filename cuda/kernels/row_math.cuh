/*
 * row_math.cuh: the float arithmetic of the softmax row engine (softmax_rows.cuh): a thread's
 * partial statistics of its elements, how two partials combine, the row's loss and gradient
 * coefficients, and each element's gradient. Plain C++ as well as CUDA (FLC_HD, math.cuh):
 * cuda/test/host_check.cpp runs this very code on the CPU, in the order the kernel runs it (its thread
 * layout and reductions emulated), against the CPU kernels. The kernel adds only the memory
 * traffic, the thread layout and the reductions.
 */
#ifndef FLC_ROW_MATH_CUH
#define FLC_ROW_MATH_CUH

#include "math.cuh"

namespace flc {

enum RowKind { CE_INDEX = 0, CE_DENSE = 1, FOCAL = 2 };

struct RowArgs {
    long long n, c;
    const float* x;
    const int* labels;
    const float* targets;
    int ignore_index;
    const float* cw;         /* class weights (CE) or alpha (focal), NULL = 1 */
    const float* sw;
    long long sw_stride;
    float eps, z_loss, cap, gamma;
    const float* upstream;
    float* grad;
    float* per_term;
    void* ws;
    double* result;
};

/* Partial softmax statistics of a set of elements, relative to their max m:
 * S = sum exp(z - m) = 1 + o: the max's own term (exactly 1) is kept apart from o, the sum of
 * the others, so that log S = log1p(o) keeps its relative accuracy when p of the max is close
 * to 1 (a confident row; logf(1 + o) would keep only o's absolute accuracy, ~6e-8).
 * No finite element: m = -inf and o = -1 (S = 0). A NaN logit makes o NaN, in every partial
 * that holds it and every combination of it, so the row's term is NaN (and counted).
 * b = sum wgt (m - z) over finite z, w = sum wgt over finite z,
 * inf_mass = target mass on -inf logits (dense targets; makes the loss +inf). */
struct RowAcc {
    float m, o, b, w, inf_mass;
};

FLC_HD RowAcc acc_identity() { return RowAcc{-INFINITY, -1.f, 0.f, 0.f, 0.f}; }

/* Combine two partials (commutative bit for bit: every lane of a butterfly gets the same).
 * The smaller max's S is rescaled into the larger's o; equal maxima add both. A partial without
 * a finite element adds S = 0, or NaN when it holds a NaN (never 0 in its place). */
FLC_HD void acc_combine(RowAcc& a, const RowAcc& x) {
    const float m = fmaxf(a.m, x.m);
    float o;
    if (a.m == x.m) {
        o = (a.o + x.o) + 1.f;  /* 1 + o_a + 1 + o_x = 1 + o */
    } else {
        /* the two by value: a reference chosen at run time would put both in local memory */
        const bool a_hi = a.m > x.m;
        const float hi_m = a_hi ? a.m : x.m, hi_o = a_hi ? a.o : x.o;
        const float lo_m = a_hi ? x.m : a.m, lo_o = a_hi ? x.o : a.o;
        const float f = lo_m == -INFINITY ? 0.f : expf(lo_m - hi_m);
        o = hi_o + (1.f + lo_o) * f;  /* (1 + NaN) * 0 stays NaN */
    }
    const float ba = a.b + (a.w > 0.f ? a.w * (m - a.m) : 0.f);
    const float bx = x.b + (x.w > 0.f ? x.w * (m - x.m) : 0.f);
    a.m = m;
    a.o = o;
    a.b = ba + bx;
    a.w = a.w + x.w;
    a.inf_mass = a.inf_mass + x.inf_mass;
}

/* Add one finite-or-not element online (stream path): one exp per element. */
FLC_HD void acc_add_online(RowAcc& a, float z, float wgt) {
    if (z == -INFINITY) return;
    if (z > a.m) {  /* a new max: the old S = 1 + o moves into o */
        const float r = a.m == -INFINITY ? 0.f : expf(a.m - z);
        if (a.w > 0.f) a.b += a.w * (z - a.m);
        a.o = (1.f + a.o) * r;
        a.m = z;
    } else if (z == a.m) {
        a.o += 1.f;
    } else {
        a.o += expf(z - a.m);  /* NaN: z > m and z == m are false, so it lands here */
    }
    a.b += wgt * (a.m - z);
    a.w += wgt;
}

/* Soft cap: z = cap * tanh(x / cap); -inf stays -inf only when there is no cap. */
FLC_HD float soft_cap(float x, float cap) { return cap > 0.f ? cap * tanhf(x / cap) : x; }

/* ---- element access: slot i of thread t in a chunk, float4 (VEC) or scalar ---------------- */

template <bool VEC, int GT>
FLC_HD int slot_pos(int t, int i) {  /* a row chunk is < 2^31 elements */
    return VEC ? 4 * (t + (i >> 2) * GT) + (i & 3) : t + i * GT;
}

/* Number of slots of thread t that fall inside a chunk of len elements (slot positions grow
 * with the slot index, so the valid ones are a prefix: loops stop at the first invalid one). */
template <bool VEC, int GT, int E>
FLC_HD int valid_slots(int len, int t) {
    if (VEC) {
        const int nv4 = len >> 2;  /* len is a multiple of 4 on the VEC path */
        const int s4 = nv4 > t ? (nv4 - t + GT - 1) / GT : 0;
        return 4 * (s4 < E / 4 ? s4 : E / 4);
    }
    const int s1 = len > t ? (len - t + GT - 1) / GT : 0;
    return s1 < E ? s1 : E;
}

/* ---- pass 1 per element ------------------------------------------------------------------- */

/* Where the thread keeps its elements on chip: pass 1 of element z (column j of the chunk),
 * relative to the thread's max mt. Returns what the slot keeps for the gradient: e, or -0.0 for
 * a -inf logit (a masked class). cwc / tr: the chunk's class weights and dense targets. */
template <int KIND>
FLC_HD float acc_add_kept(RowAcc& acc, int& ties, float z, float mt, const float* cwc,
                          const float* tr, int j, float eps, float eps_c, bool smooth_idx) {
    float e = 0.f;
    if (z != -INFINITY) {
        e = expf(z - mt);
        if (z == mt) ++ties;  /* the max's own 1s, added to o at the end, less the one of S = 1 + o */
        else acc.o += e;
    }
    if (KIND == CE_INDEX && smooth_idx && z != -INFINITY) {
        const float wc = cwc ? cwc[j] : 1.f;
        acc.b += wc * (mt - z);
        acc.w += wc;
    } else if (KIND == CE_DENSE) {
        const float wc = cwc ? cwc[j] : 1.f;
        const float tt = tr[j];
        if (z != -INFINITY) {
            const float q = wc * ((1.f - eps) * tt + eps_c);
            acc.b += q * (mt - z);
            acc.w += q;
        } else {
            acc.inf_mass += wc * (1.f - eps) * tt;
        }
    }
    return z == -INFINITY ? -0.f : e;
}

/* The partial of a thread that kept its elements: starts at its max, ends after the last (ties:
 * its elements equal to the max; none when it holds no finite element, then o = -1: S = 0). */
FLC_HD RowAcc acc_kept_begin(float mt) {
    RowAcc a = acc_identity();
    a.m = mt;
    a.o = 0.f;
    return a;
}
FLC_HD void acc_kept_end(RowAcc& a, int ties) { a.o += (float)(ties - 1); }

/* The streaming path (a chunk too long to keep, or a soft cap): element z, online. */
template <int KIND>
FLC_HD void acc_add_streamed(RowAcc& acc, float z, const float* cwc, const float* tr, int j,
                             float eps, float eps_c, bool smooth_idx) {
    float wgt = 0.f;
    if (KIND == CE_INDEX && smooth_idx) {
        wgt = cwc ? cwc[j] : 1.f;
    } else if (KIND == CE_DENSE) {
        const float wc = cwc ? cwc[j] : 1.f;
        const float tt = tr[j];
        if (z == -INFINITY) acc.inf_mass += wc * (1.f - eps) * tt;
        wgt = wc * ((1.f - eps) * tt + eps_c);
    }
    acc_add_online(acc, z, wgt);
}

/* ---- per-row constants -------------------------------------------------------------------- */

/* What the gradient loop needs, identical in every thread of the group. */
struct RowCoef {
    float M;       /* row max */
    float pscale;  /* G * P / S: multiplies exp(z - M) */
    float gy;      /* the gradient of class y itself (index kinds), from 1 - p_y = -expm1(-nll)
                    * so that it stays accurate when p_y is close to 1; 0 when z_y = -inf */
    float qs;      /* G * eps / C (smoothing mass per unit class weight, CE index) */
    float qd;      /* G * (1 - eps) (dense targets) */
    bool dropped;  /* no target mass and no z-loss: term 0, gradient 0 whatever the logits */
    bool wide;     /* G or a factor is no normal float: the factors above are per unit G, and
                    * each element is multiplied by G in double */
    double G;      /* grad factor x upstream x sample weight */
    double term;   /* the row's weighted loss, as the float it is reported as */
};

/* Row-level math from the reduced statistics (SEMANTICS / fusedloss.h formulas). Float is
 * enough here: every quantity is a sum of non-negative parts, log S = log1p(o) is accurate for
 * confident rows, and the one difference that would cancel, P - q_y of the label's gradient, is
 * formed directly. The z-loss's last product is taken in double (z lse^2 passes the float range
 * for |lse| of 1e19 and more), and the cross-row sums are accumulated in double. A part of a term whose mass
 * is 0 (class weight, 1 - eps, alpha) adds 0 even where its log-probability is infinite; a row
 * with no target mass and no z-loss at all is dropped (term 0, gradient 0), as on the CPU.
 * G = grad factor x upstream x sample weight stays in double until it meets the row's factors:
 * 1 / a tiny weight sum can lie beyond float range where G does not (weights of 1e-40 with
 * MEAN), and G itself can (a caller denominator of 1e-300) where the gradient is 0. */
template <int KIND>
FLC_HD RowCoef row_coef(const RowArgs& a, const RowAcc& r, float zy, float cwy, float sw, double G) {
    RowCoef k;
    k.M = r.m;
    const float logS = log1pf(r.o), S = 1.f + r.o;
    const float lse = r.m + logS;
    const float eps = a.eps, zl = a.z_loss;
    const float eps_c = (float)((double)a.eps / (double)a.c);
    float L, P, Q;  /* Q: the row's target mass (the drop rule); P: what multiplies p_c */
    float zt = 0.f;  /* the z-loss term is zt * lse, its last product in double */
    /* the gradient's row factors per unit G */
    float gy = 0.f, qs = 0.f, qd = 0.f;
    if (KIND == CE_INDEX) {
        /* sum_c q_c (lse - z_c) = (1-eps) cw_y (lse - z_y) + eps/C (B + W log S) */
        const float nll = (r.m - zy) + logS;                         /* -log p_y */
        L = times_unless_zero((1.f - eps) * cwy, nll);
        if (eps != 0.f && r.w != 0.f) L += eps_c * (r.b + r.w * logS);
        if (zl != 0.f && cwy != 0.f) zt = cwy * zl * lse;            /* weighted by cw[y]: none for 0 */
        Q = (1.f - eps) * cwy + eps_c * r.w;
        P = Q + 2.f * zt;
        qs = eps_c;
        const float m = -expm1f(-nll);                               /* 1 - p_y */
        /* G (P p_y - q_y) = G ((P - q_y) - P m), with P - q_y = eps/C (W - cw_y) + 2 zt formed
         * directly: (P - q_y) in float would be the rounding of P where the z-loss part is small */
        const float p_minus_qy = (eps != 0.f ? eps_c * (r.w - cwy) : 0.f) + 2.f * zt;
        gy = zy == -INFINITY ? 0.f : p_minus_qy - P * m;
        if (a.cap > 0.f) {
            const float zc = zy / a.cap;
            gy *= 1.f - zc * zc;
        }
    } else if (KIND == CE_DENSE) {
        /* no target mass at all (e.g. all targets 0): an empty sum, not 0 * inf */
        L = (r.w == 0.f ? 0.f : r.b + r.w * logS) + (r.inf_mass > 0.f ? INFINITY : 0.f);
        if (zl != 0.f) zt = zl * lse;
        Q = r.w + r.inf_mass;
        if (a.c == 1 && r.o == 0.f) {
            /* One class: p = 1 and q = Q, so G p - q is the z-loss part alone. Taken apart, it
             * does not drown in the float rounding of G p and q (which cancel exactly). */
            P = 2.f * zt;
        } else {
            P = Q + 2.f * zt;
            qs = eps_c;
            qd = 1.f - eps;
        }
    } else {  /* FOCAL: p = p_y, lp = log p, m = 1 - p */
        const float g = a.gamma;
        const float lp = (zy - r.m) - logS;
        const float p = expf(lp), m = -expm1f(lp);
        const float mg = pow_gamma(m, g);
        L = times_unless_zero(cwy * mg, -lp);
        float F = mg;
        if (g != 0.f && m != 0.f && p != 0.f) F -= g * pow_gamma(m, g - 1.f) * p * lp;
        F *= cwy;
        Q = cwy;
        P = F;
        gy = zy == -INFINITY ? 0.f : -F * m;                         /* F (p_y - 1) */
    }
    /* No target mass and no z-loss: every part of the row is dropped, its gradient too, even
     * where the logits are not finite (not 0 * NaN). Not counted as non-finite. */
    k.dropped = Q == 0.f && zt == 0.f;
    k.term = k.dropped ? 0.0 : as_float_term((double)sw * ((double)L + (zt == 0.f ? 0.0 : (double)zt * (double)lse)));
    /* The common case: G and its products with the row's factors are normal floats (or 0), and
     * each element is formed in float. Otherwise (rare: "wide") the factors stay per unit G and
     * each element, formed in float per unit G, meets G in double (grad_streamed). */
    const float Gf = (float)G, ps = P / S;
    k.wide = !(fits_float(G) && fits_float(Gf * ps) && fits_float(Gf * qs) && fits_float(Gf * qd));
    const float f = k.wide ? 1.f : Gf;
    k.pscale = f * ps;
    k.qs = f * qs;
    k.qd = f * qd;
    k.gy = f * gy;
    k.G = G;
    if (isnan(k.term)) {  /* a NaN row (a NaN logit, inf - inf): NaN at every logit (SEMANTICS.md) */
        k.wide = true;
        k.G = NAN;
    }
    return k;
}

/* ---- pass 2 per element ------------------------------------------------------------------- */

/* The gradient of a kept element: e (relative to the thread max) times ps = pscale exp(mt - M),
 * less its target mass; the label's own element is gy. */
template <int KIND>
FLC_HD float grad_kept(const RowCoef& k, float ps, float e, const float* cwc, const float* tr,
                       int j, int yrel, bool smooth_idx) {
    const bool finite = !signbit(e);  /* -0.0 marks a -inf logit (e is never -0) */
    float gi = ps * e;                /* +-0 for a -inf logit, NaN in a NaN row */
    if (KIND == CE_INDEX) {
        if (smooth_idx && finite) gi -= k.qs * (cwc ? cwc[j] : 1.f);
    } else if (KIND == CE_DENSE) {
        /* a -inf logit's gradient is 0, even with target mass on it (SEMANTICS.md) */
        gi -= (cwc ? cwc[j] : 1.f) * (finite ? k.qd * tr[j] + k.qs : 0.f);
    }
    if (KIND != CE_DENSE && j == yrel) gi = k.gy;
    return gi;
}

/* The gradient of a streamed element z (capped logit), read again from memory. WIDE: the
 * row's factors are per unit G (RowCoef::wide), the element meets G in double. */
template <int KIND, bool WIDE>
FLC_HD float grad_streamed(const RowCoef& k, float z, float cap, const float* cwc,
                           const float* tr, int j, int yrel, bool smooth_idx) {
    const bool finite = z != -INFINITY;
    float gi = finite ? k.pscale * expf(z - k.M) : 0.f;
    if (KIND == CE_INDEX) {
        if (smooth_idx && finite) gi -= k.qs * (cwc ? cwc[j] : 1.f);
    } else if (KIND == CE_DENSE) {
        gi -= (cwc ? cwc[j] : 1.f) * (finite ? k.qd * tr[j] + k.qs : 0.f);
    }
    if (cap > 0.f) {
        const float zc = z / cap;
        gi *= 1.f - zc * zc;
    }
    if (KIND != CE_DENSE && j == yrel) gi = k.gy;  /* cap factor included */
    if (WIDE) gi = (float)((double)gi * k.G);
    return gi;
}

}  // namespace flc

#endif /* FLC_ROW_MATH_CUH */
