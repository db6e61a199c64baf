// host_check: the CUDA kernels' float arithmetic, run on the CPU, no GPU and no nvcc needed.
//
// cuda/kernels/row_math.cuh (the softmax row engine's arithmetic) and the element-wise losses' terms
// (Bce, SigmoidFocal, Mse in their .cu files) are plain C++ as well as CUDA. This program runs
// them in the order the kernels do: for each launch shape (_small, _warp, _block, _cluster), which
// elements each thread holds and in which order it visits them, kept-on-chip or streamed, the
// butterfly and block reductions and the cluster fold, lane for lane. The results are checked
// against the CPU kernels (libfusedloss.a) and, where the CPU is not the judge, against values in
// double precision. It proves the arithmetic, not the device: the device's expf / logf differ
// from the host's by an ulp or two and nvcc fuses a*b+c; cuda_check checks the device itself.
//
//   cuda_host_check [-v]          exit 1 on a failure
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fusedloss.h"
#include "fusedloss_cuda.h"
#include "check_rng.h"
#include "row_math.cuh"
#include "binary_cross_entropy.cu"
#include "mean_squared_error.cu"
#include "sigmoid_focal.cu"

using namespace flc;

namespace {

int g_failures = 0, g_checks = 0;
bool g_verbose = false;

void fail(const std::string& what) {
    ++g_failures;
    fprintf(stderr, "FAIL %s\n", what.c_str());
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char b[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof b, f, ap);
    va_end(ap);
    return b;
}


// ------------------------------------------------------------------------------ the row engine

// Lanes l and l ^ o exchange and combine, for o = W/2 .. 1 (warp_reduce_acc), in every aligned
// group of W lanes starting at `base`.
void butterfly(std::vector<RowAcc>& lanes, size_t base, int W) {
    for (int o = W / 2; o > 0; o >>= 1) {
        std::vector<RowAcc> next(lanes.begin() + base, lanes.begin() + base + W);
        for (int l = 0; l < W; ++l) acc_combine(next[l], lanes[base + (l ^ o)]);
        std::copy(next.begin(), next.end(), lanes.begin() + base);
    }
}

// What one row of one launch shape computes: the row's term and its gradient (g: the row's C).
template <int KIND, int THREADS, int GT, int E, int CLUSTER, bool VEC>
double emulate_row(const RowArgs& a, long long row, double gf, float* g) {
    const long long C = a.c;
    long long chunk = (C + CLUSTER - 1) / CLUSTER;
    chunk = (chunk + 3) & ~3ll;
    const float eps_c = (float)((double)a.eps / (double)C);
    const bool smooth_idx = KIND == CE_INDEX && a.eps != 0.f;
    const int y = KIND != CE_DENSE ? a.labels[row] : -1;
    const float sw = a.sw ? a.sw[row * a.sw_stride] : 1.f;
    float zy = 0.f, cwy = 1.f;
    if (KIND != CE_DENSE) {
        zy = soft_cap(a.x[row * C + y], a.cap);
        if (a.cw) cwy = a.cw[y];
    }
    const float up = a.upstream ? a.upstream[row] : 1.f;

    struct Thread {
        float mt = -INFINITY;
        std::vector<float> kept;
    };
    struct Chunk {  // what block `rank` of the row's cluster owns (the whole row without clusters)
        long long lo;
        int len;
        bool in_regs;
        const float *xr, *tr, *cwc;
    };
    auto chunk_of = [&](int rank) {
        Chunk k;
        k.lo = rank * chunk;
        const long long len64 = C - k.lo;
        k.len = (int)(len64 < 0 ? 0 : (len64 > chunk ? chunk : len64));
        k.in_regs = k.len <= GT * E && !(a.cap > 0.f);
        k.xr = a.x + row * C + k.lo;
        k.tr = KIND == CE_DENSE ? a.targets + row * C + k.lo : nullptr;
        k.cwc = a.cw ? a.cw + k.lo : nullptr;
        return k;
    };
    std::vector<std::vector<Thread>> threads(CLUSTER, std::vector<Thread>(GT));
    std::vector<RowAcc> rank_acc(CLUSTER);
    for (int rank = 0; rank < CLUSTER; ++rank) {
        const Chunk ck = chunk_of(rank);
        const int len = ck.len;
        const bool in_regs = ck.in_regs;
        const float *xr = ck.xr, *tr = ck.tr, *cwc = ck.cwc;
        std::vector<RowAcc> lanes(GT);
        for (int t = 0; t < GT; ++t) {
            Thread& th = threads[rank][t];
            RowAcc acc = acc_identity();
            if (in_regs) {
                const int nvalid = valid_slots<VEC, GT, E>(len, t);
                for (int i = 0; i < nvalid; ++i) th.mt = fmaxf(th.mt, xr[slot_pos<VEC, GT>(t, i)]);
                acc = acc_kept_begin(th.mt);
                int ties = 0;
                for (int i = 0; i < nvalid; ++i) {
                    const int j = slot_pos<VEC, GT>(t, i);
                    th.kept.push_back(acc_add_kept<KIND>(acc, ties, xr[j], th.mt, cwc, tr, j, a.eps, eps_c,
                                                         smooth_idx));
                }
                acc_kept_end(acc, ties);
            } else {
                const int step = VEC ? 4 * GT : GT;
                for (int j0 = VEC ? 4 * t : t; j0 < len; j0 += step)
                    for (int u = 0; u < (VEC ? 4 : 1); ++u)
                        acc_add_streamed<KIND>(acc, soft_cap(xr[j0 + u], a.cap), cwc, tr, j0 + u, a.eps, eps_c,
                                               smooth_idx);
            }
            lanes[t] = acc;
        }
        if (GT <= 32) {
            butterfly(lanes, 0, GT);
            rank_acc[rank] = lanes[0];
        } else {  // block_reduce_acc: each warp, then warp 0 over the warps' results
            constexpr int NW = THREADS / 32;
            std::vector<RowAcc> warp0(32, acc_identity());
            for (int w = 0; w < NW; ++w) {
                butterfly(lanes, 32 * w, 32);
                warp0[w] = lanes[32 * w];
            }
            butterfly(warp0, 0, 32);
            rank_acc[rank] = warp0[0];
        }
    }
    RowAcc r = rank_acc[0];  // the cluster fold, in rank order
    for (int q = 1; q < CLUSTER; ++q) acc_combine(r, rank_acc[q]);
    const RowCoef k = row_coef<KIND>(a, r, zy, cwy, sw, gf * (double)up * (double)sw);

    for (int rank = 0; rank < CLUSTER; ++rank) {
        const Chunk ck = chunk_of(rank);
        const long long lo = ck.lo;
        const int len = ck.len;
        const bool in_regs = ck.in_regs;
        const float *xr = ck.xr, *tr = ck.tr, *cwc = ck.cwc;
        const int yrel = (KIND != CE_DENSE && y >= lo && y < lo + len) ? (int)(y - lo) : -1;
        for (int t = 0; t < GT; ++t) {
            const Thread& th = threads[rank][t];
            if (k.dropped) {  // zero_gradient
                for (int j = t; j < len; j += GT) g[lo + j] = 0.f;
            } else if (k.wide || !in_regs) {  // stream_pass2, which reads the logits again
                const int step = VEC ? 4 * GT : GT;
                for (int j0 = VEC ? 4 * t : t; j0 < len; j0 += step)
                    for (int u = 0; u < (VEC ? 4 : 1); ++u)
                        g[lo + j0 + u] = k.wide ? grad_streamed<KIND, true>(k, soft_cap(xr[j0 + u], a.cap), a.cap, cwc,
                                                                            tr, j0 + u, yrel, smooth_idx)
                                                : grad_streamed<KIND, false>(k, soft_cap(xr[j0 + u], a.cap), a.cap,
                                                                             cwc, tr, j0 + u, yrel, smooth_idx);
            } else {
                const float ps = th.mt == -INFINITY ? 0.f : k.pscale * expf(th.mt - k.M);
                for (size_t i = 0; i < th.kept.size(); ++i) {
                    const int j = slot_pos<VEC, GT>(t, (int)i);
                    g[lo + j] = grad_kept<KIND>(k, ps, th.kept[i], cwc, tr, j, yrel, smooth_idx);
                }
            }
        }
    }
    return k.term;
}

enum Loss { CE, CE_DENSE_T, FOCAL_T };
const char* kLossNames[] = {"cross_entropy", "cross_entropy(dense)", "softmax_focal"};
const char* kVariants[] = {"small", "warp", "block", "cluster"};

// A softmax problem: n rows of c, everything the kernels take.
struct Rows {
    Loss loss = CE;
    long long n = 1, c = 1;
    std::vector<float> x, t, cw, sw, up;
    std::vector<int> y;
    float eps = 0, zl = 0, cap = 0, gamma = 0;
    double scale = 1.0;  // the gradient factor (gradient_scale of a SUM, on the CPU and on the device)
    std::string name;
};

template <class T> const T* ptr(const std::vector<T>& v) { return v.empty() ? nullptr : v.data(); }

RowArgs args_of(const Rows& p) {
    RowArgs a{};
    a.n = p.n;
    a.c = p.c;
    a.x = p.x.data();
    a.labels = ptr(p.y);
    a.targets = p.loss == CE_DENSE_T ? ptr(p.t) : nullptr;
    a.ignore_index = -100;
    a.cw = ptr(p.cw);
    a.sw = ptr(p.sw);
    a.sw_stride = 1;
    a.eps = p.loss == FOCAL_T ? 0.f : p.eps;
    a.z_loss = p.loss == FOCAL_T ? 0.f : p.zl;
    a.cap = p.loss == FOCAL_T ? 0.f : p.cap;
    a.gamma = p.gamma;
    a.upstream = ptr(p.up);
    return a;
}

template <int KIND, bool VEC>
double emulate(const RowArgs& a, int variant, long long row, double gf, float* g) {
    switch (variant) {
    case 0: return emulate_row<KIND, FLC_SMALL_THREADS, FLC_SMALL_LANES, FLC_SMALL_MAX_C / FLC_SMALL_LANES, 1, VEC>(a, row, gf, g);
    case 1: return emulate_row<KIND, FLC_WARP_THREADS, 32, FLC_WARP_MAX_C / 32, 1, VEC>(a, row, gf, g);
    case 2: return emulate_row<KIND, FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS, 1, VEC>(a, row, gf, g);
    default: return emulate_row<KIND, FLC_BLOCK_THREADS, FLC_BLOCK_THREADS, FLC_BLOCK_MAX_C / FLC_BLOCK_THREADS, FLC_CLUSTER_SIZE, VEC>(a, row, gf, g);
    }
}

// The device's per-term values and gradient for one launch shape (rows that count only; the
// others are 0, as the kernel writes them).
void run_gpu_emulation(const Rows& p, int variant, std::vector<float>& per_term, std::vector<float>& grad,
                       double* sums = nullptr) {
    const RowArgs a = args_of(p);
    double loss = 0, nonfinite = 0;  // the leaders' double sums (in row order here, a fixed tree there)
    per_term.assign(p.n, 0.f);
    grad.assign(p.n * p.c, 0.f);
    const bool vec = p.c % 4 == 0;  // the kernel's float4 path (device buffers are aligned)
    for (long long i = 0; i < p.n; ++i) {
        if (!p.y.empty() && (p.y[i] == -100 || p.y[i] < 0 || p.y[i] >= p.c)) continue;
        if (!p.sw.empty() && isnan(p.sw[i])) continue;
        float* g = grad.data() + i * p.c;
        double term;
        const double gf = p.scale;
        if (p.loss == CE)
            term = vec ? emulate<CE_INDEX, true>(a, variant, i, gf, g) : emulate<CE_INDEX, false>(a, variant, i, gf, g);
        else if (p.loss == CE_DENSE_T)
            term = vec ? emulate<CE_DENSE, true>(a, variant, i, gf, g) : emulate<CE_DENSE, false>(a, variant, i, gf, g);
        else
            term = vec ? emulate<FOCAL, true>(a, variant, i, gf, g) : emulate<FOCAL, false>(a, variant, i, gf, g);
        per_term[i] = (float)term;
        loss += term;
        nonfinite += !isfinite(term);
    }
    if (sums) {
        sums[0] = loss;
        sums[1] = nonfinite;
    }
}

// A call of the CPU kernels (fusedloss.h) as SUM with gradient scale `scale`: SUM divides by 1, so
// the gradient factor is the scale. res[0] = the loss sum, res[1] = non-finite terms; a failed
// call ends the check, naming the problem.
void cpu_sum(fl_request& q, double scale, const char* name, double* res) {
    q.reduction = FL_SUM;
    q.gradient_scale = scale;
    q.denominator = 1.0;
    double r[FL_RESULT_DOUBLES];
    const int rc = fl_compute(&q, r);
    if (rc != 0) {
        fprintf(stderr, "CPU kernel failed (%d: %s) on %s\n", rc, fl_last_error(), name);
        exit(2);
    }
    res[0] = r[FL_R_LOSS_SUM];
    res[1] = r[FL_R_NONFINITE];
}

// One row of an element-wise loss on the CPU kernels: q has the loss and its options; gradient
// factor 1. res[0] = the loss sum, res[1] = non-finite.
void cpu_elementwise(fl_request q, long long k, const float* x, const float* t, float* g, float* pt, double* res) {
    q.rows = 1;
    q.cols = k;
    q.predictions = x;
    q.targets = t;
    q.gradient = g;
    q.per_term = pt;
    cpu_sum(q, 1.0, "one row", res);
}

void run_cpu(const Rows& p, std::vector<float>& per_term, std::vector<float>& grad, double* res) {
    per_term.assign(p.n, 0.f);
    grad.assign(p.n * p.c, 0.f);
    fl_request q{};
    q.loss = p.loss == FOCAL_T ? FL_SOFTMAX_FOCAL : p.loss == CE_DENSE_T ? FL_CROSS_ENTROPY_DENSE : FL_CROSS_ENTROPY;
    q.rows = p.n;
    q.cols = p.c;
    q.predictions = p.x.data();
    q.labels = p.loss == CE_DENSE_T ? nullptr : ptr(p.y);
    q.ignore_index = -100;
    q.targets = p.loss == CE_DENSE_T ? ptr(p.t) : nullptr;
    q.sample_weights = ptr(p.sw);
    q.sample_weight_stride = 1;
    q.upstream = ptr(p.up);
    q.gradient = grad.data();
    q.per_term = per_term.data();
    if (p.loss == FOCAL_T)
        q.options.softmax_focal = {ptr(p.cw), p.gamma};
    else
        q.options.cross_entropy = {ptr(p.cw), p.eps, p.zl, p.cap};
    cpu_sum(q, p.scale, p.name.c_str(), res);
}

bool same_nonfinite(double a, double b) { return (isnan(a) && isnan(b)) || (isinf(a) && a == b); }

// |got - want| <= rel |want| (no absolute floor: a small term must keep its relative accuracy).
bool close(double got, double want, double rel) {
    if (!isfinite(got) || !isfinite(want)) return same_nonfinite(got, want);
    return fabs(got - want) <= rel * fabs(want);
}

// Every launch shape against the CPU kernels: the loss sum (in double) and the count of
// non-finite terms; per-term relative 1e-5 (no absolute floor: a small term must keep its relative
// accuracy); per row the gradient within 1e-5 of the CPU's in relative norm, plus 1e-6 of the
// row's natural size (|G| times its largest class weight, and the z-loss's 2 z |lse|) where float
// cancellation of G P p_c against q_c is in both (a row whose term is not finite: the same
// elements not finite, those of infinite logits aside).
void check_rows(const Rows& p) {
    const double term_tol = 1e-5, grad_tol = 1e-5;
    std::vector<float> cpu_term, cpu_grad;
    double res[2];
    run_cpu(p, cpu_term, cpu_grad, res);
    double cwmax = 1;
    for (float w : p.cw) cwmax = std::max(cwmax, (double)w);
    for (int v = 0; v < 4; ++v) {
        std::vector<float> term, grad;
        double sums[2];
        run_gpu_emulation(p, v, term, grad, sums);
        ++g_checks;
        const std::string where = fmt("%s _%s %s", kLossNames[p.loss], kVariants[v], p.name.c_str());
        if (!close(sums[0], res[0], term_tol) || sums[1] != res[1])
            fail(fmt("%s: loss sum %.9g, CPU %.9g; non-finite terms %g, CPU %g", where.c_str(), sums[0], res[0],
                     sums[1], res[1]));
        for (long long i = 0; i < p.n; ++i) {
            if (!close(term[i], cpu_term[i], term_tol)) {
                fail(fmt("%s: term of row %lld = %.9g, CPU %.9g (relative %.3g)", where.c_str(), i, term[i],
                         cpu_term[i], fabs(term[i] - cpu_term[i]) / fabs(cpu_term[i])));
                break;
            }
            double num = 0, den = 0;
            bool pattern = true;
            for (long long j = 0; j < p.c; ++j) {
                const long long at = i * p.c + j;
                const double e = cpu_grad[at], a = grad[at];
                if (!isfinite(cpu_term[i])) {  // SEMANTICS.md promises the finite logits' pattern only
                    if (isfinite(p.x[at]) && isfinite(e) != isfinite(a)) pattern = false;
                    continue;
                }
                if (!isfinite(e) || !isfinite(a)) {
                    if (!(e == a)) pattern = false;
                    continue;
                }
                num += (a - e) * (a - e);
                den += e * e;
            }
            double xmax = 0;
            for (long long j = 0; j < p.c; ++j)
                if (isfinite(p.x[i * p.c + j])) xmax = std::max(xmax, fabs((double)p.x[i * p.c + j]));
            const double G = fabs(p.scale * (p.up.empty() ? 1.0 : p.up[i]) * (p.sw.empty() ? 1.0 : p.sw[i]));
            const double natural = G * cwmax * (1 + 2 * p.zl * (xmax + log((double)p.c)));
            if (!pattern || sqrt(num) > grad_tol * sqrt(den) + 1e-6 * natural) {
                fail(fmt("%s: gradient of row %lld: %s", where.c_str(), i,
                         pattern ? fmt("relative norm %.3g", sqrt(num / den)).c_str()
                                 : "not finite where the CPU's is (or finite where it is not)"));
                break;
            }
        }
        if (g_verbose) printf("ok  %s\n", where.c_str());
    }
}

// Random rows of every kind: labels / dense targets, class weights, smoothing, z-loss, cap,
// -inf classes, upstream, sample weights with NaN (masked).
void random_rows(Rng& r) {
    const long long shapes[][2] = {{1, 1}, {3, 2}, {5, 5}, {7, 3}, {9, 31}, {4, 32}, {6, 100}, {5, 1027},
                                   {3, 4096}, {2, 16385}, {2, 20001}, {1, 140000}};
    int i = 0;
    for (auto& s : shapes) {
        for (Loss l : {CE, CE_DENSE_T, FOCAL_T}) {
            for (int opt = 0; opt < 4; ++opt, ++i) {
                Rows p;
                p.loss = l;
                p.n = s[0];
                p.c = s[1];
                p.x.resize(p.n * p.c);
                const float spread = opt == 2 ? 12.f : 4.f;
                for (auto& v : p.x) v = r.range(-spread, spread);
                if (l != CE_DENSE_T) {
                    for (long long k = 0; k < p.n; ++k) p.y.push_back(k % 5 == 4 && opt != 0 ? -100 : (int)r.below(p.c));
                } else {
                    p.t.resize(p.n * p.c);
                    for (long long k = 0; k < p.n; ++k) {
                        double sum = 0;
                        for (long long j = 0; j < p.c; ++j) sum += p.t[k * p.c + j] = r.chance(0.3) ? 0.f : r.range(0, 1);
                        for (long long j = 0; j < p.c; ++j) p.t[k * p.c + j] = sum > 0 ? (float)(p.t[k * p.c + j] / sum) : 0.f;
                    }
                }
                if (opt == 1) {  // -inf on classes without target mass
                    for (long long k = 0; k < p.n; ++k)
                        for (long long j = 0; j < p.c; ++j)
                            if (r.chance(0.2) && (p.y.empty() || p.y[k] != j) && (p.t.empty() || p.t[k * p.c + j] == 0.f))
                                p.x[k * p.c + j] = -INFINITY;
                }
                if (opt >= 1) {
                    p.cw.resize(p.c);
                    for (auto& v : p.cw) v = r.range(0.25, 2.0);
                }
                if (opt != 1) {
                    p.sw.resize(p.n);
                    for (auto& v : p.sw) v = opt == 3 && r.chance(0.1) ? NAN : r.range(0, 2);
                }
                if (opt == 0) {
                    p.up.resize(p.n);
                    for (auto& v : p.up) v = r.range(-1, 2);
                }
                p.eps = opt == 1 || opt == 3 ? 0.1f : 0.f;
                p.zl = opt == 2 ? 1e-4f : (opt == 3 ? 1e-3f : 0.f);
                p.cap = opt == 3 ? 15.f : 0.f;
                p.gamma = opt == 0 ? 2.f : (opt == 1 ? 0.f : (opt == 2 ? 1.5f : 3.f));
                p.name = fmt("random %lldx%lld opt %d", p.n, p.c, opt);
                check_rows(p);
            }
        }
    }
}

Rows one_row(Loss l, std::vector<float> x, int y, const char* name) {
    Rows p;
    p.loss = l;
    p.n = 1;
    p.c = (long long)x.size();
    p.x = x;
    if (l != CE_DENSE_T) p.y = {y};
    p.name = name;
    return p;
}

// ------------------------------------------------------------------------------ the items

// 1. A NaN logit in a thread whose other elements are -inf (or that holds it alone) must make the
//    row NaN and counted, not drop out of the sum.
void nan_logit_is_kept() {
    for (Loss l : {CE, FOCAL_T}) {
        Rows p = one_row(l, {0, 0, 0, NAN, 0}, 0, "item 1: C = 5, x = (0, 0, 0, NaN, 0)");
        p.gamma = 2;
        check_rows(p);
        Rows q = one_row(l, {0, -INFINITY, 0, 0, NAN, -INFINITY, 1, 2, -INFINITY}, 2,
                         "item 1: C = 9, a NaN beside -inf logits");
        check_rows(q);
        Rows w = one_row(l, std::vector<float>(40, 0.5f), 3, "item 1: C = 40, x[37] = NaN");
        w.x[37] = NAN;
        check_rows(w);
        Rows s = w;  // the streaming path (soft cap): online sums, the same combine
        s.cap = 20;
        s.name = "item 1: C = 40, x[37] = NaN, soft cap";
        if (l == CE) check_rows(s);
    }
    Rows d = one_row(CE_DENSE_T, {0, 0, 0, NAN, 0}, 0, "item 1: dense, eps 0.1, NaN logit");
    d.t = {1, 0, 0, 0, 0};
    d.eps = 0.1f;
    check_rows(d);
    // and the value is NaN: the CPU says so, and so must the emulation (checked above by pattern)
    std::vector<float> term, grad;
    Rows p = one_row(CE, {0, 0, 0, NAN, 0}, 0, "");
    for (int v = 0; v < 4; ++v) {
        run_gpu_emulation(p, v, term, grad);
        ++g_checks;
        if (!isnan(term[0])) fail(fmt("item 1: _%s gives %.9g for a NaN logit, not NaN", kVariants[v], term[0]));
    }
}

// 2. BCE and sigmoid focal: x = -inf with t = 0, x = +inf with t = 1 are certain and right: 0.
void infinite_logits_of_certain_binary_targets() {
    const float xs[] = {-INFINITY, INFINITY, -INFINITY, INFINITY, 3.f};
    const float ts[] = {0.f, 1.f, 1.f, 0.f, 0.25f};
    const float pw[] = {2.f, 0.5f, 1.f, 3.f, 1.5f};
    for (int i = 0; i < 5; ++i) {
        const float x = xs[i], t = ts[i];
        double res[2];
        float cpu_g, cpu_term;
        for (int which = 0; which < 4; ++which) {
            float d = 0, term;
            fl_request q{};
            if (which == 0) {
                term = Bce{nullptr, nullptr}.eval(x, t, 0, d);
                q.loss = FL_BINARY_CROSS_ENTROPY;
            } else if (which == 1) {
                term = Bce{pw + i, nullptr}.eval(x, t, 0, d);
                q.loss = FL_BINARY_CROSS_ENTROPY;
                q.options.binary_cross_entropy.pos_weight = pw + i;
            } else {
                const float gamma = which == 2 ? 2.f : 1.5f, alpha = which == 2 ? 0.25f : -1.f;
                term = SigmoidFocal{alpha, gamma}.eval(x, t, 0, d);
                q.loss = FL_SIGMOID_FOCAL;
                q.options.sigmoid_focal = {alpha, gamma};
            }
            cpu_elementwise(q, 1, &x, &t, &cpu_g, &cpu_term, res);
            ++g_checks;
            if (!close(term, cpu_term, 1e-6) || !close(d, cpu_g, 1e-6))
                fail(fmt("item 2: %s x = %g t = %g: term %g d %g, CPU %g %g", which < 2 ? "BCE" : "sigmoid focal",
                         x, t, term, d, cpu_term, cpu_g));
        }
    }
}

// 3. CE, class indices, C = 1 with z-loss: the gradient is the z-loss part 2 z lse alone, small
//    beside the label's mass 1, and must not be the float rounding of (1 + 2 z lse) - 1.
void one_class_z_loss_gradient() {
    for (float zl : {1e-4f, 1e-3f}) {
        for (float x : {0.01f, -0.3f, 2.5f, 40.f}) {
            for (float eps : {0.f, 0.2f}) {
                Rows p = one_row(CE, {x}, 0, "");
                p.zl = zl;
                p.eps = eps;
                p.name = fmt("item 3: C = 1, x = %g, z-loss %g, eps %g", x, zl, eps);
                for (int v = 0; v < 4; ++v) {
                    std::vector<float> term, grad;
                    run_gpu_emulation(p, v, term, grad);
                    ++g_checks;
                    const double want = 2.0 * zl * (double)x, want_term = (double)zl * x * x;
                    if (!close(grad[0], want, 1e-5) || !close(term[0], want_term, 1e-5))
                        fail(fmt("%s, _%s: gradient %.9g (want %.9g, relative %.3g), term %.9g (want %.9g)",
                                 p.name.c_str(), kVariants[v], grad[0], want, fabs(grad[0] - want) / fabs(want),
                                 term[0], want_term));
                }
            }
        }
    }
}

// 4. Confident rows (p_y near 1): the term and the label's gradient keep their relative accuracy.
//    Values in double: -log p_y = log1p(sum_{c != y} exp(z_c - z_y)).
void confident_rows() {
    for (float margin : {5.f, 10.f, 12.f, 16.f}) {
        for (long long c : {2ll, 3ll, 100ll, 1000ll, 20000ll}) {
            for (Loss l : {CE, FOCAL_T}) {
                Rows p;
                p.loss = l;
                p.n = 2;
                p.c = c;
                p.gamma = 2;
                p.x.resize(2 * c);
                Rng r{(uint64_t)c * 7 + (uint64_t)margin};
                for (auto& v : p.x) v = r.range(-1, 1);
                p.y = {(int)(c / 2), 0};
                p.x[c / 2] = margin + 1;
                p.x[c] = margin + 1;  // row 1: the label is the first element
                p.name = fmt("item 4: confident, C = %lld, margin %g", c, margin);
                for (int v = 0; v < 4; ++v) {
                    std::vector<float> term, grad;
                    run_gpu_emulation(p, v, term, grad);
                    for (int i = 0; i < 2; ++i) {
                        const int y = p.y[i];
                        const float* z = p.x.data() + i * c;
                        double others = 0;
                        for (long long j = 0; j < c; ++j)
                            if (j != y) others += exp((double)z[j] - z[y]);
                        const double nll = log1p(others), m = others / (1 + others);  // -log p_y, 1 - p_y
                        double want = nll, want_gy = -m;
                        if (l == FOCAL_T) {  // m^2 nll; d/dz_y = F (p_y - 1), F = m^2 - 2 m p lp
                            want = m * m * nll;
                            want_gy = -(m * m + 2 * m * (1 - m) * nll) * m;
                        }
                        ++g_checks;
                        const float gy = grad[i * c + y];
                        if (!close(term[i], want, 1e-5) || !close(gy, want_gy, 1e-5))
                            fail(fmt("%s %s row %d, _%s: term %.9g (want %.9g, relative %.3g), gradient at the "
                                     "label %.9g (want %.9g, relative %.3g)",
                                     kLossNames[l], p.name.c_str(), i, kVariants[v], term[i], want,
                                     fabs(term[i] - want) / want, gy, want_gy, fabs(gy - want_gy) / fabs(want_gy)));
                    }
                }
                check_rows(p);
            }
        }
    }
}

// 5. A zero class weight, eps = 1, or a zero alpha on a label whose logit is -inf: that part of
//    the term has no mass and adds nothing (0, not 0 * inf), as on the CPU.
void zero_mass_on_infinite_terms() {
    const float ninf = -INFINITY;
    Rows a = one_row(CE, {1, ninf, 2}, 1, "item 5: label on -inf, cw[y] = 0");
    a.cw = {1, 0, 1};
    check_rows(a);
    Rows b = one_row(CE, {1, ninf, 2}, 1, "item 5: label on -inf, eps = 1");
    b.eps = 1;
    check_rows(b);
    Rows c = one_row(CE, {1, ninf, 2}, 1, "item 5: label on -inf, cw[y] = 0, z-loss");
    c.cw = {1, 0, 1};
    c.zl = 1e-3f;
    check_rows(c);
    Rows f = one_row(FOCAL_T, {1, ninf, 2}, 1, "item 5: label on -inf, alpha[y] = 0");
    f.cw = {1, 0, 1};
    f.gamma = 2;
    check_rows(f);
    for (const Rows* p : {&a, &b, &c, &f}) {
        std::vector<float> term, grad;
        for (int v = 0; v < 4; ++v) {
            run_gpu_emulation(*p, v, term, grad);
            ++g_checks;
            if (!isfinite(term[0])) fail(fmt("%s, _%s: term %g", p->name.c_str(), kVariants[v], term[0]));
        }
    }
}

// 6. Dense targets with mass on a -inf logit: the term is +inf (counted), the gradient at that
//    logit is 0 (SEMANTICS.md), the other classes' as on the CPU.
void dense_mass_on_infinite_logit() {
    Rows p = one_row(CE_DENSE_T, {1, -INFINITY, 0.5f, 2}, 0, "item 6: dense, mass 0.3 on a -inf logit");
    p.t = {0.5f, 0.3f, 0.2f, 0};
    for (float eps : {0.f, 0.1f}) {
        p.eps = eps;
        std::vector<float> cpu_term, cpu_grad, term, grad;
        double res[2];
        run_cpu(p, cpu_term, cpu_grad, res);
        for (int v = 0; v < 4; ++v) {
            run_gpu_emulation(p, v, term, grad);
            ++g_checks;
            bool ok = term[0] == INFINITY && cpu_term[0] == INFINITY && grad[1] == 0.f && cpu_grad[1] == 0.f;
            for (int j : {0, 2, 3}) ok = ok && close(grad[j], cpu_grad[j], 1e-5);
            if (!ok)
                fail(fmt("item 6, eps %g, _%s: term %g (CPU %g), gradient (%g, %g, %g, %g), CPU (%g, %g, %g, %g)", eps,
                         kVariants[v], term[0], cpu_term[0], grad[0], grad[1], grad[2], grad[3], cpu_grad[0],
                         cpu_grad[1], cpu_grad[2], cpu_grad[3]));
        }
    }
}

// 7. The z-loss z lse^2 in double: lse of 1e20 squares past the float range, the term does not.
// At 1e22 the term itself is beyond the float range: +inf and counted, as on the CPU (SEMANTICS.md).
void z_loss_of_huge_logits() {
    for (float big : {3e19f, 1e20f, 1e22f}) {
        Rows p = one_row(CE, {big, big - 1e14f, 0, -big}, 0, "");
        p.zl = 1e-4f;
        p.name = fmt("item 7: logits %g, z-loss 1e-4", big);
        check_rows(p);
        Rows d = p;
        d.loss = CE_DENSE_T;
        d.y.clear();
        d.t = {0.5f, 0.5f, 0, 0};
        d.name += ", dense";
        check_rows(d);
        std::vector<float> term, grad;
        run_gpu_emulation(p, 1, term, grad);
        ++g_checks;
        const double want = 1e-4 * (double)big * big;
        if (!(want > 3.4e38) && !close(term[0], want, 1e-5))
            fail(fmt("%s: term %g, want %g", p.name.c_str(), term[0], want));
    }
}

// The element-wise losses' terms against the CPU kernels, element by element.
void elementwise_terms(Rng& r) {
    const int n = 4096;
    std::vector<float> x(n), t(n), pw(n), g(n), pt(n), cpu_g(n), cpu_pt(n);
    for (int i = 0; i < n; ++i) {
        x[i] = i % 97 == 0 ? (i % 2 ? INFINITY : -INFINITY) : r.range(-30, 30);
        t[i] = i % 3 == 0 ? r.range(0, 1) : (float)(r.next() & 1);
        pw[i] = r.range(0.5, 3);
    }
    double res[2];
    for (int which = 0; which < 5; ++which) {
        const float gamma = which == 3 ? 1.5f : 2.f, alpha = which == 4 ? -1.f : 0.25f;
        for (int i = 0; i < n; ++i) {
            float d = 0;
            if (which == 0) pt[i] = Bce{pw.data(), nullptr}.eval(x[i], t[i], i, d);
            else if (which == 1) pt[i] = Mse{}.eval(x[i], t[i], i, d);
            else pt[i] = SigmoidFocal{alpha, which == 2 ? 0.f : gamma}.eval(x[i], t[i], i, d);
            g[i] = d;
        }
        fl_request q{};
        if (which == 0) {
            q.loss = FL_BINARY_CROSS_ENTROPY;
            q.options.binary_cross_entropy.pos_weight = pw.data();
        } else if (which == 1) {
            q.loss = FL_MEAN_SQUARED_ERROR;
        } else {
            q.loss = FL_SIGMOID_FOCAL;
            q.options.sigmoid_focal = {alpha, which == 2 ? 0.f : gamma};
        }
        cpu_elementwise(q, n, x.data(), t.data(), cpu_g.data(), cpu_pt.data(), res);
        ++g_checks;
        for (int i = 0; i < n; ++i) {
            // the CPU's vector log / exp differ from libm's by a few ulp: 1e-5 relative, and an
            // absolute 1e-6 for derivatives that cancel ((1 - t) s - pw t (1 - s))
            if (!close(pt[i], cpu_pt[i], 1e-5) ||
                !(close(g[i], cpu_g[i], 1e-5) || fabs(g[i] - cpu_g[i]) <= 1e-6)) {
                fail(fmt("element-wise loss %d, x = %g t = %g: term %.9g d %.9g, CPU %.9g %.9g", which, x[i], t[i],
                         pt[i], g[i], cpu_pt[i], cpu_g[i]));
                break;
            }
        }
    }
}

// ------------------------------------------------------------------------------ issue 11

// An element-wise problem: n rows of k, with the engine's weights (elementwise.cuh).
struct Elems {
    enum Kind { BCE_E, MSE_E, FOCAL_E } kind = MSE_E;
    long long n = 1, k = 1;
    std::vector<float> x, t, sw, ew, up, pw, bcw;
    float alpha = 0.25f, gamma = 2.f;
    double scale = 1.0;  // the gradient factor: gradient_scale, or gradient_scale / denominator
    std::string name;
};

// What the element-wise kernel computes (elementwise.cuh: each element through elem_term_grad,
// the row factor scale x sample weight in double); sums[0] the loss sum, sums[1] non-finite terms.
void emulate_elems(const Elems& p, std::vector<float>& term, std::vector<float>& grad, double* sums) {
    term.assign(p.n * p.k, 0.f);
    grad.assign(p.n * p.k, 0.f);
    sums[0] = sums[1] = 0;
    const Bce bce{ptr(p.pw), ptr(p.bcw)};
    const Mse mse{};
    const SigmoidFocal focal{p.alpha, p.gamma};
    for (long long i = 0; i < p.n; ++i) {
        const float sw = p.sw.empty() ? 1.f : p.sw[i];
        const double row_scale = p.scale * (double)sw;
        const bool wide = wide_row_scale(row_scale);
        for (long long j = 0; j < p.k; ++j) {
            const long long at = i * p.k + j;
            const float ew = p.ew.empty() ? 1.f : p.ew[at], up = p.up.empty() ? 1.f : p.up[at];
            bool counted;
            float g, tm;
            if (p.kind == Elems::BCE_E)
                tm = elem_term_grad(bce, p.x[at], p.t[at], j, sw, ew, up, row_scale, wide, g, counted);
            else if (p.kind == Elems::MSE_E)
                tm = elem_term_grad(mse, p.x[at], p.t[at], j, sw, ew, up, row_scale, wide, g, counted);
            else
                tm = elem_term_grad(focal, p.x[at], p.t[at], j, sw, ew, up, row_scale, wide, g, counted);
            term[at] = tm;
            grad[at] = g;
            if (counted) {
                sums[0] += tm;
                sums[1] += !isfinite(tm);
            }
        }
    }
}

void run_cpu_elems(const Elems& p, std::vector<float>& term, std::vector<float>& grad, double* res) {
    term.assign(p.n * p.k, 0.f);
    grad.assign(p.n * p.k, 0.f);
    fl_request q{};
    if (p.kind == Elems::BCE_E) {
        q.loss = FL_BINARY_CROSS_ENTROPY;
        q.options.binary_cross_entropy = {ptr(p.pw), ptr(p.bcw)};
    } else if (p.kind == Elems::MSE_E) {
        q.loss = FL_MEAN_SQUARED_ERROR;
    } else {
        q.loss = FL_SIGMOID_FOCAL;
        q.options.sigmoid_focal = {p.alpha, p.gamma};
    }
    q.rows = p.n;
    q.cols = p.k;
    q.predictions = p.x.data();
    q.targets = p.t.data();
    q.sample_weights = ptr(p.sw);
    q.sample_weight_stride = 1;
    q.element_weights = ptr(p.ew);
    q.upstream = ptr(p.up);
    q.gradient = grad.data();
    q.per_term = term.data();
    cpu_sum(q, p.scale, p.name.c_str(), res);
}

// The element-wise engine against the CPU kernels: the sums, the count of non-finite terms, each
// term (relative 1e-5) and each gradient element (relative 1e-5, plus 1e-6 of its factors for the
// derivatives that cancel); non-finite values equal (NaN as NaN, inf with its sign).
void check_elems(const Elems& p, std::vector<float>* term_out = nullptr, std::vector<float>* grad_out = nullptr) {
    std::vector<float> term, grad, cpu_term, cpu_grad;
    double sums[2], res[2];
    emulate_elems(p, term, grad, sums);
    run_cpu_elems(p, cpu_term, cpu_grad, res);
    ++g_checks;
    if (!close(sums[0], res[0], 1e-5) || sums[1] != res[1])
        fail(fmt("%s: loss sum %.9g, CPU %.9g; non-finite terms %g, CPU %g", p.name.c_str(), sums[0], res[0], sums[1],
                 res[1]));
    for (long long at = 0; at < p.n * p.k; ++at) {
        const long long i = at / p.k;
        const double factors = fabs(p.scale * (p.sw.empty() ? 1.0 : p.sw[i]) * (p.ew.empty() ? 1.0 : p.ew[at]) *
                                    (p.up.empty() ? 1.0 : p.up[at]));
        const bool grad_ok = close(grad[at], cpu_grad[at], 1e-5) ||
                             (isfinite(cpu_grad[at]) && fabs(grad[at] - cpu_grad[at]) <= 1e-6 * factors);
        if (!close(term[at], cpu_term[at], 1e-5) || !grad_ok) {
            fail(fmt("%s, element %lld (x = %g, t = %g): term %.9g gradient %.9g, CPU %.9g %.9g", p.name.c_str(), at,
                     p.x[at], p.t[at], term[at], grad[at], cpu_term[at], cpu_grad[at]));
            break;
        }
    }
    if (term_out) *term_out = term;
    if (grad_out) *grad_out = grad;
}

// The same rows on every launch shape, each row in `dropped` with a term of exactly 0 and a
// gradient of exactly 0, on the CPU too; then the whole against the CPU (check_rows).
void check_dropped_rows(const Rows& p, std::initializer_list<long long> dropped) {
    std::vector<float> cpu_term, cpu_grad;
    double res[2];
    run_cpu(p, cpu_term, cpu_grad, res);
    for (int v = -1; v < 4; ++v) {  // -1: the CPU
        std::vector<float> term = cpu_term, grad = cpu_grad;
        if (v >= 0) run_gpu_emulation(p, v, term, grad);
        ++g_checks;
        for (long long i : dropped) {
            bool zero = term[i] == 0.f;
            for (long long j = 0; j < p.c; ++j) zero = zero && grad[i * p.c + j] == 0.f;
            if (!zero)
                fail(fmt("%s, %s: row %lld is dropped, but its term is %g and its gradient not all 0 (first %g)",
                         v < 0 ? "the CPU kernel" : kVariants[v], p.name.c_str(), i, term[i], grad[i * p.c]));
        }
    }
    check_rows(p);
}

// 1. A row or element all of whose parts have no mass is dropped: term 0, not counted as
//    non-finite, gradient 0, even with NaN / infinite predictions (SEMANTICS.md, the drop rule).
void dropped_rows_and_elements() {
    const float nan = NAN, inf = INFINITY;
    for (long long c : {5ll, 40ll, 2000ll, 20001ll}) {  // _small / _warp / _block / _cluster layouts, kept and streamed
        Rows p;
        p.loss = CE;
        p.n = 4;
        p.c = c;
        p.x.resize(4 * c);
        for (long long k = 0; k < 4 * c; ++k) p.x[k] = 0.5f * sinf((float)k);
        p.x[1] = nan;          // row 0: a NaN logit
        p.x[c + 2] = inf;      // row 1: a +inf logit
        p.x[2 * c] = -inf;     // row 2: the label's logit is -inf
        p.x[3 * c + 1] = nan;  // row 3: counted (class weight 1): NaN
        p.y = {0, 0, 0, 1};
        p.cw.assign(c, 1.f);
        p.cw[0] = 0;
        for (int opt = 0; opt < 3; ++opt) {  // plain, z-loss (weighted by cw[y] = 0: none), soft cap (streamed)
            Rows q = p;
            q.zl = opt == 1 ? 1e-3f : 0.f;
            q.cap = opt == 2 ? 20.f : 0.f;
            q.name = fmt("item 1: C = %lld, class weight 0 at the label%s", c,
                         opt == 1 ? ", z-loss" : opt == 2 ? ", soft cap" : "");
            check_dropped_rows(q, {0, 1, 2});
        }
        Rows f = p;  // softmax focal, alpha[y] = 0
        f.loss = FOCAL_T;
        f.gamma = 2;
        f.name = fmt("item 1: C = %lld, softmax focal, alpha 0 at the label", c);
        check_dropped_rows(f, {0, 1, 2});
        Rows d = p;  // dense: a row of zero targets, with and without class weights
        d.loss = CE_DENSE_T;
        d.y.clear();
        d.t.assign(4 * c, 0.f);
        d.t[2 * c + 3] = 1;  // row 2 (a -inf logit elsewhere) and row 3 (a NaN logit) have mass
        d.t[3 * c] = 1;
        d.cw.clear();
        d.name = fmt("item 1: C = %lld, dense, rows of zero targets", c);
        check_dropped_rows(d, {0, 1});
        d.eps = 0.1f;  // smoothing gives every row mass: nothing dropped, NaN and inf rows as the CPU
        d.name += ", smoothing (not dropped)";
        // (not at C = 20001: _small's four float sums of 5000 streamed elements each keep only
        // 5e-5 of a smoothed row's term there, before this change too; the launcher runs _small
        // up to C = 32)
        if (c < 20001) check_rows(d);
    }

    // Element-wise: a zero binary class weight, pos_weight, or sigmoid focal alpha_t drops its part.
    Elems b;
    b.kind = Elems::BCE_E;
    b.n = 2;
    b.k = 4;
    b.x = {nan, inf, -inf, 3, nan, nan, inf, -inf};
    b.t = {0, 0, 0, 0, 1, 1, 1, 1};
    b.bcw = {0, 2};           // row 0: every target 0, weight 0: dropped
    b.pw = {1, 0, 0, 2};      // row 1: pos_weight 0 at columns 1, 2: dropped; column 3: -inf, +inf term
    b.name = "item 1: BCE, binary class weight 0 / pos_weight 0";
    std::vector<float> term, grad;
    check_elems(b, &term, &grad);
    for (int at : {0, 1, 2, 3, 5, 6}) {
        ++g_checks;
        if (term[at] != 0.f || grad[at] != 0.f)
            fail(fmt("%s: element %d is dropped, but term %g gradient %g", b.name.c_str(), at, term[at], grad[at]));
    }
    for (float alpha : {0.f, 1.f}) {  // alpha_t = alpha t + (1 - alpha)(1 - t): 0 at t = 1 (alpha 0), t = 0 (alpha 1)
        Elems f;
        f.kind = Elems::FOCAL_E;
        f.n = 1;
        f.k = 4;
        f.alpha = alpha;
        const float drop_t = alpha == 0.f ? 1.f : 0.f;
        f.x = {nan, inf, -inf, nan};
        f.t = {drop_t, drop_t, drop_t, 1 - drop_t};
        for (float gamma : {0.f, 2.f, 1.5f}) {
            f.gamma = gamma;
            f.name = fmt("item 1: sigmoid focal, alpha %g, gamma %g", alpha, gamma);
            check_elems(f, &term, &grad);
            for (int at : {0, 1, 2}) {
                ++g_checks;
                if (term[at] != 0.f || grad[at] != 0.f)
                    fail(fmt("%s: element %d is dropped, but term %g gradient %g", f.name.c_str(), at, term[at],
                             grad[at]));
            }
        }
    }
}

// 2. Sigmoid focal targets outside [0, 1] (or NaN): NaN term and gradient, counted, as on the CPU.
void sigmoid_focal_targets_outside_the_unit_interval() {
    Elems f;
    f.kind = Elems::FOCAL_E;
    f.n = 2;
    f.k = 6;
    f.x = {0.5f, -1, 2, 0, 3, -2, 0.5f, -1, 2, 0, 3, -2};
    f.t = {-0.5f, 1.5f, NAN, INFINITY, -INFINITY, 1.0000001f, 0, 1, 0.3f, -0.f, 1e-30f, 0.999999f};
    f.sw = {1, 0};  // a zero weight times NaN is NaN, counted, as any non-finite term
    for (float alpha : {0.25f, -1.f, 0.f}) {
        for (float gamma : {0.f, 2.f, 1.5f}) {
            f.alpha = alpha;
            f.gamma = gamma;
            f.name = fmt("item 2: sigmoid focal targets outside [0, 1], alpha %g, gamma %g", alpha, gamma);
            std::vector<float> term, grad;
            check_elems(f, &term, &grad);
            ++g_checks;
            for (int at = 0; at < 12; ++at) {
                const bool outside = at < 6;
                if (outside != (isnan(term[at]) && isnan(grad[at])) || (!outside && !isfinite(term[at]))) {
                    fail(fmt("%s: target %g gives term %g gradient %g", f.name.c_str(), f.t[at], term[at], grad[at]));
                    break;
                }
            }
        }
    }
}

// 3. Terms beyond float range are +inf (loss, per-term, non-finite count); the element-wise
//    losses form the unweighted term in float (MSE of +-1e30: 4e60 is inf, 0 x inf NaN).
void terms_beyond_float_range() {
    for (Loss l : {CE, CE_DENSE_T, FOCAL_T}) {
        Rows p = one_row(l, {0, 1e10f, 0, 0, 0, 0}, 0, "");
        p.n = 3;
        p.x.insert(p.x.end(), p.x.begin(), p.x.end());
        p.x.insert(p.x.end(), p.x.begin(), p.x.begin() + 6);
        if (l != CE_DENSE_T) p.y = {0, 0, 0};
        else p.t = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
        p.sw = {1e30f, 3e28f, 1e29f};  // terms 1e40 (inf), 3e38 (a float), 1e39 (inf)
        p.gamma = 0;
        p.name = fmt("item 3: %s, weighted terms beyond float range", kLossNames[l]);
        check_rows(p);
        std::vector<float> term, grad;
        double sums[2];
        run_gpu_emulation(p, 2, term, grad, sums);
        ++g_checks;
        if (!(term[0] == INFINITY && isfinite(term[1]) && term[2] == INFINITY && sums[0] == INFINITY && sums[1] == 2))
            fail(fmt("%s: terms %g %g %g, sum %g, %g non-finite", p.name.c_str(), term[0], term[1], term[2], sums[0],
                     sums[1]));
    }
    Elems m;
    m.n = 3;
    m.k = 2;
    m.x = {1e30f, 1e19f, 1e19f, 2, 1e30f, 3};
    m.t = {-1e30f, 0, 0, 1, -1e30f, 1};
    m.sw = {1, 10, 0};  // inf, 1e38; 1e39 -> inf, 10; 0 x inf = NaN, 0
    m.name = "item 3: MSE beyond float range";
    std::vector<float> term, grad;
    check_elems(m, &term, &grad);
    ++g_checks;
    if (!(term[0] == INFINITY && isfinite(term[1]) && term[2] == INFINITY && isnan(term[4]) && term[5] == 0))
        fail(fmt("%s: terms %g %g %g %g %g %g", m.name.c_str(), term[0], term[1], term[2], term[3], term[4], term[5]));
}

// 4. Tiny weights and huge gradient factors: the factor stays in double until it meets the
//    weights, so weights of 1e-40 with MEAN give the unweighted mean's gradient, and a caller
//    denominator of 1e-300 turns no zero gradient into NaN; a factor that overflows is refused.
void tiny_weights_and_huge_factors() {
    const float tiny = 1e-40f;  // subnormal: outside the accuracy domain for the terms, not the gradient
    auto mean_factor = [](const std::vector<float>& w, double scale) {
        double wsum = 0, den, factor;
        for (float v : w) wsum += v;
        grad_factor_of(FLC_MEAN, scale, -1.0, wsum, (double)w.size(), den, factor);
        return factor;
    };
    {  // MSE, weights {1e-40, 1e-40}, MEAN: the gradient of the unweighted mean, [1, 2] (issue 11)
        Elems m;
        m.n = 2;
        m.x = {1, 2};
        m.t = {0, 0};
        m.sw = {tiny, tiny};
        m.scale = mean_factor(m.sw, 1.0);
        m.name = "item 4: MSE, sample weights 1e-40, MEAN";
        std::vector<float> term, grad;
        check_elems(m, &term, &grad);
        ++g_checks;
        if (!close(grad[0], 1.0, 1e-6) || !close(grad[1], 2.0, 1e-6))
            fail(fmt("%s: gradient (%g, %g), want (1, 2)", m.name.c_str(), grad[0], grad[1]));
        m.ew = {tiny, 1e-39f};  // element weights too: the element factors meet in double
        m.sw = {1, 1};
        m.scale = mean_factor(m.ew, 1.0);
        m.up = {1, 3};
        m.name = "item 4: MSE, element weights 1e-40, 1e-39, MEAN, upstream";
        check_elems(m);
        // x == t with a caller denominator of 1e-300: a zero gradient, not NaN (inf x 0)
        m.x = {1, 2};
        m.t = {1, 2};
        m.ew.clear();
        m.up.clear();
        m.scale = 1.0 / 1e-300;
        m.name = "item 4: MSE, x == t, denominator 1e-300";
        check_elems(m, &term, &grad);
        ++g_checks;
        if (grad[0] != 0.f || grad[1] != 0.f)
            fail(fmt("%s: gradient (%g, %g), want 0", m.name.c_str(), grad[0], grad[1]));
    }
    {  // BCE and sigmoid focal, random data, sample weights 1e-40 with MEAN
        Rng r{11};
        for (Elems::Kind kind : {Elems::BCE_E, Elems::FOCAL_E, Elems::MSE_E}) {
            Elems e;
            e.kind = kind;
            e.n = 3;
            e.k = 5;
            for (long long i = 0; i < 15; ++i) {
                e.x.push_back(r.range(-3, 3));
                e.t.push_back(r.range(0, 1));
                e.up.push_back(r.range(0.5, 2));
            }
            e.pw = {1, 2, 0.5f, 1, 3};
            e.sw = {tiny, 3 * tiny, 2e-39f};
            e.scale = mean_factor(std::vector<float>{tiny, tiny, tiny, tiny, tiny, 3 * tiny, 3 * tiny, 3 * tiny, 3 * tiny,
                                                     3 * tiny, 2e-39f, 2e-39f, 2e-39f, 2e-39f, 2e-39f},
                                  0.5);
            e.name = fmt("item 4: element-wise loss %d, sample weights ~1e-40, MEAN", (int)kind);
            check_elems(e);
        }
    }
    // The softmax losses: sample weights 1e-40 with MEAN give the unweighted mean's gradient.
    for (Loss l : {CE, CE_DENSE_T, FOCAL_T}) {
        for (long long c : {7ll, 300ll, 5000ll}) {
            Rows p;
            p.loss = l;
            p.n = 2;
            p.c = c;
            Rng r{(uint64_t)c};
            for (long long k = 0; k < 2 * c; ++k) p.x.push_back(r.range(-3, 3));
            if (l != CE_DENSE_T) p.y = {1, 2};
            else {
                p.t.assign(2 * c, 0.f);
                p.t[1] = p.t[c + 2] = 1;
            }
            p.sw = {tiny, tiny};
            p.gamma = 0;  // focal with gamma 0: cross-entropy, so the mean's gradient is (p - onehot) / 2
            p.scale = mean_factor(p.sw, 1.0);
            p.name = fmt("item 4: %s, C = %lld, sample weights 1e-40, MEAN", kLossNames[l], c);
            check_rows(p);
            std::vector<float> term, grad;
            for (int v = 0; v < 4; ++v) {
                run_gpu_emulation(p, v, term, grad);
                double num = 0, den = 0;
                for (long long i = 0; i < 2; ++i) {
                    const float* z = p.x.data() + i * c;
                    double mx = -INFINITY, sum = 0;
                    for (long long j = 0; j < c; ++j) mx = std::max(mx, (double)z[j]);
                    for (long long j = 0; j < c; ++j) sum += exp(z[j] - mx);
                    for (long long j = 0; j < c; ++j) {
                        const double want = (exp(z[j] - mx) / sum - (j == 1 + i ? 1 : 0)) / 2;
                        num += (grad[i * c + j] - want) * (grad[i * c + j] - want);
                        den += want * want;
                    }
                }
                ++g_checks;
                if (!(sqrt(num) <= 1e-5 * sqrt(den)))
                    fail(fmt("%s, _%s: gradient relative error %.3g against the unweighted mean's", p.name.c_str(),
                             kVariants[v], sqrt(num / den)));
            }
        }
    }
    // A caller denominator of 1e-300: G = 1e300 x sample weight. One class: p = q, the gradient is
    // 0, not inf - inf; more classes: +-inf where the CPU has them.
    for (Loss l : {CE, CE_DENSE_T, FOCAL_T}) {
        for (long long c : {1ll, 5ll, 40ll}) {
            Rows p;
            p.loss = l;
            p.n = 2;
            p.c = c;
            for (long long k = 0; k < 2 * c; ++k) p.x.push_back(0.3f * (float)(k % 7) - 1);
            if (l != CE_DENSE_T) p.y = {0, (int)(c - 1)};
            else {
                p.t.assign(2 * c, 0.f);
                p.t[0] = p.t[2 * c - 1] = 1;
            }
            p.sw = {1, 0.25f};
            p.gamma = 2;
            p.scale = 1.0 / 1e-300;
            p.name = fmt("item 4: %s, C = %lld, denominator 1e-300", kLossNames[l], c);
            check_rows(p);
            if (c != 1) continue;
            std::vector<float> term, grad;
            for (int v = 0; v < 4; ++v) {
                run_gpu_emulation(p, v, term, grad);
                ++g_checks;
                if (grad[0] != 0.f || grad[1] != 0.f)
                    fail(fmt("%s, _%s: gradient (%g, %g), want 0", p.name.c_str(), kVariants[v], grad[0], grad[1]));
            }
        }
    }
    // A factor that is a normal float whose products with the row's factors are not (G eps / C
    // subnormal): those meet in double, where the gradient elements are normal floats.
    Rows s;
    s.loss = CE;
    s.n = 2;
    s.c = 2000;
    Rng r{5};
    for (long long k = 0; k < 4000; ++k) s.x.push_back(r.range(-2, 2));
    s.y = {3, 1999};
    s.eps = 1e-3f;
    s.scale = 1e-33;
    s.name = "item 4: CE, smoothing 1e-3 / 2000 classes, gradient factor 1e-33";
    check_rows(s);
    // The factor itself: gradient_scale / denominator overflowing a double is refused (prep reports it).
    double den, factor;
    const struct {
        int reduction;
        double scale, caller_den, wsum;
        bool ok;
    } fs[] = {{FLC_MEAN, 1e300, -1, 1e-40, false}, {FLC_MEAN, 1e300, -1, 1e-8, true},
              {FLC_BATCH_MEAN, 1e300, -1, 1e-40, true}, {FLC_SUM, 1e300, -1, 1e-40, true},
              {FLC_MEAN, 1e10, 1e-300, 1, false}, {FLC_MEAN, 1, 1e-300, 1, true}, {FLC_MEAN, 1e300, 0, 1, true},
              {FLC_BATCH_MEAN, -1e300, 1e-10, 1, false}};
    for (const auto& f : fs) {
        ++g_checks;
        const bool ok = grad_factor_of(f.reduction, f.scale, f.caller_den, f.wsum, 1.0, den, factor);
        if (ok != f.ok || (ok && !isfinite(factor)))
            fail(fmt("item 4: grad_factor_of(reduction %d, scale %g, denominator %g, weight sum %g) gives %s (%g)",
                     f.reduction, f.scale, f.caller_den, f.wsum, ok ? "ok" : "an overflow", factor));
    }
}

// The element-wise engine on random data with every weight: against the CPU kernels.
void elementwise_engine(Rng& r) {
    for (Elems::Kind kind : {Elems::BCE_E, Elems::MSE_E, Elems::FOCAL_E}) {
        for (int opt = 0; opt < 4; ++opt) {
            Elems e;
            e.kind = kind;
            e.n = 17;
            e.k = 13;
            for (long long i = 0; i < e.n * e.k; ++i) {
                e.x.push_back(i % 41 == 0 ? (i % 2 ? INFINITY : -INFINITY) : r.range(-20, 20));
                e.t.push_back(opt == 3 ? (float)(r.next() & 1) : r.range(0, 1));
                e.ew.push_back(r.chance(0.05) ? NAN : r.range(0, 2));
                e.up.push_back(r.range(-1, 2));
            }
            for (long long i = 0; i < e.n; ++i) e.sw.push_back(r.chance(0.1) ? NAN : r.range(0, 3));
            for (long long j = 0; j < e.k; ++j) e.pw.push_back(r.range(0, 3));
            if (opt == 3 && kind == Elems::BCE_E) e.bcw = {0.5f, 2};
            if (opt == 1) e.ew.clear();
            if (opt == 2) e.up.clear();
            e.alpha = opt == 1 ? -1.f : 0.25f;
            e.gamma = opt == 0 ? 2.f : opt == 1 ? 0.f : 1.5f;
            e.scale = opt == 0 ? 1.0 : opt == 1 ? 1e-20 : opt == 2 ? 3e25 : 0.01;
            e.name = fmt("element-wise engine, loss %d, option %d", (int)kind, opt);
            check_elems(e);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-v")) g_verbose = true;
        else {
            fprintf(stderr, "usage: %s [-v]\n", argv[0]);
            return 2;
        }
    }
    Rng r{20261205};
    random_rows(r);
    nan_logit_is_kept();
    infinite_logits_of_certain_binary_targets();
    one_class_z_loss_gradient();
    confident_rows();
    zero_mass_on_infinite_terms();
    dense_mass_on_infinite_logit();
    z_loss_of_huge_logits();
    elementwise_terms(r);
    elementwise_engine(r);
    dropped_rows_and_elements();
    sigmoid_focal_targets_outside_the_unit_interval();
    terms_beyond_float_range();
    tiny_weights_and_huge_factors();
    printf("cuda_host_check (the CUDA kernels' arithmetic on the CPU, CPU ISA %s): %d checks, %d failures\n",
           fl_isa(), g_checks, g_failures);
    return g_failures ? 1 : 0;
}
