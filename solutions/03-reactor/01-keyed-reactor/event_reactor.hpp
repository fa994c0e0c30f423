// Exercise 03-01 (solution): EventReactor, a keyed reactor that remembers events: wait(key) is
// ready once `key` was notified, even when the notify came before anyone waited. The check and
// the registration happen in one critical section of the lock notify takes: no lost wakeup.
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
///
/// Compared with chapter 3's KeyedReactor, the event's state (`notified`) lives next to the
/// waker, under the same mutex. A poll looks at it and registers in one critical section, and
/// notify sets it and takes the waker in another: whichever comes first, the other sees it.
/// That is the second cure for the lost wakeup, the one chapter 2's Sleep uses.
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
        std::optional<Waker> waker;
        {
            std::lock_guard lock(mutex_);
            Slot& slot = slots_[key];
            slot.notified = true;
            waker.swap(slot.waker);
        }
        if (waker) std::move(*waker).wake();  // outside the lock: wake runs the executor's code
    }

    /// A future that is ready once `key` has an event, and consumes it.
    Wait wait(Token key);

    /// Keys with a waker registered: futures waiting now.
    std::size_t registrations() const {
        std::lock_guard lock(mutex_);
        auto waiting = [](const auto& entry) { return entry.second.waker.has_value(); };
        return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), waiting));
    }

private:
    /// What the reactor knows of one key. An entry exists only while it holds an event or a
    /// waker.
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
        if (!registered_) return;
        std::optional<Waker> gone;  // declared before the lock: dropped after it is released
        std::lock_guard lock(reactor_->mutex_);
        auto found = reactor_->slots_.find(key_);
        if (found == reactor_->slots_.end()) return;
        gone.swap(found->second.waker);
        // An event that arrived after our last poll stays for the next wait: we never saw it.
        if (!found->second.notified) reactor_->slots_.erase(found);
    }

    Poll<void> poll(Context& cx) {
        std::optional<Waker> stale;  // declared before the lock: dropped after it is released
        std::lock_guard lock(reactor_->mutex_);
        Slot& slot = reactor_->slots_[key_];
        if (slot.notified) {
            // Consume the event. notify took the waker when it set `notified`, and nobody can
            // have registered since (this check comes first), so the slot is empty now.
            assert(!slot.waker.has_value());
            reactor_->slots_.erase(key_);
            registered_ = false;
            return ready;
        }
        // Still under the lock: a notify cannot fall between the check above and this line.
        if (!slot.waker) {
            slot.waker.emplace(cx.waker());
        } else if (!slot.waker->will_wake(cx.waker())) {
            stale.emplace(std::exchange(*slot.waker, cx.waker()));
        }
        registered_ = true;
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
