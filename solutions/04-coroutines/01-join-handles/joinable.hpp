// Exercise 04-01 (solution): ex::spawn_joinable, a join handle built from outside the task. The
// runtime only runs a future of void; a wrapper around the caller's future stores its value or
// exception in a slot shared with the ex::Handle, which gives the value or rethrows. A pending
// handle is woken exactly once, whichever thread completes the task, and never misses the wake.
//
// The protocol. Who holds the waker: the slot, under its mutex; it is the waker of the handle's
// latest pending poll. Who wakes it: the wrapper (Completion), once, when it stores the outcome,
// on the executor's thread; or its destructor, when the task is destroyed unfinished.
//  - Handle::poll checks for an outcome and, finding none, stores its waker, both under the
//    slot's mutex; Slot::complete stores the outcome and takes the waker under the same mutex.
//    So either the poll sees the outcome, or complete sees the waker. Checking, unlocking and
//    then storing would let a completion on another thread fall in between: it would find no
//    waker, and the handle would wait for ever (the lost wakeup).
//  - complete takes the waker *out* of the slot, and stores an outcome only once: the handle
//    is woken once, however the task ends.
//  - poll replaces the stored waker unless it will_wake the same task: only the task that
//    polled last waits for the handle, and waking an older one would wake the wrong task.
//  - wakes happen after the mutex is released, and replaced wakers are dropped after it too:
//    waking takes the executor's locks, and dropping the last reference to a task destroys its
//    future, which may hold this very handle, whose destructor takes the slot's mutex again.
//  - a Completion destroyed before its future finished (the executor shut down, or the task
//    was aborted) stores rt::TaskAborted: a waiting handle is woken instead of waiting for ever.
//  - a Handle dropped while pending lets its waker go: a detached task keeps nobody alive.
#pragma once

#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/task.hpp"
#include "rt/waker.hpp"

namespace ex {

namespace detail {

/// What the task's side (a Completion) and the awaiting side (a Handle) share. Every field is
/// guarded by `mutex`.
template <class T>
struct Slot {
    /// What a future of void leaves: nothing but the fact that it finished.
    using Value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

    enum class State {
        running,  // no outcome yet
        done,     // `value` or `error` holds the outcome
        taken,    // the handle took the outcome
    };

    std::mutex mutex;
    State state = State::running;
    std::optional<Value> value;      // the future's value, while done
    std::exception_ptr error;        // or what it threw (or rt::TaskAborted), while done
    std::optional<rt::Waker> waker;  // the waker of the handle's latest pending poll

    /// The task's side: record the outcome, unless one is recorded already, then wake the
    /// handle's latest waker, after the mutex is released. Exactly one of the two is given.
    void complete(std::optional<Value> new_value, std::exception_ptr new_error) {
        std::optional<rt::Waker> to_wake;
        {
            std::lock_guard lock(mutex);
            if (state != State::running) return;  // the outcome was recorded already
            value = std::move(new_value);
            error = std::move(new_error);
            state = State::done;
            to_wake.swap(waker);  // taken out: nobody can wake it a second time
        }
        if (to_wake) std::move(*to_wake).wake();
    }
};

/// The future the runtime runs, with Output void: it polls the caller's future and, when that
/// is ready or throws, hands the outcome to the slot. The runtime never sees the value.
template <rt::Future F>
class Completion {
    using T = typename F::Output;

public:
    using Output = void;

    Completion(F future, std::shared_ptr<Slot<T>> slot)
        : future_(std::move(future)), slot_(std::move(slot)) {}
    Completion(Completion&&) = default;  // moved into the task, before its first poll
    Completion& operator=(Completion&&) = delete;

    /// Destroyed before the future finished: the handle hears of it (rt::TaskAborted).
    ~Completion() {
        if (slot_ == nullptr || !future_) return;  // moved from, or finished: nothing to tell
        future_.reset();  // first: the future's locals go before anyone hears
        slot_->complete(std::nullopt, std::make_exception_ptr(rt::TaskAborted()));
    }

