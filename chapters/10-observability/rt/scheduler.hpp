// What a task and a future see of the runtime they run on (new in chapter 8). There are now two
// runtimes: chapter 7's single-threaded executor (rt/executor.hpp) and the multi-threaded one
// (rt/multi_thread/), and a task, a waker, a Sleep or a socket must not care which one it has.
//  - Scheduler: where a woken task goes. Every task holds a reference to its scheduler, which
//    therefore outlives the runtime while wakers exist; push() queues a task, and after the
//    runtime shut down releases it instead. The executor's ReadyQueue is one; the
//    multi-threaded runtime's shared state (Shared, rt/multi_thread/worker.hpp) is the other.
//  - RuntimeContext: the runtime running on this thread, set while a thread runs its tasks:
//    where rt::spawn puts a new task, and where AsyncFd and Sleep find the I/O and time
//    drivers. The executor is one; each worker thread of the multi-threaded runtime is one.
// It also holds the steps of the task protocol (rt/task.hpp) that need the scheduler, and, new
// in chapter 10, the runtime's Metrics (rt/metrics/metrics.hpp) with the hooks that reach them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "rt/metrics/metrics.hpp"
#include "rt/task.hpp"

namespace rt::detail {

class IoDriver;
class TimeDriver;
class BlockingPool;

class Scheduler;

/// The holders count of the scheduler whose worker this thread is, if any (below).
inline thread_local const Scheduler* counting_for = nullptr;
inline thread_local std::int64_t* local_holders = nullptr;

/// Where the tasks of one runtime are queued when woken.
///
/// Its holders (the runtime, every task, every Handle) are counted so that the last one frees
/// it. New in chapter 8: a count that every worker changes for every task it spawns or frees
/// would be one cache line that all of them write, twice per task. So each worker thread
/// counts in a plain integer of its own (`local_holders`, set by the worker), and only other
/// threads use the atomic count. The true count is the sum of all of them, which nobody can
/// read while the workers run; so, until the runtime adds the workers' counts in at shutdown,
/// after joining them (merge_local_holders), the atomic count carries a bias that no number
/// of releases from other threads can bring to zero.
class Scheduler {
public:
    Scheduler() = default;
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    /// One more holder (a task, a Handle). Relaxed: made from an existing holder's reference.
    void retain() noexcept {
        if (counting_for == this) {
            ++*local_holders;
            return;
        }
        holders_.fetch_add(1, std::memory_order_relaxed);
    }
    /// One holder fewer; the last one frees the scheduler (acq_rel, as Task::unref).
    void release() noexcept {
        if (counting_for == this) {
            --*local_holders;
            return;
        }
        if (holders_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// Queue a woken task; the scheduler takes over the caller's reference. From any thread.
    /// After shutdown the task is released instead.
    virtual void push(Task* task) = 0;

    /// A task spawned from a thread outside the runtime (Handle::spawn), with the references
    /// of the queue and of the runtime's list of live tasks. False if the runtime shut down:
    /// the caller still owns both references.
    virtual bool push_spawned(Task* task) = 0;

    /// What the runtime records about its tasks, or null (new in chapter 10,
    /// rt/metrics/metrics.hpp). Here, because every task reaches its scheduler, and the
    /// scheduler outlives them all.
    Metrics* metrics() const noexcept { return metrics_.get(); }
    /// Made by the runtime before its first task, if it records anything.
    void enable_metrics(MetricsOptions options, std::uint32_t workers, bool executor) {
        if (options.any())
            metrics_ = std::make_unique<Metrics>(std::move(options), workers, executor);
    }

protected:
    /// Only through release().
    virtual ~Scheduler() = default;

    /// For a scheduler whose worker threads count in local_holders: start with the bias.
    static constexpr std::int64_t holders_bias = std::int64_t{1} << 62;
    void count_on_workers() noexcept {
        holders_.fetch_add(holders_bias, std::memory_order_relaxed);
    }
    /// Shutdown, after the worker threads have ended: add their counts, remove the bias.
    void merge_local_holders(std::int64_t sum) noexcept {
        holders_.fetch_add(sum - holders_bias, std::memory_order_acq_rel);
    }

private:
    std::atomic<std::int64_t> holders_{1};  // the runtime, every task, every Handle
    std::unique_ptr<Metrics> metrics_;
};

/// The runtime whose tasks this thread is running.
class RuntimeContext {
public:
    /// The scheduler new tasks belong to.
    virtual Scheduler* scheduler() noexcept = 0;
    /// Take a task made for scheduler(), born scheduled with three references (the runtime's,
    /// the JoinHandle's, the queue's): link it into the live tasks and queue it.
    virtual void spawn_task(Task* task) = 0;
    virtual IoDriver& io_driver() noexcept = 0;
    virtual TimeDriver& time_driver() noexcept = 0;
    /// Where rt::spawn_blocking sends its calls (new in chapter 9).
    virtual BlockingPool& blocking_pool() noexcept = 0;

protected:
    ~RuntimeContext() = default;
};

/// The runtime running on this thread, if any (set by the executor's run and block_on, and by
/// each worker thread of the multi-threaded runtime).
inline thread_local RuntimeContext* current_runtime = nullptr;

/// The task this thread is polling, if any, and whether it woke itself during that poll
/// (yield_now does). Set and read by whoever polls (Executor::run_task, the workers').
inline thread_local Task* polling = nullptr;
inline thread_local bool polling_woke_itself = false;

inline void Task::adopt(Scheduler* scheduler) noexcept {
    scheduler->retain();
    scheduler_ = reinterpret_cast<std::uintptr_t>(scheduler);
}

inline Task::~Task() {
    if ((scheduler_ & has_stats) == 0) [[likely]] {
        if (scheduler_ != 0) [[likely]] reinterpret_cast<Scheduler*>(scheduler_)->release();
        return;
    }
    forget_stats();  // new in chapter 10
}

// New in chapter 10: out of line, so that ~Task stays as small as chapter 9's, and inlined.
[[gnu::noinline]] inline void Task::forget_stats() noexcept {
    TaskStats* recorded = stats();
    Scheduler* scheduler = recorded->scheduler;
    scheduler->metrics()->forget(recorded);
    scheduler->release();
}

[[gnu::noinline]] inline void Task::retire_stats() noexcept {
    TaskStats* recorded = stats();
    recorded->scheduler->metrics()->retire(recorded);
}

/// Neither queued, nor running, nor complete: only a wake can make the task run again.
inline bool Task::idle() const noexcept {
    return (state_.load(std::memory_order_acquire) & (scheduled | running | complete)) == 0;
}

// snippet-begin: waker-dropped
// New in chapter 10: a Waker of a task with statistics was dropped without waking it. The last
// one, while the task waits, leaves nothing that can wake it: a lost waker. A task that is
// running may still make a new one, so its check waits for end_poll.
[[gnu::noinline]] inline void Task::waker_dropped() {
    TaskStats* recorded = stats();
    if (recorded->wakers.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    recorded->scheduler->metrics()->check_lost_waker(recorded, [this] { return idle(); });
}
// snippet-end: waker-dropped

// snippet-begin: schedule
inline void Task::schedule() {
    // A task waking itself while it is being polled (new in chapter 7): the poller, which
    // holds the queue's reference to it until the poll ends, queues it again then (end_poll).
    // No atomic operation, no reference taken and dropped: a yield costs two atomics, not four.
    if (this == polling) {
        polling_woke_itself = true;  // chapter 10's statistics count it when the poll ends
        return;
    }
    // release: what this thread did before waking (e.g. filling a channel) is visible to
    // the poll, which acquires in begin_poll or end_poll. acquire: pairs with the release of
    // begin_poll, end_poll and finish(). Seeing the bits needs no order: an RMW reads the
    // word's latest value.
    const std::uint8_t before = state_.fetch_or(scheduled, std::memory_order_acq_rel);
    const bool queues = (before & (scheduled | running | complete)) == 0;  // step 1
    if (TaskStats* recorded = stats(); recorded != nullptr && (before & complete) == 0)
        [[unlikely]] {
        // New in chapter 10. A wake during a poll queues the task too, at the poll's end.
        const bool requeues = (before & (scheduled | running)) == running;
        recorded->scheduler->metrics()->woken(recorded, queues || requeues);
    }
    if (!queues) return;
    ref();  // the queue's reference
    scheduler()->push(this);
}
// snippet-end: schedule

inline void Task::schedule_with_reference() {  // stats == nullptr: see wake_waker
    if (this == polling) {           // as in schedule; the poller holds references, so this is not
        polling_woke_itself = true;  // the last one
        unref();
        return;
    }
    const std::uint8_t before = state_.fetch_or(scheduled, std::memory_order_acq_rel);
    if ((before & (scheduled | running | complete)) != 0) {
        unref();  // the waker's reference was not needed
        return;
    }
    scheduler()->push(this);  // with the waker's reference
}

// snippet-begin: end-poll
inline bool Task::end_poll(bool woke_itself, TaskStats* recorded) {
    // Step 3 in one compare-and-swap: clear RUNNING, and set SCHEDULED if the task woke
    // itself (no other wake may then queue it: it is ours to queue). release: this poll
    // happens-before the next one, wherever it runs, for that one acquires in begin_poll.
    // acquire: a wake from another thread during the poll (it found RUNNING and left the
    // task to us) happens-before the next poll.
    std::uint8_t before = state_.load(std::memory_order_relaxed);
    std::uint8_t after;
    do {
        after = static_cast<std::uint8_t>((before & ~running) | (woke_itself ? scheduled : 0));
    } while (!state_.compare_exchange_weak(before, after, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
    if ((after & scheduled) != 0) return true;         // the caller queues it, with that reference
    if (recorded != nullptr) [[unlikely]] {  // new in chapter 10: can it be woken?
        recorded->scheduler->metrics()->check_lost_waker(recorded, [this] { return idle(); });
    }
    unref();  // the queue's reference, which the popped task carried
    return false;
}
// snippet-end: end-poll

}  // namespace rt::detail
