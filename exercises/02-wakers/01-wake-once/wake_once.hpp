// Exercise 02-01 (starter): a task state for an executor with several worker threads: queued
// at most once, never polled by two threads at once, no wake lost. Compiles; schedule,
// begin_poll, end_poll, finish and the four waker operations are yours (each marked
// TODO(exercise)); the reference count is given.
//
// The protocol (one atomic state word; any thread may wake; any worker may pop and poll):
//  1. schedule (what every wake does): set NOTIFIED. If NOTIFIED was set already, the task is
//     queued, or will be, by whoever set it: stop. If RUNNING was set, a worker is polling the
//     task: stop, and leave NOTIFIED for that worker's end_poll to find. If COMPLETE was set,
//     stop: nobody polls the task again. Only a wake of an idle task (none of the three bits)
//     takes a reference for the queue entry and pushes.
//  2. begin_poll (a worker, after popping the task, before polling it): NOTIFIED -> RUNNING, in
//     one atomic step; false, and no change, for a COMPLETE task.
//  3. end_poll (the same worker, after a poll that answered pending): clear RUNNING. If NOTIFIED
//     is set, a wake came during the poll and queued nothing: answer `requeue`, and the worker
//     pushes the task again, handing over the reference of the entry it popped. Otherwise the
//     task is idle and the next wake queues it.
//  4. finish (the worker, after a poll that answered ready; or the executor at shutdown, for a
//     task no worker is polling): set COMPLETE. Wakes from then on queue nothing.
// Every memory order you choose needs a comment saying what it orders and which operation it
// pairs with (docs/atomics.md).
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
        // TODO(exercise): set NOTIFIED and learn what the word was, in one atomic step that
        // many threads can race on; push (with a reference for the entry) only when the task
        // was idle. As written, every wake pushes, even while a worker polls the task.
        ref();
        queue_.push(this);
    }

    /// Step 2, called by a worker after popping the task and before polling it. Returns false
    /// when the task is complete and must not be polled (the worker drops the entry).
    bool begin_poll() noexcept {
        // TODO(exercise): NOTIFIED -> RUNNING, unless the task is COMPLETE (answer false then).
        // Wakes may change the word while you compute the new one.
        return true;
    }

    /// Step 3, called by the worker after a poll that answered pending. `requeue` when the task
    /// was woken during the poll: the worker must push it again, handing over the reference of
    /// the entry it popped (nobody else pushed it: the wakes saw RUNNING).
    AfterPoll end_poll() noexcept {
        // TODO(exercise): clear RUNNING; answer requeue if NOTIFIED was set during the poll.
        return AfterPoll::idle;
    }

    /// Step 4, called by the worker after a poll that answered ready (instead of end_poll), or
    /// by the executor at shutdown for a task no worker is polling. Wakes from now on queue
    /// nothing and take no reference; an entry still in the queue is refused by begin_poll.
    void finish() noexcept {
        // TODO(exercise): make the task COMPLETE, for schedule() and begin_poll() to see.
    }

protected:
    /// Only unref() deletes a task; a subclass may hold what the task runs.
    virtual ~Task() = default;

private:
    static Task* from(const void* data) { return static_cast<Task*>(const_cast<void*>(data)); }

    // The four operations behind every Waker of a task. A Waker *is* a reference: making one
    // (clone) takes a reference, getting rid of one (wake by value, drop) releases it.
    static rt::RawWaker clone_waker(const void* data) {
        // TODO(exercise): the copy must own a reference of its own.
        return rt::RawWaker{data, &waker_vtable};
    }
    static void wake_waker(const void* data) {
        // TODO(exercise): wake the task, and give up this waker's reference.
        (void)data;
    }
    static void wake_waker_by_ref(const void* data) {
        // TODO(exercise): wake the task; the waker keeps its reference.
        (void)data;
    }
    static void drop_waker(const void* data) {
        // TODO(exercise): give up this waker's reference, without waking.
        (void)data;
    }

    static constexpr rt::RawWakerVTable waker_vtable{&clone_waker, &wake_waker, &wake_waker_by_ref,
                                                     &drop_waker};

    std::atomic<std::uint32_t> refs_{1};   // starts with the creator's reference
    std::atomic<std::uint32_t> state_{0};  // running | notified | complete; 0 is idle
    ReadyQueue& queue_;                    // where schedule() pushes the task
};

}  // namespace wake_once
