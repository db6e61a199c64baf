// softmax_row.h: the row engine shared by the softmax losses (cross-entropy, softmax focal),
// generic over simd.h.
//
// Pass 1 reads the logits once, an 8 KiB chunk at a time, and computes e = exp(z - reference)
// (the only exp per element), their sum in double, the extra sums of smoothing / dense targets,
// and keeps e in the per-thread scratch row (L1 / L2), or, for rows of one chunk whose gradient
// does not overlap the logits, in the gradient row itself (the gradient's cache misses are then
// taken while pass 1 computes, and pass 2 scales the row in L1). The reference is:
// - class indices without smoothing or cap: the label's own logit, so one sweep per chunk (the
//   chunk is redone from L1 only if a logit exceeds the reference by more than 64);
// - otherwise the running max: sweep A finds the chunk max (and computes capped logits into the
//   scratch row), sweep B the exponentials, from L1.
// When the reference moves, the sums are rescaled once per chunk (a scalar exp) and each chunk
// remembers its reference. Pass 2 turns the kept e into the gradient (one multiply by the
// chunk's factor exp(chunk ref - final ref) * coefficient) and writes it, with non-temporal
// stores for large outputs of long rows; it never reads the logits again, so grad may alias them. For long
// rows of cross-entropy, pass 2 of a row runs inside the next row's pass 1 (GradWriter).
//
// Accuracy: the label's (or the max's) e is exactly 1 and the others are summed apart from it,
// and the loss is formed as (ref - z_y) + log S, so a confident row's small loss keeps its
// relative accuracy and logits near +-1e30 do not cancel.
#pragma once

#include <math.h>
#include <string.h>

#include <type_traits>

#include "kernels.h"
#include "vmath.h"

