// Exercise 10-02: ex::BlockingDetector, a watchdog that reports a task blocking its worker
// *while* the poll still runs, and ex::watched, the future adapter that lets it see the polls.
// Guarantees: a poll of a watched future that has run longer than `threshold` is reported
// once, while it runs, at the watchdog's first scan after it crossed the line (so within about
// one `interval`); a poll that has ended is never reported; the destructor stops the watchdog
// at once, whatever the interval.
//
// Why another instrument: chapter 10's blocking_poll warning is decided by the worker when a
// poll *ends*, so a poll that never ends (a deadlock, an endless loop, a read that never
// returns) is never reported, and that is the worst kind. Only a thread that is not the worker
// can see it, so the detector has one, the watchdog, and looks from outside at the polls in
// progress. It needs nothing from the runtime: ex::watched(detector, name, future) wraps a
// future, and the wrapper marks the start and the end of each of its polls in a slot of the
// polling thread. (Go's runtime does the same from its sysmon thread, which preempts a
// goroutine that has run for 10 ms; tokio-console can only show a poll that ended.)
//
// The slot protocol. Each thread has a slot of its own, so a slot has one writer, the thread
// that polls, and one reader, the scan; neither takes a lock. A slot's `sequence` counts the
// starts and ends of its polls: odd while a poll runs, even between polls, so that the odd
// value names one poll and no other (the poll that begins next gets a greater one).
//  1. begin (the polling thread): store the poll's start time and its task's name, each with
//     release, THEN make the sequence odd, with release. Fields first: a scan that sees the
//     odd sequence must find this poll's start, not the last poll's. The other way round, a
//     poll of a microsecond could be reported as running since the previous poll began.
//  2. end (the polling thread): make the sequence even, relaxed. A scan that reads it even
//     reads nothing else, so this store publishes nothing; what orders it before the next
//     poll's fields is step 1's release. The end comes also when the poll throws (the
//     wrapper's guard ends it in its destructor): otherwise the slot would say "running" for
//     ever, and a poll that ended would be reported.
//  3. scan (the watchdog), for each slot: load the sequence, with acquire (it pairs with step
//     1's release, and makes the start and the name of that poll visible). Even: no poll runs.
//     Equal to the sequence the scan last reported for this slot: this poll was reported
//     already; stop ("once per poll": a poll that runs for ten intervals is seen ten times,
//     reported once, and the next long poll of the same slot has a new sequence).
//  4. scan: load the start and the name, with acquire, THEN the sequence again. If it changed,
//     the poll ended while the scan read, and what it read may be the next poll's (or half of
//     each): skip the slot, the next scan looks again. Why the second load cannot miss a
//     change: if a field load read a store of a later poll, that store's release and this
//     load's acquire make the end of our poll (sequenced before it in the polling thread)
//     visible to the second load (the reader's check of a seqlock, without its fence, which
//     ThreadSanitizer does not understand).
//  5. scan: if the poll has run longer than the threshold, remember its sequence and report.
//     The name is read after the poll may have ended, which is safe because a slot points to
//     a copy of the name that the detector keeps for its whole life (interned by watched()),
//     never to the task's own, which is freed the moment the task completes.
//
// Which slot: a thread takes the next free one at its first watched poll (one fetch_add), and
// remembers it in a thread_local, keyed by the detector's number (unique for the process: an
// address could be a new detector's where a destroyed one was). A thread keeps its slot for
// the detector's life; threads beyond `slots` go unwatched, and are counted.
//
// What it costs a poll: a read of the clock (25 ns in a virtual machine) and four stores to a
// cache line that only the scan reads, every `interval`. What it does not see: a poll of a
// future that is not wrapped, and the time a task waits in a queue behind a blocked neighbour.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "rt/executor.hpp"  // rt::detail::Deferred and FutureFactory, as rt::named uses them
#include "rt/future.hpp"

