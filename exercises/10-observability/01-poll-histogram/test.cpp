// Tests of exercise 10-01, the specification of ex::PollHistogram and ex::timed: a duration
// lands in the bucket that the bits it takes name, between that bucket's bounds; a record is
// counted once, with its sum and the maximum; records from many threads at once are never
// lost, and snapshots taken meanwhile never go back; a percentile is the end of the bucket
// that holds it, at least the true value and less than twice it; ex::timed records one
// duration per poll, also for a poll that throws, on the executor and on the workers.
//
// No verdict depends on the machine's speed: the durations are given in nanoseconds by the
// tests, and the timed polls are counted, never compared with a clock.
#include <doctest/doctest.h>

#include <poll_histogram.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/join_handle.hpp"
#include "rt/runtime.hpp"
#include "rt/yield_now.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
using ex::HistogramSnapshot;
using ex::PollHistogram;

namespace {

constexpr std::size_t last = PollHistogram::bucket_count - 1;

/// A future that is pending `pendings` times, waking itself each time, then ready with 42; or
/// that throws at its poll number `throw_at` (from 1), if that is not 0.
struct Countdown {
    using Output = int;
    int pendings;
    int throw_at = 0;
    int polls = 0;
    rt::Poll<int> poll(rt::Context& cx) {
        ++polls;
        if (polls == throw_at) throw std::runtime_error("the poll failed");
        if (pendings-- > 0) {
            cx.waker().wake_by_ref();
            return rt::pending;
        }
        return 42;
    }
};

/// A task that yields `yields` times (one poll each), then returns `value`: yields + 1 polls.
rt::Task<int> yielding(int yields, int value) {
    for (int i = 0; i < yields; ++i) co_await rt::yield_now();
    co_return value;
}

}  // namespace

