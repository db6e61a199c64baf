// simd.h: the only code that differs per instruction set.
//
// Every kernel source is compiled three times, with FL_ISA set to FL_ISA_SCALAR, FL_ISA_AVX2 or
// FL_ISA_AVX512 and the matching -m flags. This header then defines, inside the namespace FL_NS
// (fl_scalar, fl_avx2 or fl_avx512), one float vector type `vf` of kLanes lanes, a lane mask
// `vmask`, an int vector `vi`, a double accumulator `dacc`, and the few operations the generic
// kernels use. Everything lives in that namespace, so no inline function compiled with AVX flags
// can be merged by the linker with a baseline copy of the same name.
#pragma once

#include <stdint.h>
#include <string.h>
#include <math.h>
#include <float.h>

#define FL_ISA_SCALAR 0
#define FL_ISA_AVX2 1
#define FL_ISA_AVX512 2

#ifndef FL_ISA
#error "compile with -DFL_ISA=FL_ISA_SCALAR, FL_ISA_AVX2 or FL_ISA_AVX512"
#endif

#if FL_ISA == FL_ISA_AVX512
#define FL_NS fl_avx512
#if defined(FL_EMULATE_AVX512)
#include "avx512_emulation.h"  // test builds only: the AVX-512 unit run on any x86-64 CPU
#elif !defined(__AVX512F__) || !defined(__AVX512DQ__) || !defined(__AVX512BW__) || \
    !defined(__AVX512VL__) || !defined(__FMA__)
#error "the AVX-512 unit needs -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma"
#else
#include <immintrin.h>
#endif
#elif FL_ISA == FL_ISA_AVX2
#if !defined(__AVX2__) || !defined(__FMA__)
#error "the AVX2 unit needs -mavx2 -mfma"
#endif
#define FL_NS fl_avx2
#include <immintrin.h>
#elif FL_ISA == FL_ISA_SCALAR
#if defined(__AVX__)
#error "the scalar unit must be compiled for baseline x86-64 (no -mavx / -march=native)"
#endif
#define FL_NS fl_scalar
#else
#error "unknown FL_ISA"
#endif