namespace ex {

using Clock = std::chrono::steady_clock;

/// One poll that has run longer than the threshold, reported while it runs.
struct Report {
    std::size_t slot;                  // the slot of the thread that polls (one per thread)
    std::string task;                  // the name given to ex::watched
    std::chrono::nanoseconds running;  // how long the poll had run at the scan that saw it
};

/// What the detector watches for, and how often it looks.
struct DetectorOptions {
    /// A poll that has run longer than this is reported. Chapter 10's blocking_poll is 10 ms;
    /// a detector that reports polls still running can afford to wait longer and be sure.
    std::chrono::nanoseconds threshold = std::chrono::milliseconds(100);
    /// How often the watchdog scans the slots: a report comes at most about this long after
    /// its poll crossed the threshold.
    std::chrono::nanoseconds interval = std::chrono::milliseconds(10);
    /// How many threads can be watched: each thread that polls a watched future takes a slot
    /// for the detector's life.
    std::size_t slots = 64;
    /// Whether the detector runs its watchdog thread. Without it, only calls of scan() look
    /// at the slots (the tests, with a time of their choosing).
    bool watchdog = true;
};

namespace detail {

/// One thread's marks: the poll it runs, if any. Written by its thread only (steps 1 and 2),
/// read by the scan (steps 3 to 5). Aligned to a cache line of its own, so that the threads'
/// marks never share one.
struct alignas(64) Slot {
    std::atomic<std::uint64_t> sequence{0};         // odd while a poll runs (see above)
    std::atomic<std::int64_t> started_ns{0};        // when the running poll began, Clock ns
    std::atomic<const std::string*> task{nullptr};  // its task's interned name

    /// The polling thread: whether a poll of this thread is marked already (a watched future
    /// polled inside the poll of another). Relaxed: this thread is the only writer, and reads
    /// its own last store.
    bool running() const noexcept { return sequence.load(std::memory_order_relaxed) % 2 == 1; }

    /// Step 1: a poll of the task named `*name` begins, at `now_ns`.
    void begin(const std::string* name, std::int64_t now_ns) noexcept {
        const std::uint64_t ended = sequence.load(std::memory_order_relaxed);  // own store
        // release: pairs with the scan's acquire loads of the fields (step 4). A scan that
        // reads them sees the previous poll's end, and knows they are not its poll's.
        started_ns.store(now_ns, std::memory_order_release);
        task.store(name, std::memory_order_release);
        // release: pairs with the scan's acquire load of the sequence (step 3). A scan that
        // reads it odd sees the two stores above.
        sequence.store(ended + 1, std::memory_order_release);
    }

    /// Step 2: the poll ends (returned or threw).
    void end() noexcept {
        const std::uint64_t running_now = sequence.load(std::memory_order_relaxed);
        // relaxed: a scan that reads the sequence even reads nothing else. The next begin's
        // release stores order this store before that poll's fields.
        sequence.store(running_now + 1, std::memory_order_relaxed);
    }
};

/// The slots this thread holds in the last few detectors it polled for, so that a poll finds
/// its slot with no lock and no shared write (all but a thread's first poll for a detector).
struct SlotCache {
    struct Entry {
        std::uint64_t detector = 0;  // the detector's number; 0: empty
        Slot* slot = nullptr;        // this thread's slot in it; nullptr: none was left
    };
    std::array<Entry, 4> entries{};
    std::size_t next = 0;  // the entry the next new detector replaces
};
inline thread_local SlotCache slot_cache;

/// Numbers for detectors, never reused while the process lives.
inline std::atomic<std::uint64_t> detectors_made{0};

}  // namespace detail

class BlockingDetector {
public:
    using OnReport = std::function<void(const Report&)>;

    /// Starts the watchdog, unless `options.watchdog` is false. `on_report` is called on the
    /// thread that scans (the watchdog's), one call at a time; it must not call scan() and
    /// must not throw.
    explicit BlockingDetector(DetectorOptions options, OnReport on_report = {})
        : options_(options),
          on_report_(std::move(on_report)),
          number_(detail::detectors_made.fetch_add(1, std::memory_order_relaxed) + 1),
          slots_(options.slots),
          reported_(options.slots, 0) {
        if (options_.threshold <= std::chrono::nanoseconds::zero() ||
            options_.interval <= std::chrono::nanoseconds::zero() || options_.slots == 0) {
            throw std::invalid_argument(
                "a BlockingDetector needs a positive threshold and interval, and a slot");
        }
        if (options_.watchdog) watchdog_ = std::thread([this] { watch(); });
    }
    BlockingDetector(const BlockingDetector&) = delete;
    BlockingDetector& operator=(const BlockingDetector&) = delete;

