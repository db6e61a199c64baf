// avx512_emulation.h: plain C++ versions of the AVX-512 intrinsics that simd.h uses, for test
// builds only (CMake option FUSEDLOSS_EMULATE_AVX512, which native/test/check.sh turns on where the
// CPU has no AVX-512).
//
// Not every machine that builds and tests the project has AVX-512, yet the shipped library picks
// the AVX-512 kernels on every CPU that has it. Compiling the AVX-512 unit against this header
// instead of <immintrin.h> runs those kernels' own logic (16 lanes, opmasks, masked loads
// and stores, gathers, permutes, the reductions) on any x86-64 CPU, so native_check can compare
// them with the scalar kernels. It checks our code, not the compiler's AVX-512 code generation.
//
// Each function does lane by lane what Intel's documentation says the instruction does,
// including the cases the kernels depend on:
// - max / min return the second operand when either is NaN;
// - the _OQ comparisons are false on NaN, _NEQ_UQ is true;
// - fmadd rounds once (fmaf);
// - masked loads and stores, and gathers, touch masked-on lanes only (the hardware does not fault
//   on the others, and the kernels rely on it at the end of a row);
// - a non-temporal store faults unless its address is 64-byte aligned: here it aborts.
// _mm512_reduce_add_ps adds in the same tree as GCC's version, so sums round the same way.
// Never part of a shipped build: including it where the compiler targets AVX-512 is an error.
#pragma once

#if defined(__AVX512F__) || defined(__AVX__)
#error "avx512_emulation.h is for test builds compiled for baseline x86-64 only"
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace fl_emu {

struct __m512 { float v[16]; };
struct __m512i { int32_t v[16]; };
struct __m512d { double v[8]; };
struct __m256 { float v[8]; };
struct __m256d { double v[4]; };
struct __m128 { float v[4]; };
struct __m128d { double v[2]; };
typedef uint16_t __mmask16;
typedef uint8_t __mmask8;

// The comparison predicates simd.h uses (Intel's encodings).
enum { _CMP_EQ_OQ = 0x00, _CMP_NEQ_UQ = 0x04, _CMP_LT_OQ = 0x11, _CMP_LE_OQ = 0x12,
       _CMP_GE_OQ = 0x1d, _CMP_GT_OQ = 0x1e };

// Bit casts (the low lanes) and halves.
template <class To, class From>
inline To bits(const From& from) {
    static_assert(sizeof(To) <= sizeof(From), "a cast may only narrow");
    To to;
    memcpy(&to, &from, sizeof(To));  // the low lanes, as the hardware's casts
    return to;
}
template <class To, class From>
inline To half(const From& from, int upper) {  // the extracts: the low or the high half
    static_assert(2 * sizeof(To) == sizeof(From), "a half");
    To to;
    memcpy(&to, (const char*)&from + (upper ? sizeof(To) : 0), sizeof(To));
    return to;
}
// The opmask of the lanes where lane_is_set(i) holds.
template <class F>
inline __mmask16 mask_where(F lane_is_set) {
    __mmask16 k = 0;
    for (int i = 0; i < 16; ++i)
        if (lane_is_set(i)) k = (__mmask16)(k | 1u << i);
    return k;
}

inline float x86_max(float a, float b) { return a > b ? a : b; }  // b when either is NaN
inline float x86_min(float a, float b) { return a < b ? a : b; }

// Lane-wise helpers: r[i] = f(a[i], b[i]).
template <class V, class F>
inline V lanes(const V& a, const V& b, F f) {
    V r;
    for (size_t i = 0; i < sizeof(r.v) / sizeof(r.v[0]); ++i) r.v[i] = f(a.v[i], b.v[i]);
    return r;
}

// ------------------------------------------------------------------------------ 512-bit floats
inline __m512 _mm512_set1_ps(float a) {
    __m512 r;
    for (float& x : r.v) x = a;
    return r;
}
inline __m512 _mm512_setzero_ps() { return _mm512_set1_ps(0.0f); }
inline __m512 _mm512_loadu_ps(const void* p) {
    __m512 r;
    memcpy(r.v, p, sizeof(r.v));
    return r;
}
inline __m512 _mm512_load_ps(const void* p) {
    if ((uintptr_t)p % 64) {
        fprintf(stderr, "avx512 emulation: _mm512_load_ps at %p, not 64-byte aligned\n", p);
        abort();
    }
    return _mm512_loadu_ps(p);
}
inline void _mm512_storeu_ps(void* p, __m512 a) { memcpy(p, a.v, sizeof(a.v)); }
inline void _mm512_stream_ps(void* p, __m512 a) {
    if ((uintptr_t)p % 64) {
        fprintf(stderr, "avx512 emulation: _mm512_stream_ps at %p, not 64-byte aligned\n", p);
        abort();
    }
    memcpy(p, a.v, sizeof(a.v));
}
inline __m512 _mm512_mask_loadu_ps(__m512 src, __mmask16 k, const void* p) {
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) memcpy(&src.v[i], (const float*)p + i, sizeof(float));
    return src;
}
inline void _mm512_mask_storeu_ps(void* p, __mmask16 k, __m512 a) {
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) memcpy((float*)p + i, &a.v[i], sizeof(float));
}
inline __m512 _mm512_add_ps(__m512 a, __m512 b) { return lanes(a, b, [](float x, float y) { return x + y; }); }
inline __m512 _mm512_sub_ps(__m512 a, __m512 b) { return lanes(a, b, [](float x, float y) { return x - y; }); }
inline __m512 _mm512_mul_ps(__m512 a, __m512 b) { return lanes(a, b, [](float x, float y) { return x * y; }); }
inline __m512 _mm512_div_ps(__m512 a, __m512 b) { return lanes(a, b, [](float x, float y) { return x / y; }); }
// The hardware's estimate is within 2^-14 of 1 / a; the correctly rounded quotient is within that.
inline __m512 _mm512_rcp14_ps(__m512 a) {
    for (float& x : a.v) x = 1.0f / x;
    return a;
}
inline __m512 _mm512_max_ps(__m512 a, __m512 b) { return lanes(a, b, x86_max); }
inline __m512 _mm512_min_ps(__m512 a, __m512 b) { return lanes(a, b, x86_min); }
inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
    for (int i = 0; i < 16; ++i) c.v[i] = fmaf(a.v[i], b.v[i], c.v[i]);
    return c;
}
inline __m512 _mm512_fnmadd_ps(__m512 a, __m512 b, __m512 c) {  // -(a * b) + c
    for (int i = 0; i < 16; ++i) c.v[i] = fmaf(-a.v[i], b.v[i], c.v[i]);
    return c;
}

