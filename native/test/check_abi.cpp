// native_check's ABI checks: the ISA and loss tables, argument errors, labels out of range,
// the weight pass a MEAN call makes itself, and fl_set_threads.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>

#include "native_check.h"

namespace fl_check {
namespace {

// The number of OS threads of this process (Linux: the entries of /proc/self/task), -1 if unknown.
int64_t os_threads() {
    DIR* d = opendir("/proc/self/task");
    if (!d) return -1;
    int64_t count = 0;
    while (const dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++count;
    closedir(d);
    return count;
}

}  // namespace

void check_api() {
    char msg[256];
    Options o;
    auto expect = [&](bool ok, const char* what) {
        ++g_checks;
        if (!ok) failure(o, "api", what);
    };
    expect(fl_isa_supported("scalar") == 1, "scalar supported");
    expect(fl_isa_supported("bogus") == -1, "unknown ISA gives -1");
    expect(fl_set_isa("bogus") == FL_ERR_ARGUMENT && strstr(fl_last_error(), "bogus"),
           "fl_set_isa(bogus) fails with a message");
    if (fl_isa_supported("avx512") == 0)
        expect(fl_set_isa("avx512") == FL_ERR_ARGUMENT && strstr(fl_last_error(), "not supported"),
               "fl_set_isa(avx512) fails on this CPU");
    expect(fl_set_isa("scalar") == 0 && strcmp(fl_isa(), "scalar") == 0, "fl_set_isa(scalar)");
    expect(fl_set_threads(0) == FL_ERR_ARGUMENT, "fl_set_threads(0) fails");
    expect(fl_isa_count() == 3 && !strcmp(fl_isa_name(0), "avx512") && !strcmp(fl_isa_name(2), "scalar") &&
               fl_isa_name(3) == nullptr && fl_isa_name(-1) == nullptr,
           "fl_isa_count and fl_isa_name list the ISAs best first");
    expect(!strcmp(fl_loss_name(FL_CROSS_ENTROPY_DENSE), "cross_entropy") &&
               !strcmp(fl_loss_name(FL_SIGMOID_FOCAL), "sigmoid_focal") && fl_loss_name(FL_LOSS_COUNT) == nullptr,
           "fl_loss_name gives each loss's kernel");
    expect(fl_request_offset("loss") == 0 && fl_request_offset("options") == 128 && fl_request_offset("bogus") == -1,
           "fl_request_offset");
    // labels out of range: FL_ERR_LABEL, nothing written
    float x[6] = {1, 2, 3, 4, 5, 6}, g[6];
    for (float& v : g) v = 42;
    int32_t bad[2] = {0, 3};
    double res[FL_RESULT_DOUBLES] = {-1, -1};
    float pt[2] = {42, 42};
    fl_request q{};
    q.loss = FL_CROSS_ENTROPY;
    q.rows = 2;
    q.cols = 3;
    q.predictions = x;
    q.labels = bad;
    q.ignore_index = -100;
    q.gradient = g;
    q.per_term = pt;
    q.reduction = FL_SUM;
    q.gradient_scale = 1.0;
    q.denominator = 1.0;
    int rc = fl_compute(&q, res);
    snprintf(msg, sizeof msg, "label out of range gives FL_ERR_LABEL (rc=%d, %s)", rc, fl_last_error());
    expect(rc == FL_ERR_LABEL && g[0] == 42 && pt[0] == 42 && res[0] == -1, msg);
    // The same check made on the pool, in row blocks (a call given its denominator makes no
    // weight pass): a bad label in any block is found, and named by its row, before anything is
    // written.
    {
        const int threads = fl_threads();
        fl_set_threads(2);
        const int64_t n = 70001, c = 3;
        std::vector<float> xs((size_t)(n * c), 0.5f), gs((size_t)(n * c), 42.0f);
        std::vector<int32_t> ys((size_t)n, 1);
        for (int64_t at : {(int64_t)0, (int64_t)16383, (int64_t)16384, (int64_t)50000, n - 1}) {
            ys[(size_t)at] = at % 2 ? (int32_t)c : -1;
            fl_request big = q;
            big.rows = n;
            big.predictions = xs.data();
            big.labels = ys.data();
            big.gradient = gs.data();
            big.per_term = nullptr;
            const int brc = fl_compute(&big, res);
            const std::string row = " at row " + std::to_string(at) + " ";
            snprintf(msg, sizeof msg, "a bad label at row %lld of %lld gives FL_ERR_LABEL naming it (rc=%d, %s)",
                     (long long)at, (long long)n, brc, fl_last_error());
            expect(brc == FL_ERR_LABEL && strstr(fl_last_error(), row.c_str()) && gs[0] == 42 && gs[gs.size() - 1] == 42,
                   msg);
            ys[(size_t)at] = 1;
        }
        fl_set_threads(threads);
    }
    {  // gradient_scale / denominator beyond a double: an error, nothing written
        int32_t good[2] = {0, 2};
        fl_request huge = q;
        huge.labels = good;
        huge.reduction = FL_MEAN;
        huge.gradient_scale = 1e300;
        huge.denominator = 1e-300;
        const int hrc = fl_compute(&huge, res);
        snprintf(msg, sizeof msg, "gradient_scale / denominator overflowing gives FL_ERR_ARGUMENT (rc=%d, %s)", hrc,
                 fl_last_error());
        expect(hrc == FL_ERR_ARGUMENT && strstr(fl_last_error(), "gradient_scale") && g[0] == 42 && pt[0] == 42, msg);
    }
    bad[1] = -1;
    fl_request focal = q;
    focal.loss = FL_SOFTMAX_FOCAL;
    focal.options.softmax_focal.gamma = 2;
    rc = fl_compute(&focal, res);
    expect(rc == FL_ERR_LABEL, "softmax focal: negative label gives FL_ERR_LABEL");
    fl_request no_labels = q;
    no_labels.labels = nullptr;
    rc = fl_compute(&no_labels, res);
    expect(rc == FL_ERR_ARGUMENT, "cross-entropy without labels gives FL_ERR_ARGUMENT");
    fl_request bad_loss = q;
    bad_loss.loss = FL_LOSS_COUNT;
    expect(fl_compute(&bad_loss, res) == FL_ERR_ARGUMENT && strstr(fl_last_error(), "loss"),
           "a loss outside fl_loss gives FL_ERR_ARGUMENT");
    fl_request bad_reduction = q;
    bad_reduction.reduction = 4;
    expect(fl_compute(&bad_reduction, res) == FL_ERR_ARGUMENT, "a reduction outside FL_NONE .. FL_BATCH_MEAN fails");
    expect(fl_compute(nullptr, res) == FL_ERR_ARGUMENT && fl_compute(&q, nullptr) == FL_ERR_ARGUMENT,
           "a NULL request or result fails");
    fl_request mse{};
    mse.loss = FL_MEAN_SQUARED_ERROR;
    mse.rows = -1;
    mse.cols = 3;
    mse.predictions = x;
    mse.targets = x;
    mse.reduction = FL_SUM;
    rc = fl_compute(&mse, res);
    expect(rc == FL_ERR_ARGUMENT, "negative rows gives FL_ERR_ARGUMENT");
    mse.rows = 0;
    mse.predictions = mse.targets = nullptr;
    rc = fl_compute(&mse, res);
    expect(rc == 0 && res[FL_R_LOSS_SUM] == 0 && res[FL_R_NONFINITE] == 0, "rows = 0 is an empty sum");
    // MEAN with a negative denominator: the call makes the weight pass; a denominator of 0 gives 0
    float sw[2] = {1.0f, 3.0f};
    int32_t y[2] = {0, 2};
    fl_request mean = q;
    mean.labels = y;
    mean.sample_weights = sw;
    mean.sample_weight_stride = 1;
    mean.reduction = FL_MEAN;
    mean.denominator = -1.0;
    fl_request sum = mean;
    sum.reduction = FL_SUM;
    double rs[FL_RESULT_DOUBLES];
    rc = fl_compute(&mean, res) | fl_compute(&sum, rs);
    expect(rc == 0 && res[FL_R_DENOMINATOR] == 4.0 && res[FL_R_WEIGHT_SUM] == 4.0 && res[FL_R_COUNTED] == 2.0 &&
               res[FL_R_LOSS] == rs[FL_R_LOSS_SUM] / 4.0 && res[FL_R_GRAD_FACTOR] == 0.25,
           "MEAN without a denominator divides by the weight sum of its own pass");
    mean.denominator = 0.0;
    rc = fl_compute(&mean, res);
    expect(rc == 0 && res[FL_R_LOSS] == 0 && g[0] == 0 && pt[0] == 0, "a denominator of 0 gives 0 everywhere");
    // Only -inf masks a class: a NaN logit keeps its smoothing share eps / C, so a row whose only
    // target mass is that share gets a NaN term, counted, not the 0 of a row without mass.
    const float nan_row[3] = {0, NAN, 1}, zero_targets[3] = {0, 0, 0};
    for (const std::string& isa : g_isas) {
        fl_set_isa(isa.c_str());
        for (int64_t c : {1, 3}) {
            double r[FL_RESULT_DOUBLES];
            float term = 0;
            fl_request dense{};
            dense.loss = FL_CROSS_ENTROPY_DENSE;
            dense.rows = 1;
            dense.cols = c;
            dense.predictions = c == 1 ? nan_row + 1 : nan_row;
            dense.targets = zero_targets;
            dense.per_term = &term;
            dense.reduction = FL_SUM;
            dense.gradient_scale = 1.0;
            dense.options.cross_entropy.label_smoothing = 0.25;
            rc = fl_compute(&dense, r);
            snprintf(msg, sizeof msg, "[%s] dense C=%lld, NaN logit, targets 0, eps 0.25: NaN term (rc=%d, term %g, "
                     "nonfinite %g)", isa.c_str(), (long long)c, rc, term, r[FL_R_NONFINITE]);
            expect(rc == 0 && std::isnan(term) && r[FL_R_NONFINITE] == 1, msg);
        }
    }
    expect(fl_version() && *fl_version(), "fl_version");
}

// fl_set_threads takes 1..1024, and a call starts no more worker threads than it has row blocks
// beyond the caller (it used to start every configured one at the first call).
void check_threads() {
    Options o;
    auto expect = [&](bool ok, const std::string& what) {
        ++g_checks;
        if (!ok) failure(o, "threads", what);
    };
    expect(fl_set_threads(1025) == FL_ERR_ARGUMENT && strstr(fl_last_error(), "1024"), "fl_set_threads(1025) fails");
    expect(fl_set_threads(-1) == FL_ERR_ARGUMENT, "fl_set_threads(-1) fails");
    expect(fl_set_threads(1024) == 0 && fl_threads() == 1024, "fl_set_threads(1024)");
    // 4096 x 12 = 49 152 elements: 4 blocks of at most 16 384 rows' worth, over the inline limit
    const int64_t n = 4096, c = 12;
    std::vector<float> x(n * c, 0.5f), g(n * c);
    std::vector<int32_t> y(n, 3);
    double r[FL_RESULT_DOUBLES];
    fl_request q{};
    q.loss = FL_CROSS_ENTROPY;
    q.rows = n;
    q.cols = c;
    q.predictions = x.data();
    q.labels = y.data();
    q.ignore_index = -100;
    q.gradient = g.data();
    q.reduction = FL_SUM;
    q.gradient_scale = 1.0;
    const int64_t before = os_threads();
    const int rc = fl_compute(&q, r);
    const int64_t after = os_threads();
    if (before >= 0)
        expect(rc == 0 && after - before <= 3, "a call of 4 row blocks with 1024 threads set started " +
                                                   std::to_string(after - before) + " threads");
    fl_set_threads(2);
    // joined threads can stay listed in /proc a moment after pthread_join returns
    bool stopped = false;
    for (int wait = 0; wait < 200 && !stopped; ++wait) {
        stopped = os_threads() <= before;
        if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    expect(stopped, "fl_set_threads(2) stops the workers");
}

}  // namespace fl_check
