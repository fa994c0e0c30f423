// Chapter 2's executor: tasks are polled only when their waker says they can progress.
// Each task is one allocation with a reference count (rt/task.hpp); a waker is a reference;
// waking puts the task in the ready queue once (rt/ready_queue.hpp); with nothing ready the
// executor sleeps until a waker, from any thread, gives it something to do.
//
// Shutdown protocol (the destructor), so that nothing leaks even with tasks still pending:
//  1. close the ready queue: from now on a wake, from any thread, releases its reference
//     instead of queueing it, so no task can come back to life in a dead executor;
//  2. release the queue's references to the tasks it still held;
//  3. for every live task: destroy its future, which drops the wakers the future kept
//     (a task waiting on itself through a channel would otherwise keep itself alive), then
//     drop the executor's reference. A task is freed when its last waker goes.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <utility>

#include "rt/future.hpp"
#include "rt/ready_queue.hpp"
#include "rt/task.hpp"

namespace rt {

/// What a call to Executor::run did, so the cost of each way of waiting can be shown.
struct RunStats {
    std::uint64_t polls = 0;      // calls to poll() on any task
    std::uint64_t completed = 0;  // tasks that returned ready
    std::uint64_t parks = 0;      // times the executor slept because no task was ready
    std::uint64_t queued = 0;     // times a wake put a task in the ready queue
};

class Executor {
public:
    Executor() = default;
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    ~Executor() {
        for (detail::Task* task : queue_->close()) task->unref();
        while (live_ != nullptr) {
            detail::Task* task = live_;
            task->finish();
            release(task);
        }
    }

    // snippet-begin: spawn
    /// Queue a future to run. Its output must be void: a task is run for its effects.
    template <Future F>
    requires std::same_as<typename F::Output, void>
    void spawn(F future) {
        auto* task = new detail::TaskCell<F>(std::move(future), queue_);  // refs: 1 (ours)
        link(task);
        task->schedule();  // the first poll, like any other, starts with a wake
    }
    // snippet-end: spawn

    // snippet-begin: run
    /// Run until every spawned task has completed, polling a task only after it was woken
    /// and sleeping whenever no task is ready.
    RunStats run() {
        RunStats stats;
        const std::uint64_t pushes_before = queue_->pushes();
        while (live_count_ > 0) {
            detail::Task* task = queue_->pop_or_wait(stats.parks);  // we own the queue's ref
            run_task(task, stats);
        }
        stats.queued = queue_->pushes() - pushes_before;
        return stats;
    }
    // snippet-end: run

    /// Poll tasks while some are ready; return, without sleeping, when none is. Tasks still
    /// waiting stay spawned (a later run() finishes them; the destructor releases them).
    RunStats run_until_idle() {
        RunStats stats;
        const std::uint64_t pushes_before = queue_->pushes();
        while (detail::Task* task = queue_->try_pop()) run_task(task, stats);
        stats.queued = queue_->pushes() - pushes_before;
        return stats;
    }

    /// Tasks spawned and not yet completed.
    std::size_t pending_tasks() const noexcept { return live_count_; }

private:
    // snippet-begin: run-task
    /// Poll one popped task, finish it if it completed, and drop the queue's reference.
    void run_task(detail::Task* task, RunStats& stats) {
        if (task->begin_poll()) {
            ++stats.polls;
            if (task->poll()) {
                ++stats.completed;
                task->finish();
                release(task);
            }
        }
        task->unref();
    }
    // snippet-end: run-task

    void link(detail::Task* task) {
        task->next_live = live_;
        if (live_ != nullptr) live_->prev_live = task;
        live_ = task;
        ++live_count_;
    }
    /// Unlink a completed task and drop the executor's reference to it.
    void release(detail::Task* task) {
        if (task->prev_live != nullptr) task->prev_live->next_live = task->next_live;
        if (task->next_live != nullptr) task->next_live->prev_live = task->prev_live;
        if (live_ == task) live_ = task->next_live;
        --live_count_;
        task->unref();
    }

    std::shared_ptr<detail::ReadyQueue> queue_ = std::make_shared<detail::ReadyQueue>();
    detail::Task* live_ = nullptr;  // every task not yet complete; one reference each
    std::size_t live_count_ = 0;
};

}  // namespace rt
