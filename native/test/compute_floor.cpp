// compute_floor.cpp: the compute floor of each loss, per instruction set (native_check --floor).
//
// A floor is the loss's own math, nothing else: the same vmath.h functions the kernels call, each
// element's exp (log, reciprocal, power) once, the row sums, the row's log and reciprocal, the
// gradient's multiply, over data that stays in L1, with the rows across the lanes (lane r holds
// row r, so every row reduction is a vertical add). No labels to look up, no weights to fetch, no
// per-row bookkeeping, no transposes, no traffic beyond L1. A kernel's time over its floor is what
// its data movement and its overheads cost. Compiled once per ISA, like the kernels, into
// native_check only (not the library).
#include "compute_floor.h"

#include "elementwise.h"

namespace FL_NS {

using namespace simd;

namespace {
float reduce_sum(vf v) {
    float lanes[kLanes];
    store(lanes, v);
    float s = 0.0f;
    for (float l : lanes) s += l;
    return s;
}
}  // namespace

// The softmax losses on one block of kLanes rows x cols classes, column-major (column j is one
// vector, lane r is row r). Pass 1 as the kernels' single sweep: e = exp(z - z_label) against
// column 0 as the label, the running max (the kernels check that no logit is far above the
// reference), e kept in place. The row math: log S, 1 / S, the weighted term (focal: the
// gamma = 2 factor too). Pass 2: the gradient e * k, in place. Returns the sum of the terms.
float floor_softmax(float* block, int cols, bool focal) {
    const vf label = load(block);
    vf s0 = zero(), s1 = zero(), vmax = label;
    int j = 0;
    for (; j + 2 <= cols; j += 2) {  // two sums: consecutive adds do not wait on each other
        const vf a = load(block + j * kLanes), b = load(block + (j + 1) * kLanes);
        vmax = max(vmax, max(a, b));
        const vf ea = exp_softmax(sub(a, label)), eb = exp_softmax(sub(b, label));
        s0 = add(s0, ea);
        s1 = add(s1, eb);
        store(block + j * kLanes, ea);
        store(block + (j + 1) * kLanes, eb);
    }
    for (; j < cols; ++j) {
        const vf a = load(block + j * kLanes);
        vmax = max(vmax, a);
        const vf ea = exp_softmax(sub(a, label));
        s0 = add(s0, ea);
        store(block + j * kLanes, ea);
    }
    const vf others = sub(add(s0, s1), set1(1.0f)), u = add(set1(1.0f), others);
    const vf inv_u = div(set1(1.0f), u);
    const vf log_s = fmadd(sub(others, sub(u, set1(1.0f))), inv_u, log(u));
    vf k = mul(set1(0.5f), inv_u), term = mul(set1(0.5f), log_s);
    if (focal) {  // gamma = 2: m = 1 - p_y, term m^2 nll, gradient factor m^2 + 2 m p_y log p_y
        const vf m = mul(others, inv_u), m2 = mul(m, m);
        term = mul(m2, term);
        k = mul(k, fmadd(add(m, m), mul(inv_u, log_s), m2));
    }
    k = select(gt(vmax, set1(1e30f)), zero(), k);  // consumes the max, as the kernels' check does
    for (j = 0; j < cols; ++j) store(block + j * kLanes, mul(load(block + j * kLanes), k));
    return reduce_sum(term);
}

// The element-wise losses over n elements (n a multiple of kLanes): predictions x, targets t,
// gradient into g; returns the sum of the terms.
float floor_elementwise(FloorLoss loss, const float* x, const float* t, float* g, int n) {
    vf sum = zero();
    for (int j = 0; j < n; j += kLanes) {
        const vf xv = load(x + j), tv = load(t + j);
        vf term, deriv;
        if (loss == FloorLoss::mse) {
            const vf d = sub(xv, tv);
            term = mul(d, d);
            deriv = add(d, d);
        } else {
            // binary cross-entropy: softplus(x) - t x, and s - t
            const Sigmoid sg = sigmoid(xv);
            const vf ce = fnmadd(tv, xv, softplus_pos(xv, sg));
            const vf s_minus_t = sub(sg.s, tv);
            if (loss == FloorLoss::bce) {
                term = ce;
                deriv = s_minus_t;
            } else {  // sigmoid focal, gamma 2, alpha 0.25: m = 1 - p_t, a_t = alpha t + (1 - alpha)(1 - t)
                const vf m = fmadd(tv, sub(sg.s_neg, sg.s), sg.s);
                const vf m2 = mul(m, m), a_t = fmadd(tv, set1(-0.5f), set1(0.75f));
                const vf chain = mul(mul(add(m, m), mul(sg.s, sg.s_neg)), mul(sub(add(tv, tv), set1(1.0f)), ce));
                term = mul(a_t, mul(m2, ce));
                deriv = mul(a_t, fnmadd(set1(1.0f), chain, mul(m2, s_minus_t)));
            }
        }
        sum = add(sum, term);
        store(g + j, deriv);
    }
    return reduce_sum(sum);
}

int floor_lanes() { return kLanes; }

}  // namespace FL_NS
