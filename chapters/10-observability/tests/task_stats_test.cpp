// Tests of chapter 10's per-task statistics and per-worker counters (rt/metrics/): what a task
// did is counted exactly (polls, wakes, self-wakes, wakers alive), tasks are named after their
// spawn or by rt::named, finished tasks are summed, and with metrics off nothing is recorded.
//
// Counts are exact, for each poll and wake the test makes is known. Times are only checked
// from below (a poll that sleeps 5 ms took at least 5 ms), which no machine, however slow,
// can break.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/runtime.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"

namespace {

rt::MetricsOptions tasks_on() {
    rt::MetricsOptions options;
    options.tasks = true;
    return options;
}

/// The snapshot's entry for the task named `name`, if it is alive.
std::optional<rt::TaskSnapshot> find_task(const rt::MetricsSnapshot& snapshot,
                                          const std::string& name) {
    for (const rt::TaskSnapshot& task : snapshot.tasks) {
        if (task.name == name) return task;
    }
    return std::nullopt;
}

/// Yields `times` times, then waits for `go`: alive, with known counts, until the test says.
rt::Task<void> yield_then_wait(int times, rt::sync::oneshot::Receiver<int> go) {
    for (int i = 0; i < times; ++i) co_await rt::yield_now();
    co_await std::move(go);
}

/// Yields until `done()`, or until the tests' patience runs out: false then. Inside a task, so
/// that it works on the executor too, whose tasks run only while block_on does.
template <class Done>
rt::Task<bool> yield_until(Done done) {
    const auto give_up = std::chrono::steady_clock::now() + testing::patience();
    while (!done()) {
        if (std::chrono::steady_clock::now() >= give_up) co_return false;
        co_await rt::yield_now();
    }
    co_return true;
}

}  // namespace

TEST_CASE("a task's polls, wakes and self-wakes are counted exactly") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers, tasks_on());
        struct Seen {
            std::optional<rt::TaskSnapshot> waiting;
            rt::MetricsSnapshot after;
        };
        const Seen seen = runtime.block_on([&runtime]() -> rt::Task<Seen> {
            // 5 yields: 5 self-wakes and 6 polls, the last of which finds the channel empty
            // and keeps the waker; then the send's wake and the last poll.
            auto [sender, receiver] = rt::sync::oneshot::channel<int>();
            auto handle = rt::spawn(rt::named("counted", yield_then_wait(5, std::move(receiver))));
            Seen seen;
            auto reached = yield_until([&] {
                seen.waiting = find_task(runtime.metrics(), "counted");
                // Idle too: polls is counted just before the worker lets go of the task.
                return seen.waiting && seen.waiting->polls == 6 && seen.waiting->wakers == 1 &&
                       std::string(seen.waiting->state) == "idle";
            });
            if (!co_await std::move(reached)) seen.waiting.reset();
            std::move(sender).send(1);
            co_await std::move(handle);
            // Its counts join the finished tasks' when it completes, which on workers may come
            // a moment after its JoinHandle heard of it (the worker that polled it finishes it).
            auto freed = yield_until([&] {
                seen.after = runtime.metrics();
                return seen.after.finished.count == 1;
            });
            co_await std::move(freed);
            co_return seen;
        });
        REQUIRE_MESSAGE(seen.waiting, "the task never reached its wait for the channel");
        CHECK(seen.waiting->wakes == 5);
        CHECK(seen.waiting->self_wakes == 5);
        CHECK(std::string(seen.waiting->state) == "idle");
        CHECK_FALSE(find_task(seen.after, "counted"));  // gone from the live tasks...
        CHECK(seen.after.finished.count == 1);          // ...and summed with the finished ones
        CHECK(seen.after.finished.polls == 7);
    }
}

TEST_CASE("a task spawned without a name is named after the line that spawned it") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers, tasks_on());
        const int line = __LINE__ + 4;
        const std::string expected = "task_stats_test.cpp:" + std::to_string(line);
        const bool found = runtime.block_on([&]() -> rt::Task<bool> {
            auto [sender, receiver] = rt::sync::oneshot::channel<int>();
            auto handle = rt::spawn(yield_then_wait(0, std::move(receiver)));
            auto named =
                yield_until([&] { return find_task(runtime.metrics(), expected).has_value(); });
            const bool found = co_await std::move(named);
            std::move(sender).send(1);
            co_await std::move(handle);
            co_return found;
        });
        CHECK_MESSAGE(found, "no live task was named " << expected);
    }
}

