// native_check: tests the native kernels against a plain double-precision reference written here
// straight from the formulas in fusedloss.h, and times them (--bench). native_check.h lists the
// files the checks are in; this one holds main and the tally.
//
//   native_check [--quick] [--seed N]   correctness (every ISA this CPU runs), exit 1 on failure
//   native_check --bench [--quick] [--peers FILE]
//                                       timings at the PEERS.md shapes with the PEERS.md data
//                                       (bench/peers.txt)
//   native_check --floor                 the compute floor of each loss at those shapes, per ISA
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <string>
#include <vector>

#include "native_check.h"

namespace fl_check {

// the tally
int g_failures = 0;
int64_t g_checks = 0;
double g_worst_term = 0, g_worst_grad = 0;
std::string g_worst_term_case, g_worst_grad_case;

void failure(const Options& o, const std::string& isa, const std::string& what) {
    if (++g_failures <= 25) printf("FAIL [%s] %s\n  %s\n", isa.c_str(), what.c_str(), o.describe().c_str());
}

std::vector<std::string> g_isas;  // the ISAs this CPU runs, scalar first

double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace fl_check

using namespace fl_check;

int main(int argc, char** argv) {
    bool quick = false, do_bench = false, do_floor = false;
    std::string peers = FL_PEERS_FILE;
    uint64_t seed = (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count();
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--bench"))
            do_bench = true;
        else if (!strcmp(argv[i], "--floor"))
            do_floor = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], nullptr, 0);
        else if (!strcmp(argv[i], "--peers") && i + 1 < argc)
            peers = argv[++i];
        else {
            printf("usage: %s [--quick] [--seed N] [--bench [--peers FILE]] [--floor]\n", argv[0]);
            return 2;
        }
    }
    printf("fusedloss %s, default isa %s, %d threads\n", fl_version(), fl_isa(), fl_threads());
    if (do_floor) {
        print_floors();
        return 0;
    }
    if (do_bench) {
        bench(quick, peers);
        return 0;
    }
    for (int i = fl_isa_count() - 1; i >= 0; --i) {  // the library's list, best first: scalar first here
        const char* isa = fl_isa_name(i);
        if (fl_isa_supported(isa) == 1)
            g_isas.push_back(isa);
        else
            printf("isa %s: not run (this CPU does not support it)\n", isa);
    }
    printf("isas run:");
    for (auto& s : g_isas) printf(" %s", s.c_str());
    printf("\nseed %llu (rerun with --seed %llu)%s\n", (unsigned long long)seed, (unsigned long long)seed,
           quick ? ", quick" : "");
    Rng rng{seed};
    const double t0 = now_ms();

    check_api();

    check_small_shapes(rng, quick);
    printf("small shapes done (%.1f s)\n", (now_ms() - t0) / 1000);

    check_short_rows(rng, quick);
    printf("short rows done (%.1f s)\n", (now_ms() - t0) / 1000);

    check_large_rows(rng, quick);
    printf("large rows done (%.1f s)\n", (now_ms() - t0) / 1000);

    check_independence(rng, quick);
    printf("determinism done (%.1f s)\n", (now_ms() - t0) / 1000);

    check_scale_out(rng);
    check_short_row_weights(rng);
    check_capped_scale_up(rng);
    check_row_factor_range(rng);
    check_threads();
    check_weight_sums(rng, quick);
    printf("weight pass done (%.1f s)\n", (now_ms() - t0) / 1000);

    printf("%lld checks; worst relative error where it is above the absolute floors: per term %.3g, "
           "gradient norm %.3g\n",
           (long long)g_checks, g_worst_term, g_worst_grad);
    printf("  worst term: %s\n  worst gradient: %s\n", g_worst_term_case.c_str(), g_worst_grad_case.c_str());
    if (g_failures) {
        printf("FAILED: %d failures (seed %llu)\n", g_failures, (unsigned long long)seed);
        return 1;
    }
    printf("OK (%.1f s)\n", (now_ms() - t0) / 1000);
    return 0;
}
