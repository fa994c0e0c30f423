// Exercise 10-01: ex::PollHistogram, the distribution of poll times in fixed logarithmic
// buckets, that every worker updates at once without a lock; and ex::timed, the future adapter
// that records each poll of a future in one.
// Guarantees: a duration lands in exactly one bucket, found in constant time; a record from
// any number of threads at once is never lost; a snapshot taken while they record shows each
// counter whole, never less than an earlier snapshot on the same thread showed it; once the
// recording threads are joined, a snapshot is exact; a percentile below the last bucket is an
// upper estimate of the true value, at most twice it.
//
// Compiles, and does not work yet: it finds every duration's bucket to be 0, records nothing,
// answers 0 for every percentile and times no poll. The parts marked TODO(exercise), in
// bucket_of, record, Snapshot::percentile and Timed::poll, are yours; the rest is written.
//
// Why a histogram: an average hides the polls that matter. A thousand polls of 1 us and one
// of 10 ms average 11 us, which looks healthy, while the tasks queued behind that one poll
// waited 10 ms. Chapter 10's snapshot keeps each task's longest poll and its total busy time;
// a histogram keeps the whole shape, so the 99th percentile can be read, and it costs the same
// memory whatever the number of polls.
//
// The buckets, 40 of them: bucket 0 holds 0 ns; bucket k (1 to 38) holds [2^(k-1), 2^k) ns;
// bucket 39, the last, holds everything from 2^38 ns (about 4.6 minutes) up.
//
//     bucket    0     1     2       3       4         ...  20                   39
//     ns        0     1   [2,4)   [4,8)   [8,16)      ...  [524288, 1048576)    [2^38, ...)
//
// A duration's bucket is the number of bits it takes to write it, std::bit_width: one
// instruction (lzcnt), no loop and no table. The price is precision: within a bucket the
// histogram cannot tell 600 us from 1 ms. Every bucket is twice as wide as the one before,
// so the error is relative, at most a factor of two, the same for a 3 us poll as for a 3 ms
// one. HdrHistogram, which tokio-console uses, splits each power of two further for more
// precision, with the same idea.
//
// Many writers, no lock. Every worker records its own polls, millions a second. A mutex
// would make every poll of every worker wait for the others; instead each counter is a
// std::atomic<std::uint64_t>, and a record is a few relaxed read-modify-writes:
//  - relaxed is enough because no reader uses a counter to decide what else it may read: each
//    counter stands alone, and nothing else is published through it. A fetch_add is never
//    lost, whatever the order, because each one reads the latest value of its counter (the
//    read-modify-writes of one atomic form a single order, each reading the one before it).
//  - what a snapshot may see while threads record: it reads the counters one by one, so it may
//    see a record in its bucket and not yet in the sum or the maximum, or the reverse (the
//    counters are mid-update *across* one another). Each counter, though, is read whole (an
//    atomic is never torn), and a later snapshot on the same thread never sees a counter
//    smaller than an earlier one did (read-read coherence). The snapshot's count is the sum of
//    the buckets it read, so the percentiles it computes agree with its buckets.
//  - the maximum is a compare-exchange loop: load it, and replace it only while the new
//    duration is greater; a failed exchange reloads the value and tries again. A load then a
//    store would lose a greater maximum that another thread stored in between.
// The counters share cache lines, which two workers recording at the same time fight over;
// a histogram per worker, merged when read (Snapshot::operator+=), would avoid it (what
// Tokio's runtime metrics do).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>

#include "rt/executor.hpp"  // rt::detail::Deferred and FutureFactory, as rt::named uses them
#include "rt/future.hpp"

namespace ex {

using Clock = std::chrono::steady_clock;

class PollHistogram {
public:
    static constexpr std::size_t bucket_count = 40;

    /// The bucket of a duration of `ns` nanoseconds: the bits it takes to write `ns`
    /// (std::bit_width), so 0 for 0, 1 for 1, 2 for 2 and 3, 3 for 4 to 7, and so on up to the
    /// last bucket, which holds the rest.
    static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
        // TODO(exercise): std::bit_width(ns), the number of bits it takes to write ns, is the
        // bucket (see the table at the top of the file), except past the last bucket, which
        // holds the rest: cap it at bucket_count - 1. No loop: a record happens on every poll.
        (void)ns;
        return 0;
    }

    /// The first duration of bucket k: 0 for bucket 0, 2^(k-1) after.
    static constexpr std::uint64_t lower_bound(std::size_t k) noexcept {
        return k == 0 ? 0 : std::uint64_t{1} << (k - 1);
    }

    /// The first duration past bucket k, 2^k; the last bucket has no end (the largest value).
    static constexpr std::uint64_t upper_bound(std::size_t k) noexcept {
        return k + 1 >= bucket_count ? std::numeric_limits<std::uint64_t>::max()
                                     : std::uint64_t{1} << k;
    }

    /// A histogram's counts at one moment: plain numbers, to read, add and compute with.
    struct Snapshot {
        std::array<std::uint64_t, bucket_count> buckets{};  // durations recorded per bucket
        std::uint64_t count = 0;                            // the sum of the buckets
        std::uint64_t sum_ns = 0;                           // all the durations added up
        std::uint64_t max_ns = 0;                           // the longest, 0 if none

