// Tests of chapter 10's warnings (rt/metrics/metrics.hpp), each provoked on purpose: a poll
// that blocks its worker, a task whose waker is lost (never kept, or dropped later), a task that
// only wakes itself; and the cases that must not warn: a task waiting for a channel or a timer
// keeps a waker somewhere, and a task cancelled at shutdown loses its wakers without being lost.
//
// The slow and blocking polls sleep well past their thresholds (a sleep lasts at least its
// duration), so no verdict depends on the machine's speed.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"

namespace {

/// Collects the warnings as on_warning hands them over, from any thread.
struct Collected {
    std::mutex mutex;
    std::vector<rt::Warning> warnings;

    std::vector<rt::Warning> of(rt::WarningKind kind) {
        std::lock_guard lock(mutex);
        std::vector<rt::Warning> found;
        for (const rt::Warning& warning : warnings) {
            if (warning.kind == kind) found.push_back(warning);
        }
        return found;
    }
};

rt::MetricsOptions collecting(const std::shared_ptr<Collected>& into) {
    rt::MetricsOptions options;
    options.tasks = true;
    options.on_warning = [into](const rt::Warning& warning) {
        std::lock_guard lock(into->mutex);
        into->warnings.push_back(warning);
    };
    return options;
}

/// Returns pending and keeps no waker: nothing can ever wake its task.
struct ForgetsWaker {
    using Output = void;
    rt::Poll<void> poll(rt::Context&) { return rt::pending; }
};

/// Keeps its waker in a slot that the test empties later.
struct WakerSlot {
    std::mutex mutex;
    std::optional<rt::Waker> waker;
    bool filled() {
        std::lock_guard lock(mutex);
        return waker.has_value();
    }
    void drop() {
        std::optional<rt::Waker> dropped;
        std::lock_guard lock(mutex);
        dropped.swap(waker);
    }
};
struct KeepsWaker {
    using Output = void;
    std::shared_ptr<WakerSlot> slot;
    rt::Poll<void> poll(rt::Context& cx) {
        std::lock_guard lock(slot->mutex);
        slot->waker.emplace(cx.waker());
        return rt::pending;
    }
};

}  // namespace

TEST_CASE("a poll longer than the slow threshold warns once, naming the task") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        auto collected = std::make_shared<Collected>();
        rt::MetricsOptions options = collecting(collected);
        options.slow_poll = std::chrono::milliseconds(1);
        options.blocking_poll = std::chrono::hours(1);
        {
            rt::Runtime runtime(workers, options);
            runtime.block_on(rt::named("slow twice", []() -> rt::Task<void> {
                std::this_thread::sleep_for(std::chrono::milliseconds(3));
                co_await rt::yield_now();
                std::this_thread::sleep_for(std::chrono::milliseconds(3));
            }));
            const rt::MetricsSnapshot snapshot = runtime.metrics();
            CHECK(snapshot.warning_counts[static_cast<int>(rt::WarningKind::slow_poll)] == 1);
        }
        const auto slow = collected->of(rt::WarningKind::slow_poll);
        REQUIRE(slow.size() == 1);  // once per task, however many slow polls
        CHECK(slow[0].name == "slow twice");
        CHECK(slow[0].value >= 3'000'000);
        CHECK(collected->of(rt::WarningKind::blocking_poll).empty());
    }
}

TEST_CASE("a poll longer than the blocking threshold is a blocking poll") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        auto collected = std::make_shared<Collected>();
        rt::MetricsOptions options = collecting(collected);
        options.slow_poll = std::chrono::milliseconds(1);
        options.blocking_poll = std::chrono::milliseconds(2);
        {
            rt::Runtime runtime(workers, options);
            runtime.block_on(rt::named("blocker", []() -> rt::Task<void> {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));  // wrongly, on purpose
                co_return;
            }));
        }
        const auto blocking = collected->of(rt::WarningKind::blocking_poll);
        REQUIRE(blocking.size() == 1);
        CHECK(blocking[0].name == "blocker");
        CHECK(blocking[0].message.find("spawn_blocking") != std::string::npos);
        CHECK(collected->of(rt::WarningKind::slow_poll).empty());  // the graver one only
    }
}