// Bitwise float operations act on the bits.
template <class F>
inline __m512 bitwise(__m512 a, __m512 b, F f) {
    __m512i x = bits<__m512i>(a), y = bits<__m512i>(b);
    for (int i = 0; i < 16; ++i) x.v[i] = f(x.v[i], y.v[i]);
    return bits<__m512>(x);
}
inline __m512 _mm512_and_ps(__m512 a, __m512 b) { return bitwise(a, b, [](int32_t x, int32_t y) { return x & y; }); }
inline __m512 _mm512_or_ps(__m512 a, __m512 b) { return bitwise(a, b, [](int32_t x, int32_t y) { return x | y; }); }
inline __m512 _mm512_andnot_ps(__m512 a, __m512 b) {  // ~a & b
    return bitwise(a, b, [](int32_t x, int32_t y) { return ~x & y; });
}
inline __m512 _mm512_abs_ps(__m512 a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a); }

inline __mmask16 _mm512_cmp_ps_mask(__m512 a, __m512 b, int predicate) {
    return mask_where([&](int i) {
        const float x = a.v[i], y = b.v[i];
        switch (predicate) {
            case _CMP_EQ_OQ: return x == y;
            case _CMP_NEQ_UQ: return !(x == y);  // true when unordered
            case _CMP_LT_OQ: return x < y;
            case _CMP_LE_OQ: return x <= y;
            case _CMP_GE_OQ: return x >= y;
            case _CMP_GT_OQ: return x > y;
        }
        fprintf(stderr, "avx512 emulation: comparison predicate %#x not emulated\n", predicate);
        abort();
    });
}
inline __m512 _mm512_mask_blend_ps(__mmask16 k, __m512 a, __m512 b) {  // b where k is set
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) a.v[i] = b.v[i];
    return a;
}
inline __m512 _mm512_permutexvar_ps(__m512i idx, __m512 a) {
    __m512 r;
    for (int i = 0; i < 16; ++i) r.v[i] = a.v[idx.v[i] & 15];
    return r;
}
inline __m512 _mm512_mask_i32gather_ps(__m512 src, __mmask16 k, __m512i idx, const void* base, int scale) {
    for (int i = 0; i < 16; ++i)
        if (k >> i & 1) memcpy(&src.v[i], (const char*)base + (int64_t)idx.v[i] * scale, sizeof(float));
    return src;
}
// Within each 128-bit block: two lanes of a, then two of b, picked by imm's 2-bit fields.
inline __m512 _mm512_shuffle_ps(__m512 a, __m512 b, int imm) {
    __m512 r;
    for (int blk = 0; blk < 16; blk += 4) {
        r.v[blk + 0] = a.v[blk + (imm & 3)];
        r.v[blk + 1] = a.v[blk + (imm >> 2 & 3)];
        r.v[blk + 2] = b.v[blk + (imm >> 4 & 3)];
        r.v[blk + 3] = b.v[blk + (imm >> 6 & 3)];
    }
    return r;
}
// 128-bit blocks: two of a, then two of b, picked by imm's 2-bit fields.
inline __m512 _mm512_shuffle_f32x4(__m512 a, __m512 b, int imm) {
    __m512 r;
    for (int k = 0; k < 4; ++k) {
        const __m512& src = k < 2 ? a : b;
        memcpy(&r.v[4 * k], &src.v[4 * (imm >> (2 * k) & 3)], 4 * sizeof(float));
    }
    return r;
}
inline __m512 _mm512_castps256_ps512(__m256 a) {  // the upper half is undefined: zero here
    __m512 r = _mm512_setzero_ps();
    memcpy(r.v, a.v, sizeof(a.v));
    return r;
}
inline __m512 _mm512_insertf32x8(__m512 a, __m256 b, int hi) {
    memcpy(&a.v[hi ? 8 : 0], b.v, sizeof(b.v));
    return a;
}
inline float _mm512_cvtss_f32(__m512 a) { return a.v[0]; }
inline float _mm512_reduce_add_ps(__m512 a) {  // GCC's tree: halves, quarters, pairs
    float t3[8], t6[4];
    for (int i = 0; i < 8; ++i) t3[i] = a.v[8 + i] + a.v[i];
    for (int i = 0; i < 4; ++i) t6[i] = t3[4 + i] + t3[i];
    return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}
