// cuda_check: tests the CUDA kernels of fusedloss.fatbin against the native CPU kernels
// (libfusedloss.a), then times them (llm.c dev/cuda style: reference first, then check, then time).
//
//   cuda_check [--fatbin PATH] [--quick] [--seed N]   correctness, exit 1 on a failure
//   cuda_check --bench [--fatbin PATH] [--peers FILE]  timings at the PEERS.md shapes and data
//                                                      (bench/peers.txt)
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
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "fusedloss.h"
#include "fusedloss_cuda.h"
#include "peer_data.h"
#include "check_rng.h"

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
bool g_cluster_ok = false;  // sm_90+ and a cluster of FLC_CLUSTER_SIZE blocks can be scheduled here

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

enum Loss { CE, CE_DENSE, SOFTMAX_FOCAL, BCE, MSE, SIGMOID_FOCAL };
const char* kNames[] = {"cross_entropy", "cross_entropy(dense)", "softmax_focal",
                        "binary_cross_entropy", "mean_squared_error", "sigmoid_focal"};
bool softmax(Loss l) { return l == CE || l == CE_DENSE || l == SOFTMAX_FOCAL; }
const int kIgnore = -100;

struct Data {
    std::vector<float> x, t, cw, sw, ew, posw, bcw, up;
    std::vector<int> y;
};

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
    // A case of the issue's list: fixed data (edit applied to the random data), compared with no
    // absolute floor (strict), the gradient at -inf logits checked to be 0 (SEMANTICS.md).
    std::function<void(Data&)> edit;
    std::string note;
    bool strict = false;

    std::string describe() const {
        char b[640];
        snprintf(b, sizeof b,
                 "%s/%s n=%lld c=%lld red=%d cw=%d sw=%d(stride %lld, nan %d) ew=%d posw=%d bcw=%d "
                 "ignore=%d eps=%g zl=%g cap=%g alpha=%g gamma=%g up=%d grad=%d inplace=%d "
                 "scale=%g den=%g neginf=%d%s%s",
                 kNames[loss], variant.c_str(), n, c, reduction, cw, sw, stride, nan_weights, ew,
                 posw, bcw, ignore, eps, zl, cap, alpha, gamma, upstream, grad, in_place, scale,
                 denominator, neg_inf, note.empty() ? "" : " | ", note.c_str());
        return b;
    }
};


Data make_random_data(const Case& k, Rng& r);

Data make_data(const Case& k, Rng& r) {
    Data d = make_random_data(k, r);
    if (k.edit) k.edit(d);
    return d;
}

