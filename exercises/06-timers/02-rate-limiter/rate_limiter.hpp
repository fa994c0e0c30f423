// Exercise 06-02 (starter): ex::RateLimiter, at most N permits per period, on the runtime's
// timers. Compiles; refill, grant, Acquire::poll and ~Acquire, marked TODO(exercise), are yours.
// The rest (the state, the constructor, acquire, the counters, the move) is written.
//
// The design to build (README.md says why), in four rules:
//  1. windows: time is cut into windows [start + k * period, start + (k + 1) * period), each
//     with N permits; what a window does not use is lost at its end;
//  2. lazy refill: whoever touches the limiter first in a new window (a new acquire's poll, or
//     the front waiter's timer) computes the window from the clock and refills to N;
//  3. hand-over, as in exercise 03-02: permits that come go straight to the oldest waiters,
//     marked granted and woken; while anybody waits the bucket stays at 0, so nobody barges;
//  4. one timer: only the front waiter sleeps, until the next refill. Whoever becomes the front
//     is woken, so that its next poll sets its timer.
// Single-threaded, like the runtime's timers: acquire and poll on the executor's thread only.
#pragma once

#include <cassert>
#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <utility>

#include "rt/future.hpp"
#include "rt/sleep.hpp"
#include "rt/waker.hpp"

namespace ex {

/// At most `permits` acquisitions per window of `period`. The limiter must outlive its Acquire
/// futures, and be used from the executor's thread only.
class RateLimiter {
public:
    class Acquire;

    /// The first window starts at `start`, which must not be in the future.
    RateLimiter(std::size_t permits, rt::Clock::duration period,
                rt::Clock::time_point start = rt::Clock::now())
        : permits_(permits),
          period_(period),
          start_(start),
          window_(start),
          next_refill_(start + period),
          available_(permits) {
        assert(permits > 0 && "a rate limiter needs at least one permit per period");
        assert(period > rt::Clock::duration::zero() && "a rate limiter's period must be positive");
        assert(start <= rt::Clock::now() && "a rate limiter's first window starts now or before");
    }
    RateLimiter(const RateLimiter&) = delete;
    RateLimiter& operator=(const RateLimiter&) = delete;
    ~RateLimiter() {
        assert(waiters_.empty() && "a rate limiter destroyed while tasks wait on it");
    }

    /// A future of one permit, ready with the start of the window the permit belongs to: at
    /// once if the current window has a permit left and nobody waits, otherwise in a later
    /// window, after every older waiter.
    Acquire acquire();

    /// Acquire futures waiting now (not counting those granted a permit and not yet polled).
    std::size_t waiters() const noexcept { return waiters_.size(); }

    std::size_t permits_per_period() const noexcept { return permits_; }
    rt::Clock::duration period() const noexcept { return period_; }
    rt::Clock::time_point start() const noexcept { return start_; }

private:
    /// Rule 2: if `now` is past the current window, move to the window `now` is in, with a
    /// full bucket, and hand the permits to waiters.
    void refill(rt::Clock::time_point now) {
        // TODO(exercise): nothing to do while now < next_refill_. Otherwise: window_ becomes the
        // start of the window `now` is in (start_ plus a whole number of periods), next_refill_
        // the end of it, available_ becomes permits_ (full, not more), and grant() hands them
        // to the waiters.
        (void)now;
    }

    /// Rule 3: hand available permits to the oldest waiters, waking each; then rule 4: if the
    /// front changed, wake the new front, which must now keep the time.
    void grant();

    /// A waiting Acquire and the waker of its latest pending poll.
    struct Waiter {
        Acquire* acquire;  // waits in place (a future does not move once polled)
        rt::Waker waker;
    };

    std::size_t permits_;                // per window
    rt::Clock::duration period_;         // a window's length
    rt::Clock::time_point start_;        // the first window's start: windows are aligned to it
    rt::Clock::time_point window_;       // the current window's start
    rt::Clock::time_point next_refill_;  // window_ + period_: when the next window starts
    std::size_t available_;      // permits left in the current window; 0 while anybody waits
    std::list<Waiter> waiters_;  // oldest first; the front keeps the time
};

/// The future of RateLimiter::acquire. Like every future it stays in place once polled: the
/// limiter's queue points at it, and its timer is registered inside it.
class RateLimiter::Acquire {
public:
    using Output = rt::Clock::time_point;

    Acquire(Acquire&& other) noexcept : limiter_(other.limiter_), state_(other.state_) {
        assert(other.state_ == State::idle && "an Acquire moved after its first poll");
        other.state_ = State::done;
    }
    Acquire& operator=(Acquire&&) = delete;

    /// Leave the queue (waking the next waiter if this one kept the time), or give back a
    /// permit handed over but never taken, if its window has not ended.
    ~Acquire() {
        // TODO(exercise): by state_.
        //  - queued: erase position_ from the queue. If this was the front and others wait,
        //    wake the new front (wake_by_ref): it must set its timer now.
        //  - granted: refill first (a permit of a window that has ended is void); if window_ is
        //    still the limiter's window, give the permit back (++available_) and grant() it.
        // sleep_, if set, goes with this future: its timer leaves the wheel on its own.
    }

    rt::Poll<Output> poll(rt::Context& cx) {
        // TODO(exercise): by state_ first.
        //  - idle: refill with the time now; if nobody waits and a permit is left, take it:
        //    done, ready with the limiter's window_. Otherwise join the back of the queue (a
        //    Waiter with cx.waker(); keep its position) and become queued;
        //  - queued: keep cx.waker() in the queue, unless the one there will_wake it;
        //  - granted: nothing yet; done: assert, it is never polled again.
        // Then, until something is returned:
        //  - granted: done; let the timer go (sleep_.reset()); ready with window_;
        //  - not the front of the queue: pending (the front keeps the time for everyone);
        //  - the front: make sure sleep_ waits for the limiter's next_refill_ (emplace a new
        //    Sleep when there is none, or its deadline is another), and poll it. Pending:
        //    pending. Ready: the refill is due; refill with the time now, and go round again.
        (void)cx;
        return rt::pending;
    }

private:
    friend class RateLimiter;
    explicit Acquire(RateLimiter& limiter) : limiter_(&limiter) {}

    // A suggestion for the state you need; change it as you like (the tests only use the
    // public interface).
    enum class State {
        idle,     // not polled yet
        queued,   // in waiters_, at position_, which holds the waker
        granted,  // handed a permit of window_ (and woken); the next poll takes it
        done,     // ready was returned (or moved from): holds nothing
    };

    RateLimiter* limiter_;
    State state_ = State::idle;
    std::list<Waiter>::iterator position_;  // valid while queued
    rt::Clock::time_point window_;          // the window of the permit, once granted
    std::optional<rt::Sleep> sleep_;        // the front's timer, until the next refill
};

inline RateLimiter::Acquire RateLimiter::acquire() { return Acquire(*this); }

inline void RateLimiter::grant() {
    // TODO(exercise): remember the front waiter (or none). While a permit is available and
    // somebody waits: mark the oldest granted with this window_, take a permit, move its waker
    // out, pop it from the queue, and wake it. Then, if the front is not the one it was, wake
    // the new front by reference: its next poll sets its timer.
}

}  // namespace ex
