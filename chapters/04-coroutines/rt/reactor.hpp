// The reactor: where wakers wait for events, so that whoever learns of an event (a device's
// thread, later the kernel) can wake exactly the tasks it concerns. Two of them, to compare:
// the seed's WakeAllReactor (one list; any event wakes every waiter) and KeyedReactor (one
// waker per event-source key; an event wakes only its key's task).
//
// Guarantees of both: thread-safe (register from the executor's thread, wake from any); a
// registered waker is woken at most once per registration and then forgotten; wakers are
// woken and dropped outside the reactor's lock (a waker's operations are the executor's
// code, which takes the executor's own locks). What a waiting future must do around them to
// never miss an event (register first, then check again) is the protocol in rt/device.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rt/waker.hpp"

namespace rt {

// snippet-begin: wake-all-reactor
/// The seed's reactor: a mutex-guarded list of wakers. A future that waits adds its waker;
/// an event, any event, wakes everyone on the list and empties it. The list cannot say who
/// waits for what, so every task but the one the event concerns is polled for nothing.
class WakeAllReactor {
public:
    /// Add a waker to the list. The list keeps it until the next wake_all.
    void register_waker(Waker waker) {
        std::lock_guard lock(mutex_);
        wakers_.push_back(std::move(waker));
    }

    /// Wake every registered waker and empty the list.
    void wake_all() {
        std::vector<Waker> woken;
        {
            std::lock_guard lock(mutex_);
            woken.swap(wakers_);
            wakes_ += woken.size();
        }
        // Outside the lock: wake() takes the ready queue's lock, and no thread of the runtime
        // ever holds two of its locks at once.
        for (Waker& waker : woken) std::move(waker).wake();
    }
    // snippet-end: wake-all-reactor

    /// Wakers registered and not woken yet.
    std::size_t registrations() const {
        std::lock_guard lock(mutex_);
        return wakers_.size();
    }

    /// Wakes delivered so far, useful or not.
    std::uint64_t wakes() const {
        std::lock_guard lock(mutex_);
        return wakes_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<Waker> wakers_;  // guarded by mutex_; a task that registered twice is here twice
    std::uint64_t wakes_ = 0;    // guarded by mutex_
};

/// The name of an event source a future can wait on: here a device's request id; in
/// chapter 5, a registered file descriptor.
using Token = std::uint64_t;

// snippet-begin: keyed-reactor
/// A reactor that knows who waits for what: at most one waker per key. notify(key) wakes
/// that waker only, so an event costs one wake however many tasks wait on other keys.
class KeyedReactor {
public:
    /// Make `waker` the one to wake when `key`'s event happens. A future calls this every
    /// time it answers pending: if the registered waker already wakes the same task
    /// (will_wake), it stays and nothing is cloned; otherwise the stale one is replaced.
    void register_waker(Token key, const Waker& waker) {
        std::optional<Waker> stale;  // declared before the lock: dropped after it is released
        std::lock_guard lock(mutex_);
        auto found = wakers_.find(key);
        if (found == wakers_.end()) {
            wakers_.emplace(key, waker);
        } else if (!found->second.will_wake(waker)) {
            stale.emplace(std::exchange(found->second, waker));
        }
    }

    /// `key`'s event happened: wake its waker, if one is registered, and forget it. Returns
    /// whether a waker was woken. An event with nobody registered is not remembered.
    bool notify(Token key) {
        std::optional<Waker> waker;
        {
            std::lock_guard lock(mutex_);
            auto node = wakers_.extract(key);
            if (node.empty()) return false;
            waker.emplace(std::move(node.mapped()));
            ++wakes_;
        }
        std::move(*waker).wake();  // outside the lock, as in wake_all
        return true;
    }

    /// Forget `key`'s registration without waking: its future is gone or no longer waits.
    void deregister(Token key) {
        std::optional<Waker> gone;  // dropped after the lock is released
        std::lock_guard lock(mutex_);
        auto node = wakers_.extract(key);
        if (!node.empty()) gone.emplace(std::move(node.mapped()));
    }
    // snippet-end: keyed-reactor

    /// Keys with a registered waker.
    std::size_t registrations() const {
        std::lock_guard lock(mutex_);
        return wakers_.size();
    }

    /// Wakes delivered so far.
    std::uint64_t wakes() const {
        std::lock_guard lock(mutex_);
        return wakes_;
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<Token, Waker> wakers_;  // guarded by mutex_; one waker per waiting key
    std::uint64_t wakes_ = 0;                  // guarded by mutex_
};

}  // namespace rt
