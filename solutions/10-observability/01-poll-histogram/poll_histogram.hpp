// Exercise 10-01: ex::PollHistogram, the distribution of poll times in fixed logarithmic
// buckets, that every worker updates at once without a lock; and ex::timed, the future adapter
// that records each poll of a future in one.
// Guarantees: a duration lands in exactly one bucket, found in constant time; a record from
// any number of threads at once is never lost; a snapshot taken while they record shows every
// bucket's count as it was at some moment, never less than an earlier snapshot of the same
// reader showed; a percentile is an upper estimate of the true value, less than twice it.
//
// Why a histogram: an average hides the polls that matter. A thousand polls of 1 us and one
// of 10 ms average 11 us, which looks healthy, while the tasks queued behind that one poll
// waited 10 ms. Chapter 10's snapshot keeps each task's longest poll; a histogram keeps the
// whole shape, so the 99th percentile can be read, and it costs the same memory whatever the
// number of polls.
//
// The buckets: bucket 0 holds 0 ns; bucket k (1 to 38) holds [2^(k-1), 2^k) ns; bucket 39
// holds everything from 2^38 ns (about 4.6 minutes) up.
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
// would make every poll of every worker wait for the others; instead each counter is an
// atomic, and a record is a few relaxed read-modify-writes:
//  - relaxed is enough because no reader uses a count to decide what else it may read: each
//    counter stands alone. A fetch_add is never lost, whatever the order, because each one
//    reads the latest value of its counter (every read-modify-write of one atomic sees the
//    one before it in the counter's single modification order).
//  - what a snapshot may see: the counters are read one by one while others record, so it may
//    see a record's bucket but not yet its sum, or the reverse. Each counter, though, is read
//    whole (an atomic is never torn), and a later snapshot on the same thread never sees a
//    counter smaller than an earlier one did (read-read coherence). The snapshot's count is
//    the sum of the buckets it read, so the percentiles it computes agree with its buckets.
//  - the maximum is a compare-exchange loop: load it, and replace it only while the new
//    duration is greater; a failed exchange reloads the value and tries again.
// The counters share cache lines, which two workers recording at the same time fight over;
// a histogram per worker, merged when read, would avoid it (what Tokio's runtime metrics do).
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

/// A histogram's counts at one moment: plain numbers, to read and compute with.
struct HistogramSnapshot {
    static constexpr std::size_t bucket_count = 40;

    std::array<std::uint64_t, bucket_count> buckets{};  // durations recorded per bucket
    std::uint64_t count = 0;                            // the sum of the buckets
    std::uint64_t sum_ns = 0;                           // all the durations added up
    std::uint64_t max_ns = 0;                           // the longest, 0 if none

    /// The first duration of bucket k: 0 for bucket 0, 2^(k-1) after.
    static constexpr std::uint64_t lower_bound(std::size_t k) noexcept {
        return k == 0 ? 0 : std::uint64_t{1} << (k - 1);
    }
    /// The first duration past bucket k, 2^k; the last bucket has no end (the largest value).
    static constexpr std::uint64_t upper_bound(std::size_t k) noexcept {
        return k + 1 >= bucket_count ? std::numeric_limits<std::uint64_t>::max()
                                     : std::uint64_t{1} << k;
    }

    /// The q-th quantile (q from 0 to 1: 0.5 the median, 0.99 the 99th percentile), as an upper
    /// estimate: the end of the bucket that holds the duration of rank ceil(q * count), or the
    /// maximum if that is less. At least the true value, and less than twice it (for the 0 ns
    /// bucket, at most 1 ns). 0 for an empty histogram. Throws std::invalid_argument for a q
    /// outside [0, 1] (NaN included).
    std::uint64_t percentile(double q) const {
        if (!(q >= 0.0 && q <= 1.0)) {
            throw std::invalid_argument("a quantile is a number from 0 to 1");
        }
        if (count == 0) return 0;
        // The rank of the duration asked for, from 1 (the shortest) to count (the longest).
        const auto wanted = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count)));
        const std::uint64_t rank = std::clamp<std::uint64_t>(wanted, 1, count);
        std::uint64_t seen = 0;
        for (std::size_t k = 0; k < bucket_count; ++k) {
            seen += buckets[k];
            if (seen >= rank) return std::min(upper_bound(k), max_ns);
        }
        return max_ns;  // not reached: the buckets add up to count
    }

    /// The mean duration, 0 for an empty histogram (exact: the sum is).
    double mean_ns() const noexcept {
        return count == 0 ? 0.0 : static_cast<double>(sum_ns) / static_cast<double>(count);
    }
};

class PollHistogram {
public:
    static constexpr std::size_t bucket_count = HistogramSnapshot::bucket_count;

    /// The bucket of a duration of `ns` nanoseconds: the bits it takes to write `ns`
    /// (std::bit_width), so 0 for 0, 1 for 1, 2 for 2 and 3, 3 for 4 to 7, and so on up to the
    /// last bucket, which holds the rest.
    static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
        return std::min<std::size_t>(static_cast<std::size_t>(std::bit_width(ns)),
                                     bucket_count - 1);
    }

    /// Count one duration (a negative one counts as 0). Any thread, any number at once; no
    /// lock. Relaxed: see the file's opening comment.
    void record(std::chrono::nanoseconds duration) noexcept {
        const std::uint64_t ns =
            duration.count() > 0 ? static_cast<std::uint64_t>(duration.count()) : 0;
        buckets_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
        sum_ns_.fetch_add(ns, std::memory_order_relaxed);
        std::uint64_t longest = max_ns_.load(std::memory_order_relaxed);
        // On failure, compare_exchange_weak loads the current maximum into `longest`.
        while (ns > longest &&
               !max_ns_.compare_exchange_weak(longest, ns, std::memory_order_relaxed)) {
        }
    }

    /// The counts now, read one by one while other threads may record.
    HistogramSnapshot snapshot() const noexcept {
        HistogramSnapshot snapshot;
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

/// A future whose every poll is timed into a histogram: the time F's poll took, whether it
/// returned ready, pending, or threw. Output, value and exceptions are F's. Made by ex::timed;
/// may be spawned, given to block_on, or awaited.
template <rt::Future F>
class Timed {
public:
    using Output = typename F::Output;

    Timed(PollHistogram& histogram, F future)
        : histogram_(&histogram), future_(std::move(future)) {}

    rt::Poll<Output> poll(rt::Context& cx) {
        // A guard, so that a poll that throws is timed too: its destructor runs as the
        // exception leaves.
        struct Stopwatch {
            PollHistogram* histogram;
            Clock::time_point start = Clock::now();
            ~Stopwatch() { histogram->record(Clock::now() - start); }
        } stopwatch{histogram_};
        return future_.poll(cx);
    }

    F& future() noexcept { return future_; }

private:
    PollHistogram* histogram_;  // outlives this future
    F future_;
};

/// `future` with each of its polls timed into `histogram`: `rt::spawn(ex::timed(polls,
/// handle(connection)))`. Like rt::named, it takes a future or a callable that returns one (a
/// coroutine lambda, whose captures then live as long as its coroutine).
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