namespace FL_NS {
namespace simd {

#if FL_ISA == FL_ISA_AVX2
// ---------------------------------------------------------------------------------------- AVX2
constexpr int kLanes = 8;
constexpr int kStreamAlign = 32;  // bytes; non-temporal stores need this alignment
using vf = __m256;
using vi = __m256i;
using vmask = __m256;  // all-ones lanes

inline vf set1(float a) { return _mm256_set1_ps(a); }
inline vf zero() { return _mm256_setzero_ps(); }
inline vf load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, vf a) { _mm256_storeu_ps(p, a); }
inline void stream(float* p, vf a) { _mm256_stream_ps(p, a); }
inline void stream_fence() { _mm_sfence(); }
inline vmask first_n(int n) {  // lanes [0, n)
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
}
// Loads lanes [0, n); the others get `fill` and their memory is not touched.
inline vf load_partial(const float* p, int n, vf fill) {
    vmask m = first_n(n);
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, _mm256_castps_si256(m)), m);
}
inline void store_partial(float* p, int n, vf a) {
    _mm256_maskstore_ps(p, _mm256_castps_si256(first_n(n)), a);
}
inline vf add(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf rcp_estimate(vf a) { return _mm256_rcp_ps(a); }  // 1 / a to 1.5 * 2^-12 relative
inline vf fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }   // a * b + c
inline vf fnmadd(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); } // c - a * b
// max / min return b when either is NaN (the x86 rule): max(lo, x) keeps a NaN x.
inline vf max(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf min(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
inline vf copysign(vf mag, vf sgn) {
    const vf s = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sgn));
}
inline vmask lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline vmask le(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
inline vmask gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
inline vmask ge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
inline vmask eq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
inline vmask neq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }  // true for NaN
inline vmask all_lanes() { return _mm256_castsi256_ps(_mm256_set1_epi32(-1)); }
inline vmask no_lanes() { return _mm256_setzero_ps(); }
inline vmask mask_and(vmask a, vmask b) { return _mm256_and_ps(a, b); }
inline vmask mask_andnot(vmask a, vmask b) { return _mm256_andnot_ps(a, b); }  // !a & b
inline vmask mask_or(vmask a, vmask b) { return _mm256_or_ps(a, b); }
inline vf select(vmask m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }    // m ? a : b
inline vf select_sign(vf s, vf a, vf b) { return _mm256_blendv_ps(b, a, s); } // signbit(s) ? a : b
inline int count(vmask m) { return __builtin_popcount((unsigned)_mm256_movemask_ps(m)); }
inline bool any(vmask m) { return _mm256_movemask_ps(m) != 0; }
inline bool all(vmask m) { return _mm256_movemask_ps(m) == 0xFF; }
inline float lane0(vf a) { return _mm256_cvtss_f32(a); }
inline float reduce_max(vf a) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
// Sums float lanes in double, in a fixed order.
struct dacc {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    void add(vf a) {
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(a)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
    }
    void add_product(vf a, vf b) {  // a * b lane by lane, exact in double
        lo = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)),
                             _mm256_cvtps_pd(_mm256_castps256_ps128(b)), lo);
        hi = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)),
                             _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1)), hi);
    }
    // Adds the terms a * b * c, each formed in double and counted as the float it is reported as
    // (beyond float range: infinite); returns those floats.
    vf add_product3(vf a, vf b, vf c) {
        auto half = [](__m128 a4, __m128 b4, __m128 c4, __m256d& acc) {
            __m256d t = _mm256_mul_pd(_mm256_cvtps_pd(a4), _mm256_mul_pd(_mm256_cvtps_pd(b4), _mm256_cvtps_pd(c4)));
            const __m256d beyond = _mm256_cmp_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), t),
                                                 _mm256_set1_pd(FLT_MAX), _CMP_GT_OQ);
            t = _mm256_blendv_pd(t, _mm256_mul_pd(t, _mm256_set1_pd(INFINITY)), beyond);
            acc = _mm256_add_pd(acc, t);
            return _mm256_cvtpd_ps(t);
        };
        const __m128 l = half(_mm256_castps256_ps128(a), _mm256_castps256_ps128(b), _mm256_castps256_ps128(c), lo);
        const __m128 h = half(_mm256_extractf128_ps(a, 1), _mm256_extractf128_ps(b, 1), _mm256_extractf128_ps(c, 1), hi);
        return _mm256_set_m128(h, l);
    }
    double total() const {
        __m256d s = _mm256_add_pd(lo, hi);
        __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
        return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
    }
};
inline vi as_int(vf a) { return _mm256_castps_si256(a); }
inline vf as_float(vi a) { return _mm256_castsi256_ps(a); }
inline vi set1_i(int32_t a) { return _mm256_set1_epi32(a); }
inline vi add_i(vi a, vi b) { return _mm256_add_epi32(a, b); }
inline vi sub_i(vi a, vi b) { return _mm256_sub_epi32(a, b); }
inline vi and_i(vi a, vi b) { return _mm256_and_si256(a, b); }
inline vi or_i(vi a, vi b) { return _mm256_or_si256(a, b); }
template <int k> inline vi shl_i(vi a) { return _mm256_slli_epi32(a, k); }
template <int k> inline vi shr_i(vi a) { return _mm256_srli_epi32(a, k); }   // logical
template <int k> inline vi sra_i(vi a) { return _mm256_srai_epi32(a, k); }   // arithmetic
inline vf to_float(vi a) { return _mm256_cvtepi32_ps(a); }
inline vi load_i(const int32_t* p) { return _mm256_loadu_si256((const __m256i*)p); }
inline vf permute(vf table, vi idx) { return _mm256_permutevar8x32_ps(table, idx); }  // table[idx]
inline vmask eq_i(vi a, vi b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }
inline vmask gt_i(vi a, vi b) { return _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b)); }  // signed
// base[idx] in the lanes of m, 0 in the others (whose index is not read).
inline vf gather(const float* base, vi idx, vmask m) {
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, idx, m, 4);
}
inline vi permute_i(vi table, vi idx) { return _mm256_permutevar8x32_epi32(table, idx); }  // table[idx]
// table[idx] for idx in [0, 16): a 16-float table (padded) in two permutes.
inline vf lookup16(const float* table, vi idx) {
    const vf lo = permute(load(table), idx), hi = permute(load(table + 8), idx);
    return select(gt_i(idx, set1_i(7)), hi, lo);
}
// (float)(s * a * b * c) lane by lane, the products in double (rounded once, to float); all_fit is
// cleared unless every lane's product is 0 or a normal float (fits_float).
inline vf product_in_double(double s, vf a, vf b, vf c, bool& all_fit) {
    auto half = [&](__m128 a4, __m128 b4, __m128 c4) {
        const __m256d p = _mm256_mul_pd(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(s), _mm256_cvtps_pd(a4)),
                                                      _mm256_cvtps_pd(b4)), _mm256_cvtps_pd(c4));
        const __m256d m = _mm256_andnot_pd(_mm256_set1_pd(-0.0), p);
        const __m256d ok = _mm256_or_pd(_mm256_cmp_pd(p, _mm256_setzero_pd(), _CMP_EQ_OQ),
                                        _mm256_and_pd(_mm256_cmp_pd(m, _mm256_set1_pd(FLT_MIN), _CMP_GE_OQ),
                                                      _mm256_cmp_pd(m, _mm256_set1_pd(FLT_MAX), _CMP_LE_OQ)));
        all_fit = all_fit && _mm256_movemask_pd(ok) == 0xF;
        return _mm256_cvtpd_ps(p);
    };
    const __m128 lo = half(_mm256_castps256_ps128(a), _mm256_castps256_ps128(b), _mm256_castps256_ps128(c));
    const __m128 hi = half(_mm256_extractf128_ps(a, 1), _mm256_extractf128_ps(b, 1), _mm256_extractf128_ps(c, 1));
    return _mm256_set_m128(hi, lo);
}
// Lane r of the result = op over the lanes of s[r] (a transposed horizontal reduction) in three
// halving steps (128-bit halves, pairs, lanes), 22 operations for 8 rows.
template <class Op>
inline vf reduce_lanes_of(const vf* s, Op op) {
    vf u[4], v[2];
    for (int r = 0; r < 4; ++r)  // lanes 0-3: row r, 4-7: row r + 4
        u[r] = op(_mm256_permute2f128_ps(s[r], s[r + 4], 0x20), _mm256_permute2f128_ps(s[r], s[r + 4], 0x31));
    for (int r = 0; r < 2; ++r)  // per half: two partials of a u[r] row, two of the u[r + 2] row
        v[r] = op(_mm256_shuffle_ps(u[r], u[r + 2], 0x44), _mm256_shuffle_ps(u[r], u[r + 2], 0xEE));
    // per half: rows (0 2 1 3), (4 6 5 7)
    const vf t = op(_mm256_shuffle_ps(v[0], v[1], 0x88), _mm256_shuffle_ps(v[0], v[1], 0xDD));
    return permute(t, _mm256_setr_epi32(0, 2, 1, 3, 4, 6, 5, 7));
}