namespace FL_NS {

using namespace simd;

// What a row needs beyond max and sum of exponentials.
enum class Extra {
    none,       // class index, no smoothing
    smoothing,  // class index with label smoothing: sums over the unmasked classes
    dense,      // dense targets
};

struct RowInput {
    const float* x;        // the row's logits
    const float* t;        // dense targets of the row
    const float* cw;       // class weights (NULL: 1)
    int64_t c;
    int64_t label;         // capture z[label] (or -1)
    float eps, cap;
    float* buf;            // scratch row: e (or capped logits when cap > 0)
    float* refs;           // scratch: one float per chunk
    bool keep;             // keep e in buf for pass 2
    bool read_ahead_nta;   // SoftmaxArgs::read_ahead_nta
};

struct RowStats {
    float max;       // M: the final reference (the row max, or the label's logit)
    double sum;      // S: sum of exp(z - M)
    float z_label;   // (capped) logit of the label
    double others;   // single sweep: S less the label's own term (1 - p_y = others / S when
                     // the reference is the label's logit), else -1
    double weight;   // smoothing: sum of cw over unmasked classes; dense: Q = sum of q
    double gap;      // smoothing: sum cw * (M - z), unmasked; dense: sum q * (M - z), q != 0
};

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// Whether pass 1 keeps a row's e in its gradient row instead of the scratch row (see the top):
// rows of one chunk, neither interleaved nor streamed, the gradient apart from the logits.
inline bool e_in_gradient(const fl::SoftmaxArgs& a, bool interleave) {
    return a.grad && !interleave && !a.stream_grad && a.c <= fl::kSoftmaxChunk &&
           disjoint(a.grad, a.logits, a.n * a.c);
}

// What pass 1 calls before each block of a single sweep: lead(col) with the column up to which
// the block reaches (GradWriter::run_to of the previous row, when interleaved).
struct NoLead {
    FL_INLINE void operator()(int64_t) const {}
};

template <Extra X, bool Capped, bool keep, class Lead>
FL_INLINE RowStats softmax_pass1_kept(const RowInput& in, const Lead& lead) {
    const int64_t c = in.c;
    // locals, not loads through `in` after every float store (-fno-strict-aliasing)
    float* const buf = in.buf;
    const bool nta = in.read_ahead_nta;
    const vf neg_inf = set1(-INFINITY);
    const float cap = in.cap, inv_cap = Capped ? 1.0f / in.cap : 0.0f;
    const float keep_t = 1.0f - in.eps, eps_c = in.eps / (float)c;
    // One sweep per chunk for plain class indices: the exponentials are taken against the label's
    // own logit (so the label's e is exactly 1 and a confident row's small loss log S keeps its
    // accuracy), and against the chunk max only if some logit exceeds it by more than
    // kMaxAbove (then the chunk is redone from L1). Otherwise a first sweep finds the chunk max.
    constexpr bool kSingle = X == Extra::none && !Capped;
    constexpr float kMaxAbove = 64.0f;  // e <= e^64: no float overflow, sums fine in double
    RowStats st;
    st.max = -INFINITY;  // the reference the sum is taken against (the row max when !kSingle)
    st.sum = 0.0;
    st.z_label = NAN;
    st.weight = 0.0;
    st.gap = 0.0;
    st.others = -1.0;
    float ref = 0.0f;  // the exponentials' reference (0 while the row has been all -inf so far)
    if (kSingle) {
        st.z_label = in.x[in.label];
        st.max = ref = st.z_label;
    }
    for (int64_t c0 = 0, k = 0; c0 < c; c0 += fl::kSoftmaxChunk, ++k) {
        const int len = (int)min64(fl::kSoftmaxChunk, c - c0);
        const float* z = Capped ? buf + c0 : in.x + c0;

        if (!kSingle) {  // Sweep A: the chunk max.
            vf vmax = neg_inf;
            for_each_vector(0, len, [&](int64_t j, int n) FL_INLINE_LAMBDA {
                vf v = load_n(in.x + c0 + j, n, neg_inf);
                if (Capped) {
                    v = mul(set1(cap), tanh(mul(v, set1(inv_cap))));
                    store(buf + c0 + j, v);  // the scratch row is padded to whole vectors
                    if (n < kLanes) v = select(first_n(n), v, neg_inf);
                }
                vmax = max(vmax, v);
            });
            const float m = reduce_max(vmax);
            if (m > st.max) {  // rescale what was summed against the old max
                if (st.sum != 0.0) st.sum *= ::exp((double)st.max - (double)m);
                if (X != Extra::none && st.weight != 0.0)
                    st.gap += st.weight * ((double)m - (double)ref);
                st.max = ref = m;
            }
        }

        // Sweep B: exponentials and sums (from L1 after sweep A).
        const float* next = in.x + c0 + len;  // the next chunk, fetched while we compute
        const int64_t next_len = min64(fl::kSoftmaxChunk, c - c0 - len);
        const int64_t label_at = in.label - c0;  // the label's column in this chunk, if there
        auto sweep_b = [&](float r, vf& vmax) FL_INLINE_LAMBDA {
            const vf vref = set1(r);
            dacc esum, wsum, gsum;
            // kSingle: float partial sums of up to 16 vectors, then double; two of them, so the
            // adds of consecutive vectors do not wait on each other
            vf part = zero(), part2 = zero();
            auto body = [&](int64_t j, int n, vf& part, auto label_check) FL_INLINE_LAMBDA {
                vf v = load_n(z + j, n, neg_inf);
                if (kSingle) vmax = max(vmax, v);
                vf e = exp_softmax(sub(v, vref));
                if (kSingle) {
                    // the label's own e is left out (added back exactly by the caller), so a
                    // float partial sum never mixes that 1 with the small others
                    vf others = e;
                    if (decltype(label_check)::value && (uint64_t)(label_at - j) < (uint64_t)n) {
                        const int lane = (int)(label_at - j);
                        others = select(mask_andnot(first_n(lane), first_n(lane + 1)), zero(), e);
                    }
                    part = add(part, others);
                } else {
                    esum.add(e);
                }
                if (X != Extra::none) {
                    // not masked (-inf) and not a tail lane (loaded as -inf). A NaN logit is live,
                    // as in the reference: its smoothing mass makes the term NaN, never 0.
                    const vmask live = neq(v, neg_inf);
                    const vf w = in.cw ? load_n(in.cw + c0 + j, n, zero()) : set1(1.0f);
                    const vf d = sub(vref, v);          // >= 0 on live lanes (NaN for a NaN logit)
                    if (X == Extra::smoothing) {
                        wsum.add(select(live, w, zero()));
                        gsum.add(select(live, mul(w, d), zero()));
                    } else {
                        const vf tt = load_n(in.t + c0 + j, n, zero());
                        // a masked class keeps only its (1 - eps) share: eps / C is dropped there
                        const vf ts = select(live, fmadd(tt, set1(keep_t), set1(eps_c)), mul(tt, set1(keep_t)));
                        const vf q = mul(w, ts);
                        wsum.add_product(w, ts);  // exact: a subnormal class weight keeps Q's bits
                        gsum.add(select(eq(q, zero()), zero(), mul(q, d)));
                    }
                    if (!Capped) e = select(eq(v, neg_inf), set1(-0.0f), e);  // -0: masked class
                }
                if (!Capped && keep) {
                    if (n == kLanes)
                        store(buf + c0 + j, e);
                    else
                        store_n(buf + c0 + j, n, e);  // buf may be the gradient row itself
                }
            };
            constexpr int kBlock = 16;  // vectors per float partial sum
            // Rows of several chunks read their logits ahead. The single sweep reads them from
            // memory and asks for the lines kAhead floats on: AVX-512 2 KiB ahead, a pair of
            // vectors' lines at a time, AVX2 1 KiB ahead, a block's at its start. On AMD the
            // prefetch is non-temporal, so the lines come to L1 without pushing a long row's kept
            // e out of L2 (CE 1024 x 128256, 1 thread, Zen 4, against the next chunk's lines to
            // L2: AVX-512 0.89-0.97, AVX2 0.76-0.90); elsewhere prefetcht0, since an Intel Xeon
            // took non-temporal prefetches as the slowest hint by far (nta, bench/MEASURED.md).
            // Two sweeps read them in sweep A, so sweep B asks for the next chunk's. Rows of one
            // chunk from kMinAheadRow classes read ahead too, into the rows that follow: with
            // AVX-512 (Zen 4: CE 8192 x 768 0.72-0.75, 16384 x 512 0.77-0.83, 4096 x 1000
            // 0.92-0.94, in cache even), and with AVX2 where the prefetch is not non-temporal
            // (Intel: 0.79-0.96; on Zen 4 AVX2 rows in cache lost 5 %). Rows of 100-200 classes
            // gained nothing. A prefetch never faults, so the last row's may look past the end.
            constexpr bool kSpread = kLanes == 16;
            constexpr int64_t kMinAheadRow = 512;
            constexpr int64_t kAhead = kSpread ? 512 : 256;
            constexpr int kLineFloats = 64 / (int)sizeof(float);
            int64_t j = 0;
            bool read_ahead = false;
            // label_check (a type, so the test is gone where false): whether the label may sit in
            // these vectors, so the body looks for its lane. Only one block per row holds it.
            auto block = [&](auto label_check) FL_INLINE_LAMBDA {
                for (int u = 0; u < kBlock; u += 2) {
                    if (kSpread && read_ahead)
                        for (int l = 0; l < 2 * kLanes; l += kLineFloats)
                            prefetch_read_ahead(in.x + c0 + j + u * kLanes + kAhead + l, nta);
                    body(j + u * kLanes, kLanes, part, label_check);
                    body(j + (u + 1) * kLanes, kLanes, part2, label_check);
                }
            };
            for (; j + kBlock * kLanes <= len; j += kBlock * kLanes) {
                read_ahead = kSingle && kLanes >= 8 &&
                             (c > fl::kSoftmaxChunk ? c0 + j + kBlock * kLanes + kAhead <= c
                                                    : (kSpread || !nta) && c >= kMinAheadRow);
                if (!kSpread && read_ahead)
                    for (int l = 0; l < kBlock * kLanes; l += kLineFloats)
                        prefetch_read_ahead(in.x + c0 + j + kAhead + l, nta);
                if (!kSingle && j < next_len)  // the next chunk's matching lines, while we compute
                    for (int64_t l = 0; l < kBlock * kLanes; l += kLineFloats)
                        prefetch(next + j + l);
                if (kSingle) lead(c0 + j + kBlock * kLanes);
                if (kSingle && (uint64_t)(label_at - j) < (uint64_t)(kBlock * kLanes))
                    block(std::true_type{});
                else
                    block(std::false_type{});
                if (kSingle) {
                    esum.add(add(part, part2));
                    part = part2 = zero();
                }
            }
            if (kSingle) lead(c0 + len);
            for_each_vector(j, len, [&](int64_t j, int n) FL_INLINE_LAMBDA {
                body(j, n, part, std::true_type{});
            });
            if (kSingle) esum.add(part);
            st.sum += esum.total();
            if (X != Extra::none) {
                st.weight += wsum.total();
                st.gap += gsum.total();
            }
        };
        vf vmax = neg_inf;
        const double sum_before = st.sum;
        sweep_b(ref, vmax);
        if (kSingle) {
            const float m = reduce_max(vmax);
            if (m > ref + kMaxAbove) {  // redo the chunk against its max, rescale the rest
                st.sum = sum_before == 0.0 ? 0.0 : sum_before * ::exp((double)ref - (double)m);
                st.max = ref = m;
                sweep_b(ref, vmax);
            }
        }
        in.refs[k] = ref;
        if (!kSingle && in.label >= c0 && in.label < c0 + len) st.z_label = z[in.label - c0];
    }
    st.others = -1.0;
    if (kSingle) {  // the label's own term, exactly 1 unless a chunk moved the reference
        if (st.max == st.z_label) {
            st.others = st.sum;
            st.sum += 1.0;
        } else {
            st.sum += ::exp((double)st.z_label - (double)st.max);
        }
    }
    return st;
}

// keep as a constant, not a test per vector. The sweep is bound by the latency of its exp chain
// more than by its port use, so every instruction less in it lets more vectors be in flight.
template <Extra X, bool Capped, class Lead = NoLead>
FL_INLINE RowStats softmax_pass1(const RowInput& in, const Lead& lead = Lead{}) {
    return in.keep ? softmax_pass1_kept<X, Capped, true>(in, lead)
                   : softmax_pass1_kept<X, Capped, false>(in, lead);
}

// Pass 2: g_c = (coef_p * exp(z_c - M) - coef_q * q_c) * dz/dx, with q_c the smoothing or dense
// target mass (the label's own [c == y] share is added by the caller). Masked classes get 0.
// A writer that can be resumed: run_to(limit) writes the vectors that start before limit, left to
// right. Long rows of cross-entropy use that to write a row's gradient inside the next row's
// pass 1, a block at a time, each block just before that pass overwrites it in the one scratch
// row: the core then reads the logits and writes the gradient at once, as a copy does, instead
// of one sweep after the other.
template <Extra X, bool Capped>
struct GradWriter {
    RowInput in{};  // a copy: the caller's moves on to the next row
    float* g = nullptr;
    float coef_q = 0.0f, coef_p = 0.0f, row_max = 0.0f;
    // A row whose coefficients or chunk factors are no normal floats (fits_float: a small weight
    // against e^64, the largest e the single sweep keeps, a huge 1 / denominator, a chunk far below
    // the row's max) is "wide": its factors are stored divided by p_unscale, a power of two near
    // coef_p, and each element is formed in double. A far chunk's factor may still be subnormal
    // then, but its elements are then below 1e-10 of the row's largest.
    bool wide = false;
    double p_unscale = 1.0, q_wide = 0.0;
    bool stream_grad = false;
    int64_t j = 0, k = 0;  // the next vector's column and its chunk

