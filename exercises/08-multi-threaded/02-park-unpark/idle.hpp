// Exercise 08-02 (starter): idle workers without lost wakeups (Tokio's
// `runtime/scheduler/multi_thread/idle.rs` and its worker's park sequence). ex::Idle counts the
// workers that are unparked and those that search for work, and lists the parked ones;
// ex::Pool runs N workers on one shared queue. Guarantees: an item pushed is taken by a worker,
// also when every worker is about to sleep (no lost wakeup); a push wakes at most one parked
// worker, and none while a worker searches already (it will find the item).
// Compiles, and runs workers, but without the steps that close the window below: the parts
// marked TODO(exercise) are yours, in Idle::worker_to_notify() and Pool::park(). The rest is
// written.
//
// The protocol, and the race each step avoids. The lost wakeup: a producer pushes and looks
// for a sleeper before the worker has announced its sleep, while the worker looked at the
// queue before the push; the producer wakes nobody and the worker sleeps with work pending.
//  1. producer: push the item (under the queue's mutex), THEN read the state word; wake nobody
//     if a worker searches (it is bound to look at the queue again) or none is parked;
//  2. producer: under the Idle mutex, read the word again, count one worker as unparked and
//     searching, take it off the list of sleepers, and unpark its Parker (worker_to_notify);
//  3. worker: announce the sleep under the Idle mutex: take itself off the counts and join the
//     list (transition_to_parked), THEN, if it was the last searcher, look at the queue once
//     more and, if the queue holds an item, notify as a producer would (step 2: the sleeper
//     woken may be itself);
//  4. worker: sleep in its Parker, which keeps an unpark that comes before the sleep (the
//     token); once woken, it searches if a notification took it off the list.
// Why nothing is lost, for one worker and one producer: step 3's re-check and step 1's push
// are critical sections of the queue's mutex, so one comes first. If the push does, the
// re-check finds the item. If the re-check does, the worker's announcement happens before the
// push, hence before the producer's read of the word, which therefore sees the announcement:
// nobody searching, the worker parked; the producer wakes it. With more workers, a producer
// that sees a searcher wakes nobody and relies on it: a searcher looks at the queue again,
// and either finds the item or parks, and the last searcher to park does step 3.
// The word's operations are seq_cst, as in Tokio. With this queue, under a mutex, the argument
// above needs no more than the mutex's order; a queue whose emptiness is read from an atomic
// length without the lock (Tokio's global queue) makes "push, then read the word" against
// "write the word, then read the queue" the store-buffering shape of docs/atomics.md, where
// only seq_cst on all four operations keeps both reads from missing.
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <parker.hpp>

namespace ex {

/// Which workers are parked, and how many search for work. Thread-safe.
class Idle {
public:
    explicit Idle(std::uint32_t workers) : state_(workers << unparked_shift), workers_(workers) {
        assert(workers > 0 && workers < 0x10000);
        sleepers_.reserve(workers);
    }
    Idle(const Idle&) = delete;
    Idle& operator=(const Idle&) = delete;

    /// A worker that found no work may search (look again) while fewer than half of the
    /// workers do; a single worker always may. Not a compare-and-swap: two workers may pass
    /// the test at once, and the bound is soft.
    bool transition_to_searching() {
        if (2 * searching(state_.load(std::memory_order_seq_cst)) >= workers_) return false;
        state_.fetch_add(1, std::memory_order_seq_cst);
        return true;
    }

    /// A searching worker found an item. True if it was the last searcher: it must then notify
    /// a parked worker, since more items may have come while it searched and no producer woke
    /// anyone for them (they saw it searching).
    bool transition_from_searching() {
        return searching(state_.fetch_sub(1, std::memory_order_seq_cst)) == 1;
    }

    /// Steps 1 and 2, for a producer that has pushed: the worker to unpark, taken off the list
    /// and counted as unparked and searching; nothing if a worker searches or none is parked.
    std::optional<std::uint32_t> worker_to_notify() {
        // TODO(exercise): steps 1 and 2. Wake nobody while a worker searches (it will find the
        // item) or while none is parked: should_notify(), first on a load of state_ without
        // the lock (most pushes stop there), then again under the lock (another producer may
        // have woken the last sleeper meanwhile). This version wakes a sleeper at every push.
        std::lock_guard lock(mutex_);
        if (sleepers_.empty()) return std::nullopt;
        state_.fetch_add((1u << unparked_shift) | 1u, std::memory_order_seq_cst);
        const std::uint32_t worker = sleepers_.back();
        sleepers_.pop_back();
        return worker;
    }

    /// Step 3's announcement: `worker` is about to sleep. True if it was the last searcher: it
    /// must then look at the queue once more.
    bool transition_to_parked(std::uint32_t worker, bool was_searching) {
        std::lock_guard lock(mutex_);
        const std::uint32_t decrement = (1u << unparked_shift) | (was_searching ? 1u : 0u);
        const std::uint32_t before = state_.fetch_sub(decrement, std::memory_order_seq_cst);
        sleepers_.push_back(worker);
        return was_searching && searching(before) == 1;
    }

    /// Whether `worker` is on the list of sleepers (no notification took it off).
    bool is_parked(std::uint32_t worker) {
        std::lock_guard lock(mutex_);
        return std::find(sleepers_.begin(), sleepers_.end(), worker) != sleepers_.end();
    }