    rt::Poll<void> poll(rt::Context& cx) {
        try {
            if constexpr (std::is_void_v<T>) {
                if (future_->poll(cx).is_pending()) return rt::pending;
                future_.reset();  // done: never polled again, so let it go now
                slot_->complete(std::monostate{}, nullptr);
            } else {
                rt::Poll<T> polled = future_->poll(cx);
                if (polled.is_pending()) return rt::pending;
                future_.reset();
                slot_->complete(std::move(polled).value(), nullptr);
            }
        } catch (...) {
            // The exception is the task's outcome, as a value would be: it goes to the handle,
            // and the runtime sees a task that finished like any other.
            future_.reset();
            slot_->complete(std::nullopt, std::current_exception());
        }
        return rt::ready;
    }

private:
    std::optional<F> future_;        // reset once it finished, or is destroyed
    std::shared_ptr<Slot<T>> slot_;  // null once moved from
};

}  // namespace detail

/// A future of a spawned task's outcome: ready with its value, or rethrows its exception, or
/// throws rt::TaskAborted when the task was destroyed before it finished. Dropping the handle
/// detaches the task, which runs on. Move-only; may be moved between polls, even to another
/// task, and awaited from any thread.
template <class T>
class Handle {
public:
    using Output = T;

    explicit Handle(std::shared_ptr<detail::Slot<T>> slot) : slot_(std::move(slot)) {}
    Handle(Handle&&) noexcept = default;
    Handle& operator=(Handle&& other) noexcept {
        Handle old(std::move(other));
        std::swap(slot_, old.slot_);
        return *this;  // `old` now holds what this handle held, and lets it go
    }

    /// Detach: the task runs on; the waker of a pending poll is let go.
    ~Handle() {
        if (slot_ == nullptr) return;   // moved from
        std::optional<rt::Waker> gone;  // declared before the lock: destroyed after it
        std::lock_guard lock(slot_->mutex);
        gone.swap(slot_->waker);
    }

    /// Ready with the value once the task has one (rethrowing its exception, or throwing
    /// rt::TaskAborted); pending, with cx's waker kept, until then. Polling again after ready
    /// throws std::logic_error: the value is gone.
    rt::Poll<T> poll(rt::Context& cx) {
        std::optional<typename detail::Slot<T>::Value> value;
        std::exception_ptr error;
        {
            std::optional<rt::Waker> replaced;  // declared before the lock: dropped after it
            std::lock_guard lock(slot_->mutex);
            switch (slot_->state) {
                case detail::Slot<T>::State::running:
                    if (!slot_->waker || !slot_->waker->will_wake(cx.waker())) {
                        replaced = std::exchange(slot_->waker, cx.waker());
                    }
                    return rt::pending;
                case detail::Slot<T>::State::taken:
                    throw std::logic_error(
                        "an ex::Handle was awaited again after it gave its result");
                case detail::Slot<T>::State::done:
                    break;
            }
            value = std::move(slot_->value);
            error = std::exchange(slot_->error, nullptr);
            slot_->state = detail::Slot<T>::State::taken;
        }
        if (error) std::rethrow_exception(error);  // outside the lock, like every exit
        if constexpr (std::is_void_v<T>) {
            return rt::ready;
        } else {
            return std::move(*value);
        }
    }

    /// The task has finished (with a value, an exception, or destroyed unfinished), and the
    /// outcome waits for this handle.
    bool is_finished() const {
        std::lock_guard lock(slot_->mutex);
        return slot_->state == detail::Slot<T>::State::done;
    }

private:
    std::shared_ptr<detail::Slot<T>> slot_;  // null once moved from
};

/// Spawn `future` on `executor` and return a handle to its outcome. The runtime is asked only
/// to run a future of void; its own rt::JoinHandle, to that void task, is dropped at once.
template <rt::Future F>
Handle<typename F::Output> spawn_joinable(rt::Executor& executor, F future) {
    auto slot = std::make_shared<detail::Slot<typename F::Output>>();
    executor.spawn(detail::Completion<F>(std::move(future), slot));  // detached at once
    return Handle<typename F::Output>(std::move(slot));
}

/// The same, on the executor running on this thread (from inside one of its tasks), as
/// rt::spawn does. Throws std::logic_error when no executor runs here.
template <rt::Future F>
Handle<typename F::Output> spawn_joinable(F future) {
    auto slot = std::make_shared<detail::Slot<typename F::Output>>();
    rt::spawn(detail::Completion<F>(std::move(future), slot));
    return Handle<typename F::Output>(std::move(slot));
}

}  // namespace ex