#elif FL_ISA == FL_ISA_AVX512
// ------------------------------------------------------------------------------------- AVX-512
#if defined(FL_EMULATE_AVX512)
using namespace ::fl_emu;
#endif
constexpr int kLanes = 16;
constexpr int kStreamAlign = 64;
using vf = __m512;
using vi = __m512i;
using vmask = __mmask16;

inline vf set1(float a) { return _mm512_set1_ps(a); }
inline vf zero() { return _mm512_setzero_ps(); }
inline vf load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, vf a) { _mm512_storeu_ps(p, a); }
inline void stream(float* p, vf a) { _mm512_stream_ps(p, a); }
inline void stream_fence() { _mm_sfence(); }
inline vmask first_n(int n) { return n >= 16 ? (vmask)0xFFFF : (vmask)((1u << n) - 1u); }
inline vf load_partial(const float* p, int n, vf fill) {
    return _mm512_mask_loadu_ps(fill, first_n(n), p);  // masked-off lanes never fault
}
inline void store_partial(float* p, int n, vf a) { _mm512_mask_storeu_ps(p, first_n(n), a); }
inline vf add(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf rcp_estimate(vf a) { return _mm512_rcp14_ps(a); }  // 1 / a to 2^-14 relative
inline vf fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf fnmadd(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
inline vf max(vf a, vf b) { return _mm512_max_ps(a, b); }  // b when either is NaN, as AVX2
inline vf min(vf a, vf b) { return _mm512_min_ps(a, b); }
inline vf abs(vf a) { return _mm512_abs_ps(a); }
inline vf copysign(vf mag, vf sgn) {
    const vf s = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(s, mag), _mm512_and_ps(s, sgn));
}
inline vmask lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
inline vmask le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
inline vmask gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
inline vmask ge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
inline vmask eq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
inline vmask neq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
inline vmask all_lanes() { return (vmask)0xFFFF; }
inline vmask no_lanes() { return (vmask)0; }
inline vmask mask_and(vmask a, vmask b) { return (vmask)(a & b); }
inline vmask mask_andnot(vmask a, vmask b) { return (vmask)(~a & b); }
inline vmask mask_or(vmask a, vmask b) { return (vmask)(a | b); }
inline vf select(vmask m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); }
inline vf select_sign(vf s, vf a, vf b) {
    return _mm512_mask_blend_ps(_mm512_movepi32_mask(_mm512_castps_si512(s)), b, a);
}
inline int count(vmask m) { return __builtin_popcount((unsigned)m); }
inline bool any(vmask m) { return m != 0; }
inline bool all(vmask m) { return m == 0xFFFF; }
inline float lane0(vf a) { return _mm512_cvtss_f32(a); }
inline float reduce_max(vf a) {
    __m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
struct dacc {
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    void add(vf a) {
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(a)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)));
    }
    void add_product(vf a, vf b) {  // a * b lane by lane, exact in double
        lo = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(a)),
                             _mm512_cvtps_pd(_mm512_castps512_ps256(b)), lo);
        hi = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)),
                             _mm512_cvtps_pd(_mm512_extractf32x8_ps(b, 1)), hi);
    }
    vf add_product3(vf a, vf b, vf c) {
        auto half = [](__m256 a8, __m256 b8, __m256 c8, __m512d& acc) {
            __m512d t = _mm512_mul_pd(_mm512_cvtps_pd(a8), _mm512_mul_pd(_mm512_cvtps_pd(b8), _mm512_cvtps_pd(c8)));
            const __mmask8 beyond = _mm512_cmp_pd_mask(_mm512_abs_pd(t), _mm512_set1_pd(FLT_MAX), _CMP_GT_OQ);
            t = _mm512_mask_mul_pd(t, beyond, t, _mm512_set1_pd(INFINITY));
            acc = _mm512_add_pd(acc, t);
            return _mm512_cvtpd_ps(t);
        };
        const __m256 l = half(_mm512_castps512_ps256(a), _mm512_castps512_ps256(b), _mm512_castps512_ps256(c), lo);
        const __m256 h = half(_mm512_extractf32x8_ps(a, 1), _mm512_extractf32x8_ps(b, 1), _mm512_extractf32x8_ps(c, 1), hi);
        return _mm512_insertf32x8(_mm512_castps256_ps512(l), h, 1);
    }
    double total() const {
        __m512d s = _mm512_add_pd(lo, hi);
        __m256d q = _mm256_add_pd(_mm512_castpd512_pd256(s), _mm512_extractf64x4_pd(s, 1));
        __m128d t = _mm_add_pd(_mm256_castpd256_pd128(q), _mm256_extractf128_pd(q, 1));
        return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
    }
};
inline vi as_int(vf a) { return _mm512_castps_si512(a); }
inline vf as_float(vi a) { return _mm512_castsi512_ps(a); }
inline vi set1_i(int32_t a) { return _mm512_set1_epi32(a); }
inline vi add_i(vi a, vi b) { return _mm512_add_epi32(a, b); }
inline vi sub_i(vi a, vi b) { return _mm512_sub_epi32(a, b); }
inline vi and_i(vi a, vi b) { return _mm512_and_si512(a, b); }
inline vi or_i(vi a, vi b) { return _mm512_or_si512(a, b); }
template <int k> inline vi shl_i(vi a) { return _mm512_slli_epi32(a, k); }
template <int k> inline vi shr_i(vi a) { return _mm512_srli_epi32(a, k); }
template <int k> inline vi sra_i(vi a) { return _mm512_srai_epi32(a, k); }
inline vf to_float(vi a) { return _mm512_cvtepi32_ps(a); }
inline vi load_i(const int32_t* p) { return _mm512_loadu_si512((const void*)p); }
inline vf permute(vf table, vi idx) { return _mm512_permutexvar_ps(idx, table); }  // table[idx]
inline vmask eq_i(vi a, vi b) { return _mm512_cmpeq_epi32_mask(a, b); }
inline vmask gt_i(vi a, vi b) { return _mm512_cmpgt_epi32_mask(a, b); }  // signed
inline vf gather(const float* base, vi idx, vmask m) {
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, base, 4);
}
inline vi permute_i(vi table, vi idx) { return _mm512_permutexvar_epi32(idx, table); }
inline vf lookup16(const float* table, vi idx) { return permute(load(table), idx); }  // table[idx & 15]
inline vf product_in_double(double s, vf a, vf b, vf c, bool& all_fit) {
    auto half = [&](__m256 a8, __m256 b8, __m256 c8) {
        const __m512d p = _mm512_mul_pd(_mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(s), _mm512_cvtps_pd(a8)),
                                                      _mm512_cvtps_pd(b8)), _mm512_cvtps_pd(c8));
        const __m512d m = _mm512_abs_pd(p);
        const __mmask8 ok = (__mmask8)(_mm512_cmp_pd_mask(p, _mm512_setzero_pd(), _CMP_EQ_OQ) |
                                       (_mm512_cmp_pd_mask(m, _mm512_set1_pd(FLT_MIN), _CMP_GE_OQ) &
                                        _mm512_cmp_pd_mask(m, _mm512_set1_pd(FLT_MAX), _CMP_LE_OQ)));
        all_fit = all_fit && ok == 0xFF;
        return _mm512_cvtpd_ps(p);
    };
    const __m256 lo = half(_mm512_castps512_ps256(a), _mm512_castps512_ps256(b), _mm512_castps512_ps256(c));
    const __m256 hi = half(_mm512_extractf32x8_ps(a, 1), _mm512_extractf32x8_ps(b, 1), _mm512_extractf32x8_ps(c, 1));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}