    GradWriter() = default;
    FL_INLINE GradWriter(const RowInput& row, const RowStats& st, double coef_p_d, double coef_q_d,
                         float* g_, bool stream)
        : in(row), g(g_), row_max(st.max), stream_grad(stream) {
        // chunk reference -> multiplier of that chunk's kept e (a chunk all -inf so far kept zeros)
        auto chunk_factor = [&](int64_t kk) {
            const float r = in.refs[kk];
            return r == -INFINITY ? 0.0 : r == st.max ? coef_p_d : coef_p_d * ::exp((double)r - st.max);
        };
        const int64_t chunks = Capped ? 0 : fl::softmax_chunks(in.c);
        float* factor = in.refs;  // overwritten in place: chunk_factor(kk) reads refs[kk] first
        wide = !fits_float(coef_p_d) || !fits_float(coef_q_d);
        int64_t done = 0;  // factors [0, done) are stored
        while (done < chunks && !wide) {
            const double f = chunk_factor(done);
            wide = !fits_float(f);
            if (!wide) factor[done++] = (float)f;
        }
        if (wide) {
            if (coef_p_d != 0.0 && isfinite(coef_p_d)) p_unscale = ldexp(1.0, ilogb(coef_p_d));
            q_wide = coef_q_d;
            for (int64_t kk = 0; kk < done; ++kk) factor[kk] = (float)(factor[kk] / p_unscale);  // a power of two
            for (int64_t kk = done; kk < chunks; ++kk) factor[kk] = (float)(chunk_factor(kk) / p_unscale);
        }
        coef_p = (float)(wide ? coef_p_d / p_unscale : coef_p_d);
        coef_q = (float)coef_q_d;
        // A float pointer that is not 4-byte aligned (a direct buffer sliced at any byte) never
        // reaches a vector boundary in whole floats: such a gradient gets ordinary stores.
        if ((uintptr_t)g % sizeof(float) != 0) stream_grad = false;
        // Vectors start where g is aligned for non-temporal stores, so with a head offset one
        // vector per chunk boundary straddles two chunks: its lanes take their own chunk's factor.
        if (stream_grad) {
            const uintptr_t mis = (uintptr_t)g % (uintptr_t)kStreamAlign;
            if (mis) {  // the head, shorter than a vector, stored unaligned
                const int64_t head = min64((int64_t)((kStreamAlign - mis) / sizeof(float)), in.c);
                auto head_segment = [&](auto& segment) FL_INLINE_LAMBDA {
                    segment(0, (int)head, false, set1(Capped ? 0.0f : in.refs[0]));
                };
                if (wide)
                    with_segment<true>(head_segment);
                else
                    with_segment<false>(head_segment);
                j = head;
            }
        }
    }

