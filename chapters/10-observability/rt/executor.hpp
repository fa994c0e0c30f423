// The executor: tasks are polled only when their waker says they can progress. Each task is
// one allocation with a reference count (rt/task.hpp); a waker is a reference; waking puts
// the task in the ready queue once (rt/ready_queue.hpp); with nothing ready the executor
// sleeps until a waker, from any thread, gives it something to do.
//
// New in chapter 5: the executor owns the I/O driver (rt/io_driver.hpp), and sleeps in its
// epoll_wait instead of on a condition variable, so a socket becoming ready and a wake from
// another thread both end the sleep. The loop (run, block_on):
//  1. run the tasks that are ready, one at a time, in wake order;
//  2. every `event_interval` tasks, collect I/O events without waiting (epoll_wait with a
//     timeout of 0): a busy executor must not starve the sockets, and the tasks they wake
//     join the back of the queue;
//  3. with no task ready, park: epoll_wait until an event or a push (the park protocol of
//     rt/ready_queue.hpp).
//
// New in chapter 6: the executor owns the time driver (rt/time/driver.hpp) too. Step 3's
// epoll_wait sleeps at most until the next timer's deadline, and after every epoll_wait,
// in step 2 as in step 3, the driver fires the timers that are due.
//
// New in chapter 4: spawn hands back a JoinHandle for the task's outcome; block_on runs a
// future to completion and returns its value; while the executor runs, rt::spawn from inside
// a task reaches it, as tokio::spawn reaches the runtime it is called on. All of these are
// for the executor's own thread (from a task, or from the thread that calls run/block_on).
//
// New in chapter 7: other threads spawn through a Handle (Executor::handle()), as through
// tokio's runtime::Handle. Their tasks take the path of a wake from afar: the remote side of
// the ready queue, under its lock, and the eventfd if the executor is parked. The executor
// links them into its list of live tasks when it collects them, for only its thread touches
// that list. A spawned coroutine is one allocation (CoroutineCell, rt/coroutine.hpp).
//
// New in chapter 10: a task is named at its spawn (rt::named, or the spawn's file and line),
// and given statistics there if the runtime records them (make_task); the executor measures
// each poll of such a task, and can take a snapshot of its metrics from any thread.
//
// Shutdown protocol (the destructor), so that nothing leaks even with tasks still pending:
//  1. close the ready queue: from now on a wake, from any thread, releases its reference
//     instead of queueing it, so no task can come back to life in a dead executor, and a
//     Handle's spawn finds it closed and completes its JoinHandle with TaskAborted;
//  2. release the queue's references to the tasks it still held; a task spawned from afar
//     and never collected is destroyed there, with the executor's reference;
//  3. for every live task: destroy its future, which drops the wakers the future kept
//     (a task waiting on itself through a channel would otherwise keep itself alive), then
//     drop the executor's reference. A task is freed when its last waker, or its JoinHandle,
//     goes; a JoinHandle that outlives the executor completes with TaskAborted.
#pragma once

#include <cassert>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "rt/blocking/pool.hpp"
#include "rt/coop.hpp"
#include "rt/coroutine.hpp"
#include "rt/future.hpp"
#include "rt/io_driver.hpp"
#include "rt/join_handle.hpp"
#include "rt/metrics/snapshot.hpp"
#include "rt/ready_queue.hpp"
#include "rt/task.hpp"
#include "rt/time/driver.hpp"

