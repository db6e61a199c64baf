// cuda_check: tests the CUDA kernels of fusedloss.fatbin against the native CPU kernels
// (libfusedloss.a), then times them (llm.c dev/cuda style: reference first, then check, then time).
//
//   cuda_check [--fatbin PATH] [--quick] [--seed N]   correctness, exit 1 on a failure
//   cuda_check --bench [--fatbin PATH]                 timings at the PEERS.md shapes and data
//   cuda_check --small                                 a few small shapes (for compute-sanitizer)
//
// The kernels are loaded from the fatbin by name and launched with an array of argument
// pointers (cudaLibraryLoadFromFile + cudaLibraryGetKernel + cudaLaunchKernel), exactly as the
// Java side does through JCuda's cuModuleGetFunction + cuLaunchKernel; the grid formulas below
// are the ones of fusedloss_cuda.h.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "fusedloss.h"
#include "fusedloss_cuda.h"

#ifndef FLC_DEFAULT_FATBIN
#define FLC_DEFAULT_FATBIN "fusedloss.fatbin"
#endif

#define CK(call)                                                                             \
    do {                                                                                     \
        cudaError_t e_ = (call);                                                             \
        if (e_ != cudaSuccess) {                                                             \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(2);                                                                         \
        }                                                                                    \
    } while (0)

namespace {

// ------------------------------------------------------------------------------ the module
cudaLibrary_t g_lib;
int g_cc_major = 0;

cudaKernel_t kernel(const char* name) {
    static std::map<std::string, cudaKernel_t> cache;  // looked up once, like the Java side
    auto it = cache.find(name);
    if (it != cache.end()) return it->second;
    cudaKernel_t k;
    cudaError_t e = cudaLibraryGetKernel(&k, g_lib, name);
    if (e != cudaSuccess) {
        fprintf(stderr, "kernel %s not found in the fatbin: %s\n", name, cudaGetErrorString(e));
        exit(2);
    }
    cache[name] = k;
    return k;
}

void launch(const char* name, long long grid, int block, void** args, cudaStream_t s = 0) {
    CK(cudaLaunchKernel((const void*)kernel(name), dim3((unsigned)grid), dim3(block), args, 0, s));
}

long long cdiv(long long a, long long b) { return (a + b - 1) / b; }
long long clampg(long long g, long long cap) { return std::max(1ll, std::min(g, cap)); }

// ------------------------------------------------------------------------------ random data
struct Rng {
    uint64_t s;
    uint64_t next() {  // splitmix64
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
    float range(double lo, double hi) { return (float)(lo + (hi - lo) * uniform()); }
    long long below(long long n) { return (long long)(next() % (uint64_t)n); }
    bool chance(double p) { return uniform() < p; }
};

enum Loss { CE, CE_DENSE, SOFTMAX_FOCAL, BCE, MSE, SIGMOID_FOCAL };
const char* kNames[] = {"cross_entropy", "cross_entropy(dense)", "softmax_focal",
                        "binary_cross_entropy", "mean_squared_error", "sigmoid_focal"};
bool softmax(Loss l) { return l == CE || l == CE_DENSE || l == SOFTMAX_FOCAL; }
const int kIgnore = -100;

struct Case {
    Loss loss = CE;
    long long n = 1, c = 1;
    int reduction = FLC_MEAN;
    bool cw = false, sw = false, ew = false, posw = false, bcw = false, ignore = false;
    bool nan_weights = false;  // some NaN (missing) sample / element weights
    bool neg_inf = false;      // some -inf logits on non-target classes
    bool all_masked = false;   // every row ignored: MEAN gives loss 0 and gradient 0
    long long stride = 1;
    float eps = 0, zl = 0, cap = 0, alpha = -1, gamma = 0;
    bool upstream = false, grad = true, in_place = false;
    double scale = 1.0, denominator = -1.0;
    float spread = 4.f;
    std::string variant;  // softmax: "small", "warp", "block", "cluster"

