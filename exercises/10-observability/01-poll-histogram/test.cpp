// Tests of exercise 10-01, the specification of ex::PollHistogram and ex::timed: a duration
// lands in the bucket that the bits it takes name, between that bucket's bounds; a record is
// counted once, with its sum and the maximum; records from many threads at once are never
// lost, and snapshots taken meanwhile never go back; a percentile is the end of the bucket
// that holds it (or the maximum, if less), at least the true value and at most twice it;
// snapshots add up; ex::timed records one duration per poll, that contains the poll, also for
// a poll that throws, on the executor and on two workers.
//
// No verdict depends on the machine's speed: the durations are given in nanoseconds by the
// tests, and the timed polls are counted, or compared with what the poll measured of itself
// on the same steady clock, never with a time limit. Waits are bounded by testing::patience().
#include <doctest/doctest.h>

#include <poll_histogram.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/join_handle.hpp"
#include "rt/runtime.hpp"
#include "rt/timeout.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
using ex::HistogramSnapshot;
using ex::PollHistogram;

namespace {

constexpr std::size_t last = PollHistogram::bucket_count - 1;

/// The bucket of `ns`, worked out here without the exercise's bucket_of, so that the expected
/// counts do not depend on the code under test.
std::size_t reference_bucket(std::uint64_t ns) {
    return std::min<std::size_t>(static_cast<std::size_t>(std::bit_width(ns)), last);
}

/// What thread `t` records, `i`-th: durations from 0 to 63 << t, so that every thread hits
/// buckets the others hit too.
std::chrono::nanoseconds nth_record(int t, int i) {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(i % 64) << t);
}

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

/// A future whose every poll works until the steady clock has moved on by a microsecond or
/// more, and measures itself with that clock: a poll timed from outside took at least as long.
/// Pending `pendings` times, then ready.
struct SelfTimed {
    using Output = void;
    int pendings;
    std::uint64_t measured_sum_ns = 0;  // what the polls measured of themselves, added up
    std::uint64_t measured_max_ns = 0;  // and the longest
    rt::Poll<void> poll(rt::Context& cx) {
        const ex::Clock::time_point start = ex::Clock::now();
        ex::Clock::time_point now = start;
        while (now - start < 1us) now = ex::Clock::now();  // the clock always moves on
        const auto ns = static_cast<std::uint64_t>((now - start).count());
        measured_sum_ns += ns;
        measured_max_ns = std::max(measured_max_ns, ns);
        if (pendings-- > 0) {
            cx.waker().wake_by_ref();
            return rt::pending;
        }
        return rt::ready;
    }
};

/// A task that yields `yields` times (one poll each), then returns `value`: yields + 1 polls.
rt::Task<int> yielding(int yields, int value) {
    for (int i = 0; i < yields; ++i) co_await rt::yield_now();
    co_return value;
}

/// 64 timed tasks of 6 polls each, awaited; the sum of their values (0 + 1 + ... + 63), or
/// std::nullopt if one of them did not finish within testing::patience().
rt::Task<std::optional<int>> sixty_four_timed_tasks(PollHistogram& histogram) {
    std::vector<rt::JoinHandle<int>> tasks;
    for (int i = 0; i < 64; ++i) {
        tasks.push_back(rt::spawn(ex::timed(histogram, yielding(5, i))));
    }
    int sum = 0;
    for (rt::JoinHandle<int>& task : tasks) {
        auto waiting = rt::timeout(testing::patience(), std::move(task));
        const std::optional<int> value = co_await waiting;
        if (!value) co_return std::nullopt;
        sum += *value;
    }
    co_return sum;
}

}  // namespace

