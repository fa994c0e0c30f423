// sleep(duration): a future that is ready once a deadline has passed. In this chapter there
// is nothing that could wake it at the deadline, so it can only look at the clock each time
// it is polled; the executor's busy loop is what keeps it moving. Chapter 2 backs it with a
// timer thread that wakes the task.
#pragma once

#include <chrono>

#include "rt/deadline.hpp"
#include "rt/future.hpp"

namespace rt {

// snippet-begin: sleep
class Sleep {
public:
    using Output = void;
    using Clock = std::chrono::steady_clock;

    explicit Sleep(Clock::time_point deadline) : deadline_(deadline) {}

    Poll<void> poll(Context& cx) {
        if (Clock::now() >= deadline_) return ready;
        // Keep the contract: whoever could tell us the deadline passed should wake this
        // waker. Nobody can yet, so the executor must poll us again anyway.
        (void)cx;
        return pending;
    }

    Clock::time_point deadline() const noexcept { return deadline_; }

private:
    Clock::time_point deadline_;
};
// snippet-end: sleep

/// A future that is ready `duration` after this call (nanoseconds::max(): never; the
/// deadline saturates instead of overflowing, rt/deadline.hpp).
inline Sleep sleep(std::chrono::nanoseconds duration) { return Sleep(deadline_after(duration)); }

/// A future that is ready at `deadline`.
inline Sleep sleep_until(Sleep::Clock::time_point deadline) { return Sleep(deadline); }

}  // namespace rt
