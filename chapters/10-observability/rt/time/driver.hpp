// The time driver: the runtime's timers, on the executor's thread. A Sleep registers its
// TimerEntry here; the executor asks how long it may sleep in epoll_wait (until the next
// deadline), and after every wait gives the driver the time, which fires what is due: the
// entries leave the wheel and their tasks are woken.
//
// Guarantees: a timer never fires before its deadline (deadlines are rounded up to the next
// millisecond, the current time down); every timer due at a given time fires at the first
// process() at or after that time; removing a timer is O(1) and wakes nobody; a driver that
// shuts down leaves no entry pointing at it.
//
// New in chapter 8: every worker of the multi-threaded runtime registers timers here, and one
// worker at a time (whichever holds the driver, rt/multi_thread/driver.hpp) processes them, so
// the driver has a lock. Wakers are dropped and woken only after it is released: a waker's
// drop can free a task, whose future's destructor can remove another timer. And a parked
// owner sleeps until the next deadline it saw, so inserting an earlier one interrupts it.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <mutex>
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
    /// `wake_fd`: the eventfd that ends the driver's epoll_wait, written when a timer due
    /// earlier than the current park is inserted from another thread; -1 for a driver that
    /// only its own thread uses (chapter 7's executor).
    explicit TimeDriver(int wake_fd = -1) : start_(Clock::now()), wake_fd_(wake_fd) {}
    TimeDriver(const TimeDriver&) = delete;
    TimeDriver& operator=(const TimeDriver&) = delete;

    /// Shutdown: detach every entry still registered. Their futures can outlive the executor
    /// (an Interval whose tick() was cancelled by a timeout keeps its Sleep, registered, in
    /// the Interval); each finds its entry unregistered, so its next poll registers with the
    /// executor running then, and its destructor touches nothing of this driver. The wakers go
    /// now: they belong to tasks of this executor, which will never be polled again.
    ~TimeDriver() {
        wheel_.clear([](TimerEntry* entry) {
            entry->waker.reset();
            entry->registered.store(false, std::memory_order_release);  // the last touch
        });
    }

    /// The tick of `deadline`, rounded up: a timer at that tick never fires early.
    Tick tick_of(Clock::time_point deadline) const {
        if (deadline <= start_) return 0;
        const auto since = std::chrono::ceil<std::chrono::milliseconds>(deadline - start_);
        return static_cast<Tick>(since.count());
    }

    /// Register `entry` (not registered) to wake `waker` at tick `when`. From any thread; if
    /// the driver's owner is parked until later than `when`, its epoll_wait is interrupted
    /// so that it sleeps again, shorter (new in chapter 8).
    void insert(TimerEntry* entry, Tick when, const Waker& waker) {
        bool interrupt = false;
        {
            std::lock_guard lock(mutex_);
            entry->when = when;
            entry->waker = waker;
            entry->fired.store(false, std::memory_order_relaxed);
            entry->registered.store(true, std::memory_order_relaxed);
            wheel_.insert(entry);
            count_.store(wheel_.size(), std::memory_order_relaxed);
            interrupt = when < parked_until_;
            if (interrupt) parked_until_ = when;  // one write is enough until the next park
        }
        if (interrupt && wake_fd_ >= 0) {
            const std::uint64_t one = 1;
            [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
        }
    }

    /// A registered entry polled again: true if it fired meanwhile (on another thread);
    /// otherwise keep `waker` as the one to wake, replacing the old one unless it wakes the
    /// same task.
    bool refresh(TimerEntry* entry, const Waker& waker) {
        std::optional<Waker> replaced;  // declared before the lock: dropped after it
        std::lock_guard lock(mutex_);
        if (!entry->registered.load(std::memory_order_relaxed)) return true;
        if (!entry->waker->will_wake(waker)) replaced = std::exchange(entry->waker, waker);
        return false;
    }

    /// Take `entry` out if it is still registered (its future is gone, or moves its deadline),
    /// in O(1), dropping its waker. Returns true if it fired before.
    bool remove(TimerEntry* entry) {
        std::optional<Waker> waker;  // declared before the lock: dropped after it
        std::lock_guard lock(mutex_);
        if (entry->registered.load(std::memory_order_relaxed)) {
            wheel_.remove(entry);
            count_.store(wheel_.size(), std::memory_order_relaxed);
            waker = std::exchange(entry->waker, std::nullopt);
            entry->registered.store(false, std::memory_order_relaxed);
            return false;
        }
        return entry->fired.load(std::memory_order_relaxed);
    }

    // snippet-begin: timeout-ms
    /// How long epoll_wait may sleep: until the next deadline, in whole milliseconds rounded
    /// up, 0 if one is due, -1 (for ever) if no timer is registered. New in chapter 8: the
    /// caller is about to park in epoll_wait with that timeout, and the driver remembers
    /// until when, so that a timer inserted meanwhile that is due earlier interrupts it.
    int park_timeout_ms(Clock::time_point now) {
        std::lock_guard lock(mutex_);
        const std::optional<Tick> next = wheel_.next_deadline();
        parked_until_ = next ? *next : never;
        if (!next) return -1;
        const Clock::time_point deadline = start_ + std::chrono::milliseconds(*next);
        if (deadline <= now) return 0;
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
        return wait > INT_MAX ? INT_MAX : static_cast<int>(wait);
    }
    // snippet-end: timeout-ms

    /// The park is over: an insert has nobody to interrupt.
    void unparked() {
        std::lock_guard lock(mutex_);
        parked_until_ = 0;
    }

    // snippet-begin: process
    /// Fire every timer due at `now`: mark it fired, take its waker, and wake them all once
    /// the wheel is consistent again and the lock is released. Returns how many fired.
    std::size_t process(Clock::time_point now) {
        const Tick current =
            now <= start_
                ? 0
                : static_cast<Tick>(
                      std::chrono::floor<std::chrono::milliseconds>(now - start_).count());
        std::vector<Waker> to_wake;
        {
            std::lock_guard lock(mutex_);
            if (wheel_.size() == 0) return 0;
            to_wake.swap(to_wake_);  // reuse its capacity
            wheel_.advance(current, [&to_wake](TimerEntry* entry) {
                if (entry->waker)
                    to_wake.push_back(std::move(*std::exchange(entry->waker, std::nullopt)));
                entry->fired.store(true, std::memory_order_release);
                entry->registered.store(false, std::memory_order_release);  // the last touch
            });
            count_.store(wheel_.size(), std::memory_order_relaxed);
        }
        const std::size_t fired = to_wake.size();
        for (Waker& waker : to_wake) std::move(waker).wake();
        to_wake.clear();
        std::lock_guard lock(mutex_);
        if (to_wake.capacity() > to_wake_.capacity()) to_wake_.swap(to_wake);
        return fired;
    }
    // snippet-end: process

    /// Timers registered now; without the lock, so a moment's value when other threads
    /// register timers. The workers and the executor ask it before they read the clock and
    /// take the lock to fire timers: with none registered, that costs one load.
    std::size_t registered() const noexcept { return count_.load(std::memory_order_relaxed); }

private:
    static constexpr Tick never = ~Tick{0};

    Clock::time_point start_;            // tick 0
    int wake_fd_;                        // interrupts the owner's epoll_wait; not owned
    mutable std::mutex mutex_;           // guards everything below, and the entries' fields
    TimerWheel wheel_;                   // every registered entry
    std::atomic<std::size_t> count_{0};  // wheel_.size(), written under the lock
    Tick parked_until_ = 0;              // the owner sleeps until this tick; 0: it is not parked
    std::vector<Waker> to_wake_;         // spare room for the wakers of one process()
};

}  // namespace detail
}  // namespace rt