TEST_CASE("a poll's length is measured: the longest poll is at least the sleep inside it") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        rt::MetricsOptions options = tasks_on();
        options.blocking_poll = std::chrono::hours(1);  // not this test's subject
        options.slow_poll = std::chrono::hours(1);
        rt::Runtime runtime(workers, options);
        const std::optional<rt::TaskSnapshot> task =
            runtime.block_on([&runtime]() -> rt::Task<std::optional<rt::TaskSnapshot>> {
                auto [sender, receiver] = rt::sync::oneshot::channel<int>();
                auto handle = rt::spawn(
                    rt::named("sleeper", [](rt::sync::oneshot::Receiver<int> go) -> rt::Task<void> {
                        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // on purpose
                        co_await std::move(go);
                    }(std::move(receiver))));
                std::optional<rt::TaskSnapshot> task;
                auto polled = yield_until([&] {
                    task = find_task(runtime.metrics(), "sleeper");
                    return task && task->polls == 1;
                });
                if (!co_await std::move(polled)) task.reset();
                std::move(sender).send(1);
                co_await std::move(handle);
                co_return task;
            });
        REQUIRE_MESSAGE(task, "the sleeper was never seen after its first poll");
        CHECK(task->longest_poll_ns >= 5'000'000);
        CHECK(task->busy_ns >= task->longest_poll_ns);
    }
}

TEST_CASE("the time a task waits in the queue behind a busy neighbour is its scheduled time") {
    // One thread: the neighbour wakes the task, then blocks for 5 ms in the same poll. The task
    // is queued all that time, and cannot run before the neighbour's poll ends.
    rt::MetricsOptions options = tasks_on();
    options.blocking_poll = std::chrono::hours(1);
    options.slow_poll = std::chrono::hours(1);
    rt::Runtime runtime(0, options);
    rt::TaskSnapshot alive = runtime.block_on([&runtime]() -> rt::Task<rt::TaskSnapshot> {
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        auto [release, until] = rt::sync::oneshot::channel<int>();
        auto waiter =
            rt::spawn(rt::named("queued",
                                [](rt::sync::oneshot::Receiver<int> first,
                                   rt::sync::oneshot::Receiver<int> last) -> rt::Task<void> {
                                    co_await std::move(first);
                                    co_await std::move(last);
                                }(std::move(receiver), std::move(until))));
        co_await rt::yield_now();   // the waiter runs once, and waits for the first value
        std::move(sender).send(1);  // queued now...
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // ...behind this poll
        co_await rt::yield_now();  // to the back of the queue: the waiter runs first
        const auto found = find_task(runtime.metrics(), "queued");
        std::move(release).send(1);
        co_await std::move(waiter);
        co_return found.value_or(rt::TaskSnapshot{});
    });
    CHECK(alive.name == "queued");
    CHECK(alive.scheduled_ns >= 5'000'000);
}

TEST_CASE("with metrics off, no task is recorded, and the workers still count") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        runtime.block_on([]() -> rt::Task<void> {
            for (int i = 0; i < 10; ++i) co_await rt::yield_now();
        });
        const rt::MetricsSnapshot snapshot = runtime.metrics();
        CHECK_FALSE(snapshot.tasks_recorded);
        CHECK(snapshot.tasks.empty());
        CHECK(snapshot.finished.count == 0);
        CHECK(snapshot.worker_stats.size() == workers);
        std::uint64_t polls = 0;
        for (const rt::WorkerStats& worker : snapshot.worker_stats) polls += worker.polls;
        if (workers > 0) CHECK(polls >= 11);
    }
}

TEST_CASE("a worker's time is split between busy and parked, and a parked worker's grows") {
    rt::Runtime runtime(2);
    // Nothing to do: both workers park. Wait until each has parked, then until the parked
    // time has grown past what it was: time asleep is counted while the park goes on.
    REQUIRE(testing::eventually([&] {
        const auto stats = runtime.worker_stats();
        return stats[0].parks > 0 && stats[1].parks > 0;
    }));
    const std::int64_t before = runtime.worker_stats()[0].parked_ns;
    REQUIRE_MESSAGE(
        testing::eventually([&] { return runtime.worker_stats()[0].parked_ns > before; }),
        "a parked worker's parked time did not grow");
    const rt::MetricsSnapshot snapshot = runtime.metrics();
    for (const rt::WorkerStats& worker : snapshot.worker_stats) {
        CHECK(worker.busy_ns >= 0);
        CHECK(worker.busy_ns + worker.parked_ns <= snapshot.uptime_ns + 1'000'000);
    }
}

TEST_CASE("a worker that finds its queue full of another's tasks counts the steals") {
    // The spawning task blocks its worker until another worker has run one of the tasks it
    // spawned: they are in the blocked worker's queue, so that run was a steal.
    rt::Runtime runtime(2, tasks_on());
    std::atomic<int> ran{0};
    const bool stolen = runtime.block_on([&ran]() -> rt::Task<bool> {
        std::vector<rt::JoinHandle<void>> handles;
        for (int i = 0; i < 16; ++i) {
            handles.push_back(rt::spawn([](std::atomic<int>* ran) -> rt::Task<void> {
                ran->fetch_add(1);
                co_return;
            }(&ran)));
        }
        const bool seen = testing::eventually([&ran] { return ran.load() > 0; });
        for (auto& handle : handles) co_await std::move(handle);
        co_return seen;
    });
    REQUIRE_MESSAGE(stolen, "no other worker ran a task of the blocked worker's queue");
    std::uint64_t steals = 0;
    std::uint64_t attempts = 0;
    for (const rt::WorkerStats& worker : runtime.worker_stats()) {
        steals += worker.steals;
        attempts += worker.steal_attempts;
    }
    CHECK(steals >= 1);
    CHECK(attempts >= steals);
}
