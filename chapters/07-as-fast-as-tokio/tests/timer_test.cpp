// Tests of chapter 6's timers: the heap and the wheel agree on what fires when; the driver
// never fires early and lets epoll_wait sleep until the next deadline; a dropped sleep leaves
// nothing behind; interval's missed-tick policies; timeout's value, its expiry, and the
// cancellation of what timed out.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/interval.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/time/timer_heap.hpp"
#include "rt/time/timer_wheel.hpp"
#include "rt/timeout.hpp"
#include "rt/yield_now.hpp"
#include "testing/growing_spans.hpp"
#include "testing/lifetimes.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
using rt::detail::Tick;
using rt::detail::TimerEntry;

namespace {

/// Entries at the given deadlines, in a stable place (the structures point into them).
std::vector<std::unique_ptr<TimerEntry>> entries_at(const std::vector<Tick>& deadlines) {
    std::vector<std::unique_ptr<TimerEntry>> entries;
    for (Tick when : deadlines) {
        entries.push_back(std::make_unique<TimerEntry>());
        entries.back()->when = when;
    }
    return entries;
}

/// Advance `timers` to `now`, and return the deadlines of the entries that fired, in order.
template <class Timers>
std::vector<Tick> fire_until(Timers& timers, Tick now) {
    std::vector<Tick> fired;
    timers.advance(now, [&](TimerEntry* entry) { fired.push_back(entry->when); });
    return fired;
}

}  // namespace

