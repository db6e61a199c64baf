// native_check's determinism checks: results must not depend on the thread count, the run, or
// the gradient buffer's alignment (bit for bit).
#include <stdio.h>
#include <string.h>

#include "native_check.h"

namespace fl_check {
namespace {

bool same_bits(const Result& a, const Result& b) {
    return a.rc == b.rc && memcmp(a.res, b.res, sizeof a.res) == 0 && a.grad.size() == b.grad.size() &&
           (a.grad.empty() || memcmp(a.grad.data(), b.grad.data(), a.grad.size() * 4) == 0) &&
           a.term.size() == b.term.size() &&
           (a.term.empty() || memcmp(a.term.data(), b.term.data(), a.term.size() * 4) == 0);
}

// Results must not depend on the thread count, the run, or the gradient buffer's alignment.
void check_determinism(const Options& o, Rng& rng) {
    const Data d = make_data(o, rng);
    for (const std::string& isa : g_isas) {
        fl_set_isa(isa.c_str());
        fl_set_threads(1);
        const Result base = call(o, d);
        ++g_checks;
        if (base.rc != 0) {
            failure(o, isa, "determinism base call failed");
            continue;
        }
        for (int threads : {2, 3, 1}) {
            fl_set_threads(threads);
            if (!same_bits(base, call(o, d)))
                failure(o, isa, "results differ with " + std::to_string(threads) + " threads");
        }
        if (o.grad && !o.in_place) {
            fl_set_threads(2);
            for (int bytes : {4, 1, 2, 3}) {
                if (bytes % 4 && kSanitized) continue;  // UBSan flags every misaligned float access
                if (!same_bits(base, call(o, d, bytes)))
                    failure(o, isa, "results differ with the gradient buffer " + std::to_string(bytes) +
                                        " bytes off its alignment");
            }
            // the gradient at distances from the logits (mod 4 KiB) where rows of one chunk, which keep
            // their e in the gradient row, run at different speeds (bench/MEASURED.md)
            for (int past : {0, 20, 64, 320, 324, 1024}) {
                if (!same_bits(base, call(o, d, 0, past)))
                    failure(o, isa, "results differ with the gradient " + std::to_string(past) +
                                        " bytes past the logits (mod 4 KiB)");
            }
        }
    }
}

}  // namespace

// Thread-count, run-to-run and alignment independence (sizes above the inline threshold;
// the 33 x 128256 CE gradient is large enough for non-temporal stores).
void check_independence(Rng& rng, bool quick) {
    for (int li = CE; li <= SIGMOID_FOCAL; ++li) {
        const Loss loss = (Loss)li;
        if (is_softmax(loss)) {
            check_determinism(random_options(loss, 600, 129, rng, true), rng);
            check_determinism(random_options(loss, 5003, 10, rng, false), rng);  // short rows
            if (loss == CE)
                for (int64_t c : {1, 3, 10, 16}) {  // the rows-across-lanes paths, several row blocks
                    Options o = random_options(CE, 20011, c, rng, c == 3);
                    o.dense = c == 10;
                    o.eps = o.cap = o.z_loss = 0;
                    check_determinism(o, rng);
                }
            check_determinism(random_options(loss, 21, 4097, rng, false), rng);
            // rows of one chunk, their e kept in the gradient row
            for (int64_t c : {1000, 100}) {
                Options o = loss == CE ? single_sweep(7000 / c * 10, c, false, rng)
                                       : random_options(loss, 7000 / c * 10, c, rng, false);
                o.grad = true;
                o.in_place = false;
                check_determinism(o, rng);
            }
            if (loss == CE) check_determinism(single_sweep(70, 4097, true, rng), rng);  // interleaved
            if (!quick) check_determinism(random_options(loss, 33, 128256, rng, true), rng);
        } else {
            check_determinism(random_options(loss, 3000, 33, rng, true), rng);
            check_determinism(random_options(loss, 70, 1000, rng, false), rng);
        }
    }
    // Gradients at any byte address at the sizes written with non-temporal stores (n * c >= 4 Mi,
    // rows of at least kLongRow classes): plain, interleaved long rows, smoothing, dense, focal; and
    // at that size with shorter rows, whose exponentials are kept in the gradient row itself.
    if (!kSanitized) {
        auto with_grad = [](Options o) {
            o.in_place = false;
            o.grad = true;
            return o;
        };
        check_determinism(with_grad(single_sweep(4096, 1024, false, rng)), rng);
        Options nt = with_grad(single_sweep(2049, 2048, false, rng));
        check_determinism(nt, rng);
        check_determinism(with_grad(single_sweep(160, 32001, true, rng)), rng);
        nt.eps = 0.1f;
        check_determinism(nt, rng);
        nt.dense = true;
        check_determinism(nt, rng);
        nt.loss = SOFTMAX_FOCAL;
        nt.dense = false;
        nt.eps = 0;
        nt.gamma = 2;
        check_determinism(nt, rng);
        Options focal_long = with_grad(random_options(SOFTMAX_FOCAL, 160, 32001, rng, true));  // interleaved
        check_determinism(focal_long, rng);
    } else {
        printf("gradients at odd byte addresses: not run under the sanitizers (see kSanitized)\n");
    }
    fl_set_threads(2);
}

}  // namespace fl_check