    /// Stops the watchdog and joins it, at once: the stop wakes the watchdog's wait. No poll
    /// of a watched future may be running, nor start later: the detector outlives every
    /// ex::Watched that names it (make it before the runtime, which destroys its tasks).
    ~BlockingDetector() {
        // The stop, and the race it avoids: the flag is set under the mutex that the watchdog
        // holds from its look at the flag into its wait (wait_for releases it atomically with
        // starting to wait). So the notification finds the watchdog either inside wait_for,
        // which it ends, or before its look at the flag, which then finds it set. A flag set
        // without the mutex could fall between the look and the wait, and the watchdog would
        // sleep a whole interval (an hour, if that is the interval).
        {
            std::lock_guard lock(stop_mutex_);
            stopping_ = true;
        }
        stop_cv_.notify_one();
        if (watchdog_.joinable()) watchdog_.join();
    }

    /// Look at every slot once, as if the time were `now`, and report each poll that has run
    /// longer than the threshold and was not reported yet (steps 3 to 5). Returns how many
    /// were reported. The watchdog calls it every interval; the tests call it with a time of
    /// their choosing. Any thread; one scan at a time.
    std::size_t scan(Clock::time_point now) {
        std::lock_guard lock(scan_mutex_);
        const std::int64_t now_ns = to_ns(now);
        const std::int64_t threshold_ns = options_.threshold.count();
        // relaxed: every slot exists from the constructor on; one claimed after this load is
        // scanned next time.
        const std::size_t claimed =
            std::min(next_slot_.load(std::memory_order_relaxed), slots_.size());
        std::size_t made = 0;
        for (std::size_t index = 0; index < claimed; ++index) {
            const detail::Slot& slot = slots_[index];
            // Step 3. acquire: pairs with begin's release store of the odd sequence.
            const std::uint64_t sequence = slot.sequence.load(std::memory_order_acquire);
            if (sequence % 2 == 0 || sequence == reported_[index]) continue;
            // Step 4. acquire: pairs with begin's release stores of the fields, so that the
            // load below sees the sequence move on if a field came from a later poll.
            const std::int64_t started = slot.started_ns.load(std::memory_order_acquire);
            const std::string* task = slot.task.load(std::memory_order_acquire);
            if (slot.sequence.load(std::memory_order_relaxed) != sequence) continue;
            // Step 5.
            const std::int64_t running = now_ns - started;
            if (running <= threshold_ns) continue;
            reported_[index] = sequence;
            ++made;
            if (on_report_) on_report_(Report{index, *task, std::chrono::nanoseconds(running)});
        }
        reports_.fetch_add(made, std::memory_order_relaxed);
        scans_.fetch_add(1, std::memory_order_relaxed);
        return made;
    }

    /// Scans done so far, and polls reported so far: counts that only grow, from any thread.
    std::uint64_t scans() const noexcept { return scans_.load(std::memory_order_relaxed); }
    std::uint64_t reports() const noexcept { return reports_.load(std::memory_order_relaxed); }
    /// Threads that found no free slot: their polls are not watched.
    std::uint64_t unwatched_threads() const noexcept {
        return unwatched_threads_.load(std::memory_order_relaxed);
    }
    const DetectorOptions& options() const noexcept { return options_; }

    /// The detector's copy of `name`, the same for every call with the same name, valid for
    /// the detector's life: what a slot points to while a poll runs (step 5).
    const std::string* intern(std::string name) {
        std::lock_guard lock(names_mutex_);
        return &*names_.insert(std::move(name)).first;
    }

    /// Marks one poll in the slot of the thread that polls: step 1 when made, step 2 when
    /// destroyed, also when the poll throws. A poll inside a poll that is marked already (a
    /// watched future awaited by a watched task) leaves the slot to the outer one, whose task
    /// the report names. So does a thread without a slot.
    class MarkedPoll {
    public:
        MarkedPoll(BlockingDetector& detector, const std::string* task) noexcept
            : slot_(detector.slot_of_this_thread()) {
            if (slot_ != nullptr && slot_->running()) slot_ = nullptr;  // the outer poll's
            if (slot_ != nullptr) slot_->begin(task, to_ns(Clock::now()));
        }
        MarkedPoll(const MarkedPoll&) = delete;
        MarkedPoll& operator=(const MarkedPoll&) = delete;
        ~MarkedPoll() {
            if (slot_ != nullptr) slot_->end();
        }