inline __m256 _mm512_castps512_ps256(__m512 a) { return bits<__m256>(a); }
inline __m256 _mm512_extractf32x8_ps(__m512 a, int hi) {
    return half<__m256>(a, hi);
}

// ---------------------------------------------------------------------------- 512-bit integers
inline __m512i _mm512_castps_si512(__m512 a) { return bits<__m512i>(a); }
inline __m512 _mm512_castsi512_ps(__m512i a) { return bits<__m512>(a); }
inline __m512i _mm512_set1_epi32(int32_t a) {
    __m512i r;
    for (int32_t& x : r.v) x = a;
    return r;
}
inline __m512i _mm512_loadu_si512(const void* p) {
    __m512i r;
    memcpy(r.v, p, sizeof(r.v));
    return r;
}
// Integer adds wrap (done in unsigned: no undefined overflow).
inline __m512i _mm512_add_epi32(__m512i a, __m512i b) {
    return lanes(a, b, [](int32_t x, int32_t y) { return (int32_t)((uint32_t)x + (uint32_t)y); });
}
inline __m512i _mm512_sub_epi32(__m512i a, __m512i b) {
    return lanes(a, b, [](int32_t x, int32_t y) { return (int32_t)((uint32_t)x - (uint32_t)y); });
}
inline __m512i _mm512_and_si512(__m512i a, __m512i b) { return lanes(a, b, [](int32_t x, int32_t y) { return x & y; }); }
inline __m512i _mm512_or_si512(__m512i a, __m512i b) { return lanes(a, b, [](int32_t x, int32_t y) { return x | y; }); }
// Shifts by a count of 32 or more give 0 (arithmetic right: the sign), as the instructions.
inline __m512i _mm512_slli_epi32(__m512i a, unsigned n) {
    for (int32_t& x : a.v) x = n > 31 ? 0 : (int32_t)((uint32_t)x << n);
    return a;
}
inline __m512i _mm512_srli_epi32(__m512i a, unsigned n) {
    for (int32_t& x : a.v) x = n > 31 ? 0 : (int32_t)((uint32_t)x >> n);
    return a;
}
inline __m512i _mm512_srai_epi32(__m512i a, unsigned n) {
    for (int32_t& x : a.v) x = x >> (n > 31 ? 31 : n);  // arithmetic in GCC and Clang
    return a;
}
inline __m512 _mm512_cvtepi32_ps(__m512i a) {  // rounds to nearest, as the default MXCSR
    __m512 r;
    for (int i = 0; i < 16; ++i) r.v[i] = (float)a.v[i];
    return r;
}
inline __mmask16 _mm512_cmpeq_epi32_mask(__m512i a, __m512i b) {
    return mask_where([&](int i) { return a.v[i] == b.v[i]; });
}
inline __mmask16 _mm512_cmpgt_epi32_mask(__m512i a, __m512i b) {  // signed
    return mask_where([&](int i) { return a.v[i] > b.v[i]; });
}
inline __m512i _mm512_permutexvar_epi32(__m512i idx, __m512i a) {
    __m512i r;
    for (int i = 0; i < 16; ++i) r.v[i] = a.v[idx.v[i] & 15];
    return r;
}
inline __mmask16 _mm512_movepi32_mask(__m512i a) {  // the sign bits
    return mask_where([&](int i) { return a.v[i] < 0; });
}