    // Writes the vectors that start before limit.
    FL_INLINE void run_to(int64_t limit) {
        if (!g) return;
        const int64_t c = in.c;
        const float* const factor = in.refs;
        const bool nt = stream_grad;
        int64_t jj = j, kk = k;
        limit = min64(limit, c);
        // wide rows (rare) get their own copy of the loop: the common one stays as tight as it was
        auto loop = [&](auto& segment) FL_INLINE_LAMBDA {
            while (jj < limit) {
                const int64_t end = min64((kk + 1) * fl::kSoftmaxChunk, c);
                const vf f = set1(Capped ? 0.0f : factor[kk]);
                for (; jj + kLanes <= end && jj < limit; jj += kLanes) segment(jj, kLanes, nt, f);
                if (jj < end && jj < limit) {  // the row's tail, or a vector across a chunk boundary
                    const int n = (int)min64(kLanes, c - jj);
                    vf fs = f;
                    if (!Capped && end < c) fs = select(first_n((int)(end - jj)), f, set1(factor[kk + 1]));
                    segment(jj, n, nt, fs);
                    jj += n;
                }
                if (jj >= end) ++kk;
            }
        };
        if (wide)
            with_segment<true>(loop);
        else
            with_segment<false>(loop);
        j = jj;
        k = kk;
    }

