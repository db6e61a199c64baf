// Mean squared error: term = w (x - t)^2, d/dx = 2 w (x - t). Compiled once per ISA.
#include "elementwise.h"

namespace FL_NS {

namespace {
struct SquaredError {
    // the flat rows test each vector's terms (a test per run cost these cheap terms more)
    static constexpr bool kTermsTestedPerRun = false;
    const float* column_weights() const { return nullptr; }

    template <bool>
    FL_INLINE void eval(vf x, vf t, vf, vf& term, vf& deriv) const {
        const vf d = sub(x, t);
        term = mul(d, d);
        deriv = add(d, d);
    }
};
}  // namespace

void mean_squared_error_rows(const fl::ElementwiseArgs& a, int64_t r0, int64_t r1,
                             fl::BlockSum* out) {
    elementwise_rows(a, SquaredError{}, r0, r1, out);
}

}  // namespace FL_NS
