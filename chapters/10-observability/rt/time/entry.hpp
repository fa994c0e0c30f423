// TimerEntry: one registered deadline, the node both timer structures (rt/time/timer_heap.hpp,
// rt/time/timer_wheel.hpp) link and unlink. It lives inside the future that waits for it (a
// Sleep), so registering a timer allocates nothing; the future must therefore stay in place
// while registered, which the Future contract already asks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "rt/waker.hpp"

namespace rt::detail {

/// Milliseconds since the time driver started: the timers' clock.
using Tick = std::uint64_t;

struct TimerEntry {
    Tick when = 0;               // the deadline, in ticks, rounded up: never fires early
    std::optional<Waker> waker;  // the task to wake at the deadline
    // New in chapter 8: the driver may fire an entry on one worker while its Sleep is polled
    // or destroyed on another, so these two are atomic. The driver writes them under its lock,
    // `registered` last (release): a Sleep that reads it false (acquire) knows the driver is
    // done with the entry, and may destroy it without taking the lock.
    std::atomic<bool> registered{false};  // linked into a timer structure
    std::atomic<bool> fired{false};       // the deadline has passed and the waker was taken
    // Links, owned by whichever structure holds the entry:
    TimerEntry* prev = nullptr;  // wheel: neighbours in the slot's list
    TimerEntry* next = nullptr;
    std::size_t heap_index = 0;  // heap: position in the array
    unsigned level = 0;          // wheel: where the entry is, for O(1) removal
    unsigned slot = 0;
};

}  // namespace rt::detail
