// thread_pool.cpp: workers created lazily, as many as the largest job so far wanted (never more
// than its participants, up to the configured count), and stopped only by fl_set_threads. One
// job at a time; a caller that finds the pool busy runs its job alone, which gives the same
// result because results never depend on who runs a block.
//
// Waking a sleeping thread costs tens of microseconds on a virtual machine (the idle vCPU has to be
// woken by the host), as much as a whole mid-sized call. So a worker that finished a job spins a
// short while (kSpin) for the next one before it sleeps, and the caller spins for the workers'
// last blocks before it sleeps on them, as OpenMP runtimes do. Calls in a loop find the workers
// awake; a pool left idle burns at most kSpin of CPU per worker, once.
//
// The blocks are split into one contiguous share per participant; each runs its own share first
// and then helps with the others' (as an OpenMP static schedule with stealing would). A call
// repeated on the same buffers, as a training loop does, so runs most blocks on the core that ran
// them the time before, their lines still in its L2, instead of moving them between cores (2
// threads against one shared counter: CE 4096 x 1000 0.80-0.97 of the time, MSE 65536 x 100
// 0.77-0.94; Zen 4).
#include "thread_pool.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace fl {

namespace {

// A growable, 64-byte aligned float buffer.
class Scratch {
  public:
    float* get(size_t floats) {
        if (floats > size_) {
            storage_.reset(new float[floats + 16]);
            size_ = floats;
        }
        uintptr_t p = (uintptr_t)storage_.get();
        return (float*)((p + 63) & ~(uintptr_t)63);
    }

  private:
    std::unique_ptr<float[]> storage_;
    size_t size_ = 0;
};

constexpr std::chrono::microseconds kSpin{200};

// Spins until done() or kSpin has passed; returns done().
template <class Done>
bool spin_until(Done done) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        for (int k = 0; k < 64; ++k) {
            if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        if (std::chrono::steady_clock::now() - start > kSpin) return done();
    }
}

// The count until the caller sets one (the Java side always does, from the JVM's own CPU count,
// which honours affinity and container quotas; this one does not).
int default_threads() {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores >= 1 ? (int)cores : 1;
}

class Pool {
  public:
    ~Pool() { stop_workers(); }

    int threads() {
        std::lock_guard<std::mutex> lock(config_mutex_);
        return threads_;
    }

    void set_threads(int threads) {
        std::lock_guard<std::mutex> run_lock(run_mutex_);  // waits for a running job
        stop_workers();
        std::lock_guard<std::mutex> lock(config_mutex_);
        threads_ = threads;
    }

    void run(const Job& job, int participants, size_t scratch_floats) {
        std::unique_lock<std::mutex> run_lock(run_mutex_, std::defer_lock);
        if (participants > 1) run_lock.try_lock();
        if (!run_lock.owns_lock()) {  // alone: small job, or another caller holds the pool
            thread_local Scratch own;
            float* scratch = own.get(scratch_floats);
            for (int64_t b = 0; b < job.blocks; ++b) job.run(job.ctx, b, scratch);
            return;
        }
        if (participants > threads()) participants = threads();
        if (scratch_.size() < (size_t)participants) scratch_.resize(participants);
        for (int w = 0; w < participants; ++w) scratch_[w].get(scratch_floats);
        if ((int)workers_.size() < participants - 1) add_workers(participants - 1);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = &job;
            participants_ = participants;
            pending_.store(participants - 1, std::memory_order_relaxed);
            scratch_floats_ = scratch_floats;
            if (share_count_ < participants) {
                shares_.reset(new Share[participants]);
                share_count_ = participants;
            }
            for (int p = 0; p < participants; ++p) {
                shares_[p].next.store(job.blocks * p / participants, std::memory_order_relaxed);
                shares_[p].end = job.blocks * (p + 1) / participants;
            }
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        work(0);
        auto finished = [&] { return pending_.load(std::memory_order_acquire) == 0; };
        std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
        if (!spin_until(finished)) {
            lock.lock();
            done_.wait(lock, finished);
        } else {
            lock.lock();
        }
        job_ = nullptr;
    }

  private:
    void work(int worker) {
        float* scratch = scratch_[worker].get(scratch_floats_);
        for (int k = 0; k < participants_; ++k) {  // its own share, then the others'
            Share& share = shares_[(worker + k) % participants_];
            for (;;) {
                const int64_t b = share.next.fetch_add(1, std::memory_order_relaxed);
                if (b >= share.end) break;
                job_->run(job_->ctx, b, scratch);
            }
        }
    }

    // seen: the generation when the worker was created; it joins only later jobs.
    void worker_loop(int worker, uint64_t seen) {
        auto woken = [&] { return stop_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_acquire) != seen; };
        for (;;) {
            spin_until(woken);
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, woken);
            if (stop_) return;
            seen = generation_.load(std::memory_order_relaxed);
            if (worker >= participants_ || !job_) continue;
            lock.unlock();
            work(worker);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                // under the mutex: the caller checks pending_ under it before it sleeps
                std::lock_guard<std::mutex> done_lock(mutex_);
                done_.notify_one();
            }
        }
    }

    // Grows the workers to count (numbered 1..count; the caller is participant 0).
    void add_workers(int count) {
        uint64_t generation;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            generation = generation_.load(std::memory_order_relaxed);
        }
        for (int w = (int)workers_.size() + 1; w <= count; ++w)
            workers_.emplace_back([this, w, generation] { worker_loop(w, generation); });
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = false;
    }

    std::mutex config_mutex_;
    int threads_ = default_threads();

    std::mutex run_mutex_;  // held for a whole job
    std::vector<Scratch> scratch_;
    std::vector<std::thread> workers_;

    std::mutex mutex_;  // guards the fields below
    std::condition_variable wake_, done_;
    std::atomic<uint64_t> generation_{0};  // written under mutex_, spun on without it
    const Job* job_ = nullptr;
    int participants_ = 0;
    std::atomic<int> pending_{0};  // workers still on the job
    std::atomic<bool> stop_{false};
    size_t scratch_floats_ = 0;
    struct alignas(64) Share {  // blocks [next, end) of a participant's share not yet taken
        std::atomic<int64_t> next{0};
        int64_t end = 0;
    };
    std::unique_ptr<Share[]> shares_;
    int share_count_ = 0;
};

Pool& pool() {
    // Never destroyed: workers must not be joined from a static destructor at exit, when the
    // JVM may still call in from other threads.
    static Pool* p = new Pool();
    return *p;
}

}  // namespace

int pool_threads() { return pool().threads(); }
void pool_set_threads(int threads) { pool().set_threads(threads); }
void pool_run(const Job& job, int participants, size_t scratch_floats) {
    pool().run(job, participants, scratch_floats);
}

}  // namespace fl