    private:
        detail::Slot* slot_;  // this thread's, if it marked the poll; nullptr otherwise
    };

private:
    static std::int64_t to_ns(Clock::time_point time) noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch())
            .count();
    }

    /// The watchdog thread: scan every interval until the destructor says stop.
    void watch() {
        std::unique_lock lock(stop_mutex_);
        for (;;) {
            // Sleeps for one interval, or less if the destructor says stop. The predicate is
            // checked under the mutex before the first wait, so a stop that came before the
            // wait ends it at once, and again after every wakeup, spurious or not. True: stop.
            if (stop_cv_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
                return;
            }
            lock.unlock();  // a scan (and its callback) does not hold up the destructor's flag
            scan(Clock::now());
            lock.lock();
        }
    }

    /// This thread's slot, claimed at its first poll for this detector; nullptr if none was
    /// left. The thread_local cache makes it a few loads on every other poll.
    detail::Slot* slot_of_this_thread() noexcept {
        detail::SlotCache& cache = detail::slot_cache;
        for (const detail::SlotCache::Entry& entry : cache.entries) {
            if (entry.detector == number_) return entry.slot;
        }
        // relaxed: the index only has to be unique; the slot itself exists since the
        // constructor, which happened before any poll that can name this detector.
        const std::size_t index = next_slot_.fetch_add(1, std::memory_order_relaxed);
        detail::Slot* slot = nullptr;
        if (index < slots_.size()) {
            slot = &slots_[index];
        } else {
            unwatched_threads_.fetch_add(1, std::memory_order_relaxed);
        }
        cache.entries[cache.next] = {number_, slot};
        cache.next = (cache.next + 1) % cache.entries.size();
        return slot;
    }

    const DetectorOptions options_;
    const OnReport on_report_;               // called by scan, under scan_mutex_
    const std::uint64_t number_;             // this detector's, for the threads' slot caches
    std::vector<detail::Slot> slots_;        // one per watched thread; never resized
    std::atomic<std::size_t> next_slot_{0};  // slots claimed (may exceed slots_.size())
    std::atomic<std::uint64_t> unwatched_threads_{0};  // threads that found no free slot

    std::mutex scan_mutex_;                // one scan at a time; guards reported_
    std::vector<std::uint64_t> reported_;  // per slot: the sequence of its last poll reported
    std::atomic<std::uint64_t> scans_{0};
    std::atomic<std::uint64_t> reports_{0};

    std::mutex names_mutex_;                 // guards names_ (not the strings: never changed)
    std::unordered_set<std::string> names_;  // interned names; a node's address never moves

    std::mutex stop_mutex_;            // guards stopping_; held by the watchdog but in its scans
    std::condition_variable stop_cv_;  // the watchdog waits on it between scans
    bool stopping_ = false;            // set once, by the destructor
    std::thread watchdog_;             // started last, in the constructor's body
};

/// A future whose polls the detector watches: each poll of `F` is marked in the polling
/// thread's slot, under the name given. Output, value and exceptions are F's. Made by
/// ex::watched; may be spawned, given to block_on, or awaited.
template <rt::Future F>
class Watched {
public:
    using Output = typename F::Output;

    Watched(BlockingDetector& detector, const std::string* name, F future)
        : detector_(&detector), name_(name), future_(std::move(future)) {}

    rt::Poll<Output> poll(rt::Context& cx) {
        BlockingDetector::MarkedPoll marked(*detector_, name_);
        return future_.poll(cx);
    }

    const std::string& name() const noexcept { return *name_; }
    F& future() noexcept { return future_; }

private:
    BlockingDetector* detector_;  // outlives this future
    const std::string* name_;     // the detector's copy (intern)
    F future_;
};

/// `future` watched by `detector` under `name`: `rt::spawn(ex::watched(detector, "accept",
/// accept_loop(listener)))`. Like rt::named, it takes a future or a callable that returns one
/// (a coroutine lambda, whose captures then live as long as its coroutine).
template <class F>
requires rt::Future<F> || rt::detail::FutureFactory<F>
auto watched(BlockingDetector& detector, std::string name, F future) {
    const std::string* interned = detector.intern(std::move(name));
    if constexpr (rt::detail::FutureFactory<F>) {
        return Watched<rt::detail::Deferred<F>>(detector, interned,
                                                rt::detail::Deferred<F>(std::move(future)));
    } else {
        return Watched<F>(detector, interned, std::move(future));
    }
}

}  // namespace ex
