// dispatch.cpp: the extern "C" API. Checks arguments, picks the kernels of one instruction set,
// splits the rows into blocks and combines the block sums. Compiled with baseline x86-64 flags:
// nothing here may use AVX, since it runs before we know the CPU has it.
#include <cpuid.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "fusedloss.h"
#include "kernels.h"
#include "thread_pool.h"

namespace fl {
namespace {

// ----------------------------------------------------------------------------------- errors
thread_local std::string g_last_error;

struct Failure {
    int code;
    std::string message;
};

[[noreturn]] void fail(int code, const std::string& message) { throw Failure{code, message}; }

// Runs an entry point's body; no C++ exception crosses the C boundary.
template <class Body>
int guarded(const char* function, Body&& body) {
    try {
        body();
        return FL_OK;
    } catch (const Failure& f) {
        g_last_error = std::string(function) + ": " + f.message;
        return f.code;
    } catch (const std::bad_alloc&) {
        g_last_error = std::string(function) + ": out of memory";
    } catch (const std::exception& e) {
        g_last_error = std::string(function) + ": " + e.what();
    } catch (...) {
        g_last_error = std::string(function) + ": unknown internal error";
    }
    return FL_ERR_INTERNAL;
}

// -------------------------------------------------------------------------------- CPU / ISA
uint64_t xgetbv0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

bool cpu_has_avx2() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
    if (!osxsave || !avx || !fma) return false;
    if ((xgetbv0() & 0x6) != 0x6) return false;  // the OS saves XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return b & (1u << 5);
}

bool cpu_has_avx512() {
#if defined(FL_EMULATE_AVX512)
    return true;  // test builds: the AVX-512 unit is plain x86-64 code (avx512_emulation.h)
#else
    if (!cpu_has_avx2()) return false;
    if ((xgetbv0() & 0xE6) != 0xE6) return false;  // and opmask, ZMM0-15 upper, ZMM16-31
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);  // F DQ BW VL
    return (b & need) == need;
#endif
}

#define FL_TABLE(ns, label)                                                                     \
    KernelTable{label, ns::cross_entropy_rows, ns::softmax_focal_rows,                          \
                ns::binary_cross_entropy_rows, ns::mean_squared_error_rows, ns::sigmoid_focal_rows, \
                ns::weight_sums_rows}

struct Isa {
    KernelTable table;
    bool (*supported)();
};

bool always() { return true; }

const Isa kIsas[] = {  // best first
    {FL_TABLE(fl_avx512, "avx512"), cpu_has_avx512},
    {FL_TABLE(fl_avx2, "avx2"), cpu_has_avx2},
    {FL_TABLE(fl_scalar, "scalar"), always},
};

const Isa* find_isa(const char* name) {
    if (!name) return nullptr;
    for (const Isa& isa : kIsas)
        if (strcmp(isa.table.name, name) == 0) return &isa;
    return nullptr;
}

std::atomic<const KernelTable*> g_table{nullptr};
std::mutex g_isa_mutex;

// Picks a table from name; empty string on success, else why not.
std::string select_isa(const char* name) {
    const Isa* isa = find_isa(name);
    if (!isa)
        return std::string("unknown instruction set \"") + name + "\" (expected avx512, avx2 or scalar)";
    if (!isa->supported())
        return std::string("instruction set \"") + name + "\" is not supported by this CPU / OS";
    g_table.store(&isa->table, std::memory_order_release);
    return "";
}

// The table in use: the one fl_set_isa chose, else the best the CPU supports, chosen at the first
// call. The library reads no environment: its caller applies the settings (the Java side, README
// "Settings"), so a bad value is reported once, where it is read, and never by every call.
const KernelTable* kernels() {
    const KernelTable* t = g_table.load(std::memory_order_acquire);
    if (t) return t;
    std::lock_guard<std::mutex> lock(g_isa_mutex);
    t = g_table.load(std::memory_order_acquire);
    if (t) return t;
    for (const Isa& isa : kIsas)
        if (isa.supported()) {
            g_table.store(&isa.table, std::memory_order_release);
            break;
        }
    return g_table.load(std::memory_order_acquire);
}

// ------------------------------------------------------------------------------ row blocks
// Rows are split into blocks of about kBlockElements elements: the split depends only on the
// shape, each block sums its rows in order, and the block sums are added in block order, so the
// result is the same for every thread count. Jobs smaller than kInlineElements run on the
// caller's thread (waking workers would cost more than it saves).
constexpr int64_t kBlockElements = 16384;
constexpr int64_t kInlineElements = 32768;
// The weight pass reads a few bytes per term: below this many terms waking the workers costs more.
constexpr int64_t kInlineWeightTerms = 1 << 20;
// Gradients at least this large are written with non-temporal stores (they do not fit in cache
// with the logits anyway, and skipping the read-for-ownership saves a third of the traffic).
constexpr int64_t kStreamBytes = 16ll << 20;