  private:
    // Calls body(segment), segment(j, n, aligned, f) writing n gradient lanes from column j; f is
    // the factor of each lane (its chunk's), used when !Capped. Wide: the row is wide (see above).
    template <bool Wide, class Body>
    FL_INLINE void with_segment(Body&& body) {
        // locals, not loads through `this` after every float store (-fno-strict-aliasing)
        const int64_t c = in.c;
        const float* const buf = in.buf;
        const float* const cw = in.cw;
        const float* const t = in.t;
        float* const gp = g;
        const float keep_t = 1.0f - in.eps, eps_c = in.eps / (float)c;
        const float inv_cap = Capped ? 1.0f / in.cap : 0.0f;
        const vf vcoef_p = set1(coef_p), vmax = set1(row_max), vcoef_q = set1(coef_q);
        const double unscale = p_unscale, coef_q_d = q_wide;
        auto segment = [&](int64_t jj, int n, bool aligned, vf f) FL_INLINE_LAMBDA {
            const vf e = load_n(buf + jj, n, zero());  // e, or the capped logit z when Capped
            vf gv = Capped ? mul(vcoef_p, exp_softmax(sub(e, vmax))) : mul(e, f);  // / unscale when wide
            vf dz_dx = set1(1.0f);  // Capped: dz/dx = 1 - (z / cap)^2
            bool dz_dx_in = Wide;   // whether gv has met dz/dx already (in double)
            if (Capped) {
                const vf zc = mul(e, set1(inv_cap));
                dz_dx = fnmadd(zc, zc, set1(1.0f));
            }
            if (X != Extra::none || Wide) {
                const vf w = X == Extra::none ? zero() : cw ? load_n(cw + jj, n, zero()) : set1(1.0f);
                const vf tq = X == Extra::dense ? fmadd(load_n(t + jj, n, zero()), set1(keep_t), set1(eps_c)) : set1(1.0f);
                // wide: dz/dx (1 uncapped) meets the rest in double too, as a difference beyond
                // float range may come back into it times dz/dx < 1
                if (Wide)
                    gv = in_double(gv, w, tq, dz_dx, [&](double gl, double wl, double tl, double dl) {
                        return (gl * unscale - coef_q_d * wl * tl) * dl;
                    });
                else {
                    const vf gv_p = gv;
                    gv = fnmadd(vcoef_q, X == Extra::dense ? mul(w, tq) : w, gv);
                    // capped: a q part beyond float range, which dz/dx may bring back, in double
                    if (Capped && !all_finite(gv)) {
                        gv = in_double(gv_p, w, tq, dz_dx, [&](double gl, double wl, double tl, double dl) {
                            return (gl - (double)coef_q * wl * tl) * dl;
                        });
                        dz_dx_in = true;
                    }
                }
                if (X != Extra::none && !Capped) gv = select_sign(e, zero(), gv);
            }
            if (Capped && !dz_dx_in) gv = mul(gv, dz_dx);
            if (aligned && n == kLanes)
                stream(gp + jj, gv);
            else
                store_n(gp + jj, n, gv);
        };
        body(segment);
    }
};

template <Extra X, bool Capped>
FL_INLINE void softmax_pass2(const RowInput& in, const RowStats& st, double coef_p, double coef_q,
                             float* g, bool stream_grad) {
    GradWriter<X, Capped> w(in, st, coef_p, coef_q, g, stream_grad);
    w.run_to(in.c);
}

// log S. With the label as the reference S = 1 + others, and log1p(others) in float (about 1e-7
// relative, within the promise) saves a libm call per row that short rows notice.
inline double row_log_sum(const RowStats& st) {
    if (st.others < 0.0) return ::log(st.sum);
    const vf o = set1((float)st.others), u = add(set1(1.0f), o);
    return lane0(fmadd(sub(o, sub(u, set1(1.0f))), div(set1(1.0f), u), log(u)));
}

// 1 - p_y of the label, without cancellation when p_y is near 1.
inline double one_minus_p_label(const RowStats& st, double nll) {
    return st.others >= 0.0 ? st.others / st.sum : -::expm1(-nll);
}

// A weighted term as the float it is reported as: one beyond float range is infinite (the terms
// are float32; a term summed in double must not stay finite where its float is not).
inline double as_float_term(double term) { return ::fabs(term) > FLT_MAX ? ::copysign(INFINITY, term) : term; }

// A row that is ignored or has a missing (NaN) sample weight: no loss, zero gradient.
inline void masked_row(float* g, int64_t c, float* per_term) {
    if (g) memset(g, 0, (size_t)c * sizeof(float));
    if (per_term) *per_term = 0.0f;
}

// Short rows (c <= kSmallRowMax) with class indices: cross-entropy without smoothing, cap or
// z-loss, and softmax focal with an integral gamma up to 4. The per-row overhead, not the
// elements, is what costs here, so the rows go across the lanes, kLanes at a time. A batch of
// kLanes rows is c whole vectors of logits (the rows back to back): the exponentials are taken on
// those, every lane busy, each lane against its row's label logit (one gather per batch, spread to
// the lanes by a permute), the label's own e (exactly 1) kept apart.
// The row sums: the kept e reloaded one row per vector and summed across (sum_lanes_of, lane r =
// row r). Then log S = log1p(others), k = w / S, the weights and the terms are vector operations
// with row r in lane r, and the gradient is e times each lane's row factor, the label's element
// -others * k, written as the batch's c whole vectors. Each phase (the gathers, the exponentials,
// the row math, the gradient) runs over kSmallBatches batches before the next, so the long latency
// chains of one batch's gather or row math overlap the others'.
// Softmax focal (gamma g, alpha in the class weights): the term is alpha sw m^g log S with
// m = others / S = 1 - p_y, and the row's gradient factor w (m^g + g m^(g-1) p_y log S).
// A batch with a row the single sweep cannot take (a logit more than 64 above the label's, inf /
// NaN, a factor that is no normal float) goes through the general path (`general`), row by row.
template <class General, int kMaxC>
struct SmallRows {
    // A row whose exponentials (against its label's logit) sum beyond e^64 goes through the general
    // path: so does every row with a logit more than 64 above its label's, whose e the exponentials
    // flag as e^88 (kExpFlag).
    static constexpr float kMaxOthers = 6.23514908e27f;  // e^64
    static constexpr float kExpFlag = 88.0f;
    const fl::SoftmaxArgs& a;
    int c;
    float coef;          // the gradient factor (1 / denominator), rounded to float
    bool coef_in_range;  // it lies within [2^-31, 2^31] (see row_math)
    int gamma;    // focal: 0 to 4
    bool focal;
    General& general;  // general(row_begin, row_end, scratch, out)
    // lane l of the batch's vector v holds row (v * kLanes + l) / c, column (v * kLanes + l) % c
    alignas(64) int32_t row_of[kMaxC * kLanes];
    alignas(64) int32_t col_of[kMaxC * kLanes];
    alignas(64) int32_t row_start[kLanes];     // r * c: row r's first element in the batch
    static constexpr int kMaxParts = (kMaxC + kLanes - 1) / kLanes;  // vectors per row
    alignas(64) float cw_table[kMaxC] = {};    // the class weights, padded for lookup16
    vmask part_mask[kMaxParts];                // a row's lanes in each of its vectors
    dacc terms;
    double fallback_sum = 0.0;
    int64_t nonfinite = 0;

