// rt::Runtime: one way to make and run either runtime of this stage (new in chapter 8), as
// tokio::runtime::Builder makes a current-thread or a multi-threaded one.
//  - Runtime(0): chapter 7's single-threaded executor (rt/executor.hpp). Tasks run on the
//    thread that calls block_on, while it does.
//  - Runtime(n), n >= 1: n worker threads (rt/multi_thread/), which run tasks from the moment
//    the runtime is made until it is destroyed; block_on waits for its future on them.
// New in chapter 10: MetricsOptions says what either runtime records, and metrics() takes a
// snapshot of it (rt/metrics/).
// Everything else is unchanged on both: rt::spawn, JoinHandle, Handle, yield_now, sleep,
// timeout, interval, the TCP types and oneshot see the runtime of their thread through
// rt/scheduler.hpp, not through a type.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <vector>

#include "rt/executor.hpp"
#include "rt/multi_thread/multi_thread.hpp"

namespace rt {

class Runtime {
public:
    /// `workers` worker threads, or chapter 7's executor for 0; `scheduling` chooses how the
    /// workers share tasks (ignored for 0).
    /// `blocking` sets the limits of its blocking pool (new in chapter 9).
    /// `metrics` says what it records beyond the workers' counters (new in chapter 10).
    explicit Runtime(std::size_t workers = 0, Scheduling scheduling = Scheduling::work_stealing,
                     BlockingOptions blocking = {}, MetricsOptions metrics = {})
        : workers_(workers) {
        if (workers == 0) {
            executor_.emplace(blocking, std::move(metrics));
        } else {
            if (workers > max_workers) {
                throw std::invalid_argument("a runtime has at most 255 worker threads");
            }
            multi_.emplace(static_cast<std::uint32_t>(workers), scheduling, blocking,
                           std::move(metrics));
        }
    }
    Runtime(std::size_t workers, MetricsOptions metrics)
        : Runtime(workers, Scheduling::work_stealing, {}, std::move(metrics)) {}

    /// A task keeps the index of its worker in one byte (rt/multi_thread/owned_tasks.hpp).
    static constexpr std::size_t max_workers = 255;

    /// Run `future` to completion and return its value (or rethrow its exception). Not from
    /// inside a task of a runtime.
    template <class F>
    requires Future<F> || detail::FutureFactory<F>
    auto block_on(F future, std::source_location site = std::source_location::current()) {
        if (executor_) return executor_->block_on(std::move(future), site);
        return multi_->block_on(std::move(future), site);
    }

    /// Spawn a task. With workers, from any thread; with 0, from the thread that runs
    /// block_on, before or during it.
    template <class F>
    requires Future<F> || detail::FutureFactory<F>
    auto spawn(F future, std::source_location site = std::source_location::current()) {
        if (executor_) return executor_->spawn(std::move(future), site);
        return multi_->handle().spawn(std::move(future), site);
    }

    /// Queue `fn` on the blocking pool, from any thread (new in chapter 9). Inside a task,
    /// rt::spawn_blocking does the same without naming the runtime.
    template <class Fn>
    requires std::invocable<Fn&>
    auto spawn_blocking(Fn fn) { return blocking_pool().spawn(std::move(fn)); }

    /// What the blocking pool did so far.
    BlockingStats blocking_stats() const {
        return executor_ ? executor_->blocking_stats() : multi_->blocking_pool().stats();
    }

    /// A handle to spawn from any thread.
    Handle handle() const { return executor_ ? executor_->handle() : multi_->handle(); }

    /// Worker threads: 0 for the single-threaded runtime.
    std::size_t workers() const noexcept { return workers_; }

    /// What each worker did so far (empty for 0 workers).
    std::vector<WorkerStats> worker_stats() const {
        return multi_ ? multi_->worker_stats() : std::vector<WorkerStats>{};
    }

    /// Everything the runtime records, now (new in chapter 10, rt/metrics/snapshot.hpp).
    /// From any thread.
    MetricsSnapshot metrics() const {
        return executor_ ? executor_->metrics_snapshot() : multi_->metrics();
    }

private:
    detail::BlockingPool& blocking_pool() noexcept {
        return executor_ ? executor_->blocking_pool() : multi_->blocking_pool();
    }

    std::size_t workers_;
    std::optional<Executor> executor_;
    std::optional<detail::MultiThread> multi_;
};

}  // namespace rt
