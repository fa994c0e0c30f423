// Exercise 03-02 (solution): an async semaphore. acquire() is a future of a SemaphorePermit
// that gives itself back when destroyed. Never more permits out than there are; waiters are
// served first come, first served; a waiter dropped after it was handed a permit passes it on.
#pragma once

#include <cassert>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "rt/future.hpp"
#include "rt/waker.hpp"

namespace rt::sync {

class SemaphorePermit;

/// A count of permits shared by tasks. Thread-safe: permits may be released from any thread.
/// The semaphore must outlive its permits and its Acquire futures.
///
/// Fairness: strictly first come, first served. A released permit goes straight to the oldest
/// waiter (a hand-over), never back to the pool while someone waits, so a newcomer can never
/// take a permit ahead of a task that was already waiting (no barging).
class Semaphore {
public:
    class Acquire;

    explicit Semaphore(std::size_t permits) : available_(permits) {}
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;
    ~Semaphore() { assert(waiters_.empty() && "a semaphore destroyed while tasks wait on it"); }

    /// A future of one permit: ready at once if a permit is free and nobody waits, otherwise
    /// when the permits released before it have served every older waiter.
    Acquire acquire();

    /// Put `n` more permits in, serving waiters first (oldest first).
    void add_permits(std::size_t n) { release(n); }

    /// Permits free now (0 while anybody waits).
    std::size_t available_permits() const {
        std::lock_guard lock(mutex_);
        return available_;
    }

    /// Acquire futures queued now, waiting for a permit.
    std::size_t waiters() const {
        std::lock_guard lock(mutex_);
        return waiters_.size();
    }

private:
    friend class SemaphorePermit;

    /// Give `n` permits back, and wake the waiters they were handed to, outside the lock.
    void release(std::size_t n) {
        std::vector<Waker> to_wake;
        {
            std::lock_guard lock(mutex_);
            for (std::size_t i = 0; i < n; ++i) {
                std::optional<Waker> waker = release_locked();
                if (waker) to_wake.push_back(std::move(*waker));
            }
        }
        for (Waker& waker : to_wake) std::move(waker).wake();
    }

    /// One permit back, with mutex_ held: to the oldest waiter if there is one (returning its
    /// waker, to be woken after the lock is released), otherwise to the pool.
    std::optional<Waker> release_locked();

    /// A queued Acquire and the waker of its latest pending poll.
    struct Waiter {
        Acquire* acquire;  // waits in place (a future does not move once polled)
        Waker waker;
    };

    mutable std::mutex mutex_;
    std::size_t available_;      // guarded by mutex_; 0 whenever waiters_ is not empty
    std::list<Waiter> waiters_;  // guarded by mutex_; oldest first
};

/// One permit, given back to its semaphore when destroyed. Move-only.
class SemaphorePermit {
public:
    SemaphorePermit(SemaphorePermit&& other) noexcept
        : semaphore_(std::exchange(other.semaphore_, nullptr)) {}
    SemaphorePermit& operator=(SemaphorePermit&& other) noexcept {
        SemaphorePermit old(std::move(other));
        std::swap(semaphore_, old.semaphore_);
        return *this;  // `old` now holds what this permit held, and gives it back
    }
    ~SemaphorePermit() {
        if (semaphore_ != nullptr) semaphore_->release(1);
    }

private:
    friend class Semaphore::Acquire;
    explicit SemaphorePermit(Semaphore& semaphore) : semaphore_(&semaphore) {}

    Semaphore* semaphore_;  // null once moved from
};

/// The future of Semaphore::acquire. Like every future it stays in place once polled: the
/// semaphore's queue points at it.
class Semaphore::Acquire {
public:
    using Output = SemaphorePermit;

    Acquire(Acquire&& other) noexcept : semaphore_(other.semaphore_), state_(other.state_) {
        assert(other.state_ != State::queued && other.state_ != State::granted &&
               "an Acquire moved after it started waiting");
        other.state_ = State::done;
    }
    Acquire& operator=(Acquire&&) = delete;

    /// Leaving the queue, or passing on a permit handed over but never taken.
    ~Acquire() {
        std::optional<Waker> to_wake;
        std::optional<Waker> gone;  // both declared before the lock: used after it is released
        {
            std::lock_guard lock(semaphore_->mutex_);
            if (state_ == State::queued) {
                gone.emplace(std::move(position_->waker));
                semaphore_->waiters_.erase(position_);
            } else if (state_ == State::granted) {
                to_wake = semaphore_->release_locked();  // the next waiter, or the pool
            }
        }
        if (to_wake) std::move(*to_wake).wake();
    }

    Poll<SemaphorePermit> poll(Context& cx) {
        std::optional<Waker> stale;  // declared before the lock: dropped after it is released
        std::lock_guard lock(semaphore_->mutex_);
        switch (state_) {
            case State::idle:
                if (semaphore_->waiters_.empty() && semaphore_->available_ > 0) {
                    --semaphore_->available_;
                    state_ = State::done;
                    return SemaphorePermit(*semaphore_);
                }
                position_ = semaphore_->waiters_.insert(semaphore_->waiters_.end(),
                                                        Waiter{this, cx.waker()});
                state_ = State::queued;
                return pending;
            case State::queued:
                if (!position_->waker.will_wake(cx.waker())) {
                    stale.emplace(std::exchange(position_->waker, cx.waker()));
                }
                return pending;
            case State::granted:
                state_ = State::done;
                return SemaphorePermit(*semaphore_);
            case State::done:
                break;
        }
        assert(false && "an Acquire polled after it was ready");
        return pending;
    }

private:
    friend class Semaphore;
    explicit Acquire(Semaphore& semaphore) : semaphore_(&semaphore) {}

    /// Where this future is; every field below is guarded by the semaphore's mutex.
    enum class State {
        idle,     // not polled yet
        queued,   // in waiters_, at position_, which holds the waker
        granted,  // a release handed it a permit (and woke it); the next poll takes it
        done,     // ready was returned (or moved from): holds nothing
    };

    Semaphore* semaphore_;
    State state_ = State::idle;
    std::list<Waiter>::iterator position_;  // valid while queued
};

inline Semaphore::Acquire Semaphore::acquire() { return Acquire(*this); }

inline std::optional<Waker> Semaphore::release_locked() {
    if (waiters_.empty()) {
        ++available_;
        return std::nullopt;
    }
    Waiter& oldest = waiters_.front();
    oldest.acquire->state_ = Acquire::State::granted;
    std::optional<Waker> waker(std::move(oldest.waker));
    waiters_.pop_front();
    return waker;
}

}  // namespace rt::sync