template <class Fn>  // fn(row_begin, row_end, scratch, BlockSum*)
BlockSum run_rows(int64_t n, int64_t row_elements, size_t scratch_floats, Fn fn, double* result,
                  int64_t inline_below = kInlineElements) {
    const int64_t per_row = row_elements > 0 ? row_elements : 1;
    int64_t rows_per_block = per_row >= kBlockElements ? 1 : kBlockElements / per_row;
    // Long rows go up to 16 to a block (while there are at least 32 blocks): cross-entropy
    // overlaps a row's gradient writes with the next row's reads within a block.
    if (per_row >= fl::kLongRow)
        rows_per_block = std::max<int64_t>(rows_per_block, std::min<int64_t>(16, n / 32));
    const int64_t blocks = (n + rows_per_block - 1) / rows_per_block;
    std::vector<BlockSum> sums((size_t)blocks);
    struct Context {
        Fn* fn;
        int64_t n, rows_per_block;
        BlockSum* sums;
    } ctx{&fn, n, rows_per_block, sums.data()};
    Job job;
    job.ctx = &ctx;
    job.blocks = blocks;
    job.run = [](void* p, int64_t block, float* scratch) {
        Context& c = *(Context*)p;
        const int64_t r0 = block * c.rows_per_block;
        const int64_t r1 = r0 + c.rows_per_block < c.n ? r0 + c.rows_per_block : c.n;
        (*c.fn)(r0, r1, scratch, &c.sums[block]);
    };
    int participants = pool_threads();
    if (n * per_row < inline_below) participants = 1;
    if (participants > blocks) participants = (int)blocks;
    if (blocks > 0) pool_run(job, participants, scratch_floats);
    BlockSum total{0.0, 0};
    for (const BlockSum& s : sums) {
        total.sum += s.sum;
        total.nonfinite += s.nonfinite;
        total.ignored += s.ignored;
        if (total.first_bad < 0) total.first_bad = s.first_bad;
    }
    if (result) {
        result[0] = total.sum;
        result[1] = (double)total.nonfinite;
    }
    return total;
}

void check_shape(int64_t n, int64_t c, const char* c_name) {
    if (n < 0) fail(FL_ERR_ARGUMENT, "n must be >= 0, got " + std::to_string(n));
    if (c < 0) fail(FL_ERR_ARGUMENT, std::string(c_name) + " must be >= 0, got " + std::to_string(c));
    if (c > 0 && n > INT64_MAX / c) fail(FL_ERR_ARGUMENT, "n * c overflows");
}

void require(const void* p, const char* name) {
    if (!p) fail(FL_ERR_ARGUMENT, std::string(name) + " must not be NULL");
}

void check_labels(int64_t n, int64_t c, const int32_t* labels, int32_t ignore_index) {
    // First a branch-free pass the compiler vectorizes (at C = 10 a per-label branch cost 6 % of
    // the call); the loop below then names the first bad label, if any.
    if (c <= INT32_MAX) {
        const uint32_t classes = (uint32_t)c;
        uint32_t bad = 0;
        for (int64_t i = 0; i < n; ++i) {
            const int32_t y = labels[i];
            bad |= (uint32_t)(y != ignore_index) & (uint32_t)((uint32_t)y >= classes);  // y < 0 too
        }
        if (!bad) return;
    }
    for (int64_t i = 0; i < n; ++i) {
        const int32_t y = labels[i];
        if (y != ignore_index && (y < 0 || (int64_t)y >= c))
            fail(FL_ERR_LABEL, "label " + std::to_string(y) + " at row " + std::to_string(i) +
                                   " is outside [0, " + std::to_string(c) + ") and is not ignore_index " +
                                   std::to_string(ignore_index));
    }
}

bool stream_gradient(const float* grad, int64_t n, int64_t c) {
    return grad && n * c >= kStreamBytes / (int64_t)sizeof(float);
}

void run_softmax(SoftmaxRowsFn fn, const SoftmaxArgs& a, double* result) {
    run_rows(
        a.n, a.c, softmax_worker_floats(a.c),
        [&](int64_t r0, int64_t r1, float* scratch, BlockSum* out) { fn(a, r0, r1, scratch, out); }, result);
}