    // One batch: its inputs (copied to whole vectors when it is short or its sample weights are
    // strided), its kept e, and what the row math leaves for the gradient.
    struct Batch {
        int64_t i0;
        int rows;
        const float* x;
        const int32_t* y;
        const float* sw;  // NULL: 1
        const float* up;  // NULL: 1
        float* e_rows;    // kLanes * c floats of scratch, padded by a vector
        vi yv;
        vmask live;
        vmask label[kMaxC];  // per vector: the lanes that hold their row's label
        vf k, gy, zy;
        bool ok;
        alignas(64) float x_pad[kMaxC * kLanes];
        alignas(64) float sw_pad[kLanes];
        alignas(64) float up_pad[kLanes];
        alignas(64) int32_t y_pad[kLanes];
    };

    SmallRows(const fl::SoftmaxArgs& args, float focal_gamma, bool is_focal, General& general_path)
        : a(args),
          c((int)args.c),
          coef((float)args.grad_factor),
          coef_in_range(fabs(args.grad_factor) >= 0x1p-31 && fabs(args.grad_factor) <= 0x1p31),
          gamma((int)focal_gamma),
          focal(is_focal),
          general(general_path) {
        for (int l = 0, r = 0, col = 0; l < c * kLanes; ++l) {  // counted, not divided
            row_of[l] = r;
            col_of[l] = col;
            if (++col == c) {
                col = 0;
                ++r;
            }
        }
        for (int r = 0; r < kLanes; ++r) row_start[r] = r * c;
        if (a.class_weights) memcpy(cw_table, a.class_weights, (size_t)c * sizeof(float));
        for (int p = 0; p < kMaxParts; ++p) {
            const int lanes = c - p * kLanes;
            part_mask[p] = first_n(lanes < 0 ? 0 : lanes < kLanes ? lanes : kLanes);
        }
    }

    void prepare(Batch& b, int64_t i0, int64_t row_end, float* e_rows) {
        const int64_t stride = a.sample_weight_stride;
        b.i0 = i0;
        b.rows = (int)min64(kLanes, row_end - i0);
        b.x = a.logits + i0 * c;
        b.y = a.labels + i0;
        b.sw = a.sample_weights ? a.sample_weights + i0 * stride : nullptr;
        b.up = a.upstream ? a.upstream + i0 : nullptr;
        b.e_rows = e_rows;
        if (b.rows < kLanes) {  // the rows past the end are no rows (rows_in below)
            memset(b.x_pad, 0, sizeof b.x_pad);
            memcpy(b.x_pad, b.x, (size_t)b.rows * c * sizeof(float));
            b.x = b.x_pad;
            memset(b.y_pad, 0, sizeof b.y_pad);
            memcpy(b.y_pad, b.y, (size_t)b.rows * sizeof(int32_t));
            b.y = b.y_pad;
            if (b.up) {
                memset(b.up_pad, 0, sizeof b.up_pad);
                memcpy(b.up_pad, b.up, (size_t)b.rows * sizeof(float));
                b.up = b.up_pad;
            }
        }
        if (b.sw && (b.rows < kLanes || stride != 1)) {
            for (int r = 0; r < kLanes; ++r) b.sw_pad[r] = r < b.rows ? b.sw[r * stride] : 0.0f;
            b.sw = b.sw_pad;
        }
    }

    // The batch's live rows and label logits (one gather), taken for every batch of a group before
    // their exponentials, so that no exponentials wait on a gather (65536 x 10: AVX2 5-7 % of the
    // call, AVX-512 1-13 %; Zen 4).
    FL_INLINE void label_logits(Batch& b) {
        const vi yv = load_i(b.y);
        const vf swv = b.sw ? load(b.sw) : set1(1.0f);
        const vmask live = mask_and(mask_andnot(eq_i(yv, set1_i(a.ignore_index)), first_n(b.rows)), eq(swv, swv));
        b.yv = yv;
        b.live = live;
        b.zy = gather(b.x, add_i(load_i(row_start), yv), live);
    }