    std::string describe() const {
        char b[512];
        snprintf(b, sizeof b,
                 "%s/%s n=%lld c=%lld red=%d cw=%d sw=%d(stride %lld, nan %d) ew=%d posw=%d bcw=%d "
                 "ignore=%d eps=%g zl=%g cap=%g alpha=%g gamma=%g up=%d grad=%d inplace=%d "
                 "scale=%g den=%g neginf=%d",
                 kNames[loss], variant.c_str(), n, c, reduction, cw, sw, stride, nan_weights, ew,
                 posw, bcw, ignore, eps, zl, cap, alpha, gamma, upstream, grad, in_place, scale,
                 denominator, neg_inf);
        return b;
    }
};

struct Data {
    std::vector<float> x, t, cw, sw, ew, posw, bcw, up;
    std::vector<int> y;
};

Data make_data(const Case& k, Rng& r) {
    Data d;
    const long long n = k.n, c = k.c, nc = n * c;
    d.x.resize(nc);
    for (auto& v : d.x) v = r.range(-k.spread, k.spread);
    if (k.loss == CE || k.loss == SOFTMAX_FOCAL) {
        d.y.resize(n);
        for (long long i = 0; i < n; ++i)
            d.y[i] = (k.all_masked || (k.ignore && r.chance(0.15))) ? kIgnore : (int)r.below(c);
    }
    if (k.loss == CE_DENSE) {  // probability rows, some exact zeros
        d.t.resize(nc);
        for (long long i = 0; i < n; ++i) {
            double s = 0;
            for (long long j = 0; j < c; ++j) {
                float v = r.chance(0.3) ? 0.f : r.range(0, 1);
                d.t[i * c + j] = v;
                s += v;
            }
            for (long long j = 0; j < c; ++j) d.t[i * c + j] = s > 0 ? (float)(d.t[i * c + j] / s) : 0.f;
        }
    }
    if (k.loss == BCE || k.loss == SIGMOID_FOCAL) {
        d.t.resize(nc);
        const bool hard = k.bcw || r.chance(0.5);
        for (auto& v : d.t) v = hard ? (float)(r.next() & 1) : r.range(0, 1);
    }
    if (k.loss == MSE) {
        d.t.resize(nc);
        for (auto& v : d.t) v = r.range(-k.spread, k.spread);
    }
    if (k.neg_inf && softmax(k.loss)) {  // -inf on some classes that are not the target
        for (long long i = 0; i < n; ++i)
            for (long long j = 0; j < c; ++j)
                if (r.chance(0.2) && (d.y.empty() || d.y[i] != j) && (d.t.empty() || d.t[i * c + j] == 0.f))
                    d.x[i * c + j] = -INFINITY;
    }
    if (k.cw) { d.cw.resize(c); for (auto& v : d.cw) v = r.range(0.25, 2.0); }
    if (k.sw) {
        d.sw.resize(n * k.stride);
        for (auto& v : d.sw) v = (k.nan_weights && r.chance(0.1)) ? NAN : r.range(0, 2);
    }
    if (k.ew) {
        d.ew.resize(nc);
        for (auto& v : d.ew) v = (k.nan_weights && r.chance(0.1)) ? NAN : r.range(0, 2);
    }
    if (k.posw) { d.posw.resize(c); for (auto& v : d.posw) v = r.range(0.5, 3.0); }
    if (k.bcw) d.bcw = {0.7f, 2.5f};
    if (k.upstream) {
        d.up.resize(softmax(k.loss) ? n : nc);
        for (auto& v : d.up) v = r.range(-1, 2);
    }
    return d;
}

template <class T> const T* ptr(const std::vector<T>& v) { return v.empty() ? nullptr : v.data(); }

// ------------------------------------------------------------------------------ CPU reference
struct Outputs {
    std::vector<float> grad, per_term;
    double loss = 0, loss_sum = 0, den = 1, counted = 0, masked = 0, nonfinite = 0;
    double res[FLC_RESULT_DOUBLES] = {0};
};

// MEAN / BATCH_MEAN denominators from the weights (what Java computes for host inputs).
void host_counts(const Case& k, const Data& d, double& wsum, double& counted, double& masked) {
    wsum = counted = masked = 0;
    const long long n = k.n, c = k.c;
    if (softmax(k.loss)) {
        for (long long i = 0; i < n; ++i) {
            if (!d.y.empty() && d.y[i] == kIgnore) continue;
            const float sw = d.sw.empty() ? 1.f : d.sw[i * k.stride];
            if (isnan(sw)) { masked += 1; continue; }
            double w = sw;
            if (k.loss == CE && !d.cw.empty()) w *= d.cw[d.y[i]];
            wsum += w;
            counted += 1;
        }
    } else {
        for (long long i = 0; i < n; ++i)
            for (long long j = 0; j < c; ++j) {
                float w = d.sw.empty() ? 1.f : d.sw[i * k.stride];
                if (!d.ew.empty()) w *= d.ew[i * c + j];
                if (isnan(w)) { masked += 1; continue; }
                wsum += w;
                counted += 1;
            }
    }
}

Outputs run_cpu(const Case& k, const Data& d) {
    Outputs o;
    double wsum, counted, masked;
    host_counts(k, d, wsum, counted, masked);
    double den = 1, gs = k.scale;
    if (k.reduction == FLC_MEAN || k.reduction == FLC_BATCH_MEAN) {
        den = k.denominator >= 0 ? k.denominator : (k.reduction == FLC_MEAN ? wsum : counted);
        gs = den != 0 ? k.scale / den : 0;
    }
    const long long terms = softmax(k.loss) ? k.n : k.n * k.c;
    o.grad.assign(k.n * k.c, 0.f);
    o.per_term.assign(terms, 0.f);
    float* g = k.grad ? o.grad.data() : nullptr;
    float* pt = k.reduction == FLC_NONE ? o.per_term.data() : nullptr;
    double res[2] = {0, 0};
    int rc = 0;
    switch (k.loss) {
    case CE: case CE_DENSE:
        rc = fl_cross_entropy(k.n, k.c, d.x.data(), ptr(d.y), k.loss == CE_DENSE ? ptr(d.t) : nullptr,
                              kIgnore, ptr(d.cw), ptr(d.sw), k.stride, k.eps, k.zl, k.cap,
                              ptr(d.up), gs, g, pt, res);
        break;
    case SOFTMAX_FOCAL:
        rc = fl_softmax_focal(k.n, k.c, d.x.data(), ptr(d.y), kIgnore, ptr(d.cw), k.gamma, ptr(d.sw),
                              k.stride, ptr(d.up), gs, g, pt, res);
        break;
    case BCE:
        rc = fl_binary_cross_entropy(k.n, k.c, d.x.data(), d.t.data(), ptr(d.posw), ptr(d.bcw),
                                     ptr(d.sw), k.stride, ptr(d.ew), ptr(d.up), gs, g, pt, res);
        break;
    case MSE:
        rc = fl_mean_squared_error(k.n, k.c, d.x.data(), d.t.data(), ptr(d.sw), k.stride, ptr(d.ew),
                                   ptr(d.up), gs, g, pt, res);
        break;
    case SIGMOID_FOCAL:
        rc = fl_sigmoid_focal(k.n, k.c, d.x.data(), d.t.data(), k.alpha, k.gamma, ptr(d.sw), k.stride,
                              ptr(d.ew), ptr(d.up), gs, g, pt, res);
        break;
    }
    if (rc != 0) {
        fprintf(stderr, "CPU kernel failed (%d: %s) on %s\n", rc, fl_last_error(), k.describe().c_str());
        exit(2);
    }
    o.loss_sum = res[0];
    o.nonfinite = res[1];
    o.den = den;
    o.loss = (k.reduction == FLC_MEAN || k.reduction == FLC_BATCH_MEAN) ? (den != 0 ? res[0] / den : 0) : res[0];
    o.counted = counted;
    o.masked = masked;
    return o;
}

// ------------------------------------------------------------------------------ GPU call
template <class T> T* upload(const std::vector<T>& v) {
    if (v.empty()) return nullptr;
    T* p;
    CK(cudaMalloc(&p, v.size() * sizeof(T)));
    CK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    return p;
}

struct DevData {
    float *x = nullptr, *t = nullptr, *cw = nullptr, *sw = nullptr, *ew = nullptr, *posw = nullptr,
          *bcw = nullptr, *up = nullptr, *grad = nullptr, *per_term = nullptr;
    int* y = nullptr;
    void* ws = nullptr;
    double* result = nullptr;
    void upload_all(const Case& k, const Data& d) {
        x = upload(d.x); t = upload(d.t); cw = upload(d.cw); sw = upload(d.sw); ew = upload(d.ew);
        posw = upload(d.posw); bcw = upload(d.bcw); up = upload(d.up); y = upload(d.y);
        const long long terms = softmax(k.loss) ? k.n : k.n * k.c;
        if (k.grad && !k.in_place) CK(cudaMalloc(&grad, std::max(1ll, k.n * k.c) * sizeof(float)));
        if (k.grad && k.in_place) grad = x;
        if (k.reduction == FLC_NONE) CK(cudaMalloc(&per_term, std::max(1ll, terms) * sizeof(float)));
        CK(cudaMalloc(&ws, FLC_WORKSPACE_BYTES));
        CK(cudaMemset(ws, 0, FLC_WORKSPACE_BYTES));
        CK(cudaMalloc(&result, FLC_RESULT_DOUBLES * sizeof(double)));
    }
    void free_all() {
        for (void* p : {(void*)x, (void*)t, (void*)cw, (void*)sw, (void*)ew, (void*)posw, (void*)bcw,
                        (void*)up, (void*)y, ws, (void*)result, (void*)per_term})
            if (p) CK(cudaFree(p));
        if (grad && grad != x) CK(cudaFree(grad));
    }
};

// The variant fusedloss_cuda.h recommends.
std::string pick_variant(long long c) {
    if (c <= FLC_SMALL_MAX_C) return "small";
    if (c <= FLC_WARP_MAX_C) return "warp";
    if (g_cc_major >= 9 && c > FLC_BLOCK_MAX_C) return "cluster";
    return "block";
}

// The two launches of one call: what the Java launcher does.
void gpu_call(const Case& k, DevData& dd, cudaStream_t s = 0) {
    long long n = k.n, c = k.c, stride = k.stride;
    int red = k.reduction;
    double scale = k.scale, den = k.denominator;
    if (softmax(k.loss)) {
        const int* labels = k.loss == CE_DENSE ? nullptr : dd.y;
        int ign = kIgnore;
        int cw_in_den = k.loss == CE ? 1 : 0;
        void* pa[] = {&n, &c, &labels, &ign, &dd.cw, &cw_in_den, &dd.sw, &stride, &red, &scale, &den, &dd.ws};
        launch("flc_rows_prep", clampg(cdiv(std::max(n, c), FLC_PREP_THREADS), FLC_PREP_MAX_BLOCKS),
               FLC_PREP_THREADS, pa, s);
        const std::string v = k.variant.empty() ? pick_variant(c) : k.variant;
        long long grid;
        int block;
        if (v == "small") { grid = clampg(cdiv(n, FLC_SMALL_ROWS_PER_BLOCK), FLC_MAX_PARTIALS); block = FLC_SMALL_THREADS; }
        else if (v == "warp") { grid = clampg(cdiv(n, FLC_WARP_ROWS_PER_BLOCK), FLC_MAX_PARTIALS); block = FLC_WARP_THREADS; }
        else if (v == "block") { grid = clampg(n, FLC_MAX_PARTIALS); block = FLC_BLOCK_THREADS; }
        else { grid = FLC_CLUSTER_SIZE * clampg(n, FLC_MAX_PARTIALS); block = FLC_BLOCK_THREADS; }
        float eps = k.eps, zl = k.zl, cap = k.cap, gamma = k.gamma;
        if (k.loss == SOFTMAX_FOCAL) {
            void* a[] = {&n, &c, &dd.x, &dd.y, &ign, &dd.cw, &gamma, &dd.sw, &stride, &dd.up, &dd.grad,
                         &dd.per_term, &dd.ws, &dd.result};
            launch(("flc_softmax_focal_" + v).c_str(), grid, block, a, s);
        } else {
            const float* targets = k.loss == CE_DENSE ? dd.t : nullptr;
            void* a[] = {&n, &c, &dd.x, &labels, &targets, &ign, &dd.cw, &dd.sw, &stride, &eps, &zl,
                         &cap, &dd.up, &dd.grad, &dd.per_term, &dd.ws, &dd.result};
            launch(("flc_cross_entropy_" + v).c_str(), grid, block, a, s);
        }
    } else {
        const long long items = k.ew ? n * c : n;
        const float* colw = k.loss == BCE ? dd.posw : nullptr;
        const float* bcw = k.loss == BCE ? dd.bcw : nullptr;
        void* pa[] = {&n, &c, &dd.sw, &stride, &dd.ew, &colw, &bcw, &red, &scale, &den, &dd.ws};
        launch("flc_elems_prep",
               clampg(cdiv(std::max(std::max(items, c), 2ll), FLC_PREP_THREADS), FLC_PREP_MAX_BLOCKS),
               FLC_PREP_THREADS, pa, s);
        const long long grid = clampg(cdiv(n * c, FLC_ELEM_PER_BLOCK), FLC_MAX_PARTIALS);
        float alpha = k.alpha, gamma = k.gamma;
        if (k.loss == BCE) {
            void* a[] = {&n, &c, &dd.x, &dd.t, &dd.posw, &dd.bcw, &dd.sw, &stride, &dd.ew, &dd.up,
                         &dd.grad, &dd.per_term, &dd.ws, &dd.result};
            launch("flc_binary_cross_entropy", grid, FLC_ELEM_THREADS, a, s);
        } else if (k.loss == MSE) {
            void* a[] = {&n, &c, &dd.x, &dd.t, &dd.sw, &stride, &dd.ew, &dd.up, &dd.grad,
                         &dd.per_term, &dd.ws, &dd.result};
            launch("flc_mean_squared_error", grid, FLC_ELEM_THREADS, a, s);
        } else {
            void* a[] = {&n, &c, &dd.x, &dd.t, &alpha, &gamma, &dd.sw, &stride, &dd.ew, &dd.up,
                         &dd.grad, &dd.per_term, &dd.ws, &dd.result};
            launch("flc_sigmoid_focal", grid, FLC_ELEM_THREADS, a, s);
        }
    }
}

Outputs fetch(const Case& k, const DevData& dd) {
    Outputs o;
    const long long terms = softmax(k.loss) ? k.n : k.n * k.c;
    o.grad.assign(k.n * k.c, 0.f);
    o.per_term.assign(terms, 0.f);
    if (k.grad && !o.grad.empty())
        CK(cudaMemcpy(o.grad.data(), dd.grad, o.grad.size() * 4, cudaMemcpyDeviceToHost));
    if (k.reduction == FLC_NONE && !o.per_term.empty())
        CK(cudaMemcpy(o.per_term.data(), dd.per_term, o.per_term.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(o.res, dd.result, sizeof o.res, cudaMemcpyDeviceToHost));
    o.loss = o.res[FLC_R_LOSS];
    o.loss_sum = o.res[FLC_R_LOSS_SUM];
    o.den = o.res[FLC_R_DENOMINATOR];
    o.counted = o.res[FLC_R_COUNTED];
    o.masked = o.res[FLC_R_MASKED];
    o.nonfinite = o.res[FLC_R_NONFINITE];
    return o;
}

// ------------------------------------------------------------------------------ checks
int g_failures = 0, g_checks = 0;

bool close_rel(double a, double b, double tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * fabs(b) + 1e-7;
}

void fail(const Case& k, const char* what, const std::string& detail) {
    ++g_failures;
    fprintf(stderr, "FAIL %s: %s\n  %s\n", what, detail.c_str(), k.describe().c_str());
}

void check_case(const Case& k, uint64_t seed, bool verbose) {
    Rng r{seed};
    const Data d = make_data(k, r);
    const Outputs ref = run_cpu(k, d);  // reference first
    DevData dd;
    dd.upload_all(k, d);
    gpu_call(k, dd);
    CK(cudaDeviceSynchronize());
    const Outputs got = fetch(k, dd);
    ++g_checks;
    char b[512];
    if (got.res[FLC_R_ERROR_CODE] != 0) {
        snprintf(b, sizeof b, "error code %g index %g value %g", got.res[FLC_R_ERROR_CODE],
                 got.res[FLC_R_ERROR_INDEX], got.res[FLC_R_ERROR_VALUE]);
        fail(k, "unexpected error", b);
    }
    const double tol = 1e-5;
    if (!close_rel(got.loss, ref.loss, tol)) {
        snprintf(b, sizeof b, "loss %.9g vs cpu %.9g (sum %.9g vs %.9g, den %.9g vs %.9g)", got.loss,
                 ref.loss, got.loss_sum, ref.loss_sum, got.den, ref.den);
        fail(k, "loss", b);
    }
    if (got.counted != ref.counted || got.masked != ref.masked || got.nonfinite != ref.nonfinite) {
        snprintf(b, sizeof b, "counted %g/%g masked %g/%g nonfinite %g/%g", got.counted, ref.counted,
                 got.masked, ref.masked, got.nonfinite, ref.nonfinite);
        fail(k, "counts", b);
    }
    if (k.reduction == FLC_NONE) {
        double worst = 0;
        long long wi = -1;
        for (size_t i = 0; i < ref.per_term.size(); ++i) {
            const double a = got.per_term[i], e = ref.per_term[i];
            if (!close_rel(a, e, tol)) { wi = (long long)i; break; }
            if (isfinite(e) && e != 0) worst = std::max(worst, fabs(a - e) / fabs(e));
        }
        if (wi >= 0) {
            snprintf(b, sizeof b, "per_term[%lld] = %.9g vs cpu %.9g", wi, got.per_term[wi], ref.per_term[wi]);
            fail(k, "per_term", b);
        }
    }
    if (k.grad) {
        double num = 0, den = 0;
        bool nonfinite_mismatch = false;
        for (size_t i = 0; i < ref.grad.size(); ++i) {
            const double a = got.grad[i], e = ref.grad[i];
            if (!isfinite(e) || !isfinite(a)) { nonfinite_mismatch |= (isfinite(e) != isfinite(a)); continue; }
            num += (a - e) * (a - e);
            den += e * e;
        }
        const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
        if (rel > tol || nonfinite_mismatch) {
            snprintf(b, sizeof b, "||g - g_cpu|| / ||g_cpu|| = %.3g (||g_cpu|| = %.3g)%s", rel, sqrt(den),
                     nonfinite_mismatch ? ", non-finite entries differ" : "");
            fail(k, "gradient", b);
        }
    }
    // run-to-run bit identity: the same call again (in place: restore the logits first)
    if (k.in_place && k.grad) CK(cudaMemcpy(dd.x, d.x.data(), d.x.size() * 4, cudaMemcpyHostToDevice));
    gpu_call(k, dd);
    CK(cudaDeviceSynchronize());
    const Outputs again = fetch(k, dd);
    if (memcmp(again.res, got.res, sizeof got.res) != 0 ||
        memcmp(again.grad.data(), got.grad.data(), got.grad.size() * 4) != 0 ||
        memcmp(again.per_term.data(), got.per_term.data(), got.per_term.size() * 4) != 0)
        fail(k, "bit identity", "second run differs");
    if (verbose) printf("ok  %-60.60s loss %.7g\n", k.describe().c_str(), got.loss);
    dd.free_all();
}

// A bad label / weight in device memory: the error word names it, nothing crashes, and the
// workspace is clean for the next call.
void check_errors() {
    struct E { Case k; int code; long long index; double value; };
    std::vector<E> es;
    {
        Case k; k.loss = CE; k.n = 50; k.c = 37; k.sw = true;
        es.push_back({k, FLC_ERR_LABEL, 3, -5});
    }
    {
        Case k; k.loss = SOFTMAX_FOCAL; k.n = 20; k.c = 3000; k.sw = true; k.gamma = 2;
        es.push_back({k, FLC_ERR_SAMPLE_WEIGHT, 11, -1});
    }
    {
        Case k; k.loss = BCE; k.n = 30; k.c = 12; k.bcw = true;
        es.push_back({k, FLC_ERR_TARGET, 41, 0.5});
    }
    {
        Case k; k.loss = MSE; k.n = 30; k.c = 8; k.ew = true;
        es.push_back({k, FLC_ERR_ELEMENT_WEIGHT, 17, INFINITY});
    }
    for (auto& e : es) {
        for (const char* v : {"small", "warp", "block", "cluster"}) {
            if (!softmax(e.k.loss) && strcmp(v, "small") != 0) continue;
            if (strcmp(v, "cluster") == 0 && g_cc_major < 9) continue;
            Case k = e.k;
            if (softmax(k.loss)) k.variant = v;
            Rng r{99};
            Data d = make_data(k, r);
            if (e.code == FLC_ERR_LABEL) { d.y[3] = -5; d.y[7] = (int)k.c + 3; }
            if (e.code == FLC_ERR_SAMPLE_WEIGHT) { d.sw[11] = -1.f; d.sw[15] = INFINITY; }
            if (e.code == FLC_ERR_TARGET) { d.t[41] = 0.5f; d.t[50] = 2.f; }
            if (e.code == FLC_ERR_ELEMENT_WEIGHT) { d.ew[17] = INFINITY; d.ew[200] = -2.f; }
            DevData dd;
            dd.upload_all(k, d);
            gpu_call(k, dd);
            CK(cudaDeviceSynchronize());
            Outputs got = fetch(k, dd);
            ++g_checks;
            if (got.res[FLC_R_ERROR_CODE] != e.code || got.res[FLC_R_ERROR_INDEX] != e.index ||
                got.res[FLC_R_ERROR_VALUE] != e.value) {
                char b[256];
                snprintf(b, sizeof b, "got code %g index %g value %g, want %d %lld %g", got.res[FLC_R_ERROR_CODE],
                         got.res[FLC_R_ERROR_INDEX], got.res[FLC_R_ERROR_VALUE], e.code, e.index, e.value);
                fail(k, "error word", b);
            }
            // the same workspace, valid inputs: no stale error
            Rng r2{99};
            Data ok = make_data(k, r2);
            DevData d2 = dd;
            CK(cudaMemcpy(d2.x, ok.x.data(), ok.x.size() * 4, cudaMemcpyHostToDevice));
            if (d2.y) CK(cudaMemcpy(d2.y, ok.y.data(), ok.y.size() * 4, cudaMemcpyHostToDevice));
            if (d2.sw) CK(cudaMemcpy(d2.sw, ok.sw.data(), ok.sw.size() * 4, cudaMemcpyHostToDevice));
            if (d2.t) CK(cudaMemcpy(d2.t, ok.t.data(), ok.t.size() * 4, cudaMemcpyHostToDevice));
            if (d2.ew) CK(cudaMemcpy(d2.ew, ok.ew.data(), ok.ew.size() * 4, cudaMemcpyHostToDevice));
            gpu_call(k, d2);
            CK(cudaDeviceSynchronize());
            got = fetch(k, d2);
            ++g_checks;
            if (got.res[FLC_R_ERROR_CODE] != 0) fail(k, "error word", "stale error after a bad call");
            dd.free_all();
        }
    }
}

std::vector<Case> check_cases(bool quick, bool small) {
    std::vector<Case> cs;
    std::vector<std::pair<long long, long long>> soft_shapes = {
        {1, 1}, {1, 2}, {7, 3}, {5, 10}, {33, 100}, {64, 1000}, {9, 1027}, {4, 4096},
        {3, 20000}, {3, 32000}, {2, 128256}, {2, 140001}, {1, 200000}, {300, 10}};
    std::vector<std::pair<long long, long long>> elem_shapes = {
        {1, 1}, {7, 3}, {33, 100}, {300, 4}, {1000, 97}, {513, 128}, {4096, 100}};
    if (small) {
        soft_shapes = {{1, 1}, {7, 3}, {33, 100}, {3, 1500}, {2, 20001}};
        elem_shapes = {{1, 1}, {7, 3}, {33, 100}};
    }
    if (quick) {
        soft_shapes = {{1, 1}, {7, 3}, {33, 100}, {9, 1027}, {3, 20000}, {2, 128256}};
        elem_shapes = {{1, 1}, {7, 3}, {1000, 97}, {513, 128}};
    }
    std::vector<std::string> variants = {"small", "warp", "block"};
    if (g_cc_major >= 9) variants.push_back("cluster");
    int i = 0;
    for (auto sh : soft_shapes) {
        for (Loss l : {CE, CE_DENSE, SOFTMAX_FOCAL}) {
            for (int opt = 0; opt < 4; ++opt) {
                Case k;
                k.loss = l; k.n = sh.first; k.c = sh.second;
                k.reduction = opt % 4;  // NONE, SUM, MEAN, BATCH_MEAN
                k.sw = opt != 1; k.stride = opt == 2 ? 3 : 1; k.nan_weights = opt == 3;
                k.cw = opt >= 1; k.ignore = l != CE_DENSE && opt != 1;
                k.upstream = k.reduction == FLC_NONE;
                k.scale = opt == 2 ? 0.5 : 1.0;
                if (l == CE || l == CE_DENSE) {
                    k.eps = (opt == 1 || opt == 3) ? 0.1f : 0.f;
                    k.zl = opt == 2 ? 1e-4f : (opt == 3 ? 1e-3f : 0.f);
                    k.cap = opt == 3 ? 15.f : 0.f;
                    k.neg_inf = opt == 1;
                } else {
                    k.gamma = opt == 0 ? 2.f : (opt == 1 ? 0.f : (opt == 2 ? 1.5f : 3.f));
                }
                k.in_place = opt == 1 && (i % 2 == 0);
                k.grad = !(opt == 0 && (i % 5 == 4));
                if (opt == 2 && i % 3 == 0) k.denominator = 17.0;
                k.spread = (i % 3 == 0) ? 8.f : 4.f;
                for (auto& v : variants) { Case kv = k; kv.variant = v; cs.push_back(kv); }
                ++i;
            }
        }
    }
    for (auto sh : elem_shapes) {
        for (Loss l : {BCE, MSE, SIGMOID_FOCAL}) {
            for (int opt = 0; opt < 4; ++opt) {
                Case k;
                k.loss = l; k.n = sh.first; k.c = sh.second;
                k.reduction = opt;
                k.sw = opt != 1; k.stride = opt == 2 ? 2 : 1;
                k.ew = opt >= 2; k.nan_weights = opt == 3;
                k.posw = l == BCE && opt != 0; k.bcw = l == BCE && opt == 2;
                k.upstream = opt == 0;
                k.alpha = opt == 1 ? -1.f : 0.25f;
                k.gamma = opt == 0 ? 2.f : (opt == 1 ? 0.f : (opt == 2 ? 1.f : 2.5f));
                k.in_place = opt == 1 && (i % 2 == 0);
                k.grad = !(opt == 3 && (i % 4 == 1));
                if (opt == 2 && i % 3 == 0) k.denominator = 123.0;
                k.scale = opt == 3 ? 2.0 : 1.0;
                cs.push_back(k);
                ++i;
            }
        }
    }
    // a MEAN where every row is masked: loss 0 and gradient 0, not NaN
    {
        Case k; k.loss = CE; k.n = 5; k.c = 40; k.ignore = true; k.reduction = FLC_MEAN; k.variant = "warp";
        k.sw = true; k.all_masked = true;
        cs.push_back(k);
        k.loss = SOFTMAX_FOCAL; k.variant = "small"; k.c = 7; k.gamma = 2;
        cs.push_back(k);
    }
    return cs;
}

// ------------------------------------------------------------------------------ benchmark
uint32_t h1(uint64_t i) { return (uint32_t)(i * 2654435761ull + 12345ull); }
uint32_t h2(uint64_t i) { return (uint32_t)(i * 2246822519ull + 7ull); }

Data peers_data(const Case& k) {
    Data d;
    const long long n = k.n, c = k.c, nc = n * c;
    d.x.resize(nc);
    for (long long i = 0; i < nc; ++i) d.x[i] = (float)(h1(i) / 4294967296.0 * 8 - 4);
    if (k.loss == CE || k.loss == SOFTMAX_FOCAL) {
        d.y.resize(n);
        for (long long i = 0; i < n; ++i) d.y[i] = (int)((i * 7919 + 13) % c);
    }
    if (k.cw) { d.cw.resize(c); for (long long j = 0; j < c; ++j) d.cw[j] = 0.5f + (j % 7) * 0.25f; }
    if (k.sw) { d.sw.resize(n); for (long long i = 0; i < n; ++i) d.sw[i] = 0.25f + (i % 5) * 0.25f; }
    if (k.loss == BCE || k.loss == SIGMOID_FOCAL) {
        d.t.resize(nc);
        for (long long i = 0; i < nc; ++i) d.t[i] = (float)(h2(i) >> 31);
    }
    if (k.loss == MSE) {
        d.t.resize(nc);
        for (long long i = 0; i < nc; ++i) d.t[i] = (float)(h2(i) / 4294967296.0 * 8 - 4);
    }
    if (k.posw) { d.posw.resize(c); for (long long j = 0; j < c; ++j) d.posw[j] = 1.f + (j % 4) * 0.5f; }
    return d;
}

float median(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

void bench() {
    struct B { const char* name; Case k; double expect; };
    auto ce = [](long long n, long long c, bool w) {
        Case k; k.loss = CE; k.n = n; k.c = c; k.cw = w; k.sw = w; k.reduction = FLC_MEAN; return k;
    };
    std::vector<B> bs = {
        {"ce_weighted", ce(65536, 10, true), 4.179278},
        {"ce_weighted", ce(4096, 1000, true), 8.826467},
        {"ce_weighted", ce(256, 32000, true), 12.415470},
        {"ce_weighted", ce(1024, 128256, true), 13.696568},
        {"ce_mean", ce(65536, 10, false), 4.179576},
        {"ce_mean", ce(4096, 1000, false), 8.821210},
        {"ce_mean", ce(256, 32000, false), 12.324988},
        {"ce_mean", ce(1024, 128256, false), 13.689886},
    };
    {
        Case k; k.loss = BCE; k.n = 65536; k.c = 100; k.posw = true; k.reduction = FLC_MEAN;
        bs.push_back({"bce_posw", k, 1.651441});
        Case m; m.loss = MSE; m.n = 65536; m.c = 100; m.sw = true; m.reduction = FLC_MEAN;
        bs.push_back({"mse_weighted", m, 10.666798});
        Case f; f.loss = SIGMOID_FOCAL; f.n = 65536; f.c = 100; f.alpha = 0.25f; f.gamma = 2.f; f.reduction = FLC_MEAN;
        bs.push_back({"sigmoid_focal", f, 0.447684});
        Case s; s.loss = SOFTMAX_FOCAL; s.n = 1024; s.c = 128256; s.gamma = 2.f; s.sw = true; s.reduction = FLC_MEAN;
        bs.push_back({"softmax_focal", s, NAN});
        Case s2 = s; s2.n = 4096; s2.c = 1000;
        bs.push_back({"softmax_focal", s2, NAN});
    }
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    printf("%-14s %14s %-8s %12s %10s %10s %9s %9s %7s\n", "case", "N x C", "kernel", "loss", "expect",
           "ms", "GB/s", "copyGB/s", "%copy");
    // the streaming fallback of the largest shape too (what sm_80 runs), for comparison
    for (size_t i = 0, n = bs.size(); i < n; ++i)
        if (softmax(bs[i].k.loss) && pick_variant(bs[i].k.c) == "cluster") {
            B b = bs[i];
            b.k.variant = "block";
            bs.push_back(b);
        }
    for (auto& b : bs) {
        const Data d = peers_data(b.k);
        DevData dd;
        dd.upload_all(b.k, d);
        const size_t bytes = (size_t)b.k.n * b.k.c * 4;
        // device-to-device copy of the same size, same run: the bandwidth reference
        float* cp;
        CK(cudaMalloc(&cp, bytes));
        std::vector<float> tc, tk;
        for (int it = 0; it < 25; ++it) {
            CK(cudaEventRecord(e0));
            CK(cudaMemcpyAsync(cp, dd.x, bytes, cudaMemcpyDeviceToDevice));
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (it >= 5) tc.push_back(ms);
        }
        for (int it = 0; it < 25; ++it) {
            CK(cudaEventRecord(e0));
            gpu_call(b.k, dd);
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (it >= 5) tk.push_back(ms);
        }
        const Outputs o = fetch(b.k, dd);
        const float mc = median(tc), mk = median(tk);
        const double gbk = 2.0 * bytes / (mk * 1e-3) / 1e9, gbc = 2.0 * bytes / (mc * 1e-3) / 1e9;
        char shape[32];
        snprintf(shape, sizeof shape, "%lldx%lld", b.k.n, b.k.c);
        const std::string v = softmax(b.k.loss) ? (b.k.variant.empty() ? pick_variant(b.k.c) : b.k.variant) : "elem";
        printf("%-14s %14s %-8s %12.7f %10.6f %10.4f %9.1f %9.1f %6.1f%%%s\n", b.name, shape, v.c_str(), o.loss,
               b.expect, mk, gbk, gbc, 100.0 * gbk / gbc,
               (!isnan(b.expect) && fabs(o.loss - b.expect) > 2e-6 * fabs(b.expect) + 1e-6) ? "  LOSS MISMATCH" : "");
        if (o.res[FLC_R_ERROR_CODE] != 0) printf("  error code %g\n", o.res[FLC_R_ERROR_CODE]);
        CK(cudaFree(cp));
        dd.free_all();
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string fatbin = FLC_DEFAULT_FATBIN;
    bool do_bench = false, quick = false, small = false, verbose = false;
    uint64_t seed = 1234;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--fatbin") && i + 1 < argc) fatbin = argv[++i];
        else if (!strcmp(argv[i], "--bench")) do_bench = true;
        else if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--small")) small = true;
        else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) verbose = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], nullptr, 10);
        else { fprintf(stderr, "usage: %s [--fatbin PATH] [--bench] [--quick] [--small] [--seed N] [-v]\n", argv[0]); return 2; }
    }
    int dev = 0;
    CK(cudaSetDevice(dev));
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, dev));
    g_cc_major = prop.major;
    CK(cudaLibraryLoadFromFile(&g_lib, fatbin.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
    printf("device %s (sm_%d%d, %d SMs), fatbin %s, CPU ISA %s\n", prop.name, prop.major, prop.minor,
           prop.multiProcessorCount, fatbin.c_str(), fl_isa());
    if (do_bench) {
        bench();
        return 0;
    }
    const auto cs = check_cases(quick, small);
    uint64_t s = seed;
    for (const auto& k : cs) check_case(k, s++, verbose);
    check_errors();
    printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
