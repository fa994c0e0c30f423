// The time driver: the runtime's timers, on the executor's thread. A Sleep registers its
// TimerEntry here; the executor asks how long it may sleep in epoll_wait (until the next
// deadline), and after every wait gives the driver the time, which fires what is due: the
// entries leave the wheel and their tasks are woken.
//
// Guarantees: a timer never fires before its deadline (deadlines are rounded up to the next
// millisecond, the current time down); every timer due at a given time fires at the first
// process() at or after that time; removing a timer is O(1) and wakes nobody; a driver that
// shuts down leaves no entry pointing at it. Executor thread only: timers are registered from
// tasks, and the executor processes them.
#pragma once

#include <chrono>
#include <climits>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "rt/time/entry.hpp"
#include "rt/time/timer_wheel.hpp"
#include "rt/waker.hpp"

namespace rt {

using Clock = std::chrono::steady_clock;

namespace detail {

class TimeDriver {
public:
    TimeDriver() : start_(Clock::now()) {}
    TimeDriver(const TimeDriver&) = delete;
    TimeDriver& operator=(const TimeDriver&) = delete;

    /// Shutdown: detach every entry still registered. Their futures can outlive the executor
    /// (an Interval whose tick() was cancelled by a timeout keeps its Sleep, registered, in
    /// the Interval); each finds its entry unregistered, so its next poll registers with the
    /// executor running then, and its destructor touches nothing of this driver. The wakers go
    /// now: they belong to tasks of this executor, which will never be polled again.
    ~TimeDriver() {
        wheel_.clear([](TimerEntry* entry) {
            entry->registered = false;
            entry->waker.reset();
        });
    }

    /// The tick of `deadline`, rounded up: a timer at that tick never fires early.
    Tick tick_of(Clock::time_point deadline) const {
        if (deadline <= start_) return 0;
        const auto since = std::chrono::ceil<std::chrono::milliseconds>(deadline - start_);
        return static_cast<Tick>(since.count());
    }

    /// Register `entry`, whose `when` and waker are set.
    void insert(TimerEntry* entry) {
        entry->registered = true;
        wheel_.insert(entry);
    }

    /// Take a registered entry out (its future is gone, or moves its deadline). O(1).
    void remove(TimerEntry* entry) {
        wheel_.remove(entry);
        entry->registered = false;
    }

    // snippet-begin: timeout-ms
    /// How long epoll_wait may sleep: until the next deadline, in whole milliseconds rounded
    /// up, 0 if one is due, -1 (for ever) if no timer is registered.
    int timeout_ms(Clock::time_point now) const {
        const std::optional<Tick> next = wheel_.next_deadline();
        if (!next) return -1;
        const Clock::time_point deadline = start_ + std::chrono::milliseconds(*next);
        if (deadline <= now) return 0;
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        return wait > INT_MAX ? INT_MAX : static_cast<int>(wait);
    }
    // snippet-end: timeout-ms

    // snippet-begin: process
    /// Fire every timer due at `now`: mark it fired, take its waker, and wake them all once
    /// the wheel is consistent again. Returns how many fired.
    std::size_t process(Clock::time_point now) {
        const Tick current =
            now <= start_
                ? 0
                : static_cast<Tick>(
                      std::chrono::floor<std::chrono::milliseconds>(now - start_).count());
        wheel_.advance(current, [this](TimerEntry* entry) {
            entry->registered = false;
            entry->fired = true;
            if (entry->waker)
                to_wake_.push_back(std::move(*std::exchange(entry->waker, std::nullopt)));
        });
        const std::size_t fired = to_wake_.size();
        for (Waker& waker : to_wake_) std::move(waker).wake();
        to_wake_.clear();
        return fired;
    }
    // snippet-end: process

    /// Timers registered now.
    std::size_t registered() const noexcept { return wheel_.size(); }

private:
    Clock::time_point start_;     // tick 0
    TimerWheel wheel_;            // every registered entry
    std::vector<Waker> to_wake_;  // the wakers of one process(), woken after it
};

}  // namespace detail
}  // namespace rt