// ----------------------------------------------------------------------------- 512-bit doubles
inline __m512d _mm512_setzero_pd() {
    __m512d r;
    for (double& x : r.v) x = 0.0;
    return r;
}
inline __m512d _mm512_set1_pd(double a) {
    __m512d r;
    for (double& x : r.v) x = a;
    return r;
}
inline __m512d _mm512_add_pd(__m512d a, __m512d b) { return lanes(a, b, [](double x, double y) { return x + y; }); }
inline __m512d _mm512_mul_pd(__m512d a, __m512d b) { return lanes(a, b, [](double x, double y) { return x * y; }); }
inline __m512d _mm512_mask_mul_pd(__m512d src, __mmask8 k, __m512d a, __m512d b) {
    for (int i = 0; i < 8; ++i)
        if (k >> i & 1) src.v[i] = a.v[i] * b.v[i];
    return src;
}
inline __m512d _mm512_abs_pd(__m512d a) {
    for (double& x : a.v) x = fabs(x);
    return a;
}
inline __mmask8 _mm512_cmp_pd_mask(__m512d a, __m512d b, int predicate) {
    __mmask8 k = 0;
    for (int i = 0; i < 8; ++i) {
        const double x = a.v[i], y = b.v[i];
        bool set;
        switch (predicate) {
            case _CMP_EQ_OQ: set = x == y; break;
            case _CMP_LE_OQ: set = x <= y; break;
            case _CMP_GE_OQ: set = x >= y; break;
            case _CMP_GT_OQ: set = x > y; break;
            default:
                fprintf(stderr, "avx512 emulation: comparison predicate %#x not emulated (pd)\n", predicate);
                abort();
        }
        if (set) k = (__mmask8)(k | 1u << i);
    }
    return k;
}
inline __m256 _mm512_cvtpd_ps(__m512d a) {  // rounds to nearest, as the default MXCSR
    __m256 r;
    for (int i = 0; i < 8; ++i) r.v[i] = (float)a.v[i];
    return r;
}
inline __m512d _mm512_fmadd_pd(__m512d a, __m512d b, __m512d c) {
    for (int i = 0; i < 8; ++i) c.v[i] = fma(a.v[i], b.v[i], c.v[i]);
    return c;
}
inline __m512d _mm512_cvtps_pd(__m256 a) {  // exact
    __m512d r;
    for (int i = 0; i < 8; ++i) r.v[i] = (double)a.v[i];
    return r;
}
inline __m256d _mm512_castpd512_pd256(__m512d a) { return bits<__m256d>(a); }
inline __m256d _mm512_extractf64x4_pd(__m512d a, int hi) {
    return half<__m256d>(a, hi);
}

// ------------------------------------------------------------ the 256- and 128-bit operations
inline __m256 _mm256_max_ps(__m256 a, __m256 b) { return lanes(a, b, x86_max); }
inline __m128 _mm256_castps256_ps128(__m256 a) { return bits<__m128>(a); }
inline __m128 _mm256_extractf128_ps(__m256 a, int hi) { return half<__m128>(a, hi); }
inline __m256d _mm256_add_pd(__m256d a, __m256d b) { return lanes(a, b, [](double x, double y) { return x + y; }); }
inline __m128d _mm256_castpd256_pd128(__m256d a) { return bits<__m128d>(a); }
inline __m128d _mm256_extractf128_pd(__m256d a, int hi) { return half<__m128d>(a, hi); }
inline __m128 _mm_max_ps(__m128 a, __m128 b) { return lanes(a, b, x86_max); }
inline __m128 _mm_max_ss(__m128 a, __m128 b) {  // lane 0 only; the others from a
    a.v[0] = x86_max(a.v[0], b.v[0]);
    return a;
}
inline __m128 _mm_movehl_ps(__m128 a, __m128 b) { return __m128{{b.v[2], b.v[3], a.v[2], a.v[3]}}; }
inline __m128 _mm_shuffle_ps(__m128 a, __m128 b, int imm) {
    return __m128{{a.v[imm & 3], a.v[imm >> 2 & 3], b.v[imm >> 4 & 3], b.v[imm >> 6 & 3]}};
}
inline float _mm_cvtss_f32(__m128 a) { return a.v[0]; }
inline __m128d _mm_add_pd(__m128d a, __m128d b) { return lanes(a, b, [](double x, double y) { return x + y; }); }
inline __m128d _mm_add_sd(__m128d a, __m128d b) { return __m128d{{a.v[0] + b.v[0], a.v[1]}}; }
inline __m128d _mm_unpackhi_pd(__m128d a, __m128d b) { return __m128d{{a.v[1], b.v[1]}}; }
inline double _mm_cvtsd_f64(__m128d a) { return a.v[0]; }
inline void _mm_sfence() {}

}  // namespace fl_emu
