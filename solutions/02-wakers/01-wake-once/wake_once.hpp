// Exercise 02-01 (solution): a task state for an executor with several worker threads. However
// many threads wake a task, it is in the ready queue at most once, it is never polled by two
// threads at once, no wake is lost, a finished task is never queued, and every reference is
// released.
//
// The protocol (one atomic state word; any thread may wake; any worker may pop and poll):
//  1. schedule (what every wake does): set NOTIFIED. If NOTIFIED was set already, the task is
//     queued, or will be, by whoever set it: stop. If RUNNING was set, a worker is polling the
//     task: stop, and leave NOTIFIED for that worker's end_poll to find. If COMPLETE was set,
//     stop: nobody polls the task again. Only a wake of an idle task (none of the three bits)
//     takes a reference for the queue entry and pushes.
//  2. begin_poll (a worker, after popping the task, before polling it): NOTIFIED -> RUNNING, in
//     one compare-exchange; false, and no change, for a COMPLETE task.
//  3. end_poll (the same worker, after a poll that answered pending): clear RUNNING. If NOTIFIED
//     is set, a wake came during the poll and queued nothing: answer `requeue`, and the worker
//     pushes the task again, handing over the reference of the entry it popped. Otherwise the
//     task is idle and the next wake queues it.
//  4. finish (the worker, after a poll that answered ready; or the executor at shutdown, for a
//     task no worker is polling): set COMPLETE. Wakes from then on queue nothing.
// Chapter 2's protocol clears its bit before the poll, so a wake during the poll queues the task
// while it is still being polled: with one executor thread that is harmless, with several
// another worker could pop the task and poll it at the same time. Here the task enters the queue
// only while no thread polls it, so no second worker can find it there.
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
    /// releases that reference with `task->unref()`, or hands it to a new entry by pushing the
    /// task again.
    virtual void push(Task* task) = 0;

protected:
    ~ReadyQueue() = default;
};

/// What end_poll tells the worker to do with the task it polled.
enum class AfterPoll {
    idle,     // nobody woke the task during the poll: release the entry's reference
    requeue,  // a wake came during the poll: push the task again, with the entry's reference
};

/// A task as its wakers and its workers see it: a reference count, a state word, and the queue
/// to go to when woken. What the task runs (a future) belongs to a subclass; this exercise's
/// tests use one to see when a task is freed.
class Task {
public:
    /// A worker is polling the task: between a begin_poll that answered true and the end_poll
    /// or finish that follows. Only that worker sets and clears it.
    static constexpr std::uint32_t running = 1;
    /// The task was woken since its last poll began. While RUNNING is clear it means "in the
    /// queue, or about to be pushed by whoever set it"; while RUNNING is set it means "push it
    /// again when this poll ends".
    static constexpr std::uint32_t notified = 2;
    /// The task is finished: never polled again, never queued again. Never cleared.
    static constexpr std::uint32_t complete = 4;

    /// A new, idle task holding one reference, its creator's. `queue` must outlive the task.
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

    /// Step 1, what every wake does: queue the task if it is idle; otherwise leave a note.
    void schedule() {
        if (notify()) {
            ref();  // the queue entry's reference, released by whoever pops the task
            queue_.push(this);
        }
    }