// Lane r = op over the lanes of s[r]: a transposed horizontal reduction in four halving steps
// (256-bit halves, 128-bit blocks, pairs, lanes), 46 operations for 16 rows.
template <class Op>
inline vf reduce_lanes_of(const vf* s, Op op) {
    vf u[8], v[4], w[2];
    for (int r = 0; r < 8; ++r)  // lanes 0-7: row r, 8-15: row r + 8
        u[r] = op(_mm512_shuffle_f32x4(s[r], s[r + 8], 0x44), _mm512_shuffle_f32x4(s[r], s[r + 8], 0xEE));
    for (int r = 0; r < 4; ++r)  // blocks: rows r, r + 8, r + 4, r + 12
        v[r] = op(_mm512_shuffle_f32x4(u[r], u[r + 4], 0x88), _mm512_shuffle_f32x4(u[r], u[r + 4], 0xDD));
    for (int r = 0; r < 2; ++r)  // per block: two partials of a v[r] row, two of the v[r + 2] row
        w[r] = op(_mm512_shuffle_ps(v[r], v[r + 2], 0x44), _mm512_shuffle_ps(v[r], v[r + 2], 0xEE));
    // per block: rows (0 2 1 3), (8 10 9 11), (4 6 5 7), (12 14 13 15)
    const vf t = op(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xDD));
    alignas(64) static const int32_t order[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};
    return permute(t, load_i(order));
}