TEST_SUITE("poll histogram: the buckets") {
    TEST_CASE("bucket_of puts 0 alone, then one bucket per power of two, the rest in the last") {
        CHECK(PollHistogram::bucket_of(0) == 0);
        CHECK(PollHistogram::bucket_of(1) == 1);
        CHECK(PollHistogram::bucket_of(2) == 2);
        CHECK(PollHistogram::bucket_of(3) == 2);
        CHECK(PollHistogram::bucket_of(4) == 3);
        CHECK(PollHistogram::bucket_of(7) == 3);
        CHECK(PollHistogram::bucket_of(1023) == 10);
        CHECK(PollHistogram::bucket_of(1024) == 11);
        CHECK(PollHistogram::bucket_of(1'000'000) == 20);  // 1 ms: [524288, 1048576)
        CHECK(PollHistogram::bucket_of((std::uint64_t{1} << 38) - 1) == last - 1);
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
                CHECK(k == reference_bucket(ns));
                CHECK(PollHistogram::lower_bound(k) <= ns);
                if (k < last) CHECK(ns < PollHistogram::upper_bound(k));
            }
        }
        // The buckets tile the line: each begins where the one before ends.
        for (std::size_t k = 0; k < last; ++k) {
            CAPTURE(k);
            CHECK(PollHistogram::upper_bound(k) == PollHistogram::lower_bound(k + 1));
        }
        CHECK(PollHistogram::upper_bound(last) == std::numeric_limits<std::uint64_t>::max());
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
        CHECK(snapshot.buckets[11] == 1);  // 1500 ns: [1024, 2048)
        CHECK(snapshot.buckets[20] == 1);
        CHECK(snapshot.sum_ns == 1'000'000 + 1500 + 1);
        CHECK(snapshot.max_ns == 1'000'000);
        CHECK(snapshot.mean_ns() == doctest::Approx((1'000'000 + 1500 + 1) / 5.0));
    }

    TEST_CASE("a duration of hours is counted in the last bucket, whole in the sum and maximum") {
        PollHistogram histogram;
        histogram.record(3h);
        histogram.record(2ns);
        const HistogramSnapshot snapshot = histogram.snapshot();
        const auto three_hours = static_cast<std::uint64_t>(std::chrono::nanoseconds(3h).count());
        CHECK(snapshot.buckets[last] == 1);
        CHECK(snapshot.buckets[2] == 1);
        CHECK(snapshot.count == 2);
        CHECK(snapshot.sum_ns == three_hours + 2);
        CHECK(snapshot.max_ns == three_hours);
    }

    TEST_CASE("an empty histogram counts nothing, and its percentiles are 0") {
        const HistogramSnapshot snapshot = PollHistogram().snapshot();
        CHECK(snapshot.count == 0);
        CHECK(snapshot.sum_ns == 0);
        CHECK(snapshot.max_ns == 0);
        CHECK(snapshot.percentile(0.0) == 0);
        CHECK(snapshot.percentile(0.5) == 0);
        CHECK(snapshot.percentile(1.0) == 0);
        CHECK(snapshot.mean_ns() == 0.0);
    }
}