TEST_CASE("a task that returns pending without keeping its waker is a lost waker") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        auto collected = std::make_shared<Collected>();
        {
            rt::Runtime runtime(workers, collecting(collected));
            runtime.block_on([]() -> rt::Task<void> {
                rt::spawn(rt::named("forgetful", ForgetsWaker{}));
                // Let it be polled: it never completes, and the runtime's shutdown cancels it.
                for (int i = 0; i < 10; ++i) co_await rt::yield_now();
            });
            REQUIRE_MESSAGE(testing::eventually([&] {
                                return !collected->of(rt::WarningKind::lost_waker).empty();
                            }),
                            "the task that kept no waker was never reported");
        }
        const auto lost = collected->of(rt::WarningKind::lost_waker);
        REQUIRE(lost.size() == 1);
        CHECK(lost[0].name == "forgetful");
    }
}

TEST_CASE("a waiting task whose only waker is dropped is a lost waker, found at the drop") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        auto collected = std::make_shared<Collected>();
        auto slot = std::make_shared<WakerSlot>();
        {
            rt::Runtime runtime(workers, collecting(collected));
            auto handle = runtime.spawn(rt::named("dropped", KeepsWaker{slot}));
            if (workers == 0) {
                // The executor runs tasks only inside block_on: poll it there once.
                runtime.block_on([]() -> rt::Task<void> { co_await rt::yield_now(); });
            }
            REQUIRE_MESSAGE(testing::eventually([&] { return slot->filled(); }),
                            "the task was never polled");
            CHECK(collected->of(rt::WarningKind::lost_waker).empty());  // it has a waker
            slot->drop();  // the last one: nothing can wake the task now
            REQUIRE_MESSAGE(testing::eventually([&] {
                                return !collected->of(rt::WarningKind::lost_waker).empty();
                            }),
                            "dropping the last waker was not reported");
            handle.abort();
        }
        const auto lost = collected->of(rt::WarningKind::lost_waker);
        REQUIRE(lost.size() == 1);
        CHECK(lost[0].name == "dropped");
    }
}

TEST_CASE("tasks waiting for a channel or a timer, or cancelled at shutdown, are not lost") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        auto collected = std::make_shared<Collected>();
        std::optional<rt::sync::oneshot::Sender<int>> never_sent;  // outlives the runtime
        {
            rt::Runtime runtime(workers, collecting(collected));
            runtime.block_on([&never_sent]() -> rt::Task<void> {
                auto [sender, receiver] = rt::sync::oneshot::channel<int>();
                auto waiter = rt::spawn([](rt::sync::oneshot::Receiver<int> r) -> rt::Task<int> {
                    co_return (co_await std::move(r)).value_or(-1);
                }(std::move(receiver)));
                auto sleeper = rt::spawn(
                    []() -> rt::Task<void> { co_await rt::sleep(std::chrono::milliseconds(2)); });
                // Never woken: cancelled by the shutdown, its waker in a channel nobody sends on.
                auto [unsent, never] = rt::sync::oneshot::channel<int>();
                never_sent.emplace(std::move(unsent));
                rt::spawn([](rt::sync::oneshot::Receiver<int> r) -> rt::Task<void> {
                    co_await std::move(r);
                }(std::move(never)));
                for (int i = 0; i < 10; ++i) co_await rt::yield_now();
                std::move(sender).send(3);
                co_await std::move(waiter);
                co_await std::move(sleeper);
            });
        }
        CHECK(collected->of(rt::WarningKind::lost_waker).empty());
    }
}

TEST_CASE("a task that mostly wakes itself is reported when it completes") {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        CAPTURE(workers);
        auto collected = std::make_shared<Collected>();
        {
            rt::Runtime runtime(workers, collecting(collected));
            runtime.block_on([]() -> rt::Task<void> {
                auto spinner = rt::spawn(rt::named("spinner", []() -> rt::Task<void> {
                    for (int i = 0; i < 100; ++i) co_await rt::yield_now();
                }));
                auto [sender, receiver] = rt::sync::oneshot::channel<int>();
                auto patient = rt::spawn(
                    rt::named("patient", [](rt::sync::oneshot::Receiver<int> r) -> rt::Task<void> {
                        co_await std::move(r);
                    }(std::move(receiver))));
                co_await std::move(spinner);
                std::move(sender).send(1);
                co_await std::move(patient);
            });
        }
        const auto selfish = collected->of(rt::WarningKind::self_wakes);
        REQUIRE(selfish.size() == 1);
        CHECK(selfish[0].name == "spinner");
        CHECK(selfish[0].value == 100);  // percent
    }
}
