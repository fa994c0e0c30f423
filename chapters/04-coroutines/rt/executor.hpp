// The executor: tasks are polled only when their waker says they can progress. Each task is
// one allocation with a reference count (rt/task.hpp); a waker is a reference; waking puts
// the task in the ready queue once (rt/ready_queue.hpp); with nothing ready the executor
// sleeps until a waker, from any thread, gives it something to do.
//
// New in chapter 4: spawn hands back a JoinHandle for the task's outcome; block_on runs a
// future to completion and returns its value; while the executor runs, rt::spawn from inside
// a task reaches it, as tokio::spawn reaches the runtime it is called on. All of these are
// for the executor's own thread (from a task, or from the thread that calls run/block_on);
// chapter 7 lets other threads spawn, through a Handle.
//
// Shutdown protocol (the destructor), so that nothing leaks even with tasks still pending:
//  1. close the ready queue: from now on a wake, from any thread, releases its reference
//     instead of queueing it, so no task can come back to life in a dead executor;
//  2. release the queue's references to the tasks it still held;
//  3. for every live task: destroy its future, which drops the wakers the future kept
//     (a task waiting on itself through a channel would otherwise keep itself alive), then
//     drop the executor's reference. A task is freed when its last waker, or its JoinHandle,
//     goes; a JoinHandle that outlives the executor completes with TaskAborted.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "rt/future.hpp"
#include "rt/join_handle.hpp"
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

class Executor;

namespace detail {

/// The executor that is running on this thread, if any: where rt::spawn puts new tasks.
inline thread_local Executor* current_executor = nullptr;

/// Makes `executor` the current one for a scope (run, run_until_idle, block_on).
class EnterExecutor {
public:
    explicit EnterExecutor(Executor* executor) : previous_(current_executor) {
        current_executor = executor;
    }
    ~EnterExecutor() { current_executor = previous_; }
    EnterExecutor(const EnterExecutor&) = delete;
    EnterExecutor& operator=(const EnterExecutor&) = delete;

private:
    Executor* previous_;
};

// snippet-begin: deferred
/// The future of a callable that returns a future: calls it at the first poll, then polls
/// what it returned. The callable lives in the task next to that future and outlives it, so
/// a coroutine lambda's captures stay valid for as long as its coroutine runs.
template <class Fn>
class Deferred {
    using Made = std::invoke_result_t<Fn&>;

public:
    using Output = typename Made::Output;

    explicit Deferred(Fn fn) : fn_(std::move(fn)) {}

    Poll<Output> poll(Context& cx) {
        if (!future_) future_.emplace(Call{fn_});  // made in place: never moved
        return future_->poll(cx);
    }

private:
    /// Converts to the callable's result, so that emplace constructs it in place.
    struct Call {
        Fn& fn;
        operator Made() const { return std::invoke(fn); }
    };

    Fn fn_;                       // declared first, destroyed last
    std::optional<Made> future_;  // made at the first poll
};
// snippet-end: deferred

/// A callable that returns a future, and is not one itself.
template <class Fn>
concept FutureFactory = !Future<Fn> && std::invocable<Fn&> && Future<std::invoke_result_t<Fn&>>;

}  // namespace detail

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
    /// Queue a future to run as a task. The handle gives its outcome; dropping the handle
    /// lets the task run on, detached.
    template <Future F>
    JoinHandle<typename F::Output> spawn(F future) {
        auto* task = new detail::TaskCell<F>(std::move(future), queue_);  // refs: 1 (ours)
        task->ref();                                                      // the handle's
        link(task);
        task->schedule();  // the first poll, like any other, starts with a wake
        return JoinHandle<typename F::Output>(task);
    }

    /// Spawn what `make()` returns, with `make` kept alive in the task until the future is
    /// done: the safe way to spawn a coroutine lambda that captures (Deferred, above).
    template <detail::FutureFactory Fn>
    auto spawn(Fn make) {
        return spawn(detail::Deferred<Fn>(std::move(make)));
    }
    // snippet-end: spawn

    // snippet-begin: block-on
    /// Run tasks on this thread until `future` (spawned as a task) completes; return its
    /// value or rethrow its exception. Other tasks stay spawned: a later run() or block_on
    /// goes on with them, and the destructor cancels them.
    template <class F>
    requires Future<F> || detail::FutureFactory<F>
    auto block_on(F future) {
        if (detail::current_executor != nullptr) {
            throw std::logic_error(
                "block_on inside a running executor would block the thread that runs its "
                "tasks; co_await the future instead");
        }
        auto handle = spawn(std::move(future));
        detail::EnterExecutor enter(this);
        RunStats stats;
        while (!handle.is_finished()) {
            detail::Task* task = queue_->pop_or_wait(stats.parks);  // we own the queue's ref
            run_task(task, stats);
        }
        Waker waker = noop_waker();
        Context cx(waker);
        auto outcome = handle.poll(cx);  // ready: the task has an outcome
        if constexpr (!std::is_void_v<typename decltype(handle)::Output>) {
            return std::move(outcome).value();
        }
    }
    // snippet-end: block-on

    // snippet-begin: run
    /// Run until every spawned task has completed, polling a task only after it was woken
    /// and sleeping whenever no task is ready.
    RunStats run() {
        RunStats stats;
        detail::EnterExecutor enter(this);
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
        detail::EnterExecutor enter(this);
        const std::uint64_t pushes_before = queue_->pushes();
        while (detail::Task* task = queue_->try_pop()) run_task(task, stats);
        stats.queued = queue_->pushes() - pushes_before;
        return stats;
    }

    /// Tasks spawned and not yet completed.
    std::size_t pending_tasks() const noexcept { return live_count_; }

private:
    // snippet-begin: run-task
    /// Poll one popped task, finish it if it completed or was aborted, and drop the queue's
    /// reference.
    void run_task(detail::Task* task, RunStats& stats) {
        switch (task->begin_poll()) {
            case detail::Task::Turn::poll:
                ++stats.polls;
                if (task->poll()) {
                    ++stats.completed;
                    task->finish();
                    release(task);
                }
                break;
            case detail::Task::Turn::cancel:  // abort(): destroy the future, never poll it
                task->finish();
                release(task);
                break;
            case detail::Task::Turn::skip:  // complete already; a late wake queued it
                break;
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

// snippet-begin: free-functions
/// tokio::spawn: spawn on the executor running on this thread, from inside one of its tasks.
template <class F>
requires Future<F> || detail::FutureFactory<F>
auto spawn(F future) {
    if (detail::current_executor == nullptr) {
        throw std::logic_error(
            "rt::spawn needs a running executor on this thread: call it from a task, or call "
            "Executor::spawn");
    }
    return detail::current_executor->spawn(std::move(future));
}

/// #[tokio::main]: run `future` to completion on a new executor, and return its value. Tasks
/// it spawned and did not wait for are cancelled when it returns.
template <class F>
requires Future<F> || detail::FutureFactory<F>
auto block_on(F future) {
    Executor executor;
    return executor.block_on(std::move(future));
}
// snippet-end: free-functions

}  // namespace rt