TEST_SUITE("poll histogram: records from many threads") {
    TEST_CASE("records from four threads at once are never lost") {
        constexpr int threads = 4;
        constexpr int per_thread = 100'000;
        PollHistogram histogram;
        {
            std::vector<std::jthread> writers;
            for (int t = 0; t < threads; ++t) {
                writers.emplace_back([&histogram, t] {
                    for (int i = 0; i < per_thread; ++i) histogram.record(nth_record(t, i));
                });
            }
        }  // joined
        std::array<std::uint64_t, PollHistogram::bucket_count> buckets{};
        std::uint64_t sum = 0;
        for (int t = 0; t < threads; ++t) {
            for (int i = 0; i < per_thread; ++i) {
                const auto ns = static_cast<std::uint64_t>(nth_record(t, i).count());
                ++buckets[reference_bucket(ns)];
                sum += ns;
            }
        }
        const HistogramSnapshot got = histogram.snapshot();
        CHECK(got.count == threads * per_thread);
        CHECK_MESSAGE(got.buckets == buckets, "a bucket lost records, or got another's");
        CHECK(got.sum_ns == sum);
        CHECK(got.max_ns == std::uint64_t{63} << (threads - 1));
    }

    TEST_CASE("the maximum raised by many threads at once is the greatest of all") {
        PollHistogram histogram;
        {
            std::vector<std::jthread> writers;
            for (int t = 0; t < 4; ++t) {
                // Rising durations, interleaved between the threads: each is a new maximum
                // when it comes, racing the others' to be stored.
                writers.emplace_back([&histogram, t] {
                    for (int i = 0; i < 50'000; ++i) {
                        histogram.record(std::chrono::nanoseconds(i * 4 + t));
                    }
                });
            }
        }
        CHECK(histogram.snapshot().max_ns == 49'999 * 4 + 3);
    }

    TEST_CASE("snapshots taken while threads record never go back, and the last one is exact") {
        constexpr int per_thread = 50'000;
        PollHistogram histogram;
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
            // The reader, on the test's thread, until both writers are done (a fixed number of
            // records each) or testing::patience() has passed: every snapshot must show each
            // counter at least where the one before showed it.
            const auto give_up = ex::Clock::now() + testing::patience();
            HistogramSnapshot before = histogram.snapshot();
            while ((running.load() > 0 || snapshots == 0) && ex::Clock::now() < give_up) {
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
        }  // joined
        CHECK_MESSAGE(!went_back, "a later snapshot showed a counter smaller than an earlier one");
        std::array<std::uint64_t, PollHistogram::bucket_count> buckets{};
        std::uint64_t sum = 0;
        for (int t = 0; t < 2; ++t) {
            for (int i = 0; i < per_thread; ++i) {
                const auto ns = static_cast<std::uint64_t>(i % 2000 + t);
                ++buckets[reference_bucket(ns)];
                sum += ns;
            }
        }
        const HistogramSnapshot final_one = histogram.snapshot();
        CHECK(final_one.count == 2 * per_thread);
        CHECK(final_one.buckets == buckets);
        CHECK(final_one.sum_ns == sum);
        CHECK(final_one.max_ns == 2000);
    }
}

TEST_SUITE("poll histogram: percentiles") {
    TEST_CASE("a percentile is the end of the bucket that holds it, or the maximum if less") {
        PollHistogram histogram;
        for (int i = 0; i < 90; ++i) histogram.record(100ns);  // bucket 7: [64, 128)
        for (int i = 0; i < 9; ++i) histogram.record(1ms);     // bucket 20: [524288, 1048576)
        histogram.record(3ms);  // bucket 22: [2097152, 4194304), the maximum
        const HistogramSnapshot snapshot = histogram.snapshot();
        REQUIRE(snapshot.count == 100);
        CHECK(snapshot.percentile(0.0) == 128);  // rank 1, the shortest
        CHECK(snapshot.percentile(0.5) == 128);
        CHECK(snapshot.percentile(0.9) == 128);         // rank 90: the last of the 100 ns
        CHECK(snapshot.percentile(0.91) == 1'048'576);  // rank 91: the first of the 1 ms
        CHECK(snapshot.percentile(0.99) == 1'048'576);
        // Rank 100: bucket 22 ends at 4,194,304, past the maximum, which is the answer.
        CHECK(snapshot.percentile(1.0) == 3'000'000);
    }

    TEST_CASE("a percentile is at least the true value, and at most twice it") {
        PollHistogram histogram;
        std::vector<std::uint64_t> values;
        std::uint64_t seed = 12345;
        for (int i = 0; i < 10'000; ++i) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;  // a fixed sequence
            const std::uint64_t ns = (seed >> 33) % (std::uint64_t{1} << ((seed >> 20) % 30));
            values.push_back(ns);
            histogram.record(std::chrono::nanoseconds(ns));
        }
        std::sort(values.begin(), values.end());
        const HistogramSnapshot snapshot = histogram.snapshot();
        REQUIRE(snapshot.count == values.size());
        for (const double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
            CAPTURE(q);
            const auto rank = std::clamp<std::size_t>(
                static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))), 1,
                values.size());
            const std::uint64_t truth = values[rank - 1];
            CAPTURE(truth);
            const std::uint64_t estimate = snapshot.percentile(q);
            CHECK(estimate >= truth);
            CHECK(estimate <= std::max<std::uint64_t>(2 * truth, 1));
        }
    }

    TEST_CASE("a quantile outside 0 to 1 is an error, NaN too") {
        PollHistogram histogram;
        histogram.record(10ns);
        const HistogramSnapshot snapshot = histogram.snapshot();
        CHECK_THROWS_AS((void)snapshot.percentile(-0.01), std::invalid_argument);
        CHECK_THROWS_AS((void)snapshot.percentile(1.01), std::invalid_argument);
        CHECK_THROWS_AS((void)snapshot.percentile(std::nan("")), std::invalid_argument);
        const HistogramSnapshot empty = PollHistogram().snapshot();
        CHECK_THROWS_AS((void)empty.percentile(2.0), std::invalid_argument);
        CHECK(snapshot.percentile(1.0) == 10);  // 0 and 1 themselves are quantiles
    }

    TEST_CASE("two snapshots add up to the snapshot of one histogram with both's records") {
        PollHistogram fast;
        PollHistogram slow;
        PollHistogram both;
        for (int i = 0; i < 99; ++i) {
            fast.record(std::chrono::nanoseconds(100 + i));
            both.record(std::chrono::nanoseconds(100 + i));
        }
        slow.record(5ms);
        both.record(5ms);
        HistogramSnapshot merged = fast.snapshot();
        merged += slow.snapshot();
        const HistogramSnapshot want = both.snapshot();
        CHECK(merged.buckets == want.buckets);
        CHECK(merged.count == 100);
        CHECK(merged.sum_ns == want.sum_ns);
        CHECK(merged.max_ns == 5'000'000);
        CHECK(merged.percentile(0.5) == want.percentile(0.5));
        CHECK(merged.percentile(1.0) == 5'000'000);
        CHECK((fast.snapshot() + slow.snapshot()).count == 100);
    }
}

