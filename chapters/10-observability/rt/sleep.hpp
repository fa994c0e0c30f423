// sleep(duration), sleep_until(deadline): futures that are ready once a deadline has passed.
// New in chapter 6: the timer is in the runtime (rt/time/driver.hpp), not on a thread of its
// own. A Sleep holds its TimerEntry inside itself and registers it at its first pending poll,
// so sleeping allocates nothing; the executor's epoll_wait sleeps until the earliest deadline
// and then fires it. The task is polled twice: once to register, once after the wake.
//
// Who holds the waker: the Sleep's own entry, while it is registered. Who wakes it: the time
// driver, at the deadline, after taking the entry out of the wheel. New in chapter 8: the
// driver may do that on another worker than the one polling the Sleep, so the entry's state is
// read under the driver's lock, or atomically where the Sleep only needs to know whether the
// driver is done with it (rt/time/entry.hpp). The other rules are about lifetime:
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
#include "rt/future.hpp"
#include "rt/scheduler.hpp"
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
        assert(!other.entry_.registered.load(std::memory_order_relaxed) &&
               "a Sleep moved after its first poll");
        entry_.fired.store(other.entry_.fired.load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
    }
    Sleep& operator=(Sleep&&) = delete;
    ~Sleep() {
        // acquire: false means the driver is done with the entry (rt/time/entry.hpp).
        if (entry_.registered.load(std::memory_order_acquire)) driver_->remove(&entry_);
    }

    Poll<void> poll(Context& cx) {
        if (entry_.fired.load(std::memory_order_acquire)) return ready;
        detail::TimeDriver& driver = current_driver();
        if (entry_.registered.load(std::memory_order_acquire)) {
            if (driver_ == &driver) {
                // Polled again before the deadline (a spurious wake, or by another task), or
                // fired meanwhile on another thread (new in chapter 8).
                return driver_->refresh(&entry_, cx.waker()) ? Poll<void>(ready) : pending;
            }
            // Polled under another runtime now: move there, unless it fired meanwhile.
            if (driver_->remove(&entry_)) return ready;
        }
        if (Clock::now() >= deadline_) return ready;  // nothing to wait for
        driver_ = &driver;
        driver_->insert(&entry_, driver_->tick_of(deadline_), cx.waker());
        return pending;
    }
    // snippet-end: sleep

    /// Wait for `deadline` instead. Usable at any time (Interval uses it between ticks): a
    /// registered entry is taken out, and the next poll registers the new deadline.
    void reset(Clock::time_point deadline) {
        if (entry_.registered.load(std::memory_order_acquire)) driver_->remove(&entry_);
        entry_.fired.store(false, std::memory_order_relaxed);
        deadline_ = deadline;
    }

    Clock::time_point deadline() const noexcept { return deadline_; }

private:
    static detail::TimeDriver& current_driver() {
        if (detail::current_runtime == nullptr) {
            throw std::logic_error(
                "a Sleep must be polled by a running executor: await it inside a task");
        }
        return detail::current_runtime->time_driver();
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
