// Binary cross-entropy with logits, pos_weight per column, binary class weights {w0, w1}.
// Formulas: fusedloss.h. One exp, one log and one division per element. Compiled once per ISA.
#include "elementwise.h"

namespace FL_NS {

namespace {
struct BinaryCrossEntropy {
    // the flat rows' runs test their terms by their sum (elementwise.h: test_per_run)
    static constexpr bool kTermsTestedPerRun = true;
    const float* pos_weight;  // per column, NULL: 1
    const float* class_weights;  // {w0, w1} picked by the hard target, NULL: 1

    const float* column_weights() const { return pos_weight; }

    template <bool Careful>
    FL_INLINE void eval(vf x, vf t, vf pw, vf& term, vf& deriv) const {  // pw: the lanes' pos_weight
        const Sigmoid sg = sigmoid(x);
        const vf one_t = sub(set1(1.0f), t);
        const vf pw_t = mul(pw, t);
        const vf sp_neg = softplus_neg(x, sg), sp_pos = softplus_pos(x, sg);
        if (!Careful) {  // finite softplus and sigmoid: a zero factor gives 0 by itself
            term = fmadd(pw_t, sp_neg, mul(one_t, sp_pos));
            deriv = fnmadd(pw_t, sg.s_neg, mul(one_t, sg.s));
        } else {
            // pw t softplus(-x) + (1 - t) softplus(x)
            term = add(times_unless_zero(pw_t, sp_neg), times_unless_zero(one_t, sp_pos));
            // (1 - t) s - pw t (1 - s), each part dropped where its factor is 0 (as in the term)
            deriv = sub(times_unless_zero(one_t, sg.s), times_unless_zero(pw_t, sg.s_neg));
        }
        if (class_weights)
            weigh_unless_zero(select(ge(t, set1(0.5f)), set1(class_weights[1]), set1(class_weights[0])), term, deriv);
    }
};
}  // namespace

void binary_cross_entropy_rows(const fl::ElementwiseArgs& a, int64_t r0, int64_t r1,
                               fl::BlockSum* out) {
    elementwise_rows(a, BinaryCrossEntropy{a.pos_weight, a.binary_class_weights}, r0, r1, out);
}

}  // namespace FL_NS