#else
// -------------------------------------------------------------------------------------- scalar
constexpr int kLanes = 1;
constexpr int kStreamAlign = 4;
using vf = float;
using vi = int32_t;
using vmask = bool;

inline vf set1(float a) { return a; }
inline vf zero() { return 0.0f; }
inline vf load(const float* p) { return *p; }
inline void store(float* p, vf a) { *p = a; }
inline void stream(float* p, vf a) { *p = a; }
inline void stream_fence() {}
inline vmask first_n(int n) { return n > 0; }
inline vf load_partial(const float* p, int n, vf fill) { return n > 0 ? *p : fill; }
inline void store_partial(float* p, int n, vf a) {
    if (n > 0) *p = a;
}
inline vf add(vf a, vf b) { return a + b; }
inline vf sub(vf a, vf b) { return a - b; }
inline vf mul(vf a, vf b) { return a * b; }
inline vf div(vf a, vf b) { return a / b; }
inline vf rcp_estimate(vf a) { return 1.0f / a; }
inline vf fmadd(vf a, vf b, vf c) { return a * b + c; }
inline vf fnmadd(vf a, vf b, vf c) { return c - a * b; }
inline vf max(vf a, vf b) { return a > b ? a : b; }  // b when either is NaN, as x86 maxps
inline vf min(vf a, vf b) { return a < b ? a : b; }
inline vf abs(vf a) { return fabsf(a); }
inline vf copysign(vf mag, vf sgn) { return copysignf(mag, sgn); }
inline vmask lt(vf a, vf b) { return a < b; }
inline vmask le(vf a, vf b) { return a <= b; }
inline vmask gt(vf a, vf b) { return a > b; }
inline vmask ge(vf a, vf b) { return a >= b; }
inline vmask eq(vf a, vf b) { return a == b; }
inline vmask neq(vf a, vf b) { return !(a == b); }
inline vmask all_lanes() { return true; }
inline vmask no_lanes() { return false; }
inline vmask mask_and(vmask a, vmask b) { return a && b; }
inline vmask mask_andnot(vmask a, vmask b) { return !a && b; }
inline vmask mask_or(vmask a, vmask b) { return a || b; }
inline vf select(vmask m, vf a, vf b) { return m ? a : b; }
inline vf select_sign(vf s, vf a, vf b) { return signbit(s) ? a : b; }
inline int count(vmask m) { return m ? 1 : 0; }
inline bool any(vmask m) { return m; }
inline bool all(vmask m) { return m; }
inline float lane0(vf a) { return a; }
inline float reduce_max(vf a) { return a; }
struct dacc {
    double s = 0.0;
    void add(vf a) { s += (double)a; }
    void add_product(vf a, vf b) { s += (double)a * (double)b; }
    vf add_product3(vf a, vf b, vf c) {
        double t = (double)a * ((double)b * (double)c);
        if (fabs(t) > FLT_MAX) t = copysign(INFINITY, t);
        s += t;
        return (float)t;
    }
    double total() const { return s; }
};
// Integer lanes use unsigned arithmetic so wrap-around is defined (UBSan-clean).
inline vi as_int(vf a) {
    vi r;
    memcpy(&r, &a, sizeof r);
    return r;
}
inline vf as_float(vi a) {
    vf r;
    memcpy(&r, &a, sizeof r);
    return r;
}
inline vi set1_i(int32_t a) { return a; }
inline vi add_i(vi a, vi b) { return (vi)((uint32_t)a + (uint32_t)b); }
inline vi sub_i(vi a, vi b) { return (vi)((uint32_t)a - (uint32_t)b); }
inline vi and_i(vi a, vi b) { return a & b; }
inline vi or_i(vi a, vi b) { return a | b; }
template <int k> inline vi shl_i(vi a) { return (vi)((uint32_t)a << k); }
template <int k> inline vi shr_i(vi a) { return (vi)((uint32_t)a >> k); }
template <int k> inline vi sra_i(vi a) { return a >> k; }  // arithmetic shift in gcc / clang
inline vf to_float(vi a) { return (float)a; }
inline vi load_i(const int32_t* p) { return *p; }
inline vmask eq_i(vi a, vi b) { return a == b; }
inline vmask gt_i(vi a, vi b) { return a > b; }
inline vf gather(const float* base, vi idx, vmask m) { return m ? base[idx] : 0.0f; }
inline vf permute(vf table, vi) { return table; }  // one lane: table[0]
inline vi permute_i(vi table, vi) { return table; }
inline vf lookup16(const float* table, vi idx) { return table[idx & 15]; }
inline vf product_in_double(double s, vf a, vf b, vf c, bool& all_fit) {
    const double p = s * (double)a * (double)b * (double)c;
    all_fit = all_fit && (p == 0.0 || (fabs(p) >= FLT_MIN && fabs(p) <= FLT_MAX));
    return (float)p;
}
template <class Op>
inline vf reduce_lanes_of(const vf* s, Op) { return s[0]; }
#endif