    /// Snapshots, for the statistics and the tests.
    std::uint32_t num_searching() const { return searching(state_.load()); }
    std::uint32_t num_unparked() const { return unparked(state_.load()); }
    std::uint32_t workers() const noexcept { return workers_; }

private:
    static constexpr std::uint32_t unparked_shift = 16;
    static constexpr std::uint32_t searching(std::uint32_t state) { return state & 0xffffu; }
    static constexpr std::uint32_t unparked(std::uint32_t state) { return state >> unparked_shift; }
    bool should_notify(std::uint32_t state) const {
        return searching(state) == 0 && unparked(state) < workers_;
    }

    std::atomic<std::uint32_t> state_;     // unparked << 16 | searching
    const std::uint32_t workers_;          // how many workers there are
    std::mutex mutex_;                     // guards sleepers_; orders it with state_
    std::vector<std::uint32_t> sleepers_;  // parked workers, the last parked at the back
};

/// What one worker did, for the statistics. Written by the worker; read once it has returned.
struct WorkerCounts {
    std::uint64_t items = 0;    // items handled
    std::uint64_t parks = 0;    // calls of Parker::park
    std::uint64_t unparks = 0;  // wakes by a notification (taken off the list of sleepers)
};

/// N workers sharing one queue of items. Each worker runs run_worker() on a thread of its own;
/// any thread pushes. `P` is the workers' parker (ex::Parker; the tests give one that records).
template <class Item, class P = Parker>
class Pool {
public:
    /// For the tests: called on a worker's thread each time it finds the queue empty, with its
    /// index, after the queue's mutex is released.
    using EmptyHook = std::function<void(std::uint32_t worker)>;

    explicit Pool(std::uint32_t workers, EmptyHook found_empty = {})
        : idle_(workers),
          parkers_(workers),
          counts_(workers),
          found_empty_(std::move(found_empty)) {}
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// Any thread: queue `item`, then wake a parked worker if nobody searches (steps 1 and 2).
    void push(Item item) {
        {
            std::lock_guard lock(queue_mutex_);
            queue_.push_back(std::move(item));
        }
        notify_one();
    }

    /// Any thread: end every worker's run_worker(), at its next look at the flag. Items still
    /// queued stay there.
    void shutdown() {
        // relaxed: the Parker's token orders it. unpark() releases, the park that takes the
        // token acquires, and the worker reads the flag after that park; a worker that reads
        // it earlier and misses it parks, and then finds the token.
        shutdown_.store(true, std::memory_order_relaxed);
        for (P& parker : parkers_) parker.unpark();
    }

    /// The loop of worker `index`, on its own thread: take items and give them to `handle`;
    /// when there are none, search once, then park. Returns after shutdown().
    template <class Handle>
    void run_worker(std::uint32_t index, Handle&& handle) {
        WorkerCounts& counts = counts_[index];
        bool searching = false;
        while (!shutdown_.load(std::memory_order_relaxed)) {
            if (std::optional<Item> item = pop(index)) {
                if (searching) {
                    searching = false;
                    // The last searcher found work: there may be more, and producers that saw
                    // it searching woke nobody. Hand the search on (the wake-up chain).
                    if (idle_.transition_from_searching()) notify_one();
                }
                handle(std::move(*item));
                ++counts.items;
                continue;
            }
            if (!searching && idle_.transition_to_searching()) {
                searching = true;  // look once more, as a searcher
                continue;
            }
            park(index, searching);
            searching = true;  // a notification counted it as searching (or: shutdown)
        }
    }

    /// Worker `index`'s counts; read once its run_worker() has returned.
    const WorkerCounts& counts(std::uint32_t index) const { return counts_[index]; }
    P& parker(std::uint32_t index) { return parkers_[index]; }
    Idle& idle() { return idle_; }

private:
    /// Step 2 for any thread that has made work visible: unpark one parked worker if nobody
    /// searches.
    void notify_one() {
        if (const std::optional<std::uint32_t> worker = idle_.worker_to_notify()) {
            parkers_[*worker].unpark();
        }
    }

    /// Take the front item, if any.
    std::optional<Item> pop(std::uint32_t index) {
        std::optional<Item> item;
        {
            std::lock_guard lock(queue_mutex_);
            if (!queue_.empty()) {
                item.emplace(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        if (!item && found_empty_) found_empty_(index);
        return item;
    }

    /// Whether the queue holds an item; does not take it.
    bool has_items(std::uint32_t index) {
        bool any = false;
        {
            std::lock_guard lock(queue_mutex_);
            any = !queue_.empty();
        }
        if (!any && found_empty_) found_empty_(index);
        return any;
    }

    /// Steps 3 and 4: worker `index` found no work; it sleeps until a notification (or the
    /// shutdown) wakes it.
    void park(std::uint32_t index, bool was_searching) {
        // TODO(exercise): step 3: after the announcement, the last searcher (what
        // transition_to_parked returns) looks at the queue once more (has_items) and, if it
        // holds an item, calls notify_one(). Without that look, an item pushed between this
        // worker's last look and its announcement wakes nobody and waits in the queue.
        idle_.transition_to_parked(index, was_searching);
        // Step 4: sleep. An unpark since the announcement left a token: park returns at once.
        for (;;) {
            parkers_[index].park();
            ++counts_[index].parks;
            if (shutdown_.load(std::memory_order_relaxed)) return;
            if (!idle_.is_parked(index)) break;  // a notification took it off the list
        }
        ++counts_[index].unparks;
    }

    Idle idle_;
    std::vector<P> parkers_;             // one per worker
    std::vector<WorkerCounts> counts_;   // one per worker, written by its worker only
    const EmptyHook found_empty_;        // the tests' hook, or empty
    std::atomic<bool> shutdown_{false};  // set once by shutdown()
    std::mutex queue_mutex_;             // guards queue_
    std::deque<Item> queue_;             // the shared queue
};

}  // namespace ex
