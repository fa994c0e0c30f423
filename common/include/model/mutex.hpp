// model::Mutex and model::CondVar: std::mutex's and std::condition_variable's interfaces for
// the interleaving explorer (model/explorer.hpp). Locking, unlocking, waiting and notifying
// are scheduling points; a thread that waits for the mutex, or on the condition variable,
// does not run until it can. A notification with no thread waiting is lost, as with the real
// one: that is the lost wakeup a protocol must rule out (rt/multi_thread/parker.hpp, step 3).
// std::lock_guard and std::unique_lock take them as they take the standard ones.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <source_location>

#include "model/explorer.hpp"

namespace model {

class Mutex {
    using Where = std::source_location;

public:
    Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    void lock(Where where = Where::current()) noexcept {
        step("lock", where);
        block_until([this] { return !held_; }, "waits for a mutex", where);
        held_ = true;
    }
    bool try_lock(Where where = Where::current()) noexcept {
        step("try_lock", where);
        if (held_) return false;
        held_ = true;
        return true;
    }
    void unlock(Where where = Where::current()) noexcept {
        step("unlock", where);
        check(held_, "unlock of a mutex that is not locked", where);
        held_ = false;
    }

private:
    bool held_ = false;  // only the running model thread reads or writes it
};

class CondVar {
    using Where = std::source_location;

public:
    CondVar() = default;
    CondVar(const CondVar&) = delete;
    CondVar& operator=(const CondVar&) = delete;

    /// Unlock, wait for a notification, lock again. Never wakes without one.
    void wait(std::unique_lock<Mutex>& lock, Where where = Where::current()) noexcept {
        step("wait", where);
        bool notified = false;
        waiters_.push_back(&notified);
        lock.mutex()->unlock(where);
        block_until([&notified] { return notified; }, "waits on a condition variable", where);
        lock.mutex()->lock(where);
    }
    template <class Predicate>
    void wait(std::unique_lock<Mutex>& lock, Predicate ready, Where where = Where::current()) {
        while (!ready()) wait(lock, where);
    }
    void notify_one(Where where = Where::current()) noexcept {
        step("notify_one", where);
        if (waiters_.empty()) return;  // nobody waits: the notification is lost
        *waiters_.front() = true;
        waiters_.pop_front();
    }
    void notify_all(Where where = Where::current()) noexcept {
        step("notify_all", where);
        for (bool* waiter : waiters_) *waiter = true;
        waiters_.clear();
    }

private:
    std::deque<bool*> waiters_;  // in the order they came; only model threads touch it
};

}  // namespace model
