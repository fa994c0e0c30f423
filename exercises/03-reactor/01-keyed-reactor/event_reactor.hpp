// Exercise 03-01 (starter): EventReactor, a keyed reactor that remembers events: wait(key) is
// ready once `key` was notified, even when the notify came before anyone waited. Compiles; the
// bodies marked TODO(exercise) are yours: notify, registrations, and Wait's destructor and poll.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "rt/future.hpp"
#include "rt/reactor.hpp"
#include "rt/waker.hpp"

namespace rt {

/// A table of keyed events. notify(key) wakes the future waiting on `key`, or, if none is,
/// remembers the event for the next wait(key). Thread-safe: notify from any thread. One
/// Wait per key at a time. The reactor must outlive its Wait futures.
class EventReactor {
public:
    class Wait;

    EventReactor() = default;
    EventReactor(const EventReactor&) = delete;
    EventReactor& operator=(const EventReactor&) = delete;

    /// `key`'s event happened. Wakes the waiting future, if any (once: the registration is
    /// used up); the event stays until a wait consumes it. Two notifies that nobody consumed
    /// in between count as one, like a doorbell rung twice.
    void notify(Token key) {
        // TODO(exercise): mark `key`'s event as happened and take the waker registered for it,
        // if any, under the lock; wake it after the lock is released.
        (void)key;
    }

    /// A future that is ready once `key` has an event, and consumes it.
    Wait wait(Token key);

    /// Keys with a waker registered: futures waiting now.
    std::size_t registrations() const {
        // TODO(exercise): count the keys whose slot holds a waker.
        return 0;
    }

private:
    // A suggestion for the state you need; change it as you like (the tests only use the
    // public interface).
    /// What the reactor knows of one key.
    struct Slot {
        bool notified = false;       // an event happened and no wait has consumed it yet
        std::optional<Waker> waker;  // the waker of the waiting future's latest pending poll
    };

    mutable std::mutex mutex_;
    std::unordered_map<Token, Slot> slots_;  // guarded by mutex_
};

/// The future of EventReactor::wait. Polled in place, like every future; destroying it while
/// it waits takes its registration back.
class EventReactor::Wait {
public:
    using Output = void;

    Wait(Wait&& other) noexcept
        : reactor_(other.reactor_),
          key_(other.key_),
          registered_(std::exchange(other.registered_, false)) {}
    Wait& operator=(Wait&&) = delete;

    ~Wait() {
        // TODO(exercise): if this future left a waker in its key's slot, take it out (and drop
        // it after the lock is released). An event that arrived since the last poll must stay
        // for the next wait.
    }

    Poll<void> poll(Context& cx) {
        // TODO(exercise): in one critical section: if the key has an event, consume it and
        // answer ready; otherwise register cx.waker() in the key's slot (keep the one there if
        // it will_wake the same task, replace a stale one) and answer pending.
        (void)cx;
        return pending;
    }

private:
    friend class EventReactor;
    Wait(EventReactor& reactor, Token key) : reactor_(&reactor), key_(key) {}

    EventReactor* reactor_;
    Token key_;
    bool registered_ = false;  // our waker may be in the slot (notify may have taken it since)
};

inline EventReactor::Wait EventReactor::wait(Token key) { return Wait(*this, key); }

}  // namespace rt
