// A spawned task: one heap allocation holding the future, a reference count and the
// scheduling state. A Waker is one counted reference to a task, and waking it puts the task
// in its executor's ready queue, at most once however many times it is woken.
//
// The scheduling protocol (one atomic state word; only the executor's thread polls):
//  1. wake: set SCHEDULED. If it was already set, the task is queued (or about to be): stop.
//     Otherwise take a reference for the queue and push the task. Many wakes, one entry.
//  2. the executor pops the task, then clears SCHEDULED *before* polling. A wake that arrives
//     while the future runs must queue the task again: the future may already have looked at
//     its event source, found nothing, and be about to return pending. Clearing after the
//     poll would swallow that wake (a lost wakeup) and the task would never run again.
//  3. a task whose future returned ready (or was destroyed at shutdown) is COMPLETE: wakes
//     still set SCHEDULED but queue nothing, and the executor never polls it again.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "rt/future.hpp"
#include "rt/waker.hpp"

namespace rt::detail {

class ReadyQueue;

class Task {
public:
    /// The task is in the ready queue, or a waker has claimed the right to put it there.
    static constexpr std::uint32_t scheduled = 1;
    /// The future has completed or was destroyed; the task will never be polled again.
    static constexpr std::uint32_t complete = 2;

    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;

    /// Take one more reference. Relaxed: a new reference is always made from an existing
    /// one, so the task cannot be freed meanwhile (the same argument as std::shared_ptr).
    void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }

    /// Drop one reference; the last one frees the task. acq_rel: every use of the task by
    /// other holders happens-before the delete by the last one.
    void unref() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    /// Step 1 of the protocol: queue the task unless it is queued already or complete.
    /// (Defined in ready_queue.hpp, which knows the queue.)
    void schedule();

    /// Step 2: called by the executor just before polling. Returns false if the task is
    /// complete and must not be polled.
    // snippet-begin: begin-poll
    bool begin_poll() noexcept {
        // acq_rel. No wake is lost: read-modify-writes of one atomic word have a single
        // modification order, so a waker's fetch_or comes either after this clear, and the
        // task is queued again, or before it, and then this acquire pairs with its release:
        // the poll sees what the waker's thread wrote before waking. Acquire also keeps the
        // poll's reads after the clear. Release: pairs with a later fetch_or's acquire.
        const std::uint32_t before = state_.fetch_and(~scheduled, std::memory_order_acq_rel);
        return (before & complete) == 0;
    }
    // snippet-end: begin-poll

    /// Poll the future once with this task's waker. Returns true when it completed.
    virtual bool poll() = 0;

    /// Step 3: destroy the future now (its destructor may release wakers, files, memory)
    /// and make the task complete. Executor thread only.
    void finish() {
        state_.fetch_or(complete, std::memory_order_release);
        drop_future();
    }

    /// A new Waker for this task (takes a reference).
    Waker waker() {
        ref();
        return Waker(RawWaker{this, &waker_vtable});
    }

    // Intrusive links of the executor's list of live tasks (executor thread only).
    Task* prev_live = nullptr;
    Task* next_live = nullptr;

protected:
    explicit Task(std::shared_ptr<ReadyQueue> queue) : queue_(std::move(queue)) {}
    virtual ~Task() = default;
    virtual void drop_future() = 0;

private:
    static Task* from(const void* data) { return static_cast<Task*>(const_cast<void*>(data)); }
    static RawWaker clone_waker(const void* data) {
        from(data)->ref();
        return RawWaker{data, &waker_vtable};
    }
    static void wake_waker(const void* data) {
        from(data)->schedule();
        from(data)->unref();
    }
    static void wake_waker_by_ref(const void* data) { from(data)->schedule(); }
    static void drop_waker(const void* data) { from(data)->unref(); }
    static constexpr RawWakerVTable waker_vtable{&clone_waker, &wake_waker, &wake_waker_by_ref,
                                                 &drop_waker};

    std::atomic<std::uint32_t> refs_{1};   // starts with the creator's reference
    std::atomic<std::uint32_t> state_{0};  // scheduled | complete
    std::shared_ptr<ReadyQueue> queue_;    // outlives the executor while wakers exist
};

/// The task for a future of type F: the future lives inside the task's own allocation.
template <Future F>
class TaskCell final : public Task {
public:
    TaskCell(F future, std::shared_ptr<ReadyQueue> queue)
        : Task(std::move(queue)), future_(std::move(future)) {}

    bool poll() override {
        Waker waker = this->waker();
        Context cx(waker);
        return future_->poll(cx).is_ready();
    }

private:
    void drop_future() override { future_.reset(); }

    std::optional<F> future_;  // empty once the task is complete
};

}  // namespace rt::detail