TEST_SUITE("poll histogram: timed polls") {
    TEST_CASE("timed records one duration per poll, and passes the output and wakes through") {
        PollHistogram histogram;
        auto future = ex::timed(histogram, Countdown{3});
        testing::CountingWaker waker;
        for (int i = 0; i < 3; ++i) {
            REQUIRE(testing::poll_once(future, waker.waker()).is_pending());
            CHECK(histogram.snapshot().count == static_cast<std::uint64_t>(i + 1));
        }
        rt::Poll<int> result = testing::poll_once(future, waker.waker());
        REQUIRE(result.is_ready());
        CHECK(std::move(result).value() == 42);
        CHECK(waker.wakes() == 3);  // the wrapped future's wakes, untouched
        CHECK(histogram.snapshot().count == 4);
    }

    TEST_CASE("timed records how long each poll took: at least what the poll measured itself") {
        PollHistogram histogram;
        auto future = ex::timed(histogram, SelfTimed{4});
        for (int i = 0; i < 4; ++i) REQUIRE(testing::poll_once(future).is_pending());
        REQUIRE(testing::poll_once(future).is_ready());
        const SelfTimed& inner = future.future();
        const HistogramSnapshot snapshot = histogram.snapshot();
        CHECK(snapshot.count == 5);
        // The timed interval contains the poll's own, on the same steady clock: not a time
        // limit, an inclusion.
        CHECK(snapshot.sum_ns >= inner.measured_sum_ns);
        CHECK(snapshot.max_ns >= inner.measured_max_ns);
        CHECK(snapshot.buckets[0] == 0);  // every poll took a microsecond or more
    }

    TEST_CASE("timed records a poll that throws, and lets the exception through") {
        PollHistogram histogram;
        auto future = ex::timed(histogram, Countdown{5, 2});
        CHECK(testing::poll_once(future).is_pending());
        CHECK_THROWS_WITH_AS((void)testing::poll_once(future), "the poll failed",
                             std::runtime_error);
        CHECK(histogram.snapshot().count == 2);
    }

    TEST_CASE("timed counts every poll of tasks on the executor and on two workers") {
        for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
            CAPTURE(workers);
            PollHistogram histogram;  // before the runtime: it outlives every task
            std::optional<int> total;
            {
                rt::Runtime runtime(workers);
                total = runtime.block_on(sixty_four_timed_tasks(histogram));
            }
            REQUIRE_MESSAGE(total.has_value(), "a timed task never finished");
            CHECK(*total == 63 * 64 / 2);                 // each task's output, passed through
            CHECK(histogram.snapshot().count == 64 * 6);  // 5 yields and the last poll, each
        }
    }
}
