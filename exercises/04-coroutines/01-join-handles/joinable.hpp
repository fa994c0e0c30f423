// Exercise 04-01 (starter): ex::spawn_joinable, a join handle built from outside the task, on
// the runtime's spawn of a future of void. Compiles; the bodies marked TODO(exercise) are yours:
// Slot::complete, the wrapper future (Completion), the handle, and the two spawn_joinable.
//
// The protocol to keep (README.md says why each step matters):
//  - the slot's mutex guards everything in it. Handle::poll checks for an outcome and, finding
//    none, stores its waker in one critical section; Slot::complete stores the outcome and
//    takes the waker out in one critical section. Either the poll sees the outcome, or
//    complete sees the waker: no lost wakeup, whichever thread completes the task;
//  - an outcome is stored once, and the waker taken out when it is: one wake, never two;
//  - poll keeps the waker of the latest poll (replacing one that !will_wake it);
//  - wake after the mutex is released, and drop replaced or abandoned wakers after it too;
//  - a Completion destroyed before its future finished stores rt::TaskAborted;
//  - a Handle dropped while pending lets its waker go.
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
/// guarded by `mutex`. A suggestion: change it as you like (the tests only use spawn_joinable
/// and Handle's public members).
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
        // TODO(exercise): under the mutex, only while running: store the value or the error,
        // become done, and move the waker out into a local std::optional<rt::Waker>. After the
        // lock is released, wake it if there was one.
        (void)new_value;
        (void)new_error;
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
        // TODO(exercise): unless moved from (slot_ is null then) or finished (future_ was
        // reset then), destroy the future first, then complete the slot with
        // std::make_exception_ptr(rt::TaskAborted()).
    }

    rt::Poll<void> poll(rt::Context& cx) {
        // TODO(exercise): poll *future_ with cx. Pending: pending. Ready: complete the slot
        // with its value (std::monostate{} when T is void: `if constexpr`), and be ready
        // yourself. If the poll throws, catch it and complete the slot with
        // std::current_exception(): to the runtime, this task simply finished.
        (void)cx;
        return rt::pending;
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
        // TODO(exercise): unless moved from, take the slot's waker out under the mutex, into
        // a local declared before the lock_guard (so it is dropped after the unlock).
    }

    /// Ready with the value once the task has one (rethrowing its exception, or throwing
    /// rt::TaskAborted); pending, with cx's waker kept, until then. Polling again after ready
    /// throws std::logic_error: the value is gone.
    rt::Poll<T> poll(rt::Context& cx) {
        // TODO(exercise): under the slot's mutex, by state:
        //  - running: keep cx.waker() unless the stored one will_wake it; pending;
        //  - done: move the value and the error out, become taken;
        //  - taken: throw std::logic_error.
        // After the lock: rethrow the error if there is one, else return the value
        // (rt::ready when T is void).
        (void)cx;
        return rt::pending;
    }

    /// The task has finished (with a value, an exception, or destroyed unfinished), and the
    /// outcome waits for this handle.
    bool is_finished() const {
        // TODO(exercise): the slot's state is done (read under the mutex).
        return false;
    }

private:
    std::shared_ptr<detail::Slot<T>> slot_;  // null once moved from
};

/// Spawn `future` on `executor` and return a handle to its outcome. The runtime is asked only
/// to run a future of void; its own rt::JoinHandle, to that void task, is dropped at once.
template <rt::Future F>
Handle<typename F::Output> spawn_joinable(rt::Executor& executor, F future) {
    // TODO(exercise): make the shared slot, spawn a detail::Completion<F> holding the future
    // and the slot on `executor` (let the rt::JoinHandle it returns go), and return a Handle
    // on the same slot.
    (void)executor;
    (void)future;
    return Handle<typename F::Output>(std::make_shared<detail::Slot<typename F::Output>>());
}

/// The same, on the executor running on this thread (from inside one of its tasks), as
/// rt::spawn does. Throws std::logic_error when no executor runs here.
template <rt::Future F>
Handle<typename F::Output> spawn_joinable(F future) {
    // TODO(exercise): as above, with rt::spawn instead of executor.spawn.
    (void)future;
    return Handle<typename F::Output>(std::make_shared<detail::Slot<typename F::Output>>());
}

}  // namespace ex
