// Sigmoid focal loss (torchvision sigmoid_focal_loss), alpha < 0: no alpha factor.
// Formulas: fusedloss.h. The binary cross-entropy and m = 1 - p_t are formed without
// cancellation: ce = (1 - t) softplus(x) + t softplus(-x), m = t (1 - s) + (1 - t) s.
// Per element: one exp, one log, one division; a gamma other than 0 or 2 adds one log, one exp
// and one division. Compiled once per ISA.
#include "elementwise.h"

namespace FL_NS {

namespace {
enum class Gamma { zero, two, any };

template <Gamma G>
struct SigmoidFocal {
    // the flat rows' runs test their terms by their sum (elementwise.h: test_per_run)
    static constexpr bool kTermsTestedPerRun = true;
    float gamma;
    // the factor alpha t + (1 - alpha)(1 - t): where alpha >= 0 (weighs); alpha 0 and 1 are the only
    // ones whose factor is 0 for some t in [0, 1] (may_drop). Formed once, not for every vector.
    bool weighs, may_drop;
    float alpha, one_minus_alpha;

    SigmoidFocal(float a, float g)
        : gamma(g), weighs(a >= 0.0f), may_drop(a == 0.0f || a == 1.0f), alpha(a), one_minus_alpha(1.0f - a) {}

    const float* column_weights() const { return nullptr; }

    template <bool Careful>
    FL_INLINE void eval(vf x, vf t, vf, vf& term, vf& deriv) const {
        // A target outside [0, 1] (or NaN) has no focal weight ((1 - p_t)^gamma of a negative
        // base): as NaN it makes the term and derivative NaN, counted as non-finite (the reference too).
        t = select(mask_and(ge(t, zero()), le(t, set1(1.0f))), t, set1(NAN));
        const Sigmoid sg = sigmoid(x);
        const vf one_t = sub(set1(1.0f), t);
        const vf sp_neg = softplus_neg(x, sg), sp_pos = softplus_pos(x, sg);
        // finite softplus values: a zero factor gives 0 by itself
        const vf ce = !Careful ? fmadd(t, sp_neg, mul(one_t, sp_pos))
                               : add(times_unless_zero(t, sp_neg), times_unless_zero(one_t, sp_pos));
        const vf s_minus_t = fnmadd(t, sg.s_neg, mul(one_t, sg.s));
        if (G == Gamma::zero) {
            term = ce;
            deriv = s_minus_t;
        } else {
            const vf m = fmadd(t, sg.s_neg, mul(one_t, sg.s));  // 1 - p_t
            vf m_g, g_m_g1;  // m^gamma and gamma m^(gamma - 1) (0 where m == 0)
            if (G == Gamma::two) {
                m_g = mul(m, m);
                g_m_g1 = add(m, m);
            } else {
                m_g = exp(mul(set1(gamma), log(m)));
                g_m_g1 = select(gt(m, zero()), mul(set1(gamma), div(m_g, m)), zero());
            }
            term = mul(m_g, ce);
            // m^g (s - t) - g m^(g-1) s (1 - s) (2t - 1) ce
            const vf chain = mul(mul(g_m_g1, mul(sg.s, sg.s_neg)), mul(sub(add(t, t), set1(1.0f)), ce));
            deriv = sub(mul(m_g, s_minus_t), chain);
        }
        if (weighs) {
            const vf a_t = fmadd(t, set1(alpha), mul(one_t, set1(one_minus_alpha)));
            if (may_drop) {
                weigh_unless_zero(a_t, term, deriv);
            } else {
                term = mul(term, a_t);
                deriv = mul(deriv, a_t);
            }
        }
    }
};

template <Gamma G>
void run(const fl::ElementwiseArgs& a, int64_t r0, int64_t r1, fl::BlockSum* out) {
    elementwise_rows(a, SigmoidFocal<G>(a.alpha, a.gamma), r0, r1, out);
}
}  // namespace

void sigmoid_focal_rows(const fl::ElementwiseArgs& a, int64_t r0, int64_t r1, fl::BlockSum* out) {
    if (a.gamma == 0.0f)
        run<Gamma::zero>(a, r0, r1, out);
    else if (a.gamma == 2.0f)
        run<Gamma::two>(a, r0, r1, out);
    else
        run<Gamma::any>(a, r0, r1, out);
}

}  // namespace FL_NS
