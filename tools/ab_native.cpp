// ab_native: two builds of the native CPU library timed side by side in one process, on the PEERS.md
// data: calls of library A and library B alternate on the same buffers, and the figure is the median
// of the per-pair ratios B / A (on a shared, busy machine a ratio of two calls taken a few ms apart
// is far steadier than either time). Built and run by tools/ab_native.sh.
//
//   ab_native LIB_A.so LIB_B.so [--isa avx512,avx2] [--threads 1,2] [--seconds S] [--only TEXT]
//             [--grad-offset BYTES]
// (--only: the cases whose "name NxC" contains TEXT, e.g. "ce_weighted 256x32000"; --grad-offset:
// the gradient starts BYTES past the logits modulo 4 KiB, a multiple of 4, possibly negative; without
// it, where the allocator puts it. Rows of one chunk run up to 1.3x slower at some offsets:
// bench/MEASURED.md, "The gradient's offset from the logits".)
//
// Each library is a shared object made from libfusedloss.a (the C ABI of native/include/fusedloss.h),
// loaded with RTLD_LOCAL, so the two keep their own kernels, thread pools and settings.
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fusedloss.h"

namespace {

// The part of fusedloss.h's ABI this harness calls (fl_compute: main since the request ABI of issue 16).
struct Library {
    const char* path;
    int (*compute)(const fl_request*, double*);
    int (*set_isa)(const char*);
    int (*isa_supported)(const char*);
    int (*set_threads)(int);
    const char* (*last_error)();

    template <class F>
    void bind(void* h, F& f, const char* name) {
        f = reinterpret_cast<F>(dlsym(h, name));
        if (!f) {
            fprintf(stderr, "%s: no symbol %s\n", path, name);
            exit(2);
        }
    }

    explicit Library(const char* p) : path(p) {
        void* h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "%s\n", dlerror());
            exit(2);
        }
        bind(h, compute, "fl_compute");
        bind(h, set_isa, "fl_set_isa");
        bind(h, isa_supported, "fl_isa_supported");
        bind(h, set_threads, "fl_set_threads");
        bind(h, last_error, "fl_last_error");
    }
};

double now_ms() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

uint64_t h1(uint64_t i) { return (i * 2654435761ull + 12345ull) & 0xFFFFFFFFull; }
uint64_t h2(uint64_t i) { return (i * 2246822519ull + 7ull) & 0xFFFFFFFFull; }

// One PEERS.md case: its data (shared/PEERS.md's hash formulas) and the weighted call.
struct Case {
    std::string name;
    int64_t n, c;
    double expected;  // PEERS.md's loss, or NaN where it has none
    std::vector<float> x, t, cw, sw, pw, grad;
    std::vector<int32_t> labels;
    double denom = 0;
    float* g = nullptr;  // the gradient: grad.data(), or placed at --grad-offset

    Case(std::string nm, int64_t n_, int64_t c_, double e, const long* grad_offset)
        : name(std::move(nm)), n(n_), c(c_), expected(e) {
        x.resize(n * c);
        for (int64_t i = 0; i < n * c; ++i) x[i] = (float)(h1(i) / 4294967296.0 * 8 - 4);
        labels.resize(n);
        for (int64_t i = 0; i < n; ++i) labels[i] = (int32_t)((i * 7919 + 13) % c);
        cw.resize(c);
        for (int64_t j = 0; j < c; ++j) cw[j] = 0.5f + (j % 7) * 0.25f;
        sw.resize(n);
        for (int64_t i = 0; i < n; ++i) sw[i] = 0.25f + (i % 5) * 0.25f;
        pw.resize(c);
        for (int64_t j = 0; j < c; ++j) pw[j] = 1.0f + (j % 4) * 0.5f;
        const bool binary = name == "bce_posw" || name == "sigmoid_focal";
        if (binary || name == "mse_weighted") {
            t.resize(n * c);
            for (int64_t i = 0; i < n * c; ++i)
                t[i] = binary ? (float)(h2(i) >> 31) : (float)(h2(i) / 4294967296.0 * 8 - 4);
        }
        grad.resize(n * c + (grad_offset ? 1024 : 0));
        g = grad.data();
        if (grad_offset) {  // the first float whose distance from the logits is the offset, mod 4 KiB
            const uintptr_t want = ((uintptr_t)*grad_offset % 4096 + 4096) % 4096;
            while (((uintptr_t)g - (uintptr_t)x.data()) % 4096 != want) ++g;
        }
        if (name == "ce_weighted")  // MEAN over cw[y] * sw
            for (int64_t i = 0; i < n; ++i) denom += (double)cw[labels[i]] * sw[i];
        else if (name == "softmax_focal")  // MEAN over sw (alpha does not weigh the rows' count)
            for (int64_t i = 0; i < n; ++i) denom += (double)sw[i];
        else if (name == "mse_weighted")
            for (int64_t i = 0; i < n; ++i) denom += (double)sw[i] * c;
        else
            denom = (double)n * c;
    }

