// The multi-threaded runtime itself: N worker threads over the shared state of
// rt/multi_thread/worker.hpp, the drivers they share, block_on from a thread outside the
// runtime, and shutdown.
//
// block_on(future) spawns the future as a task, through the global queue, and sleeps until its
// JoinHandle is ready: the calling thread is not a worker (Tokio's multi-threaded block_on polls
// the future on the calling thread instead; here every task runs on a worker).
//
// Shutdown protocol (the destructor), so that nothing leaks and nothing is used after it is
// freed, with tasks running, queued and waiting on every worker:
//  1. set the shutdown flag and unpark every worker; each finishes the poll it is in and
//     leaves its loop at its next look at the flag;
//  2. join the worker threads: from now on no thread pops, steals or polls;
//  3. close the global queue: a wake from any thread now releases its reference instead of
//     queueing (Shared::push_remote), and a Handle's spawn queues nothing (its task, bound to
//     the live tasks before step 5, is cancelled there); release what the queue held;
//  4. release what each worker's LIFO slot and queue held;
//  5. close the live tasks (a Handle's spawn racing with this is refused, or cancelled here:
//     rt/multi_thread/owned_tasks.hpp) and, for each, destroy its future and drop the runtime's
//     reference: a JoinHandle still held completes with TaskAborted;
//  6. the blocking pool shuts down (new in chapter 9): calls still queued are cancelled, and
//     the destructor waits for the ones that are running (rt/blocking/pool.hpp);
//  7. the drivers go (the time driver detaches the timers still registered); the shared state
//     lives on while tasks or Handles hold it, for their wakers and spawns to find it closed.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <source_location>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "rt/executor.hpp"  // Handle, make_task, Deferred
#include "rt/metrics/snapshot.hpp"
#include "rt/multi_thread/worker.hpp"

namespace rt::detail {

/// A waker for a thread that is not a worker: wake() ends its wait(). Reference-counted, as a
/// waker may be kept (by a JoinHandle's task) after the waiting thread has moved on.
class ThreadWaker {
public:
    static ThreadWaker* make() { return new ThreadWaker; }
    Waker waker() {
        retain();
        return Waker(RawWaker{this, &vtable});
    }
    /// Sleep until a wake since the last wait() (returns at once if there was one).
    void wait() {
        while (!notified_.exchange(false, std::memory_order_acquire)) {
            notified_.wait(false, std::memory_order_relaxed);
        }
    }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

private:
    ThreadWaker() = default;
    void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void wake() {
        notified_.store(true, std::memory_order_release);
        notified_.notify_one();
    }
    static ThreadWaker* from(const void* data) {
        return static_cast<ThreadWaker*>(const_cast<void*>(data));
    }
    static RawWaker clone(const void* data) {
        from(data)->retain();
        return RawWaker{data, &vtable};
    }
    static void wake_by_value(const void* data) {
        from(data)->wake();
        from(data)->release();
    }
    static void wake_by_ref(const void* data) { from(data)->wake(); }
    static void drop(const void* data) { from(data)->release(); }
    static constexpr RawWakerVTable vtable{&clone, &wake_by_value, &wake_by_ref, &drop};

    std::atomic<std::size_t> refs_{1};
    std::atomic<bool> notified_{false};
};

class MultiThread {
public:
    MultiThread(std::uint32_t workers, Scheduling scheduling, BlockingOptions blocking = {},
                MetricsOptions metrics = {})
        : shared_(new Shared(workers, scheduling, std::move(metrics))),
          driver_(shared_->wake_fd),
          blocking_(BlockingPool::make(blocking)) {
        workers_.reserve(workers);
        for (std::uint32_t i = 0; i < workers; ++i) {
            workers_.push_back(std::make_unique<Worker>(*shared_, driver_, *blocking_, i));
        }
        threads_.reserve(workers);
        try {
            for (auto& worker : workers_) threads_.emplace_back([&worker] { worker->run(); });
        } catch (...) {
            shut_down();
            throw;
        }
    }
    MultiThread(const MultiThread&) = delete;
    MultiThread& operator=(const MultiThread&) = delete;
    ~MultiThread() { shut_down(); }

