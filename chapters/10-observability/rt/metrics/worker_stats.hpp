// What each worker of the multi-threaded runtime counts, always (chapter 8's counters, moved
// here and extended in chapter 10): every count is written by its worker's thread only and read
// by any, so counting costs an add, not a read-modify-write (Counter), and reading gives each
// count's value at some moment while the runtime runs.
//
// Busy and parked time come from two clock reads per park, not per poll: parked time is the
// sum of the parks, and busy time is the rest of the worker's life. A park costs a system call
// already, so two reads of the clock around it cost nothing anyone can measure.
#pragma once

#include <atomic>
#include <cstdint>

namespace rt {

/// What one worker did, counted since the runtime started.
struct WorkerStats {
    std::uint64_t polls = 0;           // tasks polled
    std::uint64_t lifo_hits = 0;       // of which taken from the LIFO slot
    std::uint64_t steals = 0;          // successful steals from another worker's queue
    std::uint64_t stolen = 0;          // tasks taken by them
    std::uint64_t steal_attempts = 0;  // queues looked at to steal from (new in chapter 10)
    std::uint64_t from_global = 0;     // tasks taken from the global queue
    std::uint64_t overflows = 0;       // times the local queue was full and half went global
    std::uint64_t parks = 0;           // times the worker slept
    std::uint64_t driver_parks = 0;    // of which in epoll_wait, holding the drivers
    std::int64_t busy_ns = 0;          // awake: running tasks, searching (new in chapter 10)
    std::int64_t parked_ns = 0;        // asleep in park (new in chapter 10)
    std::uint64_t queue_depth = 0;     // tasks in its local queue now (new in chapter 10)
};

namespace detail {

/// A count that one thread increments and others read: a relaxed load and store, not a
/// read-modify-write, so counting costs an add.
class Counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

}  // namespace detail
}  // namespace rt