void run_elementwise(ElementwiseRowsFn fn, const ElementwiseArgs& a, double* result) {
    run_rows(
        a.n, a.k, 0,
        [&](int64_t r0, int64_t r1, float*, BlockSum* out) { fn(a, r0, r1, out); }, result);
}

void check_elementwise(int64_t n, int64_t k, const float* x, const float* t) {
    check_shape(n, k, "k");
    if (n > 0 && k > 0) {
        require(x, "logits / predictions");
        require(t, "targets");
    }
}

// The fields every softmax / element-wise call fills the same way; each loss adds its own options.
SoftmaxArgs softmax_args(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                         int32_t ignore_index, const float* class_weights,
                         const float* sample_weights, int64_t sample_weight_stride,
                         const float* upstream, double grad_scale, float* grad, float* per_term) {
    SoftmaxArgs a{};
    a.n = n;
    a.c = c;
    a.logits = logits;
    a.labels = labels;
    a.ignore_index = ignore_index;
    a.class_weights = class_weights;
    a.sample_weights = sample_weights;
    a.sample_weight_stride = sample_weight_stride;
    a.upstream = upstream;
    a.grad_scale = grad_scale;
    a.grad = grad;
    a.per_term = per_term;
    a.stream_grad = stream_gradient(grad, n, c);
    return a;
}

ElementwiseArgs elementwise_args(int64_t n, int64_t k, const float* x, const float* t,
                                 const float* sample_weights, int64_t sample_weight_stride,
                                 const float* element_weights, const float* upstream,
                                 double grad_scale, float* grad, float* per_term) {
    ElementwiseArgs a{};
    a.n = n;
    a.k = k;
    a.x = x;
    a.t = t;
    a.sample_weights = sample_weights;
    a.sample_weight_stride = sample_weight_stride;
    a.element_weights = element_weights;
    a.upstream = upstream;
    a.grad_scale = grad_scale;
    a.grad = grad;
    a.per_term = per_term;
    return a;
}

}  // namespace
}  // namespace fl

using namespace fl;

