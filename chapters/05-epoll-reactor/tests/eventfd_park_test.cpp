// Tests of what is particular to chapter 5's stage: the executor parks in epoll_wait, and a
// wake from another thread (here chapter 2's timer thread) reaches it through the ready
// queue's eventfd; wakes on the executor's own thread never touch the eventfd.
#include <doctest/doctest.h>

#include <chrono>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "testing/growing_spans.hpp"

using namespace std::chrono_literals;

TEST_SUITE("the eventfd") {
    TEST_CASE("the timer thread's wake ends the executor's epoll_wait through the eventfd") {
        // The executor must be parked when the timer thread wakes the task, which only the
        // deadline orders: a run in which this thread stalled past the deadline before
        // parking proves nothing, and is run again with a longer sleep.
        const bool parked = testing::with_growing_spans([](std::chrono::milliseconds pause) {
            rt::Executor executor;
            executor.spawn([pause]() -> rt::Task<void> { co_await rt::sleep(pause); });
            const rt::RunStats stats = executor.run();
            if (stats.parks == 0) return false;  // too slow for this pause: try a longer one
            CHECK(stats.polls == 2);
            CHECK(stats.io_events >= 1);  // the eventfd, written by the timer thread's push
            return true;
        });
        CHECK_MESSAGE(parked, "the executor never parked before the deadline (up to 10 s)");
    }

    TEST_CASE("wakes on the executor's own thread, while it runs, make no eventfd event") {
        rt::Executor executor;
        for (int t = 0; t < 4; ++t) {
            executor.spawn([]() -> rt::Task<void> {
                for (int i = 0; i < 1000; ++i) co_await rt::yield_now();
            });
        }
        const rt::RunStats stats = executor.run();
        CHECK(stats.polls == 4 * 1001);
        CHECK(stats.parks == 0);
        CHECK(stats.io_events == 0);
    }
}