    // Pass 1: the exponentials against the label logits, the label's own left out (its lanes
    // kept in b.label for pass 2); false where the batch needs the general path (nothing written).
    FL_INLINE bool exponentials(Batch& b) {
        // locals, not loads through b or this after every float store (-fno-strict-aliasing)
        const float* const x = b.x;
        float* const e_rows = b.e_rows;
        const int32_t* const rows_of = row_of;
        const int32_t* const cols_of = col_of;
        const int cc = c;
        const vi yv = b.yv;
        const vmask live = b.live;
        const vf zy = b.zy;
        const bool all_live = count(live) == kLanes;
        const vf livef = select(live, set1(1.0f), zero());
        vmask* const label = b.label;
        // Rows from memory: a line of the logits two groups on and one of this batch's gradient
        // asked for with each vector (a prefetch never faults, so both may look past the end).
        // With the gathers first and the whole-batch gradient, 65536 x 40 on 1 thread ran 0.56-0.72
        // of the time before, without these prefetches 1.02-1.12 (Zen 4).
        const float* const x_ahead = x + 2 * fl::kSmallBatches * kLanes * cc;
        const float* const g = a.grad ? a.grad + b.i0 * cc : x;
        for (int v = 0; v < cc; ++v) {
            prefetch(x_ahead + v * kLanes);
            prefetch(g + v * kLanes);
            const vi rv = load_i(rows_of + v * kLanes);
            const vf d = sub(load(x + v * kLanes), permute(zy, rv));
            const vmask is_label = eq_i(load_i(cols_of + v * kLanes), permute_i(yv, rv));
            label[v] = is_label;
            // d above 88 (and NaN: min returns its second operand) as 88: e^88 makes the row's sum
            // fail row_math's check, which stands for "every d <= 64" here (no test per vector)
            vf e = select(is_label, zero(), exp_softmax(min(d, set1(kExpFlag))));
            if (!all_live) {  // a masked row's logits may be anything: its lanes are dropped
                const vmask row_live = neq(permute(livef, rv), zero());
                e = select(row_live, e, zero());
            }
            store(e_rows + v * kLanes, e);
        }
        // a label logit that is inf or NaN (its own lane is left out of the sums)
        return all(mask_or(finite_mask(zy), mask_andnot(live, all_lanes())));
    }

    // Whether every lane's factors are 0 or within [2^-31, 2^31]. A NaN factor may pass (max and
    // min can drop it), but it makes w NaN, which row_math's check sends to the general path, as
    // the product in double does.
    static FL_INLINE bool factors_in_range(vf f1, vf f2, vf f3) {
        const vf a1 = abs(f1), a2 = abs(f2), a3 = abs(f3);
        const vf hi = max(max(a1, a2), a3), lo = min(min(a1, a2), a3);
        const vmask ok = mask_and(le(hi, set1(0x1p31f)), mask_or(eq(lo, zero()), ge(lo, set1(0x1p-31f))));
        return all(ok);
    }

    // The row math, row r in lane r: S = 1 + others, log S = log1p(others), k = w / S, the terms.
    // False where a factor is no normal float (nothing written).
    FL_INLINE bool row_math(Batch& b, float* per_term) {
        vf row_e[kLanes];
        for (int r = 0; r < kLanes; ++r) {
            const float* er = b.e_rows + r * c;
            row_e[r] = select(part_mask[0], load(er), zero());
            for (int p = 1; p * kLanes < c; ++p) row_e[r] = add(row_e[r], select(part_mask[p], load(er + p * kLanes), zero()));
        }
        const vf others = sum_lanes_of(row_e);
        // a logit more than 64 above its label's, inf or NaN (exponentials: e^88), or sums that
        // grew too large: the general path
        if (!all(le(others, set1(kMaxOthers)))) return false;
        const vf u = add(set1(1.0f), others), inv_u = div(set1(1.0f), u);
        const vf log_s = fmadd(sub(others, sub(u, set1(1.0f))), inv_u, log_normal(u));  // log1p(others)
        const vf swv = b.sw ? load(b.sw) : set1(1.0f);
        const vf sw_live = select(b.live, swv, zero());
        // cw[y] by permutes from the table, 16 classes a lookup
        vf cw_y = set1(1.0f);
        if (a.class_weights) {
            cw_y = lookup16(cw_table, b.yv);
            for (int t = 16; t < c; t += 16)
                cw_y = select(gt_i(b.yv, set1_i(t - 1)), lookup16(cw_table + t, sub_i(b.yv, set1_i(t))), cw_y);
        }
        const vf cwy = select(b.live, cw_y, zero());
        // w = coef * sw * cw[y] (* upstream) and k = w / S must be normal floats (a tiny w against
        // an S up to e^64 would be subnormal): otherwise the general path, whose factors stay in
        // double. Where every factor is 0 or within [2^-31, 2^31], no partial product leaves the
        // normal floats, and w in float is within 2 ulp of the product rounded once; otherwise the
        // product is formed in double (always in double, calls of 2 to 10 classes took 3-6 % longer;
        // Zen 4, both ISAs).
        bool fits = true;
        const vf upv = b.up ? load(b.up) : set1(1.0f);
        const bool in_range = coef_in_range && factors_in_range(sw_live, cwy, upv);
        vf w;
        if (in_range) {
            w = mul(mul(set1(coef), sw_live), cwy);
            if (b.up) w = mul(w, upv);
        } else {
            w = product_in_double(a.grad_factor, upv, sw_live, cwy, fits);
        }
        vf log_s_live = select(b.live, log_s, zero());
        vf gm = others;  // the label's element is -w m (cross-entropy: m S = others)
        if (focal) {  // m^g weighs the term; w (m^g + g m^(g-1) p_y log S) the gradient
            const vf m = mul(others, inv_u);
            vf m_g1 = set1(1.0f);  // m^(g-1), for g >= 1
            for (int k = 1; k < gamma; ++k) m_g1 = mul(m_g1, m);
            const vf m_g = gamma == 0 ? set1(1.0f) : mul(m_g1, m);
            const vf f = gamma == 0 ? m_g : fmadd(mul(set1((float)gamma), m_g1), mul(inv_u, log_s), m_g);
            w = mul(w, f);
            log_s_live = mul(log_s_live, m_g);
            gm = m;
        }
        b.k = mul(w, inv_u);
        if (!fits || !all(mask_or(eq(w, zero()), ge(abs(w), mul(set1(FLT_MIN), u)))))
            return false;
        // the term sw * cw[y] * log S in float (two roundings), in double where sw * cw[y] overflows;
        // finite where the factors are in range (log S <= 64 here)
        const vf sw_cw = mul(sw_live, cwy);
        vf term;
        if (!in_range && !all(finite_mask(sw_cw))) {
            term = terms.add_product3(sw_live, cwy, log_s_live);
        } else {
            term = mul(sw_cw, log_s_live);
            terms.add(term);
        }
        if (!in_range) nonfinite += count(mask_andnot(finite_mask(term), all_lanes()));
        if (per_term) store_n(per_term, b.rows, term);
        // cross-entropy: -k others = -coef sw cw[y] (1 - p_y); focal: -w m
        b.gy = select(b.live, focal ? mul(sub(zero(), gm), w) : mul(sub(zero(), others), b.k), zero());
        return true;
    }