// ------------------------------------------------------------------------ shared conveniences
// Lane r = the sum (the max) of the lanes of s[r], r < kLanes.
inline vf sum_lanes_of(const vf* s) { return reduce_lanes_of(s, [](vf a, vf b) { return add(a, b); }); }
inline vf max_lanes_of(const vf* s) { return reduce_lanes_of(s, [](vf a, vf b) { return max(a, b); }); }

// Loads n (1..kLanes) lanes; a full vector uses the plain load.
inline vf load_n(const float* p, int n, vf fill) {
    return n == kLanes ? load(p) : load_partial(p, n, fill);
}
inline void store_n(float* p, int n, vf a) {
    if (n == kLanes)
        store(p, a);
    else
        store_partial(p, n, a);
}
// Whether count floats at a and at b share no byte (a gradient may alias its predictions).
inline bool disjoint(const float* a, const float* b, int64_t count) {
    const uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b, bytes = (uintptr_t)count * sizeof(float);
    return pa + bytes <= pb || pb + bytes <= pa;
}
inline vmask finite_mask(vf a) { return le(abs(a), set1(FLT_MAX)); }  // false for NaN and inf
inline bool all_finite(vf a) { return all(finite_mask(a)); }

// Whether a double factor converts to float without leaving its range: 0 or a normal float.
// A factor that does not (1 / a tiny denominator, a huge gradient scale) must meet the other
// factors of its product in double (in_double), where the product may well be a float.
inline bool fits_float(double f) { return f == 0.0 || (::fabs(f) >= FLT_MIN && ::fabs(f) <= FLT_MAX); }