TEST_SUITE("timer structures") {
    TEST_CASE_TEMPLATE("entries fire at their deadline, never before, in deadline order", Timers,
                       rt::detail::TimerHeap, rt::detail::TimerWheel) {
        // Deadlines on every level of the wheel: 1 ms to 3 hours.
        auto entries = entries_at({5, 1, 64, 63, 4100, 65, 300'000, 10'800'000, 2});
        Timers timers;
        for (auto& entry : entries) timers.insert(entry.get());
        CHECK(timers.size() == entries.size());
        CHECK(fire_until(timers, 0).empty());
        CHECK(fire_until(timers, 2) == std::vector<Tick>{1, 2});
        CHECK(fire_until(timers, 64) == std::vector<Tick>{5, 63, 64});
        CHECK(fire_until(timers, 4099) == std::vector<Tick>{65});
        CHECK(fire_until(timers, 300'000) == std::vector<Tick>{4100, 300'000});
        CHECK(timers.next_deadline().has_value());
        CHECK(fire_until(timers, 20'000'000) == std::vector<Tick>{10'800'000});
        CHECK(timers.size() == 0);
        CHECK_FALSE(timers.next_deadline().has_value());
    }

    TEST_CASE_TEMPLATE("a removed entry never fires, and the others still do", Timers,
                       rt::detail::TimerHeap, rt::detail::TimerWheel) {
        auto entries = entries_at({10, 20, 30, 5000, 5001});
        Timers timers;
        for (auto& entry : entries) timers.insert(entry.get());
        timers.remove(entries[1].get());
        timers.remove(entries[3].get());
        CHECK(timers.size() == 3);
        CHECK(fire_until(timers, 10'000) == std::vector<Tick>{10, 30, 5001});
    }

    TEST_CASE_TEMPLATE("random deadlines, inserted and removed at random, fire like a sorted list",
                       Timers, rt::detail::TimerHeap, rt::detail::TimerWheel) {
        std::mt19937 random(7);
        std::uniform_int_distribution<Tick> deadline(0, 200'000);
        std::vector<Tick> deadlines(2000);
        for (Tick& when : deadlines) when = deadline(random);
        auto entries = entries_at(deadlines);
        Timers timers;
        std::vector<Tick> expected;
        for (std::size_t i = 0; i < entries.size(); ++i) timers.insert(entries[i].get());
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (i % 3 == 0) {
                timers.remove(entries[i].get());
            } else {
                expected.push_back(entries[i]->when);
            }
        }
        std::sort(expected.begin(), expected.end());
        std::vector<Tick> fired;
        for (Tick now = 0; now < 200'000 + 997; now += 997) {  // time moves in uneven steps
            for (Tick when : fire_until(timers, now)) {
                CHECK(when <= now);
                fired.push_back(when);
            }
        }
        CHECK(fired == expected);
    }

    TEST_CASE("the wheel reports when its next slot is due, on every level") {
        auto entries = entries_at({70, 5000});
        rt::detail::TimerWheel wheel;
        wheel.insert(entries[1].get());
        CHECK(wheel.next_deadline() == 4096);  // level 2's slot starts here: placed again then
        wheel.insert(entries[0].get());
        CHECK(wheel.next_deadline() == 64);    // level 1's slot [64, 128)
        CHECK(fire_until(wheel, 64).empty());  // the cascade moved 70 to level 0
        CHECK(wheel.next_deadline() == 70);
    }

    TEST_CASE("a deadline a whole turn away, inserted once time has moved, is not due now") {
        // 2^36 ms ahead lands in the last level's current slot. Taken for due, it was put
        // back into the same slot by advance, again and again: the executor spun for ever.
        rt::detail::TimerWheel wheel;
        CHECK(fire_until(wheel, 1).empty());  // time has moved: elapsed is 1, not 0
        const Tick far = 1 + rt::detail::TimerWheel::max_span + 5;
        auto entries = entries_at({far});
        wheel.insert(entries[0].get());
        REQUIRE(wheel.next_deadline().has_value());
        REQUIRE(*wheel.next_deadline() > wheel.elapsed());  // advance would loop otherwise
        CHECK(fire_until(wheel, 2).empty());
        CHECK(fire_until(wheel, far - 1).empty());
        CHECK(fire_until(wheel, far) == std::vector<Tick>{far});
    }

    TEST_CASE("a deadline years away is placed again until it comes, never lost") {
        auto entries = entries_at({rt::detail::TimerWheel::max_span * 3});
        rt::detail::TimerWheel wheel;
        wheel.insert(entries[0].get());
        CHECK(fire_until(wheel, rt::detail::TimerWheel::max_span * 2).empty());
        CHECK(wheel.size() == 1);
        CHECK(fire_until(wheel, rt::detail::TimerWheel::max_span * 3).size() == 1);
    }
}

TEST_SUITE("sleep on the time driver") {
    TEST_CASE("a sleep 800 days long does not keep the executor from running other tasks") {
        const bool slept_through = rt::block_on([]() -> rt::Task<bool> {
            co_await rt::sleep(2ms);  // time has moved in the wheel
            co_return co_await rt::timeout(5ms, rt::sleep(std::chrono::hours(24 * 800)));
        });
        CHECK_FALSE(slept_through);  // timed out: the executor went on turning
    }

    TEST_CASE("sleep(nanoseconds::max()) waits for ever instead of overflowing into the past") {
        rt::Executor executor;
        const bool ended = executor.block_on([&executor]() -> rt::Task<bool> {
            rt::Sleep forever = rt::sleep(std::chrono::nanoseconds::max());
            CHECK(forever.deadline() == rt::Clock::time_point::max());
            const bool in_time = co_await rt::timeout(5ms, std::move(forever));
            CHECK(executor.time_driver().registered() == 0);
            co_return in_time;
        });
        CHECK_FALSE(ended);
        const std::optional<int> value = rt::block_on([]() -> rt::Task<std::optional<int>> {
            auto immediate = []() -> rt::Task<int> { co_return 3; };
            co_return co_await rt::timeout(std::chrono::nanoseconds::max(), immediate());
        });
        CHECK(value == 3);
    }

    TEST_CASE("a timer that outlives its executor is registered again by the next one") {
        // An interval kept outside the executors, whose tick() was polled and then abandoned
        // (as a timeout does): its Sleep stays registered with the first executor's wheel.
        // That wheel is gone when a second executor polls the tick: the tick must register
        // there, and nothing may touch the first wheel's memory (AddressSanitizer would see it).
        rt::Interval ticker = rt::interval_at(rt::Clock::now() + 1h, 1h);
        {
            rt::Executor first;
            auto tick = ticker.tick();
            CHECK_FALSE(first.block_on(testing::PollOnce<decltype(tick)>{tick}));
            CHECK(first.time_driver().registered() == 1);
        }
        rt::Executor second;
        auto tick = ticker.tick();
        CHECK_FALSE(second.block_on(testing::PollOnce<decltype(tick)>{tick}));
        CHECK(second.time_driver().registered() == 1);
    }

    TEST_CASE("a sleep polled under a second executor moves its timer there") {
        rt::Sleep sleep = rt::sleep(1h);
        rt::Executor first;
        CHECK_FALSE(first.block_on(testing::PollOnce<rt::Sleep>{sleep}));
        CHECK(first.time_driver().registered() == 1);
        rt::Executor second;
        CHECK_FALSE(second.block_on(testing::PollOnce<rt::Sleep>{sleep}));
        CHECK(second.time_driver().registered() == 1);
        CHECK(first.time_driver().registered() == 0);  // taken out of the first wheel
        sleep.reset(rt::Clock::now());                 // and it still ends when it should
        CHECK(second.block_on(testing::PollOnce<rt::Sleep>{sleep}));
    }

    TEST_CASE("a sleep never ends before its deadline, and the executor sleeps in between") {
        // The park is certain only if the thread reaches epoll_wait before the deadline: a run
        // in which it stalled past the deadline first proves nothing about the park, and is
        // run again with a longer sleep.
        const bool parked = testing::with_growing_spans([](std::chrono::milliseconds pause) {
            rt::Executor executor;
            const auto start = rt::Clock::now();
            std::optional<rt::Clock::time_point> woke;
            executor.spawn([&woke, pause]() -> rt::Task<void> {
                co_await rt::sleep(pause);
                woke = rt::Clock::now();
            });
            const rt::RunStats stats = executor.run();
            REQUIRE(woke.has_value());
            CHECK(*woke - start >= pause);       // never early, stall or not
            if (stats.parks == 0) return false;  // too slow for this pause: try a longer one
            CHECK(stats.polls == 2);
            CHECK(stats.timers_fired == 1);
            return true;
        });
        CHECK_MESSAGE(parked, "the executor never parked before the deadline (up to 10 s)");
    }

    TEST_CASE("sleeps of many tasks wake in deadline order") {
        std::vector<int> order;
        rt::block_on([&order]() -> rt::Task<void> {
            // Deadlines from one start, the first 200 ms away: every sleep is registered
            // before any is due, however slowly the tasks get their first poll.
            const auto start = rt::Clock::now() + 200ms;
            std::vector<rt::JoinHandle<void>> handles;
            for (int id : {5, 2, 4, 1, 3}) {
                handles.push_back(rt::spawn([id, start, &order]() -> rt::Task<void> {
                    co_await rt::sleep_until(start + id * 7ms);
                    order.push_back(id);
                }));
            }
            for (auto& handle : handles) co_await handle;
        });
        CHECK(order == std::vector<int>{1, 2, 3, 4, 5});
    }

    TEST_CASE("a sleep dropped before its deadline leaves the wheel, and keeps no waker") {
        rt::Executor executor;
        executor.block_on([&executor]() -> rt::Task<void> {
            {
                rt::Sleep sleep = rt::sleep(1h);
                auto guard = rt::timeout(1ms, std::move(sleep));  // polls it once, then drops it
                CHECK_FALSE(co_await guard);
            }
            CHECK(executor.time_driver().registered() == 0);
        });
    }

    TEST_CASE("a sleep whose deadline has passed is ready at its first poll, unregistered") {
        rt::Executor executor;
        const rt::RunStats stats = executor.run();  // nothing: a baseline
        CHECK(stats.polls == 0);
        executor.block_on([&executor]() -> rt::Task<void> {
            co_await rt::sleep_until(rt::Clock::now() - 1s);
            CHECK(executor.time_driver().registered() == 0);
        });
    }

    TEST_CASE("a sleep polled outside a running executor is refused with a clear error") {
        rt::Sleep sleep = rt::sleep(1s);
        rt::Waker waker = rt::noop_waker();
        rt::Context cx(waker);
        CHECK_THROWS_WITH_AS(static_cast<void>(sleep.poll(cx)),
                             doctest::Contains("polled by a running executor"), std::logic_error);
    }

    TEST_CASE("a runtime shut down with sleeping tasks releases them and their timers") {
        auto destroyed = std::make_shared<int>(0);
        {
            rt::Executor executor;
            for (int i = 0; i < 100; ++i) {
                executor.spawn([destroyed, i]() -> rt::Task<void> {
                    testing::DestructionCounter local(destroyed);
                    co_await rt::sleep(std::chrono::hours(1 + i));
                });
            }
            executor.run_until_idle();
            CHECK(executor.time_driver().registered() == 100);
        }
        CHECK(*destroyed == 100);
    }
}

TEST_SUITE("interval") {
    TEST_CASE("ticks come at start, start + period, start + 2 periods, ...") {
        const std::vector<rt::Clock::duration> offsets =
            rt::block_on([]() -> rt::Task<std::vector<rt::Clock::duration>> {
                const auto start = rt::Clock::now();
                rt::Interval ticker = rt::interval_at(start, 10ms);
                std::vector<rt::Clock::duration> seen;
                for (int i = 0; i < 4; ++i) {
                    const auto scheduled = co_await ticker.tick();
                    CHECK(rt::Clock::now() >= scheduled);  // never early
                    seen.push_back(scheduled - start);
                }
                co_return seen;
            });
        CHECK(offsets == std::vector<rt::Clock::duration>{0ms, 10ms, 20ms, 30ms});
    }

    // Each policy test makes the task late by blocking its thread for 70 ms after the first
    // tick, so that the ticks at 20, 40 and 60 ms are missed.
    auto late_ticks = [](rt::MissedTickBehavior behavior) {
        return rt::block_on([behavior]() -> rt::Task<std::vector<rt::Clock::duration>> {
            const auto start = rt::Clock::now();
            rt::Interval ticker = rt::interval_at(start, 20ms);
            ticker.set_missed_tick_behavior(behavior);
            std::vector<rt::Clock::duration> seen;
            seen.push_back(co_await ticker.tick() - start);
            std::this_thread::sleep_for(70ms);
            for (int i = 0; i < 3; ++i) seen.push_back(co_await ticker.tick() - start);
            co_return seen;
        });
    };

    TEST_CASE("burst: the missed ticks complete at once, on their original schedule") {
        CHECK(late_ticks(rt::MissedTickBehavior::burst) ==
              std::vector<rt::Clock::duration>{0ms, 20ms, 40ms, 60ms});
    }

    TEST_CASE("skip: the missed ticks are dropped, and the schedule stays aligned") {
        const auto seen = late_ticks(rt::MissedTickBehavior::skip);
        REQUIRE(seen.size() == 4);
        CHECK(seen[1] == 20ms);  // the first late tick is the one that was due
        CHECK(seen[2] >= 80ms);  // then the next on the schedule after "now"
        CHECK(seen[2] % 20ms == 0ms);
        // On the schedule still; the very next one unless this thread stalled a period more.
        CHECK(seen[3] > seen[2]);
        CHECK(seen[3] % 20ms == 0ms);
    }

    TEST_CASE("delay: after a late tick the schedule restarts from it") {
        const auto seen = late_ticks(rt::MissedTickBehavior::delay);
        REQUIRE(seen.size() == 4);
        CHECK(seen[1] == 20ms);
        CHECK(seen[2] >= 90ms);  // one period after the late tick completed, at 70 ms or later
        CHECK(seen[3] >= seen[2] + 20ms);  // a period after tick 2 completed, whenever that was
    }
}

TEST_SUITE("timeout") {
    TEST_CASE("a future that finishes in time gives its value, and registers no timer if ready") {
        rt::Executor executor;
        const std::optional<int> value =
            executor.block_on([&executor]() -> rt::Task<std::optional<int>> {
                auto immediate = []() -> rt::Task<int> { co_return 7; };
                std::optional<int> result = co_await rt::timeout(1s, immediate());
                CHECK(executor.time_driver().registered() == 0);
                co_return result;
            });
        CHECK(value == 7);
    }

    TEST_CASE("a future that would never finish times out, and is destroyed at once") {
        auto destroyed = std::make_shared<int>(0);
        const bool finished = rt::block_on([destroyed]() -> rt::Task<bool> {
            auto [sender, receiver] = rt::sync::oneshot::channel<int>();
            auto never = [](std::shared_ptr<int> count,
                            rt::sync::oneshot::Receiver<int> receiver) -> rt::Task<void> {
                testing::DestructionCounter local(std::move(count));
                co_await std::move(receiver);
            };
            const bool in_time = co_await rt::timeout(20ms, never(destroyed, std::move(receiver)));
            CHECK(*destroyed == 1);     // the coroutine's local is gone...
            CHECK(sender.is_closed());  // ...and so is the receiver it awaited
            co_return in_time;
        });
        CHECK_FALSE(finished);
    }

    TEST_CASE("a future that finishes just before its deadline gives its value") {
        const std::optional<int> value = rt::block_on([]() -> rt::Task<std::optional<int>> {
            auto slow = []() -> rt::Task<int> {
                co_await rt::sleep(10ms);
                co_return 42;
            };
            co_return co_await rt::timeout(std::chrono::seconds(20), slow());  // generous
        });
        CHECK(value == 42);
    }

    TEST_CASE("a timeout releases its timer as soon as its future finishes") {
        rt::Executor executor;
        executor.block_on([&executor]() -> rt::Task<void> {
            auto slow = []() -> rt::Task<int> {
                co_await rt::sleep(5ms);
                co_return 1;
            };
            auto limited = rt::timeout(1h, slow());
            CHECK(co_await limited == 1);
            CHECK(executor.time_driver().registered() == 0);  // `limited` is still alive
        });
    }

    TEST_CASE("an exception from the future comes out of the timeout") {
        auto failing = []() -> rt::Task<int> {
            co_await rt::yield_now();
            throw std::runtime_error("inner failure");
        };
        CHECK_THROWS_WITH_AS(rt::block_on(rt::timeout(1s, failing())), "inner failure",
                             std::runtime_error);
    }
}
