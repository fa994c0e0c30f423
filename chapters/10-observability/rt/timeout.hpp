// timeout(duration, future): run a future with a time limit. The result is ready with the
// future's output if it completes first, or empty if the deadline comes first, and then the
// future is destroyed where it waits: a coroutine's frame with its locals, a socket read, a
// sleep. That is cancellation, chapter 4's lesson, driven by a timer.
//
// Output: std::optional<T> for a future of T (std::nullopt: timed out); bool for a future of
// void (false: timed out). The future is polled first, so one that is ready at once never
// registers a timer; an exception from the future comes out of the co_await.
#pragma once

#include <cassert>
#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include "rt/deadline.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"

namespace rt {

// snippet-begin: timeout
template <Future F>
class Timeout {
    using Inner = typename F::Output;

public:
    using Output = std::conditional_t<std::is_void_v<Inner>, bool, std::optional<Inner>>;

    Timeout(F future, Clock::time_point deadline)
        : future_(std::move(future)), sleep_(std::in_place, deadline) {}

    Poll<Output> poll(Context& cx) {
        assert(future_ && "a Timeout polled after it completed");
        try {
            if constexpr (std::is_void_v<Inner>) {
                if (future_->poll(cx).is_ready()) return finish(true);
            } else {
                Poll<Inner> result = future_->poll(cx);
                if (result.is_ready()) return finish(Output(std::move(result).value()));
            }
        } catch (...) {
            finish(Output{});
            throw;
        }
        if (sleep_->poll(cx).is_pending()) return pending;
        return finish(Output{});  // timed out: the future is destroyed now
    }

private:
    /// Whatever the outcome, release both at once: the future (cancelled if it had not
    /// finished) and the deadline's timer, rather than when the Timeout itself goes.
    Output finish(Output outcome) {
        future_.reset();
        sleep_.reset();
        return outcome;
    }

    std::optional<F> future_;     // empty once the Timeout completed
    std::optional<Sleep> sleep_;  // the deadline; empty once the Timeout completed
};
// snippet-end: timeout

/// `future`'s output, or nothing if `duration` passes first (the future is then destroyed).
/// The deadline saturates: nanoseconds::max() never times out (rt/deadline.hpp).
template <Future F>
Timeout<F> timeout(std::chrono::nanoseconds duration, F future) {
    return Timeout<F>(std::move(future), deadline_after(duration));
}

/// The same, with a deadline.
template <Future F>
Timeout<F> timeout_at(Clock::time_point deadline, F future) {
    return Timeout<F>(std::move(future), deadline);
}

}  // namespace rt
