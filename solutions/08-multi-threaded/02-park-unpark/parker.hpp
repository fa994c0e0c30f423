// Exercise 08-02 (solution): ex::BasicParker, how one worker thread sleeps until another thread
// wakes exactly it (Tokio's `runtime/park.rs`, `Inner`). Guarantees: after unpark(), the
// owner's park() in progress returns, or its next park() returns at once (an unpark is a token
// that waits for the park; many unparks before one park make one token); park() never returns
// without a token (a spurious wakeup of the condition variable puts it back to sleep); and what
// the unparker did before unpark() happens before what the owner does after the park() that
// consumed the token.
//
// The state is one atomic byte, EMPTY (running, no token), PARKED (asleep on the condition
// variable, or about to be) or NOTIFIED (a token). The protocol, and the race each step avoids:
//  1. park, fast path: NOTIFIED -> EMPTY, one compare-and-swap; if it succeeds, the token is
//     consumed: return without touching the mutex. An unpark that came first is not lost.
//  2. park, under the mutex: EMPTY -> PARKED. If that fails, the state is NOTIFIED (an unpark
//     came between step 1 and here; only the owner parks, so nothing else writes EMPTY or
//     PARKED): consume the token with an exchange, not a plain store, and return.
//  3. park: wait on the condition variable, still under the same mutex, and return only once
//     NOTIFIED -> EMPTY succeeds. A wait may end with no notification at all (a spurious
//     wakeup, which the C++ standard allows); the state then still reads PARKED: wait again.
//  4. unpark: exchange the state with NOTIFIED. EMPTY or NOTIFIED before: the owner is awake
//     and will find the token at its next park (steps 1 and 2); nothing else to do. PARKED
//     before: take the mutex, let it go, then notify_one. The owner changed the state to PARKED
//     under the mutex and holds it until wait() releases it, atomically with starting to
//     wait: once the unparker has held the mutex, the owner is inside wait(), where the
//     notification reaches it, or has woken already and consumed the token. Without the
//     mutex, the notification can fall between the owner's step 2 and its wait(), where it
//     wakes nobody, and the owner sleeps on a token.
//
// Memory orders (docs/atomics.md):
//  - unpark's exchange is a release: it publishes what the unparker wrote before unpark(). Each
//    read-modify-write that consumes the token (the compare-and-swaps of steps 1 and 3, the
//    exchange of step 2) is an acquire, and reads the last value in the state's modification
//    order, so it reads the NOTIFIED of the latest unpark; every earlier unpark since the last
//    park is in that one's release sequence (every write to the state is a read-modify-write).
//    That is why step 2 exchanges instead of storing EMPTY after its failed compare-and-swap: a
//    failed compare-and-swap is only a load, and may have read the NOTIFIED of an earlier
//    unpark than the last one.
//  - The writes of PARKED need no order: the unparker reads nothing through them, and the
//    mutex orders the condition variable. An unparker that read PARKED takes the mutex after
//    the owner's critical section that wrote it began: had it held the mutex before, its
//    exchange would happen before that compare-and-swap, and could not have read its PARKED
//    (a read never sees a write that happens after it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace ex {

/// A parker for one owner thread, the one that calls park(). `Mutex` and `CondVar` are
/// std::mutex and std::condition_variable; the tests give types that record what the parker
/// does with them. `CondVar::wait(std::unique_lock<Mutex>&)` may return spuriously.
template <class Mutex = std::mutex, class CondVar = std::condition_variable>
class BasicParker {
public:
    BasicParker() = default;
    BasicParker(const BasicParker&) = delete;
    BasicParker& operator=(const BasicParker&) = delete;

    /// Owner only: sleep until unpark() is called, or return at once if it was called since
    /// the last park() returned. Consumes the token.
    void park() {
        // Step 1: a token is there already.
        std::uint8_t expected = notified;
        if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire,
                                           std::memory_order_relaxed)) {
            return;
        }
        std::unique_lock<Mutex> lock(mutex_);
        // Step 2: announce the sleep, under the mutex, unless a token came meanwhile.
        expected = empty;
        if (!state_.compare_exchange_strong(expected, parked, std::memory_order_relaxed,
                                            std::memory_order_relaxed)) {
            // NOTIFIED. acquire: pairs with the release of the latest unpark (see above).
            state_.exchange(empty, std::memory_order_acquire);
            return;
        }
        // Step 3: sleep until the state says NOTIFIED; any other return is spurious.
        for (;;) {
            condvar_.wait(lock);
            expected = notified;
            // acquire: pairs with unpark's release exchange.
            if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire,
                                               std::memory_order_relaxed)) {
                return;
            }
            ++spurious_wakeups_;
        }
    }

    /// Any thread: wake the owner, or let its next park() return at once.
    void unpark() {
        // Step 4. release: pairs with the acquire of the park that consumes the token.
        if (state_.exchange(notified, std::memory_order_release) != parked) return;
        // The owner holds the mutex from its EMPTY -> PARKED until wait() releases it: once
        // this thread has taken it, the owner waits (or has found the token already), and the
        // notification cannot fall before its wait.
        { std::lock_guard<Mutex> lock(mutex_); }
        condvar_.notify_one();  // after unlocking: the woken owner does not block on the mutex
    }

    /// Times the owner's wait ended with no token (spurious wakeups). Owner only, or once the
    /// owner's thread is joined.
    std::uint64_t spurious_wakeups() const noexcept { return spurious_wakeups_; }

private:
    enum : std::uint8_t { empty, parked, notified };

    std::atomic<std::uint8_t> state_{empty};  // EMPTY, PARKED or NOTIFIED
    Mutex mutex_;      // held by the owner from EMPTY -> PARKED into wait(), and by unpark
    CondVar condvar_;  // the owner sleeps on it
    std::uint64_t spurious_wakeups_ = 0;  // owner only
};

/// The parker of a worker: std::mutex and std::condition_variable.
using Parker = BasicParker<>;

}  // namespace ex
