// native_check's shared parts: one case's options and random data, the double reference's
// output, the library's result, the tally of checks, and each file's entry points. The files:
//   check_data.cpp         random cases (options and data)
//   reference.cpp          the double-precision reference, from the formulas in fusedloss.h
//   check_losses.cpp       the library call, the comparisons, the sweeps over shapes and options
//   check_determinism.cpp  results independent of threads, runs and the gradient's alignment
//   check_abi.cpp          the ABI's functions, errors and thread settings
//   check_weights.cpp      the weight pass (fl_weight_sums)
//   timings.cpp            --bench and --floor (timings, no checks)
//   native_check.cpp       main: the command line and the tally
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "check_rng.h"
#include "fusedloss.h"

namespace fl_check {

// ----------------------------------------------------------------------------- random data
using ::Rng;  // check_rng.h, shared with the CUDA drivers

enum Loss { CE, SOFTMAX_FOCAL, BCE, MSE, SIGMOID_FOCAL };
inline bool is_softmax(Loss l) { return l == CE || l == SOFTMAX_FOCAL; }

enum Special { NONE, NEG_INF, HUGE_1E30, NAN_LOGIT, POS_INF };

// One call's options.
struct Options {
    Loss loss = CE;
    int64_t n = 1, c = 1;
    bool dense = false;          // CE dense targets
    bool class_weights = false;  // CE class weights, softmax focal alpha, BCE pos_weight
    bool binary_cw = false;      // BCE {w0, w1}
    bool sample_weights = false;
    int64_t stride = 1;
    bool element_weights = false;
    bool ignore = false;
    float eps = 0, z_loss = 0, cap = 0;
    float alpha = -1, gamma = 0;
    bool upstream = false;
    bool in_place = false;
    bool grad = true;
    bool per_term = false;
    double scale = 1.0;
    Special special = NONE;
    double spread = 4.0;  // logits uniform in [-spread, spread]
    std::string describe() const;  // one line, for failure messages
};

const int32_t kIgnore = -100;

// The sanitizer build (check.sh): UBSan's alignment check rejects the float pointers at odd
// addresses that the library accepts (x86-64 loads and stores them; the kernels' vector accesses
// are unaligned ones and non-temporal stores are skipped there), so those cases run unsanitized only.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

struct Data {
    std::vector<float> x, t, cw, sw, ew, up, bcw;
    std::vector<int32_t> labels;
};

// check_data.cpp: a case's random data, and random options (all_on: every option the loss has)
Data make_data(const Options& o, Rng& rng);
Options random_options(Loss loss, int64_t n, int64_t c, Rng& rng, bool all_on);

// ------------------------------------------------------------------ double-precision reference
const double kTol = 1e-5;  // SEMANTICS.md: per-term relative error, gradient relative norm

struct Output {
    std::vector<double> term;  // weighted term per row (softmax) or element
    // An absolute allowance per term beyond kTol * |term| (empty: none), where the term is
    // ill-conditioned in float inputs (the z-loss when lse = M + log S nearly cancels)
    std::vector<double> floor;
    std::vector<double> grad;
    double sum = 0;
    int64_t nonfinite = 0;
};

// reference.cpp
Output reference(const Options& o, const Data& d);

// ------------------------------------------------------------------------- the library call
struct Result {
    int rc = 0;
    std::vector<float> grad, term;
    double res[2] = {0, 0};
};

// check_losses.cpp: one call of fl_compute on the current ISA; offset_bytes: the gradient buffer
// starts this many bytes into its allocation (alignment tests; Java's direct buffers can start at
// any byte, so a float pointer need not be 4-byte aligned); past_logits >= 0: the gradient starts
// that many bytes past the logits modulo 4 KiB instead.
Result call(const Options& o, const Data& d, int offset_bytes = 0, int past_logits = -1);
// cross-entropy with class indices, no smoothing and no cap: the long rows' interleaved path
Options single_sweep(int64_t n, int64_t c, bool all_on, Rng& rng);
void check_small_shapes(Rng& rng, bool quick);
void check_short_rows(Rng& rng, bool quick);
void check_large_rows(Rng& rng, bool quick);
void check_scale_out(Rng& rng);
void check_short_row_weights(Rng& rng);
void check_capped_scale_up(Rng& rng);
void check_row_factor_range(Rng& rng);

// check_determinism.cpp
void check_independence(Rng& rng, bool quick);

// check_abi.cpp
void check_api();
void check_threads();

// check_weights.cpp
void check_weight_sums(Rng& rng, bool quick);

// timings.cpp
void print_floors();
void bench(bool quick, const std::string& peers);

// native_check.cpp: the tally every check adds to, and the ISAs this CPU runs (scalar first)
extern int g_failures;
extern int64_t g_checks;
extern double g_worst_term, g_worst_grad;
extern std::string g_worst_term_case, g_worst_grad_case;
extern std::vector<std::string> g_isas;
void failure(const Options& o, const std::string& isa, const std::string& what);
double now_ms();

}  // namespace fl_check
