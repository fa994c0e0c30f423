// SpinLock: a one-byte lock for critical sections of a few instructions (new in chapter 7).
// It meets the standard's Lockable requirements, so std::lock_guard and std::unique_lock take
// it as they take a std::mutex.
//
// Why not std::mutex: a std::mutex is 40 bytes (with glibc, on x86-64), and a task holds one
// (its join lock, rt/task.hpp), so a million idle tasks paid 40 MB for locks that are nearly
// always free; and locking and unlocking one are two calls into the C library with an atomic
// read-modify-write each. Here, locking is one atomic exchange, unlocking one release store (a
// plain store on x86). The price: a thread that finds the lock held does not sleep in the
// kernel, it retries. That is only acceptable because every critical section under a SpinLock
// is a handful of instructions that never block, never allocate and never call out (no wake, no
// destructor of a waker: those happen after the unlock). With longer critical sections, or many
// threads contending, use std::mutex.
//
// Guarantees: mutual exclusion; what a thread wrote before unlock is visible to the next
// thread that locks (release/acquire). Not fair, not recursive.
#pragma once

#include <atomic>
#include <thread>

#include "rt/sync/primitives.hpp"

namespace rt::detail {

class SpinLock {
public:
    void lock() noexcept {
        // Test-and-test-and-set: try once, and while that fails, wait with plain loads (which
        // do not take the cache line away from the holder) until the lock looks free.
        while (held_.exchange(true, std::memory_order_acquire)) {
            for (int spins = 0; held_.load(std::memory_order_relaxed); ++spins) {
                if (spins >= 64) std::this_thread::yield();  // the holder may be descheduled
            }
        }
    }

    bool try_lock() noexcept { return !held_.exchange(true, std::memory_order_acquire); }

    void unlock() noexcept { held_.store(false, std::memory_order_release); }

private:
    Atomic<bool> held_{false};
};

}  // namespace rt::detail