TEST_SUITE("10-01 poll histogram") {
    TEST_CASE("bucket_of puts 0 alone, then one bucket per power of two") {
        CHECK(PollHistogram::bucket_of(0) == 0);
        CHECK(PollHistogram::bucket_of(1) == 1);
        CHECK(PollHistogram::bucket_of(2) == 2);
        CHECK(PollHistogram::bucket_of(3) == 2);
        CHECK(PollHistogram::bucket_of(4) == 3);
        CHECK(PollHistogram::bucket_of(7) == 3);
        CHECK(PollHistogram::bucket_of(1023) == 10);
        CHECK(PollHistogram::bucket_of(1024) == 11);
        CHECK(PollHistogram::bucket_of(1'000'000) == 20);  // 1 ms: [524288, 1048576)
        CHECK(PollHistogram::bucket_of(std::uint64_t{1} << 38) == last);
        CHECK(PollHistogram::bucket_of(std::numeric_limits<std::uint64_t>::max()) == last);
    }

    TEST_CASE("every duration falls between the bounds of its bucket") {
        for (int bit = 0; bit < 64; ++bit) {
            const std::uint64_t power = std::uint64_t{1} << bit;
            for (const std::uint64_t ns : {power - 1, power, power + 1}) {
                CAPTURE(ns);
                const std::size_t k = PollHistogram::bucket_of(ns);
                REQUIRE(k <= last);
                CHECK(HistogramSnapshot::lower_bound(k) <= ns);
                if (k < last) CHECK(ns < HistogramSnapshot::upper_bound(k));
            }
        }
        // The buckets tile the line: each begins where the one before ends.
        for (std::size_t k = 0; k < last; ++k) {
            CAPTURE(k);
            CHECK(HistogramSnapshot::upper_bound(k) == HistogramSnapshot::lower_bound(k + 1));
        }
    }

    TEST_CASE("a record counts once, in its bucket, with its sum and the maximum") {
        PollHistogram histogram;
        histogram.record(0ns);
        histogram.record(1ns);
        histogram.record(1500ns);
        histogram.record(1ms);
        histogram.record(-5ns);  // a negative duration counts as 0
        const HistogramSnapshot snapshot = histogram.snapshot();
        CHECK(snapshot.count == 5);
        CHECK(snapshot.buckets[0] == 2);
        CHECK(snapshot.buckets[1] == 1);
        CHECK(snapshot.buckets[PollHistogram::bucket_of(1500)] == 1);
        CHECK(snapshot.buckets[20] == 1);
        CHECK(snapshot.sum_ns == 1'000'000 + 1500 + 1);
        CHECK(snapshot.max_ns == 1'000'000);
        CHECK(snapshot.mean_ns() == doctest::Approx((1'000'000 + 1500 + 1) / 5.0));
    }

    TEST_CASE("an empty histogram counts nothing, and its percentiles are 0") {
        const HistogramSnapshot snapshot = PollHistogram().snapshot();
        CHECK(snapshot.count == 0);
        CHECK(snapshot.max_ns == 0);
        CHECK(snapshot.percentile(0.5) == 0);
        CHECK(snapshot.percentile(1.0) == 0);
        CHECK(snapshot.mean_ns() == 0.0);
    }

    TEST_CASE("records from four threads at once are never lost") {
        PollHistogram histogram;
        constexpr int per_thread = 100'000;
        {
            std::vector<std::jthread> threads;
            for (int t = 0; t < 4; ++t) {
                threads.emplace_back([&histogram, t] {
                    // Thread t records i % 64 << t: every thread hits buckets the others do.
                    for (int i = 0; i < per_thread; ++i) {
                        histogram.record(std::chrono::nanoseconds((i % 64) << t));
                    }
                });
            }
        }
        // The same records, made on one thread into a histogram nobody else touches.
        PollHistogram expected;
        for (int t = 0; t < 4; ++t) {
            for (int i = 0; i < per_thread; ++i) {
                expected.record(std::chrono::nanoseconds((i % 64) << t));
            }
        }
        const HistogramSnapshot got = histogram.snapshot();
        const HistogramSnapshot want = expected.snapshot();
        CHECK(got.count == 4 * per_thread);
        CHECK(got.buckets == want.buckets);
        CHECK(got.sum_ns == want.sum_ns);
        CHECK(got.max_ns == 63 << 3);
    }

    TEST_CASE("a snapshot taken while threads record never goes back") {
        PollHistogram histogram;
        constexpr int per_thread = 50'000;
        std::atomic<int> running{2};
        bool went_back = false;
        int snapshots = 0;
        {
            std::vector<std::jthread> writers;
            for (int t = 0; t < 2; ++t) {
                writers.emplace_back([&histogram, &running, t] {
                    for (int i = 0; i < per_thread; ++i) {
                        histogram.record(std::chrono::nanoseconds(i % 2000 + t));
                    }
                    running.fetch_sub(1);
                });
            }
            // The reader: until both writers are done (they end after a fixed number of
            // records), each snapshot must show every counter at least where the last one did.
            HistogramSnapshot before = histogram.snapshot();
            while (running.load() > 0 || snapshots == 0) {
                const HistogramSnapshot now = histogram.snapshot();
                for (std::size_t k = 0; k < PollHistogram::bucket_count; ++k) {
                    if (now.buckets[k] < before.buckets[k]) went_back = true;
                }
                if (now.count < before.count || now.sum_ns < before.sum_ns ||
                    now.max_ns < before.max_ns) {
                    went_back = true;
                }
                before = now;
                ++snapshots;
            }
        }
        CHECK_FALSE(went_back);
        CHECK(snapshots > 0);
        const HistogramSnapshot last_one = histogram.snapshot();  // every writer is joined
        CHECK(last_one.count == 2 * per_thread);
        CHECK(last_one.max_ns == 2000);
    }

    TEST_CASE("a percentile is the end of the bucket that holds it") {
        PollHistogram histogram;
        for (int i = 0; i < 90; ++i) histogram.record(100ns);  // bucket 7: [64, 128)
        for (int i = 0; i < 10; ++i) histogram.record(1ms);    // bucket 20, the maximum
        const HistogramSnapshot snapshot = histogram.snapshot();
        CHECK(snapshot.percentile(0.0) == 128);
        CHECK(snapshot.percentile(0.5) == 128);
        CHECK(snapshot.percentile(0.9) == 128);  // rank 90: the last of the 100 ns
        // Rank 91 and up: bucket 20 ends at 1,048,576, past the maximum, which is the answer.
        CHECK(snapshot.percentile(0.91) == 1'000'000);
        CHECK(snapshot.percentile(0.99) == 1'000'000);
        CHECK(snapshot.percentile(1.0) == 1'000'000);
    }

    TEST_CASE("a percentile is at least the true value, and less than twice it") {
        PollHistogram histogram;
        std::vector<std::uint64_t> values;
        std::uint64_t seed = 12345;
        for (int i = 0; i < 10'000; ++i) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            const std::uint64_t ns = (seed >> 33) % (std::uint64_t{1} << ((seed >> 20) % 30));
            values.push_back(ns);
            histogram.record(std::chrono::nanoseconds(ns));
        }
        std::sort(values.begin(), values.end());
        const HistogramSnapshot snapshot = histogram.snapshot();
        for (const double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
            CAPTURE(q);
            const auto rank = std::clamp<std::size_t>(
                static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))), 1,
                values.size());
            const std::uint64_t truth = values[rank - 1];
            const std::uint64_t estimate = snapshot.percentile(q);
            CHECK(estimate >= truth);
            CHECK(estimate <= std::max<std::uint64_t>(2 * truth, 1));
        }
    }

    TEST_CASE("a quantile outside 0 to 1 is an error") {
        PollHistogram histogram;
        histogram.record(10ns);
        const HistogramSnapshot snapshot = histogram.snapshot();
        CHECK_THROWS_AS((void)snapshot.percentile(-0.01), std::invalid_argument);
        CHECK_THROWS_AS((void)snapshot.percentile(1.01), std::invalid_argument);
        CHECK_THROWS_AS((void)snapshot.percentile(std::nan("")), std::invalid_argument);
    }

    TEST_CASE("timed records one duration per poll, and passes the output through") {
        PollHistogram histogram;
        auto future = ex::timed(histogram, Countdown{3});
        testing::CountingWaker waker;
        for (int i = 0; i < 3; ++i) REQUIRE(testing::poll_once(future, waker.waker()).is_pending());
        auto result = testing::poll_once(future, waker.waker());
        REQUIRE(result.is_ready());
        CHECK(result.value() == 42);
        CHECK(waker.wakes() == 3);  // the wrapped future's wakes, untouched
        CHECK(histogram.snapshot().count == 4);
    }

    TEST_CASE("timed records a poll that throws, and lets the exception through") {
        PollHistogram histogram;
        auto future = ex::timed(histogram, Countdown{5, 2});
        CHECK(testing::poll_once(future).is_pending());
        CHECK_THROWS_AS((void)testing::poll_once(future), std::runtime_error);
        CHECK(histogram.snapshot().count == 2);
    }

    TEST_CASE("timed counts every poll of tasks on the executor and on two workers") {
        for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
            CAPTURE(workers);
            PollHistogram histogram;
            int total = 0;
            {
                rt::Runtime runtime(workers);
                total = runtime.block_on([&histogram]() -> rt::Task<int> {
                    std::vector<rt::JoinHandle<int>> tasks;
                    for (int i = 0; i < 64; ++i) {
                        tasks.push_back(rt::spawn(ex::timed(histogram, yielding(5, i))));
                    }
                    int sum = 0;
                    for (rt::JoinHandle<int>& task : tasks) sum += co_await task;
                    co_return sum;
                });
            }
            CHECK(total == 63 * 64 / 2);                  // each task's output, passed through
            CHECK(histogram.snapshot().count == 64 * 6);  // 5 yields and the last poll, each
        }
    }
}
