// Exercise 06-01 (solution): ex::with_deadline, a time limit on any future, built from the future
// and an rt::Sleep. Guarantees: the operation is polled first, so one that is ready at once never
// registers a timer; when the deadline comes first, the operation is destroyed in that very
// poll (a coroutine's locals with it) before the timeout is reported; and once the outcome is
// given, whichever it is, neither the operation nor the deadline's timer is left.
//
// How one poll goes:
//  1. poll the operation with cx. Ready: destroy the operation (its frame is finished) and the
//     sleep (its timer leaves the wheel), and answer its value. If the poll throws, destroy
//     both the same way and let the exception out: that poll was the last one;
//  2. pending: the operation has taken cx's waker for what it waits for. Now poll the sleep,
//     which takes the same waker for the deadline: whichever comes first wakes the task;
//  3. the sleep is pending too: answer pending. It is ready: the deadline has passed and the
//     operation did not finish. Destroy it now (this is the cancellation: its coroutine frame
//     is destroyed where it is suspended, and the future it awaited with it, which lets go of
//     its waker, its timer, its channel), then answer "timed out".
// Checking the operation before the deadline means a value that is there when the deadline
// fires is never thrown away: in a poll where both are ready, the operation wins.
#pragma once

#include <algorithm>
#include <cassert>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "rt/future.hpp"
#include "rt/sleep.hpp"

namespace ex {

/// The tag that makes a timed-out Outcome: `ex::Outcome<int>(ex::TimedOut{})`.
struct TimedOut {};

/// What Outcome::value() throws when the deadline passed first.
class DeadlineExceeded : public std::runtime_error {
public:
    DeadlineExceeded() : std::runtime_error("the deadline passed before the operation finished") {}
};

/// What with_deadline gives for an operation of T: the operation's value, or the fact that the
/// deadline passed first. Like an std::optional whose empty state has a name, and whose value()
/// throws DeadlineExceeded, so that a caller may treat a timeout as an error in one line.
template <class T>
class Outcome {
public:
    /// Completed, with the operation's value.
    Outcome(T value) : value_(std::move(value)) {}
    /// Timed out.
    Outcome(TimedOut) noexcept {}

    bool completed() const noexcept { return value_.has_value(); }
    bool timed_out() const noexcept { return !value_.has_value(); }
    explicit operator bool() const noexcept { return completed(); }

    /// The operation's value; throws DeadlineExceeded if it timed out.
    T& value() & {
        if (!value_) throw DeadlineExceeded();
        return *value_;
    }
    const T& value() const& {
        if (!value_) throw DeadlineExceeded();
        return *value_;
    }
    T&& value() && {
        if (!value_) throw DeadlineExceeded();
        return std::move(*value_);
    }

    /// The operation's value, or `fallback` if it timed out.
    template <class U>
    T value_or(U&& fallback) const& {
        return value_.value_or(std::forward<U>(fallback));
    }
    template <class U>
    T value_or(U&& fallback) && {
        return std::move(value_).value_or(std::forward<U>(fallback));
    }

private:
    std::optional<T> value_;  // empty: timed out
};

/// The outcome of an operation of void: it completed, or it timed out.
template <>
class Outcome<void> {
public:
    /// Completed.
    Outcome() noexcept : completed_(true) {}
    /// Timed out.
    Outcome(TimedOut) noexcept : completed_(false) {}

    bool completed() const noexcept { return completed_; }
    bool timed_out() const noexcept { return !completed_; }
    explicit operator bool() const noexcept { return completed_; }

    /// Nothing if it completed; throws DeadlineExceeded if it timed out.
    void value() const {
        if (!completed_) throw DeadlineExceeded();
    }

private:
    bool completed_;
};

/// A point in time that several operations can share: a budget that each attempt of a retry
/// loop draws from, so that the whole loop ends by it however many attempts it makes.
class Deadline {
public:
    explicit Deadline(rt::Clock::time_point at) noexcept : at_(at) {}

    /// The deadline `budget` from now.
    static Deadline after(std::chrono::nanoseconds budget) {
        return Deadline(rt::Clock::now() + std::chrono::duration_cast<rt::Clock::duration>(budget));
    }

    rt::Clock::time_point at() const noexcept { return at_; }

    /// Time left before the deadline; zero once it has passed.
    rt::Clock::duration remaining() const {
        return std::max(at_ - rt::Clock::now(), rt::Clock::duration::zero());
    }

    bool expired() const { return rt::Clock::now() >= at_; }

    /// This deadline, or `limit` from now if that comes first: the deadline of one attempt
    /// that may take at most `limit`, within the budget of the whole.
    Deadline at_most(std::chrono::nanoseconds limit) const {
        return Deadline(std::min(at_, after(limit).at_));
    }

private:
    rt::Clock::time_point at_;
};

/// The future with_deadline returns: ready with Outcome<T>, where T is the operation's output.
/// An exception from the operation comes out of poll. Polled in place, like every future (its
/// sleep is registered inside it); never polled again once ready.
template <rt::Future F>
class WithDeadline {
    using T = typename F::Output;

public:
    using Output = Outcome<T>;

    WithDeadline(F operation, Deadline deadline)
        : operation_(std::move(operation)),
          sleep_(std::in_place, deadline.at()),
          deadline_(deadline) {}

    rt::Poll<Output> poll(rt::Context& cx) {
        assert(operation_ && "a WithDeadline polled after it gave its outcome");
        try {
            if constexpr (std::is_void_v<T>) {
                if (operation_->poll(cx).is_ready()) {
                    finish();
                    return Output();
                }
            } else {
                rt::Poll<T> polled = operation_->poll(cx);
                if (polled.is_ready()) {
                    finish();  // the value is ours, in `polled`: the operation may go
                    return Output(std::move(polled).value());
                }
            }
        } catch (...) {
            finish();  // this poll was the last: let nothing outlive it
            throw;
        }
        if (sleep_->poll(cx).is_pending()) return rt::pending;
        finish();  // timed out: the operation is destroyed here, where it waits
        return Output(TimedOut{});
    }

    Deadline deadline() const noexcept { return deadline_; }

private:
    /// Destroy the operation, then the sleep: the operation's destructors run now, and no timer
    /// stays registered for an outcome that is already decided.
    void finish() {
        operation_.reset();
        sleep_.reset();
    }

    std::optional<F> operation_;      // empty once the outcome is given
    std::optional<rt::Sleep> sleep_;  // the deadline's timer; empty once the outcome is given
    Deadline deadline_;
};

/// `operation`'s value, or TimedOut if `limit` passes first; the operation is then destroyed.
template <rt::Future F>
WithDeadline<F> with_deadline(std::chrono::nanoseconds limit, F operation) {
    return WithDeadline<F>(std::move(operation), Deadline::after(limit));
}

/// The same, by a deadline that may be shared with other operations.
template <rt::Future F>
WithDeadline<F> with_deadline(Deadline deadline, F operation) {
    return WithDeadline<F>(std::move(operation), deadline);
}

}  // namespace ex
