// sleep(duration), sleep_until(deadline): futures that are ready once a deadline has passed.
// New in chapter 6: the timer is in the runtime (rt/time/driver.hpp), not on a thread of its
// own. A Sleep holds its TimerEntry inside itself and registers it at its first pending poll,
// so sleeping allocates nothing; the executor's epoll_wait sleeps until the earliest deadline
// and then fires it. The task is polled twice: once to register, once after the wake.
//
// Who holds the waker: the Sleep's own entry, while it is registered. Who wakes it: the time
// driver, on the executor's thread, at the deadline, after taking the entry out of the wheel.
// Everything happens on the executor's thread, so there is no lock and no race to close; the
// rules are about lifetime:
//  - a registered Sleep must not move (the wheel points into it): the Future contract
//    already says a future stays in place from its first poll on;
//  - a Sleep destroyed before its deadline takes its entry out of the wheel, in O(1), so a
//    cancelled sleep wakes nobody and keeps no waker;
//  - a Sleep is registered with the executor running on this thread, and must be polled
//    there (std::logic_error otherwise, instead of a timer nobody would fire);
//  - a Sleep can outlive the executor it registered with (an Interval kept outside the
//    executor, whose tick() a timeout cancelled): that executor's shutdown detaches the entry
//    (rt/time/driver.hpp), and the next poll, under any executor, registers it there. A Sleep
//    polled under a new executor while still registered with a live one moves to the new one.
#pragma once

#include <cassert>
#include <chrono>
#include <stdexcept>

#include "rt/deadline.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/time/driver.hpp"
#include "rt/time/entry.hpp"

namespace rt {

// snippet-begin: sleep
class Sleep {
public:
    using Output = void;
    using Clock = rt::Clock;

    explicit Sleep(Clock::time_point deadline) : deadline_(deadline) {}
    Sleep(Sleep&& other) noexcept : deadline_(other.deadline_) {
        assert(!other.entry_.registered && "a Sleep moved after its first poll");
        entry_.fired = other.entry_.fired;
    }
    Sleep& operator=(Sleep&&) = delete;
    ~Sleep() {
        if (entry_.registered) driver_->remove(&entry_);  // O(1); its waker goes with it
    }

    Poll<void> poll(Context& cx) {
        if (entry_.fired) return ready;
        detail::TimeDriver& driver = current_driver();
        if (entry_.registered) {
            if (driver_ == &driver) {
                // Polled again before the deadline (a spurious wake, or by another task).
                if (!entry_.waker->will_wake(cx.waker())) entry_.waker = cx.waker();
                return pending;
            }
            driver_->remove(&entry_);  // polled under another executor now: move there
        }
        if (Clock::now() >= deadline_) return ready;  // nothing to wait for
        driver_ = &driver;
        entry_.when = driver_->tick_of(deadline_);
        entry_.waker = cx.waker();
        driver_->insert(&entry_);
        return pending;
    }
    // snippet-end: sleep

    /// Wait for `deadline` instead. Usable at any time (Interval uses it between ticks): a
    /// registered entry is taken out, and the next poll registers the new deadline.
    void reset(Clock::time_point deadline) {
        if (entry_.registered) driver_->remove(&entry_);
        entry_.waker.reset();
        entry_.fired = false;
        deadline_ = deadline;
    }

    Clock::time_point deadline() const noexcept { return deadline_; }

private:
    static detail::TimeDriver& current_driver() {
        if (detail::current_executor == nullptr) {
            throw std::logic_error(
                "a Sleep must be polled by a running executor: await it inside a task");
        }
        return detail::current_executor->time_driver();
    }

    Clock::time_point deadline_;            // when the sleep ends
    detail::TimerEntry entry_;              // linked into the driver's wheel while registered
    detail::TimeDriver* driver_ = nullptr;  // where entry_ is registered
};

/// A future that is ready `duration` after this call (nanoseconds::max(): never; the
/// deadline saturates instead of overflowing, rt/deadline.hpp).
inline Sleep sleep(std::chrono::nanoseconds duration) { return Sleep(deadline_after(duration)); }

/// A future that is ready at `deadline`.
inline Sleep sleep_until(Clock::time_point deadline) { return Sleep(deadline); }

}  // namespace rt
