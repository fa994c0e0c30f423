// Which workers are parked, and how many search for work (Tokio's `Idle`). It answers two
// questions: may this worker start stealing (a bound on searchers), and whom should new work
// wake (one parked worker, and only when nobody searches already).
//
// Why a bound on searchers: a worker that runs out of work looks through every other worker's
// queue. With many workers and little work, all of them would do so at once, contending for the
// same few tasks; so at most half of them search, and the others park at once.
//
// Why wake nobody while a worker searches: new work will be found by it. A burst of spawns
// would otherwise wake every parked worker, one per spawn, each to find nothing; this way they
// are woken one at a time, each by the worker before it when it finds work (a searcher that
// finds a task wakes the next, rt/multi_thread/worker.hpp: the wake-up chain).
//
// The state: one atomic word, the number of unparked workers in its high half and of searching
// workers in its low half, so that both change in one operation; and, under a mutex, the list
// of parked workers. Every operation on the word is seq_cst: the protocol below depends on a
// single order of these operations and of the queues' length updates (docs/atomics.md, store
// buffering).
//
// The park protocol, and the race each step avoids (the lost wakeup: new work and a worker
// going to sleep miss each other):
//  1. producer: make the task visible (the global queue's length, seq_cst; a worker's own
//     queue, which it will empty itself), THEN read the word (notify_one);
//  2. producer: if no worker searches and some are parked, under the mutex count one worker as
//     unparked and searching, take it off the list, and unpark it;
//  3. worker: announce under the mutex that it parks (decrement the word, join the list), THEN,
//     if it was the last searcher, look at every queue once more and wake a worker if it finds
//     a task (rt/multi_thread/worker.hpp);
//  4. worker: sleep in its Parker, which keeps an unpark that came before the sleep.
// Because 1 writes then reads and 3 writes then reads, in one seq_cst order, either the
// producer reads the word after the worker's announcement (and sees no searcher: it wakes one),
// or the worker looks at the queues after the task was made visible (and finds it). A producer
// that saw a searcher relies on it; the last searcher to park looks again (step 3), so the
// responsibility for new work is never dropped.
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "rt/sync/primitives.hpp"

namespace rt::detail {

class Idle {
public:
    explicit Idle(std::uint32_t workers) : state_(workers << unparked_shift), workers_(workers) {
        assert(workers > 0 && workers < 0x10000);
        sleepers_.reserve(workers);
    }

    /// A worker with no work of its own may start searching (stealing) while fewer than half
    /// of the workers do. A single worker always may.
    bool transition_to_searching() noexcept {
        const std::uint32_t state = state_.load(std::memory_order_seq_cst);
        if (2 * searching(state) >= workers_) return false;
        // Not a compare-and-swap: two workers may both pass the test, and the bound is soft.
        state_.fetch_add(1, std::memory_order_seq_cst);
        return true;
    }

    /// A searching worker found a task. True if it was the last searcher: it must then wake
    /// another worker, for there may be more work than it took.
    bool transition_from_searching() noexcept {
        return searching(state_.fetch_sub(1, std::memory_order_seq_cst)) == 1;
    }

    /// Steps 1 and 2: the worker to unpark for new work, counted as unparked and searching;
    /// nothing if a worker searches already or none is parked.
    std::optional<std::uint32_t> worker_to_notify() {
        if (!should_notify(state_.load(std::memory_order_seq_cst))) return std::nullopt;
        std::lock_guard lock(mutex_);
        if (!should_notify(state_.load(std::memory_order_seq_cst))) return std::nullopt;
        state_.fetch_add((1u << unparked_shift) | 1u, std::memory_order_seq_cst);
        assert(!sleepers_.empty());
        const std::uint32_t worker = sleepers_.back();
        sleepers_.pop_back();
        return worker;
    }

    /// Step 3's announcement: `worker` parks. True if it was the last searcher (it must then
    /// look at the queues once more).
    bool transition_to_parked(std::uint32_t worker, bool was_searching) {
        std::lock_guard lock(mutex_);
        const std::uint32_t decrement = (1u << unparked_shift) | (was_searching ? 1u : 0u);
        const std::uint32_t before = state_.fetch_sub(decrement, std::memory_order_seq_cst);
        sleepers_.push_back(worker);
        return was_searching && searching(before) == 1;
    }

    /// A parked worker woke up with work of its own (its driver woke tasks), not by a
    /// notification: it takes itself off the list. False if a notification took it off
    /// first: it was then counted as searching, and searches.
    bool unpark_worker_by_id(std::uint32_t worker) {
        std::lock_guard lock(mutex_);
        const auto found = std::find(sleepers_.begin(), sleepers_.end(), worker);
        if (found == sleepers_.end()) return false;
        sleepers_.erase(found);
        state_.fetch_add(1u << unparked_shift, std::memory_order_seq_cst);
        return true;
    }

    /// Whether `worker` is still on the list (a wake of its Parker that was not a notification
    /// leaves it there: it parks again).
    bool is_parked(std::uint32_t worker) {
        std::lock_guard lock(mutex_);
        return std::find(sleepers_.begin(), sleepers_.end(), worker) != sleepers_.end();
    }

private:
    static constexpr std::uint32_t unparked_shift = 16;
    static constexpr std::uint32_t searching(std::uint32_t state) noexcept {
        return state & 0xffffu;
    }
    static constexpr std::uint32_t unparked(std::uint32_t state) noexcept {
        return state >> unparked_shift;
    }
    bool should_notify(std::uint32_t state) const noexcept {
        return searching(state) == 0 && unparked(state) < workers_;
    }

    Atomic<std::uint32_t> state_;  // unparked << 16 | searching
    const std::uint32_t workers_;
    Mutex mutex_;                          // guards sleepers_, and orders the list with state_
    std::vector<std::uint32_t> sleepers_;  // parked workers, by index
};

}  // namespace rt::detail