    /// Step 2, called by a worker after popping the task and before polling it. Returns false
    /// when the task is complete and must not be polled (the worker drops the entry).
    bool begin_poll() noexcept {
        // The new word depends on the old one (NOTIFIED off, RUNNING on, unless COMPLETE), which
        // no single fetch_or or fetch_and can do: read, compute, and compare-exchange, and if a
        // wake changed the word in between, start again from the value the exchange found.
        // The first load is relaxed: it is only a guess, which the exchange checks.
        std::uint32_t current = state_.load(std::memory_order_relaxed);
        for (;;) {
            if ((current & complete) != 0) return false;
            const std::uint32_t next = (current & ~notified) | running;
            // Success, acquire: the poll's reads and writes stay after this point, and this RMW
            // reads a value from the release sequence of the last end_poll (the previous poll,
            // on whichever worker it ran) and of every wake's fetch_or before it (all writes to
            // the word are RMWs, and each continues the release sequences before it). So the
            // poll sees what the previous poll wrote and what every waker wrote before waking.
            // Failure, relaxed: a failed exchange only loads the word into `current` to try
            // again; only the exchange that succeeds needs to acquire.
            if (state_.compare_exchange_weak(current, next, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
                return true;
            }
        }
    }

    /// Step 3, called by the worker after a poll that answered pending. `requeue` when the task
    /// was woken during the poll: the worker must push it again, handing over the reference of
    /// the entry it popped (nobody else pushed it: the wakes saw RUNNING).
    AfterPoll end_poll() noexcept {
        // Only this worker sets or clears RUNNING, and COMPLETE is not set while it runs, so
        // clearing one bit is the whole transition: RUNNING -> idle, or RUNNING|NOTIFIED ->
        // NOTIFIED. One RMW, so a wake comes either before it (the old value shows NOTIFIED,
        // and the worker puts the task back in the queue) or after it (the wake sees RUNNING
        // clear: it pushes an idle task, or sees NOTIFIED and leaves the push to the worker):
        // never lost, never pushed twice.
        // Release: this poll's writes to the task happen before the next poll, on whichever
        // worker it runs: that poll's begin_poll acquires a value from the release sequence this
        // RMW heads. No acquire: what wakers wrote during the poll is for the next poll, and its
        // begin_poll acquires it.
        const std::uint32_t before = state_.fetch_and(~running, std::memory_order_release);
        return (before & notified) != 0 ? AfterPoll::requeue : AfterPoll::idle;
    }

    /// Step 4, called by the worker after a poll that answered ready (instead of end_poll), or
    /// by the executor at shutdown for a task no worker is polling. Wakes from now on queue
    /// nothing and take no reference; an entry still in the queue is refused by begin_poll.
    void finish() noexcept {
        // exchange, not fetch_or: RUNNING and NOTIFIED mean nothing for a finished task.
        // Acquire: at shutdown the caller may destroy what the task runs, and the task may have
        // last been polled on another worker; this RMW reads from the release sequence of that
        // poll's end_poll, so that poll's writes happen before what the caller does next.
        // No release: nobody reads memory through COMPLETE (a wake that sees it stops, a
        // begin_poll that sees it refuses). A wake ordered after this RMW in the word's
        // modification order reads COMPLETE whatever the memory orders: an RMW always reads
        // the value just before its own write in that order.
        state_.exchange(complete, std::memory_order_acquire);
    }

protected:
    /// Only unref() deletes a task; a subclass may hold what the task runs.
    virtual ~Task() = default;

private:
    /// The state half of a wake: set NOTIFIED, and answer whether this wake must push the
    /// task (it was idle: not notified, not running, not complete).
    bool notify() noexcept {
        // One RMW: of several wakers racing on an idle task, exactly one reads the word without
        // NOTIFIED, because RMWs on one object read the last value before their own write in
        // its single modification order. A load followed by a store would let two of them see
        // "idle" and both push.
        // Release: what this thread wrote before waking (the event it announces) happens before
        // the poll that answers the wake: that poll's begin_poll acquires a value this RMW or a
        // later RMW on the word wrote, in this RMW's release sequence.
        // No acquire: after this RMW the waker reads nothing that a poll wrote; it takes a
        // reference and pushes, and the queue orders its own push and pop.
        const std::uint32_t before = state_.fetch_or(notified, std::memory_order_release);
        return (before & (notified | running | complete)) == 0;
    }

    static Task* from(const void* data) { return static_cast<Task*>(const_cast<void*>(data)); }

    // The four operations behind every Waker of a task. A Waker *is* a reference: making one
    // (clone) takes a reference, getting rid of one (wake by value, drop) releases it.
    static rt::RawWaker clone_waker(const void* data) {
        from(data)->ref();
        return rt::RawWaker{data, &waker_vtable};
    }
    static void wake_waker(const void* data) {
        // This waker's reference is given up either way. When the wake pushes, it becomes the
        // queue entry's reference (one count change saved, as Tokio does); otherwise it is
        // released, last, because it may be the last one and free the task.
        Task* task = from(data);
        if (task->notify()) {
            task->queue_.push(task);
        } else {
            task->unref();
        }
    }
    static void wake_waker_by_ref(const void* data) { from(data)->schedule(); }
    static void drop_waker(const void* data) { from(data)->unref(); }

    static constexpr rt::RawWakerVTable waker_vtable{&clone_waker, &wake_waker, &wake_waker_by_ref,
                                                     &drop_waker};

    std::atomic<std::uint32_t> refs_{1};   // starts with the creator's reference
    std::atomic<std::uint32_t> state_{0};  // running | notified | complete; 0 is idle
    ReadyQueue& queue_;                    // where schedule() pushes the task
};

}  // namespace wake_once