        /// The q-th quantile (q from 0 to 1: 0.5 the median, 0.99 the 99th percentile), as an
        /// upper estimate: the end of the bucket that holds the duration of rank
        /// ceil(q * count) (at least 1), or the maximum if that is less. Below the last bucket
        /// it is at least the true value and at most twice it (for the 0 ns bucket, at most
        /// 1 ns); in the last bucket it is the maximum. 0 for an empty histogram. Throws
        /// std::invalid_argument for a q outside [0, 1], NaN included.
        ///
        /// On a snapshot taken while threads record, the maximum may lag a record that the
        /// buckets already show (see the file's opening comment): the answer is then capped
        /// by that slightly older maximum.
        std::uint64_t percentile(double q) const {
            // TODO(exercise): throw std::invalid_argument unless 0 <= q <= 1, written so that
            // NaN fails it too (every comparison with NaN is false). Return 0 if the snapshot
            // is empty. Otherwise the rank asked for is ceil(q * count), kept between 1 and
            // count; add up the buckets from bucket 0 until the sum reaches the rank, and
            // return the end of that bucket (upper_bound), or max_ns if that is less: every
            // duration in the bucket is below its end, so the answer is never too small, and
            // none is above the maximum.
            (void)q;
            return 0;
        }

        /// The mean duration, 0 for an empty histogram (exact: the sum is).
        double mean_ns() const noexcept {
            return count == 0 ? 0.0 : static_cast<double>(sum_ns) / static_cast<double>(count);
        }

        /// Merge: `*this` becomes the snapshot of one histogram that got both's records (the
        /// histograms of two workers, or of two kinds of task).
        Snapshot& operator+=(const Snapshot& other) noexcept {
            for (std::size_t k = 0; k < bucket_count; ++k) buckets[k] += other.buckets[k];
            count += other.count;
            sum_ns += other.sum_ns;
            max_ns = std::max(max_ns, other.max_ns);
            return *this;
        }

        friend Snapshot operator+(Snapshot left, const Snapshot& right) noexcept {
            left += right;
            return left;
        }
    };

    /// Count one duration (a negative one counts as 0). Any thread, any number at once; no
    /// lock. Relaxed: see the file's opening comment.
    void record(std::chrono::nanoseconds duration) noexcept {
        // TODO(exercise): turn the duration into nanoseconds, 0 if it is negative. Add 1 to
        // its bucket, and the nanoseconds to sum_ns_, each with one relaxed fetch_add (a load
        // then a store would lose the records other threads make in between). Then raise
        // max_ns_ to it if it is greater, with a compare_exchange_weak loop: a failed exchange
        // tells you the maximum another thread stored meanwhile, and you try again only while
        // yours is still the greater.
        (void)duration;
    }

    /// The counts now, read one by one while other threads may record.
    Snapshot snapshot() const noexcept {
        Snapshot snapshot;
        for (std::size_t k = 0; k < bucket_count; ++k) {
            snapshot.buckets[k] = buckets_[k].load(std::memory_order_relaxed);
            snapshot.count += snapshot.buckets[k];
        }
        snapshot.sum_ns = sum_ns_.load(std::memory_order_relaxed);
        snapshot.max_ns = max_ns_.load(std::memory_order_relaxed);
        return snapshot;
    }

private:
    std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
    std::atomic<std::uint64_t> sum_ns_{0};
    std::atomic<std::uint64_t> max_ns_{0};
};

using HistogramSnapshot = PollHistogram::Snapshot;

/// A future whose every poll is timed into a histogram: the time F's poll took, whether it
/// returned ready, pending, or threw. Output, value, wakes and exceptions are F's. Made by
/// ex::timed; may be spawned, given to block_on, awaited, or named
/// (`rt::named("accept", ex::timed(...))`).
template <rt::Future F>
class Timed {
public:
    using Output = typename F::Output;

    Timed(PollHistogram& histogram, F future)
        : histogram_(&histogram), future_(std::move(future)) {}

    rt::Poll<Output> poll(rt::Context& cx) {
        // TODO(exercise): read Clock::now() (steady_clock, which is never set back) before
        // the poll, and record the time the poll took into *histogram_ after it, also when the
        // poll throws. A guard whose destructor records does both: it runs after the poll
        // returns, and as an exception leaves.
        return future_.poll(cx);
    }

    F& future() noexcept { return future_; }

private:
    PollHistogram* histogram_;  // outlives this future
    F future_;
};

/// `future` with each of its polls timed into `histogram`: `rt::spawn(ex::timed(polls,
/// handle(connection)))`. Like rt::named, it takes a future or a callable that returns one (a
/// coroutine lambda, whose captures then live as long as its coroutine). The histogram must
/// outlive the future: make it before the runtime, which destroys its tasks.
template <class F>
requires rt::Future<F> || rt::detail::FutureFactory<F>
auto timed(PollHistogram& histogram, F future) {
    if constexpr (rt::detail::FutureFactory<F>) {
        return Timed<rt::detail::Deferred<F>>(histogram,
                                              rt::detail::Deferred<F>(std::move(future)));
    } else {
        return Timed<F>(histogram, std::move(future));
    }
}

}  // namespace ex
