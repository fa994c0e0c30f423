// Exercise 06-02 (solution): ex::RateLimiter, at most N permits per period, on the runtime's
// timers. Guarantees: no window of the schedule (start + k * period, one period long) gives out
// more than N permits, and none before it begins; waiters are served first come, first served;
// a dropped acquire loses no permit and stalls nobody; however many tasks wait, one timer waits
// for them all.
//
// The design, in four rules:
//  1. windows: time is cut into windows [start + k * period, start + (k + 1) * period). Each
//     window has N permits; what a window does not use is lost at its end (the burst is capped
//     at N, however long the limiter sat idle);
//  2. lazy refill: nothing runs between acquisitions. Whoever touches the limiter first in a new
//     window (a new acquire's poll, or the front waiter's timer) computes the window from the
//     clock and refills the bucket to N. Windows nobody touched are skipped, as if they had
//     been empty;
//  3. hand-over, as in exercise 03-02's semaphore: when permits come (a refill, or one given
//     back), they go straight to the oldest waiters, who are marked granted and woken; while
//     anybody waits, the bucket stays at 0, so a newcomer can never barge ahead;
//  4. one timer: only the front waiter sleeps, until the next refill; the others wait behind it
//     and are woken by the hand-over. Whoever becomes the front (the old front was served or
//     dropped) is woken, so that its next poll sets its timer: time is always kept by someone.
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
        if (now < next_refill_) return;
        window_ = start_ + period_ * ((now - start_) / period_);
        next_refill_ = window_ + period_;
        available_ = permits_;  // full, not more: what past windows left unused is gone
        grant();
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
        if (state_ == State::queued) {
            const bool was_front = &limiter_->waiters_.front() == &*position_;
            limiter_->waiters_.erase(position_);
            if (was_front && !limiter_->waiters_.empty()) {
                limiter_->waiters_.front().waker.wake_by_ref();  // keep the time now
            }
        } else if (state_ == State::granted) {
            limiter_->refill(rt::Clock::now());  // a permit of a window that has ended is void
            if (window_ == limiter_->window_) {
                ++limiter_->available_;  // still good: to the next waiter, or back to the bucket
                limiter_->grant();
            }
        }
        // sleep_, if set, goes with this future: its timer leaves the wheel.
    }

    rt::Poll<Output> poll(rt::Context& cx) {
        RateLimiter& limiter = *limiter_;
        switch (state_) {
            case State::idle:
                limiter.refill(rt::Clock::now());
                if (limiter.waiters_.empty() && limiter.available_ > 0) {
                    --limiter.available_;
                    state_ = State::done;
                    return limiter.window_;
                }
                position_ =
                    limiter.waiters_.insert(limiter.waiters_.end(), Waiter{this, cx.waker()});
                state_ = State::queued;
                break;
            case State::queued:
                if (!position_->waker.will_wake(cx.waker())) position_->waker = cx.waker();
                break;
            case State::granted:
                break;
            case State::done:
                assert(false && "an Acquire polled after it was ready");
                return rt::pending;
        }
        for (;;) {
            if (state_ == State::granted) {
                state_ = State::done;
                sleep_.reset();  // a timer set while this was the front is not needed any more
                return window_;
            }
            // Behind the front: the front's timer keeps the time for everyone.
            if (limiter.waiters_.front().acquire != this) return rt::pending;
            if (!sleep_ || sleep_->deadline() != limiter.next_refill_) {
                sleep_.emplace(limiter.next_refill_);
            }
            if (sleep_->poll(cx).is_pending()) return rt::pending;  // woken at the next refill
            limiter.refill(rt::Clock::now());  // it is due: permits for the oldest, this one first
        }
    }

private:
    friend class RateLimiter;
    explicit Acquire(RateLimiter& limiter) : limiter_(&limiter) {}

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
    Acquire* const front_before = waiters_.empty() ? nullptr : waiters_.front().acquire;
    while (available_ > 0 && !waiters_.empty()) {
        Waiter& oldest = waiters_.front();
        oldest.acquire->state_ = Acquire::State::granted;
        oldest.acquire->window_ = window_;
        --available_;
        rt::Waker waker = std::move(oldest.waker);
        waiters_.pop_front();
        std::move(waker).wake();  // the queue is consistent: waking runs nothing here
    }
    if (!waiters_.empty() && waiters_.front().acquire != front_before) {
        waiters_.front().waker.wake_by_ref();  // the new front: its next poll sets its timer
    }
}

}  // namespace ex