namespace rt {

/// What a call to Executor::run did, so the cost of each way of waiting can be shown.
struct RunStats {
    std::uint64_t polls = 0;         // calls to poll() on any task
    std::uint64_t completed = 0;     // tasks that returned ready
    std::uint64_t parks = 0;         // times the executor slept because no task was ready
    std::uint64_t queued = 0;        // times a wake put a task in the ready queue
    std::uint64_t io_events = 0;     // events epoll_wait reported (sockets, and pushes from afar)
    std::uint64_t timers_fired = 0;  // timers whose deadline passed and woke their task
};

class Executor;

namespace detail {

/// Makes `executor` the runtime of this thread for a scope (run, run_until_idle, block_on):
/// where rt::spawn puts new tasks (rt/scheduler.hpp), and its queue the one that wakes on
/// this thread push to without a lock (rt/ready_queue.hpp).
class EnterExecutor {
public:
    EnterExecutor(RuntimeContext* executor, ReadyQueue* queue)
        : previous_(current_runtime),
          previous_queue_(local_queue),
          previous_lane_owner_(lane_owner) {
        current_runtime = executor;
        local_queue = queue;
        lane_owner = queue->metrics();  // the timeline's lane 0 (new in chapter 10)
        lane_index = 0;
    }
    ~EnterExecutor() {
        current_runtime = previous_;
        local_queue = previous_queue_;
        lane_owner = previous_lane_owner_;
    }
    EnterExecutor(const EnterExecutor&) = delete;
    EnterExecutor& operator=(const EnterExecutor&) = delete;

private:
    RuntimeContext* previous_;
    ReadyQueue* previous_queue_;
    const void* previous_lane_owner_;
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
    /// Moved only into its task, before the first poll: there is no future to move yet.
    Deferred(Deferred&& other) noexcept(std::is_nothrow_move_constructible_v<Fn>)
        : fn_(std::move(other.fn_)) {
        assert(!other.future_ && "a Deferred moved after its first poll");
    }

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

// snippet-begin: named
/// A future with a name for its task (new in chapter 10): `rt::spawn(rt::named("accept",
/// accept_loop(listener)))`. The name shows in the metrics, the console and the timeline; a
/// task spawned without one is named after the line that spawned it. Polling a Named polls
/// its future, so a Named may also be awaited; spawning one costs nothing more than spawning
/// its future.
template <Future F>
class Named {
public:
    using Output = typename F::Output;
    Named(std::string name, F future) : name_(std::move(name)), future_(std::move(future)) {}
    Poll<Output> poll(Context& cx) { return future_.poll(cx); }

    std::string& name() noexcept { return name_; }
    F& future() noexcept { return future_; }

private:
    std::string name_;
    F future_;
};

template <class F>
requires Future<F> || detail::FutureFactory<F>
auto named(std::string name, F future) {
    if constexpr (detail::FutureFactory<F>) {
        return Named<detail::Deferred<F>>(std::move(name), detail::Deferred<F>(std::move(future)));
    } else {
        return Named<F>(std::move(name), std::move(future));
    }
}
// snippet-end: named

namespace detail {

// snippet-begin: make-task
/// Give a new task its statistics (new in chapter 10): named `*name`, or after `site` if there
/// is no name. Out of line: the spawn of a runtime without statistics never calls it.
[[gnu::noinline]] inline void track(Task* task, Metrics* metrics, std::source_location site,
                                    std::string* name) {
    task->attach_stats(
        metrics->track(task, site, name != nullptr ? std::move(*name) : std::string()));
}

/// The task of a future, made for `scheduler` (one allocation either way), born scheduled
/// with three references: the runtime's, the JoinHandle's and the queue's. New in chapter 10:
/// where it was spawned, its name unless it has one. `site` is passed by value, as everywhere
/// on the spawn's path: a source_location is one pointer, which a reference would have put on
/// the stack at every spawn, statistics or not: 10 instructions a spawn in spawn_many, more
/// than a third of what this chapter had added there.
template <Future F>
Joinable<typename F::Output>* make_task(F future, Scheduler* scheduler, std::source_location site,
                                        std::string* name = nullptr) {
    auto* task = new TaskCell<F>(std::move(future), scheduler);
    if (Metrics* metrics = scheduler->metrics()) [[unlikely]]
        track(task, metrics, site, name);
    return task;
}
template <class T>
Joinable<T>* make_task(rt::Task<T> coroutine, Scheduler* scheduler, std::source_location site,
                       std::string* name = nullptr) {
    auto* task = CoroutineCell<T>::spawn(std::move(coroutine), scheduler);  // in its frame's room
    if (Metrics* metrics = scheduler->metrics()) [[unlikely]]
        track(task, metrics, site, name);
    return task;
}
/// A named future: the task of the future inside, with its name.
template <class F>
Joinable<typename F::Output>* make_task(Named<F> named, Scheduler* scheduler,
                                        std::source_location site, std::string* = nullptr) {
    return make_task(std::move(named.future()), scheduler, site, &named.name());
}
// snippet-end: make-task

}  // namespace detail

// snippet-begin: handle
/// Spawns onto a runtime from any thread (tokio::runtime::Handle). Copies share the runtime's
/// scheduler, which outlives the runtime (new in chapter 8: the executor's ready queue, or the
/// multi-threaded runtime's shared state); once the runtime is gone, spawn gives a JoinHandle
/// that completes with TaskAborted.
class Handle {
public:
    explicit Handle(detail::Scheduler* queue) noexcept : queue_(queue) { queue_->retain(); }
    Handle(const Handle& other) noexcept : Handle(other.queue_) {}
    Handle& operator=(const Handle& other) noexcept {
        Handle copy(other);
        std::swap(queue_, copy.queue_);
        return *this;
    }
    ~Handle() { queue_->release(); }