    // Pass 2: g = e * k of each lane's row, the label's element gy.
    FL_INLINE void gradient(const Batch& b, float* g, bool nt) {
        const float* const e_rows = b.e_rows;
        const int32_t* const rows_of = row_of;
        const vmask* const label = b.label;
        const vf k = b.k, gy = b.gy;
        const int cc = c;
        auto gradient_vector = [&](int v) FL_INLINE_LAMBDA {
            const vi rv = load_i(rows_of + v * kLanes);
            return select(label[v], permute(gy, rv), mul(load(e_rows + v * kLanes), permute(k, rv)));
        };
        // A whole batch is c whole vectors: no length or store-kind test per vector (they cost
        // 65536 x 10 with AVX2 4-7 % of the call, AVX-512 up to 4 %; Zen 4).
        if (b.rows == kLanes) {
            if (nt)
                for (int v = 0; v < cc; ++v) stream(g + v * kLanes, gradient_vector(v));
            else
                for (int v = 0; v < cc; ++v) store(g + v * kLanes, gradient_vector(v));
            return;
        }
        const int64_t len = (int64_t)b.rows * c;
        for (int v = 0; v * kLanes < len; ++v) {
            const int n = (int)min64(kLanes, len - v * kLanes);
            if (nt && n == kLanes)
                stream(g + v * kLanes, gradient_vector(v));
            else
                store_n(g + v * kLanes, n, gradient_vector(v));
        }
    }

    void run(int64_t row_begin, int64_t row_end, float* scratch, fl::BlockSum* out) {
        constexpr int G = fl::kSmallBatches;
        float* const general_scratch = scratch + G * fl::small_batch_floats(c);
        Batch batches[G];
        bool streamed = false;
        for (int64_t i0 = row_begin; i0 < row_end; i0 += G * kLanes) {
            const int nb = (int)min64(G, (row_end - i0 + kLanes - 1) / kLanes);
            for (int k = 0; k < nb; ++k) {
                Batch& b = batches[k];
                prepare(b, i0 + k * kLanes, row_end, scratch + k * fl::small_batch_floats(c));
                label_logits(b);
            }
            for (int k = 0; k < nb; ++k) {
                Batch& b = batches[k];
                b.ok = exponentials(b);
            }
            for (int k = 0; k < nb; ++k) {
                Batch& b = batches[k];
                if (b.ok) b.ok = row_math(b, a.per_term ? a.per_term + b.i0 : nullptr);
            }
            for (int k = 0; k < nb; ++k) {
                const Batch& b = batches[k];
                if (!b.ok) {
                    for (int r = 0; r < b.rows; ++r) {
                        fl::BlockSum row;
                        general(b.i0 + r, b.i0 + r + 1, general_scratch, &row);
                        fallback_sum += row.sum;
                        nonfinite += row.nonfinite;
                    }
                    continue;
                }
                if (!a.grad) continue;
                float* g = a.grad + b.i0 * c;
                // a batch is kLanes * c floats, so an aligned block start keeps every batch aligned
                const bool nt = a.stream_grad && (uintptr_t)g % (uintptr_t)kStreamAlign == 0;
                streamed |= nt;
                gradient(b, g, nt);
            }
        }
        if (streamed) stream_fence();
        out->sum = terms.total() + fallback_sum;
        out->nonfinite = nonfinite;
    }
};

// Runs rows of c <= fl::kSmallRowMax classes through SmallRows, its arrays sized for 32 classes or
// for kSmallRowMax (the larger arrays cost rows of up to 32 classes 7-12 %, Zen 4, AVX-512); with
// AVX2, rows of up to 16 classes get arrays sized for 16 (a row in at most two vectors: 0.92-0.99
// of the time with the 32-class arrays; with AVX-512 the 16-class arrays cost 3-13 %).
template <class General>
inline void small_rows(const fl::SoftmaxArgs& a, float gamma, bool focal, General& general, int64_t row_begin,
                       int64_t row_end, float* scratch, fl::BlockSum* out) {
    if (kLanes == 8 && a.c <= 16)
        SmallRows<General, 16>(a, gamma, focal, general).run(row_begin, row_end, scratch, out);
    else if (a.c <= 32)
        SmallRows<General, 32>(a, gamma, focal, general).run(row_begin, row_end, scratch, out);
    else
        SmallRows<General, (int)fl::kSmallRowMax>(a, gamma, focal, general).run(row_begin, row_end, scratch, out);
}

}  // namespace FL_NS
