// Exercise 02-01 (solution): the scheduling half of a task, on its own. However many times and
// from however many threads a task is woken, it is in its ready queue at most once; a wake
// during a poll queues it again; a complete task is never queued; every reference is released.
//
// The protocol, the same as chapter 2's rt/task.hpp (one atomic state word; one executor
// thread pops and polls; any thread wakes):
//  1. schedule (what every wake does): set SCHEDULED. If it was set already, the task is in the
//     queue, or the waker that set it is about to push it: stop. If the task is COMPLETE, stop:
//     nobody will poll it again. Otherwise take a reference for the queue entry and push.
//  2. begin_poll (the executor, after popping, before polling): clear SCHEDULED, so that a wake
//     arriving while the future runs queues the task again; answer whether the task may be
//     polled (it is not COMPLETE).
//  3. finish (the executor, once the future is ready or the executor shuts down): set COMPLETE.
#pragma once

#include <atomic>
#include <cstdint>

#include "rt/waker.hpp"

namespace wake_once {

class Task;

/// Where woken tasks go: the executor's ready queue, or a test's. Any thread may push.
class ReadyQueue {
public:
    /// Queue `task`. The queue takes over one reference to it: whoever pops the task later
    /// releases that reference with `task->unref()` when done with it.
    virtual void push(Task* task) = 0;

protected:
    ~ReadyQueue() = default;
};

/// A task as its wakers and its executor see it: a reference count, a state word, and the
/// queue to go to when woken. What the task runs (in chapter 2, the future) belongs to a
/// subclass; this exercise's tests use one to see when a task is freed.
class Task {
public:
    /// The task is in the ready queue, or a waker has claimed the right to put it there.
    static constexpr std::uint32_t scheduled = 1;
    /// The task is finished; it will never be polled again and must never be queued again.
    static constexpr std::uint32_t complete = 2;

    /// A new task holding one reference, its creator's. `queue` must outlive the task.
    explicit Task(ReadyQueue& queue) noexcept : queue_(queue) {}
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;

    /// Take one more reference. Relaxed: a reference is only ever made from one that exists,
    /// so the count cannot reach zero meanwhile (the same argument as std::shared_ptr's).
    void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }

    /// Drop one reference; the last one frees the task. acq_rel: the release publishes this
    /// holder's uses of the task, the acquire (taken by the last holder) makes every other
    /// holder's uses happen before the delete. It pairs with the fetch_sub of the other holders.
    void unref() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// How many references exist now; for tests and diagnostics (another thread may change
    /// it at any moment). Relaxed: it synchronises with nothing, it only reports a count.
    std::uint32_t refs() const noexcept { return refs_.load(std::memory_order_relaxed); }

    /// A new Waker for this task; it owns one reference.
    rt::Waker waker() {
        ref();
        return rt::Waker(rt::RawWaker{this, &waker_vtable});
    }

    /// Step 1, what every wake does: queue the task, unless it is queued already or complete.
    void schedule() {
        // One read-modify-write decides, among all the threads that wake at the same moment,
        // which single one pushes: the one that turned SCHEDULED on. A load followed by a
        // store would let two wakers both see "not scheduled" and both push.
        // release: what the waking thread did before the wake (e.g. put a value in a channel)
        // is visible to the poll, whose begin_poll acquires this word (the fetch_and below).
        // acquire: we read COMPLETE, set by finish() (its fetch_or is a release).
        const std::uint32_t before = state_.fetch_or(scheduled, std::memory_order_acq_rel);
        if ((before & (scheduled | complete)) != 0) return;
        ref();  // the queue entry's reference, released by whoever pops the task
        queue_.push(this);
    }

    /// Step 2, called by the executor after popping the task and before polling it. Returns
    /// false when the task is complete and must not be polled.
    bool begin_poll() noexcept {
        // Clear SCHEDULED *before* the poll: a wake arriving while the future runs (it may
        // already have looked at its event source, found nothing, and be about to answer
        // pending) sees the bit clear and queues the task again. Clearing after the poll would
        // swallow that wake, and the task would never be polled again: a lost wakeup.
        // Why no wake is lost: read-modify-writes of one atomic word have a single
        // modification order, so a waker's fetch_or in schedule() comes either after this
        // clear, and queues the task again, or before it, and then this acq_rel fetch_and's
        // acquire pairs with its release: the poll sees what the waker wrote before waking.
        // Acquire also keeps the poll's reads after the clear; release pairs with the acquire
        // of a later fetch_or.
        const std::uint32_t before = state_.fetch_and(~scheduled, std::memory_order_acq_rel);
        return (before & complete) == 0;
    }

    /// Step 3, called by the executor once the task will never be polled again. Wakes from
    /// now on set SCHEDULED but queue nothing, and take no reference.
    void finish() noexcept {
        // release: pairs with the acquire of schedule()'s fetch_or, which reads COMPLETE.
        state_.fetch_or(complete, std::memory_order_release);
    }

protected:
    /// Only unref() deletes a task; a subclass may hold what the task runs.
    virtual ~Task() = default;

private:
    static Task* from(const void* data) { return static_cast<Task*>(const_cast<void*>(data)); }

    // The four operations behind every Waker of a task. A Waker *is* a reference: making one
    // (clone) takes a reference, getting rid of one (wake by value, drop) releases it.
    static rt::RawWaker clone_waker(const void* data) {
        from(data)->ref();
        return rt::RawWaker{data, &waker_vtable};
    }
    static void wake_waker(const void* data) {
        // Schedule first, then release: if this waker held the last reference, unref frees the
        // task, and schedule must not touch it afterwards. (While we schedule, our reference
        // keeps the task alive; the queue entry takes its own.)
        from(data)->schedule();
        from(data)->unref();
    }
    static void wake_waker_by_ref(const void* data) { from(data)->schedule(); }
    static void drop_waker(const void* data) { from(data)->unref(); }

    static constexpr rt::RawWakerVTable waker_vtable{&clone_waker, &wake_waker, &wake_waker_by_ref,
                                                     &drop_waker};

    std::atomic<std::uint32_t> refs_{1};   // starts with the creator's reference
    std::atomic<std::uint32_t> state_{0};  // scheduled | complete
    ReadyQueue& queue_;                    // where schedule() pushes the task
};

}  // namespace wake_once
