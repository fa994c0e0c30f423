// A spawned task: one heap allocation holding the future, its output until a JoinHandle takes
// it, a reference count and the scheduling state. A Waker is one counted reference to a task,
// and waking it puts the task in its executor's ready queue, at most once however many times
// it is woken. A JoinHandle is one more reference.
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
//  4. abort, from any thread: set ABORTED, then wake the task as in step 1. The executor,
//     which alone may touch the future, finds ABORTED at step 2 and destroys the future
//     instead of polling it. A task that completes first stays completed: abort comes too late.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "rt/future.hpp"
#include "rt/waker.hpp"

namespace rt {

/// A task was aborted, or its executor shut down, before its future completed: what awaiting
/// its JoinHandle throws (Tokio's JoinError::Cancelled).
class TaskAborted : public std::runtime_error {
public:
    TaskAborted() : std::runtime_error("the task was aborted before it completed") {}
};

}  // namespace rt

namespace rt::detail {

class ReadyQueue;

class Task {
public:
    /// The task is in the ready queue, or a waker has claimed the right to put it there.
    static constexpr std::uint32_t scheduled = 1;
    /// The future has completed or was destroyed; the task will never be polled again.
    static constexpr std::uint32_t complete = 2;
    /// abort() was called: the executor destroys the future at its next turn instead of
    /// polling it. Never cleared; meaningless once COMPLETE is set.
    static constexpr std::uint32_t aborted = 4;

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

    /// What the executor does with a task it popped.
    enum class Turn { skip, poll, cancel };

    /// Step 2: called by the executor just before polling. Says whether to poll the future,
    /// to destroy it (step 4), or to leave a complete task alone.
    // snippet-begin: begin-poll
    Turn begin_poll() noexcept {
        // acq_rel. No wake or abort is lost: read-modify-writes of one atomic word have a
        // single modification order, so a waker's or abort's fetch_or comes either after this
        // clear, and the task is queued again, or before it, and then this acquire pairs with
        // its release: the turn sees what that thread wrote before. Acquire also keeps the
        // poll's reads after the clear. Release: pairs with a later fetch_or's acquire.
        const std::uint32_t before = state_.fetch_and(~scheduled, std::memory_order_acq_rel);
        if ((before & complete) != 0) return Turn::skip;
        if ((before & aborted) != 0) return Turn::cancel;
        return Turn::poll;
    }
    // snippet-end: begin-poll

    /// Step 4: ask the executor to destroy the future. Any thread; returns at once.
    // snippet-begin: abort
    void abort() {
        // release: pairs with the acquire in begin_poll. acquire: pairs with the release of
        // finish(). Seeing `complete` needs no order: an RMW reads the word's latest value.
        const std::uint32_t before = state_.fetch_or(aborted, std::memory_order_acq_rel);
        if ((before & (aborted | complete)) != 0) return;  // already asked, or too late
        schedule();  // the executor learns of it at the task's next turn, which this queues
    }
    // snippet-end: abort

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
    std::atomic<std::uint32_t> state_{0};  // scheduled | complete | aborted
    std::shared_ptr<ReadyQueue> queue_;    // outlives the executor while wakers exist
};

/// The output of a task whose future's Output is void.
struct Done {};

/// A task whose future produces a T: the slot where its outcome waits for the JoinHandle.
///
/// The join protocol. The executor's thread writes the outcome once; a JoinHandle, from any
/// task on any thread, reads it. Both sides take `join_mutex_`, so "no outcome yet, keep my
/// waker" (poll_join) and "here is the outcome, give me the waker" (set_outcome) cannot
/// interleave: either the handle sees the outcome, or the executor sees the handle's waker
/// and wakes it. The wake happens after the lock is released, like every wake in the runtime.
template <class T>
class Joinable : public Task {
public:
    using Value = std::conditional_t<std::is_void_v<T>, Done, T>;

    /// The outcome if there is one, else keep cx's waker to wake when it comes. Ready with the
    /// value; throws what the future threw, or TaskAborted.
    Poll<T> poll_join(Context& cx) {
        Outcome outcome;
        {
            std::lock_guard lock(join_mutex_);
            if (outcome_.index() == running) {
                if (!joiner_ || !joiner_->will_wake(cx.waker())) joiner_ = cx.waker();
                return pending;
            }
            outcome = std::exchange(outcome_, Outcome(std::in_place_index<taken>));
        }
        switch (outcome.index()) {
            case failed:
                std::rethrow_exception(std::get<failed>(outcome));
            case cancelled:
                throw TaskAborted();
            case taken:
                throw std::logic_error("a JoinHandle was awaited again after it gave its result");
            default:
                break;
        }
        if constexpr (std::is_void_v<T>) {
            return ready;
        } else {
            return std::move(std::get<finished>(outcome));
        }
    }

    /// The future completed, threw, or was destroyed: there is an outcome to take.
    bool has_outcome() {
        std::lock_guard lock(join_mutex_);
        return outcome_.index() != running;
    }

protected:
    using Task::Task;

    /// The outcome's states, by index: no outcome yet; the future's value; what it threw; it
    /// was destroyed before completing; the JoinHandle took the outcome.
    enum : std::size_t { running, finished, failed, cancelled, taken };
    using Outcome =
        std::variant<std::monostate, Value, std::exception_ptr, std::monostate, std::monostate>;

    /// Record the outcome unless there is one already, and wake the JoinHandle's task.
    template <std::size_t State, class... Args>
    void set_outcome(Args&&... args) {
        std::optional<Waker> joiner;
        {
            std::lock_guard lock(join_mutex_);
            if (outcome_.index() != running) return;
            outcome_.template emplace<State>(std::forward<Args>(args)...);
            joiner.swap(joiner_);
        }
        if (joiner) std::move(*joiner).wake();
    }

private:
    std::mutex join_mutex_;
    Outcome outcome_;              // guarded by join_mutex_; `running` until the future is done
    std::optional<Waker> joiner_;  // guarded by join_mutex_; the JoinHandle's latest waker
};

/// The task for a future of type F: the future lives inside the task's own allocation, and
/// so does its output, until the JoinHandle takes it.
template <Future F>
class TaskCell final : public Joinable<typename F::Output> {
    using Base = Joinable<typename F::Output>;

public:
    TaskCell(F future, std::shared_ptr<ReadyQueue> queue)
        : Base(std::move(queue)), future_(std::move(future)) {}

    // snippet-begin: task-cell-poll
    bool poll() override {
        Waker waker = this->waker();
        Context cx(waker);
        try {
            if constexpr (std::is_void_v<typename F::Output>) {
                if (future_->poll(cx).is_pending()) return false;
                this->template set_outcome<Base::finished>();
            } else {
                auto result = future_->poll(cx);
                if (result.is_pending()) return false;
                this->template set_outcome<Base::finished>(std::move(result).value());
            }
        } catch (...) {
            // An exception ends the task as a value would: it is the task's outcome, for the
            // JoinHandle to rethrow. The executor and the other tasks carry on.
            this->template set_outcome<Base::failed>(std::current_exception());
        }
        return true;
    }
    // snippet-end: task-cell-poll

private:
    void drop_future() override {
        future_.reset();  // first: the coroutine's locals are destroyed before anyone hears
        this->template set_outcome<Base::cancelled>();  // no-op if it completed
    }

    std::optional<F> future_;  // empty once the task is complete
};

}  // namespace rt::detail
