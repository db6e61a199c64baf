// dispatch.cpp: the extern "C" API. Checks a request, picks the kernels of one instruction set
// (one table per ISA, generated from FL_LOSSES), splits the rows into blocks and combines the
// block sums. Compiled with baseline x86-64 flags: nothing here may use AVX, since it runs before
// we know the CPU has it.
#include <cpuid.h>
#include <math.h>
#include <stddef.h>
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

// Whether the long softmax rows read their logits ahead with non-temporal prefetches: on AMD's
// Zen 4 they beat prefetcht0 (CE 1024 x 128256, 1 thread: T0 on the next chunk 1.05-1.19 slower),
// on an Intel Xeon with AVX-512 they were the slowest hint by far (prefetcht0 against them: CE
// 1024 x 128256 0.62-0.65 of the time, 256 x 32000 0.70-0.77, 4096 x 1000 0.88-0.91 with AVX-512),
// bench/MEASURED.md 2026-12-06. So non-temporal on AMD (and Hygon, its Zen licensee), T0 elsewhere.
// The element-wise losses read ahead only off AMD (Intel: 0.85-0.98; not measured on AMD).
bool cpu_prefers_nta_read_ahead() {
    static const bool amd = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
        char vendor[13];
        memcpy(vendor, &b, 4);
        memcpy(vendor + 4, &d, 4);
        memcpy(vendor + 8, &c, 4);
        vendor[12] = 0;
        return !strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine");
    }();
    return amd;
}

// One ISA's table from FL_LOSSES: each loss's kernel in the array of its family, nullptr in the
// other. FL_TABLE_NS names the ISA's namespace while a table is being built.
#define FL_SOFTMAX_softmax(kernel) &FL_TABLE_NS::kernel##_rows
#define FL_SOFTMAX_elementwise(kernel) nullptr
#define FL_ELEMENTWISE_softmax(kernel) nullptr
#define FL_ELEMENTWISE_elementwise(kernel) &FL_TABLE_NS::kernel##_rows
#define FL_SOFTMAX_ENTRY(name, kernel, family) FL_SOFTMAX_##family(kernel),
#define FL_ELEMENTWISE_ENTRY(name, kernel, family) FL_ELEMENTWISE_##family(kernel),
#define FL_TABLE(label) \
    KernelTable{label, {FL_LOSSES(FL_SOFTMAX_ENTRY)}, {FL_LOSSES(FL_ELEMENTWISE_ENTRY)}, &FL_TABLE_NS::weight_sums_rows}

struct Isa {
    KernelTable table;
    bool (*supported)();
};

bool always() { return true; }

#define FL_TABLE_NS fl_avx512
const KernelTable kAvx512 = FL_TABLE("avx512");
#undef FL_TABLE_NS
#define FL_TABLE_NS fl_avx2
const KernelTable kAvx2 = FL_TABLE("avx2");
#undef FL_TABLE_NS
#define FL_TABLE_NS fl_scalar
const KernelTable kScalar = FL_TABLE("scalar");
#undef FL_TABLE_NS

const Isa kIsas[] = {  // best first
    {kAvx512, cpu_has_avx512},
    {kAvx2, cpu_has_avx2},
    {kScalar, always},
};
constexpr int kIsaCount = (int)(sizeof kIsas / sizeof kIsas[0]);

const Isa* find_isa(const char* name) {
    if (!name) return nullptr;
    for (const Isa& isa : kIsas)
        if (strcmp(isa.table.name, name) == 0) return &isa;
    return nullptr;
}

std::atomic<const KernelTable*> g_table{nullptr};
std::mutex g_isa_mutex;

// "avx512, avx2 or scalar": the names, best first.
std::string isa_names() {
    std::string names;
    for (int i = 0; i < kIsaCount; ++i)
        names += std::string(i == 0 ? "" : i + 1 == kIsaCount ? " or " : ", ") + kIsas[i].table.name;
    return names;
}