extern "C" {

int fl_cross_entropy(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                     const float* targets, int32_t ignore_index, const float* class_weights,
                     const float* sample_weights, int64_t sample_weight_stride,
                     float label_smoothing, float z_loss, float soft_cap, const float* upstream,
                     double grad_scale, float* grad, float* per_term, double* result) {
    return guarded("fl_cross_entropy", [&] {
        check_shape(n, c, "c");
        const KernelTable* k = kernels();
        if (n > 0) {
            require(logits, "logits");
            if (!labels && !targets) fail(FL_ERR_ARGUMENT, "labels or targets must be given");
            if (c < 1) fail(FL_ERR_ARGUMENT, "c must be >= 1");
            if (labels) check_labels(n, c, labels, ignore_index);
        }
        SoftmaxArgs a = softmax_args(n, c, logits, labels, ignore_index, class_weights, sample_weights,
                                     sample_weight_stride, upstream, grad_scale, grad, per_term);
        a.targets = labels ? nullptr : targets;
        a.smoothing = label_smoothing;
        a.z_loss = z_loss;
        a.soft_cap = soft_cap;
        run_softmax(k->cross_entropy, a, result);
    });
}

int fl_softmax_focal(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                     int32_t ignore_index, const float* alpha, float gamma,
                     const float* sample_weights, int64_t sample_weight_stride,
                     const float* upstream, double grad_scale, float* grad, float* per_term,
                     double* result) {
    return guarded("fl_softmax_focal", [&] {
        check_shape(n, c, "c");
        const KernelTable* k = kernels();
        if (n > 0) {
            require(logits, "logits");
            require(labels, "labels");
            if (c < 1) fail(FL_ERR_ARGUMENT, "c must be >= 1");
            check_labels(n, c, labels, ignore_index);
        }
        SoftmaxArgs a = softmax_args(n, c, logits, labels, ignore_index, alpha, sample_weights,
                                     sample_weight_stride, upstream, grad_scale, grad, per_term);
        a.gamma = gamma;
        run_softmax(k->softmax_focal, a, result);
    });
}

int fl_binary_cross_entropy(int64_t n, int64_t k, const float* logits, const float* targets,
                            const float* pos_weight, const float* binary_class_weights,
                            const float* sample_weights, int64_t sample_weight_stride,
                            const float* element_weights, const float* upstream,
                            double grad_scale, float* grad, float* per_term, double* result) {
    return guarded("fl_binary_cross_entropy", [&] {
        check_elementwise(n, k, logits, targets);
        ElementwiseArgs a = elementwise_args(n, k, logits, targets, sample_weights, sample_weight_stride,
                                             element_weights, upstream, grad_scale, grad, per_term);
        a.pos_weight = pos_weight;
        a.binary_class_weights = binary_class_weights;
        run_elementwise(kernels()->binary_cross_entropy, a, result);
    });
}

int fl_mean_squared_error(int64_t n, int64_t k, const float* predictions, const float* targets,
                          const float* sample_weights, int64_t sample_weight_stride,
                          const float* element_weights, const float* upstream, double grad_scale,
                          float* grad, float* per_term, double* result) {
    return guarded("fl_mean_squared_error", [&] {
        check_elementwise(n, k, predictions, targets);
        ElementwiseArgs a = elementwise_args(n, k, predictions, targets, sample_weights,
                                             sample_weight_stride, element_weights, upstream,
                                             grad_scale, grad, per_term);
        run_elementwise(kernels()->mean_squared_error, a, result);
    });
}

int fl_sigmoid_focal(int64_t n, int64_t k, const float* logits, const float* targets, float alpha,
                     float gamma, const float* sample_weights, int64_t sample_weight_stride,
                     const float* element_weights, const float* upstream, double grad_scale,
                     float* grad, float* per_term, double* result) {
    return guarded("fl_sigmoid_focal", [&] {
        check_elementwise(n, k, logits, targets);
        ElementwiseArgs a = elementwise_args(n, k, logits, targets, sample_weights, sample_weight_stride,
                                             element_weights, upstream, grad_scale, grad, per_term);
        a.alpha = alpha;
        a.gamma = gamma;
        run_elementwise(kernels()->sigmoid_focal, a, result);
    });
}

int fl_weight_sums(int64_t n, int64_t c, const int32_t* labels, int32_t ignore_index,
                   const float* class_weights, const float* sample_weights,
                   int64_t sample_weight_stride, const float* element_weights, double* result) {
    return guarded("fl_weight_sums", [&] {
        check_shape(n, c, "c");
        require(result, "result");
        if (element_weights && labels) fail(FL_ERR_ARGUMENT, "labels and element_weights exclude each other");
        if (labels && c < 1 && n > 0) fail(FL_ERR_ARGUMENT, "c must be >= 1 with labels");
        const KernelTable* k = kernels();
        const WeightArgs a{n, c, labels, ignore_index, class_weights, sample_weights,
                           sample_weight_stride, element_weights};
        const int64_t terms_per_row = element_weights ? c : 1;
        const BlockSum t = run_rows(
            n, terms_per_row, 0,
            [&](int64_t r0, int64_t r1, float*, BlockSum* out) { k->weight_sums(a, r0, r1, out); },
            nullptr, kInlineWeightTerms);
        if (t.first_bad >= 0) {  // the first row with a bad label or weight
            const int64_t row = t.first_bad;
            if (labels && weight_ok(sample_weights ? sample_weights[row * sample_weight_stride] : 1.0f))
                check_labels(n, c, labels, ignore_index);  // the weight is fine: name the label
            fail(FL_ERR_ARGUMENT, "row " + std::to_string(row) + " has a negative or infinite weight");
        }
        const int64_t terms = n * terms_per_row;
        result[0] = t.sum;
        result[1] = (double)(terms - t.nonfinite - t.ignored);
        result[2] = (double)t.nonfinite;
    });
}

const char* fl_isa(void) {
    try {
        return kernels()->name;
    } catch (...) {
        return "none";  // cannot happen: the scalar table is always supported
    }
}

int fl_isa_supported(const char* name) {
    const Isa* isa = find_isa(name);
    if (!isa) return -1;
    return isa->supported() ? 1 : 0;
}

int fl_set_isa(const char* name) {
    return guarded("fl_set_isa", [&] {
        if (!name) fail(FL_ERR_ARGUMENT, "name must not be NULL");
        std::lock_guard<std::mutex> lock(g_isa_mutex);
        std::string why = select_isa(name);
        if (!why.empty()) fail(FL_ERR_ARGUMENT, why);
    });
}

int fl_threads(void) {
    try {
        return pool_threads();
    } catch (...) {
        return 1;
    }
}

int fl_set_threads(int threads) {
    return guarded("fl_set_threads", [&] {
        if (threads < 1 || threads > kMaxThreads)
            fail(FL_ERR_ARGUMENT, "threads must be in [1, " + std::to_string(kMaxThreads) + "], got " +
                                      std::to_string(threads));
        pool_set_threads(threads);
    });
}

const char* fl_version(void) { return "0.1.0"; }

const char* fl_last_error(void) { return g_last_error.c_str(); }

}  // extern "C"