Data make_random_data(const Case& k, Rng& r) {
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

// The request of a case, on the given pointers (host ones for the CPU, device ones for the GPU).
fl_request request_of(const Case& k, const float* x, const int* y, const float* t, const float* cw,
                      const float* sw, const float* ew, const float* posw, const float* bcw, const float* up,
                      float* grad, float* per_term) {
    fl_request q{};
    q.rows = k.n;
    q.cols = k.c;
    q.predictions = x;
    q.ignore_index = kIgnore;
    q.sample_weights = sw;
    q.sample_weight_stride = k.stride;
    q.upstream = up;
    q.gradient = grad;
    q.per_term = per_term;
    q.reduction = k.reduction;
    q.gradient_scale = k.scale;
    q.denominator = k.denominator;
    switch (k.loss) {
    case CE: case CE_DENSE:
        q.loss = k.loss == CE ? FL_CROSS_ENTROPY : FL_CROSS_ENTROPY_DENSE;
        q.labels = k.loss == CE ? y : nullptr;
        q.targets = k.loss == CE_DENSE ? t : nullptr;
        q.options.cross_entropy = {cw, k.eps, k.zl, k.cap};
        break;
    case SOFTMAX_FOCAL:
        q.loss = FL_SOFTMAX_FOCAL;
        q.labels = y;
        q.options.softmax_focal = {cw, k.gamma};
        break;
    case BCE:
        q.loss = FL_BINARY_CROSS_ENTROPY;
        q.targets = t;
        q.element_weights = ew;
        q.options.binary_cross_entropy = {posw, bcw};
        break;
    case MSE:
        q.loss = FL_MEAN_SQUARED_ERROR;
        q.targets = t;
        q.element_weights = ew;
        break;
    case SIGMOID_FOCAL:
        q.loss = FL_SIGMOID_FOCAL;
        q.targets = t;
        q.element_weights = ew;
        q.options.sigmoid_focal = {k.alpha, k.gamma};
        break;
    }
    return q;
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
    // the CPU kernels as SUM with the final gradient factor: the denominator is applied above
    fl_request q = request_of(k, d.x.data(), ptr(d.y), ptr(d.t), ptr(d.cw), ptr(d.sw), ptr(d.ew), ptr(d.posw),
                              ptr(d.bcw), ptr(d.up), g, pt);
    q.reduction = FL_SUM;
    q.gradient_scale = gs;
    q.denominator = 1.0;
    double r[FL_RESULT_DOUBLES];
    const int rc = fl_compute(&q, r);
    const double res[2] = {r[FL_R_LOSS_SUM], r[FL_R_NONFINITE]};
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
        // outputs start as NaN (0xFF bytes): an element the kernel forgot to write shows up
        if (k.grad && !k.in_place) {
            CK(cudaMalloc(&grad, std::max(1ll, k.n * k.c) * sizeof(float)));
            CK(cudaMemset(grad, 0xFF, std::max(1ll, k.n * k.c) * sizeof(float)));
        }
        if (k.grad && k.in_place) grad = x;
        if (k.reduction == FLC_NONE) {
            CK(cudaMalloc(&per_term, std::max(1ll, terms) * sizeof(float)));
            CK(cudaMemset(per_term, 0xFF, std::max(1ll, terms) * sizeof(float)));
        }
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
    if (g_cluster_ok && c > FLC_BLOCK_MAX_C) return "cluster";
    return "block";
}

// Stands in for the softmax losses' main launch when set (the launch-shape checks).
std::function<void(const std::string& kernel, long long grid, int block, void** args, cudaStream_t s)> g_main_hook;

void main_launch(const std::string& name, long long grid, int block, void** args, cudaStream_t s) {
    if (g_main_hook) g_main_hook(name, grid, block, args, s);
    else launch(name.c_str(), grid, block, args, s);
}

// The two launches of one call: what the Java launcher does. Both take the call's request by value.
void gpu_call(const Case& k, DevData& dd, cudaStream_t s = 0) {
    const long long n = k.n, c = k.c;
    fl_request q = request_of(k, dd.x, dd.y, dd.t, dd.cw, dd.sw, dd.ew, dd.posw, dd.bcw, dd.up, dd.grad,
                              dd.per_term);
    void* prep_args[] = {&q, &dd.ws};
    void* main_args[] = {&q, &dd.ws, &dd.result};
    if (softmax(k.loss)) {
        launch("flc_rows_prep", clampg(cdiv(std::max(n, c), FLC_PREP_THREADS), FLC_PREP_MAX_BLOCKS),
               FLC_PREP_THREADS, prep_args, s);
        const std::string v = k.variant.empty() ? pick_variant(c) : k.variant;
        long long grid;
        int block;
        if (v == "small") { grid = clampg(cdiv(n, FLC_SMALL_ROWS_PER_BLOCK), FLC_MAX_PARTIALS); block = FLC_SMALL_THREADS; }
        else if (v == "warp") { grid = clampg(cdiv(n, FLC_WARP_ROWS_PER_BLOCK), FLC_MAX_PARTIALS); block = FLC_WARP_THREADS; }
        else if (v == "block") { grid = clampg(n, FLC_MAX_PARTIALS); block = FLC_BLOCK_THREADS; }
        else { grid = FLC_CLUSTER_SIZE * clampg(n, FLC_MAX_PARTIALS); block = FLC_BLOCK_THREADS; }
        main_launch(std::string("flc_") + fl_loss_name((int)q.loss) + "_" + v, grid, block, main_args, s);
    } else {
        const long long items = k.ew ? n * c : n;
        launch("flc_elems_prep",
               clampg(cdiv(std::max(std::max(items, c), 2ll), FLC_PREP_THREADS), FLC_PREP_MAX_BLOCKS),
               FLC_PREP_THREADS, prep_args, s);
        const long long grid = clampg(cdiv(n * c, FLC_ELEM_PER_BLOCK), FLC_MAX_PARTIALS);
        launch((std::string("flc_") + fl_loss_name((int)q.loss)).c_str(), grid, FLC_ELEM_THREADS, main_args, s);
    }
}

// The result alone (the timings' check: the gradient may be gigabytes).
Outputs fetch_result(const DevData& dd) {
    Outputs o;
    CK(cudaMemcpy(o.res, dd.result, sizeof o.res, cudaMemcpyDeviceToHost));
    o.loss = o.res[FLC_R_LOSS];
    return o;
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
bool g_repeat = true;  // each case twice, for bit identity (off under the sanitizers)

bool close_rel(double a, double b, double tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * fabs(b) + 1e-7;
}

// No absolute floor: a small term (a confident row's) must keep its relative accuracy.
bool close_strict(double a, double b, double tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * fabs(b);
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
        long long wi = -1;
        for (size_t i = 0; i < ref.per_term.size(); ++i) {
            const double a = got.per_term[i], e = ref.per_term[i];
            if (!(k.strict ? close_strict(a, e, tol) : close_rel(a, e, tol))) { wi = (long long)i; break; }
        }
        if (wi >= 0) {
            snprintf(b, sizeof b, "per_term[%lld] = %.9g vs cpu %.9g", wi, got.per_term[wi], ref.per_term[wi]);
            fail(k, "per_term", b);
        }
    }
    if (k.grad) {
        double num = 0, den = 0;
        bool nonfinite_mismatch = false;
        long long masked_not_zero = -1;
        for (size_t i = 0; i < ref.grad.size(); ++i) {
            const double a = got.grad[i], e = ref.grad[i];
            // SEMANTICS.md: a -inf logit's gradient is 0 unless its row's term is NaN (then 0 or NaN)
            const long long row = (long long)i / k.c;
            const bool nan_row = k.reduction == FLC_NONE && softmax(k.loss) && isnan(ref.per_term[row]);
            if (softmax(k.loss) && d.x[i] == -INFINITY && k.cap <= 0) {
                if (!nan_row && k.reduction == FLC_NONE && a != 0 && masked_not_zero < 0) masked_not_zero = (long long)i;
                if (nan_row || !isfinite(e)) continue;
            }
            if (!isfinite(e) || !isfinite(a)) { nonfinite_mismatch |= (isfinite(e) != isfinite(a)); continue; }
            num += (a - e) * (a - e);
            den += e * e;
        }
        if (masked_not_zero >= 0) {
            snprintf(b, sizeof b, "gradient[%lld] = %g at a -inf logit, not 0", masked_not_zero,
                     (double)got.grad[masked_not_zero]);
            fail(k, "gradient", b);
        }
        const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
        if (rel > tol || nonfinite_mismatch) {
            snprintf(b, sizeof b, "||g - g_cpu|| / ||g_cpu|| = %.3g (||g_cpu|| = %.3g)%s", rel, sqrt(den),
                     nonfinite_mismatch ? ", non-finite entries differ" : "");
            fail(k, "gradient", b);
        }
    }
    // run-to-run bit identity: the same call again (in place: restore the logits first)
    if (!g_repeat) {
        dd.free_all();
        return;
    }
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
    struct E { Case k; int code; long long index; double value; std::function<void(Data&)> bad; };
    std::vector<E> es;
    {
        Case k; k.loss = CE; k.n = 50; k.c = 37; k.sw = true;
        es.push_back({k, FLC_ERR_LABEL, 3, -5, [](Data& d) { d.y[3] = -5; d.y[7] = 40; }});
        // several bad values: the order of SEMANTICS.md (labels before sample weights), also
        // against the order the rows come in (issue 17, item 8)
        es.push_back({k, FLC_ERR_LABEL, 30, 99, [](Data& d) { d.sw[2] = -1.f; d.y[30] = 99; }});
        // a bad sample weight on an ignored row is still an error
        es.push_back({k, FLC_ERR_SAMPLE_WEIGHT, 4, -2, [](Data& d) { d.y[4] = kIgnore; d.sw[4] = -2.f; }});
    }
    {
        Case k; k.loss = SOFTMAX_FOCAL; k.n = 20; k.c = 3000; k.sw = true; k.gamma = 2;
        es.push_back({k, FLC_ERR_SAMPLE_WEIGHT, 11, -1, [](Data& d) { d.sw[11] = -1.f; d.sw[15] = INFINITY; }});
    }
    {
        Case k; k.loss = BCE; k.n = 30; k.c = 12; k.bcw = true;
        es.push_back({k, FLC_ERR_TARGET, 41, 0.5, [](Data& d) { d.t[41] = 0.5f; d.t[50] = 2.f; }});
        k.sw = true;
        // a soft target before a bad sample weight: the weight is named (targets come last)
        es.push_back({k, FLC_ERR_SAMPLE_WEIGHT, 20, -1, [](Data& d) { d.t[0] = 0.5f; d.sw[20] = -1.f; }});
        // a soft target under a NaN sample weight is still an error (the host path checks every target)
        es.push_back({k, FLC_ERR_TARGET, 13, 0.25, [](Data& d) {
            for (auto& w : d.sw) w = isnan(w) ? 1.f : w;
            d.sw[1] = NAN;
            d.t[13] = 0.25f;
        }});
    }
    {
        Case k; k.loss = MSE; k.n = 30; k.c = 8; k.ew = true;
        es.push_back({k, FLC_ERR_ELEMENT_WEIGHT, 17, INFINITY, [](Data& d) { d.ew[17] = INFINITY; d.ew[200] = -2.f; }});
        k.sw = true;
        // a bad element weight in row 0, a bad sample weight in row 9: the sample weight first
        es.push_back({k, FLC_ERR_SAMPLE_WEIGHT, 9, INFINITY, [](Data& d) { d.ew[1] = -1.f; d.sw[9] = INFINITY; }});
    }
    {  // issue 11: gradient_scale / the weight sum overflows a double (the value: that sum)
        Case k; k.loss = MSE; k.n = 2; k.c = 1; k.sw = true; k.scale = 1e300;
        es.push_back({k, FLC_ERR_GRAD_SCALE, 0, 2.0 * (double)1e-40f, [](Data& d) { d.sw = {1e-40f, 1e-40f}; }});
        k.loss = CE; k.c = 7; k.cw = true;
        es.push_back({k, FLC_ERR_GRAD_SCALE, 0, 2.0 * (double)(1e-40f * 0.5f),  // sum of sw cw[y] (floats)
                      [](Data& d) { d.sw = {1e-40f, 1e-40f}; d.cw.assign(7, 0.5f); }});
    }
    for (auto& e : es) {
        for (const char* v : {"small", "warp", "block", "cluster"}) {
            if (!softmax(e.k.loss) && strcmp(v, "small") != 0) continue;
            if (strcmp(v, "cluster") == 0 && !g_cluster_ok) continue;
            Case k = e.k;
            if (softmax(k.loss)) k.variant = v;
            Rng r{99};
            Data d = make_data(k, r);
            e.bad(d);
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

// Launch shapes the kernels must survive: a block of the wrong size reports FLC_ERR_LAUNCH and
// leaves a clean workspace (item 10); a cluster launch the device refuses is followed by the block
// kernel on the same prep results, as the Java launcher falls back (item 9).
void check_launch_shapes() {
    Case k; k.loss = CE; k.n = 20; k.c = 300; k.reduction = FLC_MEAN; k.sw = true; k.variant = "warp";
    Rng r{5};
    Data d = make_data(k, r);
    const Outputs ref = run_cpu(k, d);
    DevData dd;
    dd.upload_all(k, d);
    g_main_hook = [](const std::string& name, long long grid, int, void** args, cudaStream_t s) {
        launch(name.c_str(), grid, 128, args, s);  // _warp is compiled for 256 threads
    };
    gpu_call(k, dd);
    g_main_hook = nullptr;
    CK(cudaDeviceSynchronize());
    Outputs got = fetch(k, dd);
    ++g_checks;
    if (got.res[FLC_R_ERROR_CODE] != FLC_ERR_LAUNCH || got.res[FLC_R_ERROR_INDEX] != 128)
        fail(k, "block size", "a _warp launch with 128 threads did not report FLC_ERR_LAUNCH (index 128)");
    gpu_call(k, dd);  // the same workspace, the right block: the right answer
    CK(cudaDeviceSynchronize());
    got = fetch(k, dd);
    ++g_checks;
    if (got.res[FLC_R_ERROR_CODE] != 0 || !close_rel(got.loss, ref.loss, 1e-5))
        fail(k, "block size", "the call after a bad launch is wrong");
    dd.free_all();

    if (g_cc_major < 9) {
        printf("launch shapes: no clusters below sm_90\n");
        return;
    }
    Case c = k;
    c.c = 20000; c.n = 3; c.variant = "cluster";
    Rng r2{6};
    Data d2 = make_data(c, r2);
    const Outputs ref2 = run_cpu(c, d2);
    DevData d3;
    d3.upload_all(c, d2);
    bool refused = false;
    g_main_hook = [&](const std::string& name, long long grid, int block, void** args, cudaStream_t s) {
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3((unsigned)grid);
        cfg.blockDim = dim3(block);
        cfg.stream = s;
        cudaLaunchAttribute at[1];
        at[0].id = cudaLaunchAttributeClusterDimension;
        at[0].val.clusterDim.x = 2 * FLC_CLUSTER_SIZE;  // not the compiled cluster shape: refused
        at[0].val.clusterDim.y = 1;
        at[0].val.clusterDim.z = 1;
        cfg.attrs = at;
        cfg.numAttrs = 1;
        refused = cudaLaunchKernelExC(&cfg, (const void*)kernel(name.c_str()), args) != cudaSuccess;
        (void)cudaGetLastError();
        std::string block_kernel = name.substr(0, name.size() - strlen("cluster")) + "block";
        launch(block_kernel.c_str(), grid / FLC_CLUSTER_SIZE, FLC_BLOCK_THREADS, args, s);
    };
    gpu_call(c, d3);
    g_main_hook = nullptr;
    CK(cudaDeviceSynchronize());
    got = fetch(c, d3);
    ++g_checks;
    if (!refused)
        printf("launch shapes: the device ran a cluster of %d: the fallback was not exercised\n", 2 * FLC_CLUSTER_SIZE);
    else if (got.res[FLC_R_ERROR_CODE] != 0 || !close_rel(got.loss, ref2.loss, 1e-5))
        fail(c, "cluster fallback", "the block kernel after a refused cluster launch is wrong");
    d3.free_all();
}

// Each softmax case once per launch shape (the cluster one where the device runs it).
std::vector<Case> on_every_variant(const std::vector<Case>& cs) {
    std::vector<std::string> variants = {"small", "warp", "block"};
    if (g_cluster_ok) variants.push_back("cluster");
    std::vector<Case> out;
    for (auto& k : cs) {
        if (!softmax(k.loss)) { out.push_back(k); continue; }
        for (auto& v : variants) { Case kv = k; kv.variant = v; out.push_back(kv); }
    }
    return out;
}

// The cases of issue 17's line-by-line read of the kernels, each fixed in row_math.cuh /
// elementwise.cuh / the loss files and proven on the CPU by cuda_host_check; here on the device.
std::vector<Case> issue_cases() {
    std::vector<Case> cs;
    const float ninf = -INFINITY;
    auto softmax_case = [&](Loss l, long long n, long long c, const char* note, std::function<void(Data&)> edit) {
        Case k;
        k.loss = l; k.n = n; k.c = c; k.reduction = FLC_NONE; k.strict = true;
        k.note = note;
        k.edit = std::move(edit);
        return k;
    };
    // 1. A NaN logit that a thread holds alone or beside -inf logits only: NaN row, counted.
    //    C = 5 (_small: lane 3 holds x[3]), 40 (_warp, float4: lane 9 holds x[36..39]),
    //    2000 (_block, float4: thread 1 holds x[4..7]), 20001 (_cluster / streamed).
    const long long layouts[][2] = {{5, 3}, {40, 36}, {2000, 4}, {20001, 4}};
    for (auto& lay : layouts) {
        const long long c = lay[0], at = lay[1];
        for (Loss l : {CE, CE_DENSE, SOFTMAX_FOCAL}) {
            cs.push_back(softmax_case(l, 2, c, "item 1: a NaN logit among -inf ones", [c, at, ninf](Data& d) {
                const long long last = c == 5 ? at : at + 3;
                for (long long j = at; j < last; ++j) d.x[j] = ninf;
                d.x[last] = NAN;
                if (!d.y.empty()) d.y[0] = 0;
                if (!d.t.empty()) {
                    for (long long j = 0; j < c; ++j) d.t[j] = j == 0 ? 1.f : 0.f;
                }
            }));
            cs.back().eps = l == CE ? 0.1f : 0.f;
            cs.back().gamma = 2;
        }
    }
    // 2. BCE / sigmoid focal, certain and right: x = -inf with t = 0, +inf with t = 1: 0, not NaN.
    for (Loss l : {BCE, SIGMOID_FOCAL}) {
        Case k;
        k.loss = l; k.n = 2; k.c = 4; k.reduction = FLC_NONE; k.posw = l == BCE; k.alpha = 0.25f; k.gamma = 2;
        k.strict = true;
        k.note = "item 2: infinite logits of certain targets";
        k.edit = [](Data& d) {
            const float x[] = {-INFINITY, INFINITY, -INFINITY, INFINITY, -INFINITY, INFINITY, 1, -1};
            const float t[] = {0, 1, 0, 1, 1, 0, 0.5f, 0.5f};
            d.x.assign(x, x + 8);
            d.t.assign(t, t + 8);
        };
        cs.push_back(k);
    }
    // 3. CE, class indices, C = 1, z-loss: the gradient 2 z x alone, not the rounding of (1 + 2 z x) - 1.
    for (float zl : {1e-3f, 1e-4f}) {
        Case k = softmax_case(CE, 3, 1, "item 3: C = 1, z-loss, small logits", [](Data& d) {
            d.x = {0.01f, -0.02f, 0.003f};
            d.y = {0, 0, 0};
        });
        k.zl = zl;
        k.eps = zl == 1e-4f ? 0.25f : 0.f;
        cs.push_back(k);
    }
    // 4. Confident rows: margins 10, 12, 16 above the others, strict relative per-term check.
    for (long long c : {2ll, 3ll, 1000ll, 20000ll}) {
        for (Loss l : {CE, SOFTMAX_FOCAL}) {
            Case k = softmax_case(l, 3, c, "item 4: confident rows", [c](Data& d) {
                for (long long i = 0; i < 3; ++i) {
                    for (long long j = 0; j < c; ++j) d.x[i * c + j] = 0.5f * sinf((float)(i * c + j));
                    const int y = (int)((i * 7 + 1) % c);
                    d.y[i] = y;
                    d.x[i * c + y] = 10.f + 3.f * i;
                }
            });
            k.gamma = 2;
            cs.push_back(k);
        }
    }
    // 5. A label on a -inf logit with no mass there: class weight 0, eps = 1, alpha 0 (focal).
    for (int which = 0; which < 3; ++which) {
        Case k = softmax_case(which == 2 ? SOFTMAX_FOCAL : CE, 1, 3, "item 5: no mass on an infinite term",
                              [which](Data& d) {
            d.x = {1, -INFINITY, 2};
            d.y = {1};
            if (which != 1) d.cw = {1, 0, 1};
        });
        k.cw = which != 1;
        k.eps = which == 1 ? 1.f : 0.f;
        k.zl = which == 0 ? 1e-3f : 0.f;
        k.gamma = 2;
        cs.push_back(k);
    }
    // 6. Dense targets with mass on a -inf logit: term +inf, gradient 0 there (and a label there).
    for (Loss l : {CE_DENSE, CE, SOFTMAX_FOCAL}) {
        Case k = softmax_case(l, 1, 4, "item 6: target mass on a -inf logit", [](Data& d) {
            d.x = {1, -INFINITY, 0.5f, 2};
            if (!d.t.empty()) d.t = {0.5f, 0.3f, 0.2f, 0};
            if (!d.y.empty()) d.y = {1};
        });
        k.eps = l == CE_DENSE ? 0.1f : 0.f;
        k.gamma = 2;
        cs.push_back(k);
    }
    // 7. z lse^2 of logits near 1e20 passes the float range (1e40); the term (1e36, formed in
    // double) does not.
    for (Loss l : {CE, CE_DENSE}) {
        Case k = softmax_case(l, 1, 4, "item 7: z-loss of huge logits", [](Data& d) {
            d.x = {1e20f, 1e19f, 0, -1e20f};
            if (!d.y.empty()) d.y = {0};
            if (!d.t.empty()) d.t = {0.5f, 0.5f, 0, 0};
        });
        k.zl = 1e-4f;
        k.reduction = FLC_SUM;
        cs.push_back(k);
    }
    return on_every_variant(cs);
}

// Issue 11's cases (the contract as the CPU backends follow it), each proven on the CPU by
// cuda_host_check (items 1-4 there); here on the device, against the CPU kernels.
std::vector<Case> issue11_cases() {
    std::vector<Case> cs;
    const float nan = NAN, inf = INFINITY;
    auto base = [](Loss l, long long n, long long c, const char* note) {
        Case k;
        k.loss = l; k.n = n; k.c = c; k.reduction = FLC_NONE; k.strict = true; k.note = note;
        return k;
    };
    // 1. Dropped rows: class weight 0 at the label (no smoothing; with z-loss, weighted by it: none;
    //    with a soft cap: streamed), alpha 0 at the label, a dense row of zero targets. NaN, +inf and
    //    a -inf label logit there: term 0, not counted, gradient 0. Row 3 counts: a NaN row.
    for (long long c : {5ll, 40ll, 2000ll, 20001ll}) {
        for (int opt = 0; opt < 5; ++opt) {
            const Loss l = opt < 3 ? CE : opt == 3 ? SOFTMAX_FOCAL : CE_DENSE;
            Case k = base(l, 4, c, opt == 4 ? "issue 11 item 1: dense rows of zero targets"
                                            : "issue 11 item 1: class weight / alpha 0 at the label");
            k.cw = l != CE_DENSE;
            k.zl = opt == 1 ? 1e-3f : 0.f;
            k.cap = opt == 2 ? 20.f : 0.f;
            k.gamma = 2;
            k.edit = [c, l, nan, inf](Data& d) {
                d.x[1] = nan;
                d.x[c + 2] = inf;
                d.x[2 * c] = -inf;
                d.x[3 * c + 1] = nan;
                if (!d.y.empty()) {
                    d.y = {0, 0, 0, 1};
                    d.cw[0] = 0.f;
                    d.cw[1] = 1.f;
                }
                if (l == CE_DENSE) {
                    for (long long j = 0; j < 2 * c; ++j) d.t[j] = 0.f;  // rows 0 and 1: no mass
                    for (long long j = 2 * c; j < 3 * c; ++j) d.t[j] = j == 2 * c + 3 ? 1.f : 0.f;
                }
            };
            cs.push_back(k);
        }
    }
    // Element-wise drops: a binary class weight of 0, a pos_weight of 0, sigmoid focal alpha_t = 0.
    {
        Case k = base(BCE, 2, 4, "issue 11 item 1: BCE, binary class weight 0 / pos_weight 0");
        k.bcw = true;
        k.posw = true;
        k.edit = [nan, inf](Data& d) {
            d.x = {nan, inf, -inf, 3, nan, nan, inf, -inf};
            d.t = {0, 0, 0, 0, 1, 1, 1, 1};
            d.bcw = {0, 2};
            d.posw = {1, 0, 0, 2};
        };
        cs.push_back(k);
        for (float alpha : {0.f, 1.f}) {
            Case f = base(SIGMOID_FOCAL, 1, 4, "issue 11 item 1: sigmoid focal, alpha_t 0");
            f.alpha = alpha;
            f.gamma = 2;
            const float drop_t = alpha == 0.f ? 1.f : 0.f;
            f.edit = [nan, inf, drop_t](Data& d) {
                d.x = {nan, inf, -inf, nan};
                d.t = {drop_t, drop_t, drop_t, 1 - drop_t};
            };
            cs.push_back(f);
        }
    }
    // 2. Sigmoid focal targets outside [0, 1] (or NaN): NaN term and gradient, counted.
    for (float gamma : {0.f, 2.f, 1.5f}) {
        Case f = base(SIGMOID_FOCAL, 2, 6, "issue 11 item 2: sigmoid focal targets outside [0, 1]");
        f.gamma = gamma;
        f.alpha = gamma == 0.f ? -1.f : 0.25f;
        f.sw = true;
        f.edit = [inf](Data& d) {
            d.t = {-0.5f, 1.5f, NAN, inf, -inf, 1.0000001f, 0, 1, 0.3f, -0.f, 1e-30f, 0.999999f};
            d.sw = {1, 0};
        };
        cs.push_back(f);
    }
    // 3. Weighted terms beyond float range: +inf in the loss, the per-term losses and the count.
    for (Loss l : {CE, CE_DENSE, SOFTMAX_FOCAL}) {
        for (int reduction : {FLC_NONE, FLC_SUM}) {
            Case k = base(l, 3, 6, "issue 11 item 3: weighted terms beyond float range");
            k.reduction = reduction;
            k.sw = true;
            k.edit = [l](Data& d) {
                d.x.assign(18, 0.f);
                for (int i = 0; i < 3; ++i) d.x[6 * i + 1] = 1e10f;
                if (!d.y.empty()) d.y = {0, 0, 0};
                if (l == CE_DENSE) {
                    d.t.assign(18, 0.f);
                    for (int i = 0; i < 3; ++i) d.t[6 * i] = 1;
                }
                d.sw = {1e30f, 3e28f, 1e29f};
            };
            cs.push_back(k);
        }
    }
    {
        Case m = base(MSE, 3, 2, "issue 11 item 3: MSE beyond float range");
        m.sw = true;
        m.edit = [](Data& d) {
            d.x = {1e30f, 1e19f, 1e19f, 2, 1e30f, 3};
            d.t = {-1e30f, 0, 0, 1, -1e30f, 1};
            d.sw = {1, 10, 0};
        };
        cs.push_back(m);
    }
    // 4. Tiny weights with MEAN, a caller denominator of 1e-300, a factor whose products are subnormal.
    for (Loss l : {MSE, BCE, SIGMOID_FOCAL, CE, CE_DENSE, SOFTMAX_FOCAL}) {
        Case k = base(l, 3, softmax(l) ? 300 : 5, "issue 11 item 4: sample weights 1e-40, MEAN");
        k.reduction = FLC_MEAN;
        k.sw = true;
        k.gamma = 2;
        k.edit = [](Data& d) { d.sw = {1e-40f, 3e-40f, 2e-39f}; };
        cs.push_back(k);
        Case e = k;  // and element weights (the element-wise losses)
        if (!softmax(l)) {
            e.ew = true;
            e.note = "issue 11 item 4: element weights ~1e-40, MEAN";
            e.edit = [](Data& d) {
                d.sw = {1, 1, 1};
                for (size_t i = 0; i < d.ew.size(); ++i) d.ew[i] = (float)(1 + i % 3) * 1e-40f;
            };
            cs.push_back(e);
        }
        for (long long c : {1ll, 5ll}) {
            Case h = base(l, 2, c, "issue 11 item 4: denominator 1e-300");
            h.reduction = FLC_MEAN;
            h.denominator = 1e-300;
            h.gamma = 2;
            h.strict = false;
            if (l == MSE) h.edit = [](Data& d) { d.t = d.x; };  // x == t: a zero gradient, not NaN
            cs.push_back(h);
        }
    }
    {
        Case w = base(CE, 2, 2000, "issue 11 item 4: G eps / C subnormal (smoothing 1e-3, scale 1e-33)");
        w.reduction = FLC_SUM;
        w.eps = 1e-3f;
        w.scale = 1e-33;
        w.strict = false;
        cs.push_back(w);
    }
    return on_every_variant(cs);
}

std::vector<Case> check_cases(bool quick, bool small, bool sanitize, bool race) {
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
    if (sanitize) {  // every kernel, kept and streamed, float4 and scalar, in few launches
        soft_shapes = {{7, 3}, {5, 10}, {3, 1500}, {2, 20001}};
        elem_shapes = {{7, 3}, {33, 100}};
    }
    if (race) {  // racecheck, the slowest tool: every kernel once or twice
        soft_shapes = {{5, 10}, {2, 3000}, {2, 20000}};
        elem_shapes = {{7, 3}};
    }
    std::vector<std::string> variants = {"small", "warp", "block"};
    if (g_cluster_ok) variants.push_back("cluster");
    int i = 0;
    for (auto sh : soft_shapes) {
        for (Loss l : {CE, CE_DENSE, SOFTMAX_FOCAL}) {
            for (int opt = 0; opt < 4; ++opt) {
                if (sanitize && opt != 0 && opt != 3) continue;
                if (race && opt != 0) continue;
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
                if (sanitize && opt != 0 && opt != 3) continue;
                if (race && opt != 0) continue;
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
// The PEERS.md data, made on the device by bench/peers.txt's formulas (the hashes' constants and
// the uniform spans come from the file): bit for bit what the host formulas give.
struct DeviceUniform {
    unsigned long long multiplier, addend;
    double span, low;
};

__device__ uint32_t peers_hash(const DeviceUniform& u, uint64_t i) { return (uint32_t)(i * u.multiplier + u.addend); }

// targets: 0 none, 1 bits (hash >> shift), 2 uniform
__global__ void peers_fill(float* x, float* t, long long nc, DeviceUniform xs, int targets, DeviceUniform ts,
                           int shift) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < nc; i += (long long)gridDim.x * blockDim.x) {
        x[i] = (float)((double)peers_hash(xs, i) / 4294967296.0 * xs.span + xs.low);
        if (targets == 1) t[i] = (float)(peers_hash(ts, i) >> shift);
        if (targets == 2) t[i] = (float)((double)peers_hash(ts, i) / 4294967296.0 * ts.span + ts.low);
    }
}

DeviceUniform device_uniform(const PeersFile& f, const std::string& hash, double span, double low) {
    const PeersFile::Hash& h = f.hash(hash);
    return {h.multiplier, h.addend, span, low};
}

// The small inputs (labels, weights) on the host; the big ones are made by peers_fill.
Data peers_small(const PeersFile& f, const Case& k) {
    Data d;
    const long long n = k.n, c = k.c;
    if (k.loss == CE || k.loss == SOFTMAX_FOCAL) {
        d.y.resize(n);
        for (long long i = 0; i < n; ++i) d.y[i] = f.label(i, c);
    }
    if (k.cw) { d.cw.resize(c); for (long long j = 0; j < c; ++j) d.cw[j] = f.periodic.at("class_weights")(j); }
    if (k.sw) { d.sw.resize(n); for (long long i = 0; i < n; ++i) d.sw[i] = f.periodic.at("sample_weights")(i); }
    if (k.posw) { d.posw.resize(c); for (long long j = 0; j < c; ++j) d.posw[j] = f.periodic.at("pos_weight")(j); }
    return d;
}

float median(std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Forward + backward of every loss at the PEERS.md shapes and at 8192 x 128256 (an LLM
// vocabulary), against a device-to-device copy of the logits' bytes in the same process. Each
// timed repeat starts with the L2 cache flushed (a memset of twice its size, outside the timing,
// as llm.c's dev/cuda does); the median of 25 repeats after 3 warm-up runs. GB/s counts the
// logits read and the gradient written (2 N C 4 bytes), the copy its read and write.
void bench(const std::string& csv_path, const PeersFile& file) {
    struct B { const char* name; Case k; double expect; };
    auto ce = [](long long n, long long c, bool w) {
        Case k; k.loss = CE; k.n = n; k.c = c; k.cw = w; k.sw = w; k.reduction = FLC_MEAN; return k;
    };
    auto elem = [](Loss l, long long n, long long c) {
        Case k; k.loss = l; k.n = n; k.c = c; k.reduction = FLC_MEAN;
        k.posw = l == BCE; k.sw = l == MSE; k.alpha = 0.25f; k.gamma = 2.f;
        return k;
    };
    auto focal = [](long long n, long long c) {
        Case k; k.loss = SOFTMAX_FOCAL; k.n = n; k.c = c; k.gamma = 2.f; k.sw = true; k.reduction = FLC_MEAN; return k;
    };
    const long long LN = 8192, LC = 128256;  // an LLM vocabulary, 4.2 GB of logits
    std::vector<B> bs = {
        {"ce_weighted", ce(65536, 10, true), file.expected_loss("ce_weighted", 65536, 10)},
        {"ce_weighted", ce(4096, 1000, true), file.expected_loss("ce_weighted", 4096, 1000)},
        {"ce_weighted", ce(256, 32000, true), file.expected_loss("ce_weighted", 256, 32000)},
        {"ce_weighted", ce(1024, 128256, true), file.expected_loss("ce_weighted", 1024, 128256)},
        {"ce_weighted", ce(LN, LC, true), NAN},
        {"ce_mean", ce(65536, 10, false), file.expected_loss("ce_mean", 65536, 10)},
        {"ce_mean", ce(4096, 1000, false), file.expected_loss("ce_mean", 4096, 1000)},
        {"ce_mean", ce(256, 32000, false), file.expected_loss("ce_mean", 256, 32000)},
        {"ce_mean", ce(1024, 128256, false), file.expected_loss("ce_mean", 1024, 128256)},
        {"ce_mean", ce(LN, LC, false), NAN},
        {"bce_posw", elem(BCE, 65536, 100), file.expected_loss("bce_posw", 65536, 100)},
        {"bce_posw", elem(BCE, LN, LC), NAN},
        {"mse_weighted", elem(MSE, 65536, 100), file.expected_loss("mse_weighted", 65536, 100)},
        {"mse_weighted", elem(MSE, LN, LC), NAN},
        {"sigmoid_focal", elem(SIGMOID_FOCAL, 65536, 100), file.expected_loss("focal", 65536, 100)},
        {"sigmoid_focal", elem(SIGMOID_FOCAL, LN, LC), NAN},
        {"softmax_focal", focal(4096, 1000), NAN},
        {"softmax_focal", focal(1024, 128256), NAN},
        {"softmax_focal", focal(LN, LC), NAN},
    };
    // the streaming fallback of the cluster shapes too (what sm_80 and refused clusters run)
    for (size_t i = 0, n = bs.size(); i < n; ++i)
        if (softmax(bs[i].k.loss) && pick_variant(bs[i].k.c) == "cluster") {
            B b = bs[i];
            b.k.variant = "block";
            bs.push_back(b);
        }
    int l2 = 0;
    CK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
    const size_t flush_bytes = 2 * (size_t)std::max(l2, 1 << 20);
    void* flush;
    CK(cudaMalloc(&flush, flush_bytes));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    FILE* csv = csv_path.empty() ? nullptr : fopen(csv_path.c_str(), "w");
    if (csv) fprintf(csv, "case,n,c,kernel,loss,expect,ms,gbps,copy_ms,copy_gbps,pct_copy\n");
    printf("%-14s %14s %-8s %12s %10s %9s %8s %9s %9s %7s\n", "case", "N x C", "kernel", "loss", "expect",
           "ms", "GB/s", "copy ms", "copyGB/s", "%copy");
    const int warm = 3, reps = 25;
    auto timed = [&](const std::function<void()>& fn) {
        std::vector<float> t;
        for (int it = 0; it < warm + reps; ++it) {
            CK(cudaMemsetAsync(flush, it & 0xff, flush_bytes));  // L2 now holds none of the inputs
            CK(cudaEventRecord(e0));
            fn();
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (it >= warm) t.push_back(ms);
        }
        return median(t);
    };
    for (auto& b : bs) {
        Case k = b.k;
        k.grad = true;
        const Data small = peers_small(file, k);
        DevData dd;
        Data shapes_only = small;  // upload_all allocates what is present: x and t made below
        dd.upload_all(k, shapes_only);
        const long long nc = k.n * k.c;
        const size_t bytes = (size_t)nc * 4;
        CK(cudaMalloc(&dd.x, bytes));
        const int targets = k.loss == BCE || k.loss == SIGMOID_FOCAL ? 1 : k.loss == MSE ? 2 : 0;
        if (targets) CK(cudaMalloc(&dd.t, bytes));
        const PeersFile::Uniform& xu = file.uniforms.at("logits");
        const PeersFile::Uniform& tu = file.uniforms.at("regression_targets");
        const auto& tb = file.bits.at("binary_targets");
        peers_fill<<<1024, 256>>>(dd.x, dd.t, nc, device_uniform(file, xu.hash, xu.span, xu.low), targets,
                                  targets == 1 ? device_uniform(file, tb.first, 0, 0) : device_uniform(file, tu.hash, tu.span, tu.low),
                                  tb.second);
        CK(cudaGetLastError());
        float* cp;
        CK(cudaMalloc(&cp, bytes));
        const float mc = timed([&] { CK(cudaMemcpyAsync(cp, dd.x, bytes, cudaMemcpyDeviceToDevice)); });
        const float mk = timed([&] { gpu_call(k, dd); });
        const Outputs o = fetch_result(dd);
        const double gbk = 2.0 * bytes / (mk * 1e-3) / 1e9, gbc = 2.0 * bytes / (mc * 1e-3) / 1e9;
        char shape[32];
        snprintf(shape, sizeof shape, "%lldx%lld", k.n, k.c);
        const std::string v = softmax(k.loss) ? (k.variant.empty() ? pick_variant(k.c) : k.variant) : "elem";
        const bool mismatch = !isnan(b.expect) && fabs(o.loss - b.expect) > 2e-6 * fabs(b.expect) + 1e-6;
        printf("%-14s %14s %-8s %12.7f %10.6f %9.4f %8.1f %9.4f %9.1f %6.1f%%%s\n", b.name, shape, v.c_str(), o.loss,
               b.expect, mk, gbk, mc, gbc, 100.0 * gbk / gbc, mismatch ? "  LOSS MISMATCH" : "");
        if (csv)
            fprintf(csv, "%s,%lld,%lld,%s,%.9g,%.9g,%.6f,%.3f,%.6f,%.3f,%.2f\n", b.name, k.n, k.c, v.c_str(), o.loss,
                    b.expect, mk, gbk, mc, gbc, 100.0 * gbk / gbc);
        if (o.res[FLC_R_ERROR_CODE] != 0) printf("  error code %g\n", o.res[FLC_R_ERROR_CODE]);
        if (mismatch) ++g_failures;
        CK(cudaFree(cp));
        dd.free_all();
        fflush(stdout);
    }
    if (csv) fclose(csv);
    CK(cudaFree(flush));
}

}  // namespace

int main(int argc, char** argv) {
    std::string fatbin = FLC_DEFAULT_FATBIN, csv, peers = FL_PEERS_FILE;
    bool do_bench = false, quick = false, small = false, sanitize = false, race = false, verbose = false;
    uint64_t seed = 1234;
    const char* usage = "usage: %s [--fatbin PATH] [--quick | --small | --sanitize | --race] [--seed N] [-v]\n"
                        "       %s --bench [--fatbin PATH] [--csv FILE] [--peers FILE]\n";
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--fatbin") && i + 1 < argc) fatbin = argv[++i];
        else if (!strcmp(argv[i], "--bench")) do_bench = true;
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv = argv[++i];
        else if (!strcmp(argv[i], "--peers") && i + 1 < argc) peers = argv[++i];
        else if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--small")) small = true;
        else if (!strcmp(argv[i], "--sanitize")) sanitize = true;  // few launches, no repeat: for compute-sanitizer
        else if (!strcmp(argv[i], "--race")) race = true;          // fewer still: for racecheck
        else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) verbose = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], nullptr, 10);
        else { fprintf(stderr, usage, argv[0], argv[0]); return 2; }
    }
    int dev = 0;
    CK(cudaSetDevice(dev));
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, dev));
    g_cc_major = prop.major;
    int driver = 0, runtime = 0;
    CK(cudaDriverGetVersion(&driver));
    CK(cudaRuntimeGetVersion(&runtime));
    CK(cudaLibraryLoadFromFile(&g_lib, fatbin.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
    // The cluster shape is chosen only where a cluster of FLC_CLUSTER_SIZE blocks can be
    // scheduled (an MPS client's SM limit or a MIG slice may forbid it), as the Java side does.
    int clusters = 0;
    if (g_cc_major >= 9) {
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(FLC_CLUSTER_SIZE);
        cfg.blockDim = dim3(FLC_BLOCK_THREADS);
        const cudaError_t e = cudaOccupancyMaxActiveClusters(&clusters, (const void*)kernel("flc_cross_entropy_cluster"), &cfg);
        if (e != cudaSuccess) {
            printf("cudaOccupancyMaxActiveClusters: %s: the cluster kernels are not used\n", cudaGetErrorString(e));
            (void)cudaGetLastError();
            clusters = 0;
        }
        g_cluster_ok = clusters > 0;
    }
    printf("device %s (sm_%d%d, %d SMs, %d MB L2), driver CUDA %d.%d, runtime %d.%d, %d clusters of %d "
           "co-resident, fatbin %s, CPU ISA %s\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
           prop.l2CacheSize >> 20, driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10, clusters,
           FLC_CLUSTER_SIZE, fatbin.c_str(), fl_isa());
    if (do_bench) {
        bench(csv, PeersFile::read(peers));
        return g_failures ? 1 : 0;
    }
    if (sanitize || race) g_repeat = false;
    std::vector<Case> cs = check_cases(quick, small, sanitize, race);
    if (!race) {
        const std::vector<Case> issue = issue_cases(), issue11 = issue11_cases();
        cs.insert(cs.begin(), issue11.begin(), issue11.end());
        cs.insert(cs.begin(), issue.begin(), issue.end());  // the issues' cases first
    }
    uint64_t s = seed;
    for (const auto& k : cs) check_case(k, s++, verbose);
    if (!race) {
        check_errors();
        check_launch_shapes();
    }
    printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