// (float)op(a, b, c) lane by lane, in double: for the rare rows whose float products would leave
// float range before the result does. A plain loop over the lanes (the vector units stay for the
// common rows).
template <class Op>
inline vf in_double(vf a, vf b, vf c, vf d, Op op) {
    float ta[kLanes], tb[kLanes], tc[kLanes], td[kLanes], r[kLanes];
    store(ta, a);
    store(tb, b);
    store(tc, c);
    store(td, d);
    for (int l = 0; l < kLanes; ++l) r[l] = (float)op((double)ta[l], (double)tb[l], (double)tc[l], (double)td[l]);
    return load(r);
}
template <class Op>
inline vf in_double(vf a, vf b, vf c, Op op) {
    return in_double(a, b, c, zero(), [&](double x, double y, double z, double) { return op(x, y, z); });
}

#define FL_INLINE inline __attribute__((always_inline))
#define FL_INLINE_LAMBDA __attribute__((always_inline))

// Asks for the cache line at p ahead of use (prefetch: baseline x86-64, every ISA).
// Always inlined: GCC finds a plain wrapper of __builtin_prefetch free of side effects and
// deletes the calls to it that it has not inlined yet (its first DCE pass), prefetch and all.
#ifndef FL_PREFETCH_LOCALITY
#define FL_PREFETCH_LOCALITY 2
#endif
FL_INLINE void prefetch(const void* p) { __builtin_prefetch(p, 0, FL_PREFETCH_LOCALITY); }
// The same, non-temporal: the line comes to L1 without displacing what L2 holds.
FL_INLINE void prefetch_nta(const void* p) { __builtin_prefetch(p, 0, 0); }
// The same into every cache level (prefetcht0).
FL_INLINE void prefetch_t0(const void* p) { __builtin_prefetch(p, 0, 3); }
// Non-temporal where nta, else into every level: the read-ahead of the long rows, whose better
// hint depends on the CPU (SoftmaxArgs::read_ahead_nta).
FL_INLINE void prefetch_read_ahead(const void* p, bool nta) {
    if (nta)
        prefetch_nta(p);
    else
        prefetch_t0(p);
}

// Calls body(j, n) for the vectors covering [begin, end): full ones (n == kLanes, a constant
// the compiler folds into plain loads and stores), then one partial tail.
template <class Body>
FL_INLINE void for_each_vector(int64_t begin, int64_t end, Body&& body) {
    int64_t j = begin;
    for (; j + kLanes <= end; j += kLanes) body(j, kLanes);
    if (j < end) body(j, (int)(end - j));
}

}  // namespace simd
}  // namespace FL_NS