// Picks a table from name; empty string on success, else why not.
std::string select_isa(const char* name) {
    const Isa* isa = find_isa(name);
    if (!isa)
        return std::string("unknown instruction set \"") + name + "\" (expected " + isa_names() + ")";
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
// The weight pass reads a few bytes per term, but the main pass right after it wakes the workers
// anyway (and they spin between calls): CE 65536 x 10, 2 threads, Zen 4: 0.246 -> 0.236 ms with
// this pass on both threads.
constexpr int64_t kInlineWeightTerms = kInlineElements;
// Gradients at least this large are written with non-temporal stores (they do not fit in cache
// with the logits anyway, and skipping the read-for-ownership saves a third of the traffic), but
// only by long rows (kLongRow), which write them during the next row's reads. Rows written as a
// burst after their pass 1 ran 1.3x to 6x slower with them (Zen 4, 2026-12-05: CE 262144 x 100
// 110 ms against 18.7, 65536 x 1000 48.5 against 29.4, softmax focal 65536 x 100 23.2 against 5.6),
// while rows of 2000 and 32000 classes gained 1.05x and 1.6x; rows of up to 16 classes were even.
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
    // the call), in row blocks on the pool as the weight pass does; the loop below then names the
    // first bad label, if any.
    if (c <= INT32_MAX) {
        const uint32_t classes = (uint32_t)c;
        auto check = [&](int64_t r0, int64_t r1, float*, BlockSum* out) {
            uint32_t bad = 0;
            for (int64_t i = r0; i < r1; ++i) {
                const int32_t y = labels[i];
                bad |= (uint32_t)(y != ignore_index) & (uint32_t)((uint32_t)y >= classes);  // y < 0 too
            }
            if (bad) out->first_bad = r0;
        };
        if (run_rows(n, 1, 0, check, nullptr, kInlineWeightTerms).first_bad < 0) return;
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
    return grad && c >= fl::kLongRow && n * c >= kStreamBytes / (int64_t)sizeof(float);
}

// ------------------------------------------------------------------------------ requests
// What the dispatch knows of each loss, from FL_LOSSES.
struct LossInfo {
    const char* kernel;
    bool softmax;  // a term per row (else per element)
};
#define FL_IS_SOFTMAX_softmax true
#define FL_IS_SOFTMAX_elementwise false
#define FL_LOSS_INFO(name, kernel, family) {#kernel, FL_IS_SOFTMAX_##family},
constexpr LossInfo kLosses[FL_LOSS_COUNT] = {FL_LOSSES(FL_LOSS_INFO)};
#undef FL_LOSS_INFO

bool takes_labels(int64_t loss) { return loss == FL_CROSS_ENTROPY || loss == FL_SOFTMAX_FOCAL; }

// The per-class vector that weighs a row in the MEAN denominator: cross-entropy's class weights.
const float* denominator_class_weights(const fl_request& r) {
    return r.loss == FL_CROSS_ENTROPY ? r.options.cross_entropy.class_weights : nullptr;
}

// The checks of fl_compute; the weight pass (compute false) reads no predictions or targets.
void check_request(const fl_request* r, bool compute) {
    require(r, "request");
    if (r->loss < 0 || r->loss >= FL_LOSS_COUNT)
        fail(FL_ERR_ARGUMENT, "loss " + std::to_string(r->loss) + " is not an fl_loss");
    if (r->reduction < FL_NONE || r->reduction > FL_BATCH_MEAN)
        fail(FL_ERR_ARGUMENT, "reduction " + std::to_string(r->reduction) + " is not one of FL_NONE .. FL_BATCH_MEAN");
    check_shape(r->rows, r->cols, "cols");
    if (r->sample_weights && r->sample_weight_stride < 1)
        fail(FL_ERR_ARGUMENT, "sample_weight_stride must be >= 1, got " + std::to_string(r->sample_weight_stride));
    if (r->rows > 0 && r->cols > 0) {
        if (compute) require(r->predictions, "predictions");
        if (takes_labels(r->loss))
            require(r->labels, "labels");
        else if (compute)
            require(r->targets, "targets");
    }
    if (kLosses[r->loss].softmax && r->rows > 0 && r->cols < 1) fail(FL_ERR_ARGUMENT, "cols must be >= 1");
}

void check_labels(const fl_request& r) {
    check_labels(r.rows, r.cols, r.labels, (int32_t)r.ignore_index);
}

// The weight pass (fl_weight_sums): result[FL_R_WEIGHT_SUM], [FL_R_COUNTED], [FL_R_MASKED] and
// [FL_R_DENOMINATOR]; returns the denominator.
double weight_pass(const fl_request& r, const KernelTable* k, double* result) {
    const bool softmax = kLosses[r.loss].softmax;
    const float* ew = softmax ? nullptr : r.element_weights;
    const WeightArgs a{r.rows, r.cols, takes_labels(r.loss) ? r.labels : nullptr, (int32_t)r.ignore_index,
                       denominator_class_weights(r), r.sample_weights,
                       r.sample_weights ? r.sample_weight_stride : 1, ew};
    const int64_t terms_per_row = ew ? r.cols : 1;
    const BlockSum t = run_rows(
        r.rows, terms_per_row, 0,
        [&](int64_t r0, int64_t r1, float*, BlockSum* out) { k->weight_sums(a, r0, r1, out); }, nullptr,
        kInlineWeightTerms);
    if (t.first_bad >= 0) {  // the first row with a bad label or weight
        const int64_t row = t.first_bad;
        if (a.labels && weight_ok(a.sample_weights ? a.sample_weights[row * a.sample_weight_stride] : 1.0f))
            check_labels(r);  // the weight is fine: name the label
        fail(FL_ERR_ARGUMENT, "row " + std::to_string(row) + " has a negative or infinite weight");
    }
    // an element-wise loss without element weights: each pass term is a row of cols terms
    const double per_term = !softmax && !ew ? (double)r.cols : 1.0;
    const int64_t terms = r.rows * terms_per_row;
    const double counted = (double)(terms - t.nonfinite - t.ignored) * per_term;
    result[FL_R_WEIGHT_SUM] = t.sum * per_term;
    result[FL_R_COUNTED] = counted;
    result[FL_R_MASKED] = (double)t.nonfinite * per_term;
    double den = 1.0;
    if (r.reduction == FL_MEAN || r.reduction == FL_BATCH_MEAN)
        den = r.denominator >= 0.0 ? r.denominator
                                   : r.reduction == FL_MEAN ? result[FL_R_WEIGHT_SUM] : counted;
    result[FL_R_DENOMINATOR] = den;
    return den;
}

// The kernel arguments of a softmax loss: the request's common fields, then its options.
SoftmaxArgs softmax_args(const fl_request& r, double grad_factor) {
    SoftmaxArgs a{};
    a.n = r.rows;
    a.c = r.cols;
    a.logits = r.predictions;
    a.labels = takes_labels(r.loss) ? r.labels : nullptr;  // NULL: dense targets
    a.targets = takes_labels(r.loss) ? nullptr : r.targets;
    a.ignore_index = (int32_t)r.ignore_index;
    a.sample_weights = r.sample_weights;
    a.sample_weight_stride = r.sample_weights ? r.sample_weight_stride : 1;
    a.upstream = r.upstream;
    a.grad_factor = grad_factor;
    a.grad = r.gradient;
    a.per_term = r.per_term;
    a.stream_grad = stream_gradient(r.gradient, r.rows, r.cols);
    a.read_ahead_nta = cpu_prefers_nta_read_ahead();
    a.options = &r.options;
    switch (r.loss) {
        case FL_CROSS_ENTROPY:
        case FL_CROSS_ENTROPY_DENSE: {
            const fl_cross_entropy_options& o = r.options.cross_entropy;
            a.class_weights = o.class_weights;
            a.smoothing = (float)o.label_smoothing;
            a.z_loss = (float)o.z_loss;
            a.soft_cap = (float)o.soft_cap;
            break;
        }
        case FL_SOFTMAX_FOCAL:
            a.class_weights = r.options.softmax_focal.alpha;
            a.gamma = (float)r.options.softmax_focal.gamma;
            break;
        default:
            break;
    }
    return a;
}

// The kernel arguments of an element-wise loss: the request's common fields, then its options.
ElementwiseArgs elementwise_args(const fl_request& r, double grad_factor) {
    ElementwiseArgs a{};
    a.n = r.rows;
    a.k = r.cols;
    a.x = r.predictions;
    a.t = r.targets;
    a.sample_weights = r.sample_weights;
    a.sample_weight_stride = r.sample_weights ? r.sample_weight_stride : 1;
    a.element_weights = r.element_weights;
    a.upstream = r.upstream;
    a.grad_factor = grad_factor;
    a.grad = r.gradient;
    a.per_term = r.per_term;
    a.read_ahead = !cpu_prefers_nta_read_ahead();
    a.options = &r.options;
    switch (r.loss) {
        case FL_BINARY_CROSS_ENTROPY:
            a.pos_weight = r.options.binary_cross_entropy.pos_weight;
            a.binary_class_weights = r.options.binary_cross_entropy.binary_class_weights;
            break;
        case FL_SIGMOID_FOCAL:
            a.alpha = (float)r.options.sigmoid_focal.alpha;
            a.gamma = (float)r.options.sigmoid_focal.gamma;
            break;
        default:
            break;
    }
    return a;
}

void zero(float* out, int64_t count) {
    if (out && count > 0) memset(out, 0, (size_t)count * sizeof(float));
}

void compute(const fl_request& r, double* result) {
    const KernelTable* k = kernels();
    const bool softmax = kLosses[r.loss].softmax;
    // The weight pass, where it runs, checks every label (before any kernel reads one); else a
    // pass of its own does.
    const bool mean = r.reduction == FL_MEAN || r.reduction == FL_BATCH_MEAN;
    const bool weight_pass_runs = mean && !(r.denominator >= 0.0);
    if (takes_labels(r.loss) && r.rows > 0 && !weight_pass_runs) check_labels(r);
    for (int i = 0; i < FL_RESULT_DOUBLES; ++i) result[i] = 0.0;
    result[FL_R_COUNTED] = result[FL_R_MASKED] = result[FL_R_WEIGHT_SUM] = -1.0;  // unless the pass runs
    const double den = !mean ? 1.0 : weight_pass_runs ? weight_pass(r, k, result) : r.denominator;
    result[FL_R_DENOMINATOR] = den;
    if (den == 0.0) {  // every term ignored or masked: loss and gradient 0, not NaN (SEMANTICS.md)
        zero(r.gradient, r.rows * r.cols);
        zero(r.per_term, softmax ? r.rows : r.rows * r.cols);
        return;
    }
    const double grad_factor = r.gradient_scale / den;
    if (!std::isfinite(grad_factor)) {  // a large scale over a tiny denominator (Java rejects it too)
        char msg[160];
        snprintf(msg, sizeof msg, "gradient_scale / denominator = %.17g / %.17g is not a finite double",
                 r.gradient_scale, den);
        fail(FL_ERR_ARGUMENT, msg);
    }
    result[FL_R_GRAD_FACTOR] = grad_factor;
    double sums[2] = {0.0, 0.0};
    if (softmax) {
        const SoftmaxArgs a = softmax_args(r, grad_factor);
        const SoftmaxRowsFn fn = k->softmax[r.loss];
        run_rows(
            a.n, a.c, softmax_worker_floats(a.c),
            [&](int64_t r0, int64_t r1, float* scratch, BlockSum* out) { fn(a, r0, r1, scratch, out); }, sums);
    } else {
        const ElementwiseArgs a = elementwise_args(r, grad_factor);
        const ElementwiseRowsFn fn = k->elementwise[r.loss];
        run_rows(
            a.n, a.k, 0, [&](int64_t r0, int64_t r1, float*, BlockSum* out) { fn(a, r0, r1, out); }, sums);
    }
    result[FL_R_LOSS_SUM] = sums[0];
    result[FL_R_NONFINITE] = sums[1];
    result[FL_R_LOSS] = r.reduction == FL_MEAN || r.reduction == FL_BATCH_MEAN ? sums[0] / den : sums[0];
}

// Where each field of fl_request lies, for the Java writer's check (fl_request_offset).
struct Field {
    const char* name;
    size_t offset;
};
#define FL_FIELD(f) {#f, offsetof(fl_request, f)}
const Field kFields[] = {
    FL_FIELD(loss), FL_FIELD(rows), FL_FIELD(cols), FL_FIELD(predictions), FL_FIELD(labels),
    FL_FIELD(ignore_index), FL_FIELD(targets), FL_FIELD(sample_weights), FL_FIELD(sample_weight_stride),
    FL_FIELD(element_weights), FL_FIELD(upstream), FL_FIELD(gradient), FL_FIELD(per_term),
    FL_FIELD(reduction), FL_FIELD(gradient_scale), FL_FIELD(denominator), FL_FIELD(options),
};
#undef FL_FIELD
static_assert(sizeof(fl_request) == 24 * 8, "fl_request: 8-byte fields, 16 + 8 option slots");
static_assert(sizeof(fl_options) == FL_OPTION_SLOTS * 8, "fl_options: FL_OPTION_SLOTS 8-byte slots");

}  // namespace
}  // namespace fl

using namespace fl;

extern "C" {

int fl_compute(const fl_request* request, double* result) {
    return guarded("fl_compute", [&] {
        check_request(request, true);
        require(result, "result");
        compute(*request, result);
    });
}

int fl_weight_sums(const fl_request* request, double* result) {
    return guarded("fl_weight_sums", [&] {
        check_request(request, false);
        require(result, "result");
        weight_pass(*request, kernels(), result);
    });
}

const char* fl_loss_name(int loss) { return loss >= 0 && loss < FL_LOSS_COUNT ? kLosses[loss].kernel : nullptr; }

int64_t fl_request_offset(const char* field) {
    for (const Field& f : kFields)
        if (field && strcmp(f.name, field) == 0) return (int64_t)f.offset;
    return -1;
}

int fl_isa_count(void) { return kIsaCount; }

const char* fl_isa_name(int index) { return index >= 0 && index < kIsaCount ? kIsas[index].table.name : nullptr; }

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
