// thread_pool.h: the library's worker threads (baseline flags, no kernels here).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fl {

// A job: run(ctx, block, scratch) for every block in [0, blocks), each block exactly once, on
// whichever participant takes it next. scratch is that participant's own buffer.
struct Job {
    void (*run)(void* ctx, int64_t block, float* scratch);
    void* ctx;
    int64_t blocks;
};

// The most threads fl_set_threads takes (NativeBackend.MAX_THREADS in Java).
constexpr int kMaxThreads = 1024;

int pool_threads();             // the configured count (caller included)
void pool_set_threads(int threads);  // 1 to kMaxThreads
// Runs the job on up to `participants` threads (at most the configured count; workers are started
// as jobs need them, never more than a job's participants), the caller being one of them, each with a
// scratch buffer of scratch_floats floats (64-byte aligned). If another call holds the pool, the
// caller runs the whole job alone. Throws std::bad_alloc / std::system_error.
void pool_run(const Job& job, int participants, size_t scratch_floats);

}  // namespace fl
