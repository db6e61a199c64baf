// native_check --floor and --bench: timings, not checks. The compute floor of each loss per ISA
// and the copies it is measured against; the library at the PEERS.md shapes with their data.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <thread>
#include <time.h>

#include <xmmintrin.h>

#include "compute_floor.h"
#include "native_check.h"
#include "peer_data.h"

namespace fl_check {
namespace {

// ----------------------------------------------------------------------------- compute floor
// The compute floor (compute_floor.cpp): each loss's own math over L1-resident data, rows across
// the lanes, timed here per ISA and scaled to a shape. Every thread runs the floor kernel at once
// on its own data (two threads share what the machine shares: the L3, the memory bus, the host),
// and the per-thread CPU time is taken, so a busy machine's waiting for the CPU does not count.
enum class FloorKind { softmax, softmax_focal, bce, sigmoid_focal, mse };

struct FloorFns {
    float (*softmax)(float*, int, bool);
    float (*elementwise)(FloorLoss, const float*, const float*, float*, int);
    int (*lanes)();
};

FloorFns floor_fns(const std::string& isa) {
    if (isa == "avx512") return {fl_avx512::floor_softmax, fl_avx512::floor_elementwise, fl_avx512::floor_lanes};
    if (isa == "avx2") return {fl_avx2::floor_softmax, fl_avx2::floor_elementwise, fl_avx2::floor_lanes};
    return {fl_scalar::floor_softmax, fl_scalar::floor_elementwise, fl_scalar::floor_lanes};
}

double thread_cpu_ns() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

constexpr int kFloorCols = 256;        // softmax block: lanes x 256 columns (16 KiB with AVX-512)
constexpr int kFloorElements = 2048;   // element-wise: x, t and g of 8 KiB each

// CPU ns of one floor call on one thread, while `threads` threads run it: the median of 15
// batches of ~2 ms each, averaged over the threads.
double floor_call_ns(const std::string& isa, FloorKind kind, int cols, int threads) {
    const FloorFns f = floor_fns(isa);
    auto one_thread = [&](double* out) {
        const int lanes = f.lanes();
        std::vector<float> block((size_t)lanes * kFloorCols), x(kFloorElements), t(kFloorElements), g(kFloorElements);
        Rng rng{12345};
        auto refill = [&] {  // the softmax floor works in place: fresh logits for each call
            for (auto& v : block) v = rng.range(-4, 4);
        };
        for (int i = 0; i < kFloorElements; ++i) {
            x[i] = rng.range(-4, 4);
            t[i] = kind == FloorKind::mse ? rng.range(-4, 4) : (float)(rng.next() >> 63);
        }
        refill();
        std::vector<float> fresh = block;
        volatile float sink = 0;
        auto call = [&] {
            switch (kind) {
                case FloorKind::softmax:
                case FloorKind::softmax_focal:
                    memcpy(block.data(), fresh.data(), (size_t)lanes * cols * sizeof(float));
                    sink = sink + f.softmax(block.data(), cols, kind == FloorKind::softmax_focal);
                    break;
                case FloorKind::bce:
                    sink = sink + f.elementwise(FloorLoss::bce, x.data(), t.data(), g.data(), kFloorElements);
                    break;
                case FloorKind::sigmoid_focal:
                    sink = sink + f.elementwise(FloorLoss::sigmoid_focal, x.data(), t.data(), g.data(), kFloorElements);
                    break;
                case FloorKind::mse:
                    sink = sink + f.elementwise(FloorLoss::mse, x.data(), t.data(), g.data(), kFloorElements);
                    break;
            }
        };
        // the copy that restores the softmax block is timed apart and taken off
        auto restore_only = [&] { memcpy(block.data(), fresh.data(), (size_t)lanes * cols * sizeof(float)); };
        auto batch_ns = [&](auto&& fn) {
            int calls = 0;
            const double t0 = thread_cpu_ns();
            double t1 = t0;
            while (t1 - t0 < 2e6) {
                for (int k = 0; k < 16; ++k) fn();
                calls += 16;
                t1 = thread_cpu_ns();
            }
            return (t1 - t0) / calls;
        };
        for (int w = 0; w < 3; ++w) batch_ns(call);  // warm-up
        std::vector<double> per_call;
        for (int b = 0; b < 15; ++b) {
            double ns = batch_ns(call);
            if (kind == FloorKind::softmax || kind == FloorKind::softmax_focal) ns -= batch_ns(restore_only);
            per_call.push_back(ns);
        }
        std::sort(per_call.begin(), per_call.end());
        *out = per_call[per_call.size() / 2];
    };
    std::vector<double> ns(threads);
    std::vector<std::thread> pool;
    for (int k = 1; k < threads; ++k) pool.emplace_back(one_thread, &ns[k]);
    one_thread(&ns[0]);
    for (auto& th : pool) th.join();
    double sum = 0;
    for (double v : ns) sum += v;
    return sum / threads;
}

// The floor of a whole call at n x c on `threads` threads, in ms.
double floor_ms(const std::string& isa, FloorKind kind, int64_t n, int64_t c, int threads) {
    const int lanes = floor_fns(isa).lanes();
    if (kind == FloorKind::softmax || kind == FloorKind::softmax_focal) {
        const int cols = (int)std::min<int64_t>(c, kFloorCols);
        const double blocks = (double)n / lanes * ((double)c / cols);  // a block: lanes rows x cols classes
        return blocks * floor_call_ns(isa, kind, cols, threads) / threads / 1e6;
    }
    return (double)n * c / kFloorElements * floor_call_ns(isa, kind, 0, threads) / threads / 1e6;
}

struct FloorCase {
    const char* loss;  // as the Java summary names it
    FloorKind kind;
    int64_t n, c;
};

const std::vector<FloorCase>& floor_cases() {
    static const std::vector<FloorCase> cases = {
        {"CrossEntropy", FloorKind::softmax, 65536, 10},         {"CrossEntropy", FloorKind::softmax, 4096, 1000},
        {"CrossEntropy", FloorKind::softmax, 256, 32000},        {"CrossEntropy", FloorKind::softmax, 1024, 128256},
        {"SoftmaxFocal", FloorKind::softmax_focal, 4096, 1000},  {"SoftmaxFocal", FloorKind::softmax_focal, 256, 32000},
        {"SoftmaxFocal", FloorKind::softmax_focal, 65536, 10},   {"SoftmaxFocal", FloorKind::softmax_focal, 1024, 128256},
        {"BinaryCrossEntropy", FloorKind::bce, 65536, 100},      {"SigmoidFocal", FloorKind::sigmoid_focal, 65536, 100},
        {"MeanSquaredError", FloorKind::mse, 65536, 100},
    };
    return cases;
}

// A copy with non-temporal stores (baseline SSE: movntps), the head stored plainly until 16-byte
// aligned: it reads and writes the same bytes as a copy, without the read-for-ownership of the
// destination lines, the way the softmax losses write a large gradient.
void stream_copy(float* dst, const float* src, int64_t count) {
    int64_t i = 0;
    for (; i < count && (uintptr_t)(dst + i) % 16; ++i) dst[i] = src[i];
    for (; i + 4 <= count; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
    for (; i < count; ++i) dst[i] = src[i];
    _mm_sfence();
}

// The bandwidth yardstick at n x c on `threads` threads: memcpy (ordinary stores at these sizes:
// every destination line is read before it is written) and stream_copy, alternated, 15 pairs;
// "copy <threads> <n>x<c> <memcpy ms> <stream ms> <median of the stream / memcpy ratios>".
void print_copy(int64_t n, int64_t c, int threads) {
    const int64_t count = n * c;
    std::vector<float> src(count, 1.0f), dst(count, 0.0f);
    auto split = [&](void (*copy)(float*, const float*, int64_t)) {
        if (threads == 1) return copy(dst.data(), src.data(), count);
        const int64_t half = count / 2 / 16 * 16;  // whole 64-byte lines per thread
        std::thread other([&] { copy(dst.data() + half, src.data() + half, count - half); });
        copy(dst.data(), src.data(), half);
        other.join();
    };
    auto plain = [](float* d, const float* s, int64_t k) { memcpy(d, s, (size_t)k * sizeof(float)); };
    std::vector<double> tp, ts, ratio;
    for (int r = 0; r < 17; ++r) {
        const double t0 = now_ms();
        split(plain);
        const double t1 = now_ms();
        split(stream_copy);
        const double t2 = now_ms();
        if (r < 2) continue;  // warm-up: first touch, caches
        tp.push_back(t1 - t0);
        ts.push_back(t2 - t1);
        ratio.push_back((t2 - t1) / (t1 - t0));
    }
    std::sort(tp.begin(), tp.end());
    std::sort(ts.begin(), ts.end());
    std::sort(ratio.begin(), ratio.end());
    printf("copy %d %lldx%lld %.5f %.5f %.4f\n", threads, (long long)n, (long long)c, tp[tp.size() / 2],
           ts[ts.size() / 2], ratio[ratio.size() / 2]);
    fflush(stdout);
}

}  // namespace

// One line per ISA, thread count and case: "floor <isa> <threads> <loss> <n>x<c> <ms> <ns per element per thread>".
void print_floors() {
    printf("compute floor: each loss's own math over L1-resident data, rows across lanes (compute_floor.cpp);\n"
           "ms for the whole shape on that many threads, from the per-thread CPU time with every thread busy\n");
    for (const char* isa : {"avx512", "avx2", "scalar"}) {
        if (fl_isa_supported(isa) != 1) continue;
        for (int threads : {1, 2})
            for (const FloorCase& fc : floor_cases()) {
                const double ms = floor_ms(isa, fc.kind, fc.n, fc.c, threads);
                printf("floor %s %d %s %lldx%lld %.5f %.4f\n", isa, threads, fc.loss, (long long)fc.n, (long long)fc.c, ms,
                       ms * 1e6 * threads / ((double)fc.n * fc.c));
                fflush(stdout);
            }
    }
    printf("copies: memcpy and a non-temporal-store copy of the same bytes (x -> grad), ms, and their paired ratio\n");
    for (int64_t n_c : {65536LL * 10, 4096LL * 1000, 256LL * 32000, 1024LL * 128256, 65536LL * 100})
        for (int threads : {1, 2}) {
            const FloorCase* fc = nullptr;
            for (const FloorCase& f : floor_cases())
                if (f.n * f.c == n_c) fc = &f;
            print_copy(fc->n, fc->c, threads);
        }
}

namespace {

// ----------------------------------------------------------------------------------- bench

double cpu_ms() {  // CPU time of the whole process (all threads)
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Median wall time of f; *cpu receives the median CPU time (all threads) per run. On a shared,
// busy machine the CPU time is the steadier figure.
template <class F>
double median_ms(F f, double budget_ms, double* cpu = nullptr) {
    f();  // warm up
    std::vector<double> t, c;
    const double start = now_ms();
    while (t.size() < 5 || (t.size() < 31 && now_ms() - start < budget_ms)) {
        const double t0 = now_ms(), c0 = cpu_ms();
        f();
        t.push_back(now_ms() - t0);
        c.push_back(cpu_ms() - c0);
    }
    std::sort(t.begin(), t.end());
    std::sort(c.begin(), c.end());
    if (cpu) *cpu = c[c.size() / 2];
    return t[t.size() / 2];
}

// STREAM-like copy: memcpy (glibc picks non-temporal stores for large sizes) or a plain loop
// (STREAM's own kernel), split over `threads` threads.
void copy_threads(float* dst, const float* src, int64_t count, int threads, bool plain_loop) {
    auto copy = [=](int64_t a, int64_t b) {
        if (plain_loop)
            for (int64_t i = a; i < b; ++i) dst[i] = src[i];
        else
            memcpy(dst + a, src + a, (b - a) * 4);
    };
    if (threads == 1) return copy(0, count);
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) pool.emplace_back(copy, count * k / threads, count * (k + 1) / threads);
    for (auto& th : pool) th.join();
}

struct PeerData {
    std::vector<float> x, t, cw, sw, pw;
    std::vector<int32_t> labels;
};

// The PEERS.md data of one shape, by the formulas of bench/peers.txt.
PeerData peer_data(const PeersFile& f, int64_t n, int64_t c, bool binary, bool regression) {
    PeerData d;
    d.x.resize(n * c);
    for (int64_t i = 0; i < n * c; ++i) d.x[i] = f.uniform("logits", i);
    d.labels.resize(n);
    for (int64_t i = 0; i < n; ++i) d.labels[i] = f.label(i, c);
    d.cw.resize(c);
    for (int64_t j = 0; j < c; ++j) d.cw[j] = f.periodic.at("class_weights")(j);
    d.sw.resize(n);
    for (int64_t i = 0; i < n; ++i) d.sw[i] = f.periodic.at("sample_weights")(i);
    if (binary || regression) {
        d.t.resize(n * c);
        for (int64_t i = 0; i < n * c; ++i)
            d.t[i] = binary ? f.bit("binary_targets", i) : f.uniform("regression_targets", i);
    }
    d.pw.resize(c);
    for (int64_t j = 0; j < c; ++j) d.pw[j] = f.periodic.at("pos_weight")(j);
    return d;
}

}  // namespace

void bench(bool quick, const std::string& peers) {
    const PeersFile file = PeersFile::read(peers);
    printf("timing mode: median of >= 5 runs, loss + gradient, float32; copy = the faster of memcpy and\n"
           "a plain copy loop of the same bytes (x -> grad), same threads; GB/s counts 2 * N * C * 4 bytes;\n"
           "isa %s\n\n", fl_isa());
    printf("%-14s %-13s %3s %9s %9s %8s %9s %6s %9s %9s\n", "case", "N x C", "thr", "ms", "cpu ms", "GB/s",
           "copy GB/s", "frac", "loss", "expected");
    struct Case {
        const char* name;
        int64_t n, c;
        const char* peer;  // the case's name in bench/peers.txt
    };
    std::vector<Case> cases = {
        {"ce_weighted", 65536, 10, "ce_weighted"},    {"ce_mean", 65536, 10, "ce_mean"},
        {"ce_weighted", 4096, 1000, "ce_weighted"},   {"ce_mean", 4096, 1000, "ce_mean"},
        {"ce_weighted", 256, 32000, "ce_weighted"},   {"ce_mean", 256, 32000, "ce_mean"},
        {"ce_weighted", 1024, 128256, "ce_weighted"}, {"ce_mean", 1024, 128256, "ce_mean"},
        {"bce_posw", 65536, 100, "bce_posw"},         {"mse_weighted", 65536, 100, "mse_weighted"},
        {"sigmoid_focal", 65536, 100, "focal"},
    };
    for (const Case& cs : cases) {
        if (quick && cs.c == 128256) continue;
        const std::string name = cs.name;
        const bool binary = name == "bce_posw" || name == "sigmoid_focal";
        PeerData d = peer_data(file, cs.n, cs.c, binary, name == "mse_weighted");
        std::vector<float> grad(cs.n * cs.c);
        double denom = 0;
        if (name == "ce_weighted")
            for (int64_t i = 0; i < cs.n; ++i) denom += (double)d.cw[d.labels[i]] * d.sw[i];
        else if (name == "ce_mean")
            denom = (double)cs.n;
        else if (name == "mse_weighted")
            for (int64_t i = 0; i < cs.n; ++i) denom += (double)d.sw[i] * cs.c;
        else
            denom = (double)cs.n * cs.c;
        double res[FL_RESULT_DOUBLES];
        fl_request q{};
        q.rows = cs.n;
        q.cols = cs.c;
        q.predictions = d.x.data();
        q.ignore_index = -100;
        q.gradient = grad.data();
        q.reduction = FL_SUM;
        q.gradient_scale = 1.0 / denom;
        q.denominator = 1.0;
        if (name == "ce_weighted" || name == "ce_mean") {
            q.loss = FL_CROSS_ENTROPY;
            q.labels = d.labels.data();
            if (name == "ce_weighted") {
                q.options.cross_entropy.class_weights = d.cw.data();
                q.sample_weights = d.sw.data();
                q.sample_weight_stride = 1;
            }
        } else if (name == "bce_posw") {
            q.loss = FL_BINARY_CROSS_ENTROPY;
            q.targets = d.t.data();
            q.options.binary_cross_entropy.pos_weight = d.pw.data();
        } else if (name == "mse_weighted") {
            q.loss = FL_MEAN_SQUARED_ERROR;
            q.targets = d.t.data();
            q.sample_weights = d.sw.data();
            q.sample_weight_stride = 1;
        } else {
            q.loss = FL_SIGMOID_FOCAL;
            q.targets = d.t.data();
            q.options.sigmoid_focal = {0.25, 2.0};
        }
        auto run = [&] {
            if (fl_compute(&q, res)) {
                printf("error: %s\n", fl_last_error());
                exit(1);
            }
        };
        const double bytes = 2.0 * cs.n * cs.c * 4;
        for (int threads : {1, 2}) {
            fl_set_threads(threads);
            double cpu = 0;
            const double ms = median_ms(run, quick ? 200 : 800, &cpu);
            // the faster of the two copies is the reference
            const double copy_ms = std::min(
                median_ms([&] { copy_threads(grad.data(), d.x.data(), cs.n * cs.c, threads, false); }, quick ? 100 : 300),
                median_ms([&] { copy_threads(grad.data(), d.x.data(), cs.n * cs.c, threads, true); }, quick ? 100 : 300));
            const double gbs = bytes / ms / 1e6, copy_gbs = bytes / copy_ms / 1e6;
            printf("%-14s %6lldx%-6lld %3d %9.3f %9.3f %8.2f %9.2f %6.2f %9.6f %9.6f\n", cs.name, (long long)cs.n,
                   (long long)cs.c, threads, ms, cpu, gbs, copy_gbs, gbs / copy_gbs, res[FL_R_LOSS_SUM] / denom, file.expected_loss(cs.peer, cs.n, cs.c));
            fflush(stdout);
        }
    }
}

}  // namespace fl_check