    /// Queue a future (or the future `make()` returns, with `make` kept beside it) as a task
    /// of the handle's executor, from any thread.
    template <class F>
    requires Future<F> || detail::FutureFactory<F>
    auto spawn(F future, std::source_location site = std::source_location::current()) const {
        if constexpr (detail::FutureFactory<F>) {
            return spawn(detail::Deferred<F>(std::move(future)), site);
        } else {
            auto* task = detail::make_task(std::move(future), queue_, site);
            using Output = typename F::Output;
            if (!queue_->push_spawned(task)) {
                // The executor is gone: the task never ran. Destroy its future here and drop
                // the references that were the queue's and the executor's.
                task->finish();
                task->unref();
                task->unref();
            }
            return JoinHandle<Output>(task);
        }
    }

private:
    detail::Scheduler* queue_;  // one of its references
};
// snippet-end: handle

class Executor final : private detail::RuntimeContext {
public:
    Executor() = default;
    /// With a blocking pool of these limits (new in chapter 9; the default's otherwise), and
    /// recording what `metrics` asks for (new in chapter 10).
    explicit Executor(BlockingOptions blocking, MetricsOptions metrics = {})
        : blocking_(detail::BlockingPool::make(blocking)) {
        queue_->enable_metrics(std::move(metrics), 1, true);
    }
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    ~Executor() {
        if (detail::Metrics* recorded = metrics()) {  // new in chapter 10
            recorded->close();
            recorded->finish_trace();
        }
        auto [woken, spawned_from_afar] = queue_->close();
        for (detail::Task* task : woken) task->unref();
        for (detail::Task* task : spawned_from_afar) {  // never linked: never polled
            task->finish();
            task->unref();  // the executor's reference
            task->unref();  // the queue's
        }
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
    JoinHandle<typename F::Output> spawn(
        F future, std::source_location site = std::source_location::current()) {
        // Born scheduled, with our reference, the handle's and the queue's (rt/task.hpp).
        auto* task = detail::make_task(std::move(future), queue_.get(), site);
        link(task);
        queue_->push(task);  // the first poll, like any other, follows a wake
        return JoinHandle<typename F::Output>(task);
    }

    /// Spawn what `make()` returns, with `make` kept alive in the task until the future is
    /// done: the safe way to spawn a coroutine lambda that captures (Deferred, above). Two
    /// allocations when `make()` is a coroutine: the task holding `make`, and the frame.
    template <detail::FutureFactory Fn>
    auto spawn(Fn make, std::source_location site = std::source_location::current()) {
        return spawn(detail::Deferred<Fn>(std::move(make)), site);
    }

    /// Spawn `fn(args...)`: one allocation when fn is a coroutine, for the frame copies the
    /// parameters it takes by value. The same as spawn(fn(args...)), spelled as std::thread's
    /// constructor is; fn is called at once, so it may be a lambda that captures nothing.
    template <class Fn, class Arg, class... Args>
    requires std::invocable<Fn, Arg, Args...> && Future<std::invoke_result_t<Fn, Arg, Args...>>
    auto spawn(Fn&& fn, Arg&& arg, Args&&... args) {
        return spawn(
            std::invoke(std::forward<Fn>(fn), std::forward<Arg>(arg), std::forward<Args>(args)...));
    }
    // snippet-end: spawn

    /// A handle to spawn onto this executor from other threads.
    Handle handle() const noexcept { return Handle(queue_.get()); }

    // snippet-begin: block-on
    /// Run tasks on this thread until `future` (spawned as a task) completes; return its
    /// value or rethrow its exception. Other tasks stay spawned: a later run() or block_on
    /// goes on with them, and the destructor cancels them.
    template <class F>
    requires Future<F> || detail::FutureFactory<F>
    auto block_on(F future, std::source_location site = std::source_location::current()) {
        if (detail::current_runtime != nullptr) {
            throw std::logic_error(
                "block_on inside a running executor would block the thread that runs its "
                "tasks; co_await the future instead");
        }
        auto handle = spawn(std::move(future), site);
        detail::EnterExecutor enter(this, queue_.get());
        RunStats stats;
        while (!handle.is_finished()) tick(stats);
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
        detail::EnterExecutor enter(this, queue_.get());
        const std::uint64_t pushes_before = queue_->pushes();
        while (live_count_ > 0) tick(stats);
        stats.queued = queue_->pushes() - pushes_before;
        return stats;
    }
    // snippet-end: run

    /// Poll tasks while some are ready; return, without sleeping, when none is. Tasks still
    /// waiting stay spawned (a later run() finishes them; the destructor releases them).
    RunStats run_until_idle() {
        RunStats stats;
        detail::EnterExecutor enter(this, queue_.get());
        const std::uint64_t pushes_before = queue_->pushes();
        for (;;) {
            while (detail::Task* task = next_task()) run_task(task, stats);
            collect_without_waiting(stats);  // events and timers that are due: maybe more tasks
            if (detail::Task* task = next_task()) {
                run_task(task, stats);
            } else {
                break;
            }
        }
        stats.queued = queue_->pushes() - pushes_before;
        return stats;
    }

    /// Tasks spawned and not yet completed.
    std::size_t pending_tasks() const noexcept { return live_count_; }

    /// The I/O driver, where AsyncFd registers its descriptor.
    detail::IoDriver& io_driver() noexcept override { return driver_; }

    /// The time driver, where Sleep registers its timer.
    detail::TimeDriver& time_driver() noexcept override { return timers_; }

    /// The blocking pool, where rt::spawn_blocking sends its calls (new in chapter 9).
    detail::BlockingPool& blocking_pool() noexcept override { return *blocking_; }

    /// Queue `fn` on the blocking pool, from any thread; its handle may be awaited by a task.
    template <class Fn>
    requires std::invocable<Fn&>
    auto spawn_blocking(Fn fn) { return blocking_->spawn(std::move(fn)); }

    /// What the blocking pool did so far.
    BlockingStats blocking_stats() const { return blocking_->stats(); }

    /// Everything the executor records, now (new in chapter 10, rt/metrics/snapshot.hpp):
    /// the tasks' statistics and warnings, if it was asked for them. From any thread: all of
    /// it is read under the metrics' and the pool's locks, or from atomics.
    MetricsSnapshot metrics_snapshot() const {
        MetricsSnapshot snapshot;
        snapshot.uptime_ns = detail::now_ns() - started_ns_;
        snapshot.blocking = blocking_->stats();
        detail::fill_tasks(snapshot, metrics(),
                           [](const detail::Task* task) { return task->state_name(); });
        return snapshot;
    }

    /// Step 2's interval: tasks run between two collections of I/O events while the queue is
    /// never empty. Tokio's current-thread runtime uses 61.
    static constexpr int event_interval = 61;

private:
    // snippet-begin: tick
    /// One step of the loop: run a ready task (step 1), collect events every event_interval
    /// tasks (step 2), or park in epoll_wait when nothing is ready (step 3).
    void tick(RunStats& stats) {
        if (detail::Task* task = next_task()) {  // we own the queue's reference
            run_task(task, stats);
            if (++since_events_ == event_interval) {
                since_events_ = 0;
                collect_without_waiting(stats);
            }
            return;
        }
        since_events_ = 0;
        if (queue_->prepare_park()) {
            const int timeout = timers_.park_timeout_ms(Clock::now());
            if (timeout != 0) ++stats.parks;
            // Until an event, a push or a deadline; the park ends as soon as epoll_wait returns.
            stats.io_events += driver_.turn(timeout, [this] { queue_->end_park(); });
            timers_.unparked();
        }
        if (timers_.registered() > 0) stats.timers_fired += timers_.process(Clock::now());
    }

    /// Step 2: events and timers that are due, without waiting; nothing to ask the kernel or
    /// the clock for when no socket and no timer is registered (new in chapter 7).
    void collect_without_waiting(RunStats& stats) {
        if (driver_.watching_sockets()) stats.io_events += driver_.turn(0);
        if (timers_.registered() > 0) stats.timers_fired += timers_.process(Clock::now());
    }
    // snippet-end: tick

    // snippet-begin: run-task
    /// Poll one popped task, finish it if it completed or was aborted, and drop the queue's
    /// reference.
    void run_task(detail::Task* task, RunStats& stats) {
        switch (task->begin_poll()) {
            case detail::Task::Turn::poll:
                ++stats.polls;
                after_poll(task, poll_future(task), nullptr, stats);
                return;
            case detail::Task::Turn::poll_measured:
                // New in chapter 10: a task with statistics takes a measured copy of this path
                // (run_measured). begin_poll found it in the test it makes anyway, so a task
                // without them costs no test more here than in chapter 9.
                ++stats.polls;
                run_measured(task, task->stats(), stats);
                return;
            case detail::Task::Turn::cancel:  // abort(): destroy the future, never poll it
                task->finish();
                unlink(task);
                task->unref(2);
                return;
            case detail::Task::Turn::skip:  // complete already; a late wake queued it
                break;
        }
        task->unref();  // the queue's reference
    }

    /// Finish a task whose poll completed it, or queue it again if it woke itself.
    /// `task_stats`: its statistics, or null (new in chapter 10).
    [[gnu::always_inline]] void after_poll(detail::Task* task, bool completed,
                                           detail::TaskStats* task_stats, RunStats& stats) {
        if (completed) {
            ++stats.completed;
            task->finish(task_stats);
            unlink(task);
            task->unref(2);  // the executor's reference and the queue's, at once
            return;
        }
        if (task->end_poll(detail::polling_woke_itself, task_stats)) queue_->push(task);
    }
    // snippet-end: run-task

    /// The poll itself: true when the future completed.
    static bool poll_future(detail::Task* task) {
        detail::polling = task;
        detail::polling_woke_itself = false;
        bool completed;
        {
            coop::PollBudget budget;  // new in chapter 9 (rt/coop.hpp)
            completed = task->poll();
        }
        detail::polling = nullptr;
        return completed;
    }

    /// The poll of a task with statistics, timed, and what follows it (new in chapter 10).
    [[gnu::noinline]] void run_measured(detail::Task* task, detail::TaskStats* task_stats,
                                        RunStats& stats) {
        const std::int64_t started = metrics()->poll_started(task_stats);
        const bool completed = poll_future(task);
        metrics()->poll_ended(task_stats, started, completed, detail::polling_woke_itself);
        after_poll(task, completed, task_stats, stats);
    }

    /// The next ready task, after taking in what other threads woke or spawned.
    detail::Task* next_task() {
        if (queue_->remote_pending()) {
            detail::TaskList spawned = queue_->collect_remote();
            while (detail::Task* task = spawned.pop_front()) {
                link(task);          // the executor's reference came with it
                queue_->push(task);  // the local list: we are running
            }
        }
        return queue_->try_pop();
    }

    detail::Metrics* metrics() const noexcept { return queue_->metrics(); }

    // The runtime of this thread while it runs (rt/scheduler.hpp): rt::spawn, AsyncFd, Sleep.
    detail::Scheduler* scheduler() noexcept override { return queue_.get(); }
    void spawn_task(detail::Task* task) override {
        link(task);
        queue_->push(task);
    }

    void link(detail::Task* task) {
        task->next_live = live_;
        if (live_ != nullptr) live_->prev_live = task;
        live_ = task;
        ++live_count_;
    }
    /// Take a completed task out of the list of live tasks.
    void unlink(detail::Task* task) noexcept {
        if (task->prev_live != nullptr) task->prev_live->next_live = task->next_live;
        if (task->next_live != nullptr) task->next_live->prev_live = task->prev_live;
        if (live_ == task) live_ = task->next_live;
        --live_count_;
    }
    /// Unlink a completed task and drop the executor's reference to it.
    void release(detail::Task* task) {
        unlink(task);
        task->unref();
    }

    /// Drops the executor's reference to its queue, after the members declared below it.
    struct ReleaseQueue {
        void operator()(detail::ReadyQueue* queue) const noexcept { queue->release(); }
    };
    std::unique_ptr<detail::ReadyQueue, ReleaseQueue> queue_{new detail::ReadyQueue};
    detail::IoDriver driver_{queue_->wake_fd()};  // after queue_: watches its eventfd
    detail::TimeDriver timers_;                   // every registered Sleep
    int since_events_ = 0;                        // tasks run since events were collected
    detail::Task* live_ = nullptr;                // every task not yet complete; one reference each
    std::size_t live_count_ = 0;
    const std::int64_t started_ns_ = detail::now_ns();
    // Last, so first to go after the destructor's body has cancelled the tasks: waits for the
    // blocking calls that are running (rt/blocking/pool.hpp).
    detail::OwnedBlockingPool blocking_{detail::BlockingPool::make({})};
};

// snippet-begin: free-functions
/// tokio::spawn: spawn on the executor running on this thread, from inside one of its tasks.
template <class F>
requires Future<F> || detail::FutureFactory<F>
auto spawn(F future, std::source_location site = std::source_location::current()) {
    if constexpr (detail::FutureFactory<F>) {
        return spawn(detail::Deferred<F>(std::move(future)), site);
    } else {
        detail::RuntimeContext* runtime = detail::current_runtime;
        if (runtime == nullptr) {
            throw std::logic_error(
                "rt::spawn needs a running executor on this thread: call it from a task, or "
                "call Executor::spawn");
        }
        auto* task = detail::make_task(std::move(future), runtime->scheduler(), site);
        runtime->spawn_task(task);
        return JoinHandle<typename F::Output>(task);
    }
}

/// tokio::spawn of `fn(args...)`, as Executor::spawn(fn, args...): one allocation for a
/// coroutine function, whose frame holds the arguments.
template <class Fn, class Arg, class... Args>
requires std::invocable<Fn, Arg, Args...> && Future<std::invoke_result_t<Fn, Arg, Args...>>
auto spawn(Fn&& fn, Arg&& arg, Args&&... args) {
    return spawn(
        std::invoke(std::forward<Fn>(fn), std::forward<Arg>(arg), std::forward<Args>(args)...));
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

/// tokio::task::spawn_blocking (new in chapter 9): run `fn` on the blocking pool of the runtime
/// running on this thread, from inside one of its tasks, and get a JoinHandle for its result;
/// awaiting it suspends the task, never the worker. An exception `fn` throws comes out of the
/// co_await. Outside a task, use the runtime's own spawn_blocking.
template <class Fn>
requires std::invocable<Fn&>
auto spawn_blocking(Fn fn) {
    detail::RuntimeContext* runtime = detail::current_runtime;
    if (runtime == nullptr) {
        throw std::logic_error(
            "rt::spawn_blocking needs a running runtime on this thread: call it from a task, or "
            "call Runtime::spawn_blocking");
    }
    return runtime->blocking_pool().spawn(std::move(fn));
}

}  // namespace rt