    // The call's mean loss: MEAN with the denominator given (no weight pass), the gradient written.
    double run(const Library& l) {
        fl_request r;
        memset(&r, 0, sizeof r);
        r.rows = n;
        r.cols = c;
        r.predictions = x.data();
        r.ignore_index = -100;
        r.sample_weight_stride = 1;
        r.gradient = g;
        r.reduction = FL_MEAN;
        r.gradient_scale = 1.0;
        r.denominator = denom;
        if (name == "ce_weighted") {
            r.loss = FL_CROSS_ENTROPY;
            r.labels = labels.data();
            r.sample_weights = sw.data();
            r.options.cross_entropy.class_weights = cw.data();
        } else if (name == "softmax_focal") {
            r.loss = FL_SOFTMAX_FOCAL;
            r.labels = labels.data();
            r.sample_weights = sw.data();
            r.options.softmax_focal.alpha = cw.data();
            r.options.softmax_focal.gamma = 2.0;
        } else if (name == "bce_posw") {
            r.loss = FL_BINARY_CROSS_ENTROPY;
            r.targets = t.data();
            r.options.binary_cross_entropy.pos_weight = pw.data();
        } else if (name == "mse_weighted") {
            r.loss = FL_MEAN_SQUARED_ERROR;
            r.targets = t.data();
            r.sample_weights = sw.data();
        } else {
            r.loss = FL_SIGMOID_FOCAL;
            r.targets = t.data();
            r.options.sigmoid_focal.alpha = 0.25;
            r.options.sigmoid_focal.gamma = 2.0;
        }
        double res[FL_RESULT_DOUBLES];
        if (l.compute(&r, res)) {
            fprintf(stderr, "%s: %s\n", l.path, l.last_error());
            exit(1);
        }
        return res[FL_R_LOSS];
    }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

std::vector<std::string> split(const char* s) {
    std::vector<std::string> out;
    std::string cur;
    for (const char* p = s;; ++p) {
        if (*p == ',' || !*p) {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
            if (!*p) break;
        } else {
            cur += *p;
        }
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s LIB_A.so LIB_B.so [--isa avx512,avx2] [--threads 1,2] [--seconds S] [--only TEXT]"
                " [--grad-offset BYTES]\n", argv[0]);
        return 2;
    }
    Library a(argv[1]), b(argv[2]);
    std::vector<std::string> isas = {"avx512", "avx2"};
    std::vector<std::string> threads = {"1", "2"};
    double seconds = 1.0;
    std::string only;  // a substring of "name NxC"
    long grad_offset = 0;
    bool has_grad_offset = false;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--isa")) isas = split(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = split(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else if (!strcmp(argv[i], "--grad-offset")) {
            grad_offset = atol(argv[i + 1]);
            has_grad_offset = true;
            if (grad_offset % 4 != 0) {
                fprintf(stderr, "--grad-offset %ld: a multiple of 4 bytes (a float)\n", grad_offset);
                return 2;
            }
        }
    }
    const double nan = __builtin_nan("");
    // only the cases that --only selects are built (1024 x 128256 takes 1 GiB)
    std::vector<Case> cases;
    auto add = [&](const char* name, int64_t n, int64_t c, double expected) {
        const std::string id = std::string(name) + " " + std::to_string(n) + "x" + std::to_string(c);
        if (id.find(only) != std::string::npos)
            cases.emplace_back(name, n, c, expected, has_grad_offset ? &grad_offset : nullptr);
    };
    add("ce_weighted", 65536, 10, 4.179278);
    add("ce_weighted", 4096, 1000, 8.826467);
    add("ce_weighted", 256, 32000, 12.415470);
    add("softmax_focal", 65536, 10, nan);
    add("softmax_focal", 65536, 100, nan);
    add("bce_posw", 65536, 100, 1.651441);
    add("sigmoid_focal", 65536, 100, 0.447684);
    add("mse_weighted", 65536, 100, 10.666798);
    add("ce_weighted", 1024, 128256, nan);
    add("softmax_focal", 4096, 1000, nan);
    add("softmax_focal", 256, 32000, nan);
    add("softmax_focal", 1024, 128256, nan);
    // beyond PEERS.md: shapes that once hit slow paths (non-temporal stores of mid-sized rows,
    // softmax rows past the rows-across-lanes limit, mid-sized rows read from memory without
    // reading ahead, the per-row loop of the element-wise losses at one or a few columns, their
    // rows' partial last vectors)
    add("ce_weighted", 262144, 100, nan);
    add("ce_weighted", 8192, 768, nan);
    add("ce_weighted", 16384, 512, nan);
    add("ce_weighted", 204800, 20, nan);
    add("ce_weighted", 65536, 40, nan);
    add("softmax_focal", 65536, 40, nan);
    add("bce_posw", 204800, 20, nan);
    add("bce_posw", 6553600, 1, nan);
    add("bce_posw", 409600, 16, nan);
    add("sigmoid_focal", 6553600, 1, nan);
    add("mse_weighted", 6553600, 1, nan);
    // in cache (L2): the kernels' arithmetic without the memory (BCE's distance from its compute floor)
    add("bce_posw", 512, 100, nan);
    add("sigmoid_focal", 512, 100, nan);
    add("ce_weighted", 128, 1000, nan);

    printf("A = %s\nB = %s\n", a.path, b.path);
    if (has_grad_offset) printf("the gradient starts %ld bytes past the logits, modulo 4 KiB\n", grad_offset);
    printf("weighted calls (CE: class + sample weights; softmax focal: alpha + sample weights, gamma 2; BCE: pos_weight;\n"
           "sigmoid focal: alpha 0.25, gamma 2; MSE: sample weights), MEAN, gradient written; A and B alternate,\n"
           "%.1f s per case; B/A = median of the per-pair ratios (below 1: B is faster)\n\n", seconds);
    printf("%-14s %-11s %-6s %3s %9s %9s %6s %6s %11s\n", "case", "N x C", "isa", "thr", "A ms", "B ms", "B/A",
           "pairs", "|loss B-A|");
    for (const std::string& isa : isas) {
        if (a.isa_supported(isa.c_str()) != 1 || a.set_isa(isa.c_str()) || b.set_isa(isa.c_str())) {
            printf("(%s: not supported here)\n", isa.c_str());
            continue;
        }
        for (const std::string& th : threads) {
            a.set_threads(atoi(th.c_str()));
            b.set_threads(atoi(th.c_str()));
            for (Case& cs : cases) {
                const double la = cs.run(a), lb = cs.run(b);  // warm up, and the two results
                if (!(cs.expected != cs.expected) && fabs(la - cs.expected) > 1e-5 * fabs(cs.expected)) {
                    fprintf(stderr, "%s %lldx%lld: loss %.7f, PEERS.md %.7f\n", cs.name.c_str(), (long long)cs.n,
                            (long long)cs.c, la, cs.expected);
                    return 1;
                }
                std::vector<double> ta, tb, ratio;
                const double start = now_ms();
                for (int k = 0; ratio.size() < 7 || (ratio.size() < 2001 && now_ms() - start < seconds * 1e3); ++k) {
                    // alternate which goes first, so neither always finds the other's cache state
                    auto timed = [&](const Library& l) {
                        const double t0 = now_ms();
                        cs.run(l);
                        return now_ms() - t0;
                    };
                    double da, db;
                    if (k % 2 == 0) {
                        da = timed(a);
                        db = timed(b);
                    } else {
                        db = timed(b);
                        da = timed(a);
                    }
                    ta.push_back(da);
                    tb.push_back(db);
                    ratio.push_back(db / da);
                }
                printf("%-14s %5lldx%-5lld %-6s %3s %9.3f %9.3f %6.3f %6zu %11.2e\n", cs.name.c_str(), (long long)cs.n,
                       (long long)cs.c, isa.c_str(), th.c_str(), median(ta), median(tb), median(ratio), ratio.size(),
                       fabs(lb - la));
                fflush(stdout);
            }
        }
    }
    return 0;
}
