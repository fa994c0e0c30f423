// sleep(duration): a future that is ready once a deadline has passed, backed by a timer
// thread that wakes the task at the deadline. The task is polled twice: once to register,
// once after the wake. (Chapter 6 replaces the thread with a timer driver inside the runtime.)
//
// Who holds the waker: the sleep's shared state, under its mutex. Who may wake: the timer
// thread, once, at the deadline. The protocol, and the race each step avoids:
//  - poll stores the waker and checks `fired` under the same mutex the timer thread takes to
//    set `fired` and take the waker, so "not fired yet, store waker" and "fire, take waker"
//    cannot interleave: either poll sees fired, or the timer sees the waker;
//  - poll replaces the stored waker when the task polls with a different one, so the latest
//    task to await the sleep is the one woken;
//  - the destructor clears the waker, so a timer that fires after the sleep is gone wakes
//    nobody; the entry itself stays in the timer's heap until its deadline (lazy removal).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <vector>

#include "rt/deadline.hpp"
#include "rt/future.hpp"

namespace rt {

using Clock = std::chrono::steady_clock;

namespace detail {

/// What a Sleep and the timer thread share.
struct SleepState {
    explicit SleepState(Clock::time_point d) : deadline(d) {}
    const Clock::time_point deadline;
    std::mutex mutex;
    std::optional<Waker> waker;  // guarded by mutex; the task to wake at the deadline
    bool fired = false;          // guarded by mutex; set once by the timer thread
};

/// One background thread that sleeps until the earliest deadline and wakes its sleepers.
class TimerThread {
public:
    TimerThread() : thread_([this](std::stop_token stop) { run(stop); }) {}
    ~TimerThread() {
        {
            // Under the thread's mutex: otherwise the stop request and its notify could land
            // between the thread's "stop not requested" check and its wait, and the thread
            // would sleep until its next deadline, however far (a lost wakeup, again).
            std::lock_guard lock(mutex_);
            thread_.request_stop();
        }
        changed_.notify_one();
    }  // jthread joins here, before the members it uses are destroyed

    void add(std::shared_ptr<SleepState> state) {
        {
            std::lock_guard lock(mutex_);
            heap_.push(std::move(state));
        }
        changed_.notify_one();  // the new deadline may be earlier than the one slept for
    }

    /// The process's timer thread, started on first use.
    static TimerThread& instance() {
        static TimerThread timer;
        return timer;
    }

private:
    struct Later {
        bool operator()(const std::shared_ptr<SleepState>& a,
                        const std::shared_ptr<SleepState>& b) const {
            return a->deadline > b->deadline;
        }
    };

    // snippet-begin: timer-loop
    void run(std::stop_token stop) {
        std::unique_lock lock(mutex_);
        while (!stop.stop_requested()) {
            if (heap_.empty()) {
                changed_.wait(lock);
                continue;
            }
            auto next = heap_.top();
            if (Clock::now() < next->deadline) {
                changed_.wait_until(lock, next->deadline);  // or until an earlier one arrives
                continue;
            }
            heap_.pop();
            lock.unlock();  // never wake while holding our lock: wake takes the queue's lock
            std::optional<Waker> waker;
            {
                std::lock_guard state_lock(next->mutex);
                next->fired = true;
                waker.swap(next->waker);
            }
            if (waker) std::move(*waker).wake();
            lock.lock();
        }
    }
    // snippet-end: timer-loop

    std::mutex mutex_;
    std::condition_variable changed_;  // a deadline was added, or stop was requested
    std::priority_queue<std::shared_ptr<SleepState>, std::vector<std::shared_ptr<SleepState>>,
                        Later>
        heap_;             // guarded by mutex_; earliest deadline on top
    std::jthread thread_;  // last member: started after the others exist
};

}  // namespace detail

// snippet-begin: sleep
class Sleep {
public:
    using Output = void;
    using Clock = rt::Clock;

    explicit Sleep(Clock::time_point deadline)
        : state_(std::make_shared<detail::SleepState>(deadline)) {}
    Sleep(Sleep&&) = default;
    ~Sleep() {
        if (state_ == nullptr) return;  // moved from
        std::lock_guard lock(state_->mutex);
        state_->waker.reset();
    }

    Poll<void> poll(Context& cx) {
        if (Clock::now() >= state_->deadline) return ready;
        {
            std::lock_guard lock(state_->mutex);
            if (state_->fired) return ready;
            if (!state_->waker || !state_->waker->will_wake(cx.waker())) {
                state_->waker = cx.waker();  // keep the latest task's waker
            }
        }
        if (!registered_) {
            registered_ = true;
            detail::TimerThread::instance().add(state_);
        }
        return pending;
    }
    // snippet-end: sleep

    Clock::time_point deadline() const noexcept { return state_->deadline; }

private:
    std::shared_ptr<detail::SleepState> state_;
    bool registered_ = false;
};

/// A future that is ready `duration` after this call (nanoseconds::max(): never; the
/// deadline saturates instead of overflowing, rt/deadline.hpp).
inline Sleep sleep(std::chrono::nanoseconds duration) { return Sleep(deadline_after(duration)); }

/// A future that is ready at `deadline`.
inline Sleep sleep_until(Clock::time_point deadline) { return Sleep(deadline); }

}  // namespace rt
