// Tests of chapter 1's stage: the executor's poll counting and the futures it ships with.
// The behaviours every executor keeps are in common/behaviours/executor_runs_futures.cpp.
#include <doctest/doctest.h>

#include <chrono>

#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "testing/growing_spans.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

namespace {

/// Answers pending `times` times without waking anyone: in chapter 1 it still runs to
/// completion, because the executor polls every task on every round.
class SilentlyPending {
public:
    using Output = void;
    explicit SilentlyPending(int times) : times_(times) {}
    rt::Poll<void> poll(rt::Context&) {
        if (times_-- == 0) return rt::ready;
        return rt::pending;
    }

private:
    int times_;
};

}  // namespace

TEST_SUITE("naive executor") {
    TEST_CASE("run counts one poll per pending answer plus one per completion") {
        rt::Executor executor;
        executor.spawn(SilentlyPending(3));
        executor.spawn(SilentlyPending(0));
        const rt::RunStats stats = executor.run();
        CHECK(stats.polls == 4 + 1);
        CHECK(stats.completed == 2);
    }

    TEST_CASE("a future that never wakes its waker still completes: every task is re-polled") {
        rt::Executor executor;
        executor.spawn(SilentlyPending(100));
        const rt::RunStats stats = executor.run();
        CHECK(stats.completed == 1);
        CHECK(stats.polls == 101);
    }

    TEST_CASE("a task waiting on a sleep is polled many times: the cost of busy polling") {
        // The sleep is polled more than once only if its first poll comes before its deadline:
        // a run too slow for that (sanitizers, a loaded machine) tries a longer sleep.
        const bool kept_asking =
            testing::with_growing_spans([](std::chrono::milliseconds duration) {
                const auto start = std::chrono::steady_clock::now();
                rt::Executor executor;
                executor.spawn(rt::sleep(duration));
                const rt::RunStats stats = executor.run();
                CHECK(std::chrono::steady_clock::now() - start >= duration);
                CHECK(stats.completed == 1);
                return stats.polls > 1;  // it could not wait; it kept asking
            });
        CHECK_MESSAGE(kept_asking,
                      "the sleep was polled once only, ready, however far its "
                      "deadline (up to 10 s)");
    }
}

TEST_SUITE("sleep") {
    TEST_CASE("sleep is pending before its deadline and ready after it") {
        auto now = rt::Sleep::Clock::now();
        rt::Sleep future = rt::sleep_until(now + 1h);
        CHECK(testing::poll_once(future).is_pending());
        rt::Sleep past = rt::sleep_until(now - 1ms);
        CHECK(testing::poll_once(past).is_ready());
    }

    TEST_CASE("sleep of zero is ready at the first poll") {
        rt::Sleep future = rt::sleep(0ms);
        CHECK(testing::poll_once(future).is_ready());
    }
}

TEST_SUITE("yield_now") {
    TEST_CASE("yield_now is pending once, waking its waker, then ready") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        rt::YieldNow future = rt::yield_now();
        CHECK(testing::poll_once(future, waker).is_pending());
        CHECK(counter.wakes() == 1);
        CHECK(testing::poll_once(future, waker).is_ready());
        CHECK(counter.wakes() == 1);
    }
}
