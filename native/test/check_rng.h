// check_rng.h: the random numbers of the check drivers (native_check, and the CUDA drivers
// cuda_check.cu and host_check.cpp): splitmix64, so a seed gives the same data on every machine.
#ifndef FLC_CHECK_RNG_H
#define FLC_CHECK_RNG_H

#include <stdint.h>

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
    int64_t below(int64_t n) { return (int64_t)(next() % (uint64_t)n); }
    bool chance(double p) { return uniform() < p; }
};

#endif  // FLC_CHECK_RNG_H
