// Tests of chapter 9's Ctrl-C (rt/signal/ctrl_c.hpp): a SIGINT sent to the process completes
// every ctrl_c() future made before it, on every runtime, and ends nothing; a future made after
// a signal waits for the next one. The signal is sent with raise(), which delivers it to this
// thread before it returns; the futures are made first, which installs the handler, so the
// process never meets SIGINT's default action.
#include <doctest/doctest.h>

#include <csignal>
#include <cstddef>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/runtime.hpp"
#include "rt/signal/ctrl_c.hpp"
#include "rt/timeout.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"

TEST_CASE("Ctrl-C completes every ctrl_c future made before it, on every runtime") {
    for (std::size_t workers : {0, 1, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        // Three tasks wait; the main task raises SIGINT once they all have polled once.
        const int woken = runtime.block_on([]() -> rt::Task<int> {
            std::vector<rt::JoinHandle<bool>> waiting;
            for (int i = 0; i < 3; ++i) {
                waiting.push_back(rt::spawn([](rt::signal::CtrlC signal) -> rt::Task<bool> {
                    co_return co_await rt::timeout(testing::patience(), std::move(signal));
                }(rt::signal::ctrl_c())));
            }
            co_await rt::yield_now();
            std::raise(SIGINT);
            int count = 0;
            for (auto& handle : waiting) count += (co_await std::move(handle)) ? 1 : 0;
            co_return count;
        });
        CHECK_MESSAGE(woken == 3, "a ctrl_c future missed the signal");
    }
}

TEST_CASE("a ctrl_c future made after a signal waits for the next one") {
    rt::Runtime runtime(1);
    const bool second_heard = runtime.block_on([]() -> rt::Task<bool> {
        rt::signal::CtrlC first = rt::signal::ctrl_c();
        std::raise(SIGINT);
        co_await std::move(first);
        // Made after the first signal: that one does not count.
        auto later = rt::spawn([](rt::signal::CtrlC signal) -> rt::Task<bool> {
            co_return co_await rt::timeout(testing::patience(), std::move(signal));
        }(rt::signal::ctrl_c()));
        co_await rt::yield_now();
        const bool early = later.is_finished();
        std::raise(SIGINT);
        const bool heard = co_await std::move(later);
        co_return !early && heard;
    });
    CHECK(second_heard);
}

TEST_CASE("a ctrl_c future dropped before the signal leaves nothing behind") {
    rt::Runtime runtime(0);
    runtime.block_on([]() -> rt::Task<void> {
        {
            rt::signal::CtrlC dropped = rt::signal::ctrl_c();
            const bool timed_out =
                !co_await rt::timeout(std::chrono::milliseconds(1), std::move(dropped));
            CHECK(timed_out);
        }
        rt::signal::CtrlC kept = rt::signal::ctrl_c();
        std::raise(SIGINT);
        co_await std::move(kept);
    });
}