    Handle handle() const noexcept { return Handle(shared_); }

    BlockingPool& blocking_pool() const noexcept { return *blocking_; }

    template <class F>
    auto block_on(F future, std::source_location site = std::source_location::current()) {
        if (current_runtime != nullptr) {
            throw std::logic_error(
                "block_on inside a running runtime would block a thread that runs its tasks; "
                "co_await the future instead");
        }
        auto handle = this->handle().spawn(std::move(future), site);
        std::unique_ptr<ThreadWaker, void (*)(ThreadWaker*)> sleeper(
            ThreadWaker::make(), [](ThreadWaker* waker) { waker->release(); });
        const Waker waker = sleeper->waker();
        Context cx(waker);
        for (;;) {
            auto outcome = handle.poll(cx);  // rethrows what the task threw
            if (outcome.is_ready()) {
                if constexpr (!std::is_void_v<typename decltype(handle)::Output>) {
                    return std::move(outcome).value();
                } else {
                    return;
                }
            }
            sleeper->wait();
        }
    }

    std::vector<WorkerStats> worker_stats() const {
        std::vector<WorkerStats> all;
        const std::int64_t now = now_ns();
        for (std::uint32_t i = 0; i < shared_->workers; ++i) {
            const Remote& remote = shared_->remotes[i];
            const auto& counts = remote.stats;
            WorkerStats stats;
            stats.polls = counts.polls.get();
            stats.lifo_hits = counts.lifo_hits.get();
            stats.steals = counts.steals.get();
            stats.stolen = counts.stolen.get();
            stats.steal_attempts = counts.steal_attempts.get();
            stats.from_global = counts.from_global.get();
            stats.overflows = counts.overflows.get();
            stats.parks = counts.parks.get();
            stats.driver_parks = counts.driver_parks.get();
            // New in chapter 10. A park under way counts up to now; busy is the rest.
            std::int64_t parked = static_cast<std::int64_t>(counts.parked_ns.get());
            const std::int64_t since = counts.parked_since.load(std::memory_order_relaxed);
            if (since != 0 && since < now) parked += now - since;
            stats.parked_ns = parked;
            stats.busy_ns = std::max<std::int64_t>(0, now - shared_->started_ns - parked);
            stats.queue_depth = remote.queue.len();
            all.push_back(stats);
        }
        return all;
    }

    /// Everything the runtime records, now (new in chapter 10, rt/metrics/snapshot.hpp).
    MetricsSnapshot metrics() const {
        MetricsSnapshot snapshot;
        snapshot.uptime_ns = now_ns() - shared_->started_ns;
        snapshot.workers = shared_->workers;
        snapshot.worker_stats = worker_stats();
        snapshot.global_queue_depth = shared_->inject.len();
        snapshot.blocking = blocking_->stats();
        fill_tasks(snapshot, shared_->metrics(),
                   [](const Task* task) { return task->state_name(); });
        return snapshot;
    }

private:
    void shut_down() {
        if (shared_ == nullptr) return;
        if (Metrics* metrics = shared_->metrics()) metrics->close();  // chapter 10: no warnings
        shared_->begin_shutdown();                                    // step 1
        for (std::thread& thread : threads_) thread.join();           // step 2
        threads_.clear();
        // New in chapter 10: the workers' lanes of the timeline are still now.
        if (Metrics* metrics = shared_->metrics()) metrics->finish_trace();
        shared_->merge_worker_holders();
        TaskList queued = shared_->inject.close();  // step 3
        while (Task* task = queued.pop_front()) task->unref();
        for (auto& worker : workers_) {  // step 4
            worker->drain([](Task* task) { task->unref(); });
        }
        for (Task* task : shared_->owned.close()) {  // step 5
            task->finish();
            task->unref();
        }
        workers_.clear();
        blocking_.reset();   // step 6: the blocking pool (rt/blocking/pool.hpp: waits for the
                             // calls that are running)
        shared_->release();  // step 7 (the drivers go with this object)
        shared_ = nullptr;
    }

    Shared* shared_;  // one of its references
    Driver driver_;   // after shared_: uses its eventfd
    OwnedBlockingPool blocking_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::thread> threads_;
};

}  // namespace rt::detail
